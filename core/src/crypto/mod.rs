//! Thin, typed wrappers over the audited primitive crates.
//!
//! Nothing here invents a primitive: X25519 is x25519-dalek, Ed25519 is ed25519-dalek,
//! the AEAD is chacha20poly1305, the KDFs are hkdf/hmac over sha2, the KEM is ml-kem.
//! The wrappers exist so that secrets zeroize on drop, never print, compare in constant
//! time, and so that every use site names its domain-separation label.

pub(crate) mod aead;
pub(crate) mod dh;
pub(crate) mod kdf;
pub(crate) mod kem;
pub(crate) mod secret;
pub(crate) mod signing;
