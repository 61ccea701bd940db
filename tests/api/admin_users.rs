//! Administration as a superadmin uses it: listing users a page at a time under filters,
//! creating them with a password or an invitation, roles and organizations, and hostile input
//! to all of it (every refusal a clear client error, never a server error).

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::operations::{CREATE_ROLE, CREATE_USER, SIGNUP};
use crate::helpers::{
    PASSWORD, SUBJECT_INVITATION, SUPERADMIN_EMAIL, TestApp, assert_error,
    assert_exactly_one_succeeds, assert_field_error, assert_no_errors, assert_signed_out,
    default_organization_id, error_code, spawn_app, spawn_app_with_args,
};

const NEW_PASSWORD: &str = "a brand new passphrase 7";

/// A UUID no account, organization or role has.
const NOBODY: &str = "9b2f0c1e-5d4a-4c3b-8e7f-6a5b4c3d2e1f";

/// `n` accounts `prefix-<i>@example.com` with the password `PASSWORD`, seeded through `createUser`.
async fn seed(app: &TestApp, token: &str, prefix: &str, n: usize) -> Vec<Value> {
    let inputs = (0..n)
        .map(|i| json!({ "email": format!("{prefix}-{i}@example.com"), "password": PASSWORD }))
        .collect();
    app.create_users(token, inputs).await
}

/// The emails on one page of `users`, in order.
fn emails(body: &Value) -> Vec<String> {
    assert_no_errors(body);
    body["data"]["users"]["nodes"]
        .as_array()
        .expect("users.nodes")
        .iter()
        .map(|user| user["email"].as_str().expect("email").to_owned())
        .collect()
}

fn sorted(mut emails: Vec<String>) -> Vec<String> {
    emails.sort();
    emails
}

/// The emails of every user matching `filter`, from a single page of up to 100.
async fn matching(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let body = app
        .users(token, json!({ "filter": filter, "first": 100 }))
        .await;
    sorted(emails(&body))
}

/// Never a server error: any error carries a client-error code.
#[track_caller]
fn assert_client_error(body: &Value) {
    let code = error_code(body);
    assert!(
        !matches!(code, "INTERNAL_SERVER_ERROR" | "INTERNAL_ERROR"),
        "{body}"
    );
}

// ----- paging -----

#[tokio::test]
async fn paging_seven_at_a_time_meets_every_user_once_while_others_sign_up() {
    // Signups come from addresses of their own, behind a trusted proxy, so that the per-address
    // signup limit does not refuse them.
    let app = spawn_app_with_args(&["--trusted-proxies", "127.0.0.1/32"]).await;
    let root = app.superadmin().await;
    let seeded = seed(&app, &root.access_token, "paged", 120).await;

    let mut signups = JoinSet::new();
    for i in 0..30 {
        let request = app
            .client
            .post(app.url("/graphql"))
            .header("X-Forwarded-For", format!("198.51.100.{}", i + 1))
            .json(&SIGNUP.request(json!({
                "input": { "email": format!("newcomer-{i}@example.com"), "password": PASSWORD }
            })));
        signups.spawn(async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            assert_no_errors(&body);
        });
    }

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = app
            .users(
                &root.access_token,
                json!({ "first": 7, "after": after, "filter": { "email": "paged-" } }),
            )
            .await;
        let page = emails(&body);
        assert!(page.len() <= 7, "{body}");
        seen.extend(page);
        pages += 1;
        let info = &body["data"]["users"]["pageInfo"];
        if info["hasNextPage"] == false {
            break;
        }
        after = Some(info["endCursor"].as_str().expect("endCursor").to_owned());
        assert!(pages < 40, "paging does not end");
    }
    // Unfiltered, newcomers could only show up on pages already read: walk everything as well.
    let mut everyone = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let body = app
            .users(&root.access_token, json!({ "first": 7, "after": after }))
            .await;
        everyone.extend(emails(&body));
        let info = &body["data"]["users"]["pageInfo"];
        if info["hasNextPage"] == false {
            break;
        }
        after = Some(info["endCursor"].as_str().expect("endCursor").to_owned());
    }
    signups.join_all().await;

    let expected: Vec<String> = sorted(
        seeded
            .iter()
            .map(|user| user["email"].as_str().unwrap().to_owned())
            .collect(),
    );
    assert_eq!(sorted(seen), expected, "each seeded user exactly once");
    assert_eq!(pages, 18, "120 users are 18 pages of 7");
    let unique: HashSet<&String> = everyone.iter().collect();
    assert_eq!(unique.len(), everyone.len(), "no user twice: {everyone:?}");
    for email in expected.iter().chain([&SUPERADMIN_EMAIL.to_owned()]) {
        assert!(everyone.contains(email), "{email} missing");
    }
}

