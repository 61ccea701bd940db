//! The `latchkey` binary as an operator runs it: nothing to configure, exit status 2 for a bad
//! setting, weak secrets refused and strong ones generated, private files, a clean exit on
//! SIGTERM, migrations and the schema printer.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::operations::{FORGOT_PASSWORD, SIGNUP};
use crate::helpers::{
    PASSWORD, exit_within, latchkey_binary, wait_with_deadline, without_operator_settings,
};

/// The binary with none of the operator's settings leaking in from the test environment.
fn latchkey(dir: &Path) -> Command {
    let mut command = latchkey_binary();
    command.current_dir(dir);
    command
}

/// The binary started by `sh` under `umask 022`, the common default under which files are
/// created readable by every user unless the program asks for less.
fn latchkey_under_umask_022(dir: &Path) -> Command {
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "umask 022 && exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_latchkey"),
    ]);
    command.current_dir(dir);
    without_operator_settings(command)
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
fn a_lifetime_beyond_the_calendar_is_refused_at_start_not_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    // Before the limit the server started, and every signed-in request panicked computing
    // `now - lifetime`: wait a while, not forever, for it to refuse.
    let (status, stderr) = exit_within(
        latchkey(dir.path()).env("LATCHKEY_SESSION_MAX_AGE", "1000000y"),
        Duration::from_secs(30),
    );
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.contains("session-max-age") && stderr.contains("longer than 100 years"),
        "{stderr}"
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
fn a_weak_secret_is_refused_with_status_2_naming_the_setting_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    for (variable, flag, secret) in [
        // What a dictionary attack on a captured token found.
        (
            "LATCHKEY_SECRET",
            "--secret",
            "31415926535897932384626433832795",
        ),
        (
            "LATCHKEY_JWT_SECRET",
            "--jwt-secret",
            "27182818284590452353602874713526",
        ),
        // Long, but a single kind of character.
        (
            "LATCHKEY_SECRET",
            "--secret",
            "thequickbrownfoxjumpsoverthelazydogthequickbrownfox",
        ),
        // Long, but few distinct characters.
        (
            "LATCHKEY_SECRET",
            "--secret",
            "abAB12abAB12abAB12abAB12abAB12abAB12abAB12abAB12",
        ),
        // 32 hex digits are 16 bytes of key material.
        (
            "LATCHKEY_SECRET",
            "--secret",
            "9f86d081884c7d659a2feaa0c55ad015",
        ),
    ] {
        let (status, stderr) = exit_within(
            latchkey(dir.path()).env(variable, secret),
            Duration::from_secs(20),
        );

        assert_eq!(status, Some(2), "{variable}={secret}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line, got: {stderr}");
        assert!(
            stderr.contains(variable) && stderr.contains(flag),
            "names the setting: {stderr}"
        );
        assert!(
            stderr.contains("latchkey secret generate"),
            "says how to get a good one: {stderr}"
        );
        assert!(
            !stderr.contains(secret),
            "the secret must not be echoed: {stderr}"
        );
    }
}

#[test]
fn the_secret_under_both_its_names_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (generated_secret(dir.path()), generated_secret(dir.path()));

    let (status, stderr) = exit_within(
        latchkey(dir.path())
            .env("LATCHKEY_SECRET", &first)
            .env("LATCHKEY_JWT_SECRET", &second),
        Duration::from_secs(20),
    );

    assert_eq!(status, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line, got: {stderr}");
    assert!(
        stderr.contains("LATCHKEY_SECRET") && stderr.contains("LATCHKEY_JWT_SECRET"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&first) && !stderr.contains(&second),
        "{stderr}"
    );
}

/// The output of `latchkey secret generate`, asserting that it succeeds with one line.
fn generated_secret(dir: &Path) -> String {
    let output = latchkey(dir).args(["secret", "generate"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    stdout.trim().to_owned()
}

#[test]
fn secret_generate_prints_a_fresh_secret_that_serve_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let secret = generated_secret(dir.path());
    assert_ne!(
        secret,
        generated_secret(dir.path()),
        "a fresh one each time"
    );
    // The weak secret it is meant to replace does not get in its way.
    let beside_a_weak_one = latchkey(dir.path())
        .env("LATCHKEY_SECRET", "31415926535897932384626433832795")
        .args(["secret", "generate"])
        .output()
        .unwrap();
    assert!(beside_a_weak_one.status.success());

    let mut child = latchkey(dir.path())
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .env("LATCHKEY_SECRET", &secret)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = wait_until_listening(&mut child);

    assert_eq!(http_status(&address, "/healthz"), 200);
    assert!(
        !dir.path().join("latchkey.jwt-secret").exists(),
        "the configured secret is used, none is generated"
    );
    stop(&mut child);
}

/// The permission bits of `path` in octal, as `ls -l` and `chmod` speak them: "600".
#[cfg(unix)]
fn mode_of(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:o}", metadata.permissions().mode() & 0o777)
}

