use serde_json::json;

use crate::helpers::{
    JWT_SECRET, SUBJECT_PASSWORD_CHANGED, TestApp, assert_error, assert_no_errors,
    assert_rate_limited, captured_logs, spawn_app, tokens_of,
};

async fn password_hash_of(app: &TestApp, email: &str) -> String {
    app.strings(&format!(
        "SELECT password_hash AS value FROM users WHERE email = '{email}'"
    ))
    .await
    .pop()
    .expect("the user has a password hash")
}

#[tokio::test]
async fn no_password_or_token_ever_reaches_the_logs() {
    let app = spawn_app().await;
    let first_password = "Zebra-Quasar-Onion-Lantern-8841";
    let reset_password = "Walrus-Nebula-Pickle-Harbor-5527";
    let changed_password = "Otter-Comet-Radish-Beacon-3309";
    let wrong_password = "Badger-Pulsar-Turnip-Anchor-1170";

    let signup = app.signup("ada@example.com", first_password).await;
    let mut hashes = vec![password_hash_of(&app, "ada@example.com").await];
    let login = app.login("ada@example.com", first_password).await;
    let failed_login = app.login_raw("ada@example.com", wrong_password).await;
    assert!(failed_login.get("errors").is_some());
    let (refreshed_access, refreshed_refresh) =
        tokens_of(&app.refresh_raw(&login.refresh_token).await, "refreshToken");
    let reset_token = app.reset_token_for("ada@example.com").await;
    assert_eq!(
        app.reset_password(&reset_token, reset_password).await["data"]["resetPassword"],
        true
    );
    hashes.push(password_hash_of(&app, "ada@example.com").await);
    let after_reset = app.login("ada@example.com", reset_password).await;
    let update = app
        .update_me(
            &after_reset.access_token,
            json!({ "newPassword": changed_password, "currentPassword": reset_password }),
        )
        .await;
    assert_no_errors(&update);
    hashes.push(password_hash_of(&app, "ada@example.com").await);
    // One notice for the reset, a second for the change: wait for both, so the worker has logged its part.
    app.wait_for_nth_mail("ada@example.com", SUBJECT_PASSWORD_CHANGED, 1)
        .await;
    assert_no_errors(&app.me(&after_reset.access_token).await);
    assert_eq!(
        app.logout(&after_reset.refresh_token).await["data"]["logout"],
        true
    );

    // A lockout: ten wrong guesses, then even the right password is refused.
    let grace_password = "Heron-Quartz-Fennel-Glacier-6613";
    let grace = app.signup("grace@example.com", grace_password).await;
    hashes.push(password_hash_of(&app, "grace@example.com").await);
    let guesses: Vec<String> = (0..10)
        .map(|i| format!("Guess-Mongoose-Saturn-{i}-Velvet"))
        .collect();
    for guess in &guesses {
        assert_error(
            &app.login_raw("grace@example.com", guess).await,
            "INVALID_CREDENTIALS",
        );
    }
    assert_rate_limited(&app.login_raw("grace@example.com", grace_password).await);
    let token_hashes = app
        .strings("SELECT token_hash AS value FROM refresh_tokens UNION ALL SELECT token_hash AS value FROM password_reset_tokens")
        .await;
    assert!(!token_hashes.is_empty());

    let logs = captured_logs();
    assert!(
        !logs.is_empty(),
        "the test subscriber captured nothing; is it installed?"
    );
    let secrets = [
        ("password", first_password),
        ("password", reset_password),
        ("password", changed_password),
        ("password", wrong_password),
        ("access token", signup.access_token.as_str()),
        ("access token", login.access_token.as_str()),
        ("access token", refreshed_access.as_str()),
        ("access token", after_reset.access_token.as_str()),
        ("refresh token", signup.refresh_token.as_str()),
        ("refresh token", login.refresh_token.as_str()),
        ("refresh token", refreshed_refresh.as_str()),
        ("refresh token", after_reset.refresh_token.as_str()),
        ("reset token", reset_token.as_str()),
        ("password", grace_password),
        ("access token", grace.access_token.as_str()),
        ("refresh token", grace.refresh_token.as_str()),
        ("JWT secret", JWT_SECRET),
    ];
    let hashed = hashes
        .iter()
        .map(|hash| ("password hash", hash.as_str()))
        .chain(
            token_hashes
                .iter()
                .map(|hash| ("token hash", hash.as_str())),
        )
        .chain(guesses.iter().map(|guess| ("password", guess.as_str())));
    let secrets: Vec<(&str, &str)> = secrets.into_iter().chain(hashed).collect();
    for (kind, secret) in secrets {
        assert!(
            !logs.contains(secret),
            "a {kind} appears in the logs: {secret}"
        );
        // The signature alone is as good as the token; the digest is the heart of a PHC string.
        if let Some((_, signature)) = secret.rsplit_once(['.', '$']) {
            assert!(
                !logs.contains(signature),
                "the signature of a {kind} appears in the logs"
            );
        }
    }
}
