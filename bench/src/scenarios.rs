//! The run, in order: ceilings first (on an otherwise idle machine), then per database the
//! small-table scenarios, then the server stopped, the table grown to a million users in bulk,
//! and the big-table scenarios. Each table size also runs the administrators' `users` list
//! ([`crate::listing`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{self, Plan, Workload};
use crate::postgres::ScratchDatabase;
use crate::report::{self, Ceiling, Ceilings, Figures, Flood, LoadFigures, Row, Target};
use crate::server::{self, Server};
use crate::workloads::{ForgotPassword, Login, Me, Refresh, Signup, login_pool};
use crate::{Config, Result, ceilings, credentials, listing, seed};

#[derive(Debug, Clone)]
pub enum Database {
    Sqlite,
    Postgres(String),
}

/// The login flood that `me` is measured under, and the one that measures memory.
const FLOOD_CONNECTIONS: usize = 64;
/// The `me` connections measured beside that flood, each against `me` alone at as many.
const FLOOD_ME_CONNECTIONS: [usize; 2] = [16, 32];
const BIG_FLOOD_CONNECTIONS: usize = 1_000;
/// Connections that log the token pool in.
const POOL_CONNECTIONS: usize = 4;

pub async fn run(config: Config) -> Result<()> {
    let binary = server::latchkey_binary()?;
    let hash = credentials::password_hash()?;

    if config.only.is_some() {
        return crate::single::run(&config, &binary, &hash).await;
    }
    eprintln!("ceilings: argon2id verify and hash on every core, then a bare axum handler");
    let argon2_verify = {
        let (hash, time) = (hash.clone(), config.argon2_time);
        tokio::task::spawn_blocking(move || ceilings::argon2_verifications_per_second(&hash, time))
            .await??
    };
    let time = config.argon2_time;
    let argon2_hash =
        tokio::task::spawn_blocking(move || ceilings::argon2_hashes_per_second(time)).await?;
    let bare = bare_axum(&config).await?;
    let ceilings = Ceilings {
        argon2_verify,
        argon2_hash,
        bare_axum: bare.ok_per_second(),
    };

    let mut output = format!(
        "Machine: {}\n\n{}\n\n",
        report::machine(),
        report::ceilings_line(&ceilings)
    );
    for (index, database) in config.databases.iter().enumerate() {
        let (rows, targets) = run_database(database, index, &config, &binary, &hash, &ceilings)
            .await
            .map_err(|e| format!("{}: {e}", database.name()))?;
        let mut all = vec![bare.clone()];
        all.extend(rows);
        output.push_str(&format!(
            "### {}\n\n{}\n{}\n",
            database.name(),
            report::table(&all, &ceilings),
            report::targets_table(&targets)
        ));
    }
    println!("{output}");
    Ok(())
}

impl Database {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

/// The bare axum reference, loaded exactly like `me` (same requests, same connections).
async fn bare_axum(config: &Config) -> Result<Row> {
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command.arg("bare-server");
    let bare = Server::start(command, "the bare axum server").await?;
    let fake_token = "x".repeat(200); // about the length of a latchkey access token
    let me = Arc::new(Me::new(&[fake_token]));
    let row = measure_one(
        &bare,
        "bare axum handler (ceiling)",
        me,
        plan(config, config.connections),
        None,
    )
    .await;
    bare.stop().await;
    row
}

pub fn plan(config: &Config, connections: usize) -> Plan {
    Plan {
        connections,
        warmup: config.warmup,
        duration: config.duration,
    }
}

/// A temporary directory for one database's files, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run_database(
    database: &Database,
    index: usize,
    config: &Config,
    binary: &Path,
    hash: &str,
    ceilings: &Ceilings,
) -> Result<(Vec<Row>, Vec<Target>)> {
    let scratch = Scratch(
        std::env::temp_dir().join(format!("latchkey-bench-{}-{index}", std::process::id())),
    );
    std::fs::create_dir_all(&scratch.0)?;
    match database {
        Database::Sqlite => {
            let file = scratch.0.join("lk.db");
            let url = format!("sqlite://{}?mode=rwc", file.display());
            scenarios(config, binary, &url, &scratch.0, hash, ceilings).await
        }
        Database::Postgres(admin_url) => {
            let database = ScratchDatabase::create(admin_url).await?;
            let outcome =
                scenarios(config, binary, database.url(), &scratch.0, hash, ceilings).await;
            database.remove().await;
            outcome
        }
    }
}

