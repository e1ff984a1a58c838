//! `relay-load`: the relay load generator (run by `benches/relay.sh`).
//!
//! Every simulated client is one keep-alive HTTP/1.1 connection (hyper, no pooling, no
//! pipelining). Phases, in order, each skipped when its count is 0:
//!
//! 1. **setup**: create `--queues` queues (signed `POST /v1/queues`); with `--bare`
//!    (the bare floor has no queues) take as many random send ids instead. With
//!    `--send-ids-out` and `--wait-stdin`, wrk (`benches/wrk/deposit.lua`) runs the
//!    closed loop on the same queues before the next phases.
//! 2. **open loop**: `--clients` connections together offer `--rate` deposits per second,
//!    each on a fixed schedule. Latency is measured from when a request was *due*, not
//!    from when it was sent, so a stalled server cannot hide its queueing delay
//!    (no coordinated omission).
//! 3. **fetch**: `--fetchers` connections drain every queue with signed fetches
//!    (`limit=100`) and acknowledgements, measuring each request's latency.
//!
//! With `--abuse`, an abuser runs during the open loop (see `abuse.rs`): one client
//! network floods requests over as many connections as it can hold, another holds
//! slowloris sockets; `--client-networks` spreads the honest clients over that many
//! loopback addresses (127.0.1.x), as real clients come from many networks.
//!
//! Each phase prints one human line and one JSON line (`{"label": …, "phase": …}`).
//! The generator shares the machine with the server: on 2 cores the numbers are a lower
//! bound for the server alone.

mod abuse;
mod announce;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use rand_core::Rng as _;
use satchel_core::relay_request::RelayRequest;
use satchel_core::{Account, QueueKeys, os_rng};
use satchel_relay_api::{
    AUTH_HEADER, AckRequest, AuthValue, CreateQueueRequest, FetchResponse, paths,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Clone)]
#[command(about = "Load generator for the Satchel relay and the bare floor")]
struct Args {
    /// Server address, e.g. 127.0.0.1:7878.
    #[arg(long)]
    addr: SocketAddr,
    /// Name printed with every result (e.g. `relay` or `floor`).
    #[arg(long, default_value = "relay")]
    label: String,
    /// Queues to create and deposit to.
    #[arg(long, default_value_t = 1000)]
    queues: usize,
    /// The server is the bare floor: use `--queues` random send ids, create nothing.
    #[arg(long)]
    bare: bool,
    /// Size of each envelope in bytes (version + send id + body). 256 is about a short
    /// text message after padding.
    #[arg(long, default_value_t = 256)]
    envelope_bytes: usize,
    /// Open-loop clients (connections, each on a fixed schedule).
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Deposits per second offered by all open-loop clients together.
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Length of the open-loop phase.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Connections draining the queues in the fetch phase (0 skips it).
    #[arg(long, default_value_t = 64)]
    fetchers: usize,
    /// After setup, write the queues' send ids (hex, one per line) to this file, for an
    /// external load generator such as wrk (`benches/wrk/deposit.lua`).
    #[arg(long, value_name = "FILE")]
    send_ids_out: Option<std::path::PathBuf>,
    /// After setup, print `ready` and wait until stdin closes before the other phases, so
    /// an external generator can deposit to the queues first (they are drained too).
    #[arg(long)]
    wait_stdin: bool,
    /// Spread the open-loop clients over this many source addresses 127.0.1.1,
    /// 127.0.1.2, … (0: the default source address for all).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8))]
    client_networks: u8,
    /// Run the abuser during the open loop.
    #[arg(long)]
    abuse: bool,
    /// Connections the flooding abuser tries to hold.
    #[arg(long, default_value_t = 1000)]
    abuse_connections: usize,
    /// Slowloris sockets.
    #[arg(long, default_value_t = 200)]
    abuse_slowloris: usize,
    /// The flooding abuser's source address.
    #[arg(long, default_value = "127.0.0.2")]
    abuse_from: IpAddr,
    /// The slowloris abuser's source address.
    #[arg(long, default_value = "127.0.0.3")]
    slowloris_from: IpAddr,
    /// Instead of the other phases: this many announcements to `--queues` devices (one
    /// shared deposit each), then as many 1:1 fan-outs (see `announce.rs`).
    #[arg(long, default_value_t = 0)]
    announce: usize,
    /// The relay's database, to read the bytes it stores (`--announce`).
    #[arg(long, value_name = "FILE")]
    database: Option<std::path::PathBuf>,
}

