//! The client's durable store: one SQLite file, encrypted value by value under a store
//! key ([`cipher`]), which comes from the platform or a passphrase ([`keyfile`]), in a
//! folder only the user can read ([`private_fs`]).

pub mod cipher;
pub mod keyfile;
mod legacy;
pub mod private_fs;
mod records;
mod schema;
mod sqlite;

pub use records::{ContactRecord, MessageRecord};
pub use sqlite::{ConversationKey, SqliteStore, StoreError, StoredSessionRow, Writer};
