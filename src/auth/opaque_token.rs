//! Opaque tokens (refresh and reset): 256 random bits, base64url, stored only as a SHA-256
//! digest so that a copy of the database hands out nothing usable.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A freshly minted token as handed to the client. `Debug` never prints it.
pub struct OpaqueToken {
    pub token: String,
    pub digest: String,
}

impl OpaqueToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let digest = digest(&token);
        Self { token, digest }
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(<redacted>)")
    }
}

/// The stored form of a token the client presents: lower-case hex SHA-256.
pub fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in hash {
        use fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_differ() {
        let a = OpaqueToken::generate();
        let b = OpaqueToken::generate();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.token).unwrap().len(), 32);
        assert_ne!(a.token, b.token);
        assert_eq!(a.digest, digest(&a.token));
        assert_eq!(a.digest.len(), 64);
        assert!(!format!("{a:?}").contains(&a.token));
    }
}
