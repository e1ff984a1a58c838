//! Property test: two parties from the very first message, random schedules of at least
//! 1,000 messages in both directions, with reordering, loss, duplication, tampering and
//! reloads from bytes.
//!
//! Alice initiates. Until she has learned Bob's inbound send id her messages are sealed
//! first contacts to Bob's mailbox: any one of them starts Bob's session, later ones
//! decrypt on it. Bob's messages announce his random inbound send id until one of
//! Alice's queue messages reaches him. Those first contacts and announcements are
//! dropped, reordered, duplicated and tampered with like every other message.
//!
//! Checked: every undamaged delivered message decrypts exactly once to its plaintext;
//! duplicates fail with `Duplicate`; tampered copies fail; after every failure the
//! session's bytes (and Bob's account's) are unchanged; serialising and reloading
//! changes nothing; a known outbound send id is always the peer's inbound one; and at
//! the end the conversation converges: Alice knows Bob's queue, nobody announces any
//! more, and each side deposits on the other's inbound queue.

use chacha20::ChaCha20Rng;
use proptest::prelude::*;
use satchel_core::{Account, DecryptError, Envelope, RatchetConfig, Session};

use crate::support::rng;

#[derive(Debug, Clone)]
enum Op {
    Send {
        from_alice: bool,
        len: u16,
    },
    Deliver {
        to_alice: bool,
        pick: usize,
    },
    Drop {
        to_alice: bool,
        pick: usize,
    },
    Duplicate {
        to_alice: bool,
        pick: usize,
    },
    Tamper {
        to_alice: bool,
        pick: usize,
        position: usize,
        bit: u8,
    },
    Reload {
        alice: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        45 => (any::<bool>(), 0u16..300).prop_map(|(from_alice, len)| Op::Send { from_alice, len }),
        35 => (any::<bool>(), any::<usize>()).prop_map(|(to_alice, pick)| Op::Deliver { to_alice, pick }),
        4 => (any::<bool>(), any::<usize>()).prop_map(|(to_alice, pick)| Op::Drop { to_alice, pick }),
        6 => (any::<bool>(), any::<usize>()).prop_map(|(to_alice, pick)| Op::Duplicate { to_alice, pick }),
        6 => (any::<bool>(), any::<usize>(), any::<usize>(), 0u8..8)
            .prop_map(|(to_alice, pick, position, bit)| Op::Tamper { to_alice, pick, position, bit }),
        4 => any::<bool>().prop_map(|alice| Op::Reload { alice }),
    ]
}

/// Generous bounds, so that every delayed message stays decryptable: the property is
/// about correctness; the bounds have their own deterministic tests.
const CONFIG: RatchetConfig = RatchetConfig {
    max_skip: 5_000,
    max_skipped_keys: 100_000,
    max_skipped_chains: 100_000,
};

struct Side {
    /// Bob's account, which accepts first contacts from its mailbox; `None` for Alice.
    account: Option<Account>,
    /// Bob has none until a first contact arrives.
    session: Option<Session>,
    /// Messages on their way to this side: (envelope bytes, plaintext).
    in_flight: Vec<(Vec<u8>, Vec<u8>)>,
    delivered: Vec<Vec<u8>>,
}

/// Why a delivery failed.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Duplicate,
    Other(String),
}

fn other(error: impl std::fmt::Debug) -> Failure {
    Failure::Other(format!("{error:?}"))
}

fn decrypt_failure(error: DecryptError) -> Failure {
    match error {
        DecryptError::Duplicate => Failure::Duplicate,
        error => other(error),
    }
}

/// What must not change when a delivery fails: the session and the account.
fn snapshot(side: &Side) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (
        side.session.as_ref().map(Session::to_bytes),
        side.account.as_ref().map(Account::to_bytes),
    )
}

/// Routes one envelope as an app would: Bob's mailbox to the account (a new session or a
/// repeated first contact), anything else to the session's inbound queue.
fn try_receive(side: &mut Side, bytes: &[u8], rng: &mut ChaCha20Rng) -> Result<Vec<u8>, Failure> {
    let envelope = Envelope::from_bytes(bytes).map_err(other)?;
    if let Some(account) = &mut side.account
        && envelope.send_id() == account.mailbox().send_id()
    {
        let contact = account.open_first_contact(&envelope).map_err(other)?;
        return match &mut side.session {
            Some(session) => session
                .decrypt_first_contact(&contact)
                .map_err(decrypt_failure),
            None => {
                let mut inbound = account.accept(&contact, rng).map_err(other)?;
                inbound.session.set_config(CONFIG);
                side.session = Some(inbound.session);
                Ok(inbound.plaintext)
            }
        };
    }
    let session = side
        .session
        .as_mut()
        .ok_or(Failure::Other("no session".into()))?;
    session.decrypt(&envelope).map_err(decrypt_failure)
}

