use async_graphql::{Context, ID, Object};

use super::types::{CreateRoleInput, CreateUserInput, Role, UpdateUserInput};
use super::{parse_id, require_admin};
use crate::accounts::admin::{NewUser, UserChanges};
use crate::accounts::domain::{DisplayName, Email, FieldError, RoleCode, UserId};
use crate::accounts::{AccountError, Accounts};
use crate::graphql::context::request_meta;
use crate::graphql::errors::{OrGraphql as _, to_graphql};
use crate::graphql::input::{OrField as _, parse_optional};
use crate::graphql::types::{Organization, User};

/// Most role codes one user can be given in one call: far more than any real account has.
const MAX_ROLES: usize = 50;

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Creates an account in the caller's organization (a superadmin may name another).
    /// Without `password`, the account gets an invitation mail to choose one.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<User> {
        let admin = require_admin(ctx).await?;
        let new = NewUser {
            email: Email::parse(&input.email).or_field(ctx, "email")?,
            name: parse_optional(ctx, "name", input.name.as_deref(), DisplayName::parse)?,
            password: input.password.as_deref(),
            roles: role_codes(ctx, input.roles.as_deref())?.unwrap_or_default(),
            active: input.active.unwrap_or(true),
            email_verified: input.email_verified.unwrap_or(false),
            organization: input
                .organization_id
                .as_ref()
                .map(|id| parse_id(ctx, "organizationId", id))
                .transpose()?,
        };
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .create_user(&admin, new, &meta)
            .await
            .map_err(|error| match error {
                AccountError::NewPasswordRefused(refusal) => {
                    AccountError::InvalidInput(refusal.on("password"))
                }
                other => other,
            })
            .or_graphql(ctx)
            .map(User::from)
    }

    /// Changes an account. `roles` given is the whole new set. Removing a role or deactivating
    /// ends every session of the account at once.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> async_graphql::Result<User> {
        let admin = require_admin(ctx).await?;
        let id: UserId = parse_id(ctx, "id", &id)?;
        let changes = UserChanges {
            name: parse_optional(ctx, "name", input.name.as_deref(), DisplayName::parse)?,
            email: parse_optional(ctx, "email", input.email.as_deref(), Email::parse)?,
            active: input.active,
            roles: role_codes(ctx, input.roles.as_deref())?,
            email_verified: input.email_verified,
        };
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .update_user(&admin, id, changes, &meta)
            .await
            .or_graphql(ctx)
            .map(User::from)
    }

    /// Deletes an account and everything of it.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let admin = require_admin(ctx).await?;
        let id: UserId = parse_id(ctx, "id", &id)?;
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .delete_user(&admin, id, &meta)
            .await
            .or_graphql(ctx)
            .map(|()| true)
    }

    /// Ends every session of an account; answers how many were live.
    async fn revoke_user_sessions(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<u64> {
        let admin = require_admin(ctx).await?;
        let id: UserId = parse_id(ctx, "id", &id)?;
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .revoke_sessions_of(&admin, id, &meta)
            .await
            .or_graphql(ctx)
    }

    /// Defines a role. Superadmins only.
    async fn create_role(
        &self,
        ctx: &Context<'_>,
        input: CreateRoleInput,
    ) -> async_graphql::Result<Role> {
        let admin = require_admin(ctx).await?;
        let code = RoleCode::parse(&input.code).or_field(ctx, "code")?;
        let name = DisplayName::parse(&input.name).or_field(ctx, "name")?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .create_role(&admin, code, name)
            .await
            .or_graphql(ctx)
            .map(Role::from)
    }

    /// Deletes a role definition and takes it from every user who had it (ending their
    /// sessions). Superadmins only; built-in roles cannot be deleted.
    async fn delete_role(&self, ctx: &Context<'_>, code: String) -> async_graphql::Result<bool> {
        let admin = require_admin(ctx).await?;
        let code = RoleCode::parse(&code).or_field(ctx, "code")?;
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .delete_role(&admin, code, &meta)
            .await
            .or_graphql(ctx)
            .map(|()| true)
    }

    /// Creates an organization. Superadmins only.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 100 characters, unique.")] name: String,
    ) -> async_graphql::Result<Organization> {
        let admin = require_admin(ctx).await?;
        let name = DisplayName::parse(&name).or_field(ctx, "name")?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .create_organization(&admin, name)
            .await
            .or_graphql(ctx)
            .map(Organization::from)
    }
}

/// A `roles` input as role codes.
///
/// # Errors
/// `BAD_USER_INPUT` (`roles`) for more than 50 codes or one outside the pattern.
fn role_codes(
    ctx: &Context<'_>,
    raw: Option<&[String]>,
) -> async_graphql::Result<Option<Vec<RoleCode>>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw.len() > MAX_ROLES {
        return Err(to_graphql(
            ctx,
            AccountError::InvalidInput(FieldError::new(
                "roles",
                format!("At most {MAX_ROLES} roles."),
            )),
        ));
    }
    raw.iter()
        .map(|code| RoleCode::parse(code))
        .collect::<Result<Vec<_>, _>>()
        .or_field(ctx, "roles")
        .map(Some)
}
