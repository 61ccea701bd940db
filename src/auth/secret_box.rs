//! Encryption at rest for the few secrets latchkey must keep readable to itself: token-bearing
//! mail waiting for delivery, a refresh token's successor during the reuse interval, and the
//! private signing keys of access tokens. XChaCha20-Poly1305 (random 192-bit nonces never collide in practice)
//! under a key derived from the master secret with HKDF-SHA256, one key per purpose, so that a
//! copy of the database alone reveals nothing and a sealed value of one kind cannot be passed off
//! as another.

use std::fmt;

use chacha20poly1305::aead::{Aead as _, AeadCore as _, KeyInit as _, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

const NONCE_BYTES: usize = 24;
/// HKDF salt: fixed, so every instance with the same master secret derives the same keys.
const SALT: &[u8] = b"latchkey secret box v1";

/// What a derived key is for. Each purpose gets its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Bodies of mail waiting in the outbox.
    OutboxMail,
    /// Webhook deliveries waiting in the outbox: the receiver's URL and the event.
    OutboxWebhook,
    /// The refresh token issued in a rotation, kept for the reuse interval.
    RefreshSuccessor,
    /// Private signing keys, sealed to their key id and algorithm.
    SigningKey,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Self::OutboxMail => b"outbox mail",
            Self::OutboxWebhook => b"outbox webhook",
            Self::RefreshSuccessor => b"refresh successor",
            Self::SigningKey => b"signing key",
        }
    }
}

/// A sealed value that does not open: wrong key (the master secret changed), wrong context
/// (moved to another row), or tampered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed value cannot be opened with this key and context")]
pub struct Unopenable;

/// Seals and opens values for one purpose. Cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(<key redacted>)")
    }
}

impl SecretBox {
    /// The box for `purpose`, keyed from the master secret.
    pub fn derive(master_secret: &[u8], purpose: Purpose) -> Self {
        let mut key = chacha20poly1305::Key::default();
        Hkdf::<Sha256>::new(Some(SALT), master_secret)
            .expand(purpose.info(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            cipher: XChaCha20Poly1305::new(&key),
        }
    }

    /// `nonce || ciphertext`. `context` (a row id, a recipient) is authenticated but not stored:
    /// the same context must be given to open it, so a sealed value copied into another row
    /// does not open there.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// # Errors
    /// `Unopenable` for a wrong key or context, or a damaged value.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, Unopenable> {
        if sealed.len() < NONCE_BYTES {
            return Err(Unopenable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| Unopenable)?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| Unopenable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-test-secret-that-is-at-least-32-bytes-long";

    #[test]
    fn a_sealed_value_opens_with_its_key_and_context_only() {
        let mail = SecretBox::derive(SECRET, Purpose::OutboxMail);
        let sealed = mail.seal(b"reset link", b"row-1");
        assert!(!sealed.windows(10).any(|w| w == b"reset link"));
        assert_eq!(mail.open(&sealed, b"row-1").unwrap(), b"reset link");
        assert_eq!(mail.open(&sealed, b"row-2"), Err(Unopenable));

        let other_purpose = SecretBox::derive(SECRET, Purpose::RefreshSuccessor);
        assert_eq!(other_purpose.open(&sealed, b"row-1"), Err(Unopenable));
        let other_secret =
            SecretBox::derive(b"another secret entirely, 32+ bytes", Purpose::OutboxMail);
        assert_eq!(other_secret.open(&sealed, b"row-1"), Err(Unopenable));

        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(mail.open(&tampered, b"row-1"), Err(Unopenable));
        assert_eq!(mail.open(&sealed[..10], b"row-1"), Err(Unopenable));
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let mail = SecretBox::derive(SECRET, Purpose::OutboxMail);
        assert_ne!(mail.seal(b"x", b""), mail.seal(b"x", b""));
    }
}
