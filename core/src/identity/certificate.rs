//! Device certificates: an account key vouching for one device's keys.

use satchel_proto::v1 as pb;

use super::ids::{AccountId, DeviceId, ID_LEN};
use crate::crypto::dh::Hex;
use crate::crypto::kdf::sha256;
use crate::crypto::signing::{self, SIGNATURE_LEN, SigningKeyPair};
use crate::error::CertificateError;

const LABEL_CERTIFICATE: &[u8] = b"Satchel device certificate v1";

/// A device's public keys, signed by its account's identity key.
///
/// A value of this type has always had its signature checked (or was created locally):
/// parsing verifies.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCertificate {
    account_id: AccountId,
    account_key: [u8; 32],
    device_id: DeviceId,
    device_dh_key: [u8; 32],
    device_signing_key: [u8; 32],
    signature: [u8; SIGNATURE_LEN],
}

impl DeviceCertificate {
    pub(crate) fn issue(
        account_key: &SigningKeyPair,
        account_id: AccountId,
        device_id: DeviceId,
        device_dh_key: [u8; 32],
        device_signing_key: [u8; 32],
    ) -> Self {
        let mut certificate = Self {
            account_id,
            account_key: account_key.public(),
            device_id,
            device_dh_key,
            device_signing_key,
            signature: [0u8; SIGNATURE_LEN],
        };
        certificate.signature = account_key.sign(&certificate.signed_bytes());
        certificate
    }

    /// The fixed-layout bytes the account key signs (see `docs/PROTOCOL.md`).
    fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(LABEL_CERTIFICATE.len() + 2 * ID_LEN + 3 * 32);
        bytes.extend_from_slice(LABEL_CERTIFICATE);
        bytes.extend_from_slice(self.account_id.as_bytes());
        bytes.extend_from_slice(&self.account_key);
        bytes.extend_from_slice(self.device_id.as_bytes());
        bytes.extend_from_slice(&self.device_dh_key);
        bytes.extend_from_slice(&self.device_signing_key);
        bytes
    }

    /// Parses and verifies a certificate.
    ///
    /// # Errors
    /// [`CertificateError`] if a field has the wrong length or the signature is invalid.
    pub fn from_proto(proto: &pb::DeviceCertificate) -> Result<Self, CertificateError> {
        let certificate = Self::from_proto_unverified(proto)?;
        signing::verify(
            &certificate.account_key,
            &certificate.signed_bytes(),
            &certificate.signature,
        )
        .map_err(|_| CertificateError::BadSignature)?;
        Ok(certificate)
    }

    /// Parses without verifying. Only for state this library persisted itself.
    pub(crate) fn from_proto_unverified(
        proto: &pb::DeviceCertificate,
    ) -> Result<Self, CertificateError> {
        fn field<const N: usize>(
            bytes: &[u8],
            name: &'static str,
        ) -> Result<[u8; N], CertificateError> {
            bytes
                .try_into()
                .map_err(|_| CertificateError::Malformed { field: name })
        }
        Ok(Self {
            account_id: AccountId::from_bytes(field(&proto.account_id, "account_id")?),
            account_key: field(&proto.account_key, "account_key")?,
            device_id: DeviceId::from_bytes(field(&proto.device_id, "device_id")?),
            device_dh_key: field(&proto.device_dh_key, "device_dh_key")?,
            device_signing_key: field(&proto.device_signing_key, "device_signing_key")?,
            signature: field(&proto.signature, "signature")?,
        })
    }

    /// The protobuf form.
    #[must_use]
    pub fn to_proto(&self) -> pb::DeviceCertificate {
        pb::DeviceCertificate {
            account_id: self.account_id.as_bytes().to_vec(),
            account_key: self.account_key.to_vec(),
            device_id: self.device_id.as_bytes().to_vec(),
            device_dh_key: self.device_dh_key.to_vec(),
            device_signing_key: self.device_signing_key.to_vec(),
            signature: self.signature.to_vec(),
        }
    }

    /// The account this device belongs to.
    #[must_use]
    pub fn account_id(&self) -> AccountId {
        self.account_id
    }

    /// The account's Ed25519 identity key.
    #[must_use]
    pub fn account_key(&self) -> &[u8; 32] {
        &self.account_key
    }

    /// This device's id.
    #[must_use]
    pub fn device_id(&self) -> DeviceId {
        self.device_id
    }

    /// This device's X25519 key.
    #[must_use]
    pub fn device_dh_key(&self) -> &[u8; 32] {
        &self.device_dh_key
    }

    /// This device's Ed25519 key (signs its prekeys).
    #[must_use]
    pub fn device_signing_key(&self) -> &[u8; 32] {
        &self.device_signing_key
    }

    /// A 32-byte digest of the signed content, used in session associated data.
    pub(crate) fn digest(&self) -> [u8; 32] {
        sha256(&[&self.signed_bytes(), &self.signature])
    }
}

impl std::fmt::Debug for DeviceCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCertificate")
            .field("account_id", &self.account_id)
            .field("device_id", &self.device_id)
            .field("account_key", &Hex(&self.account_key))
            .finish_non_exhaustive()
    }
}
