//! latchkey from the outside: a resource server of the examples folder, protected by
//! `latchkey-verify`, accepts latchkey's real tokens fetched over its JWKS URL and refuses
//! forged, absent and revoked ones.

use std::time::Duration;

use crate::helpers::{JWT_SECRET, PASSWORD, spawn_app};

#[path = "../../examples/resource_server.rs"]
#[allow(dead_code)]
mod resource_server;

/// Serves `router` on a free loopback port, with the peer address latchkey's routes need (as
/// `axum::serve` gives it), and returns its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    format!("http://{address}")
}

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_example_resource_server_accepts_latchkeys_tokens_and_refuses_others() {
    let latchkey = spawn_app().await;
    let account = latchkey.signup("ada@example.com", PASSWORD).await;
    let service = serve(resource_server::app(&latchkey.address)).await;
    let client = &latchkey.client;

    let (status, body) = get(
        client,
        &format!("{service}/hello"),
        Some(&account.access_token),
    )
    .await;
    assert_eq!((status, body), (200, format!("hello {}", account.id())));
    // Signed in, but without the admin role.
    let (status, _) = get(
        client,
        &format!("{service}/admin"),
        Some(&account.access_token),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(get(client, &format!("{service}/hello"), None).await.0, 401);
    // An HS256 token made with the master secret is latchkey's old format, not a key it publishes.
    let header = serde_json::json!({ "alg": "HS256", "typ": "at+jwt" });
    let claims = serde_json::json!({ "sub": account.id(), "exp": 4_000_000_000_u64, "iss": "latchkey", "aud": "latchkey" });
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            alg: jsonwebtoken::Algorithm::HS256,
            typ: header["typ"].as_str().map(String::from),
            ..Default::default()
        },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        get(client, &format!("{service}/hello"), Some(&forged))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_resource_server_picks_up_a_rotation_without_a_restart() {
    let latchkey = spawn_app().await;
    let account = latchkey.signup("ada@example.com", PASSWORD).await;
    let service = serve(resource_server::app(&latchkey.address)).await;
    let client = &latchkey.client;
    assert_eq!(
        get(
            client,
            &format!("{service}/hello"),
            Some(&account.access_token)
        )
        .await
        .0,
        200
    );

    // Rotate twice: the token after is signed by a key the service has never fetched.
    let store = latchkey::auth::signing_keys::KeyStore::new(
        latchkey.db().await,
        JWT_SECRET.as_bytes(),
        latchkey::auth::signing_keys::SigningAlgorithm::Es256,
    );
    store.rotate().await.unwrap();
    store.rotate().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let fresh = loop {
        let token = latchkey
            .login("ada@example.com", PASSWORD)
            .await
            .access_token;
        if token.split('.').next() != account.access_token.split('.').next() {
            break token;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "latchkey did not rotate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The unknown kid makes the service refetch the JWKS (its first fetch was over 5 s ago or
    // it refetches now; either way within the minimum interval).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while get(client, &format!("{service}/hello"), Some(&fresh))
        .await
        .0
        != 200
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the service never accepted the new key"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[path = "../../examples/host_app.rs"]
#[allow(dead_code)]
mod host_app;

/// Settings for an embedded latchkey on a fresh database.
fn embedded_settings(dir: &crate::helpers::DataDir) -> latchkey::config::Settings {
    latchkey::config::Settings::from_args([
        "--database-url",
        dir.database_url(),
        "--secret",
        JWT_SECRET,
        "--mail-dir",
        dir.path().join("mail").to_str().unwrap(),
        "--public-url",
        "http://host.test/auth",
    ])
    .unwrap()
}

async fn signup_at(client: &reqwest::Client, graphql_url: &str) -> (String, String) {
    let body: serde_json::Value = client
        .post(graphql_url)
        .json(&serde_json::json!({
            "query": "mutation($input: SignupInput!) { signup(input: $input) { accessToken user { id } } }",
            "variables": { "input": { "email": "ada@example.com", "password": PASSWORD } },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signup = &body["data"]["signup"];
    (
        signup["accessToken"]
            .as_str()
            .expect("signed up")
            .to_owned(),
        signup["user"]["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn the_example_host_app_serves_latchkey_under_a_prefix_and_protects_its_own_routes() {
    let dir = crate::helpers::DataDir::new().await;
    let (router, latchkey, events) = host_app::host_app(embedded_settings(&dir)).await.unwrap();
    let host = serve(router).await;
    let client = reqwest::Client::new();

    let (token, user_id) = signup_at(&client, &format!("{host}/auth/graphql")).await;
    let (status, body) = get(&client, &format!("{host}/hello"), Some(&token)).await;
    assert_eq!((status, body), (200, format!("hello {user_id}")));
    assert_eq!(get(&client, &format!("{host}/hello"), None).await.0, 401);
    assert_eq!(
        get(&client, &format!("{host}/hello"), Some("not-a-token"))
            .await
            .0,
        401
    );
    assert_eq!(
        get(&client, &format!("{host}/admin"), Some(&token)).await.0,
        403
    );

    // A token whose roles include admin (signed with latchkey's own current key) passes.
    let keys = latchkey::auth::signing_keys::KeyStore::new(
        latchkey::sea_orm::Database::connect(dir.database_url())
            .await
            .unwrap(),
        JWT_SECRET.as_bytes(),
        latchkey::auth::signing_keys::SigningAlgorithm::Es256,
    )
    .load()
    .await
    .unwrap();
    let current = keys
        .iter()
        .find(|key| key.state == latchkey::auth::signing_keys::KeyState::Current)
        .unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    claims["roles"] = serde_json::json!(["admin"]);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(current.kid.clone());
    let admin = jsonwebtoken::encode(&header, &claims, &current.pair.encoding).unwrap();
    assert_eq!(
        get(&client, &format!("{host}/admin"), Some(&admin)).await.0,
        200
    );

    // latchkey's own routes answer under the prefix, discovery pointing back under it.
    let discovery: serde_json::Value = client
        .get(format!("{host}/auth/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["jwks_uri"],
        "http://host.test/auth/.well-known/jwks.json"
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = events.lock().unwrap().clone();
        let created = seen
            .iter()
            .any(|event| matches!(event, latchkey::embed::AccountEvent::Created { email, .. } if email == "ada@example.com"));
        let signed_in = seen
            .iter()
            .any(|event| matches!(event, latchkey::embed::AccountEvent::SignedIn { .. }));
        if created && signed_in {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latchkey.shutdown().await;
}

#[tokio::test]
async fn a_failing_or_stuck_account_hook_neither_undoes_nor_holds_up_the_change() {
    let dir = crate::helpers::DataDir::new().await;
    let latchkey = latchkey::embed::LatchkeyBuilder::new(embedded_settings(&dir))
        .on_account_event(|_| async { panic!("a hook that fails") })
        .on_account_event(|_| std::future::pending::<()>())
        .build()
        .await
        .unwrap();
    let host = serve(axum::Router::new().nest("/auth", latchkey.router())).await;
    let client = reqwest::Client::new();

    let started = std::time::Instant::now();
    let (token, _) = signup_at(&client, &format!("{host}/auth/graphql")).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let me: serde_json::Value = client
        .post(format!("{host}/auth/graphql"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["me"]["email"], "ada@example.com", "{me}");
    latchkey.shutdown().await;
}

#[tokio::test]
async fn latchkey_verify_refetches_the_jwks_at_most_once_per_interval_for_unknown_kids() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let latchkey = spawn_app().await;
    let account = latchkey.signup("ada@example.com", PASSWORD).await;
    // A proxy in front of latchkey's JWKS that counts the fetches.
    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = fetches.clone();
    let upstream = latchkey.url("/.well-known/jwks.json");
    let proxy = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let (counted, upstream) = (counted.clone(), upstream.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let body = reqwest::get(upstream).await.unwrap().text().await.unwrap();
                ([("cache-control", "public, max-age=300")], body)
            }
        }),
    );
    let proxy = serve(proxy).await;
    let verifier = latchkey_verify::Verifier::new(latchkey_verify::VerifierConfig::new(&proxy));

    verifier
        .verify(&account.access_token)
        .await
        .expect("a real token verifies");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // Within max-age, a known kid costs no fetch; a burst of unknown kids costs one at most.
    verifier.verify(&account.access_token).await.unwrap();
    let (header, rest) = account.access_token.split_once('.').unwrap();
    let mut header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    for i in 0..20 {
        header["kid"] = format!("made-up-{i}").into();
        let encoded = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            header.to_string(),
        );
        assert!(verifier.verify(&format!("{encoded}.{rest}")).await.is_err());
    }
    assert!(fetches.load(Ordering::SeqCst) <= 2, "{fetches:?} fetches");
}
