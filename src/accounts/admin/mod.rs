//! Administration: the one place that decides whether a caller may administer, and the
//! operations an administrator runs on users, roles and organizations.
//!
//! Every operation here takes an [`ActingAdmin`], which only [`Accounts::acting_admin`] makes,
//! from the caller's live roles and active flag (never the token's copy). An admin's reach is
//! their own organization, a superadmin's every organization; the reach is part of each query,
//! so nothing outside it is ever loaded.

pub mod bootstrap;
mod organizations;
pub mod paging;
mod roles;
mod users;

use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
    QuerySelect as _, Select,
};
use uuid::Uuid;

pub(super) use self::organizations::KnownOrganizations;
pub use self::organizations::OrganizationView;
pub use self::roles::RoleView;
pub use self::users::{NewUser, UserChanges, UserFilter};
use super::domain::{OrganizationId, RoleCode, UserId};
use super::{AccountError, Accounts, Caller};
use crate::entities::{role, user, user_role};

/// A signed-in, active administrator, as of this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActingAdmin {
    user_id: UserId,
    organization_id: OrganizationId,
    superadmin: bool,
}

impl ActingAdmin {
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    pub fn is_superadmin(&self) -> bool {
        self.superadmin
    }

    /// The one organization this admin reaches; `None` for a superadmin, who reaches all.
    pub(in crate::accounts) fn organization_reach(&self) -> Option<OrganizationId> {
        (!self.superadmin).then_some(self.organization_id)
    }

    /// # Errors
    /// `Forbidden` for an admin who is not a superadmin.
    fn require_superadmin(&self, what: &'static str) -> Result<(), AccountError> {
        if self.superadmin {
            Ok(())
        } else {
            Err(AccountError::Forbidden(what))
        }
    }

    /// `users` narrowed to the ones this admin may see.
    fn reach(&self, users: Select<user::Entity>) -> Select<user::Entity> {
        if self.superadmin {
            users
        } else {
            users.filter(user::Column::OrganizationId.eq(Uuid::from(self.organization_id)))
        }
    }
}

impl Accounts {
    /// The caller as an administrator: the authorization of every admin operation. Reads the
    /// caller's current roles and active flag; the session cache may answer, because every
    /// change to them forgets the user's entries here and, through NOTIFY, on other instances.
    ///
    /// # Errors
    /// `Unauthenticated` when the session has ended; `Forbidden` without the admin or
    /// superadmin role.
    pub async fn acting_admin(&self, caller: Caller) -> Result<ActingAdmin, AccountError> {
        let Some(user) = self.live_user(caller).await? else {
            return Err(AccountError::Unauthenticated);
        };
        let superadmin = user.has_role(RoleCode::SUPERADMIN);
        if !superadmin && !user.has_role(RoleCode::ADMIN) {
            return Err(AccountError::Forbidden(
                "This needs the admin or superadmin role.",
            ));
        }
        Ok(ActingAdmin {
            user_id: user.id,
            organization_id: user.organization_id,
            superadmin,
        })
    }
}

/// Refuses a change that would take away `leaving`'s standing as an active superadmin when no
/// other active superadmin would remain. Call inside the write transaction of that change, before
/// it: on PostgreSQL it takes a row lock that makes such changes take turns, so two superadmins
/// demoting each other at once cannot both succeed (SQLite's write lock already serialises them).
///
/// # Errors
/// `LastAdmin`.
pub(super) async fn keep_a_superadmin<C: ConnectionTrait>(
    txn: &C,
    leaving: UserId,
) -> Result<(), AccountError> {
    role::Entity::find_by_id(RoleCode::SUPERADMIN)
        .lock_exclusive()
        .one(txn)
        .await?;
    let superadmins = || {
        user::Entity::find()
            .filter(user::Column::Active.eq(true))
            .filter(
                user::Column::Id.in_subquery(
                    Query::select()
                        .column(user_role::Column::UserId)
                        .from(user_role::Entity)
                        .and_where(user_role::Column::RoleCode.eq(RoleCode::SUPERADMIN))
                        .to_owned(),
                ),
            )
    };
    let leaving = Uuid::from(leaving);
    let is_one = superadmins()
        .filter(user::Column::Id.eq(leaving))
        .count(txn)
        .await?
        > 0;
    if !is_one {
        return Ok(());
    }
    let others = superadmins()
        .filter(user::Column::Id.ne(leaving))
        .count(txn)
        .await?;
    if others == 0 {
        return Err(AccountError::LastAdmin);
    }
    Ok(())
}
