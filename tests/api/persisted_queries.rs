//! Automatic persisted queries (Apollo's `extensions.persistedQuery`) over POST and GET, and the
//! parsed-document cache behind every request: documents sent again are served from it, and
//! every limit and every request's own variables and operation name still count.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::helpers::operations::{LOGOUT, ME};
use crate::helpers::{
    HttpResponse, PASSWORD, TestApp, assert_error, assert_no_errors, bearer, spawn_app,
};

const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";

fn sha256_hex(document: &str) -> String {
    Sha256::digest(document.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs `body` as JSON with these headers; the status is the caller's to check.
async fn post(app: &TestApp, headers: &[(&str, &str)], body: &Value) -> HttpResponse {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    app.send(Method::POST, "/graphql", &all, Some(body.to_string()))
        .await
}

/// A request naming its document by hash alone, as Apollo Client and urql send it first.
async fn post_hash(app: &TestApp, headers: &[(&str, &str)], document: &str) -> Value {
    let body = json!({ "extensions": persisted(&sha256_hex(document)) });
    let response = post(app, headers, &body).await;
    assert_eq!(response.status, 200, "{response:?}");
    response.json()
}

/// The document with its hash, as the clients send it after `PERSISTED_QUERY_NOT_FOUND`.
async fn post_with_hash(app: &TestApp, headers: &[(&str, &str)], document: &str) -> Value {
    let body = json!({ "query": document, "extensions": persisted(&sha256_hex(document)) });
    let response = post(app, headers, &body).await;
    assert_eq!(response.status, 200, "{response:?}");
    response.json()
}

/// `GET /graphql` with these query-string parameters.
async fn get(app: &TestApp, headers: &[(&str, &str)], params: &[(&str, &str)]) -> HttpResponse {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    app.send(Method::GET, &format!("/graphql?{query}"), headers, None)
        .await
}

#[track_caller]
fn assert_refused(body: &Value, code: &str) {
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    assert_error(body, code);
}

/// The value of `latchkey_graphql_document_cache_total{outcome=...}` on `/metrics`.
async fn document_cache(app: &TestApp, outcome: &str) -> u64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("latchkey_graphql_document_cache_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

// ----- automatic persisted queries -----

#[tokio::test]
async fn a_hash_the_server_does_not_hold_is_persisted_query_not_found() {
    let app = spawn_app().await;

    let body = post_hash(&app, &[], ME.document).await;

    assert_refused(&body, NOT_FOUND);
    // Apollo Client and urql look for this message too.
    assert_eq!(
        body["errors"][0]["message"], "PersistedQueryNotFound",
        "{body}"
    );
}

#[tokio::test]
async fn a_document_sent_with_its_hash_is_then_served_by_the_hash_alone() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let authorization = bearer(&account.access_token);
    let headers = [("Authorization", authorization.as_str())];

    let first = post_with_hash(&app, &headers, ME.document).await;
    let again = post_hash(&app, &headers, ME.document).await;

    assert_no_errors(&first);
    assert_eq!(first["data"]["me"]["email"], "ada@example.com", "{first}");
    assert_eq!(again, first);
}

#[tokio::test]
async fn a_hash_that_is_not_the_documents_is_refused_and_nothing_is_kept() {
    let app = spawn_app().await;
    let other = "query Other { __typename }";
    let body = json!({ "query": ME.document, "extensions": persisted(&sha256_hex(other)) });

    let response = post(&app, &[], &body).await;

    assert_refused(&response.json(), "BAD_REQUEST");
    assert_refused(&post_hash(&app, &[], other).await, NOT_FOUND);
    assert_refused(&post_hash(&app, &[], ME.document).await, NOT_FOUND);
}

#[tokio::test]
async fn a_persisted_query_of_another_version_or_without_a_sha256_is_bad_request() {
    let app = spawn_app().await;
    let hash = sha256_hex(ME.document);

    for extension in [
        json!({ "version": 2, "sha256Hash": hash }),
        json!({ "sha256Hash": hash }),
        json!({ "version": 1, "sha256Hash": "not a hash" }),
        json!({ "version": 1 }),
    ] {
        let body = json!({ "query": ME.document, "extensions": { "persistedQuery": extension } });
        let response = post(&app, &[], &body).await;
        assert_refused(&response.json(), "BAD_REQUEST");
    }
}

#[tokio::test]
async fn a_document_that_did_not_run_is_not_kept() {
    let app = spawn_app().await;
    let invalid = "query Invalid { noSuchField }";

    assert_refused(
        &post_with_hash(&app, &[], invalid).await,
        "GRAPHQL_VALIDATION_FAILED",
    );

    assert_refused(&post_hash(&app, &[], invalid).await, NOT_FOUND);
}

#[tokio::test]
async fn queries_are_persisted_over_get_and_a_persisted_mutation_is_still_refused_over_get() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let authorization = bearer(&account.access_token);
    let headers = [("Authorization", authorization.as_str())];
    let hash = sha256_hex(ME.document);
    let extensions = persisted(&hash).to_string();
    let by_hash = [("operationName", "Me"), ("extensions", extensions.as_str())];

    let missing = get(&app, &headers, &by_hash).await;
    assert_eq!(missing.status, 200, "{missing:?}");
    assert_refused(&missing.json(), NOT_FOUND);

    let with_document = [
        ("query", ME.document),
        ("operationName", "Me"),
        ("extensions", extensions.as_str()),
    ];
    let first = get(&app, &headers, &with_document).await;
    let again = get(&app, &headers, &by_hash).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json()["data"]["me"]["email"], "ada@example.com");
    assert_eq!(again.json(), first.json());

    // A mutation kept from a POST is still a mutation when a GET names it by its hash.
    let logout = json!({
        "query": LOGOUT.document,
        "variables": { "refreshToken": "not a token" },
        "extensions": persisted(&sha256_hex(LOGOUT.document)),
    });
    let logout = post(&app, &[], &logout).await.json();
    assert_eq!(logout["data"]["logout"], true, "{logout}");
    let mutation_extensions = persisted(&sha256_hex(LOGOUT.document)).to_string();
    let refused = get(&app, &[], &[("extensions", mutation_extensions.as_str())]).await;
    assert_eq!(refused.status, 405, "{refused:?}");
    assert_eq!(refused.header("allow"), Some("POST"));
    assert_refused(&refused.json(), "BAD_REQUEST");
}

