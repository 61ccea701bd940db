use serde_json::json;

use crate::helpers::operations::{LOGIN, ME};
use crate::helpers::{PASSWORD, assert_error, assert_no_errors, spawn_app};

#[tokio::test]
async fn me_with_an_access_token_returns_the_user() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let body = app.me(&account.access_token).await;

    assert_no_errors(&body);
    let me = &body["data"]["me"];
    // Every field signup answered with, the same; and `me` selects `updatedAt` besides.
    for (field, value) in account.user.as_object().expect("the signup's user") {
        assert_eq!(&me[field], value, "{field}: {body}");
    }
    assert!(me["updatedAt"].is_string(), "{body}");
}

#[tokio::test]
async fn me_without_a_token_is_unauthenticated() {
    let app = spawn_app().await;

    let body = app.operation(&ME, &[], json!({})).await;

    assert_error(&body, "UNAUTHENTICATED");
}

#[tokio::test]
async fn me_with_a_garbage_or_malformed_bearer_is_unauthenticated() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let tampered = {
        // Flip the first character of the signature.
        let at = account.access_token.rfind('.').unwrap() + 1;
        let flipped = if account.access_token[at..].starts_with('A') {
            "B"
        } else {
            "A"
        };
        format!(
            "{}{flipped}{}",
            &account.access_token[..at],
            &account.access_token[at + 1..]
        )
    };
    let unsigned = {
        // Same claims, `alg: none`, no signature.
        let mut parts = account.access_token.split('.');
        let _header = parts.next();
        let claims = parts.next().unwrap();
        format!("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{claims}.")
    };

    for token in ["garbage", "a.b.c", "", tampered.as_str(), unsigned.as_str()] {
        let body = app
            .graphql_with_token(token, "{ me { id } }", json!({}))
            .await;
        assert_error(&body, "UNAUTHENTICATED");
    }
    for header in [
        "Basic YWRhOnB3",
        "Bearer",
        "bearer",
        account.access_token.as_str(),
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("Authorization", header)
            .json(&json!({ "query": "{ me { id } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "Authorization: {header}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_error(&body, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn a_garbage_bearer_does_not_block_public_operations() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let body = app
        .operation(
            &LOGIN,
            &[("Authorization", "Bearer not-a-token")],
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
        )
        .await;

    assert_no_errors(&body);
    assert!(body["data"]["login"]["accessToken"].is_string());
}

#[tokio::test]
async fn me_works_over_get_with_a_bearer() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{me{email}}")])
        .header("Accept", "application/json")
        .bearer_auth(&account.access_token)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_no_errors(&body);
    assert_eq!(body["data"]["me"]["email"], "ada@example.com");
}
