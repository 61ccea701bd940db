//! `spawn_app()` starts the real server on a fresh SQLite database, with an SMTP sink, and `TestApp` talks to
//! it the way a client would.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use latchkey::app::Application;
use latchkey::config::Settings;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::smtp_sink::{Mail, SmtpSink, reset_token};

pub const RESET_URL: &str = "http://app.test/reset-password?token={token}";
pub const RESET_LINK_PREFIX: &str = "http://app.test/reset-password?token=";
pub const PASSWORD: &str = "correct horse battery staple 42";
/// What every test server signs access tokens with (`--jwt-secret`).
pub const JWT_SECRET: &str = "a-test-secret-that-is-at-least-32-bytes-long";
/// How long a test waits for mail: delivery retries back off, so be generous.
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(30);

pub const SUBJECT_RESET: &str = "Reset your password";
pub const SUBJECT_PASSWORD_CHANGED: &str = "Your password was changed";
pub const SUBJECT_EMAIL_CHANGED: &str = "Your email address was changed";

const USER_FIELDS: &str = "id email name emailVerified createdAt updatedAt";

/// Everything the server logged, from every test in this binary (one global subscriber, installed once).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(Arc::default)
}

#[derive(Clone)]
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install_tracing() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let buffer = log_buffer().clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(move || BufferWriter(buffer.clone()))
            .try_init();
    });
}

/// How to start a server. `AppOptions::default()` is a fresh database, a fresh SMTP sink and the default
/// reuse interval.
pub struct AppOptions {
    pub refresh_reuse_interval: &'static str,
    /// Reuse the directory (and so the database) of an earlier server, to restart on the same data.
    pub data_dir: Option<Arc<TempDir>>,
    /// Deliver to this sink instead of a fresh one.
    pub smtp: Option<SmtpSink>,
    /// More command-line flags, passed through to `Settings::from_args` after the ones the helper
    /// sets (do not repeat those), e.g. `["--trusted-proxies", "127.0.0.1/32"]`.
    pub extra_args: Vec<String>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            refresh_reuse_interval: "10s",
            data_dir: None,
            smtp: None,
            extra_args: Vec::new(),
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub smtp: SmtpSink,
    pub data_dir: Arc<TempDir>,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), std::io::Error>>>,
}

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

