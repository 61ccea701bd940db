//! `UserView`s from account rows: each row with its roles, read in one query for a whole page.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _, QueryOrder as _,
};
use uuid::Uuid;

use super::UserView;
use super::domain::{Email, OrganizationId, UserId};
use crate::entities::{user, user_role};

impl UserView {
    /// `user` with `roles` (any order).
    pub(super) fn with_roles(user: user::Model, mut roles: Vec<String>) -> Self {
        roles.sort_unstable();
        Self {
            id: UserId::from(user.id),
            email: Email::from_stored(user.email),
            name: user.name,
            email_verified: user.email_verified,
            pending_email: user.pending_email.map(Email::from_stored),
            organization_id: OrganizationId::from(user.organization_id),
            active: user.active,
            roles,
            last_login_at: user.last_login_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// The role codes of one user, sorted.
pub(super) async fn roles_of<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
) -> Result<Vec<String>, DbErr> {
    Ok(user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .order_by_asc(user_role::Column::RoleCode)
        .all(conn)
        .await?
        .into_iter()
        .map(|grant| grant.role_code)
        .collect())
}

pub(super) async fn view_of<C: ConnectionTrait>(
    conn: &C,
    user: user::Model,
) -> Result<UserView, DbErr> {
    let roles = roles_of(conn, user.id).await?;
    Ok(UserView::with_roles(user, roles))
}

/// Views of `users` in their order, with one query for all their roles.
pub(super) async fn views_of<C: ConnectionTrait>(
    conn: &C,
    users: Vec<user::Model>,
) -> Result<Vec<UserView>, DbErr> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut roles: HashMap<Uuid, Vec<String>> = HashMap::new();
    let grants = user_role::Entity::find()
        .filter(user_role::Column::UserId.is_in(users.iter().map(|user| user.id)))
        .all(conn)
        .await?;
    for grant in grants {
        roles
            .entry(grant.user_id)
            .or_default()
            .push(grant.role_code);
    }
    Ok(users
        .into_iter()
        .map(|user| {
            let granted = roles.remove(&user.id).unwrap_or_default();
            UserView::with_roles(user, granted)
        })
        .collect())
}
