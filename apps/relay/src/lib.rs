//! # satchel-relay
//!
//! Satchel's store-and-forward relay: schools, invites, the encrypted directory and
//! revocation list, one-time prekeys, one-way queues with deposit, fetch, acknowledge and
//! WebSocket push. The HTTP API is specified in `docs/RELAY_API.md`.
//!
//! The relay sees only ciphertext, public keys and random ids. Authentication is by
//! Ed25519 request signatures ([`auth`]); storage sits behind [`store::RelayStore`] with
//! SQLite as the embedded default, and every write goes through one group-commit writer
//! thread ([`store::writer`]) so that a deposit is durable before it is acknowledged.
//!
//! [`app`] builds the router (for in-process tests); [`serve`] opens the store, binds the
//! listener and runs the server in the background; [`serve_with_tls`] does the same and
//! terminates TLS itself ([`tls`]).
#![forbid(unsafe_code)]
#![deny(unused_must_use)]

pub mod auth;
pub mod check;
pub mod config;
pub mod error;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod registration;
pub mod replay;
pub mod server;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;

pub use config::Config;
pub use error::Error;
pub use http::AppState;
pub use tls::{TlsArgs, TlsConfig, TlsError};

use limits::RateLimit;
use server::{Admission, ConnectionLimits, Server, Timeouts};
use store::writer::{Writer, WriterThread};
use store::{QueueQuota, RelayStore, StoreError, WriteOp, WriteOutcome};

/// The listen backlog: enough for a thousand clients connecting at once.
pub const LISTEN_BACKLOG: i32 = 1024;
/// How often retention runs.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Messages deleted per retention step (one writer transaction).
const PURGE_CHUNK: u32 = 10_000;
/// How long shutdown waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Builds the router with every layer: JSON errors, request logs, timeouts, body limits
/// and the rate limit. The rate limit applies to requests that carry a
/// [`server::ClientSlot`] (the connection layer attaches one to every request); without
/// one (e.g. `oneshot` tests) requests are not limited.
pub fn app(state: AppState) -> Router {
    let replay = Arc::clone(&state.replay);
    let metrics = Arc::clone(&state.metrics);
    http::router()
        .fallback(|| async { Error::NotFound })
        .layer(
            ServiceBuilder::new()
                .layer(axum::Extension(replay))
                .layer(axum::Extension(metrics))
                .layer(axum::middleware::from_fn(limits::json_errors))
                .layer(axum::middleware::from_fn(http::log_requests))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    limits::REQUEST_TIMEOUT,
                ))
                .layer(DefaultBodyLimit::max(limits::JSON_BODY_LIMIT))
                .layer(axum::middleware::from_fn(limits::rate_limit)),
        )
        .with_state(state)
}

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened.
    #[error("cannot open {dir}: {source}")]
    Store {
        /// Which database: the SQLite file's folder, or "the PostgreSQL database".
        dir: String,
        /// The cause.
        source: StoreError,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another relay running on this port?)")]
    Bind {
        /// The listen address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Another I/O failure (starting the writer thread, reading the bound address).
    #[error("cannot start: {0}")]
    Io(#[from] std::io::Error),
}

/// A running relay; dropping it without [`Relay::shutdown`] leaves the server running
/// until the runtime ends.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    tls: bool,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    admission: Arc<Admission>,
    retention: JoinHandle<()>,
    writer_thread: WriterThread,
    /// Other relays' "new mail" (PostgreSQL only); dropped at shutdown.
    mail_listener: Option<store::BackgroundTasks>,
    /// The `--metrics-listen` server: its address and task.
    metrics_server: Option<(SocketAddr, JoinHandle<()>)>,
}

