//! One client connection: HTTP/1.1 through the router, with the client's address for the
//! handlers, cut when its clock expires, and closed gracefully when the server stops.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tower::ServiceExt as _;

use super::clock::{ConnectionClock, Watched};
use super::{ConnectionHold, ConnectionLimits};

/// Serves `stream` until the client leaves, the connection's clock expires, or `stop` fires
/// and the request in hand (if any) is answered. `slot` is its place under the connection
/// bound, given back when this returns and no WebSocket made of it is still open.
pub(super) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<()>,
    slot: OwnedSemaphorePermit,
) {
    // Shared with a WebSocket this connection may become, which outlives this function.
    let hold = ConnectionHold {
        _slot: Arc::new(slot),
        stop: stop.clone(),
    };
    let clock = Arc::new(ConnectionClock::new(
        limits.header_timeout,
        limits.idle_timeout,
    ));
    let io = TokioIo::new(Watched::new(stream, Arc::clone(&clock)));
    let requests_clock = Arc::clone(&clock);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // What `ConnectInfo<SocketAddr>` extracts in the handlers.
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(hold.clone());
        let handling = requests_clock.request_started();
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            drop(handling);
            response
        }
    });
    let connection = http1::Builder::new()
        // The clock times headers from their first byte. Hyper's own timer would start when it
        // waits for a request, and so also cut idle keep-alive connections at the header timeout.
        .header_read_timeout(None)
        .serve_connection(io, service)
        // A WebSocket upgrade hands the connection over; this future then completes.
        .with_upgrades();
    tokio::pin!(connection);

    let mut stopping = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "a client connection ended with an error");
                }
                return;
            }
            () = clock.expired() => {
                tracing::debug!("closed a client connection that sat idle or sent its headers too slowly");
                return;
            }
            _ = stop.changed(), if !stopping => {
                // Closes at once when idle, else after the response in progress.
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}
