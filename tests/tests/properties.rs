//! Property test: two parties, random schedules of at least 1,000 messages in both
//! directions, with reordering, loss, duplication, tampering and reloads from bytes.
//!
//! Checked: every undamaged delivered message decrypts exactly once to its plaintext;
//! duplicates fail with `Duplicate`; tampered copies fail; after every failure the
//! session's bytes are unchanged; serialising and reloading changes nothing.

use proptest::prelude::*;
use satchel_core::{DecryptError, Envelope, RatchetConfig, Session};

use crate::support::{confirmed_pair, rng};

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
    session: Session,
    /// Messages on their way to this side: (envelope bytes, plaintext).
    in_flight: Vec<(Vec<u8>, Vec<u8>)>,
    delivered: Vec<Vec<u8>>,
}

fn decrypt_checked(side: &mut Side, bytes: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let before = side.session.to_bytes();
    let result = Envelope::from_bytes(bytes)
        .map_err(DecryptError::from)
        .and_then(|e| side.session.decrypt(&e));
    if result.is_err() {
        assert!(
            side.session.to_bytes() == before,
            "a failed decrypt changed the session"
        );
    }
    result
}

fn run(ops: &[Op], seed: u8) -> usize {
    let mut rng = rng(seed);
    let pair = confirmed_pair(&mut rng);
    let mut alice = Side {
        session: pair.alice,
        in_flight: Vec::new(),
        delivered: Vec::new(),
    };
    let mut bob = Side {
        session: pair.bob,
        in_flight: Vec::new(),
        delivered: Vec::new(),
    };
    alice.session.set_config(CONFIG);
    bob.session.set_config(CONFIG);
    let mut sent = 0usize;

    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Send { from_alice, len } => {
                let (sender, receiver) = if from_alice {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                let plaintext: Vec<u8> = (0..len).map(|i| (i as u8) ^ (step as u8)).collect();
                let envelope = sender.session.encrypt(&plaintext, &mut rng).unwrap();
                receiver.in_flight.push((envelope.into_bytes(), plaintext));
                sent += 1;
            }
            Op::Deliver { to_alice, pick } => {
                let side = if to_alice { &mut alice } else { &mut bob };
                if side.in_flight.is_empty() {
                    continue;
                }
                let (bytes, plaintext) = side.in_flight.remove(pick % side.in_flight.len());
                assert_eq!(decrypt_checked(side, &bytes).unwrap(), plaintext);
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
                assert_eq!(decrypt_checked(side, &bytes), Err(DecryptError::Duplicate));
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
                    decrypt_checked(side, &bytes).is_err(),
                    "tampered byte {at} accepted"
                );
            }
            Op::Reload { alice: which } => {
                let side = if which { &mut alice } else { &mut bob };
                let bytes = side.session.to_bytes();
                side.session = Session::from_bytes(&bytes).unwrap();
                side.session.set_config(CONFIG);
                assert!(
                    side.session.to_bytes() == bytes,
                    "reloading changed the session"
                );
            }
        }
    }
    // Everything still in flight arrives at last, newest first, and decrypts once.
    for side in [&mut alice, &mut bob] {
        while let Some((bytes, plaintext)) = side.in_flight.pop() {
            assert_eq!(decrypt_checked(side, &bytes).unwrap(), plaintext);
            assert_eq!(decrypt_checked(side, &bytes), Err(DecryptError::Duplicate));
        }
    }
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
