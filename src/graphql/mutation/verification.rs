//! Email verification: confirming an address with the token from a link, and asking for a new
//! link. Neither needs a sign-in.

use async_graphql::{Context, Object};

use crate::accounts::Accounts;
use crate::accounts::domain::Email;
use crate::graphql::context::request_meta;
use crate::graphql::errors::OrGraphql as _;
use crate::graphql::guards::Throttled;
use crate::graphql::input::OrField as _;
use crate::graphql::types::User;
use crate::throttle::Limit;

#[derive(Default)]
pub struct VerificationMutation;

#[Object]
impl VerificationMutation {
    /// Confirms an address with the token from a verification link: marks the account's email
    /// verified, or, for a change awaiting confirmation, makes `pendingEmail` the email.
    #[graphql(guard = "Throttled(Limit::VerifyEmailPerAddress)")]
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the verification link.")] token: String,
    ) -> async_graphql::Result<User> {
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .verify_email(&token, &meta)
            .await
            .or_graphql(ctx)
            .map(User::from)
    }

    /// Mails a new verification link if an account has this address unverified, or awaits
    /// confirmation of a change to it. Always true for a well-formed address, so it reveals
    /// nothing about which accounts exist.
    #[graphql(guard = "Throttled(Limit::VerificationMailPerAddress)")]
    async fn resend_verification_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address to confirm.")] email: String,
    ) -> async_graphql::Result<bool> {
        let email = Email::parse(&email).or_field(ctx, "email")?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .resend_verification_email(email)
            .await
            .or_graphql(ctx)
            .map(|()| true)
    }
}
