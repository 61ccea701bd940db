//! Signing secrets in the Standard Webhooks form (`whsec_` and base64) and the `v1` signature:
//! HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, one per secret while rotating.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretSlice};
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// The key sizes Standard Webhooks allows: at least 192 bits, at most 512.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Receivers' libraries accept the key with or without its `=` padding; so does this.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One or more signing keys; every delivery is signed with each, so that a receiver holding
/// either the old or the new key during a rotation accepts it. `Debug` never shows a key.
#[derive(Clone)]
pub struct SigningSecrets {
    keys: Arc<[SecretSlice<u8>]>,
}

impl fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningSecrets([REDACTED; {}])", self.keys.len())
    }
}

impl SigningSecrets {
    /// Space-separated `whsec_...` secrets, as `LATCHKEY_WEBHOOK_SECRET` holds them.
    ///
    /// # Errors
    /// Which secret (by position) is malformed and how; never any part of its value.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (index, secret) in text.split_whitespace().enumerate() {
            let position = index + 1;
            let encoded = secret.strip_prefix(PREFIX).ok_or_else(|| {
                format!("secret {position} does not start with `{PREFIX}` (the Standard Webhooks form: {PREFIX} and base64)")
            })?;
            let key = LENIENT_BASE64
                .decode(encoded)
                .map_err(|_| format!("secret {position} is not base64 after `{PREFIX}`"))?;
            if !KEY_BYTES.contains(&key.len()) {
                return Err(format!(
                    "secret {position} holds {} bytes; a key is {} to {} random bytes",
                    key.len(),
                    KEY_BYTES.start(),
                    KEY_BYTES.end()
                ));
            }
            keys.push(SecretSlice::from(key));
        }
        if keys.is_empty() {
            return Err(format!("is empty; give one or more `{PREFIX}...` secrets"));
        }
        Ok(Self { keys: keys.into() })
    }

    /// The `webhook-signature` header: `v1,<base64>` for each key, space-separated.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let signed = format!("{id}.{timestamp}.{body}");
        self.keys
            .iter()
            .map(|key| {
                let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret())
                    .expect("HMAC takes a key of any length");
                mac.update(signed.as_bytes());
                format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks reference libraries; the signature is what the
    // Python library `standardwebhooks` computes for it.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn signs_as_the_reference_libraries_do() {
        let secrets = SigningSecrets::parse(SECRET).unwrap();
        assert_eq!(
            secrets.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn several_secrets_give_one_signature_each_in_order() {
        let other = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        let both = SigningSecrets::parse(&format!("{other}  {SECRET}")).unwrap();
        let first = SigningSecrets::parse(&other)
            .unwrap()
            .sign("msg_1", 1, "{}");
        let second = SigningSecrets::parse(SECRET)
            .unwrap()
            .sign("msg_1", 1, "{}");
        assert_eq!(both.sign("msg_1", 1, "{}"), format!("{first} {second}"));
    }

    #[test]
    fn malformed_secrets_are_refused_by_position_without_their_value() {
        let short = format!("whsec_{}", STANDARD.encode([1u8; 16]));
        let long = format!("whsec_{}", STANDARD.encode([1u8; 65]));
        let cases = [
            ("", "is empty"),
            ("   ", "is empty"),
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "secret 1 does not start with",
            ),
            ("whsec_not*base64*at*all!", "secret 1 is not base64"),
            (short.as_str(), "secret 1 holds 16 bytes"),
            (long.as_str(), "secret 1 holds 65 bytes"),
        ];
        for (text, expected) in cases {
            let error = SigningSecrets::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
            if text.len() > 6 {
                assert!(!error.contains(&text[6..]), "{error}");
            }
        }
        let error = SigningSecrets::parse(&format!("{SECRET} whsec_@@")).unwrap_err();
        assert!(error.starts_with("secret 2 "), "{error}");
    }

    #[test]
    fn unpadded_keys_are_accepted() {
        let padded = format!("whsec_{}", STANDARD.encode([9u8; 25]));
        let unpadded = padded.trim_end_matches('=');
        assert_ne!(padded, unpadded);
        assert_eq!(
            SigningSecrets::parse(&padded)
                .unwrap()
                .sign("msg_1", 1, "{}"),
            SigningSecrets::parse(unpadded)
                .unwrap()
                .sign("msg_1", 1, "{}")
        );
    }

    #[test]
    fn debug_output_never_shows_a_key() {
        let shown = format!("{:?}", SigningSecrets::parse(SECRET).unwrap());
        assert_eq!(shown, "SigningSecrets([REDACTED; 1])");
    }
}
