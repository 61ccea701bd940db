//! One GraphQL WebSocket connection: async-graphql-axum's `GraphQLWebSocket` runs the protocol,
//! between a reader and a writer that hold it to `protocol::Rules`, the sign-in deadline, the
//! token's expiry and the server's shutdown.

use std::sync::Arc;

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chrono::Utc;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::PollSender;

use super::per_address::AddressSlot;
use super::protocol::{OutgoingMessage, Rules, Verdict, close};
use crate::accounts::Accounts;
use crate::graphql::{Authentication, LatchkeySchema, RequestId};
use crate::http::server::ConnectionHold;

/// Messages queued between the halves; a slow client holds up its own connection only.
const QUEUE: usize = 16;

/// What a connection needs, gathered at the upgrade.
pub(super) struct Live {
    pub schema: LatchkeySchema,
    pub accounts: Accounts,
    pub protocol: GraphQLProtocol,
    /// `None` only when not served by `http::server` (it is, always, in latchkey).
    pub hold: Option<ConnectionHold>,
    pub request_id: String,
    /// The connection's place under the per-address bound, held until it closes.
    pub address_slot: AddressSlot,
}

/// Serves the connection until the client leaves or the server closes it.
pub(super) async fn serve(socket: WebSocket, live: Live) {
    let Live {
        schema,
        accounts,
        protocol,
        hold,
        request_id,
        address_slot,
    } = live;
    let rules = Arc::new(Rules::default());
    let (to_client, from_client) = socket.split();
    let (to_graphql, graphql_input) = mpsc::channel::<Result<Message, axum::Error>>(QUEUE);
    let (graphql_output, from_graphql) = mpsc::channel::<Message>(QUEUE);
    let (verdicts, verdicts_rx) = mpsc::channel::<Verdict>(QUEUE);

    let mut data = Data::default();
    data.insert(RequestId(request_id));
    let init_rules = Arc::clone(&rules);
    let graphql = GraphQLWebSocket::new_with_pair(
        PollSender::new(graphql_output),
        receiver_stream(graphql_input),
        schema,
        protocol,
    )
    .with_data(data)
    .on_connection_init(move |payload| sign_in(accounts, init_rules, payload))
    .serve();
    let graphql = async move {
        graphql.await;
        // Ending drops its sender; the writer sends what is left, then returns.
        std::future::pending::<()>().await;
    };

    let stop = hold.as_ref().map(|hold| hold.stop.clone());
    tokio::select! {
        () = graphql => {}
        () = read(from_client, to_graphql, verdicts, Arc::clone(&rules)) => {}
        () = write(to_client, from_graphql, verdicts_rx, rules, stop) => {}
    }
    drop((hold, address_slot));
}

/// The `connection_init` callback: signs in with the access token of the payload's
/// `Authorization` (`Bearer <token>`, the key in any case).
async fn sign_in(
    accounts: Accounts,
    rules: Arc<Rules>,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let token = payload.as_object().and_then(|object| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.as_str())
            .and_then(crate::http::bearer::token_of)
    });
    let Some(token) = token else {
        rules.refuse(close::UNAUTHORIZED, "Unauthorized");
        return Err("Unauthorized".into());
    };
    match accounts.sign_in_connection(token).await {
        Ok(Some(signed_in)) => {
            rules.signed_in(signed_in.expires_at);
            let mut data = Data::default();
            data.insert(Authentication::Caller(signed_in.caller));
            data.insert(signed_in.seen);
            Ok(data)
        }
        Ok(None) => {
            rules.refuse(close::UNAUTHORIZED, "Unauthorized");
            Err("Unauthorized".into())
        }
        Err(error) => {
            tracing::error!(%error, "could not check the access token of a WebSocket connection");
            let reason = "The token could not be checked. Try again later.";
            rules.refuse(close::TRY_AGAIN_LATER, reason);
            Err(reason.into())
        }
    }
}

