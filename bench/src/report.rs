//! The markdown the benchmark prints: the machine, one table per database with each scenario
//! as a fraction of its ceiling, and the targets with met or missed.

use std::fmt::Write as _;
use std::time::Duration;

/// The reference a scenario is read against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceiling {
    /// argon2id verifications per second on all cores: the most logins there can be.
    Argon2Verify,
    /// argon2id hashes per second on all cores: the most signups there can be.
    Argon2Hash,
    /// A bare axum JSON handler: the most HTTP requests there can be.
    BareAxum,
}

impl Ceiling {
    fn label(self) -> &'static str {
        match self {
            Self::Argon2Verify => "argon2 verify",
            Self::Argon2Hash => "argon2 hash",
            Self::BareAxum => "bare axum",
        }
    }
}

/// The ceilings of this run, in operations per second.
#[derive(Debug, Clone, Copy)]
pub struct Ceilings {
    pub argon2_verify: f64,
    pub argon2_hash: f64,
    pub bare_axum: f64,
}

impl Ceilings {
    fn of(&self, ceiling: Ceiling) -> f64 {
        match ceiling {
            Ceiling::Argon2Verify => self.argon2_verify,
            Ceiling::Argon2Hash => self.argon2_hash,
            Ceiling::BareAxum => self.bare_axum,
        }
    }
}

/// One line of the table. Idle rows have no load figures.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub load: Option<LoadFigures>,
    pub peak_rss_kib: u64,
    pub ceiling: Option<Ceiling>,
}

#[derive(Debug, Clone, Copy)]
pub struct LoadFigures {
    pub connections: usize,
    /// Successful requests per second in the measured period.
    pub ok_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub errors: u64,
    pub completed: u64,
    /// Average cores busy in the server and in this process during the scenario.
    pub server_cores: f64,
    pub bench_cores: f64,
}

impl Row {
    pub fn idle(scenario: impl Into<String>, rss_kib: u64) -> Self {
        Self {
            scenario: scenario.into(),
            load: None,
            peak_rss_kib: rss_kib,
            ceiling: None,
        }
    }

    pub fn ok_per_second(&self) -> f64 {
        self.load.map_or(0.0, |l| l.ok_per_second)
    }

    pub fn p99(&self) -> Duration {
        self.load.map_or(Duration::ZERO, |l| l.p99)
    }
}

/// The host, as `/proc` describes it.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores available, {memory_gib:.1} GiB memory, Linux {}",
        kernel.trim()
    )
}

pub fn table(rows: &[Row], ceilings: &Ceilings) -> String {
    let mut out = String::from(
        "| scenario | conns | ok req/s | p50 | p99 | errors | server peak RSS | of ceiling | server CPU | bench CPU |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for row in rows {
        let rss = mib(row.peak_rss_kib);
        let Some(load) = row.load else {
            let _ = writeln!(out, "| {} | | | | | | {rss} | | | |", row.scenario);
            continue;
        };
        let ratio = row.ceiling.map_or(String::new(), |ceiling| {
            format!(
                "{:.0} % of {}",
                100.0 * load.ok_per_second / ceilings.of(ceiling),
                ceiling.label()
            )
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} of {} | {rss} | {ratio} | {:.2} cores | {:.2} cores |",
            row.scenario,
            load.connections,
            rate(load.ok_per_second),
            millis(load.p50),
            millis(load.p99),
            load.errors,
            load.completed,
            load.server_cores,
            load.bench_cores,
        );
    }
    out
}

pub fn ceilings_line(ceilings: &Ceilings) -> String {
    format!(
        "Ceilings: argon2id {} verifications/s and {} hashes/s on all cores; bare axum {} req/s.",
        rate(ceilings.argon2_verify),
        rate(ceilings.argon2_hash),
        rate(ceilings.bare_axum),
    )
}

/// One target of the issue, measured.
pub struct Target {
    pub goal: &'static str,
    pub measured: String,
    pub met: bool,
}

pub fn targets(targets: &[Target]) -> String {
    let mut out = String::from("| target | measured | |\n|---|---|---|\n");
    for target in targets {
        let verdict = if target.met { "met" } else { "missed" };
        let _ = writeln!(out, "| {} | {} | {verdict} |", target.goal, target.measured);
    }
    out
}

pub fn rate(per_second: f64) -> String {
    if per_second >= 100.0 {
        group_thousands(per_second.round() as u64)
    } else {
        format!("{per_second:.1}")
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

pub fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(rate(12_345.4), "12 345");
        assert_eq!(rate(1_000_000.0), "1 000 000");
        assert_eq!(rate(42.25), "42.2");
        assert_eq!(millis(Duration::from_micros(1_234)), "1.23 ms");
        assert_eq!(millis(Duration::from_millis(121)), "121 ms");
        assert_eq!(mib(20 * 1024), "20.0 MiB");
    }
}