/// One request's outcome, as a task records it.
#[derive(Default)]
struct Samples {
    latencies_us: Vec<u64>,
    errors: u64,
    items: u64,
}

impl Samples {
    fn merge(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        self.items += other.items;
    }
}

struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Self, Error> {
        Self::open_from(addr, None).await
    }

    /// A connection from the source address `from` (any when `None`).
    async fn open_from(addr: SocketAddr, from: Option<IpAddr>) -> Result<Self, Error> {
        let stream = match from {
            None => tokio::net::TcpStream::connect(addr).await?,
            Some(from) => {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(from, 0))?;
                socket.connect(addr).await?
            }
        };
        stream.set_nodelay(true)?;
        Self::from_stream(stream, addr).await
    }

    async fn from_stream(stream: tokio::net::TcpStream, addr: SocketAddr) -> Result<Self, Error> {
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: addr.to_string(),
        })
    }

    /// Sends one request and reads the whole answer.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        auth: Option<String>,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), Error> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, content_type);
        if let Some(auth) = auth {
            builder = builder.header(AUTH_HEADER, auth);
        }
        let request = builder.body(Full::new(body))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    async fn deposit(&mut self, envelope: Bytes) -> Result<StatusCode, Error> {
        let (status, _) = self
            .request(
                "POST",
                "/v1/envelopes",
                "application/octet-stream",
                None,
                envelope,
            )
            .await?;
        Ok(status)
    }

    /// A request signed with the queue's proof, as the client library sends it.
    async fn queue_request(
        &mut self,
        keys: &QueueKeys,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), Error> {
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let signed = RelayRequest::new(method, path, timestamp, &body, &mut os_rng());
        let auth = AuthValue {
            timestamp,
            nonce: signed.nonce,
            signature: keys.prove(&signed.message()),
        }
        .to_header();
        self.request(
            method,
            path,
            "application/json",
            Some(auth),
            Bytes::from(body),
        )
        .await
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Random send ids, for the bare floor (which accepts any).
fn random_ids(count: usize) -> Vec<[u8; 16]> {
    let mut rng = satchel_core::os_rng();
    (0..count)
        .map(|_| {
            let mut id = [0u8; 16];
            rng.fill_bytes(&mut id);
            id
        })
        .collect()
}

/// Envelopes to deposit: one per send id, with random bodies.
fn envelopes(send_ids: &[[u8; 16]], len: usize) -> Vec<Bytes> {
    let mut rng = satchel_core::os_rng();
    send_ids
        .iter()
        .map(|id| {
            let mut envelope = Vec::with_capacity(len.max(17));
            envelope.push(1u8);
            envelope.extend_from_slice(id);
            let mut body = vec![0u8; len.saturating_sub(17)];
            rng.fill_bytes(&mut body);
            envelope.extend_from_slice(&body);
            Bytes::from(envelope)
        })
        .collect()
}

async fn setup(args: &Args) -> Result<Vec<QueueKeys>, Error> {
    let mut conn = Conn::open(args.addr).await?;
    let mut rng = satchel_core::os_rng();
    let mut queues = Vec::with_capacity(args.queues);
    for _ in 0..args.queues {
        let keys = Account::new(&mut rng).mailbox().clone();
        let body = serde_json::to_vec(&CreateQueueRequest {
            send_id: URL_SAFE_NO_PAD.encode(keys.send_id().as_bytes()),
            auth_key: URL_SAFE_NO_PAD.encode(keys.auth_key()),
            mailbox: false,
        })?;
        let (status, answer) = conn
            .queue_request(&keys, "POST", paths::QUEUES, body)
            .await?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "creating a queue failed: {status} {}",
                String::from_utf8_lossy(&answer)
            )
            .into());
        }
        queues.push(keys);
    }
    Ok(queues)
}

