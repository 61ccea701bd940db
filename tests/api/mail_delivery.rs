use crate::helpers::{
    AppOptions, MAIL_TIMEOUT, PASSWORD, RESET_LINK_PREFIX, SUBJECT_RESET, spawn_app, spawn_app_with,
};
use crate::smtp_sink::reset_token;

#[tokio::test]
async fn mail_asked_for_during_an_smtp_outage_arrives_exactly_once_after_it() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    app.signup("grace@example.com", PASSWORD).await;
    app.wait_until_mail_is_out().await;
    app.smtp.stop().await;

    let body = app.forgot_password("ada@example.com").await;

    assert_eq!(body["data"]["forgotPassword"], true, "{body}");
    assert!(
        app.smtp
            .mail_to("ada@example.com", SUBJECT_RESET)
            .is_empty()
    );
    let pending = "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL";
    // The reset worker writes the outbox just after the answer.
    app.wait_for_count(pending, 1).await;
    app.smtp.resume().await;
    let mail = app
        .smtp
        .wait_for_mail("ada@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    let token = reset_token(&mail, RESET_LINK_PREFIX);
    // A later message, to be sure the worker has moved past the first one, then count.
    app.forgot_password("grace@example.com").await;
    app.smtp
        .wait_for_mail("grace@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    app.wait_until_mail_is_out().await;
    assert_eq!(app.smtp.mail_to("ada@example.com", SUBJECT_RESET).len(), 1);
    assert_eq!(
        app.reset_password(&token, "a brand new passphrase 7").await["data"]["resetPassword"],
        true
    );
}

#[tokio::test]
async fn mail_pending_at_shutdown_is_delivered_after_a_restart() {
    let mut app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    app.wait_until_mail_is_out().await;
    app.smtp.stop().await;
    assert_eq!(
        app.forgot_password("ada@example.com").await["data"]["forgotPassword"],
        true
    );

    app.stop().await;
    assert!(
        app.smtp
            .mail_to("ada@example.com", SUBJECT_RESET)
            .is_empty()
    );
    app.smtp.resume().await;
    let restarted = spawn_app_with(AppOptions {
        data_dir: Some(app.data_dir.clone()),
        smtp: Some(app.smtp.clone()),
        ..AppOptions::default()
    })
    .await;

    let mail = restarted
        .smtp
        .wait_for_mail("ada@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    let token = reset_token(&mail, RESET_LINK_PREFIX);
    restarted.wait_until_mail_is_out().await;
    assert_eq!(
        restarted
            .smtp
            .mail_to("ada@example.com", SUBJECT_RESET)
            .len(),
        1
    );
    assert_eq!(
        restarted
            .reset_password(&token, "a brand new passphrase 7")
            .await["data"]["resetPassword"],
        true
    );
    restarted
        .login("ada@example.com", "a brand new passphrase 7")
        .await;
}

#[tokio::test]
async fn data_written_before_a_restart_survives_it() {
    let mut app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    app.stop().await;

    let restarted = spawn_app_with(AppOptions {
        data_dir: Some(app.data_dir.clone()),
        smtp: Some(app.smtp.clone()),
        ..AppOptions::default()
    })
    .await;

    // Same signing key, same sessions: the old tokens still work on the new process.
    assert_eq!(
        restarted.me(&account.access_token).await["data"]["me"]["id"],
        account.id()
    );
    assert_eq!(
        restarted.login("ada@example.com", PASSWORD).await.id(),
        account.id()
    );
}
