//! Property test: a group of up to 7 devices with random schedules of sends, membership
//! changes (removals, joins, scheduled rotations) and deliveries with reordering, loss,
//! duplication, tampering and reloads from bytes. Every message goes to every device,
//! members or not, as a hostile relay could deliver it.
//!
//! A model tracks which keys each device holds (generation and first index, least
//! recently used evicted as `GroupSession` does). Checked on every delivery: a device
//! reads a message exactly when it holds the sender's key of that generation from at
//! or before its index and has not read it yet, and then reads exactly what was sent,
//! from whom; so removed members read nothing sent after their removal, and new members
//! nothing sent before they joined. Every failure leaves the session's bytes unchanged,
//! and reloading from bytes changes nothing.

use std::collections::HashSet;

use proptest::prelude::*;
use satchel_core::group::{GroupId, GroupSession, SenderDevice, SenderKeyDistribution};

use crate::support::rng;

const DEVICES: usize = 7;
const FIRST_MEMBERS: usize = 4;
const NOW: u64 = 1_767_225_600;
/// Keys kept per sender: the current one and `previous_keys_per_sender` (2) earlier.
const KEYS_KEPT: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Send {
        from: usize,
        len: u16,
    },
    Deliver {
        to: usize,
        pick: usize,
    },
    Drop {
        to: usize,
        pick: usize,
    },
    Duplicate {
        to: usize,
        pick: usize,
    },
    Tamper {
        to: usize,
        pick: usize,
        position: usize,
        bit: u8,
    },
    Remove {
        member: usize,
    },
    Join {
        device: usize,
    },
    Rotate {
        member: usize,
    },
    Reload {
        device: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let d = 0..DEVICES;
    prop_oneof![
        30 => (d.clone(), 0u16..200).prop_map(|(from, len)| Op::Send { from, len }),
        40 => (d.clone(), any::<usize>()).prop_map(|(to, pick)| Op::Deliver { to, pick }),
        4 => (d.clone(), any::<usize>()).prop_map(|(to, pick)| Op::Drop { to, pick }),
        5 => (d.clone(), any::<usize>()).prop_map(|(to, pick)| Op::Duplicate { to, pick }),
        5 => (d.clone(), any::<usize>(), any::<usize>(), 0u8..8)
            .prop_map(|(to, pick, position, bit)| Op::Tamper { to, pick, position, bit }),
        2 => d.clone().prop_map(|member| Op::Remove { member }),
        3 => d.clone().prop_map(|device| Op::Join { device }),
        2 => d.clone().prop_map(|member| Op::Rotate { member }),
        3 => d.prop_map(|device| Op::Reload { device }),
    ]
}

struct Sent {
    sender: usize,
    generation: u32,
    index: u32,
    plaintext: Vec<u8>,
    /// The members when it was sent: nobody else may ever read it.
    members: Vec<usize>,
}

struct Device {
    session: GroupSession,
    /// `Some(true)` a member, `Some(false)` removed, `None` never a member yet.
    member: Option<bool>,
    generation: u32,
    sent: u32,
    /// Per sender: the keys held, (generation, first index), most recently used first.
    held: Vec<Vec<(u32, u32)>>,
    in_flight: Vec<(usize, Vec<u8>)>,
    read: HashSet<usize>,
}

struct World {
    rng: chacha20::ChaCha20Rng,
    devices: Vec<Device>,
    sent: Vec<Sent>,
}

fn device_key(n: usize) -> SenderDevice {
    SenderDevice::from_bytes([n as u8 + 1; 32])
}

impl World {
    fn new() -> Self {
        let mut r = rng(21);
        let group = GroupId::random(&mut r);
        let devices = (0..DEVICES)
            .map(|n| Device {
                session: GroupSession::new(group, device_key(n), NOW, &mut r),
                member: None,
                generation: 0,
                sent: 0,
                held: vec![Vec::new(); DEVICES],
                in_flight: Vec::new(),
                read: HashSet::new(),
            })
            .collect();
        let mut world = Self {
            rng: r,
            devices,
            sent: Vec::new(),
        };
        for n in 0..FIRST_MEMBERS {
            world.join(n);
        }
        world
    }

    fn members(&self) -> Vec<usize> {
        (0..DEVICES)
            .filter(|&n| self.devices[n].member == Some(true))
            .collect()
    }

    /// `from` hands its current key to `to` (through its bytes, as over a session).
    fn hand_key(&mut self, from: usize, to: usize) {
        let key = self.devices[from].session.distribution().to_bytes();
        let key = SenderKeyDistribution::from_bytes(&key).unwrap();
        let (generation, first) = (self.devices[from].generation, self.devices[from].sent);
        self.devices[to]
            .session
            .receive_distribution(device_key(from), &key)
            .unwrap();
        let held = &mut self.devices[to].held[from];
        if !held.contains(&(generation, first)) && !held.iter().any(|(g, _)| *g == generation) {
            held.insert(0, (generation, first));
            held.truncate(KEYS_KEPT);
        }
    }

