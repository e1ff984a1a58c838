//! Prometheus metrics, served on the separate `--metrics-listen` address.
//!
//! Labels are route templates, status codes and error codes only: no ids, no addresses,
//! no counts per queue. The gauges of stored mail are read from the store at each
//! scrape.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::{RelayStore, StoreError};

/// A request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route template, e.g. `/v1/queues/{receive_id}/messages`.
    route: String,
    /// The HTTP status code.
    status: u16,
}

/// A route's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// An error's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    /// The machine-readable error code sent as `"error"`.
    code: String,
}

/// Everything the relay counts.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    errors: Family<ErrorLabels, Counter>,
    deposits: Counter,
    fetched: Counter,
    batch_ops: Histogram,
    commit_seconds: Histogram,
    queued_messages: Gauge,
    queues_with_mail: Gauge,
    connections: Gauge,
    push_queues: Gauge,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let errors = Family::<ErrorLabels, Counter>::default();
        let deposits = Counter::default();
        let fetched = Counter::default();
        let batch_ops = Histogram::new(exponential_buckets(1.0, 4.0, 7));
        let commit_seconds = latency_histogram();
        let queued_messages = Gauge::default();
        let queues_with_mail = Gauge::default();
        let connections = Gauge::default();
        let push_queues = Gauge::default();
        registry.register(
            "satchel_relay_http_requests",
            "HTTP requests answered, by route template and status",
            requests.clone(),
        );
        registry.register(
            "satchel_relay_http_request_duration_seconds",
            "Time to answer a request, by route template",
            durations.clone(),
        );
        registry.register(
            "satchel_relay_errors",
            "Error responses, by error code",
            errors.clone(),
        );
        registry.register(
            "satchel_relay_deposits",
            "Envelopes stored (a shared deposit counts once per queue)",
            deposits.clone(),
        );
        registry.register(
            "satchel_relay_messages_fetched",
            "Messages handed out by fetches",
            fetched.clone(),
        );
        registry.register(
            "satchel_relay_write_batch_ops",
            "Write operations committed together in one group commit",
            batch_ops.clone(),
        );
        registry.register(
            "satchel_relay_write_commit_duration_seconds",
            "Time to apply and commit one group commit",
            commit_seconds.clone(),
        );
        registry.register(
            "satchel_relay_queued_messages",
            "Undelivered messages held (all relays sharing the database)",
            queued_messages.clone(),
        );
        registry.register(
            "satchel_relay_queues_with_mail",
            "Queues holding at least one message",
            queues_with_mail.clone(),
        );
        registry.register(
            "satchel_relay_connections",
            "Client connections this relay holds",
            connections.clone(),
        );
        registry.register(
            "satchel_relay_push_queues_watched",
            "Queues with at least one WebSocket on this relay",
            push_queues.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            errors,
            deposits,
            fetched,
            batch_ops,
            commit_seconds,
            queued_messages,
            queues_with_mail,
            connections,
            push_queues,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one error response.
    pub fn error(&self, code: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts stored envelopes.
    pub fn deposited(&self, envelopes: u64) {
        self.deposits.inc_by(envelopes);
    }

    /// Counts fetched messages.
    pub fn fetched(&self, messages: u64) {
        self.fetched.inc_by(messages);
    }

    /// Records one group commit.
    pub fn committed(&self, ops: usize, elapsed: Duration) {
        self.batch_ops.observe(ops as f64);
        self.commit_seconds.observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the gauges read now.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn render(
        &self,
        store: &dyn RelayStore,
        connections: usize,
        push_queues: usize,
    ) -> Result<String, StoreError> {
        let stats = store.stats()?;
        self.queued_messages
            .set(i64::try_from(stats.messages).unwrap_or(i64::MAX));
        self.queues_with_mail
            .set(i64::try_from(stats.queues_with_mail).unwrap_or(i64::MAX));
        self.connections
            .set(i64::try_from(connections).unwrap_or(i64::MAX));
        self.push_queues
            .set(i64::try_from(push_queues).unwrap_or(i64::MAX));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|error| StoreError::Backend(Box::new(error)))?;
        Ok(text)
    }
}

/// What `/metrics` needs from the running relay.
#[derive(Clone)]
pub(crate) struct MetricsState {
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn RelayStore>,
    pub admission: Arc<crate::server::Admission>,
    pub push: Arc<crate::http::push::Notifier>,
}

/// The router of the metrics listener: `/metrics` and `/healthz`.
pub(crate) fn router(state: MetricsState) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<MetricsState>,
) -> axum::response::Response {
    crate::http::store_health(state.store).await
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<MetricsState>,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse as _;
    let connections = state.admission.connections();
    let push_queues = state.push.queues_watched();
    let store = Arc::clone(&state.store);
    let metrics = Arc::clone(&state.metrics);
    let rendered = tokio::task::spawn_blocking(move || {
        metrics.render(store.as_ref(), connections, push_queues)
    })
    .await;
    match rendered {
        Ok(Ok(text)) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "metrics: the store cannot be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable\n",
            )
                .into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
