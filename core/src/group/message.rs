//! The group message layout (PROTOCOL §13.4).
//!
//! ```text
//! header    = group id (16) || index (u32 BE)                                   20 bytes
//! EH        = nonce (12) || ChaCha20-Poly1305(HK, nonce, ad = "", header)        48 bytes
//!             nonce = HMAC-SHA256(ck_i, 0x03)[..12]
//! body      = ChaCha20-Poly1305(MK_i, 0^12, ad = EH, pad(plaintext))   padded_len(L) + 16
//! signature = Ed25519(sender key, EH || body)                                    64 bytes
//! message   = EH || body || signature
//! ```
//!
//! The same bytes go to every member: nothing in them depends on the recipient.

use super::GroupId;
use crate::MAX_PLAINTEXT_LEN;
use crate::crypto::aead::{self, NONCE_LEN, TAG_LEN, ZERO_NONCE};
use crate::crypto::secret::Secret32;
use crate::crypto::signing::SIGNATURE_LEN;
use crate::envelope::padme::{MIN_PADDED_LEN, pad_into, padded_len, unpad};
use crate::error::GroupDecryptError;
use crate::ratchet::header::HeaderKey;

/// Plaintext header: group id and index.
pub(crate) const GROUP_HEADER_LEN: usize = 16 + 4;
/// Encrypted header: nonce, header, tag.
pub(crate) const GROUP_ENCRYPTED_HEADER_LEN: usize = NONCE_LEN + GROUP_HEADER_LEN + TAG_LEN;

/// The shortest group message: an empty plaintext (160 bytes).
pub const MIN_GROUP_MESSAGE_LEN: usize =
    GROUP_ENCRYPTED_HEADER_LEN + MIN_PADDED_LEN + TAG_LEN + SIGNATURE_LEN;

/// The longest group message (from [`MAX_PLAINTEXT_LEN`]).
pub(crate) const MAX_GROUP_MESSAGE_LEN: usize =
    GROUP_ENCRYPTED_HEADER_LEN + 270_336 + TAG_LEN + SIGNATURE_LEN;

// A group message always fits an envelope.
const _: () =
    assert!(MAX_GROUP_MESSAGE_LEN + crate::ENVELOPE_PREFIX_LEN <= crate::MAX_ENVELOPE_LEN);

/// The length of the group message carrying `plaintext_len` bytes:
/// `128 + padded_len(plaintext_len)`.
///
/// ```
/// assert_eq!(satchel_core::group::group_message_len(100), 232);
/// ```
#[must_use]
pub fn group_message_len(plaintext_len: usize) -> usize {
    GROUP_ENCRYPTED_HEADER_LEN + padded_len(plaintext_len) + TAG_LEN + SIGNATURE_LEN
}

/// The three parts of a message whose length is possible.
pub(crate) struct Parts<'a> {
    pub(crate) encrypted_header: &'a [u8],
    pub(crate) body: &'a [u8],
    /// `EH || body`: what the signature covers.
    pub(crate) signed: &'a [u8],
    pub(crate) signature: &'a [u8],
}

pub(crate) fn split(message: &[u8]) -> Result<Parts<'_>, GroupDecryptError> {
    let bad_length = GroupDecryptError::BadLength { len: message.len() };
    if message.len() < MIN_GROUP_MESSAGE_LEN || message.len() > MAX_GROUP_MESSAGE_LEN {
        return Err(bad_length);
    }
    let signed_len = message.len() - SIGNATURE_LEN;
    let (signed, signature) = message
        .split_at_checked(signed_len)
        .ok_or(bad_length.clone())?;
    let (encrypted_header, body) = signed
        .split_at_checked(GROUP_ENCRYPTED_HEADER_LEN)
        .ok_or(bad_length)?;
    Ok(Parts {
        encrypted_header,
        body,
        signed,
        signature,
    })
}

fn header_bytes(group: &GroupId, index: u32) -> [u8; GROUP_HEADER_LEN] {
    let mut header = [0u8; GROUP_HEADER_LEN];
    let (id, rest) = header.split_at_mut(16);
    id.copy_from_slice(group.as_bytes());
    rest.copy_from_slice(&index.to_be_bytes());
    header
}

/// Writes `EH || body` (without the signature) into a new buffer with room for it.
pub(crate) fn seal(
    group: &GroupId,
    index: u32,
    header_key: &HeaderKey,
    nonce: &[u8; NONCE_LEN],
    message_key: &Secret32,
    plaintext: &[u8],
) -> Result<Vec<u8>, aead::AeadFailure> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(aead::AeadFailure);
    }
    let mut out = Vec::with_capacity(group_message_len(plaintext.len()));
    out.extend_from_slice(nonce);
    aead::seal_into(
        header_key.as_secret(),
        nonce,
        &[],
        &header_bytes(group, index),
        &mut out,
    )?;
    let mut padded = zeroize::Zeroizing::new(Vec::with_capacity(padded_len(plaintext.len())));
    pad_into(plaintext, &mut padded);
    let mut encrypted_header = [0u8; GROUP_ENCRYPTED_HEADER_LEN];
    encrypted_header.copy_from_slice(
        out.get(..GROUP_ENCRYPTED_HEADER_LEN)
            .ok_or(aead::AeadFailure)?,
    );
    aead::seal_into(
        message_key,
        &ZERO_NONCE,
        &encrypted_header,
        &padded,
        &mut out,
    )?;
    Ok(out)
}

/// Opens an encrypted header: (group id, index), or `None` if it does not authenticate.
pub(crate) fn open_header(header_key: &HeaderKey, encrypted: &[u8]) -> Option<(GroupId, u32)> {
    let (nonce, sealed) = encrypted.split_at_checked(NONCE_LEN)?;
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().ok()?;
    let header = aead::open(header_key.as_secret(), nonce, &[], sealed).ok()?;
    let (id, index) = header.split_at_checked(16)?;
    Some((
        GroupId::from_slice(id)?,
        u32::from_be_bytes(index.try_into().ok()?),
    ))
}

/// Opens the body under a message key and removes the padding.
pub(crate) fn open_body(
    message_key: &Secret32,
    encrypted_header: &[u8],
    body: &[u8],
) -> Result<Vec<u8>, GroupDecryptError> {
    let mut plaintext = aead::open(message_key, &ZERO_NONCE, encrypted_header, body)
        .map_err(|_| GroupDecryptError::DecryptionFailed)?;
    unpad(&mut plaintext).map_err(|_| GroupDecryptError::Malformed { field: "padding" })?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_padme() {
        assert_eq!(MIN_GROUP_MESSAGE_LEN, 160);
        assert_eq!(group_message_len(0), 160);
        assert_eq!(group_message_len(100), 232);
        assert_eq!(group_message_len(MAX_PLAINTEXT_LEN), MAX_GROUP_MESSAGE_LEN);
    }
}
