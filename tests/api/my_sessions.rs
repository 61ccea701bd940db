//! A user's own sessions: listed with where and when each was used, ended one at a time or all
//! but the current one, at once; and ended by their absolute lifetime however often refreshed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::operations::{
    LOGIN, MY_SESSIONS as MY_SESSIONS_OPERATION, REVOKE_OTHER_SESSIONS, REVOKE_SESSION,
};
use crate::helpers::{
    Account, PASSWORD, TestApp, assert_error, assert_no_errors, assert_signed_out, spawn_app,
    spawn_app_with_args, tokens_of,
};

const MY_SESSIONS: &str =
    "{ mySessions { id current createdAt lastUsedAt expiresAt ipAddress userAgent } }";

async fn login_with_agent(app: &TestApp, email: &str, agent: &str) -> Account {
    let body = app
        .operation(
            &LOGIN,
            &[("User-Agent", agent)],
            json!({"input": {"email": email, "password": PASSWORD}}),
        )
        .await;
    let (access_token, refresh_token) = tokens_of(&body, "login");
    Account {
        access_token,
        refresh_token,
        user: body["data"]["login"]["user"].clone(),
    }
}

async fn my_sessions(app: &TestApp, account: &Account) -> Vec<Value> {
    let body = app
        .operation_as(&account.access_token, &MY_SESSIONS_OPERATION, json!({}))
        .await;
    assert_no_errors(&body);
    body["data"]["mySessions"].as_array().unwrap().clone()
}

async fn revoke_session(app: &TestApp, account: &Account, id: &str) -> Value {
    app.operation_as(&account.access_token, &REVOKE_SESSION, json!({ "id": id }))
        .await
}

#[tokio::test]
async fn sessions_are_listed_newest_first_with_the_current_one_marked_once() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let laptop = login_with_agent(&app, "ada@example.com", "Laptop Browser/1.0").await;
    let phone = login_with_agent(
        &app,
        "ada@example.com",
        &format!("Phone/{}", "x".repeat(400)),
    )
    .await;

    let sessions = my_sessions(&app, &laptop).await;
    assert_eq!(sessions.len(), 3, "{sessions:#?}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{sessions:#?}");
    assert_eq!(current[0]["userAgent"], "Laptop Browser/1.0");
    // Newest first: the phone's login came last. Its user agent is cut to 256 characters.
    let agent = sessions[0]["userAgent"].as_str().unwrap();
    assert!(agent.starts_with("Phone/"), "{agent}");
    assert_eq!(agent.chars().count(), 256);
    for session in &sessions {
        assert_eq!(session["ipAddress"], "127.0.0.1");
        assert_eq!(
            session["lastUsedAt"], session["createdAt"],
            "not refreshed yet"
        );
        assert!(session["expiresAt"].as_str().unwrap() > session["createdAt"].as_str().unwrap());
    }
    // No refresh token of any session is in the answer.
    let text = serde_json::to_string(&sessions).unwrap();
    for token in [&laptop.refresh_token, &phone.refresh_token] {
        assert!(!text.contains(token.as_str()));
    }

    // A refresh is a use: from where, and when.
    let refreshed = app
        .operation(
            &crate::helpers::operations::REFRESH_TOKEN,
            &[("User-Agent", "Laptop Browser/2.0")],
            json!({"refreshToken": laptop.refresh_token}),
        )
        .await;
    let (access_token, _) = tokens_of(&refreshed, "refreshToken");
    let after = app
        .graphql_with_token(&access_token, MY_SESSIONS, json!({}))
        .await;
    let laptop_session = after["data"]["mySessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(laptop_session["userAgent"], "Laptop Browser/2.0");
    assert!(laptop_session["lastUsedAt"].as_str() > laptop_session["createdAt"].as_str());
}

#[tokio::test]
async fn revoking_a_session_ends_its_tokens_at_once_and_only_its_own() {
    let app = spawn_app().await;
    let laptop = app.signup("ada@example.com", PASSWORD).await;
    let phone = login_with_agent(&app, "ada@example.com", "Phone").await;
    let phone_id = my_sessions(&app, &phone)
        .await
        .into_iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = revoke_session(&app, &laptop, &phone_id).await;
    assert_eq!(body["data"]["revokeSession"], true, "{body}");
    assert_signed_out(&app, &[&phone]).await;
    assert_no_errors(&app.me(&laptop.access_token).await);
    assert_eq!(my_sessions(&app, &laptop).await.len(), 1);
    assert_error(&revoke_session(&app, &laptop, &phone_id).await, "NOT_FOUND");

    // Someone else's session, and ids of nobody, are not found; theirs stays alive.
    let grace = app.signup("grace@example.com", PASSWORD).await;
    let grace_id = my_sessions(&app, &grace).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in [
        grace_id.as_str(),
        "9b2f6a70-0000-4000-8000-000000000000",
        "not-an-id",
        "",
    ] {
        assert_error(&revoke_session(&app, &laptop, id).await, "NOT_FOUND");
    }
    assert_no_errors(&app.me(&grace.access_token).await);
    let anonymous = app
        .graphql(
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({"id": grace_id}),
        )
        .await;
    assert_error(&anonymous, "UNAUTHENTICATED");
    for document in [MY_SESSIONS, "mutation { revokeOtherSessions }"] {
        assert_error(&app.graphql(document, json!({})).await, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn revoke_other_sessions_ends_every_session_but_the_current_one() {
    let app = spawn_app().await;
    let current = app.signup("ada@example.com", PASSWORD).await;
    let second = app.login("ada@example.com", PASSWORD).await;
    let third = app.login("ada@example.com", PASSWORD).await;
    let body = app
        .operation_as(&current.access_token, &REVOKE_OTHER_SESSIONS, json!({}))
        .await;
    assert_eq!(body["data"]["revokeOtherSessions"], 2, "{body}");
    assert_signed_out(&app, &[&second, &third]).await;
    let left = my_sessions(&app, &current).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    assert_no_errors(&app.refresh_raw(&current.refresh_token).await);
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_often_it_is_refreshed() {
    let app = spawn_app_with_args(&["--session-max-age", "3s"]).await;
    let signed_up = app.signup("ada@example.com", PASSWORD).await;
    let started = tokio::time::Instant::now();
    let mut refresh_token = signed_up.refresh_token;
    let mut access_token = signed_up.access_token;
    // Refreshed every half second, the session still ends three seconds after its login.
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let body = app.refresh_raw(&refresh_token).await;
        if body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN" {
            break;
        }
        assert_no_errors(&body);
        (access_token, refresh_token) = tokens_of(&body, "refreshToken");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "refreshed after the maximum age"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "ended early"
    );
    // Its access token stops too, within the session cache's second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_error(&app.me(&access_token).await, "UNAUTHENTICATED");
    // Signing in again starts a new session.
    app.login("ada@example.com", PASSWORD).await;
}
