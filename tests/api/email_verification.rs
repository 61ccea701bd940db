//! Email verification: the link mailed at signup, `verifyEmail` and `resendVerificationEmail`, and
//! what `--require-verified-email true` changes (login, enumeration-free signup, email changes that
//! wait for the new address).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::operations::SIGNUP;
use crate::helpers::{
    MAIL_TIMEOUT, PASSWORD, RESET_LINK_PREFIX, SUBJECT_CONFIRM_NEW_EMAIL,
    SUBJECT_EMAIL_CHANGE_REQUESTED, SUBJECT_RESET, SUBJECT_SIGNUP_ATTEMPT, SUBJECT_VERIFY, TestApp,
    VERIFY_LINK_PREFIX, assert_error, assert_no_errors, assert_rate_limited, spawn_app,
    spawn_app_with_args,
};
use crate::reset_password::unescape_html;
use crate::smtp_sink::reset_token;

const REQUIRED: &[&str] = &["--require-verified-email", "true"];

impl TestApp {
    /// The token of the newest verification mail to `email`, waiting for mail number `seen + 1`.
    async fn verify_token(&self, email: &str, seen: usize) -> String {
        self.verification_token_in(email, SUBJECT_VERIFY, seen)
            .await
    }

    async fn outbox_count_to(&self, email: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) AS n FROM outbox WHERE recipient = '{email}'"
        ))
        .await
    }
}

fn verified_user(body: &Value) -> &Value {
    assert_no_errors(body);
    &body["data"]["verifyEmail"]
}

#[tokio::test]
async fn the_link_mailed_at_signup_verifies_the_address() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com", PASSWORD).await;
    assert_eq!(ada.user["emailVerified"], false);

    let mail = app
        .smtp
        .wait_for_mail("ada@example.com", SUBJECT_VERIFY, MAIL_TIMEOUT)
        .await;
    let token = reset_token(&mail, VERIFY_LINK_PREFIX);
    let link = format!("{VERIFY_LINK_PREFIX}{token}");
    assert!(unescape_html(&mail.html).contains(&link), "{}", mail.html);
    // The address has not proven to be the account's: the name it chose stays out.
    assert!(!mail.text.contains("Test User"), "{}", mail.text);

    let user = app.verify_email(&token).await;
    let user = verified_user(&user);
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["pendingEmail"], Value::Null);
    assert_eq!(
        app.me(&ada.access_token).await["data"]["me"]["emailVerified"],
        true
    );
}

#[tokio::test]
async fn a_signed_in_session_sees_the_verification_at_once() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com", PASSWORD).await;
    let token = app.verify_token("ada@example.com", 0).await;
    // The bearer check remembers the account for a moment; verifying must make it forget.
    assert_eq!(
        app.me(&ada.access_token).await["data"]["me"]["emailVerified"],
        false
    );

    assert_no_errors(&app.verify_email(&token).await);

    assert_eq!(
        app.me(&ada.access_token).await["data"]["me"]["emailVerified"],
        true
    );
}

#[tokio::test]
async fn a_verification_link_works_once() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let token = app.verify_token("ada@example.com", 0).await;

    assert_no_errors(&app.verify_email(&token).await);
    assert_error(&app.verify_email(&token).await, "INVALID_TOKEN");
    assert_error(&app.verify_email("not-a-token").await, "INVALID_TOKEN");
}

#[tokio::test]
async fn a_verification_link_expires() {
    let app = spawn_app_with_args(&["--verify-token-ttl", "1s"]).await;
    app.signup("ada@example.com", PASSWORD).await;
    let token = app.verify_token("ada@example.com", 0).await;

    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert_error(&app.verify_email(&token).await, "INVALID_TOKEN");
    let ada = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        app.me(&ada.access_token).await["data"]["me"]["emailVerified"],
        false
    );
}

#[tokio::test]
async fn a_link_for_an_address_the_account_no_longer_has_is_refused() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com", PASSWORD).await;
    let old_token = app.verify_token("ada@example.com", 0).await;

    let changed = app
        .update_me(
            &ada.access_token,
            json!({ "email": "ada@new.example", "currentPassword": PASSWORD }),
        )
        .await;
    assert_no_errors(&changed);
    assert_eq!(changed["data"]["updateMe"]["email"], "ada@new.example");
    assert_eq!(changed["data"]["updateMe"]["emailVerified"], false);

    assert_error(&app.verify_email(&old_token).await, "INVALID_TOKEN");
    // The new address got a link of its own, which works.
    let new_token = app.verify_token("ada@new.example", 0).await;
    let user = app.verify_email(&new_token).await;
    let user = verified_user(&user);
    assert_eq!(user["email"], "ada@new.example");
    assert_eq!(user["emailVerified"], true);
}

