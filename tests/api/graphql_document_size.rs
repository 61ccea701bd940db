//! Document limits counted on what a document does once its fragments are expanded, however
//! they are nested (docs/security.md): expanded size, fragment chains, aliases, directives, tokens.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::operations;
use crate::helpers::{PASSWORD, TestApp, assert_error, assert_no_errors, spawn_app};

/// Refusals of a document over a size or shape limit carry this code.
const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
const MAX_ALIASES: usize = 15;
const MAX_DIRECTIVES: usize = 50;
const MAX_TOKENS: usize = 1000;

/// Asserts a request error (nothing ran, no `data`) with the code for an oversized document.
#[track_caller]
fn assert_too_complex(body: &Value) {
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "a refused document yields no data: {body}"
    );
    assert_error(body, TOO_COMPLEX);
}

/// `<operation> { ...F0 }` and `levels` fragments on `on`, each spreading the next `fanout`
/// times, the last selecting `leaf`: a few hundred bytes that expand to `fanout^(levels-1)`
/// leaves.
fn fragment_chain(operation: &str, on: &str, levels: usize, fanout: usize, leaf: &str) -> String {
    let mut document = format!("{operation} {{ ...F0 }}");
    for level in 0..levels - 1 {
        let spreads = format!("...F{} ", level + 1).repeat(fanout);
        document.push_str(&format!(" fragment F{level} on {on} {{ {spreads}}}"));
    }
    document.push_str(&format!(" fragment F{} on {on} {{ {leaf} }}", levels - 1));
    document
}

/// POSTs a document with an `operationName`. Asserts HTTP 200.
async fn graphql_operation(app: &TestApp, query: &str, operation_name: &str) -> Value {
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "operationName": operation_name }))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a JSON body")
}

async fn live_sessions(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exponential_fragment_document_is_refused_in_milliseconds_and_health_keeps_answering() {
    let app = spawn_app().await;
    // 720 bytes that expand to 3^15 (about 14 million) `__typename`s.
    let bomb = fragment_chain("query", "Query", 16, 3, "__typename");
    assert!(bomb.len() < 1024, "{}", bomb.len());

    let started = Instant::now();
    let (first, second, health) = tokio::join!(
        app.graphql(&bomb, json!({})),
        app.graphql(&bomb, json!({})),
        async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            app.send(reqwest::Method::GET, "/healthz", &[], None).await
        },
    );
    let elapsed = started.elapsed();

    assert_too_complex(&first);
    assert_too_complex(&second);
    assert_eq!(health.status, 200);
    // Generous: the refusal takes milliseconds; the expansion took seconds.
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
}

#[tokio::test]
async fn an_exponential_mutation_document_is_refused_before_anything_runs() {
    let app = spawn_app().await;
    let bomb = fragment_chain(
        "mutation",
        "Mutation",
        12,
        3,
        "forgotPassword(email: \"ada@example.com\")",
    );

    let body = app.graphql(&bomb, json!({})).await;

    assert_too_complex(&body);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM outbox").await, 0);
}

#[tokio::test]
async fn a_fragment_that_spreads_itself_is_refused() {
    let app = spawn_app().await;

    for document in [
        "{ ...A } fragment A on Query { ...A ...A }",
        "{ ...A } fragment A on Query { me { id } ...B } fragment B on Query { ...A ...A }",
        // Every path through it stays introspection-only, a cycle that never ends in a field.
        "{ ...A } fragment A on Query { __typename ...A ...A ...A }",
    ] {
        let body = app.graphql(document, json!({})).await;
        assert_too_complex(&body);
    }
}

#[tokio::test]
async fn two_logins_behind_a_chain_of_20_fragments_are_refused_and_neither_runs() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let sessions = live_sessions(&app).await;
    let login = format!(
        "login(input: {{ email: \"ada@example.com\", password: \"{PASSWORD}\" }}) {{ accessToken }}"
    );
    let document = fragment_chain(
        "mutation",
        "Mutation",
        20,
        1,
        &format!("a: {login} b: {login}"),
    );

    let body = app.graphql(&document, json!({})).await;

    assert_too_complex(&body);
    assert_eq!(live_sessions(&app).await, sessions);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM login_attempts").await,
        0
    );
}

#[tokio::test]
async fn eleven_logouts_behind_a_chain_of_20_fragments_are_refused_and_none_runs() {
    let app = spawn_app().await;
    let mut refresh_tokens = vec![app.signup("ada@example.com", PASSWORD).await.refresh_token];
    for _ in 0..10 {
        refresh_tokens.push(app.login("ada@example.com", PASSWORD).await.refresh_token);
    }
    assert_eq!(live_sessions(&app).await, 11);
    let logouts: String = refresh_tokens
        .iter()
        .enumerate()
        .map(|(i, token)| format!("l{i}: logout(refreshToken: \"{token}\") "))
        .collect();
    let document = fragment_chain("mutation", "Mutation", 20, 1, &logouts);

    let body = app.graphql(&document, json!({})).await;

    assert_too_complex(&body);
    assert_eq!(live_sessions(&app).await, 11);
}

