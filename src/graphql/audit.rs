//! The audit trail over GraphQL: `auditEvents` for administrators (their organization; every
//! organization for a superadmin) and `mySecurityEvents` for any signed-in account (its own).
//! Both are connections of the users' shape, newest first.

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::admin::{PageInfo, page_info, parse_id, require_admin};
use super::context::require_caller;
use super::errors::{OrGraphql as _, to_graphql};
use crate::accounts::admin::ActingAdmin;
use crate::accounts::admin::paging::{Cursor, Page, PageRequest};
use crate::accounts::domain::FieldError;
use crate::accounts::{AccountError, Accounts, Caller};
use crate::audit::{AuditFilter, AuditRecord, AuditType};

/// Most entries `AuditFilter.types` takes: every type, with room for repeats.
const MAX_TYPES: usize = 50;
/// Longest type name echoed back in a refusal.
const MAX_ECHOED_CHARS: usize = 40;

/// A security event: what happened, to whom, by whom, from where.
#[derive(SimpleObject)]
pub struct AuditEvent {
    pub id: ID,
    /// `login`, `login_failed`, `password_changed`, ... (docs/api.md lists every type).
    #[graphql(name = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The account that acted; null when nobody was signed in (a failed login, a reset
    /// request) or for the command line.
    pub actor_id: Option<ID>,
    /// The account the event concerns.
    pub user_id: Option<ID>,
    /// That account's organization.
    pub organization_id: Option<ID>,
    /// The client address of the request, as the rate limits resolve it.
    pub ip_address: Option<String>,
    /// The request's user agent, cut to 256 characters.
    pub user_agent: Option<String>,
    /// The request's `x-request-id`, as in the server's log.
    pub request_id: Option<String>,
    /// Facts of the event (field names, role codes, counts); never a password, token or hash.
    pub details: Json<serde_json::Value>,
}

impl From<AuditRecord> for AuditEvent {
    fn from(record: AuditRecord) -> Self {
        let id = |id: uuid::Uuid| ID(id.to_string());
        Self {
            id: id(record.id),
            kind: record.kind.as_str().to_owned(),
            at: record.at,
            actor_id: record.actor_id.map(id),
            user_id: record.user_id.map(id),
            organization_id: record.organization_id.map(id),
            ip_address: record.ip_address,
            user_agent: record.user_agent,
            request_id: record.request_id,
            details: Json(record.details),
        }
    }
}

#[derive(SimpleObject)]
pub struct AuditEventEdge {
    pub cursor: String,
    pub node: AuditEvent,
}

fn event_cursor(event: &AuditRecord) -> Cursor {
    Cursor {
        created_at: event.at,
        id: event.id,
    }
}

/// Whose events a connection counts for `totalCount`.
enum Reach {
    Admin(ActingAdmin, AuditFilter),
    Own(Caller),
}

/// A page of audit events, newest first.
pub struct AuditEventConnection {
    page: Page<AuditRecord>,
    reach: Reach,
}

#[Object]
impl AuditEventConnection {
    async fn edges(&self) -> Vec<AuditEventEdge> {
        self.page
            .items
            .iter()
            .map(|event| AuditEventEdge {
                cursor: event_cursor(event).encode(),
                node: AuditEvent::from(event.clone()),
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<AuditEvent> {
        self.page
            .items
            .iter()
            .cloned()
            .map(AuditEvent::from)
            .collect()
    }

    async fn page_info(&self) -> PageInfo {
        page_info(&self.page, event_cursor)
    }

    /// How many events match, on every page. Costs a count of all of them.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let accounts = ctx.data_unchecked::<Accounts>();
        match &self.reach {
            Reach::Admin(admin, filter) => accounts.count_audit_events(admin, filter).await,
            Reach::Own(caller) => accounts.count_my_security_events(*caller).await,
        }
        .or_graphql(ctx)
    }
}

/// Which events to list; every condition given must hold.
#[derive(InputObject, Default)]
#[graphql(name = "AuditFilter")]
pub struct AuditFilterInput {
    /// Events about this account.
    pub user_id: Option<ID>,
    /// Events this account caused.
    pub actor_id: Option<ID>,
    /// Events of these types (an empty list matches none).
    pub types: Option<Vec<String>>,
    /// At or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Security events, newest first (admin: their organization's; superadmin: all).
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilterInput>,
        #[graphql(default = 50, desc = "1 to 100.")] first: i32,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        let admin = require_admin(ctx).await?;
        let page = page_request(ctx, first, after.as_deref())?;
        let filter = audit_filter(ctx, filter.unwrap_or_default())?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let page = accounts
            .list_audit_events(&admin, &filter, page)
            .await
            .or_graphql(ctx)?;
        Ok(AuditEventConnection {
            page,
            reach: Reach::Admin(admin, filter),
        })
    }

    /// The signed-in account's own security events, newest first: sign-ins and failed
    /// attempts, sessions ended, lockouts, password and email changes.
    async fn my_security_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "1 to 100.")] first: i32,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        let caller = require_caller(ctx)?;
        let page = page_request(ctx, first, after.as_deref())?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let page = accounts
            .my_security_events(caller, page)
            .await
            .or_graphql(ctx)?;
        Ok(AuditEventConnection {
            page,
            reach: Reach::Own(caller),
        })
    }
}

fn page_request(
    ctx: &Context<'_>,
    first: i32,
    after: Option<&str>,
) -> async_graphql::Result<PageRequest> {
    PageRequest::parse(first, after)
        .map_err(|refusal| to_graphql(ctx, AccountError::InvalidInput(refusal)))
}

fn audit_filter(ctx: &Context<'_>, input: AuditFilterInput) -> async_graphql::Result<AuditFilter> {
    let types = input
        .types
        .map(|names| audit_types(&names))
        .transpose()
        .map_err(|refusal| to_graphql(ctx, AccountError::InvalidInput(refusal)))?;
    Ok(AuditFilter {
        user_id: input
            .user_id
            .as_ref()
            .map(|id| parse_id(ctx, "userId", id))
            .transpose()?,
        actor_id: input
            .actor_id
            .as_ref()
            .map(|id| parse_id(ctx, "actorId", id))
            .transpose()?,
        types,
        since: input.since,
        until: input.until,
    })
}

/// Type names as types; an unknown name is refused, naming `types`.
fn audit_types(names: &[String]) -> Result<Vec<AuditType>, FieldError> {
    if names.len() > MAX_TYPES {
        return Err(FieldError::new(
            "types",
            format!("At most {MAX_TYPES} types."),
        ));
    }
    names
        .iter()
        .map(|name| {
            AuditType::parse(name).ok_or_else(|| {
                let message = if name.chars().count() <= MAX_ECHOED_CHARS {
                    format!("There is no event type {name:?}.")
                } else {
                    "There is no such event type.".to_owned()
                };
                FieldError::new("types", message)
            })
        })
        .collect()
}
