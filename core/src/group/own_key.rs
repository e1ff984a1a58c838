//! This device's own sender key for a group.

use rand_core::CryptoRng;

use super::distribution::{SenderKeyDistribution, binding_message};
use super::{GroupConfig, GroupId, SenderDevice};
use crate::crypto::secret::Secret32;
use crate::crypto::signing::{CachedVerifyingKey, SIGNATURE_LEN, SigningKeyPair};
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::header::HeaderKey;

/// A sending chain, its header key and signing key, with its age for rotation.
#[derive(Clone)]
pub(crate) struct OwnSenderKey {
    pub(crate) signing: SigningKeyPair,
    pub(crate) verifying: CachedVerifyingKey,
    pub(crate) chain: ChainKey,
    pub(crate) header_key: HeaderKey,
    pub(crate) created_at: u64,
    pub(crate) binding: [u8; SIGNATURE_LEN],
}

impl OwnSenderKey {
    /// A fresh key: random chain key, header key and signing key (drawn in that order).
    pub(crate) fn generate<R: CryptoRng + ?Sized>(
        group: &GroupId,
        own_device: &SenderDevice,
        now: u64,
        rng: &mut R,
    ) -> Self {
        let mut chain = [0u8; 32];
        rng.fill_bytes(&mut chain);
        let mut header = [0u8; 32];
        rng.fill_bytes(&mut header);
        // A generated key is weak with probability ~2^-250; draw again rather than panic.
        let (signing, verifying) = loop {
            let signing = SigningKeyPair::generate(rng);
            if let Ok(verifying) = CachedVerifyingKey::from_bytes(&signing.public()) {
                break (signing, verifying);
            }
        };
        let binding = signing.sign(&binding_message(group, own_device));
        Self {
            signing,
            verifying,
            chain: ChainKey::new(Secret32::new(chain), 0),
            header_key: HeaderKey::new(Secret32::new(header)),
            created_at: now,
            binding,
        }
    }

    pub(crate) fn rotation_due(&self, now: u64, config: &GroupConfig) -> bool {
        self.chain.index() >= config.rotate_after_messages
            || now.saturating_sub(self.created_at) >= config.rotate_after_secs
    }

    /// The key as a member receives it, at the chain's current index.
    pub(crate) fn distribution(&self, group: &GroupId) -> SenderKeyDistribution {
        SenderKeyDistribution {
            group_id: *group,
            signing_key: self.verifying,
            chain_key: self.chain.as_secret().clone(),
            index: self.chain.index(),
            header_key: self.header_key.as_secret().clone(),
            binding: self.binding,
        }
    }
}
