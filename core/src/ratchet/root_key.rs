//! The root chain: `KDF_RK_HE` of the Double Ratchet specification, section 4.

use super::chain_key::ChainKey;
use super::header::HeaderKey;
use crate::crypto::kdf::{LABEL_ROOT, hkdf};
use crate::crypto::secret::Secret32;

/// The root key. Each DH ratchet step mixes a new X25519 output into it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RootKey(Secret32);

impl RootKey {
    pub(crate) fn new(key: Secret32) -> Self {
        Self(key)
    }

    pub(crate) fn as_secret(&self) -> &Secret32 {
        &self.0
    }

    /// `KDF_RK_HE(rk, dh_out)`: HKDF-SHA256 with the root key as salt and the DH output
    /// as input key material, expanded to 96 bytes: the next root key, a chain key and
    /// the *next* header key for that direction.
    pub(crate) fn advance(&self, dh_output: &Secret32) -> (RootKey, ChainKey, HeaderKey) {
        let okm = zeroize::Zeroizing::new(hkdf::<96>(
            self.0.as_bytes(),
            dh_output.as_bytes(),
            LABEL_ROOT,
        ));
        let (root, rest) = okm.split_at(32);
        let (chain, header) = rest.split_at(32);
        (
            RootKey(secret(root)),
            ChainKey::new(secret(chain), 0),
            HeaderKey::new(secret(header)),
        )
    }
}

fn secret(bytes: &[u8]) -> Secret32 {
    // The slices above are exactly 32 bytes by construction.
    Secret32::from_slice(bytes).unwrap_or_else(|| Secret32::new([0u8; 32]))
}
