//! The initial message and the sealed content around it.

use prost::Message;
use satchel_proto::v1 as pb;

use crate::crypto::kem::CIPHERTEXT_LEN;
use crate::error::FirstContactError;
use crate::identity::certificate::DeviceCertificate;
use crate::prekeys::PrekeyId;

/// A parsed initial message whose sender certificate verified.
pub(crate) struct InitialMessage {
    pub(crate) sender: DeviceCertificate,
    pub(crate) ephemeral_public: [u8; 32],
    pub(crate) signed_prekey_id: PrekeyId,
    pub(crate) kem_prekey_id: PrekeyId,
    pub(crate) kem_ciphertext: Vec<u8>,
    pub(crate) one_time_prekey_id: Option<PrekeyId>,
    pub(crate) ratchet_message: Vec<u8>,
}

/// Decodes the plaintext of a sealed box into the sender-certificate slot and the
/// verified initial message.
pub(crate) fn decode_sealed_content(
    bytes: &[u8],
) -> Result<(Vec<u8>, InitialMessage), FirstContactError> {
    let content = pb::SealedContent::decode(bytes)
        .map_err(|_| FirstContactError::Malformed { field: "encoding" })?;
    if content.sender_certificate.len() > crate::session::MAX_SENDER_CERTIFICATE_LEN {
        return Err(FirstContactError::Malformed {
            field: "sender_certificate",
        });
    }
    let initial = content
        .initial
        .ok_or(FirstContactError::Malformed { field: "initial" })?;
    let sender_proto = initial
        .sender
        .as_ref()
        .ok_or(FirstContactError::Malformed { field: "sender" })?;
    let ephemeral_public: [u8; 32] =
        initial
            .ephemeral_key
            .as_slice()
            .try_into()
            .map_err(|_| FirstContactError::Malformed {
                field: "ephemeral_key",
            })?;
    if initial.kem_ciphertext.len() != CIPHERTEXT_LEN {
        return Err(FirstContactError::Malformed {
            field: "kem_ciphertext",
        });
    }
    let sender = DeviceCertificate::from_proto(sender_proto)?;
    Ok((
        content.sender_certificate,
        InitialMessage {
            sender,
            ephemeral_public,
            signed_prekey_id: initial.signed_prekey_id,
            kem_prekey_id: initial.kem_prekey_id,
            kem_ciphertext: initial.kem_ciphertext,
            one_time_prekey_id: initial.one_time_prekey_id,
            ratchet_message: initial.ratchet_message,
        },
    ))
}
