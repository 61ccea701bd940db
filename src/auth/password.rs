//! argon2id hashing on a small pool of dedicated threads.
//!
//! A hash costs ~19 MiB and tens of milliseconds of CPU. Running it on the async runtime would
//! stall every other request, and running one per waiting request would grow memory without
//! bound. So at most `workers` hashes run at once, each on its own OS thread, and callers wait
//! asynchronously for a permit before their job is even queued.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::{Semaphore, oneshot};
use tracing::Span;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Argon2(String),
    #[error("the password hashing pool has shut down")]
    PoolClosed,
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
    permits: Semaphore,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// A real hash of a random password: login with an unknown email verifies against it so
    /// that it costs the same as a wrong password.
    dummy_hash: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the workers' `recv` fail and the threads exit.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
    }
}

impl PasswordHasher {
    /// The policy's parameters: argon2id, m=19456 KiB, t=2, p=1 (OWASP's first recommendation).
    pub fn default_params() -> Params {
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters")
    }

    /// Starts `workers` hashing threads (at least one).
    ///
    /// # Errors
    /// If the dummy hash cannot be computed, which only a broken parameter set causes.
    pub fn new(params: Params, workers: usize) -> Result<Self, HashError> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = workers.max(1);
        for index in 0..workers {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new()
                .name(format!("latchkey-hash-{index}"))
                .spawn(move || {
                    lower_own_priority();
                    worker_loop(&receiver);
                })
                .map_err(|e| HashError::Argon2(e.to_string()))?;
        }
        let dummy_password = crate::auth::opaque_token::OpaqueToken::generate().token;
        let dummy_hash = hash_with(&params, dummy_password.as_bytes())?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                permits: Semaphore::new(workers),
                jobs: Mutex::new(Some(sender)),
                dummy_hash,
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
        let account_exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.inner.dummy_hash.clone());
        let params = self.inner.params.clone();
        let verification = self
            .run(move || {
                let Ok(parsed) = PasswordHash::new(&stored) else {
                    return Verification {
                        matches: false,
                        needs_rehash: false,
                    };
                };
                let matches = argon2_for(&params)
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok();
                Verification {
                    matches,
                    needs_rehash: matches && is_weaker(&parsed, &params),
                }
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
        // Waiting here is cheap: no argon2 memory is held until a thread picks the job up.
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::PoolClosed)?;
        let (reply, answer) = oneshot::channel();
        let span = Span::current();
        let job: Job = Box::new(move || {
            let _entered = span.enter();
            let _ = reply.send(work());
        });
        {
            let jobs = self.inner.jobs.lock().map_err(|_| HashError::PoolClosed)?;
            let sender = jobs.as_ref().ok_or(HashError::PoolClosed)?;
            sender.send(job).map_err(|_| HashError::PoolClosed)?;
        }
        answer.await.map_err(|_| HashError::PoolClosed)
    }
}

/// Hashing threads run at the lowest scheduling priority (nice 19): they take every core the
/// request threads leave idle, and yield at once when a token check needs one. A login flood
/// then slows logins, not everyone else.
fn lower_own_priority() {
    if let Err(error) =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        tracing::debug!(?error, "could not lower the priority of a hashing thread");
    }
}

fn worker_loop(receiver: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = {
            let Ok(receiver) = receiver.lock() else {
                return;
            };
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        job();
    }
}

fn argon2_for(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &[u8]) -> Result<String, HashError> {
    argon2_for(params)
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
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