async fn scenarios(
    config: &Config,
    binary: &Path,
    url: &str,
    dir: &Path,
    hash: &str,
    ceilings: &Ceilings,
) -> Result<(Vec<Row>, Vec<Target>)> {
    if let Some(only) = config.only {
        let rows = crate::single::scenario(only, config, binary, url, dir, hash).await?;
        return Ok((rows, Vec::new()));
    }
    let (small, big) = (config.small_users, config.big_users);
    let small_label = users_label(small);
    let big_label = users_label(big);
    let conns = config.connections;
    let mut rows = Vec::new();

    // --- the small table ---
    seed::seed_users(url, small, hash).await?;
    seed::seed_administrators(url, hash).await?;
    let server = Server::start(server::latchkey_command(binary, url, dir), "latchkey").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = Row::idle(
        format!("idle, {small_label} users"),
        server.memory().rss_kib,
    );
    rows.push(idle.clone());

    eprintln!("logging in {} users for the token pool", config.token_pool);
    let pool = login_pool(server.addr, small, config.token_pool, POOL_CONNECTIONS).await?;
    // Refresh chains get sessions of their own, so that rotating them never touches the
    // tokens `me` uses.
    let chains = conns.min(pool.len() / 2);
    let refresh_starts: Vec<String> = pool[..chains].iter().map(|s| s.refresh.clone()).collect();
    let access: Vec<String> = pool[chains..].iter().map(|s| s.access.clone()).collect();
    let me = Arc::new(Me::new(&access));

    let run = |name: String, workload: Arc<dyn Workload>, connections: usize, ceiling| {
        let server = &server;
        async move { measure_one(server, &name, workload, plan(config, connections), ceiling).await }
    };
    let me_small = run(
        format!("me, {small_label} users"),
        me.clone(),
        conns,
        Some(Ceiling::BareAxum),
    )
    .await?;
    let callers = listing::Callers::sign_in(server.addr, url, small).await?;
    let listing_small = listing::measure(&server, config, &callers, &small_label).await?;
    let login_small = run(
        format!("login, {small_label} users"),
        Arc::new(Login { users: small }),
        conns,
        Some(Ceiling::Argon2Verify),
    )
    .await?;
    let signup = run(
        "signup".into(),
        Arc::new(Signup),
        conns,
        Some(Ceiling::Argon2Hash),
    )
    .await?;
    let refresh = run(
        "refreshToken".into(),
        Arc::new(Refresh {
            starts: refresh_starts,
        }),
        conns,
        None,
    )
    .await?;
    // Each flood row: `me` alone at that many connections, then `me` beside the login flood,
    // then the flood's logins.
    let mut flood_rows = Vec::new();
    for me_connections in FLOOD_ME_CONNECTIONS {
        let alone = if me_connections == conns {
            me_small.clone()
        } else {
            run(
                format!("me, {small_label} users, {me_connections} connections"),
                me.clone(),
                me_connections,
                Some(Ceiling::BareAxum),
            )
            .await?
        };
        let flood = measure(
            &server,
            vec![
                (
                    format!(
                        "me ({me_connections} connections) during a {FLOOD_CONNECTIONS}-connection login flood"
                    ),
                    me.clone() as Arc<dyn Workload>,
                    plan(config, me_connections),
                    Some(Ceiling::BareAxum),
                ),
                (
                    format!(
                        "login flood ({FLOOD_CONNECTIONS} connections) beside {me_connections} me connections"
                    ),
                    Arc::new(Login { users: small }),
                    plan(config, FLOOD_CONNECTIONS),
                    Some(Ceiling::Argon2Verify),
                ),
            ],
        )
        .await?;
        flood_rows.push((me_connections, alone, flood));
    }
    rows.push(me_small.clone());
    rows.extend(listing_small.iter().cloned());
    rows.extend([login_small.clone(), signup.clone(), refresh]);
    for (me_connections, alone, flood) in &flood_rows {
        if *me_connections != conns {
            rows.push(alone.clone());
        }
        rows.extend(flood.iter().cloned());
    }
    server.stop().await;

    // --- the big table, seeded while the server is stopped ---
    eprintln!("seeding {big_label} users");
    seed::seed_users(url, big, hash).await?;
    let server = Server::start(server::latchkey_command(binary, url, dir), "latchkey").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    rows.push(Row::idle(
        format!("idle, {big_label} users"),
        server.memory().rss_kib,
    ));
    eprintln!("logging in {} users for the token pool", config.token_pool);
    let pool = login_pool(server.addr, big, config.token_pool, POOL_CONNECTIONS).await?;
    let access: Vec<String> = pool.iter().map(|s| s.access.clone()).collect();
    let run = |name: String, workload: Arc<dyn Workload>, connections: usize, ceiling| {
        let server = &server;
        async move { measure_one(server, &name, workload, plan(config, connections), ceiling).await }
    };
    let me_big = run(
        format!("me, {big_label} users"),
        Arc::new(Me::new(&access)),
        conns,
        Some(Ceiling::BareAxum),
    )
    .await?;
    let callers = listing::Callers::sign_in(server.addr, url, big).await?;
    let listing_big = listing::measure(&server, config, &callers, &big_label).await?;
    let login_big = run(
        format!("login, {big_label} users"),
        Arc::new(Login { users: big }),
        conns,
        Some(Ceiling::Argon2Verify),
    )
    .await?;
    let big_flood = run(
        format!("login flood, {BIG_FLOOD_CONNECTIONS} connections"),
        Arc::new(Login { users: big }),
        BIG_FLOOD_CONNECTIONS,
        Some(Ceiling::Argon2Verify),
    )
    .await?;
    // Last: the reset requests it queues are still being worked off when it ends.
    let forgot = run(
        format!("forgotPassword, {big_label} users"),
        Arc::new(ForgotPassword { users: big }),
        conns,
        Some(Ceiling::BareAxum),
    )
    .await?;
    server.stop().await;
    rows.push(me_big.clone());
    rows.extend(listing_big.iter().cloned());
    rows.extend([login_big.clone(), big_flood.clone(), forgot.clone()]);

    let floods: Vec<Flood> = flood_rows
        .iter()
        .map(|(me_connections, alone, flood)| Flood {
            me_connections: *me_connections,
            alone,
            me: &flood[0],
            logins: &flood[1],
        })
        .collect();
    let targets = report::targets(&Figures {
        ceilings,
        me: &me_small,
        login: &login_small,
        signup: &signup,
        forgot: &forgot,
        floods: &floods,
        me_big: &me_big,
        login_big: &login_big,
        idle: &idle,
        big_flood: &big_flood,
        users: &listing_small[0],
        users_big: &listing_big[0],
        users_admin: &listing_small[1],
        users_admin_big: &listing_big[1],
    });
    Ok((rows, targets))
}

