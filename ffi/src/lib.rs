//! Satchel for app developers: uniffi bindings (namespace `satchel`) for Kotlin, Swift
//! and Python.
//!
//! Two levels:
//!
//! * **Low level** — [`Account`], [`Session`] and [`GroupSession`]: the end-to-end
//!   encrypted protocol, bytes in and bytes out. The app stores state blobs and moves envelopes itself.
//! * **High level** — [`SatchelClient`]: the whole client on a profile folder (SQLite):
//!   enrolment with an invite code, the school directory, send, sync, history, and the
//!   school admin's calls. Async in every language.
//!
//! Every failure is a [`SatchelError`] whose variant says what to do. This crate only
//! adapts types; the logic lives in `satchel-core` and `satchel-client`. See
//! `ffi/README.md` for building for Android and iOS and for the persistence contract.

#![forbid(unsafe_code)]

mod account;
mod client;
mod error;
mod group;
mod runtime;
mod session;

pub use account::{Account, InboundSession};
pub use client::{Contact, Group, GroupKind, Identity, Message, Role, SatchelClient};
pub use error::SatchelError;
pub use group::{DecryptFailure, GroupDecryptResult, GroupPlaintext, GroupSession};
pub use session::{DecryptResult, Session};

uniffi::setup_scaffolding!("satchel");
