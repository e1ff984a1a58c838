//! Groups: sender keys, one encryption and one signature per message whatever the
//! group's size.
//!
//! Every device that posts in a group holds its own **sender key** for that group: a
//! chain key advanced by the same HMAC ratchet as a double-ratchet chain (`KDF_CK`), a
//! header key, and an Ed25519 signing key. It hands the key to each member as a
//! [`SenderKeyDistribution`] over their pairwise [`crate::Session`], which authenticates
//! the device it came from. A group message is then one AEAD encryption under the next
//! message key and one signature, and the same bytes go to every member.
//!
//! * The relay sees neither the group, nor the sender, nor the message index: all three
//!   travel inside an encrypted header that only members holding the sender's key open.
//! * A member who joins receives the chain at its current index and reads nothing sent
//!   before. A member who is removed keeps the keys they had; every remaining sender
//!   [rotates](GroupSession::rotate) and sends the new key to the remaining members
//!   only, so the removed member reads nothing sent after. Keys also rotate on a
//!   schedule ([`GroupConfig`]: every 7 days or 1,000 messages by default).
//! * Out-of-order messages are read within bounds; duplicates and replays are refused;
//!   a failed decryption leaves the session exactly as it was.
//!
//! [`GroupSession`] holds one group's keys on one device. The byte layouts are in
//! `docs/PROTOCOL.md` §13.
//!
//! ```
//! use satchel_core::group::{GroupId, GroupSession, SenderDevice};
//! use satchel_core::os_rng;
//!
//! let mut rng = os_rng();
//! let now = 1_767_225_600; // Unix seconds, from the app's clock
//! let group = GroupId::random(&mut rng);
//! // Each device is named by the signing key of its device certificate; in an app it
//! // comes from the pairwise session the key arrived over (`Session::peer`).
//! let teacher_device = SenderDevice::from_bytes([1; 32]);
//! let parent_device = SenderDevice::from_bytes([2; 32]);
//!
//! let mut teacher = GroupSession::new(group, teacher_device, now, &mut rng);
//! let mut parent = GroupSession::new(group, parent_device, now, &mut rng);
//! // The teacher's key travels to the parent over their pairwise session.
//! let key = teacher.distribution().to_bytes();
//! let key = satchel_core::group::SenderKeyDistribution::from_bytes(&key)?;
//! parent.receive_distribution(teacher_device, &key)?;
//!
//! let message = teacher.encrypt(b"The trip is on Friday", now)?;
//! let read = parent.decrypt(&message)?;
//! assert_eq!(read.sender, teacher_device);
//! assert_eq!(read.plaintext, b"The trip is on Friday");
//! assert!(parent.decrypt(&message).is_err()); // a replay
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod distribution;
pub(crate) mod envelope;
pub(crate) mod inbound;
pub(crate) mod message;
pub(crate) mod own_key;
pub(crate) mod session;

use rand_core::CryptoRng;

pub use distribution::{DISTRIBUTION_VERSION, SenderKeyDistribution};
pub use envelope::{
    GROUP_ENVELOPE_KIND, MAX_GROUP_DEPOSIT_LEN, group_envelope, group_message_in,
    is_possible_group_message,
};
pub use message::{MIN_GROUP_MESSAGE_LEN, group_message_len};
pub use session::{DistributionOutcome, GROUP_STATE_VERSION, GroupPlaintext, GroupSession};

/// Length of a [`GroupId`].
pub const GROUP_ID_LEN: usize = 16;

/// The most distinct sending devices one group session holds keys for.
pub const MAX_GROUP_SENDERS: usize = 10_000;

/// A group's id: 16 random bytes drawn by its creator. Members know it; the relay never
/// sees it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId([u8; GROUP_ID_LEN]);

impl GroupId {
    /// A fresh random group id.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; GROUP_ID_LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The id from its bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; GROUP_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The id from a slice; `None` unless it is exactly 16 bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The id's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; GROUP_ID_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupId({self})")
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}

/// A sending device, named by the Ed25519 signing key of its device certificate
/// ([`crate::DeviceCertificate::device_signing_key`]). Unlike the ids in a certificate,
/// which are claims, the key is what the pairwise session authenticated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderDevice([u8; 32]);

impl SenderDevice {
    /// The device of a (verified) device certificate.
    #[must_use]
    pub fn of(certificate: &crate::DeviceCertificate) -> Self {
        Self(*certificate.device_signing_key())
    }

    /// From the 32 bytes of a device signing key.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The device signing key's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SenderDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = data_encoding::HEXLOWER.encode(&self.0);
        write!(f, "SenderDevice({})", hex.get(..16).unwrap_or(&hex))
    }
}

/// Bounds and the rotation schedule of a group session (not persisted: the app sets it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfig {
    /// The most message keys one incoming message may make a sender key skip.
    pub max_skip: u32,
    /// The most skipped message keys kept per sender key; the oldest are evicted first.
    pub max_skipped_keys: usize,
    /// This device's sender key is due for rotation after this many messages…
    pub rotate_after_messages: u32,
    /// …or this many seconds, whichever comes first.
    pub rotate_after_secs: u64,
    /// How many earlier keys of one sender are kept, for messages sent before its
    /// rotation that arrive after it.
    pub previous_keys_per_sender: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            max_skip: 1_000,
            max_skipped_keys: 1_000,
            rotate_after_messages: 1_000,
            rotate_after_secs: 7 * 24 * 60 * 60,
            previous_keys_per_sender: 2,
        }
    }
}
