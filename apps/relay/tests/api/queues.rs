use satchel_core::QueueKeys;
use serde_json::json;

use crate::support::{
    Key, TestRelay, b64, envelope, queue_auth, queue_keys, random, restored, rid, stored, unb64,
};

#[tokio::test]
async fn create_is_idempotent_and_conflicts() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    let first = relay.create_queue_response(&keys).await;
    assert_eq!(first.status, 201, "{}", first.json);
    assert_eq!(first.json["receive_id"], json!(rid(&keys)));
    assert_eq!(relay.create_queue_response(&keys).await.status, 200);

    // The same send id with another key.
    let other = queue_keys();
    let body =
        json!({"send_id": b64(keys.send_id().as_bytes()), "auth_key": b64(&other.auth_key())});
    let r = relay.queue("POST", "/v1/queues", body, &other).await;
    assert_eq!((r.status, r.error()), (409, "queue_conflict"));

    // Only core's queue proof counts: a plain Ed25519 signature by the auth key (which
    // lacks the proof's label and receive id) is refused.
    let raw = Key::new();
    let body = json!({"send_id": b64(&random::<16>()), "auth_key": raw.public_b64()});
    let r = relay.json("POST", "/v1/queues", body, Some(&raw)).await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));

    // Signed by a key other than auth_key.
    let body = json!({"send_id": b64(&random::<16>()), "auth_key": b64(&other.auth_key())});
    let r = relay.queue("POST", "/v1/queues", body, &keys).await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    relay.stop().await;
}

#[tokio::test]
async fn deposit_fetch_ack_delete() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    let receive_id = relay.create_queue(&keys).await;
    let send_id = *keys.send_id().as_bytes();
    let mut sent = Vec::new();
    let mut ids = Vec::new();
    for len in [0, 100, 5000] {
        let e = envelope(&send_id, len);
        let r = relay.deposit(e.clone()).await;
        assert_eq!(r.status, 202, "{}", r.json);
        ids.push(r.json["id"].as_u64().unwrap());
        sent.push(stored(&e));
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    let r = relay.fetch(&keys, "").await;
    assert_eq!(r.status, 200, "{}", r.json);
    let messages = r.json["messages"].as_array().unwrap();
    let got: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| unb64(m["envelope"].as_str().unwrap()))
        .collect();
    assert_eq!(got, sent);
    let r = relay
        .fetch(&keys, &format!("?after={}&limit=1", ids[0]))
        .await;
    let messages = r.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"].as_u64(), Some(ids[1]));

    // Proof required, and from the right key.
    let path = format!("/v1/queues/{receive_id}/messages");
    let r = relay.json("GET", &path, json!(null), None).await;
    assert_eq!((r.status, r.error()), (401, "auth_required"));
    let other = queue_keys();
    let r = relay
        .send(
            "GET",
            &path,
            Vec::new(),
            Some(queue_auth(&other, "GET", &path, b"")),
            "application/json",
        )
        .await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    // A proof for another path does not carry over.
    let r = relay
        .send(
            "GET",
            &path,
            Vec::new(),
            Some(queue_auth(&keys, "GET", "/v1/health", b"")),
            "application/json",
        )
        .await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    // A stale timestamp.
    let key_signed = Key::new().auth_at("GET", &path, b"", crate::support::now() - 1000);
    let r = relay
        .send(
            "GET",
            &path,
            Vec::new(),
            Some(key_signed),
            "application/json",
        )
        .await;
    assert_eq!((r.status, r.error()), (401, "clock_skew"));
    // Bad query.
    let r = relay.fetch(&keys, "?limit=501").await;
    assert_eq!((r.status, r.error()), (400, "invalid_query"));

    // Ack two (plus an unknown id), then only the third is left.
    let ack = format!("/v1/queues/{receive_id}/ack");
    let r = relay
        .queue(
            "POST",
            &ack,
            json!({"ids": [ids[0], ids[1], 999_999]}),
            &keys,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = relay
        .queue("POST", &ack, json!({"ids": [ids[0]]}), &keys)
        .await;
    assert_eq!(r.status, 204, "acking again is fine");
    let r = relay
        .queue("POST", &ack, json!({"ids": [ids[2]]}), &other)
        .await;
    assert_eq!(r.status, 401);
    let r = relay.fetch(&keys, "").await;
    let messages = r.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"].as_u64(), Some(ids[2]));

    // Delete the queue: deposits then fail.
    let r = relay
        .queue(
            "DELETE",
            &format!("/v1/queues/{receive_id}"),
            json!(null),
            &keys,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = relay.deposit(envelope(&send_id, 10)).await;
    assert_eq!((r.status, r.error()), (404, "unknown_queue"));
    let r = relay.fetch(&keys, "").await;
    assert_eq!((r.status, r.error()), (404, "unknown_queue"));
    relay.stop().await;
}

/// A queue deleted and created again with the same keys is a new queue: deposits and
/// acknowledgements reach it, and its ids start again, whatever the relay remembered of
/// the old one (the PostgreSQL backend keeps queues' row ids in memory).
#[tokio::test]
async fn a_queue_created_again_after_deletion_is_a_new_queue() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    let send_id = *keys.send_id().as_bytes();
    let receive_id = relay.create_queue(&keys).await;
    for expected in 1..=2 {
        let r = relay.deposit(envelope(&send_id, 10)).await;
        assert_eq!((r.status, r.json["id"].as_u64()), (202, Some(expected)));
    }
    let path = format!("/v1/queues/{receive_id}");
    let r = relay.queue("DELETE", &path, json!(null), &keys).await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = relay.deposit(envelope(&send_id, 10)).await;
    assert_eq!((r.status, r.error()), (404, "unknown_queue"));

    assert_eq!(relay.create_queue(&keys).await, receive_id);
    let r = relay.deposit(envelope(&send_id, 10)).await;
    assert_eq!(
        (r.status, r.json["id"].as_u64()),
        (202, Some(1)),
        "{}",
        r.json
    );
    let r = relay.fetch(&keys, "").await;
    let messages = r.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let r = relay
        .queue(
            "POST",
            &format!("/v1/queues/{receive_id}/ack"),
            json!({ "ids": [1] }),
            &keys,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = relay.fetch(&keys, "").await;
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 0);
    relay.stop().await;
}

