//! The GraphQL object and input types. Built from the service's views field by field, so
//! nothing that is not listed here has a path to the wire (the password hash never leaves
//! `accounts` at all).

use async_graphql::{ComplexObject, Context, ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};

use super::errors::{OrGraphql as _, internal_error};
use crate::accounts::admin::OrganizationView;
use crate::accounts::domain::OrganizationId;
use crate::accounts::{Accounts, SignedIn, UserView};

/// An account.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    /// Stable, never reused, even after the account is deleted.
    pub id: ID,
    /// The sign-in address, trimmed and lower-cased.
    pub email: String,
    /// The display name, if one was given.
    pub name: Option<String>,
    /// Whether the address has been confirmed (`verifyEmail`). False after signup and after an
    /// email change.
    pub email_verified: bool,
    /// The address the account moves to once that address confirms it with `verifyEmail`;
    /// null unless a change awaits confirmation (only while verified email is required).
    pub pending_email: Option<String>,
    /// Role codes, sorted. They reach access tokens (the `roles` claim) at the next refresh.
    pub roles: Vec<String>,
    /// False once an administrator deactivated the account: it can neither sign in nor refresh.
    pub active: bool,
    /// When the account last signed in with its password; null if never.
    pub last_login_at: Option<DateTime<Utc>>,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account was last changed.
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub organization_id: OrganizationId,
}

#[ComplexObject]
impl User {
    /// The organization the account belongs to.
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Organization> {
        let accounts = ctx.data_unchecked::<Accounts>();
        match accounts
            .organization(self.organization_id)
            .await
            .or_graphql(ctx)?
        {
            Some(organization) => Ok(organization.into()),
            // Organizations are never deleted: a user without one is a broken database.
            None => Err(internal_error(ctx, "a user's organization does not exist")),
        }
    }
}

impl From<UserView> for User {
    fn from(user: UserView) -> Self {
        Self {
            id: ID(user.id.to_string()),
            email: user.email.into_string(),
            name: user.name,
            email_verified: user.email_verified,
            pending_email: user.pending_email.map(|email| email.into_string()),
            roles: user.roles,
            active: user.active,
            last_login_at: user.last_login_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
            organization_id: user.organization_id,
        }
    }
}

/// A tenant: every user belongs to exactly one. A fresh install has one, named `default`.
#[derive(SimpleObject)]
pub struct Organization {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<OrganizationView> for Organization {
    fn from(organization: OrganizationView) -> Self {
        Self {
            id: ID(organization.id.to_string()),
            name: organization.name,
            created_at: organization.created_at,
        }
    }
}

/// Tokens for a signed-in session.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A short-lived JWT: send it as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// An opaque, single-use token for `refreshToken`; a new one comes with every refresh.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until `accessToken` expires.
    pub expires_in: i64,
    /// The signed-in user.
    pub user: User,
}

impl From<SignedIn> for AuthPayload {
    fn from(signed_in: SignedIn) -> Self {
        Self {
            access_token: signed_in.access_token,
            refresh_token: signed_in.refresh_token,
            token_type: "Bearer".to_owned(),
            expires_in: signed_in.expires_in,
            user: signed_in.user.into(),
        }
    }
}

/// A new account.
#[derive(InputObject)]
pub struct SignupInput {
    /// At most 254 characters; compared case-insensitively.
    pub email: String,
    /// 8 to 128 characters; any character, spaces and emoji included.
    pub password: String,
    /// Optional display name, 1 to 100 characters.
    pub name: Option<String>,
}

/// Credentials to sign in with.
#[derive(InputObject)]
pub struct LoginInput {
    /// The account's email address.
    pub email: String,
    /// The account's password.
    pub password: String,
}

/// A reset token from the "reset your password" email and the password to set.
#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset link.
    pub token: String,
    /// The new password, under the same rules as at signup.
    pub new_password: String,
}

/// Changes to the signed-in account. Omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateMeInput {
    /// A new display name.
    pub name: Option<String>,
    /// A new email address; needs `currentPassword`. The new address starts unverified.
    pub email: Option<String>,
    /// A new password; needs `currentPassword`. Ends every other session.
    pub new_password: Option<String>,
    /// The current password, required to change email or password.
    pub current_password: Option<String>,
}
