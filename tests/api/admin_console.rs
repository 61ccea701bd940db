//! The admin console at `/admin`: served from the binary under a Content-Security-Policy that
//! admits no inline script and no other origin, with every module it imports, and gone (404)
//! with `LATCHKEY_ADMIN_CONSOLE=false`.

use crate::helpers::{TestApp, spawn_app, spawn_app_with_args};

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

#[tokio::test]
async fn the_console_is_served_under_a_strict_content_security_policy() {
    let app = spawn_app().await;

    let response = get(&app, "/admin").await;

    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert!(header("content-type").starts_with("text/html"));
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header("cache-control"), "no-store");
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"<script type="module" src="/admin/main.js">"#));
    assert!(!page.contains("<script>"), "no inline script");
}

#[tokio::test]
async fn every_module_the_console_imports_is_served() {
    let app = spawn_app().await;
    let mut pending = vec!["/admin/main.js".to_owned()];
    let mut seen = Vec::new();

    while let Some(path) = pending.pop() {
        if seen.contains(&path) {
            continue;
        }
        let response = get(&app, &path).await;
        assert_eq!(response.status(), 200, "{path}");
        let source = response.text().await.unwrap();
        let base = &path[..=path.rfind('/').unwrap()];
        for line in source.lines().filter(|line| line.starts_with("import ")) {
            let relative = line.split(['\'', '"']).nth(1).unwrap();
            pending.push(resolve(base, relative));
        }
        seen.push(path);
    }

    assert!(seen.len() >= 10, "{seen:?}");
    assert_eq!(get(&app, "/admin/admin.css").await.status(), 200);
    assert_eq!(get(&app, "/admin/nothing.js").await.status(), 404);
}

/// `./x.js` or `../x.js` against a folder ending in `/`.
fn resolve(base: &str, relative: &str) -> String {
    let mut folder = base.trim_end_matches('/').to_owned();
    let mut rest = relative;
    loop {
        if let Some(tail) = rest.strip_prefix("./") {
            rest = tail;
        } else if let Some(tail) = rest.strip_prefix("../") {
            folder.truncate(folder.rfind('/').unwrap());
            rest = tail;
        } else {
            return format!("{folder}/{rest}");
        }
    }
}

#[tokio::test]
async fn turned_off_the_console_and_its_files_are_404() {
    let app = spawn_app_with_args(&["--admin-console", "false"]).await;

    for path in ["/admin", "/admin/", "/admin/main.js", "/admin/admin.css"] {
        assert_eq!(get(&app, path).await.status(), 404, "{path}");
    }
    // The API it would use stays.
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&serde_json::json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
