//! axum extractors: [`Authenticated`] for any signed-in caller, [`RequireRole`] for a caller
//! holding a role. A missing or invalid token is 401 with `WWW-Authenticate: Bearer`; a valid
//! token without the role is 403; unreachable keys are 503. Never a 500.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{Claims, Verifier, VerifyError};

/// The verified claims of the request's `Authorization: Bearer` token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

/// A role a handler requires: `struct Admin; impl Role for Admin { const NAME: &str = "admin"; }`.
pub trait Role {
    const NAME: &'static str;
}

/// The claims of a caller holding role `R`.
#[derive(Debug, Clone)]
pub struct RequireRole<R: Role>(pub Claims, pub PhantomData<R>);

#[derive(Debug)]
pub enum AuthRejection {
    /// 401: no token, or not a valid one.
    Unauthenticated,
    /// 403: valid, but without the role.
    Forbidden,
    /// 503: latchkey's keys could not be fetched.
    KeysUnavailable,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "unauthenticated",
            )
                .into_response(),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden").into_response(),
            Self::KeysUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "keys unavailable").into_response()
            }
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl<S> FromRequestParts<S> for Authenticated
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        let token = bearer(parts).ok_or(AuthRejection::Unauthenticated)?;
        match Verifier::from_ref(state).verify(token).await {
            Ok(claims) => Ok(Self(claims)),
            Err(VerifyError::Invalid(_)) => Err(AuthRejection::Unauthenticated),
            Err(VerifyError::KeysUnavailable(error)) => {
                tracing::warn!(%error, "cannot verify tokens: latchkey's keys are unavailable");
                Err(AuthRejection::KeysUnavailable)
            }
        }
    }
}

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    R: Role,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        let Authenticated(claims) = Authenticated::from_request_parts(parts, state).await?;
        if !claims.has_role(R::NAME) {
            return Err(AuthRejection::Forbidden);
        }
        Ok(Self(claims, PhantomData))
    }
}
