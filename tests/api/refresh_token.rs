use serde_json::{Value, json};

use crate::helpers::operations::REFRESH_TOKEN;
use crate::helpers::{
    AppOptions, PASSWORD, TestApp, assert_access_revoked, assert_error,
    assert_exactly_one_succeeds, assert_no_errors, assert_refresh_revoked, spawn_app,
    spawn_app_with, tokens_of,
};

/// `refreshToken` with the fields the documented operation leaves out (a client keeps the user it
/// signed in with): the token type and the user the new pair is for.
async fn refresh_with_user(app: &TestApp, refresh_token: &str) -> Value {
    app.graphql(
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken tokenType user { id } } }",
        json!({ "t": refresh_token }),
    )
    .await
}

async fn spawn_strict_app() -> TestApp {
    spawn_app_with(AppOptions {
        refresh_reuse_interval: "0s",
        ..AppOptions::default()
    })
    .await
}

#[tokio::test]
async fn refresh_returns_a_new_pair_for_the_same_user() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let body = refresh_with_user(&app, &account.refresh_token).await;

    let (access, refresh) = tokens_of(&body, "refreshToken");
    assert_ne!(refresh, account.refresh_token);
    assert_eq!(body["data"]["refreshToken"]["tokenType"], "Bearer");
    assert_eq!(body["data"]["refreshToken"]["user"]["id"], account.id());
    assert_no_errors(&app.me(&access).await);
    // The new refresh token rotates in turn.
    tokens_of(&app.refresh_raw(&refresh).await, "refreshToken");
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_session() {
    let app = spawn_strict_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let (access, refresh) = tokens_of(
        &app.refresh_raw(&account.refresh_token).await,
        "refreshToken",
    );
    assert_no_errors(&app.me(&access).await);

    let reuse = app.refresh_raw(&account.refresh_token).await;

    assert_error(&reuse, "INVALID_TOKEN");
    assert_access_revoked(&app, &access).await;
    assert_access_revoked(&app, &account.access_token).await;
    assert_refresh_revoked(&app, &refresh).await;
    // The user can still sign in again.
    let again = app.login("ada@example.com", PASSWORD).await;
    assert_no_errors(&app.me(&again.access_token).await);
}

#[tokio::test]
async fn reuse_revokes_only_the_session_it_happened_in() {
    let app = spawn_strict_app().await;
    let stolen = app.signup("ada@example.com", PASSWORD).await;
    let other = app.login("ada@example.com", PASSWORD).await;
    tokens_of(
        &app.refresh_raw(&stolen.refresh_token).await,
        "refreshToken",
    );

    assert_error(
        &app.refresh_raw(&stolen.refresh_token).await,
        "INVALID_TOKEN",
    );

    assert_no_errors(&app.me(&other.access_token).await);
    tokens_of(&app.refresh_raw(&other.refresh_token).await, "refreshToken");
}

#[tokio::test]
async fn within_the_reuse_interval_the_just_rotated_token_yields_the_same_successor() {
    let app = spawn_app().await; // 10 s reuse interval
    let account = app.signup("ada@example.com", PASSWORD).await;
    let (first_access, first_refresh) = tokens_of(
        &app.refresh_raw(&account.refresh_token).await,
        "refreshToken",
    );

    let body = refresh_with_user(&app, &account.refresh_token).await;

    // A second tab gets the chain's one live refresh token, never a second chain.
    let (second_access, second_refresh) = tokens_of(&body, "refreshToken");
    assert_eq!(second_refresh, first_refresh);
    assert_eq!(body["data"]["refreshToken"]["user"]["id"], account.id());
    assert_no_errors(&app.me(&second_access).await);
    assert_no_errors(&app.me(&first_access).await);
    let (_, third_refresh) = tokens_of(&app.refresh_raw(&second_refresh).await, "refreshToken");
    // Replaying the first token still lands on the chain's head.
    let again = app.refresh_raw(&account.refresh_token).await;
    assert_eq!(tokens_of(&again, "refreshToken").1, third_refresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_with_one_token_all_get_the_one_successor() {
    let app = spawn_app().await; // 10 s reuse interval
    let account = app.signup("ada@example.com", PASSWORD).await;

    let answers = async_graphql::futures_util::future::join_all(
        (0..20).map(|_| app.refresh_raw(&account.refresh_token)),
    )
    .await;

    let mut successors: Vec<String> = answers
        .iter()
        .map(|body| tokens_of(body, "refreshToken").1)
        .collect();
    successors.dedup();
    assert_eq!(successors.len(), 1, "one live chain: {successors:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM refresh_tokens").await,
        2,
        "the signup's token and its one successor"
    );
}

#[tokio::test]
async fn a_token_replayed_after_the_interval_ends_the_chain_it_joined() {
    let app = spawn_app_with(AppOptions {
        refresh_reuse_interval: "1s",
        ..AppOptions::default()
    })
    .await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let (owner_access, owner_refresh) = tokens_of(
        &app.refresh_raw(&account.refresh_token).await,
        "refreshToken",
    );
    // A thief replaying the stolen token at once joins the owner's chain...
    let (_, thief_refresh) = tokens_of(
        &app.refresh_raw(&account.refresh_token).await,
        "refreshToken",
    );
    assert_eq!(thief_refresh, owner_refresh);

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // ...and the next replay after the interval is theft: the whole session ends.
    assert_error(
        &app.refresh_raw(&account.refresh_token).await,
        "INVALID_TOKEN",
    );
    assert_access_revoked(&app, &owner_access).await;
    assert_refresh_revoked(&app, &owner_refresh).await;
}

#[tokio::test]
async fn an_unknown_refresh_token_is_an_invalid_token() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    for token in [
        "",
        "nonsense",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_error(&app.refresh_raw(token).await, "INVALID_TOKEN");
    }
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    assert_error(
        &app.refresh_raw(&account.access_token).await,
        "INVALID_TOKEN",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_ten_concurrent_refreshes_with_one_token_exactly_one_succeeds() {
    let app = spawn_strict_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let answers = app
        .operation_at_once(
            &REFRESH_TOKEN,
            vec![json!({ "refreshToken": account.refresh_token }); 10],
        )
        .await;

    assert_exactly_one_succeeds(&answers, "INVALID_TOKEN");
}
