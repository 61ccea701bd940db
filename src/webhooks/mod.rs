//! Webhooks: every audit event, delivered to the configured receivers through the outbox and
//! signed per the Standard Webhooks specification (docs/operations.md, "Webhooks").

mod destination;
mod message;
mod payload;
mod receiver;
mod schedule;
mod secret;
mod sender;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use tokio::sync::Notify;
use uuid::Uuid;

pub use self::receiver::ReceiverUrl;
pub use self::secret::SigningSecrets;
pub use self::worker::WebhookWorker;
use crate::audit::AuditRecord;
use crate::auth::secret_box::{Purpose, SecretBox};
use crate::config::Settings;
use crate::mail::outbox::{self, Channel, NewMessage};
use crate::metrics::Metrics;

/// The longest `LATCHKEY_WEBHOOK_TIMEOUT`: a delivery must end well within the outbox's claim
/// lease, or another instance could take the message over while it is still being sent.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// `LATCHKEY_WEBHOOK_TIMEOUT`: longer than zero, at most a minute.
///
/// # Errors
/// The duration is malformed or out of range.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = crate::config::parse_duration(text)?;
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(format!(
            "must be longer than 0s and at most {}s",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(timeout)
}

/// The webhook settings once checked together, with the HTTP client built.
pub struct WebhookConfig {
    receivers: Vec<ReceiverUrl>,
    secrets: SigningSecrets,
    sender: sender::Sender,
}

impl WebhookConfig {
    /// `None` when no receiver is configured: events are then only kept in the audit trail.
    ///
    /// # Errors
    /// One line naming the setting: receivers without a secret, a receiver written as an address
    /// webhooks are not sent to, a receiver listed twice.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, String> {
        if settings.webhook_urls.is_empty() {
            if settings.webhook_secret.is_some() {
                tracing::warn!(
                    "LATCHKEY_WEBHOOK_SECRET is set but LATCHKEY_WEBHOOK_URLS is not: no webhook is sent"
                );
            }
            return Ok(None);
        }
        let Some(secrets) = settings.webhook_secret.clone() else {
            return Err("LATCHKEY_WEBHOOK_URLS (--webhook-urls) is set without LATCHKEY_WEBHOOK_SECRET (--webhook-secret): every webhook is signed".into());
        };
        let allow_private = settings.webhook_allow_private;
        for (index, receiver) in settings.webhook_urls.iter().enumerate() {
            if let Some(address) = receiver.literal_address()
                && !destination::permitted(address, allow_private)
            {
                return Err(format!(
                    "invalid LATCHKEY_WEBHOOK_URLS (--webhook-urls): {} is not an address webhooks are sent to (loopback, private, link-local or reserved); set LATCHKEY_WEBHOOK_ALLOW_PRIVATE=true to allow private ones",
                    receiver.origin()
                ));
            }
            if settings.webhook_urls[..index].contains(receiver) {
                return Err(format!(
                    "invalid LATCHKEY_WEBHOOK_URLS (--webhook-urls): a URL of {} is listed twice",
                    receiver.origin()
                ));
            }
        }
        let sender = sender::Sender::new(settings.webhook_timeout, allow_private)?;
        Ok(Some(Self {
            receivers: settings.webhook_urls.clone(),
            secrets,
            sender,
        }))
    }

    /// The queue the audit log writes to, and the worker that delivers what it queues.
    pub fn start(
        self,
        db: DatabaseConnection,
        master_secret: &[u8],
        metrics: Metrics,
    ) -> (WebhookQueue, WebhookWorker) {
        let shared = Arc::new(Shared {
            receivers: self.receivers,
            secret_box: SecretBox::derive(master_secret, Purpose::OutboxWebhook),
            wake: Notify::new(),
        });
        let worker = WebhookWorker {
            db,
            shared: Arc::clone(&shared),
            secrets: self.secrets,
            sender: self.sender,
            metrics,
        };
        (
            WebhookQueue {
                shared: Some(shared),
            },
            worker,
        )
    }

    /// A queue without a worker, for the command line: its events wait in the outbox until a
    /// server configured with the same receivers and master secret delivers them.
    pub fn queue_only(self, master_secret: &[u8]) -> WebhookQueue {
        WebhookQueue {
            shared: Some(Arc::new(Shared {
                receivers: self.receivers,
                secret_box: SecretBox::derive(master_secret, Purpose::OutboxWebhook),
                wake: Notify::new(),
            })),
        }
    }
}

/// What the queue and the worker share.
struct Shared {
    receivers: Vec<ReceiverUrl>,
    secret_box: SecretBox,
    /// Rung on every enqueue, so the worker looks soon rather than at its next poll.
    wake: Notify,
}

/// Queues events for delivery. Cheap to clone. Without receivers configured it queues nothing.
#[derive(Clone, Default)]
pub struct WebhookQueue {
    shared: Option<Arc<Shared>>,
}

impl WebhookQueue {
    /// No receivers: events are only kept in the audit trail.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Queues `event` for every receiver inside the caller's transaction, so a delivery exists
    /// exactly when the event does.
    ///
    /// # Errors
    /// The database error, which should roll the caller's transaction back.
    pub async fn enqueue<C: ConnectionTrait>(
        &self,
        txn: &C,
        event: &AuditRecord,
    ) -> Result<(), DbErr> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let kind = payload::event_type(event.kind);
        let body = payload::body(event);
        for receiver in &shared.receivers {
            let id = Uuid::now_v7();
            let origin = receiver.origin();
            let delivery = message::Delivery {
                url: receiver.as_str().to_owned(),
                body: body.clone(),
            };
            let sealed_body = message::seal(&shared.secret_box, id, &origin, &delivery);
            outbox::insert(
                txn,
                NewMessage {
                    id,
                    channel: Channel::Webhook,
                    // Never the user's id: deleting the account would cascade to its
                    // deliveries, the `account_deleted` one included.
                    user_id: None,
                    recipient: origin,
                    kind: kind.clone(),
                    sealed_body,
                },
            )
            .await?;
        }
        // Before the commit: the worker waits a moment after a wake-up, and polls anyway.
        shared.wake.notify_one();
        Ok(())
    }
}
