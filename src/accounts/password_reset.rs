//! "Forgot password": a single-use emailed token that sets a new password and ends every
//! session of the account.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    Set,
};
use serde_json::json;
use uuid::Uuid;

use super::domain::{Email, UserId};
use super::lockout;
use super::mail_requests::MailRequest;
use super::session_events::SessionChange;
use super::sessions::revoke_user_sessions;
use super::{AccountError, AccountEvent, Accounts};
use crate::audit::{AuditEntry, AuditRecord, AuditType, RequestMeta};
use crate::auth::opaque_token::{self, OpaqueToken};
use crate::db;
use crate::entities::{password_reset_token, user};
use crate::mail::{MailKind, templates};
use crate::throttle::Limit;

impl Accounts {
    /// Asks for a reset link. Answers the same, in the same time, whether or not an account has
    /// the address: the look-up and the write happen afterwards, on the mail request worker, which
    /// commits the token and the mail in one transaction (see `mail_requests`).
    ///
    /// # Errors
    /// `RateLimited` past 5 requests an hour for one address (counted for unknown addresses
    /// too, so the limit reveals nothing).
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(
        &self,
        email: Email,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        self.inner
            .limiter
            .hit(Limit::ForgotPasswordPerEmail, email.as_str())
            .await??;
        self.queue_mail_request(MailRequest::PasswordReset(email, meta.clone()))
            .await
    }

    /// The part of `forgot_password` that depends on whether the account exists, inside the mail
    /// request worker's transaction: for an account, a mail and its `password_reset_requested`
    /// event (an unknown address leaves no trace, as it gets no answer of its own).
    pub(super) async fn issue_reset_token_to<C: ConnectionTrait>(
        &self,
        txn: &C,
        email: &Email,
        meta: &RequestMeta,
    ) -> Result<Option<AuditRecord>, AccountError> {
        // A deactivated account gets no reset mail: it could not sign in with it anyway.
        let owner = user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .filter(user::Column::Active.eq(true))
            .one(txn)
            .await?;
        let Some(owner) = owner else {
            return Ok(None);
        };
        let entry = AuditEntry::new(AuditType::PasswordResetRequested)
            .about(owner.id, owner.organization_id);
        let event = self.audit(txn, meta, entry).await?;
        self.issue_reset_token(txn, owner).await?;
        Ok(Some(event))
    }

