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
use super::{AccountError, AccountEvent, Accounts, SessionOrigin, SignedIn, UserView, user_views};
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
        origin: &SessionOrigin,
    ) -> Result<SignedIn, AccountError> {
        if !self.inner.settings.signup_open {
            return Err(AccountError::Forbidden(
                "Sign-up is closed: ask an administrator for an account.",
            ));
        }
        if self.inner.settings.require_verified_email {
            self.signup_awaiting_verification(email, password, name)
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
            .start_session(&txn, UserView::with_roles(user, Vec::new()), origin)
            .await?;
        let meta = RequestMeta {
            ip: Some(origin.ip),
            user_agent: origin.user_agent.clone(),
            request_id: None,
        };
        let entry = AuditEntry::new(AuditType::Signup)
            .actor(signed_in.user.id)
            .user(signed_in.user.id)
            .organization(signed_in.user.organization_id);
        self.inner.audit.record(&txn, &meta, entry).await?;
        txn.commit().await?;
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
            txn.commit().await?;
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
    /// before it runs.
    ///
    /// # Errors
    /// `InvalidCredentials`; `RateLimited` while the address or the account is locked out.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: Email,
        password: &str,
        client: ClientAddr,
        user_agent: Option<String>,
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
        let Some(user) = user.filter(|_| verification.matches) else {
            self.inner.metrics.login("invalid_credentials");
            self.failed_password_check(&slot);
            tracing::info!("login refused");
            return Err(AccountError::InvalidCredentials);
        };

        if !user.active {
            // The right password: saying so is no help to a guesser, and tells the owner why.
            slot.give_back(self.db()).await?;
            self.inner.metrics.login("disabled");
            return Err(AccountError::AccountDisabled);
        }
        if self.inner.settings.require_verified_email && !user.email_verified {
            // As above: only the owner learns it, and learns what to do.
            slot.give_back(self.db()).await?;
            self.inner.metrics.login("email_not_verified");
            return Err(AccountError::EmailNotVerified);
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
        let origin = SessionOrigin {
            ip: client.ip(),
            user_agent,
        };
        let signed_in = self.start_session(&txn, user, &origin).await?;
        txn.commit().await?;
        self.inner.metrics.login("success");
        tracing::info!(user.id = %signed_in.user.id, "signed in");
        self.emit(AccountEvent::SignedIn {
            user_id: signed_in.user.id,
        });
        Ok(signed_in)
    }

    /// Records what a failed password check means beyond its refusal: the lockout it caused.
    pub(super) fn failed_password_check(&self, slot: &lockout::GuessSlot) {
        if slot.locked_on_failure() {
            self.inner.metrics.lockout();
            tracing::warn!(
                "too many failed password checks from one address; it is locked out of the account"
            );
        }
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
