//! Access tokens: JWTs with `typ: at+jwt` (RFC 9068) and a `kid` naming latchkey's signing key
//! (or, under HS256, signed with the master secret). Verification picks the key by `kid` among
//! latchkey's own keys only, pins each key's algorithm and checks `typ`, which the JWT library
//! leaves to us; `jku`, `x5u` and an embedded `jwk` are never looked at.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::signing_keys::KeyState;
use super::signing_keys::material::KeyPair;
use super::verified_tokens::VerifiedTokens;

/// Clock skew tolerated on `exp` and `nbf` (docs/security.md: at most 30 s).
const LEEWAY_SECONDS: u64 = 30;
const TOKEN_TYPE: &str = "at+jwt";
/// Hasura's claims namespace (`LATCHKEY_HASURA_CLAIMS`).
pub const HASURA_NAMESPACE: &str = "https://hasura.io/jwt/claims";
/// The role every signed-in user has in Hasura's claims.
pub const HASURA_DEFAULT_ROLE: &str = "user";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    /// The user's organization. Absent (nil) in tokens signed before organizations existed.
    #[serde(default)]
    pub org: Uuid,
    /// The user's role codes when the token was signed; latchkey itself checks the live ones.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(
        rename = "https://hasura.io/jwt/claims",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hasura: Option<HasuraClaims>,
}

/// Whom an access token is for.
pub struct AccessSubject<'a> {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub organization_id: Uuid,
    pub roles: &'a [String],
}

/// Hasura's claims, in the shape its JWT mode reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HasuraClaims {
    #[serde(rename = "x-hasura-user-id")]
    pub user_id: String,
    #[serde(rename = "x-hasura-default-role")]
    pub default_role: String,
    #[serde(rename = "x-hasura-allowed-roles")]
    pub allowed_roles: Vec<String>,
}

impl HasuraClaims {
    /// `user` first (the default role), then the user's own roles.
    pub fn new(user_id: Uuid, roles: &[String]) -> Self {
        let mut allowed_roles = vec![HASURA_DEFAULT_ROLE.to_owned()];
        for role in roles {
            if !allowed_roles.contains(role) {
                allowed_roles.push(role.clone());
            }
        }
        Self {
            user_id: user_id.to_string(),
            default_role: HASURA_DEFAULT_ROLE.to_owned(),
            allowed_roles,
        }
    }
}

/// What access tokens say besides the keys: who issues them, for whom, for how long.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
    /// Add Hasura's claims namespace.
    pub hasura_claims: bool,
    /// The externally visible base URL, without a trailing slash (discovery's `jwks_uri`).
    pub public_url: String,
}

impl TokenSettings {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl: settings.access_token_ttl,
            hasura_claims: settings.hasura_claims,
            public_url: settings.public_url(),
        }
    }
}

struct Signer {
    /// `None` for the master secret (HS256), whose tokens name no key.
    kid: Option<String>,
    algorithm: Algorithm,
    key: SigningKey,
}

/// The signing key, ready to sign.
enum SigningKey {
    /// ES256 through ring, the key parsed once. The JWT library's pure-Rust backend parses the
    /// PKCS#8 document and derives the public point again for every token, and its P-256
    /// arithmetic is several times slower; every login, signup and refresh signs.
    Es256(Box<ring::signature::EcdsaKeyPair>),
    /// Every other algorithm, through the JWT library.
    Library(EncodingKey),
}

impl SigningKey {
    fn new(algorithm: Algorithm, key: EncodingKey) -> Self {
        if algorithm == Algorithm::ES256
            && let Some(pair) = es256_key_pair(key.inner())
        {
            return Self::Es256(Box::new(pair));
        }
        Self::Library(key)
    }

