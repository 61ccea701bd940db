//! Generating key pairs and turning a private key into what signing and verifying need: the
//! private key in the DER form the JWT library reads, and the public half as a JWK. The public
//! half is always derived from the private key, never read back from storage, so a row whose
//! public column was tampered with cannot make latchkey trust another key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

use super::SigningAlgorithm;

/// RSA modulus size: 2048 bits is NIST's floor through 2030 and what verifiers expect.
const RSA_BITS: usize = 2048;

/// A private key in DER (PKCS#8 for EC and Ed25519, PKCS#1 for RSA). Never printed.
pub struct PrivateDer(Vec<u8>);

impl fmt::Debug for PrivateDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateDer(<redacted>)")
    }
}

impl Drop for PrivateDer {
    fn drop(&mut self) {
        // Best effort: the bytes do not linger in freed memory.
        self.0.iter_mut().for_each(|byte| *byte = 0);
    }
}

impl PrivateDer {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
#[error("signing key: {0}")]
pub struct KeyMaterialError(String);

impl KeyMaterialError {
    pub(super) fn from_join(error: &tokio::task::JoinError) -> Self {
        Self(format!("key generation did not finish: {error}"))
    }
}

/// A fresh private key for `algorithm`. HS256 has no key pair of its own (it signs with the
/// master secret), so asking for one is an error.
///
/// # Errors
/// HS256, or the (practically impossible) failure of key generation.
pub fn generate(algorithm: SigningAlgorithm) -> Result<PrivateDer, KeyMaterialError> {
    let der = match algorithm {
        SigningAlgorithm::Es256 => {
            let key = p256::SecretKey::random(&mut OsRng);
            p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&key)
                .map_err(|e| KeyMaterialError(e.to_string()))?
                .as_bytes()
                .to_vec()
        }
        SigningAlgorithm::EdDsa => {
            let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
            key.to_pkcs8_der()
                .map_err(|e| KeyMaterialError(e.to_string()))?
                .as_bytes()
                .to_vec()
        }
        SigningAlgorithm::Rs256 => rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
            .map_err(|e| KeyMaterialError(e.to_string()))?
            .to_pkcs1_der()
            .map_err(|e| KeyMaterialError(e.to_string()))?
            .as_bytes()
            .to_vec(),
        SigningAlgorithm::Hs256 => {
            return Err(KeyMaterialError(
                "HS256 signs with the master secret".into(),
            ));
        }
    };
    Ok(PrivateDer(der))
}

/// What a key id and its private key give: a signer, a verifier pinned to the key, and the
/// public JWK to publish.
pub struct KeyPair {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub public_jwk: Value,
}

/// Derives the public half of `private` and the JWT library's keys.
///
/// # Errors
/// The DER does not hold a key of `algorithm`.
pub fn key_pair(
    algorithm: SigningAlgorithm,
    kid: &str,
    private: &PrivateDer,
) -> Result<KeyPair, KeyMaterialError> {
    let bad = |e: &dyn fmt::Display| KeyMaterialError(format!("unreadable private key: {e}"));
    let der = private.as_bytes();
    let (encoding, public) = match algorithm {
        SigningAlgorithm::Es256 => {
            let key = p256::SecretKey::from_pkcs8_der(der).map_err(|e| bad(&e))?;
            let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &key.public_key(),
                false,
            );
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err(KeyMaterialError("a P-256 public key without x or y".into()));
            };
            let public = json!({
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(x),
                "y": URL_SAFE_NO_PAD.encode(y),
            });
            (EncodingKey::from_ec_der(der), public)
        }
        SigningAlgorithm::EdDsa => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| bad(&e))?;
            let public = json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            });
            (EncodingKey::from_ed_der(der), public)
        }
        SigningAlgorithm::Rs256 => {
            let key = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|e| bad(&e))?;
            let public = json!({
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            });
            (EncodingKey::from_rsa_der(der), public)
        }
        SigningAlgorithm::Hs256 => {
            return Err(KeyMaterialError(
                "HS256 signs with the master secret".into(),
            ));
        }
    };
    let text = |name: &str| public[name].as_str().unwrap_or_default().to_owned();
    let decoding = match algorithm {
        SigningAlgorithm::Es256 => DecodingKey::from_ec_components(&text("x"), &text("y")),
        SigningAlgorithm::EdDsa => DecodingKey::from_ed_components(&text("x")),
        _ => DecodingKey::from_rsa_components(&text("n"), &text("e")),
    }
    .map_err(|e| bad(&e))?;
    let mut public_jwk = public;
    public_jwk["kid"] = kid.into();
    public_jwk["alg"] = algorithm.jwt_name().into();
    public_jwk["use"] = "sig".into();
    Ok(KeyPair {
        encoding,
        decoding,
        public_jwk,
    })
}

/// A new key id: 128 random bits in hex (never starting with `-`, so it is safe to pass on a
/// command line). Carries no meaning, so it cannot be steered.
pub fn new_kid() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Header, Validation};

    #[test]
    fn every_asymmetric_algorithm_signs_and_verifies_with_a_public_jwk_only() {
        for algorithm in [
            SigningAlgorithm::Es256,
            SigningAlgorithm::EdDsa,
            SigningAlgorithm::Rs256,
        ] {
            let private = generate(algorithm).unwrap();
            let pair = key_pair(algorithm, "kid-1", &private).unwrap();
            for private_part in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(pair.public_jwk.get(private_part).is_none(), "{algorithm:?}");
            }
            let jwt_algorithm = algorithm.jwt_algorithm().unwrap();
            let token = jsonwebtoken::encode(
                &Header::new(jwt_algorithm),
                &json!({ "sub": "x", "exp": 4_000_000_000_u64 }),
                &pair.encoding,
            )
            .unwrap();
            let mut validation = Validation::new(jwt_algorithm);
            validation.required_spec_claims.clear();
            jsonwebtoken::decode::<Value>(&token, &pair.decoding, &validation)
                .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
            // The published JWK alone verifies too.
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(pair.public_jwk).unwrap();
            let from_jwk = DecodingKey::from_jwk(&jwk).unwrap();
            jsonwebtoken::decode::<Value>(&token, &from_jwk, &validation).unwrap();
        }
    }

    #[test]
    fn hs256_has_no_key_pair() {
        assert!(generate(SigningAlgorithm::Hs256).is_err());
    }
}
