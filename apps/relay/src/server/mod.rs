//! The connection layer: accepts TCP connections, admits them against the connection
//! limits ([`admission`]), completes TLS handshakes when the relay terminates TLS,
//! and serves HTTP/1.1 (with WebSocket upgrades) on each with hyper, bounded in time:
//!
//! * a client must send a request's headers within the header timeout, which also
//!   closes a keep-alive connection that sits idle that long between requests (slow
//!   headers, "slowloris");
//! * a connection on which no byte moves for the idle timeout is closed ([`idle`]): a
//!   client that stops reading, a stalled body, a silent WebSocket;
//! * a request is answered within 30 s (the router's timeout layer);
//! * connections beyond the total or per-address limit, and from a network that sent
//!   over its request rate, are closed as soon as they are accepted, before any byte is
//!   read.
//!
//! Every request carries its connection's [`ClientSlot`], whose token bucket is shared by
//! all connections from the same client network.

pub mod admission;
pub mod idle;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

pub use admission::{Admission, ClientSlot, ConnectionLimits, Refused};

use admission::SEND_BUFFER_BYTES;
use idle::IdleTimeout;

use crate::tls::TlsConfig;

/// The time limits of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// The most time to receive a request's headers (also the most a keep-alive
    /// connection may sit idle between requests).
    pub header: Duration,
    /// The most time with no byte moving in either direction.
    pub idle: Duration,
}

/// How long a client may take to complete the TLS handshake before it is disconnected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most TLS handshakes in progress at once (they cost CPU); further admitted
/// connections wait for a turn.
pub const MAX_PENDING_HANDSHAKES: usize = 256;
/// How long the accept loop pauses when accepting fails (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Everything the accept loop needs.
pub(crate) struct Server {
    pub listener: TcpListener,
    pub router: Router,
    pub admission: Arc<Admission>,
    pub timeouts: Timeouts,
    pub tls: Option<TlsConfig>,
    pub stop: watch::Receiver<bool>,
}

impl Server {
    /// Accepts and serves connections until `stop` turns `true`, then lets the
    /// connections in progress finish their current request and waits for them.
    pub(crate) async fn run(self) {
        let Self {
            listener,
            router,
            admission,
            timeouts,
            tls,
            mut stop,
        } = self;
        let handshakes = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
        let acceptor = tls.map(|tls| tokio_rustls::TlsAcceptor::from(tls.server_config()));
        let mut connections = JoinSet::new();
        let mut refused = [0u64; 3];
        loop {
            while connections.try_join_next().is_some() {}
            let (tcp, peer) = tokio::select! {
                () = stopped(&mut stop) => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: wait for connections to close.
                        tracing::warn!(%error, "cannot accept a connection; pausing");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
            };
            let slot = match admission.admit(peer.ip()) {
                Ok(slot) => slot,
                Err(reason) => {
                    // Closed unread. Counted and logged in summary, never with the address.
                    let [total, per_address, over_rate] = &mut refused;
                    let count = match reason {
                        Refused::Total => total,
                        Refused::PerAddress => per_address,
                        Refused::OverRate => over_rate,
                    };
                    *count += 1;
                    if count.is_power_of_two() {
                        let [total, per_address, over_rate] = refused;
                        tracing::warn!(
                            at_total_limit = total,
                            at_per_address_limit = per_address,
                            over_request_rate = over_rate,
                            "refusing connections over the limits (counts since start)"
                        );
                    }
                    drop(tcp);
                    continue;
                }
            };
            // Small responses should not wait for Nagle's algorithm.
            let _ = tcp.set_nodelay(true);
            // A fixed send buffer: what a client does not read stays in the relay, where
            // its network's share of unsent answers counts it (`admission.rs`).
            let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(SEND_BUFFER_BYTES);
            let io = IdleTimeout::new(tcp, timeouts.idle, slot.clone());
            let router = router.clone();
            let stop = stop.clone();
            match &acceptor {
                None => {
                    connections.spawn(serve_connection(io, router, slot, timeouts, stop));
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let handshakes = Arc::clone(&handshakes);
                    connections.spawn(async move {
                        let Some(stream) = handshake(&acceptor, io, &handshakes).await else {
                            return;
                        };
                        serve_connection(stream, router, slot, timeouts, stop).await;
                    });
                }
            }
        }
        drop(listener);
        // The connections were told to stop (the same watch): wait for their current
        // requests. `Relay::shutdown` bounds the wait.
        while connections.join_next().await.is_some() {}
    }
}

/// Completes a TLS handshake within [`HANDSHAKE_TIMEOUT`]; `None` if it fails.
async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    io: IdleTimeout<TcpStream>,
    permits: &Semaphore,
) -> Option<tokio_rustls::server::TlsStream<IdleTimeout<TcpStream>>> {
    let _permit = permits.acquire().await.ok()?;
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// Serves HTTP/1.1 on one connection until the client closes it, a timeout closes it,
/// or the relay stops (then the request in progress finishes first).
async fn serve_connection<S>(
    io: S,
    router: Router,
    slot: ClientSlot,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(slot.clone());
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(Body::new)).await;
            Ok::<_, Infallible>(match response {
                Ok(response) => response,
                Err(never) => match never {},
            })
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header)
        .keep_alive(true);
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_end(result),
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            log_end(connection.await);
        }
    }
}

/// Resolves once the relay is stopping (or the relay is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        // Timeouts, resets and malformed requests: normal on the internet.
        tracing::debug!(%error, "connection ended with an error");
    }
}
