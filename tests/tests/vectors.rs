//! Known-answer vectors for Satchel's own formats and KDF chains.
//!
//! `tests/vectors/v2.json` is checked in (it replaced `v1.json` when session format 2
//! changed the session-init KDF and the ratchet plaintext; every other set carried over
//! byte for byte). The test recomputes every vector and compares: any change in bytes
//! fails. To create the file after an *intended* format change (which also needs a new
//! format version), run with `SATCHEL_WRITE_VECTORS=1` and review the diff.
//!
//! The conversation vector lists every random value the session steps draw, in draw
//! order (`docs/PROTOCOL.md` §4.6), and the accounts' secrets, so an independent
//! implementation can regenerate every envelope without reproducing the RNG.
//! The queue, certificate, prekey-set, one-time-prekey, export and relay-request sets
//! list every input (secrets, ids, challenges, nonce) as an explicit field, with the
//! signed bytes.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::PathBuf;

use chacha20::ChaCha20Rng;
use rand_core::{Rng, TryCryptoRng, TryRng};
use satchel_core::internal::fuzz::{
    encrypt_session_frame, initiate_with_handshake_secret, parse_session_frame,
    session_associated_data, session_init_kdf,
};
use satchel_core::internal::{decrypt_header, encrypt_header, kdf_chain, kdf_root};
use satchel_core::{
    Account, AccountId, DecryptError, Envelope, Fingerprint, SafetyNumber, Session, padme,
};
use satchel_proto::{Message, v1 as pb};
use serde_json::{Value, json};

use crate::support::{rng, wire};

const VECTORS: &str = "vectors/v2.json";

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

/// `(RK_0, HK_A, HK_B)` from `SK` (session-init KDF, `docs/PROTOCOL.md` §4.2).
fn session_init_vectors() -> Value {
    (0..3u8)
        .map(|i| {
            let sk = filled(150 + i);
            let (root, hk_a, hk_b) = session_init_kdf(sk);
            json!({"sk": hex(&sk), "rk0": hex(&root), "hk_a": hex(&hk_a), "hk_b": hex(&hk_b)})
        })
        .collect()
}

/// Session frames (`docs/PROTOCOL.md` §6.8): valid ones with what they carry, invalid
/// ones with the error `Session::decrypt` reports for them.
fn session_frame_vectors() -> Value {
    let id = [0xa5u8; 16];
    let frame = |kind: u8, id: Option<&[u8]>, payload: &[u8]| {
        let mut f = vec![kind];
        f.extend_from_slice(id.unwrap_or_default());
        f.extend_from_slice(payload);
        f
    };
    let valid: Vec<Value> = [
        frame(0x00, None, b""),
        frame(0x00, None, b"ok"),
        frame(0x00, None, &[0x01; 20]),
        frame(0x01, Some(&id), b""),
        frame(0x01, Some(&id), b"Thank you!"),
    ]
    .iter()
    .map(|f| {
        let (reply, header_len) = parse_session_frame(f).unwrap();
        json!({"frame": hex(f), "kind": f[0],
               "reply_send_id": reply.map(|id| hex(id.as_bytes())),
               "payload": hex(&f[header_len..])})
    })
    .collect();
    let invalid: Vec<Value> = [
        Vec::new(),
        frame(0x02, None, b"future"),
        frame(0xff, None, b""),
        frame(0x01, Some(&id[..15]), b""),
        vec![0x01],
    ]
    .iter()
    .map(|f| {
        let error = parse_session_frame(f).unwrap_err();
        json!({"frame": hex(f), "error": format!("{error:?}")})
    })
    .collect();
    json!({"valid": valid, "invalid": invalid})
}

/// An RNG that records every draw, so that the vectors can list them.
struct Recording {
    inner: ChaCha20Rng,
    draws: Vec<Vec<u8>>,
}

impl Recording {
    fn take(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.draws)
    }
}

impl TryRng for Recording {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.fill_bytes(dst);
        self.draws.push(dst.to_vec());
        Ok(())
    }
}

impl TryCryptoRng for Recording {}

/// An RNG that hands out listed draws, one per request, of exactly the listed lengths.
struct Replay(VecDeque<Vec<u8>>);

impl TryRng for Replay {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let next = self.0.pop_front().expect("a listed draw");
        assert_eq!(next.len(), dst.len(), "draw of another length");
        dst.copy_from_slice(&next);
        Ok(())
    }
}

impl TryCryptoRng for Replay {}

/// Checks a step's draws against the documented order and labels them.
fn draws(recorded: Vec<Vec<u8>>, uses: &[(&str, usize)]) -> Value {
    assert_eq!(
        recorded.iter().map(Vec::len).collect::<Vec<_>>(),
        uses.iter().map(|(_, len)| *len).collect::<Vec<_>>(),
        "the draw order differs from docs/PROTOCOL.md §4.6"
    );
    recorded
        .iter()
        .zip(uses)
        .map(|(bytes, (name, _))| json!({"use": name, "bytes": hex(bytes)}))
        .collect()
}

const INITIATE_DRAWS: [(&str, usize); 5] = [
    ("EK_A: X25519 secret of the initiator's ephemeral key", 32),
    ("m: ML-KEM-768 encapsulation randomness", 32),
    (
        "DHs: X25519 secret of the initiator's first ratchet key",
        32,
    ),
    ("S_A: send id of the initiator's inbound queue", 16),
    (
        "QK_A: Ed25519 secret of the initiator's inbound queue key",
        32,
    ),
];
const SEAL_DRAWS: [(&str, usize); 1] = [("E: X25519 secret of the sealed-box ephemeral key", 32)];
const ACCEPT_DRAWS: [(&str, usize); 2] = [
    ("S_B: send id of the responder's inbound queue", 16),
    (
        "QK_B: Ed25519 secret of the responder's inbound queue key",
        32,
    ),
];
const DH_STEP_DRAWS: [(&str, usize); 1] = [("DHs': X25519 secret of the new ratchet key", 32)];

/// The secrets of an account's stored state (`state.proto`), as explicit inputs.
fn account_vector(account: &Account) -> Value {
    let state = pb::AccountState::decode(account.to_bytes().as_slice()).unwrap();
    let mailbox = state.mailbox.clone().unwrap();
    json!({
        "account_secret": hex(&state.account_secret),
        "account_id": hex(&state.account_id),
        "device_id": hex(&state.device_id),
        "device_dh_secret": hex(&state.device_dh_secret),
        "device_signing_secret": hex(&state.device_signing_secret),
        "certificate": hex(&state.certificate.unwrap().encode_to_vec()),
        "mailbox_send_id": hex(&mailbox.send_id),
        "mailbox_auth_secret": hex(&mailbox.auth_secret),
        "signed_prekeys": state.signed_prekeys.iter()
            .map(|k| json!({"id": k.id, "secret": hex(&k.secret)})).collect::<Vec<_>>(),
        "kem_prekeys": state.kem_prekeys.iter()
            .map(|k| json!({"id": k.id, "seed": hex(&k.seed)})).collect::<Vec<_>>(),
        "one_time_prekeys": state.one_time_prekeys.iter()
            .map(|k| json!({"id": k.id, "secret": hex(&k.secret)})).collect::<Vec<_>>(),
    })
}

