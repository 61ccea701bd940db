//! Rate-limit counters in this process's memory: fixed windows per limit and key, each starting
//! with the key's first attempt. Enough where one instance serves everything (SQLite).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{Limit, RateLimited};

/// Beyond this many live keys, expired ones are swept; memory stays bounded under a flood of
/// distinct addresses.
const MAX_KEYS: usize = 100_000;

struct Window {
    started: Instant,
    count: u32,
}

/// Cheap to clone; clones share the counters.
#[derive(Clone, Default)]
pub(super) struct LocalCounters {
    windows: Arc<Mutex<HashMap<(Limit, String), Window>>>,
}

impl LocalCounters {
    /// Counts one attempt under `key` and refuses it when the window's quota is spent.
    pub(super) fn hit(&self, limit: Limit, key: &str) -> Result<(), RateLimited> {
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
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_quota_is_counted_per_key_and_limit() {
        let counters = LocalCounters::default();
        for _ in 0..5 {
            counters
                .hit(Limit::ForgotPasswordPerEmail, "ada@example.com")
                .unwrap();
        }
        let refused = counters
            .hit(Limit::ForgotPasswordPerEmail, "ada@example.com")
            .unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(3600));
        assert!(refused.retry_after_seconds() >= 3590);
        counters
            .hit(Limit::ForgotPasswordPerEmail, "grace@example.com")
            .unwrap();
        counters
            .hit(Limit::ForgotPasswordPerAddress, "ada@example.com")
            .unwrap();
    }
}
