//! Assembling the server: database and migrations, keys, the account service, the mail worker
//! and the router; then serving until told to stop, and stopping cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sea_orm::{DatabaseConnection, DbErr};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::accounts::domain::PasswordPolicy;
use crate::accounts::{
    AccountDeps, AccountSettings, Accounts, ResetRequestWorker, SessionChangeListener,
};
use crate::auth::jwt::JwtKeys;
use crate::auth::opaque_token::OpaqueToken;
use crate::auth::password::PasswordHasher;
use crate::auth::secret_box::{Purpose, SecretBox};
use crate::config::Settings;
use crate::db;
use crate::graphql::{SchemaDeps, Schemas};
use crate::http::{AppState, router};
use crate::mail::Outbox;
use crate::mail::transport::Transport;
use crate::mail::worker::MailWorker;
use crate::metrics::Metrics;
use crate::throttle::RateLimiter;

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

/// A built server, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    worker: MailWorker,
    reset_worker: ResetRequestWorker,
    session_listener: SessionChangeListener,
    db: DatabaseConnection,
}

impl Application {
    /// Connects, migrates, binds and wires everything, so that `local_addr` is known before
    /// serving starts (tests bind port 0).
    ///
    /// # Errors
    /// `Config` for unusable settings, otherwise the database or I/O error.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // Settings first: a missing key is a configuration error, whatever the database says.
        let secret = jwt_secret(&settings)?;
        let pool = db::PoolSettings {
            max_connections: settings.database_max_connections,
            timeout: settings.database_timeout,
        };
        let db = db::connect(&settings.database_url, pool).await?;
        db::migrate(&db).await?;

        let jwt = JwtKeys::new(
            secret.expose_secret().as_bytes(),
            &settings.issuer,
            &settings.audience,
            settings.access_token_ttl,
        );
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hasher = PasswordHasher::new(PasswordHasher::default_params(), workers)
            .map_err(|e| StartupError::Config(format!("password hashing pool: {e}")))?;

        let metrics = Metrics::default();
        let outbox = Outbox::new(secret.expose_secret().as_bytes());
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

        let limiter = RateLimiter::new(metrics.clone());
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
            },
            AccountSettings {
                refresh_ttl: settings.refresh_token_ttl,
                reset_ttl: settings.reset_token_ttl,
                refresh_reuse_interval: settings.refresh_reuse_interval,
                password_policy: PasswordPolicy {
                    min_chars: usize::from(settings.password_min_length),
                },
                reset_url: settings.reset_url.clone(),
            },
        );
        let session_listener = accounts.session_change_listener();
        let schemas = Schemas::build(SchemaDeps {
            accounts: accounts.clone(),
            limiter,
            metrics: metrics.clone(),
            introspection: settings.introspection,
        });
        let state = AppState {
            schemas,
            accounts,
            metrics: settings.metrics.then_some(metrics),
            db: db.clone(),
            graphiql: settings.graphiql,
            trusted_proxies: settings.trusted_proxies.clone().into(),
        };
        let router = router(state, &settings.cors_origins);

        let listener = TcpListener::bind(settings.listen).await.map_err(|e| {
            StartupError::Config(format!(
                "LATCHKEY_LISTEN {} cannot be bound: {e}",
                settings.listen
            ))
        })?;
        Ok(Self {
            listener,
            router,
            worker,
            reset_worker,
            session_listener,
            db,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then stops accepting connections, finishes requests
    /// in flight, lets the mail worker finish its delivery, and closes the database.
    ///
    /// # Errors
    /// An I/O error from the listener.
    pub async fn run_until<F>(self, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let address = self.local_addr();
        let (stop_reset_worker, reset_worker_stopped) = watch::channel(false);
        let (stop_mail_worker, mail_worker_stopped) = watch::channel(false);
        let reset_worker = tokio::spawn(self.reset_worker.run(reset_worker_stopped));
        let mail_worker = tokio::spawn(self.worker.run(mail_worker_stopped.clone()));
        let session_listener = tokio::spawn(self.session_listener.run(mail_worker_stopped));
        tracing::info!("listening on http://{address}");
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        // Reset requests first, so that the mail they enqueue is in the mail worker's last pass.
        let _ = stop_reset_worker.send(true);
        if let Err(error) = reset_worker.await {
            tracing::error!(%error, "the reset worker ended abnormally");
        }
        let _ = stop_mail_worker.send(true);
        let _ = session_listener.await;
        if let Err(error) = mail_worker.await {
            tracing::error!(%error, "the mail worker ended abnormally");
        }
        if let Err(error) = self.db.close().await {
            tracing::warn!(%error, "closing the database failed");
        }
        tracing::info!("stopped");
        served
    }
}

/// The JWT signing key: the configured one, or with SQLite one generated on first start and
/// kept in a `0600` file beside the database. PostgreSQL deployments run several instances,
/// which must share a key, so there it has to be configured.
fn jwt_secret(settings: &Settings) -> Result<SecretString, StartupError> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    if settings.is_postgres() {
        return Err(StartupError::Config(
            "LATCHKEY_JWT_SECRET must be set (at least 32 bytes) when DATABASE_URL is PostgreSQL"
                .into(),
        ));
    }
    let Some(path) = sqlite_path(&settings.database_url) else {
        tracing::warn!(
            "LATCHKEY_JWT_SECRET is unset and the database is in memory: using a throwaway key"
        );
        return Ok(SecretString::from(random_secret()));
    };
    let secret_path = secret_file_beside(&path);
    match std::fs::read_to_string(&secret_path) {
        Ok(secret) if secret.trim().len() >= 32 => {
            tracing::warn!(file = %secret_path.display(), "LATCHKEY_JWT_SECRET is unset: using the key kept in this file");
            Ok(SecretString::from(secret.trim().to_owned()))
        }
        Ok(_) => Err(StartupError::Config(format!(
            "{} holds a JWT secret shorter than 32 bytes; delete it or set LATCHKEY_JWT_SECRET",
            secret_path.display()
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secret = random_secret();
            write_private_file(&secret_path, &secret)?;
            tracing::warn!(
                file = %secret_path.display(),
                "LATCHKEY_JWT_SECRET is unset: generated a signing key and kept it in this file (mode 0600)"
            );
            Ok(SecretString::from(secret))
        }
        Err(error) => Err(StartupError::Config(format!(
            "cannot read {}: {error}",
            secret_path.display()
        ))),
    }
}

fn random_secret() -> String {
    // Two 256-bit tokens: 86 characters of base64url.
    format!(
        "{}{}",
        OpaqueToken::generate().token,
        OpaqueToken::generate().token
    )
}

/// The file path of a `sqlite:` URL, or `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

fn secret_file_beside(database: &Path) -> PathBuf {
    let stem = database
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("latchkey");
    database.with_file_name(format!("{stem}.jwt-secret"))
}

fn write_private_file(path: &Path, contents: &str) -> Result<(), StartupError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| StartupError::Config(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://latchkey.db?mode=rwc"),
            Some(PathBuf::from("latchkey.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/lk/app.db"),
            Some(PathBuf::from("/var/lib/lk/app.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x@y/z"), None);
        assert_eq!(
            secret_file_beside(Path::new("/data/latchkey.db")),
            PathBuf::from("/data/latchkey.jwt-secret")
        );
    }
}
