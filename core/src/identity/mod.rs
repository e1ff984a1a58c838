//! Identity: accounts named by random ids, account keys certifying device keys, and
//! fingerprints / safety numbers for manual verification.
//!
//! No phone number or e-mail address appears anywhere: an account is a random 16-byte
//! [`AccountId`] plus an Ed25519 account key. Each device has its own X25519 key (for key
//! agreement) and Ed25519 key (for signing its prekeys), bound to the account by a
//! [`DeviceCertificate`] signed with the account key.

pub(crate) mod certificate;
pub(crate) mod fingerprint;
pub(crate) mod ids;
