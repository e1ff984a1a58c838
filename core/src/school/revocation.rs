//! Revocation lists: the grants a school has withdrawn, signed by its root.

use prost::Message;
use satchel_proto::v1 as pb;

use super::grant::GrantId;
use super::root::{SchoolId, SchoolKey, SchoolRoot};
use crate::error::TrustError;

const LABEL_REVOCATION: &[u8] = b"Satchel revocation list v1";
/// The most grants one list may name.
/// (3,000 × 18 bytes stays below the relay's 64 KiB limit for a list.)
pub const MAX_REVOKED: usize = 3_000;

/// A verified (or freshly signed) revocation list. Newer lists have higher sequence
/// numbers and contain every earlier revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    school_id: SchoolId,
    sequence: u64,
    issued_at: u64,
    revoked: Vec<GrantId>,
    signature: [u8; 64],
}

fn signed_bytes(
    school_id: &SchoolId,
    sequence: u64,
    issued_at: u64,
    revoked: &[GrantId],
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(LABEL_REVOCATION.len() + 16 + 20 + 16 * revoked.len());
    bytes.extend_from_slice(LABEL_REVOCATION);
    bytes.extend_from_slice(school_id.as_bytes());
    bytes.extend_from_slice(&sequence.to_be_bytes());
    bytes.extend_from_slice(&issued_at.to_be_bytes());
    let count = u32::try_from(revoked.len()).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&count.to_be_bytes());
    for id in revoked {
        bytes.extend_from_slice(id.as_bytes());
    }
    bytes
}

impl RevocationList {
    /// Signs a list. `revoked` is sorted and deduplicated.
    ///
    /// # Errors
    /// [`TrustError::InvalidField`] for more than [`MAX_REVOKED`] grants.
    pub fn sign(
        root: &SchoolRoot,
        sequence: u64,
        issued_at: u64,
        mut revoked: Vec<GrantId>,
    ) -> Result<Self, TrustError> {
        revoked.sort();
        revoked.dedup();
        if revoked.len() > MAX_REVOKED {
            return Err(TrustError::InvalidField {
                field: "revoked_grants",
                reason: "at most 3,000 grants per list",
            });
        }
        let school_id = root.school_id();
        let signature = root.sign(&signed_bytes(&school_id, sequence, issued_at, &revoked));
        Ok(Self {
            school_id,
            sequence,
            issued_at,
            revoked,
            signature,
        })
    }

    /// Parses and verifies a list against the school root.
    ///
    /// # Errors
    /// [`TrustError`] if malformed, for another school, or the signature fails.
    pub fn from_bytes(bytes: &[u8], root: &SchoolKey) -> Result<Self, TrustError> {
        let malformed = |field| TrustError::Malformed { field };
        let proto = pb::RevocationList::decode(bytes).map_err(|_| malformed("encoding"))?;
        let school_id = SchoolId::from_slice(&proto.school_id).ok_or(malformed("school_id"))?;
        if school_id != root.school_id() {
            return Err(TrustError::WrongSchool);
        }
        if proto.revoked_grants.len() > MAX_REVOKED {
            return Err(malformed("revoked_grants"));
        }
        let revoked = proto
            .revoked_grants
            .iter()
            .map(|id| {
                id.as_slice()
                    .try_into()
                    .map(GrantId::from_bytes)
                    .map_err(|_| malformed("revoked_grants"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Lookups binary-search: the signer sorts and deduplicates, so must the list.
        if revoked.windows(2).any(|pair| pair.first() >= pair.get(1)) {
            return Err(malformed("revoked_grants order"));
        }
        let signature: [u8; 64] = proto
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| malformed("signature"))?;
        if !root.verify(
            &signed_bytes(&school_id, proto.sequence, proto.issued_at, &revoked),
            &signature,
        ) {
            return Err(TrustError::BadSignature);
        }
        Ok(Self {
            school_id,
            sequence: proto.sequence,
            issued_at: proto.issued_at,
            revoked,
            signature,
        })
    }

    /// The encoded list.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        pb::RevocationList {
            school_id: self.school_id.as_bytes().to_vec(),
            sequence: self.sequence,
            issued_at: self.issued_at,
            revoked_grants: self
                .revoked
                .iter()
                .map(|id| id.as_bytes().to_vec())
                .collect(),
            signature: self.signature.to_vec(),
        }
        .encode_to_vec()
    }

    /// The list's sequence number (higher is newer).
    #[must_use]
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// When it was issued (Unix seconds).
    #[must_use]
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// The revoked grants.
    #[must_use]
    pub fn revoked(&self) -> &[GrantId] {
        &self.revoked
    }

    /// Whether `grant` is revoked.
    #[must_use]
    pub fn is_revoked(&self, grant: &GrantId) -> bool {
        self.revoked.binary_search(grant).is_ok()
    }
}
