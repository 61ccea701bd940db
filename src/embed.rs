//! latchkey inside a host application: [`LatchkeyBuilder`] turns settings into an axum
//! [`Router`] the host nests under a prefix of its choice, with latchkey's background work
//! (mail delivery, key and session watchers) running on the host's runtime. The host's own
//! handlers get the signed-in caller through [`SignedIn`] and can demand a role with
//! [`RequireRole`]; account events reach hooks registered with
//! [`LatchkeyBuilder::on_account_event`] after each change commits.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use latchkey::config::Settings;
//! use latchkey::embed::{LatchkeyBuilder, SignedIn};
//!
//! async fn hello(caller: SignedIn) -> String {
//!     format!("hello {}", caller.user_id)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::from_args(["--database-url", "sqlite://app.db?mode=rwc"]).unwrap();
//! let latchkey = LatchkeyBuilder::new(settings)
//!     .on_account_event(|event| async move { println!("{event:?}") })
//!     .build()
//!     .await?;
//! let app: Router = Router::new()
//!     .route("/hello", get(hello))
//!     .with_state(latchkey.auth())
//!     .nest("/auth", latchkey.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
//! axum::serve(listener, service).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use crate::accounts::AccountEvent;
use crate::accounts::{AccountHook, Accounts};
use crate::app::{Application, StartupError};
use crate::config::Settings;

/// Settings and hooks, before anything starts.
pub struct LatchkeyBuilder {
    settings: Settings,
    hooks: Vec<AccountHook>,
}

impl LatchkeyBuilder {
    /// `settings` as for `latchkey serve`; `listen` and the connection limits are unused (the
    /// host serves), `public_url` should be where the host exposes the nested routes (for
    /// example `https://app.example.com/auth`).
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            hooks: Vec::new(),
        }
    }

    /// Calls `hook` after every account change commits, on a task of its own: whatever it
    /// does or however it fails, the change stands and the request is not held up.
    #[must_use]
    pub fn on_account_event<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(AccountEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks
            .push(Arc::new(move |event| Box::pin(hook(event))));
        self
    }

    /// Connects, migrates, loads the keys and starts the background work on the current tokio
    /// runtime.
    ///
    /// # Errors
    /// As `latchkey serve` at start-up: bad settings, an unreachable database.
    pub async fn build(self) -> Result<Latchkey, StartupError> {
        let app = Application::build_unbound(self.settings).await?;
        for hook in self.hooks {
            app.accounts().on_account_event(hook);
        }
        let router = app.router();
        let auth = HostAuth {
            accounts: app.accounts().clone(),
        };
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let background = tokio::spawn(app.run_until(async move { stopped.cancelled().await }));
        Ok(Latchkey {
            router,
            auth,
            stop,
            background,
        })
    }
}

/// A running embedded latchkey.
pub struct Latchkey {
    router: Router,
    auth: HostAuth,
    stop: tokio_util::sync::CancellationToken,
    background: JoinHandle<std::io::Result<()>>,
}

impl Latchkey {
    /// latchkey's routes (`/graphql`, `/.well-known/jwks.json`, `/healthz`, ...), to nest
    /// under any prefix. Serve the host's router with
    /// `into_make_service_with_connect_info::<SocketAddr>()`: latchkey's rate limits need the
    /// peer address.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// What [`SignedIn`] and [`RequireRole`] need: the host's state must provide it
    /// (`FromRef`), or be it.
    pub fn auth(&self) -> HostAuth {
        self.auth.clone()
    }

    /// Stops the background work, delivering mail already queued, and closes the database.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(error) = self.background.await {
            tracing::error!(%error, "latchkey's background work ended abnormally");
        }
    }
}

/// Checks access tokens for the host's handlers. Cheap to clone.
#[derive(Clone)]
pub struct HostAuth {
    accounts: Accounts,
}

/// The signed-in caller of a host handler: a valid access token of a live session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// The role codes the access token carries (none when it carries no `roles` claim).
    pub roles: Vec<String>,
}

impl SignedIn {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }
}

/// A role a host handler requires: `struct Admin; impl Role for Admin { const NAME: &str = "admin"; }`.
pub trait Role {
    const NAME: &'static str;
}

/// The caller, holding role `R`.
#[derive(Debug, Clone)]
pub struct RequireRole<R: Role>(pub SignedIn, pub PhantomData<R>);

/// 401 (with `WWW-Authenticate: Bearer`) without a valid token, 403 without the role, 503 when
/// the database cannot say whether the session is alive.
#[derive(Debug)]
pub enum AuthRejection {
    Unauthenticated,
    Forbidden,
    Unavailable,
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
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
        }
    }
}

/// Roles, read from a token latchkey has already verified.
#[derive(Deserialize)]
struct RolesClaim {
    #[serde(default)]
    roles: Vec<String>,
}

fn roles_of(token: &str) -> Vec<String> {
    token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|json| serde_json::from_slice::<RolesClaim>(&json).ok())
        .map(|claim| claim.roles)
        .unwrap_or_default()
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl<S> FromRequestParts<S> for SignedIn
where
    HostAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        let token = bearer(parts).ok_or(AuthRejection::Unauthenticated)?;
        match HostAuth::from_ref(state).accounts.authenticate(token).await {
            Ok(Some(caller)) => Ok(Self {
                user_id: caller.user_id.into(),
                session_id: caller.session_id.into(),
                roles: roles_of(token),
            }),
            Ok(None) => Err(AuthRejection::Unauthenticated),
            Err(error) => {
                tracing::error!(%error, "could not check an access token's session");
                Err(AuthRejection::Unavailable)
            }
        }
    }
}

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    HostAuth: FromRef<S>,
    S: Send + Sync,
    R: Role,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        let caller = SignedIn::from_request_parts(parts, state).await?;
        if !caller.has_role(R::NAME) {
            return Err(AuthRejection::Forbidden);
        }
        Ok(Self(caller, PhantomData))
    }
}