#[tokio::test]
async fn malformed_cursors_and_page_sizes_are_refused_naming_the_argument() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let another_shape = URL_SAFE_NO_PAD.encode(json!({ "offset": 7, "id": NOBODY }).to_string());
    let padded = STANDARD.encode(format!("1764608958123456789.{}", NOBODY.replace('-', "")));
    let cursors = [
        "garbage".to_owned(),
        "!!!!".to_owned(),
        String::new(),
        URL_SAFE_NO_PAD.encode("garbage"),
        URL_SAFE_NO_PAD.encode("12.not-a-uuid"),
        URL_SAFE_NO_PAD.encode(format!("later.{NOBODY}")),
        another_shape,
        padded,
        "A".repeat(5000),
    ];
    for cursor in &cursors {
        let users = app
            .users(&root.access_token, json!({ "first": 7, "after": cursor }))
            .await;
        assert_field_error(&users, "after");
        let organizations = app
            .organizations(&root.access_token, json!({ "first": 7, "after": cursor }))
            .await;
        assert_field_error(&organizations, "after");
    }
    for first in [0, 101, -1, i32::MIN, i32::MAX] {
        let users = app
            .users(&root.access_token, json!({ "first": first }))
            .await;
        assert_field_error(&users, "first");
        let organizations = app
            .organizations(&root.access_token, json!({ "first": first }))
            .await;
        assert_field_error(&organizations, "first");
    }
    // Forged cursors of the right shape point anywhere in time: pages, never errors.
    let simple = NOBODY.replace('-', "");
    for nanos in [i64::MIN, -1, 0, i64::MAX] {
        let forged = URL_SAFE_NO_PAD.encode(format!("{nanos}.{simple}"));
        let users = app
            .users(&root.access_token, json!({ "first": 7, "after": forged }))
            .await;
        assert_no_errors(&users);
        let organizations = app
            .organizations(&root.access_token, json!({ "first": 7, "after": forged }))
            .await;
        assert_no_errors(&organizations);
    }
    // The bounds themselves are fine.
    for first in [1, 100] {
        assert_no_errors(
            &app.users(&root.access_token, json!({ "first": first }))
                .await,
        );
    }
}

// ----- filters -----

