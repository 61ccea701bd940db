use async_graphql::{Context, Object};

use crate::accounts::Accounts;
use crate::accounts::domain::{DisplayName, Email};
use crate::graphql::context::{client_addr, request_meta};
use crate::graphql::errors::OrGraphql as _;
use crate::graphql::guards::Throttled;
use crate::graphql::input::{OrField as _, parse_optional};
use crate::graphql::types::{AuthPayload, LoginInput, SignupInput};
use crate::throttle::Limit;

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Creates an account, mails its address a verification link and signs it in. While
    /// verified email is required it signs nobody in and answers `EMAIL_NOT_VERIFIED`, for taken
    /// addresses too.
    #[graphql(guard = "Throttled(Limit::SignupPerAddress)")]
    async fn signup(
        &self,
        ctx: &Context<'_>,
        input: SignupInput,
    ) -> async_graphql::Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let email = Email::parse(&input.email).or_field(ctx, "email")?;
        let password = accounts
            .password_policy()
            .check(&input.password, &email)
            .or_field(ctx, "password")?;
        let name = parse_optional(ctx, "name", input.name.as_deref(), DisplayName::parse)?;
        let meta = request_meta(ctx)?;
        accounts
            .signup(email, password, name, &meta)
            .await
            .or_graphql(ctx)
            .map(AuthPayload::from)
    }

    /// Signs in with email and password. While verified email is required, an unverified
    /// account with the right password is `EMAIL_NOT_VERIFIED`.
    #[graphql(guard = "Throttled(Limit::LoginPerAddress)")]
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        let meta = request_meta(ctx)?;
        let client = client_addr(ctx)?;
        let email = Email::parse(&input.email).or_field(ctx, "email")?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .login(email, &input.password, client, &meta)
            .await
            .or_graphql(ctx)
            .map(AuthPayload::from)
    }

    /// Trades a refresh token for a new access and refresh token. The presented token stops
    /// working; presenting it again later ends the whole session.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token from the last sign-in or refresh.")]
        refresh_token: String,
    ) -> async_graphql::Result<AuthPayload> {
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .refresh(&refresh_token, &meta)
            .await
            .or_graphql(ctx)
            .map(AuthPayload::from)
    }

    /// Ends the session the refresh token belongs to. True even if it had already ended.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's current refresh token.")] refresh_token: String,
    ) -> async_graphql::Result<bool> {
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .logout(&refresh_token, &meta)
            .await
            .or_graphql(ctx)
            .map(|()| true)
    }
}
