//! Asymmetric signing keys (docs/security.md, "Signing keys"): tokens name their key by `kid`,
//! the JWKS publishes only public parts, forged tokens of every kind are anonymous, a rotation
//! keeps the previous key's tokens valid, a revoked key's tokens are refused, and switching an
//! install from HS256 only makes clients refresh.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use latchkey::auth::signing_keys::{KeyState, KeyStore, SigningAlgorithm};
use latchkey::sea_orm::EntityTrait as _;
use serde_json::{Value, json};

use crate::helpers::{
    AppOptions, JWT_SECRET, PASSWORD, TestApp, assert_no_errors, latchkey_binary, spawn_app,
    spawn_app_with, spawn_app_with_args, tokens_of,
};

/// How long another instance may take to pick up a key change (it polls every second).
const PICKUP: Duration = Duration::from_secs(15);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn part_of(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

fn header_of(token: &str) -> Value {
    part_of(token, 0)
}

fn claims_of(token: &str) -> Value {
    part_of(token, 1)
}

fn kid_of(token: &str) -> String {
    header_of(token)["kid"]
        .as_str()
        .expect("the token names its key")
        .to_owned()
}

/// Fresh claims for the user and session of `token`, as the server would issue them.
fn live_claims(token: &str) -> Value {
    let real = claims_of(token);
    json!({
        "sub": real["sub"], "sid": real["sid"], "iat": now(), "exp": now() + 600,
        "iss": "latchkey", "aud": "latchkey", "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (key, value) in changes.as_object().unwrap() {
        claims[key] = value.clone();
    }
    claims
}

/// `header.claims` signed with `key` under `algorithm`, whatever the header says.
fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, algorithm: Algorithm) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, algorithm).unwrap();
    format!("{message}.{signature}")
}

async fn jwks(app: &TestApp) -> (Value, reqwest::header::HeaderMap) {
    let response = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (response.json().await.unwrap(), headers)
}

fn published_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The server's keys, opened the way the server opens them (the test knows the master secret).
async fn server_keys(app: &TestApp, algorithm: SigningAlgorithm) -> KeyStore {
    KeyStore::new(app.db().await, JWT_SECRET.as_bytes(), algorithm)
}

async fn encoding_key_in_state(app: &TestApp, state: KeyState) -> (String, EncodingKey) {
    let keys = server_keys(app, SigningAlgorithm::Es256)
        .await
        .load()
        .await
        .unwrap();
    let key = keys.into_iter().find(|key| key.state == state).unwrap();
    (key.kid, key.pair.encoding)
}

async fn assert_refused(app: &TestApp, token: &str, case: &str) {
    let body = app.me(token).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{case}: {body}"
    );
}

/// `latchkey keys ...` on the app's database, as an operator runs it.
async fn keys_cli(app: &TestApp, args: &[&str]) -> String {
    let mut command = tokio::process::Command::from(latchkey_binary());
    let output = command
        .arg("keys")
        .args(args)
        .args(["--database-url", app.data_dir.database_url()])
        .args(["--secret", JWT_SECRET])
        .current_dir(app.data_dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "keys {args:?}: {stdout} {stderr}");
    stdout
}

