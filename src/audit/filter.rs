//! Which events a listing asks for: whose, by whom, of which types, and when. The caller's
//! reach (an organization, their own account) is added by the service, never taken from here.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait as _, Condition};
use uuid::Uuid;

use super::AuditType;
use crate::entities::audit_event;

/// Conditions on events; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Events about this account.
    pub user_id: Option<Uuid>,
    /// Events this account caused.
    pub actor_id: Option<Uuid>,
    /// Events of these types; an empty list matches none.
    pub types: Option<Vec<AuditType>>,
    /// At or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// The filter as a condition on `audit_events`.
    pub fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(user_id) = self.user_id {
            condition = condition.add(audit_event::Column::UserId.eq(user_id));
        }
        if let Some(actor_id) = self.actor_id {
            condition = condition.add(audit_event::Column::ActorId.eq(actor_id));
        }
        if let Some(types) = &self.types {
            let names = types.iter().map(|kind| kind.as_str());
            condition = condition.add(audit_event::Column::Kind.is_in(names));
        }
        if let Some(since) = self.since {
            condition = condition.add(audit_event::Column::At.gte(since));
        }
        if let Some(until) = self.until {
            condition = condition.add(audit_event::Column::At.lt(until));
        }
        condition
    }
}
