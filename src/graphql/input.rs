//! Input values to domain values: resolvers parse with `accounts::domain` and name a refusal
//! here by its GraphQL field, so the service never needs to know what a field is called.

use async_graphql::Context;

use crate::accounts::AccountError;
use crate::accounts::domain::Invalid;
use crate::graphql::errors::to_graphql;

/// `Email::parse(&input.email).or_field(ctx, "email")?` in resolvers.
pub(crate) trait OrField<T> {
    /// # Errors
    /// `BAD_USER_INPUT` with `extensions.field` set to `field`.
    fn or_field(self, ctx: &Context<'_>, field: &'static str) -> async_graphql::Result<T>;
}

impl<T> OrField<T> for Result<T, Invalid> {
    fn or_field(self, ctx: &Context<'_>, field: &'static str) -> async_graphql::Result<T> {
        self.map_err(|refusal| to_graphql(ctx, AccountError::InvalidInput(refusal.on(field))))
    }
}

/// An optional input, parsed when it is given:
/// `parse_optional(ctx, "name", input.name.as_deref(), DisplayName::parse)?`.
///
/// # Errors
/// `BAD_USER_INPUT` for `field` when the value is given and refused.
pub(crate) fn parse_optional<T>(
    ctx: &Context<'_>,
    field: &'static str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> async_graphql::Result<Option<T>> {
    raw.map(parse).transpose().or_field(ctx, field)
}
