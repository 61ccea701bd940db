//! Rate-limit counters in the database, shared by every instance: one row per limit and key,
//! counted with a single upsert, so that concurrent attempts on any number of instances are
//! each counted exactly once. The row's key is an HMAC of the limit and its key, so the table
//! holds no email or client address readable.

use std::fmt;

use chrono::{DateTime, Utc};
use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbErr};
use sha2::Sha256;

use super::{Limit, RateLimited};
use crate::entities::rate_limit_counter::{Column, Entity};

/// HKDF salt and info for the key of the hashes: fixed, so that every instance with the same
/// master secret counts under the same rows.
const SALT: &[u8] = b"latchkey rate limits v1";
const INFO: &[u8] = b"rate limit counter key";

#[derive(Clone)]
pub(super) struct SharedCounters {
    db: DatabaseConnection,
    hash_key: [u8; 32],
}

impl fmt::Debug for SharedCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedCounters(<key redacted>)")
    }
}

impl SharedCounters {
    pub(super) fn new(db: DatabaseConnection, master_secret: &[u8]) -> Self {
        let mut hash_key = [0; 32];
        Hkdf::<Sha256>::new(Some(SALT), master_secret)
            .expand(INFO, &mut hash_key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self { db, hash_key }
    }

    /// The row key of `key` under `limit`.
    fn row_key(&self, limit: Limit, key: &str) -> Vec<u8> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.hash_key).expect("HMAC takes a key of any length");
        // The limit's name cannot contain the separator, so no two pairs hash the same input.
        mac.update(limit.name().as_bytes());
        mac.update(&[0]);
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Counts one attempt under `key`: one statement that starts a window on the first attempt
    /// (or the first after the window ended) and otherwise adds one, returning the count.
    pub(super) async fn hit(
        &self,
        limit: Limit,
        key: &str,
    ) -> Result<Result<(), RateLimited>, DbErr> {
        let (quota, period) = limit.quota();
        // Each instance's clock decides when a window ends: skew between instances moves an
        // ending by that skew, no more.
        let now = Utc::now();
        let ends = crate::time::after(now, period);
        let current = |column: Column| Expr::col((Entity, column));
        let ended = current(Column::WindowEndsAt).lte(now);
        // Past the quota the count stops growing: a flood cannot overflow it.
        let count = Expr::case(ended.clone(), 1)
            .case(current(Column::Count).gt(quota), current(Column::Count))
            .finally(current(Column::Count).add(1));
        let window_ends_at = Expr::case(ended, ends).finally(current(Column::WindowEndsAt));
        let upsert = Query::insert()
            .into_table(Entity)
            .columns([Column::Key, Column::Count, Column::WindowEndsAt])
            .values_panic([self.row_key(limit, key).into(), 1.into(), ends.into()])
            .on_conflict(
                OnConflict::column(Column::Key)
                    .values([
                        (Column::Count, count.into()),
                        (Column::WindowEndsAt, window_ends_at.into()),
                    ])
                    .to_owned(),
            )
            .returning(Query::returning().columns([Column::Count, Column::WindowEndsAt]))
            .to_owned();
        let row =
            self.db.query_one(&upsert).await?.ok_or_else(|| {
                DbErr::RecordNotFound("the rate-limit counter just written".into())
            })?;
        let counted: i32 = row.try_get("", "count")?;
        let window_ends_at: DateTime<Utc> = row.try_get("", "window_ends_at")?;
        if u32::try_from(counted).unwrap_or(u32::MAX) <= quota {
            return Ok(Ok(()));
        }
        Ok(Err(RateLimited {
            retry_after: (window_ends_at - now).to_std().unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};

    use super::*;

    async fn counters() -> SharedCounters {
        // One connection: each connection to `:memory:` is a database of its own.
        let pool = crate::db::PoolSettings {
            max_connections: 1,
            ..crate::db::PoolSettings::default()
        };
        let db = crate::db::connect("sqlite::memory:", pool).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        SharedCounters::new(db, b"a master secret of at least thirty-two bytes")
    }

    #[tokio::test]
    async fn the_quota_is_counted_per_key_and_limit_and_the_window_ends() {
        let counters = counters().await;
        for _ in 0..5 {
            counters
                .hit(Limit::ForgotPasswordPerEmail, "ada@example.com")
                .await
                .unwrap()
                .unwrap();
        }
        let refused = counters
            .hit(Limit::ForgotPasswordPerEmail, "ada@example.com")
            .await
            .unwrap()
            .unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(3600));
        assert!(refused.retry_after_seconds() >= 3590);
        for (limit, key) in [
            (Limit::ForgotPasswordPerEmail, "grace@example.com"),
            (Limit::ForgotPasswordPerAddress, "ada@example.com"),
        ] {
            counters.hit(limit, key).await.unwrap().unwrap();
        }

        // A window that has ended starts again from one.
        let row_key = counters.row_key(Limit::ForgotPasswordPerEmail, "ada@example.com");
        Entity::update_many()
            .col_expr(
                Column::WindowEndsAt,
                Expr::value(Utc::now() - chrono::Duration::seconds(1)),
            )
            .filter(Column::Key.eq(row_key.clone()))
            .exec(&counters.db)
            .await
            .unwrap();
        counters
            .hit(Limit::ForgotPasswordPerEmail, "ada@example.com")
            .await
            .unwrap()
            .unwrap();
        let row = Entity::find_by_id(row_key)
            .one(&counters.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.count, 1);
        assert!(row.window_ends_at > Utc::now() + chrono::Duration::minutes(59));
    }

    #[tokio::test]
    async fn the_rows_hold_neither_the_email_nor_the_address() {
        let counters = counters().await;
        counters
            .hit(Limit::ForgotPasswordPerEmail, "ada@example.com")
            .await
            .unwrap()
            .unwrap();
        counters
            .hit(Limit::LoginPerAddress, "192.0.2.7")
            .await
            .unwrap()
            .unwrap();
        let rows = Entity::find().all(&counters.db).await.unwrap();
        assert_eq!(rows.len(), 2);
        for row in rows {
            assert_eq!(row.key.len(), 32);
            let bytes = String::from_utf8_lossy(&row.key).into_owned();
            assert!(!bytes.contains("ada") && !bytes.contains("192.0.2.7"));
        }
        assert_eq!(Entity::find().count(&counters.db).await.unwrap(), 2);
    }
}
