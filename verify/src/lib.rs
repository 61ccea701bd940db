//! Verify latchkey access tokens in your own service, with latchkey's public keys only.
//!
//! [`Verifier`] fetches `/.well-known/jwks.json` and caches it for as long as its `max-age`
//! says, refetching on an unknown `kid` at most once every few seconds; it checks the signature
//! with the key the `kid` names and only that key's algorithm, then `typ`, `exp`, `iss` and `aud`.
//! For axum, [`Authenticated`] extracts the verified [`Claims`] and [`RequireRole`] also demands
//! a role.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use latchkey_verify::{Authenticated, Verifier, VerifierConfig};
//!
//! async fn me(Authenticated(claims): Authenticated) -> String {
//!     format!("hello {}", claims.sub)
//! }
//!
//! # async fn run() {
//! let verifier = Verifier::new(VerifierConfig::new("https://auth.example.com"));
//! let app: Router = Router::new().route("/me", get(me)).with_state(verifier);
//! # }
//! ```

mod extract;
mod jwks;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Validation;
use serde::Deserialize;

pub use self::extract::{AuthRejection, Authenticated, RequireRole, Role};
use self::jwks::KeyCache;

/// Clock skew tolerated on `exp` and `nbf`, as latchkey itself allows.
const LEEWAY_SECONDS: u64 = 30;

/// Where latchkey is and what its tokens must say.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// `LATCHKEY_PUBLIC_URL/.well-known/jwks.json`.
    pub jwks_url: String,
    /// `LATCHKEY_ISSUER` (default `latchkey`).
    pub issuer: String,
    /// `LATCHKEY_AUDIENCE` (default `latchkey`).
    pub audience: String,
    /// Least time between two fetches prompted by an unknown `kid` (default 5 s), so that
    /// tokens with made-up key ids cannot make this service hammer latchkey.
    pub min_refetch_interval: Duration,
}

impl VerifierConfig {
    /// latchkey at `public_url` with the default issuer and audience.
    pub fn new(public_url: &str) -> Self {
        Self {
            jwks_url: format!("{}/.well-known/jwks.json", public_url.trim_end_matches('/')),
            issuer: "latchkey".into(),
            audience: "latchkey".into(),
            min_refetch_interval: Duration::from_secs(5),
        }
    }
}

/// The claims of a verified latchkey access token.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The session's id.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// The user's organization, when latchkey puts one in the token.
    #[serde(default)]
    pub org: Option<String>,
    /// The user's role codes (empty when latchkey puts none in the token).
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Claims {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Malformed, badly signed, expired, for someone else, or naming no published key.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The JWKS could not be fetched or read; nothing is accepted meanwhile.
    #[error("the JWKS is unavailable: {0}")]
    KeysUnavailable(String),
}

/// Verifies latchkey access tokens. Cheap to clone: clones share the key cache.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: VerifierConfig,
    keys: KeyCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(config: VerifierConfig) -> Self {
        let keys = KeyCache::new(config.jwks_url.clone(), config.min_refetch_interval);
        Self {
            inner: Arc::new(Inner { config, keys }),
        }
    }

    /// # Errors
    /// `Invalid` for any token that is not a valid latchkey access token for this audience;
    /// `KeysUnavailable` when the keys cannot be had.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let invalid = |e: &dyn std::fmt::Display| VerifyError::Invalid(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(&e))?;
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| VerifyError::Invalid("no kid".into()))?;
        let key = self.inner.keys.key(kid).await?;
        let config = &self.inner.config;
        let mut validation = Validation::new(key.algorithm);
        validation.algorithms = vec![key.algorithm];
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|e| invalid(&e))?;
        let typ_ok = data.header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(VerifyError::Invalid("not an access token (typ)".into()));
        }
        Ok(data.claims)
    }
}
