//! Member certificates (a grant bound to an account) and the verification that decides
//! what a recipient is shown.

use prost::Message;
use satchel_proto::v1 as pb;

use super::grant::{Grant, GrantId, Role};
use super::office::{Authority, issuer_bytes, verify_by_office, verify_issued};
use super::revocation::RevocationList;
use super::root::SchoolKey;
use crate::crypto::signing::{self, SigningKeyPair};
use crate::error::TrustError;
use crate::identity::certificate::DeviceCertificate;
use crate::identity::ids::AccountId;

const LABEL_BINDING: &[u8] = b"Satchel member binding v1";
const LABEL_ADMISSION: &[u8] = b"Satchel admission v1";
/// The largest encoded member certificate accepted.
pub const MAX_MEMBER_CERTIFICATE_LEN: usize = 4_096;

/// A grant bound to one account by the grant key's signature, and (once the school
/// confirmed the enrolment) admitted by the root's signature over the same binding.
///
/// Whoever knows an invite code can derive its grant key and bind the grant to an
/// account of their own; only the root can admit that account. The admin's app admits
/// the one account whose member key redeemed the invite at the relay (`docs/PROTOCOL.md`
/// §5.3), so a certificate made from a copied code stays unadmitted and
/// [`verify_member`] shows its holder as a stranger.
#[derive(Clone, PartialEq, Eq)]
pub struct MemberCertificate {
    grant: Grant,
    account_id: AccountId,
    account_key: [u8; 32],
    binding_signature: [u8; 64],
    admission: Option<[u8; 64]>,
    admission_issuer: Option<Box<MemberCertificate>>,
}

