//! A user's status follows what an administrator decides, at once: deactivation, deletion and
//! role removal end every session; a deactivated account cannot sign in, refresh or get reset
//! mail; a demoted admin loses their power on the next call; the last active superadmin cannot be
//! lost; grants reach tokens at the next refresh; an existing database upgrades in place.

use serde_json::{Value, json};

use crate::helpers::{
    Account, MAIL_TIMEOUT, PASSWORD, SUBJECT_RESET, TestApp, assert_error, assert_no_errors,
    assert_signed_out, decode_claims, default_organization_id, spawn_app,
};

const UPDATE_USER: &str = "mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { roles active } }";

async fn update_user(app: &TestApp, admin: &Account, id: &str, input: Value) -> Value {
    app.graphql_with_token(
        &admin.access_token,
        UPDATE_USER,
        json!({ "id": id, "input": input }),
    )
    .await
}

#[tokio::test]
async fn deactivation_ends_every_session_and_keeps_the_account_out_until_reactivated() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let first = app.signup("ada@example.com", PASSWORD).await;
    let second = app.login("ada@example.com", PASSWORD).await;

    let body = update_user(&app, &root, first.id(), json!({ "active": false })).await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["updateUser"]["active"], false);
    assert_signed_out(&app, &[&first, &second]).await;

    // The right password is told the account is disabled; a wrong one learns nothing.
    assert_error(
        &app.login_raw("ada@example.com", PASSWORD).await,
        "ACCOUNT_DISABLED",
    );
    assert_error(
        &app.login_raw("ada@example.com", "not the password at all")
            .await,
        "INVALID_CREDENTIALS",
    );

    // No reset mail for the deactivated account: the control account's, asked for after it,
    // arrives, and by then the first request has been carried out.
    app.signup("grace@example.com", PASSWORD).await;
    assert_no_errors(&app.forgot_password("ada@example.com").await);
    assert_no_errors(&app.forgot_password("grace@example.com").await);
    app.smtp
        .wait_for_mail("grace@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    assert!(
        app.smtp
            .mail_to("ada@example.com", SUBJECT_RESET)
            .is_empty(),
        "a deactivated account got a reset mail"
    );

    let body = update_user(&app, &root, first.id(), json!({ "active": true })).await;
    assert_no_errors(&body);
    app.login("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn a_demoted_admin_is_signed_out_and_refused_admin_work_from_then_on() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let admin = app
        .admin_of(
            &root.access_token,
            &default_organization_id(),
            "admin@example.com",
        )
        .await;
    let users = app
        .graphql_with_token(&admin.access_token, "{ users { totalCount } }", json!({}))
        .await;
    assert_no_errors(&users);

    let body = update_user(&app, &root, admin.id(), json!({ "roles": [] })).await;
    assert_no_errors(&body);
    // Removing a role ends the sessions at once: the old tokens are refused on the next request.
    let old = app
        .graphql_with_token(&admin.access_token, "{ users { totalCount } }", json!({}))
        .await;
    assert_error(&old, "UNAUTHENTICATED");
    assert_signed_out(&app, &[&admin]).await;
    // Signed in again, they are a user like any other.
    let again = app.login("admin@example.com", PASSWORD).await;
    let refused = app
        .graphql_with_token(&again.access_token, "{ users { totalCount } }", json!({}))
        .await;
    assert_error(&refused, "FORBIDDEN");
}

#[tokio::test]
async fn an_unknown_role_is_refused_and_the_billing_role_does_not_exist_yet() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let user = app.signup("ada@example.com", PASSWORD).await;
    let body = update_user(&app, &root, user.id(), json!({ "roles": ["billing"] })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], "roles", "{body}");
}

