//! The rules of graphql-transport-ws that async-graphql leaves to its user, kept on both halves
//! of a connection: sign-in before subscribing, unique operation ids, the subscription bound,
//! subscriptions only, and the close codes the `graphql-ws` clients act on.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_graphql::parser::types::{DocumentOperations, OperationType};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::MAX_SUBSCRIPTIONS_PER_CONNECTION;

/// Close codes of the protocol, and of WebSocket itself, that the server sends.
pub mod close {
    /// The token expired: a clean end; clients reconnect with a fresh token.
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    /// The token could not be checked (the database is unreachable): clients retry.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
}

/// What the server sends on its own, not as async-graphql's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Close(u16, String),
    /// An `error` message for one operation, which is then over (no `complete` follows).
    OperationError {
        id: String,
        code: &'static str,
        message: &'static str,
    },
}

impl Verdict {
    fn close(code: u16, reason: &str) -> Self {
        Self::Close(code, reason.to_owned())
    }

    /// The text of an `error` message.
    pub fn error_message(id: &str, code: &str, message: &str) -> String {
        json!({"type": "error", "id": id, "payload": [{"message": message, "extensions": {"code": code}}]})
            .to_string()
    }
}

/// One connection's state, seen by the half reading the client and the half writing to it.
#[derive(Default)]
pub struct Rules {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// `connection_ack` has been sent.
    acknowledged: bool,
    /// Why `connection_init` was refused, to close with instead of async-graphql's code.
    refusal: Option<(u16, &'static str)>,
    /// When the access token the connection signed in with expires.
    token_expires_at: Option<DateTime<Utc>>,
    /// Ids of the operations running.
    operations: HashSet<String>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

impl Rules {
    fn state(&self) -> MutexGuard<'_, State> {
        // A few plain fields that no panic can leave half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sign-in succeeded with a token valid until `expires_at`.
    pub fn signed_in(&self, expires_at: DateTime<Utc>) {
        self.state().token_expires_at = Some(expires_at);
    }

    /// Sign-in was refused; the connection closes with `code`.
    pub fn refuse(&self, code: u16, reason: &'static str) {
        self.state().refusal = Some((code, reason));
    }

    /// When the connection must end: the token's expiry once signed in, else `None`.
    pub fn signed_in_until(&self) -> Option<DateTime<Utc>> {
        let state = self.state();
        state
            .acknowledged
            .then_some(state.token_expires_at)
            .flatten()
    }

    /// A client message: `None` to pass it on to async-graphql, or what to do instead.
    pub fn admit(&self, message: &[u8]) -> Option<Verdict> {
        let invalid = || {
            Some(Verdict::close(
                close::BAD_REQUEST,
                "Invalid message received",
            ))
        };
        let Ok(envelope) = serde_json::from_slice::<Envelope>(message) else {
            return invalid();
        };
        let mut state = self.state();
        match envelope.kind.as_str() {
            "connection_init" | "ping" | "pong" => None,
            "complete" => {
                if let Some(id) = &envelope.id {
                    state.operations.remove(id);
                }
                None
            }
            "subscribe" => {
                if !state.acknowledged {
                    return Some(Verdict::close(close::UNAUTHORIZED, "Unauthorized"));
                }
                let Some(id) = envelope.id else {
                    return invalid();
                };
                if state.operations.contains(&id) {
                    let reason = format!("Subscriber for {id} already exists");
                    return Some(Verdict::Close(close::DUPLICATE_ID, reason));
                }
                if is_query_or_mutation(envelope.payload.as_ref()) {
                    return Some(Verdict::OperationError {
                        id,
                        code: "BAD_REQUEST",
                        message: "Only subscriptions are served over WebSocket. Send queries and mutations over HTTP.",
                    });
                }
                if state.operations.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
                    return Some(Verdict::OperationError {
                        id,
                        code: "TOO_MANY_SUBSCRIPTIONS",
                        message: "A connection may hold at most 10 subscriptions at once.",
                    });
                }
                state.operations.insert(id);
                None
            }
            _ => invalid(),
        }
    }

    /// A message of async-graphql's on its way to the client, noted, and rewritten when it
    /// closes the connection over a refused sign-in.
    pub fn outgoing(&self, message: OutgoingMessage) -> OutgoingMessage {
        let mut state = self.state();
        match message {
            OutgoingMessage::Text(text) => {
                if let Ok(envelope) = serde_json::from_str::<Envelope>(&text) {
                    match envelope.kind.as_str() {
                        "connection_ack" => state.acknowledged = true,
                        "complete" | "error" => {
                            if let Some(id) = &envelope.id {
                                state.operations.remove(id);
                            }
                        }
                        _ => {}
                    }
                }
                OutgoingMessage::Text(text)
            }
            OutgoingMessage::Close(code, reason) => match state.refusal {
                Some((code, reason)) => OutgoingMessage::Close(code, reason.to_owned()),
                None => OutgoingMessage::Close(code, reason),
            },
        }
    }
}

/// What async-graphql sends: text, or a close with its code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingMessage {
    Text(String),
    Close(u16, String),
}