async fn open_loop(args: &Args, envelopes: Arc<Vec<Bytes>>) -> Result<(Samples, f64), Error> {
    let mut conns = Vec::with_capacity(args.clients);
    for index in 0..args.clients {
        let from = (args.client_networks > 0).then(|| {
            let host = u8::try_from(index % usize::from(args.client_networks)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::new(127, 0, 1, host.saturating_add(1)))
        });
        conns.push(Conn::open_from(args.addr, from).await?);
    }
    #[allow(clippy::cast_precision_loss)]
    let interval = Duration::from_secs_f64(args.clients as f64 / args.rate);
    let duration = Duration::from_secs_f64(args.seconds);
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let clients = u32::try_from(args.clients)?;
    let mut tasks = Vec::with_capacity(args.clients);
    for (index, mut conn) in conns.into_iter().enumerate() {
        let envelopes = Arc::clone(&envelopes);
        let offset = interval * u32::try_from(index)? / clients;
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut k: u32 = 0;
            loop {
                let due_in = offset + interval * k;
                if due_in >= duration {
                    break;
                }
                let due = start + due_in;
                tokio::time::sleep_until(due).await;
                let Some(envelope) = envelopes.get((index + k as usize) % envelopes.len().max(1))
                else {
                    break;
                };
                k += 1;
                match conn.deposit(envelope.clone()).await {
                    Ok(StatusCode::ACCEPTED) => {
                        samples.latencies_us.push(micros(due.elapsed()));
                        samples.items += 1;
                    }
                    _ => samples.errors += 1,
                }
            }
            samples
        }));
    }
    let mut all = Samples::default();
    for task in tasks {
        all.merge(task.await?);
    }
    // The last requests may finish after the schedule ends; rate is over the schedule.
    Ok((all, args.seconds))
}

/// Drains every queue; returns (fetch samples, ack samples, seconds).
async fn fetch_all(
    args: &Args,
    queues: Arc<Vec<QueueKeys>>,
) -> Result<(Samples, Samples, f64), Error> {
    let fetchers = args.fetchers.min(queues.len()).max(1);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(fetchers);
    for first in 0..fetchers {
        let queues = Arc::clone(&queues);
        let mut conn = Conn::open(args.addr).await?;
        tasks.push(tokio::spawn(async move {
            let mut fetch = Samples::default();
            let mut ack = Samples::default();
            for keys in queues.iter().skip(first).step_by(fetchers) {
                let receive_id = hex::encode(keys.receive_id().as_bytes());
                let mut after = 0u64;
                loop {
                    let path = paths::queue_messages(&receive_id, after, 100);
                    let sent = Instant::now();
                    let answer = conn.queue_request(keys, "GET", &path, Vec::new()).await;
                    let ids = match answer {
                        Ok((StatusCode::OK, body)) => {
                            fetch.latencies_us.push(micros(sent.elapsed()));
                            message_ids(&body)
                        }
                        _ => None,
                    };
                    let Some(ids) = ids else {
                        fetch.errors += 1;
                        break;
                    };
                    let Some(&last) = ids.last() else {
                        break;
                    };
                    let count = ids.len() as u64;
                    fetch.items += count;
                    after = last;
                    let body = serde_json::to_vec(&AckRequest { ids }).unwrap_or_default();
                    let path = paths::queue_ack(&receive_id);
                    let sent = Instant::now();
                    match conn.queue_request(keys, "POST", &path, body).await {
                        Ok((StatusCode::NO_CONTENT, _)) => {
                            ack.latencies_us.push(micros(sent.elapsed()));
                            ack.items += count;
                        }
                        _ => ack.errors += 1,
                    }
                }
            }
            (fetch, ack)
        }));
    }
    let mut fetch = Samples::default();
    let mut ack = Samples::default();
    for task in tasks {
        let (f, a) = task.await?;
        fetch.merge(f);
        ack.merge(a);
    }
    Ok((fetch, ack, start.elapsed().as_secs_f64()))
}

fn message_ids(body: &[u8]) -> Option<Vec<u64>> {
    let answer: FetchResponse = serde_json::from_slice(body).ok()?;
    Some(answer.messages.iter().map(|m| m.id).collect())
}

fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    #[allow(clippy::cast_precision_loss)]
    sorted
        .get(rank - 1)
        .map_or(f64::NAN, |&us| us as f64 / 1000.0)
}

