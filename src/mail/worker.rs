//! The delivery worker: claims due outbox messages, hands them to the transport, and records the
//! outcome. It wakes when a local service enqueues mail and polls for everything else (retries,
//! mail enqueued by other instances, mail left over from before a restart).

use std::time::Duration;

use chrono::Utc;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Outbox;
use super::outbox::{self, Channel, Retry};
use super::transport::{Delivered, Transport};
use crate::entities::outbox::Model as OutboxMessage;
use crate::metrics::Metrics;

const POLL_INTERVAL: Duration = Duration::from_secs(1);
const BATCH: u64 = 16;

pub struct MailWorker {
    pub db: DatabaseConnection,
    pub transport: Transport,
    pub outbox: Outbox,
    pub from: Mailbox,
    pub metrics: Metrics,
}

impl MailWorker {
    /// Runs until `stop` is cancelled; a delivery in progress is finished first.
    pub async fn run(self, stop: CancellationToken) {
        let wake = self.outbox.wake_signal();
        loop {
            self.deliver_due().await;
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                () = stop.cancelled() => {}
            }
            if stop.is_cancelled() {
                break;
            }
        }
        // One last pass, so mail committed just before shutdown is not left for the next start.
        self.deliver_due().await;
    }

    async fn deliver_due(&self) {
        loop {
            let claimed = match outbox::claim_due(&self.db, Channel::Mail, BATCH).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    warn!(%error, "could not read the mail outbox");
                    return;
                }
            };
            let count = claimed.len();
            for message in claimed {
                self.deliver(message).await;
            }
            if count < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                return;
            }
        }
    }

    #[tracing::instrument(skip_all, fields(mail.id = %message.id, mail.kind = %message.kind, attempt = message.attempts))]
    async fn deliver(&self, message: OutboxMessage) {
        let outcome = match self.build(&message) {
            Ok(mail) => self.transport.send(mail).await,
            Err(error) => Err(super::transport::DeliveryError {
                permanent: true,
                message: error,
            }),
        };
        let recorded = match outcome {
            Ok(delivered) => {
                self.metrics.mail("sent");
                match delivered {
                    Delivered::Smtp => info!("mail delivered over SMTP"),
                    Delivered::File(path) => info!(file = %path.display(), "mail written to file"),
                }
                outbox::mark_sent(&self.db, message.id).await
            }
            Err(error) => {
                self.metrics.mail("failed");
                let retry = outbox::retry_plan(&message, error.permanent, Utc::now());
                match &retry {
                    Retry::At(when) => {
                        warn!(error = %error.message, retry_at = %when, "mail delivery failed; will retry")
                    }
                    Retry::GiveUp => {
                        warn!(error = %error.message, "mail delivery failed; giving up")
                    }
                }
                outbox::mark_failed_attempt(&self.db, &message, retry, &error.message).await
            }
        };
        if let Err(error) = recorded {
            warn!(%error, "could not record the mail delivery outcome");
        }
    }

    fn build(&self, message: &OutboxMessage) -> Result<Message, String> {
        // Said without any content: the row was tampered with or the master secret changed.
        let body = self.outbox.body_of(message).map_err(|_| {
            "the sealed body does not open with this master secret in this row".to_owned()
        })?;
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient: {e}"))?;
        let parts = MultiPart::alternative()
            .singlepart(readable_part(ContentType::TEXT_PLAIN, &body.text))
            .singlepart(readable_part(ContentType::TEXT_HTML, &body.html));
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(body.subject)
            .message_id(None)
            .multipart(parts)
            .map_err(|e| format!("could not build the message: {e}"))
    }
}

/// Plain ASCII bodies go out as 7bit, so the `.eml` files and raw SMTP logs stay readable and a
/// link can be copied as is; anything else lets lettre pick a safe encoding.
fn readable_part(content_type: ContentType, text: &str) -> SinglePart {
    let body = Body::new_with_encoding(text.to_owned(), ContentTransferEncoding::SevenBit)
        .unwrap_or_else(Body::new);
    SinglePart::builder().header(content_type).body(body)
}
