//! Live events of one session: what a signed-in client is told while it listens (its session
//! ended, its account changed or was deleted), read afresh from the database on every hint.

use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::domain::OrganizationId;
use super::session_events::SessionChange;
use super::{AccountError, Accounts, Caller, UserView, user_views};
use crate::entities::{session, user};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEventKind {
    /// The session ended (revoked, signed out, or past its absolute lifetime). The last event.
    SessionRevoked,
    /// What the account shows changed: email, name, verification, organization or roles.
    AccountUpdated,
    /// The account no longer exists. The last event.
    AccountDeleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEvent {
    pub kind: SessionEventKind,
    pub at: DateTime<Utc>,
}

/// What the account looked like when a connection signed in: the baseline its subscriptions
/// compare against, so that a change between sign-in and subscribing is not missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAccount(Shown);

/// A connection signed in by an access token.
#[derive(Debug, Clone)]
pub struct ConnectionSignIn {
    pub caller: Caller,
    /// When the token expires; the connection must end by then.
    pub expires_at: DateTime<Utc>,
    pub seen: SeenAccount,
}

/// A stream of one session's events; it ends after the last one.
pub type SessionEvents = Pin<Box<dyn Stream<Item = Result<SessionEvent, AccountError>> + Send>>;

/// What a client sees of its account; a change here is `AccountUpdated`. Timestamps (last
/// login, a password change's `updated_at`) are left out: they change nothing the client shows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    email: String,
    name: Option<String>,
    email_verified: bool,
    organization_id: OrganizationId,
    roles: Vec<String>,
}

impl From<&UserView> for Shown {
    fn from(user: &UserView) -> Self {
        Self {
            email: user.email.as_str().to_owned(),
            name: user.name.clone(),
            email_verified: user.email_verified,
            organization_id: user.organization_id,
            roles: user.roles.clone(),
        }
    }
}

enum SessionState {
    Live {
        shown: Shown,
        ends_at: DateTime<Utc>,
    },
    Ended,
    AccountGone,
}

/// A subscriber between events.
struct Watch {
    accounts: Accounts,
    caller: Caller,
    changes: broadcast::Receiver<SessionChange>,
    /// `None` until the first read when no baseline was given.
    shown: Option<Shown>,
    ends_at: DateTime<Utc>,
    /// The state has not been read yet.
    first_read: bool,
    finished: bool,
}

impl Accounts {
    /// Signs in a long-lived connection: [`Accounts::authenticate`], with the token's expiry and
    /// the account as it is now. `Ok(None)` for a token that is not valid.
    ///
    /// # Errors
    /// A database error.
    pub async fn sign_in_connection(
        &self,
        access_token: &str,
    ) -> Result<Option<ConnectionSignIn>, AccountError> {
        let Some(claims) = self.inner.jwt.verify(access_token) else {
            return Ok(None);
        };
        // Without the clock-skew leeway of requests: a connection signed in on a token already
        // past its `exp` would be closed for its expiry at once, and clients that reconnect on
        // that close would spin. An `exp` past what a date can hold counts as expired.
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(DateTime::UNIX_EPOCH);
        if expires_at <= Utc::now() {
            return Ok(None);
        }
        let caller = Caller {
            user_id: claims.sub.into(),
            session_id: claims.sid.into(),
        };
        let Some(user) = self.live_user(caller).await? else {
            return Ok(None);
        };
        Ok(Some(ConnectionSignIn {
            caller,
            expires_at,
            seen: SeenAccount(Shown::from(user.as_ref())),
        }))
    }

    /// The caller's session events, from now on; account changes counted from `seen` when
    /// given, else from the first read. Change notices are only hints: on each that
    /// may concern the caller, the session and account are read again, so a lost or merged
    /// notice never hides a revocation. A database error ends the stream with that error.
    pub fn session_events(&self, caller: Caller, seen: Option<SeenAccount>) -> SessionEvents {
        // Subscribed before the first read, so that no change in between goes unseen.
        let watch = Watch {
            accounts: self.clone(),
            caller,
            changes: self.inner.changes.subscribe(),
            shown: seen.map(|seen| seen.0),
            ends_at: Utc::now(),
            first_read: true,
            finished: false,
        };
        Box::pin(futures_util::stream::unfold(
            watch,
            |mut watch| async move {
                if watch.finished {
                    return None;
                }
                let item = watch.next_event().await;
                watch.finished = !matches!(
                    item,
                    Ok(SessionEvent {
                        kind: SessionEventKind::AccountUpdated,
                        ..
                    })
                );
                Some((item, watch))
            },
        ))
    }

    async fn session_state(&self, caller: Caller) -> Result<SessionState, AccountError> {
        let now = Utc::now();
        let found = session::Entity::find_by_id(Uuid::from(caller.session_id))
            .filter(session::Column::UserId.eq(Uuid::from(caller.user_id)))
            .find_also_related(user::Entity)
            .one(self.db())
            .await?;
        if let Some((session, Some(owner))) = found {
            let ends_at = session.created_at + self.max_session_age();
            if session.revoked_at.is_some() || ends_at <= now || !owner.active {
                return Ok(SessionState::Ended);
            }
            let view = user_views::view_of(self.db(), owner).await?;
            return Ok(SessionState::Live {
                shown: Shown::from(&view),
                ends_at,
            });
        }
        // The session row is gone: with its account (deletion cascades), or on its own.
        let owner = user::Entity::find_by_id(Uuid::from(caller.user_id))
            .one(self.db())
            .await?;
        Ok(match owner {
            Some(_) => SessionState::Ended,
            None => SessionState::AccountGone,
        })
    }
}

impl Watch {
    async fn next_event(&mut self) -> Result<SessionEvent, AccountError> {
        if self.first_read {
            self.first_read = false;
            if let Some(event) = self.recheck().await? {
                return Ok(event);
            }
        }
        loop {
            let until_end = (self.ends_at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            let concerns_us = tokio::select! {
                received = self.changes.recv() => match received {
                    Ok(change) => self.concerns(change),
                    // Fell behind: whatever was missed may have been ours.
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    // The service is gone: the server is stopping.
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(AccountError::Internal("the session change feed closed".into()));
                    }
                },
                // The absolute lifetime ran out; no notice is sent for that.
                () = tokio::time::sleep(until_end) => true,
            };
            if concerns_us && let Some(event) = self.recheck().await? {
                return Ok(event);
            }
        }
    }

    fn concerns(&self, change: SessionChange) -> bool {
        match change {
            SessionChange::Session(id) => id == self.caller.session_id,
            SessionChange::User(id) => id == self.caller.user_id,
            SessionChange::Everyone => true,
        }
    }

    /// Reads the state again; the event it shows, if any.
    async fn recheck(&mut self) -> Result<Option<SessionEvent>, AccountError> {
        let kind = match self.accounts.session_state(self.caller).await? {
            SessionState::Ended => SessionEventKind::SessionRevoked,
            SessionState::AccountGone => SessionEventKind::AccountDeleted,
            SessionState::Live { shown, ends_at } => {
                self.ends_at = ends_at;
                let changed = self.shown.as_ref().is_some_and(|before| *before != shown);
                self.shown = Some(shown);
                if !changed {
                    return Ok(None);
                }
                SessionEventKind::AccountUpdated
            }
        };
        Ok(Some(SessionEvent {
            kind,
            at: Utc::now(),
        }))
    }
}
