use async_graphql::{Context, Object};

use crate::accounts::{Accounts, ProfileChanges};
use crate::graphql::context::{client_addr, require_caller};
use crate::graphql::errors::OrGraphql as _;
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
        let accounts = ctx.data_unchecked::<Accounts>();
        let changes = ProfileChanges {
            name: input.name.as_deref(),
            email: input.email.as_deref(),
            new_password: input.new_password.as_deref(),
            current_password: input.current_password.as_deref(),
        };
        accounts
            .update_me(caller, changes, client)
            .await
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
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .delete_me(caller, &password, client)
            .await
            .or_graphql(ctx)
            .map(|()| true)
    }
}
