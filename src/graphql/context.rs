//! Per-request data the HTTP layer hands to resolvers: who is calling, and the request id.

use async_graphql::Context;

use super::errors::internal_error;
use crate::accounts::Caller;
use crate::audit::RequestMeta;
use crate::throttle::ClientAddr;

/// The outcome of checking the request's bearer token.
#[derive(Debug, Clone, Copy)]
pub enum Authentication {
    /// No token, or one that is malformed, expired or revoked.
    Anonymous,
    Caller(Caller),
    /// The token could not be checked (the database is unreachable). Operations that need a
    /// user fail with an internal error rather than treating the request as either answer.
    Unavailable,
}

/// The id of this request, as sent back in `x-request-id` and written into the log.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The signed-in caller, or `UNAUTHENTICATED`.
///
/// # Errors
/// `UNAUTHENTICATED` without a valid token; an internal error when it could not be checked.
pub fn require_caller(ctx: &Context<'_>) -> async_graphql::Result<Caller> {
    match ctx
        .data_opt::<Authentication>()
        .copied()
        .unwrap_or(Authentication::Anonymous)
    {
        Authentication::Caller(caller) => Ok(caller),
        Authentication::Anonymous => Err(super::errors::unauthenticated()),
        Authentication::Unavailable => {
            Err(internal_error(ctx, "the access token could not be checked"))
        }
    }
}

/// The client address the HTTP layer resolved, which password checks are counted under. Fails
/// closed: without it, nothing rationed per address may run.
///
/// # Errors
/// An internal error when the request carries no client address.
pub fn client_addr(ctx: &Context<'_>) -> async_graphql::Result<ClientAddr> {
    ctx.data_opt::<ClientAddr>()
        .copied()
        .ok_or_else(|| internal_error(ctx, "the request carries no client address"))
}

/// The request's `User-Agent`, cut to 256 characters: shown to users in their session list.
#[derive(Debug, Clone, Default)]
pub struct UserAgent(pub Option<String>);

impl UserAgent {
    const MAX_CHARS: usize = 256;

    pub fn from_headers(headers: &axum::http::HeaderMap) -> Self {
        let value = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty());
        Self(value.map(|value| value.chars().take(Self::MAX_CHARS).collect()))
    }
}

/// Where the request comes from and which one it is, as sessions and audit events record it:
/// the client address as the rate limits resolve it, the user agent, and the request id.
///
/// # Errors
/// An internal error when the request carries no client address.
pub fn request_meta(ctx: &Context<'_>) -> async_graphql::Result<RequestMeta> {
    Ok(RequestMeta {
        ip: Some(client_addr(ctx)?.ip()),
        user_agent: ctx
            .data_opt::<UserAgent>()
            .and_then(|agent| agent.0.clone()),
        request_id: ctx
            .data_opt::<RequestId>()
            .map(|id| id.0.clone())
            .filter(|id| !id.is_empty()),
    })
}
