//! `TestApp` as a client: GraphQL and plain HTTP requests, and the account operations of
//! `docs/operations`.

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::app::TestApp;
use super::assertions::assert_no_errors;
use super::operations::{
    DELETE_ME, FORGOT_PASSWORD, LOGIN, LOGOUT, ME, Operation, REFRESH_TOKEN,
    RESEND_VERIFICATION_EMAIL, RESET_PASSWORD, SIGNUP, UPDATE_ME, VERIFY_EMAIL,
};

/// Tokens and user of a signup or login.
#[derive(Debug, Clone)]
pub struct Account {
    pub access_token: String,
    pub refresh_token: String,
    pub user: Value,
}

impl Account {
    pub fn id(&self) -> &str {
        self.user["id"].as_str().expect("user.id")
    }
}

/// What came back from `TestApp::send`: any status, the headers and the body as text.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl HttpResponse {
    /// The value of a header, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }
}

impl TestApp {
    /// POSTs a GraphQL document written for the test and returns the response body. Asserts
    /// HTTP 200.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.post_graphql(&[], &json!({ "query": query, "variables": variables }))
            .await
    }

    /// `graphql` with `Authorization: Bearer <token>`.
    pub async fn graphql_with_token(&self, token: &str, query: &str, variables: Value) -> Value {
        let authorization = bearer(token);
        self.post_graphql(
            &[("Authorization", &authorization)],
            &json!({ "query": query, "variables": variables }),
        )
        .await
    }

    /// POSTs an operation of `docs/operations` with these extra headers and returns the response
    /// body. Asserts HTTP 200.
    pub async fn operation(
        &self,
        operation: &Operation,
        headers: &[(&str, &str)],
        variables: Value,
    ) -> Value {
        self.post_graphql(headers, &operation.request(variables))
            .await
    }

    /// POSTs the operation once per set of variables, all at once and each from a task of its own
    /// (so they race on a multi-threaded runtime), and returns the bodies in no particular order.
    /// Asserts HTTP 200 for each.
    pub async fn operation_at_once(
        &self,
        operation: &Operation,
        variables: impl IntoIterator<Item = Value>,
    ) -> Vec<Value> {
        let mut requests = JoinSet::new();
        for variables in variables {
            let request = self
                .client
                .post(self.url("/graphql"))
                .json(&operation.request(variables));
            requests.spawn(async move {
                let response = request.send().await.expect("the server answers");
                assert_eq!(response.status(), 200);
                response.json::<Value>().await.expect("a JSON body")
            });
        }
        requests.join_all().await
    }

    async fn post_graphql(&self, headers: &[(&str, &str)], body: &Value) -> Value {
        let mut request = self.client.post(self.url("/graphql")).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "POST /graphql answered {status}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }

    /// Sends any request, with any method, headers and body, and returns whatever comes back
    /// (no status is asserted).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> HttpResponse {
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    // ----- the operations of docs/operations -----

    pub async fn signup_raw(&self, email: &str, password: &str, name: Option<&str>) -> Value {
        let input = json!({ "email": email, "password": password, "name": name });
        self.operation(&SIGNUP, &[], json!({ "input": input }))
            .await
    }

    /// POSTs `signup` and returns the response unread, for tests of its status and headers.
    pub async fn post_signup(&self, input: Value) -> reqwest::Response {
        self.client
            .post(self.url("/graphql"))
            .json(&SIGNUP.request(json!({ "input": input })))
            .send()
            .await
            .expect("the server answers")
    }

    /// Signs up and returns the tokens; panics on any error.
    pub async fn signup(&self, email: &str, password: &str) -> Account {
        let body = self.signup_raw(email, password, Some("Test User")).await;
        account(&body, "signup")
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> Value {
        self.login_with_headers(&[], email, password).await
    }

    /// `login_raw`, as a client at `ip` behind a trusted proxy (`X-Forwarded-For: ip`). Only
    /// means something when the server runs with `--trusted-proxies 127.0.0.1/32`.
    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> Value {
        self.login_with_headers(&[("X-Forwarded-For", ip)], email, password)
            .await
    }

    async fn login_with_headers(
        &self,
        headers: &[(&str, &str)],
        email: &str,
        password: &str,
    ) -> Value {
        let input = json!({ "email": email, "password": password });
        self.operation(&LOGIN, headers, json!({ "input": input }))
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Account {
        let body = self.login_raw(email, password).await;
        account(&body, "login")
    }

    pub async fn me(&self, access_token: &str) -> Value {
        let authorization = bearer(access_token);
        self.operation(&ME, &[("Authorization", &authorization)], json!({}))
            .await
    }

    pub async fn refresh_raw(&self, refresh_token: &str) -> Value {
        self.operation(
            &REFRESH_TOKEN,
            &[],
            json!({ "refreshToken": refresh_token }),
        )
        .await
    }

    pub async fn logout(&self, refresh_token: &str) -> Value {
        self.operation(&LOGOUT, &[], json!({ "refreshToken": refresh_token }))
            .await
    }

    pub async fn forgot_password(&self, email: &str) -> Value {
        self.operation(&FORGOT_PASSWORD, &[], json!({ "email": email }))
            .await
    }

    pub async fn reset_password(&self, token: &str, new_password: &str) -> Value {
        let input = json!({ "token": token, "newPassword": new_password });
        self.operation(&RESET_PASSWORD, &[], json!({ "input": input }))
            .await
    }

    pub async fn update_me(&self, access_token: &str, input: Value) -> Value {
        let authorization = bearer(access_token);
        self.operation(
            &UPDATE_ME,
            &[("Authorization", &authorization)],
            json!({ "input": input }),
        )
        .await
    }

    pub async fn verify_email(&self, token: &str) -> Value {
        self.operation(&VERIFY_EMAIL, &[], json!({ "token": token }))
            .await
    }

    pub async fn resend_verification_email(&self, email: &str) -> Value {
        self.operation(&RESEND_VERIFICATION_EMAIL, &[], json!({ "email": email }))
            .await
    }

    pub async fn delete_me(&self, access_token: &str, password: &str) -> Value {
        let authorization = bearer(access_token);
        self.operation(
            &DELETE_ME,
            &[("Authorization", &authorization)],
            json!({ "password": password }),
        )
        .await
    }
}

/// The value of an `Authorization` header that presents this token.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn account(body: &Value, operation: &str) -> Account {
    let (access_token, refresh_token) = tokens_of(body, operation);
    Account {
        access_token,
        refresh_token,
        user: body["data"][operation]["user"].clone(),
    }
}

/// The access and refresh token of a signup, login or refresh answer; panics on any error.
pub fn tokens_of(body: &Value, operation: &str) -> (String, String) {
    assert_no_errors(body);
    let payload = &body["data"][operation];
    (
        payload["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned(),
        payload["refreshToken"]
            .as_str()
            .expect("refreshToken")
            .to_owned(),
    )
}

/// The claims of a JWT, read without checking it (the server checks; tests read).
pub fn decode_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}
