//! The audit trail: every security event, written in the same transaction as the change it
//! records (failed logins and lockouts in their own), and handed to the webhook queue there too.

mod filter;
mod kind;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait as _, ConnectionTrait, DbErr, Set};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use self::filter::AuditFilter;
pub use self::kind::AuditType;
use crate::entities::audit_event;
use crate::metrics::Metrics;
use crate::webhooks::WebhookQueue;

/// Where a request came from and which one it was, as every event records it (and a session,
/// its address and user agent). The CLI's operations have none: `RequestMeta::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    /// Cut to 256 characters by the HTTP layer.
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// An event about to be written: its type, who acted, whom it concerns, and details. Details
/// are plain facts (field names changed, role codes, counts); never a password, token or hash.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    kind: AuditType,
    actor_id: Option<Uuid>,
    user_id: Option<Uuid>,
    organization_id: Option<Uuid>,
    details: Map<String, Value>,
}

impl AuditEntry {
    pub fn new(kind: AuditType) -> Self {
        Self {
            kind,
            actor_id: None,
            user_id: None,
            organization_id: None,
            details: Map::new(),
        }
    }

    #[must_use]
    pub fn actor(mut self, actor_id: impl Into<Uuid>) -> Self {
        self.actor_id = Some(actor_id.into());
        self
    }

    #[must_use]
    pub fn user(mut self, user_id: impl Into<Uuid>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    #[must_use]
    pub fn organization(mut self, organization_id: impl Into<Uuid>) -> Self {
        self.organization_id = Some(organization_id.into());
        self
    }

    /// The account the event concerns and its organization.
    #[must_use]
    pub fn about(self, user_id: impl Into<Uuid>, organization_id: impl Into<Uuid>) -> Self {
        self.user(user_id).organization(organization_id)
    }

    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// An event as written: what `auditEvents` lists and webhooks deliver.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "hand it to `AuditLog::committed` once its transaction has committed"]
pub struct AuditRecord {
    pub id: Uuid,
    pub kind: AuditType,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub details: Value,
}

impl TryFrom<audit_event::Model> for AuditRecord {
    type Error = DbErr;

    /// An event as read back. A type this version does not know (written by a newer one) or
    /// details that are not JSON are an error, never a guess.
    fn try_from(row: audit_event::Model) -> Result<Self, DbErr> {
        let kind = AuditType::parse(&row.kind)
            .ok_or_else(|| DbErr::Type(format!("unknown audit event type {:?}", row.kind)))?;
        let details = serde_json::from_str(&row.details)
            .map_err(|error| DbErr::Json(format!("audit event details: {error}")))?;
        Ok(Self {
            id: row.id,
            kind,
            at: row.at,
            actor_id: row.actor_id,
            user_id: row.user_id,
            organization_id: row.organization_id,
            ip_address: row.ip_address,
            user_agent: row.user_agent,
            request_id: row.request_id,
            details,
        })
    }
}

/// Writes events. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    webhooks: WebhookQueue,
    /// Where committed events are counted; `None` for the CLI, which serves no metrics.
    metrics: Option<Metrics>,
}

impl AuditLog {
    pub fn new(webhooks: WebhookQueue) -> Self {
        Self {
            webhooks,
            metrics: None,
        }
    }

    /// Counts committed events in `latchkey_audit_events_total`.
    #[must_use]
    pub fn counted_in(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Counts events whose transaction has committed: a rolled-back event is never counted.
    pub fn committed(&self, records: impl IntoIterator<Item = AuditRecord>) {
        for record in records {
            if let Some(metrics) = &self.metrics {
                metrics.audit_event(record.kind.as_str());
            }
        }
    }

    /// Writes `entry` inside `txn`, with the request's address, user agent and id, and queues
    /// it for the webhooks there too: the event commits or rolls back with the change. Hand the
    /// record to [`AuditLog::committed`] after the commit.
    ///
    /// # Errors
    /// The database error, which should roll the caller's transaction back.
    pub async fn record<C: ConnectionTrait>(
        &self,
        txn: &C,
        meta: &RequestMeta,
        entry: AuditEntry,
    ) -> Result<AuditRecord, DbErr> {
        let record = AuditRecord {
            id: Uuid::now_v7(),
            kind: entry.kind,
            at: Utc::now(),
            actor_id: entry.actor_id,
            user_id: entry.user_id,
            organization_id: entry.organization_id,
            ip_address: meta.ip.map(|ip| ip.to_string()),
            user_agent: meta.user_agent.clone(),
            request_id: meta.request_id.clone(),
            details: Value::Object(entry.details),
        };
        audit_event::ActiveModel {
            id: Set(record.id),
            kind: Set(record.kind.as_str().to_owned()),
            at: Set(record.at),
            actor_id: Set(record.actor_id),
            user_id: Set(record.user_id),
            organization_id: Set(record.organization_id),
            ip_address: Set(record.ip_address.clone()),
            user_agent: Set(record.user_agent.clone()),
            request_id: Set(record.request_id.clone()),
            details: Set(record.details.to_string()),
        }
        .insert(txn)
        .await?;
        self.webhooks.enqueue(txn, &record).await?;
        Ok(record)
    }
}
