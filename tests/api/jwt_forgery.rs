//! Forged access tokens under `LATCHKEY_JWT_ALGORITHM=HS256` (docs/security.md, RFC 8725): only an
//! HS256 token with `typ: at+jwt`, signed with the master secret, for the right issuer and
//! audience, inside its lifetime, naming a live session of its own user, gets a user. Everything
//! else is anonymous. The asymmetric algorithms have their own forgeries in `signing_keys`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{
    Account, JWT_SECRET, PASSWORD, TestApp, assert_error, assert_no_errors, spawn_app_with_args,
};

const ATTACKER_KEY: &[u8] = b"an-attacker-chosen-key-of-at-least-32-bytes";

/// A server signing with the master secret, as every install did before asymmetric keys.
async fn spawn_app() -> TestApp {
    spawn_app_with_args(&["--jwt-algorithm", "HS256"]).await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims of a real token, read without verifying.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Fresh claims for the user and session of `account`, as the server would issue them.
fn live_claims(account: &Account) -> Value {
    let real = claims_of(&account.access_token);
    json!({
        "sub": real["sub"],
        "sid": real["sid"],
        "iat": now(),
        "exp": now() + 600,
        "iss": "latchkey",
        "aud": "latchkey",
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn access_header() -> Header {
    Header {
        alg: Algorithm::HS256,
        typ: Some("at+jwt".into()),
        ..Default::default()
    }
}

fn forge(header: &Header, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(key)).expect("encodes")
}

/// A token with the right header and the server's own key: only `claims` can make it fail.
fn forge_access(claims: &Value) -> String {
    forge(&access_header(), claims, JWT_SECRET.as_bytes())
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with a hand-written header, HMAC-SHA256-signed with `key`.
fn forge_raw(header: &Value, claims: &Value, key: &[u8]) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(key),
        Algorithm::HS256,
    )
    .expect("signs");
    format!("{message}.{signature}")
}

#[track_caller]
fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (key, value) in changes.as_object().expect("an object of changes") {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

async fn assert_refused(app: &TestApp, token: &str, case: &str) {
    let body = app.me(token).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{case}: {body}"
    );
    assert!(body["data"].is_null(), "{case}: {body}");
}

async fn signed_up(app: &TestApp) -> Account {
    app.signup("ada@example.com", PASSWORD).await
}

#[tokio::test]
async fn a_token_forged_with_the_servers_key_and_claims_for_a_live_session_works() {
    // The control for every test below: the forging itself is right, so their refusals are the
    // server's doing.
    let app = spawn_app().await;
    let account = signed_up(&app).await;

    let token = forge_access(&live_claims(&account));
    let body = app.me(&token).await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["me"]["id"], account.id());

    let raw = forge_raw(
        &json!({ "alg": "HS256", "typ": "at+jwt" }),
        &live_claims(&account),
        JWT_SECRET.as_bytes(),
    );
    assert_no_errors(&app.me(&raw).await);
    // An nbf in the past is fine.
    let with_nbf = with(&live_claims(&account), json!({ "nbf": now() - 60 }));
    assert_no_errors(&app.me(&forge_access(&with_nbf)).await);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let claims = live_claims(&account);
    let real_signature = account.access_token.rsplit('.').next().unwrap();

    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64_json(&json!({ "alg": alg, "typ": "at+jwt" }));
        let payload = b64_json(&claims);
        assert_refused(&app, &format!("{header}.{payload}."), alg).await;
        assert_refused(&app, &format!("{header}.{payload}"), alg).await;
        assert_refused(
            &app,
            &format!("{header}.{payload}.{real_signature}"),
            &format!("{alg} with a signature"),
        )
        .await;
    }
}

#[tokio::test]
async fn other_algorithms_are_refused_even_when_signed_with_the_servers_key() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;

    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let header = Header {
            alg,
            ..access_header()
        };
        let token = forge(&header, &live_claims(&account), JWT_SECRET.as_bytes());
        assert_refused(&app, &token, &format!("{alg:?}")).await;
    }
    // An asymmetric algorithm name over an HMAC made with the secret (key confusion).
    let message = format!(
        "{}.{}",
        b64_json(&json!({ "alg": "RS256", "typ": "at+jwt" })),
        b64_json(&live_claims(&account))
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap();
    assert_refused(&app, &format!("{message}.{signature}"), "RS256 header").await;
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_refused() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;

    let token = forge(&access_header(), &live_claims(&account), ATTACKER_KEY);
    assert_refused(&app, &token, "attacker key").await;
    let empty = forge(&access_header(), &live_claims(&account), b"");
    assert_refused(&app, &empty, "empty key").await;
}

#[tokio::test]
async fn a_payload_changed_after_signing_is_refused() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let grace = app.signup("grace@example.com", PASSWORD).await;

    let mut parts = account.access_token.split('.');
    let (header, _, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let other_claims = with(
        &claims_of(&account.access_token),
        json!({ "sub": grace.id(), "exp": now() + 100_000 }),
    );
    let token = format!("{header}.{}.{signature}", b64_json(&other_claims));

    assert_refused(&app, &token, "payload swapped").await;
}

