//! The webhook delivery worker: claims due webhook rows of the outbox, signs and sends each,
//! and records the outcome; retries back off as mail's do (spread at random, and no sooner than
//! a receiver's `Retry-After`), and a message is given up after the same bounded time. Runs only where receivers are configured.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use super::sender::{Outcome, Sender, Signed};
use super::{Shared, SigningSecrets, message, schedule};
use crate::entities::outbox::Model as OutboxMessage;
use crate::mail::outbox::{self, Channel, Retry};
use crate::metrics::Metrics;

const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// After a wake-up, time for the enqueuing transaction to commit.
const WAKE_DELAY: Duration = Duration::from_millis(50);
/// Claimed at once and sent concurrently, so every claimed message is done within one timeout,
/// well inside the claim's lease.
const BATCH: u64 = 8;

pub struct WebhookWorker {
    pub(super) db: DatabaseConnection,
    pub(super) shared: Arc<Shared>,
    pub(super) secrets: SigningSecrets,
    pub(super) sender: Sender,
    pub(super) metrics: Metrics,
}

/// `msg_` and the outbox row's id: the same on every attempt, so receivers can drop repeats.
fn webhook_id(row: Uuid) -> String {
    format!("msg_{}", row.simple())
}

impl WebhookWorker {
    /// Runs until `stop` is cancelled; deliveries in progress are finished first.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            self.deliver_due().await;
            tokio::select! {
                () = self.shared.wake.notified() => tokio::time::sleep(WAKE_DELAY).await,
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                () = stop.cancelled() => {}
            }
            if stop.is_cancelled() {
                break;
            }
        }
        // One last pass, so events committed just before shutdown are not left for the next start.
        self.deliver_due().await;
    }

    async fn deliver_due(&self) {
        loop {
            let claimed = match outbox::claim_due(&self.db, Channel::Webhook, BATCH).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    warn!(%error, "could not read the webhook outbox");
                    return;
                }
            };
            let count = claimed.len();
            futures_util::future::join_all(claimed.into_iter().map(|row| self.deliver(row))).await;
            if count < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                return;
            }
        }
    }

    #[tracing::instrument(skip_all, fields(webhook.id = %webhook_id(row.id), webhook.type = %row.kind, receiver = %row.recipient, attempt = row.attempts))]
    async fn deliver(&self, row: OutboxMessage) {
        let Some(sealed) = row.sealed_body.as_deref() else {
            return self.give_up(&row, "the row holds no delivery").await;
        };
        let Ok(delivery) = message::open(&self.shared.secret_box, row.id, &row.recipient, sealed)
        else {
            // Said without any content: the row was tampered with or the master secret changed.
            return self
                .give_up(
                    &row,
                    "the sealed delivery does not open with this master secret in this row",
                )
                .await;
        };
        let Some(receiver) = self
            .shared
            .receivers
            .iter()
            .find(|receiver| receiver.as_str() == delivery.url)
        else {
            return self
                .give_up(&row, "the receiver is no longer in LATCHKEY_WEBHOOK_URLS")
                .await;
        };
        let id = webhook_id(row.id);
        // The attempt's time, not the event's: receivers refuse stale timestamps (replays).
        let timestamp = Utc::now().timestamp();
        let signed = Signed {
            id: &id,
            timestamp,
            signature: self.secrets.sign(&id, timestamp, &delivery.body),
        };
        let recorded = match self.sender.send(receiver, signed, delivery.body).await {
            Outcome::Delivered => {
                self.metrics.webhook("delivered");
                info!("webhook delivered");
                outbox::mark_sent(&self.db, row.id).await
            }
            Outcome::Refused(error) => {
                self.metrics.webhook("refused");
                self.retry(&row, false, None, &error).await
            }
            Outcome::Failed {
                message,
                permanent,
                retry_after,
            } => {
                self.metrics.webhook("failed");
                self.retry(&row, permanent, retry_after, &message).await
            }
        };
        if let Err(error) = recorded {
            warn!(%error, "could not record the webhook delivery outcome");
        }
    }

    async fn retry(
        &self,
        row: &OutboxMessage,
        permanent: bool,
        retry_after: Option<Duration>,
        error: &str,
    ) -> Result<(), sea_orm::DbErr> {
        let now = Utc::now();
        let retry = match outbox::retry_plan(row, permanent, now) {
            Retry::At(planned) => Retry::At(schedule::next_attempt(now, planned, retry_after)),
            Retry::GiveUp => Retry::GiveUp,
        };
        match &retry {
            Retry::At(when) => {
                warn!(error, retry_at = %when, "webhook delivery failed; will retry")
            }
            Retry::GiveUp => {
                self.metrics.webhook("given_up");
                warn!(error, "webhook delivery failed; giving up");
            }
        }
        outbox::mark_failed_attempt(&self.db, row, retry, error).await
    }

    async fn give_up(&self, row: &OutboxMessage, error: &str) {
        self.metrics.webhook("given_up");
        warn!(error, "webhook not delivered; giving up");
        if let Err(error) = outbox::mark_failed_attempt(&self.db, row, Retry::GiveUp, error).await {
            warn!(%error, "could not record the webhook delivery outcome");
        }
    }
}
