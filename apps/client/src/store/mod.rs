//! The client's durable store: one SQLite file, encrypted value by value under a store
//! key ([`cipher`]), which comes from the platform or a passphrase ([`keyfile`]), in a
//! folder only the user can read ([`private_fs`]).
//!
//! # Why per-value encryption and not SQLCipher
//! * The same audited RustCrypto primitives as the protocol (XChaCha20-Poly1305,
//!   HKDF-SHA256, HMAC-SHA256, Argon2id), no OpenSSL to vendor and cross-compile for
//!   Android and iOS, and a key that comes from the platform keystore as plain bytes.
//! * Each value is bound to its table, column and row (the AEAD's associated data), so a
//!   value copied into another row does not open; rows are found through keyed blind
//!   indexes, so the file holds no raw id either.
//! * What it leaves visible, and SQLCipher would hide: the number of rows per table
//!   (sessions, messages, contacts), the size of each value (Padmé-free), which rows
//!   belong to the same conversation (equal blind indexes), and the page layout. The
//!   file reveals no names, texts, ids or key bytes (`apps/cli/tests/cli/at_rest.rs`
//!   scans for them).
//! * Cost: encryption at rest takes a 1,000-message sync to 0.96–1.0× the throughput of
//!   the same sync over plaintext values (`benches/benches/sync.rs`).

pub mod cipher;
pub mod fuzz;
pub mod keyfile;
mod legacy;
pub mod private_fs;
mod records;
mod schema;
mod sqlite;

pub use records::{ContactRecord, IssuedInvite, MessageRecord};
pub use sqlite::{ConversationKey, SqliteStore, StoreError, StoredSessionRow, Writer};