/// A real conversation through the relay: a sealed first contact to a mailbox, then a
/// reply on the initiator's queue.
#[tokio::test]
async fn real_session_through_the_relay() {
    use satchel_core::{Account, Envelope, Session};
    let relay = TestRelay::start().await;
    let mut rng = satchel_core::os_rng();
    let teacher = Account::new(&mut rng);
    let mut parent = Account::new(&mut rng);
    relay.create_queue(parent.mailbox()).await;
    let bundle = parent.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut to_parent = Session::initiate(&teacher, &bundle, &mut rng).unwrap();
    relay.create_queue(to_parent.inbound_queue()).await;
    let first = to_parent
        .encrypt(b"The trip is on Friday.", &mut rng)
        .unwrap();
    assert_eq!(relay.deposit(first.into_bytes()).await.status, 202);

    // The relay hands envelopes back without their send id; the owner restores it.
    let r = relay.fetch(parent.mailbox(), "").await;
    let bytes = unb64(r.json["messages"][0]["envelope"].as_str().unwrap());
    let bytes = restored(&bytes, parent.mailbox().send_id().as_bytes());
    let contact = parent
        .open_first_contact(&Envelope::from_bytes(&bytes).unwrap())
        .unwrap();
    let mut inbound = parent.accept(&contact, &mut rng).unwrap();
    assert_eq!(inbound.plaintext, b"The trip is on Friday.");
    let reply = inbound.session.encrypt(b"Thanks!", &mut rng).unwrap();
    assert_eq!(relay.deposit(reply.into_bytes()).await.status, 202);
    let r = relay.fetch(to_parent.inbound_queue(), "").await;
    let bytes = unb64(r.json["messages"][0]["envelope"].as_str().unwrap());
    let bytes = restored(&bytes, to_parent.inbound_queue().send_id().as_bytes());
    assert_eq!(
        to_parent
            .decrypt(&Envelope::from_bytes(&bytes).unwrap())
            .unwrap(),
        b"Thanks!"
    );
    relay.stop().await;
}