/// Reads the client's messages and passes on those the rules admit. Returns when the client
/// has gone; after a verdict that closes, reads no more.
async fn read(
    mut from_client: SplitStream<WebSocket>,
    to_graphql: mpsc::Sender<Result<Message, axum::Error>>,
    verdicts: mpsc::Sender<Verdict>,
    rules: Arc<Rules>,
) {
    while let Some(received) = from_client.next().await {
        let message = match received {
            Ok(message) => message,
            Err(error) => {
                if is_too_big(error) {
                    let reason = "A message may hold at most 64 KiB.".to_owned();
                    let _ = verdicts.send(Verdict::Close(close::TOO_BIG, reason)).await;
                    std::future::pending::<()>().await;
                }
                return;
            }
        };
        let verdict = match &message {
            Message::Text(text) => rules.admit(text.as_bytes()),
            Message::Binary(bytes) => rules.admit(bytes),
            Message::Close(_) => return,
            // Answered by the WebSocket library itself.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        match verdict {
            None => {
                if to_graphql.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            Some(verdict) => {
                let closes = matches!(verdict, Verdict::Close(..));
                if verdicts.send(verdict).await.is_err() {
                    return;
                }
                if closes {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

fn is_too_big(error: axum::Error) -> bool {
    error
        .into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|error| matches!(error, tungstenite::Error::Capacity(_)))
}

/// Writes async-graphql's messages and the reader's verdicts to the client, and closes the
/// connection when sign-in takes too long, the token expires or the server stops.
async fn write(
    mut to_client: SplitSink<WebSocket, Message>,
    mut from_graphql: mpsc::Receiver<Message>,
    mut verdicts: mpsc::Receiver<Verdict>,
    rules: Arc<Rules>,
    mut stop: Option<watch::Receiver<()>>,
) {
    let init_deadline = Instant::now() + super::INIT_TIMEOUT;
    loop {
        let signed_in_until = rules.signed_in_until();
        let deadline = signed_in_until.map_or(init_deadline, |expires_at| {
            Instant::now() + (expires_at - Utc::now()).to_std().unwrap_or_default()
        });
        let outgoing = tokio::select! {
            message = from_graphql.recv() => match message {
                Some(message) => from_async_graphql(&rules, message),
                None => return,
            },
            Some(verdict) = verdicts.recv() => match verdict {
                Verdict::Close(code, reason) => close_message(code, &reason),
                Verdict::OperationError { id, code, message } => {
                    Message::Text(Verdict::error_message(&id, code, message).into())
                }
            },
            () = tokio::time::sleep_until(deadline) => match signed_in_until {
                Some(_) => close_message(close::NORMAL, "The access token expired."),
                None => close_message(close::INIT_TIMEOUT, "Connection initialisation timeout"),
            },
            () = stopping(&mut stop) => close_message(close::GOING_AWAY, "The server is stopping."),
        };
        let closes = matches!(outgoing, Message::Close(_));
        if to_client.send(outgoing).await.is_err() || closes {
            return;
        }
    }
}

fn from_async_graphql(rules: &Rules, message: Message) -> Message {
    let outgoing = match message {
        Message::Text(text) => OutgoingMessage::Text(text.as_str().to_owned()),
        Message::Close(frame) => {
            let (code, reason) = frame.map_or((close::NORMAL, String::new()), |frame| {
                (frame.code, frame.reason.as_str().to_owned())
            });
            OutgoingMessage::Close(code, reason)
        }
        other => return other,
    };
    match rules.outgoing(outgoing) {
        OutgoingMessage::Text(text) => Message::Text(text.into()),
        OutgoingMessage::Close(code, reason) => close_message(code, &reason),
    }
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

/// Completes when the server stops (at once when not served by `http::server`: never).
async fn stopping(stop: &mut Option<watch::Receiver<()>>) {
    match stop {
        // An error means the server is gone, which is stopping too.
        Some(stop) => {
            let _ = stop.changed().await;
        }
        None => std::future::pending().await,
    }
}

fn receiver_stream<T: Send + 'static>(
    receiver: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}
