//! Revocation lists: the grants a school has withdrawn, signed by its root.
//!
//! A list signed today is version 2 (`docs/PROTOCOL.md` §5.5): every entry carries the
//! revoked grant's `valid_until`, so a new list leaves out grants that expired (they fail
//! [`super::verify_member`] on their own) and the list stays as large as the number of
//! revoked grants that are still valid, not every revocation ever made. Version 1 lists
//! (grant ids only, published by older admins) still parse; their entries have no known
//! expiry ([`UNKNOWN_EXPIRY`]) and are never pruned.

use prost::Message;
use satchel_proto::v1 as pb;

use super::grant::{Grant, GrantId};
use super::member::MemberCertificate;
use super::office::{Authority, issuer_bytes, verify_issued};
use super::root::{SchoolId, SchoolKey, SchoolRoot};
use crate::error::TrustError;

const LABEL_REVOCATION_V1: &[u8] = b"Satchel revocation list v1";
const LABEL_REVOCATION_V2: &[u8] = b"Satchel revocation list v2";
/// The proto `version` of a v2 list (a v1 list leaves the field out, i.e. 0).
const VERSION_2: u32 = 2;
/// One v2 entry: grant id (16) || BE64(valid_until).
const ENTRY_LEN: usize = 24;

/// The most grants one list may name: 100,000 (a v2 list of that size is 2.4 MB, about
/// 3.2 MB in the relay's base64 JSON). Because expired grants are pruned, a list holds
/// only the revoked grants that are still valid: a school revoking 5,000 grants within
/// one grant lifetime (five years) is already far beyond any real school.
pub const MAX_REVOKED: usize = 100_000;

/// A v1 list's entries, and a v2 entry whose grant's expiry the admin does not know: such
/// an entry is never pruned.
pub const UNKNOWN_EXPIRY: u64 = u64::MAX;

/// How long after a grant's `valid_until` its entry is still kept in new lists (7 days),
/// so that a member whose clock runs behind the admin's still sees the grant as revoked
/// rather than as valid and unlisted.
pub const PRUNE_MARGIN_SECS: u64 = 7 * 86_400;

/// The encoded size of the largest list [`RevocationList::sign`] makes: 24 bytes per
/// entry plus the fixed fields (for the relay's limit).
pub const MAX_REVOCATION_LIST_LEN: usize =
    ENTRY_LEN * MAX_REVOKED + 128 + super::member::MAX_MEMBER_CERTIFICATE_LEN + 4;

/// The format of a revocation list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationFormat {
    /// Grant ids only (published by older admins; never pruned).
    V1,
    /// Grant ids with their expiry (what [`RevocationList::sign`] makes).
    V2,
}

/// One revoked grant: its id and when it stops being valid anyway (the grant's
/// `valid_until`, Unix seconds; [`UNKNOWN_EXPIRY`] if not known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RevokedGrant {
    /// The grant's id.
    pub id: GrantId,
    /// The grant's `valid_until`, or [`UNKNOWN_EXPIRY`].
    pub valid_until: u64,
}

impl From<&Grant> for RevokedGrant {
    /// The entry that revokes `grant` (its id and `valid_until`).
    fn from(grant: &Grant) -> Self {
        Self {
            id: grant.id(),
            valid_until: grant.details().valid_until,
        }
    }
}

impl RevokedGrant {
    /// Whether a list issued at `issued_at` leaves this entry out: its grant expired
    /// more than [`PRUNE_MARGIN_SECS`] before.
    #[must_use]
    pub fn is_prunable_at(&self, issued_at: u64) -> bool {
        self.valid_until.saturating_add(PRUNE_MARGIN_SECS) < issued_at
    }
}

/// A verified (or freshly signed) revocation list. Newer lists have higher sequence
/// numbers and contain every earlier revocation of a grant that has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    school_id: SchoolId,
    sequence: u64,
    issued_at: u64,
    /// Sorted ascending, no duplicates (lookups binary-search).
    revoked: Vec<GrantId>,
    /// v2: the `valid_until` of each grant in `revoked`, same order; v1: `None`.
    expiries: Option<Vec<u64>>,
    signature: [u8; 64],
    /// The office that signed it (`None`: the root).
    issuer: Option<Box<MemberCertificate>>,
}

