//! The subject and bodies of an outbox message, sealed under the master secret while they wait,
//! so that a copy of the database does not hold a readable reset (or any other) link.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::RenderedMail;
use crate::auth::secret_box::{SecretBox, Unopenable};

/// What is sealed: everything of a message that its template rendered. `Debug` shows the
/// subject only: the bodies may hold a token-bearing link.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailBody {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for MailBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailBody")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl From<RenderedMail> for MailBody {
    fn from(mail: RenderedMail) -> Self {
        Self {
            subject: mail.subject,
            text: mail.text,
            html: mail.html,
        }
    }
}

/// Binds a sealed body to its row and its recipient: moved to another row, or its row
/// re-addressed, it no longer opens.
fn context(id: Uuid, recipient: &str) -> Vec<u8> {
    let mut context = Vec::with_capacity(16 + recipient.len());
    context.extend_from_slice(id.as_bytes());
    context.extend_from_slice(recipient.as_bytes());
    context
}

/// `body` sealed for the row `id` addressed to `recipient`.
pub fn seal(secret_box: &SecretBox, id: Uuid, recipient: &str, body: &MailBody) -> Vec<u8> {
    let plaintext = serde_json::to_vec(body).expect("strings always serialise to JSON");
    secret_box.seal(&plaintext, &context(id, recipient))
}

/// # Errors
/// `Unopenable` when the master secret changed, or the value was moved, re-addressed or damaged.
pub fn open(
    secret_box: &SecretBox,
    id: Uuid,
    recipient: &str,
    sealed: &[u8],
) -> Result<MailBody, Unopenable> {
    let plaintext = secret_box.open(sealed, &context(id, recipient))?;
    serde_json::from_slice(&plaintext).map_err(|_| Unopenable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secret_box::Purpose;

    fn body() -> MailBody {
        MailBody {
            subject: "Reset your password".into(),
            text: "http://app.test/reset?token=abc".into(),
            html: "<a href=\"http://app.test/reset?token=abc\">Reset</a>".into(),
        }
    }

    #[test]
    fn a_sealed_body_opens_only_in_its_row_for_its_recipient() {
        let secret_box = SecretBox::derive(
            b"a-test-secret-that-is-at-least-32-bytes-long",
            Purpose::OutboxMail,
        );
        let id = Uuid::now_v7();
        let sealed = seal(&secret_box, id, "ada@example.com", &body());

        assert!(!sealed.windows(5).any(|w| w == b"token"));
        assert_eq!(
            open(&secret_box, id, "ada@example.com", &sealed),
            Ok(body())
        );
        assert_eq!(
            open(&secret_box, Uuid::now_v7(), "ada@example.com", &sealed),
            Err(Unopenable)
        );
        assert_eq!(
            open(&secret_box, id, "mallory@example.com", &sealed),
            Err(Unopenable)
        );
    }

    #[test]
    fn debug_output_never_shows_a_body() {
        let shown = format!("{:?}", body());
        assert!(shown.contains("Reset your password"), "{shown}");
        assert!(!shown.contains("token=abc"), "{shown}");
    }
}
