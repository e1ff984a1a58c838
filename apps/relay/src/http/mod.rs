//! The HTTP API (`docs/RELAY_API.md`): one module per resource, each with its own
//! `router()`, merged in [`router`].

pub mod admissions;
pub mod directory;
pub mod envelopes;
pub mod invites;
pub mod members;
pub mod prekeys;
pub mod push;
pub mod queues;
pub mod revocations;
pub mod school_authority;
pub mod schools;
pub mod take_limit;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::store::writer::Writer;
use crate::store::{Id16, QueueQuota, RelayStore};

/// Everything the handlers share, behind one pointer: axum clones the state for every
/// request, and one reference count is cheaper than ten (profiled under load: cloning
/// and dropping the separate handles took 7 % of the relay's CPU).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    /// Wraps `shared` for the router.
    pub fn new(shared: SharedState) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The handlers' shared parts (see [`AppState`]).
pub struct SharedState {
    /// Storage, for reads (called via `spawn_blocking`).
    pub store: Arc<dyn RelayStore>,
    /// The group-commit writer, for every write.
    pub writer: Writer,
    /// WebSocket "new mail" subscriptions.
    pub push: Arc<push::Notifier>,
    /// Per-queue limits.
    pub quota: QueueQuota,
    /// Deposits one client network may make into one contact mailbox.
    pub mailbox_limit: crate::store::MailboxLimit,
    /// Becomes `true` when the relay shuts down (closes WebSockets).
    pub shutdown: watch::Receiver<bool>,
    /// Signed requests accepted recently (refuses replays).
    pub replay: Arc<crate::replay::ReplayCache>,
    /// The operator's registration token; `None`: no new schools.
    pub registration: Option<Arc<crate::registration::RegistrationToken>>,
    /// One-time prekey takes per member key.
    pub prekey_takes: Arc<take_limit::TakeLimiter>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Runs a read on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn RelayStore) -> Result<T, crate::store::StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await??)
    }
}

/// All API routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/healthz", get(healthz))
        .merge(schools::router())
        .merge(invites::router())
        .merge(revocations::router())
        .merge(members::router())
        .merge(admissions::router())
        .merge(directory::router())
        .merge(prekeys::router())
        .merge(queues::router())
        .merge(envelopes::router())
        .merge(push::router())
}

async fn health() -> Json<satchel_relay_api::Health> {
    Json(satchel_relay_api::Health {
        status: "ok".to_owned(),
    })
}

/// `GET /healthz`: 200 `ok` when the database answers, 503 otherwise (for load
/// balancers and supervisors).
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    store_health(Arc::clone(&state.store)).await
}

/// 200 `ok` if `store` answers a trivial query, else 503.
pub(crate) async fn store_health(store: Arc<dyn RelayStore>) -> Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse as _;
    match tokio::task::spawn_blocking(move || store.check()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer\n",
            )
                .into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Middleware: one log line per request with method, route template, status and latency,
/// and nothing else (no concrete path, no address, no body); the same for `/metrics`.
pub async fn log_requests(
    axum::Extension(metrics): axum::Extension<Arc<crate::metrics::Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |path| path.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    metrics.request(&route, status, elapsed);
    if status >= 400 {
        let code = response
            .extensions()
            .get::<satchel_relay_api::ErrorCode>()
            .and_then(|code| serde_json::to_value(code).ok())
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("http_{status}"));
        metrics.error(&code);
    }
    if response.status().is_server_error() {
        tracing::warn!(%method, %route, status, latency_ms, "request failed");
    } else {
        tracing::debug!(%method, %route, status, latency_ms, "request");
    }
    response
}

/// Parses a JSON body, rejecting unknown fields.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::MalformedJson(e.to_string()))
}

/// Parses a 16-byte id given as 32 lowercase hex digits.
pub(crate) fn parse_id(what: &'static str, text: &str) -> Result<Id16> {
    let valid = text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let mut id = [0u8; 16];
    if !valid || hex::decode_to_slice(text, &mut id).is_err() {
        return Err(Error::InvalidId(what, 16));
    }
    Ok(id)
}

/// Decodes a base64url (no padding) field of exactly `N` bytes.
pub(crate) fn decode_fixed<const N: usize>(
    field: &'static str,
    expected: &'static str,
    text: &str,
) -> Result<[u8; N]> {
    if text.len() > N.div_ceil(3) * 4 {
        return Err(Error::InvalidField { field, expected });
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(Error::InvalidField { field, expected })
}

/// Decodes a base64url (no padding) blob of at most `max` bytes; `too_large` names it in
/// the 413 message.
pub(crate) fn decode_blob(
    field: &'static str,
    text: &str,
    max: usize,
    too_large: &'static str,
) -> Result<Vec<u8>> {
    if text.len() > max.div_ceil(3) * 4 {
        return Err(Error::TooLarge(too_large));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Error::InvalidField {
            field,
            expected: "base64url without padding",
        })?;
    if bytes.len() > max {
        return Err(Error::TooLarge(too_large));
    }
    Ok(bytes)
}

/// Encodes bytes as base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The expected-text for 32-byte keys.
pub(crate) const KEY_32: &str = "32 bytes in base64url without padding";
/// The expected-text for 16-byte ids in JSON.
pub(crate) const ID_16: &str = "16 bytes in base64url without padding";