/// The string the root signs to admit a bound account (100 bytes).
fn admission_bytes(grant: &Grant, account_id: &AccountId, account_key: &[u8; 32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(LABEL_ADMISSION.len() + 16 + 16 + 16 + 32);
    bytes.extend_from_slice(LABEL_ADMISSION);
    bytes.extend_from_slice(grant.school_id().as_bytes());
    bytes.extend_from_slice(grant.id().as_bytes());
    bytes.extend_from_slice(account_id.as_bytes());
    bytes.extend_from_slice(account_key);
    bytes
}

fn binding_bytes(grant: &Grant, account_id: &AccountId, account_key: &[u8; 32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(LABEL_BINDING.len() + 16 + 16 + 32);
    bytes.extend_from_slice(LABEL_BINDING);
    bytes.extend_from_slice(grant.id().as_bytes());
    bytes.extend_from_slice(account_id.as_bytes());
    bytes.extend_from_slice(account_key);
    bytes
}

impl MemberCertificate {
    /// Binds `grant` to an account, signing with the grant key.
    ///
    /// # Errors
    /// [`TrustError::BadSignature`] if `grant_key` is not the grant's key.
    pub(crate) fn bind(
        grant: Grant,
        grant_key: &SigningKeyPair,
        account_id: AccountId,
        account_key: [u8; 32],
    ) -> Result<Self, TrustError> {
        if grant_key.public() != *grant.grant_key() {
            return Err(TrustError::BadSignature);
        }
        let binding_signature = grant_key.sign(&binding_bytes(&grant, &account_id, &account_key));
        Ok(Self {
            grant,
            account_id,
            account_key,
            binding_signature,
            admission: None,
            admission_issuer: None,
        })
    }

    /// Admits this certificate's account: the root (or an office, §5.8) signs the
    /// binding (school, grant, account id and key). The admin's app calls this for the
    /// one account that redeemed the grant's invite at the relay, never for a
    /// certificate it merely saw.
    ///
    /// # Errors
    /// [`TrustError::WrongSchool`] if the grant is another school's;
    /// [`TrustError::NotAnOffice`] if an office would admit an admin (only the root
    /// makes offices).
    pub fn admit(mut self, authority: &impl Authority) -> Result<Self, TrustError> {
        if self.grant.school_id() != authority.school_id() {
            return Err(TrustError::WrongSchool);
        }
        let (signature, issuer) = authority.sign_object(&admission_bytes(
            &self.grant,
            &self.account_id,
            &self.account_key,
        ));
        if issuer.is_some() && self.grant.details().role == Role::Admin {
            return Err(TrustError::NotAnOffice);
        }
        self.admission = Some(signature);
        self.admission_issuer = issuer.map(Box::new);
        Ok(self)
    }

    /// Attaches an admission received from the relay — the signature and, for an
    /// office's admission, the office's encoded certificate — after checking it under
    /// the pinned root.
    ///
    /// # Errors
    /// [`TrustError::BadSignature`] if it is not the root's (or an office's) admission
    /// of this certificate, [`TrustError`] for an issuer that is no office; nothing
    /// changes then.
    pub fn with_admission(
        mut self,
        signature: &[u8; 64],
        issuer: Option<&[u8]>,
        root: &SchoolKey,
    ) -> Result<Self, TrustError> {
        let bytes = admission_bytes(&self.grant, &self.account_id, &self.account_key);
        let issuer = verify_issued(root, issuer.unwrap_or_default(), &bytes, signature)?;
        if issuer.is_some() && self.grant.details().role == Role::Admin {
            return Err(TrustError::NotAnOffice);
        }
        self.admission = Some(*signature);
        self.admission_issuer = issuer.map(Box::new);
        Ok(self)
    }

    /// The office that admitted this account (`None`: the root, or not admitted).
    #[must_use]
    pub fn admission_issuer(&self) -> Option<&MemberCertificate> {
        self.admission_issuer.as_deref()
    }

    /// Whether the root admitted this account (see [`MemberCertificate::admit`]).
    #[must_use]
    pub fn is_admitted(&self) -> bool {
        self.admission.is_some()
    }

    /// The root's admission signature, if any.
    #[must_use]
    pub fn admission(&self) -> Option<&[u8; 64]> {
        self.admission.as_ref()
    }

    /// Parses and verifies a certificate against the school root.
    ///
    /// # Errors
    /// [`TrustError`] if it is malformed, for another school, or a signature fails.
    pub fn from_proto(proto: &pb::MemberCertificate, root: &SchoolKey) -> Result<Self, TrustError> {
        Self::parse(proto, root, true)
    }

    /// Parses an office's certificate: as [`MemberCertificate::from_bytes`], but its
    /// grant and admission must be the root's own (an issuer has no issuer).
    pub(crate) fn from_bytes_root_issued(
        bytes: &[u8],
        root: &SchoolKey,
    ) -> Result<Self, TrustError> {
        if bytes.len() > MAX_MEMBER_CERTIFICATE_LEN {
            return Err(TrustError::Malformed { field: "issuer" });
        }
        let proto = pb::MemberCertificate::decode(bytes)
            .map_err(|_| TrustError::Malformed { field: "issuer" })?;
        Self::parse(&proto, root, false)
    }

    fn parse(
        proto: &pb::MemberCertificate,
        root: &SchoolKey,
        allow_issuer: bool,
    ) -> Result<Self, TrustError> {
        let malformed = |field| TrustError::Malformed { field };
        if !allow_issuer && !proto.admission_issuer.is_empty() {
            return Err(malformed("issuer"));
        }
        let grant = Grant::parse(
            proto.grant.as_ref().ok_or(malformed("grant"))?,
            root,
            allow_issuer,
        )?;
        let account_id = AccountId::from_slice(&proto.account_id).ok_or(malformed("account_id"))?;
        let account_key: [u8; 32] = proto
            .account_key
            .as_slice()
            .try_into()
            .map_err(|_| malformed("account_key"))?;
        let binding_signature: [u8; 64] = proto
            .binding_signature
            .as_slice()
            .try_into()
            .map_err(|_| malformed("binding_signature"))?;
        signing::verify(
            grant.grant_key(),
            &binding_bytes(&grant, &account_id, &account_key),
            &binding_signature,
        )
        .map_err(|_| TrustError::BadSignature)?;
        let (admission, admission_issuer) = match proto.admission.as_slice() {
            [] if proto.admission_issuer.is_empty() => (None, None),
            [] => return Err(malformed("admission_issuer")),
            bytes => {
                let signature: [u8; 64] = bytes.try_into().map_err(|_| malformed("admission"))?;
                let admission = admission_bytes(&grant, &account_id, &account_key);
                // The office that granted often admits too: its certificate, already
                // checked for the grant, is not parsed and verified again.
                let same_office = grant.issuer().filter(|office| {
                    !proto.admission_issuer.is_empty()
                        && proto.grant.as_ref().map(|g| g.issuer.as_slice())
                            == Some(proto.admission_issuer.as_slice())
                        && office.is_office()
                });
                let issuer = match same_office {
                    Some(office) => {
                        verify_by_office(office, &admission, &signature)?;
                        Some(office.clone())
                    }
                    None => verify_issued(root, &proto.admission_issuer, &admission, &signature)?,
                };
                if issuer.is_some() && grant.details().role == Role::Admin {
                    return Err(TrustError::NotAnOffice);
                }
                (Some(signature), issuer.map(Box::new))
            }
        };
        Ok(Self {
            grant,
            account_id,
            account_key,
            binding_signature,
            admission,
            admission_issuer,
        })
    }

    /// Parses and verifies encoded bytes (as carried in a first contact's
    /// sender-certificate slot or a directory entry).
    ///
    /// # Errors
    /// As [`MemberCertificate::from_proto`].
    pub fn from_bytes(bytes: &[u8], root: &SchoolKey) -> Result<Self, TrustError> {
        if bytes.len() > MAX_MEMBER_CERTIFICATE_LEN {
            return Err(TrustError::Malformed { field: "length" });
        }
        let proto = pb::MemberCertificate::decode(bytes)
            .map_err(|_| TrustError::Malformed { field: "encoding" })?;
        Self::from_proto(&proto, root)
    }

    /// The protobuf form.
    #[must_use]
    pub fn to_proto(&self) -> pb::MemberCertificate {
        pb::MemberCertificate {
            grant: Some(self.grant.to_proto()),
            account_id: self.account_id.as_bytes().to_vec(),
            account_key: self.account_key.to_vec(),
            binding_signature: self.binding_signature.to_vec(),
            admission: self.admission.map(|s| s.to_vec()).unwrap_or_default(),
            admission_issuer: issuer_bytes(self.admission_issuer.as_deref()),
        }
    }

    /// The encoded certificate.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_proto().encode_to_vec()
    }

    /// The grant.
    #[must_use]
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// The account it is bound to.
    #[must_use]
    pub fn account_id(&self) -> AccountId {
        self.account_id
    }

    /// The account key it is bound to.
    #[must_use]
    pub fn account_key(&self) -> &[u8; 32] {
        &self.account_key
    }
}

impl std::fmt::Debug for MemberCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberCertificate")
            .field("grant", &self.grant)
            .field("account_id", &self.account_id)
            .field("admitted", &self.admission.is_some())
            .finish_non_exhaustive()
    }
}

