//! The subscription root: `sessionEvents`, the live events of the caller's session and account,
//! served over WebSocket only (`http::live`).

use async_graphql::{Context, Enum, SimpleObject, Subscription as SubscriptionRoot};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt as _};

use super::context::require_caller;
use crate::accounts::{self, Accounts, SeenAccount};

#[derive(Default)]
pub struct Subscription;

/// What happened to the caller's session or account.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEventType {
    /// This session ended: signed out, revoked from another session, a password change or reset,
    /// an administrator's action, or its absolute lifetime. The stream completes after it.
    SessionRevoked,
    /// The account changed: email, name, verification, organization or roles. Read `me` again.
    AccountUpdated,
    /// The account was deleted. The stream completes after it.
    AccountDeleted,
}

#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct SessionEvent {
    #[graphql(name = "type")]
    kind: SessionEventType,
    /// When the server noticed the change.
    at: DateTime<Utc>,
}

impl From<accounts::SessionEvent> for SessionEvent {
    fn from(event: accounts::SessionEvent) -> Self {
        let kind = match event.kind {
            accounts::SessionEventKind::SessionRevoked => SessionEventType::SessionRevoked,
            accounts::SessionEventKind::AccountUpdated => SessionEventType::AccountUpdated,
            accounts::SessionEventKind::AccountDeleted => SessionEventType::AccountDeleted,
        };
        Self { kind, at: event.at }
    }
}

#[SubscriptionRoot]
impl Subscription {
    /// Events of the caller's session and account, as they happen. Over WebSocket
    /// (`graphql-transport-ws`), signed in by the access token in `connection_init`.
    async fn session_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SessionEvent>>> {
        let caller = require_caller(ctx)?;
        let request_id = ctx
            .data_opt::<super::RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        // The account as the connection saw it at sign-in.
        let seen = ctx.data_opt::<SeenAccount>().cloned();
        let events = ctx
            .data_unchecked::<Accounts>()
            .session_events(caller, seen);
        Ok(events.map(move |event| {
            event.map(SessionEvent::from).map_err(|error| {
                super::errors::internal_error_of(&request_id, &super::errors::error_chain(&error))
            })
        }))
    }
}
