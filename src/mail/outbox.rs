//! The outbox table: enqueue inside a service's transaction; claim, finish or reschedule from
//! a delivery worker. It carries mail and webhook deliveries, each on its own channel with its
//! own worker. Claims are conditional updates, so several workers (or instances) never deliver
//! one message twice at once. Bodies wait sealed (`mail::sealed`, `webhooks::message`) and are
//! erased once a message is delivered or given up.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Set,
};
use tokio::sync::Notify;
use uuid::Uuid;

use super::sealed::{self, MailBody};
use super::{MailKind, MailTemplates, RenderedMail};
use crate::auth::secret_box::{Purpose, SecretBox, Unopenable};
use crate::entities::outbox;

/// How long a claimed message is ours before another worker may take it over (a worker that
/// died mid-delivery must not strand its message).
const CLAIM_LEASE: Duration = Duration::from_secs(120);
/// Retries back off from one second, doubling, up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// A message still undelivered after this long is given up (a mail's links have long expired;
/// a webhook that late is history, which the audit trail keeps).
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(3);

/// Which worker delivers a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Mail,
    Webhook,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mail => "mail",
            Self::Webhook => "webhook",
        }
    }
}

/// A row about to be written, its body already sealed to its id and recipient.
pub(crate) struct NewMessage {
    pub id: Uuid,
    pub channel: Channel,
    pub user_id: Option<Uuid>,
    pub recipient: String,
    pub kind: String,
    pub sealed_body: Vec<u8>,
}

