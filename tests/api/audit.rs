//! The audit trail as the operations write it: each records exactly one event of its type (failed
//! logins and lockouts too), naming who acted, whom it concerns and their organization, and the
//! request (client address, user agent, request id); the command line records with no actor and
//! no request. Events are written in the transaction of their change, so one exists exactly when
//! its change does, and they are counted in the metrics once committed.

use latchkey::entities::audit_event;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use serde_json::{Value, json};

use crate::helpers::operations::{
    CREATE_USER, DELETE_ME, DELETE_ROLE, DELETE_USER, LOGIN, LOGOUT, Operation, REFRESH_TOKEN,
    RESET_PASSWORD, REVOKE_OTHER_SESSIONS, REVOKE_SESSION, REVOKE_USER_SESSIONS, SIGNUP, UPDATE_ME,
    UPDATE_USER, VERIFY_EMAIL,
};
use crate::helpers::{
    AppOptions, PASSWORD, SUBJECT_CONFIRM_NEW_EMAIL, SUBJECT_VERIFY, TestApp, assert_error,
    assert_no_errors, bearer, decode_claims, default_organization_id, latchkey_binary, spawn_app,
    spawn_app_with, spawn_app_with_args, tokens_of,
};

/// The user agent every request of these tests sends.
pub const AGENT: &str = "AuditTest/1.0 (+https://example.com)";
const NEW_PASSWORD: &str = "a brand new passphrase 7";

/// Every stored event, oldest first.
pub async fn stored_events(app: &TestApp) -> Vec<audit_event::Model> {
    let db = app.db().await;
    let events = audit_event::Entity::find()
        .order_by_asc(audit_event::Column::At)
        .order_by_asc(audit_event::Column::Id)
        .all(&db)
        .await
        .unwrap();
    db.close().await.ok();
    events
}

/// The events written since the last look.
pub struct Trail<'a> {
    app: &'a TestApp,
    seen: usize,
}

impl<'a> Trail<'a> {
    /// Starts after the events there are now.
    pub async fn start(app: &'a TestApp) -> Trail<'a> {
        let seen = stored_events(app).await.len();
        Trail { app, seen }
    }

    pub async fn new_events(&mut self) -> Vec<audit_event::Model> {
        let events = stored_events(self.app).await;
        let new = events[self.seen..].to_vec();
        self.seen = events.len();
        new
    }

    /// The one event written since the last look; panics on none or several.
    pub async fn one(&mut self) -> audit_event::Model {
        let new = self.new_events().await;
        assert_eq!(new.len(), 1, "one new event, got {:#?}", kinds(&new));
        new.into_iter().next().unwrap()
    }

    /// Waits until `n` events were written since the last look (the mail request worker
    /// writes after the answer), and returns them.
    pub async fn wait_for(&mut self, n: usize) -> Vec<audit_event::Model> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while stored_events(self.app).await.len() < self.seen + n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} new events did not arrive"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.new_events().await
    }
}

pub fn kinds(events: &[audit_event::Model]) -> Vec<&str> {
    events.iter().map(|event| event.kind.as_str()).collect()
}

/// Sends an operation of `docs/operations` as a browser would, with a user agent and the access
/// token given; returns the body and the request id the server gave the request.
pub async fn call(
    app: &TestApp,
    operation: &Operation,
    token: Option<&str>,
    variables: Value,
) -> (Value, String) {
    let authorization = token.map(bearer);
    let mut headers = vec![("User-Agent", AGENT), ("Content-Type", "application/json")];
    if let Some(authorization) = &authorization {
        headers.push(("Authorization", authorization));
    }
    let response = app
        .send(
            reqwest::Method::POST,
            "/graphql",
            &headers,
            Some(operation.request(variables).to_string()),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let request_id = response
        .header("x-request-id")
        .expect("every answer carries its request id")
        .to_owned();
    (response.json(), request_id)
}

/// What an event should name: its type, who acted, whom it concerns and their organization.
pub struct Expected<'a> {
    pub kind: &'a str,
    pub actor: Option<&'a str>,
    pub user: Option<&'a str>,
    pub organization: Option<&'a str>,
}

/// The event is `expected`, written for the request `request_id` from this test's client.
#[track_caller]
pub fn assert_event(event: &audit_event::Model, expected: &Expected<'_>, request_id: &str) {
    let id = |id: Option<uuid::Uuid>| id.map(|id| id.to_string());
    assert_eq!(event.kind, expected.kind, "{event:#?}");
    assert_eq!(
        id(event.actor_id).as_deref(),
        expected.actor,
        "actor of {event:#?}"
    );
    assert_eq!(
        id(event.user_id).as_deref(),
        expected.user,
        "user of {event:#?}"
    );
    assert_eq!(
        id(event.organization_id).as_deref(),
        expected.organization,
        "organization of {event:#?}"
    );
    assert_eq!(event.ip_address.as_deref(), Some("127.0.0.1"), "{event:#?}");
    assert_eq!(event.user_agent.as_deref(), Some(AGENT), "{event:#?}");
    assert_eq!(event.request_id.as_deref(), Some(request_id), "{event:#?}");
}

pub fn details(event: &audit_event::Model) -> Value {
    serde_json::from_str(&event.details).expect("details are JSON")
}

