//! A connection that is closed when no byte moves in either direction for a while.
//!
//! hyper's header-read timeout covers a client that is slow to send a request (or keeps
//! an idle connection open between requests). This covers the rest: a client that stops
//! reading a response (the relay's writes stall), a request body that stops halfway
//! under a handler that is waiting for it, and an upgraded WebSocket whose peer went
//! silent. WebSockets stay alive through the relay's pings, which count as progress.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::admission::ClientSlot;

/// A stream that fails with [`io::ErrorKind::TimedOut`] once `timeout` passes with no
/// read or write making progress. It also holds the connection's [`ClientSlot`], so the
/// connection counts against the limits for as long as the socket is open, including
/// after an upgrade to WebSocket.
#[derive(Debug)]
pub struct IdleTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Fires at the earliest possible deadline; checked against `last_progress` when it
    /// does (moving a timer on every read and write costs more than the reads).
    deadline: Pin<Box<Sleep>>,
    last_progress: Instant,
    _slot: ClientSlot,
}

impl<S> IdleTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, timeout: Duration, slot: ClientSlot) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            last_progress: Instant::now(),
            _slot: slot,
        }
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Called when the inner stream is pending: an error once `timeout` has passed
    /// since the last progress (the sleep also registers the waker, so a silent peer is
    /// noticed). When the sleep fires early because there was progress since it was
    /// set, it is moved to the real deadline.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            match self.deadline.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    let due = self.last_progress + self.timeout;
                    if Instant::now() >= due {
                        return Poll::Ready(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no data moved on the connection for the idle timeout",
                        ));
                    }
                    self.deadline.as_mut().reset(due);
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => self.check(cx).map(Err),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => self.check(cx).map(Err),
        }
    }
}
