//! The `latchkey` binary as an operator runs it: without the tests' own settings, and with a
//! deadline on how long it may run before a test gives up on it.

use std::io::Read as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `command` without the settings of the environment the tests run in: a developer's own
/// `LATCHKEY_*` or `DATABASE_URL` must not reach a binary under test.
pub fn without_operator_settings(mut command: Command) -> Command {
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
}

/// The `latchkey` binary as an operator runs it, with nothing from the tests' environment.
pub fn latchkey_binary() -> Command {
    without_operator_settings(Command::new(env!("CARGO_BIN_EXE_latchkey")))
}

/// Starts `command` and returns its exit status and stderr, or panics (killing it) when it is
/// still running after `deadline`, as a server that accepted its settings would be.
pub fn exit_within(command: &mut Command, deadline: Duration) -> (Option<i32>, String) {
    let mut child = command
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_with_deadline(&mut child, deadline);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

/// Waits for `child` to exit; kills it and panics when it is still running after `deadline`.
pub fn wait_with_deadline(child: &mut Child, deadline: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process was still running after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