/// A sender the school vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedMember {
    /// The name the school gave them.
    pub display_name: String,
    /// Their role.
    pub role: Role,
    /// Their classes.
    pub classes: Vec<String>,
    /// Their grant (for revocation).
    pub grant_id: GrantId,
    /// Until when the school vouches for them (Unix seconds).
    pub valid_until: u64,
}

/// Why a sender is not shown as verified. Every variant means: treat as a stranger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnverifiedReason {
    /// The sender presented no school certificate.
    NoCertificate,
    /// The certificate is malformed, forged or from another school.
    Invalid,
    /// The certificate is bound to another account than the one that sent the message.
    AccountMismatch,
    /// Not valid yet.
    NotYetValid,
    /// Expired.
    Expired,
    /// The school revoked it.
    Revoked,
    /// The certificate is genuine, but the school's directory lists another account
    /// under the same grant: someone bound a copied invite code to their own account.
    /// Core cannot see this; an app that keeps the directory reports it.
    HeldByAnother,
    /// An office (§5.8) issued or admitted this certificate, and that office is no
    /// longer valid: its own grant expired or the school revoked it.
    IssuerNotValid,
    /// The certificate is genuine but the school has not admitted this account yet
    /// (its admin's app confirms enrolments when it next syncs). A certificate made
    /// from a copied invite code stays like this.
    NotAdmitted,
}

