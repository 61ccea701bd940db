//! What can go wrong in an account operation, said once. `graphql::errors` turns each variant
//! into the stable `extensions.code` documented in `docs/api.md`.

use super::domain::{FieldError, Invalid};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// An input the edge parsed and refused, under the edge's name for its field.
    #[error("{}", .0.message)]
    InvalidInput(FieldError),
    /// A new password the policy refuses. The service checks it, not the edge, because a rule
    /// needs the account's email; the caller names the field it came in ([`Invalid::on`]).
    #[error("{0}")]
    NewPasswordRefused(Invalid),
    /// An email or password change without the current password; the caller names the field.
    #[error("Enter your current password to change your email or password.")]
    CurrentPasswordRequired,
    #[error("An account with this email address already exists.")]
    EmailTaken,
    /// One message for unknown emails and wrong passwords alike, so it reveals nothing.
    #[error("The email address or password is incorrect.")]
    InvalidCredentials,
    #[error("Sign in to do this.")]
    Unauthenticated,
    #[error("This token is invalid or has expired.")]
    InvalidToken,
    #[error("Too many attempts. Try again in {} seconds.", .0.retry_after_seconds())]
    RateLimited(crate::throttle::RateLimited),
    /// Anything unexpected. The source goes to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<crate::throttle::RateLimited> for AccountError {
    fn from(refusal: crate::throttle::RateLimited) -> Self {
        Self::RateLimited(refusal)
    }
}

impl From<FieldError> for AccountError {
    fn from(error: FieldError) -> Self {
        Self::InvalidInput(error)
    }
}

macro_rules! internal_from {
    ($($source:ty),*) => {$(
        impl From<$source> for AccountError {
            fn from(error: $source) -> Self {
                Self::Internal(Box::new(error))
            }
        }
    )*};
}

internal_from!(
    sea_orm::DbErr,
    crate::auth::password::HashError,
    jsonwebtoken::errors::Error,
    minijinja::Error
);
