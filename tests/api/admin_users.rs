//! The administrators' `users` list over HTTP: paging through it with the cursors it hands out.

use latchkey::accounts::admin::bootstrap::ensure_superadmin;
use latchkey::accounts::domain::{Email, PasswordPolicy};
use latchkey::auth::password::PasswordHasher;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_no_errors, spawn_app};

const USERS: &str = "query Users($first: Int!, $after: String) {
  users(first: $first, after: $after) {
    nodes { email }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Signs a superadmin in, made as `latchkey admin create` makes one; returns the access token.
async fn superadmin(app: &TestApp) -> String {
    let email = "root@example.com";
    let db = app.db().await;
    let hasher = PasswordHasher::new(PasswordHasher::default_params(), 1).unwrap();
    ensure_superadmin(
        &db,
        &hasher,
        PasswordPolicy::default(),
        Email::parse(email).unwrap(),
        None,
        || Ok(PASSWORD.to_owned()),
    )
    .await
    .unwrap();
    db.close().await.ok();
    app.login(email, PASSWORD).await.access_token
}

fn emails(body: &Value) -> Vec<String> {
    body["data"]["users"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("a page of users: {body}"))
        .iter()
        .map(|node| node["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_end_cursor_of_a_page_of_users_opens_the_next_page() {
    let app = spawn_app().await;
    for name in ["ada", "bob", "cy"] {
        app.signup(&format!("{name}@example.com"), PASSWORD).await;
    }
    let token = superadmin(&app).await;

    let first = app
        .graphql_with_token(&token, USERS, json!({ "first": 2 }))
        .await;
    assert_no_errors(&first);
    assert_eq!(first["data"]["users"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["data"]["users"]["pageInfo"]["endCursor"].clone();
    let second = app
        .graphql_with_token(&token, USERS, json!({ "first": 2, "after": cursor }))
        .await;

    assert_no_errors(&second);
    assert_eq!(second["data"]["users"]["pageInfo"]["hasNextPage"], false);
    // Newest first: the superadmin, then the signups from the last to the first.
    let mut seen = emails(&first);
    seen.extend(emails(&second));
    assert_eq!(
        seen,
        [
            "root@example.com",
            "cy@example.com",
            "bob@example.com",
            "ada@example.com"
        ]
    );
}
