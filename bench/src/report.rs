//! The markdown the benchmark prints: the machine, one table per database with each scenario
//! as a fraction of its ceiling, and the targets of docs/performance.md judged met or missed.

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

/// One target, measured.
pub struct Target {
    pub goal: &'static str,
    pub measured: String,
    pub met: bool,
}

pub fn targets_table(targets: &[Target]) -> String {
    let mut out = String::from("| target | measured | |\n|---|---|---|\n");
    for target in targets {
        let verdict = if target.met { "met" } else { "missed" };
        let _ = writeln!(out, "| {} | {} | {verdict} |", target.goal, target.measured);
    }
    out
}

/// `me` at some number of connections, alone and then beside a login flood.
pub struct Flood<'a> {
    pub me_connections: usize,
    pub alone: &'a Row,
    pub me: &'a Row,
    /// The flood's own logins meanwhile.
    pub logins: &'a Row,
}

/// The rows the targets are judged on.
pub struct Figures<'a> {
    pub ceilings: &'a Ceilings,
    pub me: &'a Row,
    pub login: &'a Row,
    pub signup: &'a Row,
    pub forgot: &'a Row,
    pub floods: &'a [Flood<'a>],
    pub me_big: &'a Row,
    pub login_big: &'a Row,
    pub idle: &'a Row,
    pub big_flood: &'a Row,
    /// The first page of `users`, as the superadmin and as an admin, small and big table.
    pub users: &'a Row,
    pub users_big: &'a Row,
    pub users_admin: &'a Row,
    pub users_admin_big: &'a Row,
}

