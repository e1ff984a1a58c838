//! School trust: who is who at a school, vouched for by the school's root key.
//!
//! * [`SchoolRoot`] — the school's Ed25519 root signing key, held by the admin. Its public
//!   half ([`SchoolKey`]) is pinned by every member at enrolment; [`SchoolId`] names it.
//! * [`Grant`] — the root's statement "whoever holds this grant key is *name*, *role* of
//!   *classes*, from … until …". A [`MemberCertificate`] binds a grant to one account:
//!   the grant key signs the account id and key.
//! * [`Invite`] — a one-time code that carries the secret a grant key is derived from,
//!   so a parent (or teacher) can enrol without the admin being online: the admin signs
//!   the grant when making the invite; the joiner binds it to their new account.
//! * [`RevocationList`] — root-signed list of withdrawn grants.
//! * [`DirectoryKey`] / [`DirectoryEntry`] — the school directory: each member's
//!   certificate and prekey bundle, encrypted under a key only enrolled members hold, so
//!   the relay stores ciphertext only.
//!
//! [`verify_member`] is the one place that decides whether a sender is shown as
//! verified. Anything it does not accept — no certificate, another school, expired,
//! revoked, bound to another account — is shown as unverified.
//!
//! Core has no clock: functions that check validity take `now` in Unix seconds.

pub(crate) mod directory;
pub(crate) mod grant;
pub(crate) mod invite;
pub(crate) mod member;
pub(crate) mod office;
pub(crate) mod revocation;
pub(crate) mod root;

pub use directory::{
    DirectoryEntry, DirectoryKey, DirectoryKeyUpdate, EntryId, MAX_ADMISSION_REQUEST_LEN,
    MAX_ENTRY_LEN,
};
pub use grant::{Grant, GrantId, GrantRequest, MAX_CLASS_LEN, MAX_CLASSES, MAX_NAME_LEN, Role};
pub use invite::{Invite, InviteCode, InviteContents, InviteSecret, JoinKeys, MAX_RECORD_LEN};
pub use member::{
    MAX_MEMBER_CERTIFICATE_LEN, MemberCertificate, SenderStatus, UnverifiedReason, VerifiedMember,
    verify_member,
};
pub use office::{Authority, Office, SchoolAuthority, office_acts};
pub use revocation::{
    MAX_REVOCATION_LIST_LEN, MAX_REVOKED, PRUNE_MARGIN_SECS, RevocationFormat, RevocationList,
    RevokedGrant, UNKNOWN_EXPIRY,
};
pub use root::{SchoolId, SchoolKey, SchoolRoot};
