//! Slow clients do not slow others, tried against the relay binary with its default
//! limits. From three other client networks (127.0.0.2–4), 240 connections misbehave
//! at once: slow headers, request bodies trickling in, and fetches of a full page whose
//! answers are never read (a 4 KiB receive buffer, so the relay's writes block). A fast
//! client on 127.0.0.1 deposits and fetches throughout, and its latency is compared with
//! the same client's latency before the slow ones came.

use std::time::{Duration, Instant};

use satchel_core::QueueKeys;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpSocket, TcpStream};

use crate::support::*;

/// Slow connections per kind (slow headers, slow bodies, unread answers).
const SLOW_HEADERS: usize = 100;
const SLOW_BODIES: usize = 100;
const UNREAD_ANSWERS: usize = 40;

/// Requests of the fast client per measurement.
const ROUNDS: usize = 60;

/// A TCP connection to `relay` from the loopback address `from`, with a receive
/// buffer of `receive_buffer` bytes when given.
async fn connect_from(from: &str, relay: &str, receive_buffer: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    socket.connect(relay.parse().unwrap()).await.unwrap()
}

/// The fast client's round trips: a deposit and a signed fetch, paced so that it stays
/// well under the default rate limit. Returns each request's latency in ms, sorted.
async fn fast_client(relay: &TestRelay, keys: &QueueKeys) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(2 * ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let r = relay
            .deposit(envelope(keys.send_id().as_bytes(), 256))
            .await;
        assert_eq!(r.status, 202, "{}", r.json);
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let r = relay.fetch(keys, "?limit=1").await;
        assert_eq!(r.status, 200, "{}", r.json);
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_slow_a_fast_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = spawn_binary(&dir.path().join("relay"), &[], None);
    let host = base.trim_start_matches("http://").to_owned();
    let relay = TestRelay::external(base, dir);

    let fast = queue_keys();
    relay.create_queue(&fast).await;
    // A queue holding a full page (1 MiB) for the unread answers.
    let big = queue_keys();
    relay.create_queue(&big).await;
    for _ in 0..16 {
        let r = relay
            .deposit(envelope(big.send_id().as_bytes(), 64 * 1024))
            .await;
        assert_eq!(r.status, 202, "{}", r.json);
    }

    let before = fast_client(&relay, &fast).await;

    let mut held = Vec::new();
    // Slow headers: a request line and part of a header, then nothing.
    for _ in 0..SLOW_HEADERS {
        let mut stream = connect_from("127.0.0.2", &host, None).await;
        stream
            .write_all(b"POST /v1/envelopes HTTP/1.1\r\nHost: relay\r\nContent-Ty")
            .await
            .unwrap();
        held.push(stream);
    }
    // Slow bodies: complete headers announcing 64 KiB, then a few bytes.
    for _ in 0..SLOW_BODIES {
        let mut stream = connect_from("127.0.0.3", &host, None).await;
        stream
            .write_all(
                b"POST /v1/envelopes HTTP/1.1\r\nHost: relay\r\n\
                  Content-Type: application/octet-stream\r\nContent-Length: 65536\r\n\r\n\x01",
            )
            .await
            .unwrap();
        held.push(stream);
    }
    // Unread answers: a signed fetch of the full page, and the answer is never read.
    let path = format!("/v1/queues/{}/messages?limit=500", rid(&big));
    for _ in 0..UNREAD_ANSWERS {
        let mut stream = connect_from("127.0.0.4", &host, Some(4096)).await;
        let auth = queue_auth(&big, "GET", &path, b"");
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: relay\r\nsatchel-auth: {auth}\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        held.push(stream);
    }
    // The relay has read the pages and started answering (the answers are large; that
    // work is not what is measured): each unread socket has bytes waiting.
    for stream in held.iter().skip(SLOW_HEADERS + SLOW_BODIES) {
        tokio::time::timeout(Duration::from_secs(20), stream.readable())
            .await
            .expect("the relay answers a fetch whose answer is not read")
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Keep the slow bodies trickling during the measurement.
    let trickle = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for stream in held.iter_mut().skip(SLOW_HEADERS).take(SLOW_BODIES) {
                let _ = stream.write_all(&[0u8]).await;
            }
        }
        held
    });

    let during = fast_client(&relay, &fast).await;
    let held = trickle.await.unwrap();

    // The slow connections were still held: the relay did not get rid of them by
    // closing them (its header and idle timeouts are 30 and 75 s).
    let mut open = 0;
    for stream in &held {
        let mut probe = [0u8; 1];
        match stream.try_read(&mut probe) {
            // An answer waiting to be read, or nothing yet: still open.
            Ok(1..) => open += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
            Ok(0) | Err(_) => {}
        }
    }

    let (p50_before, p99_before) = (percentile(&before, 0.5), percentile(&before, 0.99));
    let (p50_during, p99_during) = (percentile(&during, 0.5), percentile(&during, 0.99));
    eprintln!(
        "fast client alone: p50 {p50_before:.2} ms, p99 {p99_before:.2} ms; beside {} slow \
         connections ({open} still open at the end): p50 {p50_during:.2} ms, p99 {p99_during:.2} ms",
        held.len()
    );
    assert_eq!(open, held.len(), "the slow connections were closed early");
    // A relay that let slow clients hold a worker, a lock or the writer would make the
    // fast client wait for seconds. The bounds leave room for a noisy shared machine.
    assert!(
        p50_during <= (4.0 * p50_before).max(p50_before + 10.0),
        "median {p50_during:.2} ms beside slow clients against {p50_before:.2} ms alone"
    );
    assert!(
        p99_during <= (5.0 * p99_before).max(p99_before + 100.0),
        "p99 {p99_during:.2} ms beside slow clients against {p99_before:.2} ms alone"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