/// Hex of a session frame: kind, the reply send id if any, the payload.
fn frame_hex(reply: Option<&[u8]>, payload: &[u8]) -> String {
    let mut f = vec![u8::from(reply.is_some())];
    f.extend_from_slice(reply.unwrap_or_default());
    f.extend_from_slice(payload);
    hex(&f)
}

/// A whole deterministic conversation in session format 2: the sealed first contact
/// (announcing the teacher's queue), the parent's replies (announcing the parent's
/// queue, the first with a DH step), the teacher's first queue message (no
/// announcement), the parent's last message (it stopped announcing), and refused
/// messages: a tampered envelope and validly encrypted invalid frames.
fn conversation_vectors() -> Value {
    let mut setup = rng(77);
    let teacher = Account::new(&mut setup);
    let mut parent = Account::new(&mut setup);
    let bundle = parent.prekey_bundle_with_one_time_prekey(&mut setup);
    let parent_before = account_vector(&parent);
    let mut rng = Recording {
        inner: setup,
        draws: Vec::new(),
    };

    let (mut to_parent, sk) = initiate_with_handshake_secret(&teacher, &bundle, &mut rng).unwrap();
    let initiate = draws(rng.take(), &INITIATE_DRAWS);
    let s_a = to_parent.inbound_queue().send_id();
    assert_eq!(to_parent.outbound_send_id(), None);

    let p1 = b"Hello from Ms Rivera, class 5B.";
    let first = to_parent.encrypt(p1, &mut rng).unwrap();
    let first_draws = draws(rng.take(), &SEAL_DRAWS);
    let contact = parent.open_first_contact(&wire(&first)).unwrap();
    let inbound = parent.accept(&contact, &mut rng).unwrap();
    let accept = draws(rng.take(), &ACCEPT_DRAWS);
    assert_eq!(inbound.plaintext, p1);
    let mut to_teacher = inbound.session;
    let s_b = to_teacher.inbound_queue().send_id();
    assert_eq!(to_teacher.outbound_send_id(), Some(s_a));

    let p2 = b"Thank you!";
    let reply = to_teacher.encrypt(p2, &mut rng).unwrap();
    let reply_draws = draws(rng.take(), &DH_STEP_DRAWS);
    let p3 = b"See you at 9.";
    let steady = to_teacher.encrypt(p3, &mut rng).unwrap();
    let steady_draws = draws(rng.take(), &[]);
    assert_eq!(to_parent.decrypt(&wire(&reply)).unwrap(), p2);
    assert_eq!(to_parent.outbound_send_id(), Some(s_b));
    assert_eq!(to_parent.decrypt(&wire(&steady)).unwrap(), p3);

    let p4 = b"Great, see you then.";
    let teacher_reply = to_parent.encrypt(p4, &mut rng).unwrap();
    let teacher_reply_draws = draws(rng.take(), &DH_STEP_DRAWS);
    assert!(to_teacher.is_announcing());
    assert_eq!(to_teacher.decrypt(&wire(&teacher_reply)).unwrap(), p4);
    assert!(!to_teacher.is_announcing());
    let p5 = b"Bye.";
    let last = to_teacher.encrypt(p5, &mut rng).unwrap();
    let last_draws = draws(rng.take(), &DH_STEP_DRAWS);

    // Refused on arrival, each leaving the teacher's session as it was.
    let before = to_parent.to_bytes();
    let mut tampered = last.as_bytes().to_vec();
    *tampered.last_mut().unwrap() ^= 0x01;
    let refuse = |session: &mut Session, bytes: &[u8]| {
        let error = session
            .decrypt(&Envelope::from_bytes(bytes).unwrap())
            .unwrap_err();
        assert_eq!(
            session.to_bytes(),
            before,
            "a refused message changed the state"
        );
        error
    };
    let tampered_error = refuse(&mut to_parent, &tampered);
    assert_eq!(tampered_error, DecryptError::DecryptionFailed);
    let unknown_frame = b"\x02future frame kind";
    let unknown = encrypt_session_frame(&mut to_teacher, unknown_frame, &mut rng).unwrap();
    let short_frame = b"\x01\xa5\xa5\xa5";
    let short = encrypt_session_frame(&mut to_teacher, short_frame, &mut rng).unwrap();
    assert!(rng.take().is_empty());
    let unknown_error = refuse(&mut to_parent, unknown.as_bytes());
    let short_error = refuse(&mut to_parent, short.as_bytes());
    assert_eq!(to_parent.decrypt(&wire(&last)).unwrap(), p5);

    let (rk0, hk_a, hk_b) = session_init_kdf(sk);
    let step = |who: &str,
                what: &str,
                draws: Value,
                plaintext: &[u8],
                frame: String,
                envelope: &Envelope| {
        json!({"by": who, "call": what, "draws": draws, "payload": String::from_utf8_lossy(plaintext),
               "frame": frame, "envelope": hex(envelope.as_bytes())})
    };
    json!({
        "rng": "ChaCha20Rng, seed [77; 32]: Account::new (teacher), Account::new (parent), one prekey_bundle_with_one_time_prekey (parent); the session steps' draws are listed",
        "teacher": account_vector(&teacher),
        "parent": parent_before,
        "bundle": hex(&bundle.to_bytes()),
        "handshake": {
            "sk": hex(&sk),
            "rk0": hex(&rk0),
            "hk_a": hex(&hk_a),
            "hk_b": hex(&hk_b),
            "session_id": hex(to_parent.id().as_bytes()),
            "session_ad": hex(&session_associated_data(&to_parent)),
            "initiate_draws": initiate,
            "accept_draws": accept,
            "initiator_inbound_send_id": hex(s_a.as_bytes()),
            "responder_inbound_send_id": hex(s_b.as_bytes()),
        },
        "messages": [
            step("teacher", "encrypt (sealed first contact to the parent's mailbox)", first_draws, p1,
                 frame_hex(Some(s_a.as_bytes()), p1), &first),
            step("parent", "encrypt (to S_A, DH step, announcing S_B)", reply_draws, p2,
                 frame_hex(Some(s_b.as_bytes()), p2), &reply),
            step("parent", "encrypt (to S_A, announcing S_B)", steady_draws, p3,
                 frame_hex(Some(s_b.as_bytes()), p3), &steady),
            step("teacher", "encrypt (to S_B, DH step, after decrypting both)", teacher_reply_draws, p4,
                 frame_hex(None, p4), &teacher_reply),
            step("parent", "encrypt (to S_A, DH step, no longer announcing)", last_draws, p5,
                 frame_hex(None, p5), &last),
        ],
        "refused": [
            {"to": "teacher", "what": "the last message with its final byte flipped",
             "envelope": hex(&tampered), "error": format!("{tampered_error:?}")},
            {"to": "teacher", "what": "the parent's next message: a validly encrypted frame of unknown kind",
             "frame": hex(unknown_frame), "draws": [], "envelope": hex(unknown.as_bytes()),
             "error": format!("{unknown_error:?}")},
            {"to": "teacher", "what": "the parent's next message: a kind 0x01 frame with a 3-byte reply send id",
             "frame": hex(short_frame), "draws": [], "envelope": hex(short.as_bytes()),
             "error": format!("{short_error:?}")},
        ],
    })
}

