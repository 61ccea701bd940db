//! `latchkey admin create`: makes an address a superadmin, creating its account in the
//! `default` organization if needed. Idempotent: run twice, it changes nothing the second time.
//! What it changes is audited with no actor and no request: the operator ran it at the server.

use chrono::Utc;
use migration::DEFAULT_ORGANIZATION_ID;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, DatabaseConnection, EntityTrait as _,
    QueryFilter as _, Set,
};

use crate::accounts::AccountError;
use crate::accounts::domain::{DisplayName, Email, PasswordPolicy, RoleCode, UserId};
use crate::audit::{AuditEntry, AuditLog, AuditType, RequestMeta};
use crate::auth::password::PasswordHasher;
use crate::db;
use crate::entities::{user, user_role};

/// What `ensure_superadmin` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrapped {
    /// A new account, with the password given.
    Created,
    /// An existing account got the role (and was reactivated if it had been deactivated).
    Promoted,
    /// Nothing to do.
    AlreadySuperadmin,
}

/// Makes `email` an active superadmin. `password` is asked for only when the account has to
/// be created: an existing account keeps its password.
///
/// # Errors
/// `NewPasswordRefused` for a password the policy refuses; `Internal` when `password` fails or
/// the database does.
pub async fn ensure_superadmin(
    db: &DatabaseConnection,
    audit: &AuditLog,
    hasher: &PasswordHasher,
    policy: PasswordPolicy,
    email: Email,
    name: Option<DisplayName>,
    password: impl FnOnce() -> std::io::Result<String>,
) -> Result<Bootstrapped, AccountError> {
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?;
    let txn = db::begin_write(db).await?;
    let meta = RequestMeta::default();
    let mut events = Vec::new();
    let outcome = match existing {
        Some(account) => {
            let has_role =
                user_role::Entity::find_by_id((account.id, RoleCode::SUPERADMIN.to_owned()))
                    .one(&txn)
                    .await?
                    .is_some();
            if has_role && account.active {
                return Ok(Bootstrapped::AlreadySuperadmin);
            }
            let about = |kind| AuditEntry::new(kind).about(account.id, account.organization_id);
            if !has_role {
                grant_superadmin(&txn, account.id).await?;
                let entry = about(AuditType::RolesChanged)
                    .detail("added", vec![RoleCode::SUPERADMIN])
                    .detail("removed", Vec::<&str>::new());
                events.push(audit.record(&txn, &meta, entry).await?);
            }
            if !account.active {
                events.push(
                    audit
                        .record(&txn, &meta, about(AuditType::UserActivated))
                        .await?,
                );
                let mut reactivated: user::ActiveModel = account.into();
                reactivated.active = Set(true);
                reactivated.updated_at = Set(Utc::now());
                reactivated.update(&txn).await?;
            }
            Bootstrapped::Promoted
        }
        None => {
            let raw = password().map_err(|error| AccountError::Internal(Box::new(error)))?;
            let password = policy
                .check(&raw, &email)
                .map_err(AccountError::NewPasswordRefused)?;
            let password_hash = hasher.hash(password.into_secret()).await?;
            let now = Utc::now();
            let account = user::ActiveModel {
                id: Set(UserId::random().into()),
                email: Set(email.into_string()),
                name: Set(name.map(DisplayName::into_string)),
                password_hash: Set(password_hash),
                // The operator named the address at the server itself: as good as an
                // administrator's `emailVerified: true`, and without it the first superadmin
                // could not sign in while verified email is required.
                email_verified: Set(true),
                pending_email: Set(None),
                organization_id: Set(DEFAULT_ORGANIZATION_ID),
                active: Set(true),
                last_login_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
            grant_superadmin(&txn, account.id).await?;
            let entry = AuditEntry::new(AuditType::UserCreated)
                .about(account.id, account.organization_id)
                .detail("invited", false)
                .detail("roles", vec![RoleCode::SUPERADMIN]);
            events.push(audit.record(&txn, &meta, entry).await?);
            Bootstrapped::Created
        }
    };
    txn.commit().await?;
    audit.committed(events);
    Ok(outcome)
}

async fn grant_superadmin(
    txn: &sea_orm::DatabaseTransaction,
    user_id: uuid::Uuid,
) -> Result<(), AccountError> {
    user_role::ActiveModel {
        user_id: Set(user_id),
        role_code: Set(RoleCode::SUPERADMIN.to_owned()),
    }
    .insert(txn)
    .await?;
    Ok(())
}