    /// The token in JWS compact form (RFC 7515, section 7.1), as the JWT library writes it.
    fn sign<T: Serialize>(
        &self,
        header: &Header,
        claims: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;

        let pair = match self {
            Self::Es256(pair) => pair,
            Self::Library(key) => return jsonwebtoken::encode(header, claims, key),
        };
        let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?));
        // The fixed-length form, r then s: what JWS calls an ES256 signature.
        let signature = pair
            .sign(&ring::rand::SystemRandom::new(), token.as_bytes())
            .map_err(|_| jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey)?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Ok(token)
    }
}

/// ring's key pair for a P-256 private key in PKCS#8 DER; `None` if it is none.
fn es256_key_pair(pkcs8: &[u8]) -> Option<ring::signature::EcdsaKeyPair> {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    use p256::pkcs8::DecodePrivateKey as _;

    let secret = p256::SecretKey::from_pkcs8_der(pkcs8).ok()?;
    let public = secret.public_key().to_encoded_point(false);
    ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &secret.to_bytes(),
        public.as_bytes(),
        &ring::rand::SystemRandom::new(),
    )
    .ok()
}

struct Verifier {
    kid: Option<Arc<str>>,
    key: DecodingKey,
    /// Accepts this key's algorithm only.
    validation: Validation,
}

/// The keys in use at one moment: the one that signs, those that verify, and the public JWKS.
pub struct KeySet {
    generation: u64,
    signer: Option<Signer>,
    /// Latchkey's own asymmetric keys by `kid`.
    by_kid: HashMap<String, Verifier>,
    /// HS256: the master secret verifies every token, whatever its header names.
    secret: Option<Verifier>,
    jwks: Arc<str>,
}

impl KeySet {
    /// HS256 with the master secret: nothing published.
    pub fn secret(secret: &[u8], settings: &TokenSettings) -> Self {
        Self {
            generation: 0,
            signer: Some(Signer {
                kid: None,
                algorithm: Algorithm::HS256,
                key: SigningKey::Library(EncodingKey::from_secret(secret)),
            }),
            by_kid: HashMap::new(),
            secret: Some(Verifier {
                kid: None,
                key: DecodingKey::from_secret(secret),
                validation: validation(Algorithm::HS256, settings),
            }),
            jwks: Arc::from(r#"{"keys":[]}"#),
        }
    }

    /// Latchkey's published keys: `current` signs; `current` and `previous` verify; `next` is
    /// only published. Keys in other states are not given here.
    pub fn published<'a>(
        keys: impl IntoIterator<Item = (&'a str, Algorithm, KeyState, &'a KeyPair)>,
        settings: &TokenSettings,
    ) -> Self {
        let mut set = Self {
            generation: 0,
            signer: None,
            by_kid: HashMap::new(),
            secret: None,
            jwks: Arc::from(""),
        };
        let mut published = Vec::new();
        for (kid, algorithm, state, pair) in keys {
            published.push(pair.public_jwk.clone());
            if state == KeyState::Current && set.signer.is_none() {
                set.signer = Some(Signer {
                    kid: Some(kid.to_owned()),
                    algorithm,
                    key: SigningKey::new(algorithm, pair.encoding.clone()),
                });
            }
            if matches!(state, KeyState::Current | KeyState::Previous) {
                set.by_kid.insert(
                    kid.to_owned(),
                    Verifier {
                        kid: Some(Arc::from(kid)),
                        key: pair.decoding.clone(),
                        validation: validation(algorithm, settings),
                    },
                );
            }
        }
        set.jwks = Arc::from(serde_json::json!({ "keys": published }).to_string());
        set
    }

    fn verifier_for(&self, header: &Header) -> Option<&Verifier> {
        if let Some(secret) = &self.secret {
            return Some(secret);
        }
        self.by_kid.get(header.kid.as_deref()?)
    }

    fn trusts(&self, kid: Option<&str>) -> bool {
        match kid {
            None => self.secret.is_some(),
            Some(kid) => self.by_kid.contains_key(kid),
        }
    }
}

fn validation(algorithm: Algorithm, settings: &TokenSettings) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.algorithms = vec![algorithm];
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
        .into_iter()
        .map(String::from)
        .collect::<HashSet<_>>();
    validation
}

