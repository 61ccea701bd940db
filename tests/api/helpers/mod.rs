//! What every test needs to drive the real server: `spawn_app()` starts it on a fresh database with
//! an SMTP sink, `TestApp` talks to it the way a client would (`admin` adds a superadmin and the
//! administration operations), and the assertions read its answers.

mod admin;
mod app;
mod assertions;
mod client;
mod database;
mod mail;
pub mod operations;
mod process;

use std::time::Duration;

pub use admin::{SUPERADMIN_EMAIL, default_organization_id};
pub use app::{AppOptions, TestApp, captured_logs, spawn_app, spawn_app_with, spawn_app_with_args};
pub use assertions::{
    assert_access_revoked, assert_error, assert_exactly_one_succeeds, assert_field_error,
    assert_no_errors, assert_rate_limited, assert_refresh_revoked, assert_signed_out, error_code,
};
pub use client::{Account, HttpResponse, bearer, decode_claims, tokens_of};
pub use database::DataDir;
pub use process::{exit_within, latchkey_binary, wait_with_deadline, without_operator_settings};

pub const RESET_URL: &str = "http://app.test/reset-password?token={token}";
pub const RESET_LINK_PREFIX: &str = "http://app.test/reset-password?token=";
pub const VERIFY_URL: &str = "http://app.test/verify-email?token={token}";
pub const VERIFY_LINK_PREFIX: &str = "http://app.test/verify-email?token=";
pub const PASSWORD: &str = "correct horse battery staple 42";
/// What every test server signs access tokens with (`--jwt-secret`).
pub const JWT_SECRET: &str = "a-test-secret-that-is-at-least-32-bytes-long";
/// How long a test waits for mail: delivery retries back off, so be generous.
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(30);

pub const SUBJECT_RESET: &str = "Reset your password";
pub const SUBJECT_PASSWORD_CHANGED: &str = "Your password was changed";
pub const SUBJECT_EMAIL_CHANGED: &str = "Your email address was changed";
pub const SUBJECT_INVITATION: &str = "You have been invited: choose your password";
pub const SUBJECT_VERIFY: &str = "Confirm your email address";
pub const SUBJECT_CONFIRM_NEW_EMAIL: &str = "Confirm your new email address";
pub const SUBJECT_EMAIL_CHANGE_REQUESTED: &str = "A change of your email address was requested";
pub const SUBJECT_SIGNUP_ATTEMPT: &str = "Someone tried to sign up with your email address";