#[tokio::test]
async fn reset_and_verification_tokens_are_each_refused_by_the_other_operation() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let verification = app.verify_token("ada@example.com", 0).await;
    let reset = app.reset_token_for("ada@example.com").await;

    assert_error(&app.verify_email(&reset).await, "INVALID_TOKEN");
    assert_error(
        &app.reset_password(&verification, "a brand new passphrase 7")
            .await,
        "INVALID_TOKEN",
    );

    // Each still works where it belongs: the refusals above used nothing up.
    assert_no_errors(&app.verify_email(&verification).await);
    assert_no_errors(&app.reset_password(&reset, "a brand new passphrase 7").await);
}

#[tokio::test]
async fn an_invitation_token_is_refused_by_verify_email() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let created = app
        .graphql_with_token(
            &root.access_token,
            r#"mutation { createUser(input: { email: "invited@example.com" }) { id } }"#,
            json!({}),
        )
        .await;
    assert_no_errors(&created);
    let invitation = app
        .smtp
        .wait_for_mail(
            "invited@example.com",
            "You have been invited: choose your password",
            MAIL_TIMEOUT,
        )
        .await;
    let token = reset_token(&invitation, RESET_LINK_PREFIX);

    assert_error(&app.verify_email(&token).await, "INVALID_TOKEN");
}

#[tokio::test]
async fn create_user_mails_a_verification_link_unless_created_verified() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let create =
        "mutation($input: CreateUserInput!) { createUser(input: $input) { id emailVerified } }";
    for (email, verified) in [("plain@example.com", false), ("trusted@example.com", true)] {
        let input = json!({ "email": email, "password": PASSWORD, "emailVerified": verified });
        let created = app
            .graphql_with_token(&root.access_token, create, json!({ "input": input }))
            .await;
        assert_no_errors(&created);
    }

    let token = app.verify_token("plain@example.com", 0).await;
    let user = app.verify_email(&token).await;
    assert_eq!(verified_user(&user)["email"], "plain@example.com");
    // createUser writes its mail before it answers.
    assert_eq!(app.outbox_count_to("trusted@example.com").await, 0);
    assert_eq!(
        app.outbox_count_to(crate::helpers::SUPERADMIN_EMAIL).await,
        0
    );
}

#[tokio::test]
async fn resend_is_true_for_every_address_and_mails_only_an_unverified_one() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let first_link = app.verify_token("ada@example.com", 0).await;
    app.signup("bob@example.com", PASSWORD).await;
    let bob_token = app.verify_token("bob@example.com", 0).await;
    assert_no_errors(&app.verify_email(&bob_token).await);

    let unknown = app.resend_verification_email("nobody@example.com").await;
    let verified = app.resend_verification_email("bob@example.com").await;
    let unverified = app.resend_verification_email("ada@example.com").await;

    assert_eq!(
        unknown["data"]["resendVerificationEmail"], true,
        "{unknown}"
    );
    assert_eq!(unknown, verified);
    assert_eq!(verified, unverified);
    let second_link = app.verify_token("ada@example.com", 1).await;
    // The worker handles requests in order: by the time Ada's mail is written, the others were
    // looked at, and wrote nothing.
    assert_eq!(app.outbox_count_to("bob@example.com").await, 1);
    assert_eq!(app.outbox_count_to("nobody@example.com").await, 0);
    // Only the newest link counts.
    assert_error(&app.verify_email(&first_link).await, "INVALID_TOKEN");
    assert_no_errors(&app.verify_email(&second_link).await);
}

#[tokio::test]
async fn resend_is_throttled_per_email_for_known_and_unknown_addresses_alike() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..5 {
            let body = app.resend_verification_email(email).await;
            assert_eq!(body["data"]["resendVerificationEmail"], true, "{body}");
        }
        assert_rate_limited(&app.resend_verification_email(email).await);
    }
}

// ----- with verified email required -----

#[tokio::test]
async fn with_verified_email_required_signup_signs_nobody_in_and_login_waits_for_the_link() {
    let app = spawn_app_with_args(REQUIRED).await;

    let signup = app.signup_raw("ada@example.com", PASSWORD, None).await;
    assert_error(&signup, "EMAIL_NOT_VERIFIED");
    assert_eq!(signup["data"], Value::Null, "{signup}");
    assert_eq!(app.user_count("ada@example.com").await, 1);

    assert_error(
        &app.login_raw("ada@example.com", PASSWORD).await,
        "EMAIL_NOT_VERIFIED",
    );
    assert_error(
        &app.login_raw("ada@example.com", "not the password at all")
            .await,
        "INVALID_CREDENTIALS",
    );

    let token = app.verify_token("ada@example.com", 0).await;
    assert_no_errors(&app.verify_email(&token).await);
    let ada = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        app.me(&ada.access_token).await["data"]["me"]["emailVerified"],
        true
    );
}

