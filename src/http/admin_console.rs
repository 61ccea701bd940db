//! The admin console at `/admin`: a page and its ES modules (`assets/admin/`), compiled into the
//! binary, that manage users through the public GraphQL API only. Off with `LATCHKEY_ADMIN_CONSOLE=false`.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Scripts and styles from latchkey only, no inline script or style, and requests to its own
/// origin only: the page holds an administrator's tokens.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

macro_rules! assets {
    ($($file:literal => $type:expr),* $(,)?) => {
        [$(($file, $type, include_bytes!(concat!("../../assets/admin/", $file)).as_slice())),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The files under `/admin/`, by name.
const ASSETS: [(&str, &str, &[u8]); 17] = assets![
    "admin.css" => "text/css; charset=utf-8",
    "main.js" => JS,
    "dom.js" => JS,
    "api.js" => JS,
    "session.js" => JS,
    "operations.js" => JS,
    "errors.js" => JS,
    "router.js" => JS,
    "pager.js" => JS,
    "views/sign-in.js" => JS,
    "views/users.js" => JS,
    "views/user.js" => JS,
    "views/new-user.js" => JS,
    "views/security-events.js" => JS,
    "views/organizations.js" => JS,
    "views/roles.js" => JS,
    "views/shell.js" => JS,
];

const PAGE: &[u8] = include_bytes!("../../assets/admin/index.html");

/// The console's page, or 404 when it is turned off.
pub async fn page(State(state): State<AppState>) -> Response {
    if !state.admin_console {
        return (StatusCode::NOT_FOUND, "The admin console is turned off.").into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        PAGE,
    )
        .into_response()
}

/// One of the console's files (`/admin/views/users.js`), or 404.
pub async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let found = ASSETS.iter().find(|(asset, _, _)| *asset == name);
    let (true, Some((_, content_type, body))) = (state.admin_console, found) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            // Short: the modules import each other unversioned, so after an upgrade they must
            // not mix with old copies for long.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        *body,
    )
        .into_response()
}