    fn join(&mut self, device: usize) {
        if self.devices[device].member.is_some() {
            return;
        }
        self.devices[device].member = Some(true);
        for other in self.members() {
            if other != device {
                self.hand_key(other, device);
                self.hand_key(device, other);
            }
        }
    }

    fn rotate(&mut self, member: usize) {
        let _ = self.devices[member].session.rotate(NOW, &mut self.rng);
        self.devices[member].generation += 1;
        self.devices[member].sent = 0;
        for other in self.members() {
            if other != member {
                self.hand_key(member, other);
            }
        }
    }

    fn remove(&mut self, member: usize) {
        if self.devices[member].member != Some(true) || self.members().len() <= 2 {
            return;
        }
        self.devices[member].member = Some(false);
        for other in self.members() {
            self.devices[other]
                .session
                .remove_sender(&device_key(member));
            self.devices[other].held[member].clear();
        }
        for other in self.members() {
            self.rotate(other);
        }
    }

    fn send(&mut self, from: usize, len: u16) {
        if self.devices[from].member != Some(true) {
            return;
        }
        let id = self.sent.len();
        let plaintext: Vec<u8> = (0..len).map(|i| (i as usize ^ id) as u8).collect();
        let bytes = self.devices[from].session.encrypt(&plaintext, NOW).unwrap();
        self.sent.push(Sent {
            sender: from,
            generation: self.devices[from].generation,
            index: self.devices[from].sent,
            plaintext,
            members: self.members(),
        });
        self.devices[from].sent += 1;
        for to in 0..DEVICES {
            if to != from {
                self.devices[to].in_flight.push((id, bytes.clone()));
            }
        }
    }

    fn deliver(&mut self, to: usize, id: usize, bytes: &[u8]) {
        let sent = &self.sent[id];
        let device = &mut self.devices[to];
        let entitled = !device.read.contains(&id)
            && device.held[sent.sender]
                .iter()
                .any(|(generation, first)| *generation == sent.generation && *first <= sent.index);
        let before = device.session.to_bytes();
        match device.session.decrypt(bytes) {
            Ok(read) => {
                assert!(
                    sent.members.contains(&to),
                    "device {to} read message {id} though it was not a member when it was sent"
                );
                assert!(entitled, "device {to} read message {id}, which it must not");
                assert_eq!(read.sender, device_key(sent.sender));
                assert_eq!(read.index, sent.index);
                assert_eq!(read.plaintext, sent.plaintext);
                device.read.insert(id);
                let held = &mut device.held[sent.sender];
                let used = held
                    .iter()
                    .position(|(generation, _)| *generation == sent.generation)
                    .unwrap();
                let key = held.remove(used);
                held.insert(0, key);
            }
            Err(error) => {
                assert!(
                    !entitled,
                    "device {to} could not read message {id}: {error:?}"
                );
                assert_eq!(device.session.to_bytes(), before, "a failure changed state");
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Send { from, len } => self.send(from, len),
            Op::Deliver { to, pick } | Op::Duplicate { to, pick } | Op::Drop { to, pick } => {
                let flight = &mut self.devices[to].in_flight;
                if flight.is_empty() {
                    return;
                }
                let at = pick % flight.len();
                let (id, bytes) = if matches!(op, Op::Duplicate { .. }) {
                    flight[at].clone()
                } else {
                    flight.remove(at)
                };
                if !matches!(op, Op::Drop { .. }) {
                    self.deliver(to, id, &bytes);
                }
            }
            Op::Tamper {
                to,
                pick,
                position,
                bit,
            } => {
                let flight = &self.devices[to].in_flight;
                if flight.is_empty() {
                    return;
                }
                let (_, mut bytes) = flight[pick % flight.len()].clone();
                let at = position % bytes.len();
                bytes[at] ^= 1 << bit;
                let session = &mut self.devices[to].session;
                let before = session.to_bytes();
                assert!(session.decrypt(&bytes).is_err(), "a tampered copy was read");
                assert_eq!(session.to_bytes(), before);
            }
            Op::Remove { member } => self.remove(member),
            Op::Join { device } => self.join(device),
            Op::Rotate { member } => {
                if self.devices[member].member == Some(true) {
                    self.rotate(member);
                }
            }
            Op::Reload { device } => {
                let session = &mut self.devices[device].session;
                let bytes = session.to_bytes();
                *session = GroupSession::from_bytes(&bytes).unwrap();
                assert_eq!(session.to_bytes(), bytes);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn members_read_exactly_what_their_keys_allow(ops in prop::collection::vec(op(), 150..400)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
        }
        // Everything left is delivered: members read what they are owed.
        for to in 0..DEVICES {
            while let Some((id, bytes)) = world.devices[to].in_flight.pop() {
                world.deliver(to, id, &bytes);
            }
        }
    }
}
