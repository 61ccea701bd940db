//! Document limits (docs/security.md): root fields per mutation, credential checks per mutation,
//! operations per batch, depth, complexity and introspection.

use serde_json::{Value, json};

use crate::helpers::operations::SIGNUP;
use crate::helpers::{PASSWORD, assert_error, assert_no_errors, spawn_app, spawn_app_with_args};

const WRONG_PASSWORD: &str = "not the password at all";
/// Refusals of a document over a size or shape limit carry this code.
const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";

/// `alias: field` repeated, with aliases `f0`, `f1`, ...
fn aliased(count: usize, field: impl Fn(usize) -> String) -> String {
    (0..count).map(|i| format!("f{i}: {} ", field(i))).collect()
}

fn login_field(email: &str, password: &str) -> String {
    format!("login(input: {{ email: \"{email}\", password: \"{password}\" }}) {{ accessToken }}")
}

/// Asserts a request error: nothing ran (no `data`), and the first error carries `code`.
#[track_caller]
fn assert_refused(body: &Value, code: &str) {
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "a refused document yields no data: {body}"
    );
    assert_error(body, code);
}

async fn login_attempt_rows(app: &crate::helpers::TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM login_attempts").await
}

#[tokio::test]
async fn a_mutation_with_more_than_10_root_fields_is_refused_before_anything_runs() {
    let app = spawn_app().await;
    let fields = aliased(11, |i| {
        format!(
            "signup(input: {{ email: \"user{i}@example.com\", password: \"{PASSWORD}\" }}) {{ accessToken }}"
        )
    });

    let body = app
        .graphql(&format!("mutation {{ {fields} }}"), json!({}))
        .await;

    assert_refused(&body, TOO_COMPLEX);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn a_mutation_with_10_root_fields_runs() {
    let app = spawn_app().await;
    let fields = aliased(10, |i| {
        format!("forgotPassword(email: \"user{i}@example.com\")")
    });

    let body = app
        .graphql(&format!("mutation {{ {fields} }}"), json!({}))
        .await;

    assert_no_errors(&body);
    assert_eq!(body["data"]["f9"], true, "{body}");
}

#[tokio::test]
async fn sixty_aliased_logins_in_one_document_execute_no_login_at_all() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let fields = aliased(60, |_| login_field("ada@example.com", WRONG_PASSWORD));

    let body = app
        .graphql(&format!("mutation {{ {fields} }}"), json!({}))
        .await;

    assert_refused(&body, TOO_COMPLEX);
    // No failure was recorded, so no lockout, and the address budget is untouched.
    assert_eq!(login_attempt_rows(&app).await, 0);
    app.login("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn a_mutation_may_check_credentials_only_once() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let login = login_field("ada@example.com", WRONG_PASSWORD);
    let reset =
        format!("resetPassword(input: {{ token: \"guess\", newPassword: \"{PASSWORD}\" }})");
    let update = format!(
        "updateMe(input: {{ newPassword: \"a brand new passphrase 7\", currentPassword: \"{WRONG_PASSWORD}\" }}) {{ id }}"
    );
    let delete = format!("deleteMe(password: \"{WRONG_PASSWORD}\")");

    let documents = [
        format!("mutation {{ a: {login} b: {login} }}"),
        format!("mutation {{ a: {login} b: {reset} }}"),
        format!("mutation {{ a: {update} b: {delete} }}"),
        format!("mutation {{ a: {delete} b: {delete} }}"),
        // Fragments do not hide the second check.
        format!("mutation {{ a: {login} ...More }} fragment More on Mutation {{ b: {login} }}"),
        format!("mutation {{ a: {login} ... on Mutation {{ b: {login} }} }}"),
    ];
    for document in documents {
        let body = app
            .graphql_with_token(&account.access_token, &document, json!({}))
            .await;
        assert_refused(&body, TOO_COMPLEX);
    }

    assert_eq!(login_attempt_rows(&app).await, 0);
    assert_no_errors(&app.me(&account.access_token).await);
    app.login("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn one_credential_check_beside_other_fields_is_allowed() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let body = app
        .graphql(
            &format!(
                "mutation {{ a: {} b: forgotPassword(email: \"grace@example.com\") }}",
                login_field("ada@example.com", PASSWORD)
            ),
            json!({}),
        )
        .await;

    assert_no_errors(&body);
    assert!(body["data"]["a"]["accessToken"].is_string(), "{body}");
    assert_eq!(body["data"]["b"], true);
}

#[tokio::test]
async fn a_batch_of_more_than_10_operations_is_refused_with_400_and_runs_nothing() {
    let app = spawn_app().await;
    let batch = |size: usize| -> Value {
        Value::Array(
            (0..size)
                .map(|i| {
                    SIGNUP.request(json!({ "input": {
                        "email": format!("user{i}@example.com"),
                        "password": PASSWORD,
                    } }))
                })
                .collect(),
        )
    };

    let refused = app
        .client
        .post(app.url("/graphql"))
        .json(&batch(11))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_error(&refused.json().await.unwrap(), "BAD_REQUEST");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);

    let accepted = app
        .client
        .post(app.url("/graphql"))
        .json(&batch(10))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let answers: Vec<Value> = accepted.json().await.unwrap();
    assert_eq!(answers.len(), 10);
    answers.iter().for_each(assert_no_errors);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 10);
}

