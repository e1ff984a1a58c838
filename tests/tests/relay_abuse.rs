//! Strangers abusing the relay (no membership needed), through a real relay on
//! 127.0.0.1 with its default limits, while a school uses it: many connections from
//! one address flooding requests, slowloris sockets, and an honest client pushed over
//! the rate limit. 127.0.0.2 and 127.0.0.3 stand for the attackers' addresses (Linux
//! routes all of 127.0.0.0/8 to loopback); the school's clients come from 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use satchel_core::school::Role;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::support::{client, join_confirmed, oak_admin};

async fn connect_from(from: &str, relay: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().map_err(std::io::Error::other)?)?;
    socket.connect(relay).await
}

/// Deposits `envelope` over a fresh connection from `from`; the HTTP status.
async fn deposit_from(from: &str, relay: SocketAddr, envelope: &[u8]) -> u16 {
    let mut stream = connect_from(from, relay).await.unwrap();
    let head = format!(
        "POST /v1/envelopes HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        envelope.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(envelope).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Floods health requests on one connection until it is closed; the number answered.
async fn flood(mut stream: TcpStream, until: Instant) -> usize {
    let mut answered = 0;
    let mut buffer = [0u8; 4096];
    while Instant::now() < until {
        if stream
            .write_all(b"GET /v1/health HTTP/1.1\r\nHost: relay\r\n\r\n")
            .await
            .is_err()
        {
            break;
        }
        match tokio::time::timeout_at(until, stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => answered += 1,
            _ => break,
        }
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_flooding_connections_and_slowloris_sockets_does_not_stop_a_school() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        satchel_relay::Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("relay"));
    config.header_timeout = 2;
    config.registration_token = Some(crate::support::registration_token());
    let relay = satchel_relay::serve(config).await.unwrap();
    let addr = relay.local_addr();
    let url = format!("http://{addr}");
    let until = Instant::now() + Duration::from_secs(20);

    // The flooder tries to hold 400 connections, each sending requests back to back.
    let answered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut attack = Vec::new();
    for _ in 0..400 {
        let (answered, refused) = (Arc::clone(&answered), Arc::clone(&refused));
        attack.push(tokio::spawn(async move {
            if let Ok(stream) = connect_from("127.0.0.2", addr).await {
                let n = flood(stream, until).await;
                answered.fetch_add(n, Ordering::Relaxed);
                if n == 0 {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // The slowloris client holds 100 sockets that never finish their headers.
    let slow_cut = Arc::new(AtomicUsize::new(0));
    let mut slowloris = Vec::new();
    for _ in 0..100 {
        let slow_cut = Arc::clone(&slow_cut);
        slowloris.push(tokio::spawn(async move {
            let Ok(mut stream) = connect_from("127.0.0.3", addr).await else {
                return;
            };
            let _ = stream
                .write_all(b"GET /v1/health HTTP/1.1\r\nX-Slow: ")
                .await;
            let started = Instant::now();
            let mut buffer = [0u8; 256];
            while Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if stream.write_all(b"a").await.is_err() {
                    break;
                }
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buffer)).await
                {
                    break;
                }
            }
            if started.elapsed() < Duration::from_secs(10) {
                slow_cut.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The relay holds at most its per-address limit from each attacker.
    let held = relay.connections();
    assert!(
        held <= 2 * satchel_relay::config::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        "the relay holds {held} connections from two addresses"
    );

    // Meanwhile a school is created, a teacher and a parent join and write both ways.
    let mut admin = oak_admin(dir.path(), &url).await;
    let (mut teacher, mut mum) = crate::support::teacher_and_mum(dir.path(), &mut admin).await;
    for n in 0..3 {
        mum.send("Ms Rivera", &format!("question {n}"))
            .await
            .unwrap();
        teacher
            .send("Sam's mum", &format!("answer {n}"))
            .await
            .unwrap();
    }
    let got: Vec<String> = teacher
        .sync()
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(got, ["question 0", "question 1", "question 2"]);
    let got = mum.sync().await.unwrap().messages;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|m| m.verified));

    // The abuse is bounded: stop it and look at what the attackers got.
    for task in attack {
        task.abort();
    }
    for task in slowloris {
        let _ = tokio::time::timeout_at(until, task).await;
    }
    let refused = refused.load(Ordering::Relaxed);
    assert!(
        refused >= 400 - satchel_relay::config::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        "only {refused} of 400 flooding connections were refused"
    );
    // Every slowloris socket the relay admitted was cut within the header timeout.
    let cut = slow_cut.load(Ordering::Relaxed);
    assert_eq!(cut, 100, "slowloris sockets outlived the header timeout");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pushed_over_the_rate_limit_waits_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // 10 requests per second for the whole of 127.0.0.1: enrolment and ten sends in a
    // row go over it.
    let (relay, url) = crate::support::relay(&dir.path().join("relay"), "127.0.0.1:0", 10).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let code = admin
        .invite(Role::Teacher, "Ms Rivera", &["5B".to_string()])
        .await
        .unwrap();
    let mut teacher = client(&dir.path().join("teacher"), 2);
    join_confirmed(&mut admin, &mut teacher, &code).await;
    let code = admin
        .invite(Role::Parent, "Sam's mum", &["5B".to_string()])
        .await
        .unwrap();
    let mut mum = client(&dir.path().join("mum"), 3);
    join_confirmed(&mut admin, &mut mum, &code).await;
    // Both pick up the office's confirmation first (a few requests each), so that what
    // goes over the limit below is the sends.
    teacher.sync().await.unwrap();
    mum.sync().await.unwrap();
    for n in 0..10 {
        teacher
            .send("Sam's mum", &format!("note {n}"))
            .await
            .unwrap();
    }
    let got = mum.sync().await.unwrap().messages;
    assert_eq!(
        got.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        (0..10).map(|n| format!("note {n}")).collect::<Vec<_>>()
    );
    relay.shutdown().await;
}

/// An enrolled parent with bad intent fills the teacher's contact mailbox from his own
/// network while she is offline: the relay takes only his share, and another parent's
/// first message still arrives. (Before the per-sender limit, 50 deposits filled this
/// relay's 50-message queues and every later first contact was refused.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_cannot_fill_a_teachers_mailbox_and_block_other_parents() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        satchel_relay::Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("relay"));
    config.registration_token = Some(crate::support::registration_token());
    config.queue_max_messages = 50;
    config.mailbox_deposit_burst = 10;
    config.mailbox_deposits_per_hour = 10;
    let relay = satchel_relay::serve(config).await.unwrap();
    let url = format!("http://{}", relay.local_addr());
    let mut admin = oak_admin(dir.path(), &url).await;
    let (mut teacher, mut mum) = crate::support::teacher_and_mum(dir.path(), &mut admin).await;

    // The hostile parent knows the teacher's mailbox send id (it is in her directory
    // entry, which every member can read) and deposits from 127.0.0.2.
    let mailbox = {
        let file = satchel_client::store::keyfile::KeyFile::from_bytes(
            &std::fs::read(dir.path().join("teacher/store.key")).unwrap(),
        )
        .unwrap();
        let key = file
            .unlock(&satchel_client::store::keyfile::KeySource::Platform(
                zeroize::Zeroizing::new([2; 32]),
            ))
            .unwrap();
        let store =
            satchel_client::store::SqliteStore::open(&dir.path().join("teacher/satchel.db"), &key)
                .unwrap();
        *store
            .account()
            .unwrap()
            .unwrap()
            .mailbox()
            .send_id()
            .as_bytes()
    };
    let mut accepted = 0;
    for n in 0..100u8 {
        let mut envelope = vec![1u8];
        envelope.extend_from_slice(&mailbox);
        envelope.extend(std::iter::repeat_n(n, 1500));
        match deposit_from("127.0.0.2", relay.local_addr(), &envelope).await {
            202 => accepted += 1,
            status => assert_eq!(status, 429),
        }
    }
    assert_eq!(accepted, 10, "the relay took more than the sender's share");

    // Mum's first message still gets through, and the teacher reads it (the garbage is
    // dropped and counted).
    mum.send("Ms Rivera", "Hello, I am Sam's mum.")
        .await
        .unwrap();
    let report = teacher.sync().await.unwrap();
    assert_eq!(
        report
            .messages
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        ["Hello, I am Sam's mum."]
    );
    assert!(report.messages[0].verified);
    assert_eq!(report.dropped.len(), 10);
    relay.shutdown().await;
}