/// `Expected` for `actor` acting on `user` of `organization`.
fn by<'a>(kind: &'a str, actor: &'a str, user: &'a str, organization: &'a str) -> Expected<'a> {
    Expected {
        kind,
        actor: Some(actor),
        user: Some(user),
        organization: Some(organization),
    }
}

/// `Expected` for an account acting on itself.
fn by_self<'a>(kind: &'a str, id: &'a str, organization: &'a str) -> Expected<'a> {
    Expected {
        kind,
        actor: Some(id),
        user: Some(id),
        organization: Some(organization),
    }
}

fn session_id(access_token: &str) -> String {
    decode_claims(access_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

struct Signed {
    access_token: String,
    refresh_token: String,
    id: String,
}

fn signed(body: &Value, operation: &str) -> Signed {
    let (access_token, refresh_token) = tokens_of(body, operation);
    Signed {
        id: body["data"][operation]["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        access_token,
        refresh_token,
    }
}

async fn login(app: &TestApp, email: &str, password: &str) -> (Value, String) {
    let input = json!({ "email": email, "password": password });
    call(app, &LOGIN, None, json!({ "input": input })).await
}

#[tokio::test]
async fn signing_up_in_and_out_records_who_acted_from_where_in_which_request() {
    let app = spawn_app().await;
    let org = default_organization_id();
    let mut trail = Trail::start(&app).await;

    let input = json!({ "email": "ada@example.com", "password": PASSWORD });
    let (body, request) = call(&app, &SIGNUP, None, json!({ "input": input })).await;
    let first = signed(&body, "signup");
    let ada = first.id.as_str();
    assert_event(&trail.one().await, &by_self("signup", ada, &org), &request);

    let (body, request) = login(&app, "ada@example.com", PASSWORD).await;
    let second = signed(&body, "login");
    assert_event(&trail.one().await, &by_self("login", ada, &org), &request);
    let (body, _) = login(&app, "ada@example.com", PASSWORD).await;
    let third = signed(&body, "login");
    // A fourth session, for revokeOtherSessions to end.
    assert_no_errors(&login(&app, "ada@example.com", PASSWORD).await.0);
    trail.new_events().await;

    // A refresh changes nothing worth recording.
    let refreshed = call(
        &app,
        &REFRESH_TOKEN,
        None,
        json!({ "refreshToken": second.refresh_token }),
    )
    .await
    .0;
    let (_, second_refresh) = tokens_of(&refreshed, "refreshToken");
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());

    // The refresh token speaks for its owner: they are the actor of their logout.
    let (body, request) = call(
        &app,
        &LOGOUT,
        None,
        json!({ "refreshToken": second_refresh }),
    )
    .await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_self("logout", ada, &org), &request);
    assert_eq!(
        details(&event)["session_id"],
        session_id(&second.access_token)
    );
    // A session that has ended already ends no more: nothing is recorded.
    call(
        &app,
        &LOGOUT,
        None,
        json!({ "refreshToken": second_refresh }),
    )
    .await;
    call(
        &app,
        &LOGOUT,
        None,
        json!({ "refreshToken": "no-such-token" }),
    )
    .await;
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());

    let third_session = session_id(&third.access_token);
    let (body, request) = call(
        &app,
        &REVOKE_SESSION,
        Some(&first.access_token),
        json!({ "id": third_session }),
    )
    .await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_self("session_revoked", ada, &org), &request);
    assert_eq!(
        details(&event),
        json!({ "session_id": third_session, "current": false })
    );

    let (body, request) = call(
        &app,
        &REVOKE_OTHER_SESSIONS,
        Some(&first.access_token),
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["revokeOtherSessions"], 1, "{body}");
    let event = trail.one().await;
    assert_event(&event, &by_self("sessions_revoked", ada, &org), &request);
    assert_eq!(details(&event), json!({ "count": 1 }));
}

#[tokio::test]
async fn a_failed_login_names_the_account_only_when_there_is_one_and_the_tenth_locks_the_address() {
    let app = spawn_app().await;
    let org = default_organization_id();
    let ada = app.signup("ada@example.com", PASSWORD).await;
    let mut trail = Trail::start(&app).await;

    // An unknown address: no account to name, and the typed address is kept nowhere.
    let (body, request) = login(&app, "nobody@example.com", "a guess at a password").await;
    assert_error(&body, "INVALID_CREDENTIALS");
    let event = trail.one().await;
    let anonymous = Expected {
        kind: "login_failed",
        actor: None,
        user: None,
        organization: None,
    };
    assert_event(&event, &anonymous, &request);
    assert_eq!(details(&event), json!({ "reason": "invalid_credentials" }));
    let row = format!("{event:?}");
    assert!(!row.contains("nobody"), "{row}");
    assert!(!row.contains("a guess"), "{row}");

    // A known one, nine times: each is one event about the account, by nobody.
    let refused = Expected {
        kind: "login_failed",
        actor: None,
        user: Some(ada.id()),
        organization: Some(&org),
    };
    for _ in 0..9 {
        let (body, request) = login(&app, "ada@example.com", "not the password").await;
        assert_error(&body, "INVALID_CREDENTIALS");
        assert_event(&trail.one().await, &refused, &request);
    }
    // The tenth locks this address out of the account: recorded with it, in the same request.
    let (body, request) = login(&app, "ada@example.com", "not the password").await;
    assert_error(&body, "INVALID_CREDENTIALS");
    let events = trail.new_events().await;
    assert_eq!(kinds(&events), ["login_failed", "account_locked"]);
    assert_event(&events[0], &refused, &request);
    let locked = Expected {
        kind: "account_locked",
        ..refused
    };
    assert_event(&events[1], &locked, &request);
    let until = details(&events[1])["locked_until"]
        .as_str()
        .expect("locked_until")
        .to_owned();
    let until = chrono::DateTime::parse_from_rfc3339(&until).unwrap();
    assert!(until > chrono::Utc::now(), "{until}");

    // Refused before any password check: nothing happened to the account, nothing is recorded.
    let (body, _) = login(&app, "ada@example.com", PASSWORD).await;
    assert_error(&body, "RATE_LIMITED");
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());
}

