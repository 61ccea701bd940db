//! The signed-in user's own account: reading it, changing name, email or password, deleting it.

use chrono::Utc;
use sea_orm::{ActiveModelTrait as _, EntityTrait as _, ModelTrait as _, Set};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use super::domain::{DisplayName, Email};
use super::email_verification::AddressProof;
use super::lockout;
use super::password_reset::kill_reset_tokens;
use super::registration::FailedCheck;
use super::session_events::SessionChange;
use super::sessions::revoke_user_sessions;
use super::{AccountError, AccountEvent, Accounts, Caller, UserView, admin, user_views};
use crate::audit::{AuditEntry, AuditType, RequestMeta};
use crate::db;
use crate::entities::user;
use crate::mail::{MailKind, templates};
use crate::throttle::{ClientAddr, Limit};

/// What a profile change asks for; `None` leaves a field as it is. The new password comes as
/// typed: the policy needs the account's email, so `update_me` checks it.
#[derive(Default)]
pub struct ProfileChanges<'a> {
    pub name: Option<DisplayName>,
    pub email: Option<Email>,
    pub new_password: Option<&'a str>,
    pub current_password: Option<&'a str>,
}

impl Accounts {
    /// # Errors
    /// `Unauthenticated` when the account is gone.
    pub async fn me(&self, caller: Caller) -> Result<UserView, AccountError> {
        // The bearer check just read (or reused) this session's user: no second read.
        match self.inner.sessions.user(caller.session_id) {
            Some(user) if user.id == caller.user_id => Ok(UserView::clone(&user)),
            _ => {
                let user = self.user_of(caller).await?;
                Ok(user_views::view_of(self.db(), user).await?)
            }
        }
    }

    /// Changes the caller's profile. Email and password changes need the current password; a
    /// new password ends every other session. A new email is unverified and gets a verification
    /// link, and the old address is told; while verified email is required, the account moves
    /// to the new address only once it confirms (`pending_email` until then).
    ///
    /// # Errors
    /// `NewPasswordRefused` (checked against the new email, or else the stored one),
    /// `CurrentPasswordRequired`, `InvalidCredentials` (wrong current password), `EmailTaken`,
    /// `RateLimited`.
    #[tracing::instrument(skip_all, fields(user.id = %caller.user_id))]
    pub async fn update_me(
        &self,
        caller: Caller,
        changes: ProfileChanges<'_>,
        client: ClientAddr,
        meta: &RequestMeta,
    ) -> Result<UserView, AccountError> {
        let current = self.user_of(caller).await?;
        // Asking for the address the account already has is no change of email.
        let email = changes
            .email
            .filter(|email| email.as_str() != current.email);
        // While verified email is required, a new address waits for its confirmation
        // (`pending_email`) and the account keeps its address until then.
        let awaits_confirmation = email.is_some() && self.inner.settings.require_verified_email;
        let moves_now = email.is_some() && !awaits_confirmation;
        let effective_email = match &email {
            Some(email) if moves_now => email.clone(),
            _ => Email::from_stored(current.email.clone()),
        };
        let password = changes
            .new_password
            .map(|raw| self.password_policy().check(raw, &effective_email))
            .transpose()
            .map_err(AccountError::NewPasswordRefused)?;

        if email.is_some() {
            // `EmailTaken` tells whether an address has an account: as rationed as signup.
            self.inner
                .limiter
                .hit(Limit::EmailChangePerAddress, &client.limiter_key())
                .await??;
        }
        if email.is_some() || password.is_some() {
            let Some(current_password) = changes.current_password else {
                return Err(AccountError::CurrentPasswordRequired);
            };
            self.check_current_password(caller, &current, current_password, client, meta)
                .await?;
        }
        if awaits_confirmation && let Some(email) = &email {
            // Nothing writes the new address to the unique column yet: look. Should another
            // account take it meanwhile, `verify_email` refuses the move.
            if self.find_user_by_email(email).await?.is_some() {
                return Err(AccountError::EmailTaken);
            }
        }
        let password_hash = match password {
            Some(password) => Some(self.inner.hasher.hash(password.into_secret()).await?),
            None => None,
        };

        let mut mails = Vec::new();
        let mut active: user::ActiveModel = current.clone().into();
        // What the audit trail records: the names of the fields changed, not their values.
        let mut fields_changed = Vec::new();
        if let Some(name) = changes.name.map(DisplayName::into_string) {
            if current.name.as_deref() != Some(name.as_str()) {
                fields_changed.push("name");
            }
            active.name = Set(Some(name));
        }
        if let Some(email) = &email {
            let notice = json!({"name": templates::account_text(current.name.as_deref(), current.email_verified), "old_email": current.email, "new_email": templates::account_text(Some(email.as_str()), current.email_verified)});
            let kind = if moves_now {
                active.email = Set(email.as_str().to_owned());
                active.email_verified = Set(false);
                active.pending_email = Set(None);
                MailKind::EmailChanged
            } else {
                active.pending_email = Set(Some(email.as_str().to_owned()));
                fields_changed.push("pendingEmail");
                MailKind::EmailChangeRequested
            };
            mails.push((
                current.email.clone(),
                self.inner.outbox.render(kind, &notice)?,
            ));
        }
        if let Some(hash) = &password_hash {
            active.password_hash = Set(hash.clone());
            let notice = json!({"name": templates::account_text(current.name.as_deref(), current.email_verified && !moves_now), "email": effective_email.as_str()});
            mails.push((
                effective_email.as_str().to_owned(),
                self.inner
                    .outbox
                    .render(MailKind::PasswordChanged, &notice)?,
            ));
        }
        active.updated_at = Set(Utc::now());

        let txn = db::begin_write(self.db()).await?;
        let updated = match active.update(&txn).await {
            Ok(updated) => updated,
            Err(error) if db::is_unique_violation(&error) => return Err(AccountError::EmailTaken),
            Err(error) => return Err(error.into()),
        };
        if password_hash.is_some() {
            revoke_user_sessions(&txn, caller.user_id, Some(caller.session_id)).await?;
        }
        let about = |kind| {
            AuditEntry::new(kind)
                .actor(caller.user_id)
                .about(caller.user_id, current.organization_id)
        };
        let mut entries = Vec::new();
        if !fields_changed.is_empty() {
            entries.push(about(AuditType::UserUpdated).detail("fields", fields_changed));
        }
        if let Some(email) = email.as_ref().filter(|_| moves_now) {
            entries.push(
                about(AuditType::EmailChanged)
                    .detail("old_email", current.email.as_str())
                    .detail("new_email", email.as_str()),
            );
        }
        if password_hash.is_some() {
            entries.push(about(AuditType::PasswordChanged));
        }
        let mut events = Vec::with_capacity(entries.len());
        for entry in entries {
            events.push(self.audit(&txn, meta, entry).await?);
        }
        if email.is_some() || password_hash.is_some() {
            // A reset link mailed earlier must not undo this change.
            kill_reset_tokens(&txn, caller.user_id).await?;
        }
        if let Some(email) = &email {
            // The new address proves itself with a link: at once it becomes verified, or, while
            // the change waits, the account moves to it.
            let proof = if moves_now {
                AddressProof::Current
            } else {
                AddressProof::NewAddress
            };
            self.mail_verification_link(&txn, updated.id, email.as_str(), proof)
                .await?;
        }
        let has_mail = !mails.is_empty() || email.is_some();
        for (recipient, mail) in mails {
            self.inner
                .outbox
                .enqueue(&txn, Some(caller.user_id.into()), &recipient, mail)
                .await?;
        }
        txn.commit().await?;
        self.audited(events);
        self.sessions_changed(SessionChange::User(caller.user_id))
            .await;
        if has_mail {
            self.inner.outbox.wake();
        }
        self.emit(AccountEvent::Updated {
            user_id: caller.user_id,
        });
        if password_hash.is_some() {
            self.emit(AccountEvent::PasswordChanged {
                user_id: caller.user_id,
            });
        }
        Ok(user_views::view_of(self.db(), updated).await?)
    }