/// The fixed fields every signed list starts with.
fn signed_prefix(
    label: &[u8],
    school_id: &SchoolId,
    sequence: u64,
    issued_at: u64,
    count: usize,
    entry_len: usize,
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(label.len() + 36 + entry_len.saturating_mul(count));
    bytes.extend_from_slice(label);
    bytes.extend_from_slice(school_id.as_bytes());
    bytes.extend_from_slice(&sequence.to_be_bytes());
    bytes.extend_from_slice(&issued_at.to_be_bytes());
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&count.to_be_bytes());
    bytes
}

fn signed_bytes_v1(
    school_id: &SchoolId,
    sequence: u64,
    issued_at: u64,
    revoked: &[GrantId],
) -> Vec<u8> {
    let mut bytes = signed_prefix(
        LABEL_REVOCATION_V1,
        school_id,
        sequence,
        issued_at,
        revoked.len(),
        16,
    );
    for id in revoked {
        bytes.extend_from_slice(id.as_bytes());
    }
    bytes
}

/// The v2 entries as they are signed and sent: id || BE64(valid_until) each.
fn encode_entries(revoked: &[GrantId], expiries: &[u64]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ENTRY_LEN * revoked.len());
    for (id, valid_until) in revoked.iter().zip(expiries) {
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&valid_until.to_be_bytes());
    }
    bytes
}

fn signed_bytes_v2(
    school_id: &SchoolId,
    sequence: u64,
    issued_at: u64,
    count: usize,
    entries: &[u8],
) -> Vec<u8> {
    let mut bytes = signed_prefix(
        LABEL_REVOCATION_V2,
        school_id,
        sequence,
        issued_at,
        count,
        ENTRY_LEN,
    );
    bytes.extend_from_slice(entries);
    bytes
}

fn malformed(field: &'static str) -> TrustError {
    TrustError::Malformed { field }
}

fn too_many() -> TrustError {
    TrustError::InvalidField {
        field: "revoked_grants",
        reason: "at most 100,000 unexpired grants per list",
    }
}

/// Whether `ids` is strictly ascending (what a binary search needs).
fn strictly_ascending(ids: &[GrantId]) -> bool {
    ids.windows(2).all(|pair| matches!(pair, [a, b] if a < b))
}

/// Parses v2 entries (`count × 24` bytes) into ids and expiries.
fn decode_entries(entries: &[u8]) -> Result<(Vec<GrantId>, Vec<u64>), TrustError> {
    if !entries.len().is_multiple_of(ENTRY_LEN) {
        return Err(malformed("revoked_entries"));
    }
    let count = entries.len() / ENTRY_LEN;
    if count > MAX_REVOKED {
        return Err(malformed("revoked_entries (too many)"));
    }
    let mut ids = Vec::with_capacity(count);
    let mut expiries = Vec::with_capacity(count);
    for entry in entries.chunks_exact(ENTRY_LEN) {
        let (id, valid_until) = entry
            .split_first_chunk::<16>()
            .ok_or(malformed("revoked_entries"))?;
        let valid_until: [u8; 8] = valid_until
            .try_into()
            .map_err(|_| malformed("revoked_entries"))?;
        ids.push(GrantId::from_bytes(*id));
        expiries.push(u64::from_be_bytes(valid_until));
    }
    Ok((ids, expiries))
}

impl RevocationList {
    /// Signs a version 2 list issued at `issued_at` (Unix seconds, the admin's clock).
    /// Entries whose grant expired more than [`PRUNE_MARGIN_SECS`] before `issued_at`
    /// are left out ([`RevokedGrant::is_prunable_at`]); the rest are sorted by id and
    /// deduplicated (for an id given twice, the later expiry is kept).
    ///
    /// # Errors
    /// [`TrustError::InvalidField`] for more than [`MAX_REVOKED`] entries after pruning.
    pub fn sign(
        authority: &impl Authority,
        sequence: u64,
        issued_at: u64,
        mut entries: Vec<RevokedGrant>,
    ) -> Result<Self, TrustError> {
        entries.retain(|entry| !entry.is_prunable_at(issued_at));
        // By id, the latest expiry first, so that dedup keeps the latest.
        entries.sort_unstable_by(|a, b| a.id.cmp(&b.id).then(b.valid_until.cmp(&a.valid_until)));
        entries.dedup_by_key(|entry| entry.id);
        if entries.len() > MAX_REVOKED {
            return Err(too_many());
        }
        let revoked: Vec<GrantId> = entries.iter().map(|entry| entry.id).collect();
        let expiries: Vec<u64> = entries.iter().map(|entry| entry.valid_until).collect();
        let school_id = authority.school_id();
        let (signature, issuer) = authority.sign_object(&signed_bytes_v2(
            &school_id,
            sequence,
            issued_at,
            revoked.len(),
            &encode_entries(&revoked, &expiries),
        ));
        Ok(Self {
            school_id,
            sequence,
            issued_at,
            revoked,
            expiries: Some(expiries),
            signature,
            issuer: issuer.map(Box::new),
        })
    }