#[tokio::test]
async fn profile_changes_record_what_changed_and_a_wrong_current_password_is_a_failed_check() {
    let app = spawn_app().await;
    let org = default_organization_id();
    let ada = app.signup("ada@example.com", PASSWORD).await;
    let token = ada.access_token.as_str();
    let id = ada.id();
    let mut trail = Trail::start(&app).await;

    let update = |input: Value| {
        let app = &app;
        async move { call(app, &UPDATE_ME, Some(token), json!({ "input": input })).await }
    };

    let (body, request) = update(json!({ "name": "Ada Lovelace" })).await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_self("user_updated", id, &org), &request);
    assert_eq!(details(&event), json!({ "fields": ["name"] }));
    // The same name again changes nothing.
    assert_no_errors(&update(json!({ "name": "Ada Lovelace" })).await.0);
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());

    let (body, request) =
        update(json!({ "newPassword": NEW_PASSWORD, "currentPassword": PASSWORD })).await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_self("password_changed", id, &org), &request);
    assert_eq!(details(&event), json!({}));

    let (body, request) =
        update(json!({ "email": "ada@lovelace.example", "currentPassword": NEW_PASSWORD })).await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_self("email_changed", id, &org), &request);
    assert_eq!(
        details(&event),
        json!({ "old_email": "ada@example.com", "new_email": "ada@lovelace.example" })
    );

    let token_of_link = app
        .verification_token_in("ada@lovelace.example", SUBJECT_VERIFY, 0)
        .await;
    let (body, request) = call(&app, &VERIFY_EMAIL, None, json!({ "token": token_of_link })).await;
    assert_no_errors(&body);
    assert_event(
        &trail.one().await,
        &by_self("email_verified", id, &org),
        &request,
    );

    // A wrong current password is a failed password check by the signed-in caller.
    let (body, request) =
        update(json!({ "newPassword": "another passphrase 99", "currentPassword": "wrong" })).await;
    assert_error(&body, "INVALID_CREDENTIALS");
    let event = trail.one().await;
    assert_event(&event, &by_self("login_failed", id, &org), &request);
    assert_eq!(
        details(&event),
        json!({ "reason": "wrong_current_password" })
    );

    let (body, request) = call(
        &app,
        &DELETE_ME,
        Some(token),
        json!({ "password": NEW_PASSWORD }),
    )
    .await;
    assert_no_errors(&body);
    // The account is gone; its history, naming it by id, stays.
    assert_event(
        &trail.one().await,
        &by_self("account_deleted", id, &org),
        &request,
    );
    assert_eq!(app.user_count("ada@lovelace.example").await, 0);
}

#[tokio::test]
async fn with_verified_email_required_a_new_address_takes_effect_and_is_recorded_when_it_confirms()
{
    let app = spawn_app_with_args(&["--require-verified-email", "true"]).await;
    let org = default_organization_id();
    let mut trail = Trail::start(&app).await;

    // A signup that waits for its address is recorded as it happens.
    let input = json!({ "email": "ada@example.com", "password": PASSWORD });
    let (body, request) = call(&app, &SIGNUP, None, json!({ "input": input })).await;
    assert_error(&body, "EMAIL_NOT_VERIFIED");
    let event = trail.one().await;
    let id = event.user_id.expect("the new account").to_string();
    assert_event(&event, &by_self("signup", &id, &org), &request);
    // A signup with the taken address creates nothing and records nothing.
    call(&app, &SIGNUP, None, json!({ "input": input })).await;
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());

    let link = app
        .verification_token_in("ada@example.com", SUBJECT_VERIFY, 0)
        .await;
    let (body, request) = call(&app, &VERIFY_EMAIL, None, json!({ "token": link })).await;
    assert_no_errors(&body);
    assert_event(
        &trail.one().await,
        &by_self("email_verified", &id, &org),
        &request,
    );

    let (body, _) = login(&app, "ada@example.com", PASSWORD).await;
    let ada = signed(&body, "login");
    trail.new_events().await;
    let input = json!({ "email": "ada@lovelace.example", "currentPassword": PASSWORD });
    let (body, request) = call(
        &app,
        &UPDATE_ME,
        Some(&ada.access_token),
        json!({ "input": input }),
    )
    .await;
    assert_no_errors(&body);
    // Asked for, not yet the account's address.
    let event = trail.one().await;
    assert_event(&event, &by_self("user_updated", &id, &org), &request);
    assert_eq!(details(&event), json!({ "fields": ["pendingEmail"] }));

    let link = app
        .verification_token_in("ada@lovelace.example", SUBJECT_CONFIRM_NEW_EMAIL, 0)
        .await;
    let (body, request) = call(&app, &VERIFY_EMAIL, None, json!({ "token": link })).await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_self("email_changed", &id, &org), &request);
    assert_eq!(
        details(&event),
        json!({ "old_email": "ada@example.com", "new_email": "ada@lovelace.example" })
    );
}

