//! A connection's clock: a request's headers must arrive within the header timeout of their
//! first byte, and a connection with no request in hand is closed after the idle timeout.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// When the connection must next have made progress, kept up to date by its reads and requests.
pub(super) struct ConnectionClock {
    state: Mutex<State>,
    changed: Notify,
    header_timeout: Duration,
    idle_timeout: Duration,
}

struct State {
    /// Requests handed to the router and not yet answered. While there are any, the router's
    /// own request timeout is what bounds the connection.
    handling: usize,
    /// When the connection opened or its last response was handed over.
    idle_since: Instant,
    /// When the first byte arrived while no request was being handled: a request head is on
    /// its way.
    head_since: Option<Instant>,
}

impl ConnectionClock {
    pub(super) fn new(header_timeout: Duration, idle_timeout: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                handling: 0,
                idle_since: Instant::now(),
                head_since: None,
            }),
            changed: Notify::new(),
            header_timeout,
            idle_timeout,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The lock guards a few plain fields that no panic can leave half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The moment past which the connection is cut, if any.
    fn deadline(&self) -> Option<Instant> {
        let state = self.state();
        if state.handling > 0 {
            return None;
        }
        Some(match state.head_since {
            Some(since) => since + self.header_timeout,
            None => state.idle_since + self.idle_timeout,
        })
    }

    fn bytes_read(&self) {
        let mut state = self.state();
        if state.handling == 0 && state.head_since.is_none() {
            state.head_since = Some(Instant::now());
            drop(state);
            self.changed.notify_waiters();
        }
    }

    /// Marks a request as being handled until the returned guard is dropped.
    pub(super) fn request_started(self: &Arc<Self>) -> Handling {
        let mut state = self.state();
        state.handling += 1;
        state.head_since = None;
        drop(state);
        self.changed.notify_waiters();
        Handling(Arc::clone(self))
    }

    fn request_finished(&self) {
        let mut state = self.state();
        state.handling = state.handling.saturating_sub(1);
        if state.handling == 0 {
            state.idle_since = Instant::now();
            state.head_since = None;
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Completes once the connection has missed its deadline: its headers took too long, or
    /// it sat idle too long.
    pub(super) async fn expired(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the deadline is read, so no change in between is missed.
            changed.as_mut().enable();
            let Some(deadline) = self.deadline() else {
                changed.await;
                continue;
            };
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    if self.deadline().is_some_and(|now_due| now_due <= Instant::now()) {
                        return;
                    }
                }
                () = changed => {}
            }
        }
    }
}

/// A request in the router's hands; dropping it starts the idle clock.
pub(super) struct Handling(Arc<ConnectionClock>);

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A connection's byte stream, telling its clock when bytes arrive.
pub(super) struct Watched<T> {
    inner: T,
    clock: Arc<ConnectionClock>,
}

impl<T> Watched<T> {
    pub(super) fn new(inner: T, clock: Arc<ConnectionClock>) -> Self {
        Self { inner, clock }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.clock.bytes_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn an_untouched_connection_expires_after_the_idle_timeout() {
        let clock = ConnectionClock::new(HEADER, IDLE);
        let started = Instant::now();
        clock.expired().await;
        assert_eq!(started.elapsed(), IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_started_head_expires_after_the_header_timeout_of_its_first_byte() {
        let clock = Arc::new(ConnectionClock::new(HEADER, IDLE));
        let started = Instant::now();
        let watcher = tokio::spawn({
            let clock = Arc::clone(&clock);
            async move { clock.expired().await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        clock.bytes_read();
        watcher.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(30) + HEADER);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_hand_never_expires_and_its_answer_restarts_the_idle_clock() {
        let clock = Arc::new(ConnectionClock::new(HEADER, IDLE));
        clock.bytes_read();
        let handling = clock.request_started();
        let expired = tokio::time::timeout(IDLE * 10, clock.expired()).await;
        assert!(expired.is_err(), "expired while a request was handled");

        let answered = Instant::now();
        drop(handling);
        clock.expired().await;
        assert_eq!(answered.elapsed(), IDLE);
    }
}
