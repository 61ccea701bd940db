//! Reading the audit trail: `auditEvents` shows an admin their own organization's events and a
//! superadmin every one, filtered and paged newest first like `users`; `mySecurityEvents` shows
//! a signed-in account its own, without the address of an administrator who acted on it.

use serde_json::{Value, json};

use crate::audit::stored_events;
use crate::helpers::operations::{AUDIT_EVENTS, MY_SECURITY_EVENTS};
use crate::helpers::{
    Account, PASSWORD, TestApp, assert_error, assert_field_error, assert_no_errors,
    default_organization_id, spawn_app,
};

async fn audit_events(app: &TestApp, account: &Account, variables: Value) -> Value {
    let mut variables = variables;
    if variables.get("first").is_none() {
        variables["first"] = json!(100);
    }
    app.operation_as(&account.access_token, &AUDIT_EVENTS, variables)
        .await
}

/// The nodes of a page; panics on any error.
fn nodes<'a>(body: &'a Value, field: &str) -> Vec<&'a Value> {
    assert_no_errors(body);
    body["data"][field]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"])
        .collect()
}

fn field<'a>(nodes: &[&'a Value], name: &str) -> Vec<&'a str> {
    nodes
        .iter()
        .map(|node| node[name].as_str().unwrap_or("null"))
        .collect()
}

/// A signed-up account in the default organization and a superadmin, an organization `Beta`
/// with an admin and a user of its own, and a failed login of an address with no account.
struct World {
    root: Account,
    ada: Account,
    beta: String,
    beta_admin: Account,
    beta_user: Account,
}

async fn world(app: &TestApp) -> World {
    let ada = app.signup("ada@example.com", PASSWORD).await;
    let root = app.superadmin().await;
    let beta = app.new_organization(&root.access_token, "Beta").await;
    let beta_admin = app
        .admin_of(&root.access_token, &beta, "admin@beta.example")
        .await;
    let beta_user = app
        .user_signed_in(
            &root.access_token,
            json!({ "email": "grace@beta.example", "organizationId": beta }),
        )
        .await;
    app.login_raw("nobody@example.com", "a guess at a password")
        .await;
    World {
        root,
        ada,
        beta,
        beta_admin,
        beta_user,
    }
}

#[tokio::test]
async fn an_admin_sees_their_organization_s_events_and_a_superadmin_every_one() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let stored = stored_events(&app).await;

    let all = audit_events(&app, &world.root, json!({})).await;
    let everything = nodes(&all, "auditEvents");
    assert_eq!(everything.len(), stored.len());
    assert_eq!(all["data"]["auditEvents"]["totalCount"], stored.len());
    // Events of no organization too: the failed login of an unknown address.
    assert!(
        everything
            .iter()
            .any(|node| node["type"] == "login_failed" && node["organizationId"].is_null()),
        "{all}"
    );

    let seen = audit_events(&app, &world.beta_admin, json!({})).await;
    let beta = nodes(&seen, "auditEvents");
    let in_beta = stored
        .iter()
        .filter(|event| event.organization_id.map(|id| id.to_string()) == Some(world.beta.clone()))
        .count();
    assert!(in_beta >= 4, "{beta:#?}");
    assert_eq!(beta.len(), in_beta);
    assert_eq!(seen["data"]["auditEvents"]["totalCount"], in_beta);
    assert!(
        field(&beta, "organizationId")
            .iter()
            .all(|id| *id == world.beta)
    );
    assert!(
        beta.iter()
            .any(|node| node["type"] == "login" && node["userId"] == world.beta_user.id()),
        "{seen}"
    );
    // Naming an account out of reach finds nothing, rather than its events.
    let ada = audit_events(
        &app,
        &world.beta_admin,
        json!({ "filter": { "userId": world.ada.id() } }),
    )
    .await;
    assert!(nodes(&ada, "auditEvents").is_empty(), "{ada}");

    // An admin of the default organization sees its events, none of Beta's.
    let admin = app
        .admin_of(
            &world.root.access_token,
            &default_organization_id(),
            "admin@example.com",
        )
        .await;
    let default = audit_events(&app, &admin, json!({})).await;
    let default = nodes(&default, "auditEvents");
    assert!(!default.is_empty());
    assert!(
        field(&default, "organizationId")
            .iter()
            .all(|id| *id == default_organization_id())
    );

    // Only administrators: a user is FORBIDDEN, nobody UNAUTHENTICATED.
    assert_error(
        &audit_events(&app, &world.ada, json!({})).await,
        "FORBIDDEN",
    );
    let anonymous = app
        .operation(&AUDIT_EVENTS, &[], json!({ "first": 10 }))
        .await;
    assert_error(&anonymous, "UNAUTHENTICATED");
}

