//! The Double Ratchet with header encryption (Double Ratchet specification, section 4).
//!
//! Differences from the specification's pseudocode, all of them internal:
//! * the sending half of a DH ratchet step is deferred until the next encryption, so a
//!   device that only receives never generates keys (the result is identical: the root
//!   chain sees the same inputs in the same order);
//! * decryption computes every new value in local variables and commits only after the
//!   message authenticated and unpadded, so a failed decrypt leaves the state exactly
//!   as it was, without cloning the state;
//! * the current ratchet public key is cached: a message without a DH step costs no
//!   public-key operation at all;
//! * the plaintext is the session's frame (`crate::session::frame`), which the caller
//!   passes in parts and checks on decryption *before* anything is committed, so a
//!   message whose frame is invalid also leaves the state unchanged.

pub(crate) mod chain_key;
pub(crate) mod header;
pub(crate) mod root_key;
pub(crate) mod skipped;

use rand_core::CryptoRng;
use satchel_proto::v1 as pb;
use zeroize::Zeroizing;

use crate::crypto::aead::{self, TAG_LEN, ZERO_NONCE};
use crate::crypto::dh::DhKeyPair;
use crate::crypto::secret::Secret32;
use crate::envelope::ENVELOPE_PREFIX_LEN;
use crate::envelope::padme::{padded_len, unpad};
use crate::error::{DecryptError, EncryptError, StateError};
use chain_key::ChainKey;
use header::{ENCRYPTED_HEADER_LEN, Header, HeaderKey};
use root_key::RootKey;
use skipped::{SkippedChain, SkippedKeys};

/// Bounds on the work and memory a peer (or an attacker replaying a peer) can cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatchetConfig {
    /// The most message keys one incoming message may make us skip (MAX_SKIP).
    pub max_skip: u32,
    /// The most skipped message keys stored in all; the oldest are evicted first.
    pub max_skipped_keys: usize,
    /// The most receiving chains whose skipped keys are kept; keys of older chains
    /// expire.
    pub max_skipped_chains: usize,
}

impl Default for RatchetConfig {
    fn default() -> Self {
        Self {
            max_skip: 2_000,
            max_skipped_keys: 2_000,
            max_skipped_chains: 5,
        }
    }
}

/// Associated data of the body AEAD: session AD (32) || envelope prefix (17) || encrypted
/// header (68).
const BODY_AAD_LEN: usize = 32 + ENVELOPE_PREFIX_LEN + ENCRYPTED_HEADER_LEN;

fn body_aad(session_ad: &[u8; 32], prefix: &[u8], encrypted_header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(BODY_AAD_LEN);
    aad.extend_from_slice(session_ad);
    aad.extend_from_slice(prefix);
    aad.extend_from_slice(encrypted_header);
    aad
}

/// The length of a ratchet message for a plaintext (session frame) of `len` bytes.
pub(crate) fn message_len(len: usize) -> usize {
    ENCRYPTED_HEADER_LEN + padded_len(len) + TAG_LEN
}

/// A ratchet state. See the module documentation.
pub(crate) struct Ratchet {
    dh: DhKeyPair,
    remote_dh: Option<[u8; 32]>,
    root: RootKey,
    sending: Option<ChainKey>,
    receiving: Option<ChainKey>,
    previous_send_count: u32,
    sending_header_key: Option<HeaderKey>,
    receiving_header_key: Option<HeaderKey>,
    next_sending_header_key: HeaderKey,
    next_receiving_header_key: HeaderKey,
    receive_epoch: u64,
    skipped: SkippedKeys,
}

/// Inputs both parties derive from the handshake secret.
pub(crate) struct RatchetSeed {
    pub(crate) root: Secret32,
    /// The initiator's first sending header key (`shared_hka`).
    pub(crate) initiator_header_key: Secret32,
    /// The responder's first sending header key (`shared_nhkb`).
    pub(crate) responder_header_key: Secret32,
}

