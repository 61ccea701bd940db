use crate::helpers::{
    PASSWORD, assert_access_revoked, assert_no_errors, assert_refresh_revoked, assert_signed_out,
    spawn_app, tokens_of,
};

#[tokio::test]
async fn logout_revokes_the_session_at_once() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    assert_no_errors(&app.me(&account.access_token).await);

    let body = app.logout(&account.refresh_token).await;

    assert_no_errors(&body);
    assert_eq!(body["data"]["logout"], true);
    assert_signed_out(&app, &[&account]).await;
}

#[tokio::test]
async fn logout_with_a_rotated_session_revokes_its_newest_tokens() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let (access, refresh) = tokens_of(
        &app.refresh_raw(&account.refresh_token).await,
        "refreshToken",
    );

    assert_eq!(app.logout(&refresh).await["data"]["logout"], true);

    assert_access_revoked(&app, &access).await;
    assert_access_revoked(&app, &account.access_token).await;
    assert_refresh_revoked(&app, &refresh).await;
}

#[tokio::test]
async fn logging_out_twice_is_still_true() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    assert_eq!(
        app.logout(&account.refresh_token).await["data"]["logout"],
        true
    );

    let body = app.logout(&account.refresh_token).await;

    assert_no_errors(&body);
    assert_eq!(body["data"]["logout"], true);
}

#[tokio::test]
async fn logout_with_an_unknown_token_is_true() {
    let app = spawn_app().await;

    let body = app.logout("this-token-was-never-issued").await;

    assert_no_errors(&body);
    assert_eq!(body["data"]["logout"], true);
}

#[tokio::test]
async fn logout_leaves_the_other_sessions_of_the_user_alone() {
    let app = spawn_app().await;
    let laptop = app.signup("ada@example.com", PASSWORD).await;
    let phone = app.login("ada@example.com", PASSWORD).await;

    assert_eq!(
        app.logout(&laptop.refresh_token).await["data"]["logout"],
        true
    );

    assert_access_revoked(&app, &laptop.access_token).await;
    assert_no_errors(&app.me(&phone.access_token).await);
    let (access, _) = tokens_of(&app.refresh_raw(&phone.refresh_token).await, "refreshToken");
    assert_no_errors(&app.me(&access).await);
}
