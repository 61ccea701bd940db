//! `--only SCENARIO`: one scenario on the small table, without the ceilings or the big table,
//! so that two builds can be compared back to back on the one path a change touches.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::load::Workload;
use crate::report::{self, Ceilings, Row};
use crate::scenarios::{measure_one, plan, run_database};
use crate::server::{self, Server};
use crate::workloads::{ForgotPassword, Login, Refresh, login_pool};
use crate::{Config, Result, seed};

/// The scenarios `--only` can single out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// `refreshToken`: each connection rotating its own chain.
    #[value(name = "refreshToken")]
    RefreshToken,
    /// `login` of seeded users.
    #[value(name = "login")]
    Login,
    /// `forgotPassword` for seeded emails.
    #[value(name = "forgotPassword")]
    ForgotPassword,
}

/// Runs the chosen scenario on every database of the run and prints one table per database.
///
/// # Errors
/// When a database, the server or the load fails.
pub async fn run(config: &Config, binary: &Path, hash: &str) -> Result<()> {
    // The table has no ceiling column to fill: every row here is read against the other build.
    let no_ceilings = Ceilings {
        argon2_verify: 0.0,
        argon2_hash: 0.0,
        bare_axum: 0.0,
    };
    let mut output = format!("Machine: {}\n\n", report::machine());
    for (index, database) in config.databases.iter().enumerate() {
        let (rows, _) = run_database(database, index, config, binary, hash, &no_ceilings)
            .await
            .map_err(|e| format!("{}: {e}", database.name()))?;
        output.push_str(&format!(
            "### {}\n\n{}\n",
            database.name(),
            report::table(&rows, &no_ceilings)
        ));
    }
    println!("{output}");
    Ok(())
}

/// The scenario on a server over `url`, seeded with the small table.
///
/// # Errors
/// As [`run`].
pub async fn scenario(
    only: Only,
    config: &Config,
    binary: &Path,
    url: &str,
    dir: &Path,
    hash: &str,
) -> Result<Vec<Row>> {
    seed::seed_users(url, config.small_users, hash).await?;
    seed::seed_administrators(url, hash).await?;
    let server = Server::start(server::latchkey_command(binary, url, dir), "latchkey").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rows = match only {
        Only::RefreshToken => {
            let chains = config.connections;
            eprintln!("logging in {chains} users for the refresh chains");
            let pool = login_pool(server.addr, config.small_users, chains, 4).await?;
            let starts = pool.into_iter().map(|session| session.refresh).collect();
            let row = measure_one(
                &server,
                "refreshToken",
                Arc::new(Refresh { starts }),
                plan(config, chains),
                None,
            )
            .await?;
            vec![row]
        }
        Only::Login | Only::ForgotPassword => {
            let users = config.small_users;
            let (name, workload): (&str, Arc<dyn Workload>) = match only {
                Only::Login => ("login", Arc::new(Login { users })),
                _ => ("forgotPassword", Arc::new(ForgotPassword { users })),
            };
            let row = measure_one(
                &server,
                name,
                workload,
                plan(config, config.connections),
                None,
            )
            .await?;
            vec![row]
        }
    };
    server.stop().await;
    Ok(rows)
}
