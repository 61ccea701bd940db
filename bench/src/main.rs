//! `latchkey-bench`: starts latchkey as a separate process, seeds it, drives it over real HTTP at
//! fixed concurrency and prints a markdown table of throughput, latency and memory, each figure
//! next to a ceiling measured in the same run (raw argon2id, a bare axum handler), so that the
//! table reads as ratios that hold on a noisy machine.
//!
//! Run it with `cargo run --release -p latchkey-bench` (see docs/performance.md).

mod ceilings;
mod credentials;
mod listing;
mod load;
mod operations;
mod postgres;
mod report;
mod scenarios;
mod seed;
mod server;
mod single;
mod workloads;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Errors end the run with a message; nothing here is worth a typed error.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Parser, Debug)]
#[command(
    about = "Benchmark latchkey: requests/s, p50, p99, errors and server memory per scenario"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Hidden>,

    /// Run on this PostgreSQL server instead of SQLite (a scratch database is created in it
    /// and dropped afterwards; the role needs CREATEDB). May be given more than once.
    #[arg(long = "database-url", value_name = "URL")]
    database_urls: Vec<String>,

    /// Also run on a temporary SQLite file when `--database-url` is given.
    #[arg(long)]
    sqlite: bool,

    /// A short smoke run: short scenarios, fewer users, fewer tokens.
    #[arg(long)]
    quick: bool,

    /// Seconds measured per scenario (default 5, `--quick` 1.5).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,

    /// Seconds of warm-up before each measurement (default 1, `--quick` 0.3).
    #[arg(long, value_name = "SECS")]
    warmup: Option<f64>,

    /// Connections for the ordinary scenarios.
    #[arg(long, default_value_t = 32)]
    connections: usize,

    /// Users in the small table.
    #[arg(long, default_value_t = 1_000)]
    small_users: u64,

    /// Users in the big table (default 1 000 000, `--quick` 20 000).
    #[arg(long)]
    big_users: Option<u64>,

    /// Threads of the load generator's runtime. One keeps most of a 2-core machine for the
    /// server; the table shows how much CPU the generator used.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,

    /// Only this scenario, on the small table, without the ceilings: for comparing two builds
    /// back to back on one change.
    #[arg(long, value_enum, value_name = "SCENARIO")]
    only: Option<single::Only>,
}

#[derive(Subcommand, Debug)]
enum Hidden {
    /// The bare axum reference server (started by the benchmark itself).
    #[command(hide = true)]
    BareServer,
}

/// Everything the scenarios need to know about this run.
#[derive(Debug, Clone)]
pub struct Config {
    pub databases: Vec<scenarios::Database>,
    pub warmup: Duration,
    pub duration: Duration,
    pub connections: usize,
    pub small_users: u64,
    pub big_users: u64,
    /// Access tokens in the pool spread over `me` requests.
    pub token_pool: usize,
    /// How long each argon2 ceiling runs.
    pub argon2_time: Duration,
    /// Run only this scenario (`--only`).
    pub only: Option<single::Only>,
}

impl Cli {
    fn config(&self) -> Config {
        let mut databases: Vec<_> = self
            .database_urls
            .iter()
            .map(|url| scenarios::Database::Postgres(url.clone()))
            .collect();
        if databases.is_empty() || self.sqlite {
            databases.insert(0, scenarios::Database::Sqlite);
        }
        let (duration, warmup, big_users, token_pool, argon2_secs) = if self.quick {
            (1.5, 0.3, 20_000, 64, 1.0)
        } else {
            (5.0, 1.0, 1_000_000, 300, 4.0)
        };
        Config {
            databases,
            warmup: Duration::from_secs_f64(self.warmup.unwrap_or(warmup)),
            duration: Duration::from_secs_f64(self.duration.unwrap_or(duration)),
            connections: self.connections.max(1),
            small_users: self.small_users.max(1),
            big_users: self.big_users.unwrap_or(big_users).max(self.small_users),
            token_pool,
            argon2_time: Duration::from_secs_f64(argon2_secs),
            only: self.only,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Hidden::BareServer) = cli.command {
        return match ceilings::serve_bare() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("bare-server: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.max(1))
        .enable_all()
        .build();
    let outcome = runtime
        .map_err(Error::from)
        .and_then(|runtime| runtime.block_on(scenarios::run(cli.config())));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