#[allow(clippy::cast_precision_loss)]
fn report(label: &str, phase: &str, mut samples: Samples, seconds: f64, extra: &str) {
    samples.latencies_us.sort_unstable();
    let lat = &samples.latencies_us;
    let per_second = samples.items as f64 / seconds;
    let (p50, p99, max) = (
        percentile_ms(lat, 0.50),
        percentile_ms(lat, 0.99),
        percentile_ms(lat, 1.0),
    );
    println!(
        "{label:>6} {phase:<8} {per_second:>9.0}/s  requests {:>7}  errors {:>5}  p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  max {max:>8.2} ms{extra}",
        lat.len(),
        samples.errors
    );
    println!(
        "{}",
        serde_json::json!({
            "label": label, "phase": phase, "per_second": per_second,
            "requests": lat.len(), "items": samples.items, "errors": samples.errors,
            "seconds": seconds, "p50_ms": p50, "p99_ms": p99, "max_ms": max,
        })
    );
}

fn report_abuse(label: &str, tally: &abuse::Tally) {
    use std::sync::atomic::Ordering::Relaxed;
    let (admitted, refused) = (tally.admitted.load(Relaxed), tally.refused.load(Relaxed));
    let (ok, limited) = (
        tally.answered_ok.load(Relaxed),
        tally.rate_limited.load(Relaxed),
    );
    let cut = tally.slowloris_cut.load(Relaxed);
    println!(
        "{label:>6} abuse    connections admitted {admitted}, refused {refused}; flood answered 2xx {ok}, 429 {limited}; slowloris sockets cut {cut}"
    );
    println!(
        "{}",
        serde_json::json!({
            "label": label, "phase": "abuse", "admitted": admitted, "refused": refused,
            "answered_ok": ok, "rate_limited": limited, "slowloris_cut": cut,
        })
    );
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    let (queues, send_ids) = if args.bare {
        (Vec::new(), random_ids(args.queues))
    } else {
        let queues = setup(&args).await?;
        let ids = queues.iter().map(|q| *q.send_id().as_bytes()).collect();
        (queues, ids)
    };
    if let Some(path) = &args.send_ids_out {
        let lines: String = send_ids.iter().map(|id| hex::encode(id) + "\n").collect();
        std::fs::write(path, lines)?;
    }
    if args.announce > 0 {
        let database = args.database.clone().ok_or("--announce needs --database")?;
        return announce::run(
            args.addr,
            queues,
            args.announce,
            args.fetchers.max(1),
            &database,
        )
        .await;
    }
    let envelopes = Arc::new(envelopes(&send_ids, args.envelope_bytes));
    if args.wait_stdin {
        println!("ready");
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line)? > 0 {
            line.clear();
        }
    }

    if args.clients > 0 && args.rate > 0.0 {
        let abuser = args.abuse.then(|| {
            // The abuse starts 2 s before the honest clients connect and ends with them.
            let plan = abuse::Plan {
                relay: args.addr,
                flood_from: args.abuse_from,
                connections: args.abuse_connections,
                slowloris_from: args.slowloris_from,
                slowloris: args.abuse_slowloris,
                until: tokio::time::Instant::now() + Duration::from_secs_f64(args.seconds + 3.0),
            };
            tokio::spawn(abuse::run(plan))
        });
        if abuser.is_some() {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let (samples, seconds) = open_loop(&args, Arc::clone(&envelopes)).await?;
        let extra = format!("  ({} clients, offered {:.0}/s)", args.clients, args.rate);
        report(&args.label, "open", samples, seconds, &extra);
        if let Some(abuser) = abuser {
            let tally = abuser.await?;
            report_abuse(&args.label, &tally);
        }
    }
    if args.fetchers > 0 && !queues.is_empty() {
        let (fetch, ack, seconds) = fetch_all(&args, Arc::new(queues)).await?;
        let extra = format!("  (messages/s; {} fetchers, limit=100)", args.fetchers);
        report(&args.label, "fetch", fetch, seconds, &extra);
        report(&args.label, "ack", ack, seconds, "  (messages/s)");
    }
    Ok(())
}
