//! Keeping this instance's keys in step with the database: a rotation or revocation made by
//! another instance or by `latchkey keys` is picked up at the next poll (every second), or at
//! once on PostgreSQL, where the change is announced with `NOTIFY`. Also rotates automatically
//! when `LATCHKEY_KEY_ROTATION_INTERVAL` is set.

use std::time::Duration;

use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::store::{CHANNEL, Fingerprint, LoadedKey};
use super::{KeyError, KeyStore};
use crate::auth::jwt::{JwtKeys, KeySet};

/// How stale another instance's key change can be here when no notice arrives.
const POLL: Duration = Duration::from_secs(1);

/// The key set `jwt` should use, from the published keys.
pub fn key_set(keys: &[LoadedKey], jwt: &JwtKeys) -> KeySet {
    KeySet::published(
        keys.iter().filter_map(|key| {
            Some((
                key.kid.as_str(),
                key.algorithm.jwt_algorithm()?,
                key.state,
                &key.pair,
            ))
        }),
        jwt.settings(),
    )
}

pub struct KeyWatcher {
    store: KeyStore,
    jwt: JwtKeys,
    rotation_interval: Option<Duration>,
    seen: Fingerprint,
}

impl KeyWatcher {
    /// Loads the keys into `jwt` now, and returns the task that keeps them current.
    ///
    /// # Errors
    /// A database error.
    pub async fn start(
        store: KeyStore,
        jwt: JwtKeys,
        rotation_interval: Option<Duration>,
    ) -> Result<Self, KeyError> {
        let mut watcher = Self {
            store,
            jwt,
            rotation_interval,
            seen: Fingerprint::default(),
        };
        watcher.refresh().await?;
        Ok(watcher)
    }

    /// Polls until `stop` is cancelled. A failed poll is logged and retried.
    pub async fn run(mut self, stop: CancellationToken) {
        let (wake_tx, mut wake) = tokio::sync::mpsc::channel::<()>(1);
        if self.store.db().get_database_backend() == DbBackend::Postgres {
            let pool = self.store.db().get_postgres_connection_pool().clone();
            tokio::spawn(listen(pool, wake_tx, stop.clone()));
        }
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(POLL) => {}
                Some(()) = wake.recv() => {}
            }
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "could not check the signing keys; retrying");
            }
            if let Err(error) = self.rotate_if_due().await {
                tracing::warn!(%error, "automatic signing key rotation failed; retrying");
            }
        }
    }

    /// Reloads the keys if the published set changed.
    async fn refresh(&mut self) -> Result<(), KeyError> {
        let fingerprint = self.store.fingerprint().await?;
        if fingerprint == self.seen {
            return Ok(());
        }
        let keys = self.store.load().await?;
        self.jwt.replace_keys(key_set(&keys, &self.jwt));
        tracing::info!(keys = keys.len(), "signing keys loaded");
        self.seen = fingerprint;
        Ok(())
    }

    async fn rotate_if_due(&mut self) -> Result<(), KeyError> {
        let Some(interval) = self.rotation_interval else {
            return Ok(());
        };
        let due = self
            .seen
            .current_since
            .is_none_or(|since| crate::time::after(since, interval) <= chrono::Utc::now());
        if due && self.store.rotate_if_due(interval).await? {
            tracing::info!("signing keys rotated (LATCHKEY_KEY_ROTATION_INTERVAL)");
            self.refresh().await?;
        }
        Ok(())
    }
}

/// Wakes the watcher whenever another instance announces a key change.
async fn listen(
    pool: sea_orm::sqlx::PgPool,
    wake: tokio::sync::mpsc::Sender<()>,
    stop: CancellationToken,
) {
    loop {
        let listening = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            loop {
                if listener.try_recv().await?.is_some() {
                    let _ = wake.try_send(());
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), sea_orm::sqlx::Error>(())
        };
        tokio::select! {
            Err(error) = listening => {
                tracing::warn!(%error, "signing key listener lost its connection; retrying");
            }
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = stop.cancelled() => return,
        }
    }
}
