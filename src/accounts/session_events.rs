//! Telling every instance that sessions changed. Locally the session cache forgets at once;
//! on PostgreSQL a `NOTIFY` reaches the other instances within milliseconds. Should a notice be
//! lost (a dropped listener connection), the cache's one-second lifetime still bounds how long
//! another instance can accept a revoked token. Every change, local or not, is also broadcast to
//! this instance's live subscribers (`live_events`).

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Accounts;
use super::domain::{SessionId, UserId};

const CHANNEL: &str = "latchkey_session_changes";
/// Changes a live subscriber may fall behind by; one that falls further re-reads its state
/// rather than missing a revocation.
pub(super) const CHANGES_CAPACITY: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionChange {
    /// One session ended (logout, refresh-token reuse).
    Session(SessionId),
    /// A user changed: sessions revoked, profile changed, or the account deleted.
    User(UserId),
    /// Users beyond counting changed at once (a role definition deleted).
    Everyone,
}

impl SessionChange {
    fn encode(self) -> String {
        match self {
            Self::Session(id) => format!("session:{id}"),
            Self::User(id) => format!("user:{id}"),
            Self::Everyone => "everyone".to_owned(),
        }
    }

    fn decode(payload: &str) -> Option<Self> {
        if payload == "everyone" {
            return Some(Self::Everyone);
        }
        let (kind, id) = payload.split_once(':')?;
        let id: Uuid = id.parse().ok()?;
        match kind {
            "session" => Some(Self::Session(id.into())),
            "user" => Some(Self::User(id.into())),
            _ => None,
        }
    }
}

impl Accounts {
    /// Call after the transaction that made `change` has committed.
    pub(super) async fn sessions_changed(&self, change: SessionChange) {
        self.forget(change);
        if self.db().get_database_backend() != DbBackend::Postgres {
            return;
        }
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), change.encode().into()],
        );
        if let Err(error) = self.db().execute_raw(notify).await {
            tracing::warn!(%error, "could not notify other instances of a session change");
        }
    }

    fn forget(&self, change: SessionChange) {
        match change {
            SessionChange::Session(id) => self.inner.sessions.forget_session(id),
            SessionChange::User(id) => self.inner.sessions.forget_user(id),
            SessionChange::Everyone => self.inner.sessions.forget_everyone(),
        }
        // After the forgetting, so that a subscriber's re-read misses the cache. No receiver
        // (nobody subscribed) is the usual case, not an error.
        let _ = self.inner.changes.send(change);
    }

    /// The task that applies other instances' session changes to this instance's cache.
    pub fn session_change_listener(&self) -> SessionChangeListener {
        SessionChangeListener {
            accounts: self.clone(),
        }
    }
}

pub struct SessionChangeListener {
    accounts: Accounts,
}

impl SessionChangeListener {
    /// Listens until `stop` is cancelled, reconnecting after failures. Does nothing on SQLite,
    /// where the cache lifetime alone bounds staleness between processes.
    pub async fn run(self, stop: CancellationToken) {
        let db = self.accounts.db();
        if db.get_database_backend() != DbBackend::Postgres {
            return;
        }
        let pool = db.get_postgres_connection_pool().clone();
        loop {
            let listening = apply_notices(&pool, &self.accounts);
            tokio::select! {
                Err(error) = listening => {
                    tracing::warn!(%error, "session change listener lost its connection; retrying");
                }
                () = stop.cancelled() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

/// Applies notices until the connection fails for good.
async fn apply_notices(
    pool: &sea_orm::sqlx::PgPool,
    accounts: &Accounts,
) -> Result<std::convert::Infallible, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        // `None`: the connection dropped and was re-established; notices sent in between are
        // lost, which the cache lifetime covers.
        if let Some(notice) = listener.try_recv().await?
            && let Some(change) = SessionChange::decode(notice.payload())
        {
            accounts.forget(change);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_the_round_trip_through_a_notice() {
        let id = Uuid::new_v4();
        for change in [
            SessionChange::Session(id.into()),
            SessionChange::User(id.into()),
            SessionChange::Everyone,
        ] {
            assert_eq!(SessionChange::decode(&change.encode()), Some(change));
        }
        assert_eq!(SessionChange::decode("nonsense"), None);
    }
}
