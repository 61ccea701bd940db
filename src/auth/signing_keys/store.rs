//! The signing keys in the database: creating them, rotating (next → current → previous →
//! retired), revoking, listing, and loading the published ones with their private parts opened.
//! Every change runs in one transaction, serialised between instances on PostgreSQL by an
//! advisory lock (on SQLite by taking the write lock at the start), and is announced to the other instances after it commits.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Set, Statement,
};

use super::material::{self, KeyMaterialError, KeyPair, PrivateDer};
use super::{KeyState, SigningAlgorithm};
use crate::auth::secret_box::{Purpose, SecretBox};
use crate::entities::signing_key;

/// Any constant works: it only has to be the same in every instance and unused elsewhere.
const ADVISORY_LOCK: i64 = 0x6c61_7463_686b_6579; // "latchkey"
pub(super) const CHANNEL: &str = "latchkey_signing_keys";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Material(#[from] KeyMaterialError),
    #[error(
        "the signing key {0} cannot be opened with this master secret (LATCHKEY_SECRET changed?)"
    )]
    Unopenable(String),
    #[error("no signing key has the id {0}")]
    UnknownKey(String),
    #[error(
        "LATCHKEY_JWT_ALGORITHM is HS256: tokens are signed with the master secret, there are no keys to {0}"
    )]
    Symmetric(&'static str),
}

