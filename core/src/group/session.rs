//! One group on one device: this device's sender key and the keys of the other senders.

use prost::Message;
use rand_core::CryptoRng;
use satchel_proto::v1 as pb;

use super::distribution::SenderKeyDistribution;
use super::inbound::{Advance, InboundSenderKey};
use super::message::{self, open_header};
use super::own_key::OwnSenderKey;
use super::{GroupConfig, GroupId, MAX_GROUP_SENDERS, SenderDevice};
use crate::MAX_PLAINTEXT_LEN;
use crate::crypto::secret::Secret32;
use crate::crypto::signing::{self, CachedVerifyingKey, SIGNATURE_LEN, SigningKeyPair};
use crate::error::{DistributionError, GroupDecryptError, GroupEncryptError, StateError};
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::header::HeaderKey;

/// The version of `GroupSessionState` this library writes and reads.
pub const GROUP_STATE_VERSION: u32 = 1;

/// The most skipped keys one stored sender key may hold when loaded (a bound on
/// corrupted storage; [`GroupConfig::max_skipped_keys`] bounds what is kept).
const MAX_STORED_SKIPPED: usize = 100_000;

/// A decrypted group message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlaintext {
    /// The device that sent it (the pairwise session its key came over authenticated it).
    pub sender: SenderDevice,
    /// Its index in the sender's chain.
    pub index: u32,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// What [`GroupSession::receive_distribution`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DistributionOutcome {
    /// A key this session did not hold: the sender's messages from its index on can be
    /// read.
    Added,
    /// The session already holds this key (at the same or an earlier index); nothing
    /// changed.
    AlreadyHeld,
}

/// One group on one device: its own sender key and the other senders' keys.
///
/// See the [module documentation](super) for an example. Persist it with
/// [`to_bytes`](Self::to_bytes) after every call that changes it (`encrypt`, `decrypt`,
/// `receive_distribution`, `rotate`, `remove_sender`).
pub struct GroupSession {
    group_id: GroupId,
    own_device: SenderDevice,
    own: OwnSenderKey,
    /// Most recently used first: headers are tried in this order.
    inbound: Vec<InboundSenderKey>,
    config: GroupConfig,
}

/// A message opened but not verified or committed.
struct Opened<'a> {
    position: usize,
    index: u32,
    plaintext: Vec<u8>,
    advance: Advance,
    signed: &'a [u8],
    signature: [u8; SIGNATURE_LEN],
}

impl GroupSession {
    /// A session for `group` on the device `own_device`, with a fresh sender key.
    /// `now` is the current time in Unix seconds (for the rotation schedule).
    pub fn new<R: CryptoRng + ?Sized>(
        group: GroupId,
        own_device: SenderDevice,
        now: u64,
        rng: &mut R,
    ) -> Self {
        Self {
            group_id: group,
            own_device,
            own: OwnSenderKey::generate(&group, &own_device, now, rng),
            inbound: Vec::new(),
            config: GroupConfig::default(),
        }
    }

    /// The group.
    #[must_use]
    pub fn group_id(&self) -> GroupId {
        self.group_id
    }

    /// This device.
    #[must_use]
    pub fn own_device(&self) -> SenderDevice {
        self.own_device
    }

    /// The bounds and rotation schedule in use.
    #[must_use]
    pub fn config(&self) -> GroupConfig {
        self.config
    }

    /// Sets the bounds and rotation schedule (not persisted). Lower skipped-key bounds
    /// take effect at the next message received.
    pub fn set_config(&mut self, config: GroupConfig) {
        self.config = config;
    }

    /// This device's sender key at its current index, for a member who should read what
    /// this device sends from now on. Send it inside the pairwise session with that
    /// member only.
    #[must_use]
    pub fn distribution(&self) -> SenderKeyDistribution {
        self.own.distribution(&self.group_id)
    }

    /// Whether this device's sender key is due for rotation at `now`.
    #[must_use]
    pub fn rotation_due(&self, now: u64) -> bool {
        self.own.rotation_due(now, &self.config)
    }

    /// Replaces this device's sender key with a fresh one and returns it for the members.
    /// Call it when a member is removed (then send the result to the remaining members
    /// only) and when [`rotation_due`](Self::rotation_due).
    pub fn rotate<R: CryptoRng + ?Sized>(
        &mut self,
        now: u64,
        rng: &mut R,
    ) -> SenderKeyDistribution {
        self.own = OwnSenderKey::generate(&self.group_id, &self.own_device, now, rng);
        self.distribution()
    }

