//! Symmetric-key chains: `KDF_CK` of the Double Ratchet specification.
//!
//! ```text
//! message_key  = HMAC-SHA256(ck, 0x01)
//! next_ck      = HMAC-SHA256(ck, 0x02)
//! header_nonce = HMAC-SHA256(ck, 0x03)[..12]
//! ```
//!
//! The message key is used once, as a ChaCha20-Poly1305 key with an all-zero nonce. The
//! header nonce is unique per message and unpredictable without the chain key, so reusing
//! the header key across a chain never repeats a nonce and reveals no counter.

use crate::crypto::aead::NONCE_LEN;
use crate::crypto::kdf::{CHAIN_HEADER_NONCE, CHAIN_MESSAGE_KEY, CHAIN_NEXT_KEY, KeyedHmac};
use crate::crypto::secret::Secret32;

/// A chain key and the index of the next message it will produce.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ChainKey {
    key: Secret32,
    index: u32,
}

/// A single-use message key and its index in the chain.
pub(crate) struct MessageKey {
    pub(crate) key: Secret32,
    pub(crate) index: u32,
}

impl ChainKey {
    pub(crate) fn new(key: Secret32, index: u32) -> Self {
        Self { key, index }
    }

    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    pub(crate) fn as_secret(&self) -> &Secret32 {
        &self.key
    }

    /// One step of the chain: this index's message key and header nonce, and the chain
    /// key for the next index. `None` when the 32-bit index would overflow.
    pub(crate) fn step(&self) -> Option<(MessageKey, [u8; NONCE_LEN], ChainKey)> {
        let next_index = self.index.checked_add(1)?;
        let mac = KeyedHmac::new(&self.key);
        let message_key = MessageKey {
            key: Secret32::new(mac.byte(CHAIN_MESSAGE_KEY)),
            index: self.index,
        };
        let next = ChainKey {
            key: Secret32::new(mac.byte(CHAIN_NEXT_KEY)),
            index: next_index,
        };
        let nonce_bytes = mac.byte(CHAIN_HEADER_NONCE);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(nonce_bytes.get(..NONCE_LEN).unwrap_or(&[0u8; NONCE_LEN]));
        Some((message_key, nonce, next))
    }

    /// The message key at this index without the header nonce (receiving side).
    pub(crate) fn step_receiving(&self) -> Option<(MessageKey, ChainKey)> {
        let next_index = self.index.checked_add(1)?;
        let mac = KeyedHmac::new(&self.key);
        Some((
            MessageKey {
                key: Secret32::new(mac.byte(CHAIN_MESSAGE_KEY)),
                index: self.index,
            },
            ChainKey {
                key: Secret32::new(mac.byte(CHAIN_NEXT_KEY)),
                index: next_index,
            },
        ))
    }
}
