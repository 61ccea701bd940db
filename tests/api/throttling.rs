//! Throttling (docs/security.md): per-address limits counted per operation executed, the per-email
//! limit of `forgotPassword`, the client address behind trusted proxies, and account lockout.

use serde_json::{Value, json};

use crate::helpers::operations::{FORGOT_PASSWORD, LOGIN, RESET_PASSWORD};
use crate::helpers::{
    AppOptions, PASSWORD, SUBJECT_RESET, TestApp, assert_error, assert_no_errors,
    assert_rate_limited, spawn_app, spawn_app_with, spawn_app_with_args,
};

const WRONG_PASSWORD: &str = "not the password at all";
const NEW_PASSWORD: &str = "a brand new passphrase 7";

async fn spawn_behind_proxy() -> TestApp {
    spawn_app_with_args(&["--trusted-proxies", "127.0.0.1/32"]).await
}

async fn forgot_password_from(app: &TestApp, ip: &str, email: &str) -> Value {
    app.operation(
        &FORGOT_PASSWORD,
        &[("X-Forwarded-For", ip)],
        json!({ "email": email }),
    )
    .await
}

async fn reset_password_from(app: &TestApp, ip: &str, token: &str, new_password: &str) -> Value {
    app.operation(
        &RESET_PASSWORD,
        &[("X-Forwarded-For", ip)],
        json!({ "input": { "token": token, "newPassword": new_password } }),
    )
    .await
}

/// Asks for a reset of `email` and sets `new_password` with the token that arrives.
async fn reset_by_mail(app: &TestApp, email: &str, new_password: &str) {
    let token = app.reset_token_for(email).await;
    let body = app.reset_password(&token, new_password).await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["resetPassword"], true);
}

// ----- per client address -----

#[tokio::test]
async fn after_30_logins_in_a_minute_from_one_address_the_next_is_rate_limited_whatever_the_email()
{
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    // Credential stuffing: one address, a different email each time.
    for i in 0..30 {
        let body = app
            .login_raw(&format!("victim{i}@example.com"), PASSWORD)
            .await;
        assert_error(&body, "INVALID_CREDENTIALS");
    }

    // Even a real account with its right password is refused now.
    let refused = app.login_raw("ada@example.com", PASSWORD).await;
    let retry_after = assert_rate_limited(&refused);
    assert!(retry_after <= 60, "{refused}");
    assert!(refused["data"].is_null(), "{refused}");
    let fresh_email = app.login_raw("someone-new@example.com", PASSWORD).await;
    assert_rate_limited(&fresh_email);
}

