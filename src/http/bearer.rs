//! The bearer-token extractor: turns `Authorization: Bearer <jwt>` into the request's
//! `Authentication`. A bad token never blocks a request; it only makes it anonymous.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use crate::graphql::Authentication;

pub struct Bearer(pub Authentication);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer_token(parts) else {
            return Ok(Self(Authentication::Anonymous));
        };
        let authentication = match state.accounts.authenticate(token).await {
            Ok(Some(caller)) => Authentication::Caller(caller),
            Ok(None) => Authentication::Anonymous,
            Err(error) => {
                tracing::error!(%error, "could not check an access token's session");
                Authentication::Unavailable
            }
        };
        Ok(Self(authentication))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    token_of(parts.headers.get(AUTHORIZATION)?.to_str().ok()?)
}

/// The token of an `Authorization` value, `Bearer <token>` (the scheme in any case).
pub(super) fn token_of(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
