//! The per-address and per-email limits, and where they are counted: in the database when
//! several instances may serve one deployment (PostgreSQL), so that a limit holds for the whole
//! deployment whichever instance an attempt reaches; in memory otherwise (SQLite, one instance).

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbBackend, DbErr};

use super::RateLimited;
use super::local_counters::LocalCounters;
use super::shared_counters::SharedCounters;
use crate::metrics::Metrics;

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

/// Where the counters live.
#[derive(Clone)]
enum Counters {
    Local(LocalCounters),
    Shared(SharedCounters),
}

/// Counts attempts against the limits. Cheap to clone; clones share the counters.
#[derive(Clone)]
pub struct RateLimiter {
    counters: Counters,
    metrics: Metrics,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::local(Metrics::default())
    }
}

impl RateLimiter {
    /// Counters in this process's memory.
    pub fn local(metrics: Metrics) -> Self {
        Self {
            counters: Counters::Local(LocalCounters::default()),
            metrics,
        }
    }

    /// Counters in `db`, shared by every instance using it. Keys are stored as a keyed hash
    /// under a key derived from `master_secret`, the same on every instance.
    pub fn shared(db: DatabaseConnection, master_secret: &[u8], metrics: Metrics) -> Self {
        Self {
            counters: Counters::Shared(SharedCounters::new(db, master_secret)),
            metrics,
        }
    }

    /// The limiter a deployment on `db` needs: shared on PostgreSQL, where several instances
    /// may serve one deployment; in memory on SQLite, which one instance serves alone.
    pub fn for_database(db: &DatabaseConnection, master_secret: &[u8], metrics: Metrics) -> Self {
        match db.get_database_backend() {
            DbBackend::Postgres => Self::shared(db.clone(), master_secret, metrics),
            _ => Self::local(metrics),
        }
    }

    /// Counts one attempt under `key` and refuses it when the window's quota is spent. Call it
    /// only where an attempt costs something (a password hash, a mail): with shared counters
    /// it is one database write.
    ///
    /// # Errors
    /// The outer error: the shared counter could not be read or written; the caller must
    /// refuse the attempt, since the limit cannot be checked. The inner one: `RateLimited`
    /// with the time until the window ends.
    pub async fn hit(&self, limit: Limit, key: &str) -> Result<Result<(), RateLimited>, DbErr> {
        let outcome = match &self.counters {
            Counters::Local(counters) => counters.hit(limit, key),
            Counters::Shared(counters) => counters.hit(limit, key).await?,
        };
        if outcome.is_err() {
            self.metrics.rate_limited(limit.name());
        }
        Ok(outcome)
    }
}
