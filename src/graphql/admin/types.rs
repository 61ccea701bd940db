//! GraphQL types of the administration API. Connections follow one shape: `edges { cursor
//! node }`, `nodes`, `pageInfo { hasNextPage endCursor }` and `totalCount`, which is counted only
//! when selected.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::accounts::admin::paging::{Cursor, Page};
use crate::accounts::admin::{ActingAdmin, OrganizationView, RoleView, UserFilter};
use crate::accounts::{Accounts, UserView};
use crate::graphql::errors::OrGraphql as _;
use crate::graphql::types::{Organization, User};

/// A role definition. `admin` and `superadmin` are built in.
#[derive(SimpleObject)]
pub struct Role {
    /// `^[a-z][a-z0-9_-]{0,31}$`, as it appears in `User.roles` and in access tokens.
    pub code: String,
    pub name: String,
    /// Built-in roles cannot be deleted.
    pub built_in: bool,
}

impl From<RoleView> for Role {
    fn from(role: RoleView) -> Self {
        Self {
            code: role.code,
            name: role.name,
            built_in: role.built_in,
        }
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether another page follows this one.
    pub has_next_page: bool,
    /// Pass as `after` for the next page; null on an empty page.
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct UserEdge {
    pub cursor: String,
    pub node: User,
}

#[derive(SimpleObject)]
pub struct OrganizationEdge {
    pub cursor: String,
    pub node: Organization,
}

pub(in crate::graphql) fn page_info<T>(page: &Page<T>, cursor: impl Fn(&T) -> Cursor) -> PageInfo {
    PageInfo {
        has_next_page: page.has_next_page,
        end_cursor: page.items.last().map(|item| cursor(item).encode()),
    }
}

fn user_cursor(user: &UserView) -> Cursor {
    Cursor {
        created_at: user.created_at,
        id: user.id.into(),
    }
}

fn organization_cursor(organization: &OrganizationView) -> Cursor {
    Cursor {
        created_at: organization.created_at,
        id: organization.id.into(),
    }
}

/// A page of users, newest first.
pub struct UserConnection {
    pub(super) page: Page<UserView>,
    pub(super) admin: ActingAdmin,
    pub(super) filter: UserFilter,
}

#[Object]
impl UserConnection {
    async fn edges(&self) -> Vec<UserEdge> {
        self.page
            .items
            .iter()
            .map(|user| UserEdge {
                cursor: user_cursor(user).encode(),
                node: User::from(user.clone()),
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<User> {
        self.page.items.iter().cloned().map(User::from).collect()
    }

    async fn page_info(&self) -> PageInfo {
        page_info(&self.page, user_cursor)
    }

    /// How many users match the filter, on every page. Costs a count of all of them.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        ctx.data_unchecked::<Accounts>()
            .count_users(&self.admin, &self.filter)
            .await
            .or_graphql(ctx)
    }
}

/// A page of organizations, newest first.
pub struct OrganizationConnection {
    pub(super) page: Page<OrganizationView>,
    pub(super) admin: ActingAdmin,
}

#[Object]
impl OrganizationConnection {
    async fn edges(&self) -> Vec<OrganizationEdge> {
        self.page
            .items
            .iter()
            .map(|organization| OrganizationEdge {
                cursor: organization_cursor(organization).encode(),
                node: Organization::from(organization.clone()),
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<Organization> {
        self.page
            .items
            .iter()
            .cloned()
            .map(Organization::from)
            .collect()
    }

    async fn page_info(&self) -> PageInfo {
        page_info(&self.page, organization_cursor)
    }

    /// How many organizations there are.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        ctx.data_unchecked::<Accounts>()
            .count_organizations(&self.admin)
            .await
            .or_graphql(ctx)
    }
}

/// Which users to list; every condition given must hold.
#[derive(InputObject, Default)]
#[graphql(name = "UserFilter")]
pub struct UserFilterInput {
    /// Case-insensitive substring of the email, at most 254 characters.
    pub email: Option<String>,
    /// Case-insensitive substring of the name, at most 100 characters.
    pub name: Option<String>,
    /// Has this role.
    pub role: Option<String>,
    pub active: Option<bool>,
    /// Superadmins only; admins always see their own organization alone.
    pub organization_id: Option<ID>,
}

/// An account an administrator creates.
#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub name: Option<String>,
    /// Omitted: the account gets no password, and an invitation mail with a set-password link
    /// (accepted by `resetPassword`).
    pub password: Option<String>,
    /// Role codes; default none. Granting `superadmin` takes a superadmin.
    pub roles: Option<Vec<String>>,
    /// Default true.
    pub active: Option<bool>,
    /// Default false.
    pub email_verified: Option<bool>,
    /// Superadmins only; default the caller's organization.
    pub organization_id: Option<ID>,
}

/// Changes to an account; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateUserInput {
    pub name: Option<String>,
    /// A new address starts unverified unless `emailVerified` says otherwise.
    pub email: Option<String>,
    /// False ends every session of the account and keeps it from signing in.
    pub active: Option<bool>,
    /// The whole new set of role codes; removing one ends every session of the account.
    pub roles: Option<Vec<String>>,
    pub email_verified: Option<bool>,
}

/// A new role definition.
#[derive(InputObject)]
pub struct CreateRoleInput {
    /// `^[a-z][a-z0-9_-]{0,31}$`.
    pub code: String,
    /// 1 to 100 characters.
    pub name: String,
}
