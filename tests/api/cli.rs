//! The `latchkey` binary as an operator runs it: nothing to configure, exit status 2 for a bad
//! setting, a clean exit on SIGTERM, migrations and the schema printer.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary with none of the operator's settings leaking in from the test environment.
fn latchkey(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
}

/// Waits for the "listening on http://ADDR" line and returns ADDR; the rest of stderr is
/// drained in the background so the server never blocks on a full pipe.
fn wait_until_listening(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .expect("readable stderr");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    address
}

#[test]
fn a_bad_setting_stops_start_up_with_status_2_and_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = latchkey(dir.path())
        .env("LATCHKEY_ACCESS_TOKEN_TTL", "fifteen minutes")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line, got: {stderr}");
    assert!(
        stderr.contains("access-token-ttl"),
        "names the setting: {stderr}"
    );
}

#[test]
fn a_short_jwt_secret_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = latchkey(dir.path())
        .env("LATCHKEY_JWT_SECRET", "hunter2-is-short")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("jwt-secret") && stderr.contains("32 bytes"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the secret must not be echoed: {stderr}"
    );
}

#[test]
fn postgres_without_a_jwt_secret_is_a_bad_setting() {
    let dir = tempfile::tempdir().unwrap();
    let output = latchkey(dir.path())
        .args([
            "serve",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LATCHKEY_JWT_SECRET"), "{stderr}");
}

#[test]
fn with_nothing_configured_it_serves_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = latchkey(dir.path())
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = wait_until_listening(&mut child);

    let health = http_status(&address, "/healthz");
    assert_eq!(health, 200);
    assert!(
        dir.path().join("latchkey.db").exists(),
        "a SQLite file by default"
    );
    assert!(dir.path().join("mail").is_dir(), "a mail folder by default");
    let secret = dir.path().join("latchkey.jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the generated key is private");
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_with_deadline(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn migrate_applies_and_lists_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let applied = latchkey(dir.path()).arg("migrate").output().unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let status = latchkey(dir.path())
        .args(["migrate", "status"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&status.stdout);
    assert!(listing.contains("m20261122_000001_accounts"), "{listing}");
    assert!(listing.to_lowercase().contains("applied"), "{listing}");
}

#[test]
fn print_schema_prints_what_schema_graphql_holds() {
    let dir = tempfile::tempdir().unwrap();
    let output = latchkey(dir.path()).arg("print-schema").output().unwrap();
    assert!(output.status.success());
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql"))
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), committed);
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            panic!("the server did not stop within {deadline:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status of a plain GET, by hand: the test needs one request, not an HTTP client.
fn http_status(address: &str, path: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn json_logs_are_one_object_a_line_and_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = latchkey(dir.path())
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .env("LATCHKEY_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("a log line").unwrap();
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if let Some(rest) = entry["message"]
            .as_str()
            .and_then(|m| m.strip_prefix("listening on http://"))
        {
            break rest.to_owned();
        }
    };

    let request_id = response_header(&address, "/healthz", "x-request-id");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let line = loop {
        let line = lines.next().expect("the access log line").unwrap();
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if entry["span"]["request_id"] == request_id.as_str() {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no log line with request id {request_id}"
        );
    };
    assert!(line.contains("/healthz"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
}

/// One header of a plain GET's response, by hand.
fn response_header(address: &str, path: &str, name: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} in {response}"))
}
