//! Shared deposits (`POST /v1/envelopes/shared`): one group message for many queues,
//! stored once, each queue checked as for a single deposit.

use satchel_relay_api::shared_deposit::{self, MAX_SHARED_RECIPIENTS};

use crate::support::*;

const OCTETS: &str = "application/octet-stream";

/// The shared bodies table: (rows, references).
fn bodies(relay: &TestRelay) -> (i64, i64) {
    sql_pair(
        relay.dir.path(),
        "SELECT count(*), CAST(coalesce(sum(refs), 0) AS BIGINT) FROM bodies",
    )
}

fn group_message(len: usize) -> Vec<u8> {
    let mut message = vec![0u8; len];
    rand_core::Rng::fill_bytes(&mut satchel_core::os_rng(), &mut message);
    message
}

async fn shared(relay: &TestRelay, send_ids: &[[u8; 16]], message: &[u8]) -> Response {
    let body = shared_deposit::encode(send_ids, message).unwrap();
    relay
        .send("POST", "/v1/envelopes/shared", body, None, OCTETS)
        .await
}

#[tokio::test]
async fn one_body_for_many_queues_each_fetching_its_envelope() {
    let relay = TestRelay::start().await;
    let queues: Vec<_> = (0..3).map(|_| queue_keys()).collect();
    let mut receive_ids = Vec::new();
    for keys in &queues {
        receive_ids.push(relay.create_queue(keys).await);
    }
    let mut send_ids: Vec<[u8; 16]> = queues.iter().map(|k| *k.send_id().as_bytes()).collect();
    send_ids.insert(1, random::<16>()); // nobody's queue
    let message = group_message(232);
    let r = shared(&relay, &send_ids, &message).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let results = r.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[1]["error"], "unknown_queue");
    for i in [0, 2, 3] {
        assert!(results[i]["id"].is_u64(), "{}", r.json);
    }
    // Stored once, referenced three times.
    assert_eq!(bodies(&relay), (1, 3));

    // Each queue fetches kind 0x02, its send id zeroed, then the message; a single
    // deposit in between keeps its own order.
    let single = envelope(queues[0].send_id().as_bytes(), 40);
    assert_eq!(relay.deposit(single.clone()).await.status, 202);
    let mut expected = vec![satchel_core::group::GROUP_ENVELOPE_KIND];
    expected.extend_from_slice(&[0; 16]);
    expected.extend_from_slice(&message);
    for (i, keys) in queues.iter().enumerate() {
        let r = relay.fetch(keys, "").await;
        let got: Vec<Vec<u8>> = r.json["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| unb64(m["envelope"].as_str().unwrap()))
            .collect();
        if i == 0 {
            assert_eq!(got, vec![expected.clone(), stored(&single)]);
        } else {
            assert_eq!(got, vec![expected.clone()]);
        }
        let restored = restored(&got[0], keys.send_id().as_bytes());
        assert_eq!(
            satchel_core::group::group_message_in(&restored),
            Some(message.as_slice())
        );
    }

    // Acknowledging drops references; the last one deletes the body.
    for (i, keys) in queues.iter().enumerate() {
        let r = relay.fetch(keys, "").await;
        let ids: Vec<u64> = r.json["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_u64().unwrap())
            .collect();
        let ack = format!("/v1/queues/{}/ack", receive_ids[i]);
        let r = relay
            .queue("POST", &ack, serde_json::json!({ "ids": ids }), keys)
            .await;
        assert_eq!(r.status, 204);
        let left = 2 - i as i64;
        assert_eq!(bodies(&relay), (i64::from(left > 0), left));
    }
    relay.stop().await;
}

#[tokio::test]
async fn quotas_hold_per_queue_and_a_deleted_queue_releases_its_reference() {
    let relay = TestRelay::start_with(|c| c.queue_max_messages = 1).await;
    let full = queue_keys();
    let open = queue_keys();
    let gone = queue_keys();
    relay.create_queue(&full).await;
    relay.create_queue(&open).await;
    let gone_receive_id = relay.create_queue(&gone).await;
    assert_eq!(
        relay
            .deposit(envelope(full.send_id().as_bytes(), 10))
            .await
            .status,
        202
    );
    let ids = [full, open, gone].map(|k| (*k.send_id().as_bytes(), k));
    let send_ids: Vec<[u8; 16]> = ids.iter().map(|(id, _)| *id).collect();
    let r = shared(&relay, &send_ids, &group_message(160)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["results"][0]["error"], "queue_full");
    assert!(r.json["results"][1]["id"].is_u64());
    assert_eq!(bodies(&relay), (1, 2));
    // Deleting a queue drops its reference.
    let path = format!("/v1/queues/{gone_receive_id}");
    let r = relay
        .queue("DELETE", &path, serde_json::Value::Null, &ids[2].1)
        .await;
    assert!(
        r.status == 204 || r.status == 200,
        "{} {}",
        r.status,
        r.json
    );
    assert_eq!(bodies(&relay), (1, 1));
    // Nobody's queues: nothing is kept.
    let r = shared(
        &relay,
        &[random::<16>(), random::<16>()],
        &group_message(160),
    )
    .await;
    assert_eq!(r.json["results"][0]["error"], "unknown_queue");
    assert_eq!(bodies(&relay), (1, 1));
    relay.stop().await;
}

#[tokio::test]
async fn malformed_shared_deposits_are_refused() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    relay.create_queue(&keys).await;
    let id = *keys.send_id().as_bytes();
    let send = |body: Vec<u8>| relay.send("POST", "/v1/envelopes/shared", body, None, OCTETS);

    let r = send(vec![0, 0]).await;
    assert_eq!((r.status, r.error()), (400, "invalid_batch"));
    let r = send(vec![0, 3, 1, 2]).await;
    assert_eq!((r.status, r.error()), (400, "invalid_batch"));
    let mut twice = vec![0, 2];
    twice.extend_from_slice(&id);
    twice.extend_from_slice(&id);
    twice.extend_from_slice(&group_message(160));
    let r = send(twice).await;
    assert_eq!((r.status, r.error()), (400, "invalid_batch"));
    let mut too_many = (MAX_SHARED_RECIPIENTS as u16 + 1).to_be_bytes().to_vec();
    too_many.extend(std::iter::repeat_n(7u8, 16 * (MAX_SHARED_RECIPIENTS + 1)));
    let r = send(too_many).await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    // Shorter than any group message.
    let r = shared(&relay, &[id], &group_message(159)).await;
    assert_eq!((r.status, r.error()), (400, "invalid_envelope"));
    let r = relay
        .send(
            "POST",
            "/v1/envelopes/shared",
            shared_deposit::encode(&[id], &group_message(200)).unwrap(),
            None,
            "application/json",
        )
        .await;
    assert_eq!(r.status, 415);
    // A group envelope is not a single deposit.
    let mut group = vec![satchel_core::group::GROUP_ENVELOPE_KIND];
    group.extend_from_slice(&id);
    group.extend_from_slice(&group_message(200));
    let r = relay.deposit(group).await;
    assert_eq!((r.status, r.error()), (400, "invalid_envelope"));
    assert_eq!(bodies(&relay), (0, 0));
    relay.stop().await;
}
