//! Prekeys: what a device publishes so that others can start sessions with it offline.
//!
//! * a **signed prekey** (X25519), rotated by the app (e.g. weekly); the previous ones are
//!   kept for a grace period so that handshakes in flight still complete;
//! * a **KEM prekey** (ML-KEM-768), signed, rotated like the signed prekey: the
//!   post-quantum half of the handshake (PQXDH's "last-resort" PQ prekey);
//! * **one-time prekeys** (X25519), each handed out by the relay at most once and deleted
//!   here after the first message using it decrypts. When they run out, handshakes
//!   still work, with the replay cache standing in for their one-time property. Each is
//!   signed by the device together with the relay [`BundleId`] it is handed out from
//!   ([`SignedOneTimePrekey`]); an initiator uses one only if that signature verifies.
//!
//! The device's Ed25519 key signs the current prekey set (mailbox, signed prekey, KEM
//! prekey) in one signature; [`PrekeyBundle`] verifies it before anything is used.

pub(crate) mod bundle;
pub(crate) mod one_time;
pub(crate) mod store;

pub use bundle::PrekeyBundle;
pub use one_time::{BundleId, ONE_TIME_PREKEY_SIGNED_LEN, SignedOneTimePrekey};

/// An id a device gives each of its prekeys (unique per device, never reused).
pub type PrekeyId = u32;