#[tokio::test]
async fn the_store_is_bounded_and_forgets_the_least_recently_used_document() {
    let app = spawn_app().await;
    let documents: Vec<String> = (0..=latchkey::graphql::persisted_queries::MAX_QUERIES)
        .map(|i| format!("query Q{i} {{ __typename }}"))
        .collect();

    for document in &documents {
        assert_no_errors(&post_with_hash(&app, &[], document).await);
    }

    assert_refused(&post_hash(&app, &[], &documents[0]).await, NOT_FOUND);
    let last = documents.last().unwrap();
    assert_no_errors(&post_hash(&app, &[], last).await);
    assert_no_errors(&post_hash(&app, &[], &documents[1]).await);
}

#[tokio::test]
async fn a_persisted_document_over_a_limit_is_refused_every_time_and_never_kept() {
    let app = spawn_app().await;
    let too_deep = format!("query Deep {}{}", "{ a ".repeat(11), "}".repeat(11));

    for _ in 0..2 {
        assert_refused(&post_with_hash(&app, &[], &too_deep).await, TOO_COMPLEX);
        assert_refused(&post_hash(&app, &[], &too_deep).await, NOT_FOUND);
    }
}

// ----- the parsed-document cache -----

#[tokio::test]
async fn a_document_sent_again_is_served_from_the_document_cache() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    assert_no_errors(&app.me(&account.access_token).await);
    let hits = document_cache(&app, "hit").await;
    let misses = document_cache(&app, "miss").await;

    let body = app.me(&account.access_token).await;

    assert_eq!(body["data"]["me"]["email"], "ada@example.com", "{body}");
    assert_eq!(document_cache(&app, "hit").await, hits + 1);
    assert_eq!(document_cache(&app, "miss").await, misses);
}

