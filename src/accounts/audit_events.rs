//! Reading the audit trail: an administrator's listing (their organization's events; a
//! superadmin's, every event) and an account's own security history. The reach is part of
//! each query, so nothing outside it is ever loaded.

use sea_orm::{
    ColumnTrait as _, Condition, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, Select,
};
use uuid::Uuid;

use super::admin::ActingAdmin;
use super::admin::paging::{Page, PageRequest};
use super::{AccountError, Accounts, Caller};
use crate::audit::{AuditFilter, AuditRecord, AuditType};
use crate::entities::audit_event;

impl Accounts {
    /// A page of the events within the admin's reach that match `filter`, newest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn list_audit_events(
        &self,
        admin: &ActingAdmin,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, AccountError> {
        self.audit_page(admin_events(admin, filter), page).await
    }

    /// How many events within reach match `filter` (asked for only when a client selects
    /// `totalCount`).
    ///
    /// # Errors
    /// A database error.
    pub async fn count_audit_events(
        &self,
        admin: &ActingAdmin,
        filter: &AuditFilter,
    ) -> Result<u64, AccountError> {
        Ok(admin_events(admin, filter).count(self.db()).await?)
    }

    /// A page of the caller's own security events, newest first. Where someone else acted on
    /// the account (an administrator), their address, user agent and request id are left out.
    ///
    /// # Errors
    /// A database error.
    pub async fn my_security_events(
        &self,
        caller: Caller,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, AccountError> {
        let mut page = self.audit_page(own_events(caller), page).await?;
        let caller_id = Uuid::from(caller.user_id);
        for event in &mut page.items {
            if event.actor_id.is_some_and(|actor| actor != caller_id) {
                event.ip_address = None;
                event.user_agent = None;
                event.request_id = None;
            }
        }
        Ok(page)
    }

    /// How many security events of the caller's there are.
    ///
    /// # Errors
    /// A database error.
    pub async fn count_my_security_events(&self, caller: Caller) -> Result<u64, AccountError> {
        Ok(own_events(caller).count(self.db()).await?)
    }

    async fn audit_page(
        &self,
        events: Select<audit_event::Entity>,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, AccountError> {
        let mut query = events;
        if let Some(after) = page.after {
            query = query.filter(after.after(audit_event::Column::At, audit_event::Column::Id));
        }
        let rows = query
            .order_by_desc(audit_event::Column::At)
            .order_by_desc(audit_event::Column::Id)
            .limit(page.first + 1)
            .all(self.db())
            .await?;
        let page = Page::from_rows(rows, page);
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(AuditRecord::try_from)
                .collect::<Result<_, _>>()?,
            has_next_page: page.has_next_page,
        })
    }
}

/// The events an admin may see that match `filter`: their organization's, or for a superadmin
/// every event (those of no organization too, such as failed logins of unknown addresses).
fn admin_events(admin: &ActingAdmin, filter: &AuditFilter) -> Select<audit_event::Entity> {
    let mut reach = Condition::all();
    if let Some(organization_id) = admin.organization_reach() {
        reach = reach.add(audit_event::Column::OrganizationId.eq(Uuid::from(organization_id)));
    }
    audit_event::Entity::find()
        .filter(reach)
        .filter(filter.condition())
}

/// The caller's own events of the types shown to an account's owner.
fn own_events(caller: Caller) -> Select<audit_event::Entity> {
    let own = AuditFilter {
        user_id: Some(caller.user_id.into()),
        types: Some(AuditType::SHOWN_TO_OWNER.to_vec()),
        ..AuditFilter::default()
    };
    audit_event::Entity::find().filter(own.condition())
}
