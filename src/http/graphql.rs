//! `POST /graphql` and `GET /graphql` (GraphiQL for browsers, queries for GraphQL-over-HTTP
//! clients such as urql), following the GraphQL-over-HTTP spec, with automatic persisted
//! queries on both. Mutations only ever run from a JSON `POST`, which a cross-site form cannot
//! send.

use std::net::SocketAddr;

use async_graphql::{BatchRequest, BatchResponse, ServerError, Variables};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::bearer::Bearer;
use crate::graphql::context::UserAgent;
use crate::graphql::persisted_queries::{self, Registration};
use crate::graphql::request_errors::BAD_REQUEST;
use crate::graphql::{Authentication, LatchkeySchema, RequestId, Schemas};
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
    // Taken apart rather than cloned: the headers are read until the response is made.
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
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
    let body = match axum::body::to_bytes(body, super::MAX_BODY_BYTES).await {
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
    let batch = match parse_batch(&body) {
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
    // A request naming its document by a persisted-query hash may leave the document out.
    let without_document = |request: &async_graphql::Request| {
        request.query.trim().is_empty() && !persisted_queries::is_persisted(request)
    };
    if requests.is_empty() || requests.iter().any(without_document) {
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
    let batch = match batch {
        BatchRequest::Single(request) => Batch::Single(Persisted::resolve(&state.schemas, request)),
        BatchRequest::Batch(requests) => Batch::Many(
            requests
                .into_iter()
                .map(|request| Persisted::resolve(&state.schemas, request))
                .collect(),
        ),
    };
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
    // The document a hash names is known only now: it may be a mutation too.
    let single = Persisted::resolve(&state.schemas, single);
    if single.outcome.is_ok() && state.schemas.is_mutation(&single.request) {
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
    execute(&state, auth, client, &headers, Batch::Single(single)).await
}

/// A request whose persisted query was looked up.
struct Persisted {
    request: async_graphql::Request,
    /// Refused (an unknown hash, one that does not match), or to run, with the document to keep
    /// once it has run.
    outcome: Result<Option<Registration>, ServerError>,
}

impl Persisted {
    fn resolve(schemas: &Schemas, mut request: async_graphql::Request) -> Self {
        let outcome = schemas.persisted_queries().resolve(&mut request);
        Self { request, outcome }
    }
}

// A single request is the common case: boxing it would cost an allocation per request to save
// a few hundred bytes of stack for the one call it is passed down.
#[allow(clippy::large_enum_variant)]
enum Batch {
    Single(Persisted),
    Many(Vec<Persisted>),
}

async fn execute(
    state: &AppState,
    auth: Authentication,
    client: ClientAddr,
    headers: &HeaderMap,
    batch: Batch,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let data = RequestData {
        auth,
        client,
        user_agent: UserAgent::from_headers(headers),
        request_id: RequestId(request_id),
    };
    let response = match batch {
        Batch::Single(single) => {
            let schema = state
                .schemas
                .for_documents(std::iter::once(single.request.query.as_str()));
            BatchResponse::Single(run(&state.schemas, schema, single, data).await)
        }
        Batch::Many(many) => {
            let schema = state
                .schemas
                .for_documents(many.iter().map(|single| single.request.query.as_str()));
            let mut responses = Vec::with_capacity(many.len());
            for single in many {
                responses.push(run(&state.schemas, schema, single, data.clone()).await);
            }
            BatchResponse::Batch(responses)
        }
    };
    graphql_response(headers, &response)
}

/// What every resolver may read about the request.
#[derive(Clone)]
struct RequestData {
    auth: Authentication,
    client: ClientAddr,
    user_agent: UserAgent,
    request_id: RequestId,
}

/// Runs one request of a batch, or answers its refusal; keeps a persisted query that ran.
async fn run(
    schemas: &Schemas,
    schema: &LatchkeySchema,
    single: Persisted,
    data: RequestData,
) -> async_graphql::Response {
    let registration = match single.outcome {
        Ok(registration) => registration,
        Err(refusal) => return async_graphql::Response::from_errors(vec![refusal]),
    };
    let mut request = single.request;
    // Inserted in place: the builder methods move the whole request each time.
    request.data.insert(data.auth);
    request.data.insert(data.client);
    request.data.insert(data.user_agent);
    request.data.insert(data.request_id);
    let response = schema.execute(request).await;
    if let Some(registration) = registration
        && !is_request_error(&response)
    {
        schemas.persisted_queries().keep(registration);
    }
    response
}

/// A request, or a batch of them as a JSON array. Told apart by the first character: async-graphql's
/// own `BatchRequest` is an untagged enum, which serde buffers and then reads twice.
fn parse_batch(body: &[u8]) -> Result<BatchRequest, serde_json::Error> {
    match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice(body).map(BatchRequest::Batch),
        _ => serde_json::from_slice(body).map(BatchRequest::Single),
    }
}

/// A GraphQL-over-HTTP request from a query string: `query`, `operationName`, `variables`, and
/// `extensions` (where a persisted query's hash comes, as Apollo Client and urql send it).
fn parse_get_request(query_string: &str) -> Result<async_graphql::Request, String> {
    let mut query = None;
    let mut operation_name = None;
    let mut variables = None;
    let mut extensions = None;
    for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        match key.as_ref() {
            "query" => query = Some(value.into_owned()),
            "operationName" if !value.is_empty() => operation_name = Some(value.into_owned()),
            "variables" if !value.is_empty() => {
                let json = json_object(&value, "variables")?;
                variables = Some(Variables::from_json(json));
            }
            "extensions" if !value.is_empty() => {
                extensions = Some(json_object(&value, "extensions")?);
            }
            _ => {}
        }
    }
    let mut request = async_graphql::Request::new(query.unwrap_or_default());
    if let Some(serde_json::Value::Object(fields)) = extensions {
        for (name, value) in fields {
            let value = async_graphql::Value::from_json(value)
                .map_err(|e| format!("`extensions` is not JSON: {e}"))?;
            request.extensions.insert(name, value);
        }
    }
    if request.query.is_empty() && !persisted_queries::is_persisted(&request) {
        return Err("A GET request needs a `query` parameter.".into());
    }
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = variables {
        request = request.variables(variables);
    }
    Ok(request)
}

/// A query-string parameter holding a JSON object (or `null`).
fn json_object(value: &str, name: &str) -> Result<serde_json::Value, String> {
    let json: serde_json::Value =
        serde_json::from_str(value).map_err(|e| format!("`{name}` is not JSON: {e}"))?;
    if !json.is_object() && !json.is_null() {
        return Err(format!("`{name}` must be a JSON object."));
    }
    Ok(json)
}

/// The GraphQL response, as `application/graphql-response+json` to clients that ask for it and
/// `application/json` to everyone else. A request error (the document did not parse or
/// validate, so nothing ran) carries no `data`, and with the newer media type a 400. Nothing
/// here may be cached: responses can carry tokens.
fn graphql_response(headers: &HeaderMap, response: &BatchResponse) -> Response {
    let modern = prefers_graphql_response_json(headers);
    // Written straight from the response: no JSON tree built in between.
    let (body, request_failed) = match response {
        BatchResponse::Single(single) => {
            let body = ResponseBody::of(single);
            (serde_json::to_vec(&body), body.data.is_none())
        }
        BatchResponse::Batch(responses) => {
            let bodies: Vec<ResponseBody> = responses.iter().map(ResponseBody::of).collect();
            (serde_json::to_vec(&bodies), false)
        }
    };
    let Ok(body) = body else {
        tracing::error!("a GraphQL response could not be written as JSON");
        let body = json!({"errors": [{
            "message": "Something went wrong on our side. Try again later.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }]});
        return json_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            modern,
            body.to_string().into_bytes(),
        );
    };
    let status = if modern && request_failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    json_body(status, modern, body)
}

/// One GraphQL response as JSON: `data` (left out when nothing ran), `errors` and `extensions`
/// when there are any.
#[derive(serde::Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

impl<'a> ResponseBody<'a> {
    fn of(response: &'a async_graphql::Response) -> Self {
        Self {
            data: (!is_request_error(response)).then_some(&response.data),
            errors: &response.errors,
            extensions: &response.extensions,
        }
    }
}

/// Nothing executed: no data, and no error points at a field.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// A request refused before GraphQL execution, still answered in the GraphQL response shape,
/// with the code of a request that is not one the server can run.
fn request_error(headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": BAD_REQUEST}}]});
    json_body(
        status,
        prefers_graphql_response_json(headers),
        body.to_string().into_bytes(),
    )
}

fn json_body(status: StatusCode, modern: bool, body: Vec<u8>) -> Response {
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
        body,
    )
        .into_response()
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
        assert!(parse_get_request("operationName=B").is_err());
        assert!(parse_get_request("query=%7Bme%7Bid%7D%7D&variables=%5B1%5D").is_err());
    }

    #[test]
    fn a_body_is_one_request_or_a_batch_by_its_first_character() {
        let single = parse_batch(br#" {"query": "{ me { id } }"}"#).unwrap();
        assert!(matches!(single, BatchRequest::Single(_)));
        let batch = parse_batch(b"\n [{\"query\": \"{ a }\"}, {\"query\": \"{ b }\"}]").unwrap();
        assert!(matches!(batch, BatchRequest::Batch(requests) if requests.len() == 2));
        assert!(parse_batch(b"\"{ me { id } }\"").is_err());
        assert!(parse_batch(b"[1]").is_err());
    }

    #[test]
    fn a_get_request_may_name_its_document_by_a_persisted_query_hash() {
        let request = parse_get_request(
            "operationName=Me&extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%7D%7D",
        )
        .unwrap();
        assert!(request.query.is_empty());
        assert!(persisted_queries::is_persisted(&request));
        assert!(parse_get_request("extensions=%7B%7D").is_err());
        assert!(parse_get_request("query=%7Bme%7Bid%7D%7D&extensions=1").is_err());
    }
}
