//! The signed-in user's view of their own sessions: listing the live ones (with where and when
//! each was last used) and ending one, or every other one.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};
use uuid::Uuid;

use super::domain::SessionId;
use super::session_events::SessionChange;
use super::sessions::revoke_user_sessions;
use super::{AccountError, Accounts, Caller};
use crate::audit::{AuditType, RequestMeta};
use crate::db;
use crate::entities::session;

/// A live session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub id: SessionId,
    /// The session of the access token in use.
    pub current: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// The absolute end: `LATCHKEY_SESSION_MAX_AGE` after the login.
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

impl Accounts {
    /// How long a session lasts after its login, however often it is refreshed.
    pub(super) fn max_session_age(&self) -> chrono::Duration {
        crate::time::to_chrono(self.inner.settings.session_max_age)
    }

    /// The caller's live sessions, newest first: not ended, within their absolute lifetime, and
    /// used (signed in or refreshed) within the refresh-token lifetime.
    ///
    /// # Errors
    /// A database error.
    pub async fn my_sessions(&self, caller: Caller) -> Result<Vec<SessionView>, AccountError> {
        let now = Utc::now();
        let max_age = self.max_session_age();
        let idle_limit = now - crate::time::to_chrono(self.inner.settings.refresh_ttl);
        let rows = session::Entity::find()
            .filter(session::Column::UserId.eq(Uuid::from(caller.user_id)))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::CreatedAt.gt(now - max_age))
            .order_by_desc(session::Column::CreatedAt)
            .order_by_desc(session::Column::Id)
            .all(self.db())
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let last_used_at = row.last_used_at.unwrap_or(row.created_at);
                (row, last_used_at)
            })
            .filter(|(_, last_used_at)| *last_used_at > idle_limit)
            .map(|(row, last_used_at)| SessionView {
                id: SessionId::from(row.id),
                current: row.id == Uuid::from(caller.session_id),
                created_at: row.created_at,
                last_used_at,
                expires_at: row.created_at + max_age,
                ip_address: row.ip_address,
                user_agent: row.user_agent,
            })
            .collect())
    }

    /// Ends one of the caller's sessions (the current one too: that is a logout).
    ///
    /// # Errors
    /// `NotFound` for a session that is not the caller's, or not live.
    #[tracing::instrument(skip_all, fields(user.id = %caller.user_id))]
    pub async fn revoke_my_session(
        &self,
        caller: Caller,
        id: SessionId,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let txn = db::begin_write(self.db()).await?;
        let ended = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(session::Column::Id.eq(Uuid::from(id)))
            .filter(session::Column::UserId.eq(Uuid::from(caller.user_id)))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if ended == 0 {
            return Err(AccountError::NotFound);
        }
        let entry = self
            .own_entry(&txn, caller, AuditType::SessionRevoked)
            .await?
            .detail("session_id", id.to_string())
            .detail("current", id == caller.session_id);
        let event = self.audit(&txn, meta, entry).await?;
        txn.commit().await?;
        self.audited([event]);
        self.sessions_changed(SessionChange::Session(id)).await;
        Ok(())
    }

    /// Ends every session of the caller but the current one; answers how many ended.
    ///
    /// # Errors
    /// A database error.
    #[tracing::instrument(skip_all, fields(user.id = %caller.user_id))]
    pub async fn revoke_other_sessions(
        &self,
        caller: Caller,
        meta: &RequestMeta,
    ) -> Result<u64, AccountError> {
        let txn = db::begin_write(self.db()).await?;
        let ended = revoke_user_sessions(&txn, caller.user_id, Some(caller.session_id)).await?;
        let entry = self
            .own_entry(&txn, caller, AuditType::SessionsRevoked)
            .await?
            .detail("count", ended);
        let event = self.audit(&txn, meta, entry).await?;
        txn.commit().await?;
        self.audited([event]);
        self.sessions_changed(SessionChange::User(caller.user_id))
            .await;
        Ok(ended)
    }
}
