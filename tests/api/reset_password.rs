use latchkey::sea_orm::ConnectionTrait as _;
use serde_json::json;

use crate::helpers::operations::{FORGOT_PASSWORD, RESET_PASSWORD};
use crate::helpers::{
    MAIL_TIMEOUT, PASSWORD, RESET_LINK_PREFIX, SUBJECT_PASSWORD_CHANGED, SUBJECT_RESET,
    assert_error, assert_exactly_one_succeeds, assert_field_error, assert_no_errors,
    assert_signed_out, spawn_app,
};
use crate::smtp_sink::reset_token;

const NEW_PASSWORD: &str = "a brand new passphrase 7";

#[tokio::test]
async fn forgot_password_is_true_for_known_and_unknown_emails_and_mails_only_the_known() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let unknown = app.forgot_password("nobody@example.com").await;
    let known = app.forgot_password("ada@example.com").await;

    assert_no_errors(&unknown);
    assert_no_errors(&known);
    assert_eq!(unknown, known);
    assert_eq!(known["data"]["forgotPassword"], true);
    let mail = app
        .smtp
        .wait_for_mail("ada@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    // The HTML part holds the same link (entity-escaped inside its attribute, which browsers undo).
    let link = format!(
        "{RESET_LINK_PREFIX}{}",
        reset_token(&mail, RESET_LINK_PREFIX)
    );
    assert!(
        unescape_html(&mail.html).contains(&link),
        "the HTML part lacks {link}:\n{}",
        mail.html
    );
    // The unknown address was asked first; the known one's mail has arrived, and nothing went to the other.
    assert!(
        app.smtp
            .messages()
            .iter()
            .all(|m| !m.is_for("nobody@example.com"))
    );
    let resets = app.smtp.messages();
    let resets = resets.iter().filter(|mail| mail.subject == SUBJECT_RESET);
    assert_eq!(resets.count(), 1);
}