#[tokio::test]
async fn a_reset_request_is_recorded_for_an_account_only_and_the_reset_by_its_owner() {
    let app = spawn_app().await;
    let org = default_organization_id();
    let ada = app.signup("ada@example.com", PASSWORD).await;
    let mut trail = Trail::start(&app).await;

    // The unknown address is asked first; once the known one's event is written, the worker
    // has carried out both.
    let forgot = |email: &'static str| {
        let app = &app;
        async move {
            call(
                app,
                &crate::helpers::operations::FORGOT_PASSWORD,
                None,
                json!({ "email": email }),
            )
            .await
        }
    };
    let (unknown, _) = forgot("nobody@example.com").await;
    let (known, request) = forgot("ada@example.com").await;
    assert_eq!(unknown, known);
    let events = trail.wait_for(1).await;
    assert_eq!(kinds(&events), ["password_reset_requested"], "{events:#?}");
    let nobody = Expected {
        kind: "password_reset_requested",
        actor: None,
        user: Some(ada.id()),
        organization: Some(&org),
    };
    assert_event(&events[0], &nobody, &request);

    let token = app
        .wait_for_nth_mail("ada@example.com", crate::helpers::SUBJECT_RESET, 0)
        .await;
    let token = crate::smtp_sink::reset_token(&token, crate::helpers::RESET_LINK_PREFIX);
    let input = json!({ "token": token, "newPassword": NEW_PASSWORD });
    let (body, request) = call(&app, &RESET_PASSWORD, None, json!({ "input": input })).await;
    assert_no_errors(&body);
    // The token speaks for its owner.
    let event = trail.one().await;
    assert_event(&event, &by_self("password_reset", ada.id(), &org), &request);
    assert_eq!(details(&event), json!({ "purpose": "reset" }));
}

#[tokio::test]
async fn a_reused_refresh_token_is_recorded_with_no_actor() {
    let app = spawn_app_with(AppOptions {
        refresh_reuse_interval: "0s",
        ..AppOptions::default()
    })
    .await;
    let org = default_organization_id();
    let ada = app.signup("ada@example.com", PASSWORD).await;
    call(
        &app,
        &REFRESH_TOKEN,
        None,
        json!({ "refreshToken": ada.refresh_token }),
    )
    .await;
    let mut trail = Trail::start(&app).await;

    let (body, request) = call(
        &app,
        &REFRESH_TOKEN,
        None,
        json!({ "refreshToken": ada.refresh_token }),
    )
    .await;
    assert_error(&body, "INVALID_TOKEN");
    // Whoever replayed it is unknown: the owner or a thief.
    let event = trail.one().await;
    let reuse = Expected {
        kind: "refresh_reuse_detected",
        actor: None,
        user: Some(ada.id()),
        organization: Some(&org),
    };
    assert_event(&event, &reuse, &request);
    assert_eq!(
        details(&event),
        json!({ "session_id": session_id(&ada.access_token) })
    );
}

