//! Serving HTTP/1.1: an accept loop that bounds how many connections are open (refusing the rest
//! with a 503), cuts slow headers and idle connections, and stops gracefully (docs/security.md).

mod clock;
mod connection;
mod open_files;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

pub use open_files::{DEFAULT_MAX_CONNECTIONS, max_connections_for, raise_open_file_limit};

/// What a connection taken over by an upgrade (a WebSocket) keeps of the connection it was:
/// its place under the connection bound, and the signal that the server is stopping. Found in
/// every request's extensions; hold it for as long as the upgraded connection lives.
#[derive(Clone)]
pub struct ConnectionHold {
    _slot: Arc<tokio::sync::OwnedSemaphorePermit>,
    /// Changes once the server stops; the upgraded connection should then close.
    pub stop: watch::Receiver<()>,
}

/// How many connections may be open, and how long each may take over its requests' headers
/// and sit idle between requests.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Refusals being written at once; past this, connections over the bound are just closed.
const REFUSALS_AT_ONCE: usize = 64;
/// How long a refusal may take, its read of what the client sent after it included.
const REFUSAL_TIME: Duration = Duration::from_secs(1);
/// The pause after an accept error that is not the client's, such as running out of
/// descriptors, so that the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets every
/// connection finish the request in hand, and returns once all are closed.
pub async fn serve<F>(listener: TcpListener, router: Router, limits: ConnectionLimits, shutdown: F)
where
    F: Future<Output = ()>,
{
    let open_slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusal_slots = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let (stop_connections, stop) = watch::channel(());
    let mut refusing = false;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                pause_after_accept_error(&error).await;
                continue;
            }
        };
        if let Ok(slot) = Arc::clone(&open_slots).try_acquire_owned() {
            refusing = false;
            tokio::spawn(connection::serve_connection(
                stream,
                peer,
                router.clone(),
                limits,
                stop.clone(),
                slot,
            ));
        } else {
            if !refusing {
                // Once per spell at the bound, not once per refused client.
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "at the connection bound: refusing new connections with 503 until some close"
                );
                refusing = true;
            }
            refuse(stream, &refusal_slots);
        }
    }
    drop(listener);
    stop_connections.send_replace(());
    drop(stop);
    // Every connection holds a receiver until it has closed.
    stop_connections.closed().await;
}

async fn pause_after_accept_error(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    // These concern one client that gave up before it was accepted.
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed; trying again shortly");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// Answers a connection over the bound with 503 and `Retry-After`, then closes it. The client's
/// request is read and dropped until it closes its side (at most [`REFUSAL_TIME`]), since
/// closing with unread input would reset the connection before the client reads the answer.
fn refuse(mut stream: TcpStream, refusal_slots: &Arc<Semaphore>) {
    let Ok(slot) = Arc::clone(refusal_slots).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _slot = slot;
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            stream.write_all(&refusal()).await?;
            stream.shutdown().await?;
            let mut discard = [0u8; 1024];
            while stream.read(&mut discard).await? > 0 {}
            Ok::<_, io::Error>(())
        })
        .await;
    });
}

/// The 503 for a connection over the bound, with the headers every response carries.
fn refusal() -> Vec<u8> {
    let body = r#"{"errors":[{"message":"The server is at its connection limit. Try again in a moment."}]}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {}\r\n\
         Retry-After: 1\r\n\
         Cache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\n\
         X-Request-Id: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len(),
        uuid::Uuid::new_v4(),
    )
    .into_bytes()
}
