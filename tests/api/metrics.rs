//! `GET /metrics`: what an operator's Prometheus sees after real traffic.

use crate::helpers::{MAIL_TIMEOUT, PASSWORD, SUBJECT_RESET, spawn_app, spawn_app_with_args};

async fn scrape(app: &crate::helpers::TestApp) -> String {
    let response = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_operations_logins_limits_and_mail() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    app.login("ada@example.com", PASSWORD).await;
    app.login_raw("ada@example.com", "not the password").await;
    for _ in 0..6 {
        app.forgot_password("grace@example.com").await; // the 6th is over the per-email limit
    }
    app.forgot_password("ada@example.com").await;
    app.smtp
        .wait_for_mail("ada@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;

    let text = scrape(&app).await;
    for expected in [
        r#"latchkey_logins_total{outcome="success"} 1"#,
        r#"latchkey_logins_total{outcome="invalid_credentials"} 1"#,
        r#"latchkey_graphql_operations_total{operation="login",outcome="ok"} 1"#,
        r#"latchkey_graphql_operations_total{operation="login",outcome="invalid_credentials"} 1"#,
        r#"latchkey_graphql_operations_total{operation="signup",outcome="ok"} 1"#,
        r#"latchkey_graphql_operations_total{operation="forgotPassword",outcome="rate_limited"} 1"#,
        r#"latchkey_rate_limited_total{limit="forgot_password_per_email"} 1"#,
        r#"latchkey_mail_deliveries_total{outcome="sent"}"#,
        r#"latchkey_graphql_operation_duration_seconds_bucket{le="#,
        "latchkey_outbox_pending 0",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_app_with_args(&["--metrics", "false"]).await;
    let response = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 404);
}