impl std::fmt::Display for UnverifiedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnverifiedReason::NoCertificate => {
                "no school certificate: this sender is not known to the school"
            }
            UnverifiedReason::Invalid => "invalid school certificate: do not trust this sender",
            UnverifiedReason::AccountMismatch => {
                "certificate belongs to someone else: do not trust this sender"
            }
            UnverifiedReason::NotYetValid => "school certificate not valid yet",
            UnverifiedReason::Expired => "school certificate expired",
            UnverifiedReason::Revoked => "the school has revoked this sender",
            UnverifiedReason::HeldByAnother => {
                "the school gave this certificate to someone else: do not trust this sender"
            }
            UnverifiedReason::IssuerNotValid => {
                "the school office that enrolled this sender no longer acts for the school: \
                 treat as a stranger"
            }
            UnverifiedReason::NotAdmitted => {
                "the school has not confirmed this enrolment yet: treat as a stranger until it does"
            }
        })
    }
}

/// What a recipient shows for a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderStatus {
    /// Vouched for by the school: show name, role and classes as verified.
    Verified(VerifiedMember),
    /// Not vouched for: show as a stranger, with the reason.
    Unverified(UnverifiedReason),
}

impl SenderStatus {
    /// Whether to show the sender as verified.
    #[must_use]
    pub fn is_verified(&self) -> bool {
        matches!(self, SenderStatus::Verified(_))
    }
}

/// Decides whether `sender` (the device certificate the session authenticated) is a
/// member of the school `root`, given the member certificate it presented (if any),
/// the latest revocation list and the current time.
#[must_use]
pub fn verify_member(
    root: &SchoolKey,
    revocations: Option<&RevocationList>,
    now: u64,
    certificate: Option<&[u8]>,
    sender: &DeviceCertificate,
) -> SenderStatus {
    let Some(bytes) = certificate.filter(|b| !b.is_empty()) else {
        return SenderStatus::Unverified(UnverifiedReason::NoCertificate);
    };
    let Ok(member) = MemberCertificate::from_bytes(bytes, root) else {
        return SenderStatus::Unverified(UnverifiedReason::Invalid);
    };
    if member.account_id != sender.account_id() || &member.account_key != sender.account_key() {
        return SenderStatus::Unverified(UnverifiedReason::AccountMismatch);
    }
    let details = member.grant.details();
    if now < details.valid_from {
        return SenderStatus::Unverified(UnverifiedReason::NotYetValid);
    }
    if now >= details.valid_until {
        return SenderStatus::Unverified(UnverifiedReason::Expired);
    }
    if revocations.is_some_and(|list| list.is_revoked(&member.grant.id())) {
        return SenderStatus::Unverified(UnverifiedReason::Revoked);
    }
    if !member.is_admitted() {
        return SenderStatus::Unverified(UnverifiedReason::NotAdmitted);
    }
    // An office's signature counts only while the office is valid and not revoked.
    let issuers = [member.grant.issuer(), member.admission_issuer()];
    let office_gone = issuers
        .into_iter()
        .flatten()
        .any(|office| !super::office::office_acts(office, now, revocations));
    if office_gone {
        return SenderStatus::Unverified(UnverifiedReason::IssuerNotValid);
    }
    SenderStatus::Verified(VerifiedMember {
        display_name: details.display_name.clone(),
        role: details.role,
        classes: details.classes.clone(),
        grant_id: member.grant.id(),
        valid_until: details.valid_until,
    })
}
