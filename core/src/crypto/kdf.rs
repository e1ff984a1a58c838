//! HKDF-SHA256 and HMAC-SHA256 with Satchel's domain-separation labels.
//!
//! The labels of the key schedule are constants in this file; labels of signed or
//! hashed layouts live beside those layouts (certificate, prekey set, queue ids,
//! fingerprint, export). `docs/PROTOCOL.md` lists every label in one table.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::secret::Secret32;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// PQXDH: HKDF info for the shared secret SK.
pub(crate) const LABEL_PQXDH: &[u8] = b"Satchel_PQXDH_X25519_SHA-256_ML-KEM-768_v1";
/// Session start: root key and the two initial header keys from SK. Version 2: queue
/// send ids are no longer derived (they are random and announced in session frames),
/// and the new label keeps a v1 and a v2 device from ever sharing session keys. (The
/// session id is the handshake id, see [`LABEL_HANDSHAKE_ID`].)
pub(crate) const LABEL_SESSION_INIT: &[u8] = b"Satchel session init v2";
/// Root-key KDF of the double ratchet (header-encryption variant).
pub(crate) const LABEL_ROOT: &[u8] = b"Satchel ratchet root v1";
/// Sealed first-contact box key.
pub(crate) const LABEL_SEALED: &[u8] = b"Satchel sealed first contact v1";
/// Session associated data (hash of both device certificates).
pub(crate) const LABEL_SESSION_AD: &[u8] = b"Satchel session AD v1";
/// Handshake id (replay detection) from the initiator's keys.
pub(crate) const LABEL_HANDSHAKE_ID: &[u8] = b"Satchel handshake id v1";
/// Chain-key KDF inputs (single bytes, as in the Double Ratchet spec's recommendation).
pub(crate) const CHAIN_MESSAGE_KEY: u8 = 0x01;
pub(crate) const CHAIN_NEXT_KEY: u8 = 0x02;
pub(crate) const CHAIN_HEADER_NONCE: u8 = 0x03;

/// HKDF-SHA256 extract-then-expand into `N` bytes.
pub(crate) fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut okm = [0u8; N];
    // Expanding at most 255 * 32 bytes cannot fail; every caller asks for far less.
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    if hk.expand(info, &mut okm).is_err() {
        unreachable_length(N);
    }
    okm
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_length(n: usize) -> ! {
    // Invariant: all call sites use compile-time lengths of at most 128 bytes.
    panic!("HKDF output length {n} exceeds 255 * 32 bytes")
}

/// A keyed HMAC-SHA256 whose key schedule is computed once and reused for several inputs.
pub(crate) struct KeyedHmac(HmacSha256);

impl KeyedHmac {
    pub(crate) fn new(key: &Secret32) -> Self {
        // HMAC zero-pads keys shorter than the hash block, so padding the 32-byte key to
        // the 64-byte block ourselves gives the same MAC with an infallible constructor.
        let mut block = zeroize::Zeroizing::new([0u8; 64]);
        let (head, _) = block.split_at_mut(32);
        head.copy_from_slice(key.as_bytes());
        Self(<HmacSha256 as KeyInit>::new(&(*block).into()))
    }

    /// HMAC(key, [input]).
    pub(crate) fn byte(&self, input: u8) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(&[input]);
        mac.finalize().into_bytes().into()
    }
}

/// SHA-256 over the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}
