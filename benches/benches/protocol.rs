//! Criterion benches of the crypto hot path, with primitive and peer baselines measured
//! in the same run (the machine is shared and noisy: compare ratios, not absolutes).
//!
//! Names are stable so numbers can be compared over time:
//!
//! * `handshake` — one complete handshake, both sides: parse and verify the bundle
//!   (certificate signature, prekey-set signature, ML-KEM key decode), initiate (PQXDH),
//!   encrypt the first message (ratchet + sealed box), open the box (certificate
//!   verification), accept (PQXDH, decapsulation) and decrypt the first message.
//!   The public-key operations it performs, each benched below under `primitives/`:
//!
//!   | operation | count | where |
//!   |---|---|---|
//!   | Ed25519 verify (key decode + `verify_strict`) | 3 | bundle certificate, prekey set, sender certificate |
//!   | X25519 key generation | 3 | ephemeral EK, first ratchet key, sealed-box ephemeral |
//!   | X25519 DH | 12 | 4 + 4 PQXDH, 1 + 1 ratchet, 1 + 1 sealed box |
//!   | Ed25519 key generation | 2 | each side's inbound-queue key |
//!   | ML-KEM-768 key decode + encapsulate | 1 | initiator |
//!   | ML-KEM-768 decapsulate | 1 | responder |
//!
//!   `primitive sum = 3·verify + 3·x25519_keygen + 12·x25519_dh + 2·ed25519_keygen +
//!   mlkem768_encaps + mlkem768_decaps`; the target is `handshake ≤ 1.1 × sum`.
//! * `message_steady/{100,1024,65536}` — encrypt + decrypt of one message on a confirmed
//!   session, no DH step (header encryption and Padmé padding included).
//! * `message_dh_step` — ping-pong: every message turns the direction, so each costs a
//!   DH ratchet step (one key generation and two DHs across both sides).
//! * `seal_open_first_contact` — seal and open a 1.5 KB first-contact box.
//! * `padme` — the padding function over 1,000 lengths.
//! * `kdf_root`, `kdf_chain` — one root-KDF step (HKDF, 96 bytes) and one chain step
//!   (three HMAC outputs).
//! * `primitives/*` — the primitive operations above, plus ChaCha20-Poly1305 on 100 B and
//!   1 KiB, and X25519 from x25519-dalek 2 (`*_dalek4`, the version vodozemac uses) to
//!   show that the peer's primitives cost the same.
//! * `vodozemac/*` — the peer: Olm steady-state message, DH-step message, handshake;
//!   Megolm encrypt and decrypt of 100 B (`megolm_*`).
//! * `groups/*` — sender keys: encrypt and decrypt of 100 B (against `vodozemac/megolm_*`;
//!   targets ≤ 1.0× and ≤ 0.9×), and catching up on 1,000 messages one at a time and in
//!   one batch (target: batch ≥ 1.5× faster).
//! * `school/*` — what a recipient pays to decide whether a sender is the school's
//!   (`verify_member`): a certificate the root granted and admitted (3 Ed25519 verifies:
//!   grant, binding, admission) and one an office granted and admitted (6: the office's
//!   own grant, binding and admission, checked once for both, the office's two
//!   signatures, the member's binding); against
//!   `school/ed25519_verify_x3`, three bare verifies in the same run. Also opening a directory key update and a
//!   sealed admission request.

// Bench code panics on what it set up itself; the workspace lints are for library code.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;

use chacha20::ChaCha20Rng;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use ml_kem::kem::{Decapsulate, Encapsulate, KeyExport, TryKeyInit};
use ml_kem::{DecapsulationKey768, EncapsulationKey768, Seed};
use rand_core::SeedableRng;
use satchel_core::internal::{open_first_contact_box, seal_first_contact};
use satchel_core::{Account, PrekeyBundle, Session, padme};
use x25519_dalek::{PublicKey, StaticSecret};

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([9; 32])
}

