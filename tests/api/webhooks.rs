//! Webhooks as a receiver sees them: every audit event POSTed to each configured URL, signed per
//! Standard Webhooks, retried with the same `webhook-id` until it is taken, across a restart;
//! loopback and private destinations refused unless allowed, redirects not followed, slow and
//! talkative receivers handled; bad settings refuse to start. The receivers are small HTTP
//! servers on loopback written here.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::futures_util::stream;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use latchkey::app::{Application, StartupError};
use latchkey::config::Settings;
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::helpers::{
    AppOptions, DataDir, JWT_SECRET, MAIL_TIMEOUT, PASSWORD, TestApp, captured_logs,
    latchkey_binary, spawn_app, spawn_app_with,
};

/// 32 bytes of key, as Standard Webhooks writes them.
const SECRET: &str = "whsec_c2VjcmV0LWtleS1vZi10aGUtd2ViaG9vay10ZXN0cy0hIQ==";
const OTHER_SECRET: &str = "whsec_YW5vdGhlci1rZXktZm9yLXJvdGF0aW5nLXNlY3JldHMhIQ==";

/// How the receiver answers one delivery.
#[derive(Clone)]
enum Answer {
    Status(u16),
    /// Waits this long, then answers 204.
    Slowly(Duration),
    /// 307 to this URL.
    RedirectTo(String),
    /// 200 with a body that never ends.
    Endless,
    /// 503 with `Retry-After` of this many seconds.
    BusyFor(u64),
}

