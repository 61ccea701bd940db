//! Sessions: checking an access token's session, rotating refresh tokens with reuse detection,
//! and ending sessions.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;

use super::domain::{SessionId, UserId};
use super::rotation::{self, Rotated, Rotation};
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
        // Everything that only reads happens before the write transaction, so that the write
        // lock (SQLite's one writer, PostgreSQL's row locks) is held for the writes alone. The
        // writes re-check what may have changed since: that the session is still alive and the
        // token still unused.
        let found = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(digest))
            .find_also_related(session::Entity)
            .and_also_related(user::Entity)
            .one(self.db())
            .await?;
        let Some((token, Some(session), Some(owner))) = found else {
            return Err(AccountError::InvalidToken);
        };
        let born_after = now - self.max_session_age();
        let over_age = session.created_at <= born_after;
        if session.revoked_at.is_some() || token.expires_at <= now || over_age || !owner.active {
            return Err(AccountError::InvalidToken);
        }
        // Roles granted since the last refresh reach the new access token.
        let owner = user_views::view_of(self.db(), owner).await?;
        let session_id = SessionId::from(session.id);
        // Signing (a few hundred microseconds for ES256) is no business of the write lock either.
        let access = self.access_token(&owner, session_id)?;

        // Use the token up with a conditional update: of concurrent refreshes, one wins, and
        // leaves its successor (sealed, bound to this row) for the others to be answered with.
        let successor = OpaqueToken::generate();
        let interval = crate::time::to_chrono(self.inner.settings.refresh_reuse_interval);
        let rotation = Rotation {
            token_id: token.id,
            session_id: session.id,
            successor_sealed: (!interval.is_zero()).then(|| {
                self.inner
                    .successors
                    .seal(successor.token.as_bytes(), token.id.as_bytes())
            }),
            successor_row: self.refresh_token_row(session_id, successor.digest),
            meta: meta.clone(),
        };
        let rotated = match &self.inner.rotation_writer {
            Some(writer) => writer.write(rotation).await?,
            None => {
                let lifetimes = super::rotation_lifetimes(&self.inner.settings);
                rotation::write_batch(self.db(), &[rotation], lifetimes).await?[0]
            }
        };
        // For the theft record below: `signed_in` takes the view.
        let (owner_id, organization_id) = (owner.id, owner.organization_id);
        let signed_in = |refresh_token| SignedIn {
            access_token: access.token,
            refresh_token,
            expires_in: access.expires_in,
            user: owner,
        };
        if rotated == Rotated::Done {
            return Ok(signed_in(successor.token));
        }
        // Not used up here: the session ended since it was read, or the token was used already,
        // by a concurrent refresh (whose commit is visible now) or long ago.
        let unused = refresh_token::Entity::find_by_id(token.id)
            .one(self.db())
            .await?
            .is_none_or(|token| token.used_at.is_none());
        if unused {
            return Err(AccountError::InvalidToken);
        }
        if let Some(live) = self.live_successor(self.db(), token.id, now).await? {
            return Ok(signed_in(live));
        }
        let txn = db::begin_write(self.db()).await?;
        let mut event = None;
        if revoke_session(&txn, session.id).await? {
            let entry = AuditEntry::new(AuditType::RefreshReuseDetected)
                .about(owner_id, organization_id)
                .detail("session_id", session.id.to_string());
            event = Some(self.audit(&txn, meta, entry).await?);
        }
        txn.commit().await?;
        self.audited(event);
        self.sessions_changed(SessionChange::Session(session_id))
            .await;
        tracing::warn!(user.id = %owner_id, session.id = %session.id, "refresh token reused; session revoked");
        Err(AccountError::InvalidToken)
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

/// Steps of a chain followed to answer a replay within the reuse interval.
const MAX_GRACE_HOPS: usize = 8;

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
