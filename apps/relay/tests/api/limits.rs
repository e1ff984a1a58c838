//! Connection limits, the per-network rate limit and the connection timeouts, tried with
//! raw sockets from several loopback addresses (127.0.0.2 and 127.0.0.3 stand for other
//! client networks; Linux routes all of 127.0.0.0/8 to the loopback interface).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::TestRelay;

/// A TCP connection to `relay` from the loopback address `from`.
async fn connect_from(from: &str, relay: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(relay).await.unwrap()
}

/// A reqwest client whose connections come from `from`.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(from.parse().unwrap()))
        .build()
        .unwrap()
}

/// Sends one health request on `stream` and reads the status code; `None` if the relay
/// closed the connection instead of answering.
async fn health(stream: &mut TcpStream) -> Option<u16> {
    let request = b"GET /v1/health HTTP/1.1\r\nHost: relay\r\n\r\n";
    stream.write_all(request).await.ok()?;
    let mut buffer = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .ok()?
        .ok()?;
    let head = std::str::from_utf8(buffer.get(..n)?).ok()?;
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Waits until the relay closes `stream` (read gives EOF or an error); the time it took,
/// or `None` if it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buffer = [0u8; 256];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(start + within),
            stream.read(&mut buffer),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Waits until the relay holds `n` connections (it counts a connection once accepted).
async fn wait_for_connections(relay: &TestRelay, n: usize) {
    for _ in 0..200 {
        if relay.connections() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the relay holds {} connections, expected {n}",
        relay.connections()
    );
}

#[tokio::test]
async fn the_rate_limit_is_per_client_network_and_a_flooding_network_is_shut_out() {
    let relay = TestRelay::start_with(|c| c.rate_limit = 1).await;
    // One connection: a burst of 2, then 429 with `Connection: close`.
    let mut first = connect_from("127.0.0.2", relay.addr()).await;
    assert_eq!(health(&mut first).await, Some(200));
    assert_eq!(health(&mut first).await, Some(200));
    first
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    first.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.contains("rate_limited"), "{answer}");
    // The network is in debt: a new connection from it is closed unread (before, every
    // connection had its own budget, so opening more connections bought more requests)...
    let mut same = connect_from("127.0.0.2", relay.addr()).await;
    assert_eq!(health(&mut same).await, None);
    // ...while another client network has its own budget.
    let other = client_from("127.0.0.3");
    let status = other
        .get(relay.url("/v1/health"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    // Once the debt is paid (1 token per second), the network is served again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let mut later = connect_from("127.0.0.2", relay.addr()).await;
    assert_eq!(health(&mut later).await, Some(200));
    relay.stop().await;
}

#[tokio::test]
async fn connections_over_the_per_address_limit_are_closed_and_others_still_served() {
    let relay = TestRelay::start_with(|c| {
        c.max_connections_per_address = 3;
        c.max_connections = 100;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect_from("127.0.0.2", relay.addr()).await;
        assert_eq!(health(&mut stream).await, Some(200));
        held.push(stream);
    }
    // The fourth from that address is closed unread.
    let mut fourth = connect_from("127.0.0.2", relay.addr()).await;
    assert_eq!(health(&mut fourth).await, None);
    assert!(
        closed_within(&mut fourth, Duration::from_secs(5))
            .await
            .is_some()
    );
    // Another address is served meanwhile.
    let mut honest = connect_from("127.0.0.3", relay.addr()).await;
    assert_eq!(health(&mut honest).await, Some(200));
    // Closing one frees its place.
    drop(held.pop());
    wait_for_connections(&relay, 3).await;
    let mut again = connect_from("127.0.0.2", relay.addr()).await;
    assert_eq!(health(&mut again).await, Some(200));
    relay.stop().await;
}

#[tokio::test]
async fn connections_over_the_total_limit_are_closed() {
    let relay = TestRelay::start_with(|c| {
        c.max_connections_per_address = 10;
        c.max_connections = 4;
    })
    .await;
    let mut held = Vec::new();
    for from in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"] {
        let mut stream = connect_from(from, relay.addr()).await;
        assert_eq!(health(&mut stream).await, Some(200));
        held.push(stream);
    }
    let mut fifth = connect_from("127.0.0.6", relay.addr()).await;
    assert_eq!(health(&mut fifth).await, None);
    drop(held);
    wait_for_connections(&relay, 0).await;
    let mut later = connect_from("127.0.0.6", relay.addr()).await;
    assert_eq!(health(&mut later).await, Some(200));
    relay.stop().await;
}

#[tokio::test]
async fn slow_headers_and_idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let relay = TestRelay::start_with(|c| c.header_timeout = 1).await;
    // Slowloris: a request line and one header, then nothing.
    let mut slow = connect_from("127.0.0.2", relay.addr()).await;
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nHost: relay\r\n")
        .await
        .unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(10)).await;
    let took = took.expect("the relay closes a connection that never finishes its headers");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // Trickling one byte at a time does not reset the clock.
    let mut trickle = connect_from("127.0.0.2", relay.addr()).await;
    let start = Instant::now();
    let mut cut = false;
    for byte in b"GET /v1/health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if trickle.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        cut || closed_within(&mut trickle, Duration::from_secs(1))
            .await
            .is_some(),
        "a trickled header outlived the header timeout"
    );
    assert!(start.elapsed() < Duration::from_secs(8));
    // A kept-alive connection is closed after sitting idle for the timeout.
    let mut idle = connect_from("127.0.0.3", relay.addr()).await;
    assert_eq!(health(&mut idle).await, Some(200));
    assert!(
        closed_within(&mut idle, Duration::from_secs(10))
            .await
            .is_some()
    );
    // Honest requests are unaffected.
    assert_eq!(
        relay
            .json("GET", "/v1/health", json!(null), None)
            .await
            .status,
        200
    );
    relay.stop().await;
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_after_the_idle_timeout() {
    let relay = TestRelay::start_with(|c| c.idle_timeout = 2).await;
    let mut stalled = connect_from("127.0.0.2", relay.addr()).await;
    // The headers promise 1,000 bytes of body; 10 arrive, then nothing.
    stalled
        .write_all(
            b"POST /v1/schools HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"aaaaaaa",
        )
        .await
        .unwrap();
    let took = closed_within(&mut stalled, Duration::from_secs(20)).await;
    let took = took.expect("the relay closes a connection whose body stalls");
    // Before the 30 s request timeout: the idle timeout (2 s) cut it.
    assert!(took < Duration::from_secs(10), "{took:?}");
    wait_for_connections(&relay, 0).await;
    assert_eq!(
        relay
            .json("GET", "/v1/health", json!(null), None)
            .await
            .status,
        200
    );
    relay.stop().await;
}

