//! The secret halves of a device's prekeys and their rotation rules.

use rand_core::CryptoRng;
use satchel_proto::v1 as pb;
use zeroize::Zeroizing;

use super::PrekeyId;
use crate::crypto::dh::DhKeyPair;
use crate::crypto::kem::{KemKeyPair, SEED_LEN};
use crate::error::StateError;

/// Signed and KEM prekeys kept after rotation (the current one plus this many - 1), so
/// that handshakes made with a just-replaced bundle still complete.
pub const RETAINED_ROTATED_PREKEYS: usize = 3;
/// The most one-time prekeys a device keeps (published or not).
pub const MAX_ONE_TIME_PREKEYS: usize = 1_000;
/// Handshake ids remembered per account to reject replays of handshakes that used no
/// one-time prekey. Entries for signed prekeys that rotated out are dropped first.
pub const MAX_SEEN_HANDSHAKES: usize = 10_000;

pub(crate) struct SignedPrekeySecret {
    pub(crate) id: PrekeyId,
    pub(crate) pair: DhKeyPair,
}

pub(crate) struct KemPrekeySecret {
    pub(crate) id: PrekeyId,
    pub(crate) pair: KemKeyPair,
}

pub(crate) struct OneTimePrekeySecret {
    pub(crate) id: PrekeyId,
    pub(crate) pair: DhKeyPair,
    pub(crate) published: bool,
}

/// Identifies one accepted handshake, for replay detection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeenHandshake {
    pub(crate) signed_prekey_id: PrekeyId,
    pub(crate) handshake_id: [u8; 16],
}

/// All of a device's prekey secrets. Lists are ordered newest first.
pub(crate) struct PrekeyStore {
    pub(crate) signed: Vec<SignedPrekeySecret>,
    pub(crate) kem: Vec<KemPrekeySecret>,
    pub(crate) one_time: Vec<OneTimePrekeySecret>,
    pub(crate) next_id: PrekeyId,
    pub(crate) seen: Vec<SeenHandshake>,
}