impl Relay {
    /// The address the relay accepts connections on (with the real port if 0 was asked).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the relay terminates TLS itself (`https://`) or serves plain HTTP.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The address of the `/metrics` listener, if `--metrics-listen` was given.
    #[must_use]
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(addr, _)| *addr)
    }

    /// The connections held now.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.admission.connections()
    }

    /// `https` or `http`: the scheme clients use to reach [`Relay::local_addr`].
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// Stops accepting connections, closes WebSockets, lets requests in progress finish
    /// (up to 30 s), commits everything queued and stops the writer.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        match tokio::time::timeout(SHUTDOWN_GRACE, self.server).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "the server task failed"),
            Err(_) => tracing::warn!("requests were still running after the grace period"),
        }
        self.retention.abort();
        let _ = self.retention.await;
        drop(self.mail_listener);
        if let Some((_, task)) = self.metrics_server {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        // Every `Writer` lived in the router and the retention task, both gone now: the
        // writer commits what is queued and stops.
        let thread = self.writer_thread;
        let joined = tokio::task::spawn_blocking(move || thread.join());
        if tokio::time::timeout(SHUTDOWN_GRACE, joined).await.is_err() {
            tracing::warn!("the storage writer did not stop in time");
        }
    }
}

/// Binds `addr` with a listen backlog of [`LISTEN_BACKLOG`].
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Opens the store in `config.data`, binds `config.listen` and serves plain HTTP in the
/// background. When this returns, the listener accepts connections.
///
/// # Errors
/// [`StartError`] if the database cannot be opened or the address cannot be bound.
pub async fn serve(config: Config) -> Result<Relay, StartError> {
    serve_with_tls(config, None).await
}

/// Like [`serve`], but with `Some(tls)` the relay terminates TLS itself and serves
/// HTTPS (and WebSocket push over TLS) with that certificate.
///
/// # Errors
/// [`StartError`] if the database cannot be opened or the address cannot be bound.
pub async fn serve_with_tls(config: Config, tls: Option<TlsConfig>) -> Result<Relay, StartError> {
    let store = open_store(&config).await?;
    let listener = bind(config.listen).map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let addr = listener.local_addr()?;
    let metrics: Arc<metrics::Metrics> = Arc::default();
    let (writer, writer_thread) = Writer::start(Arc::clone(&store), Arc::clone(&metrics))?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let push: Arc<http::push::Notifier> = Arc::default();
    let sink = Arc::new(http::push::RemoteMail {
        push: Arc::clone(&push),
        store: Arc::clone(&store),
    });
    let mail_listener = store
        .listen_for_mail(sink)
        .map_err(|source| StartError::Store {
            dir: "the database's new-mail announcements".to_owned(),
            source,
        })?;
    let state = AppState::new(http::SharedState {
        store,
        writer: writer.clone(),
        push,
        quota: QueueQuota {
            max_messages: config.queue_max_messages,
            max_bytes: config.queue_max_bytes,
        },
        mailbox_limit: store::MailboxLimit {
            per_hour: config.mailbox_deposits_per_hour,
            burst: config.mailbox_deposit_burst,
        },
        shutdown: shutdown_rx.clone(),
        replay: Arc::new(replay::ReplayCache::new(config.replay_cache_entries)),
        registration: config.registration_token.clone().map(Arc::new),
        prekey_takes: Arc::new(http::take_limit::TakeLimiter::new(
            config.prekey_takes_per_hour,
            config.prekey_take_burst,
        )),
        metrics: Arc::clone(&metrics),
    });
    let metrics_parts = (metrics, Arc::clone(&state.store), Arc::clone(&state.push));
    let router = app(state);
    let admission = Admission::new(
        ConnectionLimits {
            total: config.max_connections,
            per_address: config.max_connections_per_address,
            answer_bytes_total: config.max_unread_answers_mib.saturating_mul(1 << 20),
            answer_bytes_per_address: config
                .max_unread_answers_mib_per_address
                .saturating_mul(1 << 20),
        },
        RateLimit::new(config.rate_limit),
    );
    let metrics_server = match config.metrics_listen {
        Some(metrics_addr) => {
            let (metrics, store, push) = metrics_parts;
            let listener = bind(metrics_addr).map_err(|source| StartError::Bind {
                addr: metrics_addr,
                source,
            })?;
            let bound = listener.local_addr()?;
            let router = metrics::router(metrics::MetricsState {
                metrics,
                store,
                admission: Arc::clone(&admission),
                push,
            });
            let mut stop = shutdown_rx.clone();
            tracing::info!(%bound, "serving /metrics and /healthz");
            Some((
                bound,
                tokio::spawn(async move {
                    let served = axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = stop.changed().await;
                        })
                        .await;
                    if let Err(error) = served {
                        tracing::error!(%error, "the metrics listener failed");
                    }
                }),
            ))
        }
        None => None,
    };
    let is_tls = tls.is_some();
    let server = tokio::spawn(
        Server {
            listener,
            router,
            admission: Arc::clone(&admission),
            timeouts: Timeouts {
                header: Duration::from_secs(config.header_timeout),
                idle: Duration::from_secs(config.idle_timeout),
            },
            tls,
            stop: shutdown_rx,
        }
        .run(),
    );
    let retention = tokio::spawn(retention(writer, config.max_age_days));
    tracing::info!(
        queue_max_messages = config.queue_max_messages,
        queue_max_bytes = config.queue_max_bytes,
        max_age_days = config.max_age_days,
        rate_limit = config.rate_limit,
        max_connections = config.max_connections,
        max_connections_per_address = config.max_connections_per_address,
        max_unread_answers_mib = config.max_unread_answers_mib,
        max_unread_answers_mib_per_address = config.max_unread_answers_mib_per_address,
        header_timeout_s = config.header_timeout,
        idle_timeout_s = config.idle_timeout,
        replay_cache_entries = config.replay_cache_entries,
        registration_open = config.registration_token.is_some(),
        tls = is_tls,
        "relay started"
    );
    Ok(Relay {
        addr,
        tls: is_tls,
        shutdown,
        server,
        admission,
        retention,
        writer_thread,
        mail_listener,
        metrics_server,
    })
}

