//! Another device's sender key, as held by a member: the receiving chain, skipped message
//! keys, and the verifying key.
//!
//! Opening a message computes everything into an [`Advance`] and changes nothing; the
//! session applies it only once the body and the signature verified.

use std::collections::BTreeMap;

use super::distribution::SenderKeyDistribution;
use super::message::open_body;
use super::{GroupConfig, SenderDevice};
use crate::crypto::secret::Secret32;
use crate::crypto::signing::CachedVerifyingKey;
use crate::error::GroupDecryptError;
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::header::HeaderKey;

#[derive(Clone)]
pub(crate) struct InboundSenderKey {
    pub(crate) sender: SenderDevice,
    pub(crate) signing: CachedVerifyingKey,
    pub(crate) chain: ChainKey,
    pub(crate) header_key: HeaderKey,
    /// Keys of messages not yet received, below the chain's index.
    pub(crate) skipped: BTreeMap<u32, Secret32>,
}

/// What receiving one message changes in its sender key.
pub(crate) enum Advance {
    /// The message used a skipped key: forget it.
    Skipped(u32),
    /// The message was at or past the chain's index: the chain moves past it and the
    /// keys in between are kept.
    Chain {
        next: ChainKey,
        skipped: Vec<(u32, Secret32)>,
    },
}

impl InboundSenderKey {
    pub(crate) fn from_distribution(
        sender: SenderDevice,
        distribution: &SenderKeyDistribution,
    ) -> Self {
        Self {
            sender,
            signing: distribution.signing_key,
            chain: ChainKey::new(distribution.chain_key.clone(), distribution.index),
            header_key: HeaderKey::new(distribution.header_key.clone()),
            skipped: BTreeMap::new(),
        }
    }

    /// Decrypts the body of the message at `index`; commits nothing.
    pub(crate) fn open(
        &self,
        index: u32,
        encrypted_header: &[u8],
        body: &[u8],
        config: &GroupConfig,
    ) -> Result<(Vec<u8>, Advance), GroupDecryptError> {
        if index < self.chain.index() {
            let key = self
                .skipped
                .get(&index)
                .ok_or(GroupDecryptError::Duplicate)?;
            let plaintext = open_body(key, encrypted_header, body)?;
            return Ok((plaintext, Advance::Skipped(index)));
        }
        let gap = u64::from(index - self.chain.index());
        if gap > u64::from(config.max_skip) {
            return Err(GroupDecryptError::TooFarAhead {
                gap,
                max: config.max_skip,
            });
        }
        let mut skipped = Vec::new();
        let mut current = self.chain.clone();
        loop {
            // At index u32::MAX the chain has no next key: nothing can be sent there.
            let (message_key, next) = current
                .step_receiving()
                .ok_or(GroupDecryptError::DecryptionFailed)?;
            if message_key.index == index {
                let plaintext = open_body(&message_key.key, encrypted_header, body)?;
                return Ok((plaintext, Advance::Chain { next, skipped }));
            }
            skipped.push((message_key.index, message_key.key));
            current = next;
        }
    }

    pub(crate) fn apply(&mut self, advance: Advance, config: &GroupConfig) {
        match advance {
            Advance::Skipped(index) => {
                self.skipped.remove(&index);
            }
            Advance::Chain { next, skipped } => {
                self.chain = next;
                self.skipped.extend(skipped);
                while self.skipped.len() > config.max_skipped_keys {
                    self.skipped.pop_first();
                }
            }
        }
    }
}
