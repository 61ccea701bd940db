use async_graphql::{Context, Object};

use crate::accounts::domain::{DisplayName, Email, FieldError};
use crate::accounts::{AccountError, Accounts, ProfileChanges};
use crate::graphql::context::{client_addr, request_meta, require_caller};
use crate::graphql::errors::OrGraphql as _;
use crate::graphql::input::parse_optional;
use crate::graphql::types::{UpdateMeInput, User};

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Changes the signed-in account. Changing email or password needs `currentPassword`.
    async fn update_me(
        &self,
        ctx: &Context<'_>,
        input: UpdateMeInput,
    ) -> async_graphql::Result<User> {
        let caller = require_caller(ctx)?;
        let client = client_addr(ctx)?;
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let name = parse_optional(ctx, "name", input.name.as_deref(), DisplayName::parse)?;
        let email = parse_optional(ctx, "email", input.email.as_deref(), Email::parse)?;
        let changes = ProfileChanges {
            name,
            email,
            new_password: input.new_password.as_deref(),
            current_password: input.current_password.as_deref(),
        };
        accounts
            .update_me(caller, changes, client, &meta)
            .await
            .map_err(name_update_me_refusals)
            .or_graphql(ctx)
            .map(User::from)
    }

    /// Deletes the signed-in account and everything that belongs to it.
    async fn delete_me(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's current password.")] password: String,
    ) -> async_graphql::Result<bool> {
        let caller = require_caller(ctx)?;
        let client = client_addr(ctx)?;
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .delete_me(caller, &password, client, &meta)
            .await
            .or_graphql(ctx)
            .map(|()| true)
    }
}

/// Names the refusals `update_me` makes itself with the fields of `UpdateMeInput`.
fn name_update_me_refusals(error: AccountError) -> AccountError {
    match error {
        AccountError::NewPasswordRefused(refusal) => {
            AccountError::InvalidInput(refusal.on("newPassword"))
        }
        AccountError::CurrentPasswordRequired => {
            AccountError::InvalidInput(FieldError::new("currentPassword", error.to_string()))
        }
        other => other,
    }
}
