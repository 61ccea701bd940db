//! Assembling the server: database and migrations, keys, the account service, the mail and
//! webhook workers and the router; then serving until told to stop, and stopping cleanly.

use std::future::Future;
use std::net::SocketAddr;

use sea_orm::{DatabaseConnection, DbErr};
use secrecy::ExposeSecret as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::accounts::domain::PasswordPolicy;
use crate::accounts::{
    AccountDeps, AccountSettings, Accounts, MailRequestWorker, SessionChangeListener,
};
use crate::audit::AuditLog;
use crate::auth::master_secret;
use crate::auth::password::PasswordHasher;
use crate::auth::secret_box::{Purpose, SecretBox};
use crate::auth::signing_keys::{self, KeyError, KeyWatcher};
use crate::cleanup::{Cleanup, CleanupSettings};
use crate::config::Settings;
use crate::db;
use crate::graphql::{SchemaDeps, Schemas};
use crate::http::server::{self, ConnectionLimits};
use crate::http::{AppState, router};
use crate::mail::transport::Transport;
use crate::mail::worker::MailWorker;
use crate::mail::{Outbox, template_overrides};
use crate::metrics::Metrics;
use crate::throttle::RateLimiter;
use crate::webhooks::{WebhookConfig, WebhookQueue, WebhookWorker};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is unusable; `main` exits with status 2.
    #[error("{0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A built server, bound to its port (unless embedded), not yet serving.
pub struct Application {
    /// `None` when embedded: the host serves the router.
    listener: Option<TcpListener>,
    router: axum::Router,
    accounts: Accounts,
    worker: MailWorker,
    /// `None` without webhook receivers.
    webhook_worker: Option<WebhookWorker>,
    reset_worker: MailRequestWorker,
    session_listener: SessionChangeListener,
    cleanup: Cleanup,
    key_watcher: Option<KeyWatcher>,
    db: DatabaseConnection,
    limits: ConnectionLimits,
}

