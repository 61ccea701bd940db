//! The one password every seeded user has, and argon2id built from latchkey's own parameters,
//! so that the ceilings, the seeded hash and the server can never disagree on the cost.

use argon2::{Argon2, PasswordHasher as _};
use latchkey::auth::password::{PasswordHasher, argon2_for};

use crate::Result;

/// The password of every seeded user (long, and in no breached-password list).
pub const PASSWORD: &str = "bench-correct-horse-battery-7";

/// argon2id v1.3 with the server's parameters, as latchkey hashes new passwords.
pub fn argon2() -> Argon2<'static> {
    argon2_for(&PasswordHasher::default_params())
}

/// The argon2id PHC string of [`PASSWORD`] with the server's parameters.
///
/// # Errors
/// When argon2 fails.
pub fn password_hash() -> Result<String> {
    let hash = argon2()
        .hash_password(PASSWORD.as_bytes())
        .map_err(|e| format!("argon2: {e}"))?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHash, PasswordVerifier as _};

    use super::*;

    #[test]
    fn the_seeded_hash_carries_the_servers_parameters_and_verifies() {
        let hash = password_hash().unwrap();
        let params = PasswordHasher::default_params();
        let expected = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        assert!(hash.starts_with(&expected), "{hash}");
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            argon2()
                .verify_password(PASSWORD.as_bytes(), &parsed)
                .is_ok()
        );
    }
}
