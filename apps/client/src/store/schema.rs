//! The SQLite schema and its migrations (tracked with `PRAGMA user_version`).

/// Migrations in order; `user_version` is the number applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: account, sessions, messages.
    "CREATE TABLE meta (
         key   TEXT PRIMARY KEY,
         value BLOB NOT NULL
     ) STRICT;
     CREATE TABLE sessions (
         id              BLOB PRIMARY KEY,
         peer_device     BLOB NOT NULL,
         peer_account    BLOB NOT NULL,
         inbound_send_id BLOB NOT NULL UNIQUE,
         state           BLOB NOT NULL
     ) STRICT;
     CREATE INDEX sessions_by_peer ON sessions (peer_device);
     CREATE TABLE messages (
         id           INTEGER PRIMARY KEY,
         peer_account BLOB NOT NULL,
         outgoing     INTEGER NOT NULL,
         message_id   BLOB NOT NULL,
         sender_name  TEXT NOT NULL,
         sender_role  TEXT NOT NULL,
         verified     INTEGER NOT NULL,
         body         TEXT NOT NULL,
         sent_at      INTEGER NOT NULL,
         stored_at    INTEGER NOT NULL,
         UNIQUE (peer_account, outgoing, message_id)
     ) STRICT;
     CREATE INDEX messages_by_peer ON messages (peer_account, id);",
    // 2: the school directory, peers' school certificates, the outbox.
    "CREATE TABLE contacts (
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
     CREATE INDEX contacts_by_account ON contacts (account_id);
     ALTER TABLE sessions ADD COLUMN peer_certificate BLOB;
     CREATE TABLE outbox (
         id         INTEGER PRIMARY KEY,
         envelope   BLOB NOT NULL,
         created_at INTEGER NOT NULL
     ) STRICT;",
];
