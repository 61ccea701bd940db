use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_error, captured_logs, spawn_app};

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let app = spawn_app().await;

    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn a_browser_gets_graphiql() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/graphql"))
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("content-security-policy"));
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    assert!(page.to_lowercase().contains("graphiql"));
}

#[tokio::test]
async fn a_mutation_over_get_is_refused_with_405() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[(
            "query",
            format!(
                "mutation {{ logout(refreshToken: \"{}\") }}",
                account.refresh_token
            ),
        )])
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 405);
    // The mutation did not run: the session is alive.
    crate::helpers::assert_no_errors(&app.me(&account.access_token).await);
}

#[tokio::test]
async fn posts_that_are_not_json_are_refused_with_415() {
    let app = spawn_app().await;
    let body =
        json!({ "query": "mutation { forgotPassword(email: \"ada@example.com\") }" }).to_string();

    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("Content-Type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "Content-Type: {content_type}");
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_with_413() {
    let app = spawn_app().await;
    let padding = " ".repeat(70 * 1024);

    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": format!("{{ __typename {padding} }}") }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn responses_carry_the_security_headers() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({
            "query": "mutation($input: SignupInput!) { signup(input: $input) { accessToken } }",
            "variables": { "input": { "email": "ada@example.com", "password": PASSWORD } },
        }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let cache_control = response.headers()["cache-control"].to_str().unwrap();
    assert!(cache_control.contains("no-store"), "{cache_control}");
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn internal_errors_are_generic_and_leak_no_details() {
    let app = spawn_app().await;
    // Break the database under the server's feet: signing up now fails half-way through its transaction.
    let db = app.db().await;
    sea_orm::ConnectionTrait::execute_unprepared(&db, "DROP TABLE refresh_tokens")
        .await
        .expect("the test can drop a table");
    db.close().await.ok();

    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({
            "query": "mutation($input: SignupInput!) { signup(input: $input) { accessToken } }",
            "variables": { "input": { "email": "ada@example.com", "password": PASSWORD } },
        }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let header_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_error(&body, "INTERNAL_SERVER_ERROR");
    let request_id = body["errors"][0]["extensions"]["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("an internal error carries a requestId: {body}"))
        .to_owned();
    assert_eq!(
        request_id, header_id,
        "the requestId is the response's x-request-id"
    );
    let lowered = text.to_lowercase();
    for secret in [
        "refresh_tokens",
        "no such table",
        "sqlite",
        "sqlx",
        "sea_orm",
        "dberr",
        "panicked",
        ".rs:",
    ] {
        assert!(
            !lowered.contains(secret),
            "the response leaks {secret:?}: {text}"
        );
    }
    // Nothing was half-written: the user row went with the failed transaction.
    assert_eq!(app.user_count("ada@example.com").await, 0);
    // The details went to the log, under the same request id.
    let logs = captured_logs();
    assert!(
        logs.lines()
            .any(|line| line.contains(&request_id) && line.contains("refresh_tokens")),
        "no log line holds both the request id {request_id} and the cause"
    );
}
