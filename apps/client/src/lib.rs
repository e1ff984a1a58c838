//! # satchel-client
//!
//! The embeddable Satchel client, shared by the CLI, the web client and the mobile
//! bindings. This first part holds the durable local store:
//!
//! * [`store::SqliteStore`] — account, sessions, contacts and messages in one SQLite
//!   database (WAL, `synchronous=FULL`). It implements core's
//!   [`satchel_core::storage::traits::ProtocolStore`], and commits a session's new state
//!   together with the message it decrypted in one transaction, so a crash at any point
//!   loses nothing and shows nothing twice.
//!
//! * [`relay::RelayClient`] — one typed, signing method per relay endpoint.
//!
//! The sync loop, the directory and the high-level client follow (see the README's
//! status).
#![forbid(unsafe_code)]

mod client;
mod error;
pub mod relay;
pub mod store;

pub use client::{Client, Contact, Identity, Message, SyncReport};
pub use error::ClientError;
