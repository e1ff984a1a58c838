//! Group sessions (sender keys): what members read, what removed and new members cannot
//! read, and what an insider holding a sender's key still cannot do.

use satchel_core::group::{
    DistributionOutcome, GroupConfig, GroupId, GroupSession, MIN_GROUP_MESSAGE_LEN, SenderDevice,
    SenderKeyDistribution, group_message_len,
};
use satchel_core::internal::forge_group_message;
use satchel_core::{DistributionError, GroupDecryptError, GroupEncryptError};

use crate::support::rng;

const NOW: u64 = 1_767_225_600;
const DAY: u64 = 24 * 60 * 60;

fn device(n: u8) -> SenderDevice {
    SenderDevice::from_bytes([n; 32])
}

/// The key `from` hands `to`, through its bytes as over a pairwise session.
fn hand_key(from: &GroupSession, to: &mut GroupSession) -> DistributionOutcome {
    let key = SenderKeyDistribution::from_bytes(&from.distribution().to_bytes()).unwrap();
    to.receive_distribution(from.own_device(), &key).unwrap()
}

/// A teacher and `parents` parents, each holding the teacher's key.
fn class(parents: u8) -> (GroupSession, Vec<GroupSession>) {
    let mut r = rng(1);
    let group = GroupId::random(&mut r);
    let teacher = GroupSession::new(group, device(100), NOW, &mut r);
    let members = (0..parents)
        .map(|n| {
            let mut parent = GroupSession::new(group, device(n), NOW, &mut r);
            assert_eq!(hand_key(&teacher, &mut parent), DistributionOutcome::Added);
            parent
        })
        .collect();
    (teacher, members)
}

#[test]
fn every_member_reads_the_same_bytes() {
    let (mut teacher, mut parents) = class(5);
    for i in 0..20u32 {
        let text = format!("notice {i}");
        let message = teacher.encrypt(text.as_bytes(), NOW).unwrap();
        assert_eq!(message.len(), group_message_len(text.len()));
        for parent in &mut parents {
            let read = parent.decrypt(&message).unwrap();
            assert_eq!(read.sender, device(100));
            assert_eq!(read.index, i);
            assert_eq!(read.plaintext, text.as_bytes());
        }
    }
    // The group id, sender and index are not in the bytes.
    let message = teacher.encrypt(b"x", NOW).unwrap();
    let id = teacher.group_id();
    assert!(!message.windows(16).any(|w| w == id.as_bytes()));
    assert!(!message.windows(32).any(|w| w == device(100).as_bytes()));
}

#[test]
fn out_of_order_is_read_and_duplicates_are_refused_without_changing_state() {
    let (mut teacher, mut parents) = class(1);
    let parent = &mut parents[0];
    let messages: Vec<Vec<u8>> = (0..10u8)
        .map(|i| teacher.encrypt(&[i], NOW).unwrap())
        .collect();
    for i in [3usize, 0, 9, 1, 2, 8, 4, 7, 5, 6] {
        assert_eq!(parent.decrypt(&messages[i]).unwrap().plaintext, [i as u8]);
    }
    let before = parent.to_bytes();
    for message in &messages {
        assert_eq!(parent.decrypt(message), Err(GroupDecryptError::Duplicate));
        assert_eq!(parent.to_bytes(), before);
    }
}

#[test]
fn a_message_too_far_ahead_is_refused() {
    let (mut teacher, mut parents) = class(1);
    let parent = &mut parents[0];
    parent.set_config(GroupConfig {
        max_skip: 10,
        ..GroupConfig::default()
    });
    let messages: Vec<Vec<u8>> = (0..12u8)
        .map(|i| teacher.encrypt(&[i], NOW).unwrap())
        .collect();
    let before = parent.to_bytes();
    assert_eq!(
        parent.decrypt(&messages[11]),
        Err(GroupDecryptError::TooFarAhead { gap: 11, max: 10 })
    );
    assert_eq!(parent.to_bytes(), before);
    assert_eq!(parent.decrypt(&messages[10]).unwrap().index, 10);
}

