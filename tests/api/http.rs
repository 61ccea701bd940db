use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{HttpResponse, PASSWORD, TestApp, assert_error, captured_logs, spawn_app};

/// What GraphQL-over-HTTP clients that want request errors as HTTP 400s send.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// POSTs `body` to `/graphql` as JSON, accepting `accept`.
async fn post_body(app: &TestApp, accept: &str, body: String) -> HttpResponse {
    app.send(
        Method::POST,
        "/graphql",
        &[("Content-Type", "application/json"), ("Accept", accept)],
        Some(body),
    )
    .await
}

/// Asserts a request error: `status`, nothing ran (no `data`), and `code` on the error.
#[track_caller]
fn assert_request_error(response: &HttpResponse, status: u16, code: &str) {
    assert_eq!(response.status, status, "{response:?}");
    let body = response.json();
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    assert_error(&body, code);
}

/// A document POSTed once as plain JSON (a request error is a 200 there) and once as
/// `application/graphql-response+json` (a 400): the same `code` both times.
async fn assert_document_refused(app: &TestApp, document: &str, code: &str) {
    let body = json!({ "query": document }).to_string();
    let legacy = post_body(app, "application/json", body.clone()).await;
    assert_request_error(&legacy, 200, code);
    let modern = post_body(app, GRAPHQL_RESPONSE_JSON, body).await;
    assert_request_error(&modern, 400, code);
}

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
    let body: Value = response.json().await.unwrap();
    assert_error(&body, "BAD_REQUEST");
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
        let body: Value = response.json().await.unwrap();
        assert_error(&body, "BAD_REQUEST");
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
    let body: Value = response.json().await.unwrap();
    assert_error(&body, "BAD_REQUEST");
}

#[tokio::test]
async fn bodies_that_are_not_a_graphql_request_are_400_bad_request() {
    let app = spawn_app().await;
    let eleven: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();

    for (case, body) in [
        ("not JSON", "{".to_owned()),
        ("no query", "{}".to_owned()),
        ("an empty query", json!({ "query": " " }).to_string()),
        (
            "variables that are not an object",
            json!({ "query": "{ __typename }", "variables": [1] }).to_string(),
        ),
        ("a batch of 11", Value::Array(eleven.clone()).to_string()),
    ] {
        for accept in ["application/json", GRAPHQL_RESPONSE_JSON] {
            let response = post_body(&app, accept, body.clone()).await;
            assert_eq!(response.status, 400, "{case}, {accept}: {response:?}");
            assert_error(&response.json(), "BAD_REQUEST");
        }
    }
    for query_string in [
        "",
        "?operationName=A",
        "?query=%7B__typename%7D&variables=%5B1%5D",
    ] {
        let response = app
            .send(
                Method::GET,
                &format!("/graphql{query_string}"),
                &[("Accept", "application/json")],
                None,
            )
            .await;
        assert_request_error(&response, 400, "BAD_REQUEST");
    }
}

#[tokio::test]
async fn a_document_that_does_not_parse_is_graphql_parse_failed() {
    let app = spawn_app().await;

    for document in [
        "{ me { id }",
        "query {",
        "not GraphQL at all",
        "{ me(: 1) { id } }",
    ] {
        assert_document_refused(&app, document, "GRAPHQL_PARSE_FAILED").await;
    }
}

#[tokio::test]
async fn a_document_that_does_not_fit_the_schema_is_graphql_validation_failed() {
    let app = spawn_app().await;

    for document in [
        "{ noSuchField }",
        "{ me { id(x: 1) } }",
        "{ me }",
        "mutation { logout }",
        "mutation { logout(refreshToken: 7) }",
        "query($unused: Int) { __typename }",
        "{ ...Missing }",
    ] {
        assert_document_refused(&app, document, "GRAPHQL_VALIDATION_FAILED").await;
    }
}

#[tokio::test]
async fn an_operation_name_that_picks_no_operation_is_bad_request() {
    let app = spawn_app().await;
    let two = "query A { __typename } query B { __typename }";

    for body in [
        json!({ "query": "query A { __typename }", "operationName": "B" }),
        json!({ "query": two }),
        json!({ "query": two, "operationName": "C" }),
    ] {
        let legacy = post_body(&app, "application/json", body.to_string()).await;
        assert_request_error(&legacy, 200, "BAD_REQUEST");
        let modern = post_body(&app, GRAPHQL_RESPONSE_JSON, body.to_string()).await;
        assert_request_error(&modern, 400, "BAD_REQUEST");
    }
}

#[tokio::test]
async fn variables_that_do_not_fit_their_arguments_are_refused_with_a_code() {
    let app = spawn_app().await;
    let logout = "mutation($t: String!) { logout(refreshToken: $t) }";

    // A variable left out is only noticed when the field runs: the client's input.
    let missing = app.graphql(logout, json!({})).await;
    assert_error(&missing, "BAD_USER_INPUT");
    assert_eq!(missing["data"], Value::Null, "{missing}");
    // One of the wrong type is caught while the document is checked.
    for variables in [json!({ "t": 7 }), json!({ "t": null })] {
        let body = app.graphql(logout, variables.clone()).await;
        assert_error(&body, "GRAPHQL_VALIDATION_FAILED");
    }
}

#[tokio::test]
async fn responses_carry_the_security_headers() {
    let app = spawn_app().await;

    let response = app
        .post_signup(json!({ "email": "ada@example.com", "password": PASSWORD }))
        .await;

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
        .post_signup(json!({ "email": "ada@example.com", "password": PASSWORD }))
        .await;

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
