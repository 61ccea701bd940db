//! The servers under test run as separate processes, so that their CPU and memory are theirs
//! alone and the numbers match a real deployment. This module starts them, waits for their
//! address, reads their memory and CPU time from `/proc`, and stops them.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::Result;

/// Both servers log this line once bound (latchkey through tracing, the bare server by hand).
const LISTENING: &str = "listening on http://";
/// How many of the server's last log lines to keep for an error message.
const TAIL_LINES: usize = 20;
/// Start-up runs migrations and computes one argon2 hash: seconds, not minutes.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a graceful stop may take before the server is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

pub struct Server {
    /// Killed when dropped, so that a run ending in an error leaves no server behind.
    child: Child,
    pid: u32,
    pub addr: SocketAddr,
    log_tail: Arc<Mutex<VecDeque<String>>>,
}

/// Memory of a process, in KiB, as `/proc/<pid>/status` reports it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss_kib: u64,
    /// The peak resident set since start or since the last `reset_peak`.
    pub hwm_kib: u64,
}

impl Server {
    /// Starts `command` and waits until it logs its address. Its stderr keeps being read (and
    /// only the tail kept), so a chatty server never blocks on a full pipe.
    ///
    /// # Errors
    /// When the server cannot be started, or exits or stays silent instead of listening.
    pub async fn start(mut command: Command, what: &str) -> Result<Self> {
        let (stderr, stderr_writer) = std::io::pipe()?;
        let spawned = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr_writer)
            .kill_on_drop(true)
            .spawn();
        // The command holds the pipe's write end: closing it here lets the reader see the end
        // of the log (and this function the failure) as soon as the server exits.
        drop(command);
        let child = spawned.map_err(|e| format!("cannot start {what}: {e}"))?;
        let pid = child.id().ok_or_else(|| format!("{what} exited at once"))?;
        let log_tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let (found, address) = oneshot::channel();
        let tail = Arc::clone(&log_tail);
        // A plain thread, not a task: the runtime's threads are the load generator's.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = parse_address(&line)
                    && let Some(found) = found.take()
                {
                    let _ = found.send(addr);
                }
                let mut tail = tail
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let mut server = Self {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_tail,
        };
        match tokio::time::timeout(START_TIMEOUT, address).await {
            Ok(Ok(addr)) => {
                server.addr = addr;
                Ok(server)
            }
            _ => {
                let _ = server.child.kill().await;
                Err(format!("{what} did not start:\n{}", server.log_tail()).into())
            }
        }
    }

    pub fn memory(&self) -> Memory {
        memory_of(self.pid)
    }

    /// Resets the peak resident set (`VmHWM`) so that the next reading is this scenario's peak.
    /// Writing 5 to `clear_refs` does exactly that (Linux 4.0+); if it fails, the sampled
    /// maximum of `VmRSS` still stands.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time_of(&self.pid.to_string())
    }

    /// Starts sampling the server's resident set, for [`RssSampler::stop`] to report its peak.
    pub fn sample_rss(&self) -> RssSampler {
        RssSampler::start(self.pid)
    }

    /// The last lines the server logged, for error messages.
    pub fn log_tail(&self) -> String {
        let tail = self
            .log_tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Stops the server with SIGTERM, and kills it through its handle if it takes too long.
    ///
    /// SIGTERM rather than the handle's SIGKILL, because the graceful shutdown it starts
    /// matters to the next phase: latchkey finishes accepted reset requests, delivers the mail
    /// already committed and closes the database (checkpointing SQLite's WAL), so the server
    /// started next on the same database begins quiet instead of working off a backlog.
    pub async fn stop(mut self) {
        // The pid still names our child: until the handle waits for it, even an exited child
        // stays a zombie that holds its pid, so the signal cannot reach another process.
        let pid = self
            .child
            .id()
            .and_then(|id| Pid::from_raw(id.try_into().ok()?));
        if let Some(pid) = pid {
            let _ = kill_process(pid, Signal::TERM);
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Samples a process's resident set every 50 ms on its own thread, keeping the maximum:
/// together with the kernel's `VmHWM` this catches the peak even where clear_refs fails.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (flag, max) = (Arc::clone(&stop), Arc::clone(&peak));
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                max.fetch_max(memory_of(pid).rss_kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self { stop, peak, thread }
    }

    /// Ends the sampling and returns the largest resident set seen, in KiB.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed)
    }
}

/// Finds `ADDR` in a log line holding `listening on http://ADDR`. The pretty log format may
/// colour the line, so the address ends at the first character an address cannot hold.
fn parse_address(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(LISTENING)? + LISTENING.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A process's memory, or zeros once it has gone.
pub fn memory_of(pid: u32) -> Memory {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Memory::default();
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
    }
}

/// User + system CPU time of `pid` (or `self`) from `/proc/<pid>/stat`.
pub fn cpu_time_of(pid: &str) -> Duration {
    // Clock ticks are USER_HZ, which Linux fixes at 100 for user space on every architecture
    // it ships; asking sysconf would need unsafe code for no gain.
    const TICKS_PER_SECOND: u64 = 100;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name (field 2) may hold spaces; fields after its closing ')' are fixed.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name and state.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// The latchkey binary beside this one in the same target directory. When the benchmark runs
/// under cargo, it asks cargo to build the server first (a no-op when it is up to date), so
/// that `cargo run --release -p latchkey-bench` never measures a stale server.
pub fn latchkey_binary() -> Result<PathBuf> {
    let own = std::env::current_exe()?;
    let binary = own.with_file_name("latchkey");
    if let Ok(cargo) = std::env::var("CARGO") {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the bench crate sits inside the workspace");
        let release = own
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|dir| dir == "release");
        let mut build = std::process::Command::new(cargo);
        build
            .current_dir(workspace)
            .args(["build", "--bin", "latchkey"]);
        // `cargo run` gave this process the bench package's variables (CARGO_PKG_NAME, ...).
        // Some dependencies' build scripts rebuild when those change, so passing them on would
        // make this build and the next `cargo run` rebuild each other's dependencies.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if CARGO_RUN_VARIABLES
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                build.env_remove(&*name);
            }
        }
        if release {
            build.arg("--release");
        }
        eprintln!("building the latchkey server ({})", build_profile(release));
        let status = build.status()?;
        if !status.success() {
            return Err("building latchkey failed".into());
        }
    }
    if !binary.exists() {
        return Err(format!(
            "{} is missing; run `cargo build --release` first",
            binary.display()
        )
        .into());
    }
    Ok(binary)
}

