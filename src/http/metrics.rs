//! `GET /metrics`: the Prometheus scrape, in the OpenMetrics text format (404 when
//! `LATCHKEY_METRICS=false`).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};

use super::AppState;
use crate::mail::outbox::{self, Channel};

/// Prometheus metrics; the outbox depth and the oldest waiting webhook are read from the
/// database at scrape time.
pub async fn scrape(State(state): State<AppState>) -> Response {
    let Some(metrics) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "Metrics are turned off.").into_response();
    };
    match outbox::pending_count(&state.db).await {
        Ok(pending) => metrics.set_outbox_pending(i64::try_from(pending).unwrap_or(i64::MAX)),
        Err(error) => tracing::warn!(%error, "could not count the outbox for metrics"),
    }
    match outbox::oldest_pending(&state.db, Channel::Webhook).await {
        Ok(oldest) => metrics.set_webhook_oldest_pending_seconds(
            oldest.map_or(0, |at| (chrono::Utc::now() - at).num_seconds().max(0)),
        ),
        Err(error) => tracing::warn!(%error, "could not read the webhook outbox for metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
        .into_response()
}