#[tokio::test]
async fn ten_logouts_behind_a_chain_of_20_fragments_run() {
    // Counting through fragments refuses what is over the limit, not fragments as such.
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let logouts: String = (0..10)
        .map(|i| format!("l{i}: logout(refreshToken: \"{}\") ", account.refresh_token))
        .collect();
    let document = fragment_chain("mutation", "Mutation", 20, 1, &logouts);

    let body = app.graphql(&document, json!({})).await;

    assert_no_errors(&body);
    assert_eq!(body["data"]["l9"], true, "{body}");
    assert_eq!(live_sessions(&app).await, 0);
}

#[tokio::test]
async fn inline_fragments_nested_33_deep_are_refused_as_too_complex() {
    // One field, but 33 levels of selection sets: past async-graphql's own recursion limit (32),
    // which refuses it while parsing.
    let app = spawn_app().await;
    let nested = |levels: usize| {
        format!(
            "{{ {} __typename {} }}",
            "... on Query { ".repeat(levels),
            "} ".repeat(levels)
        )
    };

    assert_no_errors(&app.graphql(&nested(31), json!({})).await);
    assert_too_complex(&app.graphql(&nested(33), json!({})).await);
}

#[tokio::test]
async fn fields_nested_deeper_than_the_parser_follows_are_refused_as_too_complex() {
    // 100 levels: the parser gives up at 64, before any depth limit could count them.
    let app = spawn_app().await;
    let document = format!("{}{}", "{ a ".repeat(100), "} ".repeat(100));

    let body = app.graphql(&document, json!({})).await;

    assert_too_complex(&body);
}

/// `{ me { a0: id a1: id ... } }` with `count` aliases.
fn aliased_ids(count: usize) -> String {
    let ids: String = (0..count).map(|i| format!("a{i}: id ")).collect();
    format!("{{ me {{ {ids}}} }}")
}

#[tokio::test]
async fn a_document_with_more_than_15_aliases_is_refused() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let at_limit = app
        .graphql_with_token(&account.access_token, &aliased_ids(MAX_ALIASES), json!({}))
        .await;
    assert_no_errors(&at_limit);
    assert_eq!(at_limit["data"]["me"]["a14"], account.user["id"]);

    let past_limit = app
        .graphql_with_token(
            &account.access_token,
            &aliased_ids(MAX_ALIASES + 1),
            json!({}),
        )
        .await;
    assert_too_complex(&past_limit);
}

#[tokio::test]
async fn aliases_are_counted_where_their_fragment_is_spread() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    // Nine aliases written, sixteen executed.
    let document = "{ x: me { ...Ids } y: me { ...Ids } } \
                    fragment Ids on User { i0: id i1: id i2: id i3: id i4: id i5: id i6: id }";

    let body = app
        .graphql_with_token(&account.access_token, document, json!({}))
        .await;

    assert_too_complex(&body);
}

#[tokio::test]
async fn four_hundred_aliased_schema_introspections_are_refused() {
    let app = spawn_app().await;
    let many: String = (0..400)
        .map(|i| format!("s{i}: __schema {{ types {{ name fields {{ name }} }} }} "))
        .collect();

    let body = app.graphql(&format!("{{ {many}}}"), json!({})).await;

    assert_too_complex(&body);
}

#[tokio::test]
async fn the_alias_limit_holds_for_introspection_documents_too() {
    let app = spawn_app().await;
    let schemas = |count: usize| -> String {
        let fields: String = (0..count)
            .map(|i| format!("s{i}: __schema {{ queryType {{ name }} }} "))
            .collect();
        format!("{{ {fields}}}")
    };

    let at_limit = app.graphql(&schemas(MAX_ALIASES), json!({})).await;
    assert_no_errors(&at_limit);
    assert_eq!(at_limit["data"]["s14"]["queryType"]["name"], "Query");

    let past_limit = app.graphql(&schemas(MAX_ALIASES + 1), json!({})).await;
    assert_too_complex(&past_limit);
}

/// `{ me { id @include(if: true) id @include(if: true) ... } }` with `count` directives.
fn directed_ids(count: usize) -> String {
    format!("{{ me {{ {}}} }}", "id @include(if: true) ".repeat(count))
}

#[tokio::test]
async fn a_document_with_more_than_50_directives_is_refused() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;

    let at_limit = app
        .graphql_with_token(
            &account.access_token,
            &directed_ids(MAX_DIRECTIVES),
            json!({}),
        )
        .await;
    assert_no_errors(&at_limit);
    assert_eq!(at_limit["data"]["me"]["id"], account.user["id"]);

    let past_limit = app
        .graphql_with_token(
            &account.access_token,
            &directed_ids(MAX_DIRECTIVES + 1),
            json!({}),
        )
        .await;
    assert_too_complex(&past_limit);
}

