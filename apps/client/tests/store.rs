//! The SQLite store against core's protocol functions, on a real file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use satchel_client::store::{MessageRecord, SqliteStore, StoreError};
use satchel_core::storage::protocol::{active_session, receive, send};
use satchel_core::storage::traits::{AccountStore, SessionStore};
use satchel_core::{Account, Envelope};

fn record(peer: [u8; 16], id: u8, body: &str) -> MessageRecord {
    MessageRecord {
        peer_account: peer,
        outgoing: false,
        message_id: [id; 16],
        sender_name: "Ms Rivera".into(),
        sender_role: "teacher".into(),
        verified: true,
        body: body.into(),
        sent_at: 1_000 + u64::from(id),
        stored_at: 2_000,
    }
}

#[test]
fn sessions_and_messages_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let alice_path = dir.path().join("alice.db");
    let bob_path = dir.path().join("bob.db");
    let mut alice = SqliteStore::open(&alice_path).unwrap();
    let mut bob = SqliteStore::open(&bob_path).unwrap();
    let alice_account = Account::new(&mut rng);
    let mut bob_account = Account::new(&mut rng);
    let bundle = bob_account.prekey_bundle_with_one_time_prekey(&mut rng);
    let bob_device = bob_account.device_id();
    alice.save_account(&alice_account).unwrap();
    bob.save_account(&bob_account).unwrap();

    let (_, first) = send(&mut alice, &bob_device, Some(&bundle), b"hello", &mut rng).unwrap();
    let received = receive(
        &mut bob,
        &Envelope::from_bytes(first.as_bytes()).unwrap(),
        &mut rng,
    )
    .unwrap();
    assert!(received.new_session);
    drop(bob);

    // Reopen: the account consumed its one-time prekey and the session is there.
    let mut bob = SqliteStore::open(&bob_path).unwrap();
    assert!(bob.load_session(&received.session).unwrap().is_some());
    let reloaded = bob.load_account().unwrap().unwrap();
    let contact = reloaded
        .open_first_contact(&Envelope::from_bytes(first.as_bytes()).unwrap())
        .unwrap();
    assert!(
        reloaded.has_accepted(&contact),
        "the account change was not committed"
    );
    // The replayed first contact is recognised, not accepted twice.
    assert!(
        receive(
            &mut bob,
            &Envelope::from_bytes(first.as_bytes()).unwrap(),
            &mut rng
        )
        .is_err()
    );

    let alice_device = alice_account.device_id();
    let (_, reply) = send(&mut bob, &alice_device, None, b"hi", &mut rng).unwrap();
    assert_eq!(
        receive(&mut alice, &reply, &mut rng).unwrap().plaintext,
        b"hi"
    );
    assert!(
        active_session(&alice, &bob_device)
            .unwrap()
            .unwrap()
            .is_confirmed()
    );
    bob_account = bob.load_account().unwrap().unwrap();
    let _ = bob_account;
}

#[test]
fn messages_commit_with_the_session_and_are_stored_once() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let mut store = SqliteStore::in_memory().unwrap();
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut session = satchel_core::Session::initiate(&alice, &bundle, &mut rng).unwrap();
    let _ = session.encrypt(b"x", &mut rng).unwrap();
    let peer = *bob.account_id().as_bytes();

    assert!(
        store
            .commit_received(&session, None, None, Some(&record(peer, 1, "one")))
            .unwrap()
    );
    assert!(
        store
            .commit_received(&session, None, Some(b"cert"), Some(&record(peer, 2, "two")))
            .unwrap()
    );
    // A repeat (same message id) is not stored or shown again.
    assert!(
        !store
            .commit_received(&session, None, None, Some(&record(peer, 1, "one")))
            .unwrap()
    );
    let mut sent = record(peer, 1, "my reply");
    sent.outgoing = true;
    let outbox_id = store
        .commit_sent(&session, None, &sent, b"envelope")
        .unwrap();
    assert_eq!(
        store.outbox().unwrap(),
        vec![(outbox_id, b"envelope".to_vec())]
    );
    store.outbox_remove(outbox_id).unwrap();
    assert!(store.outbox().unwrap().is_empty());
    assert_eq!(
        store.peer_certificate(&session.id()).unwrap(),
        Some(b"cert".to_vec())
    );
    let history = store.history(&peer).unwrap();
    let bodies: Vec<&str> = history.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["one", "two", "my reply"]);
    assert_eq!(history[0], record(peer, 1, "one"));
    assert_eq!(
        store
            .load_session(&session.id())
            .unwrap()
            .unwrap()
            .to_bytes(),
        session.to_bytes()
    );
    assert!(
        store
            .sessions_with(&bob.device_id())
            .unwrap()
            .contains(&session.id())
    );
    assert_eq!(
        store
            .session_for_queue(&session.inbound_queue().send_id())
            .unwrap(),
        Some(session.id())
    );
    let _ = &mut bob;
}

#[test]
fn a_database_from_a_newer_satchel_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::NewerSchema {
            found: 99,
            known: 2
        })
    ));
}
