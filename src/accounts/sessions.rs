//! Sessions: checking an access token's session, rotating refresh tokens with reuse detection,
//! and ending sessions.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;

use super::domain::{SessionId, UserId};
use super::session_events::SessionChange;
use super::{AccountError, Accounts, Caller, SignedIn, UserView, user_views};
use crate::audit::{AuditEntry, AuditType, RequestMeta};
use crate::auth::opaque_token::{self, OpaqueToken};
use crate::db;
use crate::entities::{refresh_token, session, user};
use std::sync::Arc;

impl Accounts {
    /// The caller behind an access token, if the token is valid and its session still alive.
    /// `Ok(None)` means anonymous; an `Err` means the answer is unknown (the database is down),
    /// which must never be mistaken for a signed-in user.
    ///
    /// # Errors
    /// A database error.
    pub async fn authenticate(&self, access_token: &str) -> Result<Option<Caller>, AccountError> {
        let Some(claims) = self.inner.jwt.verify(access_token) else {
            return Ok(None);
        };
        let caller = Caller {
            user_id: UserId::from(claims.sub),
            session_id: SessionId::from(claims.sid),
        };
        Ok(self.live_user(caller).await?.map(|_| caller))
    }

    /// The user of the caller's session while the session is alive and the account active:
    /// from the session cache when it was read less than a second ago, else from the database.
    ///
    /// # Errors
    /// A database error.
    pub(super) async fn live_user(
        &self,
        caller: Caller,
    ) -> Result<Option<Arc<UserView>>, AccountError> {
        let cache = &self.inner.sessions;
        if let Some(user) = cache.user(caller.session_id) {
            return Ok((user.id == caller.user_id).then_some(user));
        }
        let epoch = cache.epoch();
        let read_at = std::time::Instant::now();
        let live = session::Entity::find_by_id(Uuid::from(caller.session_id))
            .filter(session::Column::UserId.eq(Uuid::from(caller.user_id)))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::CreatedAt.gt(Utc::now() - self.max_session_age()))
            .find_also_related(user::Entity)
            .one(self.db())
            .await?;
        // A deactivated account's sessions are revoked with it; the flag is checked too so that
        // no path can leave one signed in.
        let Some((_, Some(user))) = live else {
            return Ok(None);
        };
        if !user.active {
            return Ok(None);
        }
        let user = Arc::new(user_views::view_of(self.db(), user).await?);
        cache.remember(epoch, caller.session_id, Arc::clone(&user), read_at);
        Ok(Some(user))
    }

    /// Trades a refresh token for a new pair. The presented token is used up; presenting it
    /// again later is taken as theft and ends the whole session. Within the reuse interval
    /// (several tabs refreshing at once) it is answered with the successor already issued, never
    /// a new one: a session has one live refresh chain at any time, so a thief replaying a token
    /// joins the owner's chain and is caught at the next rotation instead of starting their own.
    ///
    /// # Errors
    /// `InvalidToken` for an unknown, expired, revoked or reused token.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(
        &self,
        presented: &str,
        meta: &RequestMeta,
    ) -> Result<SignedIn, AccountError> {
        let digest = opaque_token::digest(presented);
        let now = Utc::now();
        let txn = db::begin_write(self.db()).await?;
        let Some(token) = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(digest))
            .one(&txn)
            .await?
        else {
            return Err(AccountError::InvalidToken);
        };
        let Some((session, Some(owner))) = session::Entity::find_by_id(token.session_id)
            .find_also_related(user::Entity)
            .one(&txn)
            .await?
        else {
            return Err(AccountError::InvalidToken);
        };
        let over_age = session.created_at <= now - self.max_session_age();
        if session.revoked_at.is_some() || token.expires_at <= now || over_age || !owner.active {
            return Err(AccountError::InvalidToken);
        }
        // Roles granted since the last refresh reach the new access token.
        let owner = user_views::view_of(&txn, owner).await?;

        // Use the token up with a conditional update: of concurrent refreshes, one wins, and
        // leaves its successor (sealed, bound to this row) for the others to be answered with.
        let successor = OpaqueToken::generate();
        let interval = crate::time::to_chrono(self.inner.settings.refresh_reuse_interval);
        let sealed = (!interval.is_zero()).then(|| {
            self.inner
                .successors
                .seal(successor.token.as_bytes(), token.id.as_bytes())
        });
        let used_now = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
            .col_expr(refresh_token::Column::SuccessorSealed, Expr::value(sealed))
            .filter(refresh_token::Column::Id.eq(token.id))
            .filter(refresh_token::Column::UsedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if used_now {
            forget_successors(&txn, session.id, now - interval).await?;
            record_use(&txn, session.id, now, meta).await?;
            let signed_in = self
                .continue_session(&txn, owner, session.id.into(), successor)
                .await?;
            txn.commit().await?;
            return Ok(signed_in);
        }

        match self.live_successor(&txn, token.id, now).await? {
            Some(live) => {
                txn.commit().await?;
                let access = self.access_token(&owner, session.id.into())?;
                Ok(SignedIn {
                    access_token: access.token,
                    refresh_token: live,
                    expires_in: access.expires_in,
                    user: owner,
                })
            }
            None => {
                revoke_session(&txn, session.id).await?;
                let entry = AuditEntry::new(AuditType::RefreshReuseDetected)
                    .about(owner.id, owner.organization_id)
                    .detail("session_id", session.id.to_string());
                let event = self.audit(&txn, meta, entry).await?;
                txn.commit().await?;
                self.audited([event]);
                self.sessions_changed(SessionChange::Session(session.id.into()))
                    .await;
                tracing::warn!(user.id = %owner.id, session.id = %session.id, "refresh token reused; session revoked");
                Err(AccountError::InvalidToken)
            }
        }
    }

    /// The live refresh token of the chain that `used` (already rotated away) belongs to, if
    /// every rotation from `used` on happened within the reuse interval. `None` means the
    /// replay came too late: theft.
    async fn live_successor<C: ConnectionTrait>(
        &self,
        txn: &C,
        used: Uuid,
        now: chrono::DateTime<Utc>,
    ) -> Result<Option<String>, AccountError> {
        let interval = crate::time::to_chrono(self.inner.settings.refresh_reuse_interval);
        let mut current = refresh_token::Entity::find_by_id(used).one(txn).await?;
        // A chain rotated more often than this within one interval is no browser's doing.
        for _ in 0..MAX_GRACE_HOPS {
            let Some(token) = current else {
                return Ok(None);
            };
            let (Some(used_at), Some(sealed)) = (token.used_at, token.successor_sealed) else {
                return Ok(None);
            };
            if now - used_at > interval {
                return Ok(None);
            }
            let Ok(successor) = self.inner.successors.open(&sealed, token.id.as_bytes()) else {
                tracing::warn!(
                    "a sealed refresh successor does not open (was the secret changed?)"
                );
                return Ok(None);
            };
            let Ok(successor) = String::from_utf8(successor) else {
                return Ok(None);
            };
            let next = refresh_token::Entity::find()
                .filter(refresh_token::Column::TokenHash.eq(opaque_token::digest(&successor)))
                .one(txn)
                .await?;
            if let Some(next) = &next
                && next.used_at.is_none()
            {
                return Ok((next.expires_at > now).then_some(successor));
            }
            current = next;
        }
        Ok(None)
    }

    /// Ends the session a refresh token belongs to. Unknown and already revoked tokens are
    /// fine: the outcome the client wants holds either way (and only a live session's end is
    /// recorded, as the owner's `logout`: the refresh token speaks for them).
    ///
    /// # Errors
    /// A database error.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, presented: &str, meta: &RequestMeta) -> Result<(), AccountError> {
        let digest = opaque_token::digest(presented);
        let txn = db::begin_write(self.db()).await?;
        let token = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(digest))
            .one(&txn)
            .await?;
        let mut event = None;
        if let Some(token) = &token
            && revoke_session(&txn, token.session_id).await?
            && let Some((session, Some(owner))) = session::Entity::find_by_id(token.session_id)
                .find_also_related(user::Entity)
                .one(&txn)
                .await?
        {
            let entry = AuditEntry::new(AuditType::Logout)
                .actor(owner.id)
                .about(owner.id, owner.organization_id)
                .detail("session_id", session.id.to_string());
            event = Some(self.audit(&txn, meta, entry).await?);
        }
        txn.commit().await?;
        self.audited(event);
        if let Some(token) = token {
            self.sessions_changed(SessionChange::Session(token.session_id.into()))
                .await;
        }
        Ok(())
    }
}

