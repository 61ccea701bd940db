//! `sessionEvents` over WebSocket (graphql-transport-ws), with a real WebSocket client: the
//! events a signed-in client is told (its session ended, its account changed or was deleted),
//! sign-in by the token in `connection_init`, and the limits of docs/security.md.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::operations::SESSION_EVENTS as SESSION_EVENTS_DOCUMENT;
use crate::helpers::{
    Account, AppOptions, PASSWORD, TestApp, assert_no_errors, spawn_app, spawn_app_with,
    spawn_app_with_args,
};

const SESSION_EVENTS: &str = "subscription { sessionEvents { type at } }";
/// Long enough for any event on a loaded machine; events come in milliseconds.
const EVENT_WAIT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A graphql-transport-ws client on one connection.
struct LiveClient {
    socket: Socket,
}

#[derive(Debug, PartialEq)]
enum Received {
    Message(Value),
    Closed(u16, String),
}

impl LiveClient {
    async fn connect(app: &TestApp) -> LiveClient {
        Self::connect_offering(app, "graphql-transport-ws")
            .await
            .expect("the upgrade is accepted")
    }

    async fn connect_offering(
        app: &TestApp,
        subprotocols: &str,
    ) -> Result<LiveClient, tokio_tungstenite::tungstenite::Error> {
        let url = format!("{}/graphql", app.address.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", subprotocols.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        Ok(LiveClient { socket })
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("the message is sent");
    }

    async fn receive_within(&mut self, wait: Duration) -> Received {
        loop {
            let next = tokio::time::timeout(wait, self.socket.next())
                .await
                .expect("the server answers in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Received::Message(serde_json::from_str(&text).unwrap());
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |frame| {
                        (u16::from(frame.code), frame.reason.to_string())
                    });
                    return Received::Closed(code, reason);
                }
                Some(Ok(_)) => {}
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        }
    }

    async fn receive(&mut self) -> Received {
        self.receive_within(EVENT_WAIT).await
    }

    async fn message(&mut self) -> Value {
        match self.receive().await {
            Received::Message(message) => message,
            closed => panic!("expected a message, got {closed:?}"),
        }
    }

    async fn close_code(&mut self) -> u16 {
        match self.receive().await {
            Received::Closed(code, _) => code,
            message => panic!("expected the connection to close, got {message:?}"),
        }
    }

    async fn init(&mut self, payload: Value) {
        self.send(json!({"type": "connection_init", "payload": payload}))
            .await;
    }

    /// Signs in with `access_token` and waits for the acknowledgement.
    async fn sign_in(&mut self, access_token: &str) {
        self.init(json!({"Authorization": format!("Bearer {access_token}")}))
            .await;
        assert_eq!(self.message().await, json!({"type": "connection_ack"}));
    }

    /// Subscribes to the documented `sessionEvents` operation, as a client that pastes the file.
    async fn subscribe_documented(&mut self, id: &str) {
        let payload = json!({"query": SESSION_EVENTS_DOCUMENT.document, "operationName": SESSION_EVENTS_DOCUMENT.name});
        self.send(json!({"type": "subscribe", "id": id, "payload": payload}))
            .await;
    }

    async fn subscribe(&mut self, id: &str, query: &str) {
        self.send(json!({"type": "subscribe", "id": id, "payload": {"query": query}}))
            .await;
    }

    /// The type of the next `sessionEvents` event of operation `id`.
    async fn event(&mut self, id: &str) -> String {
        let message = self.message().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        assert_no_errors(&message["payload"]);
        let event = &message["payload"]["data"]["sessionEvents"];
        assert!(event["at"].as_str().is_some(), "{message}");
        event["type"].as_str().unwrap().to_owned()
    }

    async fn completed(&mut self, id: &str) {
        assert_eq!(self.message().await, json!({"type": "complete", "id": id}));
    }
}

/// A client of `account` signed in and subscribed to `sessionEvents` as operation "events".
async fn listening(app: &TestApp, account: &Account) -> LiveClient {
    let mut client = LiveClient::connect(app).await;
    client.sign_in(&account.access_token).await;
    client.subscribe_documented("events").await;
    client
}

