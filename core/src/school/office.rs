//! Offices: school administrators other than the root (`docs/PROTOCOL.md` §5.8).
//!
//! An office is a member whose grant the root signed with role [`Role::Admin`] and whose
//! account the root admitted. It signs the school's objects — grants, admissions,
//! revocation lists, directory keys — with its account key, over the root's message for
//! that object prefixed by `"Satchel office v1" || its grant id`, and attaches its own
//! member certificate as the object's **issuer**. A verifier accepts such a signature
//! only if the issuer certificate verifies under the pinned root, was itself issued and
//! admitted by the root (no chains), has role admin, and is bound to the key that
//! signed. Whether the office is still valid and not revoked depends on the clock and
//! the revocation list: [`super::verify_member`] checks it for members, and apps check
//! it for lists and keys they receive.
//!
//! So the root key can stay on one device, offline, while the office invites, confirms
//! and revokes; revoking the office's grant ends all of it.

use super::grant::{GrantId, Role};
use super::member::MemberCertificate;
use super::root::{SchoolId, SchoolKey, SchoolRoot};
use crate::account::Account;
use crate::crypto::signing::{self, SigningKeyPair};
use crate::error::TrustError;

const LABEL_OFFICE: &[u8] = b"Satchel office v1";

/// The string an office signs in place of the root's message `message`.
fn office_message(office_grant: &GrantId, message: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(LABEL_OFFICE.len() + 16 + message.len());
    bytes.extend_from_slice(LABEL_OFFICE);
    bytes.extend_from_slice(office_grant.as_bytes());
    bytes.extend_from_slice(message);
    bytes
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::SchoolRoot {}
    impl Sealed for super::Office {}
}

/// Who signs a school's objects: its [`SchoolRoot`] or an [`Office`].
pub trait Authority: sealed::Sealed {
    /// The school.
    fn school_id(&self) -> SchoolId;

    /// The school's public root key (what invite records carry for members to pin).
    fn root_key(&self) -> SchoolKey;

    /// Signs the root's message for an object; returns the signature and the issuer
    /// certificate to attach (`None` for the root).
    #[doc(hidden)]
    fn sign_object(&self, message: &[u8]) -> ([u8; 64], Option<MemberCertificate>);
}

impl Authority for SchoolRoot {
    fn school_id(&self) -> SchoolId {
        SchoolRoot::school_id(self)
    }

    fn root_key(&self) -> SchoolKey {
        self.public()
    }

    fn sign_object(&self, message: &[u8]) -> ([u8; 64], Option<MemberCertificate>) {
        (self.sign(message), None)
    }
}

/// An office: an admitted admin member, signing with its account key.
#[derive(Clone)]
pub struct Office {
    root: SchoolKey,
    certificate: MemberCertificate,
    key: SigningKeyPair,
}

impl Office {
    /// The office of `account`, which `certificate` (verified under the school root
    /// `root`) names.
    ///
    /// # Errors
    /// [`TrustError::WrongSchool`] if the certificate is not `root`'s school's;
    /// [`TrustError::NotAnOffice`] unless it is bound to this account, has role admin,
    /// and was issued and admitted by the root itself.
    pub fn new(
        account: &Account,
        certificate: MemberCertificate,
        root: &SchoolKey,
    ) -> Result<Self, TrustError> {
        if certificate.grant().school_id() != root.school_id() {
            return Err(TrustError::WrongSchool);
        }
        if certificate.account_id() != account.account_id()
            || certificate.account_key() != account.certificate().account_key()
        {
            return Err(TrustError::NotAnOffice);
        }
        check_office(&certificate)?;
        Ok(Self {
            root: *root,
            certificate,
            key: account.identity_key().clone(),
        })
    }

    /// The office's member certificate (attached as issuer).
    #[must_use]
    pub fn certificate(&self) -> &MemberCertificate {
        &self.certificate
    }

    /// Signs a relay request made as this office (the relay checks the certificate,
    /// sent along, before accepting it where the root's signature is needed). The
    /// request label keeps these signatures apart from school objects.
    #[must_use]
    pub fn sign_request(&self, request: &crate::relay_request::RelayRequest<'_>) -> [u8; 64] {
        self.key.sign(&request.message())
    }
}