#[tokio::test]
async fn administration_records_the_admin_as_actor_and_the_account_s_organization() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let beta = app.new_organization(&root.access_token, "Beta").await;
    let admin = app
        .admin_of(&root.access_token, &beta, "admin@beta.example")
        .await;
    assert_no_errors(
        &app.create_role(&root.access_token, "support", "Support")
            .await,
    );
    let token = Some(admin.access_token.as_str());
    let mut trail = Trail::start(&app).await;
    let by_admin = |kind, user| by(kind, admin.id(), user, &beta);
    let input =
        json!({ "email": "grace@beta.example", "password": PASSWORD, "roles": ["support"] });
    let (body, request) = call(&app, &CREATE_USER, token, json!({ "input": input })).await;
    assert_no_errors(&body);
    let grace = body["data"]["createUser"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = trail.one().await;
    assert_event(&event, &by_admin("user_created", &grace), &request);
    assert_eq!(
        details(&event),
        json!({ "invited": false, "roles": ["support"] })
    );

    // An invitation, and its acceptance: the invited account sets its own password.
    let input = json!({ "email": "hopper@beta.example", "roles": ["support"] });
    let (body, request) = call(&app, &CREATE_USER, token, json!({ "input": input })).await;
    assert_no_errors(&body);
    let hopper = body["data"]["createUser"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = trail.one().await;
    assert_event(&event, &by_admin("user_created", &hopper), &request);
    assert_eq!(
        details(&event),
        json!({ "invited": true, "roles": ["support"] })
    );
    let invitation = app.invitation_token_for("hopper@beta.example").await;
    let input = json!({ "token": invitation, "newPassword": NEW_PASSWORD });
    let (body, request) = call(&app, &RESET_PASSWORD, None, json!({ "input": input })).await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(
        &event,
        &Expected {
            kind: "password_reset",
            actor: Some(&hopper),
            user: Some(&hopper),
            organization: Some(&beta),
        },
        &request,
    );
    assert_eq!(details(&event), json!({ "purpose": "invitation" }));

    let update = |input: Value| {
        let app = &app;
        let grace = grace.clone();
        async move {
            call(
                app,
                &UPDATE_USER,
                token,
                json!({ "id": grace, "input": input }),
            )
            .await
        }
    };
    let (body, request) = update(json!({ "name": "Grace", "emailVerified": true })).await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_admin("user_updated", &grace), &request);
    assert_eq!(
        details(&event),
        json!({ "fields": ["name", "emailVerified"] })
    );

    let (body, request) = update(json!({ "roles": ["admin"] })).await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_admin("roles_changed", &grace), &request);
    assert_eq!(
        details(&event),
        json!({ "added": ["admin"], "removed": ["support"] })
    );

    let (body, request) = update(json!({ "active": false })).await;
    assert_no_errors(&body);
    assert_event(
        &trail.one().await,
        &by_admin("user_deactivated", &grace),
        &request,
    );
    // The right password of a deactivated account is a failed login, reason given.
    let (body, request) = login(&app, "grace@beta.example", PASSWORD).await;
    assert_error(&body, "ACCOUNT_DISABLED");
    let event = trail.one().await;
    let disabled = Expected {
        kind: "login_failed",
        actor: None,
        user: Some(&grace),
        organization: Some(&beta),
    };
    assert_event(&event, &disabled, &request);
    assert_eq!(details(&event), json!({ "reason": "account_disabled" }));
    // Setting what is already so changes nothing.
    assert_no_errors(&update(json!({ "active": false })).await.0);
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());

    let (body, request) = update(json!({ "active": true })).await;
    assert_no_errors(&body);
    assert_event(
        &trail.one().await,
        &by_admin("user_activated", &grace),
        &request,
    );

    let (body, request) = update(json!({ "email": "grace@hopper.example" })).await;
    assert_no_errors(&body);
    let event = trail.one().await;
    assert_event(&event, &by_admin("email_changed", &grace), &request);
    assert_eq!(
        details(&event),
        json!({ "old_email": "grace@beta.example", "new_email": "grace@hopper.example" })
    );

    // Several kinds of change in one call: one event of each kind.
    let (body, request) = update(json!({ "name": "Grace H.", "active": false })).await;
    assert_no_errors(&body);
    let events = trail.new_events().await;
    assert_eq!(kinds(&events), ["user_updated", "user_deactivated"]);
    assert_event(&events[0], &by_admin("user_updated", &grace), &request);
    assert_event(&events[1], &by_admin("user_deactivated", &grace), &request);

    let (body, _) = login(&app, "hopper@beta.example", NEW_PASSWORD).await;
    assert_no_errors(&body);
    trail.new_events().await;
    let (body, request) = call(&app, &REVOKE_USER_SESSIONS, token, json!({ "id": hopper })).await;
    assert_eq!(body["data"]["revokeUserSessions"], 1, "{body}");
    let event = trail.one().await;
    assert_event(&event, &by_admin("sessions_revoked", &hopper), &request);
    assert_eq!(details(&event), json!({ "count": 1 }));

    // Deleting a role takes it from everyone who had it: one event per account.
    let (body, request) = call(
        &app,
        &DELETE_ROLE,
        Some(&root.access_token),
        json!({ "code": "support" }),
    )
    .await;
    assert_no_errors(&body);
    let event = trail.one().await;
    let by_root = Expected {
        kind: "roles_changed",
        actor: Some(root.id()),
        user: Some(&hopper),
        organization: Some(&beta),
    };
    assert_event(&event, &by_root, &request);
    assert_eq!(
        details(&event),
        json!({ "added": [], "removed": ["support"] })
    );

    let (body, request) = call(&app, &DELETE_USER, token, json!({ "id": grace })).await;
    assert_no_errors(&body);
    assert_event(
        &trail.one().await,
        &by_admin("user_deleted", &grace),
        &request,
    );

    // A refused change records nothing.
    let (body, _) = call(&app, &DELETE_USER, token, json!({ "id": root.id() })).await;
    assert_error(&body, "NOT_FOUND");
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());
}

