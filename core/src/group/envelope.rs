//! Group envelopes: what a member fetches from one of its queues when a group message
//! was deposited for it (PROTOCOL §13.10).
//!
//! ```text
//! group envelope = 0x02 || send id (16) || group message
//! ```
//!
//! The kind byte `0x02` tells the receiving client to hand the rest to its group
//! sessions instead of the queue's pairwise session (whose envelopes start with `0x01`).
//! The same group message goes to every member; only the send id differs.

use crate::envelope::ENVELOPE_PREFIX_LEN;
use crate::{MAX_ENVELOPE_LEN, SendId};

use super::message::MIN_GROUP_MESSAGE_LEN;

/// The first byte of a group envelope.
pub const GROUP_ENVELOPE_KIND: u8 = 0x02;

/// The longest group message a relay accepts for a group deposit (the longest that
/// fits an envelope; every message [`super::GroupSession::encrypt`] makes does).
pub const MAX_GROUP_DEPOSIT_LEN: usize = MAX_ENVELOPE_LEN - ENVELOPE_PREFIX_LEN;

/// The group envelope of `message` for the queue `send_id`.
#[must_use]
pub fn group_envelope(send_id: &SendId, message: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ENVELOPE_PREFIX_LEN + message.len());
    bytes.push(GROUP_ENVELOPE_KIND);
    bytes.extend_from_slice(send_id.as_bytes());
    bytes.extend_from_slice(message);
    bytes
}

/// The group message inside envelope bytes from the relay, if they are a group
/// envelope of a possible length; `None` for anything else (a pairwise envelope, or
/// bytes too short or too long).
#[must_use]
pub fn group_message_in(envelope: &[u8]) -> Option<&[u8]> {
    match envelope {
        [GROUP_ENVELOPE_KIND, rest @ ..] => {
            let message = rest.get(ENVELOPE_PREFIX_LEN - 1..)?;
            (MIN_GROUP_MESSAGE_LEN..=MAX_GROUP_DEPOSIT_LEN)
                .contains(&message.len())
                .then_some(message)
        }
        _ => None,
    }
}

/// Whether a relay may accept `message` as a group deposit: its length is possible.
#[must_use]
pub fn is_possible_group_message(message: &[u8]) -> bool {
    (MIN_GROUP_MESSAGE_LEN..=MAX_GROUP_DEPOSIT_LEN).contains(&message.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let send_id = SendId::from_bytes([7; 16]);
        let message = vec![9u8; MIN_GROUP_MESSAGE_LEN];
        let envelope = group_envelope(&send_id, &message);
        assert_eq!(envelope.len(), 17 + MIN_GROUP_MESSAGE_LEN);
        assert_eq!(group_message_in(&envelope), Some(message.as_slice()));
        assert_eq!(group_message_in(&envelope[..envelope.len() - 1]), None);
        let mut pairwise = envelope.clone();
        pairwise[0] = 0x01;
        assert_eq!(group_message_in(&pairwise), None);
        assert_eq!(group_message_in(&[]), None);
        assert_eq!(group_message_in(&[GROUP_ENVELOPE_KIND]), None);
        assert!(!is_possible_group_message(&[0; MAX_GROUP_DEPOSIT_LEN + 1]));
    }
}
