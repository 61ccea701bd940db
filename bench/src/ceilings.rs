//! The reference ceilings the table is read against, measured on the same machine in the same
//! run: how many argon2id verifications and hashes all cores can do (no login or signup can
//! beat that), and how fast a bare axum handler answers (no HTTP request can beat that).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::{PasswordHash, PasswordHasher as _, PasswordVerifier as _};

use crate::Result;
use crate::credentials::{PASSWORD, argon2};

/// argon2id verifications per second with one thread per core, each verifying in a loop.
pub fn argon2_verifications_per_second(hash: &str, run_for: Duration) -> Result<f64> {
    let hash = Arc::new(hash.to_owned());
    // Parse once up front, so that a bad hash fails here and not silently in every thread.
    PasswordHash::new(&hash).map_err(|e| format!("argon2: {e}"))?;
    Ok(on_every_core(run_for, move || {
        let parsed = PasswordHash::new(&hash).expect("checked above");
        argon2()
            .verify_password(PASSWORD.as_bytes(), &parsed)
            .is_ok()
    }))
}

/// argon2id hashes (with a fresh salt each) per second with one thread per core.
pub fn argon2_hashes_per_second(run_for: Duration) -> f64 {
    on_every_core(run_for, || {
        argon2().hash_password(PASSWORD.as_bytes()).is_ok()
    })
}

/// Runs `work` in a loop on one thread per core for `run_for`, and returns successful runs per
/// second. Each thread finishes its last run, and the rate counts the time that took.
fn on_every_core(run_for: Duration, work: impl Fn() -> bool + Send + Sync + 'static) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let work = Arc::new(work);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (work, done, stop) = (Arc::clone(&work), Arc::clone(&done), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if work() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(run_for);
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        let _ = thread.join();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// What the bare server answers: about the size of latchkey's `me` answer.
const BARE_BODY: &str = r#"{"data":{"me":{"id":"0190b6a4-2f2e-7c4e-9f35-9d1f0c1d2e3f","email":"user1@example.com","name":null,"emailVerified":false}}}"#;

/// The hidden `bare-server` command: an axum server with one handler that reads the request
/// body and returns a small JSON body, on the same runtime shape as latchkey (a multi-thread
/// runtime, one worker per core). It logs its address as latchkey does.
pub fn serve_bare() -> Result<()> {
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::post;

    async fn handler(_body: bytes::Bytes) -> impl axum::response::IntoResponse {
        ([(CONTENT_TYPE, "application/json")], BARE_BODY)
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        let app = axum::Router::new().route("/graphql", post(handler));
        axum::serve(listener, app).await?;
        Ok(())
    })
}
