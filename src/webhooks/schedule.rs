//! When a failed delivery is tried again: the outbox's doubling back-off, less up to a quarter
//! of it at random, so deliveries that failed together (a receiver's outage) come back spread
//! out instead of all in one second; and never before the receiver's `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng as _;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The most of a receiver's `Retry-After` that is honoured: one receiver cannot park its
/// deliveries for days (they are given up three days after the event either way).
pub const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// The receiver's `Retry-After`: delay-seconds or an HTTP date, as a wait from `now` (at most
/// [`LONGEST_RETRY_AFTER`]). `None` when absent or unreadable.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        // An HTTP date (IMF-fixdate) reads as RFC 2822 with the zone `GMT`.
        Err(_) => DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc)
            .signed_duration_since(now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(LONGEST_RETRY_AFTER))
}

/// The next attempt, given the outbox's plan (`planned`, one back-off after `now`) and the
/// receiver's wish.
pub fn next_attempt(
    now: DateTime<Utc>,
    planned: DateTime<Utc>,
    retry_after: Option<Duration>,
) -> DateTime<Utc> {
    let backoff = (planned - now).to_std().unwrap_or(Duration::ZERO);
    let jitter = rand::rng().random_range(Duration::ZERO..=backoff / 4);
    let jittered = crate::time::after(now, backoff - jitter);
    match retry_after {
        Some(wait) => jittered.max(crate::time::after(now, wait)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates_and_is_bounded() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Tue, 01 Dec 2026 10:00:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Tue, 01 Dec 2026 09:00:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(
            retry_after(&headers("999999999"), now),
            Some(LONGEST_RETRY_AFTER)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn the_back_off_loses_at_most_a_quarter_and_retry_after_wins_when_longer() {
        let now = Utc::now();
        let planned = now + chrono::Duration::seconds(64);
        let attempts: Vec<_> = (0..200).map(|_| next_attempt(now, planned, None)).collect();
        assert!(
            attempts
                .iter()
                .all(|at| *at <= planned && *at >= now + chrono::Duration::seconds(48))
        );
        assert!(
            attempts.iter().any(|at| *at != attempts[0]),
            "spread out, not one instant"
        );
        let asked = next_attempt(now, planned, Some(Duration::from_secs(600)));
        assert_eq!(asked, now + chrono::Duration::seconds(600));
        let shorter = next_attempt(now, planned, Some(Duration::from_secs(1)));
        assert!(shorter >= now + chrono::Duration::seconds(48));
    }
}