/// A document of exactly `tokens` lexical tokens whose operation `Run` selects `__typename`s;
/// the rest is mutations that are validated but, not being chosen, never run.
fn document_of_tokens(tokens: usize) -> String {
    // `query Run { __typename }` is 5 tokens, each extra `__typename` 1, and each
    // `mutation Mn { logout(refreshToken: "x") }` 10.
    let mutations = (tokens - 5) / 10;
    let extra_typenames = (tokens - 5) % 10;
    let mut document = format!(
        "query Run {{ __typename {}}}",
        "__typename ".repeat(extra_typenames)
    );
    for i in 0..mutations {
        document.push_str(&format!(" mutation M{i} {{ logout(refreshToken: \"x\") }}"));
    }
    document
}

#[tokio::test]
async fn a_document_of_more_than_1000_tokens_is_refused() {
    let app = spawn_app().await;

    let at_limit = graphql_operation(&app, &document_of_tokens(MAX_TOKENS), "Run").await;
    assert_no_errors(&at_limit);
    assert_eq!(at_limit["data"]["__typename"], "Query");

    let past_limit = graphql_operation(&app, &document_of_tokens(MAX_TOKENS + 1), "Run").await;
    assert_too_complex(&past_limit);
}

#[tokio::test]
async fn commas_and_comments_are_not_tokens() {
    let app = spawn_app().await;
    let padding = format!("# {}\n", "a comment ".repeat(20)).repeat(100);
    let document = format!("{padding}{}", document_of_tokens(MAX_TOKENS)).replace(' ', " ,");

    let body = graphql_operation(&app, &document, "Run").await;

    assert_no_errors(&body);
}

/// What GraphiQL and other tools send to learn the schema: graphql-js's `getIntrospectionQuery`
/// with every option on, and `ofType` nested as deep as its newest versions nest it.
const STANDARD_INTROSPECTION_QUERY: &str = r"
query IntrospectionQuery {
  __schema {
    description
    queryType { name kind }
    mutationType { name kind }
    subscriptionType { name kind }
    types { ...FullType }
    directives {
      name
      description
      isRepeatable
      locations
      args(includeDeprecated: true) { ...InputValue }
    }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
  isOneOf
  fields(includeDeprecated: true) {
    name
    description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
  isDeprecated
  deprecationReason
}
fragment TypeRef on __Type {
  kind
  name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name } } } } } } } } }
}
";

#[tokio::test]
async fn the_standard_introspection_query_runs() {
    let app = spawn_app().await;

    let body = app.graphql(STANDARD_INTROSPECTION_QUERY, json!({})).await;

    assert_no_errors(&body);
    let types = body["data"]["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "AuthPayload"), "{body}");
}

/// The `# Variables: {...}` line of a documented operation.
fn documented_variables(document: &str) -> Value {
    document
        .lines()
        .find_map(|line| line.strip_prefix("# Variables:"))
        .map_or_else(
            || json!({}),
            |variables| serde_json::from_str(variables.trim()).expect("JSON variables"),
        )
}

#[tokio::test]
async fn every_documented_operation_passes_the_limits_and_runs() {
    let app = spawn_app().await;

    for operation in operations::ALL {
        let body = app
            .operation(operation, &[], documented_variables(operation.document))
            .await;

        // It ran (a field may still fail, e.g. UNAUTHENTICATED): `data` is there.
        assert!(body.get("data").is_some(), "{}: {body}", operation.file);
    }
}

#[test]
fn the_tests_send_every_file_of_docs_operations_under_the_name_it_declares() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations");
    let mut files: Vec<String> = std::fs::read_dir(directory)
        .expect("docs/operations")
        .map(|entry| entry.expect("a directory entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".graphql"))
        .collect();
    files.sort();
    let mut loaded: Vec<String> = operations::ALL
        .iter()
        .chain(operations::SUBSCRIPTIONS.iter())
        .map(|operation| operation.file.to_owned())
        .collect();
    loaded.sort();
    assert_eq!(loaded, files, "helpers::operations::ALL lists every file");

    for operation in operations::ALL
        .iter()
        .chain(operations::SUBSCRIPTIONS.iter())
    {
        let declaration = operation
            .document
            .lines()
            .find(|line| {
                ["query ", "mutation ", "subscription "]
                    .iter()
                    .any(|kind| line.starts_with(kind))
            })
            .unwrap_or_else(|| panic!("{} declares an operation", operation.file));
        let declared = declaration
            .split_whitespace()
            .nth(1)
            .and_then(|name| name.split(['(', '{']).next());
        assert_eq!(declared, Some(operation.name), "{}", operation.file);
    }
}
