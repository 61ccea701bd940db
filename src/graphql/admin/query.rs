use async_graphql::{Context, ID, Object};

use super::types::{OrganizationConnection, Role, UserConnection, UserFilterInput};
use super::{parse_id, require_admin};
use crate::accounts::admin::UserFilter;
use crate::accounts::admin::paging::PageRequest;
use crate::accounts::domain::{FieldError, RoleCode, UserId};
use crate::accounts::{AccountError, Accounts};
use crate::graphql::errors::{OrGraphql as _, to_graphql};
use crate::graphql::input::OrField as _;
use crate::graphql::types::User;

/// Longest substring a filter takes: an email's longest.
const FILTER_MAX_CHARS: usize = 254;

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Users within reach, newest first (admin: their organization; superadmin: all).
    async fn users(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilterInput>,
        #[graphql(default = 20, desc = "1 to 100.")] first: i32,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let admin = require_admin(ctx).await?;
        let page = PageRequest::parse(first, after.as_deref())
            .map_err(|refusal| to_graphql(ctx, AccountError::InvalidInput(refusal)))?;
        let filter = user_filter(ctx, filter.unwrap_or_default())?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let page = accounts
            .list_users(&admin, &filter, page)
            .await
            .or_graphql(ctx)?;
        Ok(UserConnection {
            page,
            admin,
            filter,
        })
    }

    /// One user within reach; null when there is none (unknown or out of reach alike).
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        let admin = require_admin(ctx).await?;
        let id: UserId = parse_id(ctx, "id", &id)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts
            .find_user(&admin, id)
            .await
            .or_graphql(ctx)?
            .map(User::from))
    }

    /// Every role definition, by code.
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Role>> {
        let admin = require_admin(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts
            .list_roles(&admin)
            .await
            .or_graphql(ctx)?
            .into_iter()
            .map(Role::from)
            .collect())
    }

    /// Every organization, newest first. Superadmins only.
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "1 to 100.")] first: i32,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> async_graphql::Result<OrganizationConnection> {
        let admin = require_admin(ctx).await?;
        let page = PageRequest::parse(first, after.as_deref())
            .map_err(|refusal| to_graphql(ctx, AccountError::InvalidInput(refusal)))?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let page = accounts
            .list_organizations(&admin, page)
            .await
            .or_graphql(ctx)?;
        Ok(OrganizationConnection { page, admin })
    }
}

fn user_filter(ctx: &Context<'_>, input: UserFilterInput) -> async_graphql::Result<UserFilter> {
    let refuse = |field: &'static str, message: String| {
        to_graphql(
            ctx,
            AccountError::InvalidInput(FieldError::new(field, message)),
        )
    };
    let substring = |field: &'static str, raw: Option<String>, max: usize| match raw {
        Some(text) if text.chars().count() > max => Err(refuse(
            field,
            format!("A filter has at most {max} characters."),
        )),
        // No stored email or name holds a control character, and PostgreSQL refuses a NUL in
        // any text it is given: such a filter is a mistake, not a search.
        Some(text) if text.chars().any(char::is_control) => Err(refuse(
            field,
            "A filter cannot contain control characters.".to_owned(),
        )),
        other => Ok(other),
    };
    Ok(UserFilter {
        email: substring("email", input.email, FILTER_MAX_CHARS)?,
        name: substring("name", input.name, 100)?,
        role: input
            .role
            .as_deref()
            .map(RoleCode::parse)
            .transpose()
            .or_field(ctx, "role")?,
        active: input.active,
        organization: input
            .organization_id
            .as_ref()
            .map(|id| parse_id(ctx, "organizationId", id))
            .transpose()?,
    })
}
