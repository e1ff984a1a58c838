//! The sender-key distribution: what a sender hands each member, over their pairwise
//! session, so the member can read the sender's group messages (PROTOCOL §13.3).
//!
//! ```text
//! binding = Ed25519(signing key, "Satchel sender key v1" || group id (16) || sender device (32))
//! ```
//!
//! The binding ties the key to the device that made it: a member who forwards someone
//! else's key as their own is refused ([`DistributionError::NotFromSender`]), so they
//! cannot get another sender's messages shown under their name.

use prost::Message;
use satchel_proto::v1 as pb;

use super::{GROUP_ID_LEN, GroupId, SenderDevice};
use crate::crypto::secret::Secret32;
use crate::crypto::signing::{CachedVerifyingKey, SIGNATURE_LEN};
use crate::error::DistributionError;

/// The version of [`SenderKeyDistribution`] this library writes and reads.
pub const DISTRIBUTION_VERSION: u32 = 1;

/// Label of the binding signature.
pub(crate) const LABEL_SENDER_KEY: &[u8] = b"Satchel sender key v1";

/// The bytes the binding signs.
pub(crate) fn binding_message(group: &GroupId, sender: &SenderDevice) -> Vec<u8> {
    let mut message = Vec::with_capacity(LABEL_SENDER_KEY.len() + GROUP_ID_LEN + 32);
    message.extend_from_slice(LABEL_SENDER_KEY);
    message.extend_from_slice(group.as_bytes());
    message.extend_from_slice(sender.as_bytes());
    message
}

/// A sender's key for one group, from a given message index on. Secret: send it only
/// inside a pairwise [`crate::Session`]. Parsed and length-checked on
/// [`from_bytes`](Self::from_bytes); the binding is checked by
/// [`crate::group::GroupSession::receive_distribution`], which knows the sending device.
#[derive(Clone)]
pub struct SenderKeyDistribution {
    pub(crate) group_id: GroupId,
    pub(crate) signing_key: CachedVerifyingKey,
    pub(crate) chain_key: Secret32,
    pub(crate) index: u32,
    pub(crate) header_key: Secret32,
    pub(crate) binding: [u8; SIGNATURE_LEN],
}

impl SenderKeyDistribution {
    /// The group the key is for.
    #[must_use]
    pub fn group_id(&self) -> GroupId {
        self.group_id
    }

    /// The index of the first message this key reads.
    #[must_use]
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The key's public signing key (names the key; not secret).
    #[must_use]
    pub fn signing_key(&self) -> [u8; 32] {
        self.signing_key.to_bytes()
    }

    /// Protobuf bytes (`SenderKeyDistribution` in `group.proto`). Secret.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        pb::SenderKeyDistribution {
            version: DISTRIBUTION_VERSION,
            group_id: self.group_id.as_bytes().to_vec(),
            signing_key: self.signing_key.to_bytes().to_vec(),
            chain_key: self.chain_key.as_bytes().to_vec(),
            index: self.index,
            header_key: self.header_key.as_bytes().to_vec(),
            binding: self.binding.to_vec(),
        }
        .encode_to_vec()
    }

    /// Parses and length-checks a distribution, and refuses weak signing keys.
    ///
    /// # Errors
    /// [`DistributionError::Malformed`] or [`DistributionError::UnsupportedVersion`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DistributionError> {
        let mut proto = pb::SenderKeyDistribution::decode(bytes)
            .map_err(|_| DistributionError::Malformed { field: "protobuf" })?;
        let result = Self::from_proto(&proto);
        zeroize::Zeroize::zeroize(&mut proto.chain_key);
        zeroize::Zeroize::zeroize(&mut proto.header_key);
        result
    }

    fn from_proto(proto: &pb::SenderKeyDistribution) -> Result<Self, DistributionError> {
        if proto.version != DISTRIBUTION_VERSION {
            return Err(DistributionError::UnsupportedVersion {
                found: proto.version,
                supported: DISTRIBUTION_VERSION,
            });
        }
        let malformed = |field| DistributionError::Malformed { field };
        let group_id = GroupId::from_slice(&proto.group_id).ok_or(malformed("group_id"))?;
        let signing: [u8; 32] = proto
            .signing_key
            .as_slice()
            .try_into()
            .map_err(|_| malformed("signing_key"))?;
        let signing_key =
            CachedVerifyingKey::from_bytes(&signing).map_err(|_| malformed("signing_key"))?;
        Ok(Self {
            group_id,
            signing_key,
            chain_key: Secret32::from_slice(&proto.chain_key).ok_or(malformed("chain_key"))?,
            index: proto.index,
            header_key: Secret32::from_slice(&proto.header_key).ok_or(malformed("header_key"))?,
            binding: proto
                .binding
                .as_slice()
                .try_into()
                .map_err(|_| malformed("binding"))?,
        })
    }

    /// Whether the binding names `sender` for this key and group.
    pub(crate) fn is_from(&self, sender: &SenderDevice) -> bool {
        self.signing_key
            .verify(&binding_message(&self.group_id, sender), &self.binding)
            .is_ok()
    }
}

impl std::fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderKeyDistribution")
            .field("group_id", &self.group_id)
            .field("signing_key", &self.signing_key)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}
