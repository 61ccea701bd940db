//! `POST /graphql` and `GET /graphql` (GraphiQL for browsers, queries for GraphQL-over-HTTP
//! clients such as urql), following the GraphQL-over-HTTP spec. Mutations only ever run from a
//! JSON `POST`, which a cross-site form cannot send.

use std::net::SocketAddr;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Variables};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::bearer::Bearer;
use crate::graphql::context::UserAgent;
use crate::graphql::request_errors::BAD_REQUEST;
use crate::graphql::{Authentication, RequestId};
use crate::throttle::ClientAddr;

/// At most this many operations in one batched request (docs/security.md).
const MAX_BATCH: usize = 10;
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";

pub async fn post_graphql(
    State(state): State<AppState>,
    Bearer(auth): Bearer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    if !has_json_content_type(&headers) {
        let message = "Send GraphQL requests as JSON: Content-Type: application/json.";
        return request_error(&headers, StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
    }
    // The body limit is enforced here, where the refusal can be a GraphQL error: up front when
    // the Content-Length announces too much, and while reading for a chunked body.
    let too_large = || {
        let message = "A request body may hold at most 64 KiB.";
        request_error(&headers, StatusCode::PAYLOAD_TOO_LARGE, message)
    };
    if announced_length(&headers).is_some_and(|length| length > super::MAX_BODY_BYTES) {
        return too_large();
    }
    let body = match axum::body::to_bytes(request.into_body(), super::MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) if is_length_limit(&error) => return too_large(),
        Err(_) => {
            return request_error(
                &headers,
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            );
        }
    };
    let batch = match serde_json::from_slice::<BatchRequest>(&body) {
        Ok(batch) => batch,
        Err(error) => {
            let message = format!("The body is not a GraphQL request in JSON: {error}");
            return request_error(&headers, StatusCode::BAD_REQUEST, &message);
        }
    };
    let requests: &[async_graphql::Request] = match &batch {
        BatchRequest::Single(request) => std::slice::from_ref(request),
        BatchRequest::Batch(requests) => requests,
    };
    if requests
        .iter()
        .any(|request| request.query.trim().is_empty())
    {
        return request_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "A GraphQL request needs a `query`.",
        );
    }
    if requests.len() > MAX_BATCH {
        return request_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "A batch holds at most 10 operations.",
        );
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
    if super::live::is_upgrade(request.headers()) {
        return super::live::upgrade(&state, peer, request).await;
    }
    let headers = request.headers().clone();
    let query_string = request.uri().query().unwrap_or_default();
    if query_string.is_empty() && accepts(&headers, "text/html") {
        return super::graphiql::page(&state);
    }
    let single = match parse_get_request(query_string) {
        Ok(single) => single,
        Err(message) => return request_error(&headers, StatusCode::BAD_REQUEST, &message),
    };
    if is_mutation(&single) {
        let mut response = request_error(
            &headers,
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations must be sent with POST.",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let client = ClientAddr::resolve(peer, &headers, &state.trusted_proxies);
    execute(&state, auth, client, &headers, BatchRequest::Single(single)).await
}

async fn execute(
    state: &AppState,
    auth: Authentication,
    client: ClientAddr,
    headers: &HeaderMap,
    batch: BatchRequest,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let batch = batch
        .data(auth)
        .data(client)
        .data(UserAgent::from_headers(headers))
        .data(RequestId(request_id));
    let response = state.schemas.for_batch(&batch).execute_batch(batch).await;
    graphql_response(headers, &response)
}

/// A GraphQL-over-HTTP request from a query string: `query`, `operationName`, `variables`.
fn parse_get_request(query_string: &str) -> Result<async_graphql::Request, String> {
    let mut query = None;
    let mut operation_name = None;
    let mut variables = None;
    for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        match key.as_ref() {
            "query" => query = Some(value.into_owned()),
            "operationName" if !value.is_empty() => operation_name = Some(value.into_owned()),
            "variables" if !value.is_empty() => {
                let json: serde_json::Value = serde_json::from_str(&value)
                    .map_err(|e| format!("`variables` is not JSON: {e}"))?;
                if !json.is_object() && !json.is_null() {
                    return Err("`variables` must be a JSON object.".into());
                }
                variables = Some(Variables::from_json(json));
            }
            _ => {}
        }
    }
    let query = query.ok_or("A GET request needs a `query` parameter.")?;
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = variables {
        request = request.variables(variables);
    }
    Ok(request)
}

/// The GraphQL response, as `application/graphql-response+json` to clients that ask for it and
/// `application/json` to everyone else. A request error (the document did not parse or
/// validate, so nothing ran) carries no `data`, and with the newer media type a 400. Nothing
/// here may be cached: responses can carry tokens.
fn graphql_response(headers: &HeaderMap, response: &BatchResponse) -> Response {
    let modern = prefers_graphql_response_json(headers);
    let (body, request_failed) = match response {
        BatchResponse::Single(single) => {
            let failed = is_request_error(single);
            (response_json(single, failed), failed)
        }
        BatchResponse::Batch(responses) => {
            let bodies = responses
                .iter()
                .map(|r| response_json(r, is_request_error(r)))
                .collect();
            (serde_json::Value::Array(bodies), false)
        }
    };
    let status = if modern && request_failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    json_body(status, modern, &body)
}

/// Nothing executed: no data, and no error points at a field.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn response_json(response: &async_graphql::Response, request_failed: bool) -> serde_json::Value {
    let mut body = serde_json::to_value(response).unwrap_or_else(|_| json!({}));
    if request_failed && let Some(object) = body.as_object_mut() {
        object.remove("data");
    }
    body
}

/// A request refused before GraphQL execution, still answered in the GraphQL response shape,
/// with the code of a request that is not one the server can run.
fn request_error(headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": BAD_REQUEST}}]});
    json_body(status, prefers_graphql_response_json(headers), &body)
}

fn json_body(status: StatusCode, modern: bool, body: &serde_json::Value) -> Response {
    let content_type = if modern {
        GRAPHQL_RESPONSE_JSON
    } else {
        APPLICATION_JSON
    };
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.to_string(),
    )
        .into_response()
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
    media_type.eq_ignore_ascii_case(APPLICATION_JSON)
        || media_type.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON)
}

/// The newer media type is used when the client lists it and does not prefer plain JSON.
fn prefers_graphql_response_json(headers: &HeaderMap) -> bool {
    accepts(headers, GRAPHQL_RESPONSE_JSON)
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

fn announced_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_requests_read_operation_name_and_variables() {
        let request = parse_get_request(
            "query=query%20A%7Bme%7Bid%7D%7D%20query%20B%7Bme%7Bemail%7D%7D&operationName=B&variables=%7B%22x%22%3A1%7D",
        )
        .unwrap();
        assert_eq!(request.operation_name.as_deref(), Some("B"));
        assert!(!is_mutation(&request));
        assert!(parse_get_request("operationName=B").is_err());
        assert!(parse_get_request("query=%7Bme%7Bid%7D%7D&variables=%5B1%5D").is_err());
    }

    #[test]
    fn a_named_mutation_in_a_mixed_document_is_a_mutation() {
        let request = parse_get_request("query=query%20A%7Bme%7Bid%7D%7D%20mutation%20B%7Blogout(refreshToken%3A%22x%22)%7D&operationName=B")
            .unwrap();
        assert!(is_mutation(&request));
    }
}