    /// Deletes the caller's account and everything of theirs (sessions, tokens, pending mail).
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong password; `RateLimited` while guessing is locked out.
    #[tracing::instrument(skip_all, fields(user.id = %caller.user_id))]
    pub async fn delete_me(
        &self,
        caller: Caller,
        password: &str,
        client: ClientAddr,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let current = self.user_of(caller).await?;
        self.check_current_password(caller, &current, password, client, meta)
            .await?;
        let txn = db::begin_write(self.db()).await?;
        admin::keep_a_superadmin(&txn, caller.user_id).await?;
        // The event outlives the account: it names it by id alone.
        let entry = AuditEntry::new(AuditType::AccountDeleted)
            .actor(caller.user_id)
            .about(caller.user_id, current.organization_id);
        let event = self.audit(&txn, meta, entry).await?;
        // Sessions, tokens and undelivered mail go with the user (ON DELETE CASCADE).
        current.delete(&txn).await?;
        txn.commit().await?;
        self.audited([event]);
        self.sessions_changed(SessionChange::User(caller.user_id))
            .await;
        tracing::info!("account deleted");
        self.emit(AccountEvent::Deleted {
            user_id: caller.user_id,
        });
        Ok(())
    }

    /// A signed-in user confirming a change with their password is one more password check for
    /// whoever holds the access token: it is rationed exactly like `login` (per address, and
    /// under the account's lockout), so a stolen access token cannot guess the password.
    async fn check_current_password(
        &self,
        caller: Caller,
        user: &user::Model,
        password: &str,
        client: ClientAddr,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        self.inner
            .limiter
            .hit(Limit::LoginPerAddress, &client.limiter_key())
            .await??;
        let slot = lockout::take_slot(self.db(), &user.email, client).await??;
        let verification = self
            .inner
            .hasher
            .verify(
                SecretString::from(password.to_owned()),
                Some(user.password_hash.clone()),
            )
            .await?;
        if !verification.matches {
            let failed = FailedCheck {
                account: Some(user),
                actor: Some(caller.user_id),
                reason: "wrong_current_password",
            };
            self.failed_password_check(&slot, failed, meta).await?;
            return Err(AccountError::InvalidCredentials);
        }
        let txn = db::begin_write(self.db()).await?;
        slot.give_back(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn user_of(&self, caller: Caller) -> Result<user::Model, AccountError> {
        user::Entity::find_by_id(Uuid::from(caller.user_id))
            .one(self.db())
            .await?
            .ok_or(AccountError::Unauthenticated)
    }
}