fn receive(side: &mut Side, bytes: &[u8], rng: &mut ChaCha20Rng) -> Result<Vec<u8>, Failure> {
    let before = snapshot(side);
    let result = try_receive(side, bytes, rng);
    if result.is_err() {
        assert!(
            snapshot(side) == before,
            "a failed delivery changed the state"
        );
    }
    result
}

/// A known outbound send id is always the peer's inbound one.
fn check_addresses(alice: &Side, bob: &Side) {
    let a = alice.session.as_ref().unwrap();
    if let Some(b) = &bob.session {
        assert_eq!(b.outbound_send_id(), Some(a.inbound_queue().send_id()));
        if a.is_confirmed() {
            assert_eq!(a.outbound_send_id(), Some(b.inbound_queue().send_id()));
        }
    } else {
        assert!(!a.is_confirmed(), "confirmed before bob had a session");
    }
    assert_eq!(a.is_confirmed(), a.outbound_send_id().is_some());
}

/// Sends one message and delivers it at once.
fn exchange(from: &mut Side, to: &mut Side, plaintext: &[u8], rng: &mut ChaCha20Rng) {
    let envelope = from
        .session
        .as_mut()
        .unwrap()
        .encrypt(plaintext, rng)
        .unwrap();
    assert_eq!(receive(to, envelope.as_bytes(), rng).unwrap(), plaintext);
}

fn run(ops: &[Op], seed: u8) -> usize {
    let mut rng = rng(seed);
    let alice_account = Account::new(&mut rng);
    let mut bob_account = Account::new(&mut rng);
    let bundle = bob_account.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut alice_session = Session::initiate(&alice_account, &bundle, &mut rng).unwrap();
    alice_session.set_config(CONFIG);
    let mut alice = Side {
        account: None,
        session: Some(alice_session),
        in_flight: Vec::new(),
        delivered: Vec::new(),
    };
    let mut bob = Side {
        account: Some(bob_account),
        session: None,
        in_flight: Vec::new(),
        delivered: Vec::new(),
    };
    let mut sent = 0usize;

    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Send { from_alice, len } => {
                let (sender, receiver) = if from_alice {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                // Bob cannot say anything before a first contact reached him.
                let Some(session) = sender.session.as_mut() else {
                    continue;
                };
                let plaintext: Vec<u8> = (0..len).map(|i| (i as u8) ^ (step as u8)).collect();
                let envelope = session.encrypt(&plaintext, &mut rng).unwrap();
                receiver.in_flight.push((envelope.into_bytes(), plaintext));
                sent += 1;
            }
            Op::Deliver { to_alice, pick } => {
                let side = if to_alice { &mut alice } else { &mut bob };
                if side.in_flight.is_empty() {
                    continue;
                }
                let (bytes, plaintext) = side.in_flight.remove(pick % side.in_flight.len());
                assert_eq!(receive(side, &bytes, &mut rng).unwrap(), plaintext);
                side.delivered.push(bytes);
            }
            Op::Drop { to_alice, pick } => {
                let side = if to_alice { &mut alice } else { &mut bob };
                if !side.in_flight.is_empty() {
                    side.in_flight.remove(pick % side.in_flight.len());
                }
            }
            Op::Duplicate { to_alice, pick } => {
                let side = if to_alice { &mut alice } else { &mut bob };
                if side.delivered.is_empty() {
                    continue;
                }
                let bytes = side.delivered[pick % side.delivered.len()].clone();
                assert_eq!(receive(side, &bytes, &mut rng), Err(Failure::Duplicate));
            }
            Op::Tamper {
                to_alice,
                pick,
                position,
                bit,
            } => {
                let side = if to_alice { &mut alice } else { &mut bob };
                let pool: Vec<Vec<u8>> = side
                    .in_flight
                    .iter()
                    .map(|(b, _)| b.clone())
                    .chain(side.delivered.iter().cloned())
                    .collect();
                if pool.is_empty() {
                    continue;
                }
                let mut bytes = pool[pick % pool.len()].clone();
                let at = position % bytes.len();
                bytes[at] ^= 1 << bit;
                assert!(
                    receive(side, &bytes, &mut rng).is_err(),
                    "tampered byte {at} accepted"
                );
            }
            Op::Reload { alice: which } => {
                let side = if which { &mut alice } else { &mut bob };
                if let Some(session) = side.session.as_mut() {
                    let bytes = session.to_bytes();
                    *session = Session::from_bytes(&bytes).unwrap();
                    session.set_config(CONFIG);
                    assert!(session.to_bytes() == bytes, "reloading changed the session");
                }
                if let Some(account) = side.account.as_mut() {
                    let bytes = account.to_bytes();
                    *account = Account::from_bytes(&bytes).unwrap();
                    assert!(account.to_bytes() == bytes, "reloading changed the account");
                }
            }
        }
        check_addresses(&alice, &bob);
    }
    // Everything still in flight arrives at last, newest first, and decrypts once: first
    // to Bob (a first contact among them may start his session), then to Alice.
    for side in [&mut bob, &mut alice] {
        while let Some((bytes, plaintext)) = side.in_flight.pop() {
            assert_eq!(receive(side, &bytes, &mut rng).unwrap(), plaintext);
            assert_eq!(receive(side, &bytes, &mut rng), Err(Failure::Duplicate));
        }
    }
    check_addresses(&alice, &bob);
    // Whatever was lost, one round trip and one more message settle the addresses.
    exchange(&mut alice, &mut bob, b"are you there?", &mut rng);
    exchange(&mut bob, &mut alice, b"yes", &mut rng);
    exchange(&mut alice, &mut bob, b"good", &mut rng);
    check_addresses(&alice, &bob);
    let (a, b) = (
        alice.session.as_ref().unwrap(),
        bob.session.as_ref().unwrap(),
    );
    assert!(a.is_confirmed() && b.is_confirmed());
    assert!(!a.is_announcing() && !b.is_announcing());
    sent
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_schedules_deliver_every_message_exactly_once(
        ops in proptest::collection::vec(op(), 2_400..2_600),
        seed in any::<u8>(),
    ) {
        let sent = run(&ops, seed);
        prop_assert!(sent >= 1_000, "only {} messages in this schedule", sent);
    }
}

