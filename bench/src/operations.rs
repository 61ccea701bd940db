//! The GraphQL documents the benchmark sends are those of `docs/operations` (the ones the docs
//! show and the client tests send), wrapped in JSON bodies as GraphQL clients send them.

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Value, json};

static ME: Operation = Operation::new("Me", include_str!("../../docs/operations/me.graphql"));
static LOGIN: Operation =
    Operation::new("Login", include_str!("../../docs/operations/login.graphql"));
static SIGNUP: Operation = Operation::new(
    "Signup",
    include_str!("../../docs/operations/signup.graphql"),
);
static REFRESH_TOKEN: Operation = Operation::new(
    "RefreshToken",
    include_str!("../../docs/operations/refresh-token.graphql"),
);
static FORGOT_PASSWORD: Operation = Operation::new(
    "ForgotPassword",
    include_str!("../../docs/operations/forgot-password.graphql"),
);

/// A page of `users` as an administration screen lists it. docs/operations has no
/// administration documents yet, so the benchmark keeps its own.
static USERS: Operation = Operation::new(
    "Users",
    "query Users($filter: UserFilter, $first: Int!, $after: String) {
  users(filter: $filter, first: $first, after: $after) {
    nodes { id email name emailVerified roles active lastLoginAt createdAt updatedAt }
    pageInfo { hasNextPage endCursor }
  }
}",
);
/// `totalCount` alone: the count over every user in reach (and a one-user page beside it).
static USER_COUNT: Operation = Operation::new(
    "UserCount",
    "query UserCount($filter: UserFilter) {
  users(filter: $filter, first: 1) { totalCount }
}",
);

/// `me`, which takes no variables.
pub fn me() -> Bytes {
    ME.body(json!({}))
}

pub fn login(email: &str, password: &str) -> Bytes {
    LOGIN.body(json!({ "input": { "email": email, "password": password } }))
}

pub fn signup(email: &str, password: &str) -> Bytes {
    SIGNUP.body(json!({ "input": { "email": email, "password": password } }))
}

pub fn refresh_token(refresh_token: &str) -> Bytes {
    REFRESH_TOKEN.body(json!({ "refreshToken": refresh_token }))
}

pub fn forgot_password(email: &str) -> Bytes {
    FORGOT_PASSWORD.body(json!({ "email": email }))
}

/// A page of `first` users, after `after` if given, whose email contains `email` if given.
pub fn users(first: u32, after: Option<&str>, email: Option<&str>) -> Bytes {
    let filter = email.map(|email| json!({ "email": email }));
    USERS.body(json!({ "filter": filter, "first": first, "after": after }))
}

pub fn user_count() -> Bytes {
    USER_COUNT.body(json!({ "filter": null }))
}

/// One named operation: a documentation file's, or one of the benchmark's own.
struct Operation {
    name: &'static str,
    file: &'static str,
    document: OnceLock<String>,
}

impl Operation {
    const fn new(name: &'static str, file: &'static str) -> Self {
        Self {
            name,
            file,
            document: OnceLock::new(),
        }
    }

    /// The file without its comment lines. Clients built on a GraphQL library send a document
    /// printed from its parsed form, which drops comments; so the benchmark measures the
    /// operation, not the prose explaining it.
    fn document(&self) -> &str {
        self.document.get_or_init(|| {
            self.file
                .lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// The POST body; serde_json escapes the document and the variables.
    fn body(&self, variables: Value) -> Bytes {
        let body = json!({
            "operationName": self.name,
            "query": self.document(),
            "variables": variables,
        });
        Bytes::from(body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name a document gives its operation: `query Me {` or `mutation Login($input: ...)`.
    fn declared_name(document: &str) -> &str {
        let mut words = document.split_whitespace();
        let kind = words.next().unwrap();
        assert!(kind == "query" || kind == "mutation", "{document}");
        let name = words.next().unwrap();
        name.split(['(', '{']).next().unwrap()
    }

    #[test]
    fn each_body_names_the_operation_its_document_declares_and_its_declared_variables() {
        let bodies = [
            (&ME, me()),
            (&LOGIN, login("a@example.com", "pw")),
            (&SIGNUP, signup("a@example.com", "pw")),
            (&REFRESH_TOKEN, refresh_token("t")),
            (&FORGOT_PASSWORD, forgot_password("a@example.com")),
            (&USERS, users(20, Some("c"), Some("x"))),
            (&USER_COUNT, user_count()),
        ];
        for (operation, body) in bodies {
            let body: Value = serde_json::from_slice(&body).unwrap();
            let document = body["query"].as_str().unwrap();
            assert_eq!(declared_name(document), operation.name);
            assert_eq!(body["operationName"], operation.name);
            assert!(!document.contains('#'), "comments are left out: {document}");
            for variable in body["variables"].as_object().unwrap().keys() {
                assert!(document.contains(&format!("${variable}:")), "{document}");
            }
        }
    }

    #[test]
    fn variables_are_escaped_as_json() {
        let body: Value = serde_json::from_slice(&login("a\"b\\c@example.com", "p\"w")).unwrap();
        assert_eq!(body["variables"]["input"]["email"], "a\"b\\c@example.com");
        assert_eq!(body["variables"]["input"]["password"], "p\"w");
    }
}
