//! Internals exposed for fuzzing, known-answer vectors and benches only.
//!
//! **Not API.** Nothing here is stable, and these functions skip the checks the public
//! API makes. Do not use them in applications.

pub mod fuzz;
mod fuzz_group;
mod fuzz_school;

use crate::crypto::secret::Secret32;
use crate::identity::ids::{AccountId, DeviceId};
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::header::{Header, HeaderKey};
use crate::ratchet::root_key::RootKey;

/// `KDF_RK_HE(root, dh)`: (next root, chain key, next header key).
#[must_use]
pub fn kdf_root(root: [u8; 32], dh_output: [u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let (root, chain, header) =
        RootKey::new(Secret32::new(root)).advance(&Secret32::new(dh_output));
    (
        *root.as_secret().as_bytes(),
        *chain.as_secret().as_bytes(),
        *header.as_secret().as_bytes(),
    )
}

/// One chain step: (message key, header nonce, next chain key); `None` at index overflow.
#[must_use]
pub fn kdf_chain(chain: [u8; 32], index: u32) -> Option<([u8; 32], [u8; 12], [u8; 32])> {
    let (message_key, nonce, next) = ChainKey::new(Secret32::new(chain), index).step()?;
    Some((
        *message_key.key.as_bytes(),
        nonce,
        *next.as_secret().as_bytes(),
    ))
}

/// Encrypts a ratchet header: nonce || ciphertext || tag.
#[must_use]
pub fn encrypt_header(
    header_key: [u8; 32],
    nonce: [u8; 12],
    ratchet_key: [u8; 32],
    previous_chain_length: u32,
    index: u32,
    aad: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    let header = Header {
        ratchet_key,
        previous_chain_length,
        index,
    };
    if header
        .encrypt_into(
            &HeaderKey::new(Secret32::new(header_key)),
            &nonce,
            aad,
            &mut out,
        )
        .is_err()
    {
        out.clear();
    }
    out
}

/// Decrypts a ratchet header: (ratchet key, PN, N), or `None`.
#[must_use]
pub fn decrypt_header(
    header_key: [u8; 32],
    encrypted: &[u8],
    aad: &[u8],
) -> Option<([u8; 32], u32, u32)> {
    Header::decrypt(&HeaderKey::new(Secret32::new(header_key)), encrypted, aad)
        .map(|h| (h.ratchet_key, h.previous_chain_length, h.index))
}

/// Seals `content` to a mailbox (the first-contact box alone, for benches).
#[must_use]
pub fn seal_first_contact<R: rand_core::CryptoRng + ?Sized>(
    send_id: &crate::SendId,
    recipient_public: &[u8; 32],
    content: &[u8],
    rng: &mut R,
) -> Option<crate::Envelope> {
    crate::envelope::sealed::seal(send_id, recipient_public, content, rng).ok()
}

/// Opens a box made by [`seal_first_contact`] with the account's device key.
#[must_use]
pub fn open_first_contact_box(
    account: &crate::Account,
    envelope: &crate::Envelope,
) -> Option<Vec<u8>> {
    crate::envelope::sealed::open(account.device_dh(), envelope).ok()
}

/// A new account whose device certificate *claims* `account_id` and `device_id` (for
/// example another member's) under its own fresh keys. Attack tests use it: ids in a
/// certificate are claims, and nothing may trust them without the keys.
pub fn account_claiming<R: rand_core::CryptoRng + ?Sized>(
    account_id: AccountId,
    device_id: DeviceId,
    rng: &mut R,
) -> crate::Account {
    crate::Account::with_ids(account_id, device_id, rng)
}

/// Queue keys for a chosen send id (fresh auth key). Attack tests use it to squat a send
/// id on a relay; the protocol itself only ever draws send ids at random.
pub fn queue_keys_with_send_id<R: rand_core::CryptoRng + ?Sized>(
    send_id: crate::SendId,
    rng: &mut R,
) -> crate::QueueKeys {
    crate::QueueKeys::with_send_id(send_id, rng)
}

/// A group message at `index` as a *member* holding `distribution` could write it: the
/// sender's chain and header keys, but signed by a key of the forger's own. Attack tests
/// use it: holding a sender's key must not let anyone write as that sender.
pub fn forge_group_message<R: rand_core::CryptoRng + ?Sized>(
    distribution: &crate::group::SenderKeyDistribution,
    index: u32,
    plaintext: &[u8],
    rng: &mut R,
) -> Option<Vec<u8>> {
    let mut chain = ChainKey::new(distribution.chain_key.clone(), distribution.index);
    let (message_key, nonce) = loop {
        let (message_key, nonce, next) = chain.step()?;
        if message_key.index == index {
            break (message_key, nonce);
        }
        chain = next;
    };
    let mut out = crate::group::message::seal(
        &distribution.group_id,
        index,
        &HeaderKey::new(distribution.header_key.clone()),
        &nonce,
        &message_key.key,
        plaintext,
    )
    .ok()?;
    let forger = crate::crypto::signing::SigningKeyPair::generate(rng);
    let signature = forger.sign(&out);
    out.extend_from_slice(&signature);
    Some(out)
}
