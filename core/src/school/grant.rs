//! Grants: the school root's signed statement about a person's name, role and classes.

use rand_core::CryptoRng;
use satchel_proto::v1 as pb;

use super::member::MemberCertificate;
use super::office::{Authority, issuer_bytes, verify_issued};
use super::root::{SchoolId, SchoolKey};
use crate::crypto::dh::Hex;
use crate::error::TrustError;

const LABEL_GRANT: &[u8] = b"Satchel grant v1";

/// The longest display name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 200;
/// The most classes one grant may name.
pub const MAX_CLASSES: usize = 32;
/// The longest class name, in bytes of UTF-8.
pub const MAX_CLASS_LEN: usize = 64;

/// What a member is at the school. Shown next to every message they send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Runs the school's Satchel: creates invites, revokes members.
    Admin,
    /// A teacher (of the classes named in the grant).
    Teacher,
    /// Other school staff (office, head, nurse…).
    Staff,
    /// A parent or guardian (of a pupil in the classes named in the grant).
    Parent,
}

impl Role {
    fn to_byte(self) -> u8 {
        match self {
            Role::Admin => 1,
            Role::Teacher => 2,
            Role::Staff => 3,
            Role::Parent => 4,
        }
    }

    fn from_proto(value: i32) -> Option<Self> {
        match pb::Role::try_from(value).ok()? {
            pb::Role::Admin => Some(Role::Admin),
            pb::Role::Teacher => Some(Role::Teacher),
            pb::Role::Staff => Some(Role::Staff),
            pb::Role::Parent => Some(Role::Parent),
            pb::Role::Unspecified => None,
        }
    }

    fn to_proto(self) -> pb::Role {
        match self {
            Role::Admin => pb::Role::Admin,
            Role::Teacher => pb::Role::Teacher,
            Role::Staff => pb::Role::Staff,
            Role::Parent => pb::Role::Parent,
        }
    }

    /// The lowercase English name (`"teacher"`), as used on command lines.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Teacher => "teacher",
            Role::Staff => "staff",
            Role::Parent => "parent",
        }
    }

    /// Parses [`Role::as_str`]'s names.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Role::Admin),
            "teacher" => Some(Role::Teacher),
            "staff" => Some(Role::Staff),
            "parent" => Some(Role::Parent),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names a grant (and so a member) in revocation lists.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantId([u8; 16]);

impl GrantId {
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

impl std::fmt::Debug for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrantId({:?})", Hex(&self.0))
    }
}

/// What the admin fills in to create a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRequest {
    /// The name shown to others, e.g. "Ms Rivera" or "Sam's mum (Alex Doe)".
    pub display_name: String,
    /// The role.
    pub role: Role,
    /// Classes, e.g. `["5B"]`; may be empty for school-wide staff.
    pub classes: Vec<String>,
    /// Valid from (Unix seconds).
    pub valid_from: u64,
    /// Valid until (Unix seconds).
    pub valid_until: u64,
}

/// A grant whose signature — the root's, or an office's (§5.8) — has been verified (or
/// which was just signed).
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    school_id: SchoolId,
    grant_id: GrantId,
    request: GrantRequest,
    grant_key: [u8; 32],
    signature: [u8; 64],
    issuer: Option<Box<MemberCertificate>>,
}

/// An office may not grant the admin role.
const ONLY_ROOT_MAKES_OFFICES: TrustError = TrustError::InvalidField {
    field: "role",
    reason: "only the school root grants the admin role",
};

fn check_request(request: &GrantRequest) -> Result<(), TrustError> {
    if request.display_name.trim().is_empty() || request.display_name.len() > MAX_NAME_LEN {
        return Err(TrustError::InvalidField {
            field: "display_name",
            reason: "must be 1 to 200 bytes",
        });
    }
    if request.classes.len() > MAX_CLASSES {
        return Err(TrustError::InvalidField {
            field: "classes",
            reason: "at most 32 classes",
        });
    }
    if request
        .classes
        .iter()
        .any(|c| c.trim().is_empty() || c.len() > MAX_CLASS_LEN)
    {
        return Err(TrustError::InvalidField {
            field: "classes",
            reason: "each class name must be 1 to 64 bytes",
        });
    }
    if request.valid_until <= request.valid_from {
        return Err(TrustError::InvalidField {
            field: "valid_until",
            reason: "must be after valid_from",
        });
    }
    Ok(())
}

fn push_string(bytes: &mut Vec<u8>, value: &str) {
    // Lengths are bounded by `check_request` (≤ 200 bytes), so they fit in u16.
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(value.as_bytes());
}

impl Grant {
    /// The fixed-layout bytes the root signs (see `docs/PROTOCOL.md`).
    fn signed_bytes(&self) -> Vec<u8> {
        let r = &self.request;
        let mut bytes = Vec::with_capacity(128 + r.display_name.len());
        bytes.extend_from_slice(LABEL_GRANT);
        bytes.extend_from_slice(self.school_id.as_bytes());
        bytes.extend_from_slice(self.grant_id.as_bytes());
        bytes.push(r.role.to_byte());
        bytes.extend_from_slice(&r.valid_from.to_be_bytes());
        bytes.extend_from_slice(&r.valid_until.to_be_bytes());
        bytes.extend_from_slice(&self.grant_key);
        push_string(&mut bytes, &r.display_name);
        let count = u16::try_from(r.classes.len()).unwrap_or(u16::MAX);
        bytes.extend_from_slice(&count.to_be_bytes());
        for class in &r.classes {
            push_string(&mut bytes, class);
        }
        bytes
    }