/// The first file in `dir` whose name ends in `.extension`, waiting for it to appear.
fn wait_for_file(dir: &Path, extension: &str) -> PathBuf {
    let deadline = std::time::Instant::now() + crate::helpers::MAIL_TIMEOUT;
    loop {
        let found = std::fs::read_dir(dir).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .find(|path| path.extension().is_some_and(|e| e == extension))
        });
        if let Some(path) = found {
            return path;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no .{extension} file appeared in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn the_database_its_journal_the_mail_folder_and_mail_files_are_private_even_under_umask_022() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = latchkey_under_umask_022(dir.path())
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = wait_until_listening(&mut child);
    // No SMTP URL: the reset mail is written to the mail folder.
    let signup = post_graphql(
        &address,
        &SIGNUP.request(json!({ "input": { "email": "ada@example.com", "password": PASSWORD } })),
    );
    assert!(signup.contains("accessToken"), "{signup}");
    let forgot = post_graphql(
        &address,
        &FORGOT_PASSWORD.request(json!({ "email": "ada@example.com" })),
    );
    assert!(forgot.contains("true"), "{forgot}");
    let mail_dir = dir.path().join("mail");
    let mail = wait_for_file(&mail_dir, "eml");

    // The journal files exist while the server holds the database open.
    let modes: Vec<(String, String)> = [
        "latchkey.db",
        "latchkey.db-wal",
        "latchkey.db-shm",
        "latchkey.jwt-secret",
    ]
    .iter()
    .map(|name| dir.path().join(name))
    .chain([mail_dir, mail])
    .map(|path| (path.display().to_string(), mode_of(&path)))
    .collect();
    stop(&mut child);

    let expected: Vec<(String, String)> = modes
        .iter()
        .map(|(path, _)| {
            let private = if path.ends_with("mail") { "700" } else { "600" };
            (path.clone(), private.to_owned())
        })
        .collect();
    assert_eq!(modes, expected);
}

#[cfg(unix)]
#[test]
fn a_missing_database_folder_is_created_private_to_its_user() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = latchkey_under_umask_022(dir.path())
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .env("DATABASE_URL", "sqlite://data/latchkey.db?mode=rwc")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = wait_until_listening(&mut child);
    assert_eq!(http_status(&address, "/readyz"), 200);

    let data = dir.path().join("data");
    let modes = [
        mode_of(&data),
        mode_of(&data.join("latchkey.db")),
        mode_of(&data.join("latchkey.jwt-secret")),
    ];
    stop(&mut child);
    assert_eq!(modes, ["700", "600", "600"]);
}

/// SIGTERM, then a clean exit.
fn stop(child: &mut Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_with_deadline(child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
}

/// A GraphQL POST by hand; returns the whole response.
fn post_graphql(address: &str, body: &serde_json::Value) -> String {
    use std::io::Write as _;
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /graphql HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn postgres_without_a_secret_is_a_bad_setting() {
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
    assert!(stderr.contains("LATCHKEY_SECRET"), "{stderr}");
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

    stop(&mut child);
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

/// `latchkey admin create ARGS` in `dir`, with `stdin` as its standard input.
fn admin_create(dir: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = latchkey(dir)
        .args(["admin", "create"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Signs in on a server started in `dir` and returns the answer.
fn login_on_fresh_server(dir: &Path, email: &str, password: &str) -> String {
    let mut child = latchkey(dir)
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = wait_until_listening(&mut child);
    let response = post_graphql(
        &address,
        &json!({
            "query": "mutation($input: LoginInput!) { login(input: $input) { user { email roles } } }",
            "variables": {"input": {"email": email, "password": password}},
        }),
    );
    stop(&mut child);
    response
}

#[test]
fn admin_create_makes_one_superadmin_and_changes_nothing_when_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = admin_create(
        dir.path(),
        &["--email", "Root@Example.com", "--name", "Root"],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("created"));

    let again = admin_create(
        dir.path(),
        &["--email", "root@example.com"],
        "a different password entirely\n",
    );
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing changed"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    // The first password stands; the account is the one superadmin.
    let signed_in = login_on_fresh_server(dir.path(), "root@example.com", PASSWORD);
    assert!(
        signed_in.contains(r#""user":{"email":"root@example.com","roles":["superadmin"]}"#),
        "{signed_in}"
    );
    let refused = login_on_fresh_server(
        dir.path(),
        "root@example.com",
        "a different password entirely",
    );
    assert!(refused.contains("INVALID_CREDENTIALS"), "{refused}");
}

#[test]
fn admin_create_never_takes_a_password_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let on_argv = admin_create(
        dir.path(),
        &["--email", "root@example.com", "--password", PASSWORD],
        "",
    );
    assert_eq!(on_argv.status.code(), Some(2), "a bad setting");
    let stderr = String::from_utf8_lossy(&on_argv.stderr);
    assert!(stderr.contains("--password"), "{stderr}");
    assert!(
        !stderr.contains(PASSWORD),
        "the password is not echoed: {stderr}"
    );
    assert!(
        !dir.path().join("latchkey.db").exists(),
        "nothing was written"
    );

    // From a file, and a weak one is refused with nothing written.
    let weak = dir.path().join("weak");
    std::fs::write(&weak, "password\n").unwrap();
    let refused = admin_create(
        dir.path(),
        &[
            "--email",
            "root@example.com",
            "--password-file",
            weak.to_str().unwrap(),
        ],
        "",
    );
    assert!(!refused.status.success());
    let file = dir.path().join("password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let created = admin_create(
        dir.path(),
        &[
            "--email",
            "root@example.com",
            "--password-file",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let signed_in = login_on_fresh_server(dir.path(), "root@example.com", PASSWORD);
    assert!(
        signed_in.contains(r#""roles":["superadmin"]"#),
        "{signed_in}"
    );
}
