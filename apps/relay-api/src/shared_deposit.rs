//! The body of a shared deposit (`POST /v1/envelopes/shared`): one group message for
//! many queues, stored once.
//!
//! ```text
//! body = n (u16 BE, 1 ≤ n ≤ MAX_SHARED_RECIPIENTS) || n × send id (16) || group message
//! ```
//!
//! Each recipient fetches `0x02 || its send id || group message` from its queue. The
//! answer is a [`crate::BatchDepositResponse`] with one result per send id, in order.
//!
//! ```
//! use satchel_relay_api::shared_deposit::{decode, encode};
//!
//! let body = encode(&[[1; 16], [2; 16]], b"group message bytes")?;
//! assert_eq!(body.len(), 2 + 32 + 19);
//! let (send_ids, message) = decode(&body)?;
//! assert_eq!(send_ids, [[1; 16], [2; 16]]);
//! assert_eq!(message, b"group message bytes");
//! # Ok::<(), satchel_relay_api::shared_deposit::SharedDepositError>(())
//! ```

use thiserror::Error;

/// The most queues one shared deposit may name (a school of 5,000 devices in one
/// request; 80,000 bytes of send ids).
pub const MAX_SHARED_RECIPIENTS: usize = 5_000;

/// A shared deposit body could not be built or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SharedDepositError {
    /// No recipients, or more than [`MAX_SHARED_RECIPIENTS`].
    #[error("a shared deposit names 1 to {MAX_SHARED_RECIPIENTS} queues, not {0}")]
    RecipientCount(usize),
    /// The body ends inside the list of send ids.
    #[error("the shared deposit ends inside its list of queues")]
    Truncated,
    /// A send id is listed twice.
    #[error("a queue is listed twice in the shared deposit")]
    Duplicate,
}

/// Builds the body.
///
/// # Errors
/// [`SharedDepositError::RecipientCount`] or [`SharedDepositError::Duplicate`].
pub fn encode(send_ids: &[[u8; 16]], message: &[u8]) -> Result<Vec<u8>, SharedDepositError> {
    let count = u16::try_from(send_ids.len())
        .ok()
        .filter(|n| (1..=MAX_SHARED_RECIPIENTS).contains(&usize::from(*n)))
        .ok_or(SharedDepositError::RecipientCount(send_ids.len()))?;
    check_distinct(send_ids)?;
    let mut body = Vec::with_capacity(2 + 16 * send_ids.len() + message.len());
    body.extend_from_slice(&count.to_be_bytes());
    for send_id in send_ids {
        body.extend_from_slice(send_id);
    }
    body.extend_from_slice(message);
    Ok(body)
}

/// Reads the body: the send ids and the message (which the relay still checks).
///
/// # Errors
/// [`SharedDepositError`].
pub fn decode(body: &[u8]) -> Result<(Vec<[u8; 16]>, &[u8]), SharedDepositError> {
    let (count, rest) = body
        .split_first_chunk::<2>()
        .ok_or(SharedDepositError::Truncated)?;
    let count = usize::from(u16::from_be_bytes(*count));
    if !(1..=MAX_SHARED_RECIPIENTS).contains(&count) {
        return Err(SharedDepositError::RecipientCount(count));
    }
    let (ids, message) = rest
        .split_at_checked(16 * count)
        .ok_or(SharedDepositError::Truncated)?;
    let send_ids: Vec<[u8; 16]> = ids
        .chunks_exact(16)
        .filter_map(|id| id.try_into().ok())
        .collect();
    check_distinct(&send_ids)?;
    Ok((send_ids, message))
}

fn check_distinct(send_ids: &[[u8; 16]]) -> Result<(), SharedDepositError> {
    let mut sorted = send_ids.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|pair| pair.first() == pair.get(1)) {
        return Err(SharedDepositError::Duplicate);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn refuses_what_it_must() {
        assert_eq!(
            encode(&[], b"m"),
            Err(SharedDepositError::RecipientCount(0))
        );
        let many = vec![[0u8; 16]; MAX_SHARED_RECIPIENTS + 1];
        assert_eq!(
            encode(&many, b"m"),
            Err(SharedDepositError::RecipientCount(
                MAX_SHARED_RECIPIENTS + 1
            ))
        );
        assert_eq!(
            encode(&[[3; 16], [3; 16]], b"m"),
            Err(SharedDepositError::Duplicate)
        );
        assert_eq!(decode(&[]), Err(SharedDepositError::Truncated));
        assert_eq!(decode(&[0, 0]), Err(SharedDepositError::RecipientCount(0)));
        assert_eq!(decode(&[0, 2, 1, 2, 3]), Err(SharedDepositError::Truncated));
        let mut twice = vec![0, 2];
        twice.extend_from_slice(&[5; 32]);
        assert_eq!(decode(&twice), Err(SharedDepositError::Duplicate));
        let body = encode(&[[1; 16]], b"").unwrap();
        let (ids, message) = decode(&body).unwrap();
        assert_eq!((ids.len(), message.len()), (1, 0));
    }
}
