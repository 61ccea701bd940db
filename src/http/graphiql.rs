//! The GraphiQL playground, self-hosted: the page and its scripts come from latchkey itself
//! (`assets/graphiql/`), so it works offline and its Content-Security-Policy admits no script
//! from anywhere else and no inline script at all. It opens with tabs for the common operations
//! (`graphiql_tabs`) and sends the token of its last sign-in as the bearer (`auth-*.js`).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>latchkey · GraphiQL</title>
  <link rel="stylesheet" href="/graphiql/graphiql.min.css">
  <link rel="stylesheet" href="/graphiql/auth-bar.css">
</head>
<body>
  <div id="auth-bar" hidden></div>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphiql/react.production.min.js"></script>
  <script src="/graphiql/react-dom.production.min.js"></script>
  <script src="/graphiql/graphiql.min.js"></script>
  <script type="module" src="/graphiql/init.js"></script>
</body>
</html>
"#;

/// The files under `/graphiql/`, compiled into the binary.
const ASSETS: [(&str, &str, &[u8]); 9] = [
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/init.js"),
    ),
    (
        "auth-fetcher.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/auth-fetcher.js"),
    ),
    (
        "auth-token.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/auth-token.js"),
    ),
    (
        "auth-bar.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/auth-bar.js"),
    ),
    (
        "auth-bar.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/auth-bar.css"),
    ),
];

/// The playground page, or 404 when `LATCHKEY_GRAPHIQL=false`.
pub fn page(state: &AppState) -> Response {
    if !state.graphiql {
        return (
            StatusCode::NOT_FOUND,
            "The GraphiQL playground is turned off.",
        )
            .into_response();
    }
    let mut response = Html(PAGE).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

pub async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    if state.graphiql && name == "default-tabs.json" {
        return (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            super::graphiql_tabs::json(),
        )
            .into_response();
    }
    let found = ASSETS.iter().find(|(asset, _, _)| *asset == name);
    let (true, Some((_, content_type, body))) = (state.graphiql, found) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The files change only with latchkey itself.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        *body,
    )
        .into_response()
}
