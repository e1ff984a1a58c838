//! Signed one-time prekeys: each is signed by the device's signing key together with the
//! id of the relay bundle it is handed out from, so an initiator can tell a genuine one
//! from a fake or a copy placed under another bundle id.

use rand_core::CryptoRng;
use satchel_proto::v1 as pb;

use super::PrekeyId;
use crate::crypto::signing::{self, SIGNATURE_LEN};
use crate::error::BundleError;
use crate::identity::certificate::DeviceCertificate;

/// The domain-separation label of a one-time prekey signature (26 bytes).
pub(crate) const LABEL_ONE_TIME_PREKEY: &[u8] = b"Satchel one-time prekey v1";
/// The length of the signed bytes: label, bundle id, key id, key.
pub const ONE_TIME_PREKEY_SIGNED_LEN: usize = 26 + 16 + 4 + 32;

/// Where the relay hands out a device's one-time prekeys (16 random bytes, listed in
/// the device's directory entry). Every one-time prekey is signed for one bundle id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BundleId([u8; 16]);

impl BundleId {
    /// A fresh random id.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps 16 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl std::fmt::Debug for BundleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BundleId(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

/// The fixed-layout bytes a device signs over one one-time prekey:
/// `"Satchel one-time prekey v1" || bundle_id (16) || BE32(id) || key (32)`.
pub(crate) fn one_time_prekey_bytes(
    bundle_id: &BundleId,
    id: PrekeyId,
    key: &[u8; 32],
) -> [u8; ONE_TIME_PREKEY_SIGNED_LEN] {
    let mut bytes = [0u8; ONE_TIME_PREKEY_SIGNED_LEN];
    let parts: [&[u8]; 4] = [
        LABEL_ONE_TIME_PREKEY,
        bundle_id.as_bytes(),
        &id.to_be_bytes(),
        key,
    ];
    let mut at = 0;
    for part in parts {
        if let Some(slot) = bytes.get_mut(at..at + part.len()) {
            slot.copy_from_slice(part);
        }
        at += part.len();
    }
    bytes
}

/// A one-time prekey as uploaded to and handed out by the relay: id, X25519 public key
/// and the device's signature binding both to a [`BundleId`]. Not verified yet: use
/// [`crate::PrekeyBundle::with_one_time_prekey`], which checks the signature against the
/// bundle's device.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedOneTimePrekey {
    /// The key's id on its device.
    pub id: PrekeyId,
    /// The X25519 public key.
    pub public_key: [u8; 32],
    /// Ed25519 by the device signing key over the one-time prekey layout.
    pub signature: [u8; SIGNATURE_LEN],
}

impl SignedOneTimePrekey {
    /// Builds one from its parts as received (e.g. decoded from the relay's JSON).
    ///
    /// # Errors
    /// [`BundleError::Malformed`] if the key is not 32 bytes or the signature not 64
    /// (an empty signature is `missing_one_time_prekey_signature`).
    pub fn from_parts(
        id: PrekeyId,
        public_key: &[u8],
        signature: &[u8],
    ) -> Result<Self, BundleError> {
        let public_key = public_key.try_into().map_err(|_| BundleError::Malformed {
            field: "one_time_prekey",
        })?;
        if signature.is_empty() {
            return Err(BundleError::MissingOneTimePrekeySignature);
        }
        let signature = signature.try_into().map_err(|_| BundleError::Malformed {
            field: "one_time_prekey_signature",
        })?;
        Ok(Self {
            id,
            public_key,
            signature,
        })
    }

    /// Parses the protobuf form.
    ///
    /// # Errors
    /// As [`SignedOneTimePrekey::from_parts`].
    pub fn from_proto(proto: &pb::OneTimePrekey) -> Result<Self, BundleError> {
        Self::from_parts(proto.id, &proto.public_key, &proto.signature)
    }

    /// The protobuf form.
    #[must_use]
    pub fn to_proto(&self) -> pb::OneTimePrekey {
        pb::OneTimePrekey {
            id: self.id,
            public_key: self.public_key.to_vec(),
            signature: self.signature.to_vec(),
        }
    }

    /// Checks the signature: made by `device`'s signing key for `bundle_id`.
    ///
    /// # Errors
    /// [`BundleError::BadOneTimePrekeySignature`] if it does not verify.
    pub fn verify(
        &self,
        device: &DeviceCertificate,
        bundle_id: &BundleId,
    ) -> Result<(), BundleError> {
        signing::verify(
            device.device_signing_key(),
            &one_time_prekey_bytes(bundle_id, self.id, &self.public_key),
            &self.signature,
        )
        .map_err(|_| BundleError::BadOneTimePrekeySignature)
    }
}

impl std::fmt::Debug for SignedOneTimePrekey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedOneTimePrekey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
