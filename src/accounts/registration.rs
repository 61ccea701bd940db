//! Signing up and signing in.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    Set,
};
use secrecy::SecretString;

use super::domain::{DisplayName, Email, NewPassword, UserId};
use super::email_verification::AddressProof;
use super::lockout;
use super::{AccountError, AccountEvent, Accounts, SignedIn, UserView, user_views};
use crate::audit::{AuditEntry, AuditType, RequestMeta};
use crate::db;
use crate::entities::user;
use crate::throttle::ClientAddr;
use migration::DEFAULT_ORGANIZATION_ID;

impl Accounts {
    /// Creates an account, mails its address a verification link and signs it in. The password
    /// was checked against `email` with [`Accounts::password_policy`]. While verified email is
    /// required, nobody is signed in and a taken address gets the same answer as a new one.
    ///
    /// # Errors
    /// `EmailTaken` when the address is in use; `EmailNotVerified` from every signup while
    /// verified email is required; `Forbidden` while signup is closed.
    #[tracing::instrument(skip_all)]
    pub async fn signup(
        &self,
        email: Email,
        password: NewPassword,
        name: Option<DisplayName>,
        meta: &RequestMeta,
    ) -> Result<SignedIn, AccountError> {
        if !self.inner.settings.signup_open {
            return Err(AccountError::Forbidden(
                "Sign-up is closed: ask an administrator for an account.",
            ));
        }
        if self.inner.settings.require_verified_email {
            self.signup_awaiting_verification(email, password, name, meta)
                .await?;
            return Err(AccountError::EmailNotVerified);
        }
        // A cheap early answer; the unique index below settles races.
        if self.find_user_by_email(&email).await?.is_some() {
            return Err(AccountError::EmailTaken);
        }
        let password_hash = self.inner.hasher.hash(password.into_secret()).await?;

        let txn = db::begin_write(self.db()).await?;
        let Some(user) = insert_user(&txn, &email, name, password_hash).await? else {
            return Err(AccountError::EmailTaken);
        };
        self.mail_verification_link(&txn, user.id, &user.email, AddressProof::Current)
            .await?;
        let signed_in = self
            .start_session(&txn, UserView::with_roles(user, Vec::new()), meta)
            .await?;
        let entry = AuditEntry::new(AuditType::Signup)
            .actor(signed_in.user.id)
            .about(signed_in.user.id, signed_in.user.organization_id);
        let event = self.audit(&txn, meta, entry).await?;
        txn.commit().await?;
        self.audited([event]);
        self.inner.outbox.wake();
        tracing::info!(user.id = %signed_in.user.id, "account created");
        let user_id = signed_in.user.id;
        self.emit(AccountEvent::Created {
            user_id,
            email: signed_in.user.email.as_str().to_owned(),
        });
        self.emit(AccountEvent::SignedIn { user_id });
        Ok(signed_in)
    }