#[tokio::test]
async fn without_trusted_proxies_a_spoofed_x_forwarded_for_does_not_reset_the_limit() {
    let app = spawn_app().await;
    for i in 0..30 {
        let body = app
            .login_raw(&format!("victim{i}@example.com"), PASSWORD)
            .await;
        assert_error(&body, "INVALID_CREDENTIALS");
    }

    for spoofed in ["203.0.113.7", "198.51.100.1, 203.0.113.8", "10.0.0.1"] {
        let body = app.login_from(spoofed, "fresh@example.com", PASSWORD).await;
        assert_rate_limited(&body);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_on_its_own() {
    let app = spawn_behind_proxy().await;
    for i in 0..30 {
        let body = app
            .login_from("198.51.100.1", &format!("victim{i}@example.com"), PASSWORD)
            .await;
        assert_error(&body, "INVALID_CREDENTIALS");
    }

    assert_rate_limited(
        &app.login_from("198.51.100.1", "fresh@example.com", PASSWORD)
            .await,
    );
    // A client that prepends a made-up hop is still counted under the hop our proxy saw.
    assert_rate_limited(
        &app.login_from("203.0.113.66, 198.51.100.1", "fresh@example.com", PASSWORD)
            .await,
    );
    // Another client behind the same proxy has its own budget.
    assert_error(
        &app.login_from("198.51.100.2", "fresh@example.com", PASSWORD)
            .await,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn a_batch_counts_every_login_in_it() {
    let app = spawn_app().await;
    let batch = |round: usize| -> Value {
        Value::Array(
            (0..10)
                .map(|i| {
                    LOGIN.request(json!({ "input": {
                        "email": format!("victim{round}-{i}@example.com"),
                        "password": PASSWORD,
                    } }))
                })
                .collect(),
        )
    };

    for round in 0..3 {
        let response = app
            .client
            .post(app.url("/graphql"))
            .json(&batch(round))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answers: Vec<Value> = response.json().await.unwrap();
        assert_eq!(answers.len(), 10);
        for answer in &answers {
            assert_error(answer, "INVALID_CREDENTIALS");
        }
    }

    // Three requests, thirty attempts: the budget is spent.
    assert_rate_limited(&app.login_raw("fresh@example.com", PASSWORD).await);
}

#[tokio::test]
async fn the_21st_signup_from_one_address_within_an_hour_is_rate_limited() {
    let app = spawn_app().await;
    for i in 0..20 {
        app.signup(&format!("user{i}@example.com"), PASSWORD).await;
    }

    let refused = app.signup_raw("user20@example.com", PASSWORD, None).await;

    let retry_after = assert_rate_limited(&refused);
    assert!((61..=3600).contains(&retry_after), "{refused}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 20);
}

#[tokio::test]
async fn the_21st_forgot_password_from_one_address_within_an_hour_is_rate_limited() {
    let app = spawn_app().await;
    for i in 0..20 {
        let body = app.forgot_password(&format!("user{i}@example.com")).await;
        assert_eq!(body["data"]["forgotPassword"], true, "{body}");
    }

    let refused = app.forgot_password("user20@example.com").await;

    let retry_after = assert_rate_limited(&refused);
    assert!(retry_after <= 3600, "{refused}");
}

#[tokio::test]
async fn the_31st_reset_password_from_one_address_within_an_hour_is_rate_limited() {
    let app = spawn_behind_proxy().await;
    app.signup("ada@example.com", PASSWORD).await;
    for i in 0..30 {
        let body =
            reset_password_from(&app, "198.51.100.7", &format!("guess-{i}"), NEW_PASSWORD).await;
        assert_error(&body, "INVALID_TOKEN");
    }
    let token = app.reset_token_for("ada@example.com").await;

    // Guessing is over for that address, even with a real token.
    let refused = reset_password_from(&app, "198.51.100.7", &token, NEW_PASSWORD).await;
    let retry_after = assert_rate_limited(&refused);
    assert!(retry_after <= 3600, "{refused}");

    // The refusal did not use the token up: its owner, elsewhere, still resets.
    let body = reset_password_from(&app, "198.51.100.8", &token, NEW_PASSWORD).await;
    assert_no_errors(&body);
    app.login("ada@example.com", NEW_PASSWORD).await;
}

// ----- per email -----

#[tokio::test]
async fn forgot_password_allows_5_requests_an_hour_per_email_from_any_address_known_or_not() {
    let app = spawn_behind_proxy().await;
    app.signup("ada@example.com", PASSWORD).await;

    let mut refusals = Vec::new();
    for email in ["ada@example.com", "nobody@example.com"] {
        for i in 1..=5 {
            let body = forgot_password_from(&app, &format!("198.51.100.{i}"), email).await;
            assert_eq!(body["data"]["forgotPassword"], true, "{body}");
        }
        // A sixth, from a new address and spelt differently, is the same email.
        let spelt_differently = format!("  {} ", email.to_uppercase());
        let refused = forgot_password_from(&app, "203.0.113.9", &spelt_differently).await;
        assert_rate_limited(&refused);
        refusals.push(refused);
    }

    // The limit says nothing about whether the account exists (the seconds left may tick).
    let without_digits = |body: &Value| {
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace(|c: char| c.is_ascii_digit(), "")
    };
    assert_eq!(without_digits(&refusals[0]), without_digits(&refusals[1]));
    assert_eq!(refusals[0]["data"], refusals[1]["data"]);
    // Other emails are not affected.
    let other = forgot_password_from(&app, "203.0.113.9", "grace@example.com").await;
    assert_eq!(other["data"]["forgotPassword"], true, "{other}");
    // Five mails went out to ada, and the sixth request sent none.
    app.wait_for_nth_mail("ada@example.com", SUBJECT_RESET, 4)
        .await;
    assert_eq!(app.smtp.mail_to("ada@example.com", SUBJECT_RESET).len(), 5);
}

#[tokio::test]
async fn aliased_fields_in_one_document_are_each_counted() {
    let app = spawn_app().await;
    let fields: String = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|alias| format!("{alias}: forgotPassword(email: \"ada@example.com\") "))
        .collect();

    let body = app
        .graphql(&format!("mutation {{ {fields} }}"), json!({}))
        .await;

    // Five ran; the sixth was refused.
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["path"], json!(["f"]), "{body}");
    assert_rate_limited(&body);
    assert_rate_limited(&app.forgot_password("ada@example.com").await);
}

// ----- account lockout -----

#[tokio::test]
async fn ten_failed_logins_lock_the_account_even_for_the_right_password() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    for _ in 0..10 {
        assert_error(
            &app.login_raw("ada@example.com", WRONG_PASSWORD).await,
            "INVALID_CREDENTIALS",
        );
    }

    let refused = app.login_raw("ada@example.com", PASSWORD).await;

    let retry_after = assert_rate_limited(&refused);
    assert!(
        retry_after <= 60,
        "the first lock lasts a minute: {refused}"
    );
    assert!(refused["data"].is_null(), "{refused}");
    // The lock is on the normalised email, not on the spelling.
    assert_rate_limited(&app.login_raw("  ADA@Example.COM ", PASSWORD).await);
    // Other accounts are not affected.
    app.signup("grace@example.com", PASSWORD).await;
    app.login("grace@example.com", PASSWORD).await;
}

#[tokio::test]
async fn an_unknown_email_locks_out_exactly_like_a_known_one() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..10 {
            assert_error(
                &app.login_raw(email, WRONG_PASSWORD).await,
                "INVALID_CREDENTIALS",
            );
        }
    }

    let known = app.login_raw("ada@example.com", PASSWORD).await;
    let unknown = app.login_raw("nobody@example.com", PASSWORD).await;

    assert_rate_limited(&known);
    assert_rate_limited(&unknown);
    assert_eq!(known["data"], unknown["data"]);
    // The messages differ at most in the seconds left, which tick on between the two requests.
    let without_digits = |body: &Value| {
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace(|c: char| c.is_ascii_digit(), "")
    };
    assert_eq!(without_digits(&known), without_digits(&unknown));
    let keys = |body: &Value| {
        let mut keys: Vec<String> = body["errors"][0]["extensions"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&known), keys(&unknown));
}

