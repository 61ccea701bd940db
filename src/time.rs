//! Time arithmetic between std's `Duration` (settings, timeouts) and chrono's timestamps (the
//! database's), in one place, so that every conversion behaves the same on overflow: a duration
//! too long to represent means "as late as can be", never zero and never a panic.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// `duration` as chrono's, saturating at chrono's longest.
pub fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// `instant + duration`, saturating at the latest representable instant.
pub fn after(instant: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    instant
        .checked_add_signed(to_chrono(duration))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_durations_saturate_instead_of_wrapping_or_panicking() {
        let now = Utc::now();
        assert_eq!(
            after(now, Duration::from_secs(60)),
            now + chrono::Duration::seconds(60)
        );
        assert_eq!(after(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(to_chrono(Duration::MAX), chrono::Duration::MAX);
        assert_eq!(
            to_chrono(Duration::from_millis(1500)).num_milliseconds(),
            1500
        );
    }
}
