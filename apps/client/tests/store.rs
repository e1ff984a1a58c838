//! The encrypted SQLite store on a real file: durability, the key check, and writers
//! that interleave (threads, several connections, stale reads) without ever using a
//! message key twice.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use chacha20::ChaCha20Rng;
use proptest::prelude::*;
use rand_core::SeedableRng;
use satchel_client::store::cipher::StoreKey;
use satchel_client::store::{MessageRecord, SqliteStore, StoreError};
use satchel_core::{Account, DecryptError, Envelope, Session};

fn key(seed: u8) -> StoreKey {
    StoreKey::from_bytes([seed; 32])
}

fn record(peer: [u8; 16], id: u8, body: &str) -> MessageRecord {
    MessageRecord {
        peer_account: peer,
        outgoing: true,
        message_id: [id; 16],
        sender_name: "Ms Rivera".into(),
        sender_role: "teacher".into(),
        verified: true,
        body: body.into(),
        sent_at: 1_000 + u64::from(id),
        stored_at: 2_000,
    }
}

/// Alice and Bob with a confirmed session (Bob has answered), Alice's side stored in the
/// file at `path`.
fn confirmed_pair(path: &Path, rng: &mut ChaCha20Rng) -> (Account, Account, Session) {
    let alice = Account::new(rng);
    let mut bob = Account::new(rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(rng);
    let mut to_bob = Session::initiate(&alice, &bundle, rng).unwrap();
    let first = to_bob.encrypt(b"hello", rng).unwrap();
    let contact = bob
        .open_first_contact(&Envelope::from_bytes(first.as_bytes()).unwrap())
        .unwrap();
    let mut at_bob = bob.accept(&contact, rng).unwrap().session;
    let reply = at_bob.encrypt(b"hi", rng).unwrap();
    to_bob
        .decrypt(&Envelope::from_bytes(reply.as_bytes()).unwrap())
        .unwrap();
    assert!(to_bob.is_confirmed());
    let mut store = SqliteStore::open(path, &key(1)).unwrap();
    store
        .write(|w| {
            w.put_account(&alice)?;
            w.insert_session(&to_bob, None, true)
        })
        .unwrap();
    (alice, bob, at_bob)
}

/// One writer's send: the newest stored state, encrypted, saved with the envelope.
fn send_one(store: &mut SqliteStore, peer: &Account, text: &str) -> Result<(), StoreError> {
    store.write(|w| {
        let mut row = w
            .sessions_with(peer.certificate())?
            .into_iter()
            .next()
            .unwrap();
        let envelope = row
            .session
            .encrypt(text.as_bytes(), &mut satchel_core::os_rng())
            .unwrap();
        w.update_session(&mut row)?;
        w.push_outbox(envelope.as_bytes(), 0)?;
        Ok(())
    })
}

/// Bob decrypts everything in Alice's outbox, in the given order: every envelope must
/// decrypt, none may be a duplicate (a reused message key shows up as one), and all
/// plaintexts must differ.
fn bob_reads_all(store: &SqliteStore, at_bob: &mut Session, order_seed: u64) -> Vec<String> {
    let mut envelopes = store.outbox().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(order_seed);
    for i in (1..envelopes.len()).rev() {
        let j = usize::try_from(rand_core::Rng::next_u64(&mut rng) % (i as u64 + 1)).unwrap();
        envelopes.swap(i, j);
    }
    let mut texts = Vec::new();
    for (_, bytes) in envelopes {
        match at_bob.decrypt(&Envelope::from_bytes(&bytes).unwrap()) {
            Ok(plain) => texts.push(String::from_utf8(plain).unwrap()),
            Err(DecryptError::Duplicate) => panic!("a message key was used twice"),
            Err(error) => panic!("an envelope does not decrypt: {error}"),
        }
    }
    let mut unique = texts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        texts.len(),
        "two envelopes carried the same plaintext slot"
    );
    texts
}

#[test]
fn state_survives_reopening_and_the_wrong_key_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("satchel.db");
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let (alice, bob, _) = confirmed_pair(&path, &mut rng);
    let mut store = SqliteStore::open(&path, &key(1)).unwrap();
    let conversation = store.conversation_of(bob.certificate());
    store
        .write(|w| {
            assert!(w.put_message(&conversation, &record([7; 16], 1, "Trip on Friday"))?);
            // The same message again is recognised, not stored twice.
            assert!(!w.put_message(&conversation, &record([7; 16], 1, "Trip on Friday"))?);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    drop(store);

    let store = SqliteStore::open(&path, &key(1)).unwrap();
    assert_eq!(
        store.account().unwrap().unwrap().account_id(),
        alice.account_id()
    );
    let history = store.history(&conversation).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].body, "Trip on Friday");
    assert_eq!(store.all_sessions().unwrap().len(), 1);
    drop(store);

    assert!(matches!(
        SqliteStore::open(&path, &key(2)),
        Err(StoreError::WrongKey)
    ));
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("satchel.db");
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let (_, bob, _) = confirmed_pair(&path, &mut rng);
    let mut store = SqliteStore::open(&path, &key(1)).unwrap();
    let conversation = store.conversation_of(bob.certificate());
    let result: Result<(), StoreError> = store.write(|w| {
        w.put_message(&conversation, &record([7; 16], 1, "half done"))?;
        w.push_outbox(b"envelope", 0)?;
        Err(StoreError::Corrupted("the test fails the write"))
    });
    assert!(result.is_err());
    assert!(store.history(&conversation).unwrap().is_empty());
    assert!(store.outbox().unwrap().is_empty());
}