#[tokio::test]
async fn the_reset_link_is_built_from_the_configured_url_never_from_the_host_header() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let body = app
        .operation(
            &FORGOT_PASSWORD,
            &[
                ("Host", "evil.example"),
                ("X-Forwarded-Host", "evil.example"),
                ("X-Forwarded-Proto", "https"),
                ("Forwarded", "host=evil.example;proto=https"),
            ],
            json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(body["data"]["forgotPassword"], true, "{body}");

    let mail = app
        .smtp
        .wait_for_mail("ada@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    reset_token(&mail, RESET_LINK_PREFIX);
    assert!(!mail.text.contains("evil.example"), "{}", mail.text);
    assert!(!mail.html.contains("evil.example"), "{}", mail.html);
}

#[tokio::test]
async fn a_reset_token_sets_the_new_password_and_revokes_every_session() {
    let app = spawn_app().await;
    let first = app.signup("ada@example.com", PASSWORD).await;
    let second = app.login("ada@example.com", PASSWORD).await;
    let token = app.reset_token_for("ada@example.com").await;

    let body = app.reset_password(&token, NEW_PASSWORD).await;

    assert_no_errors(&body);
    assert_eq!(body["data"]["resetPassword"], true);
    assert_signed_out(&app, &[&first, &second]).await;
    assert_error(
        &app.login_raw("ada@example.com", PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
    let after = app.login("ada@example.com", NEW_PASSWORD).await;
    assert_eq!(after.id(), first.id());
    app.smtp
        .wait_for_mail("ada@example.com", SUBJECT_PASSWORD_CHANGED, MAIL_TIMEOUT)
        .await;
}

#[tokio::test]
async fn a_reset_token_works_only_once() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let token = app.reset_token_for("ada@example.com").await;
    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await["data"]["resetPassword"],
        true
    );

    let again = app.reset_password(&token, "yet another passphrase 8").await;

    assert_error(&again, "INVALID_TOKEN");
    assert_error(
        &app.login_raw("ada@example.com", "yet another passphrase 8")
            .await,
        "INVALID_CREDENTIALS",
    );
    app.login("ada@example.com", NEW_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_resets_with_one_token_exactly_one_succeeds() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let token = app.reset_token_for("ada@example.com").await;

    let resets = (0..5).map(|i| {
        json!({ "input": { "token": token, "newPassword": format!("concurrent passphrase {i}") } })
    });
    let answers = app.operation_at_once(&RESET_PASSWORD, resets).await;

    assert_exactly_one_succeeds(&answers, "INVALID_TOKEN");
}

#[tokio::test]
async fn a_newer_reset_request_kills_the_older_token() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let older = app.reset_token_for("ada@example.com").await;
    let newer = app.reset_token_for("ada@example.com").await;
    assert_ne!(older, newer);

    assert_error(
        &app.reset_password(&older, NEW_PASSWORD).await,
        "INVALID_TOKEN",
    );
    app.login("ada@example.com", PASSWORD).await;

    assert_eq!(
        app.reset_password(&newer, NEW_PASSWORD).await["data"]["resetPassword"],
        true
    );
    app.login("ada@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn a_bad_new_password_is_refused_and_does_not_use_up_the_token() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let token = app.reset_token_for("ada@example.com").await;

    for bad in ["short", "ada@example.com", &"x".repeat(129)] {
        assert_field_error(&app.reset_password(&token, bad).await, "newPassword");
    }

    // Nothing changed: the old password and session still work...
    assert_no_errors(&app.me(&account.access_token).await);
    app.login("ada@example.com", PASSWORD).await;
    // ...and the token is still good.
    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await["data"]["resetPassword"],
        true
    );
}

#[tokio::test]
async fn a_garbage_reset_token_is_an_invalid_token() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    for token in [
        "",
        "garbage",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        account.refresh_token.as_str(),
    ] {
        assert_error(
            &app.reset_password(token, NEW_PASSWORD).await,
            "INVALID_TOKEN",
        );
    }

    app.login("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn forgot_password_with_a_malformed_email_is_bad_user_input() {
    let app = spawn_app().await;

    for email in ["", "not-an-email", "ada@"] {
        assert_field_error(&app.forgot_password(email).await, "email");
    }
}

/// Undoes the character references an HTML escaper may put in a URL.
pub fn unescape_html(html: &str) -> String {
    [
        ("&#x2f;", "/"),
        ("&#x2F;", "/"),
        ("&#47;", "/"),
        ("&#x3d;", "="),
        ("&#x3D;", "="),
        ("&#61;", "="),
    ]
    .iter()
    .fold(html.to_owned(), |text, (entity, plain)| {
        text.replace(entity, plain)
    })
    .replace("&amp;", "&")
}

#[tokio::test]
async fn reset_mail_to_an_unverified_address_carries_no_name_chosen_at_signup() {
    let app = spawn_app().await;
    // Someone signs up with another person's address and a name written to lure them.
    let lure = "URGENT: verify at https://evil.example/now";
    assert_no_errors(
        &app.signup_raw("victim@example.com", PASSWORD, Some(lure))
            .await,
    );

    assert_eq!(
        app.forgot_password("victim@example.com").await["data"]["forgotPassword"],
        true
    );
    let reset = app
        .smtp
        .wait_for_mail("victim@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    let token = reset_token(&reset, RESET_LINK_PREFIX);
    assert_no_errors(&app.reset_password(&token, NEW_PASSWORD).await);
    let changed = app
        .smtp
        .wait_for_mail("victim@example.com", SUBJECT_PASSWORD_CHANGED, MAIL_TIMEOUT)
        .await;

    for mail in [reset, changed] {
        for part in [&mail.subject, &mail.text, &mail.html] {
            assert!(!part.contains("URGENT"), "{part}");
            assert!(!part.contains("evil.example"), "{part}");
        }
    }
}

#[tokio::test]
async fn reset_mail_to_a_verified_address_greets_its_owner_by_name() {
    let app = spawn_app().await;
    assert_no_errors(
        &app.signup_raw("ada@example.com", PASSWORD, Some("Ada Lovelace"))
            .await,
    );
    // No operation verifies an address yet; the database stands in for one.
    let db = app.db().await;
    db.execute_unprepared("UPDATE users SET email_verified = true")
        .await
        .expect("the user can be marked verified");
    db.close().await.ok();

    app.forgot_password("ada@example.com").await;
    let mail = app
        .smtp
        .wait_for_mail("ada@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;

    assert!(mail.text.contains("Hello Ada Lovelace,"), "{}", mail.text);
    assert!(mail.html.contains("Hello Ada Lovelace,"), "{}", mail.html);
}

#[tokio::test]
async fn a_reset_works_for_an_address_stored_under_an_older_rule() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let token = app.reset_token_for("ada@example.com").await;
    // As an earlier, looser rule could have stored it: a domain without a dot, which today's
    // rule refuses. A stored address is not checked again, so it cannot lock its owner out.
    let db = app.db().await;
    db.execute_unprepared(
        "UPDATE users SET email = 'ada@intranet' WHERE email = 'ada@example.com'",
    )
    .await
    .expect("the stored address can be rewritten");
    db.close().await.ok();

    assert_field_error(
        &app.reset_password(&token, "ada@intranet").await,
        "newPassword",
    );
    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await["data"]["resetPassword"],
        true
    );
}