/// Waits until the server issues tokens signed by another key than `old_kid`.
async fn wait_for_new_signing_key(app: &TestApp, old_kid: &str) -> String {
    let deadline = tokio::time::Instant::now() + PICKUP;
    loop {
        let token = app.login(EMAIL, PASSWORD).await.access_token;
        if kid_of(&token) != old_kid {
            return token;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server still signs with {old_kid}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `token` is refused.
async fn wait_until_refused(app: &TestApp, token: &str) {
    let deadline = tokio::time::Instant::now() + PICKUP;
    while app.me(token).await["data"]["me"].is_object() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token is still accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const EMAIL: &str = "ada@example.com";

#[tokio::test]
async fn tokens_are_es256_by_default_and_name_a_key_the_jwks_publishes() {
    let app = spawn_app().await;
    let account = app.signup(EMAIL, PASSWORD).await;
    let header = header_of(&account.access_token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");

    let (jwks, headers) = jwks(&app).await;
    assert_eq!(headers["cache-control"], "public, max-age=300");
    // current and next.
    assert_eq!(published_kids(&jwks).len(), 2, "{jwks}");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == header["kid"])
        .expect("the signing key is published");
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (
            &json!("EC"),
            &json!("P-256"),
            &json!("ES256"),
            &json!("sig")
        )
    );
    // A verifier holding only the JWKS accepts the token.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["latchkey"]);
    validation.set_issuer(&["latchkey"]);
    jsonwebtoken::decode::<Value>(
        &account.access_token,
        &DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .expect("the token verifies with the published key");
}

#[tokio::test]
async fn every_algorithm_publishes_public_parts_only_and_hs256_publishes_nothing() {
    for (name, kty) in [("ES256", "EC"), ("EdDSA", "OKP"), ("RS256", "RSA")] {
        let app = spawn_app_with_args(&["--jwt-algorithm", name]).await;
        let account = app.signup(EMAIL, PASSWORD).await;
        assert_eq!(header_of(&account.access_token)["alg"], name);
        assert_no_errors(&app.me(&account.access_token).await);
        let (jwks, _) = jwks(&app).await;
        for key in jwks["keys"].as_array().unwrap() {
            assert_eq!((&key["kty"], &key["alg"]), (&json!(kty), &json!(name)));
            for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
                assert!(key.get(private).is_none(), "{name}: {key}");
            }
        }
    }
    let app = spawn_app_with_args(&["--jwt-algorithm", "HS256"]).await;
    let account = app.signup(EMAIL, PASSWORD).await;
    assert_eq!(header_of(&account.access_token)["alg"], "HS256");
    assert_eq!(jwks(&app).await.0, json!({ "keys": [] }));
}

#[tokio::test]
async fn discovery_names_the_issuer_and_an_absolute_jwks_uri_from_the_public_url() {
    let app = spawn_app_with_args(&["--public-url", "https://auth.example.com/"]).await;
    let response = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["issuer"], "latchkey");
    assert_eq!(
        body["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
}

#[tokio::test]
async fn a_token_forged_with_the_servers_own_current_key_works() {
    // The control for the forgeries below: signing the way the server does is accepted, so
    // their refusals are the server's doing.
    let app = spawn_app().await;
    let account = app.signup(EMAIL, PASSWORD).await;
    let (kid, key) = encoding_key_in_state(&app, KeyState::Current).await;
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": kid });
    let token = sign_raw(
        &header,
        &live_claims(&account.access_token),
        &key,
        Algorithm::ES256,
    );
    assert_no_errors(&app.me(&token).await);
}

#[tokio::test]
async fn forged_tokens_of_every_kind_are_anonymous_never_an_error() {
    let app = spawn_app().await;
    let account = app.signup(EMAIL, PASSWORD).await;
    let claims = live_claims(&account.access_token);
    let (kid, current) = encoding_key_in_state(&app, KeyState::Current).await;
    let (next_kid, next) = encoding_key_in_state(&app, KeyState::Next).await;
    let es256 =
        |header: Value, claims: &Value| sign_raw(&header, claims, &current, Algorithm::ES256);
    let access = |kid: &str| json!({ "alg": "ES256", "typ": "at+jwt", "kid": kid });

    // The public key, in every form a confused verifier might use as an HMAC secret.
    let (jwks, _) = jwks(&app).await;
    let public = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .unwrap()
        .clone();
    let x = URL_SAFE_NO_PAD
        .decode(public["x"].as_str().unwrap())
        .unwrap();
    let y = URL_SAFE_NO_PAD
        .decode(public["y"].as_str().unwrap())
        .unwrap();
    let point = [&[4u8][..], &x, &y].concat();
    let mut cases: Vec<(String, String)> = Vec::new();
    for secret in [
        point.clone(),
        public.to_string().into_bytes(),
        jwks.to_string().into_bytes(),
    ] {
        let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid });
        cases.push((
            "HS256 with the public key as secret".into(),
            sign_raw(
                &header,
                &claims,
                &EncodingKey::from_secret(&secret),
                Algorithm::HS256,
            ),
        ));
    }
    // HS256 with the master secret: that was the old algorithm, not this install's.
    cases.push((
        "HS256 with the master secret".into(),
        sign_raw(
            &json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid }),
            &claims,
            &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
            Algorithm::HS256,
        ),
    ));
    for alg in ["none", "None", "NONE"] {
        let header = b64_json(&json!({ "alg": alg, "typ": "at+jwt", "kid": kid }));
        cases.push((
            format!("alg {alg}"),
            format!("{header}.{}.", b64_json(&claims)),
        ));
    }
    cases.push((
        "no kid".into(),
        es256(json!({ "alg": "ES256", "typ": "at+jwt" }), &claims),
    ));
    cases.push(("unknown kid".into(), es256(access("attacker"), &claims)));
    cases.push((
        "kid path traversal".into(),
        es256(access("../../../../dev/null"), &claims),
    ));
    cases.push(("kid SQL".into(), es256(access("' OR 1=1 --"), &claims)));
    // The right key under the name of the next one, and the next key before it signs.
    cases.push(("wrong kid".into(), es256(access(&next_kid), &claims)));
    cases.push((
        "signed by the next key".into(),
        sign_raw(&access(&next_kid), &claims, &next, Algorithm::ES256),
    ));
    // An attacker's own key, pointed at or embedded in the header.
    let attacker_der = {
        let key = p256::SecretKey::random(&mut chacha20poly1305::aead::OsRng);
        p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&key)
            .unwrap()
            .as_bytes()
            .to_vec()
    };
    let attacker = EncodingKey::from_ec_der(&attacker_der);
    for (case, header) in [
        (
            "jku elsewhere",
            json!({ "alg": "ES256", "typ": "at+jwt", "kid": kid, "jku": "https://evil.example/jwks.json" }),
        ),
        (
            "x5u elsewhere",
            json!({ "alg": "ES256", "typ": "at+jwt", "kid": kid, "x5u": "https://evil.example/cert.pem" }),
        ),
        (
            "embedded jwk",
            json!({ "alg": "ES256", "typ": "at+jwt", "jwk": { "kty": "EC", "crv": "P-256", "x": public["x"], "y": public["y"] } }),
        ),
        ("attacker key under our kid", access(&kid)),
    ] {
        cases.push((
            case.into(),
            sign_raw(&header, &claims, &attacker, Algorithm::ES256),
        ));
    }
    for (case, changes) in [
        (
            "expired",
            json!({ "iat": now() - 1000, "exp": now() - 120 }),
        ),
        ("wrong iss", json!({ "iss": "https://evil.example" })),
        ("wrong aud", json!({ "aud": "another-service" })),
    ] {
        cases.push((case.into(), es256(access(&kid), &with(&claims, changes))));
    }
    for typ in [json!("JWT"), json!("refresh+jwt"), Value::Null] {
        let header = json!({ "alg": "ES256", "typ": typ, "kid": kid });
        cases.push((format!("typ {typ}"), es256(header, &claims)));
    }
    for (case, token) in cases {
        assert_refused(&app, &token, &case).await;
    }
    assert_no_errors(&app.me(&account.access_token).await);
}

