//! Who may administer. Every admin field, found from the schema so that a new one cannot be
//! forgotten, refuses anonymous callers (`UNAUTHENTICATED`) and signed-in users without the admin
//! role (`FORBIDDEN`). An admin's reach is their own organization, for reads, writes and filters
//! alike; only superadmins touch superadmins, role definitions and organizations.

use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, SUPERADMIN_EMAIL, TestApp, assert_error, assert_no_errors, default_organization_id,
    spawn_app,
};

/// The fields anyone, or any signed-in user, may call. Every other root field is an admin field.
const PUBLIC_FIELDS: &[&str] = &[
    "me",
    "signup",
    "login",
    "refreshToken",
    "logout",
    "forgotPassword",
    "resetPassword",
    "updateMe",
    "deleteMe",
    "mySessions",
    "mySecurityEvents",
    "revokeSession",
    "revokeOtherSessions",
    "verifyEmail",
    "resendVerificationEmail",
];

/// The admin fields only a superadmin may call.
const SUPERADMIN_FIELDS: &[&str] = &[
    "organizations",
    "createRole",
    "deleteRole",
    "createOrganization",
];

/// One call of a root field with made-up arguments of the right types, selecting `__typename`
/// from whatever object it returns.
struct FieldCall {
    name: String,
    document: String,
}

/// Every admin field of the served schema, as a call, from introspection.
async fn admin_field_calls(app: &TestApp) -> Vec<FieldCall> {
    let body = app
        .graphql(
            "{ __schema { queryType { name } mutationType { name }
                types { name kind
                  fields { name args { name type { ...Ref } } type { ...Ref } }
                  inputFields { name type { ...Ref } } } } }
             fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }",
            json!({}),
        )
        .await;
    assert_no_errors(&body);
    let schema = &body["data"]["__schema"];
    let types = schema["types"].as_array().unwrap();
    let type_named = |name: &str| {
        types
            .iter()
            .find(|ty| ty["name"] == name)
            .unwrap_or_else(|| panic!("type {name}"))
    };
    let mut calls = Vec::new();
    for (root, keyword) in [
        (schema["queryType"]["name"].as_str().unwrap(), "query"),
        (schema["mutationType"]["name"].as_str().unwrap(), "mutation"),
    ] {
        for field in type_named(root)["fields"].as_array().unwrap() {
            let name = field["name"].as_str().unwrap();
            if PUBLIC_FIELDS.contains(&name) || name.starts_with("__") {
                continue;
            }
            let args: Vec<String> = field["args"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|arg| arg["type"]["kind"] == "NON_NULL")
                .map(|arg| {
                    format!(
                        "{}: {}",
                        arg["name"].as_str().unwrap(),
                        literal(&arg["type"], &type_named)
                    )
                })
                .collect();
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            let returns_object = matches!(
                type_named(named(&field["type"]))["kind"].as_str(),
                Some("OBJECT")
            );
            let selection = if returns_object {
                " { __typename }"
            } else {
                ""
            };
            calls.push(FieldCall {
                name: name.to_owned(),
                document: format!("{keyword} {{ {name}{args}{selection} }}"),
            });
        }
    }
    calls
}

/// The name of the type under NON_NULL and LIST wrappers.
fn named(ty: &Value) -> &str {
    match ty["name"].as_str() {
        Some(name) => name,
        None => named(&ty["ofType"]),
    }
}

