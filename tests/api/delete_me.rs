use serde_json::json;

use crate::helpers::operations::DELETE_ME;
use crate::helpers::{
    MAIL_TIMEOUT, PASSWORD, SUBJECT_RESET, SUBJECT_VERIFY, assert_error, assert_no_errors,
    assert_signed_out, spawn_app,
};

#[tokio::test]
async fn delete_me_with_a_wrong_password_keeps_the_account() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let body = app
        .delete_me(&account.access_token, "not my password 1")
        .await;

    assert_error(&body, "INVALID_CREDENTIALS");
    assert_no_errors(&app.me(&account.access_token).await);
    app.login("ada@example.com", PASSWORD).await;
    assert_eq!(app.user_count("ada@example.com").await, 1);
}

#[tokio::test]
async fn delete_me_without_a_token_is_unauthenticated() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let body = app
        .operation(&DELETE_ME, &[], json!({ "password": PASSWORD }))
        .await;

    assert_error(&body, "UNAUTHENTICATED");
    assert_eq!(app.user_count("ada@example.com").await, 1);
}

#[tokio::test]
async fn delete_me_removes_the_account_and_every_token_at_once() {
    let app = spawn_app().await;
    let first = app.signup("ada@example.com", PASSWORD).await;
    let second = app.login("ada@example.com", PASSWORD).await;

    let body = app.delete_me(&first.access_token, PASSWORD).await;

    assert_no_errors(&body);
    assert_eq!(body["data"]["deleteMe"], true);
    assert_signed_out(&app, &[&first, &second]).await;
    assert_error(
        &app.login_raw("ada@example.com", PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(app.user_count("ada@example.com").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sessions").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM refresh_tokens").await,
        0
    );
}

#[tokio::test]
async fn tokens_of_a_deleted_account_never_name_a_new_account_with_the_same_email() {
    let app = spawn_app().await;
    let old = app.signup("ada@example.com", PASSWORD).await;
    assert_eq!(
        app.delete_me(&old.access_token, PASSWORD).await["data"]["deleteMe"],
        true
    );

    let new = app.signup("ada@example.com", PASSWORD).await;

    assert_ne!(new.id(), old.id());
    assert_signed_out(&app, &[&old]).await;
    assert_eq!(
        app.me(&new.access_token).await["data"]["me"]["id"],
        new.id()
    );
}

#[tokio::test]
async fn pending_mail_to_a_deleted_user_is_dropped() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com", PASSWORD).await;
    app.signup("grace@example.com", PASSWORD).await;
    app.wait_until_mail_is_out().await;
    app.smtp.stop().await;

    assert_eq!(
        app.forgot_password("ada@example.com").await["data"]["forgotPassword"],
        true
    );
    let pending = "SELECT COUNT(*) AS n FROM outbox WHERE recipient LIKE '%ada@example.com%' \
                   AND sent_at IS NULL";
    // The reset worker writes the outbox just after the answer.
    app.wait_for_count(pending, 1).await;
    assert_eq!(
        app.delete_me(&ada.access_token, PASSWORD).await["data"]["deleteMe"],
        true
    );

    assert_eq!(
        app.count(pending).await,
        0,
        "the outbox still holds mail for the deleted user"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM password_reset_tokens")
            .await,
        0
    );
    assert_eq!(
        app.forgot_password("grace@example.com").await["data"]["forgotPassword"],
        true
    );
    app.smtp.resume().await;
    app.smtp
        .wait_for_mail("grace@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    assert!(
        app.smtp
            .messages()
            .iter()
            .all(|mail| !mail.is_for("ada@example.com") || mail.subject == SUBJECT_VERIFY),
        "mail reached the deleted user: {:?}",
        app.smtp.messages()
    );
}
