//! Assertions on GraphQL answers: no errors, or the error with this `extensions.code`, and the
//! checks that a session is over.

use serde_json::Value;

use super::app::TestApp;
use super::client::Account;

#[track_caller]
pub fn assert_no_errors(body: &Value) {
    assert!(
        body.get("errors").is_none_or(Value::is_null),
        "unexpected errors: {body}"
    );
}

/// `errors[0].extensions.code`, or a panic showing the body.
#[track_caller]
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with extensions.code, got {body}"))
}

#[track_caller]
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(error_code(body), code, "{body}");
}

#[track_caller]
pub fn assert_field_error(body: &Value, field: &str) {
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
}

/// Asserts a `RATE_LIMITED` error with a whole `retryAfter` of at least one second, and returns it.
#[track_caller]
pub fn assert_rate_limited(body: &Value) -> u64 {
    assert_error(body, "RATE_LIMITED");
    let retry_after = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("RATE_LIMITED carries an integer retryAfter: {body}"));
    assert!(retry_after >= 1, "retryAfter is at least 1: {body}");
    retry_after
}

/// Of answers to requests that raced for one thing, exactly one succeeded and every other was
/// refused with `losers_code`.
#[track_caller]
pub fn assert_exactly_one_succeeds(answers: &[Value], losers_code: &str) {
    let (successes, failures): (Vec<_>, Vec<_>) = answers
        .iter()
        .partition(|body| body.get("errors").is_none_or(Value::is_null));
    assert_eq!(successes.len(), 1, "{answers:#?}");
    for body in failures {
        assert_error(body, losers_code);
    }
}

/// Every one of these sessions is over: its access token no longer gets the user and its
/// refresh token no longer refreshes.
pub async fn assert_signed_out(app: &TestApp, sessions: &[&Account]) {
    for session in sessions {
        assert_access_revoked(app, &session.access_token).await;
        assert_refresh_revoked(app, &session.refresh_token).await;
    }
}

/// The access token no longer gets the user.
pub async fn assert_access_revoked(app: &TestApp, access_token: &str) {
    assert_error(&app.me(access_token).await, "UNAUTHENTICATED");
}

/// The refresh token no longer refreshes.
pub async fn assert_refresh_revoked(app: &TestApp, refresh_token: &str) {
    assert_error(&app.refresh_raw(refresh_token).await, "INVALID_TOKEN");
}