/// A confirmed session pair (the initiator has heard back).
fn pair(rng: &mut ChaCha20Rng) -> (Session, Session) {
    let alice = Account::new(rng);
    let mut bob = Account::new(rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(rng);
    let mut a = Session::initiate(&alice, &bundle, rng).expect("initiate");
    let first = a.encrypt(b"hello", rng).expect("encrypt");
    let contact = bob.open_first_contact(&first).expect("open");
    let mut b = bob.accept(&contact, rng).expect("accept").session;
    let reply = b.encrypt(b"hi", rng).expect("encrypt");
    a.decrypt(&reply).expect("decrypt");
    (a, b)
}

fn handshake(c: &mut Criterion) {
    let mut rng = rng();
    let alice = Account::new(&mut rng);
    c.bench_function("handshake", |b| {
        b.iter_batched(
            || {
                let mut bob = Account::new(&mut rng);
                let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng).to_bytes();
                (bob, bundle, ChaCha20Rng::from_seed([3; 32]))
            },
            |(mut bob, bundle, mut rng)| {
                let bundle = PrekeyBundle::from_bytes(&bundle).expect("bundle");
                let mut session = Session::initiate(&alice, &bundle, &mut rng).expect("initiate");
                let first = session.encrypt(b"hello", &mut rng).expect("encrypt");
                let contact = bob.open_first_contact(&first).expect("open");
                let inbound = bob.accept(&contact, &mut rng).expect("accept");
                black_box(inbound.plaintext)
            },
            BatchSize::SmallInput,
        );
    });
}

fn message_steady(c: &mut Criterion) {
    let mut group = c.benchmark_group("message_steady");
    for size in [100usize, 1024, 65536] {
        let mut rng = rng();
        let (mut a, mut b) = pair(&mut rng);
        let plaintext = vec![0x42u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(size),
            &plaintext,
            |bench, plaintext| {
                bench.iter(|| {
                    let envelope = a.encrypt(plaintext, &mut rng).expect("encrypt");
                    black_box(b.decrypt(&envelope).expect("decrypt"))
                });
            },
        );
    }
    group.finish();
}

fn message_dh_step(c: &mut Criterion) {
    let mut rng = rng();
    let (mut a, mut b) = pair(&mut rng);
    let mut alice_turn = true;
    c.bench_function("message_dh_step", |bench| {
        bench.iter(|| {
            let (sender, receiver) = if alice_turn {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            alice_turn = !alice_turn;
            let envelope = sender.encrypt(&[0x42; 100], &mut rng).expect("encrypt");
            black_box(receiver.decrypt(&envelope).expect("decrypt"))
        });
    });
}

fn seal_open(c: &mut Criterion) {
    let mut rng = rng();
    let bob = Account::new(&mut rng);
    let content = vec![0x17u8; 1_500];
    let mailbox = bob.mailbox().send_id();
    let key = *bob.certificate().device_dh_key();
    c.bench_function("seal_open_first_contact", |bench| {
        bench.iter(|| {
            let sealed = seal_first_contact(&mailbox, &key, &content, &mut rng).expect("seal");
            black_box(open_first_contact_box(&bob, &sealed).expect("open"))
        });
    });
}

fn kdfs(c: &mut Criterion) {
    c.bench_function("kdf_root", |bench| {
        bench.iter(|| satchel_core::internal::kdf_root(black_box([1; 32]), black_box([2; 32])))
    });
    c.bench_function("kdf_chain", |bench| {
        bench.iter(|| satchel_core::internal::kdf_chain(black_box([1; 32]), black_box(7)))
    });
}

fn padding(c: &mut Criterion) {
    c.bench_function("padme", |bench| {
        bench.iter(|| {
            (1usize..1_001)
                .map(|len| padme(black_box(len * 37)))
                .sum::<usize>()
        });
    });
}

fn primitives(c: &mut Criterion) {
    let mut group = c.benchmark_group("primitives");
    let mut rng = rng();
    let ours = StaticSecret::random_from_rng(&mut rng);
    let theirs = PublicKey::from(&StaticSecret::random_from_rng(&mut rng));
    group.bench_function("x25519_dh", |b| {
        b.iter(|| black_box(ours.diffie_hellman(black_box(&theirs))))
    });
    group.bench_function("x25519_keygen", |b| {
        b.iter(|| PublicKey::from(&StaticSecret::random_from_rng(&mut rng)))
    });
    {
        let ours = x25519_dalek_v2::StaticSecret::from([3u8; 32]);
        let theirs =
            x25519_dalek_v2::PublicKey::from(&x25519_dalek_v2::StaticSecret::from([4u8; 32]));
        group.bench_function("x25519_dh_dalek4", |b| {
            b.iter(|| black_box(ours.diffie_hellman(black_box(&theirs))))
        });
        group.bench_function("x25519_keygen_dalek4", |b| {
            b.iter(|| {
                x25519_dalek_v2::PublicKey::from(&x25519_dalek_v2::StaticSecret::from(black_box(
                    [5u8; 32],
                )))
            })
        });
    }
    group.bench_function("ed25519_keygen", |b| {
        b.iter(|| SigningKey::generate(&mut rng).verifying_key())
    });
    let signing = SigningKey::generate(&mut rng);
    let public = signing.verifying_key().to_bytes();
    let message = [7u8; 150];
    let signature = signing.sign(&message);
    group.bench_function("ed25519_verify", |b| {
        b.iter(|| {
            let key = VerifyingKey::from_bytes(black_box(&public)).expect("key");
            key.verify_strict(&message, &signature).expect("verify")
        })
    });
    let dk = DecapsulationKey768::from_seed(Seed::from([5u8; 64]));
    let ek_bytes = dk.encapsulation_key().to_bytes();
    group.bench_function("mlkem768_encaps", |b| {
        b.iter(|| {
            let ek = EncapsulationKey768::new_from_slice(black_box(&ek_bytes)).expect("ek");
            ek.encapsulate_with_rng(&mut rng)
        })
    });
    let (ciphertext, _) = dk.encapsulation_key().encapsulate_with_rng(&mut rng);
    group.bench_function("mlkem768_decaps", |b| {
        b.iter(|| dk.decapsulate(black_box(&ciphertext)))
    });
    let cipher = ChaCha20Poly1305::new(&[1u8; 32].into());
    let nonce = Nonce::from([0u8; 12]);
    for size in [100usize, 1024] {
        let plaintext = vec![0u8; size];
        let name = if size == 1024 {
            "chacha20poly1305_1k".to_string()
        } else {
            format!("chacha20poly1305_{size}")
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                cipher
                    .encrypt(&nonce, black_box(plaintext.as_slice()))
                    .expect("seal")
            })
        });
    }
    group.finish();
}