impl Application {
    /// Connects, migrates, binds and wires everything, so that `local_addr` is known before
    /// serving starts (tests bind port 0).
    ///
    /// # Errors
    /// `Config` for unusable settings, otherwise the database or I/O error.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let mut app = Self::build_unbound(settings.clone()).await?;
        let listener = TcpListener::bind(settings.listen).await.map_err(|e| {
            StartupError::Config(format!(
                "LATCHKEY_LISTEN {} cannot be bound: {e}",
                settings.listen
            ))
        })?;
        app.listener = Some(listener);
        Ok(app)
    }

    /// Everything but the listener, for a host application that serves the router itself
    /// (`crate::embed`); `run_until` then runs only the background work.
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_unbound(settings: Settings) -> Result<Self, StartupError> {
        // Settings first: a missing key is a configuration error, whatever the database says.
        let secret = master_secret::load(&settings).map_err(StartupError::Config)?;
        let templates = template_overrides::load(settings.templates_dir.as_deref())
            .map_err(StartupError::Config)?;
        let webhooks = WebhookConfig::from_settings(&settings).map_err(StartupError::Config)?;
        let pool = db::PoolSettings {
            max_connections: settings.database_max_connections,
            timeout: settings.database_timeout,
        };
        let db = db::connect(&settings.database_url, pool).await?;
        db::migrate(&db).await?;

        let (jwt, key_watcher) =
            signing_keys::start(db.clone(), secret.expose_secret().as_bytes(), &settings)
                .await
                .map_err(|error| match error {
                    KeyError::Database(error) => StartupError::Database(error),
                    other => StartupError::Config(other.to_string()),
                })?;
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hasher = PasswordHasher::new(PasswordHasher::default_params(), workers)
            .map_err(|e| StartupError::Config(format!("password hashing pool: {e}")))?;

        let metrics = Metrics::default();
        let outbox = Outbox::new(secret.expose_secret().as_bytes(), templates);
        let transport = match &settings.smtp_url {
            Some(url) => Transport::smtp(url)
                .map_err(|e| StartupError::Config(format!("LATCHKEY_SMTP_URL {e}")))?,
            None => Transport::directory(settings.mail_dir.clone()).map_err(|e| {
                StartupError::Config(format!(
                    "LATCHKEY_MAIL_DIR {} cannot be created: {e}",
                    settings.mail_dir.display()
                ))
            })?,
        };
        let worker = MailWorker {
            db: db.clone(),
            transport,
            outbox: outbox.clone(),
            from: settings.mail_from.clone(),
            metrics: metrics.clone(),
        };

        let (webhook_queue, webhook_worker) = match webhooks {
            Some(config) => {
                let (queue, worker) = config.start(
                    db.clone(),
                    secret.expose_secret().as_bytes(),
                    metrics.clone(),
                );
                (queue, Some(worker))
            }
            None => (WebhookQueue::disabled(), None),
        };

        let limiter =
            RateLimiter::for_database(&db, secret.expose_secret().as_bytes(), metrics.clone());
        let (accounts, reset_worker) = Accounts::new(
            AccountDeps {
                db: db.clone(),
                hasher,
                jwt,
                outbox,
                limiter: limiter.clone(),
                metrics: metrics.clone(),
                successors: SecretBox::derive(
                    secret.expose_secret().as_bytes(),
                    Purpose::RefreshSuccessor,
                ),
                audit: AuditLog::new(webhook_queue).counted_in(metrics.clone()),
            },
            AccountSettings {
                refresh_ttl: settings.refresh_token_ttl,
                reset_ttl: settings.reset_token_ttl,
                refresh_reuse_interval: settings.refresh_reuse_interval,
                password_policy: PasswordPolicy {
                    min_chars: usize::from(settings.password_min_length),
                },
                reset_url: settings.reset_url.clone(),
                invite_url: settings
                    .invite_url
                    .clone()
                    .unwrap_or_else(|| settings.reset_url.clone()),
                invite_ttl: settings.invite_token_ttl,
                signup_open: settings.signup == crate::config::SignupMode::Open,
                session_max_age: settings.session_max_age,
                verify_url: settings.verify_url.clone(),
                verify_ttl: settings.verify_token_ttl,
                require_verified_email: settings.require_verified_email,
            },
        );
        let session_listener = accounts.session_change_listener();
        let cleanup = Cleanup::new(
            db.clone(),
            CleanupSettings {
                interval: settings.cleanup_interval,
                session_max_age: settings.session_max_age,
                refresh_ttl: settings.refresh_token_ttl,
                audit_retention: settings.audit_retention,
            },
            metrics.clone(),
        );
        let schemas = Schemas::build(SchemaDeps {
            accounts: accounts.clone(),
            limiter,
            metrics: metrics.clone(),
            introspection: settings.introspection,
        });
        let state = AppState {
            schemas,
            accounts: accounts.clone(),
            metrics: settings.metrics.then_some(metrics),
            db: db.clone(),
            graphiql: settings.graphiql,
            admin_console: settings.admin_console,
            trusted_proxies: settings.trusted_proxies.clone().into(),
            live: crate::http::OpenPerAddress::default(),
        };
        let router = router(state, &settings.cors_origins);

        Ok(Self {
            listener: None,
            router,
            accounts,
            worker,
            webhook_worker,
            reset_worker,
            session_listener,
            cleanup,
            key_watcher,
            db,
            limits: connection_limits(&settings),
        })
    }

    /// # Panics
    /// On an application built unbound (embedded), which has no address of its own.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .as_ref()
            .expect("a built application has a listener unless it is embedded")
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The routes, for a host to nest (`crate::embed`).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Serves until `shutdown` completes, then stops accepting connections, finishes requests
    /// in flight, lets the mail and webhook workers finish their deliveries, and closes the
    /// database.
    ///
    /// # Errors
    /// None today: a failed accept is retried and a failed connection concerns only its client.
    /// The `Result` is kept for callers that await a server task.
    pub async fn run_until<F>(self, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Two stages: what serves requests stops with the server; mail and webhook delivery stop
        // only once nothing can enqueue more, so that their last pass takes everything committed.
        let serving = CancellationToken::new();
        let delivering = CancellationToken::new();
        let reset_worker = tokio::spawn(self.reset_worker.run(serving.clone()));
        let session_listener = tokio::spawn(self.session_listener.run(serving.clone()));
        let cleanup = tokio::spawn(self.cleanup.run(serving.clone()));
        let key_watcher = self
            .key_watcher
            .map(|watcher| tokio::spawn(watcher.run(serving.clone())));
        let mail_worker = tokio::spawn(self.worker.run(delivering.clone()));
        let webhook_worker = self
            .webhook_worker
            .map(|worker| tokio::spawn(worker.run(delivering.clone())));
        match self.listener {
            Some(listener) => {
                let address = listener.local_addr()?;
                tracing::info!("listening on http://{address}");
                server::serve(listener, self.router, self.limits, shutdown).await;
            }
            None => shutdown.await,
        }
        serving.cancel();
        if let Err(error) = reset_worker.await {
            tracing::error!(%error, "the reset worker ended abnormally");
        }
        let _ = session_listener.await;
        let _ = cleanup.await;
        if let Some(key_watcher) = key_watcher {
            let _ = key_watcher.await;
        }
        delivering.cancel();
        if let Err(error) = mail_worker.await {
            tracing::error!(%error, "the mail worker ended abnormally");
        }
        if let Some(webhook_worker) = webhook_worker
            && let Err(error) = webhook_worker.await
        {
            tracing::error!(%error, "the webhook worker ended abnormally");
        }
        if let Err(error) = self.db.close().await {
            tracing::warn!(%error, "closing the database failed");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The connection bound and timeouts; raises the open-file limit first, since the default
/// bound is what that limit leaves room for.
fn connection_limits(settings: &Settings) -> ConnectionLimits {
    let open_files = server::raise_open_file_limit();
    let fits = server::max_connections_for(open_files, settings.database_max_connections);
    let max_connections = match settings.max_connections {
        Some(configured) => {
            let configured = usize::try_from(configured).unwrap_or(usize::MAX);
            if configured > fits && fits < server::DEFAULT_MAX_CONNECTIONS {
                tracing::warn!(
                    open_files,
                    "LATCHKEY_MAX_CONNECTIONS {configured} is more than the open-file limit leaves room for ({fits}): clients past that may find the server unable to accept them"
                );
            }
            configured
        }
        None => fits,
    };
    tracing::info!(
        open_files,
        max_connections,
        header_timeout = ?settings.header_timeout,
        idle_timeout = ?settings.idle_timeout,
        "connection limits"
    );
    ConnectionLimits {
        max_connections,
        header_timeout: settings.header_timeout,
        idle_timeout: settings.idle_timeout,
    }
}
