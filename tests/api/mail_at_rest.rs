//! Mail at rest: a copy of the database must not be enough to read a reset link. Bodies wait
//! sealed under the master secret, are erased once delivered or given up, and a sealed body
//! opens only in the row (and for the recipient) it was written for.

use std::sync::Arc;

use latchkey::sea_orm::{ConnectionTrait as _, Database, DatabaseConnection, Statement};
use migration::{Alias, Migrator, MigratorTrait as _, Query};
use uuid::Uuid;

use crate::helpers::{
    AppOptions, DataDir, MAIL_TIMEOUT, PASSWORD, RESET_LINK_PREFIX, SUBJECT_RESET, TestApp,
    spawn_app, spawn_app_with,
};
use crate::smtp_sink::reset_token;

/// One value of one outbox row: the column and its content as bytes (text or binary).
struct Cell {
    column: String,
    bytes: Vec<u8>,
}

/// Every text or binary value of every outbox row, whatever the columns are.
async fn outbox_cells(app: &TestApp) -> Vec<Cell> {
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT * FROM outbox",
        ))
        .await
        .expect("the outbox can be read");
    db.close().await.ok();
    let mut cells = Vec::new();
    for row in rows {
        for column in row.column_names() {
            let bytes = match row.try_get::<Option<String>>("", &column) {
                Ok(text) => text.map(String::into_bytes),
                Err(_) => row.try_get::<Option<Vec<u8>>>("", &column).ok().flatten(),
            };
            if let Some(bytes) = bytes {
                cells.push(Cell { column, bytes });
            }
        }
    }
    cells
}

#[track_caller]
fn assert_no_cell_contains(cells: &[Cell], needle: &str) {
    for cell in cells {
        assert!(
            !cell
                .bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes()),
            "outbox column {} holds {needle:?}",
            cell.column
        );
    }
}

async fn execute(app: &TestApp, sql: &str) {
    let db = app.db().await;
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    db.close().await.ok();
}

#[tokio::test]
async fn a_delivered_reset_mail_leaves_no_token_link_or_body_in_the_outbox() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;

    let token = app.reset_token_for("ada@example.com").await;
    app.wait_until_mail_is_out().await;

    let cells = outbox_cells(&app).await;
    assert_no_cell_contains(&cells, &token);
    assert_no_cell_contains(&cells, RESET_LINK_PREFIX);
    assert_no_cell_contains(&cells, SUBJECT_RESET);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM outbox WHERE sealed_body IS NOT NULL \
             OR subject <> '' OR text_body <> '' OR html_body <> ''"
        )
        .await,
        0
    );
    // What operations needs stays.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM outbox WHERE recipient = 'ada@example.com' \
             AND kind = 'password_reset' AND attempts = 1 AND sent_at IS NOT NULL"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_reset_mail_waiting_for_delivery_cannot_be_read_from_the_outbox() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    app.wait_until_mail_is_out().await;
    app.smtp.stop().await;

    assert_eq!(
        app.forgot_password("ada@example.com").await["data"]["forgotPassword"],
        true
    );
    app.wait_for_count("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL", 1)
        .await;
    let while_pending = outbox_cells(&app).await;
    assert_no_cell_contains(&while_pending, RESET_LINK_PREFIX);
    assert_no_cell_contains(&while_pending, "token=");
    assert_no_cell_contains(&while_pending, SUBJECT_RESET);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE sealed_body IS NOT NULL")
            .await,
        1
    );

    app.smtp.resume().await;
    let mail = app
        .smtp
        .wait_for_mail("ada@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    let token = reset_token(&mail, RESET_LINK_PREFIX);
    assert_no_cell_contains(&while_pending, &token);
}

