//! Known-answer vectors for Satchel's own formats and KDF chains.
//!
//! `tests/vectors/v1.json` is checked in. The test recomputes every vector and compares:
//! any change in bytes fails. To create the file after an *intended* format change (which
//! also needs a new format version), run with `SATCHEL_WRITE_VECTORS=1` and review the diff.

use std::path::PathBuf;

use satchel_core::internal::{decrypt_header, encrypt_header, kdf_chain, kdf_root};
use satchel_core::{Account, AccountId, Envelope, Fingerprint, SafetyNumber, Session, padme};
use serde_json::{Value, json};

use crate::support::{rng, wire};

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn filled(seed: u8) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    bytes
}

fn root_vectors() -> Value {
    (0..3u8)
        .map(|i| {
            let (root, dh) = (filled(i), filled(i + 100));
            let (next, chain, header) = kdf_root(root, dh);
            json!({"root": hex(&root), "dh_output": hex(&dh), "next_root": hex(&next),
                   "chain_key": hex(&chain), "next_header_key": hex(&header)})
        })
        .collect()
}

fn chain_vectors() -> Value {
    let mut chain = filled(7);
    let mut out = Vec::new();
    for index in 0..4u32 {
        let (message_key, nonce, next) = kdf_chain(chain, index).unwrap();
        out.push(
            json!({"chain_key": hex(&chain), "index": index, "message_key": hex(&message_key),
                        "header_nonce": hex(&nonce), "next_chain_key": hex(&next)}),
        );
        chain = next;
    }
    assert!(
        kdf_chain(chain, u32::MAX).is_none(),
        "the last index has no successor"
    );
    Value::Array(out)
}

fn header_vectors() -> Value {
    [(0u32, 0u32), (3, 17), (u32::MAX, 65_536)]
        .iter()
        .enumerate()
        .map(|(i, &(pn, n))| {
            let key = filled(40 + i as u8);
            let ratchet_key = filled(50 + i as u8);
            let mut nonce = [0u8; 12];
            nonce.copy_from_slice(&filled(60 + i as u8)[..12]);
            let aad = [1u8; 17];
            let encrypted = encrypt_header(key, nonce, ratchet_key, pn, n, &aad);
            assert_eq!(decrypt_header(key, &encrypted, &aad), Some((ratchet_key, pn, n)));
            json!({"header_key": hex(&key), "nonce": hex(&nonce), "ratchet_key": hex(&ratchet_key),
                   "previous_chain_length": pn, "index": n, "aad": hex(&aad), "encrypted": hex(&encrypted)})
        })
        .collect()
}

fn padme_vectors() -> Value {
    [
        0usize, 1, 2, 9, 17, 100, 101, 255, 256, 1_000, 1_025, 4_097, 65_537, 262_145,
    ]
    .iter()
    .map(|&len| json!([len, padme(len)]))
    .collect()
}

fn fingerprint_vectors() -> Value {
    let a = (AccountId::from_bytes([1; 16]), filled(1));
    let b = (AccountId::from_bytes([2; 16]), filled(2));
    let fa = Fingerprint::of(&a.0, &a.1);
    let fb = Fingerprint::of(&b.0, &b.1);
    json!({"a": {"account_id": hex(a.0.as_bytes()), "account_key": hex(&a.1), "fingerprint": fa.digits()},
           "b": {"account_id": hex(b.0.as_bytes()), "account_key": hex(&b.1), "fingerprint": fb.digits()},
           "safety_number": SafetyNumber::between(&fa, &fb).digits()})
}

/// A whole deterministic conversation: the sealed first contact, the reply on a queue
/// (with a DH step) and a steady-state message.
fn conversation_vectors() -> Value {
    let mut rng = rng(77);
    let teacher = Account::new(&mut rng);
    let mut parent = Account::new(&mut rng);
    let bundle = parent.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut to_parent = Session::initiate(&teacher, &bundle, &mut rng).unwrap();
    let first = to_parent
        .encrypt(b"Hello from Ms Rivera, class 5B.", &mut rng)
        .unwrap();
    let contact = parent.open_first_contact(&wire(&first)).unwrap();
    let mut to_teacher = parent.accept(&contact, &mut rng).unwrap().session;
    let reply = to_teacher.encrypt(b"Thank you!", &mut rng).unwrap();
    assert_eq!(to_parent.decrypt(&wire(&reply)).unwrap(), b"Thank you!");
    let steady = to_teacher.encrypt(b"See you at 9.", &mut rng).unwrap();
    assert_eq!(to_parent.decrypt(&wire(&steady)).unwrap(), b"See you at 9.");
    json!({
        "rng": "ChaCha20Rng, seed [77; 32]",
        "bundle": hex(&bundle.to_bytes()),
        "session_id": hex(to_parent.id().as_bytes()),
        "sealed_first_contact": hex(first.as_bytes()),
        "queue_envelope_with_dh_step": hex(reply.as_bytes()),
        "queue_envelope_steady": hex(steady.as_bytes()),
    })
}