    async fn issue_reset_token<C: ConnectionTrait>(
        &self,
        txn: &C,
        owner: user::Model,
    ) -> Result<(), AccountError> {
        let token = OpaqueToken::generate();
        let now = Utc::now();
        let ttl = self.inner.settings.reset_ttl;
        let link = self
            .inner
            .settings
            .reset_url
            .replace("{token}", &token.token);
        let mail = self.inner.outbox.render(
            MailKind::PasswordReset,
            &json!({
                "name": templates::account_text(owner.name.as_deref(), owner.email_verified),
                "email": owner.email,
                "link": link,
                "valid_minutes": ttl.as_secs().div_ceil(60),
            }),
        )?;
        // One live reset token per user: a newer request kills the older ones.
        kill_reset_tokens(txn, UserId::from(owner.id)).await?;
        password_reset_token::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(owner.id),
            token_hash: Set(token.digest),
            created_at: Set(now),
            expires_at: Set(crate::time::after(now, ttl)),
            used_at: Set(None),
            purpose: Set(SetPasswordPurpose::Reset.as_str().to_owned()),
        }
        .insert(txn)
        .await?;
        self.inner
            .outbox
            .enqueue(txn, Some(owner.id), &owner.email, mail)
            .await?;
        tracing::info!(user.id = %owner.id, "password reset requested");
        Ok(())
    }

    /// Sets a new password with a reset token. The token works once; afterwards every session
    /// of the account is over and a notice goes to the owner.
    ///
    /// # Errors
    /// `InvalidToken` for an unknown, used or expired token; `NewPasswordRefused` for a password
    /// the policy refuses (the token stays usable). The token is checked first: the policy needs
    /// the owner's email.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        presented: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let digest = opaque_token::digest(presented);
        let now = Utc::now();
        let Some((token, Some(owner))) = password_reset_token::Entity::find()
            .filter(password_reset_token::Column::TokenHash.eq(digest))
            .filter(password_reset_token::Column::UsedAt.is_null())
            .filter(password_reset_token::Column::ExpiresAt.gt(now))
            .find_also_related(user::Entity)
            .one(self.db())
            .await?
        else {
            return Err(AccountError::InvalidToken);
        };
        let owner_email = Email::from_stored(owner.email.clone());
        let password = self
            .password_policy()
            .check(new_password, &owner_email)
            .map_err(AccountError::NewPasswordRefused)?;
        // Hash before taking the write lock: argon2 takes far longer than the transaction.
        let password_hash = self.inner.hasher.hash(password.into_secret()).await?;
        let mail = self.inner.outbox.render(
            MailKind::PasswordChanged,
            &json!({"name": templates::account_text(owner.name.as_deref(), owner.email_verified), "email": owner.email}),
        )?;

        let txn = db::begin_write(self.db()).await?;
        // Single use, decided by the database: of concurrent resets with one token, one wins.
        let claimed = password_reset_token::Entity::update_many()
            .col_expr(
                password_reset_token::Column::UsedAt,
                Expr::value(Utc::now()),
            )
            .filter(password_reset_token::Column::Id.eq(token.id))
            .filter(password_reset_token::Column::UsedAt.is_null())
            .filter(password_reset_token::Column::ExpiresAt.gt(Utc::now()))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !claimed {
            return Err(AccountError::InvalidToken);
        }
        let mut active: user::ActiveModel = owner.clone().into();
        active.password_hash = Set(password_hash);
        active.updated_at = Set(Utc::now());
        if token.purpose == SetPasswordPurpose::Invitation.as_str() {
            // The invitation reached this address: it is the owner's.
            active.email_verified = Set(true);
        }
        active.update(&txn).await?;
        let owner_id = UserId::from(owner.id);
        revoke_user_sessions(&txn, owner_id, None).await?;
        kill_reset_tokens(&txn, owner_id).await?;
        // Whoever can read the owner's mail may sign in again at once.
        lockout::clear(&txn, &owner.email).await?;
        // The token speaks for its owner: they are the actor.
        let entry = AuditEntry::new(AuditType::PasswordReset)
            .actor(owner.id)
            .about(owner.id, owner.organization_id)
            .detail("purpose", token.purpose.as_str());
        let event = self.audit(&txn, meta, entry).await?;
        self.inner
            .outbox
            .enqueue(&txn, Some(owner.id), &owner.email, mail)
            .await?;
        txn.commit().await?;
        self.audited([event]);
        self.sessions_changed(SessionChange::User(owner_id)).await;
        self.inner.outbox.wake();
        tracing::info!(user.id = %owner.id, "password reset");
        self.emit(AccountEvent::PasswordChanged { user_id: owner_id });
        Ok(())
    }
}

/// What a set-password token was mailed for. Both are accepted by `reset_password`; they differ
/// in lifetime and in what the mail says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SetPasswordPurpose {
    Reset,
    Invitation,
}

impl SetPasswordPurpose {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Invitation => "invitation",
        }
    }
}

/// Marks every unused reset token of a user as used.
pub(super) async fn kill_reset_tokens<C: ConnectionTrait>(
    txn: &C,
    user_id: UserId,
) -> Result<(), AccountError> {
    password_reset_token::Entity::update_many()
        .col_expr(
            password_reset_token::Column::UsedAt,
            Expr::value(Utc::now()),
        )
        .filter(password_reset_token::Column::UserId.eq(Uuid::from(user_id)))
        .filter(password_reset_token::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}
