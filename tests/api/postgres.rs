//! PostgreSQL for the suite. When `LATCHKEY_TEST_POSTGRES_URL` names a server (a superuser URL,
//! as `.ci/run` exports), every test gets a fresh database of its own there instead of a SQLite
//! file, so the whole suite runs against both backends; each is dropped when its test is done.

use latchkey::sea_orm::{ConnectionTrait as _, Database};

pub const ADMIN_URL_VAR: &str = "LATCHKEY_TEST_POSTGRES_URL";
/// Set by CI: a run that should have used PostgreSQL but could not is a failure, not a skip.
pub const REQUIRE_VAR: &str = "LATCHKEY_REQUIRE_POSTGRES";

pub fn admin_url() -> Option<String> {
    std::env::var(ADMIN_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// An empty database of its own on the test server, dropped with this value.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    pub async fn create(admin_url: &str) -> TestDatabase {
        let name = format!("latchkey_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url)
            .await
            .expect("the test PostgreSQL server answers");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("a test database can be created");
        admin.close().await.ok();
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("the admin URL ends in a database name");
        TestDatabase {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn drop_now(&self) -> Result<(), latchkey::sea_orm::DbErr> {
        let admin = Database::connect(&self.admin_url).await?;
        // FORCE (PostgreSQL 13+) first ends the connections a server of the test may still hold.
        let dropped = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
        admin.close().await.ok();
        dropped.map(|_| ())
    }
}

impl Drop for TestDatabase {
    /// `drop` cannot await, and it runs inside the test's runtime, which refuses to block on
    /// another: a thread of its own runs a small runtime for the `DROP DATABASE`.
    fn drop(&mut self) {
        let dropped = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime.block_on(self.drop_now()).map_err(|e| e.to_string())
                })
                .join()
                .unwrap_or_else(|_| Err("the dropping thread panicked".to_owned()))
        });
        if let Err(error) = dropped {
            // A second panic while a failing test unwinds would abort the whole binary.
            if std::thread::panicking() {
                eprintln!("test database {} was not dropped: {error}", self.name);
            } else {
                panic!("test database {} was not dropped: {error}", self.name);
            }
        }
    }
}

#[tokio::test]
async fn ci_runs_the_suite_on_postgres_when_it_says_so() {
    if std::env::var(REQUIRE_VAR).is_err() {
        return;
    }
    let admin =
        admin_url().unwrap_or_else(|| panic!("{REQUIRE_VAR} is set but {ADMIN_URL_VAR} is not"));
    let database = TestDatabase::create(&admin).await;
    let db = Database::connect(database.url())
        .await
        .expect("the fresh database opens");
    assert_eq!(
        db.get_database_backend(),
        latchkey::sea_orm::DbBackend::Postgres
    );
    db.close().await.ok();
}
