//! The `group_content` fuzz target: what a sync does with group content from a peer —
//! a group update, a sender key, a read confirmation, or a group message on the peer's
//! queue or the mailbox — against a fixed device that is in one group with that peer.
//!
//! **Not API.** The input's first byte picks the peer's standing (a verified teacher, a
//! verified parent, a stranger), the second what arrives (0: a `Content`; 1: a group
//! message on the peer's queue; 2: the same on the mailbox); the rest is the bytes. It
//! must never panic, and whatever happens the group's record still loads. Each input runs
//! in a transaction that is rolled back, so every input meets the same state.
#![doc(hidden)]

use std::sync::{Mutex, OnceLock};

use prost::Message as _;
use satchel_core::group::{GroupId, GroupSession};
use satchel_core::internal::fuzz::{FuzzRng, Seed};
use satchel_core::school::{
    GrantId, Role, SchoolKey, SchoolRoot, SenderStatus, UnverifiedReason, VerifiedMember,
};
use satchel_core::{Account, DeviceCertificate};
use satchel_proto::v1 as pb;

use super::receive::{receive_key, receive_message, receive_receipt, receive_update};
use super::{GroupKind, GroupRecord, KnownSender, MemberDevice};
use crate::store::cipher::StoreKey;
use crate::store::{SqliteStore, StoreError};
use crate::sync::Verifier;

const NOW: u64 = 1_790_000_000;

