//! What other services read to verify latchkey's access tokens themselves: the public keys
//! (`/.well-known/jwks.json`) and the discovery document that points at them. Both may be
//! cached for five minutes; a rotation publishes the next key well before it signs.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=300");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

pub async fn jwks(State(state): State<AppState>) -> Response {
    let jwks = state.accounts.token_keys().jwks();
    (
        [
            (header::CONTENT_TYPE, JSON),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        jwks.to_string(),
    )
        .into_response()
}

pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    let keys = state.accounts.token_keys();
    let settings = keys.settings();
    let body = serde_json::json!({
        "issuer": settings.issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", settings.public_url),
    });
    (
        [
            (header::CONTENT_TYPE, JSON),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        body.to_string(),
    )
        .into_response()
}
