//! Several relay processes on one PostgreSQL database (run when the suite has a server:
//! `SATCHEL_TEST_POSTGRES`, as scripts/test sets for its PostgreSQL pass).

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

/// Two relays on one fresh database, or `None` without a PostgreSQL server.
async fn two_relays() -> Option<(TestRelay, TestRelay)> {
    if test_postgres().is_none() {
        eprintln!("skipped: set SATCHEL_TEST_POSTGRES (scripts/test does) to run it");
        return None;
    }
    let first = TestRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        first.dir.path().join("database-url"),
        dir.path().join("database-url"),
    )
    .unwrap();
    let second = TestRelay::start_in(dir, |_| {}).await;
    Some((first, second))
}

fn ids_of(response: &Response) -> Vec<u64> {
    response.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

/// A deposit through one relay is fetched through the other, and an acknowledgement
/// through either removes it for both.
#[tokio::test]
async fn a_deposit_through_one_relay_is_fetched_and_acknowledged_through_another() {
    let Some((a, b)) = two_relays().await else {
        return;
    };
    let keys = queue_keys();
    let receive_id = a.create_queue(&keys).await;
    let sent = envelope(keys.send_id().as_bytes(), 120);
    assert_eq!(a.deposit(sent.clone()).await.status, 202);
    let fetched = b.fetch(&keys, "").await;
    assert_eq!(fetched.status, 200, "{}", fetched.json);
    let messages = fetched.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        unb64(messages[0]["envelope"].as_str().unwrap()),
        stored(&sent)
    );
    let ack = format!("/v1/queues/{receive_id}/ack");
    let r = b
        .queue("POST", &ack, json!({"ids": ids_of(&fetched)}), &keys)
        .await;
    assert!(r.status < 300, "{}", r.json);
    assert!(ids_of(&a.fetch(&keys, "").await).is_empty());
    a.stop().await;
    b.stop().await;
}

/// Deposits racing into one queue through both relays get distinct, gap-free ids,
/// and every one is stored once.
#[tokio::test]
async fn concurrent_deposits_through_two_relays_get_unique_ids() {
    let Some((a, b)) = two_relays().await else {
        return;
    };
    let keys = queue_keys();
    a.create_queue(&keys).await;
    let send_id = *keys.send_id().as_bytes();
    // Under the default 128 connections per client address.
    let per_relay = 100;
    let deposit_all = |relay: &TestRelay| {
        let relay_base = relay.base.clone();
        let client = relay.client.clone();
        async move {
            let mut tasks = Vec::new();
            for _ in 0..per_relay {
                let url = format!("{relay_base}/v1/envelopes");
                let client = client.clone();
                let body = envelope(&send_id, 64);
                tasks.push(tokio::spawn(async move {
                    let r = client
                        .post(url)
                        .header("content-type", "application/octet-stream")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 202);
                    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
                        .as_u64()
                        .unwrap();
                    (id, stored(&body))
                }));
            }
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        }
    };
    let (from_a, from_b) = tokio::join!(deposit_all(&a), deposit_all(&b));
    let acknowledged: Vec<(u64, Vec<u8>)> = from_a.into_iter().chain(from_b).collect();
    let ids: HashSet<u64> = acknowledged.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 2 * per_relay, "an id was handed out twice");
    assert_eq!(ids, (1..=2 * per_relay as u64).collect::<HashSet<_>>());
    let mut fetched = Vec::new();
    let mut after = 0;
    loop {
        let page = b.fetch(&keys, &format!("?after={after}&limit=100")).await;
        let messages = page.json["messages"].as_array().unwrap().clone();
        if messages.is_empty() {
            break;
        }
        for m in &messages {
            after = m["id"].as_u64().unwrap();
            fetched.push((after, unb64(m["envelope"].as_str().unwrap())));
        }
    }
    fetched.sort();
    let mut expected = acknowledged;
    expected.sort();
    assert_eq!(fetched, expected);
    a.stop().await;
    b.stop().await;
}

/// "New mail" reaches a WebSocket held by the other relay.
#[tokio::test]
async fn push_reaches_a_websocket_on_the_other_relay() {
    let Some((a, b)) = two_relays().await else {
        return;
    };
    let keys = queue_keys();
    b.create_queue(&keys).await;
    let path = format!("/v1/queues/{}/ws", rid(&keys));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_request(&b, &path, &keys))
        .await
        .unwrap();
    // The listener may still be connecting: deposit until the frame comes.
    let started = std::time::Instant::now();
    let frame = loop {
        assert_eq!(
            a.deposit(envelope(keys.send_id().as_bytes(), 40))
                .await
                .status,
            202
        );
        if let Ok(frame) = tokio::time::timeout(Duration::from_millis(500), socket.next()).await {
            break frame;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no notification"
        );
    };
    assert_eq!(frame.unwrap().unwrap(), Message::text(r#"{"type":"mail"}"#));
    eprintln!(
        "push across relays arrived {} ms after the first deposit",
        started.elapsed().as_millis()
    );
    a.stop().await;
    b.stop().await;
}

/// One-time prekeys taken through both relays at once: no key is handed out twice.
#[tokio::test]
async fn prekeys_taken_through_two_relays_are_never_handed_out_twice() {
    let Some((a, b)) = two_relays().await else {
        return;
    };
    let (root, school) = {
        let root = Key::new();
        let school = a.register_school(&root).await;
        (root, school)
    };
    let owner = member(&a, &root, &school).await;
    let takers = [
        member(&a, &root, &school).await,
        member(&b, &root, &school).await,
    ];
    let bundle = hex::encode(random::<16>());
    let keys: Vec<serde_json::Value> = (1..=40u32)
        .map(|id| json!({"id": id, "key": b64(&random::<32>()), "signature": b64(&[7u8; 64])}))
        .collect();
    let path = format!("/v1/prekeys/{bundle}");
    let body = json!({"owner_key": owner.public_b64(), "keys": keys});
    let r = a.json("POST", &path, body, Some(&owner)).await;
    assert_eq!(r.status, 204, "{}", r.json);
    let take = format!("{path}/take");
    let mut taken = Vec::new();
    for _ in 0..20 {
        let (x, y) = tokio::join!(
            member_write(&a, "POST", &take, None, &takers[0]),
            member_write(&b, "POST", &take, None, &takers[1])
        );
        for r in [x, y] {
            if r.status == 200 {
                taken.push(r.json["id"].as_u64().unwrap());
            }
        }
    }
    let unique: HashSet<u64> = taken.iter().copied().collect();
    assert!(taken.len() >= 2, "{taken:?}");
    assert_eq!(
        unique.len(),
        taken.len(),
        "a prekey was handed out twice: {taken:?}"
    );
    a.stop().await;
    b.stop().await;
}
