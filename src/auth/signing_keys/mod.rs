//! Access-token signing keys: which algorithm signs, the keys kept in the database (private
//! parts sealed under the master secret) and their rotation, and the watcher that keeps every
//! instance's copy up to date. Rotation and the states a key goes through: docs/security.md.

pub mod material;
mod store;
mod watcher;

use std::fmt;
use std::str::FromStr;

pub use self::store::{KeyError, KeyStore, KeySummary};
pub use self::watcher::KeyWatcher;

use sea_orm::DatabaseConnection;

use crate::auth::jwt::{JwtKeys, KeySet, TokenSettings};
use crate::config::Settings;

/// The access-token keys for `settings`: under HS256 the master secret and nothing to watch;
/// otherwise the keys in the database (made on first start, or when the algorithm changed)
/// and the watcher that keeps them current. Run the watcher for as long as the keys are used.
///
/// # Errors
/// A database error, or keys that the master secret does not open.
pub async fn start(
    db: DatabaseConnection,
    master_secret: &[u8],
    settings: &Settings,
) -> Result<(JwtKeys, Option<KeyWatcher>), KeyError> {
    let token_settings = TokenSettings::from_settings(settings);
    if !settings.jwt_algorithm.is_asymmetric() {
        let keys = KeySet::secret(master_secret, &token_settings);
        return Ok((JwtKeys::with_keys(keys, token_settings), None));
    }
    let store = KeyStore::new(db, master_secret, settings.jwt_algorithm);
    store.ensure().await?;
    let jwt = JwtKeys::with_keys(KeySet::published([], &token_settings), token_settings);
    let watcher = KeyWatcher::start(store, jwt.clone(), settings.key_rotation_interval).await?;
    Ok((jwt, Some(watcher)))
}

/// `LATCHKEY_JWT_ALGORITHM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SigningAlgorithm {
    /// ECDSA on P-256 with SHA-256: short tokens, verified everywhere (the default).
    #[default]
    #[value(name = "ES256")]
    Es256,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    #[value(name = "RS256")]
    Rs256,
    /// HMAC-SHA256 with the master secret: only holders of the secret can verify (and sign).
    #[value(name = "HS256")]
    Hs256,
}

impl SigningAlgorithm {
    /// The JOSE name (`alg`).
    pub fn jwt_name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
            Self::Hs256 => "HS256",
        }
    }

    /// The JWT library's algorithm.
    pub fn jwt_algorithm(self) -> Option<jsonwebtoken::Algorithm> {
        Some(match self {
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
        })
    }

    pub fn is_asymmetric(self) -> bool {
        self != Self::Hs256
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jwt_name())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        [Self::Es256, Self::EdDsa, Self::Rs256, Self::Hs256]
            .into_iter()
            .find(|algorithm| algorithm.jwt_name() == name)
            .ok_or(())
    }
}

/// Where a key is in its life. Only `next`, `current` and `previous` are published, and only
/// `current` and `previous` sign tokens latchkey accepts (`next` is published ahead so that
/// verifiers already hold it when it starts signing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Current,
    Previous,
    /// Rotated out: its tokens are refused.
    Retired,
    /// Withdrawn by `latchkey keys revoke`: its tokens are refused.
    Revoked,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Previous => "previous",
            Self::Retired => "retired",
            Self::Revoked => "revoked",
        }
    }

    /// Published in the JWKS.
    pub fn is_published(self) -> bool {
        matches!(self, Self::Next | Self::Current | Self::Previous)
    }
}

impl FromStr for KeyState {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        [
            Self::Next,
            Self::Current,
            Self::Previous,
            Self::Retired,
            Self::Revoked,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
        .ok_or(())
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
