//! The database connection: one pool for SQLite or PostgreSQL, set up so that writes are durable
//! and concurrent writers queue instead of failing.

use std::path::PathBuf;
use std::time::Duration;

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Pool size and how long to wait for a connection before a request fails (it never waits
/// forever, so a database outage answers errors quickly instead of piling requests up).
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Opens the pool. SQLite runs in WAL mode with `synchronous=NORMAL`: readers never block the
/// writer and a committed transaction survives the process being killed. A SQLite file that
/// does not exist yet is created readable by its owner only (see [`create_private_sqlite_file`]).
///
/// # Errors
/// When the database cannot be created, reached or opened.
pub async fn connect(url: &str, pool: PoolSettings) -> Result<DatabaseConnection, DbErr> {
    create_private_sqlite_file(url)?;
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(pool.max_connections)
        .min_connections(1)
        .connect_timeout(pool.timeout)
        .acquire_timeout(pool.timeout)
        // A connection the database dropped (a restart, a failover) is noticed before use. A
        // SQLite file drops no connection, and there the check is one more round trip to the
        // connection's thread on every use.
        .test_before_acquire(!sqlite)
        // Statements are logged by our own spans; sqlx's statement log adds nothing and is noisy.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// The file of a `sqlite:` URL, as SQLite will open it; `None` for an in-memory database or
/// another kind of database.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    use std::str::FromStr as _;
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    if database.is_empty() || database.contains(":memory:") || has_param(params, "mode", "memory") {
        return None;
    }
    // sqlx's own reading of the URL (it percent-decodes the path), so that the file named here
    // is the one it opens.
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    Some(options.get_filename().to_path_buf())
}

fn has_param(params: &str, key: &str, value: &str) -> bool {
    url::form_urlencoded::parse(params.as_bytes()).any(|(k, v)| k == key && v == value)
}

/// Creates the SQLite file of `url` with mode `0600` (and a missing folder for it `0700`) when
/// the URL lets SQLite create it (`mode=rwc`) and it does not exist yet. SQLite gives the
/// `-wal` and `-shm` files the database file's permissions, so all three stay private; left to
/// SQLite, they would be created as the umask allows, often readable by every user.
fn create_private_sqlite_file(url: &str) -> Result<(), DbErr> {
    let Some(path) = sqlite_file(url) else {
        return Ok(());
    };
    let params = url.split_once('?').map_or("", |(_, params)| params);
    if !has_param(params, "mode", "rwc") || path.exists() {
        return Ok(());
    }
    let failed =
        |error: std::io::Error| DbErr::Custom(format!("cannot create {}: {error}", path.display()));
    crate::private_files::create_parent_folder(&path).map_err(failed)?;
    match crate::private_files::create_new_file(&path) {
        // An empty file is an empty database to SQLite.
        Ok(_) => Ok(()),
        // Another process created it first: theirs it is.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(failed(error)),
    }
}

/// Starts a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of one of them failing
/// when it upgrades from reading to writing.
///
/// # Errors
/// When the database cannot start a transaction.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Whether an insert or update failed on a unique index: the database is the judge of
/// uniqueness, so two concurrent signups with one email cannot both win.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Applies pending migrations. On PostgreSQL an advisory lock makes concurrent callers (several
/// instances starting at once, or `latchkey migrate` during a rollout) take turns; the later ones
/// find nothing left to do.
///
/// # Errors
/// The database error, or the failing migration's.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use migration::MigratorTrait as _;
    use sea_orm::{ConnectionTrait as _, DbBackend};

    if db.get_database_backend() != DbBackend::Postgres {
        return migration::Migrator::up(db, None).await;
    }
    // The lock is held by this transaction's connection until it ends; the migrations run on
    // other connections of the pool meanwhile.
    let guard = db.begin().await?;
    guard
        .execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    let outcome = migration::Migrator::up(db, None).await;
    guard.commit().await?;
    outcome
}

/// An arbitrary constant naming latchkey's migration lock among the database's advisory locks.
const MIGRATION_LOCK_KEY: i64 = 0x6c61_7463_686b_6579; // "latchkey"

/// Whether the database schema is what this binary expects: reachable, and no migration of
/// ours left unapplied.
///
/// # Errors
/// The database error when it cannot be asked.
pub async fn is_ready(db: &DatabaseConnection) -> Result<bool, DbErr> {
    use migration::MigratorTrait as _;
    db.ping().await?;
    Ok(migration::Migrator::get_pending_migrations(db)
        .await?
        .is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://latchkey.db?mode=rwc"),
            Some(PathBuf::from("latchkey.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/lk/app.db"),
            Some(PathBuf::from("/var/lib/lk/app.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://my%20data/app.db?mode=rwc"),
            Some(PathBuf::from("my data/app.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://app.db?mode=memory"), None);
        assert_eq!(sqlite_file("postgres://x@y/z"), None);
    }
}