/// Runs the `latchkey` binary with `args` on the test server's database, `stdin` piped in.
async fn run_cli(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    use tokio::io::AsyncWriteExt as _;
    let mut command = tokio::process::Command::from(latchkey_binary());
    command.current_dir(app.data_dir.path());
    let mut child = command
        .args(args)
        .args(["--database-url", app.data_dir.database_url()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("latchkey starts");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.as_bytes()).await.unwrap();
    drop(pipe);
    child.wait_with_output().await.unwrap()
}

#[tokio::test]
async fn the_command_line_records_with_no_actor_and_no_request() {
    let app = spawn_app().await;
    let org = default_organization_id();
    let mut trail = Trail::start(&app).await;

    let created = run_cli(
        &app,
        &["admin", "create", "--email", "root@example.com"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let event = trail.one().await;
    assert_eq!(event.kind, "user_created");
    assert_eq!(event.actor_id, None);
    assert_eq!(
        event.organization_id.map(|id| id.to_string()),
        Some(org.clone())
    );
    assert!(event.user_id.is_some());
    assert_eq!(
        (&event.ip_address, &event.user_agent, &event.request_id),
        (&None, &None, &None)
    );
    assert_eq!(
        details(&event),
        json!({ "invited": false, "roles": ["superadmin"] })
    );

    let hasher = latchkey::auth::password::PasswordHasher::new(
        latchkey::auth::password::PasswordHasher::default_params(),
        1,
    )
    .unwrap();
    let hash = hasher
        .hash(secrecy::SecretString::from(PASSWORD.to_owned()))
        .await
        .unwrap();
    let line = |email: &str, organization: Option<&str>| {
        json!({ "email": email, "password_hash": hash, "organization": organization }).to_string()
    };
    let lines = [
        line("a@example.com", None),
        line("b@beta.example", Some("Beta")),
        line("c@beta.example", Some("Beta")),
    ]
    .join("\n");

    // A dry run writes nothing, and so records nothing.
    let dry = run_cli(&app, &["import", "-", "--dry-run"], &lines).await;
    assert!(dry.status.success(), "{dry:?}");
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());

    let imported = run_cli(&app, &["import", "-"], &lines).await;
    assert!(imported.status.success(), "{imported:?}");
    let events = trail.new_events().await;
    assert_eq!(kinds(&events), ["users_imported", "users_imported"]);
    let beta = {
        use sea_orm::{ColumnTrait as _, QueryFilter as _};
        let db = app.db().await;
        let beta = latchkey::entities::organization::Entity::find()
            .filter(latchkey::entities::organization::Column::Name.eq("Beta"))
            .one(&db)
            .await
            .unwrap()
            .expect("the import created Beta");
        db.close().await.ok();
        beta.id.to_string()
    };
    let mut counts: Vec<(String, u64)> = events
        .iter()
        .map(|event| {
            assert_eq!(event.actor_id, None);
            assert_eq!(event.user_id, None);
            assert_eq!(event.request_id, None);
            (
                event.organization_id.unwrap().to_string(),
                details(event)["count"].as_u64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    let mut expected = vec![(org, 1), (beta, 2)];
    expected.sort();
    assert_eq!(counts, expected);
}

/// From now on, the database refuses every insert into `table` for which `when` holds: a
/// failure in the middle of an operation's transaction, as a full disk or a broken constraint
/// would cause. Installed through the test's own connection.
async fn refuse_inserts(app: &TestApp, name: &str, table: &str, when: &str) {
    use sea_orm::ConnectionTrait as _;
    let db = app.db().await;
    let statements = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION refused_by_the_test() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when}) \
                 EXECUTE FUNCTION refused_by_the_test()"
            ),
        ],
        _ => vec![format!(
            "CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {when} \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )],
    };
    for statement in statements {
        db.execute_unprepared(&statement).await.unwrap();
    }
    db.close().await.ok();
}

async fn allow_inserts(app: &TestApp, name: &str, table: &str) {
    use sea_orm::ConnectionTrait as _;
    let db = app.db().await;
    let statement = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => format!("DROP TRIGGER {name} ON {table}"),
        _ => format!("DROP TRIGGER {name}"),
    };
    db.execute_unprepared(&statement).await.unwrap();
    db.close().await.ok();
}

async fn metrics(app: &TestApp) -> String {
    app.send(reqwest::Method::GET, "/metrics", &[], None)
        .await
        .body
}

#[tokio::test]
async fn an_event_commits_with_its_change_or_neither_does_and_only_committed_ones_are_counted() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com", PASSWORD).await;
    app.wait_until_mail_is_out().await;
    let token = Some(ada.access_token.as_str());
    let mut trail = Trail::start(&app).await;
    let sessions = || app.count("SELECT COUNT(*) AS n FROM sessions");
    let before = sessions().await;

    // The event cannot be written: the change it records is not made either.
    refuse_inserts(
        &app,
        "refuse_user_updated",
        "audit_events",
        "NEW.type = 'user_updated'",
    )
    .await;
    let input = json!({ "name": "Ada Lovelace" });
    let (body, _) = call(&app, &UPDATE_ME, token, json!({ "input": input })).await;
    assert_error(&body, "INTERNAL_SERVER_ERROR");
    assert_eq!(
        app.me(&ada.access_token).await["data"]["me"]["name"],
        "Test User"
    );
    allow_inserts(&app, "refuse_user_updated", "audit_events").await;

    refuse_inserts(&app, "refuse_login", "audit_events", "NEW.type = 'login'").await;
    let (body, _) = login(&app, "ada@example.com", PASSWORD).await;
    assert_error(&body, "INTERNAL_SERVER_ERROR");
    assert_eq!(sessions().await, before, "no session was opened");
    allow_inserts(&app, "refuse_login", "audit_events").await;
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());

    // A statement after the event's insert fails (the mail telling the owner of the change):
    // the event goes with the change.
    refuse_inserts(&app, "refuse_mail", "outbox", "1 = 1").await;
    let input = json!({ "newPassword": NEW_PASSWORD, "currentPassword": PASSWORD });
    let (body, _) = call(&app, &UPDATE_ME, token, json!({ "input": input })).await;
    assert_error(&body, "INTERNAL_SERVER_ERROR");
    allow_inserts(&app, "refuse_mail", "outbox").await;
    assert_eq!(kinds(&trail.new_events().await), Vec::<&str>::new());
    assert_no_errors(&app.login_raw("ada@example.com", PASSWORD).await);
    trail.new_events().await;

    // Nothing rolled back was counted; what commits is.
    let text = metrics(&app).await;
    for kind in ["user_updated", "password_changed"] {
        assert!(
            !text.contains(&format!("latchkey_audit_events_total{{type=\"{kind}\"}}")),
            "{text}"
        );
    }
    let input = json!({ "newPassword": NEW_PASSWORD, "currentPassword": PASSWORD });
    assert_no_errors(
        &call(&app, &UPDATE_ME, token, json!({ "input": input }))
            .await
            .0,
    );
    assert_eq!(kinds(&trail.new_events().await), ["password_changed"]);
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"latchkey_audit_events_total{type="password_changed"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"latchkey_audit_events_total{type="login"} 1"#),
        "{text}"
    );
}