/// Asks the relay which of `queues` hold mail.
async fn pending(relay: &TestRelay, queues: &[&QueueKeys]) -> Vec<String> {
    let body: Vec<u8> = queues
        .iter()
        .flat_map(|keys| *keys.receive_id().as_bytes())
        .collect();
    let r = relay
        .send(
            "POST",
            "/v1/queues/pending",
            body,
            None,
            "application/octet-stream",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let mut names: Vec<String> = r.json["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The relay answers "which queues hold mail" from memory: the answer follows every
/// deposit, partial and full acknowledgement and deletion, and survives a restart
/// (the expiry purge is tested on the store) (the set is rebuilt from the database).
#[tokio::test]
async fn pending_follows_acks_deletes_and_restarts() {
    let relay = TestRelay::start().await;
    let (a, b, c) = (queue_keys(), queue_keys(), queue_keys());
    for keys in [&a, &b, &c] {
        relay.create_queue(keys).await;
    }
    let mut ids = Vec::new();
    for keys in [&a, &a, &b, &c] {
        let r = relay.deposit(envelope(keys.send_id().as_bytes(), 10)).await;
        assert_eq!(r.status, 202, "{}", r.json);
        ids.push(r.json["id"].as_u64().unwrap());
    }
    let mut all = vec![rid(&a), rid(&b), rid(&c)];
    all.sort();
    assert_eq!(pending(&relay, &[&a, &b, &c]).await, all);

    // Acknowledging one of a's two messages leaves a pending; acknowledging b's only
    // message empties b; deleting c removes it.
    let ack = |keys: &QueueKeys| format!("/v1/queues/{}/ack", rid(keys));
    let r = relay
        .queue("POST", &ack(&a), json!({"ids": [ids[0]]}), &a)
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = relay
        .queue("POST", &ack(&b), json!({"ids": [ids[2]]}), &b)
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = relay
        .queue(
            "DELETE",
            &format!("/v1/queues/{}", rid(&c)),
            json!(null),
            &c,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert_eq!(pending(&relay, &[&a, &b, &c]).await, vec![rid(&a)]);

    // A restart rebuilds the same answer from the database.
    let dir = relay.stop().await;
    let relay = TestRelay::start_in(dir, |_| {}).await;
    assert_eq!(pending(&relay, &[&a, &b, &c]).await, vec![rid(&a)]);
    let r = relay.deposit(envelope(b.send_id().as_bytes(), 10)).await;
    assert_eq!(r.status, 202, "{}", r.json);
    let mut both = vec![rid(&a), rid(&b)];
    both.sort();
    assert_eq!(pending(&relay, &[&a, &b, &c]).await, both);
    relay.stop().await;
}

#[tokio::test]
async fn pending_names_exactly_the_queues_with_mail_in_one_request() {
    let relay = TestRelay::start().await;
    let with_mail = queue_keys();
    let empty = queue_keys();
    relay.create_queue(&with_mail).await;
    relay.create_queue(&empty).await;
    let r = relay
        .deposit(envelope(with_mail.send_id().as_bytes(), 10))
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    // An id the relay does not know is left out like an empty queue.
    let unknown = queue_keys();
    assert_eq!(
        pending(&relay, &[&with_mail, &empty, &unknown]).await,
        vec![rid(&with_mail)]
    );

    // Bad input: a partial id, the wrong content type, too many ids.
    let r = relay
        .send(
            "POST",
            "/v1/queues/pending",
            vec![0u8; 17],
            None,
            "application/octet-stream",
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_field"));
    let r = relay
        .send(
            "POST",
            "/v1/queues/pending",
            vec![0u8; 16],
            None,
            "application/json",
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.json);
    let r = relay
        .send(
            "POST",
            "/v1/queues/pending",
            vec![0u8; 16 * 10_001],
            None,
            "application/octet-stream",
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.json);
    relay.stop().await;
}

/// A fetch answers at most about 1 MiB of envelopes (always at least one) or `limit`
/// messages, and says whether more wait, so a client keeps fetching in the same sync.
#[tokio::test]
async fn fetch_pages_are_bounded_and_say_whether_more_wait() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    relay.create_queue(&keys).await;
    for _ in 0..5 {
        let r = relay
            .deposit(envelope(keys.send_id().as_bytes(), 300 * 1024))
            .await;
        assert_eq!(r.status, 202, "{}", r.json);
    }
    let r = relay.fetch(&keys, "").await;
    assert_eq!(r.status, 200, "{}", r.json);
    let first = r.json["messages"].as_array().unwrap();
    assert_eq!(first.len(), 3, "3 × 300 KiB fit in 1 MiB, 4 do not");
    assert_eq!(r.json["more"], json!(true));
    let last = first[2]["id"].as_u64().unwrap();
    let r = relay.fetch(&keys, &format!("?after={last}")).await;
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 2);
    assert_eq!(r.json["more"], json!(false));
    // The count limit says "more" too, and an exact fit does not.
    let r = relay.fetch(&keys, "?limit=2").await;
    assert_eq!(r.json["more"], json!(true));
    let r = relay.fetch(&keys, &format!("?after={last}&limit=2")).await;
    assert_eq!(r.json["more"], json!(false));
    relay.stop().await;
}