/// Whether a `subscribe` payload names a query or a mutation. Anything that does not parse or
/// name its operation is left to async-graphql, which answers it with a coded error.
fn is_query_or_mutation(payload: Option<&serde_json::Value>) -> bool {
    let Some(payload) = payload else {
        return false;
    };
    let Some(query) = payload.get("query").and_then(serde_json::Value::as_str) else {
        return false;
    };
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let name = payload
        .get("operationName")
        .and_then(serde_json::Value::as_str);
    let operation_type = match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    matches!(
        operation_type,
        Some(OperationType::Query | OperationType::Mutation)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acknowledged() -> Rules {
        let rules = Rules::default();
        rules.outgoing(OutgoingMessage::Text(r#"{"type":"connection_ack"}"#.into()));
        rules
    }

    fn subscribe(id: &str) -> Vec<u8> {
        json!({"type": "subscribe", "id": id, "payload": {"query": "subscription { sessionEvents { type } }"}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn subscribing_before_the_acknowledgement_is_unauthorized() {
        let rules = Rules::default();
        assert!(matches!(
            rules.admit(&subscribe("1")),
            Some(Verdict::Close(close::UNAUTHORIZED, _))
        ));
    }

    #[test]
    fn an_id_in_use_closes_and_a_completed_one_may_be_used_again() {
        let rules = acknowledged();
        assert_eq!(rules.admit(&subscribe("1")), None);
        assert!(matches!(
            rules.admit(&subscribe("1")),
            Some(Verdict::Close(close::DUPLICATE_ID, _))
        ));
        rules.outgoing(OutgoingMessage::Text(
            r#"{"type":"complete","id":"1"}"#.into(),
        ));
        assert_eq!(rules.admit(&subscribe("1")), None);
    }

    #[test]
    fn subscriptions_past_the_bound_are_refused_one_by_one() {
        let rules = acknowledged();
        for id in 0..MAX_SUBSCRIPTIONS_PER_CONNECTION {
            assert_eq!(rules.admit(&subscribe(&id.to_string())), None);
        }
        assert!(matches!(
            rules.admit(&subscribe("one more")),
            Some(Verdict::OperationError {
                code: "TOO_MANY_SUBSCRIPTIONS",
                ..
            })
        ));
        assert_eq!(rules.admit(br#"{"type":"complete","id":"0"}"#), None);
        assert_eq!(rules.admit(&subscribe("one more")), None);
    }

    #[test]
    fn queries_and_mutations_are_refused_and_garbage_closes() {
        let rules = acknowledged();
        let query = json!({"type": "subscribe", "id": "q", "payload": {"query": "{ me { id } }"}});
        assert!(matches!(
            rules.admit(query.to_string().as_bytes()),
            Some(Verdict::OperationError {
                code: "BAD_REQUEST",
                ..
            })
        ));
        assert!(matches!(
            rules.admit(b"not json"),
            Some(Verdict::Close(close::BAD_REQUEST, _))
        ));
    }

    #[test]
    fn a_refused_sign_in_closes_with_its_own_code() {
        let rules = Rules::default();
        rules.refuse(close::UNAUTHORIZED, "Unauthorized");
        assert_eq!(
            rules.outgoing(OutgoingMessage::Close(1002, "whatever".into())),
            OutgoingMessage::Close(close::UNAUTHORIZED, "Unauthorized".into())
        );
    }
}