async fn revoke_other_sessions(app: &TestApp, account: &Account) {
    let body = app
        .graphql_with_token(
            &account.access_token,
            "mutation { revokeOtherSessions }",
            json!({}),
        )
        .await;
    assert_no_errors(&body);
}

#[tokio::test]
async fn a_session_revoked_from_another_session_is_told_so_and_its_stream_completes() {
    let app = spawn_app().await;
    let laptop = app.signup("ada@example.com", PASSWORD).await;
    let phone = app.login("ada@example.com", PASSWORD).await;
    let mut laptop_events = listening(&app, &laptop).await;
    let mut phone_events = listening(&app, &phone).await;

    revoke_other_sessions(&app, &phone).await;

    assert_eq!(laptop_events.event("events").await, "SESSION_REVOKED");
    laptop_events.completed("events").await;
    // The session that revoked the others is told nothing: nothing of it changed.
    phone_events.send(json!({"type": "ping"})).await;
    assert_eq!(phone_events.message().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn logging_out_ends_the_stream_of_that_session() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut events = listening(&app, &account).await;

    assert_no_errors(&app.logout(&account.refresh_token).await);

    assert_eq!(events.event("events").await, "SESSION_REVOKED");
    events.completed("events").await;
}

#[tokio::test]
async fn a_password_changed_in_another_session_revokes_this_one() {
    let app = spawn_app().await;
    let laptop = app.signup("ada@example.com", PASSWORD).await;
    let phone = app.login("ada@example.com", PASSWORD).await;
    let mut laptop_events = listening(&app, &laptop).await;

    let body = app
        .update_me(
            &phone.access_token,
            json!({"currentPassword": PASSWORD, "newPassword": "a brand new passphrase 43"}),
        )
        .await;
    assert_no_errors(&body);

    assert_eq!(laptop_events.event("events").await, "SESSION_REVOKED");
    laptop_events.completed("events").await;
}

#[tokio::test]
async fn a_changed_name_is_an_account_update_and_the_stream_goes_on() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut events = listening(&app, &account).await;

    assert_no_errors(
        &app.update_me(&account.access_token, json!({"name": "Ada"}))
            .await,
    );
    assert_eq!(events.event("events").await, "ACCOUNT_UPDATED");

    // Still listening: the logout that follows is told too.
    assert_no_errors(&app.logout(&account.refresh_token).await);
    assert_eq!(events.event("events").await, "SESSION_REVOKED");
    events.completed("events").await;
}

#[tokio::test]
async fn a_deleted_account_is_told_so_and_its_stream_completes() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut events = listening(&app, &account).await;

    assert_no_errors(&app.delete_me(&account.access_token, PASSWORD).await);

    assert_eq!(events.event("events").await, "ACCOUNT_DELETED");
    events.completed("events").await;
}

#[tokio::test]
async fn a_subscription_of_a_session_already_ended_is_told_at_once() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut client = LiveClient::connect(&app).await;
    client.sign_in(&account.access_token).await;

    assert_no_errors(&app.logout(&account.refresh_token).await);
    client.subscribe("late", SESSION_EVENTS).await;

    assert_eq!(client.event("late").await, "SESSION_REVOKED");
    client.completed("late").await;
}

#[tokio::test]
async fn a_session_past_its_absolute_lifetime_is_told_so_without_any_notice() {
    let app = spawn_app_with_args(&["--session-max-age", "3s"]).await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut events = listening(&app, &account).await;

    assert_eq!(events.event("events").await, "SESSION_REVOKED");
    events.completed("events").await;
}

#[tokio::test]
async fn the_connection_closes_cleanly_when_its_access_token_expires() {
    let app = spawn_app_with_args(&["--access-token-ttl", "2s"]).await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut events = listening(&app, &account).await;

    // No event and no completion: a client reconnects with a fresh token and subscribes again.
    assert_eq!(events.close_code().await, 1000);
}

