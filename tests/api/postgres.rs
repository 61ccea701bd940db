//! PostgreSQL for the suite. When `LATCHKEY_TEST_POSTGRES_URL` names a server (a superuser URL,
//! as `.ci/run` exports), every test gets a fresh database of its own there instead of a SQLite
//! file, so the whole suite runs against both backends.

use latchkey::sea_orm::{ConnectionTrait as _, Database};

pub const ADMIN_URL_VAR: &str = "LATCHKEY_TEST_POSTGRES_URL";
/// Set by CI: a run that should have used PostgreSQL but could not is a failure, not a skip.
pub const REQUIRE_VAR: &str = "LATCHKEY_REQUIRE_POSTGRES";

pub fn admin_url() -> Option<String> {
    std::env::var(ADMIN_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database(admin_url: &str) -> String {
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
    format!("{base}/{name}")
}

#[tokio::test]
async fn ci_runs_the_suite_on_postgres_when_it_says_so() {
    if std::env::var(REQUIRE_VAR).is_err() {
        return;
    }
    let admin =
        admin_url().unwrap_or_else(|| panic!("{REQUIRE_VAR} is set but {ADMIN_URL_VAR} is not"));
    let url = fresh_database(&admin).await;
    let db = Database::connect(&url)
        .await
        .expect("the fresh database opens");
    assert_eq!(
        db.get_database_backend(),
        latchkey::sea_orm::DbBackend::Postgres
    );
}