/// Notes a refresh on the session: when, and from where.
async fn record_use<C: ConnectionTrait>(
    txn: &C,
    session_id: Uuid,
    now: chrono::DateTime<Utc>,
    meta: &RequestMeta,
) -> Result<(), AccountError> {
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .col_expr(
            session::Column::IpAddress,
            Expr::value(meta.ip.map(|ip| ip.to_string())),
        )
        .col_expr(
            session::Column::UserAgent,
            Expr::value(meta.user_agent.clone()),
        )
        .filter(session::Column::Id.eq(session_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Steps of a chain followed to answer a replay within the reuse interval.
const MAX_GRACE_HOPS: usize = 8;

/// Erases the sealed successors of a session's tokens rotated before `before`: they are kept
/// for the reuse interval only.
async fn forget_successors<C: ConnectionTrait>(
    txn: &C,
    session_id: Uuid,
    before: chrono::DateTime<Utc>,
) -> Result<(), AccountError> {
    refresh_token::Entity::update_many()
        .col_expr(
            refresh_token::Column::SuccessorSealed,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .filter(refresh_token::Column::SessionId.eq(session_id))
        .filter(refresh_token::Column::SuccessorSealed.is_not_null())
        .filter(refresh_token::Column::UsedAt.lt(before))
        .exec(txn)
        .await?;
    Ok(())
}

/// Ends a session; false when it had ended already.
async fn revoke_session<C: ConnectionTrait>(
    txn: &C,
    session_id: Uuid,
) -> Result<bool, AccountError> {
    let ended = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    Ok(ended == 1)
}

/// Ends every live session of a user, except `keep` (the caller's own, on a password change).
pub(super) async fn revoke_user_sessions<C: ConnectionTrait>(
    txn: &C,
    user_id: UserId,
    keep: Option<SessionId>,
) -> Result<u64, AccountError> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(session::Column::UserId.eq(Uuid::from(user_id)))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        update = update.filter(session::Column::Id.ne(Uuid::from(keep)));
    }
    Ok(update.exec(txn).await?.rows_affected)
}
