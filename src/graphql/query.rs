use async_graphql::{Context, MergedObject, Object};

use super::context::require_caller;
use super::errors::OrGraphql as _;
use super::types::User;
use crate::accounts::Accounts;

#[derive(MergedObject, Default)]
pub struct Query(
    AccountQuery,
    super::my_sessions::MySessionsQuery,
    super::admin::AdminQuery,
    super::audit::AuditQuery,
);

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user. Needs a valid access token.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let caller = require_caller(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts.me(caller).await.or_graphql(ctx).map(User::from)
    }
}
