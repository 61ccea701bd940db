//! The administration API: users, roles and organizations. Every resolver here starts with
//! [`require_admin`], and the service's admin operations cannot be called without the
//! `ActingAdmin` it returns, so no admin field can skip the check.

mod mutation;
mod query;
mod types;

use async_graphql::{Context, ID};
use uuid::Uuid;

pub use self::mutation::AdminMutation;
pub use self::query::AdminQuery;
pub(super) use self::types::{PageInfo, page_info};
use super::context::require_caller;
use super::errors::OrGraphql as _;
use crate::accounts::admin::ActingAdmin;
use crate::accounts::domain::FieldError;
use crate::accounts::{AccountError, Accounts};
use crate::graphql::errors::to_graphql;

/// The caller as an administrator, from their live roles.
///
/// # Errors
/// `UNAUTHENTICATED` without a live session; `FORBIDDEN` without the admin or superadmin role.
pub async fn require_admin(ctx: &Context<'_>) -> async_graphql::Result<ActingAdmin> {
    let caller = require_caller(ctx)?;
    ctx.data_unchecked::<Accounts>()
        .acting_admin(caller)
        .await
        .or_graphql(ctx)
}

/// An `ID` argument as the UUID it must be.
///
/// # Errors
/// `BAD_USER_INPUT` naming `field` when it is not one.
pub(super) fn parse_id<T: From<Uuid>>(
    ctx: &Context<'_>,
    field: &'static str,
    id: &ID,
) -> async_graphql::Result<T> {
    // Real ids are 36 characters; do not parse (or echo) anything much longer.
    Uuid::try_parse(id.as_str())
        .ok()
        .filter(|_| id.len() <= 40)
        .map(T::from)
        .ok_or_else(|| {
            to_graphql(
                ctx,
                AccountError::InvalidInput(FieldError::new(
                    field,
                    "This is not an id latchkey made.",
                )),
            )
        })
}