#[tokio::test]
async fn a_granted_role_reaches_the_token_at_the_next_refresh_and_me_at_once() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let created = app
        .graphql_with_token(
            &root.access_token,
            "mutation { createRole(input: { code: \"billing\", name: \"Billing\" }) { code } }",
            json!({}),
        )
        .await;
    assert_no_errors(&created);
    let user = app.signup("ada@example.com", PASSWORD).await;
    let before = decode_claims(&user.access_token);
    assert_eq!(before["roles"], json!([]));
    let default_org = app
        .graphql_with_token(
            &user.access_token,
            "{ me { organization { id name } } }",
            json!({}),
        )
        .await;
    assert_eq!(default_org["data"]["me"]["organization"]["name"], "default");
    assert_eq!(
        before["org"],
        default_org["data"]["me"]["organization"]["id"]
    );

    let body = update_user(&app, &root, user.id(), json!({ "roles": ["billing"] })).await;
    assert_no_errors(&body);
    // Granting ends no session; `me` shows the role at once.
    let me = app
        .graphql_with_token(&user.access_token, "{ me { roles } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["roles"], json!(["billing"]), "{me}");
    let refreshed = app.refresh_raw(&user.refresh_token).await;
    assert_no_errors(&refreshed);
    let token = refreshed["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap();
    assert_eq!(decode_claims(token)["roles"], json!(["billing"]));
}

#[tokio::test]
async fn the_last_active_superadmin_cannot_be_demoted_deactivated_or_deleted() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let last_admin_attempts = [
        json!({ "roles": [] }),
        json!({ "roles": ["admin"] }),
        json!({ "active": false }),
    ];
    for input in &last_admin_attempts {
        assert_error(
            &update_user(&app, &root, root.id(), input.clone()).await,
            "LAST_ADMIN",
        );
    }
    let delete = app
        .graphql_with_token(
            &root.access_token,
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": root.id() }),
        )
        .await;
    assert_error(&delete, "LAST_ADMIN");
    assert_error(
        &app.delete_me(&root.access_token, PASSWORD).await,
        "LAST_ADMIN",
    );
    let me = app
        .graphql_with_token(&root.access_token, "{ me { roles active } }", json!({}))
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({"roles": ["superadmin"], "active": true})
    );

    // With a second one, the first may go; then the second is the last.
    let second = app
        .user_signed_in(
            &root.access_token,
            json!({"email": "second@example.com", "roles": ["superadmin"]}),
        )
        .await;
    // A deactivated superadmin does not count as one.
    let body = update_user(&app, &root, second.id(), json!({ "active": false })).await;
    assert_no_errors(&body);
    assert_error(
        &app.delete_me(&root.access_token, PASSWORD).await,
        "LAST_ADMIN",
    );
    assert_no_errors(&update_user(&app, &root, second.id(), json!({ "active": true })).await);
    let second = app.login("second@example.com", PASSWORD).await;
    assert_no_errors(&app.delete_me(&root.access_token, PASSWORD).await);
    assert_error(
        &app.delete_me(&second.access_token, PASSWORD).await,
        "LAST_ADMIN",
    );
}

#[tokio::test]
async fn two_superadmins_demoting_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let second = app
        .user_signed_in(
            &root.access_token,
            json!({"email": "second@example.com", "roles": ["superadmin"]}),
        )
        .await;
    let (a, b) = tokio::join!(
        update_user(&app, &root, second.id(), json!({ "roles": [] })),
        update_user(&app, &second, root.id(), json!({ "roles": [] })),
    );
    // The loser's session may have ended before its request was authorized; either way it lost.
    let answers = [a, b];
    let successes = answers
        .iter()
        .filter(|body| body.get("errors").is_none_or(Value::is_null))
        .count();
    assert_eq!(successes, 1, "{answers:#?}");
    for body in &answers {
        if body.get("errors").is_some_and(|errors| !errors.is_null()) {
            let code = body["errors"][0]["extensions"]["code"].as_str().unwrap();
            assert!(["LAST_ADMIN", "UNAUTHENTICATED"].contains(&code), "{body}");
        }
    }
    let remaining = app
        .count("SELECT COUNT(*) AS n FROM user_roles WHERE role_code = 'superadmin'")
        .await;
    assert_eq!(remaining, 1);
}

