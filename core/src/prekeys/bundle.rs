//! Prekey bundles: parsed and verified in one step, so an unverified bundle cannot be used.

use prost::Message;
use satchel_proto::v1 as pb;

use super::PrekeyId;
use super::one_time::{BundleId, SignedOneTimePrekey};
use crate::crypto::kem::{KemPublicKey, PUBLIC_KEY_LEN};
use crate::crypto::signing::{self, SigningKeyPair};
use crate::envelope::queue::{QUEUE_ID_LEN, SendId};
use crate::error::BundleError;
use crate::identity::certificate::DeviceCertificate;
use crate::identity::ids::AccountId;

/// The bundle format version this library writes and reads.
pub const BUNDLE_VERSION: u32 = 1;
/// The largest encoded bundle accepted (the ML-KEM key dominates at 1,184 bytes).
pub const MAX_BUNDLE_LEN: usize = 4_096;

const LABEL_PREKEY_SET: &[u8] = b"Satchel prekey set v1";

/// A device's published prekeys, with every signature checked.
///
/// Obtained only through [`PrekeyBundle::from_bytes`] (which verifies the device
/// certificate, the prekey signature and the ML-KEM key encoding) or from a local
/// [`crate::Account`].
#[derive(Clone)]
pub struct PrekeyBundle {
    pub(crate) device: DeviceCertificate,
    pub(crate) mailbox: SendId,
    pub(crate) signed_prekey_id: PrekeyId,
    pub(crate) signed_prekey: [u8; 32],
    pub(crate) kem_prekey_id: PrekeyId,
    pub(crate) kem_prekey: KemPublicKey,
    pub(crate) kem_prekey_bytes: Vec<u8>,
    pub(crate) prekey_signature: [u8; 64],
    pub(crate) one_time_prekey: Option<(PrekeyId, [u8; 32])>,
}

/// The fixed-layout bytes a device signs over its current prekey set.
pub(crate) fn prekey_set_bytes(
    mailbox: &SendId,
    signed_prekey_id: PrekeyId,
    signed_prekey: &[u8; 32],
    kem_prekey_id: PrekeyId,
    kem_prekey: &[u8],
) -> Vec<u8> {
    let mut bytes =
        Vec::with_capacity(LABEL_PREKEY_SET.len() + QUEUE_ID_LEN + 8 + 32 + kem_prekey.len());
    bytes.extend_from_slice(LABEL_PREKEY_SET);
    bytes.extend_from_slice(mailbox.as_bytes());
    bytes.extend_from_slice(&signed_prekey_id.to_be_bytes());
    bytes.extend_from_slice(signed_prekey);
    bytes.extend_from_slice(&kem_prekey_id.to_be_bytes());
    bytes.extend_from_slice(kem_prekey);
    bytes
}

