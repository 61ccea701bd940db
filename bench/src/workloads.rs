//! The GraphQL requests of each scenario (the documents of [`crate::operations`]), and the login
//! pool that hands out tokens.
//!
//! latchkey throttles per client address (login 30/min, signup and forgotPassword 20/h) and
//! forgotPassword also per email (5/h). The server trusts loopback as a proxy in the benchmark,
//! so every throttled request carries its own `X-Forwarded-For` from a counter over 10.0.0.0/8,
//! and forgotPassword walks the seeded emails so that none is asked for more than 5 times.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, StatusCode};

use crate::Result;
use crate::credentials::PASSWORD;
use crate::load::{ConnState, Connection, Workload, is_success};
use crate::operations;
use crate::seed::user_email;

/// One counter for the whole run: a client address is never reused, even across scenarios
/// that follow each other within the login limit's minute.
static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);
/// Numbers new accounts and picks seeded ones.
static NEXT_ACCOUNT: AtomicU64 = AtomicU64::new(0);

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const HOST_VALUE: HeaderValue = HeaderValue::from_static("127.0.0.1");

/// A prime multiplier: `n * SPREAD mod users` visits every user once per `users` requests in
/// a scattered order, so consecutive requests hit different parts of the table's index.
const SPREAD: u128 = 2_654_435_761;

fn spread(n: u64, users: u64) -> u64 {
    u64::try_from(u128::from(n) * SPREAD % u128::from(users)).expect("below users")
}

fn next_client() -> HeaderValue {
    let n = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
    let address = format!("10.{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff);
    HeaderValue::try_from(address).expect("an IPv4 address is a valid header value")
}

/// A GraphQL POST, with the headers a real client sends.
fn post() -> hyper::http::request::Builder {
    Request::post("/graphql")
        .header(HOST, HOST_VALUE)
        .header(CONTENT_TYPE, JSON)
}

fn throttled_post(body: Bytes) -> Request<Full<Bytes>> {
    post()
        .header("x-forwarded-for", next_client())
        .body(Full::new(body))
        .expect("a valid request")
}

/// `me` with a valid token, spread over a pool of sessions.
pub struct Me {
    tokens: Vec<HeaderValue>,
    body: Bytes,
}

impl Me {
    pub fn new(access_tokens: &[String]) -> Self {
        let tokens = access_tokens
            .iter()
            .map(|token| {
                HeaderValue::try_from(format!("Bearer {token}")).expect("a token is header-safe")
            })
            .collect();
        Self {
            tokens,
            body: operations::me(),
        }
    }
}

impl Workload for Me {
    fn request(&self, conn: &mut ConnState) -> Request<Full<Bytes>> {
        // Cloning a HeaderValue and Bytes shares their bytes: no copy per request.
        let token = &self.tokens[(conn.index * 131 + conn.sent as usize) % self.tokens.len()];
        post()
            .header(AUTHORIZATION, token.clone())
            .body(Full::new(self.body.clone()))
            .expect("a valid request")
    }
}

/// The same query again and again, as one signed-in caller (an administrator listing users).
pub struct AsCaller {
    token: HeaderValue,
    body: Bytes,
}

impl AsCaller {
    pub fn new(access_token: &str, body: Bytes) -> Result<Self> {
        Ok(Self {
            token: HeaderValue::try_from(format!("Bearer {access_token}"))?,
            body,
        })
    }
}

impl Workload for AsCaller {
    fn request(&self, _conn: &mut ConnState) -> Request<Full<Bytes>> {
        post()
            .header(AUTHORIZATION, self.token.clone())
            .body(Full::new(self.body.clone()))
            .expect("a valid request")
    }
}

/// `login` with the right password, over the seeded users `0..users`.
pub struct Login {
    pub users: u64,
}

impl Workload for Login {
    fn request(&self, _conn: &mut ConnState) -> Request<Full<Bytes>> {
        let n = NEXT_ACCOUNT.fetch_add(1, Ordering::Relaxed);
        throttled_post(operations::login(
            &user_email(spread(n, self.users)),
            PASSWORD,
        ))
    }
}

/// `signup` of a new account each time.
pub struct Signup;

impl Workload for Signup {
    fn request(&self, _conn: &mut ConnState) -> Request<Full<Bytes>> {
        let n = NEXT_ACCOUNT.fetch_add(1, Ordering::Relaxed);
        let email = format!("signup-{}-{n}@example.com", std::process::id());
        throttled_post(operations::signup(&email, PASSWORD))
    }
}

/// `refreshToken`: each connection follows its own chain, presenting the token its previous
/// call returned (a stale one would be treated as theft and end the session).
pub struct Refresh {
    /// One starting refresh token per connection.
    pub starts: Vec<String>,
}

impl Workload for Refresh {
    fn request(&self, conn: &mut ConnState) -> Request<Full<Bytes>> {
        let token = conn
            .carry
            .get_or_insert_with(|| self.starts[conn.index % self.starts.len()].clone());
        post()
            .body(Full::new(operations::refresh_token(token)))
            .expect("a valid request")
    }

    fn check(&self, conn: &mut ConnState, status: StatusCode, body: &[u8]) -> bool {
        let ok = is_success(status, body);
        if let Some(next) = json_string(body, "refreshToken").filter(|_| ok) {
            conn.carry = Some(next.to_owned());
        }
        ok
    }
}

/// `forgotPassword` for seeded emails, each asked for at most once per `users` requests.
pub struct ForgotPassword {
    pub users: u64,
}

impl Workload for ForgotPassword {
    fn request(&self, _conn: &mut ConnState) -> Request<Full<Bytes>> {
        let n = NEXT_ACCOUNT.fetch_add(1, Ordering::Relaxed);
        let email = user_email(spread(n, self.users));
        throttled_post(operations::forgot_password(&email))
    }
}

/// A signed-in session of a seeded user.
pub struct Session {
    pub access: String,
    pub refresh: String,
}

/// Logs `count` seeded users in (spread over `0..users`) over a few connections and returns
/// their sessions: the tokens the `me` and `refreshToken` scenarios use.
pub async fn login_pool(
    addr: SocketAddr,
    users: u64,
    count: usize,
    connections: usize,
) -> Result<Vec<Session>> {
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let share = count / connections + usize::from(worker < count % connections);
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(addr).await?;
            let mut sessions = Vec::with_capacity(share);
            let login = Login { users };
            let mut state = ConnState::default();
            for _ in 0..share {
                let (status, body) = connection.exchange(login.request(&mut state)).await?;
                let tokens =
                    json_string(&body, "accessToken").zip(json_string(&body, "refreshToken"));
                match tokens {
                    Some((access, refresh)) if is_success(status, &body) => {
                        sessions.push(Session {
                            access: access.to_owned(),
                            refresh: refresh.to_owned(),
                        })
                    }
                    _ => {
                        return Err(format!(
                            "a login for the token pool failed ({status}): {}",
                            String::from_utf8_lossy(&body)
                        )
                        .into());
                    }
                }
            }
            Ok::<_, crate::Error>(sessions)
        }));
    }
    let mut sessions = Vec::with_capacity(count);
    for task in tasks {
        sessions.extend(task.await??);
    }
    Ok(sessions)
}

