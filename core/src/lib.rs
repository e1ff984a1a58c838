//! # satchel-core
//!
//! The Satchel protocol, sans-I/O: no network, no files, no clock, no async. Randomness
//! comes from a caller-supplied [`rand_core::CryptoRng`] (use [`os_rng`] in apps, a
//! seeded generator in tests).
//!
//! * [`Account`] — this device: account identity, device keys, mailbox, prekeys.
//! * [`PrekeyBundle`] — another device's published prekeys, verified when parsed.
//! * [`Session`] — a conversation with one device: PQXDH handshake, then a double
//!   ratchet with header encryption over a pair of one-way queues.
//! * [`group`] — groups: sender keys ([`group::GroupSession`]), one encryption and one
//!   signature per message whatever the group's size.
//! * [`Envelope`] — what the relay sees: version, send id, Padmé-padded ciphertext.
//! * [`school`] — school trust: root key, grants and member certificates, invite codes,
//!   revocation lists, the encrypted directory, and [`school::verify_member`].
//! * [`storage`] — storage traits, an in-memory store, encrypted export, and
//!   [`storage::protocol::receive`] / [`storage::protocol::send`] over any store; the one
//!   receive path underneath, [`storage::receive::open`] (writes nothing) and
//!   [`storage::receive::commit_received`], is what the client library's sync uses too.
//!
//! The byte-level specification is `docs/PROTOCOL.md` in the repository.
//!
//! ## A conversation
//!
//! ```
//! use satchel_core::{Account, Envelope, PrekeyBundle, Session, os_rng};
//!
//! let mut rng = os_rng();
//! let mut alice = Account::new(&mut rng);
//! let mut bob = Account::new(&mut rng);
//! let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng);
//!
//! let mut a = Session::initiate(&alice, &bundle, &mut rng)?;
//! let first = a.encrypt(b"hello", &mut rng)?;            // sealed, to bob's mailbox
//! let contact = bob.open_first_contact(&first)?;
//! let mut b = bob.accept(&contact, &mut rng)?.session;
//!
//! for i in 0..3u8 {
//!     let reply = b.encrypt(&[i], &mut rng)?;            // to alice's queue
//!     assert_eq!(reply.send_id(), a.inbound_queue().send_id());
//!     assert_eq!(a.decrypt(&reply)?, [i]);
//! }
//! assert!(a.is_confirmed());
//! let next = a.encrypt(b"thanks", &mut rng)?;            // now to bob's queue
//! assert_eq!(b.decrypt(&Envelope::from_bytes(next.as_bytes())?)?, b"thanks");
//! # let _ = &mut alice;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(unused_must_use)]

mod account;
mod crypto;
mod envelope;
mod error;
pub mod group;
mod handshake;
mod identity;
mod prekeys;
mod ratchet;
pub mod relay_request;
pub mod school;
mod session;
pub mod storage;

#[doc(hidden)]
pub mod internal;

pub use account::{ACCOUNT_STATE_VERSION, Account, FirstContact, InboundSession};
pub use envelope::padme::{MIN_PADDED_LEN, padded_len, padme};
pub use envelope::queue::{QUEUE_ID_LEN, QueueKeys, ReceiveId, SendId, verify_fetch_proof};
pub use envelope::{
    ENVELOPE_PREFIX_LEN, ENVELOPE_VERSION, Envelope, MAX_ENVELOPE_LEN, MAX_PLAINTEXT_LEN,
};
pub use error::{
    BundleError, CertificateError, DecryptError, DirectoryError, DistributionError, EncryptError,
    EnvelopeError, FirstContactError, GroupDecryptError, GroupEncryptError, HandshakeError,
    InviteError, StateError, TrustError,
};
pub use identity::certificate::DeviceCertificate;
pub use identity::fingerprint::{Fingerprint, SafetyNumber};
pub use identity::ids::{AccountId, DeviceId, ID_LEN};
pub use prekeys::bundle::{BUNDLE_VERSION, MAX_BUNDLE_LEN};
pub use prekeys::store::{MAX_ONE_TIME_PREKEYS, MAX_SEEN_HANDSHAKES, RETAINED_ROTATED_PREKEYS};
pub use prekeys::{
    BundleId, ONE_TIME_PREKEY_SIGNED_LEN, PrekeyBundle, PrekeyId, SignedOneTimePrekey,
};
pub use ratchet::RatchetConfig;
pub use session::{
    MAX_SENDER_CERTIFICATE_LEN, SESSION_STATE_VERSION, Session, SessionId, preferred_session,
};

/// The operating system's random number generator, for apps.
///
/// Panics only if the OS cannot provide randomness at all, in which case no key could be
/// generated safely anyway.
#[must_use]
pub fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}