/// One request as the receiver got it.
#[derive(Clone, Debug)]
struct Delivery {
    headers: HeaderMap,
    body: String,
    arrived_at: std::time::Instant,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn id(&self) -> &str {
        self.header("webhook-id")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Checks the signature as a receiver would: `v1,<base64>` entries, HMAC-SHA256 over
    /// `{id}.{timestamp}.{body}` keyed with the base64 after `whsec_`; one must match.
    fn signed_with(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(
            format!(
                "{}.{}.{}",
                self.id(),
                self.header("webhook-timestamp"),
                self.body
            )
            .as_bytes(),
        );
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.signatures().contains(&expected.as_str())
    }

    fn signatures(&self) -> Vec<&str> {
        self.header("webhook-signature").split(' ').collect()
    }
}

#[derive(Default)]
struct ReceiverState {
    deliveries: Mutex<Vec<Delivery>>,
    /// Answers for the next deliveries in order; 204 once they run out.
    answers: Mutex<VecDeque<Answer>>,
    arrived: Notify,
}

/// An HTTP server on loopback that records every request.
#[derive(Clone)]
struct Receiver {
    address: SocketAddr,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start(answers: &[Answer]) -> Receiver {
        let state = Arc::new(ReceiverState {
            answers: Mutex::new(answers.iter().cloned().collect()),
            ..ReceiverState::default()
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { address, state }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/in", self.address)
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests have arrived and returns them all.
    async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + MAIL_TIMEOUT;
        loop {
            let arrived = self.state.arrived.notified();
            let deliveries = self.deliveries();
            if deliveries.len() >= count {
                return deliveries;
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "{} of {count} webhooks arrived",
                deliveries.len()
            );
        }
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    state.deliveries.lock().unwrap().push(Delivery {
        headers,
        body,
        arrived_at: std::time::Instant::now(),
    });
    state.arrived.notify_waiters();
    let answer = state
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Status(204));
    match answer {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Answer::Slowly(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Answer::RedirectTo(location) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Answer::Endless => {
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let endless = stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            Response::new(Body::from_stream(endless))
        }
        Answer::BusyFor(seconds) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, seconds.to_string())],
        )
            .into_response(),
    }
}

fn webhook_args<'a>(url: &'a str, secret: &'a str) -> Vec<&'a str> {
    vec![
        "--webhook-urls",
        url,
        "--webhook-secret",
        secret,
        "--webhook-allow-private",
        "true",
    ]
}

async fn spawn_app_sending_to(url: &str, more: &[&str]) -> TestApp {
    let mut args = webhook_args(url, SECRET);
    args.extend_from_slice(more);
    spawn_app_with(AppOptions {
        extra_args: args.into_iter().map(str::to_owned).collect(),
        ..AppOptions::default()
    })
    .await
}

async fn scrape(app: &TestApp) -> String {
    reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of a sample line `name value` in the exposition, 0 when absent.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

const DELIVERED: &str =
    "SELECT COUNT(*) AS n FROM outbox WHERE channel = 'webhook' AND sent_at IS NOT NULL";

#[tokio::test]
async fn a_signup_is_posted_signed_with_the_three_headers_and_the_standard_body() {
    let receiver = Receiver::start(&[]).await;
    let app = spawn_app_sending_to(&receiver.url(), &[]).await;

    let account = app.signup("ada@example.com", PASSWORD).await;
    let committed = std::time::Instant::now();

    let deliveries = receiver.wait_for(1).await;
    // Within about a second of the commit; the bound is generous for a loaded machine.
    assert!(committed.elapsed() < Duration::from_secs(5));
    let delivery = &deliveries[0];
    assert!(delivery.id().starts_with("msg_"), "{}", delivery.id());
    let timestamp: i64 = delivery.header("webhook-timestamp").parse().unwrap();
    assert!((timestamp - chrono::Utc::now().timestamp()).abs() < 300);
    assert_eq!(delivery.header("content-type"), "application/json");
    assert_eq!(delivery.signatures().len(), 1);
    assert!(delivery.signed_with(SECRET), "{delivery:?}");
    assert!(!delivery.signed_with(OTHER_SECRET));

    let body = delivery.json();
    assert_eq!(body["type"], "audit.signup", "{body}");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'), "{body}");
    assert_eq!(body["data"]["type"], "signup", "{body}");
    assert_eq!(body["data"]["userId"], account.id(), "{body}");
    assert!(body["data"]["id"].is_string(), "{body}");
    for secret in [PASSWORD, &account.access_token, &account.refresh_token] {
        assert!(!delivery.body.contains(secret), "{body}");
    }
    assert!(!delivery.body.contains("$argon2"), "{body}");

    app.wait_for_count(DELIVERED, 1).await;
    let metrics = scrape(&app).await;
    assert_eq!(
        sample(
            &metrics,
            r#"latchkey_webhook_deliveries_total{outcome="delivered"}"#
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "latchkey_webhook_oldest_pending_seconds"),
        0.0
    );
}

#[tokio::test]
async fn neither_the_secret_nor_the_receivers_path_and_query_are_logged() {
    // The first attempt fails, so the failure and the retry are logged too.
    let receiver = Receiver::start(&[Answer::Status(500)]).await;
    let url = format!("{}/pr1vate-path?key=t0ken-in-the-url", receiver.url());
    let app = spawn_app_sending_to(&url, &[]).await;

    app.signup("ada@example.com", PASSWORD).await;

    receiver.wait_for(2).await;
    app.wait_for_count(DELIVERED, 1).await;
    let logs = captured_logs();
    assert!(logs.contains("webhook delivery failed"), "nothing logged");
    for hidden in [&SECRET[6..], "pr1vate-path", "t0ken-in-the-url"] {
        assert!(!logs.contains(hidden), "{hidden} logged");
    }
    let stored = app
        .strings("SELECT recipient || ' ' || COALESCE(last_error, '') AS value FROM outbox")
        .await;
    assert!(
        stored
            .iter()
            .all(|row| !row.contains("pr1vate-path") && !row.contains("t0ken")),
        "{stored:?}"
    );
}

#[tokio::test]
async fn every_receiver_gets_every_event() {
    let first = Receiver::start(&[]).await;
    let second = Receiver::start(&[]).await;
    let urls = format!("{},{}", first.url(), second.url());
    let app = spawn_app_sending_to(&urls, &[]).await;

    app.signup("ada@example.com", PASSWORD).await;
    app.signup("grace@example.com", PASSWORD).await;

    for receiver in [&first, &second] {
        let deliveries = receiver.wait_for(2).await;
        let mut users: Vec<String> = deliveries
            .iter()
            .map(|delivery| delivery.json()["data"]["userId"].to_string())
            .collect();
        users.sort();
        users.dedup();
        assert_eq!(users.len(), 2, "{deliveries:?}");
        assert!(
            deliveries
                .iter()
                .all(|delivery| delivery.signed_with(SECRET))
        );
    }
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_same_webhook_id_three_times() {
    let receiver = Receiver::start(&[Answer::Status(500), Answer::Status(503)]).await;
    let app = spawn_app_sending_to(&receiver.url(), &[]).await;

    app.signup("ada@example.com", PASSWORD).await;

    let deliveries = receiver.wait_for(3).await;
    app.wait_for_count(DELIVERED, 1).await;
    let deliveries = &deliveries[..3];
    assert!(
        deliveries
            .iter()
            .all(|delivery| delivery.id() == deliveries[0].id()),
        "{deliveries:?}"
    );
    assert!(
        deliveries
            .iter()
            .all(|delivery| delivery.body == deliveries[0].body && delivery.signed_with(SECRET))
    );
    // Nothing more once it was taken.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.deliveries().len(), 3);
    let metrics = scrape(&app).await;
    assert_eq!(
        sample(
            &metrics,
            r#"latchkey_webhook_deliveries_total{outcome="failed"}"#
        ),
        2.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn a_receiver_s_retry_after_is_waited_for() {
    // The back-off alone would try again after at most a second.
    let receiver = Receiver::start(&[Answer::BusyFor(3)]).await;
    let app = spawn_app_sending_to(&receiver.url(), &[]).await;

    app.signup("ada@example.com", PASSWORD).await;

    let deliveries = receiver.wait_for(2).await;
    app.wait_for_count(DELIVERED, 1).await;
    assert_eq!(deliveries[0].id(), deliveries[1].id());
    let waited = deliveries[1].arrived_at - deliveries[0].arrived_at;
    assert!(
        waited >= Duration::from_secs(3),
        "tried again after {waited:?}"
    );
}

#[tokio::test]
async fn an_account_made_on_the_command_line_is_delivered_by_the_running_server() {
    let receiver = Receiver::start(&[]).await;
    let app = spawn_app_sending_to(&receiver.url(), &[]).await;
    let password_file = app.data_dir.path().join("root-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();

    let mut command = tokio::process::Command::from(latchkey_binary());
    command.current_dir(app.data_dir.path());
    let url = receiver.url();
    let output = command
        .args(["admin", "create", "--email", "root@example.com"])
        .arg("--password-file")
        .arg(&password_file)
        .args(["--database-url", app.data_dir.database_url()])
        .args(["--jwt-secret", JWT_SECRET])
        .args(webhook_args(&url, SECRET))
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    let deliveries = receiver.wait_for(1).await;
    let created = deliveries
        .iter()
        .map(Delivery::json)
        .find(|body| body["type"] == "audit.user_created")
        .unwrap_or_else(|| panic!("no user_created among {deliveries:?}"));
    assert_eq!(
        created["data"]["details"]["roles"],
        serde_json::json!(["superadmin"]),
        "{created}"
    );
    assert!(
        deliveries
            .iter()
            .all(|delivery| delivery.signed_with(SECRET))
    );
}

#[tokio::test]
async fn a_delivery_interrupted_by_a_restart_completes_on_the_next_server() {
    let receiver = Receiver::start(&[Answer::Status(500)]).await;
    let args: Vec<String> = webhook_args(&receiver.url(), SECRET)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut app = spawn_app_with(AppOptions {
        extra_args: args.clone(),
        ..AppOptions::default()
    })
    .await;
    app.signup("ada@example.com", PASSWORD).await;
    let first = receiver.wait_for(1).await[0].clone();

    app.stop().await;
    let restarted = spawn_app_with(AppOptions {
        data_dir: Some(Arc::clone(&app.data_dir)),
        smtp: Some(app.smtp.clone()),
        extra_args: args,
        ..AppOptions::default()
    })
    .await;

    let deliveries = receiver.wait_for(2).await;
    assert_eq!(deliveries[1].id(), first.id());
    assert_eq!(deliveries[1].body, first.body);
    assert!(deliveries[1].signed_with(SECRET));
    restarted.wait_for_count(DELIVERED, 1).await;
}

#[tokio::test]
async fn a_receiver_removed_from_the_settings_gets_nothing_more() {
    let removed = Receiver::start(&[Answer::Status(500)]).await;
    let kept = Receiver::start(&[]).await;
    let mut app = spawn_app_sending_to(&format!("{},{}", removed.url(), kept.url()), &[]).await;
    app.signup("ada@example.com", PASSWORD).await;
    removed.wait_for(1).await;
    kept.wait_for(1).await;
    app.stop().await;

    let restarted = spawn_app_with(AppOptions {
        data_dir: Some(Arc::clone(&app.data_dir)),
        smtp: Some(app.smtp.clone()),
        extra_args: webhook_args(&kept.url(), SECRET)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        ..AppOptions::default()
    })
    .await;

    restarted
        .wait_for_count(
            "SELECT COUNT(*) AS n FROM outbox WHERE channel = 'webhook' AND failed_at IS NOT NULL",
            1,
        )
        .await;
    let metrics = scrape(&restarted).await;
    assert_eq!(
        sample(
            &metrics,
            r#"latchkey_webhook_deliveries_total{outcome="given_up"}"#
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(removed.deliveries().len(), 1);
    assert_eq!(kept.deliveries().len(), 1);
}

#[tokio::test]
async fn loopback_destinations_are_refused_unless_allowed() {
    let receiver = Receiver::start(&[]).await;
    // A name, so that the check happens where it matters: on what it resolves to.
    let url = format!("http://localhost:{}/hooks/in", receiver.address.port());
    let app = spawn_app_with(AppOptions {
        extra_args: vec![
            "--webhook-urls".into(),
            url,
            "--webhook-secret".into(),
            SECRET.into(),
        ],
        ..AppOptions::default()
    })
    .await;

    app.signup("ada@example.com", PASSWORD).await;

    let deadline = tokio::time::Instant::now() + MAIL_TIMEOUT;
    let metrics = loop {
        let metrics = scrape(&app).await;
        if sample(
            &metrics,
            r#"latchkey_webhook_deliveries_total{outcome="refused"}"#,
        ) >= 2.0
        {
            break metrics;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(receiver.deliveries().is_empty());
    assert!(
        sample(&metrics, "latchkey_webhook_oldest_pending_seconds") >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"latchkey_webhook_deliveries_total{outcome="delivered"}"#
        ),
        0.0
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let elsewhere = Receiver::start(&[]).await;
    let receiver = Receiver::start(&[Answer::RedirectTo(elsewhere.url())]).await;
    let app = spawn_app_sending_to(&receiver.url(), &[]).await;

    app.signup("ada@example.com", PASSWORD).await;

    // The 307 is a failure: the message is retried at the URL configured.
    let deliveries = receiver.wait_for(2).await;
    assert_eq!(deliveries[0].id(), deliveries[1].id());
    app.wait_for_count(DELIVERED, 1).await;
    assert!(elsewhere.deliveries().is_empty());
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_is_retried() {
    let receiver = Receiver::start(&[Answer::Slowly(Duration::from_secs(10))]).await;
    let app = spawn_app_sending_to(&receiver.url(), &["--webhook-timeout", "1s"]).await;

    app.signup("ada@example.com", PASSWORD).await;

    let deliveries = receiver.wait_for(2).await;
    assert_eq!(deliveries[0].id(), deliveries[1].id());
    app.wait_for_count(DELIVERED, 1).await;
    let metrics = scrape(&app).await;
    assert_eq!(
        sample(
            &metrics,
            r#"latchkey_webhook_deliveries_total{outcome="failed"}"#
        ),
        1.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn an_endless_answer_is_not_read_to_its_end() {
    let receiver = Receiver::start(&[Answer::Endless, Answer::Endless]).await;
    let app = spawn_app_sending_to(&receiver.url(), &["--webhook-timeout", "20s"]).await;

    app.signup("ada@example.com", PASSWORD).await;
    app.signup("grace@example.com", PASSWORD).await;

    // Taken at the first attempt each, long before the timeout, and the server still serves.
    receiver.wait_for(2).await;
    app.wait_for_count(DELIVERED, 2).await;
    assert_eq!(receiver.deliveries().len(), 2);
    let metrics = scrape(&app).await;
    assert_eq!(
        sample(
            &metrics,
            r#"latchkey_webhook_deliveries_total{outcome="delivered"}"#
        ),
        2.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn two_secrets_give_two_signatures_one_per_secret() {
    let receiver = Receiver::start(&[]).await;
    let secrets = format!("{OTHER_SECRET} {SECRET}");
    let app = spawn_app_with(AppOptions {
        extra_args: webhook_args(&receiver.url(), &secrets)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        ..AppOptions::default()
    })
    .await;

    app.signup("ada@example.com", PASSWORD).await;

    let delivery = receiver.wait_for(1).await[0].clone();
    let signatures = delivery.signatures();
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    assert!(
        signatures
            .iter()
            .all(|signature| signature.starts_with("v1,"))
    );
    assert!(delivery.signed_with(SECRET) && delivery.signed_with(OTHER_SECRET));
    assert_ne!(signatures[0], signatures[1]);
}

#[tokio::test]
async fn two_servers_on_one_database_deliver_each_event_once() {
    let receiver = Receiver::start(&[]).await;
    let args: Vec<String> = webhook_args(&receiver.url(), SECRET)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let data_dir = Arc::new(DataDir::new().await);
    let first = spawn_app_with(AppOptions {
        data_dir: Some(Arc::clone(&data_dir)),
        extra_args: args.clone(),
        ..AppOptions::default()
    })
    .await;
    let second = spawn_app_with(AppOptions {
        data_dir: Some(data_dir),
        extra_args: args,
        ..AppOptions::default()
    })
    .await;

    for index in 0..6 {
        let app = if index % 2 == 0 { &first } else { &second };
        app.signup(&format!("user{index}@example.com"), PASSWORD)
            .await;
    }

    receiver.wait_for(6).await;
    first.wait_for_count(DELIVERED, 6).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut ids: Vec<String> = receiver
        .deliveries()
        .iter()
        .map(|delivery| delivery.id().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), receiver.deliveries().len()), (6, 6));
}

#[tokio::test]
async fn without_receivers_nothing_is_queued_for_webhooks() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE channel = 'webhook'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_events").await, 1);
}

/// Settings as the test server's, with these flags added.
fn settings_with(data_dir: &DataDir, extra: &[&str]) -> Result<Settings, String> {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        data_dir.database_url(),
        "--jwt-secret",
        JWT_SECRET,
    ];
    args.extend_from_slice(extra);
    Settings::from_args(args).map_err(|error| latchkey::config::describe_error(&error))
}

#[tokio::test]
async fn bad_webhook_settings_refuse_to_start_naming_the_setting_without_echoing_it() {
    let data_dir = DataDir::new().await;
    let good_url = "https://hooks.example.com/in/t0ken";
    for (extra, setting) in [
        (
            vec!["--webhook-urls", "ftp://hooks.example.com/in/t0ken"],
            "LATCHKEY_WEBHOOK_URLS",
        ),
        (
            vec!["--webhook-urls", "https://me:t0ken@hooks.example.com/in"],
            "LATCHKEY_WEBHOOK_URLS",
        ),
        (
            vec![
                "--webhook-secret",
                "c2VjcmV0LWtleS1vZi10aGUtd2ViaG9vay10ZXN0cy0hIQ==",
            ],
            "LATCHKEY_WEBHOOK_SECRET",
        ),
        (
            vec!["--webhook-secret", "whsec_dDBrZW4="],
            "LATCHKEY_WEBHOOK_SECRET",
        ),
        (
            vec!["--webhook-secret", "whsec_t0ken!!"],
            "LATCHKEY_WEBHOOK_SECRET",
        ),
        (vec!["--webhook-timeout", "0s"], "LATCHKEY_WEBHOOK_TIMEOUT"),
        (vec!["--webhook-timeout", "5m"], "LATCHKEY_WEBHOOK_TIMEOUT"),
    ] {
        let error = settings_with(&data_dir, &extra).expect_err("refused");
        assert!(error.contains(setting), "{extra:?}: {error}");
        assert!(
            !error.contains("t0ken") && !error.contains("dDBrZW4") && !error.contains("c2Vj"),
            "{error}"
        );
    }

    for (extra, expected) in [
        (vec!["--webhook-urls", good_url], "LATCHKEY_WEBHOOK_SECRET"),
        (
            vec![
                "--webhook-urls",
                "http://127.0.0.1:9/in/t0ken",
                "--webhook-secret",
                SECRET,
            ],
            "LATCHKEY_WEBHOOK_ALLOW_PRIVATE",
        ),
        (
            vec![
                "--webhook-urls",
                "http://169.254.169.254/latest/t0ken",
                "--webhook-secret",
                SECRET,
            ],
            "LATCHKEY_WEBHOOK_ALLOW_PRIVATE",
        ),
        (
            vec![
                "--webhook-urls",
                "http://[fd00:ec2::254]/t0ken",
                "--webhook-secret",
                SECRET,
            ],
            "LATCHKEY_WEBHOOK_ALLOW_PRIVATE",
        ),
        (
            vec![
                "--webhook-urls",
                &format!("{good_url},{good_url}"),
                "--webhook-secret",
                SECRET,
            ],
            "twice",
        ),
    ] {
        let settings = settings_with(&data_dir, &extra).expect("parses");
        match Application::build(settings).await {
            Err(StartupError::Config(message)) => {
                assert!(message.contains(expected), "{extra:?}: {message}");
                assert!(!message.contains("t0ken"), "{message}");
            }
            Err(other) => panic!("{extra:?}: not a settings error: {other}"),
            Ok(_) => panic!("{extra:?} started"),
        }
    }

    // Private destinations are allowed when asked for.
    let allowed = settings_with(
        &data_dir,
        &[
            "--webhook-urls",
            "http://10.0.0.5:8080/in",
            "--webhook-secret",
            SECRET,
            "--webhook-allow-private",
            "true",
        ],
    )
    .unwrap();
    assert!(Application::build(allowed).await.is_ok());
}

#[test]
fn a_bad_webhook_secret_stops_the_binary_with_status_2_and_one_line_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = latchkey_binary();
    command.current_dir(dir.path());
    let output = command
        .env("LATCHKEY_WEBHOOK_URLS", "https://hooks.example.com/in")
        .env("LATCHKEY_WEBHOOK_SECRET", "whsec_dDBrZW4=")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("LATCHKEY_WEBHOOK_SECRET"), "{stderr}");
    assert!(!stderr.contains("dDBrZW4"), "{stderr}");
}

#[test]
fn settings_debug_output_shows_neither_the_secret_nor_the_receivers_path() {
    let settings = Settings::from_args([
        "--webhook-urls",
        "https://hooks.example.com/in/t0ken?key=s3cret",
        "--webhook-secret",
        &format!("{SECRET} {OTHER_SECRET}"),
    ])
    .unwrap();
    let shown = format!("{settings:?}");
    for hidden in [&SECRET[6..], &OTHER_SECRET[6..], "t0ken", "s3cret"] {
        assert!(!shown.contains(hidden), "{hidden} in {shown}");
    }
    assert!(shown.contains("https://hooks.example.com"), "{shown}");
}
