//! The body of a webhook: an audit event in the Standard Webhooks shape,
//! `{"type": "audit.<event type>", "timestamp": <when it happened>, "data": {...}}`.

use chrono::SecondsFormat;
use serde_json::json;

use crate::audit::{AuditRecord, AuditType};

/// `audit.` and the event's type as `auditEvents` names it (`audit.login_failed`): dotted and
/// grouped as Standard Webhooks recommends, and the same names as the audit trail's.
pub fn event_type(kind: AuditType) -> String {
    format!("audit.{}", kind.as_str())
}

/// The JSON body, compact. Audit events hold no password, token, hash or secret
/// (`audit::AuditEntry`), so neither does this.
pub fn body(event: &AuditRecord) -> String {
    let timestamp = event.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    json!({
        "type": event_type(event.kind),
        "timestamp": timestamp,
        "data": {
            "id": event.id,
            "type": event.kind.as_str(),
            "at": timestamp,
            "actorId": event.actor_id,
            "userId": event.user_id,
            "organizationId": event.organization_id,
            "ipAddress": event.ip_address,
            "userAgent": event.user_agent,
            "requestId": event.request_id,
            "details": event.details,
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use serde_json::Value;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn an_event_becomes_type_timestamp_and_data() {
        let event = AuditRecord {
            id: Uuid::nil(),
            kind: AuditType::LoginFailed,
            at: Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap(),
            actor_id: None,
            user_id: Some(Uuid::max()),
            organization_id: None,
            ip_address: Some("203.0.113.7".into()),
            user_agent: Some("curl/8".into()),
            request_id: Some("req-1".into()),
            details: json!({"reason": "invalid_credentials"}),
        };
        let body: Value = serde_json::from_str(&body(&event)).unwrap();
        assert_eq!(
            body,
            json!({
                "type": "audit.login_failed",
                "timestamp": "2026-12-01T08:30:00.000000Z",
                "data": {
                    "id": "00000000-0000-0000-0000-000000000000",
                    "type": "login_failed",
                    "at": "2026-12-01T08:30:00.000000Z",
                    "actorId": null,
                    "userId": "ffffffff-ffff-ffff-ffff-ffffffffffff",
                    "organizationId": null,
                    "ipAddress": "203.0.113.7",
                    "userAgent": "curl/8",
                    "requestId": "req-1",
                    "details": {"reason": "invalid_credentials"},
                },
            })
        );
    }
}