#[tokio::test]
async fn filters_by_account_actor_type_and_time_combine() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let root = &world.root;
    let ada = world.ada.id();
    app.login_raw("ada@example.com", "not the password").await;

    let filtered = |filter: Value| {
        let app = &app;
        async move { audit_events(app, root, json!({ "filter": filter })).await }
    };
    let about_ada = filtered(json!({ "userId": ada })).await;
    let about_ada = nodes(&about_ada, "auditEvents");
    assert_eq!(field(&about_ada, "type"), ["login_failed", "signup"]);

    let failed = filtered(json!({ "types": ["login_failed"] })).await;
    let failed = nodes(&failed, "auditEvents");
    assert_eq!(failed.len(), 2);
    let both = filtered(json!({ "types": ["login_failed"], "userId": ada })).await;
    assert_eq!(nodes(&both, "auditEvents").len(), 1);
    let none = filtered(json!({ "types": [] })).await;
    assert!(nodes(&none, "auditEvents").is_empty());

    // What the superadmin did: creating the organization's admin and user.
    let by_root = filtered(json!({ "actorId": root.id(), "types": ["user_created"] })).await;
    let by_root = nodes(&by_root, "auditEvents");
    assert_eq!(
        field(&by_root, "userId"),
        [world.beta_user.id(), world.beta_admin.id()]
    );

    // `since` is inclusive, `until` exclusive.
    let newest = failed[0]["at"].as_str().unwrap();
    let since = filtered(json!({ "since": newest })).await;
    assert_eq!(field(&nodes(&since, "auditEvents"), "at"), [newest]);
    let until = filtered(json!({ "until": newest, "types": ["login_failed"] })).await;
    assert_eq!(nodes(&until, "auditEvents").len(), 1);
}

#[tokio::test]
async fn unknown_types_bad_ids_cursors_and_page_sizes_are_refused_naming_the_argument() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    for (variables, name) in [
        (
            json!({ "filter": { "types": ["login", "Login"] } }),
            "types",
        ),
        (
            json!({ "filter": { "types": ["x".repeat(5000)] } }),
            "types",
        ),
        (json!({ "filter": { "types": vec!["login"; 51] } }), "types"),
        (json!({ "filter": { "userId": "not-an-id" } }), "userId"),
        (
            json!({ "filter": { "actorId": "1'; DROP TABLE users" } }),
            "actorId",
        ),
        (json!({ "after": "not a cursor" }), "after"),
        (json!({ "after": "A".repeat(5000) }), "after"),
        (json!({ "first": 0 }), "first"),
        (json!({ "first": 101 }), "first"),
    ] {
        let body = audit_events(&app, &root, variables.clone()).await;
        assert_field_error(&body, name);
        let text = body.to_string();
        assert!(!text.contains(&"x".repeat(100)), "{text}");
    }
    let body = app
        .operation_as(
            &root.access_token,
            &MY_SECURITY_EVENTS,
            json!({ "first": 10, "after": "not a cursor" }),
        )
        .await;
    assert_field_error(&body, "after");
}

#[tokio::test]
async fn pages_meet_every_event_once_newest_first_and_total_count_counts_them_all() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    for _ in 0..6 {
        app.login_raw("root@example.com", "not the password").await;
    }
    for _ in 0..5 {
        app.login("root@example.com", PASSWORD).await;
    }
    let mut stored: Vec<String> = stored_events(&app)
        .await
        .iter()
        .map(|event| event.id.to_string())
        .collect();
    stored.reverse();
    assert!(stored.len() >= 13, "{stored:?}");

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let body = audit_events(&app, &root, json!({ "first": 4, "after": after })).await;
        let connection = &body["data"]["auditEvents"];
        assert_eq!(connection["totalCount"], stored.len(), "{body}");
        let page = nodes(&body, "auditEvents");
        assert!(page.len() <= 4);
        seen.extend(field(&page, "id").into_iter().map(str::to_owned));
        let edges = connection["edges"].as_array().unwrap();
        if let Some(last) = edges.last() {
            assert_eq!(connection["pageInfo"]["endCursor"], last["cursor"]);
        }
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(seen, stored);
}

#[tokio::test]
async fn my_security_events_are_the_caller_s_own_without_an_administrator_s_address() {
    let app = spawn_app().await;
    let world = world(&app).await;
    app.login_raw("ada@example.com", "not the password").await;
    let grace = &world.beta_user;
    app.login_raw("grace@beta.example", "not the password")
        .await;
    // The superadmin acts on Grace's account: its history shows it, not where they acted from.
    let body = app
        .update_user(
            &world.root.access_token,
            grace.id(),
            json!({ "roles": ["admin"] }),
        )
        .await;
    assert_no_errors(&body);
    let grace = app.login("grace@beta.example", PASSWORD).await;

    let mine = app
        .operation_as(
            &grace.access_token,
            &MY_SECURITY_EVENTS,
            json!({ "first": 20 }),
        )
        .await;
    let own = nodes(&mine, "mySecurityEvents");
    // Newest first; her creation by an administrator is bookkeeping, not shown.
    assert_eq!(
        field(&own, "type"),
        ["login", "roles_changed", "login_failed", "login"]
    );
    for node in &own {
        let is_admin_change = node["type"] == "roles_changed";
        assert_eq!(node["ipAddress"].is_null(), is_admin_change, "{node}");
    }
    assert_eq!(
        own[1]["details"],
        json!({ "added": ["admin"], "removed": [] })
    );
    // Her own failed attempt shows where it came from.
    assert_eq!(own[2]["ipAddress"], "127.0.0.1");

    let ada = app
        .operation_as(
            &world.ada.access_token,
            &MY_SECURITY_EVENTS,
            json!({ "first": 20 }),
        )
        .await;
    assert_eq!(
        field(&nodes(&ada, "mySecurityEvents"), "type"),
        ["login_failed", "signup"]
    );

    let anonymous = app
        .operation(&MY_SECURITY_EVENTS, &[], json!({ "first": 10 }))
        .await;
    assert_error(&anonymous, "UNAUTHENTICATED");
}
