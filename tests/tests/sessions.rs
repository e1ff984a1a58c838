//! Behaviour of accounts and sessions through the public API.

use satchel_core::storage::export::{
    ExportKey, export_account, export_session, import_account, import_session,
};
use satchel_core::storage::memory::InMemoryStore;
use satchel_core::storage::protocol::{active_session, receive, send};
use satchel_core::storage::traits::AccountStore;
use satchel_core::{
    Account, BundleError, CertificateError, DecryptError, EncryptError, Envelope, EnvelopeError,
    FirstContactError, HandshakeError, MAX_PLAINTEXT_LEN, PrekeyBundle, RatchetConfig, Session,
    StateError, verify_fetch_proof,
};
use satchel_proto::{Message, v1 as pb};

use crate::support::{confirmed_pair, rng, wire};

#[test]
fn messages_flow_both_ways_on_the_right_queues() {
    let mut rng = rng(1);
    let mut p = confirmed_pair(&mut rng);
    for turn in 0..20u32 {
        let (sender, receiver) = if turn % 3 == 0 {
            (&mut p.alice, &mut p.bob)
        } else {
            (&mut p.bob, &mut p.alice)
        };
        for i in 0..(turn % 4 + 1) {
            let text = format!("turn {turn} message {i}");
            let envelope = sender.encrypt(text.as_bytes(), &mut rng).unwrap();
            assert_eq!(envelope.send_id(), receiver.inbound_queue().send_id());
            assert_eq!(Some(envelope.send_id()), sender.outbound_send_id());
            assert_eq!(receiver.decrypt(&wire(&envelope)).unwrap(), text.as_bytes());
        }
    }
    assert_eq!(p.alice.id(), p.bob.id());
    assert_eq!(p.alice.peer(), p.bob_account.certificate());
    assert_eq!(p.bob.peer(), p.alice_account.certificate());
}

#[test]
fn out_of_order_and_lost_messages_across_dh_steps() {
    let mut rng = rng(2);
    let mut p = confirmed_pair(&mut rng);
    // Alice sends a chain of 5; Bob gets only 4 and 2, then replies (DH step), and Alice
    // sends a new chain; the old chain's 0 and 3 arrive last; 1 is lost for ever.
    let old: Vec<Envelope> = (0..5u8)
        .map(|i| p.alice.encrypt(&[i], &mut rng).unwrap())
        .collect();
    assert_eq!(p.bob.decrypt(&old[4]).unwrap(), [4]);
    assert_eq!(p.bob.decrypt(&old[2]).unwrap(), [2]);
    let reply = p.bob.encrypt(b"turn", &mut rng).unwrap();
    assert_eq!(p.alice.decrypt(&reply).unwrap(), b"turn");
    let new: Vec<Envelope> = (10..13u8)
        .map(|i| p.alice.encrypt(&[i], &mut rng).unwrap())
        .collect();
    assert_eq!(p.bob.decrypt(&new[2]).unwrap(), [12]);
    assert_eq!(p.bob.decrypt(&new[0]).unwrap(), [10]);
    assert_eq!(p.bob.decrypt(&old[0]).unwrap(), [0]);
    assert_eq!(p.bob.decrypt(&old[3]).unwrap(), [3]);
    assert_eq!(p.bob.decrypt(&new[1]).unwrap(), [11]);
    // Only the lost message's key remains.
    assert_eq!(p.bob.skipped_message_keys(), 1);
}

#[test]
fn duplicates_are_rejected_and_change_nothing() {
    let mut rng = rng(3);
    let mut p = confirmed_pair(&mut rng);
    let a = p.alice.encrypt(b"a", &mut rng).unwrap();
    let b = p.alice.encrypt(b"b", &mut rng).unwrap();
    assert_eq!(p.bob.decrypt(&b).unwrap(), b"b");
    assert_eq!(p.bob.decrypt(&a).unwrap(), b"a");
    let before = p.bob.to_bytes();
    assert_eq!(p.bob.decrypt(&a), Err(DecryptError::Duplicate));
    assert_eq!(p.bob.decrypt(&b), Err(DecryptError::Duplicate));
    assert_eq!(p.bob.to_bytes(), before);
}

#[test]
fn every_tampered_byte_is_rejected_and_leaves_the_session_untouched() {
    let mut rng = rng(4);
    let mut p = confirmed_pair(&mut rng);
    // One message with a DH step pending on Bob's side, one steady-state.
    let _ = p.bob.encrypt(b"turn", &mut rng).unwrap();
    let steady = p.alice.encrypt(b"steady state", &mut rng).unwrap();
    let before = p.bob.to_bytes();
    for position in 0..steady.as_bytes().len() {
        let mut bytes = steady.as_bytes().to_vec();
        bytes[position] ^= 0x01;
        let result = Envelope::from_bytes(&bytes)
            .map_err(DecryptError::from)
            .and_then(|e| p.bob.decrypt(&e));
        assert!(result.is_err(), "byte {position} flipped was accepted");
        assert_eq!(
            p.bob.to_bytes(),
            before,
            "byte {position} changed the state"
        );
    }
    // Truncation and extension.
    for len in [0, 1, 16, 17, 60, 84, 85, steady.as_bytes().len() - 1] {
        if let Ok(e) = Envelope::from_bytes(&steady.as_bytes()[..len]) {
            assert!(p.bob.decrypt(&e).is_err());
        }
    }
    let mut longer = steady.as_bytes().to_vec();
    longer.push(0);
    assert!(
        p.bob
            .decrypt(&Envelope::from_bytes(&longer).unwrap())
            .is_err()
    );
    assert_eq!(p.bob.to_bytes(), before);
    assert_eq!(p.bob.decrypt(&steady).unwrap(), b"steady state");
}

