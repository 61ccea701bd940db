use crate::helpers::{PASSWORD, assert_error, assert_no_errors, spawn_app};

#[tokio::test]
async fn login_with_the_right_password_returns_tokens() {
    let app = spawn_app().await;
    let signed_up = app.signup("ada@example.com", PASSWORD).await;

    let body = app.login_raw("ada@example.com", PASSWORD).await;

    assert_no_errors(&body);
    let payload = &body["data"]["login"];
    assert_eq!(payload["tokenType"], "Bearer");
    assert_eq!(payload["expiresIn"], 900);
    assert_eq!(payload["user"]["id"], signed_up.id());
    assert_ne!(payload["refreshToken"], signed_up.refresh_token.as_str());
    let me = app.me(payload["accessToken"].as_str().unwrap()).await;
    assert_eq!(me["data"]["me"]["email"], "ada@example.com");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let wrong_password = app
        .login_raw("ada@example.com", "not the password at all")
        .await;
    let unknown_email = app.login_raw("nobody@example.com", PASSWORD).await;

    assert_error(&wrong_password, "INVALID_CREDENTIALS");
    assert_error(&unknown_email, "INVALID_CREDENTIALS");
    assert_eq!(
        wrong_password["errors"][0]["message"],
        unknown_email["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        unknown_email["errors"][0]["extensions"]
    );
    assert!(wrong_password["data"].is_null(), "{wrong_password}");
}

#[tokio::test]
async fn login_ignores_the_case_and_surrounding_spaces_of_the_email() {
    let app = spawn_app().await;
    let signed_up = app.signup("ada@example.com", PASSWORD).await;

    let account = app.login("  ADA@Example.Com ", PASSWORD).await;

    assert_eq!(account.id(), signed_up.id());
}

#[tokio::test]
async fn the_password_is_case_sensitive() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let body = app
        .login_raw("ada@example.com", &PASSWORD.to_uppercase())
        .await;

    assert_error(&body, "INVALID_CREDENTIALS");
}