/// What cargo sets for the program it runs, by prefix (the Cargo book, "Environment
/// variables Cargo sets for crates").
const CARGO_RUN_VARIABLES: [&str; 7] = [
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

fn build_profile(release: bool) -> &'static str {
    if release { "release" } else { "debug" }
}

/// The command line of a latchkey server on `database_url`, with its mail and working files in
/// `dir`. The working directory is `dir` too, so that no stray `.env` changes the settings.
pub fn latchkey_command(binary: &Path, database_url: &str, dir: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .current_dir(dir)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(["--database-url", database_url])
        .args(["--jwt-secret", JWT_SECRET])
        .arg("--mail-dir")
        .arg(dir.join("mail"))
        .args(["--log", "warn,latchkey::app=info"])
        // The load comes from loopback; believing its X-Forwarded-For lets each request carry
        // its own client address, so per-address rate limits do not throttle the benchmark.
        .args(["--trusted-proxies", "127.0.0.1/32"]);
    command
}

/// A fixed signing key: tokens from one server start stay valid on the next.
const JWT_SECRET: &str = "latchkey-bench-signing-key-0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_a_coloured_log_line() {
        let line = "\u{1b}[2m2026-01-01T00:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m latchkey::app: listening on http://127.0.0.1:41234\u{1b}[0m";
        assert_eq!(
            parse_address(line),
            Some("127.0.0.1:41234".parse().unwrap())
        );
        assert_eq!(parse_address("starting"), None);
    }

    /// A stand-in server: `sh` running `script`.
    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[tokio::test]
    async fn a_server_is_started_on_its_logged_address_and_stopped_with_sigterm() {
        let marker =
            std::env::temp_dir().join(format!("latchkey-bench-stop-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        let script = format!(
            "trap 'echo graceful > {}; exit 0' TERM; echo 'listening on http://127.0.0.1:4321' >&2; while :; do sleep 0.05; done",
            marker.display()
        );
        let server = Server::start(shell(&script), "sh").await.unwrap();
        assert_eq!(server.addr, "127.0.0.1:4321".parse().unwrap());
        let started = std::time::Instant::now();
        server.stop().await;
        assert!(started.elapsed() < STOP_GRACE / 2, "not stopped by SIGTERM");
        assert!(marker.exists(), "the server did not get SIGTERM");
        let _ = std::fs::remove_file(&marker);
    }

    #[tokio::test]
    async fn a_server_that_exits_instead_of_listening_fails_at_once_with_its_log() {
        let started = std::time::Instant::now();
        let error = Server::start(shell("echo 'no database' >&2; exit 1"), "sh")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("no database"), "{error}");
        assert!(started.elapsed() < START_TIMEOUT / 2);
    }

    #[test]
    fn own_cpu_time_is_readable() {
        // Burn a little CPU so that the reading cannot be zero by rounding alone.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        assert!(cpu_time_of("self") > Duration::ZERO);
    }
}
