use serde_json::json;

use crate::support::{Key, TestRelay, b64, now, random};

/// One-time-pad "encryption" standing in for the client's real encryption of invite
/// records and directory entries: the relay only ever receives these bytes.
fn seal(plaintext: &str) -> Vec<u8> {
    plaintext
        .bytes()
        .zip(random::<256>())
        .map(|(p, k)| p ^ k)
        .collect()
}

const SECRETS: [&str; 5] = [
    "Ms Rivera",
    "Rivera",
    "Class 5B",
    "Jamie Okafor",
    "Hello from",
];

#[tokio::test]
async fn database_holds_no_names_classes_or_addresses() {
    use satchel_core::{Account, Session};
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;

    // An invite for a parent of class 5B and the teacher's directory entry.
    let redeem = Key::new();
    let lookup = hex::encode(random::<16>());
    let path = format!("/v1/schools/{school}/invites/{lookup}");
    let body = json!({"record": b64(&seal("Class 5B: parent of Jamie Okafor")), "redeem_key": redeem.public_b64(), "expires_at": now() + 600});
    assert_eq!(
        relay.json("PUT", &path, body, Some(&root)).await.status,
        201
    );
    let entry = format!(
        "/v1/schools/{school}/directory/{}",
        hex::encode(random::<16>())
    );
    let body = json!({"entry": b64(&seal("Ms Rivera, teacher of Class 5B"))});
    assert_eq!(
        relay.json("PUT", &entry, body, Some(&root)).await.status,
        201
    );
    let list = format!("/v1/schools/{school}/revocations");
    let body = json!({"list": b64(&seal("revoked: Jamie Okafor's old phone")), "sequence": 1});
    assert_eq!(
        relay.json("PUT", &list, body, Some(&root)).await.status,
        204
    );

    // Real messages through real sessions.
    let mut rng = satchel_core::os_rng();
    let teacher = Account::new(&mut rng);
    let parent = Account::new(&mut rng);
    relay.create_queue(parent.mailbox()).await;
    let bundle = parent.prekey_bundle();
    let mut session = Session::initiate(&teacher, &bundle, &mut rng).unwrap();
    for text in [
        "Hello from Ms Rivera",
        "Class 5B trip: Jamie Okafor needs a packed lunch",
    ] {
        let envelope = session.encrypt(text.as_bytes(), &mut rng).unwrap();
        assert_eq!(relay.deposit(envelope.into_bytes()).await.status, 202);
    }
    let dir = relay.stop().await;

    let mut files = 0;
    for bytes in crate::support::stored_bytes(dir.path()) {
        files += 1;
        for needle in SECRETS.iter().copied().chain(["127.0.0.1", "localhost"]) {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "the relay's data contains {needle:?}"
            );
        }
    }
    assert!(files >= 1);
}

/// What a stolen relay database yields about queues: no send id (a send id lets anyone
/// deposit); and the message ids the relay hands out count within one queue, so they
/// no longer order deposits across queues.
#[tokio::test]
async fn a_stolen_database_holds_no_send_ids_and_message_ids_count_per_queue() {
    use crate::support::{envelope, queue_keys};
    let relay = TestRelay::start().await;
    let queues: Vec<_> = (0..3).map(|_| queue_keys()).collect();
    for keys in &queues {
        relay.create_queue(keys).await;
    }
    // Deposits interleaved across the three queues: each queue's ids count 1, 2, 3 on
    // their own (before, one global counter told every recipient which deposit came
    // right after which).
    for round in 1..=3u64 {
        for keys in &queues {
            let r = relay.deposit(envelope(keys.send_id().as_bytes(), 50)).await;
            assert_eq!((r.status, r.json["id"].as_u64()), (202, Some(round)));
        }
    }
    for keys in &queues {
        let r = relay.fetch(keys, "").await;
        let ids: Vec<u64> = r.json["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [1, 2, 3]);
    }
    let dir = relay.stop().await;
    for bytes in crate::support::stored_bytes(dir.path()) {
        for keys in &queues {
            let send_id = *keys.send_id().as_bytes();
            assert!(
                !bytes.windows(16).any(|w| w == send_id.as_slice()),
                "the relay's data contains a send id"
            );
            // The receive id is kept (fetches name it), but it grants nothing without
            // the queue's key.
        }
    }
}
