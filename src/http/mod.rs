//! The HTTP surface: routes, the bearer-token extractor, GraphiQL, health checks, the layers
//! every response passes through (limits, security headers, request ids, tracing), and serving
//! connections.

mod admin_console;
mod bearer;
mod graphiql;
mod graphiql_tabs;
mod graphql;
mod health;
mod live;
mod metrics;
pub mod server;
mod well_known;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::routing::get;
use ipnet::IpNet;
use sea_orm::DatabaseConnection;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use self::live::OpenPerAddress;
use crate::accounts::Accounts;
use crate::graphql::Schemas;
use crate::metrics::Metrics;

/// Request bodies larger than this are refused with 413 (docs/security.md). `POST /graphql` is the
/// one route that reads a body, and enforces this itself, so the refusal is a GraphQL error.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Every request is finished or cut off within this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What handlers share. Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub schemas: Schemas,
    pub accounts: Accounts,
    /// `None` when `LATCHKEY_METRICS=false`.
    pub metrics: Option<Metrics>,
    pub db: DatabaseConnection,
    pub graphiql: bool,
    /// Serve the admin console on `/admin`.
    pub admin_console: bool,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpNet]>,
    /// WebSocket connections open per client address.
    pub live: live::OpenPerAddress,
}

pub fn router(state: AppState, cors_origins: &[String]) -> Router {
    let layers = ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::map_request(drop_client_request_id))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            // The span names the path only: query strings and headers may carry secrets.
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
            })
            // One access-log line per request, at info, holding the span's request id.
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT));

    let router = Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/admin", get(admin_console::page))
        .route("/admin/", get(admin_console::page))
        .route("/admin/{*asset}", get(admin_console::asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/.well-known/jwks.json", get(well_known::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(well_known::openid_configuration),
        )
        .with_state(state)
        .layer(layers);

    if cors_origins.is_empty() {
        // Same origin only: browsers get no CORS grant at all.
        router
    } else {
        let origins: Vec<HeaderValue> = cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
                .expose_headers([REQUEST_ID])
                .max_age(Duration::from_secs(600)),
        )
    }
}

/// Request ids are ours: one chosen by the client could forge or muddle the log trail that an
/// `INTERNAL_SERVER_ERROR`'s `requestId` points into.
async fn drop_client_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    request.headers_mut().remove(REQUEST_ID);
    request
}

/// A panic is a bug; the client gets the same generic answer as any internal error.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    tracing::error!("a request handler panicked");
    let body = r#"{"errors":[{"message":"Something went wrong on our side. Try again later.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}