/// Opens the store the configuration names: PostgreSQL with `--database`, else SQLite in
/// the data folder.
async fn open_store(config: &Config) -> Result<Arc<dyn RelayStore>, StartError> {
    let database = config.database.clone();
    let data = config.data.clone();
    let opened = tokio::task::spawn_blocking(move || -> Result<Arc<dyn RelayStore>, StoreError> {
        Ok(match database {
            Some(url) => Arc::new(store::postgres::PostgresStore::open(&url)?),
            None => Arc::new(store::sqlite::SqliteStore::open(&data)?),
        })
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    opened.map_err(|source| StartError::Store {
        dir: if config.database.is_some() {
            "the PostgreSQL database".to_owned()
        } else {
            format!("the database in {}", config.data.display())
        },
        source,
    })
}

/// Hourly: deletes undelivered messages older than `max_age_days` and expired invites.
async fn retention(writer: Writer, max_age_days: u32) {
    let mut interval = tokio::time::interval(RETENTION_INTERVAL);
    loop {
        interval.tick().await;
        let now = auth::now_unix();
        let before = now - i64::from(max_age_days) * 86_400;
        let mut purged = 0u64;
        loop {
            match writer
                .submit_one(WriteOp::PurgeMessages {
                    before,
                    limit: PURGE_CHUNK,
                })
                .await
            {
                Ok(WriteOutcome::Deleted(n)) => {
                    purged += n;
                    if n < u64::from(PURGE_CHUNK) {
                        break;
                    }
                }
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(%error, "retention: purging old messages failed");
                    break;
                }
            }
        }
        let invites = match writer.submit_one(WriteOp::PurgeInvites { now }).await {
            Ok(WriteOutcome::Deleted(n)) => n,
            Ok(_) => 0,
            Err(error) => {
                tracing::error!(%error, "retention: purging expired invites failed");
                0
            }
        };
        tracing::info!(
            messages = purged,
            invites,
            "retention: deleted old undelivered messages and expired invites"
        );
    }
}
