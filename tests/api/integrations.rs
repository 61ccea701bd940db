//! latchkey from the outside: a resource server of the examples folder, protected by
//! `latchkey-verify`, accepts latchkey's real tokens fetched over its JWKS URL and refuses
//! forged, absent and revoked ones.

use std::time::Duration;

use crate::helpers::{JWT_SECRET, PASSWORD, spawn_app};

#[path = "../../examples/resource_server.rs"]
#[allow(dead_code)]
mod resource_server;

/// Serves `router` on a free loopback port and returns its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
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