    /// Signup while verified email is required. A new address gets an account and a
    /// verification link; a taken one gets its owner a notice that someone tried. Either way
    /// the password is hashed and one transaction writes one mail, so that neither the answer
    /// (the caller's `EmailNotVerified`) nor its timing tells the two apart.
    async fn signup_awaiting_verification(
        &self,
        email: Email,
        password: NewPassword,
        name: Option<DisplayName>,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        // Before the look-up, and for taken addresses too: the hash is most of signup's time.
        let password_hash = self.inner.hasher.hash(password.into_secret()).await?;
        let txn = db::begin_write(self.db()).await?;
        let owner = user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&txn)
            .await?;
        if let Some(owner) = owner {
            self.mail_signup_attempt(&txn, &owner).await?;
            txn.commit().await?;
            tracing::info!("signup with a taken address; its owner is told");
        } else if let Some(user) = insert_user(&txn, &email, name, password_hash).await? {
            self.mail_verification_link(&txn, user.id, &user.email, AddressProof::Current)
                .await?;
            let entry = AuditEntry::new(AuditType::Signup)
                .actor(user.id)
                .about(user.id, user.organization_id);
            let event = self.audit(&txn, meta, entry).await?;
            txn.commit().await?;
            self.audited([event]);
            tracing::info!(user.id = %user.id, "account created, awaiting verification");
        } else {
            // Taken by a signup that committed since the look-up. A failed insert ends a
            // PostgreSQL transaction, so the notice gets one of its own.
            drop(txn);
            let txn = db::begin_write(self.db()).await?;
            let owner = user::Entity::find()
                .filter(user::Column::Email.eq(email.as_str()))
                .one(&txn)
                .await?;
            if let Some(owner) = owner {
                self.mail_signup_attempt(&txn, &owner).await?;
            }
            txn.commit().await?;
        }
        self.inner.outbox.wake();
        Ok(())
    }

    /// Signs in with email and password. Unknown emails and wrong passwords fail alike, and
    /// both cost one argon2 verification, counted against the email from this client address
    /// before it runs, and one `login_failed` event (naming the account only when there is one).
    ///
    /// # Errors
    /// `InvalidCredentials`; `RateLimited` while the address or the account is locked out.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: Email,
        password: &str,
        client: ClientAddr,
        meta: &RequestMeta,
    ) -> Result<SignedIn, AccountError> {
        // Refused before any password check, whether or not the email has an account.
        let slot = match lockout::take_slot(self.db(), email.as_str(), client).await? {
            Ok(slot) => slot,
            Err(locked) => {
                self.inner.metrics.login("locked");
                return Err(locked.into());
            }
        };
        let user = self.find_user_by_email(&email).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verification = self
            .inner
            .hasher
            .verify(SecretString::from(password.to_owned()), stored)
            .await?;
        let user = match user {
            Some(user) if verification.matches => user,
            unknown_or_wrong => {
                self.inner.metrics.login("invalid_credentials");
                let failed = FailedCheck {
                    account: unknown_or_wrong.as_ref(),
                    actor: None,
                    reason: "invalid_credentials",
                };
                self.failed_password_check(&slot, failed, meta).await?;
                tracing::info!("login refused");
                return Err(AccountError::InvalidCredentials);
            }
        };

        // The right password, yet no session: saying why is no help to a guesser, and tells
        // the owner what to do.
        let refusal = if !user.active {
            Some((
                "account_disabled",
                "disabled",
                AccountError::AccountDisabled,
            ))
        } else if self.inner.settings.require_verified_email && !user.email_verified {
            let reason = "email_not_verified";
            Some((reason, reason, AccountError::EmailNotVerified))
        } else {
            None
        };
        if let Some((reason, outcome, error)) = refusal {
            let txn = db::begin_write(self.db()).await?;
            slot.give_back(&txn).await?;
            let entry = AuditEntry::new(AuditType::LoginFailed)
                .about(user.id, user.organization_id)
                .detail("reason", reason);
            let event = self.audit(&txn, meta, entry).await?;
            txn.commit().await?;
            self.audited([event]);
            self.inner.metrics.login(outcome);
            return Err(error);
        }

        let new_hash = if verification.needs_rehash {
            Some(
                self.inner
                    .hasher
                    .hash(SecretString::from(password.to_owned()))
                    .await?,
            )
        } else {
            None
        };
        let txn = db::begin_write(self.db()).await?;
        let mut signing_in: user::ActiveModel = user.into();
        if let Some(hash) = new_hash {
            signing_in.password_hash = Set(hash);
        }
        signing_in.last_login_at = Set(Some(Utc::now()));
        let user = signing_in.update(&txn).await?;
        slot.give_back(&txn).await?;
        let user = user_views::view_of(&txn, user).await?;
        let signed_in = self.start_session(&txn, user, meta).await?;
        let entry = AuditEntry::new(AuditType::Login)
            .actor(signed_in.user.id)
            .about(signed_in.user.id, signed_in.user.organization_id);
        let event = self.audit(&txn, meta, entry).await?;
        txn.commit().await?;
        self.audited([event]);
        self.inner.metrics.login("success");
        tracing::info!(user.id = %signed_in.user.id, "signed in");
        self.emit(AccountEvent::SignedIn {
            user_id: signed_in.user.id,
        });
        Ok(signed_in)
    }

    /// Records a refused password check in a transaction of its own (nothing else changes): a
    /// `login_failed` event, naming the account only when there is one (never the typed email),
    /// and an `account_locked` event when this failure locked the address out of the account.
    pub(super) async fn failed_password_check(
        &self,
        slot: &lockout::GuessSlot,
        failed: FailedCheck<'_>,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let about = |kind| {
            let entry = AuditEntry::new(kind);
            let entry = match failed.account {
                Some(account) => entry.about(account.id, account.organization_id),
                None => entry,
            };
            match failed.actor {
                Some(actor) => entry.actor(actor),
                None => entry,
            }
        };
        let txn = db::begin_write(self.db()).await?;
        let mut events = vec![
            self.audit(
                &txn,
                meta,
                about(AuditType::LoginFailed).detail("reason", failed.reason),
            )
            .await?,
        ];
        let locked_until = slot.locked_on_failure();
        if let Some(until) = locked_until {
            let entry = about(AuditType::AccountLocked).detail("locked_until", until.to_rfc3339());
            events.push(self.audit(&txn, meta, entry).await?);
        }
        txn.commit().await?;
        self.audited(events);
        if locked_until.is_some() {
            self.inner.metrics.lockout();
            tracing::warn!(
                "too many failed password checks from one address; it is locked out of the account"
            );
        }
        Ok(())
    }

    pub(super) async fn find_user_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<user::Model>, AccountError> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(self.db())
            .await?)
    }
}

/// A refused password check, as [`Accounts::failed_password_check`] records it.
pub(super) struct FailedCheck<'a> {
    /// The account whose password was checked; `None` for an email without one.
    pub account: Option<&'a user::Model>,
    /// The signed-in caller confirming a change with their password; `None` for a login.
    pub actor: Option<UserId>,
    /// Why: `invalid_credentials` or `wrong_current_password`.
    pub reason: &'static str,
}

/// Inserts a new account in the default organization; `None` when the address is taken (the
/// unique index settles races between signups).
async fn insert_user<C: ConnectionTrait>(
    txn: &C,
    email: &Email,
    name: Option<DisplayName>,
    password_hash: String,
) -> Result<Option<user::Model>, AccountError> {
    let now = Utc::now();
    let inserted = user::ActiveModel {
        // Random ids, never reused: a token of a deleted account can never name a new one.
        id: Set(UserId::random().into()),
        email: Set(email.as_str().to_owned()),
        name: Set(name.map(DisplayName::into_string)),
        password_hash: Set(password_hash),
        email_verified: Set(false),
        pending_email: Set(None),
        organization_id: Set(DEFAULT_ORGANIZATION_ID),
        active: Set(true),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await;
    match inserted {
        Ok(user) => Ok(Some(user)),
        Err(error) if db::is_unique_violation(&error) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
