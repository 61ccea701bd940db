//! Prometheus metrics (`GET /metrics`): GraphQL operations and their latency, logins, lockouts,
//! rate-limit refusals, mail and webhook delivery. Label values come from closed sets (operation names
//! of our schema, error codes), never from client input, so the series stay bounded.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Cheap to clone; clones share the counters.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    operations: Family<OperationLabels, Counter>,
    operation_seconds: Family<OperationNameLabels, Histogram, fn() -> Histogram>,
    logins: Family<OutcomeLabels, Counter>,
    lockouts: Counter,
    rate_limited: Family<LimitLabels, Counter>,
    mail: Family<OutcomeLabels, Counter>,
    outbox_pending: Gauge<i64, AtomicI64>,
    webhooks: Family<OutcomeLabels, Counter>,
    webhook_oldest_pending: Gauge<i64, AtomicI64>,
    cleanup_removed: Family<TableLabels, Counter>,
    audit_events: Family<TypeLabels, Counter>,
    /// The two series of `graphql_document_cache`, held to count without a label lookup.
    document_cache_hits: Counter,
    document_cache_misses: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    table: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationNameLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let operations = Family::<OperationLabels, Counter>::default();
        let operation_seconds =
            Family::<OperationNameLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let logins = Family::<OutcomeLabels, Counter>::default();
        let lockouts = Counter::default();
        let rate_limited = Family::<LimitLabels, Counter>::default();
        let mail = Family::<OutcomeLabels, Counter>::default();
        let outbox_pending = Gauge::<i64, AtomicI64>::default();
        let webhooks = Family::<OutcomeLabels, Counter>::default();
        let webhook_oldest_pending = Gauge::<i64, AtomicI64>::default();
        let cleanup_removed = Family::<TableLabels, Counter>::default();
        let audit_events = Family::<TypeLabels, Counter>::default();
        let document_cache = Family::<OutcomeLabels, Counter>::default();
        let document_cache_hits = document_cache
            .get_or_create(&OutcomeLabels { outcome: "hit" })
            .clone();
        let document_cache_misses = document_cache
            .get_or_create(&OutcomeLabels { outcome: "miss" })
            .clone();

        let mut registry = Registry::with_prefix("latchkey");
        registry.register(
            "graphql_operations",
            "GraphQL root fields executed, by operation and outcome (ok or the error code)",
            operations.clone(),
        );
        registry.register(
            "graphql_operation_duration_seconds",
            "Time to execute a GraphQL root field, by operation",
            operation_seconds.clone(),
        );
        registry.register(
            "logins",
            "Login attempts by outcome (success, invalid_credentials, locked, disabled, email_not_verified)",
            logins.clone(),
        );
        registry.register(
            "lockouts",
            "Accounts locked after too many failed logins",
            lockouts.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by limit",
            rate_limited.clone(),
        );
        registry.register(
            "mail_deliveries",
            "Mail delivery attempts by outcome (sent, failed)",
            mail.clone(),
        );
        registry.register(
            "outbox_pending",
            "Mail in the outbox not yet delivered or given up (read at scrape time)",
            outbox_pending.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, failed, refused), and messages given up (given_up)",
            webhooks.clone(),
        );
        registry.register(
            "webhook_oldest_pending_seconds",
            "Age of the oldest webhook neither delivered nor given up, 0 when none waits (read at scrape time)",
            webhook_oldest_pending.clone(),
        );
        registry.register(
            "cleanup_removed_rows",
            "Rows the clean-up job removed, by table",
            cleanup_removed.clone(),
        );
        registry.register(
            "audit_events",
            "Audit events written (committed), by type",
            audit_events.clone(),
        );
        registry.register(
            "graphql_document_cache",
            "GraphQL documents served from the parsed-document cache (hit) or parsed (miss)",
            document_cache,
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                operations,
                operation_seconds,
                logins,
                lockouts,
                rate_limited,
                mail,
                outbox_pending,
                webhooks,
                webhook_oldest_pending,
                cleanup_removed,
                audit_events,
                document_cache_hits,
                document_cache_misses,
            }),
        }
    }
}

impl Metrics {
    pub fn cleanup_removed(&self, table: &'static str, rows: u64) {
        self.inner
            .cleanup_removed
            .get_or_create(&TableLabels { table })
            .inc_by(rows);
    }

    /// One committed audit event of this type (`AuditType::as_str`, a closed set).
    pub fn audit_event(&self, kind: &'static str) {
        self.inner
            .audit_events
            .get_or_create(&TypeLabels { r#type: kind })
            .inc();
    }

    pub fn operation(&self, operation: &str, outcome: &str, seconds: f64) {
        let labels = OperationLabels {
            operation: operation.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.inner.operations.get_or_create(&labels).inc();
        let name = OperationNameLabels {
            operation: operation.to_owned(),
        };
        self.inner
            .operation_seconds
            .get_or_create(&name)
            .observe(seconds);
    }

    /// A document served from the parsed-document cache (`hit`) or parsed (`miss`).
    pub fn document_cache(&self, hit: bool) {
        if hit {
            self.inner.document_cache_hits.inc();
        } else {
            self.inner.document_cache_misses.inc();
        }
    }

    pub fn login(&self, outcome: &'static str) {
        self.inner
            .logins
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn lockout(&self) {
        self.inner.lockouts.inc();
    }

    pub fn rate_limited(&self, limit: &'static str) {
        self.inner
            .rate_limited
            .get_or_create(&LimitLabels { limit })
            .inc();
    }

    pub fn mail(&self, outcome: &'static str) {
        self.inner
            .mail
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn set_outbox_pending(&self, pending: i64) {
        self.inner.outbox_pending.set(pending);
    }

    pub fn webhook(&self, outcome: &'static str) {
        self.inner
            .webhooks
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn set_webhook_oldest_pending_seconds(&self, seconds: i64) {
        self.inner.webhook_oldest_pending.set(seconds);
    }

    /// The exposition text (OpenMetrics, which Prometheus reads natively).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.inner.registry).is_err() {
            tracing::error!("could not encode the metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_up_in_the_exposition() {
        let metrics = Metrics::default();
        metrics.operation("login", "ok", 0.02);
        metrics.login("success");
        metrics.rate_limited("login_per_address");
        metrics.set_outbox_pending(3);
        metrics.audit_event("login");
        let text = metrics.encode();
        assert!(
            text.contains(r#"latchkey_graphql_operations_total{operation="login",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"latchkey_logins_total{outcome="success"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"latchkey_rate_limited_total{limit="login_per_address"} 1"#),
            "{text}"
        );
        assert!(text.contains("latchkey_outbox_pending 3"), "{text}");
        assert!(
            text.contains(r#"latchkey_audit_events_total{type="login"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("latchkey_graphql_operation_duration_seconds_bucket"),
            "{text}"
        );
    }
}