#[tokio::test]
async fn a_successful_login_clears_the_failure_count() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    for _ in 0..9 {
        assert_error(
            &app.login_raw("ada@example.com", WRONG_PASSWORD).await,
            "INVALID_CREDENTIALS",
        );
    }
    app.login("ada@example.com", PASSWORD).await;

    // Nine more failures are again below the threshold.
    for _ in 0..9 {
        assert_error(
            &app.login_raw("ada@example.com", WRONG_PASSWORD).await,
            "INVALID_CREDENTIALS",
        );
    }

    app.login("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn a_password_reset_lifts_the_lock_at_once() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    for _ in 0..10 {
        app.login_raw("ada@example.com", WRONG_PASSWORD).await;
    }
    assert_rate_limited(&app.login_raw("ada@example.com", PASSWORD).await);

    reset_by_mail(&app, "ada@example.com", NEW_PASSWORD).await;

    let account = app.login("ada@example.com", NEW_PASSWORD).await;
    assert_no_errors(&app.me(&account.access_token).await);
}

#[tokio::test]
async fn the_lock_on_an_address_holds_across_a_restart() {
    let mut app = spawn_behind_proxy().await;
    app.signup("ada@example.com", PASSWORD).await;
    for _ in 1..=10 {
        let body = app
            .login_from("198.51.100.1", "ada@example.com", WRONG_PASSWORD)
            .await;
        assert_error(&body, "INVALID_CREDENTIALS");
    }
    assert_rate_limited(
        &app.login_from("198.51.100.1", "ada@example.com", PASSWORD)
            .await,
    );
    app.stop().await;

    let restarted = spawn_app_with(AppOptions {
        data_dir: Some(app.data_dir.clone()),
        extra_args: vec!["--trusted-proxies".into(), "127.0.0.1/32".into()],
        ..AppOptions::default()
    })
    .await;

    assert_rate_limited(
        &restarted
            .login_from("198.51.100.1", "ada@example.com", PASSWORD)
            .await,
    );
}