    /// Signs the list that follows `previous` (or the first one, sequence 1): every
    /// entry of `previous` that is not expired by `issued_at`, plus `added`. Entries
    /// carried over from a v1 list have no expiry and stay.
    ///
    /// # Errors
    /// As [`RevocationList::sign`]; [`TrustError::InvalidField`] if `previous` has the
    /// highest sequence number possible.
    pub fn successor(
        previous: Option<&Self>,
        authority: &impl Authority,
        issued_at: u64,
        added: impl IntoIterator<Item = RevokedGrant>,
    ) -> Result<Self, TrustError> {
        let sequence = match previous {
            None => 1,
            Some(list) => list
                .sequence
                .checked_add(1)
                .ok_or(TrustError::InvalidField {
                    field: "sequence",
                    reason: "the previous list has the highest sequence number possible",
                })?,
        };
        let mut entries: Vec<RevokedGrant> = previous
            .map(|list| list.entries().collect())
            .unwrap_or_default();
        entries.extend(added);
        Self::sign(authority, sequence, issued_at, entries)
    }

    /// Signs a version 1 list (no expiries). Only for known-answer vectors and tests of
    /// lists published by older admins: see [`crate::internal::fuzz`].
    pub(crate) fn sign_v1(
        root: &SchoolRoot,
        sequence: u64,
        issued_at: u64,
        mut revoked: Vec<GrantId>,
    ) -> Result<Self, TrustError> {
        revoked.sort_unstable();
        revoked.dedup();
        if revoked.len() > MAX_REVOKED {
            return Err(too_many());
        }
        let school_id = root.school_id();
        let signature = root.sign(&signed_bytes_v1(&school_id, sequence, issued_at, &revoked));
        Ok(Self {
            school_id,
            sequence,
            issued_at,
            revoked,
            expiries: None,
            signature,
            issuer: None,
        })
    }

    /// Parses and verifies a list (version 1 or 2) against the school root.
    ///
    /// # Errors
    /// [`TrustError::Malformed`] if it does not decode, names more than [`MAX_REVOKED`]
    /// grants, or its ids are not strictly ascending; [`TrustError::WrongSchool`];
    /// [`TrustError::UnsupportedVersion`] for a format newer than 2;
    /// [`TrustError::BadSignature`].
    pub fn from_bytes(bytes: &[u8], root: &SchoolKey) -> Result<Self, TrustError> {
        let proto = pb::RevocationList::decode(bytes).map_err(|_| malformed("encoding"))?;
        let school_id = SchoolId::from_slice(&proto.school_id).ok_or(malformed("school_id"))?;
        if school_id != root.school_id() {
            return Err(TrustError::WrongSchool);
        }
        let signature: [u8; 64] = proto
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| malformed("signature"))?;
        let (revoked, expiries, signed) = match proto.version {
            0 => {
                if !proto.revoked_entries.is_empty() {
                    return Err(malformed("revoked_entries (in a version 1 list)"));
                }
                if proto.revoked_grants.len() > MAX_REVOKED {
                    return Err(malformed("revoked_grants (too many)"));
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
                if !proto.issuer.is_empty() {
                    return Err(malformed("issuer (in a version 1 list)"));
                }
                let signed = signed_bytes_v1(&school_id, proto.sequence, proto.issued_at, &revoked);
                (revoked, None, signed)
            }
            VERSION_2 => {
                if !proto.revoked_grants.is_empty() {
                    return Err(malformed("revoked_grants (in a version 2 list)"));
                }
                let (revoked, expiries) = decode_entries(&proto.revoked_entries)?;
                let signed = signed_bytes_v2(
                    &school_id,
                    proto.sequence,
                    proto.issued_at,
                    revoked.len(),
                    &proto.revoked_entries,
                );
                (revoked, Some(expiries), signed)
            }
            found => return Err(TrustError::UnsupportedVersion { found }),
        };
        // Lookups binary-search: the signer sorts and deduplicates, so must the list.
        if !strictly_ascending(&revoked) {
            return Err(malformed("revoked grants order"));
        }
        let issuer = verify_issued(root, &proto.issuer, &signed, &signature)?;
        Ok(Self {
            school_id,
            sequence: proto.sequence,
            issued_at: proto.issued_at,
            revoked,
            expiries,
            signature,
            issuer: issuer.map(Box::new),
        })
    }