#[test]
fn every_tampered_byte_is_refused_and_changes_nothing() {
    let (mut teacher, mut parents) = class(1);
    let parent = &mut parents[0];
    let message = teacher.encrypt(b"The trip is on Friday", NOW).unwrap();
    let before = parent.to_bytes();
    for position in 0..message.len() {
        let mut tampered = message.clone();
        tampered[position] ^= 0x01;
        let error = parent.decrypt(&tampered).unwrap_err();
        assert!(
            matches!(
                error,
                GroupDecryptError::NoSenderKey | GroupDecryptError::DecryptionFailed
            ),
            "byte {position}: {error:?}"
        );
        assert_eq!(parent.to_bytes(), before, "byte {position}");
    }
    for len in [0, 1, MIN_GROUP_MESSAGE_LEN - 1] {
        assert_eq!(
            parent.decrypt(&message[..len.min(message.len())]),
            Err(GroupDecryptError::BadLength { len })
        );
    }
    assert_eq!(parent.decrypt(&message).unwrap().index, 0);
}

#[test]
fn a_member_holding_the_key_cannot_write_as_the_sender() {
    let (mut teacher, mut parents) = class(2);
    // Parent 0 holds the teacher's key (chain and header key) and writes message 0 with it.
    let key = teacher.distribution();
    let forged =
        forge_group_message(&key, 0, b"Pay the trip to NL00 FAKE 0123", &mut rng(9)).unwrap();
    let before = parents[1].to_bytes();
    assert_eq!(
        parents[1].decrypt(&forged),
        Err(GroupDecryptError::DecryptionFailed)
    );
    assert_eq!(parents[1].to_bytes(), before);
    // The teacher's real message 0 is still read.
    let real = teacher.encrypt(b"The trip is free", NOW).unwrap();
    assert_eq!(
        parents[1].decrypt(&real).unwrap().plaintext,
        b"The trip is free"
    );
    assert_eq!(parents[0].decrypt(&real).unwrap().sender, device(100));
}

#[test]
fn a_member_cannot_pass_off_another_senders_key_as_their_own() {
    let (teacher, mut parents) = class(2);
    // Parent 0 forwards the teacher's key to parent 1 as if it were parent 0's own.
    let key = teacher.distribution();
    let before = parents[1].to_bytes();
    assert_eq!(
        parents[1].receive_distribution(device(0), &key),
        Err(DistributionError::NotFromSender)
    );
    assert_eq!(parents[1].to_bytes(), before);
    // A key of another group is refused too.
    let mut r = rng(3);
    let other = GroupSession::new(GroupId::random(&mut r), device(100), NOW, &mut r);
    assert_eq!(
        parents[1].receive_distribution(device(100), &other.distribution()),
        Err(DistributionError::WrongGroup)
    );
    // The same key again changes nothing.
    assert_eq!(
        hand_key(&teacher, &mut parents[1]),
        DistributionOutcome::AlreadyHeld
    );
    assert_eq!(parents[1].to_bytes(), before);
}

#[test]
fn a_removed_member_reads_nothing_new_and_a_new_member_nothing_old() {
    let (mut teacher, mut parents) = class(3);
    let before_join = teacher.encrypt(b"before", NOW).unwrap();
    for parent in &mut parents {
        parent.decrypt(&before_join).unwrap();
    }
    // Parent 2 is removed: the teacher rotates and hands the new key to parents 0 and 1.
    let removed = parents.pop().unwrap();
    let mut removed = removed;
    let _ = teacher.rotate(NOW, &mut rng(4));
    for parent in &mut parents {
        assert_eq!(hand_key(&teacher, parent), DistributionOutcome::Added);
    }
    // A new parent joins and gets the key at its current index.
    let mut r = rng(5);
    let mut newcomer = GroupSession::new(teacher.group_id(), device(50), NOW, &mut r);
    hand_key(&teacher, &mut newcomer);

    let after = teacher.encrypt(b"after", NOW).unwrap();
    assert_eq!(removed.decrypt(&after), Err(GroupDecryptError::NoSenderKey));
    for parent in &mut parents {
        assert_eq!(parent.decrypt(&after).unwrap().plaintext, b"after");
    }
    assert_eq!(newcomer.decrypt(&after).unwrap().plaintext, b"after");
    assert_eq!(
        newcomer.decrypt(&before_join),
        Err(GroupDecryptError::NoSenderKey)
    );
}

