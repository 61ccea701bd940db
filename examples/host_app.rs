//! latchkey inside your own axum application: its GraphQL API nested under `/auth`, your routes
//! beside it protected by latchkey's sessions (`/hello` for anyone signed in, `/admin` for the
//! `admin` role), and a hook told of every account change after it commits.
//!
//! `LATCHKEY_SECRET=$(cargo run -q -- secret generate) cargo run --example host_app`, then sign
//! up through `POST http://127.0.0.1:3000/auth/graphql` and call `GET /hello` with the token.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use latchkey::app::StartupError;
use latchkey::config::Settings;
use latchkey::embed::{AccountEvent, Latchkey, LatchkeyBuilder, RequireRole, Role, SignedIn};

/// The role `GET /admin` requires.
pub struct Admin;

impl Role for Admin {
    const NAME: &'static str = "admin";
}

async fn hello(caller: SignedIn) -> String {
    format!("hello {}", caller.user_id)
}

async fn admin(RequireRole(caller, _): RequireRole<Admin>) -> String {
    format!("welcome, administrator {}", caller.user_id)
}

/// What the hook saw, newest last (a real app would send a welcome mail, fill a CRM, ...).
pub type EventLog = Arc<Mutex<Vec<AccountEvent>>>;

/// The host's router with latchkey nested at `/auth`, the running latchkey (shut it down at
/// the end), and the events its hook has recorded.
///
/// # Errors
/// latchkey could not start (bad settings, no database).
pub async fn host_app(settings: Settings) -> Result<(Router, Latchkey, EventLog), StartupError> {
    let events = EventLog::default();
    let recorded = events.clone();
    let latchkey = LatchkeyBuilder::new(settings)
        .on_account_event(move |event| {
            let recorded = recorded.clone();
            async move {
                recorded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(event);
            }
        })
        .build()
        .await?;
    let router = Router::new()
        .route("/hello", get(hello))
        .route("/admin", get(admin))
        .with_state(latchkey.auth())
        .nest("/auth", latchkey.router());
    Ok((router, latchkey, events))
}

#[tokio::main]
#[allow(dead_code)] // Also compiled into the integration tests, which call `host_app` only.
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_args([
        "--database-url",
        "sqlite://host-app.db?mode=rwc",
        "--public-url",
        "http://127.0.0.1:3000/auth",
    ])?;
    let (router, latchkey, _events) = host_app(settings).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    // latchkey's routes need the peer address (per-address rate limits).
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).await?;
    latchkey.shutdown().await;
    Ok(())
}