/// The tokens anywhere in a GraphQL answer.
fn tokens_in(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                match (key.as_str(), value) {
                    ("accessToken" | "refreshToken", Value::String(token)) => {
                        found.push(token.clone());
                    }
                    _ => tokens_in(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| tokens_in(item, found)),
        _ => {}
    }
}

/// Sends every operation and keeps every secret it saw: passwords typed, tokens answered.
struct Client<'a> {
    app: &'a TestApp,
    sent: std::collections::BTreeSet<&'static str>,
    secrets: Vec<String>,
}

impl Client<'_> {
    async fn send(
        &mut self,
        operation: &'static Operation,
        token: Option<&str>,
        variables: Value,
    ) -> Value {
        self.sent.insert(operation.name);
        let (body, _) = call(self.app, operation, token, variables).await;
        tokens_in(&body, &mut self.secrets);
        body
    }

    fn password(&mut self, password: &str) -> String {
        self.secrets.push(password.to_owned());
        password.to_owned()
    }
}

#[tokio::test]
async fn no_event_holds_a_password_a_token_or_a_hash() {
    use crate::helpers::operations::{
        ALL, AUDIT_EVENTS, CREATE_ORGANIZATION, CREATE_ROLE, FORGOT_PASSWORD, ME,
        MY_SECURITY_EVENTS, MY_SESSIONS, ORGANIZATIONS, RESEND_VERIFICATION_EMAIL, ROLES, USER,
        USERS,
    };
    use crate::helpers::{RESET_LINK_PREFIX, SUBJECT_RESET};

    let app = spawn_app().await;
    let mut client = Client {
        app: &app,
        sent: std::collections::BTreeSet::new(),
        secrets: Vec::new(),
    };
    let first = client.password("first secret passphrase 1");
    let second = client.password("second secret passphrase 2");
    let third = client.password("third secret passphrase 3");
    let wrong = client.password("a wrong secret passphrase");
    let guess = client.password("a guessed secret passphrase");
    let invited = client.password("invited secret passphrase 4");
    let created = client.password("created secret passphrase 5");

    let input =
        |email: &str, password: &str| json!({ "input": { "email": email, "password": password } });
    let body = client
        .send(&SIGNUP, None, input("ada@example.com", &first))
        .await;
    let ada = signed(&body, "signup");
    let body = client
        .send(&LOGIN, None, input("ada@example.com", &first))
        .await;
    let other = signed(&body, "login");
    client
        .send(&LOGIN, None, input("ada@example.com", &wrong))
        .await;
    client
        .send(&LOGIN, None, input("nobody@example.com", &guess))
        .await;
    let ada_token = Some(ada.access_token.as_str());
    client.send(&ME, ada_token, json!({})).await;
    let body = client
        .send(
            &REFRESH_TOKEN,
            None,
            json!({ "refreshToken": other.refresh_token }),
        )
        .await;
    let (_, other_refresh) = tokens_of(&body, "refreshToken");
    client
        .send(&LOGOUT, None, json!({ "refreshToken": other_refresh }))
        .await;
    let body = client
        .send(&LOGIN, None, input("ada@example.com", &first))
        .await;
    let third_session = signed(&body, "login");
    client.send(&MY_SESSIONS, ada_token, json!({})).await;
    let revoke = json!({ "id": session_id(&third_session.access_token) });
    client.send(&REVOKE_SESSION, ada_token, revoke).await;
    client
        .send(&REVOKE_OTHER_SESSIONS, ada_token, json!({}))
        .await;

    let link = app
        .verification_token_in("ada@example.com", SUBJECT_VERIFY, 0)
        .await;
    client.secrets.push(link.clone());
    client
        .send(&VERIFY_EMAIL, None, json!({ "token": link }))
        .await;
    client
        .send(
            &RESEND_VERIFICATION_EMAIL,
            None,
            json!({ "email": "ada@example.com" }),
        )
        .await;
    client
        .send(
            &FORGOT_PASSWORD,
            None,
            json!({ "email": "ada@example.com" }),
        )
        .await;
    let mail = app
        .wait_for_nth_mail("ada@example.com", SUBJECT_RESET, 0)
        .await;
    let reset = crate::smtp_sink::reset_token(&mail, RESET_LINK_PREFIX);
    client.secrets.push(reset.clone());
    let body = client
        .send(
            &RESET_PASSWORD,
            None,
            json!({ "input": { "token": reset, "newPassword": second } }),
        )
        .await;
    assert_no_errors(&body);
    let body = client
        .send(&LOGIN, None, input("ada@example.com", &second))
        .await;
    let ada = signed(&body, "login");
    let ada_token = Some(ada.access_token.as_str());
    let change = json!({ "input": { "email": "ada@lovelace.example", "newPassword": third, "currentPassword": second } });
    assert_no_errors(&client.send(&UPDATE_ME, ada_token, change).await);
    let body = client
        .send(&SIGNUP, None, input("bob@example.com", &first))
        .await;
    let bob = signed(&body, "signup");
    let body = client
        .send(
            &DELETE_ME,
            Some(&bob.access_token),
            json!({ "password": first }),
        )
        .await;
    assert_no_errors(&body);

    let root = app.superadmin().await;
    client.secrets.push(root.access_token.clone());
    client.secrets.push(root.refresh_token.clone());
    let root_token = Some(root.access_token.as_str());
    for operation in [&USERS, &ORGANIZATIONS] {
        client
            .send(operation, root_token, json!({ "first": 10 }))
            .await;
    }
    client
        .send(&USER, root_token, json!({ "id": ada.id }))
        .await;
    client.send(&ROLES, root_token, json!({})).await;
    client
        .send(&CREATE_ORGANIZATION, root_token, json!({ "name": "Beta" }))
        .await;
    client
        .send(
            &CREATE_ROLE,
            root_token,
            json!({ "input": { "code": "support", "name": "Support" } }),
        )
        .await;
    let body = client
        .send(
            &CREATE_USER,
            root_token,
            json!({ "input": { "email": "grace@example.com", "password": created, "roles": ["support"] } }),
        )
        .await;
    let grace = body["data"]["createUser"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_no_errors(
        &client
            .send(
                &CREATE_USER,
                root_token,
                json!({ "input": { "email": "hopper@example.com" } }),
            )
            .await,
    );
    let invitation = app.invitation_token_for("hopper@example.com").await;
    client.secrets.push(invitation.clone());
    let accept = json!({ "input": { "token": invitation, "newPassword": invited } });
    assert_no_errors(&client.send(&RESET_PASSWORD, None, accept).await);
    client
        .send(
            &UPDATE_USER,
            root_token,
            json!({ "id": grace, "input": { "name": "Grace", "roles": [], "active": false } }),
        )
        .await;
    client
        .send(&REVOKE_USER_SESSIONS, root_token, json!({ "id": ada.id }))
        .await;
    client
        .send(&DELETE_ROLE, root_token, json!({ "code": "support" }))
        .await;
    client
        .send(&DELETE_USER, root_token, json!({ "id": grace }))
        .await;
    let listed = client
        .send(&AUDIT_EVENTS, root_token, json!({ "first": 100 }))
        .await;
    assert_no_errors(&listed);
    let body = client
        .send(&LOGIN, None, input("ada@lovelace.example", &third))
        .await;
    let ada = signed(&body, "login");
    let own = client
        .send(
            &MY_SECURITY_EVENTS,
            Some(&ada.access_token),
            json!({ "first": 100 }),
        )
        .await;
    assert_no_errors(&own);

    let every: std::collections::BTreeSet<&str> =
        ALL.iter().map(|operation| operation.name).collect();
    assert_eq!(client.sent, every, "every documented operation was sent");

    let events = stored_events(&app).await;
    let written: std::collections::BTreeSet<&str> = kinds(&events).into_iter().collect();
    assert_eq!(written.len(), 17, "{written:#?}");
    let hashes = app
        .strings("SELECT password_hash AS value FROM users")
        .await;
    // Every column of every event, and the events as the API answers them.
    let texts = events
        .iter()
        .map(|event| format!("{event:?}"))
        .chain([listed.to_string(), own.to_string()]);
    for text in texts {
        for secret in client.secrets.iter().chain(&hashes) {
            assert!(!text.contains(secret.as_str()), "{secret} in {text}");
        }
        for marker in ["$argon2", "$2b$", "$pbkdf2"] {
            assert!(!text.contains(marker), "{marker} in {text}");
        }
    }
}

#[tokio::test]
async fn events_older_than_the_retention_are_removed_by_the_clean_up_job() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait as _, QueryFilter as _};

    let app = spawn_app_with_args(&["--cleanup-interval", "1s", "--audit-retention", "30d"]).await;
    app.signup("ada@example.com", PASSWORD).await;
    app.login("ada@example.com", PASSWORD).await;
    app.login("ada@example.com", PASSWORD).await;
    let events = stored_events(&app).await;
    assert_eq!(kinds(&events), ["signup", "login", "login"]);

    let db = app.db().await;
    for (event, days) in [(&events[0], 31), (&events[1], 29)] {
        audit_event::Entity::update_many()
            .col_expr(
                audit_event::Column::At,
                Expr::value(chrono::Utc::now() - chrono::TimeDelta::days(days)),
            )
            .filter(audit_event::Column::Id.eq(event.id))
            .exec(&db)
            .await
            .unwrap();
    }
    db.close().await.ok();

    app.wait_for_count("SELECT COUNT(*) AS n FROM audit_events", 2)
        .await;
    let kept: Vec<uuid::Uuid> = stored_events(&app)
        .await
        .iter()
        .map(|event| event.id)
        .collect();
    assert_eq!(kept, [events[1].id, events[2].id]);
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"latchkey_cleanup_removed_rows_total{table="audit_events"} 1"#),
        "{text}"
    );
}
