//! Hostile input: strings built to break parsers, logs and mail headers, oversized fields, the
//! password policy, and racing signups. Every refusal is a `BAD_USER_INPUT` (or an HTTP 4xx),
//! never an internal error.

use serde_json::{Value, json};

use crate::helpers::operations::SIGNUP;
use crate::helpers::{
    MAIL_TIMEOUT, PASSWORD, SUBJECT_EMAIL_CHANGED, SUBJECT_PASSWORD_CHANGED, SUBJECT_RESET,
    assert_error, assert_exactly_one_succeeds, assert_field_error, assert_no_errors, spawn_app,
    spawn_app_with_args,
};

/// Asserts the body is not an internal error anywhere in it.
#[track_caller]
fn assert_not_internal(body: &Value) {
    assert!(
        !body.to_string().contains("INTERNAL_SERVER_ERROR"),
        "an internal error: {body}"
    );
}

#[tokio::test]
async fn hostile_names_are_bad_user_input() {
    let app = spawn_app().await;
    let sixty_kb = "n".repeat(60_000);

    for name in [
        "Ada\u{0}Lovelace",
        "Ada\r\nBcc: evil@x.io",
        "Ada\rBcc: evil@x.io",
        "Ada\nSubject: you won",
        "Ada\u{202E}ecalevoL",
        "\u{202E}moc.elpmaxe@ada",
        "Ada\u{200B}",
        "Ada\u{1B}[31mred",
        sixty_kb.as_str(),
    ] {
        let body = app
            .signup_raw("ada@example.com", PASSWORD, Some(name))
            .await;
        assert_not_internal(&body);
        assert_field_error(&body, "name");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn hostile_emails_are_bad_user_input_in_every_operation() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    for email in [
        "ada@x.io\u{0}",
        "ada\u{0}@x.io",
        "ada@x.io\r\nBcc: evil@x.io",
        "ada@x.io\nBcc: evil@x.io",
        "ada@x.io>\r\nBcc: <evil@x.io",
        "\"ada\r\nbcc: evil@x.io\"@x.io",
        "ada\u{202E}@x.io",
        "ada@x.io, evil@x.io",
        "Ada <ada@x.io>",
        "\"<b>x</b>\"@example.com",
    ] {
        let signup = app.signup_raw(email, PASSWORD, None).await;
        assert_not_internal(&signup);
        assert_field_error(&signup, "email");

        let forgot = app.forgot_password(email).await;
        assert_not_internal(&forgot);
        assert_field_error(&forgot, "email");

        let login = app.login_raw(email, PASSWORD).await;
        assert_not_internal(&login);
        assert_field_error(&login, "email");

        let update = app
            .update_me(
                &account.access_token,
                json!({ "email": email, "currentPassword": PASSWORD }),
            )
            .await;
        assert_not_internal(&update);
        assert_field_error(&update, "email");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 1);
    // Nothing was mailed, least of all to the injected address.
    assert!(
        app.smtp.messages().iter().all(|m| !m.is_for("evil@x.io")),
        "mail went to an injected address"
    );
    assert!(
        app.smtp
            .mail_to("ada@example.com", SUBJECT_RESET)
            .is_empty()
    );
}

#[tokio::test]
async fn an_oversized_password_is_bad_user_input() {
    let app = spawn_app().await;
    let ten_kb = "p".repeat(10_000);

    let body = app.signup_raw("ada@example.com", &ten_kb, None).await;

    assert_not_internal(&body);
    assert_field_error(&body, "password");
    let login = app.login_raw("ada@example.com", &ten_kb).await;
    assert_not_internal(&login);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn a_megabyte_name_is_refused_by_the_body_limit() {
    let app = spawn_app().await;
    let huge = "n".repeat(1024 * 1024);

    let response = app
        .post_signup(json!({ "email": "ada@example.com", "password": PASSWORD, "name": huge }))
        .await;

    assert_eq!(response.status(), 413);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn any_character_is_allowed_in_a_password_nul_and_line_breaks_included() {
    let app = spawn_app().await;

    for (email, password) in [
        ("nul@example.com", "pass\u{0}word with nul 123"),
        ("crlf@example.com", "pass\r\nBcc: evil@x.io 123"),
        ("rtl@example.com", "pass\u{202E}drow 123 4567"),
    ] {
        app.signup(email, password).await;
        app.login(email, password).await;
        // The hostile character is part of the password, not dropped.
        let without: String = password
            .chars()
            .filter(|c| !c.is_control() && *c != '\u{202E}')
            .collect();
        assert_error(&app.login_raw(email, &without).await, "INVALID_CREDENTIALS");
    }
}

#[tokio::test]
async fn sql_and_markup_in_a_name_are_stored_as_plain_text() {
    let app = spawn_app().await;
    let name = "Robert'); DROP TABLE users;-- <script>alert(1)</script>";

    let account = app.signup("bobby@example.com", PASSWORD).await;
    let body = app
        .update_me(&account.access_token, json!({ "name": name }))
        .await;

    assert_no_errors(&body);
    assert_eq!(
        app.me(&account.access_token).await["data"]["me"]["name"],
        name
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 1);
}

#[tokio::test]
async fn malformed_request_bodies_are_400_and_leave_the_server_answering() {
    let app = spawn_app().await;
    let deep_variables = format!(
        "{{\"query\":\"{{ __typename }}\",\"variables\":{{\"a\":{}{}}}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let deep_query = format!(
        "{{\"query\":\"{{ __typename {}{} }}\"}}",
        "a{".repeat(3000),
        "}".repeat(3000)
    );

    for (case, body) in [
        ("deeply nested variables", deep_variables.into_bytes()),
        ("invalid UTF-8", b"{\"query\":\"{ \xff\xfe }\"}".to_vec()),
        ("truncated JSON", b"{\"query\":".to_vec()),
        ("a JSON string", b"\"{ __typename }\"".to_vec()),
        ("empty", Vec::new()),
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_error(&body, "BAD_REQUEST");
    }

    // A deeply nested query is a refused document, not a crash.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("Content-Type", "application/json")
        .body(deep_query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_error(&response.json().await.unwrap(), "QUERY_TOO_COMPLEX");

    assert_no_errors(&app.graphql("{ __typename }", json!({})).await);
}

// ----- password policy -----

#[tokio::test]
async fn a_common_password_is_refused_whatever_its_case() {
    let app = spawn_app().await;

    for password in [
        "iloveyou",
        "password1",
        "qwertyuiop",
        "Trustno1",
        "PASSWORD1",
    ] {
        let body = app.signup_raw("ada@example.com", password, None).await;
        assert_field_error(&body, "password");
        let message = body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase();
        assert!(message.contains("common"), "{password}: {body}");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn a_common_password_is_refused_on_reset_and_change_too() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let update = app
        .update_me(
            &account.access_token,
            json!({ "newPassword": "iloveyou", "currentPassword": PASSWORD }),
        )
        .await;
    assert_error(&update, "BAD_USER_INPUT");

    let token = app.reset_token_for("ada@example.com").await;
    let reset = app.reset_password(&token, "password1").await;
    assert_error(&reset, "BAD_USER_INPUT");

    app.login("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn the_minimum_password_length_is_configurable() {
    let app = spawn_app_with_args(&["--password-min-length", "15"]).await;
    let fourteen = "glacier-mosaic";
    let fifteen = "glacier-mosaic!";
    assert_eq!(fourteen.chars().count(), 14);

    let refused = app.signup_raw("ada@example.com", fourteen, None).await;
    assert_field_error(&refused, "password");

    let body = app.signup_raw("ada@example.com", fifteen, None).await;
    assert_no_errors(&body);
    app.login("ada@example.com", fifteen).await;
}

#[tokio::test]
async fn a_long_password_is_never_truncated() {
    let app = spawn_app().await;
    let password: String = ('a'..='z').cycle().take(128).collect();

    app.signup("ada@example.com", &password).await;

    let prefix: String = password.chars().take(127).collect();
    assert_error(
        &app.login_raw("ada@example.com", &prefix).await,
        "INVALID_CREDENTIALS",
    );
    // Nor is any shorter prefix a common hash-truncation length (bcrypt's 72 bytes).
    assert_error(
        &app.login_raw("ada@example.com", &password[..72]).await,
        "INVALID_CREDENTIALS",
    );
    app.login("ada@example.com", &password).await;
}

// ----- races -----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_signups_with_one_email_in_different_spellings_make_exactly_one_account() {
    let app = spawn_app().await;
    let spellings = [
        "Ada@x.io",
        "ADA@X.IO",
        " ada@x.io ",
        "ada@x.io",
        "aDa@X.io",
        "\tada@x.IO",
    ];

    let signups =
        spellings.map(|email| json!({ "input": { "email": email, "password": PASSWORD } }));
    let answers = app.operation_at_once(&SIGNUP, signups).await;

    assert_exactly_one_succeeds(&answers, "EMAIL_TAKEN");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 1);
    assert_eq!(app.user_count("ada@x.io").await, 1);
}

/// A name written to lure whoever reads it; the address it is signed up with is someone else's.
const LURE: &str = "URGENT: verify at https://evil.example/now";

#[tokio::test]
async fn account_notices_to_an_unverified_address_carry_no_name_chosen_by_the_account() {
    let app = spawn_app().await;
    let body = app
        .signup_raw("victim@example.com", PASSWORD, Some(LURE))
        .await;
    let token = body["data"]["signup"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("signup failed: {body}"))
        .to_owned();

    let changed = app
        .update_me(
            &token,
            json!({ "newPassword": "a brand new passphrase 7", "currentPassword": PASSWORD }),
        )
        .await;
    assert_no_errors(&changed);
    let password_notice = app
        .smtp
        .wait_for_mail("victim@example.com", SUBJECT_PASSWORD_CHANGED, MAIL_TIMEOUT)
        .await;
    let moved = app
        .update_me(
            &token,
            json!({ "email": "verify-now@evil.example", "currentPassword": "a brand new passphrase 7" }),
        )
        .await;
    assert_no_errors(&moved);
    let email_notice = app
        .smtp
        .wait_for_mail("victim@example.com", SUBJECT_EMAIL_CHANGED, MAIL_TIMEOUT)
        .await;

    for mail in [password_notice, email_notice] {
        for part in [&mail.subject, &mail.text, &mail.html] {
            assert!(!part.contains("URGENT"), "{part}");
            assert!(!part.contains("evil.example"), "{part}");
        }
    }
}
