use serde_json::Value;

use crate::helpers::{PASSWORD, assert_error, assert_field_error, assert_no_errors, spawn_app};

#[tokio::test]
async fn signup_returns_tokens_and_the_new_user() {
    let app = spawn_app().await;

    let body = app
        .signup_raw("ada@example.com", PASSWORD, Some("Ada Lovelace"))
        .await;

    assert_no_errors(&body);
    let payload = &body["data"]["signup"];
    assert!(!payload["accessToken"].as_str().unwrap().is_empty());
    assert!(!payload["refreshToken"].as_str().unwrap().is_empty());
    assert_eq!(payload["tokenType"], "Bearer");
    assert_eq!(payload["expiresIn"], 900);
    let user = &payload["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["emailVerified"], false);
    assert!(user["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(user["createdAt"].is_string());

    let me = app.me(payload["accessToken"].as_str().unwrap()).await;
    assert_no_errors(&me);
    assert_eq!(me["data"]["me"]["id"], user["id"]);
    assert_eq!(me["data"]["me"]["createdAt"], user["createdAt"]);
    assert!(me["data"]["me"]["updatedAt"].is_string());
}

#[tokio::test]
async fn signup_without_a_name_is_allowed() {
    let app = spawn_app().await;

    let body = app.signup_raw("ada@example.com", PASSWORD, None).await;

    assert_no_errors(&body);
    assert_eq!(body["data"]["signup"]["user"]["name"], Value::Null);
}

#[tokio::test]
async fn signup_trims_and_lower_cases_the_email() {
    let app = spawn_app().await;

    let body = app
        .signup_raw("  Ada.Lovelace@Example.COM \t", PASSWORD, Some("  Ada  "))
        .await;

    assert_no_errors(&body);
    assert_eq!(
        body["data"]["signup"]["user"]["email"],
        "ada.lovelace@example.com"
    );
    assert_eq!(body["data"]["signup"]["user"]["name"], "Ada");
    app.login("ada.lovelace@example.com", PASSWORD).await;
}

#[tokio::test]
async fn signup_with_a_taken_email_in_another_case_is_refused() {
    let app = spawn_app().await;
    let first = app.signup("ada@example.com", PASSWORD).await;

    let body = app
        .signup_raw("ADA@Example.com", "another long password 99", None)
        .await;

    assert_error(&body, "EMAIL_TAKEN");
    assert_eq!(app.user_count("ada@example.com").await, 1);
    // The first account is untouched: its password still works, the second one does not.
    let again = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(again.id(), first.id());
    assert_error(
        &app.login_raw("ada@example.com", "another long password 99")
            .await,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn signup_refuses_malformed_emails() {
    let app = spawn_app().await;
    let too_long = format!("{}@example.com", "a".repeat(243)); // 255 characters

    for email in [
        "",
        "   ",
        "not-an-email",
        "@example.com",
        "ada@",
        "ada @example.com",
        too_long.as_str(),
    ] {
        let body = app.signup_raw(email, PASSWORD, None).await;
        assert_field_error(&body, "email");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn signup_refuses_passwords_outside_the_policy() {
    let app = spawn_app().await;
    let too_long = "x".repeat(129);

    for password in [
        "short",
        "1234567",
        too_long.as_str(),
        "ada.lovelace@example.com",
        "ada.lovelace",
    ] {
        let body = app
            .signup_raw("ada.lovelace@example.com", password, None)
            .await;
        assert_field_error(&body, "password");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn a_password_of_128_characters_is_accepted_and_not_truncated() {
    let app = spawn_app().await;
    let password = format!("{}{}", "p".repeat(127), "1");

    app.signup("ada@example.com", &password).await;

    app.login("ada@example.com", &password).await;
    let truncated = format!("{}{}", "p".repeat(127), "2");
    assert_error(
        &app.login_raw("ada@example.com", &truncated).await,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn a_password_of_128_emoji_is_counted_in_characters_not_bytes() {
    let app = spawn_app().await;
    // 128 characters, 512 bytes in UTF-8.
    let password = "🔑".repeat(128);

    app.signup("ada@example.com", &password).await;

    app.login("ada@example.com", &password).await;
    let too_long = "🔑".repeat(129);
    assert_field_error(
        &app.signup_raw("bob@example.com", &too_long, None).await,
        "password",
    );
}

#[tokio::test]
async fn signup_refuses_bad_names() {
    let app = spawn_app().await;
    let too_long = "n".repeat(101);

    for name in [
        "",
        "   ",
        too_long.as_str(),
        "Ada\u{0}Lovelace",
        "Ada\nLovelace",
        "Ada\u{7}",
    ] {
        let body = app
            .signup_raw("ada@example.com", PASSWORD, Some(name))
            .await;
        assert_field_error(&body, "name");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
    // A name of exactly 100 characters is fine.
    let body = app
        .signup_raw("ada@example.com", PASSWORD, Some(&"n".repeat(100)))
        .await;
    assert_no_errors(&body);
}

#[tokio::test]
async fn a_fullwidth_spelling_of_a_taken_email_is_the_same_account() {
    let app = spawn_app().await;
    let first = app.signup("admin@example.com", PASSWORD).await;

    let body = app
        .signup_raw(
            "\u{FF41}\u{FF44}\u{FF4D}\u{FF49}\u{FF4E}@example.com",
            "another long password 99",
            None,
        )
        .await;

    assert_error(&body, "EMAIL_TAKEN");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 1);
    // Either spelling signs in to the one account.
    let fullwidth = app
        .login(
            "\u{FF21}\u{FF24}\u{FF2D}\u{FF29}\u{FF2E}@\u{FF45}xample.com",
            PASSWORD,
        )
        .await;
    assert_eq!(fullwidth.id(), first.id());
}

#[tokio::test]
async fn an_internationalised_domain_is_stored_in_its_ascii_form() {
    let app = spawn_app().await;

    let account = app.signup("ada@B\u{FC}cher.example", PASSWORD).await;

    let me = app.me(&account.access_token).await;
    assert_eq!(me["data"]["me"]["email"], "ada@xn--bcher-kva.example");
    assert_eq!(
        app.login("ada@xn--bcher-kva.example", PASSWORD).await.id(),
        account.id()
    );
    assert_eq!(
        app.login("ada@b\u{FC}cher.example", PASSWORD).await.id(),
        account.id()
    );
}

#[tokio::test]
async fn signup_refuses_emails_outside_the_web_form_rule() {
    let app = spawn_app().await;

    for email in [
        "\"<b>x</b>\"@example.com",
        "\"ada lovelace\"@example.com",
        "j\u{F6}rg@example.com",
        "ada@-example.com",
        "ada@example-.com",
        "ada@exa_mple.com",
        "ada@[127.0.0.1]",
        "ada@example..com",
    ] {
        let body = app.signup_raw(email, PASSWORD, None).await;
        assert_field_error(&body, "email");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}
