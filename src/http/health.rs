//! Liveness, readiness and metrics, for load balancers, orchestrators and Prometheus.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 when the database answers and its schema is current, 503 otherwise: an instance must not
/// take traffic on a schema it does not expect.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match crate::db::is_ready(&state.db).await {
        Ok(true) => (StatusCode::OK, "ready"),
        Ok(false) => {
            tracing::warn!(
                "readiness check failed: migrations are pending; run `latchkey migrate`"
            );
            (StatusCode::SERVICE_UNAVAILABLE, "migrations pending")
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Prometheus metrics; the outbox depth is read from the database at scrape time.
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let Some(metrics) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "Metrics are turned off.").into_response();
    };
    match crate::mail::outbox::pending_count(&state.db).await {
        Ok(pending) => metrics.set_outbox_pending(i64::try_from(pending).unwrap_or(i64::MAX)),
        Err(error) => tracing::warn!(%error, "could not count the outbox for metrics"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
        .into_response()
}