impl PrekeyBundle {
    /// Builds and signs a bundle for a local device.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sign(
        device: DeviceCertificate,
        device_signing: &SigningKeyPair,
        mailbox: SendId,
        signed_prekey: (PrekeyId, [u8; 32]),
        kem_prekey: (PrekeyId, Vec<u8>),
        one_time_prekey: Option<(PrekeyId, [u8; 32])>,
    ) -> Result<Self, BundleError> {
        let signature = device_signing.sign(&prekey_set_bytes(
            &mailbox,
            signed_prekey.0,
            &signed_prekey.1,
            kem_prekey.0,
            &kem_prekey.1,
        ));
        Ok(Self {
            device,
            mailbox,
            signed_prekey_id: signed_prekey.0,
            signed_prekey: signed_prekey.1,
            kem_prekey_id: kem_prekey.0,
            kem_prekey: KemPublicKey::from_bytes(&kem_prekey.1).map_err(|_| {
                BundleError::Malformed {
                    field: "kem_prekey",
                }
            })?,
            kem_prekey_bytes: kem_prekey.1,
            prekey_signature: signature,
            one_time_prekey,
        })
    }

    /// Parses and verifies an encoded bundle, as fetched from the relay.
    ///
    /// # Errors
    /// [`BundleError`] if the bytes are not a bundle, a key has the wrong length, the
    /// device certificate or the prekey signature does not verify, or the ML-KEM key is
    /// not a valid encapsulation key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() > MAX_BUNDLE_LEN {
            return Err(BundleError::Malformed { field: "length" });
        }
        let proto = pb::PrekeyBundle::decode(bytes)
            .map_err(|_| BundleError::Malformed { field: "encoding" })?;
        Self::from_proto(&proto)
    }

    /// Verifies a bundle already decoded from protobuf.
    ///
    /// # Errors
    /// As [`PrekeyBundle::from_bytes`].
    pub fn from_proto(proto: &pb::PrekeyBundle) -> Result<Self, BundleError> {
        if proto.version != BUNDLE_VERSION {
            return Err(BundleError::UnsupportedVersion {
                found: proto.version,
                supported: BUNDLE_VERSION,
            });
        }
        let device_proto = proto
            .device
            .as_ref()
            .ok_or(BundleError::Malformed { field: "device" })?;
        let signed = proto.signed_prekey.as_ref().ok_or(BundleError::Malformed {
            field: "signed_prekey",
        })?;
        let kem = proto.kem_prekey.as_ref().ok_or(BundleError::Malformed {
            field: "kem_prekey",
        })?;
        let mailbox = SendId::from_slice(&proto.mailbox_send_id).ok_or(BundleError::Malformed {
            field: "mailbox_send_id",
        })?;
        let signed_prekey: [u8; 32] =
            signed
                .public_key
                .as_slice()
                .try_into()
                .map_err(|_| BundleError::Malformed {
                    field: "signed_prekey",
                })?;
        if kem.public_key.len() != PUBLIC_KEY_LEN {
            return Err(BundleError::Malformed {
                field: "kem_prekey",
            });
        }
        let prekey_signature: [u8; 64] =
            proto
                .prekey_signature
                .as_slice()
                .try_into()
                .map_err(|_| BundleError::Malformed {
                    field: "prekey_signature",
                })?;
        let one_time_prekey = match &proto.one_time_prekey {
            None => None,
            Some(otk) => Some((
                otk.id,
                otk.public_key
                    .as_slice()
                    .try_into()
                    .map_err(|_| BundleError::Malformed {
                        field: "one_time_prekey",
                    })?,
            )),
        };

        let device = DeviceCertificate::from_proto(device_proto)?;
        signing::verify(
            device.device_signing_key(),
            &prekey_set_bytes(&mailbox, signed.id, &signed_prekey, kem.id, &kem.public_key),
            &prekey_signature,
        )
        .map_err(|_| BundleError::BadPrekeySignature)?;
        let kem_prekey =
            KemPublicKey::from_bytes(&kem.public_key).map_err(|_| BundleError::Malformed {
                field: "kem_prekey",
            })?;

        Ok(Self {
            device,
            mailbox,
            signed_prekey_id: signed.id,
            signed_prekey,
            kem_prekey_id: kem.id,
            kem_prekey,
            kem_prekey_bytes: kem.public_key.clone(),
            prekey_signature,
            one_time_prekey,
        })
    }

    /// Checks that the bundle belongs to the account the caller expects (for example the
    /// one the school directory lists for a teacher).
    ///
    /// # Errors
    /// [`BundleError::UnexpectedAccount`] if the ids or keys differ.
    pub fn expect_account(
        self,
        account_id: &AccountId,
        account_key: &[u8; 32],
    ) -> Result<Self, BundleError> {
        if self.device.account_id() == *account_id && self.device.account_key() == account_key {
            Ok(self)
        } else {
            Err(BundleError::UnexpectedAccount)
        }
    }

    /// The protobuf form.
    #[must_use]
    pub fn to_proto(&self) -> pb::PrekeyBundle {
        pb::PrekeyBundle {
            version: BUNDLE_VERSION,
            device: Some(self.device.to_proto()),
            mailbox_send_id: self.mailbox.as_bytes().to_vec(),
            signed_prekey: Some(pb::SignedPrekey {
                id: self.signed_prekey_id,
                public_key: self.signed_prekey.to_vec(),
            }),
            kem_prekey: Some(pb::KemPrekey {
                id: self.kem_prekey_id,
                public_key: self.kem_prekey_bytes.clone(),
            }),
            prekey_signature: self.prekey_signature.to_vec(),
            one_time_prekey: self.one_time_prekey.map(|(id, key)| pb::OneTimePrekey {
                id,
                public_key: key.to_vec(),
                signature: Vec::new(),
            }),
        }
    }

    /// The encoded bundle.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_proto().encode_to_vec()
    }

    /// The device this bundle belongs to.
    #[must_use]
    pub fn device(&self) -> &DeviceCertificate {
        &self.device
    }

    /// The device's contact mailbox (where first-contact envelopes go).
    #[must_use]
    pub fn mailbox(&self) -> SendId {
        self.mailbox
    }

    /// Whether the bundle carries a one-time prekey.
    #[must_use]
    pub fn has_one_time_prekey(&self) -> bool {
        self.one_time_prekey.is_some()
    }

    /// The id of the one-time prekey the bundle carries, if any.
    #[must_use]
    pub fn one_time_prekey_id(&self) -> Option<PrekeyId> {
        self.one_time_prekey.map(|(id, _)| id)
    }

    /// The bundle without its one-time prekey (a bundle from a directory entry or any
    /// other copy whose one-time prekey nobody vouches for).
    #[must_use]
    pub fn without_one_time_prekey(mut self) -> Self {
        self.one_time_prekey = None;
        self
    }

    /// The bundle with `key`, a one-time prekey the relay handed out from `bundle_id`,
    /// once its signature verifies under this bundle's device signing key for that
    /// bundle id (`docs/PROTOCOL.md` §3.3). Replaces any one-time prekey it carried.
    ///
    /// # Errors
    /// [`BundleError::BadOneTimePrekeySignature`] if the signature does not verify (a
    /// fake key, or a genuine one copied to another bundle id); the bundle is dropped
    /// with the error, so keep a clone to start the session without a one-time prekey.
    pub fn with_one_time_prekey(
        mut self,
        bundle_id: &BundleId,
        key: &SignedOneTimePrekey,
    ) -> Result<Self, BundleError> {
        key.verify(&self.device, bundle_id)?;
        self.one_time_prekey = Some((key.id, key.public_key));
        Ok(self)
    }
}

impl std::fmt::Debug for PrekeyBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrekeyBundle")
            .field("device", &self.device)
            .field("signed_prekey_id", &self.signed_prekey_id)
            .field("kem_prekey_id", &self.kem_prekey_id)
            .field(
                "one_time_prekey_id",
                &self.one_time_prekey.map(|(id, _)| id),
            )
            .finish_non_exhaustive()
    }
}
