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
    /// A role code that names no role definition (inputs call it `roles`).
    #[error("There is no role with the code {0:?}.")]
    UnknownRole(String),
    /// A role code already defined (inputs call it `code`).
    #[error("A role with this code exists already.")]
    RoleCodeTaken,
    /// `admin` and `superadmin` cannot be deleted (inputs call it `code`).
    #[error("Built-in roles cannot be deleted.")]
    BuiltInRole,
    /// An organization name in use (inputs call it `name`).
    #[error("An organization with this name exists already.")]
    OrganizationNameTaken,
    /// An id that does not exist or lies outside the caller's reach: the two look the same.
    #[error("Nothing with this id exists within your reach.")]
    NotFound,
    /// Signed in, but not allowed to do this; the text says what is missing.
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("This change would leave no active superadmin.")]
    LastAdmin,
    /// Only ever after a correct password, so it reveals nothing to a guesser.
    #[error("This account has been deactivated.")]
    AccountDisabled,
    /// While verified email is required: after a correct password, and from every signup
    /// (new and taken addresses alike).
    #[error("Confirm your email address with the link we sent to it, then sign in.")]
    EmailNotVerified,
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