#[tokio::test]
async fn a_connection_without_a_valid_token_is_closed_with_4401() {
    // HS256, so that the test can sign expired tokens with the shared secret.
    let app = spawn_app_with_args(&["--jwt-algorithm", "HS256"]).await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let expired = token_expired_seconds_ago(&account, 120);
    // HTTP requests tolerate 30 s of clock skew on `exp`; a connection that would be closed
    // for the token's expiry as soon as it opened is refused instead (else clients that
    // reconnect on that close would spin).
    let just_expired = token_expired_seconds_ago(&account, 5);
    let payloads = [
        ("no payload", Value::Null),
        ("no Authorization", json!({"token": account.access_token})),
        ("garbage", json!({"Authorization": "Bearer not-a-token"})),
        ("no scheme", json!({"Authorization": account.access_token})),
        (
            "expired",
            json!({"Authorization": format!("Bearer {expired}")}),
        ),
        (
            "expired within the clock-skew leeway",
            json!({"Authorization": format!("Bearer {just_expired}")}),
        ),
    ];
    for (case, payload) in payloads {
        let mut client = LiveClient::connect(&app).await;
        client.init(payload).await;
        assert_eq!(client.close_code().await, 4401, "{case}");
    }

    // Either case of the key signs in.
    for key in ["Authorization", "authorization"] {
        let mut client = LiveClient::connect(&app).await;
        client
            .init(json!({ key: format!("Bearer {}", account.access_token) }))
            .await;
        assert_eq!(client.message().await, json!({"type": "connection_ack"}));
    }

    // Subscribing without signing in first is unauthorized too.
    let mut client = LiveClient::connect(&app).await;
    client.subscribe("1", SESSION_EVENTS).await;
    assert_eq!(client.close_code().await, 4401);
}

#[tokio::test]
async fn a_connection_that_never_signs_in_is_closed_with_4408_after_ten_seconds() {
    let app = spawn_app().await;
    let mut client = LiveClient::connect(&app).await;
    let opened = std::time::Instant::now();
    match client.receive_within(Duration::from_secs(30)).await {
        Received::Closed(code, _) => assert_eq!(code, 4408),
        message => panic!("expected a close, got {message:?}"),
    }
    assert!(opened.elapsed() >= Duration::from_secs(9), "closed early");
}

#[tokio::test]
async fn the_legacy_subprotocol_and_plain_upgrades_are_refused() {
    let app = spawn_app().await;
    for offered in ["graphql-ws", "chat"] {
        let refused = LiveClient::connect_offering(&app, offered).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 400, "{offered}");
            }
            other => panic!(
                "{offered}: expected an HTTP refusal, got {:?}",
                other.is_ok()
            ),
        }
    }
    // Offered among others, the served protocol is chosen.
    let client = LiveClient::connect_offering(&app, "graphql-ws, graphql-transport-ws").await;
    assert!(client.is_ok());
}

#[tokio::test]
async fn a_connection_holds_at_most_ten_subscriptions() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut client = LiveClient::connect(&app).await;
    client.sign_in(&account.access_token).await;
    for id in 0..10 {
        client.subscribe(&id.to_string(), SESSION_EVENTS).await;
    }
    client.subscribe("eleventh", SESSION_EVENTS).await;

    let refused = client.message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "eleventh");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );

    // An id in use closes the connection, as the protocol says.
    client.subscribe("3", SESSION_EVENTS).await;
    assert_eq!(client.close_code().await, 4409);
}

#[tokio::test]
async fn queries_and_mutations_are_refused_over_websocket() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut client = LiveClient::connect(&app).await;
    client.sign_in(&account.access_token).await;
    client.subscribe("me", "{ me { id } }").await;

    let refused = client.message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "BAD_REQUEST");
}

#[tokio::test]
async fn a_message_over_64_kib_closes_the_connection_with_1009() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut client = LiveClient::connect(&app).await;
    client.sign_in(&account.access_token).await;
    let padding = " ".repeat(70 * 1024);
    client
        .subscribe("big", &format!("{SESSION_EVENTS}{padding}"))
        .await;
    assert_eq!(client.close_code().await, 1009);
}

