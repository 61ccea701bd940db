//! Bulk seeding of the `users` table straight into the database, through latchkey's own
//! entities and migrations, while the server is stopped.
//!
//! Signing a million users up would take hours of argon2; every seeded row instead holds the
//! same precomputed hash of [`crate::credentials::PASSWORD`], which verifies exactly like a
//! per-user one. Seeded users belong to the `default` organization and were created a minute
//! apart, oldest first, so that newest-first listings page through them as through real ones.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use latchkey::entities::user;
use latchkey::sea_orm::prelude::Uuid;
use latchkey::sea_orm::{
    ActiveValue::Set, EntityTrait as _, PaginatorTrait as _, TransactionTrait as _,
};
use migration::DEFAULT_ORGANIZATION_ID;

use crate::Result;

/// Rows per INSERT: 10 columns each stays far below SQLite's 32 766 and PostgreSQL's 65 535
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

/// The superadmin, made as `latchkey admin create` makes one.
pub const SUPERADMIN_EMAIL: &str = "bench-superadmin@example.com";
/// An admin of the `default` organization (where every seeded user is): the list an
/// organization's own administrator sees.
pub const ADMIN_EMAIL: &str = "bench-admin@example.com";

/// Makes sure the superadmin and the admin exist, both with [`crate::credentials::PASSWORD`].
/// Neither email looks like a seeded user's, so they never count as one.
pub async fn seed_administrators(database_url: &str, hash: &str) -> Result<()> {
    use latchkey::accounts::admin::bootstrap::ensure_superadmin;
    use latchkey::accounts::domain::{Email, PasswordPolicy, RoleCode};
    use latchkey::auth::password::PasswordHasher;
    use latchkey::entities::user_role;
    use latchkey::sea_orm::{ColumnTrait as _, QueryFilter as _};

    let db = latchkey::db::connect(database_url, latchkey::db::PoolSettings::default()).await?;
    latchkey::db::migrate(&db).await?;
    let hasher = PasswordHasher::new(PasswordHasher::default_params(), 1)
        .map_err(|e| format!("argon2: {e}"))?;
    let email = Email::parse(SUPERADMIN_EMAIL).map_err(|e| format!("{SUPERADMIN_EMAIL}: {e}"))?;
    let audit = latchkey::audit::AuditLog::new(latchkey::webhooks::WebhookQueue::disabled());
    ensure_superadmin(
        &db,
        &audit,
        &hasher,
        PasswordPolicy::default(),
        email,
        None,
        || Ok(crate::credentials::PASSWORD.to_owned()),
    )
    .await
    .map_err(|e| format!("bootstrapping the superadmin: {e}"))?;

    let admin_exists = user::Entity::find()
        .filter(user::Column::Email.eq(ADMIN_EMAIL))
        .one(&db)
        .await?
        .is_some();
    if !admin_exists {
        let txn = db.begin().await?;
        let now = Utc::now();
        let id = Uuid::new_v4();
        user::Entity::insert(user::ActiveModel {
            id: Set(id),
            email: Set(ADMIN_EMAIL.to_owned()),
            name: Set(None),
            password_hash: Set(hash.to_owned()),
            email_verified: Set(true),
            pending_email: Set(None),
            organization_id: Set(DEFAULT_ORGANIZATION_ID),
            active: Set(true),
            last_login_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        user_role::Entity::insert(user_role::ActiveModel {
            user_id: Set(id),
            role_code: Set(RoleCode::ADMIN.to_owned()),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
    }
    db.close().await?;
    Ok(())
}

/// The opaque `after` cursor that names seeded user `index`: the page after it starts deep in
/// the table, as a client paging far down would.
pub async fn cursor_after(database_url: &str, index: u64) -> Result<String> {
    use latchkey::accounts::admin::paging::Cursor;
    use latchkey::sea_orm::{ColumnTrait as _, QueryFilter as _};

    let db = latchkey::db::connect(database_url, latchkey::db::PoolSettings::default()).await?;
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(user_email(index)))
        .one(&db)
        .await?
        .ok_or_else(|| format!("seeded user {index} is missing"))?;
    db.close().await?;
    Ok(Cursor {
        created_at: user.created_at,
        id: user.id,
    }
    .encode())
}

/// Seeded users are numbered by their email; counting them tells where to go on.
async fn seeded_count(db: &latchkey::sea_orm::DatabaseConnection) -> Result<u64> {
    use latchkey::sea_orm::{ColumnTrait as _, QueryFilter as _};
    Ok(user::Entity::find()
        .filter(user::Column::Email.like("user%@example.com"))
        .count(db)
        .await?)
}

/// When seeded user `index` was created: a minute after the one before it, starting at
/// 2020-01-01 (a million users end in late 2021, before any account made during the run).
pub fn created_at(index: u64) -> DateTime<Utc> {
    const START: i64 = 1_577_836_800;
    let start = DateTime::from_timestamp(START, 0).unwrap_or_default();
    let minutes = i64::try_from(index)
        .ok()
        .and_then(TimeDelta::try_minutes)
        .unwrap_or_default();
    start + minutes
}

fn row(index: u64, hash: &str) -> user::ActiveModel {
    let created = created_at(index);
    user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(user_email(index)),
        name: Set(None),
        password_hash: Set(hash.to_owned()),
        email_verified: Set(false),
        pending_email: Set(None),
        organization_id: Set(DEFAULT_ORGANIZATION_ID),
        active: Set(true),
        last_login_at: Set(None),
        created_at: Set(created),
        updated_at: Set(created),
    }
}