impl Ratchet {
    /// `RatchetInitAliceHE`: the initiator starts with a sending chain towards the
    /// responder's signed prekey.
    pub(crate) fn initiator<R: CryptoRng + ?Sized>(
        seed: RatchetSeed,
        responder_ratchet_key: &[u8; 32],
        rng: &mut R,
    ) -> Result<Self, EncryptError> {
        let dh = DhKeyPair::generate(rng);
        let shared = dh
            .agree(responder_ratchet_key)
            .map_err(|_| EncryptError::InvalidPeerKey)?;
        let (root, sending, next_sending_header_key) = RootKey::new(seed.root).advance(&shared);
        Ok(Self {
            dh,
            remote_dh: Some(*responder_ratchet_key),
            root,
            sending: Some(sending),
            receiving: None,
            previous_send_count: 0,
            sending_header_key: Some(HeaderKey::new(seed.initiator_header_key)),
            receiving_header_key: None,
            next_sending_header_key,
            next_receiving_header_key: HeaderKey::new(seed.responder_header_key),
            receive_epoch: 0,
            skipped: SkippedKeys::default(),
        })
    }

    /// `RatchetInitBobHE`: the responder's ratchet key is its signed prekey.
    pub(crate) fn responder(seed: RatchetSeed, signed_prekey: DhKeyPair) -> Self {
        Self {
            dh: signed_prekey,
            remote_dh: None,
            root: RootKey::new(seed.root),
            sending: None,
            receiving: None,
            previous_send_count: 0,
            sending_header_key: None,
            receiving_header_key: None,
            next_sending_header_key: HeaderKey::new(seed.responder_header_key),
            next_receiving_header_key: HeaderKey::new(seed.initiator_header_key),
            receive_epoch: 0,
            skipped: SkippedKeys::default(),
        }
    }