/// Logs `email` in with [`PASSWORD`] and returns its access token.
pub async fn sign_in(addr: SocketAddr, email: &str) -> Result<String> {
    let mut connection = Connection::open(addr).await?;
    let (status, body) = connection
        .exchange(throttled_post(operations::login(email, PASSWORD)))
        .await?;
    match json_string(&body, "accessToken") {
        Some(access) if is_success(status, &body) => Ok(access.to_owned()),
        _ => Err(format!(
            "logging {email} in failed ({status}): {}",
            String::from_utf8_lossy(&body)
        )
        .into()),
    }
}

/// The value of the first `"name":"value"` in a JSON body. Tokens are base64url and JWTs, which
/// JSON never escapes, so a plain search is exact here and far cheaper than parsing.
pub fn json_string<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(body).ok()?;
    let key = format!("\"{name}\":\"");
    let start = text.find(&key)? + key.len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreading_visits_every_user_once_per_round() {
        let mut seen: Vec<u64> = (0..1000).map(|n| spread(n, 1000)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn tokens_are_found_in_an_answer() {
        let body = br#"{"data":{"login":{"accessToken":"a.b.c","refreshToken":"xyz","tokenType":"Bearer","expiresIn":900,"user":{"id":"1","email":"user1@example.com","name":null}}}}"#;
        assert_eq!(json_string(body, "accessToken"), Some("a.b.c"));
        assert_eq!(json_string(body, "refreshToken"), Some("xyz"));
        assert!(is_success(StatusCode::OK, body));
        // The operation's own key holds an object, not the token.
        let rotated =
            br#"{"data":{"refreshToken":{"accessToken":"d.e.f","refreshToken":"next","expiresIn":900}}}"#;
        assert_eq!(json_string(rotated, "refreshToken"), Some("next"));
        assert!(!is_success(StatusCode::OK, br#"{"data":null,"errors":[]}"#));
    }
}
