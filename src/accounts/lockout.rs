//! Per-account lockout (security.md): after 10 consecutive failed logins for an email, logins
//! are refused for a minute, doubling per further failure up to an hour. The counters live in
//! the database, so they hold across restarts and across instances, and they are kept for
//! unknown emails too, so that a lockout says nothing about whether an account exists.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait as _,
    QueryFilter as _, Set,
};

use super::validation::Email;
use crate::db;
use crate::entities::login_attempt;
use crate::throttle::RateLimited;

const FREE_FAILURES: i32 = 10;
const FIRST_LOCK: Duration = Duration::from_secs(60);
const LONGEST_LOCK: Duration = Duration::from_secs(3600);

/// `Err` while the email is locked out.
pub(super) async fn check(
    db: &DatabaseConnection,
    email: &Email,
) -> Result<Result<(), RateLimited>, DbErr> {
    let now = Utc::now();
    let row = login_attempt::Entity::find_by_id(email.as_str().to_owned())
        .one(db)
        .await?;
    Ok(match row.and_then(|row| row.locked_until) {
        Some(until) if until > now => Err(RateLimited {
            retry_after: (until - now).to_std().unwrap_or_default(),
        }),
        _ => Ok(()),
    })
}

/// Counts one failed login, locking the email once the free failures are spent. The increment
/// is a single upsert, so concurrent failures on several instances are all counted. Returns
/// whether this failure locked the email.
pub(super) async fn record_failure(db: &DatabaseConnection, email: &Email) -> Result<bool, DbErr> {
    use sea_orm::sea_query::ExprTrait as _;

    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    login_attempt::Entity::insert(login_attempt::ActiveModel {
        email: Set(email.as_str().to_owned()),
        failures: Set(1),
        locked_until: Set(None),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(login_attempt::Column::Email)
            .value(
                login_attempt::Column::Failures,
                Expr::col((login_attempt::Entity, login_attempt::Column::Failures)).add(1),
            )
            .value(login_attempt::Column::UpdatedAt, Expr::value(now))
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let failures = login_attempt::Entity::find_by_id(email.as_str().to_owned())
        .one(&txn)
        .await?
        .map_or(1, |row| row.failures);
    let lock = lock_end(failures, now);
    if let Some(until) = lock {
        login_attempt::Entity::update_many()
            .col_expr(login_attempt::Column::LockedUntil, Expr::value(until))
            .filter(login_attempt::Column::Email.eq(email.as_str()))
            .exec(&txn)
            .await?;
        tracing::warn!(failures, "too many failed logins; account locked");
    }
    txn.commit().await?;
    Ok(lock.is_some())
}

/// Forgets the failures of an email: after a successful login or password reset.
pub(super) async fn clear<C: ConnectionTrait>(txn: &C, email: &str) -> Result<(), DbErr> {
    login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::Email.eq(email))
        .exec(txn)
        .await?;
    Ok(())
}

/// When the lock caused by the `failures`-th consecutive failure ends, if it causes one.
fn lock_end(failures: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let beyond = u32::try_from(failures.checked_sub(FREE_FAILURES)?).ok()?;
    let doublings = beyond.min(16);
    let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(LONGEST_LOCK);
    Some(now + chrono::Duration::from_std(lock).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_at_the_tenth_failure_and_doubles_up_to_an_hour() {
        let now = Utc::now();
        let minutes = |failures| lock_end(failures, now).map(|until| (until - now).num_minutes());
        assert_eq!(minutes(9), None);
        assert_eq!(minutes(10), Some(1));
        assert_eq!(minutes(11), Some(2));
        assert_eq!(minutes(12), Some(4));
        assert_eq!(minutes(16), Some(60));
        assert_eq!(minutes(1000), Some(60));
    }
}
