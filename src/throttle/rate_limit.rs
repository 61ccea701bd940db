//! Per-key counters in fixed windows, in memory. Per-address limits are a flood brake, so each
//! instance counting on its own is enough; what must hold across instances (account lockout)
//! lives in the database instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::RateLimited;
use crate::metrics::Metrics;

/// Beyond this many live keys, expired ones are swept; memory stays bounded under a flood of
/// distinct addresses.
const MAX_KEYS: usize = 100_000;

/// The per-address and per-email limits of docs/security.md ("Throttling").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Password checks: `login`, and the current-password checks of `updateMe` and `deleteMe`.
    LoginPerAddress,
    SignupPerAddress,
    ForgotPasswordPerAddress,
    ForgotPasswordPerEmail,
    ResetPasswordPerAddress,
    /// `updateMe` with a new email: its `EMAIL_TAKEN` says whether an address has an account,
    /// so it is rationed like `signup`.
    EmailChangePerAddress,
    /// `resendVerificationEmail`, rationed like `forgotPassword`.
    VerificationMailPerAddress,
    VerificationMailPerEmail,
    /// `verifyEmail`: a flood brake, as for `resetPassword` (tokens cannot be guessed).
    VerifyEmailPerAddress,
}

impl Limit {
    /// The label this limit carries in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginPerAddress => "login_per_address",
            Self::SignupPerAddress => "signup_per_address",
            Self::ForgotPasswordPerAddress => "forgot_password_per_address",
            Self::ForgotPasswordPerEmail => "forgot_password_per_email",
            Self::ResetPasswordPerAddress => "reset_password_per_address",
            Self::EmailChangePerAddress => "email_change_per_address",
            Self::VerificationMailPerAddress => "verification_mail_per_address",
            Self::VerificationMailPerEmail => "verification_mail_per_email",
            Self::VerifyEmailPerAddress => "verify_email_per_address",
        }
    }

    /// How many attempts, per how long.
    pub fn quota(self) -> (u32, Duration) {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        match self {
            Self::LoginPerAddress => (30, MINUTE),
            Self::SignupPerAddress => (20, HOUR),
            Self::ForgotPasswordPerAddress => (20, HOUR),
            Self::ForgotPasswordPerEmail => (5, HOUR),
            Self::ResetPasswordPerAddress => (30, HOUR),
            Self::EmailChangePerAddress => (20, HOUR),
            Self::VerificationMailPerAddress => (20, HOUR),
            Self::VerificationMailPerEmail => (5, HOUR),
            Self::VerifyEmailPerAddress => (30, HOUR),
        }
    }
}

struct Window {
    started: Instant,
    count: u32,
}

/// Cheap to clone; clones share the counters.
#[derive(Clone, Default)]
pub struct RateLimiter {
    windows: Arc<Mutex<HashMap<(Limit, String), Window>>>,
    metrics: Metrics,
}

impl RateLimiter {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            windows: Arc::default(),
            metrics,
        }
    }

    /// Counts one attempt under `key` and refuses it when the window's quota is spent.
    ///
    /// # Errors
    /// `RateLimited` with the time until the window ends.
    pub fn hit(&self, limit: Limit, key: &str) -> Result<(), RateLimited> {
        let (quota, period) = limit.quota();
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= MAX_KEYS {
            windows
                .retain(|(limit, _), window| now.duration_since(window.started) < limit.quota().1);
        }
        let window = windows.entry((limit, key.to_owned())).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= period {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        if window.count >= quota {
            self.metrics.rate_limited(limit.name());
            return Err(RateLimited {
                retry_after: period.saturating_sub(now.duration_since(window.started)),
            });
        }
        window.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_is_counted_per_key_and_limit() {
        let limiter = RateLimiter::default();
        for _ in 0..5 {
            limiter
                .hit(Limit::ForgotPasswordPerEmail, "ada@example.com")
                .unwrap();
        }
        let refused = limiter
            .hit(Limit::ForgotPasswordPerEmail, "ada@example.com")
            .unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(3600));
        assert!(refused.retry_after_seconds() >= 3590);
        limiter
            .hit(Limit::ForgotPasswordPerEmail, "grace@example.com")
            .unwrap();
        limiter
            .hit(Limit::ForgotPasswordPerAddress, "ada@example.com")
            .unwrap();
    }
}
