//! Signing up and signing in.

use chrono::Utc;
use sea_orm::{ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, Set};
use secrecy::SecretString;

use super::domain::{DisplayName, Email, NewPassword, UserId};
use super::lockout;
use super::{AccountError, AccountEvent, Accounts, SessionOrigin, SignedIn, UserView, user_views};
use crate::db;
use crate::entities::user;
use crate::throttle::ClientAddr;
use migration::DEFAULT_ORGANIZATION_ID;

impl Accounts {
    /// Creates an account and signs it in. The password was checked against `email` with
    /// [`Accounts::password_policy`].
    ///
    /// # Errors
    /// `EmailTaken` when the address is in use.
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
        // A cheap early answer; the unique index below settles races.
        if self.find_user_by_email(&email).await?.is_some() {
            return Err(AccountError::EmailTaken);
        }
        let password_hash = self.inner.hasher.hash(password.into_secret()).await?;

        let now = Utc::now();
        let txn = db::begin_write(self.db()).await?;
        let inserted = user::ActiveModel {
            // Random ids, never reused: a token of a deleted account can never name a new one.
            id: Set(UserId::random().into()),
            email: Set(email.into_string()),
            name: Set(name.map(DisplayName::into_string)),
            password_hash: Set(password_hash),
            email_verified: Set(false),
            organization_id: Set(DEFAULT_ORGANIZATION_ID),
            active: Set(true),
            last_login_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await;
        let user = match inserted {
            Ok(user) => user,
            Err(error) if db::is_unique_violation(&error) => return Err(AccountError::EmailTaken),
            Err(error) => return Err(error.into()),
        };
        let signed_in = self
            .start_session(&txn, UserView::with_roles(user, Vec::new()), origin)
            .await?;
        txn.commit().await?;
        tracing::info!(user.id = %signed_in.user.id, "account created");
        let user_id = signed_in.user.id;
        self.emit(AccountEvent::Created {
            user_id,
            email: signed_in.user.email.as_str().to_owned(),
        });
        self.emit(AccountEvent::SignedIn { user_id });
        Ok(signed_in)
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
