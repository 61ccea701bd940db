//! The clean-up job: every `LATCHKEY_CLEANUP_INTERVAL`, removes the rows nothing needs any more
//! (audit events once `LATCHKEY_AUDIT_RETENTION` has passed), in batches of at most a thousand so
//! that no transaction holds the database for long. Without it, sessions, tokens, delivered mail,
//! login and rate-limit counters would pile up for ever.
//!
//! On PostgreSQL an advisory lock, held on one connection for the whole round, lets one instance
//! run it at a time; should that instance die, its connection closes and the lock goes with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, Func, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, DbBackend, DbErr, EntityTrait as _, QueryFilter as _,
};
use tokio_util::sync::CancellationToken;

use crate::entities::{
    account_guess, audit_event, email_verification_token, login_attempt, outbox,
    password_reset_token, rate_limit_counter, refresh_token, session,
};
use crate::metrics::Metrics;

/// Rows removed per statement.
const BATCH: u64 = 1000;
/// Ended sessions and used tokens stay this long, for whoever investigates an incident.
const GRACE: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// Delivered (or given-up) mail stays this long, for support questions ("did it go out?").
const MAIL_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// A client address's failure count is forgotten after a quiet day (as the lockout rules say).
const LOGIN_ATTEMPTS_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// An account's guess bucket is empty an hour after its last fill (100 slots, one per 36 s).
const ACCOUNT_GUESSES_KEPT: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// Any number: it only has to be the same on every instance and used for nothing else.
const ADVISORY_LOCK_KEY: i64 = 0x6c61_7463_686b_6579; // "latchkey"

/// What the rules depend on.
#[derive(Debug, Clone, Copy)]
pub struct CleanupSettings {
    pub interval: Duration,
    pub session_max_age: Duration,
    pub refresh_ttl: Duration,
    /// Audit events older than this are removed.
    pub audit_retention: Duration,
}

pub struct Cleanup {
    db: DatabaseConnection,
    settings: CleanupSettings,
    metrics: Metrics,
}

impl Cleanup {
    pub fn new(db: DatabaseConnection, settings: CleanupSettings, metrics: Metrics) -> Self {
        Self {
            db,
            settings,
            metrics,
        }
    }

    /// Runs a round every interval (the first one interval after start) until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(self.settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            if let Err(error) = self.round(&stop).await {
                tracing::warn!(%error, "the clean-up round failed; the next one retries");
            }
        }
    }

    /// One round: every rule, each until nothing is left for it. Returns whether it ran (on
    /// PostgreSQL it does not while another instance holds the lock).
    ///
    /// # Errors
    /// A database error; what was removed before it stays removed.
    pub async fn round(&self, stop: &CancellationToken) -> Result<bool, DbErr> {
        let _lock = match self.db.get_database_backend() {
            DbBackend::Postgres => match AdvisoryLock::try_take(&self.db).await? {
                Some(lock) => Some(lock),
                None => return Ok(false),
            },
            _ => None,
        };
        let now = Utc::now();
        for rule in self.rules(now) {
            loop {
                if stop.is_cancelled() {
                    return Ok(true);
                }
                let removed = (rule.delete_batch)(&self.db).await?;
                if removed > 0 {
                    self.metrics.cleanup_removed(rule.table, removed);
                    tracing::debug!(table = rule.table, removed, "cleaned up");
                }
                if removed < BATCH {
                    break;
                }
                // Let requests waiting for the database in between.
                tokio::task::yield_now().await;
            }
        }
        Ok(true)
    }

    fn rules(&self, now: DateTime<Utc>) -> Vec<Rule> {
        let session_max_age = crate::time::to_chrono(self.settings.session_max_age);
        let refresh_ttl = crate::time::to_chrono(self.settings.refresh_ttl);
        // A retention longer than the calendar keeps everything.
        let audit_kept_since = now
            .checked_sub_signed(crate::time::to_chrono(self.settings.audit_retention))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let grace_line = now - GRACE;
        // Sessions that ended: revoked, past their absolute lifetime, or unused for longer than a
        // refresh token lives (so none of theirs can still refresh). Their tokens go with them.
        let ended_sessions = session::Column::RevokedAt
            .lt(grace_line)
            .or(session::Column::CreatedAt.lt(grace_line - session_max_age))
            .or(Func::coalesce([
                Expr::col(session::Column::LastUsedAt),
                Expr::col(session::Column::CreatedAt),
            ])
            .lt(grace_line - refresh_ttl));
        vec![
            Rule {
                table: "sessions",
                delete_batch: Box::new(move |db| {
                    let condition = ended_sessions.clone();
                    Box::pin(async move {
                        delete_batch(db, session::Entity, session::Column::Id, condition).await
                    })
                }),
            },
            // Expired refresh tokens of live sessions: refused anyway, replayed or not.
            Rule {
                table: "refresh_tokens",
                delete_batch: Box::new(move |db| {
                    let condition = refresh_token::Column::ExpiresAt.lt(grace_line);
                    Box::pin(async move {
                        delete_batch(
                            db,
                            refresh_token::Entity,
                            refresh_token::Column::Id,
                            condition,
                        )
                        .await
                    })
                }),
            },
            Rule {
                table: "password_reset_tokens",
                delete_batch: Box::new(move |db| {
                    let condition = password_reset_token::Column::UsedAt
                        .is_not_null()
                        .or(password_reset_token::Column::ExpiresAt.lt(now));
                    Box::pin(async move {
                        delete_batch(
                            db,
                            password_reset_token::Entity,
                            password_reset_token::Column::Id,
                            condition,
                        )
                        .await
                    })
                }),
            },
            Rule {
                table: "email_verification_tokens",
                delete_batch: Box::new(move |db| {
                    let condition = email_verification_token::Column::UsedAt
                        .is_not_null()
                        .or(email_verification_token::Column::ExpiresAt.lt(now));
                    Box::pin(async move {
                        delete_batch(
                            db,
                            email_verification_token::Entity,
                            email_verification_token::Column::Id,
                            condition,
                        )
                        .await
                    })
                }),
            },
            Rule {
                table: "outbox",
                delete_batch: Box::new(move |db| {
                    let kept_since = now - MAIL_KEPT;
                    let condition = outbox::Column::SentAt
                        .lt(kept_since)
                        .or(outbox::Column::FailedAt.lt(kept_since));
                    Box::pin(async move {
                        delete_batch(db, outbox::Entity, outbox::Column::Id, condition).await
                    })
                }),
            },
            Rule {
                table: "login_attempts",
                delete_batch: Box::new(move |db| {
                    let quiet_since = now - LOGIN_ATTEMPTS_KEPT;
                    let condition = login_attempt::Column::UpdatedAt.lt(quiet_since).and(
                        login_attempt::Column::LockedUntil
                            .is_null()
                            .or(login_attempt::Column::LockedUntil.lt(now)),
                    );
                    Box::pin(async move { delete_login_attempts(db, condition).await })
                }),
            },
            Rule {
                table: "audit_events",
                delete_batch: Box::new(move |db| {
                    let condition = audit_event::Column::At.lt(audit_kept_since);
                    Box::pin(async move {
                        delete_batch(db, audit_event::Entity, audit_event::Column::Id, condition)
                            .await
                    })
                }),
            },
            Rule {
                table: "account_guesses",
                delete_batch: Box::new(move |db| {
                    let condition = account_guess::Column::DrainedAt.lt(now - ACCOUNT_GUESSES_KEPT);
                    Box::pin(async move {
                        delete_batch(
                            db,
                            account_guess::Entity,
                            account_guess::Column::Email,
                            condition,
                        )
                        .await
                    })
                }),
            },
            // Rate-limit windows that have ended: the next attempt starts a new one anyway.
            Rule {
                table: "rate_limit_counters",
                delete_batch: Box::new(move |db| {
                    let condition = rate_limit_counter::Column::WindowEndsAt.lt(now);
                    Box::pin(async move {
                        delete_batch(
                            db,
                            rate_limit_counter::Entity,
                            rate_limit_counter::Column::Key,
                            condition,
                        )
                        .await
                    })
                }),
            },
        ]
    }
}

type BatchFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Result<u64, DbErr>> + Send + 'a>>;

/// One kind of row to remove, a batch at a time.
struct Rule {
    table: &'static str,
    delete_batch: Box<dyn for<'a> Fn(&'a DatabaseConnection) -> BatchFuture<'a> + Send + Sync>,
}

/// Deletes up to `BATCH` rows of `entity` matching `condition`, chosen by their key `key`.
async fn delete_batch<E, K>(
    db: &DatabaseConnection,
    entity: E,
    key: K,
    condition: SimpleExpr,
) -> Result<u64, DbErr>
where
    E: sea_orm::EntityTrait,
    K: sea_orm::ColumnTrait,
{
    let chosen = Query::select()
        .column(key)
        .from(entity)
        .cond_where(condition)
        .limit(BATCH)
        .to_owned();
    Ok(E::delete_many()
        .filter(key.in_subquery(chosen))
        .exec(db)
        .await?
        .rows_affected)
}

/// `delete_batch` for login attempts, whose key is the pair (email, client).
async fn delete_login_attempts(
    db: &DatabaseConnection,
    condition: SimpleExpr,
) -> Result<u64, DbErr> {
    let key = || {
        Expr::tuple([
            Expr::col(login_attempt::Column::Email),
            Expr::col(login_attempt::Column::Client),
        ])
    };
    let chosen = Query::select()
        .columns([login_attempt::Column::Email, login_attempt::Column::Client])
        .from(login_attempt::Entity)
        .cond_where(condition)
        .limit(BATCH)
        .to_owned();
    Ok(login_attempt::Entity::delete_many()
        .filter(key().in_subquery(chosen))
        .exec(db)
        .await?
        .rows_affected)
}

/// PostgreSQL's session-level advisory lock, on a connection of its own for as long as it is
/// held; released when dropped (or when the connection dies with the process).
struct AdvisoryLock {
    connection: Option<sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::Postgres>>,
}

impl AdvisoryLock {
    async fn try_take(db: &DatabaseConnection) -> Result<Option<Self>, DbErr> {
        let pool = db.get_postgres_connection_pool();
        let mut connection = pool
            .acquire()
            .await
            .map_err(|error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into())))?;
        let taken: bool = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(ADVISORY_LOCK_KEY)
            .fetch_one(&mut *connection)
            .await
            .map_err(|error| DbErr::Query(sea_orm::RuntimeErr::SqlxError(error.into())))?;
        Ok(taken.then_some(Self {
            connection: Some(connection),
        }))
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            tokio::spawn(async move {
                let released = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(ADVISORY_LOCK_KEY)
                    .execute(&mut *connection)
                    .await;
                if released.is_err() {
                    // Closing the connection releases the lock for certain.
                    let _ = connection.detach();
                }
            });
        }
    }
}
