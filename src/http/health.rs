//! Liveness and readiness probes, for load balancers and orchestrators: is the process up, and
//! may it take traffic.

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
