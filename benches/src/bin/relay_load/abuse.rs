//! The abuser of `relay-load --abuse`: while the honest clients run the open loop, one
//! client network tries to hold `--abuse-connections` connections and floods requests
//! on every one the relay admits, and another holds `--abuse-slowloris` connections
//! that trickle one header byte at a time and never finish a request. Both reconnect
//! (after a pause) whenever the relay closes or refuses them, until the deadline.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::Conn;

/// Where the abuse comes from and how much of it.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// The relay.
    pub relay: SocketAddr,
    /// The flooding client's address.
    pub flood_from: IpAddr,
    /// Connections the flooding client tries to hold.
    pub connections: usize,
    /// The slowloris client's address.
    pub slowloris_from: IpAddr,
    /// Slowloris sockets.
    pub slowloris: usize,
    /// When to stop.
    pub until: Instant,
}

/// What the abuser saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Connections that got at least one answer.
    pub admitted: AtomicU64,
    /// Connections closed before any answer (refused at the limit).
    pub refused: AtomicU64,
    /// Flood requests answered 2xx.
    pub answered_ok: AtomicU64,
    /// Flood requests answered 429.
    pub rate_limited: AtomicU64,
    /// Slowloris connections the relay closed.
    pub slowloris_cut: AtomicU64,
}

/// How long an abusing socket waits before reconnecting after being refused or cut.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
/// How often a slowloris socket sends one more header byte.
const TRICKLE: Duration = Duration::from_secs(1);

async fn connect_from(from: IpAddr, relay: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if from.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(from, 0))?;
    let stream = socket.connect(relay).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Runs the abuse until `plan.until`; returns the tally.
pub async fn run(plan: Plan) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    let mut tasks = Vec::new();
    for _ in 0..plan.connections {
        tasks.push(tokio::spawn(flood(plan, Arc::clone(&tally))));
    }
    for _ in 0..plan.slowloris {
        tasks.push(tokio::spawn(slowloris(plan, Arc::clone(&tally))));
    }
    for task in tasks {
        let _ = task.await;
    }
    tally
}

/// One flooding connection slot: connect, send health requests back to back while the
/// connection lasts, reconnect after a pause.
async fn flood(plan: Plan, tally: Arc<Tally>) {
    while Instant::now() < plan.until {
        let answered = match connect_from(plan.flood_from, plan.relay).await {
            Ok(stream) => match Conn::from_stream(stream, plan.relay).await {
                Ok(mut conn) => flood_on(&mut conn, &plan, &tally).await,
                Err(_) => 0,
            },
            Err(_) => 0,
        };
        if answered == 0 {
            tally.refused.fetch_add(1, Ordering::Relaxed);
        } else {
            tally.admitted.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep_until((Instant::now() + RECONNECT_PAUSE).min(plan.until)).await;
    }
}

async fn flood_on(conn: &mut Conn, plan: &Plan, tally: &Tally) -> u64 {
    let mut answered = 0;
    while Instant::now() < plan.until {
        let request = conn.request("GET", "/v1/health", "text/plain", None, Default::default());
        match tokio::time::timeout_at(plan.until, request).await {
            Ok(Ok((status, _))) => {
                answered += 1;
                if status.is_success() {
                    tally.answered_ok.fetch_add(1, Ordering::Relaxed);
                } else if status.as_u16() == 429 {
                    tally.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Err(_)) | Err(_) => break,
        }
    }
    answered
}

/// One slowloris socket: a request line, then one header byte per second, never the
/// blank line that ends the headers.
async fn slowloris(plan: Plan, tally: Arc<Tally>) {
    while Instant::now() < plan.until {
        if let Ok(mut stream) = connect_from(plan.slowloris_from, plan.relay).await {
            let mut cut = stream
                .write_all(b"GET /v1/health HTTP/1.1\r\nHost: relay\r\nX-Slow: ")
                .await
                .is_err();
            while !cut && Instant::now() < plan.until {
                tokio::time::sleep_until((Instant::now() + TRICKLE).min(plan.until)).await;
                cut = stream.write_all(b"a").await.is_err() || closed(&mut stream).await;
            }
            if cut {
                tally.slowloris_cut.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep_until((Instant::now() + RECONNECT_PAUSE).min(plan.until)).await;
    }
}

/// Whether the relay has closed `stream` (a read that does not block finds EOF or an
/// error).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}