#[tokio::test]
async fn email_and_name_filters_match_substrings_case_insensitively_and_wildcards_literally() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let people = [
        ("ada.lovelace@example.com", "Ada LOVELACE"),
        ("grace@navy.example", "Grace Hopper"),
        ("sure@example.com", "100% Sure"),
        ("percent@example.com", "100 Percent"),
        ("under_score@example.com", "Under_Score"),
        ("underxscore@example.com", "UnderXScore"),
    ];
    app.create_users(
        &root.access_token,
        people
            .iter()
            .map(|(email, name)| json!({ "email": email, "name": name }))
            .collect(),
    )
    .await;
    let token = &root.access_token;

    assert_eq!(
        matching(&app, token, json!({ "email": "ADA.Love" })).await,
        ["ada.lovelace@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "email": "NAVY" })).await,
        ["grace@navy.example"]
    );
    assert_eq!(
        matching(&app, token, json!({ "name": "lovelace" })).await,
        ["ada.lovelace@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "name": "gRACE hOPPER" })).await,
        ["grace@navy.example"]
    );
    // `%` and `_` are characters to find, not wildcards.
    assert_eq!(
        matching(&app, token, json!({ "name": "100%" })).await,
        ["sure@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "name": "under_" })).await,
        ["under_score@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "email": "under_" })).await,
        ["under_score@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "email": "%" })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        matching(&app, token, json!({ "email": "\\" })).await,
        Vec::<String>::new()
    );
    // Every condition must hold.
    assert_eq!(
        matching(
            &app,
            token,
            json!({ "email": "example.com", "name": "score" })
        )
        .await,
        ["under_score@example.com", "underxscore@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "email": "navy", "name": "ada" })).await,
        Vec::<String>::new()
    );
    // An empty substring is in every address.
    assert_eq!(
        matching(&app, token, json!({ "email": "" })).await.len(),
        people.len() + 1
    );
}

#[tokio::test]
async fn the_name_filter_folds_case_beyond_ascii() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    app.create_users(
        token,
        vec![
            json!({ "email": "elodie@example.com", "name": "ÉLODIE Åström" }),
            json!({ "email": "dmitri@example.com", "name": "ДМИТРИЙ" }),
        ],
    )
    .await;

    for needle in ["élodie", "ÅSTRÖM", "åström"] {
        assert_eq!(
            matching(&app, token, json!({ "name": needle })).await,
            ["elodie@example.com"],
            "{needle}"
        );
    }
    assert_eq!(
        matching(&app, token, json!({ "name": "дмитрий" })).await,
        ["dmitri@example.com"]
    );
}

#[tokio::test]
async fn role_and_active_filters_combine_with_the_others() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    assert_no_errors(&app.create_role(token, "support", "Support desk").await);
    app.create_users(
        token,
        vec![
            json!({ "email": "desk-1@example.com", "roles": ["support"] }),
            json!({ "email": "desk-2@example.com", "roles": ["support"], "active": false }),
            json!({ "email": "boss@example.com", "roles": ["admin", "support"] }),
            json!({ "email": "plain@example.com" }),
            json!({ "email": "gone@example.com", "active": false }),
        ],
    )
    .await;

    assert_eq!(
        matching(&app, token, json!({ "role": "support" })).await,
        [
            "boss@example.com",
            "desk-1@example.com",
            "desk-2@example.com"
        ]
    );
    assert_eq!(
        matching(&app, token, json!({ "role": "support", "active": true })).await,
        ["boss@example.com", "desk-1@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "active": false })).await,
        ["desk-2@example.com", "gone@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "role": "admin" })).await,
        ["boss@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "role": "superadmin" })).await,
        [SUPERADMIN_EMAIL]
    );
    assert_eq!(
        matching(
            &app,
            token,
            json!({ "role": "support", "active": false, "email": "desk" })
        )
        .await,
        ["desk-2@example.com"]
    );
    assert_eq!(
        matching(&app, token, json!({ "active": true })).await,
        [
            "boss@example.com",
            "desk-1@example.com",
            "plain@example.com",
            SUPERADMIN_EMAIL
        ]
    );
    // A role nobody has, or no role defined by that code: nobody.
    assert_eq!(
        matching(&app, token, json!({ "role": "auditor" })).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn total_count_follows_the_filter_and_counts_every_page() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    seed(&app, token, "batch", 23).await;
    seed(&app, token, "other", 4).await;

    let all = app.users(token, json!({ "first": 5 })).await;
    assert_no_errors(&all);
    assert_eq!(all["data"]["users"]["totalCount"], 28, "{all}");
    assert_eq!(all["data"]["users"]["nodes"].as_array().unwrap().len(), 5);

    let first = app
        .users(
            token,
            json!({ "first": 10, "filter": { "email": "batch-" } }),
        )
        .await;
    assert_no_errors(&first);
    assert_eq!(first["data"]["users"]["totalCount"], 23);
    let after = first["data"]["users"]["pageInfo"]["endCursor"].clone();
    let last = app
        .users(
            token,
            json!({ "first": 20, "after": after, "filter": { "email": "batch-" } }),
        )
        .await;
    assert_no_errors(&last);
    assert_eq!(
        last["data"]["users"]["totalCount"], 23,
        "the same on every page"
    );
    assert_eq!(last["data"]["users"]["nodes"].as_array().unwrap().len(), 13);
    assert_eq!(last["data"]["users"]["pageInfo"]["hasNextPage"], false);

    let none = app
        .users(
            token,
            json!({ "first": 10, "filter": { "email": "nobody" } }),
        )
        .await;
    assert_no_errors(&none);
    assert_eq!(none["data"]["users"]["totalCount"], 0);
    assert_eq!(none["data"]["users"]["pageInfo"]["endCursor"], Value::Null);
    assert_eq!(none["data"]["users"]["pageInfo"]["hasNextPage"], false);
}

// ----- createUser -----

#[tokio::test]
async fn a_user_created_with_a_password_signs_in_with_it_and_is_as_given() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    let organization = app.new_organization(token, "Analytical Engines").await;

    let body = app
        .create_user(
            token,
            json!({
                "email": "  Ada@Example.COM ",
                "name": "Ada",
                "password": PASSWORD,
                "roles": ["admin", "admin"],
                "active": true,
                "emailVerified": true,
                "organizationId": organization,
            }),
        )
        .await;
    assert_no_errors(&body);
    let created = &body["data"]["createUser"];
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["name"], "Ada");
    assert_eq!(created["roles"], json!(["admin"]));
    assert_eq!(created["active"], true);
    assert_eq!(created["emailVerified"], true);
    assert_eq!(created["organization"]["id"], organization.as_str());
    assert_eq!(created["organization"]["name"], "Analytical Engines");

    let ada = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(ada.id(), created["id"].as_str().unwrap());
    let found = app.user(token, ada.id()).await;
    assert_no_errors(&found);
    assert_eq!(found["data"]["user"]["roles"], json!(["admin"]));
    assert_eq!(found["data"]["user"]["emailVerified"], true);
    assert!(found["data"]["user"]["lastLoginAt"].is_string(), "{found}");

    // The defaults: no roles, active, unverified, the caller's organization.
    let plain = app
        .create_user(
            token,
            json!({ "email": "plain@example.com", "password": PASSWORD }),
        )
        .await;
    assert_no_errors(&plain);
    let plain = &plain["data"]["createUser"];
    assert_eq!(plain["roles"], json!([]));
    assert_eq!(plain["active"], true);
    assert_eq!(plain["emailVerified"], false);
    assert_eq!(plain["name"], Value::Null);
    assert_eq!(
        plain["organization"]["id"],
        default_organization_id().as_str()
    );
    // Created inactive, it stays inactive.
    let inactive = app
        .create_user(
            token,
            json!({ "email": "idle@example.com", "password": PASSWORD, "active": false }),
        )
        .await;
    assert_no_errors(&inactive);
    assert_eq!(inactive["data"]["createUser"]["active"], false);

    // A plain admin's accounts land in the admin's own organization.
    let admin = app
        .admin_of(token, &organization, "admin@engines.example")
        .await;
    let made = app
        .create_user(
            &admin.access_token,
            json!({ "email": "clerk@engines.example", "password": PASSWORD }),
        )
        .await;
    assert_no_errors(&made);
    assert_eq!(
        made["data"]["createUser"]["organization"]["id"],
        organization.as_str()
    );
}

#[tokio::test]
async fn create_user_refuses_a_taken_email_an_unknown_role_and_a_weak_password() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    app.signup("ada@example.com", PASSWORD).await;

    for email in ["ada@example.com", "ADA@example.com", SUPERADMIN_EMAIL] {
        let body = app
            .create_user(token, json!({ "email": email, "password": PASSWORD }))
            .await;
        assert_error(&body, "EMAIL_TAKEN");
    }
    let unknown_role = app
        .create_user(
            token,
            json!({ "email": "new@example.com", "roles": ["admin", "auditor"] }),
        )
        .await;
    assert_field_error(&unknown_role, "roles");
    for weak in ["short", "", &"x".repeat(129)] {
        let body = app
            .create_user(
                token,
                json!({ "email": "new@example.com", "password": weak }),
            )
            .await;
        assert_field_error(&body, "password");
    }
    for email in [
        "not an email",
        "",
        &format!("{}@example.com", "a".repeat(250)),
    ] {
        let body = app
            .create_user(token, json!({ "email": email, "password": PASSWORD }))
            .await;
        assert_field_error(&body, "email");
    }
    let unknown_organization = app
        .create_user(
            token,
            json!({ "email": "new@example.com", "organizationId": NOBODY }),
        )
        .await;
    assert_error(&unknown_organization, "NOT_FOUND");

    // Nothing of the refused ones was made, and no invitation went out.
    assert_eq!(app.user_count("new@example.com").await, 0);
    assert!(
        app.smtp
            .mail_to("new@example.com", SUBJECT_INVITATION)
            .is_empty()
    );
}

#[tokio::test]
async fn concurrent_creates_of_one_email_or_one_role_code_make_exactly_one() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;

    let mut users = JoinSet::new();
    let mut roles = JoinSet::new();
    for i in 0..8 {
        let authorization = crate::helpers::bearer(token);
        let user = app
            .client
            .post(app.url("/graphql"))
            .header("Authorization", &authorization)
            .json(&CREATE_USER.request(json!({
                "input": { "email": if i % 2 == 0 { "twin@example.com" } else { "TWIN@example.com" } }
            })));
        users.spawn(async move { user.send().await.unwrap().json::<Value>().await.unwrap() });
        let role = app
            .client
            .post(app.url("/graphql"))
            .header("Authorization", &authorization)
            .json(&CREATE_ROLE.request(json!({
                "input": { "code": "twin", "name": format!("Twin {i}") }
            })));
        roles.spawn(async move { role.send().await.unwrap().json::<Value>().await.unwrap() });
    }
    let users = users.join_all().await;
    assert_exactly_one_succeeds(&users, "EMAIL_TAKEN");
    let roles = roles.join_all().await;
    let (made, refused): (Vec<_>, Vec<_>) = roles
        .iter()
        .partition(|body| body.get("errors").is_none_or(Value::is_null));
    assert_eq!(made.len(), 1, "{roles:#?}");
    for body in refused {
        assert_field_error(body, "code");
    }
    assert_eq!(app.user_count("twin@example.com").await, 1);
    let invited = app
        .wait_for_nth_mail("twin@example.com", SUBJECT_INVITATION, 0)
        .await;
    assert!(invited.is_for("twin@example.com"));
    assert_eq!(
        app.smtp
            .mail_to("twin@example.com", SUBJECT_INVITATION)
            .len(),
        1
    );
}

// ----- invitations -----

#[tokio::test]
async fn an_invited_user_chooses_a_password_through_the_link_once_and_then_signs_in() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let body = app
        .create_user(
            &root.access_token,
            json!({ "email": "grace@example.com", "name": "Grace" }),
        )
        .await;
    assert_no_errors(&body);
    let id = body["data"]["createUser"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(body["data"]["createUser"]["emailVerified"], false);

    let token = app.invitation_token_for("grace@example.com").await;
    // No password works before one is chosen, the account's placeholder included.
    for guess in [PASSWORD, NEW_PASSWORD, "!", ""] {
        assert_error(
            &app.login_raw("grace@example.com", guess).await,
            "INVALID_CREDENTIALS",
        );
    }

    let set = app.reset_password(&token, NEW_PASSWORD).await;
    assert_no_errors(&set);
    assert_eq!(set["data"]["resetPassword"], true);
    let grace = app.login("grace@example.com", NEW_PASSWORD).await;
    assert_eq!(grace.id(), id);
    let me = app.me(&grace.access_token).await;
    assert_eq!(me["data"]["me"]["emailVerified"], true, "{me}");

    assert_error(
        &app.reset_password(&token, "yet another passphrase 9").await,
        "INVALID_TOKEN",
    );
    app.login("grace@example.com", NEW_PASSWORD).await;
    assert_eq!(
        app.smtp
            .mail_to("grace@example.com", SUBJECT_INVITATION)
            .len(),
        1
    );
}

// ----- roles -----

#[tokio::test]
async fn roles_lists_the_built_in_roles_and_the_created_ones_by_code() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;

    let created = app.create_role(token, "support", "Support desk").await;
    assert_no_errors(&created);
    assert_eq!(
        created["data"]["createRole"],
        json!({ "code": "support", "name": "Support desk", "builtIn": false })
    );
    assert_no_errors(&app.create_role(token, "a", "Shortest code").await);
    let longest = format!("z{}", "9_-".repeat(10) + "x");
    assert_no_errors(&app.create_role(token, &longest, "Longest code").await);

    let roles = app.roles(token).await;
    assert_no_errors(&roles);
    let listed: Vec<(String, bool)> = roles["data"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|role| {
            (
                role["code"].as_str().unwrap().to_owned(),
                role["builtIn"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("a".to_owned(), false),
            ("admin".to_owned(), true),
            ("superadmin".to_owned(), true),
            ("support".to_owned(), false),
            (longest, false),
        ]
    );
}

#[tokio::test]
async fn create_role_refuses_codes_outside_the_pattern_and_taken_codes() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    assert_no_errors(&app.create_role(token, "support", "Support desk").await);

    let too_long = format!("a{}", "b".repeat(32));
    for code in [
        "",
        "Support",
        "1st",
        "_x",
        "-x",
        "with space",
        "a.b",
        "a/b",
        "é",
        "support\n",
        " support",
        "admin'--",
        &too_long,
        "support",
        "admin",
        "superadmin",
    ] {
        let body = app.create_role(token, code, "Some role").await;
        assert_field_error(&body, "code");
    }
    for name in ["", &"n".repeat(101)] {
        assert_field_error(&app.create_role(token, "fresh", name).await, "name");
    }
    let roles = app.roles(token).await;
    assert_eq!(
        roles["data"]["roles"].as_array().unwrap().len(),
        3,
        "{roles}"
    );
}

#[tokio::test]
async fn delete_role_refuses_built_in_and_unknown_roles() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;

    for built_in in ["admin", "superadmin"] {
        assert_field_error(&app.delete_role(token, built_in).await, "code");
    }
    assert_error(&app.delete_role(token, "auditor").await, "NOT_FOUND");
    for malformed in ["", "Auditor", "x'; DROP TABLE roles; --", &"a".repeat(5000)] {
        assert_field_error(&app.delete_role(token, malformed).await, "code");
    }
    assert_no_errors(&app.create_role(token, "auditor", "Auditor").await);
    let deleted = app.delete_role(token, "auditor").await;
    assert_no_errors(&deleted);
    assert_eq!(deleted["data"]["deleteRole"], true);
    assert_error(&app.delete_role(token, "auditor").await, "NOT_FOUND");
}

#[tokio::test]
async fn a_deleted_role_leaves_the_users_who_had_it_and_ends_their_sessions() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    assert_no_errors(&app.create_role(token, "support", "Support desk").await);
    assert_no_errors(&app.create_role(token, "billing", "Billing").await);
    let holder = app
        .user_signed_in(
            token,
            json!({ "email": "desk@example.com", "roles": ["billing", "support"] }),
        )
        .await;
    let bystander = app
        .user_signed_in(
            token,
            json!({ "email": "other@example.com", "roles": ["billing"] }),
        )
        .await;

    assert_no_errors(&app.delete_role(token, "support").await);

    let found = app.user(token, holder.id()).await;
    assert_eq!(
        found["data"]["user"]["roles"],
        json!(["billing"]),
        "{found}"
    );
    assert_signed_out(&app, &[&holder]).await;
    assert_no_errors(&app.me(&bystander.access_token).await);
    assert_no_errors(&app.me(&root.access_token).await);
    assert_eq!(
        matching(&app, token, json!({ "role": "support" })).await,
        Vec::<String>::new()
    );
    let roles = app.roles(token).await;
    assert!(
        !roles["data"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|role| role["code"] == "support"),
        "{roles}"
    );
    // The holder signs in again, without the role.
    let again = app.login("desk@example.com", PASSWORD).await;
    assert_no_errors(&app.me(&again.access_token).await);
    // Granting the deleted code now fails as any unknown role does.
    let regrant = app
        .update_user(token, holder.id(), json!({ "roles": ["support"] }))
        .await;
    assert_field_error(&regrant, "roles");
}

// ----- organizations -----

#[tokio::test]
async fn create_organization_refuses_a_taken_name() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;

    let created = app.create_organization(token, "Analytical Engines").await;
    assert_no_errors(&created);
    assert_eq!(
        created["data"]["createOrganization"]["name"],
        "Analytical Engines"
    );
    for taken in ["Analytical Engines", "default"] {
        assert_field_error(&app.create_organization(token, taken).await, "name");
    }
    for malformed in ["", &"o".repeat(101)] {
        assert_field_error(&app.create_organization(token, malformed).await, "name");
    }
}

