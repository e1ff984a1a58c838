//! Limits as layers: a token bucket per connection, body-size limits, timeouts, and a
//! fallback that turns every bare error status into the JSON error shape.
//!
//! The rate limit is per TCP connection: each accepted connection gets its own bucket,
//! created in [`ConnectionBudget::connect_info`] and dropped with the connection. The
//! relay never stores or even keys anything by the peer's address.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State, connect_info::Connected};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};

use crate::error::{Error, response_for_status};

/// How long a request may take before the relay answers 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest body of any JSON endpoint (the largest field is a 64 KiB revocation list
/// in base64).
pub const JSON_BODY_LIMIT: usize = 256 * 1024;

/// The token bucket of one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnectionBudget(Arc<Mutex<Option<Bucket>>>);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Connected<IncomingStream<'_, NoDelayListener>> for ConnectionBudget {
    fn connect_info(_stream: IncomingStream<'_, NoDelayListener>) -> Self {
        Self::default()
    }
}

/// A TCP listener that sets `TCP_NODELAY` on every accepted connection.
#[derive(Debug)]
pub struct NoDelayListener(pub tokio::net::TcpListener);

impl Listener for NoDelayListener {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        // Small responses should not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        (stream, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl ConnectionBudget {
    /// Takes one token; `false` if the connection is over its rate.
    fn take(&self, rate: f64, burst: f64) -> bool {
        let Ok(mut bucket) = self.0.lock() else {
            return true;
        };
        let now = Instant::now();
        let bucket = bucket.get_or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Rate-limit settings.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

impl RateLimit {
    /// `per_second` requests per second with bursts of twice that.
    #[must_use]
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(per_second) * 2.0,
        }
    }
}

/// Middleware: answers 429 `rate_limited` when the connection's bucket is empty.
/// Requests without connection info (in-process `oneshot` tests) are not limited.
pub async fn rate_limit(State(limit): State<RateLimit>, request: Request, next: Next) -> Response {
    let allowed = request
        .extensions()
        .get::<axum::extract::ConnectInfo<ConnectionBudget>>()
        .is_none_or(|info| info.0.take(limit.per_second, limit.burst));
    if allowed {
        next.run(request).await
    } else {
        Error::RateLimited.into_response()
    }
}

/// Middleware: any 4xx/5xx response that is not already JSON (router 404/405, timeouts,
/// body-limit layers, WebSocket upgrade failures) gets the JSON error shape.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        response_for_status(status)
    } else {
        response
    }
}
