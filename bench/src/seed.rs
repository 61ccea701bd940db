//! Bulk seeding of the `users` table straight into the database, through latchkey's own
//! entities and migrations, while the server is stopped.
//!
//! Signing a million users up would take hours of argon2; every seeded row instead holds the
//! same precomputed hash of [`crate::credentials::PASSWORD`], which verifies exactly like a
//! per-user one.

use std::time::Instant;

use latchkey::entities::user;
use latchkey::sea_orm::prelude::{ChronoUtc, Uuid};
use latchkey::sea_orm::{
    ActiveValue::Set, EntityTrait as _, PaginatorTrait as _, TransactionTrait as _,
};

use crate::Result;

/// Rows per INSERT: 7 columns each stays far below SQLite's 32 766 and PostgreSQL's 65 535
/// bound parameters.
const ROWS_PER_INSERT: u64 = 1_000;
/// Rows per transaction: large enough that commits (and their fsyncs) do not dominate.
const ROWS_PER_TRANSACTION: u64 = 50_000;

pub fn user_email(index: u64) -> String {
    format!("user{index}@example.com")
}

/// Makes sure the database holds users `0..total`: migrates it, then inserts the missing rows
/// (seeding is additive, so the big table grows from the small one).
pub async fn seed_users(database_url: &str, total: u64, hash: &str) -> Result<()> {
    let db = latchkey::db::connect(database_url, latchkey::db::PoolSettings::default()).await?;
    latchkey::db::migrate(&db).await?;
    let mut next = seeded_count(&db).await?;
    let started = Instant::now();
    let from = next;
    while next < total {
        let txn = db.begin().await?;
        let end = total.min(next + ROWS_PER_TRANSACTION);
        while next < end {
            let batch_end = end.min(next + ROWS_PER_INSERT);
            let rows = (next..batch_end).map(|index| row(index, hash));
            user::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
            next = batch_end;
        }
        txn.commit().await?;
        if total - from >= 100_000 {
            eprintln!("  seeded {next} of {total} users");
        }
    }
    if total > from {
        eprintln!(
            "seeded {} users in {:.1} s",
            total - from,
            started.elapsed().as_secs_f64()
        );
    }
    db.close().await?;
    Ok(())
}

/// Seeded users are numbered by their email; counting them tells where to go on.
async fn seeded_count(db: &latchkey::sea_orm::DatabaseConnection) -> Result<u64> {
    use latchkey::sea_orm::{ColumnTrait as _, QueryFilter as _};
    Ok(user::Entity::find()
        .filter(user::Column::Email.like("user%@example.com"))
        .count(db)
        .await?)
}

fn row(index: u64, hash: &str) -> user::ActiveModel {
    let now = ChronoUtc::now();
    user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(user_email(index)),
        name: Set(None),
        password_hash: Set(hash.to_owned()),
        email_verified: Set(false),
        pending_email: Set(None),
        organization_id: Set(migration::DEFAULT_ORGANIZATION_ID),
        active: Set(true),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}
