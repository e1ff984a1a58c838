//! The SQLite schema and its migrations (tracked with `PRAGMA user_version`).
//!
//! Versions 1 and 2 (Satchel 0.1) kept everything in the clear. Version 3 keeps only
//! opaque values: every id a row is looked up by is a keyed blind index
//! ([`super::cipher::StoreCipher::index`]), and every secret, name and text is one
//! encrypted value ([`super::cipher::StoreCipher::seal`]). A version 1 or 2 file is
//! converted in place on first open with a key ([`super::sqlite`]), then vacuumed so no
//! plaintext page is left in the file.

/// The schema this build writes.
pub(crate) const CURRENT: i64 = 5;

/// The plaintext schema of Satchel 0.1, applied to bring a version 1 file to version 2
/// before it is converted.
pub(crate) const LEGACY_V2_FROM_V1: &str = "CREATE TABLE contacts (
         entry_id     BLOB PRIMARY KEY,
         account_id   BLOB NOT NULL,
         device_id    BLOB NOT NULL,
         name         TEXT NOT NULL,
         role         TEXT NOT NULL,
         classes      TEXT NOT NULL,
         certificate  BLOB NOT NULL,
         bundle       BLOB NOT NULL,
         bundle_id    BLOB NOT NULL,
         updated_at   INTEGER NOT NULL
     ) STRICT;
     ALTER TABLE sessions ADD COLUMN peer_certificate BLOB;
     CREATE TABLE outbox (
         id         INTEGER PRIMARY KEY,
         envelope   BLOB NOT NULL,
         created_at INTEGER NOT NULL
     ) STRICT;";

/// Version 3: opaque rows.
/// Version 4: the invites an admin issued (one sealed record each, by blind grant id).
pub(crate) const V4: &str = "CREATE TABLE issued (
         grant  BLOB PRIMARY KEY,
         record BLOB NOT NULL
     ) STRICT;";

/// Version 5: groups (one sealed record each, by blind group id: the group's state, its
/// members and this device's sender keys) and group items waiting for a key (a group
/// message whose sender's key has not arrived, a sender key for a group not known yet).
pub(crate) const V5: &str = "CREATE TABLE groups (
         id     BLOB PRIMARY KEY,
         record BLOB NOT NULL
     ) STRICT;
     CREATE TABLE group_waiting (
         id         INTEGER PRIMARY KEY,
         item       BLOB NOT NULL,
         created_at INTEGER NOT NULL
     ) STRICT;";

/// Version 3: every value sealed, every lookup id a blind index.
pub(crate) const V3: &str = "CREATE TABLE meta (
         key   TEXT PRIMARY KEY,
         value BLOB NOT NULL
     ) STRICT;
     CREATE TABLE sessions (
         id           BLOB PRIMARY KEY,
         peer         BLOB NOT NULL,
         conversation BLOB NOT NULL,
         inbound      BLOB NOT NULL UNIQUE,
         receive      BLOB NOT NULL UNIQUE,
         queue_ready  INTEGER NOT NULL,
         version      INTEGER NOT NULL,
         secret       BLOB NOT NULL
     ) STRICT;
     CREATE INDEX sessions_by_peer ON sessions (peer);
     CREATE INDEX sessions_without_queue ON sessions (id) WHERE queue_ready = 0;
     CREATE TABLE messages (
         id           INTEGER PRIMARY KEY,
         conversation BLOB NOT NULL,
         dedupe       BLOB NOT NULL UNIQUE,
         payload      BLOB NOT NULL
     ) STRICT;
     CREATE INDEX messages_by_conversation ON messages (conversation, id);
     CREATE TABLE contacts (
         entry  BLOB PRIMARY KEY,
         record BLOB NOT NULL
     ) STRICT;
     CREATE TABLE outbox (
         id         INTEGER PRIMARY KEY,
         envelope   BLOB NOT NULL,
         created_at INTEGER NOT NULL
     ) STRICT;";