fn vodozemac_baseline(c: &mut Criterion) {
    use vodozemac::olm::{Account as OlmAccount, OlmMessage, Session as OlmSession, SessionConfig};

    fn olm_pair() -> (OlmSession, OlmSession) {
        let alice = OlmAccount::new();
        let mut bob = OlmAccount::new();
        bob.generate_one_time_keys(1);
        let otk = *bob.one_time_keys().values().next().expect("otk");
        let mut a = alice
            .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
            .expect("outbound");
        let OlmMessage::PreKey(first) = a.encrypt("hello").expect("encrypt") else {
            unreachable!("first message is a pre-key message")
        };
        let mut b = bob
            .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
            .expect("inbound")
            .session;
        let reply = b.encrypt("hi").expect("encrypt");
        a.decrypt(&reply).expect("decrypt");
        (a, b)
    }

    let mut group = c.benchmark_group("vodozemac");
    let (mut a, mut b) = olm_pair();
    let plaintext = [0x42u8; 100];
    group.bench_function("olm_steady", |bench| {
        bench.iter(|| {
            let message = a.encrypt(plaintext).expect("encrypt");
            black_box(b.decrypt(&message).expect("decrypt"))
        })
    });
    let (mut a, mut b) = olm_pair();
    let mut alice_turn = true;
    group.bench_function("olm_dh_step", |bench| {
        bench.iter(|| {
            let (sender, receiver) = if alice_turn {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            alice_turn = !alice_turn;
            let message = sender.encrypt(plaintext).expect("encrypt");
            black_box(receiver.decrypt(&message).expect("decrypt"))
        })
    });
    let alice = OlmAccount::new();
    group.bench_function("olm_handshake", |bench| {
        bench.iter_batched(
            || {
                let mut bob = OlmAccount::new();
                bob.generate_one_time_keys(1);
                let otk = *bob.one_time_keys().values().next().expect("otk");
                (bob, otk)
            },
            |(mut bob, otk)| {
                let mut a = alice
                    .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
                    .expect("outbound");
                let OlmMessage::PreKey(first) = a.encrypt("hello").expect("encrypt") else {
                    unreachable!("first message is a pre-key message")
                };
                black_box(
                    bob.create_inbound_session(
                        SessionConfig::version_1(),
                        alice.curve25519_key(),
                        &first,
                    )
                    .expect("inbound")
                    .plaintext,
                )
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("megolm_encrypt_100", |bench| {
        let mut outbound = vodozemac::megolm::GroupSession::new(Default::default());
        bench.iter(|| black_box(outbound.encrypt(black_box(plaintext))))
    });
    // Megolm's floor: vodozemac's Ed25519 (ed25519-dalek 2) verifying a 100 B message's
    // signed part, against `groups/ed25519_verify_strict_168` (ed25519-dalek 3).
    group.bench_function("ed25519_verify_168", |bench| {
        let key = vodozemac::Ed25519Keypair::new();
        let message = [0x17u8; 168];
        let signature = key.sign(&message);
        let public = key.public_key();
        bench.iter(|| {
            public
                .verify(black_box(&message), black_box(&signature))
                .expect("verify")
        })
    });
    group.bench_function("megolm_decrypt_100", |bench| {
        let mut outbound = vodozemac::megolm::GroupSession::new(Default::default());
        let mut inbound = vodozemac::megolm::InboundGroupSession::new(
            &outbound.session_key(),
            Default::default(),
        );
        bench.iter_batched(
            || outbound.encrypt(plaintext),
            |message| black_box(inbound.decrypt(&message).expect("decrypt")),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Sender keys (`core/src/group`): one message encrypted, one decrypted (100 B), against
/// vodozemac's Megolm in `vodozemac/megolm_*`; and a member catching up on 1,000
/// messages, one `decrypt` at a time and with `decrypt_batch` (signatures verified in one
/// batch), from the same state.
fn groups(c: &mut Criterion) {
    use satchel_core::group::{GroupId, GroupSession, SenderDevice};

    const NOW: u64 = 1_767_225_600;
    let mut rng = ChaCha20Rng::from_seed([31; 32]);
    let id = GroupId::random(&mut rng);
    let new_pair = |rng: &mut ChaCha20Rng| {
        let sender = GroupSession::new(id, SenderDevice::from_bytes([1; 32]), NOW, rng);
        let mut member = GroupSession::new(id, SenderDevice::from_bytes([2; 32]), NOW, rng);
        member
            .receive_distribution(sender.own_device(), &sender.distribution())
            .expect("key");
        (sender, member)
    };
    let plaintext = [0x42u8; 100];
    let mut group = c.benchmark_group("groups");
    group.bench_function("encrypt_100", |bench| {
        let (mut sender, _) = new_pair(&mut rng);
        bench.iter(|| {
            if sender.rotation_due(NOW) {
                // Every 1,000 messages, as the default schedule asks (not timed apart:
                // 1 key generation per 1,000 messages).
                let _ = sender.rotate(NOW, &mut ChaCha20Rng::from_seed([5; 32]));
            }
            black_box(sender.encrypt(black_box(&plaintext), NOW).expect("encrypt"))
        })
    });
    group.bench_function("decrypt_100", |bench| {
        let (mut sender, mut member) = new_pair(&mut rng);
        // No rotation while measuring: one chain, as Megolm's.
        sender.set_config(satchel_core::group::GroupConfig {
            rotate_after_messages: u32::MAX,
            ..Default::default()
        });
        bench.iter_batched(
            || sender.encrypt(&plaintext, NOW).expect("encrypt"),
            |message| black_box(member.decrypt(&message).expect("decrypt")),
            BatchSize::SmallInput,
        )
    });
    // The floor of a decrypt: one verify_strict of a 168-byte message (what a 100 B group
    // message signs) with the key already decoded, as both Satchel and vodozemac keep it.
    group.bench_function("ed25519_verify_strict_168", |bench| {
        let key = SigningKey::from_bytes(&[7; 32]);
        let verifying: VerifyingKey = key.verifying_key();
        let message = [0x17u8; 168];
        let signature = key.sign(&message);
        bench.iter(|| {
            verifying
                .verify_strict(black_box(&message), black_box(&signature))
                .expect("verify")
        })
    });
    let (mut sender, member) = new_pair(&mut rng);
    let state = member.to_bytes();
    let messages: Vec<Vec<u8>> = (0..1_000)
        .map(|_| sender.encrypt(&plaintext, NOW).expect("encrypt"))
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("catch_up_1000/one_at_a_time", |bench| {
        bench.iter_batched(
            || GroupSession::from_bytes(&state).expect("state"),
            |mut member| {
                for message in &refs {
                    black_box(member.decrypt(message).expect("decrypt"));
                }
                member
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("catch_up_1000/batch", |bench| {
        bench.iter_batched(
            || GroupSession::from_bytes(&state).expect("state"),
            |mut member| {
                let results = member.decrypt_batch(&refs);
                assert!(results.iter().all(Result::is_ok));
                (member, results)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// A member certificate of a deterministic school: admitted by the root, and one
/// granted and admitted by an office; with the sender's device certificate for each.
fn school(c: &mut Criterion) {
    use satchel_core::school::{
        DirectoryKey, DirectoryKeyUpdate, GrantRequest, Invite, MemberCertificate, Office, Role,
        SchoolAuthority, SchoolRoot, verify_member,
    };
    let mut rng = rng();
    let root = SchoolRoot::generate(&mut rng);
    let directory_key = DirectoryKey::generate(&mut rng);
    let request = |name: &str, role| GrantRequest {
        display_name: name.into(),
        role,
        classes: vec!["5B".into()],
        valid_from: 1_790_000_000,
        valid_until: 1_821_536_000,
    };
    let enrol = |authority: &SchoolAuthority, name: &str, role, rng: &mut ChaCha20Rng| {
        let invite = Invite::create(
            authority,
            "",
            request(name, role),
            &directory_key,
            "http://127.0.0.1:1",
            rng,
        )
        .expect("invite");
        let keys = invite.code.keys();
        let account = Account::new(rng);
        let member = keys
            .bind(
                keys.open_record(&invite.record).expect("record").grant,
                account.account_id(),
                *account.certificate().account_key(),
            )
            .expect("bind")
            .admit(authority)
            .expect("admit");
        (account, member)
    };
    let as_root = SchoolAuthority::Root(Box::new(root.clone()));
    let (teacher, teacher_cert) = enrol(&as_root, "Ms Rivera", Role::Teacher, &mut rng);
    let (office_account, office_cert) = enrol(&as_root, "Front office", Role::Admin, &mut rng);
    let office = SchoolAuthority::Office(Box::new(
        Office::new(&office_account, office_cert, &root.public()).expect("office"),
    ));
    let (parent, parent_cert) = enrol(&office, "Sam's mum", Role::Parent, &mut rng);
    let root_key = root.public();
    let now = 1_800_000_000;
    let (teacher_bytes, parent_bytes) = (teacher_cert.to_bytes(), parent_cert.to_bytes());
    assert!(
        verify_member(
            &root_key,
            None,
            now,
            Some(&teacher_bytes),
            teacher.certificate()
        )
        .is_verified()
    );
    assert!(
        verify_member(
            &root_key,
            None,
            now,
            Some(&parent_bytes),
            parent.certificate()
        )
        .is_verified()
    );

    let mut group = c.benchmark_group("school");
    let signing = SigningKey::generate(&mut rng);
    let public = signing.verifying_key().to_bytes();
    let message = [7u8; 150];
    let signature = signing.sign(&message);
    group.bench_function("ed25519_verify_x3", |b| {
        b.iter(|| {
            for _ in 0..3 {
                let key = VerifyingKey::from_bytes(black_box(&public)).expect("key");
                key.verify_strict(&message, &signature).expect("verify");
            }
        })
    });
    group.bench_function("verify_member_root", |b| {
        b.iter(|| {
            verify_member(
                &root_key,
                None,
                now,
                Some(black_box(&teacher_bytes)),
                teacher.certificate(),
            )
        })
    });
    group.bench_function("verify_member_office", |b| {
        b.iter(|| {
            verify_member(
                &root_key,
                None,
                now,
                Some(black_box(&parent_bytes)),
                parent.certificate(),
            )
        })
    });
    let update = DirectoryKeyUpdate::sign(&root, 1, DirectoryKey::generate(&mut rng)).to_proto();
    group.bench_function("directory_key_update_open", |b| {
        b.iter(|| DirectoryKeyUpdate::from_proto(black_box(&update), &root_key).expect("update"))
    });
    let sealed = teacher_cert
        .seal_admission_request(&directory_key, &root.school_id(), &[9; 32], &mut rng)
        .expect("seal");
    group.bench_function("admission_request_open", |b| {
        b.iter(|| {
            MemberCertificate::open_admission_request(
                black_box(&sealed),
                &directory_key,
                &root_key,
                &[9; 32],
            )
            .expect("open")
        })
    });
    group.finish();
}

#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group! {
        name = benches;
        config = Criterion::default()
            .warm_up_time(std::time::Duration::from_secs(1))
            .measurement_time(std::time::Duration::from_secs(3));
        targets = primitives, vodozemac_baseline, handshake, message_steady, message_dh_step, seal_open, padding, kdfs, school, groups
    }
}
criterion_main!(group::benches);
