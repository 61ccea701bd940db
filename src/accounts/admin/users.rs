//! An administrator's work on users: listing and finding them within reach, creating them (with
//! a password, or with an invitation to choose one), changing, deactivating and deleting them,
//! and ending their sessions.

use std::collections::BTreeSet;

use chrono::Utc;
use sea_orm::sea_query::extension::sqlite::SqliteExpr as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, Func, LikeExpr, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, DbBackend, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::paging::{Page, PageRequest};
use super::{ActingAdmin, keep_a_superadmin};
use crate::accounts::domain::{DisplayName, Email, OrganizationId, RoleCode, UserId};
use crate::accounts::email_verification::AddressProof;
use crate::accounts::password_reset::{SetPasswordPurpose, kill_reset_tokens};
use crate::accounts::session_events::SessionChange;
use crate::accounts::sessions::revoke_user_sessions;
use crate::accounts::{AccountError, AccountEvent, Accounts, UserView, user_views};
use crate::audit::{AuditEntry, AuditType, RequestMeta};
use crate::auth::opaque_token::OpaqueToken;
use crate::auth::password::NO_PASSWORD;
use crate::db;
use crate::entities::{organization, password_reset_token, role, user, user_role};
use crate::mail::MailKind;

/// Which users to list. Substrings match case-insensitively; all given conditions must hold.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<RoleCode>,
    pub active: Option<bool>,
    /// Superadmins only; an admin's list is always their own organization.
    pub organization: Option<OrganizationId>,
}

/// An account an administrator creates.
pub struct NewUser<'a> {
    pub email: Email,
    pub name: Option<DisplayName>,
    /// `None`: the account gets no password, and an invitation to choose one.
    pub password: Option<&'a str>,
    pub roles: Vec<RoleCode>,
    pub active: bool,
    pub email_verified: bool,
    /// Superadmins only; default the administrator's own organization.
    pub organization: Option<OrganizationId>,
}

/// Changes to an account; `None` leaves a field as it is. `roles` is the whole new set.
#[derive(Default)]
pub struct UserChanges {
    pub name: Option<DisplayName>,
    pub email: Option<Email>,
    pub active: Option<bool>,
    pub roles: Option<Vec<RoleCode>>,
    pub email_verified: Option<bool>,
}

