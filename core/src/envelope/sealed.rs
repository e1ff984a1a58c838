//! The sealed first-contact box: an ephemeral-static X25519 box to a device's mailbox.
//!
//! ```text
//! body = ephemeral_public (32) || ChaCha20-Poly1305(k, nonce = 0, padded content,
//!                                                   aad = version || send_id || ephemeral_public)
//! k    = HKDF-SHA256(salt = ephemeral_public || recipient_public,
//!                    ikm = X25519(ephemeral, recipient), info = "Satchel sealed first contact v1")
//! ```
//!
//! The relay sees a mailbox send id and a Padmé-sized blob; it cannot tell who sent it.
//! Inside is a [`satchel_proto::v1::SealedContent`]: the sender's certificate slot and
//! the PQXDH initial message. The box itself only hides the sender from the relay; the
//! sender is authenticated by the handshake inside.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::padme::{pad_into, unpad};
use super::queue::SendId;
use super::{ENVELOPE_PREFIX_LEN, Envelope};
use crate::crypto::aead::{self, TAG_LEN, ZERO_NONCE};
use crate::crypto::dh::DhKeyPair;
use crate::crypto::kdf::{LABEL_SEALED, hkdf};
use crate::crypto::secret::Secret32;

/// Length of the ephemeral public key at the start of a sealed body.
pub(crate) const EPHEMERAL_LEN: usize = 32;

/// Why a sealed box did not open. Deliberately coarse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenFailure {
    /// Too short, a low-order ephemeral key, a bad tag or bad padding.
    Undecryptable,
}

fn box_key(
    shared: &Secret32,
    ephemeral_public: &[u8; 32],
    recipient_public: &[u8; 32],
) -> Secret32 {
    let mut salt = [0u8; 64];
    let (first, second) = salt.split_at_mut(32);
    first.copy_from_slice(ephemeral_public);
    second.copy_from_slice(recipient_public);
    Secret32::new(hkdf::<32>(&salt, shared.as_bytes(), LABEL_SEALED))
}

/// A box key agreed with a recipient, ready to seal one content. Split from sealing so
/// that callers can do the fallible key agreement before changing any state.
pub(crate) struct Sealer {
    ephemeral_public: [u8; 32],
    key: Secret32,
}

impl Sealer {
    /// Generates the ephemeral key and agrees the box key with `recipient_public`.
    pub(crate) fn new<R: CryptoRng + ?Sized>(
        recipient_public: &[u8; 32],
        rng: &mut R,
    ) -> Result<Self, OpenFailure> {
        let ephemeral = DhKeyPair::generate(rng);
        let shared = ephemeral
            .agree(recipient_public)
            .map_err(|_| OpenFailure::Undecryptable)?;
        Ok(Self {
            ephemeral_public: *ephemeral.public(),
            key: box_key(&shared, ephemeral.public(), recipient_public),
        })
    }

    /// Seals `content` to the mailbox `send_id`. Fails only for contents beyond the
    /// AEAD's limit (256 GiB).
    pub(crate) fn seal(self, send_id: &SendId, content: &[u8]) -> Result<Envelope, OpenFailure> {
        let mut padded = Zeroizing::new(Vec::new());
        pad_into(content, &mut padded);
        let mut bytes = Envelope::start(send_id, EPHEMERAL_LEN + padded.len() + TAG_LEN);
        bytes.extend_from_slice(&self.ephemeral_public);
        let aad = bytes.clone();
        aead::seal_into(&self.key, &ZERO_NONCE, &aad, &padded, &mut bytes)
            .map_err(|_| OpenFailure::Undecryptable)?;
        Ok(Envelope::from_built(bytes))
    }
}

/// Seals `content` to the mailbox `send_id` owned by the device whose X25519 key is
/// `recipient_public`.
pub(crate) fn seal<R: CryptoRng + ?Sized>(
    send_id: &SendId,
    recipient_public: &[u8; 32],
    content: &[u8],
    rng: &mut R,
) -> Result<Envelope, OpenFailure> {
    Sealer::new(recipient_public, rng)?.seal(send_id, content)
}

/// Opens a sealed box addressed to `recipient`.
pub(crate) fn open(recipient: &DhKeyPair, envelope: &Envelope) -> Result<Vec<u8>, OpenFailure> {
    let body = envelope.body();
    let (ephemeral_public, sealed) = body
        .split_at_checked(EPHEMERAL_LEN)
        .ok_or(OpenFailure::Undecryptable)?;
    let ephemeral_public: [u8; 32] = ephemeral_public
        .try_into()
        .map_err(|_| OpenFailure::Undecryptable)?;
    let shared = recipient
        .agree(&ephemeral_public)
        .map_err(|_| OpenFailure::Undecryptable)?;
    let key = box_key(&shared, &ephemeral_public, recipient.public());
    let aad = envelope
        .as_bytes()
        .get(..ENVELOPE_PREFIX_LEN + EPHEMERAL_LEN)
        .ok_or(OpenFailure::Undecryptable)?;
    let mut content =
        aead::open(&key, &ZERO_NONCE, aad, sealed).map_err(|_| OpenFailure::Undecryptable)?;
    unpad(&mut content).map_err(|_| OpenFailure::Undecryptable)?;
    Ok(content)
}