    /// The encoded list, in its own format (a v1 list stays v1: its signature covers
    /// the v1 bytes).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let (revoked_grants, version, revoked_entries) = match &self.expiries {
            None => (
                self.revoked
                    .iter()
                    .map(|id| id.as_bytes().to_vec())
                    .collect(),
                0,
                Vec::new(),
            ),
            Some(expiries) => (
                Vec::new(),
                VERSION_2,
                encode_entries(&self.revoked, expiries),
            ),
        };
        pb::RevocationList {
            school_id: self.school_id.as_bytes().to_vec(),
            sequence: self.sequence,
            issued_at: self.issued_at,
            revoked_grants,
            signature: self.signature.to_vec(),
            version,
            revoked_entries,
            issuer: issuer_bytes(self.issuer.as_deref()),
        }
        .encode_to_vec()
    }

    /// The office that signed this list (`None`: the root). An app accepts an
    /// office's list only while that office is valid and not revoked by the list it
    /// already holds.
    #[must_use]
    pub fn issuer(&self) -> Option<&MemberCertificate> {
        self.issuer.as_deref()
    }

    /// The list's format.
    #[must_use]
    pub fn format(&self) -> RevocationFormat {
        if self.expiries.is_some() {
            RevocationFormat::V2
        } else {
            RevocationFormat::V1
        }
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

    /// The revoked grants, sorted ascending.
    #[must_use]
    pub fn revoked(&self) -> &[GrantId] {
        &self.revoked
    }

    /// The revoked grants with their expiry ([`UNKNOWN_EXPIRY`] for a v1 list), sorted
    /// by id.
    pub fn entries(&self) -> impl Iterator<Item = RevokedGrant> + '_ {
        self.revoked
            .iter()
            .enumerate()
            .map(|(index, id)| RevokedGrant {
                id: *id,
                valid_until: self
                    .expiries
                    .as_ref()
                    .and_then(|expiries| expiries.get(index).copied())
                    .unwrap_or(UNKNOWN_EXPIRY),
            })
    }

    /// Whether `grant` is revoked (a binary search).
    #[must_use]
    pub fn is_revoked(&self, grant: &GrantId) -> bool {
        self.revoked.binary_search(grant).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn root() -> SchoolRoot {
        SchoolRoot::generate(&mut ChaCha20Rng::from_seed([5; 32]))
    }

    fn id(n: u32) -> GrantId {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        bytes[15] = 0x5a;
        GrantId::from_bytes(bytes)
    }

    fn entry(n: u32, valid_until: u64) -> RevokedGrant {
        RevokedGrant {
            id: id(n),
            valid_until,
        }
    }

    #[test]
    fn signing_prunes_exactly_the_grants_expired_before_the_margin() {
        let root = root();
        let entries = vec![
            entry(1, NOW + 1),
            entry(2, NOW - PRUNE_MARGIN_SECS - 1),
            entry(3, NOW - PRUNE_MARGIN_SECS),
            entry(4, NOW - 1),
            entry(5, UNKNOWN_EXPIRY),
        ];
        let list = RevocationList::sign(&root, 1, NOW, entries).unwrap();
        assert_eq!(list.format(), RevocationFormat::V2);
        assert_eq!(list.revoked(), &[id(1), id(3), id(4), id(5)]);
        assert!(!list.is_revoked(&id(2)));
        let parsed = RevocationList::from_bytes(&list.to_bytes(), &root.public()).unwrap();
        assert_eq!(parsed, list);
        assert_eq!(parsed.entries().nth(3), Some(entry(5, UNKNOWN_EXPIRY)));
    }

    #[test]
    fn a_duplicate_id_keeps_its_latest_expiry() {
        let list = RevocationList::sign(
            &root(),
            1,
            NOW,
            vec![entry(7, NOW + 5), entry(7, NOW + 9), entry(7, NOW + 1)],
        )
        .unwrap();
        assert_eq!(list.entries().collect::<Vec<_>>(), vec![entry(7, NOW + 9)]);
    }

    #[test]
    fn a_v1_list_parses_and_its_successor_keeps_its_entries_unpruned() {
        let root = root();
        let v1 = RevocationList::sign_v1(&root, 4, NOW - 1_000, vec![id(2), id(1)]).unwrap();
        let parsed = RevocationList::from_bytes(&v1.to_bytes(), &root.public()).unwrap();
        assert_eq!(parsed.format(), RevocationFormat::V1);
        assert!(parsed.is_revoked(&id(1)) && parsed.is_revoked(&id(2)));
        // Far in the future: v1 entries have no expiry, so they stay.
        let later = NOW + 100 * 365 * 86_400;
        let next = RevocationList::successor(Some(&parsed), &root, later, [entry(3, NOW)]).unwrap();
        assert_eq!(next.sequence(), 5);
        assert_eq!(next.format(), RevocationFormat::V2);
        assert_eq!(next.revoked(), &[id(1), id(2)]);
    }

    #[test]
    fn the_cap_counts_unexpired_entries_only() {
        let root = root();
        let expired = (0..200_000).map(|n| entry(n, NOW - PRUNE_MARGIN_SECS - 1));
        let list = RevocationList::sign(&root, 1, NOW, expired.collect()).unwrap();
        assert!(list.revoked().is_empty());
        let too_many = (0..=100_000).map(|n| entry(n, NOW + 1)).collect();
        assert!(matches!(
            RevocationList::sign(&root, 2, NOW, too_many),
            Err(TrustError::InvalidField { .. })
        ));
    }

    #[test]
    fn hostile_lists_fail_with_typed_errors() {
        let root = root();
        let key = root.public();
        let list = RevocationList::sign(&root, 1, NOW, vec![entry(1, NOW + 1), entry(2, NOW + 1)])
            .unwrap();
        let proto = pb::RevocationList::decode(list.to_bytes().as_slice()).unwrap();
        let reencode = |change: &dyn Fn(&mut pb::RevocationList)| {
            let mut proto = proto.clone();
            change(&mut proto);
            RevocationList::from_bytes(&proto.encode_to_vec(), &key)
        };
        // An expiry moved: the signature covers it.
        let error = reencode(&|p| p.revoked_entries[23] ^= 1).unwrap_err();
        assert_eq!(error, TrustError::BadSignature);
        // Entries swapped: refused before the signature is checked.
        let error = reencode(&|p| {
            let (first, second) = p.revoked_entries.split_at_mut(ENTRY_LEN);
            first.swap_with_slice(second);
        })
        .unwrap_err();
        assert_eq!(error, malformed("revoked grants order"));
        // A cut entry.
        let error = reencode(&|p| {
            p.revoked_entries.pop();
        })
        .unwrap_err();
        assert_eq!(error, malformed("revoked_entries"));
        // Both formats at once, an unknown version, a v2 list relabelled v1.
        let error = reencode(&|p| p.revoked_grants.push(vec![0; 16])).unwrap_err();
        assert!(matches!(error, TrustError::Malformed { .. }));
        let error = reencode(&|p| p.version = 3).unwrap_err();
        assert_eq!(error, TrustError::UnsupportedVersion { found: 3 });
        let error = reencode(&|p| p.version = 0).unwrap_err();
        assert!(matches!(error, TrustError::Malformed { .. }));
        // Too many entries is refused before anything is allocated per entry.
        let error =
            reencode(&|p| p.revoked_entries = vec![0; ENTRY_LEN * (MAX_REVOKED + 1)]).unwrap_err();
        assert_eq!(error, malformed("revoked_entries (too many)"));
    }

    #[test]
    fn the_largest_list_fits_its_stated_size() {
        let root = root();
        let entries = (0..u32::try_from(MAX_REVOKED).unwrap())
            .map(|n| entry(n, UNKNOWN_EXPIRY))
            .collect();
        let list = RevocationList::sign(&root, u64::MAX, u64::MAX, entries).unwrap();
        assert!(list.to_bytes().len() <= MAX_REVOCATION_LIST_LEN);
    }
}
