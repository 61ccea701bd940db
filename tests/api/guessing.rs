//! Password guessing (docs/security.md, "Throttling"): however the guesses arrive (at once, from
//! many addresses, through `updateMe` and `deleteMe`), no more password checks run than the
//! policy allows one after another, and a guesser at one address cannot lock the owner out from
//! theirs.

use serde_json::{Value, json};

use crate::helpers::operations::{DELETE_ME, UPDATE_ME};
use crate::helpers::{
    PASSWORD, TestApp, assert_error, assert_no_errors, assert_rate_limited, bearer, error_code,
    spawn_app_with_args,
};

const WRONG_PASSWORD: &str = "not the password at all";
const NEW_PASSWORD: &str = "a brand new passphrase 7";
const ATTACKER: &str = "203.0.113.66";
const OWNER: &str = "198.51.100.7";

async fn spawn_behind_proxy() -> TestApp {
    spawn_app_with_args(&["--trusted-proxies", "127.0.0.1/32"]).await
}

/// How many answers carry each of the two codes a guess can get.
fn checked_and_refused(answers: &[Value]) -> (usize, usize) {
    let count = |code: &str| answers.iter().filter(|b| error_code(b) == code).count();
    let checked = count("INVALID_CREDENTIALS");
    let refused = count("RATE_LIMITED");
    assert_eq!(checked + refused, answers.len(), "{answers:#?}");
    (checked, refused)
}

async fn update_me_from(app: &TestApp, ip: &str, access_token: &str, input: Value) -> Value {
    app.operation(
        &UPDATE_ME,
        &[
            ("X-Forwarded-For", ip),
            ("Authorization", &bearer(access_token)),
        ],
        json!({ "input": input }),
    )
    .await
}

