use crate::support::{TestRelay, envelope, queue_keys, random, stored, unb64};

fn frame(items: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for item in items {
        body.extend_from_slice(&(item.len() as u32).to_be_bytes());
        body.extend_from_slice(item);
    }
    body
}

#[tokio::test]
async fn deposit_errors() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    relay.create_queue(&keys).await;
    let send_id = *keys.send_id().as_bytes();

    let r = relay.deposit(envelope(&random::<16>(), 10)).await;
    assert_eq!((r.status, r.error()), (404, "unknown_queue"));
    let r = relay.deposit(vec![2; 40]).await;
    assert_eq!((r.status, r.error()), (400, "invalid_envelope"));
    let r = relay.deposit(vec![1; 5]).await;
    assert_eq!((r.status, r.error()), (400, "invalid_envelope"));
    let r = relay.deposit(Vec::new()).await;
    assert_eq!((r.status, r.error()), (400, "invalid_envelope"));
    let r = relay
        .deposit(envelope(&send_id, satchel_core::MAX_ENVELOPE_LEN - 17 + 1))
        .await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    let r = relay
        .deposit(envelope(&send_id, satchel_core::MAX_ENVELOPE_LEN - 17))
        .await;
    assert_eq!(r.status, 202, "the largest envelope fits");
    let r = relay
        .send(
            "POST",
            "/v1/envelopes",
            envelope(&send_id, 10),
            None,
            "text/plain",
        )
        .await;
    assert_eq!((r.status, r.error()), (415, "unsupported_media_type"));
    relay.stop().await;
}

#[tokio::test]
async fn batch_deposit_in_order() {
    let relay = TestRelay::start().await;
    let a = queue_keys();
    let b = queue_keys();
    relay.create_queue(&a).await;
    relay.create_queue(&b).await;
    let items = vec![
        envelope(a.send_id().as_bytes(), 10),
        envelope(&random::<16>(), 10),
        vec![9; 30],
        envelope(b.send_id().as_bytes(), 20),
        envelope(a.send_id().as_bytes(), 30),
    ];
    let r = relay
        .send(
            "POST",
            "/v1/envelopes/batch",
            frame(&items),
            None,
            "application/octet-stream",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let results = r.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert!(results[0]["id"].is_u64());
    assert_eq!(results[1]["error"], "unknown_queue");
    assert_eq!(results[2]["error"], "invalid_envelope");
    assert!(results[3]["id"].is_u64());
    assert!(results[4]["id"].as_u64() > results[0]["id"].as_u64());
    let r = relay.fetch(&a, "").await;
    let got: Vec<Vec<u8>> = r.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| unb64(m["envelope"].as_str().unwrap()))
        .collect();
    assert_eq!(got, vec![stored(&items[0]), stored(&items[4])]);

    // Broken framing, too many items.
    let mut broken = frame(&items[..1]);
    broken.extend_from_slice(&[0, 0, 1]);
    let r = relay
        .send(
            "POST",
            "/v1/envelopes/batch",
            broken,
            None,
            "application/octet-stream",
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_batch"));
    let many: Vec<Vec<u8>> = (0..1001)
        .map(|_| envelope(a.send_id().as_bytes(), 0))
        .collect();
    let r = relay
        .send(
            "POST",
            "/v1/envelopes/batch",
            frame(&many),
            None,
            "application/octet-stream",
        )
        .await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    let r = relay
        .send(
            "POST",
            "/v1/envelopes/batch",
            frame(&[]),
            None,
            "application/octet-stream",
        )
        .await;
    assert_eq!(
        (r.status, r.json["results"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    relay.stop().await;
}

#[tokio::test]
async fn queue_quota_gives_429() {
    let relay = TestRelay::start_with(|c| {
        c.queue_max_messages = 3;
        c.queue_max_bytes = 1_000;
    })
    .await;
    let keys = queue_keys();
    let receive_id = relay.create_queue(&keys).await;
    let send_id = *keys.send_id().as_bytes();
    for _ in 0..3 {
        assert_eq!(relay.deposit(envelope(&send_id, 10)).await.status, 202);
    }
    let r = relay.deposit(envelope(&send_id, 10)).await;
    assert_eq!((r.status, r.error()), (429, "queue_full"));
    // Acknowledging frees room.
    let r = relay.fetch(&keys, "").await;
    let first = r.json["messages"][0]["id"].as_u64().unwrap();
    let ack = format!("/v1/queues/{receive_id}/ack");
    assert_eq!(
        relay
            .queue("POST", &ack, serde_json::json!({"ids": [first]}), &keys)
            .await
            .status,
        204
    );
    assert_eq!(relay.deposit(envelope(&send_id, 2000)).await.status, 202);
    // Now over the byte quota.
    let r = relay.deposit(envelope(&send_id, 10)).await;
    assert_eq!((r.status, r.error()), (429, "queue_full"));
    relay.stop().await;
}