/// The announcement phase in isolation, deterministically: Bob's first replies (all
/// announcing) are lost or arrive late and out of order, Alice keeps repeating her first
/// contact meanwhile, and the conversation still converges.
#[test]
fn lost_and_reordered_announcements_still_converge() {
    let ops: Vec<Op> = [
        Op::Send {
            from_alice: true,
            len: 5,
        },
        Op::Send {
            from_alice: true,
            len: 6,
        },
        Op::Deliver {
            to_alice: false,
            pick: 1,
        }, // the second first contact starts Bob
        Op::Send {
            from_alice: false,
            len: 7,
        }, // announces
        Op::Send {
            from_alice: false,
            len: 8,
        }, // announces
        Op::Send {
            from_alice: false,
            len: 9,
        }, // announces
        Op::Drop {
            to_alice: true,
            pick: 0,
        }, // the first announcement is lost
        Op::Send {
            from_alice: true,
            len: 10,
        }, // still a first contact
        Op::Deliver {
            to_alice: false,
            pick: 1,
        }, // the repeat decrypts on Bob's session
        Op::Deliver {
            to_alice: true,
            pick: 1,
        }, // the third announcement arrives first
        Op::Send {
            from_alice: true,
            len: 11,
        }, // now on Bob's queue
        Op::Send {
            from_alice: false,
            len: 12,
        }, // Bob still announces: nothing reached his queue
        Op::Duplicate {
            to_alice: true,
            pick: 0,
        },
        Op::Deliver {
            to_alice: true,
            pick: 0,
        }, // the second announcement, late
        Op::Deliver {
            to_alice: false,
            pick: 1,
        }, // Alice's queue message: Bob stops announcing
        Op::Deliver {
            to_alice: false,
            pick: 0,
        }, // the first first contact, very late
        Op::Reload { alice: false },
        Op::Send {
            from_alice: false,
            len: 13,
        },
    ]
    .to_vec();
    run(&ops, 200);
}