#[tokio::test]
async fn a_wrong_or_missing_audience_or_issuer_is_refused() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let claims = live_claims(&account);

    for (case, changes) in [
        ("other audience", json!({ "aud": "another-service" })),
        ("other issuer", json!({ "iss": "https://evil.example" })),
        ("empty audience", json!({ "aud": "" })),
        ("no audience", json!({ "aud": null })),
        ("no issuer", json!({ "iss": null })),
    ] {
        let token = forge_access(&with(&claims, changes));
        assert_refused(&app, &token, case).await;
    }
}

#[tokio::test]
async fn a_token_outside_its_lifetime_is_refused() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let claims = live_claims(&account);

    for (case, changes) in [
        (
            "expired 120 s ago",
            json!({ "iat": now() - 1020, "exp": now() - 120 }),
        ),
        ("not before 120 s from now", json!({ "nbf": now() + 120 })),
        ("no exp", json!({ "exp": null })),
    ] {
        let token = forge_access(&with(&claims, changes));
        assert_refused(&app, &token, case).await;
    }
}

#[tokio::test]
async fn a_token_without_the_access_token_type_is_refused() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let claims = live_claims(&account);

    for typ in [
        None,
        Some("JWT"),
        Some("jwt"),
        Some("refresh+jwt"),
        Some(""),
    ] {
        let header = Header {
            typ: typ.map(str::to_owned),
            ..access_header()
        };
        let token = forge(&header, &claims, JWT_SECRET.as_bytes());
        assert_refused(&app, &token, &format!("typ {typ:?}")).await;
    }
}

#[tokio::test]
async fn a_token_missing_the_user_or_session_is_refused() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let claims = live_claims(&account);

    for (case, changes) in [
        ("no sub", json!({ "sub": null })),
        ("no sid", json!({ "sid": null })),
        ("sub not a uuid", json!({ "sub": "admin" })),
        ("sid not a uuid", json!({ "sid": "*" })),
    ] {
        let token = forge_access(&with(&claims, changes));
        assert_refused(&app, &token, case).await;
    }
}

#[tokio::test]
async fn a_validly_signed_token_for_a_revoked_session_is_refused() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let claims = live_claims(&account);
    assert_eq!(
        app.logout(&account.refresh_token).await["data"]["logout"],
        true
    );

    assert_refused(&app, &account.access_token, "the real token").await;
    // A brand-new signature, new jti and later expiry change nothing: the session is over.
    let token = forge_access(&claims);
    assert_refused(&app, &token, "forged for the revoked session").await;
}

#[tokio::test]
async fn a_validly_signed_token_pairing_a_user_with_someone_elses_session_is_refused() {
    let app = spawn_app().await;
    let ada = signed_up(&app).await;
    let grace = app.signup("grace@example.com", PASSWORD).await;
    let ada_claims = live_claims(&ada);
    let grace_claims = live_claims(&grace);

    for (case, claims) in [
        (
            "grace's id on ada's session",
            with(&ada_claims, json!({ "sub": grace_claims["sub"] })),
        ),
        (
            "ada's id on grace's session",
            with(&grace_claims, json!({ "sub": ada_claims["sub"] })),
        ),
        (
            "an unknown user on ada's session",
            with(
                &ada_claims,
                json!({ "sub": uuid::Uuid::new_v4().to_string() }),
            ),
        ),
        (
            "ada on an unknown session",
            with(
                &ada_claims,
                json!({ "sid": uuid::Uuid::new_v4().to_string() }),
            ),
        ),
    ] {
        let token = forge_access(&claims);
        assert_refused(&app, &token, case).await;
    }
    // Both real sessions are untouched.
    assert_no_errors(&app.me(&ada.access_token).await);
    assert_no_errors(&app.me(&grace.access_token).await);
}

#[tokio::test]
async fn header_fields_pointing_at_another_key_do_not_choose_the_key() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let claims = live_claims(&account);
    let attacker_jwk = json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(ATTACKER_KEY) });

    let headers = [
        json!({ "alg": "HS256", "typ": "at+jwt", "kid": "attacker" }),
        json!({ "alg": "HS256", "typ": "at+jwt", "kid": "../../../../dev/null" }),
        json!({ "alg": "HS256", "typ": "at+jwt", "jku": "https://evil.example/jwks.json" }),
        json!({ "alg": "HS256", "typ": "at+jwt", "jwk": attacker_jwk }),
        json!({ "alg": "HS256", "typ": "at+jwt", "x5u": "https://evil.example/cert.pem" }),
    ];
    for header in headers {
        let token = forge_raw(&header, &claims, ATTACKER_KEY);
        assert_refused(&app, &token, &header.to_string()).await;
    }
}

#[tokio::test]
async fn a_refused_token_makes_the_request_anonymous_and_public_operations_still_work() {
    let app = spawn_app().await;
    let account = signed_up(&app).await;
    let forged = forge(&access_header(), &live_claims(&account), ATTACKER_KEY);

    let body = app.update_me(&forged, json!({ "name": "Mallory" })).await;
    assert_error(&body, "UNAUTHENTICATED");
    let me = app.me(&account.access_token).await;
    assert_eq!(me["data"]["me"]["name"], "Test User");
}
