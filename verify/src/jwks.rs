//! latchkey's public keys, fetched from its JWKS URL and kept for the `max-age` the response
//! allows. An unknown `kid` triggers one refetch, at most once per `min_refetch_interval`;
//! only asymmetric keys whose `alg` matches their key type are ever used.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use crate::VerifyError;

/// Used when the response says nothing about caching; also the longest we keep keys.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const LONGEST_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone)]
pub(crate) struct PublicKey {
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
}

struct Fetched {
    keys: HashMap<String, PublicKey>,
    fresh_until: Instant,
    fetched_at: Instant,
}

pub(crate) struct KeyCache {
    url: String,
    client: reqwest::Client,
    min_refetch: Duration,
    state: Mutex<Option<Arc<Fetched>>>,
}

impl KeyCache {
    pub fn new(url: String, min_refetch: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            url,
            client,
            min_refetch,
            state: Mutex::new(None),
        }
    }

    /// The key named `kid`, fetching the JWKS if the cache is stale or lacks it.
    pub async fn key(&self, kid: &str) -> Result<PublicKey, VerifyError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let (stale, known, may_refetch) = match state.as_ref() {
            None => (true, false, true),
            Some(fetched) => (
                now >= fetched.fresh_until,
                fetched.keys.contains_key(kid),
                now.duration_since(fetched.fetched_at) >= self.min_refetch,
            ),
        };
        if stale || (!known && may_refetch) {
            match self.fetch().await {
                Ok(fetched) => *state = Some(Arc::new(fetched)),
                // Keys we already hold keep working through a short outage of latchkey; with
                // none, nothing verifies.
                Err(error) if state.is_none() => return Err(error),
                Err(error) => tracing::warn!(%error, "could not refresh latchkey's JWKS"),
            }
        }
        state
            .as_ref()
            .and_then(|fetched| fetched.keys.get(kid).cloned())
            .ok_or_else(|| VerifyError::Invalid("no published key has this kid".into()))
    }

    async fn fetch(&self) -> Result<Fetched, VerifyError> {
        let unavailable = |e: &dyn std::fmt::Display| VerifyError::KeysUnavailable(e.to_string());
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(&e))?;
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_MAX_AGE)
            .min(LONGEST_MAX_AGE);
        let set: JwkSet = response.json().await.map_err(|e| unavailable(&e))?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, usable(jwk)?)))
            .collect();
        let now = Instant::now();
        Ok(Fetched {
            keys,
            fresh_until: now + max_age,
            fetched_at: now,
        })
    }
}

/// A published key we may verify with: asymmetric, signing, with an `alg` that fits its type.
fn usable(jwk: &Jwk) -> Option<PublicKey> {
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm?) {
        (AlgorithmParameters::EllipticCurve(_), KeyAlgorithm::ES256) => Algorithm::ES256,
        // The JWT library slices an Ed25519 key to 32 bytes when verifying: a shorter one
        // would panic there, so it is refused here.
        (AlgorithmParameters::OctetKeyPair(params), KeyAlgorithm::EdDSA)
            if URL_SAFE_NO_PAD
                .decode(&params.x)
                .is_ok_and(|x| x.len() == 32) =>
        {
            Algorithm::EdDSA
        }
        (AlgorithmParameters::RSA(_), KeyAlgorithm::RS256) => Algorithm::RS256,
        _ => return None,
    };
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    Some(PublicKey {
        algorithm,
        decoding,
    })
}

/// `max-age` of a `Cache-Control` value.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.eq_ignore_ascii_case("max-age")
            .then(|| value.trim().parse().ok().map(Duration::from_secs))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("no-store"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }

    #[test]
    fn symmetric_keys_and_mismatched_algorithms_are_never_used() {
        let oct: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "oct", "k": "c2VjcmV0", "kid": "a", "alg": "HS256"
        }))
        .unwrap();
        assert!(usable(&oct).is_none());
        let ec_as_rs: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "b", "alg": "RS256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        }))
        .unwrap();
        assert!(usable(&ec_as_rs).is_none());
        let short_ed25519: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "c", "alg": "EdDSA", "x": "AAAA"
        }))
        .unwrap();
        assert!(usable(&short_ed25519).is_none());
    }
}