struct Fixture {
    store: Mutex<SqliteStore>,
    root: SchoolKey,
    me: MemberDevice,
    peer: DeviceCertificate,
    group: GroupId,
    seeds: Vec<(&'static str, Vec<u8>)>,
}

fn member(account: &Account) -> MemberDevice {
    let certificate = account.certificate();
    MemberDevice {
        account_id: *certificate.account_id().as_bytes(),
        account_key: *certificate.account_key(),
        device_key: *certificate.device_signing_key(),
    }
}

fn content(body: pb::content::Body) -> Vec<u8> {
    pb::Content {
        message_id: vec![7; 16],
        sent_at: 1,
        body: Some(body),
    }
    .encode_to_vec()
}

fn build() -> Option<Fixture> {
    let mut rng = FuzzRng::new(b"group content");
    let root = SchoolRoot::generate(&mut rng).public();
    let me_account = Account::new(&mut rng);
    let peer_account = Account::new(&mut rng);
    let (me, peer) = (member(&me_account), member(&peer_account));
    let group = GroupId::random(&mut rng);
    let mut peer_session = GroupSession::new(group, peer.sender(), NOW, &mut rng);
    let mut session = GroupSession::new(group, me.sender(), NOW, &mut rng);
    let key = peer_session.distribution();
    session.receive_distribution(peer.sender(), &key).ok()?;
    let mut record = GroupRecord::new(
        group,
        GroupKind::ClassGroup,
        peer.account_id,
        peer.account_key,
        me.sender(),
        NOW,
    );
    record.session = session;
    record.title = "Class 5B".into();
    record.class_name = "5B".into();
    record.epoch = 2;
    record.members = vec![peer.clone(), me.clone()];
    record.senders = vec![KnownSender {
        device_key: peer.device_key,
        device_certificate: peer_account.certificate().to_proto().encode_to_vec(),
        member_certificate: None,
    }];
    record.reads = vec![([9; 16], Vec::new())];
    let mut store = SqliteStore::in_memory(&StoreKey::from_bytes([0x47; 32])).ok()?;
    store
        .write(|w| w.put_group(group.as_bytes(), &record.encode()))
        .ok()?;
    let to_members = |m: &MemberDevice| pb::GroupMember {
        account_id: m.account_id.to_vec(),
        account_key: m.account_key.to_vec(),
        device_key: m.device_key.to_vec(),
    };
    let update = |epoch: u64, members: Vec<pb::GroupMember>| {
        content(pb::content::Body::GroupUpdate(pb::GroupUpdate {
            group_id: group.as_bytes().to_vec(),
            kind: 2,
            title: "Class 5B".into(),
            class_name: "5B".into(),
            members_may_post: true,
            epoch,
            members,
        }))
    };
    let text = content(pb::content::Body::Text(pb::Text {
        text: "The trip is on Friday".into(),
    }));
    let mut seeds = vec![
        (
            "update_newer",
            [
                vec![0, 0],
                update(3, vec![to_members(&peer), to_members(&me)]),
            ]
            .concat(),
        ),
        (
            "update_removes_me",
            [vec![0, 0], update(4, vec![to_members(&peer)])].concat(),
        ),
        ("update_from_parent_new_group", {
            let mut bytes = update(1, vec![to_members(&peer), to_members(&me)]);
            bytes.iter_mut().skip(6).take(4).for_each(|b| *b ^= 0x11);
            [vec![1, 0], bytes].concat()
        }),
        (
            "key_again",
            [
                vec![0, 0],
                content(pb::content::Body::GroupKey(pb::GroupKey {
                    group_id: group.as_bytes().to_vec(),
                    distribution: key.to_bytes(),
                })),
            ]
            .concat(),
        ),
        (
            "key_unknown_group",
            [
                vec![2, 0],
                content(pb::content::Body::GroupKey(pb::GroupKey {
                    group_id: vec![1; 16],
                    distribution: key.to_bytes(),
                })),
            ]
            .concat(),
        ),
        (
            "receipt",
            [
                vec![1, 0],
                content(pb::content::Body::ReadReceipt(pb::ReadReceipt {
                    group_id: group.as_bytes().to_vec(),
                    message_ids: vec![vec![9; 16]],
                })),
            ]
            .concat(),
        ),
    ];
    let message = peer_session.encrypt(&text, NOW).ok()?;
    seeds.push(("message_on_queue", [vec![0, 1], message.clone()].concat()));
    seeds.push(("message_on_mailbox", [vec![0, 2], message.clone()].concat()));
    let mut flipped = message;
    if let Some(byte) = flipped.get_mut(60) {
        *byte ^= 1;
    }
    seeds.push(("message_flipped", [vec![0, 1], flipped].concat()));
    Some(Fixture {
        store: Mutex::new(store),
        root,
        me,
        peer: peer_account.certificate().clone(),
        group,
        seeds,
    })
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(build).as_ref()
}

fn status(selector: u8) -> SenderStatus {
    let verified = |role| {
        SenderStatus::Verified(VerifiedMember {
            display_name: "Fuzz".into(),
            role,
            classes: vec!["5B".into()],
            grant_id: GrantId::from_bytes([3; 16]),
            valid_until: NOW + 3_600,
        })
    };
    match selector % 3 {
        0 => verified(Role::Teacher),
        1 => verified(Role::Parent),
        _ => SenderStatus::Unverified(UnverifiedReason::NoCertificate),
    }
}

/// The fuzz target (see the module documentation).
pub fn group_content(data: &[u8]) {
    let Some(f) = fixture() else {
        return;
    };
    let (Some(&selector), Some(&path), Some(rest)) = (data.first(), data.get(1), data.get(2..))
    else {
        return;
    };
    let Ok(mut store) = f.store.lock() else {
        return;
    };
    let verifier = Verifier::new(&f.root, None, NOW);
    let result: Result<(), StoreError> = store.write(|w| {
        let outcome = match path % 3 {
            0 => {
                let Ok(content) = pb::Content::decode(rest) else {
                    return Err(StoreError::Conflict);
                };
                match &content.body {
                    Some(pb::content::Body::GroupUpdate(update)) => {
                        receive_update(w, &status(selector), &f.peer, &f.me, update)
                    }
                    Some(pb::content::Body::GroupKey(key)) => receive_key(w, &f.peer, None, key),
                    Some(pb::content::Body::ReadReceipt(receipt)) => {
                        receive_receipt(w, &status(selector), &f.peer, &f.me, receipt)
                    }
                    _ => return Err(StoreError::Conflict),
                }
            }
            1 => receive_message(w, &verifier, rest, Some(&f.peer)),
            _ => receive_message(w, &verifier, rest, None),
        };
        // Only a failure of the store itself may be an error here.
        assert!(
            !matches!(outcome, Err(StoreError::Corrupted(_))),
            "group content damaged the store"
        );
        let stored = w.group(f.group.as_bytes());
        assert!(
            matches!(&stored, Ok(Some(bytes)) if GroupRecord::decode(bytes).is_ok()),
            "the group's record no longer loads"
        );
        Err(StoreError::Conflict) // roll back: every input meets the same state
    });
    assert!(matches!(result, Err(StoreError::Conflict)));
}

/// The target's seeds.
#[must_use]
pub fn group_content_seeds() -> Vec<Seed> {
    let Some(f) = fixture() else {
        return Vec::new();
    };
    f.seeds
        .iter()
        .map(|(name, bytes)| Seed {
            target: "group_content",
            name,
            bytes: bytes.clone(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn seeds_run_clean_and_reach_the_deep_paths() {
        let seeds = group_content_seeds();
        assert!(seeds.len() >= 8);
        for seed in &seeds {
            group_content(&seed.bytes);
        }
        // A genuine message on the peer's queue decrypts (and is rolled back).
        let f = fixture().unwrap();
        let message = &seeds
            .iter()
            .find(|s| s.name == "message_on_queue")
            .unwrap()
            .bytes;
        let mut store = f.store.lock().unwrap();
        let verifier = Verifier::new(&f.root, None, NOW);
        let outcome: Result<bool, StoreError> = store.write(|w| {
            let read = receive_message(w, &verifier, &message[2..], Some(&f.peer))?;
            let _ = w.group(f.group.as_bytes());
            Err::<bool, _>(StoreError::Corrupted(
                if matches!(read, crate::sync::Outcome::Message(_)) {
                    "message"
                } else {
                    "other"
                },
            ))
        });
        assert_eq!(
            outcome.unwrap_err().to_string(),
            StoreError::Corrupted("message").to_string()
        );
    }

    /// Writes `fuzz/seeds/group_content/`:
    /// `cargo test -p satchel-client --lib groups::fuzz::tests::write_seeds -- --ignored`
    #[test]
    #[ignore = "writes fuzz/seeds/"]
    fn write_seeds() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/group_content");
        std::fs::create_dir_all(&dir).unwrap();
        for seed in group_content_seeds() {
            std::fs::write(dir.join(seed.name), &seed.bytes).unwrap();
        }
    }
}