#[test]
fn a_new_member_of_an_unrotated_key_reads_nothing_sent_before() {
    let (mut teacher, _) = class(0);
    let early: Vec<Vec<u8>> = (0..3u8)
        .map(|i| teacher.encrypt(&[i], NOW).unwrap())
        .collect();
    let mut r = rng(6);
    let mut newcomer = GroupSession::new(teacher.group_id(), device(7), NOW, &mut r);
    hand_key(&teacher, &mut newcomer);
    for message in &early {
        assert_eq!(newcomer.decrypt(message), Err(GroupDecryptError::Duplicate));
    }
    let now = teacher.encrypt(b"welcome", NOW).unwrap();
    assert_eq!(newcomer.decrypt(&now).unwrap().index, 3);
}

#[test]
fn keys_rotate_after_seven_days_or_a_thousand_messages() {
    let (mut teacher, mut parents) = class(1);
    assert!(!teacher.rotation_due(NOW + 7 * DAY - 1));
    assert_eq!(
        teacher.encrypt(b"late", NOW + 7 * DAY),
        Err(GroupEncryptError::RotationDue)
    );
    let mut last = Vec::new();
    for i in 0..1_000u32 {
        last = teacher.encrypt(&i.to_be_bytes(), NOW).unwrap();
    }
    assert_eq!(
        teacher.encrypt(b"one more", NOW),
        Err(GroupEncryptError::RotationDue)
    );
    // The key due for rotation: rotate, hand it out, carry on; a message sent under the
    // previous key that arrives after the new key is still read.
    let key = teacher.rotate(NOW + DAY, &mut rng(8));
    assert_eq!(key.index(), 0);
    parents[0].receive_distribution(device(100), &key).unwrap();
    let next = teacher.encrypt(b"new key", NOW + DAY).unwrap();
    assert_eq!(parents[0].decrypt(&next).unwrap().plaintext, b"new key");
    assert_eq!(parents[0].decrypt(&last).unwrap().index, 999);
}

#[test]
fn only_a_few_earlier_keys_of_one_sender_are_kept() {
    let (mut teacher, mut parents) = class(1);
    let mut r = rng(10);
    let mut under_old_keys = Vec::new();
    for _ in 0..4 {
        under_old_keys.push(teacher.encrypt(b"m", NOW).unwrap());
        let key = teacher.rotate(NOW, &mut r);
        parents[0].receive_distribution(device(100), &key).unwrap();
    }
    // Current key + 2 earlier ones: the message under the oldest key is no longer read.
    assert_eq!(
        parents[0].decrypt(&under_old_keys[0]),
        Err(GroupDecryptError::NoSenderKey)
    );
    assert_eq!(
        parents[0].decrypt(&under_old_keys[1]),
        Err(GroupDecryptError::NoSenderKey)
    );
    for message in &under_old_keys[2..] {
        parents[0].decrypt(message).unwrap();
    }
}

