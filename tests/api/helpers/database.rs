//! The test's database: where it lives (a SQLite file in the data directory, or a PostgreSQL
//! database of its own), and raw SQL on it for "nothing was half-written" checks.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use super::MAIL_TIMEOUT;
use super::app::TestApp;

/// The database of a test's data directory: a SQLite file in it, or, when the suite runs on
/// PostgreSQL, a fresh database whose URL the directory remembers (so a restart on the same
/// directory finds the same data).
pub(super) async fn database_for(data_dir: &std::path::Path) -> String {
    let Some(admin) = crate::postgres::admin_url() else {
        return format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("latchkey.db").display()
        );
    };
    let remembered = data_dir.join("database-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return url;
    }
    let url = crate::postgres::fresh_database(&admin).await;
    std::fs::write(&remembered, &url).expect("the data directory is writable");
    url
}

impl TestApp {
    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(&self.database_url)
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