    /// Encrypts the concatenation of `parts` (the plaintext, padded here with Padmé) and
    /// appends `encrypted header || body` to `out`. `prefix` is the envelope's
    /// `version || send_id`, authenticated by both AEADs.
    pub(crate) fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        parts: &[&[u8]],
        prefix: &[u8],
        session_ad: &[u8; 32],
        out: &mut Vec<u8>,
        rng: &mut R,
    ) -> Result<(), EncryptError> {
        // The deferred sending half of a DH ratchet step, computed into locals.
        let mut step = None;
        let (chain, header_key) = match (&self.sending, &self.sending_header_key) {
            (Some(chain), Some(header_key)) => (chain.clone(), header_key.clone()),
            _ => {
                let remote = self.remote_dh.ok_or(EncryptError::InvalidPeerKey)?;
                let dh = DhKeyPair::generate(rng);
                let shared = dh
                    .agree(&remote)
                    .map_err(|_| EncryptError::InvalidPeerKey)?;
                let (root, chain, next_header_key) = self.root.advance(&shared);
                let header_key = self
                    .sending_header_key
                    .clone()
                    .unwrap_or_else(|| self.next_sending_header_key.clone());
                step = Some((dh, root, next_header_key));
                (chain, header_key)
            }
        };
        let (message_key, nonce, next_chain) = chain.step().ok_or(EncryptError::ChainExhausted)?;
        let ratchet_key = step
            .as_ref()
            .map_or(self.dh.public(), |(dh, _, _)| dh.public());
        let header = Header {
            ratchet_key: *ratchet_key,
            previous_chain_length: self.previous_send_count,
            index: message_key.index,
        };

        let plaintext_len = parts.iter().map(|part| part.len()).sum::<usize>();
        let start = out.len();
        out.reserve(message_len(plaintext_len));
        let mut padded = Zeroizing::new(Vec::with_capacity(padded_len(plaintext_len)));
        pad_parts_into(parts, plaintext_len, &mut padded);
        let sealed = header
            .encrypt_into(&header_key, &nonce, prefix, out)
            .and_then(|()| {
                let aad = body_aad(session_ad, prefix, out.get(start..).unwrap_or_default());
                aead::seal_into(&message_key.key, &ZERO_NONCE, &aad, &padded, out)
            });
        if sealed.is_err() {
            out.truncate(start);
            return Err(EncryptError::PlaintextTooLarge {
                len: plaintext_len,
                max: crate::envelope::MAX_PLAINTEXT_LEN,
            });
        }

        // Commit.
        if let Some((dh, root, next_header_key)) = step {
            self.dh = dh;
            self.root = root;
            self.sending_header_key = Some(header_key);
            self.next_sending_header_key = next_header_key;
        }
        self.sending = Some(next_chain);
        Ok(())
    }

    /// Decrypts `encrypted header || body`, returning the unpadded plaintext and what
    /// `check` made of it. `check` runs after the body authenticated and unpadded and
    /// before anything is committed: if it fails, the message is refused with its error.
    /// On any error the state is unchanged.
    pub(crate) fn decrypt<T>(
        &mut self,
        message: &[u8],
        prefix: &[u8],
        session_ad: &[u8; 32],
        config: &RatchetConfig,
        check: impl Fn(&[u8]) -> Result<T, DecryptError>,
    ) -> Result<(Vec<u8>, T), DecryptError> {
        let (encrypted_header, body) = message
            .split_at_checked(ENCRYPTED_HEADER_LEN)
            .ok_or(DecryptError::DecryptionFailed)?;
        let aad = body_aad(session_ad, prefix, encrypted_header);

        if let Some(current) = &self.receiving_header_key
            && let Some(header) = Header::decrypt(current, encrypted_header, prefix)
        {
            return self.decrypt_current_chain(header, body, &aad, config, &check);
        }
        if let Some(header) =
            Header::decrypt(&self.next_receiving_header_key, encrypted_header, prefix)
        {
            return self.decrypt_new_chain(header, body, &aad, config, &check);
        }
        if let Some((chain, header)) =
            self.skipped
                .find_header(encrypted_header, prefix, self.receiving_header_key.as_ref())
        {
            return self.decrypt_skipped(chain, header.index, body, &aad, &check);
        }
        Err(DecryptError::DecryptionFailed)
    }

    fn decrypt_current_chain<T>(
        &mut self,
        header: Header,
        body: &[u8],
        aad: &[u8],
        config: &RatchetConfig,
        check: &impl Fn(&[u8]) -> Result<T, DecryptError>,
    ) -> Result<(Vec<u8>, T), DecryptError> {
        if self.remote_dh != Some(header.ratchet_key) {
            return Err(DecryptError::Malformed {
                field: "ratchet key",
            });
        }
        let chain = self
            .receiving
            .as_ref()
            .ok_or(DecryptError::DecryptionFailed)?;
        if header.index < chain.index() {
            // Only an authentic header decrypts under the current header key, so this is
            // either a skipped message or one already received.
            let position = self
                .skipped
                .chain_for_epoch(self.receive_epoch)
                .ok_or(DecryptError::Duplicate)?;
            return self.decrypt_skipped(position, header.index, body, aad, check);
        }
        let (skipped, message_key, next_chain) = skip_to(chain, header.index, config)?;
        let plaintext = open_body(&message_key, body, aad)?;
        let checked = check(&plaintext)?;

        // Commit.
        if let Some(header_key) = self.receiving_header_key.clone() {
            self.skipped.insert(
                &header_key,
                self.receive_epoch,
                skipped,
                config.max_skipped_keys,
                config.max_skipped_chains,
            );
        }
        self.receiving = Some(next_chain);
        Ok((plaintext, checked))
    }

    fn decrypt_new_chain<T>(
        &mut self,
        header: Header,
        body: &[u8],
        aad: &[u8],
        config: &RatchetConfig,
        check: &impl Fn(&[u8]) -> Result<T, DecryptError>,
    ) -> Result<(Vec<u8>, T), DecryptError> {
        // Keys left in the current receiving chain, up to the peer's previous length.
        let old_skipped = match &self.receiving {
            Some(chain) if header.previous_chain_length > chain.index() => {
                skip_to(chain, header.previous_chain_length, config)?.0
            }
            _ => Vec::new(),
        };
        let shared = self
            .dh
            .agree(&header.ratchet_key)
            .map_err(|_| DecryptError::Malformed {
                field: "ratchet key",
            })?;
        let (root, chain, next_receiving_header_key) = self.root.advance(&shared);
        let (new_skipped, message_key, next_chain) = skip_to(&chain, header.index, config)?;
        // Only a damaged stored state can be at the last epoch.
        let next_epoch = self
            .receive_epoch
            .checked_add(1)
            .ok_or(DecryptError::DecryptionFailed)?;
        let plaintext = open_body(&message_key, body, aad)?;
        let checked = check(&plaintext)?;

        // Commit (`DHRatchetHE`, receiving half; the sending half waits for `encrypt`).
        if let Some(old_header_key) = self.receiving_header_key.clone() {
            self.skipped.insert(
                &old_header_key,
                self.receive_epoch,
                old_skipped,
                config.max_skipped_keys,
                config.max_skipped_chains,
            );
        }
        let new_header_key = std::mem::replace(
            &mut self.next_receiving_header_key,
            next_receiving_header_key,
        );
        self.receive_epoch = next_epoch;
        self.skipped.insert(
            &new_header_key,
            self.receive_epoch,
            new_skipped,
            config.max_skipped_keys,
            config.max_skipped_chains,
        );
        // PN counts the chain we last sent on; if we have not sent since the previous
        // step, that chain's count stands.
        if let Some(sending) = self.sending.take() {
            self.previous_send_count = sending.index();
        }
        self.sending_header_key = Some(self.next_sending_header_key.clone());
        self.receiving_header_key = Some(new_header_key);
        self.remote_dh = Some(header.ratchet_key);
        self.root = root;
        self.receiving = Some(next_chain);
        Ok((plaintext, checked))
    }

    fn decrypt_skipped<T>(
        &mut self,
        chain: usize,
        index: u32,
        body: &[u8],
        aad: &[u8],
        check: &impl Fn(&[u8]) -> Result<T, DecryptError>,
    ) -> Result<(Vec<u8>, T), DecryptError> {
        let key = self
            .skipped
            .key(chain, index)
            .ok_or(DecryptError::Duplicate)?;
        let plaintext = open_body_with(key, body, aad)?;
        let checked = check(&plaintext)?;
        self.skipped.remove(chain, index);
        Ok((plaintext, checked))
    }

    /// Number of skipped message keys currently stored.
    pub(crate) fn skipped_len(&self) -> usize {
        self.skipped.len()
    }

    pub(crate) fn to_proto(&self) -> pb::RatchetState {
        let bytes = |s: &Secret32| s.as_bytes().to_vec();
        pb::RatchetState {
            dh_secret: bytes(&self.dh.secret_bytes()),
            dh_public: self.dh.public().to_vec(),
            remote_dh: self.remote_dh.map(|k| k.to_vec()),
            root_key: bytes(self.root.as_secret()),
            sending_chain_key: self.sending.as_ref().map(|c| bytes(c.as_secret())),
            receiving_chain_key: self.receiving.as_ref().map(|c| bytes(c.as_secret())),
            send_index: self.sending.as_ref().map_or(0, ChainKey::index),
            receive_index: self.receiving.as_ref().map_or(0, ChainKey::index),
            previous_send_count: self.previous_send_count,
            sending_header_key: self
                .sending_header_key
                .as_ref()
                .map(|k| bytes(k.as_secret())),
            receiving_header_key: self
                .receiving_header_key
                .as_ref()
                .map(|k| bytes(k.as_secret())),
            next_sending_header_key: bytes(self.next_sending_header_key.as_secret()),
            next_receiving_header_key: bytes(self.next_receiving_header_key.as_secret()),
            receive_epoch: self.receive_epoch,
            skipped: self
                .skipped
                .chains
                .iter()
                .map(|chain| pb::SkippedChain {
                    header_key: bytes(chain.header_key.as_secret()),
                    epoch: chain.epoch,
                    keys: chain
                        .keys
                        .iter()
                        .map(|(index, key)| pb::SkippedMessageKey {
                            index: *index,
                            key: bytes(key),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    pub(crate) fn from_proto(state: &pb::RatchetState) -> Result<Self, StateError> {
        fn secret(bytes: &[u8], field: &'static str) -> Result<Secret32, StateError> {
            Secret32::from_slice(bytes).ok_or(StateError::Malformed { field })
        }
        fn public(bytes: &[u8], field: &'static str) -> Result<[u8; 32], StateError> {
            bytes
                .try_into()
                .map_err(|_| StateError::Malformed { field })
        }
        let optional =
            |bytes: &Option<Vec<u8>>, field| bytes.as_deref().map(|b| secret(b, field)).transpose();

        let dh = DhKeyPair::from_parts(
            *secret(&state.dh_secret, "dh_secret")?.as_bytes(),
            public(&state.dh_public, "dh_public")?,
        );
        // Loaded as stored: the bounds are enforced whenever keys are added, under the
        // configuration in force then (which may be larger than the default).
        let mut skipped = SkippedKeys::default();
        for chain in &state.skipped {
            let mut keys = Vec::with_capacity(chain.keys.len());
            for key in &chain.keys {
                keys.push((key.index, secret(&key.key, "skipped key")?));
            }
            keys.sort_by_key(|(index, _)| *index);
            keys.dedup_by_key(|(index, _)| *index);
            skipped.chains.push_back(SkippedChain {
                header_key: HeaderKey::new(secret(&chain.header_key, "skipped header key")?),
                epoch: chain.epoch,
                keys,
            });
        }
        // Eviction assumes oldest-first order and one chain per epoch.
        skipped
            .chains
            .make_contiguous()
            .sort_by_key(|chain| chain.epoch);
        let before = skipped.chains.len();
        let mut seen = std::collections::HashSet::new();
        skipped.chains.retain(|chain| seen.insert(chain.epoch));
        if skipped.chains.len() != before {
            return Err(StateError::Malformed {
                field: "skipped chains",
            });
        }
        let sending_key = optional(&state.sending_chain_key, "sending_chain_key")?;
        let receiving_key = optional(&state.receiving_chain_key, "receiving_chain_key")?;
        Ok(Self {
            dh,
            remote_dh: state
                .remote_dh
                .as_deref()
                .map(|k| public(k, "remote_dh"))
                .transpose()?,
            root: RootKey::new(secret(&state.root_key, "root_key")?),
            sending: sending_key.map(|k| ChainKey::new(k, state.send_index)),
            receiving: receiving_key.map(|k| ChainKey::new(k, state.receive_index)),
            previous_send_count: state.previous_send_count,
            sending_header_key: optional(&state.sending_header_key, "sending_header_key")?
                .map(HeaderKey::new),
            receiving_header_key: optional(&state.receiving_header_key, "receiving_header_key")?
                .map(HeaderKey::new),
            next_sending_header_key: HeaderKey::new(secret(
                &state.next_sending_header_key,
                "next_sending_header_key",
            )?),
            next_receiving_header_key: HeaderKey::new(secret(
                &state.next_receiving_header_key,
                "next_receiving_header_key",
            )?),
            receive_epoch: state.receive_epoch,
            skipped,
        })
    }
}

/// Keys skipped on the way, the message key at the target, and the chain after it.
type Skipped = (Vec<(u32, Secret32)>, chain_key::MessageKey, ChainKey);

/// Advances a copy of `chain` to `target`, returning the keys skipped on the way, the
/// message key at `target` and the chain after it. Refuses gaps beyond `max_skip`.
fn skip_to(chain: &ChainKey, target: u32, config: &RatchetConfig) -> Result<Skipped, DecryptError> {
    let gap = u64::from(target).saturating_sub(u64::from(chain.index()));
    if gap > u64::from(config.max_skip) {
        return Err(DecryptError::TooFarAhead {
            gap,
            max: config.max_skip,
        });
    }
    let mut skipped = Vec::with_capacity(usize::try_from(gap).unwrap_or(0));
    let mut current = chain.clone();
    loop {
        let (message_key, next) = current
            .step_receiving()
            .ok_or(DecryptError::DecryptionFailed)?;
        if message_key.index >= target {
            return Ok((skipped, message_key, next));
        }
        skipped.push((message_key.index, message_key.key));
        current = next;
    }
}

/// Appends `parts[0] || parts[1] || … || 0x80 || 0x00…`, `padded_len(len)` bytes in all,
/// where `len` is the parts' total length (Padmé, as `envelope::padme::pad_into`).
fn pad_parts_into(parts: &[&[u8]], len: usize, out: &mut Vec<u8>) {
    let target = padded_len(len);
    let start = out.len();
    out.reserve(target);
    for part in parts {
        out.extend_from_slice(part);
    }
    out.push(0x80);
    out.resize(start + target, 0);
}

fn open_body(
    message_key: &chain_key::MessageKey,
    body: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    open_body_with(&message_key.key, body, aad)
}

fn open_body_with(key: &Secret32, body: &[u8], aad: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let mut plaintext =
        aead::open(key, &ZERO_NONCE, aad, body).map_err(|_| DecryptError::DecryptionFailed)?;
    unpad(&mut plaintext).map_err(|_| DecryptError::Malformed { field: "padding" })?;
    Ok(plaintext)
}