#[tokio::test]
async fn organizations_page_newest_first_down_to_the_default_one() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    for i in 0..12 {
        app.new_organization(token, &format!("Organization {i:02}"))
            .await;
    }

    let mut names = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = app
            .organizations(token, json!({ "first": 5, "after": after }))
            .await;
        assert_no_errors(&body);
        let connection = &body["data"]["organizations"];
        assert_eq!(connection["totalCount"], 13);
        names.extend(
            connection["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|organization| organization["name"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(
            connection["pageInfo"]["endCursor"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = (0..12)
        .rev()
        .map(|i| format!("Organization {i:02}"))
        .collect();
    expected.push("default".to_owned());
    assert_eq!(names, expected);
}

// ----- hostile input -----

#[tokio::test]
async fn role_codes_outside_the_pattern_are_refused_wherever_they_are_given() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    let user = app
        .create_user(token, json!({ "email": "ada@example.com" }))
        .await;
    let id = user["data"]["createUser"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for code in ["Admin", "", "admin ", "x' OR '1'='1", &"r".repeat(33), "😀"] {
        let created = app
            .create_user(
                token,
                json!({ "email": "new@example.com", "roles": [code] }),
            )
            .await;
        assert_field_error(&created, "roles");
        let updated = app
            .update_user(token, &id, json!({ "roles": [code] }))
            .await;
        assert_field_error(&updated, "roles");
        let listed = app
            .users(token, json!({ "first": 5, "filter": { "role": code } }))
            .await;
        assert_field_error(&listed, "role");
    }
    assert_eq!(app.user_count("new@example.com").await, 0);
}

#[tokio::test]
async fn ten_thousand_roles_in_one_call_are_a_clear_refusal() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    let created = app
        .create_user(token, json!({ "email": "ada@example.com" }))
        .await;
    let id = created["data"]["createUser"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Short codes fit under the body limit, so the resolver refuses them.
    let many_short = vec!["a"; 10_000];
    let body = app
        .create_user(
            token,
            json!({ "email": "new@example.com", "roles": many_short }),
        )
        .await;
    assert_field_error(&body, "roles");
    assert_field_error(
        &app.update_user(token, &id, json!({ "roles": many_short }))
            .await,
        "roles",
    );
    // 51 distinct, well-formed but unknown codes: refused for their number before any lookup.
    let many_distinct: Vec<String> = (0..51).map(|i| format!("role-{i}")).collect();
    assert_field_error(
        &app.create_user(
            token,
            json!({ "email": "new@example.com", "roles": many_distinct }),
        )
        .await,
        "roles",
    );

    // Long distinct codes make a body over the limit: refused before GraphQL runs.
    let many_long: Vec<String> = (0..10_000).map(|i| format!("role-{i:05}")).collect();
    let request = CREATE_USER.request(json!({
        "input": { "email": "new@example.com", "roles": many_long }
    }));
    let authorization = crate::helpers::bearer(token);
    let response = app
        .send(
            reqwest::Method::POST,
            "/graphql",
            &[
                ("Authorization", &authorization),
                ("Content-Type", "application/json"),
            ],
            Some(request.to_string()),
        )
        .await;
    assert!(
        response.status == 413 || response.status == 200,
        "{response:?}"
    );
    let answer = response.json();
    if response.status == 413 {
        assert_error(&answer, "BAD_REQUEST");
    } else {
        assert_field_error(&answer, "roles");
    }
    assert_eq!(app.user_count("new@example.com").await, 0);
}

#[tokio::test]
async fn filters_longer_than_an_email_are_refused() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;

    let longest = "e".repeat(254);
    assert_no_errors(
        &app.users(token, json!({ "first": 5, "filter": { "email": longest } }))
            .await,
    );
    for (field, text) in [
        ("email", "e".repeat(255)),
        ("email", "%".repeat(10_000)),
        ("name", "n".repeat(101)),
        ("name", "_".repeat(10_000)),
    ] {
        let body = app
            .users(token, json!({ "first": 5, "filter": { field: text } }))
            .await;
        assert_field_error(&body, field);
    }
}

#[tokio::test]
async fn ids_of_every_shape_are_bad_input_or_unknown_never_a_server_error() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;
    let malformed = [
        String::new(),
        " ".to_owned(),
        "not-a-uuid".to_owned(),
        "12345".to_owned(),
        "9b2f0c1e-5d4a-4c3b-8e7f-6a5b4c3d2e1".to_owned(),
        "9b2f0c1e-5d4a-4c3b-8e7f-6a5b4c3d2e1fff".to_owned(),
        "x".repeat(10_000),
        format!("{NOBODY}{}", " ".repeat(10_000)),
        "' OR '1'='1".to_owned(),
        "1; DROP TABLE users; --".to_owned(),
        format!("{NOBODY}' OR '1'='1"),
        "\u{0}".to_owned(),
    ];
    for id in &malformed {
        assert_field_error(&app.user(token, id).await, "id");
        assert_field_error(
            &app.update_user(token, id, json!({ "name": "X" })).await,
            "id",
        );
        assert_field_error(&app.delete_user(token, id).await, "id");
        assert_field_error(&app.revoke_user_sessions(token, id).await, "id");
        let created = app
            .create_user(
                token,
                json!({ "email": "new@example.com", "organizationId": id }),
            )
            .await;
        assert_field_error(&created, "organizationId");
        let listed = app
            .users(
                token,
                json!({ "first": 5, "filter": { "organizationId": id } }),
            )
            .await;
        assert_field_error(&listed, "organizationId");
    }

    for id in [
        NOBODY,
        &NOBODY.to_uppercase(),
        "00000000-0000-0000-0000-000000000000",
    ] {
        let found = app.user(token, id).await;
        assert_no_errors(&found);
        assert_eq!(found["data"]["user"], Value::Null);
        for body in [
            app.update_user(token, id, json!({ "name": "X" })).await,
            app.delete_user(token, id).await,
            app.revoke_user_sessions(token, id).await,
        ] {
            assert_error(&body, "NOT_FOUND");
        }
        assert_error(
            &app.create_user(
                token,
                json!({ "email": "new@example.com", "organizationId": id }),
            )
            .await,
            "NOT_FOUND",
        );
        let listed = app
            .users(
                token,
                json!({ "first": 5, "filter": { "organizationId": id } }),
            )
            .await;
        assert_eq!(emails(&listed), Vec::<String>::new());
    }

    // Ids are strings in GraphQL, but a number is an ID too: never a server error.
    for id in [json!(12345), json!(-1), json!(1e300)] {
        let body = app
            .operation_as(
                token,
                &crate::helpers::operations::USER,
                json!({ "id": id }),
            )
            .await;
        assert_client_error(&body);
    }
    assert_eq!(app.user_count("new@example.com").await, 0);
    assert_no_errors(&app.me(token).await);
}

#[tokio::test]
async fn filters_of_sql_text_find_nothing_and_filters_with_control_characters_are_refused() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let token = &root.access_token;

    for field in ["email", "name"] {
        for text in [
            "' OR '1'='1",
            "'; DROP TABLE users; --",
            "\\%",
            "\u{202e}",
            "😀",
        ] {
            let body = app
                .users(token, json!({ "first": 5, "filter": { field: text } }))
                .await;
            assert_eq!(emails(&body), Vec::<String>::new(), "{field}: {text:?}");
        }
        // No stored email or name holds one, and PostgreSQL cannot even compare a NUL.
        for text in ["\u{0}", "root\u{0}", "\u{7}", "line\nbreak"] {
            let body = app
                .users(token, json!({ "first": 5, "filter": { field: text } }))
                .await;
            assert_field_error(&body, field);
        }
    }
    assert_no_errors(&app.me(token).await);
}