impl Accounts {
    /// A page of the users within the admin's reach that match `filter`, newest first.
    ///
    /// # Errors
    /// `Forbidden` when an admin who is not a superadmin names an organization.
    pub async fn list_users(
        &self,
        admin: &ActingAdmin,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<UserView>, AccountError> {
        let mut query = filtered(admin, filter, self.db().get_database_backend())?;
        if let Some(after) = page.after {
            query = query.filter(after.after(user::Column::CreatedAt, user::Column::Id));
        }
        let rows = query
            .order_by_desc(user::Column::CreatedAt)
            .order_by_desc(user::Column::Id)
            .limit(page.first + 1)
            .all(self.db())
            .await?;
        let page_rows = Page::from_rows(rows, page);
        Ok(Page {
            items: user_views::views_of(self.db(), page_rows.items).await?,
            has_next_page: page_rows.has_next_page,
        })
    }

    /// How many users within reach match `filter`: a count over every match, so it costs in
    /// proportion to them (asked for only when a client selects `totalCount`).
    ///
    /// # Errors
    /// As [`Accounts::list_users`].
    pub async fn count_users(
        &self,
        admin: &ActingAdmin,
        filter: &UserFilter,
    ) -> Result<u64, AccountError> {
        let backend = self.db().get_database_backend();
        Ok(filtered(admin, filter, backend)?.count(self.db()).await?)
    }

    /// One user within reach, or `None` (unknown and out of reach alike).
    ///
    /// # Errors
    /// A database error.
    pub async fn find_user(
        &self,
        admin: &ActingAdmin,
        id: UserId,
    ) -> Result<Option<UserView>, AccountError> {
        match self.user_in_reach(self.db(), admin, id).await? {
            Some(user) => Ok(Some(user_views::view_of(self.db(), user).await?)),
            None => Ok(None),
        }
    }

    /// Creates an account. Without a password it gets none, and an invitation mail whose link
    /// sets one (through `reset_password`); with one, unless created verified, a verification
    /// link.
    ///
    /// # Errors
    /// `EmailTaken`; `UnknownRole`; `NewPasswordRefused`; `NotFound` for an unknown
    /// organization; `Forbidden` for an admin granting `superadmin` or naming an organization.
    #[tracing::instrument(skip_all, fields(admin.id = %admin.user_id()))]
    pub async fn create_user(
        &self,
        admin: &ActingAdmin,
        new: NewUser<'_>,
        meta: &RequestMeta,
    ) -> Result<UserView, AccountError> {
        let organization_id = match new.organization {
            Some(id) => {
                admin.require_superadmin("Only a superadmin can choose the organization.")?;
                organization::Entity::find_by_id(Uuid::from(id))
                    .one(self.db())
                    .await?
                    .ok_or(AccountError::NotFound)?;
                id
            }
            None => admin.organization_id,
        };
        let roles = self.grantable(self.db(), admin, &new.roles, &[]).await?;
        let password_hash = match new.password {
            Some(raw) => {
                let password = self
                    .password_policy()
                    .check(raw, &new.email)
                    .map_err(AccountError::NewPasswordRefused)?;
                self.inner.hasher.hash(password.into_secret()).await?
            }
            None => NO_PASSWORD.to_owned(),
        };

        let now = Utc::now();
        let txn = db::begin_write(self.db()).await?;
        let inserted = user::ActiveModel {
            id: Set(UserId::random().into()),
            email: Set(new.email.as_str().to_owned()),
            name: Set(new.name.map(DisplayName::into_string)),
            password_hash: Set(password_hash),
            email_verified: Set(new.email_verified),
            pending_email: Set(None),
            organization_id: Set(organization_id.into()),
            active: Set(new.active),
            last_login_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await;
        let user = match inserted {
            Ok(user) => user,
            Err(error) if db::is_unique_violation(&error) => return Err(AccountError::EmailTaken),
            Err(error) => return Err(error.into()),
        };
        grant(&txn, user.id, &roles).await?;
        let invited = new.password.is_none();
        let entry = AuditEntry::new(AuditType::UserCreated)
            .actor(admin.user_id)
            .about(user.id, user.organization_id)
            .detail("invited", invited)
            .detail("roles", role_names(&roles));
        let event = self.audit(&txn, meta, entry).await?;
        // An invitation proves the address when it is accepted, so it stands in for the
        // verification link; an account with a password gets one unless already verified.
        let mails_link = !invited && !user.email_verified;
        if invited {
            self.invite(&txn, &user).await?;
        } else if mails_link {
            self.mail_verification_link(&txn, user.id, &user.email, AddressProof::Current)
                .await?;
        }
        txn.commit().await?;
        self.audited([event]);
        if invited || mails_link {
            self.inner.outbox.wake();
        }
        tracing::info!(user.id = %user.id, invited, "account created by an administrator");
        self.emit(AccountEvent::Created {
            user_id: UserId::from(user.id),
            email: user.email.clone(),
        });
        Ok(UserView::with_roles(
            user,
            roles.into_iter().map(RoleCode::into_string).collect(),
        ))
    }

    /// Changes an account. Removing a role or deactivating ends every session of the account;
    /// a new email starts unverified (unless `email_verified` says otherwise) and the old address
    /// is told.
    ///
    /// # Errors
    /// `NotFound` out of reach; `Forbidden` for an admin touching a superadmin or granting
    /// `superadmin`; `LastAdmin`; `EmailTaken`; `UnknownRole`.
    #[tracing::instrument(skip_all, fields(admin.id = %admin.user_id(), user.id = %id))]
    pub async fn update_user(
        &self,
        admin: &ActingAdmin,
        id: UserId,
        changes: UserChanges,
        meta: &RequestMeta,
    ) -> Result<UserView, AccountError> {
        let txn = db::begin_write(self.db()).await?;
        let current = self.modifiable(&txn, admin, id).await?;
        let held = user_views::roles_of(&txn, current.id).await?;
        let new_roles = match &changes.roles {
            Some(wanted) => Some(self.grantable(&txn, admin, wanted, &held).await?),
            None => None,
        };
        let removed: Vec<&String> = match &new_roles {
            Some(wanted) => held
                .iter()
                .filter(|code| !wanted.iter().any(|role| role.as_str() == code.as_str()))
                .collect(),
            None => Vec::new(),
        };
        let added: Vec<&str> = match &new_roles {
            Some(wanted) => wanted
                .iter()
                .map(RoleCode::as_str)
                .filter(|code| !held.iter().any(|held| held == code))
                .collect(),
            None => Vec::new(),
        };
        let deactivating = current.active && changes.active == Some(false);
        let activating = !current.active && changes.active == Some(true);
        if deactivating || removed.iter().any(|code| *code == RoleCode::SUPERADMIN) {
            keep_a_superadmin(&txn, id).await?;
        }

        let email = changes
            .email
            .filter(|email| email.as_str() != current.email);
        let mut updated: user::ActiveModel = current.clone().into();
        if let Some(name) = changes.name {
            updated.name = Set(Some(name.into_string()));
        }
        if let Some(email) = &email {
            updated.email = Set(email.as_str().to_owned());
            updated.email_verified = Set(false);
        }
        if let Some(verified) = changes.email_verified {
            updated.email_verified = Set(verified);
        }
        if let Some(active) = changes.active {
            updated.active = Set(active);
        }
        updated.updated_at = Set(Utc::now());
        let updated = match updated.update(&txn).await {
            Ok(updated) => updated,
            Err(error) if db::is_unique_violation(&error) => return Err(AccountError::EmailTaken),
            Err(error) => return Err(error.into()),
        };
        if let Some(wanted) = &new_roles {
            user_role::Entity::delete_many()
                .filter(user_role::Column::UserId.eq(updated.id))
                .exec(&txn)
                .await?;
            grant(&txn, updated.id, wanted).await?;
        }
        let ends_sessions = deactivating || !removed.is_empty();
        if ends_sessions {
            revoke_user_sessions(&txn, id, None).await?;
        }
        // One event per kind of change, each naming what changed; never a password.
        let about = |kind| {
            AuditEntry::new(kind)
                .actor(admin.user_id)
                .about(current.id, current.organization_id)
        };
        let mut fields = Vec::new();
        if updated.name != current.name {
            fields.push("name");
        }
        if changes.email_verified.is_some() && updated.email_verified != current.email_verified {
            fields.push("emailVerified");
        }
        let mut entries = Vec::new();
        if !fields.is_empty() {
            entries.push(about(AuditType::UserUpdated).detail("fields", fields));
        }
        if let Some(email) = &email {
            entries.push(
                about(AuditType::EmailChanged)
                    .detail("old_email", current.email.as_str())
                    .detail("new_email", email.as_str()),
            );
        }
        if !added.is_empty() || !removed.is_empty() {
            let removed: Vec<&str> = removed.iter().map(|code| code.as_str()).collect();
            entries.push(
                about(AuditType::RolesChanged)
                    .detail("added", added)
                    .detail("removed", removed),
            );
        }
        if deactivating {
            entries.push(about(AuditType::UserDeactivated));
        } else if activating {
            entries.push(about(AuditType::UserActivated));
        }
        let mut events = Vec::with_capacity(entries.len());
        for entry in entries {
            events.push(self.audit(&txn, meta, entry).await?);
        }
        if let Some(email) = &email {
            // A reset link mailed to the old address must not take the account back.
            kill_reset_tokens(&txn, id).await?;
            let notice =
                json!({"name": null, "old_email": current.email, "new_email": email.as_str()});
            let mail = self.inner.outbox.render(MailKind::EmailChanged, &notice)?;
            self.inner
                .outbox
                .enqueue(&txn, Some(current.id), &current.email, mail)
                .await?;
        }
        let view = user_views::view_of(&txn, updated).await?;
        txn.commit().await?;
        self.audited(events);
        self.sessions_changed(SessionChange::User(id)).await;
        if email.is_some() {
            self.inner.outbox.wake();
        }
        tracing::info!(ends_sessions, "account changed by an administrator");
        self.emit(AccountEvent::Updated { user_id: id });
        Ok(view)
    }

    /// Deletes an account and everything of it.
    ///
    /// # Errors
    /// `NotFound` out of reach; `Forbidden` for an admin deleting a superadmin; `LastAdmin`.
    #[tracing::instrument(skip_all, fields(admin.id = %admin.user_id(), user.id = %id))]
    pub async fn delete_user(
        &self,
        admin: &ActingAdmin,
        id: UserId,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let txn = db::begin_write(self.db()).await?;
        let deleted = self.modifiable(&txn, admin, id).await?;
        keep_a_superadmin(&txn, id).await?;
        let entry = AuditEntry::new(AuditType::UserDeleted)
            .actor(admin.user_id)
            .about(deleted.id, deleted.organization_id);
        let event = self.audit(&txn, meta, entry).await?;
        user::Entity::delete_by_id(Uuid::from(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.audited([event]);
        self.sessions_changed(SessionChange::User(id)).await;
        tracing::info!("account deleted by an administrator");
        self.emit(AccountEvent::Deleted { user_id: id });
        Ok(())
    }

    /// Ends every session of an account, as `logout` would; returns how many were live.
    ///
    /// # Errors
    /// `NotFound` out of reach; `Forbidden` for an admin and a superadmin's sessions.
    #[tracing::instrument(skip_all, fields(admin.id = %admin.user_id(), user.id = %id))]
    pub async fn revoke_sessions_of(
        &self,
        admin: &ActingAdmin,
        id: UserId,
        meta: &RequestMeta,
    ) -> Result<u64, AccountError> {
        let txn = db::begin_write(self.db()).await?;
        let owner = self.modifiable(&txn, admin, id).await?;
        let ended = revoke_user_sessions(&txn, id, None).await?;
        let entry = AuditEntry::new(AuditType::SessionsRevoked)
            .actor(admin.user_id)
            .about(owner.id, owner.organization_id)
            .detail("count", ended);
        let event = self.audit(&txn, meta, entry).await?;
        txn.commit().await?;
        self.audited([event]);
        self.sessions_changed(SessionChange::User(id)).await;
        Ok(ended)
    }

    async fn user_in_reach<C: ConnectionTrait>(
        &self,
        conn: &C,
        admin: &ActingAdmin,
        id: UserId,
    ) -> Result<Option<user::Model>, AccountError> {
        Ok(admin
            .reach(user::Entity::find_by_id(Uuid::from(id)))
            .one(conn)
            .await?)
    }

    /// A user this admin may change: within reach, and not a superadmin unless the admin is one.
    async fn modifiable<C: ConnectionTrait>(
        &self,
        txn: &C,
        admin: &ActingAdmin,
        id: UserId,
    ) -> Result<user::Model, AccountError> {
        let user = self
            .user_in_reach(txn, admin, id)
            .await?
            .ok_or(AccountError::NotFound)?;
        if !admin.is_superadmin() {
            let superadmin =
                user_role::Entity::find_by_id((user.id, RoleCode::SUPERADMIN.to_owned()))
                    .one(txn)
                    .await?
                    .is_some();
            if superadmin {
                return Err(AccountError::Forbidden(
                    "Only a superadmin can change a superadmin.",
                ));
            }
        }
        Ok(user)
    }

    /// `wanted` without repeats, once every code is known to exist and the admin may grant
    /// each one that is new (`held` are the roles the user has already).
    async fn grantable<C: ConnectionTrait>(
        &self,
        conn: &C,
        admin: &ActingAdmin,
        wanted: &[RoleCode],
        held: &[String],
    ) -> Result<Vec<RoleCode>, AccountError> {
        let wanted: BTreeSet<&RoleCode> = wanted.iter().collect();
        let known: BTreeSet<String> = role::Entity::find()
            .filter(role::Column::Code.is_in(wanted.iter().map(|code| code.as_str())))
            .all(conn)
            .await?
            .into_iter()
            .map(|role| role.code)
            .collect();
        if let Some(unknown) = wanted.iter().find(|code| !known.contains(code.as_str())) {
            return Err(AccountError::UnknownRole(unknown.as_str().to_owned()));
        }
        let grants_superadmin = wanted
            .iter()
            .any(|code| code.as_str() == RoleCode::SUPERADMIN)
            && !held.iter().any(|code| code == RoleCode::SUPERADMIN);
        if grants_superadmin {
            admin.require_superadmin("Only a superadmin can grant the superadmin role.")?;
        }
        Ok(wanted.into_iter().cloned().collect())
    }

    /// Mails an invitation: a set-password token with its own lifetime.
    async fn invite<C: ConnectionTrait>(
        &self,
        txn: &C,
        user: &user::Model,
    ) -> Result<(), AccountError> {
        let token = OpaqueToken::generate();
        let now = Utc::now();
        let ttl = self.inner.settings.invite_ttl;
        let link = self
            .inner
            .settings
            .invite_url
            .replace("{token}", &token.token);
        let mail = self.inner.outbox.render(
            MailKind::Invitation,
            &json!({
                "email": user.email,
                "link": link,
                "valid_days": ttl.as_secs().div_ceil(86_400),
            }),
        )?;
        password_reset_token::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user.id),
            token_hash: Set(token.digest),
            created_at: Set(now),
            expires_at: Set(crate::time::after(now, ttl)),
            used_at: Set(None),
            purpose: Set(SetPasswordPurpose::Invitation.as_str().to_owned()),
        }
        .insert(txn)
        .await?;
        self.inner
            .outbox
            .enqueue(txn, Some(user.id), &user.email, mail)
            .await?;
        Ok(())
    }
}

/// Users within the admin's reach matching `filter`, unordered.
fn filtered(
    admin: &ActingAdmin,
    filter: &UserFilter,
    backend: DbBackend,
) -> Result<Select<user::Entity>, AccountError> {
    let mut query = match filter.organization {
        Some(organization) => {
            admin.require_superadmin("Only a superadmin can list another organization.")?;
            user::Entity::find().filter(user::Column::OrganizationId.eq(Uuid::from(organization)))
        }
        None => admin.reach(user::Entity::find()),
    };
    if let Some(email) = &filter.email {
        // Emails are stored lower-cased.
        query = query.filter(Expr::col(user::Column::Email).like(contains(email)));
    }
    if let Some(name) = &filter.name {
        query = query.filter(name_contains(backend, name));
    }
    if let Some(role) = &filter.role {
        query = query.filter(
            user::Column::Id.in_subquery(
                Query::select()
                    .column(user_role::Column::UserId)
                    .from(user_role::Entity)
                    .and_where(user_role::Column::RoleCode.eq(role.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(active) = filter.active {
        query = query.filter(user::Column::Active.eq(active));
    }
    Ok(query)
}

/// "The name contains `needle`, in any case". SQLite's `lower()` folds ASCII letters alone, so
/// there a GLOB pattern offers every case of each letter instead (`Élo` is `*[éÉ][lL][oO]*`).
fn name_contains(backend: DbBackend, needle: &str) -> SimpleExpr {
    let name = Expr::col(user::Column::Name);
    if backend != DbBackend::Sqlite {
        return Func::lower(name).like(contains(needle));
    }
    let mut pattern = String::with_capacity(needle.len() * 4 + 2);
    pattern.push('*');
    for c in needle.chars() {
        let mut cases: Vec<char> = vec![c];
        for other in [single(c.to_lowercase()), single(c.to_uppercase())]
            .into_iter()
            .flatten()
        {
            if !cases.contains(&other) {
                cases.push(other);
            }
        }
        // GLOB's wildcards and class opener are taken literally inside a class.
        if cases.len() == 1 && !matches!(c, '*' | '?' | '[') {
            pattern.push(c);
        } else {
            pattern.push('[');
            pattern.extend(cases);
            pattern.push(']');
        }
    }
    pattern.push('*');
    name.glob(pattern)
}

/// The one character of a case mapping, or `None` when it maps to several (`ß` to `SS`).
fn single(mut mapping: impl Iterator<Item = char>) -> Option<char> {
    let first = mapping.next()?;
    mapping.next().is_none().then_some(first)
}

/// A LIKE pattern for "contains `needle`", lower-cased, with the wildcards in it taken literally.
fn contains(needle: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('\\')
}

/// Role codes as an event's details list them.
fn role_names(roles: &[RoleCode]) -> Vec<&str> {
    roles.iter().map(RoleCode::as_str).collect()
}

async fn grant<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    roles: &[RoleCode],
) -> Result<(), AccountError> {
    if roles.is_empty() {
        return Ok(());
    }
    user_role::Entity::insert_many(roles.iter().map(|code| user_role::ActiveModel {
        user_id: Set(user_id),
        role_code: Set(code.as_str().to_owned()),
    }))
    .exec(txn)
    .await?;
    Ok(())
}