/// `__schema > types > fields > type > ofType × n > name`: depth n + 5.
fn deep_introspection(of_types: usize) -> String {
    format!(
        "__schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }}",
        "ofType { ".repeat(of_types),
        "} ".repeat(of_types)
    )
}

#[tokio::test]
async fn a_query_nested_deeper_than_10_is_refused() {
    let app = spawn_app().await;
    // Depth 13 next to an ordinary field: the operation limits apply.
    let body = app
        .graphql(
            &format!("{{ {} me {{ email }} }}", deep_introspection(8)),
            json!({}),
        )
        .await;
    assert_refused(&body, TOO_COMPLEX);
}

#[tokio::test]
async fn introspection_alone_may_nest_as_deep_as_tools_need_and_no_deeper() {
    let app = spawn_app().await;
    // graphql-js's standard introspection query nests about this deep.
    assert_no_errors(
        &app.graphql(&format!("{{ {} }}", deep_introspection(8)), json!({}))
            .await,
    );
    let body = app
        .graphql(&format!("{{ {} }}", deep_introspection(20)), json!({}))
        .await;
    assert_refused(&body, TOO_COMPLEX);
}

#[tokio::test]
async fn a_query_over_the_complexity_bound_is_refused() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    // No alias and a few dozen tokens, but 81 copies of `me { id email }` once expanded.
    let levels: String = (0..4)
        .map(|level| {
            let next = level + 1;
            format!("fragment F{level} on Query {{ ...F{next} ...F{next} ...F{next} }} ")
        })
        .collect();
    let expanded = format!("{{ ...F0 }} {levels}fragment F4 on Query {{ me {{ id email }} }}");

    let body = app
        .graphql_with_token(&account.access_token, &expanded, json!({}))
        .await;

    assert_refused(&body, TOO_COMPLEX);
    // A handful of aliases is fine.
    let few = aliased(5, |_| "me { id email }".to_owned());
    assert_no_errors(
        &app.graphql_with_token(&account.access_token, &format!("{{ {few} }}"), json!({}))
            .await,
    );
}

#[tokio::test]
async fn with_introspection_off_reading_the_schema_is_an_error() {
    let app = spawn_app_with_args(&["--introspection", "false"]).await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    for query in [
        "{ __schema { types { name } } }",
        "{ __type(name: \"User\") { fields { name } } }",
        "{ me { id } ...Schema } fragment Schema on Query { __schema { queryType { name } } }",
    ] {
        let body = app
            .graphql_with_token(&account.access_token, query, json!({}))
            .await;
        assert_refused(&body, "INTROSPECTION_DISABLED");
        let text = body.to_string();
        assert!(
            !text.contains("AuthPayload") && !text.contains("emailVerified"),
            "introspection leaked the schema: {body}"
        );
    }
    // Ordinary queries still work, `__typename` included.
    assert_no_errors(&app.me(&account.access_token).await);
    let body = app
        .graphql_with_token(
            &account.access_token,
            "{ __typename me { __typename } }",
            json!({}),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["me"]["__typename"], "User");
}

#[tokio::test]
async fn with_introspection_off_errors_suggest_no_names() {
    let app = spawn_app_with_args(&["--introspection", "false"]).await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    for query in [
        "{ m { id } }",
        "{ me { emai } }",
        "{ me { emailVerifed createdAt } }",
        "mutation { logout(refreshTken: \"x\") }",
        "mutation { logot(refreshToken: \"x\") }",
        "mutation { signup(input: { emial: \"a@example.com\", password: \"long enough 42\" }) { accessToken } }",
    ] {
        let body = app
            .graphql_with_token(&account.access_token, query, json!({}))
            .await;
        assert_refused(&body, "GRAPHQL_VALIDATION_FAILED");
        let messages = body["errors"].to_string();
        assert!(!messages.contains("Did you mean"), "{query}: {body}");
    }
}

#[tokio::test]
async fn an_unknown_field_does_not_run_the_fields_beside_it() {
    // Validation is all or nothing: a broken document executes no field, so it cannot be used to
    // smuggle attempts past a limit.
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let body = app
        .graphql(
            &format!(
                "mutation {{ a: {} b: noSuchField }}",
                login_field("ada@example.com", WRONG_PASSWORD)
            ),
            json!({}),
        )
        .await;

    assert_refused(&body, "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(login_attempt_rows(&app).await, 0);
}