#[test]
fn a_stale_session_state_can_never_overwrite_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("satchel.db");
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let (_, bob, _) = confirmed_pair(&path, &mut rng);
    let mut a = SqliteStore::open(&path, &key(1)).unwrap();
    let mut b = SqliteStore::open(&path, &key(1)).unwrap();
    let id = a.all_sessions().unwrap()[0].session.id();
    // Read outside any write (as Satchel 0.1 did), then someone else sends.
    let mut stale = a.session(&id).unwrap().unwrap();
    send_one(&mut b, &bob, "from b").unwrap();
    let result = a.write(|w| {
        stale
            .session
            .encrypt(b"from a", &mut satchel_core::os_rng())
            .unwrap();
        w.update_session(&mut stale)
    });
    assert!(matches!(result, Err(StoreError::Conflict)));
}

#[test]
fn threads_on_separate_connections_never_reuse_a_message_key() {
    const THREADS: usize = 6;
    const EACH: usize = 25;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("satchel.db");
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let (_, bob, mut at_bob) = confirmed_pair(&path, &mut rng);
    let bob_certificate = bob.certificate().clone();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let path = path.clone();
            let bob = &bob;
            scope.spawn(move || {
                let mut store = SqliteStore::open(&path, &key(1)).unwrap();
                for i in 0..EACH {
                    send_one(&mut store, bob, &format!("thread {t} message {i}")).unwrap();
                }
            });
        }
    });
    let _ = bob_certificate;
    let store = SqliteStore::open(&path, &key(1)).unwrap();
    assert_eq!(bob_reads_all(&store, &mut at_bob, 9).len(), THREADS * EACH);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any interleaving of writers on separate connections — some working on a state
    /// they read earlier — commits only sends made on the newest state: the receiver
    /// decrypts every committed envelope, in any order, and never sees a reused key.
    #[test]
    fn interleaved_writers_never_use_a_chain_counter_twice(
        ops in proptest::collection::vec((0usize..3, any::<bool>()), 1..40),
        order_seed in any::<u64>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("satchel.db");
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let (_, bob, mut at_bob) = confirmed_pair(&path, &mut rng);
        let mut writers: Vec<SqliteStore> =
            (0..3).map(|_| SqliteStore::open(&path, &key(1)).unwrap()).collect();
        let id = writers[0].all_sessions().unwrap()[0].session.id();
        // A state read by each writer some time ago.
        let mut earlier: Vec<_> = writers.iter().map(|w| w.session(&id).unwrap().unwrap()).collect();
        let mut committed = 0usize;
        for (step, (writer, use_earlier)) in ops.into_iter().enumerate() {
            let text = format!("step {step}");
            if use_earlier {
                let mut row = std::mem::replace(
                    &mut earlier[writer],
                    writers[writer].session(&id).unwrap().unwrap(),
                );
                let result = writers[writer].write(|w| {
                    let envelope = row.session.encrypt(text.as_bytes(), &mut satchel_core::os_rng()).unwrap();
                    w.update_session(&mut row)?;
                    w.push_outbox(envelope.as_bytes(), 0)?;
                    Ok::<_, StoreError>(())
                });
                match result {
                    Ok(()) => committed += 1,
                    Err(StoreError::Conflict) => {}
                    Err(error) => panic!("{error}"),
                }
            } else {
                send_one(&mut writers[writer], &bob, &text).unwrap();
                committed += 1;
            }
        }
        let read = bob_reads_all(&writers[0], &mut at_bob, order_seed);
        prop_assert_eq!(read.len(), committed);
    }
}

/// A version 4 store (Satchel before groups) gains the group tables on open and keeps
/// everything else.
#[test]
fn a_version_4_store_gains_groups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("satchel.db");
    {
        let mut store = SqliteStore::open(&path, &key(1)).unwrap();
        store.write(|w| w.set_meta("kept", b"value")).unwrap();
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE groups; DROP TABLE group_waiting; PRAGMA user_version = 4;")
            .unwrap();
    }
    let mut store = SqliteStore::open(&path, &key(1)).unwrap();
    assert_eq!(
        store.meta("kept").unwrap().as_deref(),
        Some(b"value".as_slice())
    );
    assert!(store.groups().unwrap().is_empty());
    store.write(|w| w.put_group(&[3; 16], b"group")).unwrap();
    drop(store);
    let store = SqliteStore::open(&path, &key(1)).unwrap();
    assert_eq!(store.groups().unwrap(), vec![b"group".to_vec()]);
}

/// A version 3 store (Satchel before the admin's invite list) gains the `issued` table
/// on open, keeps everything else, and records invites from then on.
#[test]
fn a_version_3_store_is_upgraded_in_place() {
    use satchel_client::store::IssuedInvite;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("satchel.db");
    {
        let mut store = SqliteStore::open(&path, &key(1)).unwrap();
        store.write(|w| w.set_meta("kept", b"value")).unwrap();
    }
    {
        // Back to what version 3 wrote.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE issued; DROP TABLE groups; DROP TABLE group_waiting; \
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let mut store = SqliteStore::open(&path, &key(1)).unwrap();
    assert_eq!(
        store.meta("kept").unwrap().as_deref(),
        Some(b"value".as_slice())
    );
    assert!(store.issued().unwrap().is_empty());
    let invite = IssuedInvite {
        grant_id: [7; 16],
        name: "Ms Rivera".into(),
        role: "teacher".into(),
        classes: vec!["5B".into()],
        issued_at: 10,
        code_expires_at: 20,
        lookup_id: [8; 16],
        grant_valid_until: Some(1_000),
    };
    store.write(|w| w.put_issued(&invite)).unwrap();
    drop(store);
    let store = SqliteStore::open(&path, &key(1)).unwrap();
    assert_eq!(store.issued().unwrap(), vec![invite]);
    // The wrong key still opens nothing after the upgrade.
    assert!(SqliteStore::open(&path, &key(2)).is_err());
}
