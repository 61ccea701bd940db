//! Several latchkey processes on one PostgreSQL database, as behind a load balancer: mail goes
//! out exactly once, single-use tokens stay single-use, lockouts and revocations are shared, and
//! a database outage fails closed and heals by itself. Runs when PostgreSQL is available (CI
//! always provides it).

use std::process::Stdio;
use std::time::Duration;

use async_graphql::futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::helpers::operations::{
    DELETE_ME, FORGOT_PASSWORD, LOGIN, LOGOUT, ME, Operation, REFRESH_TOKEN, SIGNUP, UPDATE_ME,
};
use crate::helpers::{
    PASSWORD, RESET_URL, SUBJECT_RESET, assert_exactly_one_succeeds, assert_rate_limited,
    error_code, latchkey_binary,
};
use crate::postgres::{TestDatabase, admin_url};
use crate::smtp_sink::SmtpSink;

const SECRET: &str = "a-shared-test-secret-that-is-at-least-32-bytes";

/// One `latchkey serve` process. Killed when dropped.
struct Instance {
    /// Held so that the process ends with the test (`kill_on_drop`).
    _process: Child,
    /// Its mail folder, removed after the process is gone.
    _mail_dir: tempfile::TempDir,
    address: String,
    client: reqwest::Client,
}

impl Instance {
    async fn start(database_url: &str, smtp: &SmtpSink, extra: &[&str]) -> Instance {
        let smtp_url = format!("smtp://127.0.0.1:{}?tls=none", smtp.port());
        let mail_dir = tempfile::tempdir().unwrap();
        let mut command = Command::from(latchkey_binary());
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args([
                "--jwt-secret",
                SECRET,
                "--smtp-url",
                &smtp_url,
                "--reset-url",
                RESET_URL,
            ])
            .args([
                "--trusted-proxies",
                "127.0.0.1/32",
                "--log",
                "warn,latchkey::app=info",
            ])
            .arg("--mail-dir")
            .arg(mail_dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("latchkey starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return rest.trim().to_owned();
                }
            }
            panic!("latchkey exited before listening");
        })
        .await
        .expect("latchkey listens within a minute");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Instance {
            _process: child,
            _mail_dir: mail_dir,
            address,
            client: reqwest::Client::new(),
        }
    }

    /// A documented operation as if from client address `from` (believed: loopback is a trusted
    /// proxy).
    async fn operation(
        &self,
        from: &str,
        token: Option<&str>,
        operation: &Operation,
        variables: Value,
    ) -> Value {
        let mut request = self
            .client
            .post(format!("http://{}/graphql", self.address))
            .header("x-forwarded-for", from)
            .json(&operation.request(variables));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    async fn signup(&self, from: &str, email: &str) -> (String, String) {
        let body = self
            .operation(
                from,
                None,
                &SIGNUP,
                json!({"input": {"email": email, "password": PASSWORD}}),
            )
            .await;
        tokens(&body, "signup")
    }

    async fn login(&self, from: &str, email: &str, password: &str) -> Value {
        self.operation(
            from,
            None,
            &LOGIN,
            json!({"input": {"email": email, "password": password}}),
        )
        .await
    }

    async fn forgot_password(&self, from: &str, email: &str) -> Value {
        self.operation(from, None, &FORGOT_PASSWORD, json!({"email": email}))
            .await
    }

    async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(format!("http://{}/graphql", self.address))
            .header("x-forwarded-for", "192.0.2.9")
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    async fn me(&self, token: &str) -> Value {
        self.operation("192.0.2.1", Some(token), &ME, json!({}))
            .await
    }
}

fn tokens(body: &Value, operation: &str) -> (String, String) {
    let payload = &body["data"][operation];
    let access = payload["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{operation}: {body}"));
    (
        access.to_owned(),
        payload["refreshToken"].as_str().unwrap().to_owned(),
    )
}

