//! `latchkey import` as an operator runs it, then the imported users signing in over HTTP:
//! hashes made by the real Python libraries (werkzeug, bcrypt, passlib, pycryptodome as
//! user-api uses it, argon2-cffi), refusals by line, dry runs, existing accounts untouched.
//!
//! The vectors are the file named by `LATCHKEY_IMPORT_VECTORS` (`.ci/run` makes a fresh one with
//! tests/import/make_vectors.py), or else tests/import/vectors.jsonl, made once by the same
//! script and checked in, so that `cargo test` needs only the toolchain.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::helpers::{
    PASSWORD, TestApp, assert_error, assert_no_errors, latchkey_binary, spawn_app,
    spawn_app_with_args,
};

/// What an import run printed and how it ended.
struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `latchkey import ARGS` on the test server's database, `stdin` piped in when given.
async fn import(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = tokio::process::Command::from(latchkey_binary());
    command.current_dir(app.data_dir.path());
    command
        .arg("import")
        .args(["--database-url", app.data_dir.database_url()])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("latchkey import starts");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("latchkey import ends within two minutes")
        .unwrap();
    Run {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Writes JSON Lines into the test's directory and returns the path.
fn jsonl(app: &TestApp, name: &str, lines: &[Value]) -> PathBuf {
    let path = app.data_dir.path().join(name);
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

async fn stored_hash(app: &TestApp, email: &str) -> String {
    app.strings(&format!(
        "SELECT password_hash AS value FROM users WHERE email = '{email}'"
    ))
    .await
    .pop()
    .unwrap_or_else(|| panic!("{email} has an account"))
}

fn signed_in(body: &Value) -> bool {
    body["data"]["login"]["accessToken"].is_string()
}

fn vectors() -> Vec<Value> {
    let path = std::env::var_os("LATCHKEY_IMPORT_VECTORS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import/vectors.jsonl"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the vectors {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn every_library_s_hash_signs_in_with_its_password_only_and_becomes_argon2id_at_the_first_login()
 {
    // Each vector logs in from an address of its own, within the per-address limit.
    let app = spawn_app_with_args(&["--trusted-proxies", "127.0.0.1/32"]).await;
    let vectors = vectors();
    assert!(vectors.len() >= 12, "all the formats are there");
    let mut records: Vec<Value> = vectors.iter().map(|v| v["record"].clone()).collect();
    // Vectors whose library accepted other passwords too (bcrypt's 72 bytes) are imported a
    // second time, to sign in first with such a password.
    for (index, vector) in vectors.iter().enumerate() {
        if !vector["also_matches"].as_array().unwrap().is_empty() {
            let mut copy = vector["record"].clone();
            copy["email"] = json!(format!("truncated-{index}@example.com"));
            records.push(copy);
        }
    }
    let file = jsonl(&app, "vectors.jsonl", &records);

    let run = import(&app, &[file.to_str().unwrap()], None).await;

    assert_eq!(run.status, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "imported {}, skipped as existing 0, refused 0",
            records.len()
        )),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("users_imported"), "{}", run.stderr);
    for (index, vector) in vectors.iter().enumerate() {
        let label = vector["label"].as_str().unwrap();
        let email = vector["record"]["email"].as_str().unwrap();
        let password = vector["password"].as_str().unwrap();
        let ip = format!("10.0.{index}.1");
        let imported = stored_hash(&app, email).await;
        assert!(!imported.starts_with("$argon2id$v=19$m=19456"), "{label}");

        for wrong in vector["wrong"].as_array().unwrap() {
            let body = app.login_from(&ip, email, wrong.as_str().unwrap()).await;
            assert!(
                !signed_in(&body),
                "{label}: a wrong password signed in: {body}"
            );
        }
        assert_eq!(
            stored_hash(&app, email).await,
            imported,
            "{label}: a failed login changes nothing"
        );

        let first = app.login_from(&ip, email, password).await;
        assert_no_errors(&first);
        assert!(signed_in(&first), "{label}: {first}");
        let rehashed = stored_hash(&app, email).await;
        // An argon2id hash at least as strong as latchkey's own is kept, as for any account.
        let kept_as_strong = imported.starts_with("$argon2id$") && rehashed == imported;
        assert!(
            rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$") || kept_as_strong,
            "{label}: the first login rehashes to argon2id"
        );
        let again = app.login_from(&ip, email, password).await;
        assert!(
            signed_in(&again),
            "{label}: the old password still works: {again}"
        );
        assert_eq!(
            stored_hash(&app, email).await,
            rehashed,
            "{label}: rehashed once"
        );
        let wrong = app.login_from(&ip, email, &format!("{password}!")).await;
        assert_error(&wrong, "INVALID_CREDENTIALS");

        for other in vector["also_matches"].as_array().unwrap() {
            let other = other.as_str().unwrap();
            let copy = format!("truncated-{index}@example.com");
            let body = app
                .login_from(&format!("10.1.{index}.1"), &copy, other)
                .await;
            assert!(
                signed_in(&body),
                "{label}: bcrypt compares the first 72 bytes, as the library did: {body}"
            );
            // The password that signed in first is the one hashed with argon2id.
            let full = app
                .login_from(&format!("10.1.{index}.1"), &copy, password)
                .await;
            assert!(!signed_in(&full), "{label}: {full}");
        }
    }
}

/// A bcrypt hash (cost 4) of `PASSWORD`, made by the vectors' bcrypt, for tests that only need
/// one valid line.
fn valid_bcrypt_hash() -> String {
    vectors()
        .into_iter()
        .find(|v| v["label"] == "bcrypt 2a")
        .map(|v| v["record"]["password_hash"].as_str().unwrap().to_owned())
        .unwrap()
}

fn valid_line(email: &str) -> Value {
    json!({ "email": email, "password_hash": valid_bcrypt_hash() })
}

async fn user_total(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM users").await
}

/// Lines refused at import, each with the reason's telling words.
fn refused_lines() -> Vec<(Value, &'static str)> {
    let bcrypt = valid_bcrypt_hash();
    let over = |prefix: &str| format!("{prefix}{}", &bcrypt[7..]);
    vec![
        (
            json!({ "email": "a@example.com", "password_hash": "md5$abc$0123" }),
            "unknown format",
        ),
        (
            json!({ "email": "b@example.com", "password_hash": "x", "format": "sha1-crypt" }),
            "unknown format",
        ),
        (
            json!({ "email": "c@example.com", "password_hash": "$2b$12$tooshort" }),
            "malformed bcrypt",
        ),
        (
            json!({ "email": "d@example.com", "password_hash": "pbkdf2:sha256:1000$salt$zz" }),
            "malformed werkzeug",
        ),
        (
            json!({ "email": "e@example.com", "password_hash": over("$2b$16$") }),
            "bcrypt cost 16",
        ),
        (
            json!({ "email": "f@example.com", "password_hash": format!("pbkdf2:sha256:2000001$salt${}", "ab".repeat(32)) }),
            "PBKDF2 rounds",
        ),
        (
            json!({ "email": "g@example.com", "password_hash": format!("scrypt:2097152:8:1$salt${}", "ab".repeat(64)) }),
            "scrypt cost",
        ),
        (
            json!({ "email": "h@example.com", "password_hash": format!("pbkdf2:sha256:1000${}${}", "s".repeat(300), "ab".repeat(32)) }),
            "salt of 300 bytes",
        ),
        (
            json!({ "email": "i@example.com", "password_hash": "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA" }),
            "argon2 cost",
        ),
        (
            json!({ "email": "j@example.com", "password_hash": "0123456789abcdef0123456789abcdef" }),
            "unknown format",
        ),
        (
            json!({ "email": "not an address", "password_hash": bcrypt }),
            "email",
        ),
        (
            json!({ "email": "k@example.com", "password_hash": bcrypt, "roles": ["no-such-role"] }),
            "no role `no-such-role`",
        ),
        (
            json!({ "email": "l@example.com", "password_hash": bcrypt, "emailVerified": true }),
            "unknown field `emailVerified`",
        ),
        (
            json!({ "email": "m@example.com", "password_hash": bcrypt, "salt": "pepper" }),
            "only for user-api",
        ),
    ]
}

#[tokio::test]
async fn every_refused_line_is_reported_by_number_and_without_skip_invalid_nothing_is_written() {
    let app = spawn_app().await;
    let mut lines = vec![valid_line("first@example.com")];
    let refused = refused_lines();
    lines.extend(refused.iter().map(|(line, _)| line.clone()));
    // A second line for an address seen earlier in the file.
    lines.push(valid_line("FIRST@example.com"));
    let file = jsonl(&app, "users.jsonl", &lines);

    let run = import(&app, &[file.to_str().unwrap()], None).await;

    assert_eq!(run.status, Some(1), "{}", run.stdout);
    for (index, (_, reason)) in refused.iter().enumerate() {
        let number = index + 2;
        let reported = run
            .stdout
            .lines()
            .find(|line| line.starts_with(&format!("line {number}: refused: ")))
            .unwrap_or_else(|| panic!("line {number} is reported: {}", run.stdout));
        assert!(reported.contains(reason), "line {number}: {reported}");
    }
    let duplicate = lines.len();
    assert!(
        run.stdout.contains(&format!(
            "line {duplicate}: refused: email: a duplicate of line 1"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("nothing was written"), "{}", run.stdout);
    assert_eq!(
        user_total(&app).await,
        0,
        "one bad line leaves the database untouched"
    );
    for (line, _) in &refused {
        let hash = line["password_hash"].as_str().unwrap();
        assert!(
            hash.len() < 8 || !run.stdout.contains(hash) && !run.stderr.contains(hash),
            "a hash is never printed"
        );
    }
}

#[tokio::test]
async fn with_skip_invalid_the_valid_lines_are_imported_and_the_run_still_fails() {
    let app = spawn_app().await;
    let lines = [
        valid_line("first@example.com"),
        json!({ "email": "bad@example.com", "password_hash": "md5$abc$0123" }),
        valid_line("second@example.com"),
    ];
    let file = jsonl(&app, "users.jsonl", &lines);

    let run = import(&app, &["--skip-invalid", file.to_str().unwrap()], None).await;

    assert_eq!(
        run.status,
        Some(1),
        "anything refused fails the run: {}",
        run.stdout
    );
    assert!(run.stdout.contains("line 2: refused: "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("imported 2, skipped as existing 0, refused 1"),
        "{}",
        run.stdout
    );
    assert_eq!(user_total(&app).await, 2);
    assert!(signed_in(
        &app.login_raw("second@example.com", "Pässwörd-日本語-🔑")
            .await
    ));
}

#[tokio::test]
async fn a_line_that_is_not_utf8_is_refused_by_number_like_any_other() {
    let app = spawn_app().await;
    let path = app.data_dir.path().join("users.jsonl");
    let mut bytes = format!("{}\r\n", valid_line("first@example.com")).into_bytes();
    bytes.extend_from_slice(b"{\"email\": \"caf\xe9@example.com\"}\n");
    bytes.extend_from_slice(format!("{}\n", valid_line("third@example.com")).as_bytes());
    std::fs::write(&path, bytes).unwrap();

    let run = import(&app, &["--skip-invalid", path.to_str().unwrap()], None).await;

    assert!(
        run.stdout.contains("line 2: refused: not UTF-8 text"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout
            .contains("imported 2, skipped as existing 0, refused 1"),
        "{}",
        run.stdout
    );
    assert_eq!(run.status, Some(1));
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let app = spawn_app().await;
    let mut line = valid_line("first@example.com");
    line["organization"] = json!("Dry Run Inc");
    let file = jsonl(
        &app,
        "users.jsonl",
        &[line, valid_line("second@example.com")],
    );
    let organizations = app.count("SELECT COUNT(*) AS n FROM organizations").await;

    let run = import(&app, &["--dry-run", file.to_str().unwrap()], None).await;

    assert_eq!(run.status, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("would import 2"), "{}", run.stdout);
    assert!(
        run.stdout.contains("dry run: nothing was written"),
        "{}",
        run.stdout
    );
    assert_eq!(user_total(&app).await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM organizations").await,
        organizations
    );
}

#[tokio::test]
async fn an_existing_account_is_skipped_and_never_overwritten() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let before = stored_hash(&app, "ada@example.com").await;
    let mut line = valid_line("Ada@Example.com");
    line["name"] = json!("Someone Else");
    let text = format!("{line}\n{}\n", valid_line("new@example.com"));

    let run = import(&app, &["-"], Some(&text)).await;

    assert_eq!(
        run.status,
        Some(0),
        "skipping is no refusal: {}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("line 1: skipped: ada@example.com has an account already"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("imported 1, skipped as existing 1, refused 0"),
        "{}",
        run.stdout
    );
    assert_eq!(stored_hash(&app, "ada@example.com").await, before);
    assert!(signed_in(&app.login_raw("ada@example.com", PASSWORD).await));
    let names = app
        .strings("SELECT name AS value FROM users WHERE email = 'ada@example.com'")
        .await;
    assert_eq!(names, ["Test User"]);
}

#[tokio::test]
async fn roles_organization_flags_and_creation_time_are_carried_over() {
    let app = spawn_app().await;
    let mut line = valid_line("grace@example.com");
    line["name"] = json!("Grace Hopper");
    line["roles"] = json!(["admin"]);
    line["organization"] = json!("Navy");
    line["email_verified"] = json!(1);
    line["created_at"] = json!("2019-03-04 05:06:07");
    let mut inactive = valid_line("gone@example.com");
    inactive["active"] = json!(false);
    let file = jsonl(&app, "users.jsonl", &[line, inactive]);

    let run = import(&app, &[file.to_str().unwrap()], None).await;

    assert_eq!(run.status, Some(0), "{}{}", run.stdout, run.stderr);
    let grace = app.login("grace@example.com", "Pässwörd-日本語-🔑").await;
    let me = app.me(&grace.access_token).await;
    let me = &me["data"]["me"];
    assert_eq!(me["name"], "Grace Hopper");
    assert_eq!(me["emailVerified"], true);
    assert!(
        me["createdAt"]
            .as_str()
            .unwrap()
            .starts_with("2019-03-04T05:06:07"),
        "{me}"
    );
    let granted = app
        .count(
            "SELECT COUNT(*) AS n FROM users u \
             JOIN organizations o ON o.id = u.organization_id \
             JOIN user_roles r ON r.user_id = u.id \
             WHERE u.email = 'grace@example.com' AND o.name = 'Navy' AND r.role_code = 'admin'",
        )
        .await;
    assert_eq!(granted, 1, "the role and the new organization");
    let disabled = app
        .login_raw("gone@example.com", "Pässwörd-日本語-🔑")
        .await;
    assert_error(&disabled, "ACCOUNT_DISABLED");
}

#[tokio::test]
async fn a_stored_hash_over_the_caps_is_refused_at_login_without_being_run() {
    let app = spawn_app().await;
    // Written by other means than the import, which refuses them.
    // Run, the first would take about a minute, the others hours or gigabytes.
    let expensive = [
        format!("pbkdf2:sha256:100000000$salt${}", "ab".repeat(32)),
        format!("$2b$31${}", "a".repeat(53)),
        format!("pbkdf2:sha256:4000000000$salt${}", "ab".repeat(32)),
        format!("scrypt:1073741824:8:1$salt${}", "ab".repeat(64)),
        format!("$latchkey-user-api$c2FsdA${}", "ab".repeat(16))
            .replace("c2FsdA", &"c".repeat(400)),
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
            .to_owned(),
    ];
    app.signup("ada@example.com", PASSWORD).await;
    for hash in expensive {
        let db = app.db().await;
        db.execute_unprepared(&format!(
            "UPDATE users SET password_hash = '{hash}' WHERE email = 'ada@example.com'"
        ))
        .await
        .unwrap();
        db.close().await.ok();
        let started = Instant::now();
        let body = app.login_raw("ada@example.com", PASSWORD).await;
        assert_error(&body, "INVALID_CREDENTIALS");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "refused at once, not run: {hash:.12}"
        );
    }
}