#[test]
fn a_gap_beyond_max_skip_is_refused_without_changing_state() {
    let mut rng = rng(5);
    let mut p = confirmed_pair(&mut rng);
    p.bob.set_config(RatchetConfig {
        max_skip: 10,
        ..RatchetConfig::default()
    });
    let envelopes: Vec<Envelope> = (0..12u8)
        .map(|i| p.alice.encrypt(&[i], &mut rng).unwrap())
        .collect();
    let before = p.bob.to_bytes();
    assert_eq!(
        p.bob.decrypt(&envelopes[11]),
        Err(DecryptError::TooFarAhead { gap: 11, max: 10 })
    );
    assert_eq!(p.bob.to_bytes(), before);
    assert_eq!(p.bob.decrypt(&envelopes[10]).unwrap(), [10]);
    assert_eq!(p.bob.decrypt(&envelopes[11]).unwrap(), [11]);
}

#[test]
fn skipped_keys_are_bounded_and_expire_with_old_chains() {
    let mut rng = rng(6);
    let mut p = confirmed_pair(&mut rng);
    let config = RatchetConfig {
        max_skip: 100,
        max_skipped_keys: 8,
        max_skipped_chains: 2,
    };
    p.bob.set_config(config);
    // Three chains from Alice, each with its first message lost.
    let mut lost = Vec::new();
    for round in 0..3u8 {
        lost.push(p.alice.encrypt(&[round, 0], &mut rng).unwrap());
        let delivered = p.alice.encrypt(&[round, 1], &mut rng).unwrap();
        assert_eq!(p.bob.decrypt(&delivered).unwrap(), [round, 1]);
        let reply = p.bob.encrypt(b"ack", &mut rng).unwrap();
        p.alice.decrypt(&reply).unwrap();
    }
    // Only the two newest chains' keys survive.
    assert_eq!(p.bob.skipped_message_keys(), 2);
    // The oldest chain expired: its message can no longer even be recognised.
    assert_eq!(p.bob.decrypt(&lost[0]), Err(DecryptError::DecryptionFailed));
    assert_eq!(p.bob.decrypt(&lost[1]).unwrap(), [1, 0]);
    assert_eq!(p.bob.decrypt(&lost[1]), Err(DecryptError::Duplicate));
    assert_eq!(p.bob.decrypt(&lost[2]).unwrap(), [2, 0]);
    // And the total is capped: skip 20 in one chain keeps only the newest 8.
    let many: Vec<Envelope> = (0..21u8)
        .map(|i| p.alice.encrypt(&[i], &mut rng).unwrap())
        .collect();
    p.bob.decrypt(&many[20]).unwrap();
    assert_eq!(p.bob.skipped_message_keys(), 8);
    assert_eq!(p.bob.decrypt(&many[0]), Err(DecryptError::Duplicate));
    assert_eq!(p.bob.decrypt(&many[19]).unwrap(), [19]);
}

#[test]
fn envelopes_for_another_queue_are_refused() {
    let mut rng = rng(7);
    let mut p = confirmed_pair(&mut rng);
    let to_bob = p.alice.encrypt(b"x", &mut rng).unwrap();
    assert_eq!(p.alice.decrypt(&to_bob), Err(DecryptError::WrongQueue));
    assert_eq!(
        Envelope::from_bytes(&[2; 40]),
        Err(EnvelopeError::UnsupportedVersion { version: 2 })
    );
    assert_eq!(
        Envelope::from_bytes(&[1; 5]),
        Err(EnvelopeError::TooShort { len: 5 })
    );
}

#[test]
fn plaintext_limit_is_enforced() {
    let mut rng = rng(8);
    let mut p = confirmed_pair(&mut rng);
    let before = p.alice.to_bytes();
    let big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    assert_eq!(
        p.alice.encrypt(&big, &mut rng),
        Err(EncryptError::PlaintextTooLarge {
            len: MAX_PLAINTEXT_LEN + 1,
            max: MAX_PLAINTEXT_LEN
        })
    );
    assert_eq!(p.alice.to_bytes(), before);
    let largest = vec![7u8; MAX_PLAINTEXT_LEN];
    let envelope = p.alice.encrypt(&largest, &mut rng).unwrap();
    assert_eq!(p.bob.decrypt(&wire(&envelope)).unwrap(), largest);
}