    /// Signs a grant for the holder of `grant_key`, as the root or an office.
    ///
    /// # Errors
    /// [`TrustError::InvalidField`] if the name or classes are empty or too long, the
    /// validity period is empty, or an office asks for the admin role (only the root
    /// makes offices).
    pub fn sign<R: CryptoRng + ?Sized>(
        authority: &impl Authority,
        request: GrantRequest,
        grant_key: [u8; 32],
        rng: &mut R,
    ) -> Result<Self, TrustError> {
        check_request(&request)?;
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let mut grant = Self {
            school_id: authority.school_id(),
            grant_id: GrantId(id),
            request,
            grant_key,
            signature: [0u8; 64],
            issuer: None,
        };
        let (signature, issuer) = authority.sign_object(&grant.signed_bytes());
        if issuer.is_some() && grant.request.role == Role::Admin {
            return Err(ONLY_ROOT_MAKES_OFFICES);
        }
        grant.signature = signature;
        grant.issuer = issuer.map(Box::new);
        Ok(grant)
    }

    /// Parses a grant and verifies it was signed by `root` or by an office of its
    /// school (§5.8).
    ///
    /// # Errors
    /// [`TrustError`] if it is malformed, for another school, or the signature fails.
    pub fn from_proto(proto: &pb::Grant, root: &SchoolKey) -> Result<Self, TrustError> {
        Self::parse(proto, root, true)
    }

    /// As [`Grant::from_proto`]; with `allow_issuer` false, only a root-signed grant
    /// (an office's own, which cannot be office-issued: no chains).
    pub(crate) fn parse(
        proto: &pb::Grant,
        root: &SchoolKey,
        allow_issuer: bool,
    ) -> Result<Self, TrustError> {
        let malformed = |field| TrustError::Malformed { field };
        if !allow_issuer && !proto.issuer.is_empty() {
            return Err(malformed("issuer"));
        }
        let school_id = SchoolId::from_slice(&proto.school_id).ok_or(malformed("school_id"))?;
        if school_id != root.school_id() {
            return Err(TrustError::WrongSchool);
        }
        let grant = Self {
            school_id,
            grant_id: GrantId(
                proto
                    .grant_id
                    .as_slice()
                    .try_into()
                    .map_err(|_| malformed("grant_id"))?,
            ),
            request: GrantRequest {
                display_name: proto.display_name.clone(),
                role: Role::from_proto(proto.role).ok_or(malformed("role"))?,
                classes: proto.classes.clone(),
                valid_from: proto.valid_from,
                valid_until: proto.valid_until,
            },
            grant_key: proto
                .grant_key
                .as_slice()
                .try_into()
                .map_err(|_| malformed("grant_key"))?,
            signature: proto
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| malformed("signature"))?,
            issuer: None,
        };
        check_request(&grant.request)?;
        let issuer = verify_issued(root, &proto.issuer, &grant.signed_bytes(), &grant.signature)?;
        if issuer.is_some() && grant.request.role == Role::Admin {
            return Err(ONLY_ROOT_MAKES_OFFICES);
        }
        Ok(Self {
            issuer: issuer.map(Box::new),
            ..grant
        })
    }

    /// The office that signed this grant (`None`: the root).
    #[must_use]
    pub fn issuer(&self) -> Option<&MemberCertificate> {
        self.issuer.as_deref()
    }

    /// The protobuf form.
    #[must_use]
    pub fn to_proto(&self) -> pb::Grant {
        pb::Grant {
            school_id: self.school_id.as_bytes().to_vec(),
            grant_id: self.grant_id.as_bytes().to_vec(),
            role: self.request.role.to_proto().into(),
            display_name: self.request.display_name.clone(),
            classes: self.request.classes.clone(),
            valid_from: self.request.valid_from,
            valid_until: self.request.valid_until,
            grant_key: self.grant_key.to_vec(),
            signature: self.signature.to_vec(),
            issuer: issuer_bytes(self.issuer.as_deref()),
        }
    }

    /// The grant's id.
    #[must_use]
    pub fn id(&self) -> GrantId {
        self.grant_id
    }

    /// The school that signed it.
    #[must_use]
    pub fn school_id(&self) -> SchoolId {
        self.school_id
    }

    /// Name, role, classes and validity.
    #[must_use]
    pub fn details(&self) -> &GrantRequest {
        &self.request
    }

    /// The key that may bind this grant to an account.
    #[must_use]
    pub fn grant_key(&self) -> &[u8; 32] {
        &self.grant_key
    }
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("grant_id", &self.grant_id)
            .field("role", &self.request.role)
            .finish_non_exhaustive()
    }
}
