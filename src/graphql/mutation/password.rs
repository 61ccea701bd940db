use async_graphql::{Context, Object};

use crate::accounts::domain::Email;
use crate::accounts::{AccountError, Accounts};
use crate::graphql::context::request_meta;
use crate::graphql::errors::OrGraphql as _;
use crate::graphql::guards::Throttled;
use crate::graphql::input::OrField as _;
use crate::graphql::types::ResetPasswordInput;
use crate::throttle::Limit;

#[derive(Default)]
pub struct PasswordMutation;

#[Object]
impl PasswordMutation {
    /// Emails a password-reset link if an account has this address. Always true for a
    /// well-formed address, so it reveals nothing about which accounts exist.
    #[graphql(guard = "Throttled(Limit::ForgotPasswordPerAddress)")]
    async fn forgot_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email address.")] email: String,
    ) -> async_graphql::Result<bool> {
        let email = Email::parse(&email).or_field(ctx, "email")?;
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .forgot_password(email, &meta)
            .await
            .or_graphql(ctx)
            .map(|()| true)
    }

    /// Sets a new password with the token from a reset link. Ends every session of the account.
    #[graphql(guard = "Throttled(Limit::ResetPasswordPerAddress)")]
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> async_graphql::Result<bool> {
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .reset_password(&input.token, &input.new_password, &meta)
            .await
            .map_err(|error| match error {
                AccountError::NewPasswordRefused(refusal) => {
                    AccountError::InvalidInput(refusal.on("newPassword"))
                }
                other => other,
            })
            .or_graphql(ctx)
            .map(|()| true)
    }
}
