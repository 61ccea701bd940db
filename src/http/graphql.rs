//! `POST /graphql` and `GET /graphql` (GraphiQL for browsers, queries for GraphQL-over-HTTP
//! clients such as urql). Mutations only ever run from a JSON `POST`, which a cross-site form
//! cannot send.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse};
use async_graphql_axum::GraphQLBatchRequest;
use async_graphql_axum::rejection::GraphQLRejection;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest as _, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use super::bearer::Bearer;
use crate::graphql::RequestId;
use crate::throttle::ClientAddr;

/// At most this many operations in one batched request (security.md).
const MAX_BATCH: usize = 10;
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self' 'unsafe-inline' https://unpkg.com; \
    style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data: https:; font-src 'self' data: https://unpkg.com; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub async fn post_graphql(
    State(state): State<AppState>,
    Bearer(auth): Bearer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if !has_json_content_type(request.headers()) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send GraphQL requests as JSON: Content-Type: application/json.",
        )
            .into_response();
    }
    let headers = request.headers().clone();
    // Read the body under the limit here: a chunked body has no Content-Length for the limit
    // layer to refuse up front, and its overflow must still be a 413.
    let body = match axum::body::to_bytes(request.into_body(), super::MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) if is_length_limit(&error) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "A request body may hold at most 64 KiB.",
            )
                .into_response();
        }
        Err(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            )
                .into_response();
        }
    };
    let batch = match serde_json::from_slice::<BatchRequest>(&body) {
        Ok(batch) => batch,
        Err(error) => {
            let message = format!("The body is not a GraphQL request in JSON: {error}");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    if let BatchRequest::Batch(requests) = &batch
        && requests.len() > MAX_BATCH
    {
        return (
            StatusCode::BAD_REQUEST,
            "A batch holds at most 10 operations.",
        )
            .into_response();
    }
    let client = ClientAddr::resolve(peer, &headers, &state.trusted_proxies);
    execute(&state, auth, client, &headers, batch).await
}

pub async fn get_graphql(
    State(state): State<AppState>,
    Bearer(auth): Bearer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    if request.uri().query().is_none_or(str::is_empty) && accepts_html(&headers) {
        return graphiql(&state);
    }
    let batch = match GraphQLBatchRequest::<GraphQLRejection>::from_request(request, &()).await {
        Ok(batch) => batch.into_inner(),
        Err(rejection) => return rejection.into_response(),
    };
    if let BatchRequest::Single(single) = &batch
        && is_mutation(single)
    {
        let mut response = (
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations must be sent with POST.",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let client = ClientAddr::resolve(peer, &headers, &state.trusted_proxies);
    execute(&state, auth, client, &headers, batch).await
}

async fn execute(
    state: &AppState,
    auth: crate::graphql::Authentication,
    client: ClientAddr,
    headers: &HeaderMap,
    batch: BatchRequest,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let batch = batch.data(auth).data(client).data(RequestId(request_id));
    let response = state.schema.execute_batch(batch).await;
    json_response(headers, &response)
}

/// Answers `application/graphql-response+json` to clients that ask for it, `application/json`
/// to everyone else. Nothing here may be cached: responses can carry tokens.
fn json_response(headers: &HeaderMap, response: &BatchResponse) -> Response {
    let content_type = if accepts(headers, GRAPHQL_RESPONSE_JSON) {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    let body = match serde_json::to_vec(response) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "could not serialise a GraphQL response");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

fn graphiql(state: &AppState) -> Response {
    if !state.graphiql {
        return (
            StatusCode::NOT_FOUND,
            "The GraphiQL playground is turned off.",
        )
            .into_response();
    }
    let page = async_graphql::http::GraphiQLSource::build()
        .endpoint("/graphql")
        .title("latchkey")
        .finish();
    let mut response = Html(page).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(GRAPHIQL_CSP),
    );
    response
}

fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let operation_type = match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) => {
            // Ambiguous without a name; refuse if any of them writes.
            operations
                .values()
                .any(|operation| operation.node.ty == OperationType::Mutation)
                .then_some(OperationType::Mutation)
        }
    };
    operation_type == Some(OperationType::Mutation)
}

fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media_type = value.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/json")
        || media_type.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON)
}

fn accepts_html(headers: &HeaderMap) -> bool {
    accepts(headers, "text/html")
}

fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|candidate| candidate.trim().eq_ignore_ascii_case(media_type))
        })
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}