/// Writes `message` as part of the caller's transaction, due at once.
///
/// # Errors
/// The database error, which should roll the caller's transaction back.
pub(crate) async fn insert<C: ConnectionTrait>(txn: &C, message: NewMessage) -> Result<(), DbErr> {
    let now = Utc::now();
    outbox::ActiveModel {
        id: Set(message.id),
        user_id: Set(message.user_id),
        channel: Set(message.channel.as_str().to_owned()),
        recipient: Set(message.recipient),
        kind: Set(message.kind),
        subject: Set(String::new()),
        text_body: Set(String::new()),
        html_body: Set(String::new()),
        sealed_body: Set(Some(message.sealed_body)),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        sent_at: Set(None),
        failed_at: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Cheap to clone. Holds the wake-up signal that tells the local worker new mail is waiting,
/// the key that seals bodies at rest, and the templates messages are rendered with.
#[derive(Clone)]
pub struct Outbox {
    wake: Arc<Notify>,
    secret_box: SecretBox,
    templates: MailTemplates,
}

impl Outbox {
    /// An outbox whose bodies are sealed under a key derived from the master secret, and whose
    /// messages are rendered with `templates`. Every instance on one database needs the same
    /// secret to deliver the others' mail.
    pub fn new(master_secret: &[u8], templates: MailTemplates) -> Self {
        Self {
            wake: Arc::default(),
            secret_box: SecretBox::derive(master_secret, Purpose::OutboxMail),
            templates,
        }
    }

    /// Renders a message of `kind` for [`Outbox::enqueue`].
    ///
    /// # Errors
    /// As [`MailTemplates::render`]: a programming error, since every template was rendered at
    /// start-up.
    pub fn render<C: serde::Serialize>(
        &self,
        kind: MailKind,
        context: &C,
    ) -> Result<RenderedMail, minijinja::Error> {
        self.templates.render(kind, context)
    }

    /// Writes a message into the outbox as part of the caller's transaction, its subject and
    /// bodies sealed. Call [`Outbox::wake`] once that transaction has committed.
    ///
    /// # Errors
    /// The database error, which should roll the caller's transaction back.
    pub async fn enqueue<C: ConnectionTrait>(
        &self,
        txn: &C,
        user_id: Option<Uuid>,
        recipient: &str,
        mail: RenderedMail,
    ) -> Result<(), DbErr> {
        let id = Uuid::now_v7();
        let kind = mail.kind.as_str().to_owned();
        let sealed_body = sealed::seal(&self.secret_box, id, recipient, &MailBody::from(mail));
        insert(
            txn,
            NewMessage {
                id,
                channel: Channel::Mail,
                user_id,
                recipient: recipient.to_owned(),
                kind,
                sealed_body,
            },
        )
        .await
    }

    /// The subject and bodies of a claimed message: unsealed, or, for mail written before
    /// bodies were sealed, as stored.
    ///
    /// # Errors
    /// `Unopenable` when the sealed body does not open here (the master secret changed, or the
    /// row was tampered with): a permanent failure.
    pub(super) fn body_of(&self, message: &outbox::Model) -> Result<MailBody, Unopenable> {
        match &message.sealed_body {
            Some(sealed_body) => sealed::open(
                &self.secret_box,
                message.id,
                &message.recipient,
                sealed_body,
            ),
            None => Ok(MailBody {
                subject: message.subject.clone(),
                text: message.text_body.clone(),
                html: message.html_body.clone(),
            }),
        }
    }

    /// Tells the worker to look now rather than at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(super) fn wake_signal(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }
}

/// Claims up to `limit` due messages of `channel` for this worker.
pub(crate) async fn claim_due(
    db: &DatabaseConnection,
    channel: Channel,
    limit: u64,
) -> Result<Vec<outbox::Model>, DbErr> {
    let now = Utc::now();
    let candidates = outbox::Entity::find()
        .filter(outbox::Column::Channel.eq(channel.as_str()))
        .filter(outbox::Column::SentAt.is_null())
        .filter(outbox::Column::FailedAt.is_null())
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .filter(claim_is_free(now))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?;

    use sea_orm::sea_query::ExprTrait as _;
    let lease_end = crate::time::after(now, CLAIM_LEASE);
    let mut claimed = Vec::with_capacity(candidates.len());
    for message in candidates {
        let result = outbox::Entity::update_many()
            .col_expr(outbox::Column::ClaimedUntil, Expr::value(lease_end))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .filter(outbox::Column::Id.eq(message.id))
            .filter(outbox::Column::SentAt.is_null())
            .filter(claim_is_free(now))
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            claimed.push(outbox::Model {
                attempts: message.attempts + 1,
                ..message
            });
        }
    }
    Ok(claimed)
}

fn claim_is_free(now: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(outbox::Column::ClaimedUntil.is_null())
        .add(outbox::Column::ClaimedUntil.lt(now))
}

/// Drops the subject and bodies, sealed or not, of a message that is done with: they may hold a
/// link that still works, and nothing needs them any more.
fn erase_body(update: sea_orm::UpdateMany<outbox::Entity>) -> sea_orm::UpdateMany<outbox::Entity> {
    update
        .col_expr(
            outbox::Column::SealedBody,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .col_expr(outbox::Column::Subject, Expr::value(""))
        .col_expr(outbox::Column::TextBody, Expr::value(""))
        .col_expr(outbox::Column::HtmlBody, Expr::value(""))
}

pub(crate) async fn mark_sent(db: &DatabaseConnection, id: Uuid) -> Result<(), DbErr> {
    erase_body(outbox::Entity::update_many())
        .col_expr(outbox::Column::SentAt, Expr::value(Utc::now()))
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// What happens to a message whose delivery failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    At(DateTime<Utc>),
    GiveUp,
}

/// Mail neither delivered nor given up, on every instance.
///
/// # Errors
/// The database error.
pub async fn pending_count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait as _;
    outbox::Entity::find()
        .filter(outbox::Column::Channel.eq(Channel::Mail.as_str()))
        .filter(outbox::Column::SentAt.is_null())
        .filter(outbox::Column::FailedAt.is_null())
        .count(db)
        .await
}

/// When the oldest message of `channel` neither delivered nor given up was written, if any.
///
/// # Errors
/// The database error.
pub async fn oldest_pending(
    db: &DatabaseConnection,
    channel: Channel,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    outbox::Entity::find()
        .select_only()
        .column(outbox::Column::CreatedAt)
        .filter(outbox::Column::Channel.eq(channel.as_str()))
        .filter(outbox::Column::SentAt.is_null())
        .filter(outbox::Column::FailedAt.is_null())
        .order_by_asc(outbox::Column::CreatedAt)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await
}

pub(crate) fn retry_plan(message: &outbox::Model, permanent: bool, now: DateTime<Utc>) -> Retry {
    if permanent || now - message.created_at > GIVE_UP_AFTER {
        return Retry::GiveUp;
    }
    let exponent = u32::try_from(message.attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let backoff = Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF);
    Retry::At(crate::time::after(now, backoff))
}

pub(crate) async fn mark_failed_attempt(
    db: &DatabaseConnection,
    message: &outbox::Model,
    retry: Retry,
    error: &str,
) -> Result<(), DbErr> {
    let mut update = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(outbox::Column::LastError, Expr::value(error.to_owned()))
        .filter(outbox::Column::Id.eq(message.id));
    update = match retry {
        Retry::At(when) => update.col_expr(outbox::Column::NextAttemptAt, Expr::value(when)),
        Retry::GiveUp => {
            erase_body(update).col_expr(outbox::Column::FailedAt, Expr::value(Utc::now()))
        }
    };
    update.exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(attempts: i32, age: chrono::Duration) -> outbox::Model {
        let now = Utc::now();
        outbox::Model {
            id: Uuid::now_v7(),
            user_id: None,
            channel: Channel::Mail.as_str().into(),
            recipient: "a@b.co".into(),
            kind: "password_reset".into(),
            subject: String::new(),
            text_body: String::new(),
            html_body: String::new(),
            sealed_body: None,
            attempts,
            next_attempt_at: now,
            claimed_until: None,
            sent_at: None,
            failed_at: None,
            last_error: None,
            created_at: now - age,
        }
    }

    #[test]
    fn retries_back_off_from_one_second_doubling_to_a_cap() {
        let now = Utc::now();
        let after =
            |attempts| match retry_plan(&message(attempts, chrono::Duration::zero()), false, now) {
                Retry::At(when) => (when - now).num_seconds(),
                Retry::GiveUp => -1,
            };
        assert_eq!((after(1), after(2), after(3)), (1, 2, 4));
        assert_eq!(after(40), 15 * 60);
    }

    #[test]
    fn permanent_failures_and_stale_messages_are_given_up() {
        let now = Utc::now();
        assert_eq!(
            retry_plan(&message(1, chrono::Duration::zero()), true, now),
            Retry::GiveUp
        );
        assert_eq!(
            retry_plan(&message(5, chrono::Duration::days(4)), false, now),
            Retry::GiveUp
        );
    }
}