/// A GraphQL literal of type `ty`, with every required input field filled in.
fn literal<'a>(ty: &Value, type_named: &impl Fn(&str) -> &'a Value) -> String {
    match ty["kind"].as_str().unwrap() {
        "NON_NULL" => literal(&ty["ofType"], type_named),
        "LIST" => format!("[{}]", literal(&ty["ofType"], type_named)),
        _ => {
            let name = ty["name"].as_str().unwrap();
            match name {
                "ID" => "\"9b2f6a70-0000-4000-8000-000000000000\"".to_owned(),
                "String" => "\"viewer\"".to_owned(),
                "Int" => "1".to_owned(),
                "Boolean" => "true".to_owned(),
                _ => {
                    let input = type_named(name);
                    let fields: Vec<String> = input["inputFields"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{name} is an input object"))
                        .iter()
                        .filter(|field| field["type"]["kind"] == "NON_NULL")
                        .map(|field| {
                            format!(
                                "{}: {}",
                                field["name"].as_str().unwrap(),
                                literal(&field["type"], type_named)
                            )
                        })
                        .collect();
                    format!("{{{}}}", fields.join(", "))
                }
            }
        }
    }
}

#[tokio::test]
async fn every_admin_field_refuses_anonymous_callers_and_users_without_the_admin_role() {
    let app = spawn_app().await;
    let user = app.signup("ada@example.com", PASSWORD).await;
    let calls = admin_field_calls(&app).await;
    let names: Vec<&str> = calls.iter().map(|call| call.name.as_str()).collect();
    // The enumeration finds the fields it must; were it to find none, this test would prove nothing.
    for expected in [
        "users",
        "user",
        "roles",
        "createUser",
        "updateUser",
        "deleteUser",
        "revokeUserSessions",
        "createRole",
        "deleteRole",
        "createOrganization",
        "organizations",
        "auditEvents",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for call in &calls {
        let anonymous = app.graphql(&call.document, json!({})).await;
        assert_eq!(
            anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{}: {anonymous}",
            call.document
        );
        let signed_in = app
            .graphql_with_token(&user.access_token, &call.document, json!({}))
            .await;
        assert_eq!(
            signed_in["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{}: {signed_in}",
            call.document
        );
    }
}

#[tokio::test]
async fn an_admin_who_is_not_a_superadmin_is_refused_the_superadmin_fields() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let admin = app
        .admin_of(
            &root.access_token,
            &default_organization_id(),
            "admin@example.com",
        )
        .await;
    for call in admin_field_calls(&app).await {
        if !SUPERADMIN_FIELDS.contains(&call.name.as_str()) {
            continue;
        }
        let body = app
            .graphql_with_token(&admin.access_token, &call.document, json!({}))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{}: {body}",
            call.document
        );
    }
    let roles = app
        .graphql_with_token(&admin.access_token, "{ roles { code builtIn } }", json!({}))
        .await;
    assert_no_errors(&roles);
    assert_eq!(
        roles["data"]["roles"],
        json!([{"code": "admin", "builtIn": true}, {"code": "superadmin", "builtIn": true}])
    );
}

const USER_FIELDS: &str = "id email organization { id name }";

#[tokio::test]
async fn an_admin_sees_and_changes_only_the_users_of_their_own_organization() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let other = app.new_organization(&root.access_token, "Other Corp").await;
    let admin = app
        .admin_of(
            &root.access_token,
            &default_organization_id(),
            "admin@example.com",
        )
        .await;
    let other_admin = app.user_signed_in(&root.access_token, json!({"email": "other-admin@example.com", "roles": ["admin"], "organizationId": other}),
    )
    .await;
    let outsider = app
        .user_signed_in(
            &root.access_token,
            json!({"email": "outsider@example.com", "organizationId": other}),
        )
        .await;
    let insider = app.signup("insider@example.com", PASSWORD).await;

    // Reads: the list, the count, filters and single look-ups stop at the organization.
    let list = app
        .graphql_with_token(
            &admin.access_token,
            &format!("{{ users(first: 100) {{ totalCount nodes {{ {USER_FIELDS} }} }} }}"),
            json!({}),
        )
        .await;
    assert_no_errors(&list);
    let emails: Vec<&str> = list["data"]["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["insider@example.com", "admin@example.com", SUPERADMIN_EMAIL]
    );
    assert_eq!(list["data"]["users"]["totalCount"], 3);
    for filter in [
        json!({"email": "outsider"}),
        json!({"role": "admin", "email": "other"}),
    ] {
        let filtered = app
            .graphql_with_token(
                &admin.access_token,
                "query($filter: UserFilter) { users(filter: $filter) { totalCount nodes { id } } }",
                json!({ "filter": filter }),
            )
            .await;
        assert_no_errors(&filtered);
        assert_eq!(filtered["data"]["users"]["totalCount"], 0, "{filter}");
        assert_eq!(filtered["data"]["users"]["nodes"], json!([]), "{filter}");
    }
    let by_organization = app
        .graphql_with_token(
            &admin.access_token,
            "query($org: ID!) { users(filter: { organizationId: $org }) { totalCount } }",
            json!({ "org": other }),
        )
        .await;
    assert_error(&by_organization, "FORBIDDEN");
    let single = app
        .graphql_with_token(
            &admin.access_token,
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": outsider.id() }),
        )
        .await;
    assert_no_errors(&single);
    assert_eq!(single["data"]["user"], Value::Null);

    // Writes: out of reach is NOT_FOUND, exactly like an id of nobody.
    let writes = [
        (
            "mutation($id: ID!) { updateUser(id: $id, input: { name: \"Taken Over\" }) { id } }",
            "updateUser",
        ),
        (
            "mutation($id: ID!) { updateUser(id: $id, input: { active: false }) { id } }",
            "updateUser",
        ),
        (
            "mutation($id: ID!) { revokeUserSessions(id: $id) }",
            "revokeUserSessions",
        ),
        ("mutation($id: ID!) { deleteUser(id: $id) }", "deleteUser"),
    ];
    for (document, field) in writes {
        for id in [outsider.id(), "9b2f6a70-0000-4000-8000-000000000000"] {
            let body = app
                .graphql_with_token(&admin.access_token, document, json!({ "id": id }))
                .await;
            assert_error(&body, "NOT_FOUND");
            assert_eq!(body["data"], Value::Null, "{field}: {body}");
        }
    }
    let placed = app
        .graphql_with_token(
            &admin.access_token,
            "mutation($org: ID!) { createUser(input: { email: \"placed@example.com\", organizationId: $org }) { id } }",
            json!({ "org": other }),
        )
        .await;
    assert_error(&placed, "FORBIDDEN");

    // Nothing of the other organization changed: its user still signs in with its session alive.
    let me = app.me(&outsider.access_token).await;
    assert_no_errors(&me);
    assert_eq!(me["data"]["me"]["name"], Value::Null);
    app.login("outsider@example.com", PASSWORD).await;
    assert_eq!(app.user_count("placed@example.com").await, 0);

    // The other organization's admin sees theirs, and not ours.
    let theirs = app
        .graphql_with_token(
            &other_admin.access_token,
            "{ users { nodes { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        theirs["data"]["users"]["nodes"],
        json!([{"email": "outsider@example.com"}, {"email": "other-admin@example.com"}])
    );
    let ours = app
        .graphql_with_token(
            &other_admin.access_token,
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": insider.id() }),
        )
        .await;
    assert_eq!(ours["data"]["user"], Value::Null, "{ours}");

    // A superadmin sees everyone.
    let all = app
        .graphql_with_token(&root.access_token, "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(all["data"]["users"]["totalCount"], 5, "{all}");
}

#[tokio::test]
async fn an_admin_cannot_touch_a_superadmin_nor_grant_the_role() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let admin = app
        .admin_of(
            &root.access_token,
            &default_organization_id(),
            "admin@example.com",
        )
        .await;
    let user = app.signup("ada@example.com", PASSWORD).await;
    let refusals = [
        (
            "mutation($id: ID!) { updateUser(id: $id, input: { name: \"Demoted\" }) { id } }",
            root.id(),
        ),
        (
            "mutation($id: ID!) { updateUser(id: $id, input: { roles: [] }) { id } }",
            root.id(),
        ),
        (
            "mutation($id: ID!) { updateUser(id: $id, input: { active: false }) { id } }",
            root.id(),
        ),
        (
            "mutation($id: ID!) { revokeUserSessions(id: $id) }",
            root.id(),
        ),
        ("mutation($id: ID!) { deleteUser(id: $id) }", root.id()),
        (
            "mutation($id: ID!) { updateUser(id: $id, input: { roles: [\"superadmin\"] }) { id } }",
            user.id(),
        ),
        (
            "mutation($id: ID!) { updateUser(id: $id, input: { roles: [\"superadmin\"] }) { id } }",
            admin.id(),
        ),
    ];
    for (document, id) in refusals {
        let body = app
            .graphql_with_token(&admin.access_token, document, json!({ "id": id }))
            .await;
        assert_error(&body, "FORBIDDEN");
    }
    let created = app
        .graphql_with_token(
            &admin.access_token,
            "mutation { createUser(input: { email: \"new@example.com\", roles: [\"superadmin\"] }) { id } }",
            json!({}),
        )
        .await;
    assert_error(&created, "FORBIDDEN");
    assert_eq!(app.user_count("new@example.com").await, 0);
    // The superadmin is untouched and still signed in.
    let me = app
        .graphql_with_token(
            &root.access_token,
            "{ me { roles active name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({"roles": ["superadmin"], "active": true, "name": "Root"})
    );

    // What an admin may do: grant ordinary roles to users of their organization.
    let granted = app
        .graphql_with_token(
            &admin.access_token,
            "mutation($id: ID!) { updateUser(id: $id, input: { roles: [\"admin\"] }) { roles } }",
            json!({ "id": user.id() }),
        )
        .await;
    assert_no_errors(&granted);
    assert_eq!(granted["data"]["updateUser"]["roles"], json!(["admin"]));
}