/// The root or an office, whichever this device is (an app holds one or the other).
#[derive(Debug, Clone)]
pub enum SchoolAuthority {
    /// The school's root key.
    Root(Box<SchoolRoot>),
    /// An office of the school.
    Office(Box<Office>),
}

impl sealed::Sealed for SchoolAuthority {}

impl Authority for SchoolAuthority {
    fn school_id(&self) -> SchoolId {
        match self {
            Self::Root(root) => Authority::school_id(root.as_ref()),
            Self::Office(office) => office.school_id(),
        }
    }

    fn root_key(&self) -> SchoolKey {
        match self {
            Self::Root(root) => root.root_key(),
            Self::Office(office) => office.root_key(),
        }
    }

    fn sign_object(&self, message: &[u8]) -> ([u8; 64], Option<MemberCertificate>) {
        match self {
            Self::Root(root) => root.sign_object(message),
            Self::Office(office) => office.sign_object(message),
        }
    }
}

impl Authority for Office {
    fn school_id(&self) -> SchoolId {
        self.root.school_id()
    }

    fn root_key(&self) -> SchoolKey {
        self.root
    }

    fn sign_object(&self, message: &[u8]) -> ([u8; 64], Option<MemberCertificate>) {
        let signature = self
            .key
            .sign(&office_message(&self.certificate.grant().id(), message));
        (signature, Some(self.certificate.clone()))
    }
}

impl std::fmt::Debug for Office {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Office")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

/// Whether `office` may act for the school at `now`: its grant is valid then and not in
/// `revocations`. Apps check this before adopting a revocation list or a directory key
/// an office signed; [`super::verify_member`] checks it for what an office vouched for.
#[must_use]
pub fn office_acts(
    office: &MemberCertificate,
    now: u64,
    revocations: Option<&super::RevocationList>,
) -> bool {
    let grant = office.grant();
    let valid = grant.details().valid_from <= now && now < grant.details().valid_until;
    valid && !revocations.is_some_and(|list| list.is_revoked(&grant.id()))
}

/// An office certificate: role admin, issued and admitted by the root itself.
fn check_office(certificate: &MemberCertificate) -> Result<(), TrustError> {
    if certificate.is_office() {
        Ok(())
    } else {
        Err(TrustError::NotAnOffice)
    }
}

impl MemberCertificate {
    /// Whether this certificate makes its holder an office (§5.8): role admin, granted
    /// and admitted by the root itself. Says nothing about validity or revocation.
    #[must_use]
    pub fn is_office(&self) -> bool {
        self.grant().issuer().is_none()
            && self.admission_issuer().is_none()
            && self.is_admitted()
            && self.grant().details().role == Role::Admin
    }
}

/// The encoded issuer of an object, as its protobuf carries it (empty: the root).
pub(crate) fn issuer_bytes(issuer: Option<&MemberCertificate>) -> Vec<u8> {
    issuer.map(MemberCertificate::to_bytes).unwrap_or_default()
}

/// Verifies `signature` over the root's `message` for an object: by the root when
/// `issuer` is empty, else by the office whose encoded certificate `issuer` is. Returns
/// the office's certificate.
///
/// # Errors
/// [`TrustError::Malformed`] for an issuer that does not decode or is itself
/// office-issued, [`TrustError::NotAnOffice`] for one that is no office,
/// [`TrustError::BadSignature`] if the signature does not verify.
pub(crate) fn verify_issued(
    root: &SchoolKey,
    issuer: &[u8],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<Option<MemberCertificate>, TrustError> {
    if issuer.is_empty() {
        return if root.verify(message, signature) {
            Ok(None)
        } else {
            Err(TrustError::BadSignature)
        };
    }
    let office = MemberCertificate::from_bytes_root_issued(issuer, root)?;
    check_office(&office)?;
    verify_by_office(&office, message, signature)?;
    Ok(Some(office))
}

/// Verifies an office's signature over the root's `message` for an object, for an
/// office certificate already parsed and checked (the same office often signs a grant
/// and its admission: its certificate is checked once).
pub(crate) fn verify_by_office(
    office: &MemberCertificate,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), TrustError> {
    signing::verify(
        office.account_key(),
        &office_message(&office.grant().id(), message),
        signature,
    )
    .map_err(|_| TrustError::BadSignature)
}