/// A key as `latchkey keys list` shows it: never its private part.
#[derive(Debug, Clone)]
pub struct KeySummary {
    pub kid: String,
    pub algorithm: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A published key, opened and ready to sign or verify.
pub struct LoadedKey {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub state: KeyState,
    pub pair: KeyPair,
}

/// What changes between two polls: the published keys and their states.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint {
    keys: Vec<(String, String)>,
    /// When the current key started signing, for automatic rotation.
    pub current_since: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct KeyStore {
    db: DatabaseConnection,
    sealer: SecretBox,
    algorithm: SigningAlgorithm,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A sealed private key opens only for its own id and algorithm: copied to another row, or its
/// algorithm column changed, it does not open.
fn seal_context(kid: &str, algorithm: SigningAlgorithm) -> Vec<u8> {
    format!("{kid}:{algorithm}").into_bytes()
}

impl KeyStore {
    pub fn new(db: DatabaseConnection, master_secret: &[u8], algorithm: SigningAlgorithm) -> Self {
        Self {
            db,
            sealer: SecretBox::derive(master_secret, Purpose::SigningKey),
            algorithm,
        }
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// Makes sure a key of the configured algorithm signs and a next one is published; rotates
    /// when the current key is of another algorithm (its tokens keep verifying as `previous`).
    ///
    /// # Errors
    /// Database errors, or the current key cannot be opened.
    pub async fn ensure(&self) -> Result<(), KeyError> {
        if !self.algorithm.is_asymmetric() {
            return Ok(());
        }
        // The usual start: nothing to do, and no key worth generating (RSA takes a while).
        if !self.needs_keys(&self.db).await? {
            return self.check_current_opens().await;
        }
        let fresh = self.generate_pair().await?;
        let txn = crate::db::begin_write(&self.db).await?;
        lock(&txn).await?;
        // Another instance may have made them while this one generated.
        let changed = self.needs_keys(&txn).await?;
        if changed {
            let current = find_state(&txn, KeyState::Current).await?;
            match current.first() {
                Some(current) if current.algorithm == self.algorithm.jwt_name() => {
                    self.insert(&txn, fresh.1, KeyState::Next).await?;
                }
                _ => self.rotate_in(&txn, fresh).await?,
            }
        }
        txn.commit().await?;
        if changed {
            self.announce().await;
        }
        self.check_current_opens().await
    }

    /// No current key of the configured algorithm, or no next one.
    async fn needs_keys<C: ConnectionTrait>(&self, db: &C) -> Result<bool, KeyError> {
        let current = find_state(db, KeyState::Current).await?;
        let next = find_state(db, KeyState::Next).await?;
        let algorithm = self.algorithm.jwt_name();
        Ok(!(current.iter().any(|key| key.algorithm == algorithm)
            && next.iter().any(|key| key.algorithm == algorithm)))
    }

    async fn check_current_opens(&self) -> Result<(), KeyError> {
        // Fail at start-up, not at the first login, when the secret cannot open the key.
        let loaded = self.load().await?;
        if !loaded.iter().any(|key| key.state == KeyState::Current) {
            let kid = current_kid(&self.db).await?.unwrap_or_default();
            return Err(KeyError::Unopenable(kid));
        }
        Ok(())
    }

    /// `next` starts signing, `current` becomes `previous`, `previous` retires, and a new `next`
    /// is published.
    ///
    /// # Errors
    /// HS256 is configured, or a database error.
    pub async fn rotate(&self) -> Result<(), KeyError> {
        if !self.algorithm.is_asymmetric() {
            return Err(KeyError::Symmetric("rotate"));
        }
        let fresh = self.generate_pair().await?;
        let txn = crate::db::begin_write(&self.db).await?;
        lock(&txn).await?;
        self.rotate_in(&txn, fresh).await?;
        txn.commit().await?;
        self.announce().await;
        Ok(())
    }

    /// Rotates if the current key has signed for `interval` already. Several instances may ask
    /// at once; the check is repeated under the lock, so only one rotates.
    ///
    /// # Errors
    /// A database error.
    pub async fn rotate_if_due(&self, interval: Duration) -> Result<bool, KeyError> {
        let fresh = self.generate_pair().await?;
        let txn = crate::db::begin_write(&self.db).await?;
        lock(&txn).await?;
        let current = find_state(&txn, KeyState::Current).await?;
        let due = current
            .first()
            .is_none_or(|key| crate::time::after(key.updated_at, interval) <= Utc::now());
        if due {
            self.rotate_in(&txn, fresh).await?;
        }
        txn.commit().await?;
        if due {
            self.announce().await;
        }
        Ok(due)
    }

    /// Withdraws a key at once. The current key is first rotated out, so that something still
    /// signs; a revoked `next` is replaced.
    ///
    /// # Errors
    /// `UnknownKey`, HS256 configured, or a database error.
    pub async fn revoke(&self, kid: &str) -> Result<KeyState, KeyError> {
        if !self.algorithm.is_asymmetric() {
            return Err(KeyError::Symmetric("revoke"));
        }
        let fresh = self.generate_pair().await?;
        let txn = crate::db::begin_write(&self.db).await?;
        lock(&txn).await?;
        let Some(key) = signing_key::Entity::find_by_id(kid.to_owned())
            .one(&txn)
            .await?
        else {
            return Err(KeyError::UnknownKey(kid.to_owned()));
        };
        let was = key.state.parse::<KeyState>().unwrap_or(KeyState::Retired);
        match was {
            KeyState::Current => self.rotate_in(&txn, fresh).await?,
            KeyState::Next => self.insert(&txn, fresh.1, KeyState::Next).await?,
            KeyState::Previous | KeyState::Retired | KeyState::Revoked => {}
        }
        set_state(&txn, kid, KeyState::Revoked).await?;
        txn.commit().await?;
        self.announce().await;
        Ok(was)
    }

    /// Every key ever made, oldest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn list(&self) -> Result<Vec<KeySummary>, KeyError> {
        let rows = signing_key::Entity::find()
            .order_by_asc(signing_key::Column::CreatedAt)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| KeySummary {
                kid: row.kid,
                algorithm: row.algorithm,
                state: row.state,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
            .collect())
    }

    /// The published keys, opened. A key that does not open (or names an unknown algorithm) is
    /// left out and logged: it can neither sign nor verify.
    ///
    /// # Errors
    /// A database error.
    pub async fn load(&self) -> Result<Vec<LoadedKey>, KeyError> {
        let rows = signing_key::Entity::find()
            .filter(signing_key::Column::State.is_in(published_states()))
            .all(&self.db)
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            match self.open(&row) {
                Ok(key) => keys.push(key),
                Err(error) => tracing::error!(kid = %row.kid, %error, "a signing key is unusable"),
            }
        }
        Ok(keys)
    }

    /// The published keys and their states, without opening anything: cheap enough to poll.
    ///
    /// # Errors
    /// A database error.
    pub async fn fingerprint(&self) -> Result<Fingerprint, KeyError> {
        let rows: Vec<(String, String, DateTime<Utc>)> = signing_key::Entity::find()
            .select_only()
            .column(signing_key::Column::Kid)
            .column(signing_key::Column::State)
            .column(signing_key::Column::UpdatedAt)
            .filter(signing_key::Column::State.is_in(published_states()))
            .order_by_asc(signing_key::Column::Kid)
            .into_tuple()
            .all(&self.db)
            .await?;
        let current_since = rows
            .iter()
            .find(|(_, state, _)| state == KeyState::Current.as_str())
            .map(|(_, _, since)| *since);
        Ok(Fingerprint {
            keys: rows
                .into_iter()
                .map(|(kid, state, _)| (kid, state))
                .collect(),
            current_since,
        })
    }

    fn open(&self, row: &signing_key::Model) -> Result<LoadedKey, KeyError> {
        let unopenable = || KeyError::Unopenable(row.kid.clone());
        let algorithm: SigningAlgorithm = row.algorithm.parse().map_err(|()| unopenable())?;
        let state: KeyState = row.state.parse().map_err(|()| unopenable())?;
        let der = self
            .sealer
            .open(&row.private_sealed, &seal_context(&row.kid, algorithm))
            .map_err(|_| unopenable())?;
        let pair = material::key_pair(algorithm, &row.kid, &PrivateDer::from_bytes(der))?;
        Ok(LoadedKey {
            kid: row.kid.clone(),
            algorithm,
            state,
            pair,
        })
    }

    /// Two fresh keys (a possible new current and a new next), made before the transaction
    /// starts: an RSA key takes a while, and the lock should not be held meanwhile.
    async fn generate_pair(&self) -> Result<(PrivateDer, PrivateDer), KeyError> {
        let algorithm = self.algorithm;
        tokio::task::spawn_blocking(move || {
            Ok((
                material::generate(algorithm)?,
                material::generate(algorithm)?,
            ))
        })
        .await
        .map_err(|e| KeyError::Material(KeyMaterialError::from_join(&e)))?
    }

    async fn rotate_in<C: ConnectionTrait>(
        &self,
        txn: &C,
        (new_current, new_next): (PrivateDer, PrivateDer),
    ) -> Result<(), KeyError> {
        for key in find_state(txn, KeyState::Previous).await? {
            set_state(txn, &key.kid, KeyState::Retired).await?;
        }
        for key in find_state(txn, KeyState::Current).await? {
            set_state(txn, &key.kid, KeyState::Previous).await?;
        }
        let mut promoted = false;
        for key in find_state(txn, KeyState::Next).await? {
            if !promoted && key.algorithm == self.algorithm.jwt_name() {
                set_state(txn, &key.kid, KeyState::Current).await?;
                promoted = true;
            } else {
                // Published under another algorithm setting: never signs.
                set_state(txn, &key.kid, KeyState::Retired).await?;
            }
        }
        if !promoted {
            self.insert(txn, new_current, KeyState::Current).await?;
        }
        self.insert(txn, new_next, KeyState::Next).await
    }

    async fn insert<C: ConnectionTrait>(
        &self,
        txn: &C,
        private: PrivateDer,
        state: KeyState,
    ) -> Result<(), KeyError> {
        let kid = material::new_kid();
        let pair = material::key_pair(self.algorithm, &kid, &private)?;
        let now = Utc::now();
        signing_key::ActiveModel {
            kid: Set(kid.clone()),
            algorithm: Set(self.algorithm.jwt_name().to_owned()),
            state: Set(state.as_str().to_owned()),
            public_jwk: Set(pair.public_jwk.to_string()),
            private_sealed: Set(self
                .sealer
                .seal(private.as_bytes(), &seal_context(&kid, self.algorithm))),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(txn)
        .await?;
        Ok(())
    }

    /// Tells the other instances on PostgreSQL to reload now rather than at their next poll.
    async fn announce(&self) {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return;
        }
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, '')",
            [CHANNEL.into()],
        );
        if let Err(error) = self.db.execute_raw(notify).await {
            tracing::warn!(%error, "could not notify other instances of a signing key change");
        }
    }

    pub(super) fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

fn published_states() -> [&'static str; 3] {
    [
        KeyState::Next.as_str(),
        KeyState::Current.as_str(),
        KeyState::Previous.as_str(),
    ]
}

async fn lock<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [ADVISORY_LOCK.into()],
        ))
        .await?;
    }
    Ok(())
}

async fn find_state<C: ConnectionTrait>(
    txn: &C,
    state: KeyState,
) -> Result<Vec<signing_key::Model>, DbErr> {
    signing_key::Entity::find()
        .filter(signing_key::Column::State.eq(state.as_str()))
        .order_by_asc(signing_key::Column::CreatedAt)
        .all(txn)
        .await
}

async fn set_state<C: ConnectionTrait>(txn: &C, kid: &str, state: KeyState) -> Result<(), DbErr> {
    signing_key::ActiveModel {
        kid: Set(kid.to_owned()),
        state: Set(state.as_str().to_owned()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(txn)
    .await?;
    Ok(())
}

async fn current_kid(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
    Ok(find_state(db, KeyState::Current)
        .await?
        .into_iter()
        .next()
        .map(|key| key.kid))
}