    /// Encrypts a message for every member holding this device's current key. One AEAD
    /// encryption and one signature; the same bytes go to every member.
    ///
    /// # Errors
    /// [`GroupEncryptError::PlaintextTooLarge`]; [`GroupEncryptError::RotationDue`] when
    /// the key is due for rotation at `now`: [`rotate`](Self::rotate), send the new key to
    /// the members, then encrypt. The session is unchanged on error.
    pub fn encrypt(&mut self, plaintext: &[u8], now: u64) -> Result<Vec<u8>, GroupEncryptError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(GroupEncryptError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        if self.rotation_due(now) {
            return Err(GroupEncryptError::RotationDue);
        }
        // The chain ends at index u32::MAX; rotation comes long before.
        let (message_key, nonce, next) = self
            .own
            .chain
            .step()
            .ok_or(GroupEncryptError::RotationDue)?;
        let mut out = message::seal(
            &self.group_id,
            message_key.index,
            &self.own.header_key,
            &nonce,
            &message_key.key,
            plaintext,
        )
        .map_err(|_| GroupEncryptError::PlaintextTooLarge {
            len: plaintext.len(),
            max: MAX_PLAINTEXT_LEN,
        })?;
        let signature = self.own.signing.sign(&out);
        out.extend_from_slice(&signature);
        self.own.chain = next;
        Ok(out)
    }

    /// Takes a sender's key, received from `from` over their pairwise session.
    ///
    /// # Errors
    /// [`DistributionError::WrongGroup`]; [`DistributionError::NotFromSender`] when the
    /// key's binding names another device (someone forwarding another member's key as
    /// their own); [`DistributionError::TooManySenders`]. The session is unchanged on
    /// error.
    pub fn receive_distribution(
        &mut self,
        from: SenderDevice,
        distribution: &SenderKeyDistribution,
    ) -> Result<DistributionOutcome, DistributionError> {
        if distribution.group_id != self.group_id {
            return Err(DistributionError::WrongGroup);
        }
        if !distribution.is_from(&from) {
            return Err(DistributionError::NotFromSender);
        }
        if self
            .inbound
            .iter()
            .any(|key| key.sender == from && key.signing == distribution.signing_key)
        {
            // A chain can only move forward: the key held reads everything a later copy
            // would, and keeps its skipped keys.
            return Ok(DistributionOutcome::AlreadyHeld);
        }
        let known_sender = self.inbound.iter().any(|key| key.sender == from);
        if !known_sender && self.senders().len() >= MAX_GROUP_SENDERS {
            return Err(DistributionError::TooManySenders {
                max: MAX_GROUP_SENDERS,
            });
        }
        self.inbound
            .insert(0, InboundSenderKey::from_distribution(from, distribution));
        // Keep the newest key and a few earlier ones of this sender, for messages sent
        // before its rotation that arrive late; the least recently used go first.
        let keep = self.config.previous_keys_per_sender.saturating_add(1);
        let mut seen = 0usize;
        self.inbound.retain(|key| {
            if key.sender != from {
                return true;
            }
            seen += 1;
            seen <= keep
        });
        Ok(DistributionOutcome::Added)
    }

    /// Forgets every key of `sender` (a member who left or was removed): nothing they
    /// send is read any more. Returns whether any key was held. Call
    /// [`rotate`](Self::rotate) too, so that they read nothing this device sends.
    pub fn remove_sender(&mut self, sender: &SenderDevice) -> bool {
        let before = self.inbound.len();
        self.inbound.retain(|key| key.sender != *sender);
        self.inbound.len() != before
    }

    /// The devices whose keys this session holds.
    #[must_use]
    pub fn senders(&self) -> Vec<SenderDevice> {
        let mut senders: Vec<SenderDevice> = self.inbound.iter().map(|key| key.sender).collect();
        senders.sort_unstable();
        senders.dedup();
        senders
    }