/// School trust formats from a deterministic school: the invite code and record, the
/// grant, the member certificate, a revocation list and a directory entry.
fn school_vectors() -> Value {
    use satchel_core::school::{
        DirectoryEntry, DirectoryKey, EntryId, GrantRequest, Invite, RevocationList, Role,
        SchoolRoot,
    };
    use satchel_proto::Message;
    let mut rng = rng(78);
    let root = SchoolRoot::generate(&mut rng);
    let directory_key = DirectoryKey::generate(&mut rng);
    let request = GrantRequest {
        display_name: "Ms Rivera".into(),
        role: Role::Teacher,
        classes: vec!["5B".into(), "Choir".into()],
        valid_from: 1_790_000_000,
        valid_until: 1_821_536_000,
    };
    let invite = Invite::create(
        &root,
        request,
        &directory_key,
        "http://127.0.0.1:7878",
        &mut rng,
    )
    .unwrap();
    let keys = invite.code.keys();
    let contents = keys.open_record(&invite.record).unwrap();
    let account = Account::new(&mut rng);
    let member = keys
        .bind(
            contents.grant,
            account.account_id(),
            *account.certificate().account_key(),
        )
        .unwrap();
    let revocations =
        RevocationList::sign(&root, 3, 1_790_000_100, vec![invite.grant.id()]).unwrap();
    let entry_id = EntryId::random(&mut rng);
    let entry = DirectoryEntry {
        member: member.clone(),
        bundle: account.prekey_bundle(),
        bundle_id: [7; 16],
        updated_at: 1_790_000_200,
    }
    .seal(&directory_key, &root.school_id(), &entry_id, &mut rng)
    .unwrap();
    json!({
        "rng": "ChaCha20Rng, seed [78; 32]",
        "school_id": hex(root.school_id().as_bytes()),
        "root_key": hex(root.public().as_bytes()),
        "invite_code": invite.code.to_line(),
        "lookup_id": hex(&invite.lookup_id),
        "redeem_key": hex(&invite.redeem_key),
        "invite_record": hex(&invite.record),
        "grant": hex(&invite.grant.to_proto().encode_to_vec()),
        "member_certificate": hex(&member.to_bytes()),
        "revocation_list": hex(&revocations.to_bytes()),
        "directory_entry_id": hex(entry_id.as_bytes()),
        "directory_entry": hex(&entry),
    })
}

fn all_vectors() -> Value {
    json!({
        "kdf_root": root_vectors(),
        "kdf_chain": chain_vectors(),
        "header_encryption": header_vectors(),
        "padme": padme_vectors(),
        "fingerprints": fingerprint_vectors(),
        "conversation": conversation_vectors(),
        "school": school_vectors(),
    })
}

#[test]
fn known_answer_vectors_are_unchanged() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/v1.json");
    let actual = all_vectors();
    if !path.exists() {
        assert!(
            std::env::var_os("SATCHEL_WRITE_VECTORS").is_some(),
            "{} is missing; run with SATCHEL_WRITE_VECTORS=1 to create it",
            path.display()
        );
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        return;
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&actual[name], value, "vector set `{name}` changed");
    }
    assert_eq!(actual, expected);
}

#[test]
fn stored_envelopes_still_decrypt() {
    // The stored bytes (not just freshly generated ones) must open.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/v1.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return; // created by the test above on first run
    };
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let conversation = &vectors["conversation"];
    let bytes = |name: &str| hex::decode(conversation[name].as_str().unwrap()).unwrap();
    let mut rng = rng(77);
    let teacher = Account::new(&mut rng);
    let mut parent = Account::new(&mut rng);
    let _ = parent.prekey_bundle_with_one_time_prekey(&mut rng);
    let first = Envelope::from_bytes(&bytes("sealed_first_contact")).unwrap();
    let contact = parent.open_first_contact(&first).unwrap();
    assert_eq!(contact.sender(), teacher.certificate());
    let inbound = parent.accept(&contact, &mut rng).unwrap();
    assert_eq!(inbound.plaintext, b"Hello from Ms Rivera, class 5B.");
}
