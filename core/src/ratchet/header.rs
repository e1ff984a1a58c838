//! Encrypted ratchet headers (Double Ratchet specification, section 4).
//!
//! ```text
//! header           = ratchet_public (32) || previous_chain_length PN (u32 BE) || index N (u32 BE)
//! encrypted header = nonce (12) || ChaCha20-Poly1305(hk, nonce, header, aad = envelope prefix)
//! ```
//!
//! An observer sees 68 bytes that look random: no ratchet key, no counters, no gaps.

use crate::crypto::aead::{self, NONCE_LEN, TAG_LEN};
use crate::crypto::secret::Secret32;

/// Plaintext header length.
pub(crate) const HEADER_LEN: usize = 32 + 4 + 4;
/// Encrypted header length: nonce, header, tag.
pub(crate) const ENCRYPTED_HEADER_LEN: usize = NONCE_LEN + HEADER_LEN + TAG_LEN;

/// A header key: encrypts every header of one sending chain.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct HeaderKey(Secret32);

impl HeaderKey {
    pub(crate) fn new(key: Secret32) -> Self {
        Self(key)
    }

    pub(crate) fn as_secret(&self) -> &Secret32 {
        &self.0
    }
}

/// A decrypted ratchet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) ratchet_key: [u8; 32],
    pub(crate) previous_chain_length: u32,
    pub(crate) index: u32,
}

impl Header {
    fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        let (key, rest) = bytes.split_at_mut(32);
        key.copy_from_slice(&self.ratchet_key);
        let (pn, n) = rest.split_at_mut(4);
        pn.copy_from_slice(&self.previous_chain_length.to_be_bytes());
        n.copy_from_slice(&self.index.to_be_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (key, rest) = bytes.split_at_checked(32)?;
        let (pn, n) = rest.split_at_checked(4)?;
        Some(Self {
            ratchet_key: key.try_into().ok()?,
            previous_chain_length: u32::from_be_bytes(pn.try_into().ok()?),
            index: u32::from_be_bytes(n.try_into().ok()?),
        })
    }

    /// `HENCRYPT(hk, header)`, appended to `out`.
    pub(crate) fn encrypt_into(
        self,
        key: &HeaderKey,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), aead::AeadFailure> {
        out.extend_from_slice(nonce);
        aead::seal_into(&key.0, nonce, aad, &self.to_bytes(), out)
    }

    /// `HDECRYPT(hk, encrypted_header)`; `None` if it does not authenticate under `key`.
    pub(crate) fn decrypt(key: &HeaderKey, encrypted: &[u8], aad: &[u8]) -> Option<Self> {
        let (nonce, sealed) = encrypted.split_at_checked(NONCE_LEN)?;
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().ok()?;
        let plaintext = aead::open(&key.0, nonce, aad, sealed).ok()?;
        Self::from_bytes(&plaintext)
    }
}