/// School trust formats from a deterministic school: the invite code and record, the
/// grant, the member certificate, a revocation list and a directory entry.
fn school_vectors() -> Value {
    use satchel_core::school::{
        DirectoryEntry, DirectoryKey, EntryId, GrantRequest, Invite, Role, SchoolRoot,
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
        "",
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
    // Version 1, as admins signed lists before format 2 (these bytes are pinned).
    let revocations = satchel_core::internal::fuzz::sign_revocation_list_v1(
        &root,
        3,
        1_790_000_100,
        vec![invite.grant.id()],
    )
    .unwrap();
    let entry_id = EntryId::random(&mut rng);
    let entry = DirectoryEntry {
        member: member.clone(),
        bundle: account.prekey_bundle(),
        bundle_id: [7; 16],
        updated_at: 1_790_000_200,
    }
    .seal(&directory_key, &root.school_id(), &entry_id, &mut rng)
    .unwrap();
    // Admission (PROTOCOL §5.3): the signed string rebuilt here from the spec, the
    // root's signature over it, the admitted certificate, and a sealed admission request
    // for a fixed member key (drawn after everything above, so those bytes stay).
    let mut admission_bytes = b"Satchel admission v1".to_vec();
    admission_bytes.extend_from_slice(root.school_id().as_bytes());
    admission_bytes.extend_from_slice(invite.grant.id().as_bytes());
    admission_bytes.extend_from_slice(account.account_id().as_bytes());
    admission_bytes.extend_from_slice(account.certificate().account_key());
    assert_eq!(admission_bytes.len(), 100);
    let admitted = member.clone().admit(&root).unwrap();
    let admission = *admitted.admission().unwrap();
    assert!(satchel_core::internal::fuzz::ed25519_verify(
        root.public().as_bytes(),
        &admission_bytes,
        &admission
    ));
    let member_key = [9u8; 32];
    let sealed_request = member
        .seal_admission_request(&directory_key, &root.school_id(), &member_key, &mut rng)
        .unwrap();
    // A directory key update for epoch 1 (PROTOCOL §5.6): the signed string rebuilt here.
    let update =
        satchel_core::school::DirectoryKeyUpdate::sign(&root, 1, DirectoryKey::generate(&mut rng));
    let commitment = {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        hash.update(b"Satchel directory key commitment v1");
        hash.update(update.key().as_bytes());
        hash.finalize()
    };
    let mut key_update_bytes = b"Satchel directory key v1".to_vec();
    key_update_bytes.extend_from_slice(root.school_id().as_bytes());
    key_update_bytes.extend_from_slice(&1u32.to_be_bytes());
    key_update_bytes.extend_from_slice(&commitment);
    assert_eq!(key_update_bytes.len(), 76);
    let update_proto = update.to_proto();
    // An office (PROTOCOL §5.8): the root grants and admits "Front office" (admin); the
    // office grants "Mr Oak" and admits his account; its signature covers the root's
    // message prefixed with "Satchel office v1" and its grant id.
    let (office_account, office_cert) = enrolled(
        &root,
        "Front office",
        Role::Admin,
        &[],
        &directory_key,
        &mut rng,
    );
    let office =
        satchel_core::school::Office::new(&office_account, office_cert, &root.public()).unwrap();
    let (oak_account, oak) = enrolled(
        &office,
        "Mr Oak",
        Role::Teacher,
        &["5C"],
        &directory_key,
        &mut rng,
    );
    // The office's admission, rebuilt from the spec: "Satchel office v1" || the office's
    // grant id || the 100-byte admission string, signed by the office's account key.
    let mut office_admission = b"Satchel office v1".to_vec();
    office_admission.extend_from_slice(office.certificate().grant().id().as_bytes());
    office_admission.extend_from_slice(b"Satchel admission v1");
    office_admission.extend_from_slice(root.school_id().as_bytes());
    office_admission.extend_from_slice(oak.grant().id().as_bytes());
    office_admission.extend_from_slice(oak_account.account_id().as_bytes());
    office_admission.extend_from_slice(oak_account.certificate().account_key());
    assert!(satchel_core::internal::fuzz::ed25519_verify(
        office_account.certificate().account_key(),
        &office_admission,
        oak.admission().unwrap()
    ));
    assert!(satchel_core::internal::fuzz::ed25519_verify(
        root.public().as_bytes(),
        &key_update_bytes,
        &update_proto.signature
    ));
    json!({
        "rng": "ChaCha20Rng, seed [78; 32]",
        "admission_signed_bytes": hex(&admission_bytes),
        "admission": hex(&admission),
        "admitted_member_certificate": hex(&admitted.to_bytes()),
        "admission_request_member_key": hex(&member_key),
        "sealed_admission_request": hex(&sealed_request),
        "directory_key_update_signed_bytes": hex(&key_update_bytes),
        "directory_key_update": hex(&update_proto.encode_to_vec()),
        "office_member_certificate": hex(&office.certificate().to_bytes()),
        "office_issued_member_certificate": hex(&oak.to_bytes()),
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

/// A member invited, bound and admitted by `authority` (the root or an office), valid
/// 1,790,000,000 to 1,821,536,000: its account and certificate.
fn enrolled(
    authority: &impl satchel_core::school::Authority,
    name: &str,
    role: satchel_core::school::Role,
    classes: &[&str],
    directory_key: &satchel_core::school::DirectoryKey,
    rng: &mut ChaCha20Rng,
) -> (Account, satchel_core::school::MemberCertificate) {
    let request = satchel_core::school::GrantRequest {
        display_name: name.into(),
        role,
        classes: classes.iter().map(|c| (*c).to_owned()).collect(),
        valid_from: 1_790_000_000,
        valid_until: 1_821_536_000,
    };
    let invite = satchel_core::school::Invite::create(
        authority,
        "",
        request,
        directory_key,
        "http://127.0.0.1:7878",
        rng,
    )
    .unwrap();
    let account = Account::new(rng);
    let keys = invite.code.keys();
    let member = keys
        .bind(
            keys.open_record(&invite.record).unwrap().grant,
            account.account_id(),
            *account.certificate().account_key(),
        )
        .unwrap()
        .admit(authority)
        .unwrap();
    (account, member)
}

/// A version 2 revocation list (`docs/PROTOCOL.md` §5.5): the entries given (one expired
/// beyond the pruning margin, one of unknown expiry), the signed bytes rebuilt here from
/// the spec, and the encoded list.
fn revocation_list_v2_vectors() -> Value {
    use satchel_core::internal::fuzz::ed25519_verify;
    use satchel_core::school::{
        GrantId, PRUNE_MARGIN_SECS, RevocationList, RevokedGrant, SchoolRoot, UNKNOWN_EXPIRY,
    };
    let mut rng = rng(79);
    let root = SchoolRoot::generate(&mut rng);
    let (sequence, issued_at) = (9u64, 1_800_000_000u64);
    let given = [
        (array::<16>(&filled(41)[..16]), 1_900_000_000u64),
        (
            array::<16>(&filled(42)[..16]),
            issued_at - PRUNE_MARGIN_SECS - 1,
        ),
        (array::<16>(&filled(43)[..16]), UNKNOWN_EXPIRY),
        (array::<16>(&filled(44)[..16]), issued_at - 1),
    ];
    let entries: Vec<RevokedGrant> = given
        .iter()
        .map(|(id, valid_until)| RevokedGrant {
            id: GrantId::from_bytes(*id),
            valid_until: *valid_until,
        })
        .collect();
    let list = RevocationList::sign(&root, sequence, issued_at, entries).unwrap();
    let kept: Vec<RevokedGrant> = list.entries().collect();
    assert_eq!(
        kept.len(),
        3,
        "exactly the grant expired beyond the margin is left out"
    );
    let mut signed = b"Satchel revocation list v2".to_vec();
    signed.extend_from_slice(root.school_id().as_bytes());
    signed.extend_from_slice(&sequence.to_be_bytes());
    signed.extend_from_slice(&issued_at.to_be_bytes());
    signed.extend_from_slice(&(kept.len() as u32).to_be_bytes());
    for entry in &kept {
        signed.extend_from_slice(entry.id.as_bytes());
        signed.extend_from_slice(&entry.valid_until.to_be_bytes());
    }
    let encoded = list.to_bytes();
    let proto = pb::RevocationList::decode(encoded.as_slice()).unwrap();
    assert!(ed25519_verify(
        root.public().as_bytes(),
        &signed,
        &proto.signature
    ));
    json!({
        "rng": "ChaCha20Rng, seed [79; 32]",
        "root_key": hex(root.public().as_bytes()),
        "school_id": hex(root.school_id().as_bytes()),
        "sequence": sequence,
        "issued_at": issued_at,
        "prune_margin_secs": PRUNE_MARGIN_SECS,
        "given": given.iter().map(|(id, valid_until)| json!({
            "grant_id": hex(id), "valid_until": valid_until
        })).collect::<Vec<_>>(),
        "signed_bytes": hex(&signed),
        "signature": hex(&proto.signature),
        "revocation_list": hex(&encoded),
    })
}

/// `bytes` as a fixed-size array (test inputs of known length).
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap()
}

/// Queue receive ids and fetch proofs (`docs/PROTOCOL.md` §8): from the queue key's
/// secret and a challenge, `QK_pub`, the receive id, the signed message and the proof;
/// then proofs the relay check refuses.
fn queue_vectors() -> Value {
    use satchel_core::internal::fuzz::{
        ed25519_public, ed25519_sign, ed25519_verify, queue_keys_from_parts,
    };
    use satchel_core::relay_request::RelayRequest;
    use satchel_core::{ReceiveId, verify_fetch_proof};
    const LABEL: &[u8] = b"Satchel queue fetch proof v1";
    let keys: Vec<_> = (0..3u8)
        .map(|i| {
            let secret = filled(200 + i);
            let send_id: [u8; 16] = array(&filled(210 + i)[..16]);
            (send_id, secret, queue_keys_from_parts(send_id, secret))
        })
        .collect();
    let target = format!(
        "/v1/queues/{}/messages?after=17&limit=50",
        hex(keys[2].2.receive_id().as_bytes())
    );
    let challenges: [Vec<u8>; 3] = [
        Vec::new(),
        filled(220).to_vec(),
        RelayRequest {
            method: "GET",
            path_and_query: &target,
            timestamp: 1_763_900_000,
            nonce: array(&filled(230)[..16]),
            body: b"",
        }
        .message(),
    ];
    let signed = |receive_id: &ReceiveId, challenge: &[u8]| {
        [LABEL, receive_id.as_bytes(), challenge].concat()
    };
    let mut proofs = Vec::new();
    let valid: Vec<Value> = keys
        .iter()
        .zip(&challenges)
        .map(|((send_id, secret, queue), challenge)| {
            let qk_pub = queue.auth_key();
            assert_eq!(qk_pub, ed25519_public(*secret));
            let receive_id = queue.receive_id();
            assert_eq!(ReceiveId::for_key(&qk_pub), receive_id);
            assert_eq!(queue.send_id().as_bytes(), send_id);
            let message = signed(&receive_id, challenge);
            let proof = queue.prove(challenge);
            assert!(ed25519_verify(&qk_pub, &message, &proof));
            assert!(verify_fetch_proof(&receive_id, &qk_pub, challenge, &proof));
            proofs.push(proof);
            json!({"qk_secret": hex(secret), "send_id": hex(send_id), "challenge": hex(challenge),
                   "qk_pub": hex(&qk_pub), "receive_id": hex(receive_id.as_bytes()),
                   "signed_message": hex(&message), "proof": hex(&proof), "verifies": true})
        })
        .collect();
    let (q0, q1) = (&keys[0].2, &keys[1].2);
    let (rid0, rid1) = (q0.receive_id(), q1.receive_id());
    let other_id_message = signed(&rid1, &challenges[0]);
    let over_other_id = ed25519_sign(keys[0].1, &other_id_message);
    let refused = [
        (
            "case 0's proof, checked against another challenge (case 1's)",
            rid0,
            q0.auth_key(),
            challenges[1].clone(),
            proofs[0].to_vec(),
            None,
        ),
        (
            "case 0's key signing the fetch-proof message of case 1's receive id, checked for case 0's receive id",
            rid0,
            q0.auth_key(),
            challenges[0].clone(),
            over_other_id.to_vec(),
            Some(other_id_message),
        ),
        (
            "case 0's proof and key, checked for case 1's receive id (the id does not belong to the key)",
            rid1,
            q0.auth_key(),
            challenges[0].clone(),
            proofs[0].to_vec(),
            None,
        ),
        (
            "case 0's proof with its last byte flipped",
            rid0,
            q0.auth_key(),
            challenges[0].clone(),
            {
                let mut p = proofs[0].to_vec();
                *p.last_mut().unwrap() ^= 0x01;
                p
            },
            None,
        ),
    ]
    .into_iter()
    .map(|(what, receive_id, qk_pub, challenge, proof, signed_message)| {
        assert!(!verify_fetch_proof(&receive_id, &qk_pub, &challenge, &proof));
        let mut case = json!({"what": what, "receive_id": hex(receive_id.as_bytes()),
                              "qk_pub": hex(&qk_pub), "challenge": hex(&challenge),
                              "proof": hex(&proof), "verifies": false});
        if let Some(message) = signed_message {
            case["signed_message"] = json!(hex(&message));
        }
        case
    })
    .collect::<Vec<_>>();
    json!({"valid": valid, "refused": refused})
}

/// The secrets of a deterministic account the identity, prekey and export vectors share,
/// after it published one bundle with a one-time prekey.
fn identity_account() -> (Account, pb::AccountState) {
    let mut rng = rng(79);
    let mut account = Account::new(&mut rng);
    let _ = account.prekey_bundle_with_one_time_prekey(&mut rng);
    let state = pb::AccountState::decode(account.to_bytes().as_slice()).unwrap();
    (account, state)
}

/// The device certificate (`docs/PROTOCOL.md` §2.1) from explicit secrets and ids: the
/// public keys, the 157 signed bytes, the signature, the protobuf encoding and the
/// certificate digest `CD`; the account's fingerprint (§2.2); a refused certificate.
fn certificate_vectors() -> Value {
    use satchel_core::DeviceCertificate;
    use satchel_core::internal::fuzz::{
        certificate_digest, ed25519_public, ed25519_verify, issue_device_certificate, x25519_public,
    };
    let (account, state) = identity_account();
    let account_secret: [u8; 32] = array(&state.account_secret);
    let account_id: [u8; 16] = array(&state.account_id);
    let device_id: [u8; 16] = array(&state.device_id);
    let dh_secret: [u8; 32] = array(&state.device_dh_secret);
    let signing_secret: [u8; 32] = array(&state.device_signing_secret);
    let certificate = issue_device_certificate(
        account_secret,
        account_id,
        device_id,
        dh_secret,
        signing_secret,
    );
    assert_eq!(&certificate, account.certificate());
    let account_key = ed25519_public(account_secret);
    let signed = [
        b"Satchel device certificate v1".as_slice(),
        &account_id,
        &account_key,
        &device_id,
        &x25519_public(dh_secret),
        &ed25519_public(signing_secret),
    ]
    .concat();
    assert_eq!(signed.len(), 157);
    let proto = certificate.to_proto();
    assert!(ed25519_verify(&account_key, &signed, &proto.signature));
    let digest = certificate_digest(&certificate);
    let mut flipped = proto.clone();
    flipped.signature[0] ^= 0x01;
    let error = DeviceCertificate::from_proto(&flipped).unwrap_err();
    assert!(DeviceCertificate::from_proto(&proto).is_ok());
    let fingerprint = Fingerprint::of(&AccountId::from_bytes(account_id), &account_key);
    json!({
        "rng": "ChaCha20Rng, seed [79; 32]: Account::new, then one prekey_bundle_with_one_time_prekey; every value used is listed",
        "account_secret": hex(&account_secret),
        "account_id": hex(&account_id),
        "device_id": hex(&device_id),
        "device_dh_secret": hex(&dh_secret),
        "device_signing_secret": hex(&signing_secret),
        "account_key": hex(&account_key),
        "device_dh_key": hex(&x25519_public(dh_secret)),
        "device_signing_key": hex(&ed25519_public(signing_secret)),
        "signed_bytes": hex(&signed),
        "signature": hex(&proto.signature),
        "certificate": hex(&proto.encode_to_vec()),
        "certificate_digest": hex(&digest),
        "fingerprint": fingerprint.digits(),
        "refused": [{"what": "the certificate with bit 0 of signature byte 0 flipped",
                     "certificate": hex(&flipped.encode_to_vec()),
                     "error": format!("{error:?}")}],
    })
}

/// Prekey set signatures and bundles (`docs/PROTOCOL.md` §3.1, §3.2) from the explicit
/// secrets of the certificate vector's account; refused bundles.
fn prekey_set_vectors() -> Value {
    use satchel_core::internal::fuzz::{
        ed25519_public, ed25519_verify, kem_public_from_seed, prekey_set_signed_bytes,
        sign_prekey_bundle, x25519_public,
    };
    use satchel_core::{DeviceCertificate, PrekeyBundle};
    let (account, state) = identity_account();
    let signing_secret: [u8; 32] = array(&state.device_signing_secret);
    let certificate = DeviceCertificate::from_proto(state.certificate.as_ref().unwrap()).unwrap();
    let mailbox: [u8; 16] = array(&state.mailbox.as_ref().unwrap().send_id);
    let spk = &state.signed_prekeys[0];
    let kem = &state.kem_prekeys[0];
    let opk = &state.one_time_prekeys[0];
    let (spk_secret, kem_seed, opk_secret): ([u8; 32], [u8; 64], [u8; 32]) =
        (array(&spk.secret), array(&kem.seed), array(&opk.secret));
    let spk_pub = x25519_public(spk_secret);
    let kem_pub = kem_public_from_seed(&kem_seed);
    let opk_pub = x25519_public(opk_secret);
    let signed = prekey_set_signed_bytes(mailbox, spk.id, &spk_pub, kem.id, &kem_pub);
    let by_layout = [
        b"Satchel prekey set v1".as_slice(),
        &mailbox,
        &spk.id.to_be_bytes(),
        &spk_pub,
        &kem.id.to_be_bytes(),
        &kem_pub,
    ]
    .concat();
    assert_eq!(signed, by_layout);
    assert_eq!(signed.len(), 1_261);
    let bundle = |one_time| {
        sign_prekey_bundle(
            certificate.clone(),
            signing_secret,
            mailbox,
            (spk.id, spk_secret),
            (kem.id, kem_seed),
            one_time,
        )
        .unwrap()
    };
    let without = bundle(None);
    let with = bundle(Some((opk.id, opk_secret)));
    assert_eq!(without.to_bytes(), account.prekey_bundle().to_bytes());
    let signature = without.to_proto().prekey_signature;
    assert_eq!(signature, with.to_proto().prekey_signature);
    assert!(ed25519_verify(
        &ed25519_public(signing_secret),
        &signed,
        &signature
    ));
    for b in [&without, &with] {
        assert!(PrekeyBundle::from_bytes(&b.to_bytes()).is_ok());
    }
    let refuse = |what: &str, edit: &dyn Fn(&mut pb::PrekeyBundle)| {
        let mut proto = with.to_proto();
        edit(&mut proto);
        let bytes = proto.encode_to_vec();
        let error = PrekeyBundle::from_bytes(&bytes).unwrap_err();
        json!({"what": what, "bundle": hex(&bytes), "error": format!("{error:?}")})
    };
    json!({
        "rng": "the certificate vector's account (ChaCha20Rng, seed [79; 32]); every value used is listed",
        "certificate": hex(&certificate.to_proto().encode_to_vec()),
        "device_signing_secret": hex(&signing_secret),
        "mailbox_send_id": hex(&mailbox),
        "signed_prekey_id": spk.id,
        "signed_prekey_secret": hex(&spk_secret),
        "signed_prekey": hex(&spk_pub),
        "kem_prekey_id": kem.id,
        "kem_prekey_seed": hex(&kem_seed),
        "kem_prekey": hex(&kem_pub),
        "one_time_prekey_id": opk.id,
        "one_time_prekey_secret": hex(&opk_secret),
        "one_time_prekey": hex(&opk_pub),
        "signed_bytes": hex(&signed),
        "prekey_signature": hex(&signature),
        "bundle": hex(&without.to_bytes()),
        "bundle_with_one_time_prekey": hex(&with.to_bytes()),
        "refused": [
            refuse("bundle_with_one_time_prekey with bit 0 of prekey_signature byte 0 flipped",
                   &|p| p.prekey_signature[0] ^= 0x01),
            refuse("bundle_with_one_time_prekey with the signed prekey id changed to 7 (the signature covers the id)",
                   &|p| p.signed_prekey.as_mut().unwrap().id = 7),
        ],
    })
}

/// One-time prekey signatures (`docs/PROTOCOL.md` §3.3) from the explicit secrets of the
/// certificate vector's account and an explicit bundle id; refused keys.
fn one_time_prekey_vectors() -> Value {
    use satchel_core::internal::fuzz::{ed25519_sign, x25519_public};
    use satchel_core::{BundleError, BundleId, PrekeyBundle, SignedOneTimePrekey};
    let (account, mut state) = identity_account();
    let signing_secret: [u8; 32] = array(&state.device_signing_secret);
    let opk = state.one_time_prekeys[0].clone();
    let opk_secret: [u8; 32] = array(&opk.secret);
    let opk_pub = x25519_public(opk_secret);
    let bundle_id: [u8; 16] = array(&filled(250)[..16]);
    let signed = [
        b"Satchel one-time prekey v1".as_slice(),
        &bundle_id,
        &opk.id.to_be_bytes(),
        &opk_pub,
    ]
    .concat();
    assert_eq!(signed.len(), satchel_core::ONE_TIME_PREKEY_SIGNED_LEN);
    let signature = ed25519_sign(signing_secret, &signed);
    // Core signs the same bytes (Ed25519 is deterministic) for a key not yet published.
    state.one_time_prekeys[0].published = false;
    let unpublished = Account::from_bytes(&state.encode_to_vec()).unwrap();
    let by_core = unpublished.unpublished_one_time_prekeys(&BundleId::from_bytes(bundle_id));
    assert_eq!(by_core.len(), 1);
    assert_eq!(
        (by_core[0].id, by_core[0].public_key, by_core[0].signature),
        (opk.id, opk_pub, signature)
    );
    let bundle = PrekeyBundle::from_bytes(&account.prekey_bundle().to_bytes()).unwrap();
    let key = SignedOneTimePrekey::from_parts(opk.id, &opk_pub, &signature).unwrap();
    let with = bundle
        .clone()
        .with_one_time_prekey(&BundleId::from_bytes(bundle_id), &key)
        .unwrap();
    assert_eq!(with.one_time_prekey_id(), Some(opk.id));
    let refuse = |what: &str, id: u32, signature: &[u8], bundle_id: [u8; 16]| {
        let error = SignedOneTimePrekey::from_parts(id, &opk_pub, signature).and_then(|key| {
            bundle
                .clone()
                .with_one_time_prekey(&BundleId::from_bytes(bundle_id), &key)
        });
        let error = error.unwrap_err();
        assert!(matches!(
            error,
            BundleError::BadOneTimePrekeySignature | BundleError::MissingOneTimePrekeySignature
        ));
        json!({"what": what, "id": id, "signature": hex(signature), "bundle_id": hex(&bundle_id),
               "error": format!("{error:?}")})
    };
    let mut flipped = signature;
    flipped[0] ^= 0x01;
    let mut other_bundle = bundle_id;
    other_bundle[15] ^= 0x01;
    json!({
        "rng": "the certificate vector's account (ChaCha20Rng, seed [79; 32]); every value used is listed",
        "certificate": hex(&state.certificate.as_ref().unwrap().encode_to_vec()),
        "device_signing_secret": hex(&signing_secret),
        "bundle_id": hex(&bundle_id),
        "one_time_prekey_id": opk.id,
        "one_time_prekey_secret": hex(&opk_secret),
        "one_time_prekey": hex(&opk_pub),
        "signed_bytes": hex(&signed),
        "signature": hex(&signature),
        "uploaded": hex(&key.to_proto().encode_to_vec()),
        "refused": [
            refuse("bit 0 of signature byte 0 flipped", opk.id, &flipped, bundle_id),
            refuse("signed for another bundle id (last byte flipped)", opk.id, &signature, other_bundle),
            refuse("key id changed to id + 1 (the signature covers the id)", opk.id + 1, &signature, bundle_id),
            refuse("no signature", opk.id, &[], bundle_id),
        ],
    })
}

/// The encrypted export (`docs/PROTOCOL.md` §9) of the certificate vector's account
/// under an explicit key and nonce; a wrong key is refused.
fn export_vectors() -> Value {
    use satchel_core::internal::fuzz::aead_seal;
    use satchel_core::storage::export::{ExportKey, export_account, import_account};
    let (account, state) = identity_account();
    let key = filled(240);
    let nonce: [u8; 12] = array(&filled(241)[..12]);
    let plaintext = pb::ExportedState {
        version: 1,
        state: Some(pb::exported_state::State::Account(state)),
    }
    .encode_to_vec();
    let ad = b"SCX\x01";
    let mut replay = Replay(VecDeque::from([nonce.to_vec()]));
    let exported = export_account(&account, &ExportKey::from_bytes(key), &mut replay);
    assert!(replay.0.is_empty());
    let ciphertext = aead_seal(key, nonce, ad, &plaintext);
    assert_eq!(exported, [ad.as_slice(), &nonce, &ciphertext].concat());
    let imported = import_account(&exported, &ExportKey::from_bytes(key)).unwrap();
    assert_eq!(imported.to_bytes(), account.to_bytes());
    let wrong = filled(242);
    let error = import_account(&exported, &ExportKey::from_bytes(wrong))
        .err()
        .unwrap();
    json!({
        "what": "export_account of the certificate vector's account",
        "key": hex(&key),
        "draws": [{"use": "nonce: the export's AEAD nonce", "bytes": hex(&nonce)}],
        "ad": hex(ad),
        "plaintext": hex(&plaintext),
        "ciphertext": hex(&ciphertext),
        "export": hex(&exported),
        "refused": [{"what": "the export imported under another key", "key": hex(&wrong),
                     "error": format!("{error:?}")}],
    })
}

/// Relay request signing (`docs/RELAY_API.md`, `docs/PROTOCOL.md` §10): the signed
/// message (request format v2, with its nonce) and the `RequestKey` signature.
fn relay_request_vectors() -> Value {
    use satchel_core::internal::fuzz::ed25519_verify;
    use satchel_core::relay_request::{RelayRequest, RequestKey};
    let secret = filled(250);
    let key = RequestKey::from_secret_bytes(secret);
    let public = key.public();
    let targets = [
        format!("/v1/queues/{}/messages?after=17&limit=50", hex(&[0x0f; 16])),
        "/v1/schools".into(),
        format!("/v1/directory/{}", hex(&[0xa1; 16])),
    ];
    let cases: [RelayRequest<'_>; 3] = [
        RelayRequest {
            method: "GET",
            path_and_query: &targets[0],
            timestamp: 1_763_900_000,
            nonce: array(&filled(240)[..16]),
            body: b"",
        },
        RelayRequest {
            method: "POST",
            path_and_query: &targets[1],
            timestamp: 1_763_900_000,
            nonce: array(&filled(241)[..16]),
            body: br#"{"root_key":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"}"#,
        },
        RelayRequest {
            method: "PUT",
            path_and_query: &targets[2],
            timestamp: u64::MAX,
            nonce: [0; 16],
            body: &[0u8; 3],
        },
    ];
    let valid: Vec<Value> = cases
        .iter()
        .map(|request| {
            let message = request.message();
            let signature = key.sign_request(request);
            assert!(ed25519_verify(&public, &message, &signature));
            let body_hash = &message[message.len() - 32..];
            assert_eq!(
                message,
                [
                    b"Satchel relay request v2\n".as_slice(),
                    request.method.as_bytes(),
                    b"\n",
                    request.path_and_query.as_bytes(),
                    b"\n",
                    request.timestamp.to_string().as_bytes(),
                    b"\n",
                    &request.nonce,
                    body_hash,
                ]
                .concat()
            );
            json!({"method": request.method, "path_and_query": request.path_and_query,
                   "timestamp": request.timestamp, "nonce": hex(&request.nonce),
                   "body": hex(request.body), "body_sha256": hex(body_hash),
                   "request_message": hex(&message), "signature": hex(&signature)})
        })
        .collect();
    let signature = key.sign_request(&cases[0]);
    let later = RelayRequest {
        timestamp: cases[0].timestamp + 1,
        ..cases[0]
    }
    .message();
    let other_nonce = RelayRequest {
        nonce: [0xff; 16],
        ..cases[0]
    }
    .message();
    assert!(!ed25519_verify(&public, &later, &signature));
    assert!(!ed25519_verify(&public, &other_nonce, &signature));
    json!({
        "request_key_secret": hex(&secret),
        "request_key": hex(&public),
        "valid": valid,
        "refused": [
            {"what": "case 0's signature over the request message with timestamp + 1",
             "request_message": hex(&later), "signature": hex(&signature), "verifies": false},
            {"what": "case 0's signature over the request message with another nonce",
             "request_message": hex(&other_nonce), "signature": hex(&signature), "verifies": false},
        ],
    })
}

fn all_vectors() -> Value {
    json!({
        "kdf_root": root_vectors(),
        "kdf_chain": chain_vectors(),
        "header_encryption": header_vectors(),
        "padme": padme_vectors(),
        "fingerprints": fingerprint_vectors(),
        "session_init": session_init_vectors(),
        "session_frame": session_frame_vectors(),
        "conversation": conversation_vectors(),
        "school": school_vectors(),
        "revocation_list_v2": revocation_list_v2_vectors(),
        "queue_fetch_proof": queue_vectors(),
        "device_certificate": certificate_vectors(),
        "prekey_set": prekey_set_vectors(),
        "one_time_prekey": one_time_prekey_vectors(),
        "encrypted_export": export_vectors(),
        "relay_request": relay_request_vectors(),
        "group": group_vectors(),
    })
}

const GROUP_DRAWS: [(&str, usize); 4] = [
    ("group id", 16),
    ("ck_0: the sender key's first chain key", 32),
    ("HK: the sender key's header key", 32),
    ("Ed25519 secret of the sender key's signing key", 32),
];

/// Sender keys (PROTOCOL §13): a group created by a teacher's device, its key handed to
/// a parent, three messages, and messages the parent must refuse.
fn group_vectors() -> Value {
    use satchel_core::group::{GroupId, GroupSession, SenderDevice, SenderKeyDistribution};
    let now = 1_767_225_600u64;
    let teacher_device = SenderDevice::from_bytes(filled(0x71));
    let parent_device = SenderDevice::from_bytes(filled(0x72));
    let mut recording = Recording {
        inner: rng(91),
        draws: Vec::new(),
    };
    let group = GroupId::random(&mut recording);
    let mut teacher = GroupSession::new(group, teacher_device, now, &mut recording);
    let draws = draws(recording.take(), &GROUP_DRAWS);
    let key = teacher.distribution();
    let key_bytes = key.to_bytes();
    let proto = pb::SenderKeyDistribution::decode(key_bytes.as_slice()).unwrap();
    let mut parent = GroupSession::new(group, parent_device, now, &mut rng(92));
    parent
        .receive_distribution(
            teacher_device,
            &SenderKeyDistribution::from_bytes(&key_bytes).unwrap(),
        )
        .unwrap();
    let texts = [
        "The trip to the zoo is on Friday.",
        "",
        "Bring a packed lunch and a raincoat, please.",
    ];
    let messages: Vec<Vec<u8>> = texts
        .iter()
        .map(|text| teacher.encrypt(text.as_bytes(), now).unwrap())
        .collect();
    let mut read = Vec::new();
    for i in [0usize, 2, 1] {
        let plaintext = parent.decrypt(&messages[i]).unwrap();
        assert_eq!(plaintext.plaintext, texts[i].as_bytes());
        read.push(i);
    }
    let mut signature_flipped = teacher.encrypt(b"See you there.", now).unwrap();
    *signature_flipped.last_mut().unwrap() ^= 1;
    let forged =
        satchel_core::internal::forge_group_message(&key, 4, b"forged", &mut rng(93)).unwrap();
    let refused: Vec<Value> = [
        ("replay of message 0", messages[0].clone()),
        (
            "message 3 (See you there.), last signature bit flipped",
            signature_flipped,
        ),
        (
            "message 4 by a member holding the key, signed with its own key",
            forged,
        ),
        ("truncated", messages[1][..159].to_vec()),
    ]
    .into_iter()
    .map(|(what, bytes)| {
        let before = parent.to_bytes();
        let error = parent.decrypt(&bytes).unwrap_err();
        assert_eq!(parent.to_bytes(), before);
        json!({"what": what, "message": hex(&bytes), "error": format!("{error:?}")})
    })
    .collect();
    json!({
        "rng": "ChaCha20Rng, seed [91; 32]: GroupId::random, then GroupSession::new (teacher)",
        "draws": draws,
        "now": now,
        "teacher_device": hex(teacher_device.as_bytes()),
        "parent_device": hex(parent_device.as_bytes()),
        "signing_key": hex(&proto.signing_key),
        "binding": hex(&proto.binding),
        "distribution": hex(&key_bytes),
        "messages": messages.iter().zip(texts).enumerate().map(|(i, (m, t))| json!({
            "index": i, "plaintext": t, "message": hex(m),
        })).collect::<Vec<_>>(),
        "read_in_order": read,
        "refused": refused,
    })
}

#[test]
fn known_answer_vectors_are_unchanged() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(VECTORS);
    let actual = all_vectors();
    // With SATCHEL_WRITE_VECTORS set the file is (re)written: review the diff.
    if std::env::var_os("SATCHEL_WRITE_VECTORS").is_some() || !path.exists() {
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
    // The stored bytes (not just freshly generated ones) must open, and the session steps
    // rerun with the listed draws instead of an RNG must give the stored bytes again.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(VECTORS);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return; // created by the test above on first run
    };
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let conversation = &vectors["conversation"];
    let unhex = |v: &Value| hex::decode(v.as_str().unwrap()).unwrap();
    let listed = |v: &Value| -> Replay {
        Replay(
            v.as_array()
                .unwrap()
                .iter()
                .map(|d| unhex(&d["bytes"]))
                .collect(),
        )
    };
    let handshake = &conversation["handshake"];
    let messages = conversation["messages"].as_array().unwrap();
    let stored = |i: usize| Envelope::from_bytes(&unhex(&messages[i]["envelope"])).unwrap();
    let payload = |i: usize| messages[i]["payload"].as_str().unwrap().as_bytes().to_vec();
    let resend = |session: &mut Session, i: usize| {
        let mut draws = listed(&messages[i]["draws"]);
        let envelope = session.encrypt(&payload(i), &mut draws).unwrap();
        assert!(draws.0.is_empty(), "message {i}: draws left over");
        assert_eq!(envelope, stored(i), "message {i} differs");
    };

    let mut setup = rng(77);
    let teacher = Account::new(&mut setup);
    let mut parent = Account::new(&mut setup);
    let bundle = parent.prekey_bundle_with_one_time_prekey(&mut setup);
    assert_eq!(
        hex(&bundle.to_bytes()),
        conversation["bundle"].as_str().unwrap()
    );

    let (mut to_parent, sk) = initiate_with_handshake_secret(
        &teacher,
        &bundle,
        &mut listed(&handshake["initiate_draws"]),
    )
    .unwrap();
    assert_eq!(hex(&sk), handshake["sk"].as_str().unwrap());
    let s_a = unhex(&handshake["initiator_inbound_send_id"]);
    let s_b = unhex(&handshake["responder_inbound_send_id"]);
    assert_eq!(
        to_parent.inbound_queue().send_id().as_bytes().as_slice(),
        s_a
    );
    resend(&mut to_parent, 0);

    // The parent accepts the stored first contact, choosing the listed S_B.
    let contact = parent.open_first_contact(&stored(0)).unwrap();
    assert_eq!(contact.sender(), teacher.certificate());
    let inbound = parent
        .accept(&contact, &mut listed(&handshake["accept_draws"]))
        .unwrap();
    assert_eq!(inbound.plaintext, payload(0));
    let mut to_teacher = inbound.session;
    assert_eq!(
        to_teacher.inbound_queue().send_id().as_bytes().as_slice(),
        s_b
    );
    assert_eq!(
        to_teacher.outbound_send_id().unwrap().as_bytes().as_slice(),
        s_a
    );
    assert_eq!(
        hex(to_teacher.id().as_bytes()),
        handshake["session_id"].as_str().unwrap()
    );
    assert_eq!(
        hex(&session_associated_data(&to_teacher)),
        handshake["session_ad"].as_str().unwrap()
    );
    resend(&mut to_teacher, 1);
    resend(&mut to_teacher, 2);

    for i in [2, 1] {
        assert_eq!(to_parent.decrypt(&stored(i)).unwrap(), payload(i));
    }
    assert_eq!(
        to_parent.outbound_send_id().unwrap().as_bytes().as_slice(),
        s_b
    );
    resend(&mut to_parent, 3);
    assert_eq!(to_teacher.decrypt(&stored(3)).unwrap(), payload(3));
    resend(&mut to_teacher, 4);

    let before = to_parent.to_bytes();
    for refused in conversation["refused"].as_array().unwrap() {
        let bytes = unhex(&refused["envelope"]);
        let error = to_parent
            .decrypt(&Envelope::from_bytes(&bytes).unwrap())
            .unwrap_err();
        assert_eq!(format!("{error:?}"), refused["error"].as_str().unwrap());
        assert_eq!(to_parent.to_bytes(), before);
    }
    assert_eq!(to_parent.decrypt(&stored(4)).unwrap(), payload(4));
}