#[tokio::test]
async fn with_verified_email_required_the_bootstrapped_superadmin_can_sign_in() {
    let app = spawn_app_with_args(REQUIRED).await;
    let root = app.superadmin().await;
    assert_eq!(
        app.me(&root.access_token).await["data"]["me"]["emailVerified"],
        true
    );
}

#[tokio::test]
async fn with_verified_email_required_signup_with_a_taken_address_answers_the_same_and_tells_the_owner()
 {
    let app = spawn_app_with_args(REQUIRED).await;
    app.signup_raw("owner@example.com", PASSWORD, Some("Owner"))
        .await;
    let token = app.verify_token("owner@example.com", 0).await;
    assert_no_errors(&app.verify_email(&token).await);

    let new = app
        .signup_raw("new@example.com", "another long passphrase 9", None)
        .await;
    let taken = app
        .signup_raw("owner@example.com", "another long passphrase 9", None)
        .await;

    assert_eq!(new, taken);
    assert_error(&taken, "EMAIL_NOT_VERIFIED");
    let notice = app
        .smtp
        .wait_for_mail("owner@example.com", SUBJECT_SIGNUP_ATTEMPT, MAIL_TIMEOUT)
        .await;
    // Verified: the owner's own name is used.
    assert!(notice.text.contains("Hello Owner,"), "{}", notice.text);
    assert_eq!(app.user_count("owner@example.com").await, 1);
    // Neither the password nor anything else of the owner's changed.
    app.login("owner@example.com", PASSWORD).await;
    assert_error(
        &app.login_raw("owner@example.com", "another long passphrase 9")
            .await,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn with_verified_email_required_the_notice_to_an_unverified_owner_carries_no_chosen_name() {
    let app = spawn_app_with_args(REQUIRED).await;
    // Someone signs up with a stranger's address, a message in the name, then tries again.
    app.signup_raw(
        "stranger@example.com",
        PASSWORD,
        Some("Call evil.example now"),
    )
    .await;
    app.signup_raw("stranger@example.com", PASSWORD, None).await;

    let notice = app
        .smtp
        .wait_for_mail("stranger@example.com", SUBJECT_SIGNUP_ATTEMPT, MAIL_TIMEOUT)
        .await;
    assert!(notice.text.starts_with("Hello,"), "{}", notice.text);
    assert!(!notice.text.contains("evil.example"), "{}", notice.text);
    assert!(!notice.html.contains("evil.example"), "{}", notice.html);
}

/// Milliseconds one signup takes to answer, from `ip` (believed through the trusted proxy, so
/// the per-address signup limit does not run out).
async fn timed_signup(app: &TestApp, ip: &str, email: &str) -> f64 {
    let input = json!({ "email": email, "password": "another long passphrase 9" });
    let started = Instant::now();
    let body = app
        .operation(
            &SIGNUP,
            &[("X-Forwarded-For", ip)],
            json!({ "input": input }),
        )
        .await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    assert_error(&body, "EMAIL_NOT_VERIFIED");
    elapsed
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[tokio::test]
async fn with_verified_email_required_signup_takes_as_long_for_a_taken_address_as_for_a_new_one() {
    let app = spawn_app_with_args(&[
        "--require-verified-email",
        "true",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    app.signup_raw("owner@example.com", PASSWORD, None).await;
    // Warm up both paths once (connections, caches) before measuring.
    timed_signup(&app, "192.0.2.1", "warm@example.com").await;
    timed_signup(&app, "192.0.2.1", "owner@example.com").await;

    let mut new = Vec::new();
    let mut taken = Vec::new();
    for round in 0..15 {
        let ip = format!("192.0.2.{}", round + 10);
        // Alternate the order, so that neither path always runs on a warmer server.
        let fresh = format!("new{round}@example.com");
        if round % 2 == 0 {
            new.push(timed_signup(&app, &ip, &fresh).await);
            taken.push(timed_signup(&app, &ip, "owner@example.com").await);
        } else {
            taken.push(timed_signup(&app, &ip, "owner@example.com").await);
            new.push(timed_signup(&app, &ip, &fresh).await);
        }
    }

    // The password hash is most of a signup: a taken address that skipped it would answer in a
    // fraction of the time. Within a factor of two either way is the noise of a busy machine.
    let (new, taken) = (median(new), median(taken));
    assert!(
        taken > new / 2.0 && taken < new * 2.0,
        "median signup: {new:.1} ms for new addresses, {taken:.1} ms for a taken one"
    );
}

#[tokio::test]
async fn with_verified_email_required_an_email_change_waits_for_the_new_address() {
    let app = spawn_app_with_args(REQUIRED).await;
    app.signup_raw("ada@example.com", PASSWORD, Some("Ada"))
        .await;
    let token = app.verify_token("ada@example.com", 0).await;
    assert_no_errors(&app.verify_email(&token).await);
    let ada = app.login("ada@example.com", PASSWORD).await;

    let changed = app
        .update_me(
            &ada.access_token,
            json!({ "email": "ada@new.example", "currentPassword": PASSWORD }),
        )
        .await;
    assert_no_errors(&changed);
    let user = &changed["data"]["updateMe"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["pendingEmail"], "ada@new.example");

    let notice = app
        .smtp
        .wait_for_mail(
            "ada@example.com",
            SUBJECT_EMAIL_CHANGE_REQUESTED,
            MAIL_TIMEOUT,
        )
        .await;
    assert!(notice.text.contains("ada@new.example"), "{}", notice.text);
    // Until the new address confirms, the account signs in with the old one.
    app.login("ada@example.com", PASSWORD).await;

    // A lost link can be asked for again, by the address that was asked to confirm.
    let first = app
        .verification_token_in("ada@new.example", SUBJECT_CONFIRM_NEW_EMAIL, 0)
        .await;
    let resent = app.resend_verification_email("ada@new.example").await;
    assert_eq!(resent["data"]["resendVerificationEmail"], true);
    let confirm = app
        .verification_token_in("ada@new.example", SUBJECT_CONFIRM_NEW_EMAIL, 1)
        .await;
    assert_error(&app.verify_email(&first).await, "INVALID_TOKEN");

    let moved = app.verify_email(&confirm).await;
    let moved = verified_user(&moved);
    assert_eq!(moved["email"], "ada@new.example");
    assert_eq!(moved["emailVerified"], true);
    assert_eq!(moved["pendingEmail"], Value::Null);
    app.login("ada@new.example", PASSWORD).await;
    assert_error(
        &app.login_raw("ada@example.com", PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(
        app.me(&ada.access_token).await["data"]["me"]["email"],
        "ada@new.example"
    );
}

#[tokio::test]
async fn with_verified_email_required_a_new_address_taken_meanwhile_is_email_taken_at_verification()
{
    let app = spawn_app_with_args(REQUIRED).await;
    app.signup_raw("ada@example.com", PASSWORD, None).await;
    let token = app.verify_token("ada@example.com", 0).await;
    assert_no_errors(&app.verify_email(&token).await);
    let ada = app.login("ada@example.com", PASSWORD).await;
    let changed = app
        .update_me(
            &ada.access_token,
            json!({ "email": "wanted@example.com", "currentPassword": PASSWORD }),
        )
        .await;
    assert_no_errors(&changed);
    let confirm = app
        .verification_token_in("wanted@example.com", SUBJECT_CONFIRM_NEW_EMAIL, 0)
        .await;

    // Someone else signs up with the address before Ada confirms it.
    app.signup_raw("wanted@example.com", PASSWORD, None).await;
    assert_eq!(app.user_count("wanted@example.com").await, 1);

    assert_error(&app.verify_email(&confirm).await, "EMAIL_TAKEN");
    let me = app.me(&ada.access_token).await;
    assert_eq!(me["data"]["me"]["email"], "ada@example.com");
    // An address taken already is refused at once.
    let taken = app
        .update_me(
            &ada.access_token,
            json!({ "email": "wanted@example.com", "currentPassword": PASSWORD }),
        )
        .await;
    assert_error(&taken, "EMAIL_TAKEN");
}

#[tokio::test]
async fn verification_mail_and_reset_mail_use_their_own_links() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let verify = app
        .smtp
        .wait_for_mail("ada@example.com", SUBJECT_VERIFY, MAIL_TIMEOUT)
        .await;
    assert!(!verify.text.contains(RESET_LINK_PREFIX), "{}", verify.text);
    app.reset_token_for("ada@example.com").await;
    let reset = app.smtp.mail_to("ada@example.com", SUBJECT_RESET);
    assert!(!reset[0].text.contains(VERIFY_LINK_PREFIX));
}
