//! argon2id password hashing and verification, run on the hashing pool (`hashing_pool`).
//! A hash costs ~19 MiB and tens of milliseconds of CPU; each pool thread keeps one working
//! buffer, and an unknown account is verified against a dummy hash so that it costs the same.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use secrecy::{ExposeSecret as _, SecretString};

use super::hashing_pool::{HashingPool, PoolClosed};
use super::imported_hash;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Argon2(String),
    #[error(transparent)]
    PoolClosed(#[from] PoolClosed),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash is weaker than the configured parameters and should be replaced.
    pub needs_rehash: bool,
}

/// Cheap to clone; all clones share one pool. The threads end when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    pool: HashingPool,
    /// A real hash of a random password: login with an unknown email verifies against it so
    /// that it costs the same as a wrong password. Made on first use, on a hashing thread, so
    /// that an idle server holds no argon2 memory.
    dummy_hash: Arc<OnceLock<String>>,
}

impl PasswordHasher {
    /// The policy's parameters: argon2id, m=19456 KiB, t=2, p=1 (OWASP's first recommendation).
    pub fn default_params() -> Params {
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters")
    }

    /// Starts `workers` hashing threads (at least one).
    ///
    /// # Errors
    /// If a thread cannot be started.
    pub fn new(params: Params, workers: usize) -> Result<Self, HashError> {
        let pool = HashingPool::start(workers).map_err(|e| HashError::Argon2(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                pool,
                dummy_hash: Arc::default(),
            }),
        })
    }

    /// Hashes a new password into a PHC string.
    ///
    /// # Errors
    /// When argon2 fails or the pool is gone.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        let params = self.inner.params.clone();
        self.run(move || hash_with(&params, password.expose_secret().as_bytes()))
            .await?
    }

    /// Verifies a password against a stored hash, or against the dummy hash when there is no
    /// account, so that both cases cost one full argon2 verification.
    ///
    /// # Errors
    /// When the pool is gone.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verification, HashError> {
        // An account without a password yet (an invitation) is verified like an unknown one.
        let stored = stored.filter(|hash| hash != NO_PASSWORD);
        let account_exists = stored.is_some();
        let dummy_hash = Arc::clone(&self.inner.dummy_hash);
        let params = self.inner.params.clone();
        let verification = self
            .run(move || {
                let dummy = || {
                    dummy_hash
                        .get_or_init(|| {
                            let password = crate::auth::opaque_token::OpaqueToken::generate().token;
                            hash_with(&params, password.as_bytes()).unwrap_or_default()
                        })
                        .clone()
                };
                let password = password.expose_secret();
                let stored = stored.unwrap_or_else(dummy);
                if !stored.starts_with("$argon2") {
                    // An imported hash (docs/migrating.md), replaced at its first login. The
                    // dummy check after it keeps a wrong password from costing less than it
                    // does for an unknown account.
                    let matches = imported_hash::verify(&stored, password);
                    verify_argon2(&dummy(), password, &params);
                    return Verification {
                        matches,
                        needs_rehash: matches,
                    };
                }
                verify_argon2(&stored, password, &params)
            })
            .await?;
        Ok(Verification {
            matches: verification.matches && account_exists,
            needs_rehash: verification.needs_rehash && account_exists,
        })
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        Ok(self.inner.pool.run(work).await?)
    }
}

/// The stored hash of an account created without a password: no password verifies against it,
/// and checking one costs what checking a wrong one costs.
pub const NO_PASSWORD: &str = "!";

/// argon2id v1.3 with `params`: how new passwords are hashed (the benchmark builds its
/// ceilings and seeded hashes from this too, so the two can never disagree on the cost).
pub fn argon2_for(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

thread_local! {
    /// This hashing thread's argon2 working memory, kept from one hash to the next. Allocating
    /// and freeing 19 MiB per hash leaves the allocator hoarding the freed buffers (hundreds of
    /// MiB after a few hundred logins); one buffer per thread bounds it at threads × 19 MiB.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        work(&mut memory[..blocks])
    })
}

fn hash_with(params: &Params, password: &[u8]) -> Result<String, HashError> {
    let failed = |e: &dyn std::fmt::Display| HashError::Argon2(e.to_string());
    let salt = argon2::password_hash::generate_salt();
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_memory(params.block_count(), |memory| {
        argon2_for(params).hash_password_into_with_memory(password, &salt, &mut output, memory)
    })
    .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Recomputes the stored hash's output with its own algorithm, version, parameters and salt,
/// and compares in constant time (`Output`'s equality).
fn verify_with(stored: &PasswordHash, password: &[u8]) -> bool {
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::new(stored.algorithm.as_str()),
        Params::try_from(stored),
        stored.salt.as_ref(),
        stored.hash.as_ref(),
    ) else {
        return false;
    };
    let Ok(version) = stored.version.map_or(Ok(Version::V0x13), Version::try_from) else {
        return false;
    };
    let mut output = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let computed = with_memory(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut output, memory)
    });
    computed.is_ok() && Output::new(&output).is_ok_and(|actual| actual == *expected)
}

/// Verifies an argon2 PHC string. One over the caps on imported hashes is refused unrun,
/// however it got into the database, so that no stored row can make a login expensive.
fn verify_argon2(stored: &str, password: &str, configured: &Params) -> Verification {
    let refused = Verification {
        matches: false,
        needs_rehash: false,
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return refused;
    };
    if !imported_hash::argon2_within_caps(&parsed) {
        return refused;
    }
    let matches = verify_with(&parsed, password.as_bytes());
    Verification {
        matches,
        needs_rehash: matches && is_weaker(&parsed, configured),
    }
}

/// A stored hash is weaker when it is not argon2id or any cost is below the configured one.
fn is_weaker(stored: &PasswordHash, configured: &Params) -> bool {
    if stored.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(stored) {
        Ok(p) => {
            p.m_cost() < configured.m_cost()
                || p.t_cost() < configured.t_cost()
                || p.p_cost() < configured.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Params {
        Params::new(64, 1, 1, None).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(cheap(), 2).unwrap();
        let hash = hasher
            .hash(SecretString::from("correct horse"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let right = hasher
            .verify(SecretString::from("correct horse"), Some(hash.clone()))
            .await
            .unwrap();
        let wrong = hasher
            .verify(SecretString::from("wrong horse"), Some(hash))
            .await
            .unwrap();
        assert!(right.matches && !wrong.matches);
    }

    #[test]
    fn hashes_from_the_reference_implementation_verify_and_ours_parse_there() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let reference = argon2_for(&cheap())
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(verify_with(
            &PasswordHash::new(&reference).unwrap(),
            b"correct horse"
        ));
        assert!(!verify_with(
            &PasswordHash::new(&reference).unwrap(),
            b"wrong horse"
        ));
        let ours = hash_with(&cheap(), b"correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2_for(&cheap())
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_matches_even_the_dummy_password() {
        let hasher = PasswordHasher::new(cheap(), 1).unwrap();
        let outcome = hasher
            .verify(SecretString::from("anything"), None)
            .await
            .unwrap();
        assert!(!outcome.matches);
    }

    #[tokio::test]
    async fn weaker_stored_hashes_ask_for_a_rehash() {
        let weak = PasswordHasher::new(cheap(), 1).unwrap();
        let hash = weak
            .hash(SecretString::from("correct horse"))
            .await
            .unwrap();
        let strong = PasswordHasher::new(Params::new(128, 2, 1, None).unwrap(), 1).unwrap();
        let outcome = strong
            .verify(SecretString::from("correct horse"), Some(hash))
            .await
            .unwrap();
        assert!(outcome.matches && outcome.needs_rehash);
    }
}