#[tokio::test]
async fn a_sealed_body_moved_to_another_row_or_readdressed_is_never_delivered() {
    let app = spawn_app().await;
    for email in ["ada@example.com", "grace@example.com", "carol@example.com"] {
        app.signup(email, PASSWORD).await;
    }
    app.wait_until_mail_is_out().await;
    app.smtp.stop().await;
    for email in ["ada@example.com", "grace@example.com", "carol@example.com"] {
        app.forgot_password(email).await;
    }
    app.wait_for_count("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL", 3)
        .await;

    // Someone with write access to the database tries to have Ada's link mailed elsewhere.
    execute(
        &app,
        "UPDATE outbox SET sealed_body = \
         (SELECT sealed_body FROM outbox WHERE recipient = 'ada@example.com' AND sent_at IS NULL) \
         WHERE recipient = 'grace@example.com' AND sent_at IS NULL",
    )
    .await;
    execute(
        &app,
        "UPDATE outbox SET recipient = 'mallory@evil.example' \
         WHERE recipient = 'carol@example.com' AND sent_at IS NULL",
    )
    .await;
    app.smtp.resume().await;

    app.smtp
        .wait_for_mail("ada@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    // Both tampered rows are given up (a permanent failure), their sealed bodies dropped.
    app.wait_for_count(
        "SELECT COUNT(*) AS n FROM outbox WHERE failed_at IS NOT NULL AND sealed_body IS NULL",
        2,
    )
    .await;
    let resets: Vec<_> = app
        .smtp
        .messages()
        .into_iter()
        .filter(|mail| mail.subject == SUBJECT_RESET)
        .collect();
    assert_eq!(resets.len(), 1, "{resets:?}");
    assert!(resets[0].is_for("ada@example.com"));
}

/// Writes an outbox row the way the release before sealed bodies did: bodies in plain text.
async fn insert_legacy_mail(db: &DatabaseConnection, recipient: &str, body: &str, sent: bool) {
    let now = chrono::Utc::now();
    let insert = Query::insert()
        .into_table(Alias::new("outbox"))
        .columns(
            [
                "id",
                "user_id",
                "recipient",
                "kind",
                "subject",
                "text_body",
                "html_body",
                "attempts",
                "next_attempt_at",
                "sent_at",
                "created_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            Uuid::now_v7().into(),
            Option::<Uuid>::None.into(),
            recipient.into(),
            "password_reset".into(),
            SUBJECT_RESET.into(),
            body.into(),
            format!("<p>{body}</p>").into(),
            i32::from(sent).into(),
            now.into(),
            sent.then_some(now).into(),
            now.into(),
        ])
        .to_owned();
    db.execute(&insert).await.expect("a legacy outbox row");
}

#[tokio::test]
async fn upgrading_erases_the_bodies_of_sent_mail_and_still_delivers_pending_mail() {
    let data_dir = Arc::new(DataDir::new().await);
    let db = Database::connect(data_dir.database_url())
        .await
        .expect("the database opens");
    // The schema of the release before sealed bodies: the first two migrations.
    Migrator::up(&db, Some(2)).await.expect("the old schema");
    insert_legacy_mail(
        &db,
        "ada@example.com",
        &format!("{RESET_LINK_PREFIX}legacy-sent-token"),
        true,
    )
    .await;
    insert_legacy_mail(
        &db,
        "grace@example.com",
        &format!("{RESET_LINK_PREFIX}legacy-pending-token"),
        false,
    )
    .await;
    db.close().await.ok();

    let app = spawn_app_with(AppOptions {
        data_dir: Some(data_dir),
        ..AppOptions::default()
    })
    .await;

    let mail = app
        .smtp
        .wait_for_mail("grace@example.com", SUBJECT_RESET, MAIL_TIMEOUT)
        .await;
    assert!(mail.text.contains("legacy-pending-token"), "{}", mail.text);
    app.wait_for_count(
        "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NOT NULL",
        2,
    )
    .await;
    let cells = outbox_cells(&app).await;
    assert_no_cell_contains(&cells, "legacy-sent-token");
    assert_no_cell_contains(&cells, "legacy-pending-token");
    // The mail sent before the upgrade went out back then; it is not sent again.
    assert!(
        app.smtp
            .mail_to("ada@example.com", SUBJECT_RESET)
            .is_empty()
    );
}
