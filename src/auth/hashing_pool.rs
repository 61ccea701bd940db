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

/// Hashing threads get only the CPU time no other thread wants: on Linux they are scheduled
/// `SCHED_IDLE`, which the kernel preempts the moment a request thread wakes up (with nice 19 a
/// hashing thread could keep a core for the rest of its time slice first, a millisecond or more
/// on every token check it delays). Where that policy is refused, nice 19. A login flood then
/// slows logins, not everyone else.
fn lower_own_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
            Ok(()) => return,
            Err(error) => {
                tracing::debug!(?error, "could not schedule a hashing thread SCHED_IDLE");
            }
        }
    }
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

    /// The scheduling policy of the calling thread (`/proc/thread-self/stat`, field 41).
    #[cfg(target_os = "linux")]
    fn own_scheduling_policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = stat.rsplit_once(')').unwrap().1;
        // Fields after the name start at the third (the state).
        after_name
            .split_whitespace()
            .nth(41 - 3)
            .unwrap()
            .parse()
            .unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_get_only_the_cpu_time_no_other_thread_wants() {
        const SCHED_IDLE: u32 = 5;
        let pool = HashingPool::start(1).unwrap();

        let policy = pool.run(own_scheduling_policy).await.unwrap();

        assert_eq!(policy, SCHED_IDLE);
        assert_ne!(
            own_scheduling_policy(),
            SCHED_IDLE,
            "only the pool's threads"
        );
    }

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