impl PrekeyStore {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut store = Self {
            signed: Vec::new(),
            kem: Vec::new(),
            one_time: Vec::new(),
            next_id: 1,
            seen: Vec::new(),
        };
        store.rotate_signed(rng);
        store.rotate_kem(rng);
        store
    }

    fn take_id(&mut self) -> PrekeyId {
        let id = self.next_id;
        // Ids only need to be unique among live keys; wrapping after 2^32 keys is fine.
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    pub(crate) fn rotate_signed<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        let id = self.take_id();
        self.signed.insert(
            0,
            SignedPrekeySecret {
                id,
                pair: DhKeyPair::generate(rng),
            },
        );
        self.signed.truncate(RETAINED_ROTATED_PREKEYS);
        let live: Vec<PrekeyId> = self.signed.iter().map(|k| k.id).collect();
        self.seen
            .retain(|seen| live.contains(&seen.signed_prekey_id));
    }

    pub(crate) fn rotate_kem<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        let id = self.take_id();
        self.kem.insert(
            0,
            KemPrekeySecret {
                id,
                pair: KemKeyPair::generate(rng),
            },
        );
        self.kem.truncate(RETAINED_ROTATED_PREKEYS);
    }

    /// Generates up to `count` new one-time prekeys (never exceeding the cap) and returns
    /// their ids.
    pub(crate) fn generate_one_time<R: CryptoRng + ?Sized>(
        &mut self,
        count: usize,
        rng: &mut R,
    ) -> Vec<PrekeyId> {
        let room = MAX_ONE_TIME_PREKEYS.saturating_sub(self.one_time.len());
        (0..count.min(room))
            .map(|_| {
                let id = self.take_id();
                self.one_time.push(OneTimePrekeySecret {
                    id,
                    pair: DhKeyPair::generate(rng),
                    published: false,
                });
                id
            })
            .collect()
    }

    pub(crate) fn current_signed(&self) -> Option<&SignedPrekeySecret> {
        self.signed.first()
    }

    pub(crate) fn current_kem(&self) -> Option<&KemPrekeySecret> {
        self.kem.first()
    }

    pub(crate) fn signed(&self, id: PrekeyId) -> Option<&SignedPrekeySecret> {
        self.signed.iter().find(|k| k.id == id)
    }

    pub(crate) fn kem(&self, id: PrekeyId) -> Option<&KemPrekeySecret> {
        self.kem.iter().find(|k| k.id == id)
    }

    pub(crate) fn one_time(&self, id: PrekeyId) -> Option<&OneTimePrekeySecret> {
        self.one_time.iter().find(|k| k.id == id)
    }

    /// Forgets up to `count` published one-time prekeys, oldest first.
    pub(crate) fn forget_oldest_published(&mut self, count: usize) {
        let mut left = count;
        self.one_time.retain(|k| {
            if left > 0 && k.published {
                left -= 1;
                false
            } else {
                true
            }
        });
    }

    pub(crate) fn remove_one_time(&mut self, id: PrekeyId) {
        self.one_time.retain(|k| k.id != id);
    }

    pub(crate) fn has_seen(&self, seen: &SeenHandshake) -> bool {
        self.seen.contains(seen)
    }

    pub(crate) fn remember(&mut self, seen: SeenHandshake) {
        if self.seen.len() >= MAX_SEEN_HANDSHAKES {
            self.seen.remove(0);
        }
        self.seen.push(seen);
    }

    pub(crate) fn to_proto(&self, state: &mut pb::AccountState) {
        state.signed_prekeys = self
            .signed
            .iter()
            .map(|k| pb::SignedPrekeySecret {
                id: k.id,
                secret: k.pair.secret_bytes().as_bytes().to_vec(),
            })
            .collect();
        state.kem_prekeys = self
            .kem
            .iter()
            .map(|k| pb::KemPrekeySecret {
                id: k.id,
                seed: k.pair.seed().to_vec(),
            })
            .collect();
        state.one_time_prekeys = self
            .one_time
            .iter()
            .map(|k| pb::OneTimePrekeySecret {
                id: k.id,
                secret: k.pair.secret_bytes().as_bytes().to_vec(),
                published: k.published,
            })
            .collect();
        state.next_prekey_id = self.next_id;
        state.seen_handshakes = self
            .seen
            .iter()
            .map(|s| pb::SeenHandshake {
                signed_prekey_id: s.signed_prekey_id,
                handshake_id: s.handshake_id.to_vec(),
            })
            .collect();
    }

    pub(crate) fn from_proto(state: &pb::AccountState) -> Result<Self, StateError> {
        let secret = |bytes: &[u8], field: &'static str| -> Result<DhKeyPair, StateError> {
            let array: Zeroizing<[u8; 32]> = Zeroizing::new(
                bytes
                    .try_into()
                    .map_err(|_| StateError::Malformed { field })?,
            );
            Ok(DhKeyPair::from_secret(*array))
        };
        let signed = state
            .signed_prekeys
            .iter()
            .take(RETAINED_ROTATED_PREKEYS)
            .map(|k| {
                Ok(SignedPrekeySecret {
                    id: k.id,
                    pair: secret(&k.secret, "signed_prekeys")?,
                })
            })
            .collect::<Result<Vec<_>, StateError>>()?;
        let kem = state
            .kem_prekeys
            .iter()
            .take(RETAINED_ROTATED_PREKEYS)
            .map(|k| {
                let seed: Zeroizing<[u8; SEED_LEN]> =
                    Zeroizing::new(k.seed.as_slice().try_into().map_err(|_| {
                        StateError::Malformed {
                            field: "kem_prekeys",
                        }
                    })?);
                Ok(KemPrekeySecret {
                    id: k.id,
                    pair: KemKeyPair::from_seed(&seed),
                })
            })
            .collect::<Result<Vec<_>, StateError>>()?;
        let one_time = state
            .one_time_prekeys
            .iter()
            .take(MAX_ONE_TIME_PREKEYS)
            .map(|k| {
                Ok(OneTimePrekeySecret {
                    id: k.id,
                    pair: secret(&k.secret, "one_time_prekeys")?,
                    published: k.published,
                })
            })
            .collect::<Result<Vec<_>, StateError>>()?;
        let seen = state
            .seen_handshakes
            .iter()
            .rev()
            .take(MAX_SEEN_HANDSHAKES)
            .rev()
            .map(|s| {
                Ok(SeenHandshake {
                    signed_prekey_id: s.signed_prekey_id,
                    handshake_id: s.handshake_id.as_slice().try_into().map_err(|_| {
                        StateError::Malformed {
                            field: "seen_handshakes",
                        }
                    })?,
                })
            })
            .collect::<Result<Vec<_>, StateError>>()?;
        if signed.is_empty() {
            return Err(StateError::Malformed {
                field: "signed_prekeys",
            });
        }
        if kem.is_empty() {
            return Err(StateError::Malformed {
                field: "kem_prekeys",
            });
        }
        Ok(Self {
            signed,
            kem,
            one_time,
            next_id: state.next_prekey_id.max(1),
            seen,
        })
    }
}