fn users_label(users: u64) -> String {
    report::rate(users as f64)
}

pub async fn measure_one(
    server: &Server,
    name: &str,
    workload: Arc<dyn Workload>,
    plan: Plan,
    ceiling: Option<Ceiling>,
) -> Result<Row> {
    let mut rows = measure(server, vec![(name.to_owned(), workload, plan, ceiling)]).await?;
    Ok(rows.remove(0))
}

/// One load driver of a scenario: its row's name, what it sends, how, and its ceiling.
type Driver = (String, Arc<dyn Workload>, Plan, Option<Ceiling>);

/// Runs the drivers side by side against `server`, and reads its peak memory and the CPU both
/// processes used meanwhile.
async fn measure(server: &Server, drivers: Vec<Driver>) -> Result<Vec<Row>> {
    eprintln!(
        "measuring: {}",
        drivers
            .iter()
            .map(|d| d.0.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    );
    let mut connections = Vec::with_capacity(drivers.len());
    for (_, _, plan, _) in &drivers {
        connections.push(load::connect(server.addr, plan).await?);
    }
    // CPU and memory are read from here on: the load, not the connection set-up.
    server.reset_peak();
    let sampler = server.sample_rss();
    let (server_cpu, own_cpu, started) = (
        server.cpu_time(),
        server::cpu_time_of("self"),
        Instant::now(),
    );
    let runs: Vec<_> = drivers
        .iter()
        .zip(connections)
        .map(|((_, workload, plan, _), connections)| {
            tokio::spawn(load::run(
                server.addr,
                connections,
                Arc::clone(workload),
                *plan,
            ))
        })
        .collect();
    let mut outcomes = Vec::new();
    for run in runs {
        outcomes.push(run.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let server_cores = (server.cpu_time() - server_cpu).as_secs_f64() / elapsed;
    let bench_cores = (server::cpu_time_of("self") - own_cpu).as_secs_f64() / elapsed;
    let peak = sampler.stop().max(server.memory().hwm_kib);
    let rows = drivers
        .into_iter()
        .zip(outcomes)
        .map(|((name, _, plan, ceiling), outcome)| Row {
            scenario: name,
            load: Some(LoadFigures {
                connections: plan.connections,
                ok_per_second: outcome.successes_per_second(),
                p50: outcome.quantile(0.50),
                p99: outcome.quantile(0.99),
                errors: outcome.errors,
                completed: outcome.completed,
                server_cores,
                bench_cores,
            }),
            peak_rss_kib: peak,
            ceiling,
        })
        .collect();
    // Let background work a scenario left behind (mail, session writes) settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(rows)
}