async fn delete_me_from(app: &TestApp, ip: &str, access_token: &str, password: &str) -> Value {
    app.operation(
        &DELETE_ME,
        &[
            ("X-Forwarded-For", ip),
            ("Authorization", &bearer(access_token)),
        ],
        json!({ "password": password }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_five_simultaneous_guesses_from_one_address_run_ten_password_checks() {
    let app = spawn_behind_proxy().await;
    app.signup("ada@example.com", PASSWORD).await;

    let guesses = (0..25).map(|_| app.login_from(ATTACKER, "ada@example.com", WRONG_PASSWORD));
    let answers = async_graphql::futures_util::future::join_all(guesses).await;

    assert_eq!(checked_and_refused(&answers), (10, 15));
    // The right password from that address is refused too: it would otherwise be guess eleven.
    assert_rate_limited(&app.login_from(ATTACKER, "ada@example.com", PASSWORD).await);
}

#[tokio::test]
async fn a_guesser_locks_out_only_their_own_address_never_the_owner() {
    let app = spawn_behind_proxy().await;
    app.signup("ada@example.com", PASSWORD).await;
    for _ in 0..10 {
        let body = app
            .login_from(ATTACKER, "ada@example.com", WRONG_PASSWORD)
            .await;
        assert_error(&body, "INVALID_CREDENTIALS");
    }
    assert_rate_limited(&app.login_from(ATTACKER, "ada@example.com", PASSWORD).await);

    // The owner, at their own address, signs in as if nothing happened, again and again.
    for _ in 0..3 {
        let body = app.login_from(OWNER, "ada@example.com", PASSWORD).await;
        assert_no_errors(&body);
    }
    // And the attacker is still locked out.
    assert_rate_limited(&app.login_from(ATTACKER, "ada@example.com", PASSWORD).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guesses_from_many_addresses_at_once_stop_at_the_account_wide_bound_of_a_hundred() {
    let app = spawn_behind_proxy().await;
    app.signup("ada@example.com", PASSWORD).await;
    let app = &app;
    // One guess from each of many addresses, each far from its own lock, in waves small enough
    // that no request waits on the hashing threads past the request timeout of a busy machine.
    let wave = |from: usize, count: usize| {
        let guesses = (from..from + count).map(|i| async move {
            let ip = format!("10.0.{i}.1");
            app.login_from(&ip, "ada@example.com", WRONG_PASSWORD).await
        });
        async_graphql::futures_util::future::join_all(guesses)
    };
    for first in (0..90).step_by(10) {
        assert_eq!(checked_and_refused(&wave(first, 10).await), (10, 0));
    }

    // The last ten slots, raced for by thirty addresses at once.
    assert_eq!(checked_and_refused(&wave(90, 30).await), (10, 20));
    // A fresh address gets nothing more out of the account until the bucket drains.
    let refused = app
        .login_from("192.0.2.200", "ada@example.com", PASSWORD)
        .await;
    let retry_after = assert_rate_limited(&refused);
    assert!(
        retry_after <= 36,
        "one failure drains every 36 s: {refused}"
    );
}

#[tokio::test]
async fn a_password_reset_clears_every_lock_of_the_account() {
    let app = spawn_behind_proxy().await;
    app.signup("ada@example.com", PASSWORD).await;
    for _ in 0..10 {
        app.login_from(ATTACKER, "ada@example.com", WRONG_PASSWORD)
            .await;
    }
    assert_rate_limited(&app.login_from(ATTACKER, "ada@example.com", PASSWORD).await);

    let token = app.reset_token_for("ada@example.com").await;
    assert_no_errors(&app.reset_password(&token, NEW_PASSWORD).await);

    assert_no_errors(
        &app.login_from(ATTACKER, "ada@example.com", NEW_PASSWORD)
            .await,
    );
}

#[tokio::test]
async fn wrong_current_passwords_in_update_me_and_delete_me_lock_out_like_login() {
    let app = spawn_behind_proxy().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let token = &account.access_token;

    // A stolen access token guessing the password through updateMe, then deleteMe.
    for i in 0..10 {
        let body = if i % 2 == 0 {
            let input = json!({ "newPassword": NEW_PASSWORD, "currentPassword": WRONG_PASSWORD });
            update_me_from(&app, ATTACKER, token, input).await
        } else {
            delete_me_from(&app, ATTACKER, token, WRONG_PASSWORD).await
        };
        assert_error(&body, "INVALID_CREDENTIALS");
    }

    // The right password no longer gets through from there, in any of the three operations.
    assert_rate_limited(&delete_me_from(&app, ATTACKER, token, PASSWORD).await);
    let input = json!({ "newPassword": NEW_PASSWORD, "currentPassword": PASSWORD });
    assert_rate_limited(&update_me_from(&app, ATTACKER, token, input).await);
    assert_rate_limited(&app.login_from(ATTACKER, "ada@example.com", PASSWORD).await);
    assert_eq!(app.user_count("ada@example.com").await, 1);
    // The owner, elsewhere, is unaffected.
    assert_no_errors(&app.login_from(OWNER, "ada@example.com", PASSWORD).await);
}

#[tokio::test]
async fn current_password_checks_count_towards_the_per_address_limit() {
    let app = spawn_behind_proxy().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    // Credential stuffing from one address spends its 30 password checks for the minute...
    for i in 0..30 {
        let body = app
            .login_from(ATTACKER, &format!("victim{i}@example.com"), WRONG_PASSWORD)
            .await;
        assert_error(&body, "INVALID_CREDENTIALS");
    }

    // ...and a current-password check from there is one more, even with the right password.
    let body = delete_me_from(&app, ATTACKER, &account.access_token, PASSWORD).await;
    assert_rate_limited(&body);
    assert_eq!(app.user_count("ada@example.com").await, 1);
    let body = delete_me_from(&app, OWNER, &account.access_token, PASSWORD).await;
    assert_no_errors(&body);
}

#[tokio::test]
async fn probing_which_emails_exist_through_update_me_is_rate_limited_like_signup() {
    let app = spawn_behind_proxy().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    app.signup("grace@example.com", PASSWORD).await;

    for _ in 0..20 {
        let input = json!({ "email": "grace@example.com", "currentPassword": PASSWORD });
        let body = update_me_from(&app, ATTACKER, &account.access_token, input).await;
        assert_error(&body, "EMAIL_TAKEN");
    }

    let input = json!({ "email": "grace@example.com", "currentPassword": PASSWORD });
    let refused = update_me_from(&app, ATTACKER, &account.access_token, input).await;
    let retry_after = assert_rate_limited(&refused);
    assert!((61..=3600).contains(&retry_after), "{refused}");
}
