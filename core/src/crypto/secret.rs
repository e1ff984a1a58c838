//! A 32-byte secret that zeroizes on drop, compares in constant time and never prints.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// 32 secret bytes on the heap, so that moving the owner leaves no stray copy behind.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Secret32(Box<[u8; 32]>);

impl Secret32 {
    pub(crate) fn new(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let boxed = Box::new(bytes);
        bytes.zeroize();
        Self(boxed)
    }

    /// Copies from a slice; `None` unless it is exactly 32 bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::new(array))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl ConstantTimeEq for Secret32 {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret32 {}

impl std::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}
