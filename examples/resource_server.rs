//! A service of your own that trusts latchkey's access tokens without sharing any secret with
//! it: `latchkey-verify` fetches latchkey's public keys from its JWKS URL and checks each token.
//!
//! Run latchkey (`cargo run`), then `LATCHKEY_URL=http://127.0.0.1:8080 cargo run --example
//! resource_server`, and call `GET http://127.0.0.1:3001/hello` with `Authorization: Bearer
//! <accessToken>`. `GET /admin` also needs the `admin` role.

use axum::Router;
use axum::routing::get;
use latchkey_verify::{Authenticated, RequireRole, Role, Verifier, VerifierConfig};

/// The role `GET /admin` requires.
pub struct Admin;

impl Role for Admin {
    const NAME: &'static str = "admin";
}

async fn hello(Authenticated(claims): Authenticated) -> String {
    format!("hello {}", claims.sub)
}

async fn admin(RequireRole(claims, _): RequireRole<Admin>) -> String {
    format!("welcome, administrator {}", claims.sub)
}

/// The service's routes, protected by tokens of the latchkey at `latchkey_url`.
pub fn app(latchkey_url: &str) -> Router {
    let verifier = Verifier::new(VerifierConfig::new(latchkey_url));
    Router::new()
        .route("/hello", get(hello))
        .route("/admin", get(admin))
        .with_state(verifier)
}

#[tokio::main]
#[allow(dead_code)] // Also compiled into the integration tests, which call `app` only.
async fn main() -> std::io::Result<()> {
    let latchkey_url =
        std::env::var("LATCHKEY_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    axum::serve(listener, app(&latchkey_url)).await
}
