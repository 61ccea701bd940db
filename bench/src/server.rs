//! The servers under test run as separate processes, so that their CPU and memory are theirs
//! alone and the numbers match a real deployment. This module starts them, waits for their
//! address, reads their memory and CPU time from `/proc`, and stops them.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Result;

/// Both servers log this line once bound (latchkey through tracing, the bare server by hand).
const LISTENING: &str = "listening on http://";
/// How many of the server's last log lines to keep for an error message.
const TAIL_LINES: usize = 20;

pub struct Server {
    child: Child,
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
    pub fn start(mut command: Command, what: &str) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log_tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let (found, address) = mpsc::channel();
        let tail = Arc::clone(&log_tail);
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
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_tail,
        };
        // Start-up runs migrations and computes one argon2 hash: seconds, not minutes.
        match address.recv_timeout(Duration::from_secs(120)) {
            Ok(addr) => {
                server.addr = addr;
                Ok(server)
            }
            Err(_) => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                Err(format!("{what} did not start:\n{}", server.log_tail()).into())
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn memory(&self) -> Memory {
        memory_of(self.pid())
    }

    /// Resets the peak resident set (`VmHWM`) so that the next reading is this scenario's peak.
    /// Writing 5 to `clear_refs` does exactly that (Linux 4.0+); if it fails, the sampled
    /// maximum of `VmRSS` still stands.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time_of(&self.pid().to_string())
    }

    /// The last lines the server logged, for error messages.
    pub fn log_tail(&self) -> String {
        let tail = self
            .log_tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Asks the server to stop with SIGTERM (a graceful shutdown leaves the SQLite file
    /// checkpointed for the seeder), and kills it if it takes too long.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        for _ in 0..150 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        let mut build = Command::new(cargo);
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
