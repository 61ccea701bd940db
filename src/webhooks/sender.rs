//! The HTTP side of a delivery: one POST with the signed headers, to permitted addresses only,
//! no redirects followed, no proxy, a timeout, and at most a little of the answer read.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::destination::{self, CheckedResolver, Refused};
use super::receiver::ReceiverUrl;
use super::schedule;

/// How much of a receiver's answer is read: enough to let a short answer end cleanly, so the
/// connection can be reused; the rest is never downloaded.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// The three Standard Webhooks headers of one attempt.
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signature: String,
}

/// How an attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// The receiver's address is not one webhooks are sent to.
    Refused(String),
    /// Anything else; `permanent` when the receiver asked never to be sent this again (410),
    /// `retry_after` when it said how long to wait (usually with 429 or 503).
    Failed {
        message: String,
        permanent: bool,
        retry_after: Option<Duration>,
    },
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    /// # Errors
    /// The HTTP client could not be built (its TLS set-up failed).
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            // A redirect would lead to an address never checked; a proxy would connect for us.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!("latchkey-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("the webhook HTTP client cannot be built: {error}"))?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// POSTs `body` to `receiver` with the signed headers.
    pub async fn send(&self, receiver: &ReceiverUrl, signed: Signed<'_>, body: String) -> Outcome {
        // Hosts written as addresses are connected to without a lookup, so the resolver never
        // sees them: check them here.
        if let Some(address) = receiver.literal_address()
            && !destination::permitted(address, self.allow_private)
        {
            return Outcome::Refused(format!(
                "{address} is not an address webhooks are sent to; LATCHKEY_WEBHOOK_ALLOW_PRIVATE=true allows private ones"
            ));
        }
        let request = self
            .client
            .post(receiver.url().clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("webhook-id", signed.id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", signed.signature)
            .body(body);
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failure(error),
        };
        let status = response.status();
        let retry_after = schedule::retry_after(response.headers(), chrono::Utc::now());
        let mut read = 0;
        // Errors while reading the answer change nothing: the status has been given.
        while read < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        if status.is_success() {
            Outcome::Delivered
        } else {
            Outcome::Failed {
                message: format!("the receiver answered {status}"),
                permanent: status == StatusCode::GONE,
                retry_after,
            }
        }
    }
}

/// The outcome of a request that got no answer, described without its URL (which may hold a
/// token).
fn failure(error: reqwest::Error) -> Outcome {
    let error = error.without_url();
    let mut causes = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return Outcome::Refused(refused.to_string());
        }
        causes.push(cause.to_string());
        source = cause.source();
    }
    let message = if error.is_timeout() {
        "the receiver did not answer in time".to_owned()
    } else {
        causes.join(": ")
    };
    Outcome::Failed {
        message,
        permanent: false,
        retry_after: None,
    }
}
