//! The clean-up job keeps tables from growing without bound: rows aged past their use are
//! removed, live ones stay, and it counts what it removed in the metrics.

use crate::helpers::{
    PASSWORD, RESET_LINK_PREFIX, SUBJECT_RESET, TestApp, assert_no_errors, decode_claims,
    spawn_app_with_args,
};
use crate::smtp_sink::reset_token;
use chrono::{TimeDelta, Utc};
use latchkey::entities::{
    account_guess, email_verification_token, login_attempt, outbox, rate_limit_counter, session,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, Set};

fn days_ago(days: i64) -> chrono::DateTime<Utc> {
    Utc::now() - TimeDelta::days(days)
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) AS n FROM {table}"))
        .await
}

#[tokio::test]
async fn aged_rows_are_removed_and_live_ones_stay() {
    let app = spawn_app_with_args(&["--cleanup-interval", "1s", "--session-max-age", "30d"]).await;
    let live = app.signup("ada@example.com", PASSWORD).await;
    let logged_out = app.login("ada@example.com", PASSWORD).await;
    assert_no_errors(&app.logout(&logged_out.refresh_token).await);
    let too_old = app.login("ada@example.com", PASSWORD).await;
    // One failed login leaves a failure count for the address and a fill of the account bucket.
    app.login_raw("ada@example.com", "not the password at all")
        .await;
    // Two reset requests: the first token is killed by the second, which stays usable.
    let mut newest_reset = None;
    for seen in 0..2 {
        assert_no_errors(&app.forgot_password("ada@example.com").await);
        let mail = app
            .wait_for_nth_mail("ada@example.com", SUBJECT_RESET, seen)
            .await;
        newest_reset = Some(reset_token(&mail, RESET_LINK_PREFIX));
    }
    // Two reset mails and the verification mail of the signup.
    app.wait_for_count(
        "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NOT NULL",
        3,
    )
    .await;
    assert_eq!(count(&app, "sessions").await, 3);

    // Age: the logout two days back, the third session past its 30 days, one delivered mail
    // past its week, the failure counts past their quiet day.
    let db = app.db().await;
    let ids = |account: &crate::helpers::Account| {
        let claims = decode_claims(&account.access_token);
        uuid::Uuid::parse_str(claims["sid"].as_str().unwrap()).unwrap()
    };
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(days_ago(2)))
        .filter(session::Column::Id.eq(ids(&logged_out)))
        .exec(&db)
        .await
        .unwrap();
    session::Entity::update_many()
        .col_expr(session::Column::CreatedAt, Expr::value(days_ago(32)))
        .filter(session::Column::Id.eq(ids(&too_old)))
        .exec(&db)
        .await
        .unwrap();
    let oldest_mail = outbox::Entity::find().all(&db).await.unwrap()[0].id;
    outbox::Entity::update_many()
        .col_expr(outbox::Column::SentAt, Expr::value(days_ago(8)))
        .filter(outbox::Column::Id.eq(oldest_mail))
        .exec(&db)
        .await
        .unwrap();
    login_attempt::Entity::update_many()
        .col_expr(login_attempt::Column::UpdatedAt, Expr::value(days_ago(2)))
        .exec(&db)
        .await
        .unwrap();
    email_verification_token::Entity::update_many()
        .col_expr(
            email_verification_token::Column::ExpiresAt,
            Expr::value(days_ago(1)),
        )
        .exec(&db)
        .await
        .unwrap();
    account_guess::Entity::update_many()
        .col_expr(account_guess::Column::DrainedAt, Expr::value(days_ago(1)))
        .exec(&db)
        .await
        .unwrap();
    db.close().await.unwrap();

    // Within a couple of rounds, everything aged is gone.
    app.wait_for_count("SELECT COUNT(*) AS n FROM sessions", 1)
        .await;
    app.wait_for_count("SELECT COUNT(*) AS n FROM outbox", 2)
        .await;
    app.wait_for_count("SELECT COUNT(*) AS n FROM email_verification_tokens", 0)
        .await;
    app.wait_for_count("SELECT COUNT(*) AS n FROM login_attempts", 0)
        .await;
    app.wait_for_count("SELECT COUNT(*) AS n FROM account_guesses", 0)
        .await;
    app.wait_for_count("SELECT COUNT(*) AS n FROM password_reset_tokens", 1)
        .await;
    // The refresh tokens of removed sessions went with them.
    app.wait_for_count("SELECT COUNT(*) AS n FROM refresh_tokens", 1)
        .await;

    // What is live still works: the first session, and the newest reset token.
    assert_no_errors(&app.me(&live.access_token).await);
    assert_no_errors(&app.refresh_raw(&live.refresh_token).await);
    let token = newest_reset.unwrap();
    assert_no_errors(&app.reset_password(&token, "a brand new passphrase 7").await);

    let metrics = app
        .send(reqwest::Method::GET, "/metrics", &[], None)
        .await
        .body;
    for table in [
        "sessions",
        "outbox",
        "login_attempts",
        "account_guesses",
        "password_reset_tokens",
        "email_verification_tokens",
    ] {
        assert!(
            metrics.contains(&format!(
                "latchkey_cleanup_removed_rows_total{{table=\"{table}\"}}"
            )),
            "{table}: {metrics}"
        );
    }
}

#[tokio::test]
async fn ended_rate_limit_windows_are_removed_and_running_ones_stay() {
    let app = spawn_app_with_args(&["--cleanup-interval", "1s"]).await;
    let db = app.db().await;
    for (key, window_ends_at) in [
        (1, Utc::now() - TimeDelta::minutes(1)),
        (2, Utc::now() + TimeDelta::hours(1)),
    ] {
        rate_limit_counter::ActiveModel {
            key: Set(vec![key; 32]),
            count: Set(3),
            window_ends_at: Set(window_ends_at),
        }
        .insert(&db)
        .await
        .unwrap();
    }
    db.close().await.unwrap();

    app.wait_for_count("SELECT COUNT(*) AS n FROM rate_limit_counters", 1)
        .await;
    let db = app.db().await;
    let left = rate_limit_counter::Entity::find().all(&db).await.unwrap();
    assert_eq!(left[0].key, vec![2; 32], "the running window stays");
}