/// The numbers latchkey aims for (docs/performance.md, "Targets"), each measured.
pub fn targets(f: &Figures) -> Vec<Target> {
    let share = |row: &Row, ceiling: f64| row.ok_per_second() / ceiling;
    let percent = |x: f64| format!("{:.0} %", 100.0 * x);
    let login = share(f.login, f.ceilings.argon2_verify);
    let signup = share(f.signup, f.ceilings.argon2_hash);
    let me = share(f.me, f.ceilings.bare_axum);
    let forgot = share(f.forgot, f.ceilings.bare_axum);
    // At fixed concurrency the time per request is the inverse of the throughput.
    let slower = |small: &Row, big: &Row| small.ok_per_second() / big.ok_per_second().max(1e-9);
    let me_growth = slower(f.me, f.me_big);
    let login_growth = slower(f.login, f.login_big);
    let users_growth = slower(f.users, f.users_big);
    let users_admin_growth = slower(f.users_admin, f.users_admin_big);
    // Time per request, and p50 and p99, of the big table against the small one.
    let growth = |small: &Row, big: &Row, time: f64| {
        let ratio =
            |big: Duration, small: Duration| big.as_secs_f64() / small.as_secs_f64().max(1e-9);
        let (Some(s), Some(b)) = (small.load, big.load) else {
            return format!("{time:.2}×");
        };
        format!(
            "{time:.2}× (p50 {:.2}×, p99 {:.2}×)",
            ratio(b.p50, s.p50),
            ratio(b.p99, s.p99)
        )
    };
    let idle_mib = f.idle.peak_rss_kib as f64 / 1024.0;
    let flood_mib = f.big_flood.peak_rss_kib as f64 / 1024.0;
    let mut targets = vec![
        Target {
            goal: "login ≥ 90 % of argon2 verify ceiling",
            measured: percent(login),
            met: login >= 0.9,
        },
        Target {
            goal: "signup ≥ 90 % of argon2 hash ceiling",
            measured: percent(signup),
            met: signup >= 0.9,
        },
        Target {
            goal: "me ≥ 35 % of bare axum",
            measured: percent(me),
            met: me >= 0.35,
        },
        Target {
            goal: "forgotPassword ≥ 25 % of bare axum",
            measured: percent(forgot),
            met: forgot >= 0.25,
        },
        Target {
            goal: "me: big table ≤ 1.2× time per request of small",
            measured: format!("{me_growth:.2}×"),
            met: me_growth <= 1.2,
        },
        Target {
            goal: "login: big table ≤ 1.2× time per request of small",
            measured: format!("{login_growth:.2}×"),
            met: login_growth <= 1.2,
        },
        Target {
            goal: "users first page (superadmin): big table ≤ 1.2× time per request of small",
            measured: growth(f.users, f.users_big, users_growth),
            met: users_growth <= 1.2,
        },
        Target {
            goal: "users first page (admin): big table ≤ 1.2× time per request of small",
            measured: growth(f.users_admin, f.users_admin_big, users_admin_growth),
            met: users_admin_growth <= 1.2,
        },
        Target {
            goal: "idle RSS ≤ 20 MB",
            measured: format!("{idle_mib:.1} MiB"),
            met: idle_mib <= 20.0,
        },
        Target {
            goal: "RSS under 1 000-connection login flood ≤ 150 MB",
            measured: format!("{flood_mib:.1} MiB"),
            met: flood_mib <= 150.0,
        },
    ];
    // After the `forgotPassword` target, where the single flood target used to be.
    let floods = f.floods.iter().map(|flood| {
        let factor = flood.me.p99().as_secs_f64() / flood.alone.p99().as_secs_f64().max(1e-9);
        Target {
            goal: match flood.me_connections {
                16 => "me p99 during 64-way login flood < 3× alone, 16 me connections",
                32 => "me p99 during 64-way login flood < 3× alone, 32 me connections",
                _ => "me p99 during 64-way login flood < 3× alone",
            },
            measured: format!(
                "{factor:.1}× ({} vs {}); logins meanwhile {} of argon2 ceiling",
                millis(flood.me.p99()),
                millis(flood.alone.p99()),
                percent(share(flood.logins, f.ceilings.argon2_verify))
            ),
            met: factor < 3.0,
        }
    });
    targets.splice(4..4, floods);
    targets
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

    fn loaded(ok_per_second: f64, p99_ms: u64, peak_rss_mib: u64) -> Row {
        Row {
            scenario: String::new(),
            load: Some(LoadFigures {
                connections: 1,
                ok_per_second,
                p50: Duration::ZERO,
                p99: Duration::from_millis(p99_ms),
                errors: 0,
                completed: 0,
                server_cores: 0.0,
                bench_cores: 0.0,
            }),
            peak_rss_kib: peak_rss_mib * 1024,
            ceiling: None,
        }
    }

    #[test]
    fn targets_are_judged_against_the_ceilings_and_the_small_table() {
        let ceilings = Ceilings {
            argon2_verify: 100.0,
            argon2_hash: 100.0,
            bare_axum: 10_000.0,
        };
        let (me, login) = (loaded(3_500.0, 4, 60), loaded(89.0, 400, 60));
        let me_16 = loaded(3_000.0, 2, 60);
        let (flood_16, flood_32) = (loaded(2_500.0, 5, 60), loaded(2_500.0, 12, 60));
        let flood_logins = loaded(10.0, 5_000, 60);
        let floods = [
            Flood {
                me_connections: 16,
                alone: &me_16,
                me: &flood_16,
                logins: &flood_logins,
            },
            Flood {
                me_connections: 32,
                alone: &me,
                me: &flood_32,
                logins: &flood_logins,
            },
        ];
        let judged = targets(&Figures {
            ceilings: &ceilings,
            me: &me,
            login: &login,
            signup: &loaded(90.0, 400, 60),
            forgot: &loaded(2_000.0, 5, 60),
            floods: &floods,
            me_big: &loaded(2_400.0, 5, 60),
            login_big: &loaded(89.0, 400, 60),
            idle: &Row::idle("idle", 15 * 1024),
            big_flood: &loaded(85.0, 5_000, 151),
            users: &loaded(1_000.0, 40, 60),
            users_big: &loaded(850.0, 48, 60),
            users_admin: &loaded(1_000.0, 40, 60),
            users_admin_big: &loaded(800.0, 50, 60),
        });
        let verdicts: Vec<bool> = judged.iter().map(|t| t.met).collect();
        // login 89 %, signup 90 %, me 35 %, forgotPassword 20 %, p99 2.5× at 16 and 3.0× at
        // 32 connections, me 1.46× slower, login the same, users 1.18× and 1.25× slower, idle
        // 15 MiB, flood 151 MiB.
        assert_eq!(
            verdicts,
            [
                false, true, true, false, true, false, false, true, true, false, true, false,
            ]
        );
        assert_eq!(judged[0].measured, "89 %");
        assert_eq!(
            judged[4].goal,
            "me p99 during 64-way login flood < 3× alone, 16 me connections"
        );
        assert_eq!(judged[8].measured, "1.18× (p50 0.00×, p99 1.20×)");
    }
}