/// A deposit of `envelope` from the loopback address `from`.
async fn deposit_from(relay: &TestRelay, from: &str, envelope: Vec<u8>) -> (u16, Option<String>) {
    let response = client_from(from)
        .post(relay.url("/v1/envelopes"))
        .header("content-type", "application/octet-stream")
        .body(envelope)
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry_after)
}

#[tokio::test]
async fn one_network_cannot_fill_a_contact_mailbox_but_conversations_are_not_limited() {
    use crate::support::{envelope, queue_keys};
    let relay = TestRelay::start_with(|c| {
        c.mailbox_deposit_burst = 3;
        c.mailbox_deposits_per_hour = 1;
    })
    .await;
    let mailbox = queue_keys();
    let body = json!({
        "send_id": crate::support::b64(mailbox.send_id().as_bytes()),
        "auth_key": crate::support::b64(&mailbox.auth_key()),
        "mailbox": true,
    });
    assert_eq!(
        relay
            .queue("POST", "/v1/queues", body, &mailbox)
            .await
            .status,
        201
    );
    let to_mailbox = || envelope(mailbox.send_id().as_bytes(), 1500);
    // A hostile member's network: three first contacts, then 429 with when to retry.
    for _ in 0..3 {
        assert_eq!(deposit_from(&relay, "127.0.0.2", to_mailbox()).await.0, 202);
    }
    let (status, retry_after) = deposit_from(&relay, "127.0.0.2", to_mailbox()).await;
    assert_eq!(status, 429);
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!((3000..=3601).contains(&wait), "{wait}");
    // Everyone else still reaches the mailbox.
    assert_eq!(deposit_from(&relay, "127.0.0.3", to_mailbox()).await.0, 202);

    // A conversation queue is not limited this way (only the peer knows its send id)...
    let conversation = queue_keys();
    relay.create_queue(&conversation).await;
    for _ in 0..6 {
        let e = envelope(conversation.send_id().as_bytes(), 100);
        assert_eq!(deposit_from(&relay, "127.0.0.2", e).await.0, 202);
    }
    // ...and a mailbox created before the limit existed is marked by creating it again.
    let body = json!({
        "send_id": crate::support::b64(conversation.send_id().as_bytes()),
        "auth_key": crate::support::b64(&conversation.auth_key()),
        "mailbox": true,
    });
    assert_eq!(
        relay
            .queue("POST", "/v1/queues", body, &conversation)
            .await
            .status,
        200
    );
    let limited = deposit_from(
        &relay,
        "127.0.0.4",
        envelope(conversation.send_id().as_bytes(), 100),
    );
    assert_eq!(limited.await.0, 202);
    for _ in 0..2 {
        let e = envelope(conversation.send_id().as_bytes(), 100);
        assert_eq!(deposit_from(&relay, "127.0.0.4", e).await.0, 202);
    }
    let e = envelope(conversation.send_id().as_bytes(), 100);
    assert_eq!(deposit_from(&relay, "127.0.0.4", e).await.0, 429);
    relay.stop().await;
}
