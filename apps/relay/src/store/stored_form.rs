//! How queue ids and envelopes are kept, the same in every backend: a queue keeps a
//! hash of its send id (a send id lets anyone deposit, so a stolen database must not
//! hold one), and a stored envelope has its send id bytes zeroed (the owner, fetching,
//! knows its queue's send id).

use super::Id16;

/// The label of the stored send id hash.
const SEND_HASH_LABEL: &[u8] = b"Satchel relay send id v1";

/// `SHA-256("Satchel relay send id v1" || send_id)`: how the relay stores a send id.
pub(crate) fn send_hash(send_id: &Id16) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    Sha256::new()
        .chain_update(SEND_HASH_LABEL)
        .chain_update(send_id)
        .finalize()
        .into()
}

/// An envelope as stored: its send id bytes (1..17) zeroed.
pub(crate) fn without_send_id(envelope: &[u8]) -> Vec<u8> {
    let mut stored = envelope.to_vec();
    if let Some(send_id) = stored.get_mut(1..17) {
        send_id.fill(0);
    }
    stored
}