/// The database of a test's data directory: a SQLite file in it, or, when the suite runs on
/// PostgreSQL, a fresh database whose URL the directory remembers (so a restart on the same
/// directory finds the same data).
async fn database_for(data_dir: &std::path::Path) -> String {
    let Some(admin) = crate::postgres::admin_url() else {
        return format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("latchkey.db").display()
        );
    };
    let remembered = data_dir.join("database-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return url;
    }
    let url = crate::postgres::fresh_database(&admin).await;
    std::fs::write(&remembered, &url).expect("the data directory is writable");
    url
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// A server started with these extra command-line flags (see `AppOptions::extra_args`).
pub async fn spawn_app_with_args(args: &[&str]) -> TestApp {
    spawn_app_with(AppOptions {
        extra_args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        ..AppOptions::default()
    })
    .await
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

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    install_tracing();
    let data_dir = match options.data_dir {
        Some(dir) => dir,
        None => Arc::new(tempfile::tempdir().expect("a temporary directory")),
    };
    let smtp = match options.smtp {
        Some(sink) => sink,
        None => SmtpSink::start().await,
    };
    let database_url = database_for(data_dir.path()).await;
    let smtp_url = format!("smtp://127.0.0.1:{}?tls=none", smtp.port());
    let mail_dir = data_dir.path().join("mail");
    let mut args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &database_url,
        "--jwt-secret",
        JWT_SECRET,
        "--smtp-url",
        &smtp_url,
        "--reset-url",
        RESET_URL,
        "--mail-dir",
        mail_dir.to_str().unwrap(),
        "--refresh-reuse-interval",
        options.refresh_reuse_interval,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    args.extend(options.extra_args);
    let settings = Settings::from_args(args).expect("test settings parse");

    let app = Application::build(settings)
        .await
        .expect("the application starts");
    let addr = app.local_addr();
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = shutdown_rx.await;
    }));

    TestApp {
        address: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        smtp,
        data_dir,
        database_url,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl TestApp {
    /// Graceful shutdown: waits until the server has finished its requests and stopped its mail worker.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("the server stops within 30 s of a graceful shutdown")
                .expect("the server task did not panic")
                .expect("the server stopped without an error");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs a GraphQL request (JSON) and returns the response body. Asserts HTTP 200.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.post_graphql(None, query, variables).await
    }

    pub async fn graphql_with_token(&self, token: &str, query: &str, variables: Value) -> Value {
        self.post_graphql(Some(token), query, variables).await
    }

    async fn post_graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
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

    /// POSTs a GraphQL request with extra headers and returns the body. Asserts HTTP 200.
    pub async fn graphql_with_headers(
        &self,
        headers: &[(&str, &str)],
        query: &str,
        variables: Value,
    ) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        let response = self
            .send(reqwest::Method::POST, "/graphql", &all, Some(body))
            .await;
        assert_eq!(
            response.status, 200,
            "POST /graphql answered {}: {}",
            response.status, response.body
        );
        response.json()
    }

    /// `login_raw`, as a client at `ip` behind a trusted proxy (`X-Forwarded-For: ip`). Only
    /// means something when the server runs with `--trusted-proxies 127.0.0.1/32`.
    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> Value {
        self.graphql_with_headers(
            &[("X-Forwarded-For", ip)],
            "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }",
            json!({ "input": { "email": email, "password": password } }),
        )
        .await
    }

    // ----- operations -----

    pub async fn signup_raw(&self, email: &str, password: &str, name: Option<&str>) -> Value {
        self.graphql(
            &format!(
                "mutation($input: SignupInput!) {{ signup(input: $input) {{ accessToken refreshToken tokenType expiresIn user {{ {USER_FIELDS} }} }} }}"
            ),
            json!({ "input": { "email": email, "password": password, "name": name } }),
        )
        .await
    }

    /// Signs up and returns the tokens; panics on any error.
    pub async fn signup(&self, email: &str, password: &str) -> Account {
        let body = self.signup_raw(email, password, Some("Test User")).await;
        account(&body, "signup")
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> Value {
        self.graphql(
            &format!(
                "mutation($input: LoginInput!) {{ login(input: $input) {{ accessToken refreshToken tokenType expiresIn user {{ {USER_FIELDS} }} }} }}"
            ),
            json!({ "input": { "email": email, "password": password } }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Account {
        let body = self.login_raw(email, password).await;
        account(&body, "login")
    }

    pub async fn me(&self, access_token: &str) -> Value {
        self.graphql_with_token(
            access_token,
            &format!("{{ me {{ {USER_FIELDS} }} }}"),
            json!({}),
        )
        .await
    }

    pub async fn refresh_raw(&self, refresh_token: &str) -> Value {
        self.graphql(
            &format!(
                "mutation($t: String!) {{ refreshToken(refreshToken: $t) {{ accessToken refreshToken tokenType expiresIn user {{ {USER_FIELDS} }} }} }}"
            ),
            json!({ "t": refresh_token }),
        )
        .await
    }

    pub async fn logout(&self, refresh_token: &str) -> Value {
        self.graphql(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": refresh_token }),
        )
        .await
    }

    pub async fn forgot_password(&self, email: &str) -> Value {
        self.graphql(
            "mutation($email: String!) { forgotPassword(email: $email) }",
            json!({ "email": email }),
        )
        .await
    }

    pub async fn reset_password(&self, token: &str, new_password: &str) -> Value {
        self.graphql(
            "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) }",
            json!({ "input": { "token": token, "newPassword": new_password } }),
        )
        .await
    }

    pub async fn update_me(&self, access_token: &str, input: Value) -> Value {
        self.graphql_with_token(
            access_token,
            &format!(
                "mutation($input: UpdateMeInput!) {{ updateMe(input: $input) {{ {USER_FIELDS} }} }}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    pub async fn delete_me(&self, access_token: &str, password: &str) -> Value {
        self.graphql_with_token(
            access_token,
            "mutation($password: String!) { deleteMe(password: $password) }",
            json!({ "password": password }),
        )
        .await
    }

    /// Asks for a reset and returns the token from the mail that arrives.
    pub async fn reset_token_for(&self, email: &str) -> String {
        let before = self.smtp.mail_to(email, SUBJECT_RESET).len();
        assert_eq!(
            self.forgot_password(email).await["data"]["forgotPassword"],
            true
        );
        let mail = self.wait_for_nth_mail(email, SUBJECT_RESET, before).await;
        reset_token(&mail, RESET_LINK_PREFIX)
    }

    /// Waits until there are more than `seen` messages to `to` with `subject`, and returns the newest.
    pub async fn wait_for_nth_mail(&self, to: &str, subject: &str, seen: usize) -> Mail {
        let deadline = tokio::time::Instant::now() + MAIL_TIMEOUT;
        loop {
            let mails = self.smtp.mail_to(to, subject);
            if mails.len() > seen {
                return mails.into_iter().last().unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mail number {} to {to} with subject {subject:?} did not arrive",
                seen + 1
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // ----- the database, for "nothing was half-written" checks only -----

    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(&self.database_url)
            .await
            .expect("the test can open the database")
    }

    /// Runs raw SQL on a connection of its own and returns the rows.
    async fn rows(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        let db = self.db().await;
        let statement = Statement::from_string(db.get_database_backend(), sql.to_owned());
        let rows = db
            .query_all_raw(statement)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        db.close().await.ok();
        rows
    }

    /// Runs `SELECT COUNT(*) AS n ...` style SQL and returns `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        self.rows(sql).await[0]
            .try_get::<i64>("", "n")
            .expect("a column `n`")
    }

    /// Polls `SELECT COUNT(*) AS n ...` until it answers `expected`, for writes the server makes
    /// after answering (the reset worker writes the outbox after `forgotPassword` returns).
    pub async fn wait_for_count(&self, sql: &str, expected: i64) {
        let deadline = tokio::time::Instant::now() + MAIL_TIMEOUT;
        loop {
            let n = self.count(sql).await;
            if n == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{sql} stayed at {n}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs a query and returns the text column `value` of every row.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .await
            .iter()
            .map(|row| {
                row.try_get::<String>("", "value")
                    .expect("a column `value`")
            })
            .collect()
    }

    pub async fn user_count(&self, email: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) AS n FROM users WHERE lower(email) = lower('{}')",
            email.replace('\'', "''")
        ))
        .await
    }
}

fn account(body: &Value, operation: &str) -> Account {
    assert_no_errors(body);
    let payload = &body["data"][operation];
    Account {
        access_token: payload["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned(),
        refresh_token: payload["refreshToken"]
            .as_str()
            .expect("refreshToken")
            .to_owned(),
        user: payload["user"].clone(),
    }
}

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

#[track_caller]
pub fn assert_no_errors(body: &Value) {
    assert!(
        body.get("errors").is_none_or(Value::is_null),
        "unexpected errors: {body}"
    );
}

/// `errors[0].extensions.code`, or a panic showing the body.
#[track_caller]
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with extensions.code, got {body}"))
}

#[track_caller]
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(error_code(body), code, "{body}");
}

#[track_caller]
pub fn assert_field_error(body: &Value, field: &str) {
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
}

/// The access token no longer gets the user.
pub async fn assert_access_revoked(app: &TestApp, access_token: &str) {
    assert_error(&app.me(access_token).await, "UNAUTHENTICATED");
}

/// The refresh token no longer refreshes.
pub async fn assert_refresh_revoked(app: &TestApp, refresh_token: &str) {
    assert_error(&app.refresh_raw(refresh_token).await, "INVALID_TOKEN");
}

/// Asserts a `RATE_LIMITED` error with a whole `retryAfter` of at least one second, and returns it.
#[track_caller]
pub fn assert_rate_limited(body: &Value) -> u64 {
    assert_error(body, "RATE_LIMITED");
    let retry_after = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("RATE_LIMITED carries an integer retryAfter: {body}"));
    assert!(retry_after >= 1, "retryAfter is at least 1: {body}");
    retry_after
}