    /// Decrypts a group message: finds the sender key that opens its header, reads the
    /// body, verifies the signature, and only then moves the sender's chain on.
    ///
    /// # Errors
    /// [`GroupDecryptError`]; the session is exactly as it was on error.
    /// [`GroupDecryptError::NoSenderKey`] usually means the sender's key has not arrived
    /// yet: keep the message and try again after the next sync.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<GroupPlaintext, GroupDecryptError> {
        let opened = Self::open(&self.inbound, &self.group_id, &self.config, message)?;
        let key = self
            .inbound
            .get(opened.position)
            .ok_or(GroupDecryptError::NoSenderKey)?;
        key.signing
            .verify(opened.signed, &opened.signature)
            .map_err(|_| GroupDecryptError::DecryptionFailed)?;
        Ok(Self::commit(&mut self.inbound, &self.config, opened))
    }

    /// Decrypts many messages (a device catching up after being offline), verifying their
    /// signatures in one batch. Returns one result per message, in order, exactly as
    /// calling [`decrypt`](Self::decrypt) on each in turn would: if the batch finds a bad
    /// signature, the messages are decrypted one at a time instead.
    pub fn decrypt_batch(
        &mut self,
        messages: &[&[u8]],
    ) -> Vec<Result<GroupPlaintext, GroupDecryptError>> {
        let mut work = self.inbound.clone();
        let mut results = Vec::with_capacity(messages.len());
        let mut signed = Vec::new();
        let mut signatures = Vec::new();
        let mut keys = Vec::new();
        for message in messages {
            match Self::open(&work, &self.group_id, &self.config, message) {
                Ok(opened) => {
                    let Some(key) = work.get(opened.position) else {
                        results.push(Err(GroupDecryptError::NoSenderKey));
                        continue;
                    };
                    keys.push(key.signing);
                    signed.push(opened.signed);
                    signatures.push(opened.signature);
                    results.push(Ok(Self::commit(&mut work, &self.config, opened)));
                }
                Err(error) => results.push(Err(error)),
            }
        }
        if signatures.is_empty() || signing::verify_batch(&signed, &signatures, &keys).is_ok() {
            self.inbound = work;
            return results;
        }
        messages
            .iter()
            .map(|message| self.decrypt(message))
            .collect()
    }

    /// Finds the key whose header key opens the message and decrypts the body.
    fn open<'a>(
        inbound: &[InboundSenderKey],
        group: &GroupId,
        config: &GroupConfig,
        message: &'a [u8],
    ) -> Result<Opened<'a>, GroupDecryptError> {
        let parts = message::split(message)?;
        let (position, header_group, index) = inbound
            .iter()
            .enumerate()
            .find_map(|(position, key)| {
                open_header(&key.header_key, parts.encrypted_header)
                    .map(|(header_group, index)| (position, header_group, index))
            })
            .ok_or(GroupDecryptError::NoSenderKey)?;
        if header_group != *group {
            return Err(GroupDecryptError::DecryptionFailed);
        }
        let key = inbound
            .get(position)
            .ok_or(GroupDecryptError::NoSenderKey)?;
        let (plaintext, advance) = key.open(index, parts.encrypted_header, parts.body, config)?;
        Ok(Opened {
            position,
            index,
            plaintext,
            advance,
            signed: parts.signed,
            signature: parts
                .signature
                .try_into()
                .map_err(|_| GroupDecryptError::DecryptionFailed)?,
        })
    }

    fn commit(
        inbound: &mut Vec<InboundSenderKey>,
        config: &GroupConfig,
        opened: Opened<'_>,
    ) -> GroupPlaintext {
        let mut key = inbound.remove(opened.position);
        key.apply(opened.advance, config);
        let sender = key.sender;
        inbound.insert(0, key);
        GroupPlaintext {
            sender,
            index: opened.index,
            plaintext: opened.plaintext,
        }
    }

    /// Protobuf bytes (`GroupSessionState`). Secret: store them encrypted.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        pb::GroupSessionState {
            version: GROUP_STATE_VERSION,
            group_id: self.group_id.as_bytes().to_vec(),
            own_device: self.own_device.as_bytes().to_vec(),
            own: Some(pb::OwnSenderKey {
                signing_secret: self.own.signing.secret_bytes().as_bytes().to_vec(),
                chain_key: self.own.chain.as_secret().as_bytes().to_vec(),
                index: self.own.chain.index(),
                header_key: self.own.header_key.as_secret().as_bytes().to_vec(),
                created_at: self.own.created_at,
                binding: self.own.binding.to_vec(),
            }),
            inbound: self
                .inbound
                .iter()
                .map(|key| pb::InboundSenderKey {
                    sender: key.sender.as_bytes().to_vec(),
                    signing_key: key.signing.to_bytes().to_vec(),
                    chain_key: key.chain.as_secret().as_bytes().to_vec(),
                    index: key.chain.index(),
                    header_key: key.header_key.as_secret().as_bytes().to_vec(),
                    skipped: key
                        .skipped
                        .iter()
                        .map(|(index, key)| pb::GroupSkippedKey {
                            index: *index,
                            key: key.as_bytes().to_vec(),
                        })
                        .collect(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// Loads a session written by [`to_bytes`](Self::to_bytes), with the default
    /// [`GroupConfig`].
    ///
    /// # Errors
    /// [`StateError::Malformed`] or [`StateError::UnsupportedVersion`]; nothing is loaded.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let malformed = |field| StateError::Malformed { field };
        let state = pb::GroupSessionState::decode(bytes).map_err(|_| malformed("protobuf"))?;
        if state.version != GROUP_STATE_VERSION {
            return Err(StateError::UnsupportedVersion {
                found: state.version,
                supported: GROUP_STATE_VERSION,
            });
        }
        let group_id = GroupId::from_slice(&state.group_id).ok_or(malformed("group_id"))?;
        let own_device = SenderDevice::from_bytes(
            state
                .own_device
                .as_slice()
                .try_into()
                .map_err(|_| malformed("own_device"))?,
        );
        let own = state.own.as_ref().ok_or(malformed("own"))?;
        let signing = SigningKeyPair::from_secret(
            &Secret32::from_slice(&own.signing_secret).ok_or(malformed("own.signing_secret"))?,
        );
        let verifying = CachedVerifyingKey::from_bytes(&signing.public())
            .map_err(|_| malformed("own.signing_secret"))?;
        let own = OwnSenderKey {
            signing,
            verifying,
            chain: ChainKey::new(
                Secret32::from_slice(&own.chain_key).ok_or(malformed("own.chain_key"))?,
                own.index,
            ),
            header_key: HeaderKey::new(
                Secret32::from_slice(&own.header_key).ok_or(malformed("own.header_key"))?,
            ),
            created_at: own.created_at,
            binding: own
                .binding
                .as_slice()
                .try_into()
                .map_err(|_| malformed("own.binding"))?,
        };
        let inbound = state
            .inbound
            .iter()
            .map(inbound_from_proto)
            .collect::<Result<Vec<_>, _>>()?;
        let mut senders: Vec<SenderDevice> = inbound.iter().map(|key| key.sender).collect();
        senders.sort_unstable();
        senders.dedup();
        if senders.len() > MAX_GROUP_SENDERS {
            return Err(malformed("inbound"));
        }
        Ok(Self {
            group_id,
            own_device,
            own,
            inbound,
            config: GroupConfig::default(),
        })
    }
}

fn inbound_from_proto(key: &pb::InboundSenderKey) -> Result<InboundSenderKey, StateError> {
    let malformed = |field| StateError::Malformed { field };
    let sender: [u8; 32] = key
        .sender
        .as_slice()
        .try_into()
        .map_err(|_| malformed("inbound.sender"))?;
    let signing: [u8; 32] = key
        .signing_key
        .as_slice()
        .try_into()
        .map_err(|_| malformed("inbound.signing_key"))?;
    if key.skipped.len() > MAX_STORED_SKIPPED {
        return Err(malformed("inbound.skipped"));
    }
    let mut skipped = std::collections::BTreeMap::new();
    for entry in &key.skipped {
        if entry.index >= key.index {
            return Err(malformed("inbound.skipped"));
        }
        let secret = Secret32::from_slice(&entry.key).ok_or(malformed("inbound.skipped"))?;
        skipped.insert(entry.index, secret);
    }
    Ok(InboundSenderKey {
        sender: SenderDevice::from_bytes(sender),
        signing: CachedVerifyingKey::from_bytes(&signing)
            .map_err(|_| malformed("inbound.signing_key"))?,
        chain: ChainKey::new(
            Secret32::from_slice(&key.chain_key).ok_or(malformed("inbound.chain_key"))?,
            key.index,
        ),
        header_key: HeaderKey::new(
            Secret32::from_slice(&key.header_key).ok_or(malformed("inbound.header_key"))?,
        ),
        skipped,
    })
}

impl std::fmt::Debug for GroupSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSession")
            .field("group_id", &self.group_id)
            .field("own_device", &self.own_device)
            .field("sent", &self.own.chain.index())
            .field("sender_keys", &self.inbound.len())
            .finish_non_exhaustive()
    }
}
