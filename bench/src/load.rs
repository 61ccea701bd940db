//! The load driver: a fixed number of HTTP/1.1 keep-alive connections, each sending its next
//! request as soon as the previous answer is read (a closed loop), for a warm-up and then a
//! measured period. It shares the machine with the server, so it stays cheap: raw hyper
//! connections, request bodies shared rather than copied, and one latency histogram per
//! connection merged at the end instead of a shared lock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::Result;

/// Latencies are recorded in microseconds, up to a minute, to 3 significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;

/// How one scenario's requests look and what counts as a success.
pub trait Workload: Send + Sync + 'static {
    /// Builds connection `conn`'s next request.
    fn request(&self, conn: &mut ConnState) -> Request<Full<Bytes>>;

    /// Judges an answer: a success is HTTP 200 without GraphQL `errors`. A workload may also
    /// keep from the body what its next request needs (the refresh chain does).
    fn check(&self, _conn: &mut ConnState, status: StatusCode, body: &[u8]) -> bool {
        is_success(status, body)
    }
}

pub fn is_success(status: StatusCode, body: &[u8]) -> bool {
    const ERRORS: &[u8] = b"\"errors\"";
    status == StatusCode::OK && !body.windows(ERRORS.len()).any(|w| w == ERRORS)
}

/// What a connection carries from one request to the next.
#[derive(Debug, Default)]
pub struct ConnState {
    /// This connection's number, 0-based.
    pub index: usize,
    /// Requests this connection has sent so far.
    pub sent: u64,
    /// A value the workload threads through the connection's requests (a refresh token).
    pub carry: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What the measured period saw.
pub struct Outcome {
    /// Answers completed during the measured period, successes and errors alike.
    pub completed: u64,
    pub errors: u64,
    pub latencies: Histogram<u64>,
    pub duration: Duration,
}

impl Outcome {
    pub fn successes_per_second(&self) -> f64 {
        (self.completed - self.errors) as f64 / self.duration.as_secs_f64()
    }

    pub fn quantile(&self, q: f64) -> Duration {
        Duration::from_micros(self.latencies.value_at_quantile(q))
    }
}

/// Opens the connections a plan needs, before any measurement starts, so that the warm-up
/// and the measured period see only keep-alive requests.
pub async fn connect(addr: SocketAddr, plan: &Plan) -> Result<Vec<Connection>> {
    let mut connections = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        connections.push(Connection::open(addr).await?);
    }
    Ok(connections)
}

/// Runs `workload` over already open `connections` for the plan's warm-up and duration.
pub async fn run(
    addr: SocketAddr,
    connections: Vec<Connection>,
    workload: Arc<dyn Workload>,
    plan: Plan,
) -> Result<Outcome> {
    let measure_from = Instant::now() + plan.warmup;
    let until = measure_from + plan.duration;
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(index, connection)| {
            let workload = Arc::clone(&workload);
            let state = ConnState {
                index,
                ..ConnState::default()
            };
            tokio::spawn(drive(
                addr,
                connection,
                workload,
                state,
                measure_from,
                until,
            ))
        })
        .collect();
    let mut outcome = Outcome {
        completed: 0,
        errors: 0,
        latencies: new_histogram(),
        duration: plan.duration,
    };
    for task in tasks {
        let tally = task.await?;
        outcome.completed += tally.completed;
        outcome.errors += tally.errors;
        outcome.latencies.add(&tally.latencies)?;
    }
    Ok(outcome)
}

struct Tally {
    completed: u64,
    errors: u64,
    latencies: Histogram<u64>,
}

/// One connection's closed loop. Requests still in flight at the end are abandoned; answers
/// are counted when they complete inside the measured period, whenever they were sent.
async fn drive(
    addr: SocketAddr,
    mut connection: Connection,
    workload: Arc<dyn Workload>,
    mut state: ConnState,
    measure_from: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally {
        completed: 0,
        errors: 0,
        latencies: new_histogram(),
    };
    let deadline = tokio::time::sleep_until(until);
    tokio::pin!(deadline);
    loop {
        let request = workload.request(&mut state);
        state.sent += 1;
        let sent = Instant::now();
        let answer = tokio::select! {
            answer = connection.exchange(request) => answer,
            () = &mut deadline => return tally,
        };
        let done = Instant::now();
        let ok = match &answer {
            Ok((status, body)) => workload.check(&mut state, *status, body),
            Err(_) => false,
        };
        if done >= measure_from {
            tally.completed += 1;
            tally.errors += u64::from(!ok);
            let micros = u64::try_from((done - sent).as_micros()).unwrap_or(u64::MAX);
            tally
                .latencies
                .saturating_record(micros.min(MAX_LATENCY_US));
        }
        if answer.is_err() {
            // The server closed the connection (or it broke): open a new one and go on.
            match Connection::open(addr).await {
                Ok(fresh) => connection = fresh,
                Err(_) => {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(50)) => {}
                        () = &mut deadline => return tally,
                    }
                }
            }
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// One HTTP/1.1 keep-alive connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        // Small requests and answers: Nagle would only add delay.
        stream.set_nodelay(true)?;
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = driver.await;
        });
        Ok(Self { sender })
    }

    /// Sends one request and reads the whole answer.
    pub async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}
