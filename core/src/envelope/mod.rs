//! The envelope: the only thing the relay ever sees of a message.
//!
//! ```text
//! envelope = version (1 byte, 0x01) || send_id (16 bytes) || body
//! ```
//!
//! The body is either a header-encrypted ratchet message (on a conversation queue) or a
//! sealed first-contact box (on a contact mailbox). Nothing in the bytes says which: the
//! receiver knows from the queue it fetched. Bodies are padded with Padmé inside the
//! encryption, so the length reveals only a Padmé bucket. `docs/PROTOCOL.md` gives the
//! exact layouts.

pub(crate) mod padme;
pub(crate) mod queue;
pub(crate) mod sealed;

use crate::error::EnvelopeError;
use queue::{QUEUE_ID_LEN, SendId};

/// The envelope format version this crate writes and reads.
pub const ENVELOPE_VERSION: u8 = 1;
/// Length of `version || send_id`, the prefix every envelope starts with.
pub const ENVELOPE_PREFIX_LEN: usize = 1 + QUEUE_ID_LEN;
/// The largest plaintext one message may carry (attachments travel as blobs).
pub const MAX_PLAINTEXT_LEN: usize = 256 * 1024;
/// The largest envelope this crate accepts: the largest padded plaintext plus all
/// overheads, rounded up.
pub const MAX_ENVELOPE_LEN: usize = 320 * 1024;

/// A parsed envelope: version checked, send id readable, length bounded.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    bytes: Vec<u8>,
}

impl Envelope {
    /// Parses envelope bytes as received from the relay.
    ///
    /// # Errors
    /// [`EnvelopeError`] if the bytes are too short or too long for an envelope, or carry
    /// a version this library does not know.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        Self::from_vec(bytes.to_vec())
    }

    /// Like [`Envelope::from_bytes`], taking ownership of the buffer.
    ///
    /// # Errors
    /// As [`Envelope::from_bytes`].
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(EnvelopeError::TooLong {
                len: bytes.len(),
                max: MAX_ENVELOPE_LEN,
            });
        }
        match bytes.as_slice() {
            [ENVELOPE_VERSION, rest @ ..] if rest.len() >= QUEUE_ID_LEN => Ok(Self { bytes }),
            [ENVELOPE_VERSION, ..] | [] => Err(EnvelopeError::TooShort { len: bytes.len() }),
            [version, ..] => Err(EnvelopeError::UnsupportedVersion { version: *version }),
        }
    }

    /// Builds an envelope from its parts; `body_len_hint` sizes the buffer.
    pub(crate) fn start(send_id: &SendId, body_len_hint: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(ENVELOPE_PREFIX_LEN + body_len_hint);
        bytes.push(ENVELOPE_VERSION);
        bytes.extend_from_slice(send_id.as_bytes());
        bytes
    }

    /// Wraps bytes built by [`Envelope::start`] plus a body.
    pub(crate) fn from_built(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The queue (or mailbox) this envelope is addressed to.
    #[must_use]
    pub fn send_id(&self) -> SendId {
        let mut id = [0u8; QUEUE_ID_LEN];
        if let Some(raw) = self.bytes.get(1..ENVELOPE_PREFIX_LEN) {
            id.copy_from_slice(raw);
        }
        SendId::from_bytes(id)
    }

    /// `version || send_id`: authenticated as associated data by every body.
    pub(crate) fn prefix(&self) -> &[u8] {
        self.bytes.get(..ENVELOPE_PREFIX_LEN).unwrap_or_default()
    }

    /// Everything after the prefix.
    pub(crate) fn body(&self) -> &[u8] {
        self.bytes.get(ENVELOPE_PREFIX_LEN..).unwrap_or_default()
    }

    /// The encoded envelope, as deposited on the relay.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the envelope, returning its bytes.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("send_id", &self.send_id())
            .field("len", &self.bytes.len())
            .finish()
    }
}
