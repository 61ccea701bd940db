//! Role definitions: listing them (admins), defining and deleting them (superadmins).

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, Set,
};
use uuid::Uuid;

use super::ActingAdmin;
use crate::accounts::domain::{DisplayName, RoleCode};
use crate::accounts::session_events::SessionChange;
use crate::accounts::{AccountError, Accounts};
use crate::audit::{AuditEntry, AuditType, RequestMeta};
use crate::db;
use crate::entities::{role, session, user, user_role};

/// A role definition as the service hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleView {
    pub code: String,
    pub name: String,
    pub built_in: bool,
}

impl From<role::Model> for RoleView {
    fn from(role: role::Model) -> Self {
        Self {
            code: role.code,
            name: role.name,
            built_in: role.built_in,
        }
    }
}

impl Accounts {
    /// Every role definition, by code.
    ///
    /// # Errors
    /// A database error.
    pub async fn list_roles(&self, _admin: &ActingAdmin) -> Result<Vec<RoleView>, AccountError> {
        Ok(role::Entity::find()
            .order_by_asc(role::Column::Code)
            .all(self.db())
            .await?
            .into_iter()
            .map(RoleView::from)
            .collect())
    }

    /// Defines a role.
    ///
    /// # Errors
    /// `Forbidden` unless a superadmin; `RoleCodeTaken`.
    #[tracing::instrument(skip_all, fields(admin.id = %admin.user_id(), role = %code.as_str()))]
    pub async fn create_role(
        &self,
        admin: &ActingAdmin,
        code: RoleCode,
        name: DisplayName,
    ) -> Result<RoleView, AccountError> {
        admin.require_superadmin("Only a superadmin can define roles.")?;
        let inserted = role::ActiveModel {
            code: Set(code.into_string()),
            name: Set(name.into_string()),
            built_in: Set(false),
            created_at: Set(Utc::now()),
        }
        .insert(self.db())
        .await;
        match inserted {
            Ok(role) => Ok(role.into()),
            Err(error) if db::is_unique_violation(&error) => Err(AccountError::RoleCodeTaken),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a role definition and takes it from every user who had it, which ends their
    /// sessions (as removing a role from one user does) and is recorded for each of them.
    ///
    /// # Errors
    /// `Forbidden` unless a superadmin; `NotFound` for an unknown code; `BuiltInRole`.
    #[tracing::instrument(skip_all, fields(admin.id = %admin.user_id(), role = %code.as_str()))]
    pub async fn delete_role(
        &self,
        admin: &ActingAdmin,
        code: RoleCode,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        admin.require_superadmin("Only a superadmin can delete roles.")?;
        let txn = db::begin_write(self.db()).await?;
        let role = role::Entity::find_by_id(code.as_str())
            .one(&txn)
            .await?
            .ok_or(AccountError::NotFound)?;
        if role.built_in {
            return Err(AccountError::BuiltInRole);
        }
        let holders = || {
            Query::select()
                .column(user_role::Column::UserId)
                .from(user_role::Entity)
                .and_where(user_role::Column::RoleCode.eq(code.as_str()))
                .to_owned()
        };
        let losing: Vec<(Uuid, Uuid)> = user::Entity::find()
            .select_only()
            .columns([user::Column::Id, user::Column::OrganizationId])
            .filter(user::Column::Id.in_subquery(holders()))
            .into_tuple()
            .all(&txn)
            .await?;
        let mut events = Vec::with_capacity(losing.len());
        for (user_id, organization_id) in losing {
            let entry = AuditEntry::new(AuditType::RolesChanged)
                .actor(admin.user_id())
                .about(user_id, organization_id)
                .detail("added", Vec::<&str>::new())
                .detail("removed", vec![code.as_str()]);
            events.push(self.audit(&txn, meta, entry).await?);
        }
        let ended = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::UserId.in_subquery(holders()))
            .exec(&txn)
            .await?
            .rows_affected;
        // Grants go with the definition (ON DELETE CASCADE).
        role::Entity::delete_by_id(code.as_str()).exec(&txn).await?;
        txn.commit().await?;
        self.audited(events);
        self.sessions_changed(SessionChange::Everyone).await;
        tracing::info!(sessions_ended = ended, "role deleted");
        Ok(())
    }
}
