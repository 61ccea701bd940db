//! A webhook delivery as it waits in the outbox: the receiver's full URL and the body, sealed
//! under the master secret and bound to its row and the receiver's origin.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::secret_box::{SecretBox, Unopenable};

/// What is sealed. `Debug` shows neither: the URL may hold a token, the body personal data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub url: String,
    pub body: String,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Delivery { .. }")
    }
}

fn context(id: Uuid, origin: &str) -> Vec<u8> {
    let mut context = Vec::with_capacity(16 + origin.len());
    context.extend_from_slice(id.as_bytes());
    context.extend_from_slice(origin.as_bytes());
    context
}

/// `delivery` sealed for the row `id` whose recipient is `origin`.
pub fn seal(secret_box: &SecretBox, id: Uuid, origin: &str, delivery: &Delivery) -> Vec<u8> {
    let plaintext = serde_json::to_vec(delivery).expect("strings always serialise to JSON");
    secret_box.seal(&plaintext, &context(id, origin))
}

/// # Errors
/// `Unopenable` when the master secret changed, or the value was moved or damaged.
pub fn open(
    secret_box: &SecretBox,
    id: Uuid,
    origin: &str,
    sealed: &[u8],
) -> Result<Delivery, Unopenable> {
    let plaintext = secret_box.open(sealed, &context(id, origin))?;
    serde_json::from_slice(&plaintext).map_err(|_| Unopenable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secret_box::Purpose;

    #[test]
    fn a_sealed_delivery_opens_only_in_its_row() {
        let secret_box = SecretBox::derive(
            b"a-test-secret-that-is-at-least-32-bytes-long",
            Purpose::OutboxWebhook,
        );
        let delivery = Delivery {
            url: "https://hooks.example.com/in?key=abc".into(),
            body: r#"{"type":"audit.signup"}"#.into(),
        };
        let id = Uuid::now_v7();
        let sealed = seal(&secret_box, id, "https://hooks.example.com", &delivery);
        assert!(!sealed.windows(3).any(|w| w == b"key"));
        assert_eq!(
            open(&secret_box, id, "https://hooks.example.com", &sealed),
            Ok(delivery.clone())
        );
        assert_eq!(
            open(
                &secret_box,
                Uuid::now_v7(),
                "https://hooks.example.com",
                &sealed
            ),
            Err(Unopenable)
        );
        assert_eq!(
            open(&secret_box, id, "https://evil.example.com", &sealed),
            Err(Unopenable)
        );
        assert_eq!(format!("{delivery:?}"), "Delivery { .. }");
    }
}
