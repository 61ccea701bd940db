//! Subscriptions over WebSocket on `GET /graphql`: the upgrade, refused past the per-address
//! bound, and the connection that follows (`connection`), under the limits of docs/security.md.

mod connection;
mod per_address;
mod protocol;

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql_axum::GraphQLProtocol;
use axum::extract::{FromRequestParts as _, Request, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde_json::json;

pub use self::per_address::OpenPerAddress;
use super::AppState;
use super::server::ConnectionHold;
use crate::throttle::ClientAddr;

/// The one WebSocket subprotocol served (the `graphql-ws` package's). The older protocol of
/// the same name `graphql-ws` is refused: it has no close codes for a refused sign-in.
pub const SUBPROTOCOL: &str = "graphql-transport-ws";
/// WebSocket connections one client address may hold open.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 50;
/// Subscriptions one connection may hold at once.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 10;
/// The largest message (and frame) a client may send, as for a request body.
pub const MAX_MESSAGE_BYTES: usize = super::MAX_BODY_BYTES;
/// A connection not signed in (`connection_init` acknowledged) by then is closed with 4408.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `headers` ask to turn the request into a WebSocket.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("websocket"))
}

/// Upgrades `request` to a GraphQL WebSocket connection, or says why not.
pub async fn upgrade(state: &AppState, peer: SocketAddr, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !offers_subprotocol(&parts.headers) {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Subscriptions are served over WebSocket with the graphql-transport-ws protocol (Sec-WebSocket-Protocol: graphql-transport-ws).",
        );
    }
    // Only the protocol served, whatever else the client offered: the extractor takes the first
    // one it knows.
    parts.headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, state).await {
        Ok(protocol) => protocol,
        Err(status) => return status.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let client = ClientAddr::resolve(peer, &parts.headers, &state.trusted_proxies);
    let Some(address_slot) = state.live.try_open(client, MAX_CONNECTIONS_PER_ADDRESS) else {
        let mut response = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Too many WebSocket connections from your address. Close some and try again.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return response;
    };
    let live = connection::Live {
        schema: state.schemas.for_subscriptions().clone(),
        accounts: state.accounts.clone(),
        protocol,
        hold: parts.extensions.get::<ConnectionHold>().cloned(),
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        address_slot,
    };
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| connection::serve(socket, live))
}

fn offers_subprotocol(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|offered| offered.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// An upgrade refused, in the shape of a GraphQL error.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.to_string(),
    )
        .into_response()
}
