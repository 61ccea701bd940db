//! Access tokens: HS256 JWTs with `typ: at+jwt` (RFC 9068). Verification pins the algorithm and
//! checks `typ`, which the JWT library leaves to us; header fields never choose a key.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Clock skew tolerated on `exp` and `nbf` (docs/security.md: at most 30 s).
const LEEWAY_SECONDS: u64 = 30;
const TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Serialize, Deserialize)]
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
}

/// Whom an access token is for.
pub struct AccessSubject<'a> {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub organization_id: Uuid,
    pub roles: &'a [String],
}

/// Signing and verification keys, decoded once at start-up.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// An access token and its lifetime in seconds.
pub struct IssuedAccessToken {
    pub token: String,
    pub expires_in: i64,
}

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
            .into_iter()
            .map(String::from)
            .collect::<HashSet<_>>();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    /// # Errors
    /// Only if serialisation fails, which the claim types rule out in practice.
    pub fn issue(
        &self,
        subject: &AccessSubject<'_>,
    ) -> Result<IssuedAccessToken, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let expires_in = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = AccessClaims {
            sub: subject.user_id,
            sid: subject.session_id,
            iat: now,
            exp: now.saturating_add(expires_in),
            nbf: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4(),
            org: subject.organization_id,
            roles: subject.roles.to_vec(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)?;
        Ok(IssuedAccessToken { token, expires_in })
    }

    /// Checks signature, algorithm, `typ`, `exp`, `nbf`, `iss` and `aud`. Whether the session is
    /// still alive is the caller's business (`accounts::Accounts::authenticate`).
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        let typ = data.header.typ.as_deref()?;
        // RFC 9068 allows the media-type form too.
        let typ_ok =
            typ.eq_ignore_ascii_case(TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt");
        typ_ok.then_some(data.claims)
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
}