#[tokio::test]
async fn an_over_deep_or_over_complex_document_is_refused_on_every_send() {
    let app = spawn_app().await;
    let too_deep = format!("{}{}", "{ a ".repeat(11), "}".repeat(11));
    let too_complex = format!("{{ me {{ {}}} }}", "id ".repeat(200));
    let too_many_aliases: String = (0..16).map(|i| format!("a{i}: id ")).collect();
    let too_many_aliases = format!("{{ me {{ {too_many_aliases}}} }}");
    let hits = document_cache(&app, "hit").await;

    for document in [&too_deep, &too_complex, &too_many_aliases] {
        for _ in 0..3 {
            let body = app.graphql(document, json!({})).await;
            assert_refused(&body, TOO_COMPLEX);
        }
    }

    assert_eq!(
        document_cache(&app, "hit").await,
        hits,
        "nothing refused was served from the cache"
    );
}

#[tokio::test]
async fn each_request_picks_its_own_operation_from_a_cached_document() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let document = "query A { me { id } } query B { me { email } }";
    let send = |operation: Option<&str>| {
        let body = json!({ "query": document, "operationName": operation });
        let authorization = bearer(&account.access_token);
        let app = &app;
        async move {
            post(app, &[("Authorization", authorization.as_str())], &body)
                .await
                .json()
        }
    };

    for _ in 0..2 {
        let a = send(Some("A")).await;
        assert_eq!(a["data"]["me"]["id"], account.id(), "{a}");
        assert!(a["data"]["me"].get("email").is_none(), "{a}");
        let b = send(Some("B")).await;
        assert_eq!(b["data"]["me"]["email"], "ada@example.com", "{b}");
        assert_refused(&send(None).await, "BAD_REQUEST");
        assert_refused(&send(Some("C")).await, "BAD_REQUEST");
    }
}

#[tokio::test]
async fn a_cached_document_is_validated_against_each_requests_variables() {
    let app = spawn_app().await;
    let logout = "mutation($t: String!) { logout(refreshToken: $t) }";

    let fits = app.graphql(logout, json!({ "t": "not a token" })).await;
    assert!(
        fits.get("data").is_some_and(|data| !data.is_null()),
        "{fits}"
    );
    for _ in 0..2 {
        let wrong = app.graphql(logout, json!({ "t": 7 })).await;
        assert_refused(&wrong, "GRAPHQL_VALIDATION_FAILED");
    }
}

#[tokio::test]
async fn a_long_introspection_document_runs_again_under_the_introspection_limits() {
    let app = spawn_app().await;
    // Twelve levels of fields: over the limit of other documents, within introspection's.
    let document = format!(
        "{{ __type(name: \"User\") {{ fields {{ type {}{{ name }}{} }} }} }}",
        "{ ofType ".repeat(8),
        " }".repeat(8)
    );

    for _ in 0..2 {
        let body = app.graphql(&document, json!({})).await;
        assert_no_errors(&body);
    }
}

#[tokio::test]
async fn the_document_cache_is_bounded() {
    let app = spawn_app().await;
    let first = "query D0 { __typename }";
    assert_no_errors(&app.graphql(first, json!({})).await);
    for i in 1..=latchkey::graphql::MAX_CACHED_DOCUMENTS {
        let document = format!("query D{i} {{ __typename }}");
        assert_no_errors(&app.graphql(&document, json!({})).await);
    }
    let misses = document_cache(&app, "miss").await;

    assert_no_errors(&app.graphql(first, json!({})).await);

    assert_eq!(
        document_cache(&app, "miss").await,
        misses + 1,
        "the first document was evicted"
    );
}
