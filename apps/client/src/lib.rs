//! # satchel-client
//!
//! The embeddable Satchel client, shared by the CLI, the web client and the mobile
//! bindings. One [`Client`] is one profile folder:
//!
//! * an encrypted SQLite store ([`store`]): every secret, name and text is encrypted under
//!   a store key that comes from the platform (Android Keystore, iOS Keychain) or a
//!   passphrase ([`store::keyfile::KeySource`]);
//! * the relay transport ([`relay::RelayClient`]), HTTPS with rustls;
//! * enrolment, the school directory, sending with an outbox, and a sync that commits a
//!   page of messages with their session states before acknowledging it.
//!
//! Every operation that advances a session runs in one store transaction under SQLite's
//! write lock, so any number of clients, threads or processes may share one folder
//! without ever reusing a message key or losing a message.
#![forbid(unsafe_code)]

mod admin;
mod admission;
mod client;
mod conversations;
mod directory;
mod directory_key;
pub mod display;
mod enrol;
mod error;
mod groups;
mod history;
mod prekeys;
mod profile;
pub mod relay;
mod send;
pub mod store;
mod sync;

pub use admin::{InviteOptions, InviteStatus, IssuedInviteStatus, MAX_CODE_VALID_DAYS};
pub use client::{Client, ClientConfig};
pub use conversations::{Conversation, ConversationKind};
pub use directory::Contact;
pub use enrol::{Identity, InvitePreview};
pub use error::ClientError;
#[doc(hidden)]
pub use groups::fuzz as group_fuzz;
pub use groups::{GroupInfo, GroupKind, MAX_GROUP_DEVICES, MAX_GROUP_TITLE_LEN};
pub use history::Message;
pub use prekeys::{PrekeyPolicy, PrekeyReport};
pub use send::{SendOptions, SendReport};
pub use sync::{DropReason, SyncReport};