#[test]
fn envelope_lengths_reveal_only_the_padme_bucket() {
    let mut rng = rng(9);
    let mut p = confirmed_pair(&mut rng);
    let len = |p: &mut crate::support::Pair, n: usize, rng: &mut _| {
        p.alice
            .encrypt(&vec![b'x'; n], rng)
            .unwrap()
            .as_bytes()
            .len()
    };
    // 1,024..=1,086 payload bytes (+1 frame kind byte, +1 marker) share the 1,088 bucket.
    let a = len(&mut p, 1_030, &mut rng);
    let b = len(&mut p, 1_080, &mut rng);
    assert_eq!(a, b);
    assert_eq!(a, 1 + 16 + 68 + 1_088 + 16);
    // Empty and tiny messages look alike too.
    assert_eq!(len(&mut p, 0, &mut rng), len(&mut p, 1, &mut rng));
}

#[test]
fn first_contact_consumes_the_one_time_prekey_only_after_success_and_rejects_replays() {
    let mut rng = rng(10);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut session = Session::initiate(&alice, &bundle, &mut rng).unwrap();
    let first = session.encrypt(b"hello", &mut rng).unwrap();

    // A corrupted copy fails and changes nothing.
    let before = bob.to_bytes();
    let mut bytes = first.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    assert_eq!(
        bob.open_first_contact(&Envelope::from_bytes(&bytes).unwrap())
            .unwrap_err(),
        FirstContactError::DecryptionFailed
    );
    assert_eq!(bob.to_bytes(), before);

    let contact = bob.open_first_contact(&wire(&first)).unwrap();
    assert_eq!(contact.sender(), alice.certificate());
    assert!(!bob.has_accepted(&contact));
    let inbound = bob.accept(&contact, &mut rng).unwrap();
    assert_eq!(inbound.plaintext, b"hello");
    assert!(bob.has_accepted(&contact));

    // The replay is refused, and survives persistence of the account.
    let replay = bob.open_first_contact(&wire(&first)).unwrap();
    assert_eq!(
        bob.accept(&replay, &mut rng).unwrap_err(),
        FirstContactError::Replayed
    );
    let mut reloaded = Account::from_bytes(&bob.to_bytes()).unwrap();
    assert_eq!(
        reloaded.accept(&replay, &mut rng).unwrap_err(),
        FirstContactError::Replayed
    );
    // The new session sees the repeat as a duplicate.
    let mut bob_session = inbound.session;
    assert_eq!(
        bob_session.decrypt_first_contact(&replay),
        Err(DecryptError::Duplicate)
    );
}

#[test]
fn handshakes_work_without_one_time_prekeys_and_replays_are_still_refused() {
    let mut rng = rng(11);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = PrekeyBundle::from_bytes(&bob.prekey_bundle().to_bytes()).unwrap();
    assert!(!bundle.has_one_time_prekey());
    let mut session = Session::initiate(&alice, &bundle, &mut rng).unwrap();
    let first = session.encrypt(b"no otk", &mut rng).unwrap();
    let contact = bob.open_first_contact(&first).unwrap();
    assert_eq!(bob.accept(&contact, &mut rng).unwrap().plaintext, b"no otk");
    assert_eq!(
        bob.accept(&contact, &mut rng).unwrap_err(),
        FirstContactError::Replayed
    );
}

#[test]
fn the_initiator_repeats_the_handshake_until_it_hears_back() {
    let mut rng = rng(12);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut a = Session::initiate(&alice, &bundle, &mut rng).unwrap();
    let first = a.encrypt(b"1", &mut rng).unwrap();
    let second = a.encrypt(b"2", &mut rng).unwrap();
    assert_eq!(first.send_id(), bundle.mailbox());
    assert_eq!(second.send_id(), bundle.mailbox());
    // The second arrives first: it starts the session on its own.
    let contact2 = bob.open_first_contact(&second).unwrap();
    let mut b = bob.accept(&contact2, &mut rng).unwrap();
    assert_eq!(b.plaintext, b"2");
    let contact1 = bob.open_first_contact(&first).unwrap();
    assert_eq!(contact1.session_id(), b.session.id());
    assert_eq!(b.session.decrypt_first_contact(&contact1).unwrap(), b"1");
    let reply = b.session.encrypt(b"got both", &mut rng).unwrap();
    assert_eq!(a.decrypt(&reply).unwrap(), b"got both");
    let third = a.encrypt(b"3", &mut rng).unwrap();
    assert_eq!(third.send_id(), b.session.inbound_queue().send_id());
    assert_eq!(b.session.decrypt(&third).unwrap(), b"3");
}

#[test]
fn rotated_prekeys_stay_usable_for_a_grace_period() {
    let mut rng = rng(13);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let old_bundle = bob.prekey_bundle();
    bob.rotate_signed_prekey(&mut rng);
    bob.rotate_kem_prekey(&mut rng);
    let mut a = Session::initiate(&alice, &old_bundle, &mut rng).unwrap();
    let contact = bob
        .open_first_contact(&a.encrypt(b"late", &mut rng).unwrap())
        .unwrap();
    assert_eq!(bob.accept(&contact, &mut rng).unwrap().plaintext, b"late");
    // After enough rotations the old keys are gone: a clear, actionable error.
    for _ in 0..3 {
        bob.rotate_signed_prekey(&mut rng);
    }
    let mut a = Session::initiate(&alice, &old_bundle, &mut rng).unwrap();
    let contact = bob
        .open_first_contact(&a.encrypt(b"too late", &mut rng).unwrap())
        .unwrap();
    let before = bob.to_bytes();
    assert_eq!(
        bob.accept(&contact, &mut rng).unwrap_err(),
        FirstContactError::UnknownPrekey
    );
    assert_eq!(bob.to_bytes(), before);
}