/// Two instances on one fresh PostgreSQL database, or `None` without PostgreSQL. Bind the
/// database first: it is dropped last, after the instances.
async fn two_instances(extra: &[&str]) -> Option<(TestDatabase, Instance, Instance, SmtpSink)> {
    let admin = admin_url()?;
    let database = TestDatabase::create(&admin).await;
    let smtp = SmtpSink::start().await;
    let first = Instance::start(database.url(), &smtp, extra).await;
    let second = Instance::start(database.url(), &smtp, extra).await;
    Some((database, first, second, smtp))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_reset_requests_over_two_instances_send_fifty_mails_none_twice() {
    let Some((_database, a, b, smtp)) = two_instances(&[]).await else {
        return;
    };
    let emails: Vec<String> = (0..50).map(|i| format!("user{i}@example.com")).collect();
    for (i, email) in emails.iter().enumerate() {
        let instance = if i % 2 == 0 { &a } else { &b };
        instance.signup(&format!("10.1.{i}.1"), email).await;
    }
    let requests = emails.iter().enumerate().map(|(i, email)| {
        let instance = if i % 2 == 0 { &a } else { &b };
        let from = format!("10.2.{i}.1");
        async move {
            let body = instance
                .operation(&from, None, &FORGOT_PASSWORD, json!({"email": email}))
                .await;
            assert_eq!(body["data"]["forgotPassword"], true, "{body}");
        }
    });
    join_all(requests).await;

    for email in &emails {
        smtp.wait_for_mail(email, SUBJECT_RESET, Duration::from_secs(60))
            .await;
    }
    // Both workers poll every second: give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = smtp.messages();
    let resets = mails.iter().filter(|mail| mail.subject == SUBJECT_RESET);
    assert_eq!(resets.count(), 50, "exactly one mail per request");
    // Besides them, only the verification mail of each signup.
    assert_eq!(mails.len(), 100);
    for email in &emails {
        assert_eq!(
            smtp.mail_to(email, SUBJECT_RESET).len(),
            1,
            "{email} got one mail"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_refreshes_of_one_token_across_instances_exactly_one_wins() {
    let Some((_database, a, b, _smtp)) = two_instances(&["--refresh-reuse-interval", "0s"]).await
    else {
        return;
    };
    let (_, refresh) = a.signup("10.0.0.1", "ada@example.com").await;
    let attempts = (0..10).map(|i| {
        let instance = if i % 2 == 0 { &a } else { &b };
        let refresh = refresh.clone();
        async move {
            instance
                .operation(
                    "10.0.0.2",
                    None,
                    &REFRESH_TOKEN,
                    json!({"refreshToken": refresh}),
                )
                .await
        }
    });
    let answers = join_all(attempts).await;
    assert_exactly_one_succeeds(&answers, "INVALID_TOKEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_logins_on_both_instances_count_towards_one_lockout() {
    let Some((_database, a, b, _smtp)) = two_instances(&[]).await else {
        return;
    };
    a.signup("10.0.0.1", "ada@example.com").await;
    for i in 0..10 {
        let instance = if i % 2 == 0 { &a } else { &b };
        let body = instance
            .login("10.3.0.1", "ada@example.com", "not the password")
            .await;
        assert_eq!(error_code(&body), "INVALID_CREDENTIALS");
    }
    for instance in [&a, &b] {
        let body = instance
            .login("10.3.0.1", "ada@example.com", PASSWORD)
            .await;
        assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
        assert!(
            body["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .unwrap()
                >= 1
        );
    }
    // The guesser locked out only their own address: the owner signs in from theirs.
    let owner = b.login("10.4.0.1", "ada@example.com", PASSWORD).await;
    assert!(owner["data"]["login"].is_object(), "{owner}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_spread_over_both_instances_run_at_most_ten_password_checks() {
    let Some((_database, a, b, _smtp)) = two_instances(&[]).await else {
        return;
    };
    a.signup("10.0.0.1", "ada@example.com").await;

    let answers = join_all((0..24).map(|i| {
        let instance = if i % 2 == 0 { &a } else { &b };
        instance.login("10.5.0.1", "ada@example.com", "not the password")
    }))
    .await;

    let codes: Vec<&str> = answers.iter().map(|body| error_code(body)).collect();
    let checked = codes
        .iter()
        .filter(|c| **c == "INVALID_CREDENTIALS")
        .count();
    let refused = codes.iter().filter(|c| **c == "RATE_LIMITED").count();
    assert_eq!((checked, refused), (10, 14), "{codes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_logins_from_one_address_over_both_instances_leave_the_31st_refused_on_either() {
    let Some((_database, a, b, _smtp)) = two_instances(&[]).await else {
        return;
    };
    a.signup("10.0.0.1", "ada@example.com").await;
    // Credential stuffing through a load balancer: one address, a new email each time, the
    // attempts alternating between the instances.
    for i in 0..30 {
        let instance = if i % 2 == 0 { &a } else { &b };
        let body = instance
            .login("10.6.0.1", &format!("victim{i}@example.com"), PASSWORD)
            .await;
        assert_eq!(
            error_code(&body),
            "INVALID_CREDENTIALS",
            "attempt {i}: {body}"
        );
    }
    for instance in [&a, &b] {
        let refused = instance
            .login("10.6.0.1", "ada@example.com", PASSWORD)
            .await;
        assert!(assert_rate_limited(&refused) <= 60, "{refused}");
        assert!(refused["data"].is_null(), "{refused}");
    }
    // Another address is not affected.
    let owner = b.login("10.6.0.2", "ada@example.com", PASSWORD).await;
    assert!(owner["data"]["login"].is_object(), "{owner}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_reset_requests_for_one_email_over_both_instances_leave_the_6th_refused_on_either() {
    let Some((_database, a, b, _smtp)) = two_instances(&[]).await else {
        return;
    };
    // Each from an address of its own: only the per-email limit can refuse them.
    for i in 0..5 {
        let instance = if i % 2 == 0 { &a } else { &b };
        let body = instance
            .forgot_password(&format!("10.7.{i}.1"), "ada@example.com")
            .await;
        assert_eq!(body["data"]["forgotPassword"], true, "request {i}: {body}");
    }
    for (i, instance) in [&a, &b].into_iter().enumerate() {
        let refused = instance
            .forgot_password(&format!("10.8.{i}.1"), "ada@example.com")
            .await;
        assert!(assert_rate_limited(&refused) <= 3600, "{refused}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limit_that_cannot_be_counted_refuses_the_attempt() {
    let Some((database, a, _b, _smtp)) = two_instances(&[]).await else {
        return;
    };
    use sea_orm::ConnectionTrait as _;

    a.signup("10.0.0.1", "ada@example.com").await;
    let db = sea_orm::Database::connect(database.url()).await.unwrap();
    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    // The counters' table is out of reach; everything else works.
    db.execute_unprepared(&rename("rate_limit_counters", "counters_away"))
        .await
        .unwrap();
    let login = a.login("10.9.0.1", "ada@example.com", PASSWORD).await;
    assert_eq!(error_code(&login), "INTERNAL_SERVER_ERROR", "{login}");
    assert!(login["data"].is_null(), "no tokens: {login}");
    let forgot = a.forgot_password("10.9.0.1", "ada@example.com").await;
    assert_eq!(error_code(&forgot), "INTERNAL_SERVER_ERROR", "{forgot}");

    db.execute_unprepared(&rename("counters_away", "rate_limit_counters"))
        .await
        .unwrap();
    let login = a.login("10.9.0.1", "ada@example.com", PASSWORD).await;
    assert!(login["data"]["login"].is_object(), "{login}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_on_one_instance_holds_on_the_other_at_once() {
    let Some((_database, a, b, _smtp)) = two_instances(&[]).await else {
        return;
    };

    // Logout on A ends the session on B.
    let (access, refresh) = a.signup("10.0.0.1", "ada@example.com").await;
    assert_eq!(
        b.me(&access).await["data"]["me"]["email"],
        "ada@example.com"
    );
    a.operation("10.0.0.1", None, &LOGOUT, json!({"refreshToken": refresh}))
        .await;
    assert_eq!(
        error_code(&a.me(&access).await),
        "UNAUTHENTICATED",
        "at once where it happened"
    );
    refused_on(&b, &access).await;

    // A password change on A ends the other sessions on B.
    let (mine, _) = tokens(
        &a.login("10.0.0.2", "ada@example.com", PASSWORD).await,
        "login",
    );
    let (other, _) = tokens(
        &b.login("10.0.0.3", "ada@example.com", PASSWORD).await,
        "login",
    );
    let changed = a
        .operation(
            "10.0.0.2",
            Some(&mine),
            &UPDATE_ME,
            json!({"input": {"newPassword": "an entirely new passphrase", "currentPassword": PASSWORD}}),
        )
        .await;
    assert_eq!(
        changed["data"]["updateMe"]["email"], "ada@example.com",
        "{changed}"
    );
    refused_on(&b, &other).await;
    assert_eq!(
        b.me(&mine).await["data"]["me"]["email"],
        "ada@example.com",
        "the caller's session stays"
    );

    // deleteMe on A ends everything on B.
    let deleted = a
        .operation(
            "10.0.0.2",
            Some(&mine),
            &DELETE_ME,
            json!({"password": "an entirely new passphrase"}),
        )
        .await;
    assert_eq!(deleted["data"]["deleteMe"], true, "{deleted}");
    refused_on(&b, &mine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_demotion_on_one_instance_holds_on_the_other_at_once() {
    let Some((database, a, b, _smtp)) = two_instances(&[]).await else {
        return;
    };
    let root = {
        let app_db = sea_orm::Database::connect(database.url()).await.unwrap();
        latchkey::accounts::admin::bootstrap::ensure_superadmin(
            &app_db,
            &latchkey::audit::AuditLog::new(latchkey::webhooks::WebhookQueue::disabled()),
            &latchkey::auth::password::PasswordHasher::new(
                latchkey::auth::password::PasswordHasher::default_params(),
                1,
            )
            .unwrap(),
            latchkey::accounts::domain::PasswordPolicy::default(),
            latchkey::accounts::domain::Email::parse("root@example.com").unwrap(),
            None,
            || Ok(PASSWORD.to_owned()),
        )
        .await
        .unwrap();
        tokens(
            &a.login("10.0.0.1", "root@example.com", PASSWORD).await,
            "login",
        )
        .0
    };
    let created = a
        .graphql(
            Some(&root),
            "mutation($input: CreateUserInput!) { createUser(input: $input) { id } }",
            json!({"input": {"email": "admin@example.com", "password": PASSWORD, "roles": ["admin"]}}),
        )
        .await;
    let admin_id = created["data"]["createUser"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (admin, _) = tokens(
        &b.login("10.0.0.2", "admin@example.com", PASSWORD).await,
        "login",
    );
    let list = "{ users { totalCount } }";
    assert_eq!(
        b.graphql(Some(&admin), list, json!({})).await["data"]["users"]["totalCount"],
        2
    );

    let demoted = a
        .graphql(
            Some(&root),
            "mutation($id: ID!) { updateUser(id: $id, input: { roles: [] }) { roles } }",
            json!({"id": admin_id}),
        )
        .await;
    assert_eq!(
        demoted["data"]["updateUser"]["roles"],
        json!([]),
        "{demoted}"
    );
    refused_on(&b, &admin).await;
    let (again, _) = tokens(
        &b.login("10.0.0.2", "admin@example.com", PASSWORD).await,
        "login",
    );
    assert_eq!(
        error_code(&b.graphql(Some(&again), list, json!({})).await),
        "FORBIDDEN"
    );
}

/// Polls `instance` until it refuses `token`. Instances remember a live session for at most one
/// second (`session_cache::TTL`), so the refusal comes within about a second; the generous
/// deadline keeps a loaded machine from failing the test, and the time taken is printed.
async fn refused_on(instance: &Instance, token: &str) {
    let started = tokio::time::Instant::now();
    loop {
        let body = instance.me(token).await;
        if body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" {
            println!(
                "revocation seen by the other instance after {:?}",
                started.elapsed()
            );
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the other instance still accepts the token: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_fails_closed_and_heals_by_itself() {
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await;
    let (proxy, cut) = TcpCut::start(database.url()).await;
    let smtp = SmtpSink::start().await;
    let instance = Instance::start(&proxy, &smtp, &["--database-timeout", "2s"]).await;
    let (access, _) = instance.signup("10.0.0.1", "ada@example.com").await;

    cut.send(true).unwrap();
    let login = instance
        .login("10.0.0.2", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(
        error_code(&login),
        "INTERNAL_SERVER_ERROR",
        "never tokens during an outage: {login}"
    );
    assert!(login["data"].is_null());
    assert_eq!(
        error_code(&instance.me(&access).await),
        "INTERNAL_SERVER_ERROR",
        "fails closed, not anonymous"
    );
    let ready = reqwest::get(format!("http://{}/readyz", instance.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    cut.send(false).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body = instance
            .login("10.0.0.3", "ada@example.com", PASSWORD)
            .await;
        if body["data"]["login"].is_object() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still failing after the database came back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        instance.me(&access).await["data"]["me"]["email"],
        "ada@example.com"
    );
}

/// A TCP forwarder to the database that the test can cut (every connection dropped, new ones
/// refused) and restore: a network outage without touching the shared server.
struct TcpCut;

impl TcpCut {
    /// Returns the database URL through the forwarder and the switch (`true` = cut).
    async fn start(database_url: &str) -> (String, watch::Sender<bool>) {
        let without_scheme = database_url.strip_prefix("postgres://").unwrap();
        let (credentials, rest) = without_scheme.split_once('@').unwrap();
        let (target, database) = rest.split_once('/').unwrap();
        let target = target.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (switch, cut) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if *cut.borrow() {
                    continue; // dropped at once
                }
                let target = target.clone();
                let mut cut = cut.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        (
            format!("postgres://{credentials}@127.0.0.1:{port}/{database}"),
            switch,
        )
    }
}
