//! A scratch database on the PostgreSQL server the run was given: created empty before the
//! scenarios, dropped after them, so that the run starts from nothing and leaves nothing behind.

use latchkey::sea_orm::{ConnectionTrait as _, Database};

use crate::Result;

/// The database `latchkey_bench_<pid>` and the URL that reaches it.
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates the scratch database through `admin_url` (any database its role can connect to).
    ///
    /// # Errors
    /// When the server cannot be reached or the role lacks CREATEDB.
    pub async fn create(admin_url: &str) -> Result<Self> {
        let name = format!("latchkey_bench_{}", std::process::id());
        let url = with_database(admin_url, &name)?;
        let admin = Database::connect(admin_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("cannot create a scratch database (needs CREATEDB): {e}"))?;
        admin.close().await?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// The URL the server and the seeder use.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database, forcing out any connection still open. Best effort: the run's
    /// results are printed whether or not this works, and a leftover is easy to spot by name.
    pub async fn remove(self) {
        let Ok(admin) = Database::connect(&self.admin_url).await else {
            return;
        };
        let _ = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
        let _ = admin.close().await;
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> Result<String> {
    let authority = url.find("://").ok_or("a PostgreSQL URL needs a scheme")? + 3;
    let path = url[authority..]
        .find('/')
        .map_or(url.len(), |i| authority + i);
    let query = url[path..].find('?').map_or(url.len(), |i| path + i);
    Ok(format!("{}/{database}{}", &url[..path], &url[query..]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_is_swapped_in_the_url() {
        let swap = |url| super::with_database(url, "x").unwrap();
        assert_eq!(
            swap("postgres://u:p@h:5432/app?sslmode=disable"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(swap("postgres://u@h"), "postgres://u@h/x");
    }
}