#[tokio::test]
async fn subscription_documents_are_held_to_the_document_limits() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut client = LiveClient::connect(&app).await;
    client.sign_in(&account.access_token).await;
    let aliases: String = (0..300)
        .map(|i| format!("e{i}: sessionEvents {{ type }} "))
        .collect();
    client
        .subscribe("wide", &format!("subscription {{ {aliases} }}"))
        .await;

    // Refused before it runs, as over HTTP: one result with the coded error, then complete.
    let answer = client.message().await;
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{answer}"
    );
    client.completed("wide").await;
}

#[tokio::test]
async fn an_address_may_hold_at_most_fifty_connections() {
    let app = spawn_app().await;
    let mut open = Vec::new();
    for _ in 0..50 {
        open.push(LiveClient::connect(&app).await);
    }
    match LiveClient::connect_offering(&app, "graphql-transport-ws").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
        }
        other => panic!("expected 429, got a connection: {:?}", other.is_ok()),
    }
    // A closed connection gives its place back.
    let mut first = open.remove(0);
    first.socket.close(None).await.unwrap();
    while first.socket.next().await.is_some() {}
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(client) = LiveClient::connect_offering(&app, "graphql-transport-ws").await {
            reopened = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "the place was given back");
}

#[tokio::test]
async fn open_connections_are_closed_with_1001_when_the_server_stops() {
    let mut app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut events = listening(&app, &account).await;

    app.stop().await;

    assert_eq!(events.close_code().await, 1001);
}

#[tokio::test]
async fn a_revocation_on_one_instance_reaches_a_subscriber_on_another() {
    if crate::postgres::admin_url().is_none() {
        // Across processes on SQLite no notice travels: see docs/api.md.
        return;
    }
    let a = spawn_app().await;
    let b = spawn_app_with(AppOptions {
        data_dir: Some(a.data_dir.clone()),
        ..AppOptions::default()
    })
    .await;
    let laptop = a.signup("ada@example.com", PASSWORD).await;
    let phone = a.login("ada@example.com", PASSWORD).await;
    let mut laptop_on_b = listening(&b, &laptop).await;

    revoke_other_sessions(&a, &phone).await;

    assert_eq!(laptop_on_b.event("events").await, "SESSION_REVOKED");
    laptop_on_b.completed("events").await;
}

/// An access token of `account`'s session whose `exp` passed `seconds` ago, signed with the
/// server's HS256 secret (the server must run with `--jwt-algorithm HS256`).
fn token_expired_seconds_ago(account: &Account, seconds: i64) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = account.access_token.split('.').nth(1).unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 900 - seconds);
    claims["exp"] = json!(now - seconds);
    let header = jsonwebtoken::decode_header(&account.access_token).unwrap();
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_subscription_sent_over_http_is_refused_as_a_bad_request() {
    let app = spawn_app().await;
    let account = app.signup("ada@example.com", PASSWORD).await;
    let body = app
        .graphql_with_token(&account.access_token, SESSION_EVENTS, json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );
}

#[tokio::test]
async fn an_administrator_granting_a_role_and_then_deactivating_the_account_is_told_in_turn() {
    let app = spawn_app().await;
    let root = app.superadmin().await;
    let created = app
        .graphql_with_token(
            &root.access_token,
            "mutation { createRole(input: { code: \"billing\", name: \"Billing\" }) { code } }",
            json!({}),
        )
        .await;
    assert_no_errors(&created);
    let account = app.signup("ada@example.com", PASSWORD).await;
    let mut events = listening(&app, &account).await;
    let update_user = |input: Value| {
        app.graphql_with_token(
            &root.access_token,
            "mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { active } }",
            json!({ "id": account.id(), "input": input }),
        )
    };

    assert_no_errors(&update_user(json!({ "roles": ["billing"] })).await);
    assert_eq!(events.event("events").await, "ACCOUNT_UPDATED");

    assert_no_errors(&update_user(json!({ "active": false })).await);
    assert_eq!(events.event("events").await, "SESSION_REVOKED");
    events.completed("events").await;
}
