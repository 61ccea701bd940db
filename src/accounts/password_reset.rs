//! "Forgot password": a single-use emailed token that sets a new password and ends every
//! session of the account.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    Set,
};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::lockout;
use super::session_events::SessionChange;
use super::sessions::revoke_user_sessions;
use super::validation::Email;
use super::{AccountError, Accounts, chrono_duration};
use crate::auth::opaque_token::{self, OpaqueToken};
use crate::db;
use crate::entities::{password_reset_token, user};
use crate::mail::{MailKind, templates};
use crate::throttle::Limit;

/// Pending reset requests beyond this make `forgotPassword` wait: backpressure, not memory.
pub(super) const QUEUE_CAPACITY: usize = 1024;

impl Accounts {
    /// Asks for a reset link. Answers the same, in the same time, whether or not an account has
    /// the address: the look-up and the write happen afterwards, on the reset worker, which
    /// commits the token and the mail in one transaction.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed address; `RateLimited` past 5 requests an hour for one
    /// address (counted for unknown addresses too, so the limit reveals nothing).
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(&self, email: &str) -> Result<(), AccountError> {
        let email = Email::parse("email", email)?;
        self.inner
            .limiter
            .hit(Limit::ForgotPasswordPerEmail, email.as_str())?;
        self.inner
            .reset_requests
            .send(email)
            .await
            .map_err(|_| AccountError::Internal("the reset worker has stopped".into()))
    }

    /// The part of `forgot_password` that depends on whether the account exists.
    async fn issue_reset_token(&self, email: &Email) -> Result<(), AccountError> {
        let Some(user) = self.find_user_by_email(email).await? else {
            return Ok(());
        };
        let token = OpaqueToken::generate();
        let now = Utc::now();
        let ttl = self.inner.settings.reset_ttl;
        let link = self
            .inner
            .settings
            .reset_url
            .replace("{token}", &token.token);
        let mail = templates::render(
            MailKind::PasswordReset,
            &json!({
                "name": user.name,
                "email": user.email,
                "link": link,
                "valid_minutes": ttl.as_secs().div_ceil(60),
            }),
        )?;

        let txn = db::begin_write(self.db()).await?;
        // One live reset token per user: a newer request kills the older ones.
        kill_reset_tokens(&txn, user.id).await?;
        password_reset_token::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user.id),
            token_hash: Set(token.digest),
            created_at: Set(now),
            expires_at: Set(now + chrono_duration(ttl)),
            used_at: Set(None),
        }
        .insert(&txn)
        .await?;
        self.inner
            .outbox
            .enqueue(&txn, Some(user.id), &user.email, mail)
            .await?;
        txn.commit().await?;
        self.inner.outbox.wake();
        tracing::info!(user.id = %user.id, "password reset requested");
        Ok(())
    }

    /// Sets a new password with a reset token. The token works once; afterwards every session
    /// of the account is over and a notice goes to the owner.
    ///
    /// # Errors
    /// `InvalidToken` for an unknown, used or expired token; `InvalidInput` for a password the
    /// policy refuses (the token stays usable).
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        presented: &str,
        new_password: &str,
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
        let owner_email = Email::parse("email", &owner.email)?;
        let password =
            self.inner
                .settings
                .password_policy
                .check("newPassword", new_password, &owner_email)?;
        // Hash before taking the write lock: argon2 takes far longer than the transaction.
        let password_hash = self.inner.hasher.hash(password.into_secret()).await?;
        let mail = templates::render(
            MailKind::PasswordChanged,
            &json!({"name": owner.name, "email": owner.email}),
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
        active.update(&txn).await?;
        revoke_user_sessions(&txn, owner.id, None).await?;
        kill_reset_tokens(&txn, owner.id).await?;
        // Whoever can read the owner's mail may sign in again at once.
        lockout::clear(&txn, &owner.email).await?;
        self.inner
            .outbox
            .enqueue(&txn, Some(owner.id), &owner.email, mail)
            .await?;
        txn.commit().await?;
        self.sessions_changed(SessionChange::User(owner.id)).await;
        self.inner.outbox.wake();
        tracing::info!(user.id = %owner.id, "password reset");
        Ok(())
    }
}

/// Marks every unused reset token of a user as used.
pub(super) async fn kill_reset_tokens<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
) -> Result<(), AccountError> {
    password_reset_token::Entity::update_many()
        .col_expr(
            password_reset_token::Column::UsedAt,
            Expr::value(Utc::now()),
        )
        .filter(password_reset_token::Column::UserId.eq(user_id))
        .filter(password_reset_token::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// Carries out reset requests in the background, one at a time, in the order they came.
pub struct ResetRequestWorker {
    accounts: Accounts,
    pending: mpsc::Receiver<Email>,
}

impl ResetRequestWorker {
    pub(super) fn new(accounts: Accounts, pending: mpsc::Receiver<Email>) -> Self {
        Self { accounts, pending }
    }

    /// Runs until `shutdown` turns true, then finishes the requests already accepted.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                request = self.pending.recv() => match request {
                    Some(email) => self.carry_out(&email).await,
                    None => return,
                },
                _ = shutdown.changed() => break,
            }
        }
        self.pending.close();
        while let Some(email) = self.pending.recv().await {
            self.carry_out(&email).await;
        }
    }

    async fn carry_out(&self, email: &Email) {
        if let Err(error) = self.accounts.issue_reset_token(email).await {
            tracing::error!(%error, source = ?std::error::Error::source(&error), "could not issue a password reset token");
        }
    }
}