#[test]
fn a_message_that_arrives_before_its_key_is_read_once_the_key_arrives() {
    let mut r = rng(11);
    let group = GroupId::random(&mut r);
    let mut teacher = GroupSession::new(group, device(100), NOW, &mut r);
    let mut parent = GroupSession::new(group, device(1), NOW, &mut r);
    let message = teacher.encrypt(b"early", NOW).unwrap();
    assert_eq!(
        parent.decrypt(&message),
        Err(GroupDecryptError::NoSenderKey)
    );
    hand_key(&teacher, &mut parent);
    // The key handed out after message 0 starts at index 1: the app hands out the key
    // before its first message (the client does), so this one is lost by design.
    assert_eq!(parent.decrypt(&message), Err(GroupDecryptError::Duplicate));
    let mut fresh = GroupSession::new(group, device(2), NOW, &mut r);
    let key = teacher.distribution();
    let second = teacher.encrypt(b"second", NOW).unwrap();
    assert_eq!(fresh.decrypt(&second), Err(GroupDecryptError::NoSenderKey));
    fresh.receive_distribution(device(100), &key).unwrap();
    assert_eq!(fresh.decrypt(&second).unwrap().plaintext, b"second");
}

#[test]
fn state_survives_a_reload_mid_stream() {
    let (mut teacher, mut parents) = class(1);
    let messages: Vec<Vec<u8>> = (0..6u8)
        .map(|i| teacher.encrypt(&[i], NOW).unwrap())
        .collect();
    parents[0].decrypt(&messages[4]).unwrap();
    let mut parent = GroupSession::from_bytes(&parents[0].to_bytes()).unwrap();
    assert_eq!(parent.to_bytes(), parents[0].to_bytes());
    let mut teacher = GroupSession::from_bytes(&teacher.to_bytes()).unwrap();
    for i in [0usize, 3, 1, 5, 2] {
        assert_eq!(parent.decrypt(&messages[i]).unwrap().plaintext, [i as u8]);
    }
    let next = teacher.encrypt(b"after reload", NOW).unwrap();
    assert_eq!(parent.decrypt(&next).unwrap().index, 6);
    for bad in [&b""[..], b"\x08\x02", &[0xff; 40]] {
        assert!(GroupSession::from_bytes(bad).is_err());
    }
}

#[test]
fn a_batch_reads_exactly_what_one_at_a_time_reads() {
    let (mut teacher, mut parents) = class(2);
    let mut messages: Vec<Vec<u8>> = (0..50u16)
        .map(|i| teacher.encrypt(&i.to_be_bytes(), NOW).unwrap())
        .collect();
    messages.swap(3, 40);
    messages.push(messages[7].clone()); // a duplicate
    let mut tampered = messages[10].clone();
    tampered[100] ^= 4;
    messages.push(tampered);
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let mut one_by_one = GroupSession::from_bytes(&parents[0].to_bytes()).unwrap();
    let expected: Vec<_> = refs.iter().map(|m| one_by_one.decrypt(m)).collect();
    let batch = parents[0].decrypt_batch(&refs);
    assert_eq!(batch, expected);
    assert_eq!(parents[0].to_bytes(), one_by_one.to_bytes());
    assert_eq!(batch.iter().filter(|r| r.is_ok()).count(), 50);

    // A forged signature in the batch: it fails the batch, and the messages are read one
    // at a time, with the same results.
    let more: Vec<Vec<u8>> = (0..5u8)
        .map(|i| teacher.encrypt(&[i], NOW).unwrap())
        .collect();
    let forged = forge_group_message(&teacher.distribution(), 56, b"forged", &mut rng(12)).unwrap();
    let mut with_forgery: Vec<&[u8]> = more.iter().map(Vec::as_slice).collect();
    with_forgery.insert(2, &forged);
    // The forgery's index (56) is past the real ones (50..55): it must not move the chain.
    let mut reference = GroupSession::from_bytes(&parents[1].to_bytes()).unwrap();
    let expected: Vec<_> = with_forgery.iter().map(|m| reference.decrypt(m)).collect();
    let got = parents[1].decrypt_batch(&with_forgery);
    assert_eq!(got, expected);
    assert_eq!(got[2], Err(GroupDecryptError::DecryptionFailed));
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 5);
    assert_eq!(parents[1].to_bytes(), reference.to_bytes());
}