#[tokio::test]
async fn the_keys_table_holds_no_usable_private_key() {
    let app = spawn_app().await;
    app.signup(EMAIL, PASSWORD).await;
    let db = app.db().await;
    let rows = latchkey::entities::signing_key::Entity::find()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        // Sealed: no DER private key can be read from the column ...
        assert!(
            <p256::SecretKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_der(&row.private_sealed)
                .is_err()
        );
        let public: Value = serde_json::from_str(&row.public_jwk).unwrap();
        assert!(public.get("d").is_none(), "{public}");
        // ... and under another master secret the sealed key does not open.
        let other = KeyStore::new(
            db.clone(),
            b"another-master-secret-of-at-least-32-bytes!",
            SigningAlgorithm::Es256,
        );
        assert!(other.load().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn after_a_rotation_the_previous_keys_tokens_still_work_and_a_second_rotation_retires_them() {
    let app = spawn_app().await;
    let first = app.signup(EMAIL, PASSWORD).await.access_token;
    let first_kid = kid_of(&first);
    let (jwks_before, _) = jwks(&app).await;
    let next_kid = published_kids(&jwks_before)
        .into_iter()
        .find(|kid| *kid != first_kid)
        .unwrap();

    keys_cli(&app, &["rotate"]).await;
    let second = wait_for_new_signing_key(&app, &first_kid).await;
    // The key published ahead as next is the one that now signs.
    assert_eq!(kid_of(&second), next_kid);
    assert_no_errors(&app.me(&first).await);
    assert_eq!(published_kids(&jwks(&app).await.0).len(), 3);

    keys_cli(&app, &["rotate"]).await;
    wait_for_new_signing_key(&app, &next_kid).await;
    wait_until_refused(&app, &first).await;
    assert!(!published_kids(&jwks(&app).await.0).contains(&first_kid));
    assert_no_errors(&app.me(&second).await);
}

#[tokio::test]
async fn revoking_the_current_key_rotates_first_and_its_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.signup(EMAIL, PASSWORD).await.access_token;
    let kid = kid_of(&token);
    // Verified once, so cached: the revocation must reach the cache too.
    assert_no_errors(&app.me(&token).await);

    let summary = keys_cli(&app, &["revoke", &kid]).await;
    assert!(summary.contains("rotated"), "{summary}");
    wait_until_refused(&app, &token).await;
    let fresh = wait_for_new_signing_key(&app, &kid).await;
    assert_no_errors(&app.me(&fresh).await);
    assert!(!published_kids(&jwks(&app).await.0).contains(&kid));

    let listing = keys_cli(&app, &["list"]).await;
    assert!(
        listing.contains(&kid) && listing.contains("revoked"),
        "{listing}"
    );
    assert!(
        listing.contains("current") && listing.contains("next"),
        "{listing}"
    );
    // Nothing but ids, names and dates: no key material.
    assert!(
        !listing.contains("BEGIN") && listing.lines().all(|line| line.len() < 120),
        "{listing}"
    );
}

#[tokio::test]
async fn switching_an_install_from_hs256_only_makes_clients_refresh() {
    let mut old = spawn_app_with_args(&["--jwt-algorithm", "HS256"]).await;
    let account = old.signup(EMAIL, PASSWORD).await;
    let data_dir = old.data_dir.clone();
    old.stop().await;

    let new = spawn_app_with(AppOptions {
        data_dir: Some(data_dir),
        ..AppOptions::default()
    })
    .await;
    assert_refused(&new, &account.access_token, "the HS256 access token").await;
    let body = new.refresh_raw(&account.refresh_token).await;
    let (access, _refresh) = tokens_of(&body, "refreshToken");
    assert_eq!(header_of(&access)["alg"], "ES256");
    assert_eq!(new.me(&access).await["data"]["me"]["id"], account.id());
}

#[tokio::test]
async fn hasura_claims_take_the_shape_hasura_documents() {
    let app = spawn_app_with_args(&["--hasura-claims", "true"]).await;
    let account = app.signup(EMAIL, PASSWORD).await;
    let claims = claims_of(&account.access_token);
    let hasura = &claims["https://hasura.io/jwt/claims"];
    // Hasura's JWT mode: string user id, a default role that is among the allowed roles.
    assert_eq!(hasura["x-hasura-user-id"], claims["sub"]);
    assert_eq!(hasura["x-hasura-default-role"], "user");
    let allowed = hasura["x-hasura-allowed-roles"].as_array().unwrap();
    assert!(allowed.iter().all(Value::is_string));
    assert!(allowed.contains(&json!("user")));
    assert_no_errors(&app.me(&account.access_token).await);

    let plain = spawn_app().await.signup(EMAIL, PASSWORD).await;
    assert!(
        claims_of(&plain.access_token)
            .get("https://hasura.io/jwt/claims")
            .is_none()
    );
}

#[tokio::test]
async fn a_rotation_by_one_instance_is_used_by_another() {
    // A rotates every 5 s; B never rotates by itself but must follow A.
    let a = spawn_app_with_args(&["--key-rotation-interval", "5s"]).await;
    let b = spawn_app_with(AppOptions {
        data_dir: Some(a.data_dir.clone()),
        ..AppOptions::default()
    })
    .await;
    let from_b = b.signup(EMAIL, PASSWORD).await.access_token;
    let first_kid = kid_of(&from_b);
    let rotated = wait_for_new_signing_key(&b, &first_kid).await;
    // B signs with A's new key, and each accepts the other's tokens.
    assert_no_errors(&a.me(&rotated).await);
    let from_a = a.login(EMAIL, PASSWORD).await.access_token;
    assert_no_errors(&b.me(&from_a).await);
}

#[tokio::test]
async fn switching_between_asymmetric_algorithms_keeps_the_old_keys_tokens_valid() {
    let mut old = spawn_app().await;
    let account = old.signup(EMAIL, PASSWORD).await;
    let data_dir = old.data_dir.clone();
    old.stop().await;

    let new = spawn_app_with(AppOptions {
        data_dir: Some(data_dir),
        extra_args: vec!["--jwt-algorithm".into(), "EdDSA".into()],
        ..AppOptions::default()
    })
    .await;
    // The ES256 key is previous now: its token still works, new ones are EdDSA.
    assert_no_errors(&new.me(&account.access_token).await);
    let fresh = new.login(EMAIL, PASSWORD).await.access_token;
    assert_eq!(header_of(&fresh)["alg"], "EdDSA");
    assert_no_errors(&new.me(&fresh).await);
}
