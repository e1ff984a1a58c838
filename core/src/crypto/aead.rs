//! ChaCha20-Poly1305 with the two nonce disciplines Satchel uses.
//!
//! * single-use keys (message keys, sealed-box keys): a fixed all-zero nonce, which is
//!   safe because each key encrypts exactly one message;
//! * reused keys (header keys, export keys): a 96-bit nonce that is unique per key,
//!   supplied by the caller and sent along.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

use super::secret::Secret32;

/// Length of the Poly1305 tag appended to every ciphertext.
pub(crate) const TAG_LEN: usize = 16;
/// Length of a ChaCha20-Poly1305 nonce.
pub(crate) const NONCE_LEN: usize = 12;

/// The AEAD failed to authenticate. Deliberately carries no detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AeadFailure;

fn cipher(key: &Secret32) -> ChaCha20Poly1305 {
    let key: &Key = key.as_bytes().into();
    ChaCha20Poly1305::new(key)
}

/// Encrypts `plaintext` into `out` (appending ciphertext then tag).
pub(crate) fn seal_into(
    key: &Secret32,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), AeadFailure> {
    let start = out.len();
    out.extend_from_slice(plaintext);
    let buffer = out.get_mut(start..).ok_or(AeadFailure)?;
    // Fails only for messages longer than 256 GiB; callers bound their inputs far below.
    let tag = cipher(key)
        .encrypt_inout_detached(<&Nonce>::from(nonce), aad, buffer.into())
        .map_err(|_| AeadFailure)?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// Decrypts `ciphertext || tag`, verifying the tag before anything is released.
pub(crate) fn open(
    key: &Secret32,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, AeadFailure> {
    let split = sealed.len().checked_sub(TAG_LEN).ok_or(AeadFailure)?;
    let (ciphertext, tag) = sealed.split_at(split);
    let tag = <&Tag>::try_from(tag).map_err(|_| AeadFailure)?;
    let mut buffer = ciphertext.to_vec();
    cipher(key)
        .decrypt_inout_detached(
            <&Nonce>::from(nonce),
            aad,
            buffer.as_mut_slice().into(),
            tag,
        )
        .map_err(|_| AeadFailure)?;
    Ok(buffer)
}

/// The nonce used with single-use keys.
pub(crate) const ZERO_NONCE: [u8; NONCE_LEN] = [0u8; NONCE_LEN];
