//! Limits as layers: the request rate of each client network, body-size limits,
//! timeouts, and a fallback that turns every bare error status into the JSON error shape.
//!
//! The rate limit's token buckets live in the connection layer's admission table
//! ([`crate::server::admission`]), one per client network, in memory only.

use std::time::Duration;

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{Error, response_for_status};
use crate::server::ClientSlot;

/// How long a request may take before the relay answers 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest body of a JSON endpoint (the revocation list upload alone has its own,
/// larger limit: [`crate::http::revocations::REVOCATIONS_BODY_LIMIT`]).
pub const JSON_BODY_LIMIT: usize = 256 * 1024;

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

/// Middleware: answers 429 `rate_limited` when the bucket of the client's network is
/// empty ([`ClientSlot`]), and closes the connection after that answer (the network
/// must reconnect once it is back under its rate). Requests without a slot (in-process
/// `oneshot` tests) are not limited.
pub async fn rate_limit(request: Request, next: Next) -> Response {
    let allowed = request
        .extensions()
        .get::<ClientSlot>()
        .is_none_or(ClientSlot::take);
    if allowed {
        next.run(request).await
    } else {
        let mut response = Error::RateLimited.into_response();
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        response
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