#[tokio::test]
async fn deleting_a_user_or_revoking_their_sessions_signs_them_out_everywhere() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let first = app.signup("ada@example.com", PASSWORD).await;
    let second = app.login("ada@example.com", PASSWORD).await;
    let revoked = app
        .graphql_with_token(
            &root.access_token,
            "mutation($id: ID!) { revokeUserSessions(id: $id) }",
            json!({ "id": first.id() }),
        )
        .await;
    assert_eq!(revoked["data"]["revokeUserSessions"], 2, "{revoked}");
    assert_signed_out(&app, &[&first, &second]).await;

    let third = app.login("ada@example.com", PASSWORD).await;
    let last_login = app
        .graphql_with_token(
            &root.access_token,
            "query($id: ID!) { user(id: $id) { lastLoginAt } }",
            json!({ "id": third.id() }),
        )
        .await;
    assert!(
        last_login["data"]["user"]["lastLoginAt"].is_string(),
        "{last_login}"
    );
    let deleted = app
        .graphql_with_token(
            &root.access_token,
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": third.id() }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteUser"], true, "{deleted}");
    assert_signed_out(&app, &[&third]).await;
    assert_eq!(app.user_count("ada@example.com").await, 0);
    assert_error(
        &app.login_raw("ada@example.com", PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
    let again = app
        .graphql_with_token(
            &root.access_token,
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": third.id() }),
        )
        .await;
    assert_error(&again, "NOT_FOUND");
}

#[tokio::test]
async fn with_signup_closed_only_administrators_create_accounts() {
    let app = crate::helpers::spawn_app_with_args(&["--signup", "closed"]).await;
    let body = app.signup_raw("ada@example.com", PASSWORD, None).await;
    assert_error(&body, "FORBIDDEN");
    assert_eq!(app.user_count("ada@example.com").await, 0);
    let root = app.superadmin().await;
    app.user_signed_in(&root.access_token, json!({"email": "ada@example.com"}))
        .await;
}

#[tokio::test]
async fn an_existing_database_upgrades_with_its_users_in_default_active_and_without_roles() {
    use std::sync::Arc;

    use latchkey::auth::password::PasswordHasher;
    use migration::{Migrator, MigratorTrait as _};
    use sea_orm::sea_query::{Alias, Query};
    use sea_orm::{ConnectionTrait as _, Database};

    use crate::helpers::{AppOptions, DataDir, spawn_app_with};

    // The schema and a user as the version before administration left them.
    let data_dir = Arc::new(DataDir::new().await);
    let db = Database::connect(data_dir.database_url()).await.unwrap();
    Migrator::up(&db, Some(5)).await.unwrap();
    let hash = PasswordHasher::new(PasswordHasher::default_params(), 1)
        .unwrap()
        .hash(PASSWORD.to_owned().into())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let insert = Query::insert()
        .into_table(Alias::new("users"))
        .columns(
            [
                "id",
                "email",
                "name",
                "password_hash",
                "email_verified",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            uuid::Uuid::new_v4().into(),
            "old@example.com".into(),
            Option::<String>::None.into(),
            hash.into(),
            true.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    db.execute(&insert).await.unwrap();
    db.close().await.unwrap();

    let app = spawn_app_with(AppOptions {
        data_dir: Some(data_dir),
        ..AppOptions::default()
    })
    .await;
    let old = app.login("old@example.com", PASSWORD).await;
    let me = app
        .graphql_with_token(
            &old.access_token,
            "{ me { roles active emailVerified organization { name } lastLoginAt } }",
            json!({}),
        )
        .await;
    assert_no_errors(&me);
    let me = &me["data"]["me"];
    assert_eq!(me["roles"], json!([]));
    assert_eq!(me["active"], true);
    assert_eq!(me["emailVerified"], true);
    assert_eq!(me["organization"]["name"], "default");
    assert!(me["lastLoginAt"].is_string(), "{me}");
    // And the first superadmin can be made on it.
    let root = app.superadmin().await;
    let users = app
        .graphql_with_token(&root.access_token, "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(users["data"]["users"]["totalCount"], 2, "{users}");
}
