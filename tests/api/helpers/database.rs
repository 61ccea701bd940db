//! The test's database: where it lives (a SQLite file in the data directory, or a PostgreSQL
//! database of its own), and raw SQL on it for "nothing was half-written" checks.

use std::path::Path;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use tempfile::TempDir;

use super::MAIL_TIMEOUT;
use super::app::TestApp;
use crate::postgres::{TestDatabase, admin_url};

/// A test's data directory and its database: a SQLite file in the directory or, when the suite
/// runs on PostgreSQL, a database of its own. Both go when this is dropped; servers restarted on
/// the same data share one `Arc<DataDir>`, so the data lasts until the last of them is gone.
pub struct DataDir {
    directory: TempDir,
    database_url: String,
    /// Held to be dropped with the directory; `None` on SQLite.
    _postgres: Option<TestDatabase>,
}

impl DataDir {
    pub async fn new() -> DataDir {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let postgres = match admin_url() {
            Some(admin) => Some(TestDatabase::create(&admin).await),
            None => None,
        };
        let database_url = match &postgres {
            Some(database) => database.url().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                directory.path().join("latchkey.db").display()
            ),
        };
        DataDir {
            directory,
            database_url,
            _postgres: postgres,
        }
    }

    pub fn path(&self) -> &Path {
        self.directory.path()
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }
}

impl TestApp {
    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(self.data_dir.database_url())
            .await
            .expect("the test can open the database")
    }

    /// Runs raw SQL on a connection of its own and returns the rows.
    async fn rows(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        let db = self.db().await;
        let statement = Statement::from_string(db.get_database_backend(), sql.to_owned());
        let rows = db
            .query_all_raw(statement)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        db.close().await.ok();
        rows
    }

    /// Runs `SELECT COUNT(*) AS n ...` style SQL and returns `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        self.rows(sql).await[0]
            .try_get::<i64>("", "n")
            .expect("a column `n`")
    }

    /// Polls `SELECT COUNT(*) AS n ...` until it answers `expected`, for writes the server makes
    /// after answering (the reset worker writes the outbox after `forgotPassword` returns).
    pub async fn wait_for_count(&self, sql: &str, expected: i64) {
        let deadline = tokio::time::Instant::now() + MAIL_TIMEOUT;
        loop {
            let n = self.count(sql).await;
            if n == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{sql} stayed at {n}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs a query and returns the text column `value` of every row.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .await
            .iter()
            .map(|row| {
                row.try_get::<String>("", "value")
                    .expect("a column `value`")
            })
            .collect()
    }

    pub async fn user_count(&self, email: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) AS n FROM users WHERE lower(email) = lower('{}')",
            email.replace('\'', "''")
        ))
        .await
    }
}
