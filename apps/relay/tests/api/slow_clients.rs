//! Slow clients do not slow others, tried against the relay binary with its default
//! limits. From three other client networks (127.0.0.2–4), 240 connections misbehave
//! at once: slow headers, request bodies trickling in, and fetches of a full page whose
//! answers are never read (a 4 KiB receive buffer, so the relay's writes block; past
//! the network's share of unsent answers the relay refuses such fetches). A fast client
//! on 127.0.0.1 deposits and fetches throughout, and its latency is compared with the
//! same client's latency before the slow ones came.
//!
//! And the memory unread answers hold is bounded: a network gets its share, the rest of
//! its fetches are refused with 429, other networks are still answered, and the share
//! comes back when the unread connections close.

use std::time::{Duration, Instant};

use satchel_core::QueueKeys;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
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
    let big = full_page(&relay).await;

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
    for _ in 0..UNREAD_ANSWERS {
        let mut stream = connect_from("127.0.0.4", &host, Some(4096)).await;
        send_page_fetch(&mut stream, &big).await;
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

/// A queue holding more than a full page (16 envelopes of 64 KiB).
async fn full_page(relay: &TestRelay) -> QueueKeys {
    let big = queue_keys();
    relay.create_queue(&big).await;
    for _ in 0..16 {
        let r = relay
            .deposit(envelope(big.send_id().as_bytes(), 64 * 1024))
            .await;
        assert_eq!(r.status, 202, "{}", r.json);
    }
    big
}

/// Sends a signed fetch of the whole page of `big` on `stream`.
async fn send_page_fetch(stream: &mut TcpStream, big: &QueueKeys) {
    let path = format!("/v1/queues/{}/messages?limit=500", rid(big));
    let auth = queue_auth(big, "GET", &path, b"");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: relay\r\nsatchel-auth: {auth}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
}

/// Sends a signed fetch of the whole page on `stream` and reads the answer's head: its
/// status and, for a refusal, its `Retry-After` (the rest of a 200 stays unread).
async fn unread_fetch(stream: &mut TcpStream, big: &QueueKeys) -> (u16, Option<String>) {
    send_page_fetch(stream, big).await;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut byte))
            .await
            .expect("the relay answers a fetch")
            .unwrap();
        assert_eq!(n, 1, "the relay closed the connection instead of answering");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head[9..12].parse().unwrap();
    let retry_after = head
        .lines()
        .find_map(|line| line.strip_prefix("retry-after: "))
        .map(str::to_owned);
    (status, retry_after)
}

/// The bytes the kernel holds for the relay's connections to `peer` (their send queues).
fn send_queues(relay_port: &str, peer: &str) -> u64 {
    let out = std::process::Command::new("ss")
        .args([
            "-tnH",
            "state",
            "established",
            &format!("( sport = :{relay_port} )"),
        ])
        .output();
    let Ok(out) = out else { return 0 };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains(&format!("{peer}:")))
        .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_answers_are_bounded_per_network_and_released_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = spawn_binary(&dir.path().join("relay"), &[], None);
    let host = base.trim_start_matches("http://").to_owned();
    let port = host.rsplit(':').next().unwrap().to_owned();
    let relay = TestRelay::external(base.clone(), dir);
    let big = full_page(&relay).await;

    // One network asks for the full page 30 times and reads nothing past the head.
    let mut unread = Vec::new();
    let mut answered = 0;
    let mut refused = 0;
    for _ in 0..30 {
        let mut stream = connect_from("127.0.0.4", &host, Some(4096)).await;
        match unread_fetch(&mut stream, &big).await {
            (200, _) => answered += 1,
            (429, Some(seconds)) => {
                assert_eq!(seconds, "1");
                refused += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
        unread.push(stream);
    }
    // A page's answer is about 1.4 MB (base64 and JSON around 1 MiB). The kernel takes
    // at most 512 KiB of each (the relay's 256 KiB send buffer, doubled); the rest
    // counts against the network's 16 MiB share.
    let kernel = send_queues(&port, "127.0.0.4");
    eprintln!(
        "unread fetches: {answered} answered, {refused} refused; the kernel holds {kernel} \
         bytes for them"
    );
    assert!(
        (11..=19).contains(&answered),
        "{answered} answers held for one network"
    );
    assert_eq!(answered + refused, 30);
    assert!(
        kernel <= 30 * 600 * 1024,
        "the kernel holds {kernel} bytes of unread answers"
    );

    // Another network is answered in full.
    let other = reqwest::Client::builder()
        .local_address(Some("127.0.0.5".parse().unwrap()))
        .build()
        .unwrap();
    let path = format!("/v1/queues/{}/messages?limit=500", rid(&big));
    let r = other
        .get(format!("{base}{path}"))
        .header("satchel-auth", queue_auth(&big, "GET", &path, b""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page: serde_json::Value = r.json().await.unwrap();
    // 15 of the 16 envelopes fill the 1 MiB page.
    assert_eq!(page["messages"].as_array().unwrap().len(), 15);
    assert_eq!(page["more"], true);

    // Once its unread connections close, the first network is answered again.
    drop(unread);
    let mut again = None;
    for _ in 0..50 {
        let mut stream = connect_from("127.0.0.4", &host, None).await;
        let (status, _) = unread_fetch(&mut stream, &big).await;
        if status == 200 {
            again = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        again,
        Some(200),
        "the share did not come back after the connections closed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