/// Signs and verifies access tokens with the keys of the moment. Cheap to clone; every clone
/// sees key changes (`replace_keys`) at once.
#[derive(Clone)]
pub struct JwtKeys {
    inner: Arc<Inner>,
}

struct Inner {
    keys: RwLock<Arc<KeySet>>,
    verified: VerifiedTokens,
    settings: TokenSettings,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.inner.settings.issuer)
            .field("audience", &self.inner.settings.audience)
            .field("ttl", &self.inner.settings.ttl)
            .finish_non_exhaustive()
    }
}

/// An access token and its lifetime in seconds.
pub struct IssuedAccessToken {
    pub token: String,
    pub expires_in: i64,
}

impl JwtKeys {
    /// HS256 keys from the master secret.
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Self {
        let settings = TokenSettings {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            hasura_claims: false,
            public_url: String::new(),
        };
        Self::with_keys(KeySet::secret(secret, &settings), settings)
    }

    pub fn with_keys(keys: KeySet, settings: TokenSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(Arc::new(keys)),
                verified: VerifiedTokens::default(),
                settings,
            }),
        }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.inner.settings
    }

    /// Puts `keys` in use. Tokens of keys no longer trusted are refused from now on, even
    /// those verified before.
    pub fn replace_keys(&self, mut keys: KeySet) {
        let mut slot = self
            .inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.generation = slot.generation.wrapping_add(1);
        self.inner
            .verified
            .keys_changed(keys.generation, |kid| keys.trusts(kid));
        *slot = Arc::new(keys);
    }

    fn keys(&self) -> Arc<KeySet> {
        Arc::clone(
            &self
                .inner
                .keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The public keys as a JWKS document (`{"keys": []}` under HS256).
    pub fn jwks(&self) -> Arc<str> {
        Arc::clone(&self.keys().jwks)
    }

    /// # Errors
    /// No usable signing key (its private part did not open), or serialisation failed, which
    /// the claim types rule out in practice.
    pub fn issue(
        &self,
        subject: &AccessSubject<'_>,
    ) -> Result<IssuedAccessToken, jsonwebtoken::errors::Error> {
        let settings = &self.inner.settings;
        let now = chrono::Utc::now().timestamp();
        let expires_in = i64::try_from(settings.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = AccessClaims {
            sub: subject.user_id,
            sid: subject.session_id,
            iat: now,
            exp: now.saturating_add(expires_in),
            nbf: None,
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            jti: Uuid::new_v4(),
            org: subject.organization_id,
            roles: subject.roles.to_vec(),
            hasura: settings
                .hasura_claims
                .then(|| HasuraClaims::new(subject.user_id, subject.roles)),
        };
        let keys = self.keys();
        let signer = keys
            .signer
            .as_ref()
            .ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
        let mut header = Header::new(signer.algorithm);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid.clone_from(&signer.kid);
        let token = signer.key.sign(&header, &claims)?;
        Ok(IssuedAccessToken { token, expires_in })
    }

    /// Checks signature, algorithm, `typ`, `exp`, `nbf`, `iss` and `aud`. Whether the session is
    /// still alive is the caller's business (`accounts::Accounts::authenticate`).
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        let now = chrono::Utc::now().timestamp();
        if let Some(claims) = self.inner.verified.get(token, now) {
            return Some(claims);
        }
        let keys = self.keys();
        let header = jsonwebtoken::decode_header(token).ok()?;
        let verifier = keys.verifier_for(&header)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &verifier.key, &verifier.validation)
            .ok()?;
        let typ = data.header.typ.as_deref()?;
        // RFC 9068 allows the media-type form too.
        let typ_ok =
            typ.eq_ignore_ascii_case(TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt");
        if !typ_ok {
            return None;
        }
        self.inner.verified.remember(
            keys.generation,
            token,
            &data.claims,
            verifier.kid.clone(),
            now,
        );
        Some(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> JwtKeys {
        JwtKeys::new(SECRET, "latchkey", "latchkey", Duration::from_secs(900))
    }

    fn subject(user_id: Uuid, session_id: Uuid, roles: &[String]) -> AccessSubject<'_> {
        AccessSubject {
            user_id,
            session_id,
            organization_id: Uuid::from_u128(7),
            roles,
        }
    }

    #[test]
    fn an_issued_token_verifies_and_names_user_and_session() {
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let roles = vec!["admin".to_owned(), "billing".to_owned()];
        let issued = keys().issue(&subject(user, session, &roles)).unwrap();
        let claims = keys().verify(&issued.token).expect("valid");
        assert_eq!((claims.sub, claims.sid), (user, session));
        assert_eq!((claims.org, claims.roles), (Uuid::from_u128(7), roles));
        assert_eq!(issued.expires_in, 900);
    }

    #[test]
    fn a_token_without_the_access_token_type_is_refused() {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: Uuid::new_v4(),
            sid: Uuid::new_v4(),
            iat: now,
            exp: now + 60,
            nbf: None,
            iss: "latchkey".into(),
            aud: "latchkey".into(),
            jti: Uuid::new_v4(),
            org: Uuid::new_v4(),
            roles: Vec::new(),
            hasura: None,
        };
        let plain = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(keys().verify(&plain).is_none());
    }

    #[test]
    fn other_audiences_issuers_and_keys_are_refused() {
        let issued = keys()
            .issue(&subject(Uuid::new_v4(), Uuid::new_v4(), &[]))
            .unwrap();
        let other_audience = JwtKeys::new(SECRET, "latchkey", "other", Duration::from_secs(900));
        let other_issuer = JwtKeys::new(SECRET, "other", "latchkey", Duration::from_secs(900));
        let other_key = JwtKeys::new(
            b"another-secret-that-is-32-bytes-long",
            "latchkey",
            "latchkey",
            Duration::from_secs(900),
        );
        assert!(other_audience.verify(&issued.token).is_none());
        assert!(other_issuer.verify(&issued.token).is_none());
        assert!(other_key.verify(&issued.token).is_none());
    }

    #[test]
    fn an_es256_token_verifies_with_the_jwt_library_and_says_what_it_would() {
        use crate::auth::signing_keys::SigningAlgorithm;
        use crate::auth::signing_keys::material;

        let private = material::generate(SigningAlgorithm::Es256).unwrap();
        let pair = material::key_pair(SigningAlgorithm::Es256, "k1", &private).unwrap();
        let settings = TokenSettings {
            issuer: "latchkey".into(),
            audience: "latchkey".into(),
            ttl: Duration::from_secs(900),
            hasura_claims: false,
            public_url: String::new(),
        };
        let keys = JwtKeys::with_keys(
            KeySet::published(
                [("k1", Algorithm::ES256, KeyState::Current, &pair)],
                &settings,
            ),
            settings,
        );
        let roles = vec!["admin".to_owned()];
        let issued = keys
            .issue(&subject(Uuid::new_v4(), Uuid::new_v4(), &roles))
            .unwrap();
        assert!(keys.verify(&issued.token).is_some());

        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["latchkey"]);
        let verified =
            jsonwebtoken::decode::<AccessClaims>(&issued.token, &pair.decoding, &validation)
                .unwrap();
        assert_eq!(verified.claims.roles, roles);

        // Header and claims read exactly as the library writes them; only the signature differs
        // (ECDSA signatures are randomised).
        let by_library =
            jsonwebtoken::encode(&verified.header, &verified.claims, &pair.encoding).unwrap();
        let signed_part = |token: &str| token.rsplit_once('.').unwrap().0.to_owned();
        assert_eq!(signed_part(&issued.token), signed_part(&by_library));
        let signature = issued.token.rsplit_once('.').unwrap().1;
        assert_eq!(signature.len(), 86, "64 bytes, r then s, in base64url");
    }
}
