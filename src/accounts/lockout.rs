//! Password-guess accounting (docs/security.md, "Throttling"), in the database so that it holds
//! across restarts and instances. Two scopes:
//! - per account and client address: after 10 consecutive failures that address is locked out
//!   of that account for a minute, doubling per further failure up to an hour. An attacker
//!   locks only themselves out, never the owner at another address;
//! - per account from every address: a leaky bucket of 100 that drains one failure every 36 s,
//!   a bound on distributed guessing that a trickle cannot keep full.
//!
//! A slot is taken *before* the password is hashed, counting the attempt as a failure, and
//! given back when it succeeds: however many checks run at once, on however many instances, no
//! more run than the policy allows one after another. Counters are kept for unknown emails too,
//! so a refusal says nothing about whether an account exists.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait as _,
    QueryFilter as _, QuerySelect as _, Set,
};

use crate::entities::{account_guess, login_attempt};
use crate::throttle::{ClientAddr, RateLimited};
use crate::{db, time};

/// Consecutive failures from one address before it is locked out of the account.
const FREE_FAILURES: i32 = 10;
const FIRST_LOCK: Duration = Duration::from_secs(60);
const LONGEST_LOCK: Duration = Duration::from_secs(3600);
/// An address that has not tried for this long starts again from zero.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The account-wide bucket: this many failures at most, draining one every `DRAIN_EVERY`.
const ACCOUNT_CAPACITY: i32 = 100;
const DRAIN_EVERY: Duration = Duration::from_secs(36);

/// Leave to check one password for an account from one address. The attempt already counts
/// as failed; [`GuessSlot::give_back`] undoes that when the password was right.
#[derive(Debug)]
pub(super) struct GuessSlot {
    email: String,
    client: String,
    locked_until: Option<DateTime<Utc>>,
}

impl GuessSlot {
    /// Until when this attempt, having failed, locked its address out of the account; `None`
    /// when it did not.
    pub(super) fn locked_on_failure(&self) -> Option<DateTime<Utc>> {
        self.locked_until
    }

    /// The password was right: the address's consecutive failures are forgotten and the
    /// account-wide slot is returned. Call inside the transaction that records the success.
    pub(super) async fn give_back<C: ConnectionTrait>(self, txn: &C) -> Result<(), DbErr> {
        use sea_orm::sea_query::ExprTrait as _;

        login_attempt::Entity::delete_many()
            .filter(login_attempt::Column::Email.eq(&self.email))
            .filter(login_attempt::Column::Client.eq(&self.client))
            .exec(txn)
            .await?;
        account_guess::Entity::update_many()
            .col_expr(
                account_guess::Column::Level,
                Expr::col(account_guess::Column::Level).sub(1),
            )
            .filter(account_guess::Column::Email.eq(&self.email))
            .filter(account_guess::Column::Level.gt(0))
            .exec(txn)
            .await?;
        Ok(())
    }
}

/// Takes a slot for one password check of `email` (normalised) from `client`, or says how long
/// to wait. The read and the write happen in one write transaction with the rows locked, so
/// concurrent attempts queue instead of all reading "not locked".
pub(super) async fn take_slot(
    db: &DatabaseConnection,
    email: &str,
    client: ClientAddr,
) -> Result<Result<GuessSlot, RateLimited>, DbErr> {
    let now = Utc::now();
    let client = client.limiter_key();
    let txn = db::begin_write(db).await?;
    // Create the rows first, so that concurrent first attempts queue on the same row locks.
    login_attempt::Entity::insert(login_attempt::ActiveModel {
        email: Set(email.to_owned()),
        client: Set(client.clone()),
        failures: Set(0),
        locked_until: Set(None),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([login_attempt::Column::Email, login_attempt::Column::Client])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    account_guess::Entity::insert(account_guess::ActiveModel {
        email: Set(email.to_owned()),
        level: Set(0),
        drained_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(account_guess::Column::Email)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    // `FOR UPDATE` on PostgreSQL; SQLite's write transaction already excludes other writers.
    let address = login_attempt::Entity::find_by_id((email.to_owned(), client.clone()))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("login_attempts row just written".into()))?;
    let account = account_guess::Entity::find_by_id(email.to_owned())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("account_guesses row just written".into()))?;

    let counts = Counts {
        failures: address.failures,
        locked_until: address.locked_until,
        last_attempt: address.updated_at,
        level: account.level,
        drained_at: account.drained_at,
    };
    let taken = match counts.take(now) {
        Ok(taken) => taken,
        Err(refusal) => {
            txn.rollback().await?;
            return Ok(Err(refusal));
        }
    };
    login_attempt::Entity::update_many()
        .col_expr(login_attempt::Column::Failures, Expr::value(taken.failures))
        .col_expr(
            login_attempt::Column::LockedUntil,
            Expr::value(taken.locked_until),
        )
        .col_expr(login_attempt::Column::UpdatedAt, Expr::value(now))
        .filter(login_attempt::Column::Email.eq(email))
        .filter(login_attempt::Column::Client.eq(&client))
        .exec(&txn)
        .await?;
    account_guess::Entity::update_many()
        .col_expr(account_guess::Column::Level, Expr::value(taken.level))
        .col_expr(
            account_guess::Column::DrainedAt,
            Expr::value(taken.drained_at),
        )
        .filter(account_guess::Column::Email.eq(email))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Ok(GuessSlot {
        email: email.to_owned(),
        client,
        locked_until: taken.locked_until,
    }))
}

/// Forgets every failure of an email, from every address: after a password reset, whoever
/// reads the owner's mail may sign in again at once.
pub(super) async fn clear<C: ConnectionTrait>(txn: &C, email: &str) -> Result<(), DbErr> {
    login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::Email.eq(email))
        .exec(txn)
        .await?;
    account_guess::Entity::delete_many()
        .filter(account_guess::Column::Email.eq(email))
        .exec(txn)
        .await?;
    Ok(())
}

