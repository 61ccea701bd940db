//! A small pool of dedicated OS threads for password hashing, the most expensive thing the server
//! does. Running it on the async runtime would stall every other request, and running one per
//! waiting request would grow memory without bound: at most `workers` jobs run at once, and callers
//! wait asynchronously for a permit before their job is even queued.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use tokio::sync::{Semaphore, oneshot};
use tracing::Span;

type Job = Box<dyn FnOnce() + Send>;

/// The pool has shut down (or a job's thread died): the work did not run, or its answer is lost.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the password hashing pool has shut down")]
pub struct PoolClosed;

/// The threads end when the pool is dropped.
pub struct HashingPool {
    permits: Semaphore,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Drop for HashingPool {
    fn drop(&mut self) {
        // Closing the channel lets the workers' `recv` fail and the threads exit.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
    }
}

impl HashingPool {
    /// Starts `workers` threads (at least one).
    ///
    /// # Errors
    /// If a thread cannot be started.
    pub fn start(workers: usize) -> std::io::Result<Self> {
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
                })?;
        }
        Ok(Self {
            permits: Semaphore::new(workers),
            jobs: Mutex::new(Some(sender)),
        })
    }

    /// Runs `work` on a pool thread, inside the caller's tracing span, and waits for its answer.
    ///
    /// # Errors
    /// `PoolClosed` when the pool has shut down.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolClosed>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        // Waiting here is cheap: no hashing memory is held until a thread picks the job up.
        let _permit = self.permits.acquire().await.map_err(|_| PoolClosed)?;
        let (reply, answer) = oneshot::channel();
        let span = Span::current();
        let job: Job = Box::new(move || {
            let _entered = span.enter();
            let _ = reply.send(work());
        });
        {
            let jobs = self.jobs.lock().map_err(|_| PoolClosed)?;
            let sender = jobs.as_ref().ok_or(PoolClosed)?;
            sender.send(job).map_err(|_| PoolClosed)?;
        }
        answer.await.map_err(|_| PoolClosed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_pool_threads_and_answer() {
        let pool = HashingPool::start(2).unwrap();
        let name = pool
            .run(|| thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("latchkey-hash-"));
    }
}