#[test]
fn bundles_are_verified_before_use() {
    let mut rng = rng(14);
    let alice = Account::new(&mut rng);
    let bob = Account::new(&mut rng);
    let good = bob.prekey_bundle().to_proto();

    let mut bad_prekey = good.clone();
    bad_prekey.signed_prekey.as_mut().unwrap().public_key[0] ^= 1;
    assert_eq!(
        PrekeyBundle::from_bytes(&bad_prekey.encode_to_vec()).unwrap_err(),
        BundleError::BadPrekeySignature
    );
    let mut bad_kem = good.clone();
    bad_kem.kem_prekey.as_mut().unwrap().public_key[100] ^= 1;
    assert_eq!(
        PrekeyBundle::from_bytes(&bad_kem.encode_to_vec()).unwrap_err(),
        BundleError::BadPrekeySignature
    );
    let mut bad_certificate = good.clone();
    bad_certificate.device.as_mut().unwrap().device_dh_key[0] ^= 1;
    assert_eq!(
        PrekeyBundle::from_bytes(&bad_certificate.encode_to_vec()).unwrap_err(),
        BundleError::Certificate(CertificateError::BadSignature)
    );
    let mut other_mailbox = good.clone();
    other_mailbox.mailbox_send_id[0] ^= 1;
    assert_eq!(
        PrekeyBundle::from_bytes(&other_mailbox.encode_to_vec()).unwrap_err(),
        BundleError::BadPrekeySignature
    );
    let mut future = good.clone();
    future.version = 2;
    assert_eq!(
        PrekeyBundle::from_bytes(&future.encode_to_vec()).unwrap_err(),
        BundleError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert!(matches!(
        PrekeyBundle::from_bytes(b"not a bundle"),
        Err(BundleError::Malformed { .. })
    ));

    let bundle = PrekeyBundle::from_bytes(&good.encode_to_vec()).unwrap();
    assert!(
        bundle
            .clone()
            .expect_account(&bob.account_id(), bob.certificate().account_key())
            .is_ok()
    );
    assert_eq!(
        bundle
            .expect_account(&alice.account_id(), alice.certificate().account_key())
            .unwrap_err(),
        BundleError::UnexpectedAccount
    );
    assert_eq!(
        Session::initiate(&bob, &bob.prekey_bundle(), &mut rng).unwrap_err(),
        HandshakeError::OwnBundle
    );
}

#[test]
fn simultaneous_initiation_converges_on_one_session() {
    let mut rng = rng(15);
    let mut alice = InMemoryStore::new();
    let mut bob = InMemoryStore::new();
    let alice_account = Account::new(&mut rng);
    let mut bob_account = Account::new(&mut rng);
    let alice_device = alice_account.device_id();
    let bob_device = bob_account.device_id();
    let mut alice_account = alice_account;
    let alice_bundle = alice_account.prekey_bundle_with_one_time_prekey(&mut rng);
    let bob_bundle = bob_account.prekey_bundle_with_one_time_prekey(&mut rng);
    alice.save_account(&alice_account).unwrap();
    bob.save_account(&bob_account).unwrap();

    // Both start at once; the first contacts cross.
    let (_, a1) = send(
        &mut alice,
        &bob_device,
        Some(&bob_bundle),
        b"hi from alice",
        &mut rng,
    )
    .unwrap();
    let (_, b1) = send(
        &mut bob,
        &alice_device,
        Some(&alice_bundle),
        b"hi from bob",
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        receive(&mut bob, &wire(&a1), &mut rng).unwrap().plaintext,
        b"hi from alice"
    );
    assert_eq!(
        receive(&mut alice, &wire(&b1), &mut rng).unwrap().plaintext,
        b"hi from bob"
    );
    assert_eq!(alice.session_count(), 2);
    assert_eq!(bob.session_count(), 2);

    // Both pick the same session, and a conversation on it works both ways.
    let alice_choice = active_session(&alice, &bob_device).unwrap().unwrap().id();
    let bob_choice = active_session(&bob, &alice_device).unwrap().unwrap().id();
    assert_eq!(alice_choice, bob_choice);
    for round in 0..3u8 {
        let (s, to_bob) = send(&mut alice, &bob_device, None, &[round], &mut rng).unwrap();
        assert_eq!(s.id(), alice_choice);
        let got = receive(&mut bob, &wire(&to_bob), &mut rng).unwrap();
        assert_eq!((got.session, got.plaintext), (bob_choice, vec![round]));
        let (_, to_alice) = send(&mut bob, &alice_device, None, &[round + 100], &mut rng).unwrap();
        assert_eq!(
            receive(&mut alice, &wire(&to_alice), &mut rng)
                .unwrap()
                .plaintext,
            [round + 100]
        );
    }
    assert!(
        active_session(&alice, &bob_device)
            .unwrap()
            .unwrap()
            .is_confirmed()
    );
}

#[test]
fn state_survives_serialisation_and_encrypted_export() {
    let mut rng = rng(16);
    let mut p = confirmed_pair(&mut rng);
    let pending: Vec<Envelope> = (0..3u8)
        .map(|i| p.alice.encrypt(&[i], &mut rng).unwrap())
        .collect();
    let key = ExportKey::random(&mut rng);

    let exported = export_session(&p.bob, &key, &mut rng);
    let mut restored = import_session(&exported, &key).unwrap();
    assert_eq!(restored.to_bytes(), p.bob.to_bytes());
    assert_eq!(restored.decrypt(&pending[2]).unwrap(), [2]);
    let mut plain = Session::from_bytes(&p.bob.to_bytes()).unwrap();
    assert_eq!(plain.decrypt(&pending[2]).unwrap(), [2]);

    let account = import_account(&export_account(&p.bob_account, &key, &mut rng), &key).unwrap();
    assert_eq!(account.to_bytes(), p.bob_account.to_bytes());
    assert_eq!(account.fingerprint(), p.bob_account.fingerprint());

    let wrong = ExportKey::random(&mut rng);
    assert_eq!(
        import_session(&exported, &wrong).unwrap_err(),
        StateError::DecryptionFailed
    );
    assert_eq!(
        import_account(&exported, &key).unwrap_err(),
        StateError::WrongKind {
            expected: "account",
            found: "session"
        }
    );
    let mut damaged = exported.clone();
    damaged[30] ^= 1;
    assert_eq!(
        import_session(&damaged, &key).unwrap_err(),
        StateError::DecryptionFailed
    );
    let mut future = exported.clone();
    future[3] = 9;
    assert_eq!(
        import_session(&future, &key).unwrap_err(),
        StateError::UnsupportedVersion {
            found: 9,
            supported: 1
        }
    );
    assert!(matches!(
        import_session(b"SC", &key),
        Err(StateError::Malformed { .. })
    ));
}

#[test]
fn corrupted_or_future_state_is_a_typed_error() {
    let mut rng = rng(17);
    let p = confirmed_pair(&mut rng);
    let mut future = pb::SessionState::decode(p.alice.to_bytes().as_slice()).unwrap();
    future.version = 3;
    assert_eq!(
        Session::from_bytes(&future.encode_to_vec()).unwrap_err(),
        StateError::UnsupportedVersion {
            found: 3,
            supported: 2
        }
    );
    // The outbound queue and the pending first contact: exactly one of them, and a
    // pending first contact only on the initiator.
    let mut state = pb::SessionState::decode(p.alice.to_bytes().as_slice()).unwrap();
    state.outbound_send_id = None;
    assert_eq!(
        Session::from_bytes(&state.encode_to_vec()).unwrap_err(),
        StateError::Malformed {
            field: "outbound_send_id"
        }
    );
    let mut state = pb::SessionState::decode(p.alice.to_bytes().as_slice()).unwrap();
    state.outbound_send_id = Some(vec![7; 15]);
    assert_eq!(
        Session::from_bytes(&state.encode_to_vec()).unwrap_err(),
        StateError::Malformed {
            field: "outbound_send_id"
        }
    );
    let pending = {
        let alice = Account::from_bytes(&p.alice_account.to_bytes()).unwrap();
        let session = Session::initiate(&alice, &p.bob_account.prekey_bundle(), &mut rng).unwrap();
        pb::SessionState::decode(session.to_bytes().as_slice()).unwrap()
    };
    assert!(pending.outbound_send_id.is_none() && pending.pending.is_some());
    assert!(Session::from_bytes(&pending.encode_to_vec()).is_ok());
    let mut both = pending.clone();
    both.outbound_send_id = Some(vec![7; 16]);
    assert_eq!(
        Session::from_bytes(&both.encode_to_vec()).unwrap_err(),
        StateError::Malformed {
            field: "outbound_send_id"
        }
    );
    let mut pending_responder = pending;
    pending_responder.initiator = false;
    assert_eq!(
        Session::from_bytes(&pending_responder.encode_to_vec()).unwrap_err(),
        StateError::Malformed { field: "pending" }
    );
    // No version at all (empty or foreign bytes) is damage, not a newer app's state.
    future.version = 0;
    assert_eq!(
        Session::from_bytes(&future.encode_to_vec()).unwrap_err(),
        StateError::Malformed { field: "version" }
    );
    assert_eq!(
        Account::from_bytes(&[]).unwrap_err(),
        StateError::Malformed { field: "version" }
    );
    let mut account = pb::AccountState::decode(p.alice_account.to_bytes().as_slice()).unwrap();
    account.device_dh_secret[1] ^= 1;
    assert_eq!(
        Account::from_bytes(&account.encode_to_vec()).unwrap_err(),
        StateError::Malformed {
            field: "certificate"
        }
    );
    let bytes = p.alice.to_bytes();
    for len in 0..bytes.len() {
        // Every truncation is an error or a (different) valid state, never a panic.
        let _ = Session::from_bytes(&bytes[..len]);
    }
    assert!(Account::from_bytes(&[0xff; 64]).is_err());
}

#[test]
fn safety_numbers_match_on_both_sides() {
    let mut rng = rng(18);
    let p = confirmed_pair(&mut rng);
    let on_alice = p.alice_account.safety_number(p.alice.peer());
    let on_bob = p.bob_account.safety_number(p.bob.peer());
    assert_eq!(on_alice, on_bob);
    assert!(on_alice.matches(&on_bob.to_string()));
    assert_ne!(p.alice_account.fingerprint(), p.bob_account.fingerprint());
}

#[test]
fn queue_fetch_proofs_verify_only_for_the_owner() {
    let mut rng = rng(19);
    let p = confirmed_pair(&mut rng);
    let queue = p.alice.inbound_queue();
    let proof = queue.prove(b"challenge-1");
    let key = queue.auth_key();
    assert!(verify_fetch_proof(
        &queue.receive_id(),
        &key,
        b"challenge-1",
        &proof
    ));
    assert!(!verify_fetch_proof(
        &queue.receive_id(),
        &key,
        b"challenge-2",
        &proof
    ));
    let other = p.bob.inbound_queue();
    assert!(!verify_fetch_proof(
        &other.receive_id(),
        &key,
        b"challenge-1",
        &proof
    ));
    assert!(!verify_fetch_proof(
        &queue.receive_id(),
        &other.auth_key(),
        b"challenge-1",
        &other.prove(b"challenge-1")
    ));
    assert_ne!(queue.receive_id().as_bytes(), queue.send_id().as_bytes());
}

#[test]
fn the_sender_certificate_slot_is_bounded_on_both_sides() {
    use satchel_core::MAX_SENDER_CERTIFICATE_LEN;
    let mut rng = rng(20);
    let alice = Account::new(&mut rng);
    let bob = Account::new(&mut rng);
    let mut session = Session::initiate(&alice, &bob.prekey_bundle(), &mut rng).unwrap();
    assert_eq!(
        session.set_sender_certificate(vec![0; MAX_SENDER_CERTIFICATE_LEN + 1]),
        Err(EncryptError::SenderCertificateTooLarge {
            len: MAX_SENDER_CERTIFICATE_LEN + 1,
            max: MAX_SENDER_CERTIFICATE_LEN
        })
    );
    session
        .set_sender_certificate(b"school chain".to_vec())
        .unwrap();
    let first = session.encrypt(b"hi", &mut rng).unwrap();
    assert_eq!(
        bob.open_first_contact(&first).unwrap().sender_certificate(),
        b"school chain"
    );
    // The largest slot with the largest plaintext still fits in an envelope.
    let mut session = Session::initiate(&alice, &bob.prekey_bundle(), &mut rng).unwrap();
    session
        .set_sender_certificate(vec![1; MAX_SENDER_CERTIFICATE_LEN])
        .unwrap();
    let largest = session
        .encrypt(&vec![2; MAX_PLAINTEXT_LEN], &mut rng)
        .unwrap();
    let contact = bob.open_first_contact(&wire(&largest)).unwrap();
    assert_eq!(
        contact.sender_certificate().len(),
        MAX_SENDER_CERTIFICATE_LEN
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The attack this version fixes: in version 1 the initiator derived the responder's
/// inbound send id from the handshake secret, created that queue on the relay first and
/// so made the responder's queue creation fail. Now the responder draws the id from its
/// own RNG, and the initiator learns it only from the responder's first message.
#[test]
fn the_initiator_cannot_know_the_responders_send_id_before_the_first_reply() {
    let mut rng = rng(30);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng);
    let bob_state = bob.to_bytes();
    let mut a = Session::initiate(&alice, &bundle, &mut rng).unwrap();
    assert_eq!(a.outbound_send_id(), None);
    assert!(!a.is_confirmed());
    let first = a.encrypt(b"hello", &mut rng).unwrap();
    let second = a.encrypt(b"hello again", &mut rng).unwrap();
    assert_eq!(first.send_id(), bundle.mailbox());
    assert_eq!(a.outbound_send_id(), None);
    // Everything the initiator holds before the reply.
    let initiator_knows = [
        alice.to_bytes(),
        bundle.to_bytes(),
        a.to_bytes(),
        first.as_bytes().to_vec(),
        second.as_bytes().to_vec(),
    ];

    // Two copies of the responder accept the same first contact (same handshake secret,
    // same session id) under two RNGs: they choose different send ids.
    let mut bob1 = Account::from_bytes(&bob_state).unwrap();
    let mut bob2 = Account::from_bytes(&bob_state).unwrap();
    let contact = bob1.open_first_contact(&wire(&first)).unwrap();
    let mut b1 = bob1
        .accept(&contact, &mut crate::support::rng(31))
        .unwrap()
        .session;
    let b2 = bob2
        .accept(&contact, &mut crate::support::rng(32))
        .unwrap()
        .session;
    assert_eq!(b1.id(), b2.id());
    let (s1, s2) = (b1.inbound_queue().send_id(), b2.inbound_queue().send_id());
    assert_ne!(s1, s2);
    // Both learned the initiator's (random) inbound send id from the first contact.
    assert_eq!(b1.outbound_send_id(), Some(a.inbound_queue().send_id()));
    assert_eq!(b2.outbound_send_id(), Some(a.inbound_queue().send_id()));
    assert!(b1.is_announcing() && b2.is_announcing());
    for id in [s1, s2] {
        for blob in &initiator_knows {
            assert!(!contains(blob, id.as_bytes()), "the send id leaked early");
        }
    }

    // The first reply goes to the initiator's queue and carries the id, encrypted.
    let reply = b1.encrypt(b"hi", &mut rng).unwrap();
    assert_eq!(reply.send_id(), a.inbound_queue().send_id());
    assert!(!contains(reply.as_bytes(), s1.as_bytes()));
    assert_eq!(a.decrypt(&wire(&reply)).unwrap(), b"hi");
    assert_eq!(a.outbound_send_id(), Some(s1));
    assert!(a.is_confirmed());
    let next = a.encrypt(b"on your queue", &mut rng).unwrap();
    assert_eq!(next.send_id(), s1);
    assert_eq!(b1.decrypt(&wire(&next)).unwrap(), b"on your queue");
}

#[test]
fn each_side_announces_until_the_peer_has_used_its_queue() {
    use satchel_core::internal::fuzz::encrypt_session_frame;
    let mut rng = rng(33);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut a = Session::initiate(&alice, &bundle, &mut rng).unwrap();
    assert!(a.is_announcing());
    let first = a.encrypt(b"first", &mut rng).unwrap();
    let mut b = bob
        .accept(&bob.open_first_contact(&first).unwrap(), &mut rng)
        .unwrap()
        .session;
    assert!(b.is_confirmed() && b.is_announcing());

    // A buggy responder's message without the announcement: it decrypts and proves
    // Bob knows Alice's queue, but Alice still cannot write to Bob's.
    let mut frame = vec![0x00];
    frame.extend_from_slice(b"no id");
    let unannounced = encrypt_session_frame(&mut b, &frame, &mut rng).unwrap();
    assert_eq!(a.decrypt(&unannounced).unwrap(), b"no id");
    assert!(!a.is_confirmed() && !a.is_announcing());
    let repeat = a.encrypt(b"still a first contact", &mut rng).unwrap();
    assert_eq!(repeat.send_id(), bundle.mailbox());
    assert_eq!(
        b.decrypt_first_contact(&bob.open_first_contact(&repeat).unwrap())
            .unwrap(),
        b"still a first contact"
    );

    // Bob announces in every message until one arrives on his queue.
    let r1 = b.encrypt(b"r1", &mut rng).unwrap();
    let r2 = b.encrypt(b"r2", &mut rng).unwrap();
    assert_eq!(a.decrypt(&r2).unwrap(), b"r2");
    assert_eq!(a.outbound_send_id(), Some(b.inbound_queue().send_id()));
    assert_eq!(a.decrypt(&r1).unwrap(), b"r1");
    let r3 = b.encrypt(b"r3", &mut rng).unwrap();
    assert!(b.is_announcing());
    let q1 = a.encrypt(b"q1", &mut rng).unwrap();
    assert_eq!(b.decrypt(&q1).unwrap(), b"q1");
    assert!(!b.is_announcing());
    assert_eq!(a.decrypt(&r3).unwrap(), b"r3");

    // Frames without an announcement are one kind byte longer than the payload, frames
    // with one 17: lengths that share a Padmé bucket stay alike.
    let quiet = b.encrypt(&[b'x'; 100], &mut rng).unwrap();
    assert_eq!(quiet.as_bytes().len(), 101 + 104);
    assert_eq!(a.decrypt(&quiet).unwrap(), [b'x'; 100]);

    // A later announcement of another id is ignored: the first one is final.
    let mut moved = vec![0x01];
    moved.extend_from_slice(&[0x5a; 16]);
    moved.extend_from_slice(b"moved?");
    let moved = encrypt_session_frame(&mut b, &moved, &mut rng).unwrap();
    assert_eq!(a.decrypt(&moved).unwrap(), b"moved?");
    assert_eq!(a.outbound_send_id(), Some(b.inbound_queue().send_id()));
    // And the state survives a reload.
    let a2 = Session::from_bytes(&a.to_bytes()).unwrap();
    assert_eq!(a2.outbound_send_id(), a.outbound_send_id());
    assert!(!a2.is_announcing());
    let b2 = Session::from_bytes(&b.to_bytes()).unwrap();
    assert!(!b2.is_announcing());
}

#[test]
fn invalid_frames_are_refused_and_leave_the_session_untouched() {
    use satchel_core::internal::fuzz::encrypt_session_frame;
    let mut rng = rng(34);
    let mut p = confirmed_pair(&mut rng);
    let cases: [(&[u8], &str); 5] = [
        (b"\x02unknown kind", "session frame kind"),
        (b"\xff", "session frame kind"),
        (b"", "session frame"),
        (b"\x01short id", "reply send id"),
        (&[0x01; 16], "reply send id"),
    ];
    for (frame, field) in cases {
        // Both directions, and both with and without a DH step before.
        for to_alice in [true, false] {
            let (sender, receiver) = if to_alice {
                (&mut p.bob, &mut p.alice)
            } else {
                (&mut p.alice, &mut p.bob)
            };
            let envelope = encrypt_session_frame(sender, frame, &mut rng).unwrap();
            let before = receiver.to_bytes();
            assert_eq!(
                receiver.decrypt(&wire(&envelope)),
                Err(DecryptError::Malformed { field })
            );
            assert_eq!(receiver.to_bytes(), before, "{field}: state changed");
            // The next genuine message still decrypts (its key was not consumed).
            let next = sender.encrypt(b"after", &mut rng).unwrap();
            assert_eq!(receiver.decrypt(&next).unwrap(), b"after");
        }
    }
}

#[test]
fn a_first_contact_must_announce_the_initiators_queue() {
    use satchel_core::internal::fuzz::encrypt_session_frame;
    let mut rng = rng(35);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut a = Session::initiate(&alice, &bundle, &mut rng).unwrap();
    let silent = encrypt_session_frame(&mut a, b"\x00no reply id", &mut rng).unwrap();
    let contact = bob.open_first_contact(&silent).unwrap();
    let before = bob.to_bytes();
    assert_eq!(
        bob.accept(&contact, &mut rng).unwrap_err(),
        FirstContactError::DecryptionFailed
    );
    assert_eq!(bob.to_bytes(), before);

    // On an existing session, a repeat without the announcement is refused unchanged.
    let good = a.encrypt(b"proper", &mut rng).unwrap();
    let mut b = bob
        .accept(&bob.open_first_contact(&good).unwrap(), &mut rng)
        .unwrap()
        .session;
    let silent = encrypt_session_frame(&mut a, b"\x00again", &mut rng).unwrap();
    let before = b.to_bytes();
    assert_eq!(
        b.decrypt_first_contact(&bob.open_first_contact(&silent).unwrap()),
        Err(DecryptError::Malformed {
            field: "first contact reply send id"
        })
    );
    assert_eq!(b.to_bytes(), before);
    // The first contact that `accept` refused is refused by the session too.
    assert_eq!(
        b.decrypt_first_contact(&contact),
        Err(DecryptError::Malformed {
            field: "first contact reply send id"
        })
    );
}

#[test]
fn version_1_session_states_are_refused_and_version_1_accounts_still_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    // Saved by the previous release (session format 1: send ids derived from SK).
    let session = std::fs::read(dir.join("v1-session-state.bin")).unwrap();
    assert_eq!(
        pb::SessionState::decode(session.as_slice())
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        Session::from_bytes(&session).unwrap_err(),
        StateError::Obsolete {
            found: 1,
            supported: 2
        }
    );
    // The account format did not change: the same bytes load and save again.
    let account = std::fs::read(dir.join("v1-account-state.bin")).unwrap();
    let loaded = Account::from_bytes(&account).unwrap();
    assert_eq!(loaded.to_bytes(), account);
}

/// `open` writes nothing: an opened but uncommitted first contact opens again as new
/// (its one-time prekey is still there); once committed, the same envelope is refused as
/// a replay, and a repeat of the handshake goes to the stored session.
#[test]
fn open_writes_nothing_until_committed() {
    use satchel_core::storage::receive::{OpenError, Opened, StoreReceiver, commit_received, open};
    let mut rng = rng(41);
    let mut alice = InMemoryStore::default();
    let mut bob = InMemoryStore::default();
    alice.save_account(&Account::new(&mut rng)).unwrap();
    let bob_account = Account::new(&mut rng);
    let bundle = bob_account.prekey_bundle();
    bob.save_account(&bob_account).unwrap();
    let bob_device = bundle.device().device_id();
    let (_, first) = send(&mut alice, &bob_device, Some(&bundle), b"one", &mut rng).unwrap();
    let (_, repeat) = send(&mut alice, &bob_device, None, b"two", &mut rng).unwrap();
    let before = bob.load_account().unwrap().unwrap().to_bytes();

    for _ in 0..2 {
        let mut receiver = StoreReceiver::new(&mut bob);
        let opened = open(&mut receiver, &wire(&first), &mut rng).unwrap();
        assert!(matches!(opened, Opened::New { .. }), "{opened:?}");
        drop(receiver);
        assert_eq!(bob.load_account().unwrap().unwrap().to_bytes(), before);
    }

    let mut receiver = StoreReceiver::new(&mut bob);
    let opened = open(&mut receiver, &wire(&first), &mut rng).unwrap();
    let received = commit_received(receiver, opened).unwrap();
    assert!(received.new_session);
    assert_eq!(received.plaintext, b"one");

    let mut receiver = StoreReceiver::new(&mut bob);
    match open(&mut receiver, &wire(&repeat), &mut rng) {
        Ok(Opened::Existing {
            plaintext,
            sender_certificate,
            ..
        }) => {
            assert_eq!(plaintext, b"two");
            assert!(sender_certificate.is_some(), "a repeated first contact");
        }
        other => panic!("{other:?}"),
    }
    drop(receiver);
    let mut receiver = StoreReceiver::new(&mut bob);
    assert!(matches!(
        open(&mut receiver, &wire(&first), &mut rng),
        Err(OpenError::Decrypt(DecryptError::Duplicate))
    ));
}
