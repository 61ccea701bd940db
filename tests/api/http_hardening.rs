//! The HTTP surface under attack (docs/security.md): body limits also for chunked bodies, slow,
//! idle and too many connections, methods and content types that would allow CSRF, CORS, the
//! playground switch and the headers every response carries.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::operations::{LOGIN, REFRESH_TOKEN, SIGNUP};
use crate::helpers::{PASSWORD, TestApp, assert_no_errors, spawn_app, spawn_app_with_args};

const APP_ORIGIN: &str = "https://app.example.com";
const EVIL_ORIGIN: &str = "https://evil.example";

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connects")
}

/// Reads until the peer closes or the response head and `Content-Length` bytes are in, at most
/// `deadline`. Returns what came, as text.
async fn read_response(stream: &mut TcpStream, deadline: Duration) -> String {
    let mut received = Vec::new();
    let _ = tokio::time::timeout(deadline, async {
        let mut buffer = [0u8; 8192];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
            if is_complete(&received) {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&received).into_owned()
}

fn is_complete(received: &[u8]) -> bool {
    let text = String::from_utf8_lossy(received);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    length.is_some_and(|length| body.len() >= length)
}

fn status_of(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {response:?}"))
}

fn has_header(response: &str, name: &str) -> bool {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().skip(1).any(|line| {
        line.split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
    })
}

// ----- body size and slow clients -----

#[tokio::test]
async fn a_chunked_body_over_64_kib_is_refused_with_413() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let head = "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();

    // No Content-Length: the server only learns the size by reading. 80 KiB in 8 KiB chunks.
    let chunk = format!(
        "{{\"query\":\"{{ __typename {} }}\"}}",
        " ".repeat(8 * 1024)
    );
    for _ in 0..10 {
        let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        if stream.write_all(framed.as_bytes()).await.is_err() {
            break; // The server may answer and close before the rest is sent.
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;

    let response = read_response(&mut stream, Duration::from_secs(30)).await;
    assert_eq!(status_of(&response), 413, "{response}");
    assert!(response.contains(r#""code":"BAD_REQUEST""#), "{response}");
    assert!(has_header(&response, "x-request-id"), "{response}");
}

#[tokio::test]
async fn a_chunked_body_under_the_limit_is_served() {
    // The control for the test above: chunked bodies as such are fine.
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let body = r#"{"query":"{ __typename }"}"#;
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();

    let response = read_response(&mut stream, Duration::from_secs(30)).await;

    assert_eq!(status_of(&response), 200, "{response}");
    assert!(response.contains("\"Query\""), "{response}");
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_is_cut_off_with_408_and_blocks_no_one() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let head = "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Content-Length: 1000\r\n\r\n{\"query\":";
    stream.write_all(head.as_bytes()).await.unwrap();

    // While it stalls, everyone else is served.
    assert_no_errors(&app.graphql("{ __typename }", json!({})).await);

    let response = read_response(&mut stream, Duration::from_secs(30)).await;
    assert_eq!(status_of(&response), 408, "{response}");
    assert!(has_header(&response, "x-request-id"), "{response}");
}

// ----- slow, idle and too many connections -----

const HEALTH_REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Whether the server closes the connection within `deadline`, reading and discarding whatever
/// it sends first.
async fn closed_within<R: tokio::io::AsyncRead + Unpin>(
    stream: &mut R,
    deadline: Duration,
) -> bool {
    let closed = tokio::time::timeout(deadline, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.is_ok()
}

/// One keep-alive `GET /healthz` on `stream`, asserting 200.
async fn healthz_on(stream: &mut TcpStream) {
    stream.write_all(HEALTH_REQUEST).await.unwrap();
    let response = read_response(stream, Duration::from_secs(10)).await;
    assert_eq!(status_of(&response), 200, "{response}");
}

#[tokio::test]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_cut_off_at_the_header_timeout() {
    let app = spawn_app_with_args(&["--header-timeout", "1s"]).await;
    let (mut reader, mut writer) = connect(&app).await.into_split();
    // About a minute's worth of header at ten bytes a second.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(600)
    );
    let dribble = tokio::spawn(async move {
        for byte in head.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();

    let closed = closed_within(&mut reader, Duration::from_secs(10)).await;

    dribble.abort();
    assert!(
        closed,
        "the connection was still open after {:?}",
        started.elapsed()
    );
    // Everyone else is served meanwhile and afterwards.
    assert_no_errors(&app.graphql("{ __typename }", json!({})).await);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with_args(&["--idle-timeout", "2s"]).await;
    let mut stream = connect(&app).await;
    // Kept alive while in use: two requests on one connection.
    healthz_on(&mut stream).await;
    healthz_on(&mut stream).await;

    assert!(closed_within(&mut stream, Duration::from_secs(15)).await);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_not_cut_by_the_shorter_header_timeout() {
    // A reverse proxy keeps idle connections to its upstream for a minute or so; closing them
    // sooner makes it send requests into connections being closed.
    let app = spawn_app_with_args(&["--header-timeout", "1s", "--idle-timeout", "60s"]).await;
    let mut stream = connect(&app).await;
    healthz_on(&mut stream).await;

    tokio::time::sleep(Duration::from_secs(3)).await;

    healthz_on(&mut stream).await;
}

#[tokio::test]
async fn past_the_connection_bound_a_client_gets_503_with_retry_after_and_is_served_once_others_leave()
 {
    let app = spawn_app_with_args(&["--max-connections", "2"]).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        healthz_on(&mut stream).await;
        held.push(stream);
    }

    let mut refused = connect(&app).await;
    let _ = refused.write_all(HEALTH_REQUEST).await;
    let response = read_response(&mut refused, Duration::from_secs(10)).await;
    assert_eq!(status_of(&response), 503, "{response}");
    assert!(has_header(&response, "retry-after"), "{response}");
    assert!(closed_within(&mut refused, Duration::from_secs(10)).await);
    // The held connections are still served.
    healthz_on(&mut held[0]).await;

    drop(held);
    // The server notices the closes asynchronously: a new client is served within moments.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = connect(&app).await;
        let _ = stream.write_all(HEALTH_REQUEST).await;
        let response = read_response(&mut stream, Duration::from_secs(10)).await;
        if response.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {response}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ----- methods and content types (CSRF) -----

#[tokio::test]
async fn a_mutation_over_get_is_refused_with_405_allow_post_and_does_not_run() {
    let app = spawn_app().await;
    let signup = format!(
        "mutation M {{ signup(input: {{ email: \"ada@example.com\", password: \"{PASSWORD}\" }}) {{ accessToken }} }}"
    );
    let mixed = format!("query Q {{ __typename }} {signup}");

    for params in [
        vec![("query", signup.clone())],
        vec![("query", mixed.clone()), ("operationName", "M".to_owned())],
        vec![("query", mixed.clone())],
    ] {
        let response = app
            .client
            .get(app.url("/graphql"))
            .query(&params)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{params:?}");
        assert_eq!(response.headers()["allow"], "POST", "{params:?}");
        crate::helpers::assert_error(&response.json().await.unwrap(), "BAD_REQUEST");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn posts_without_a_json_content_type_are_refused_with_415_and_do_not_run() {
    let app = spawn_app().await;
    let body = SIGNUP
        .request(json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }))
        .to_string();

    let no_content_type = app
        .send(Method::POST, "/graphql", &[], Some(body.clone()))
        .await;
    assert_eq!(no_content_type.status, 415);
    for content_type in [
        "text/plain;charset=UTF-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "text/json",
    ] {
        let response = app
            .send(
                Method::POST,
                "/graphql",
                &[("Content-Type", content_type)],
                Some(body.clone()),
            )
            .await;
        assert_eq!(response.status, 415, "Content-Type: {content_type}");
        crate::helpers::assert_error(&response.json(), "BAD_REQUEST");
    }

    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, 0);
    // `application/json` with parameters is JSON.
    let response = app
        .send(
            Method::POST,
            "/graphql",
            &[("Content-Type", "application/json; charset=utf-8")],
            Some(body),
        )
        .await;
    assert_eq!(response.status, 200);
    assert_no_errors(&response.json());
}

// ----- GraphiQL -----

#[tokio::test]
async fn with_graphiql_off_a_browser_gets_no_playground() {
    let app = spawn_app_with_args(&["--graphiql", "false"]).await;

    let response = app
        .send(
            Method::GET,
            "/graphql",
            &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
            None,
        )
        .await;

    assert_eq!(response.status, 404);
    assert!(
        !response.body.to_lowercase().contains("<script"),
        "{}",
        response.body
    );
    // Queries over GET still work for API clients.
    let query = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200);
}

// ----- CORS -----

async fn preflight(app: &TestApp, origin: &str) -> crate::helpers::HttpResponse {
    app.send(
        Method::OPTIONS,
        "/graphql",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization,content-type",
            ),
        ],
        None,
    )
    .await
}

async fn cross_origin_post(app: &TestApp, origin: &str) -> crate::helpers::HttpResponse {
    app.send(
        Method::POST,
        "/graphql",
        &[("Origin", origin), ("Content-Type", "application/json")],
        Some(json!({ "query": "{ __typename }" }).to_string()),
    )
    .await
}

/// Neither a preflight nor a POST from `origin` is granted.
async fn assert_no_cors_grant(app: &TestApp, origin: &str) {
    let response = preflight(app, origin).await;
    assert_eq!(
        response.header("access-control-allow-origin"),
        None,
        "preflight from {origin}"
    );
    let response = cross_origin_post(app, origin).await;
    assert_eq!(
        response.header("access-control-allow-origin"),
        None,
        "POST from {origin}"
    );
}

#[tokio::test]
async fn by_default_no_origin_is_granted_cors() {
    let app = spawn_app().await;

    for origin in [APP_ORIGIN, EVIL_ORIGIN, "null"] {
        assert_no_cors_grant(&app, origin).await;
    }
}

#[tokio::test]
async fn only_configured_origins_are_granted_cors() {
    let app = spawn_app_with_args(&["--cors-origins", APP_ORIGIN]).await;

    let allowed = preflight(&app, APP_ORIGIN).await;
    assert!(allowed.status < 300, "{allowed:?}");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    let methods = allowed
        .header("access-control-allow-methods")
        .unwrap_or_default()
        .to_uppercase();
    assert!(methods.contains("POST"), "{allowed:?}");
    assert_eq!(
        cross_origin_post(&app, APP_ORIGIN)
            .await
            .header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );

    for origin in [
        EVIL_ORIGIN,
        "null",
        "https://app.example.com.evil.example",
        "https://evil-app.example.com",
        "http://app.example.com",
        "https://app.example.com:8443",
    ] {
        assert_no_cors_grant(&app, origin).await;
    }
}

// ----- headers -----

#[tokio::test]
async fn every_response_carries_nosniff_and_a_request_id_whatever_its_status() {
    let app = spawn_app().await;
    let big = " ".repeat(70 * 1024);
    let json_type = ("Content-Type", "application/json");

    let responses = [
        app.send(Method::GET, "/healthz", &[], None).await,
        app.send(Method::GET, "/no-such-path", &[], None).await,
        app.send(
            Method::POST,
            "/graphql",
            &[json_type],
            Some(json!({ "query": "{ __typename }" }).to_string()),
        )
        .await,
        app.send(Method::POST, "/graphql", &[json_type], Some("{".into()))
            .await,
        app.send(
            Method::POST,
            "/graphql",
            &[("Content-Type", "text/plain")],
            Some("{}".into()),
        )
        .await,
        app.send(
            Method::POST,
            "/graphql",
            &[json_type],
            Some(format!(r#"{{"query":"{{ __typename {big} }}"}}"#)),
        )
        .await,
        app.send(
            Method::GET,
            "/graphql?query=mutation%20%7B%20logout(refreshToken%3A%20%22x%22)%20%7D",
            &[("Accept", "application/json")],
            None,
        )
        .await,
        app.send(Method::DELETE, "/graphql", &[], None).await,
        app.send(Method::GET, "/graphql", &[("Accept", "text/html")], None)
            .await,
    ];

    let mut statuses = Vec::new();
    let mut ids = Vec::new();
    for response in &responses {
        statuses.push(response.status);
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{response:?}"
        );
        let id = response
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id: {response:?}"));
        assert!(!id.is_empty());
        ids.push(id.to_owned());
    }
    assert_eq!(statuses, [200, 404, 200, 400, 415, 413, 405, 405, 200]);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "request ids repeat: {ids:?}");
}

#[tokio::test]
async fn responses_that_carry_tokens_are_never_cached() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let json_type = ("Content-Type", "application/json");

    let login = app
        .send(
            Method::POST,
            "/graphql",
            &[json_type],
            Some(
                LOGIN
                    .request(
                        json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
                    )
                    .to_string(),
            ),
        )
        .await;
    let refresh = app
        .send(
            Method::POST,
            "/graphql",
            &[json_type],
            Some(
                REFRESH_TOKEN
                    .request(json!({ "refreshToken": account.refresh_token }))
                    .to_string(),
            ),
        )
        .await;
    let bearer = format!("Bearer {}", account.access_token);
    let me_over_get = app
        .send(
            Method::GET,
            "/graphql?query=%7Bme%7Bemail%7D%7D",
            &[("Accept", "application/json"), ("Authorization", &bearer)],
            None,
        )
        .await;

    for (case, response) in [
        ("login", &login),
        ("refresh", &refresh),
        ("me over GET", &me_over_get),
    ] {
        assert_eq!(response.status, 200, "{case}: {response:?}");
        assert_no_errors(&response.json());
        let cache_control = response.header("cache-control").unwrap_or_default();
        assert!(cache_control.contains("no-store"), "{case}: {response:?}");
    }
}

#[tokio::test]
async fn the_playground_page_is_locked_down_by_its_content_security_policy() {
    let app = spawn_app().await;

    let response = app
        .send(Method::GET, "/graphql", &[("Accept", "text/html")], None)
        .await;

    assert_eq!(response.status, 200);
    let policy = response
        .header("content-security-policy")
        .expect("a Content-Security-Policy");
    assert!(policy.contains("default-src"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
}

#[tokio::test]
async fn a_client_cannot_choose_the_request_id_that_goes_into_the_logs() {
    let app = spawn_app().await;
    let response = app
        .send(
            reqwest::Method::GET,
            "/healthz",
            &[("x-request-id", "forged-id-pointing-elsewhere")],
            None,
        )
        .await;
    let id = response.header("x-request-id").expect("an id is returned");
    assert_ne!(id, "forged-id-pointing-elsewhere");
    assert!(!id.is_empty());
}
