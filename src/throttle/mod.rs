//! Throttling that an attacker cannot multiply: limits are counted per operation executed (not
//! per HTTP request), keyed only by normalised values (the client address, IPv6 per /64, and the
//! normalised account email), and on PostgreSQL counted for the whole deployment, not per
//! instance.

mod client_addr;
mod local_counters;
mod rate_limit;
mod shared_counters;

use std::time::Duration;

pub use self::client_addr::ClientAddr;
pub use self::rate_limit::{Limit, RateLimiter};

/// A refusal, with how long the client should wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after: Duration,
}

impl RateLimited {
    /// Whole seconds, rounded up, and at least one: `retryAfter: 0` would invite a hot loop.
    pub fn retry_after_seconds(self) -> u64 {
        let seconds = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        seconds.max(1)
    }
}
