//! Proving that an address is the account's: verification tokens (a kind of their own, each bound
//! to the address it was mailed to), `verifyEmail`, `resendVerificationEmail`, and the email
//! change that waits for the new address while verified email is required.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _,
    QueryFilter as _, QuerySelect as _, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::domain::{Email, UserId};
use super::mail_requests::MailRequest;
use super::password_reset::kill_reset_tokens;
use super::session_events::SessionChange;
use super::{AccountError, Accounts, UserView, user_views};
use crate::audit::{AuditEntry, AuditType, RequestMeta};
use crate::auth::opaque_token::{self, OpaqueToken};
use crate::db;
use crate::entities::{email_verification_token, user};
use crate::mail::{MailKind, templates};
use crate::throttle::Limit;

/// Accounts mailed at most for one resend request: a pending change can name any address, so
/// several accounts may be moving to the same one.
const MAX_ACCOUNTS_PER_RESEND: u64 = 10;

/// Which address a verification link proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AddressProof {
    /// The account's own address: opening the link marks it verified.
    Current,
    /// The address the account moves to (`pending_email`): opening the link moves it there.
    NewAddress,
}

impl Accounts {
    /// Writes a verification token for `address` and the mail carrying its link, inside `txn`
    /// (the caller commits, then wakes the outbox). Earlier unused links of the account for the
    /// same address stop working: only the newest mail counts.
    pub(super) async fn mail_verification_link<C: ConnectionTrait>(
        &self,
        txn: &C,
        user_id: Uuid,
        address: &str,
        proof: AddressProof,
    ) -> Result<(), AccountError> {
        let now = Utc::now();
        kill_verification_tokens(txn, user_id, address).await?;
        let token = OpaqueToken::generate();
        let ttl = self.inner.settings.verify_ttl;
        let link = self
            .inner
            .settings
            .verify_url
            .replace("{token}", &token.token);
        let kind = match proof {
            AddressProof::Current => MailKind::EmailVerification,
            AddressProof::NewAddress => MailKind::EmailChangeConfirmation,
        };
        // Nothing the account chose goes in: the address has not proven to be the account's.
        let mail = self.inner.outbox.render(
            kind,
            &json!({
                "email": address,
                "link": link,
                "valid_hours": ttl.as_secs().div_ceil(3600),
            }),
        )?;
        email_verification_token::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user_id),
            token_hash: Set(token.digest),
            email: Set(address.to_owned()),
            created_at: Set(now),
            expires_at: Set(crate::time::after(now, ttl)),
            used_at: Set(None),
        }
        .insert(txn)
        .await?;
        self.inner
            .outbox
            .enqueue(txn, Some(user_id), address, mail)
            .await?;
        Ok(())
    }

    /// Confirms an address with the token from a verification link: the account's own address
    /// becomes verified, or the account moves to the address it was waiting to move to. Needs
    /// no sign-in; the token works once.
    ///
    /// # Errors
    /// `InvalidToken` for an unknown, used or expired token, and for one mailed to an address the
    /// account no longer has or no longer moves to; `EmailTaken` when another account took the
    /// new address meanwhile (the token stays usable).
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(
        &self,
        presented: &str,
        meta: &RequestMeta,
    ) -> Result<UserView, AccountError> {
        let digest = opaque_token::digest(presented);
        let Some((token, Some(owner))) = email_verification_token::Entity::find()
            .filter(email_verification_token::Column::TokenHash.eq(digest))
            .filter(email_verification_token::Column::UsedAt.is_null())
            .filter(email_verification_token::Column::ExpiresAt.gt(Utc::now()))
            .find_also_related(user::Entity)
            .one(self.db())
            .await?
        else {
            return Err(AccountError::InvalidToken);
        };
        let proof = if token.email == owner.email {
            AddressProof::Current
        } else if owner.pending_email.as_deref() == Some(token.email.as_str()) {
            AddressProof::NewAddress
        } else {
            return Err(AccountError::InvalidToken);
        };

        let txn = db::begin_write(self.db()).await?;
        // Single use, decided by the database: of concurrent requests with one token, one wins.
        let claimed = email_verification_token::Entity::update_many()
            .col_expr(
                email_verification_token::Column::UsedAt,
                Expr::value(Utc::now()),
            )
            .filter(email_verification_token::Column::Id.eq(token.id))
            .filter(email_verification_token::Column::UsedAt.is_null())
            .filter(email_verification_token::Column::ExpiresAt.gt(Utc::now()))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !claimed {
            return Err(AccountError::InvalidToken);
        }
        // Conditional on the address the token was mailed to, so that an email change committed
        // since the read above makes the token worthless rather than applying it to another address.
        let mut change = user::Entity::update_many()
            .col_expr(user::Column::EmailVerified, Expr::value(true))
            .col_expr(user::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(user::Column::Id.eq(owner.id));
        change = match proof {
            AddressProof::Current => change.filter(user::Column::Email.eq(token.email.as_str())),
            AddressProof::NewAddress => change
                .col_expr(user::Column::Email, Expr::value(token.email.as_str()))
                .col_expr(user::Column::PendingEmail, Expr::value(None::<String>))
                .filter(user::Column::PendingEmail.eq(token.email.as_str())),
        };
        let changed = match change.exec(&txn).await {
            Ok(result) => result.rows_affected == 1,
            Err(error) if db::is_unique_violation(&error) => return Err(AccountError::EmailTaken),
            Err(error) => return Err(error.into()),
        };
        if !changed {
            return Err(AccountError::InvalidToken);
        }
        // The link speaks for the account: it is the actor. A move to a new address is the
        // email change itself taking effect.
        let entry = match proof {
            AddressProof::Current => AuditEntry::new(AuditType::EmailVerified),
            AddressProof::NewAddress => AuditEntry::new(AuditType::EmailChanged)
                .detail("old_email", owner.email.as_str())
                .detail("new_email", token.email.as_str()),
        };
        let entry = entry.actor(owner.id).about(owner.id, owner.organization_id);
        let event = self.audit(&txn, meta, entry).await?;
        kill_verification_tokens(&txn, owner.id, &token.email).await?;
        let user_id = UserId::from(owner.id);
        if proof == AddressProof::NewAddress {
            // A reset link mailed to the old address must not take the account back.
            kill_reset_tokens(&txn, user_id).await?;
        }
        let updated = user::Entity::find_by_id(owner.id)
            .one(&txn)
            .await?
            .ok_or(AccountError::InvalidToken)?;
        let view = user_views::view_of(&txn, updated).await?;
        txn.commit().await?;
        self.audited([event]);
        self.sessions_changed(SessionChange::User(user_id)).await;
        tracing::info!(user.id = %user_id, moved = proof == AddressProof::NewAddress, "email address verified");
        Ok(view)
    }

    /// Asks for a new verification link. Answers the same, in the same time, whether or not an
    /// account has the address unverified (or is moving to it): the look-up and the write happen
    /// afterwards, on the mail request worker.
    ///
    /// # Errors
    /// `RateLimited` past 5 requests an hour for one address (counted for unknown addresses too,
    /// so the limit reveals nothing).
    #[tracing::instrument(skip_all)]
    pub async fn resend_verification_email(&self, email: Email) -> Result<(), AccountError> {
        self.inner
            .limiter
            .hit(Limit::VerificationMailPerEmail, email.as_str())
            .await??;
        self.queue_mail_request(MailRequest::Verification(email))
            .await
    }

    /// The part of `resend_verification_email` that depends on the accounts, inside the mail
    /// request worker's transaction. True when a mail was written. A deactivated account gets
    /// nothing, as with resets; a verified address gets nothing: there is nothing to prove.
    pub(super) async fn resend_verification_to<C: ConnectionTrait>(
        &self,
        txn: &C,
        email: &Email,
    ) -> Result<bool, AccountError> {
        let owners = user::Entity::find()
            .filter(user::Column::Active.eq(true))
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(user::Column::Email.eq(email.as_str()))
                            .add(user::Column::EmailVerified.eq(false)),
                    )
                    .add(user::Column::PendingEmail.eq(email.as_str())),
            )
            .limit(MAX_ACCOUNTS_PER_RESEND)
            .all(txn)
            .await?;
        for owner in &owners {
            let proof = if owner.email == email.as_str() {
                AddressProof::Current
            } else {
                AddressProof::NewAddress
            };
            self.mail_verification_link(txn, owner.id, email.as_str(), proof)
                .await?;
        }
        Ok(!owners.is_empty())
    }

    /// Tells the owner of a taken address that someone tried to sign up with it, inside `txn`:
    /// what signup says instead of `EmailTaken` while verified email is required.
    pub(super) async fn mail_signup_attempt<C: ConnectionTrait>(
        &self,
        txn: &C,
        owner: &user::Model,
    ) -> Result<(), AccountError> {
        let mail = self.inner.outbox.render(
            MailKind::SignupAttempt,
            &json!({
                "name": templates::account_text(owner.name.as_deref(), owner.email_verified),
                "email": owner.email,
            }),
        )?;
        self.inner
            .outbox
            .enqueue(txn, Some(owner.id), &owner.email, mail)
            .await?;
        Ok(())
    }
}

/// Marks the unused verification tokens of `user_id` for `address` as used.
async fn kill_verification_tokens<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    address: &str,
) -> Result<(), AccountError> {
    email_verification_token::Entity::update_many()
        .col_expr(
            email_verification_token::Column::UsedAt,
            Expr::value(Utc::now()),
        )
        .filter(email_verification_token::Column::UserId.eq(user_id))
        .filter(email_verification_token::Column::Email.eq(address))
        .filter(email_verification_token::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}