/// The counters of one (account, address) pair and of the account, as read.
#[derive(Debug, Clone, Copy)]
struct Counts {
    failures: i32,
    locked_until: Option<DateTime<Utc>>,
    last_attempt: DateTime<Utc>,
    level: i32,
    drained_at: DateTime<Utc>,
}

/// The counters once a slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Taken {
    failures: i32,
    /// Set when this attempt, should it fail, is one failure too many: the lock is in place
    /// before the password is checked, so no concurrent attempt slips past it.
    locked_until: Option<DateTime<Utc>>,
    level: i32,
    drained_at: DateTime<Utc>,
}

impl Counts {
    fn take(self, now: DateTime<Utc>) -> Result<Taken, RateLimited> {
        let (level, drained_at) = drain(self.level, self.drained_at, now);
        let failures = if now - self.last_attempt > time::to_chrono(FORGET_AFTER) {
            0
        } else {
            self.failures
        };
        let address_wait = self
            .locked_until
            .filter(|until| failures >= FREE_FAILURES && *until > now)
            .map(|until| until - now);
        let account_wait = (level >= ACCOUNT_CAPACITY).then(|| {
            let units = level - ACCOUNT_CAPACITY + 1;
            drained_at + time::to_chrono(DRAIN_EVERY) * units - now
        });
        if let Some(wait) = address_wait.into_iter().chain(account_wait).max() {
            return Err(RateLimited {
                retry_after: wait.to_std().unwrap_or_default(),
            });
        }
        let failures = failures + 1;
        Ok(Taken {
            failures,
            locked_until: lock_for(failures).map(|lock| time::after(now, lock)),
            level: level + 1,
            drained_at,
        })
    }
}

/// The account bucket's level at `now`, and the instant up to which draining is accounted
/// for (whole drain steps only, so no fraction of a step is lost between two reads).
fn drain(level: i32, drained_at: DateTime<Utc>, now: DateTime<Utc>) -> (i32, DateTime<Utc>) {
    let step = time::to_chrono(DRAIN_EVERY);
    let steps = ((now - drained_at).num_milliseconds() / step.num_milliseconds()).max(0);
    if steps >= i64::from(level) {
        return (0, now);
    }
    let steps = i32::try_from(steps).unwrap_or(0);
    (level - steps, drained_at + step * steps)
}

/// How long the `failures`-th consecutive failure from one address locks it out, if at all.
fn lock_for(failures: i32) -> Option<Duration> {
    let beyond = u32::try_from(failures.checked_sub(FREE_FAILURES)?).ok()?;
    Some(
        FIRST_LOCK
            .saturating_mul(1 << beyond.min(16))
            .min(LONGEST_LOCK),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(now: DateTime<Utc>) -> Counts {
        Counts {
            failures: 0,
            locked_until: None,
            last_attempt: now,
            level: 0,
            drained_at: now,
        }
    }

    fn after(taken: Taken, now: DateTime<Utc>) -> Counts {
        Counts {
            failures: taken.failures,
            locked_until: taken.locked_until,
            last_attempt: now,
            level: taken.level,
            drained_at: taken.drained_at,
        }
    }

    #[test]
    fn the_lock_starts_at_the_tenth_failure_and_doubles_up_to_an_hour() {
        let minutes = |failures| lock_for(failures).map(|lock| lock.as_secs() / 60);
        assert_eq!(minutes(9), None);
        assert_eq!(minutes(10), Some(1));
        assert_eq!(minutes(11), Some(2));
        assert_eq!(minutes(12), Some(4));
        assert_eq!(minutes(16), Some(60));
        assert_eq!(minutes(1000), Some(60));
    }

    #[test]
    fn ten_slots_are_taken_before_the_address_is_refused() {
        let now = Utc::now();
        let mut counts = fresh(now);
        for n in 1..=10 {
            let taken = counts.take(now).expect("a free slot");
            assert_eq!(taken.locked_until.is_some(), n == 10, "attempt {n}");
            counts = after(taken, now);
        }
        let refused = counts.take(now).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(60));
        // Once the lock has passed, one more attempt is let through, and it doubles the lock.
        let later = now + chrono::Duration::seconds(61);
        let taken = counts.take(later).expect("the lock has passed");
        assert_eq!(
            taken.locked_until,
            Some(later + chrono::Duration::minutes(2))
        );
    }

    #[test]
    fn an_address_quiet_for_a_day_starts_again() {
        let now = Utc::now();
        let counts = Counts {
            failures: 14,
            locked_until: Some(now - chrono::Duration::minutes(1)),
            last_attempt: now - chrono::Duration::hours(25),
            ..fresh(now)
        };
        assert_eq!(counts.take(now).unwrap().failures, 1);
    }

    #[test]
    fn the_account_bucket_holds_a_hundred_and_drains_one_every_36_seconds() {
        let now = Utc::now();
        let full = Counts {
            level: ACCOUNT_CAPACITY,
            ..fresh(now)
        };
        let refused = full.take(now).unwrap_err();
        assert_eq!(refused.retry_after, DRAIN_EVERY);
        let later = now + chrono::Duration::seconds(36);
        assert_eq!(full.take(later).unwrap().level, ACCOUNT_CAPACITY);
        // A trickle never fills it: an hour drains it completely.
        assert_eq!(drain(100, now, now + chrono::Duration::hours(1)).0, 0);
        // Partial steps carry over.
        let (level, drained_at) = drain(10, now, now + chrono::Duration::seconds(50));
        assert_eq!(
            (level, drained_at),
            (9, now + chrono::Duration::seconds(36))
        );
    }
}
