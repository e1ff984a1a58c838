//! The embedded default backend: one SQLite file in WAL mode with `synchronous = FULL`,
//! so a commit is on disk before [`RelayStore::write_batch`] returns.
//!
//! One connection writes (used only by the writer thread); reads use a small pool of
//! further connections, which WAL lets run beside the writer.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use satchel_core::ReceiveId;

mod checkpoint;
mod counters;

use self::checkpoint::Checkpointer;
use self::counters::HeldCounters;
use super::mail_index::{MailChange, MailIndex};
use super::mailbox_limit::MailboxBuckets;
use super::stored_form::{send_hash, without_send_id};
use super::{
    DirectoryEntry, DirectoryWriter, FetchPage, Id16, Invite, MailboxSender, Member,
    PendingAdmission, PublicKey, QueueQuota, RelayStore, StoreError, StoredMessage, UploadedPrekey,
    WriteOp, WriteOutcome,
};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "relay.sqlite3";

/// The schema version this relay writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A nullable BLOB column.
type OptionalBlob = Option<Vec<u8>>;

/// Read connections kept open between requests.
const MAX_IDLE_READERS: usize = 8;

const SCHEMA_V1: &str = "
CREATE TABLE schools (
    school_id   BLOB PRIMARY KEY,
    root_key    BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE invites (
    school_id   BLOB NOT NULL,
    lookup_id   BLOB NOT NULL,
    redeem_key  BLOB NOT NULL,
    expires_at  INTEGER NOT NULL,
    redeemed    INTEGER NOT NULL DEFAULT 0,
    record      BLOB NOT NULL,
    UNIQUE (school_id, lookup_id)
);
CREATE INDEX invites_expiry ON invites (expires_at);

CREATE TABLE members (
    school_id   BLOB NOT NULL,
    member_key  BLOB NOT NULL,
    PRIMARY KEY (school_id, member_key)
) WITHOUT ROWID;

CREATE TABLE directory (
    school_id   BLOB NOT NULL,
    entry_id    BLOB NOT NULL,
    owner_key   BLOB,
    updated_at  INTEGER NOT NULL,
    entry       BLOB NOT NULL,
    UNIQUE (school_id, entry_id)
);
CREATE INDEX directory_owner ON directory (school_id, owner_key) WHERE owner_key IS NOT NULL;

CREATE TABLE revocations (
    school_id   BLOB PRIMARY KEY,
    sequence    INTEGER NOT NULL,
    list        BLOB NOT NULL
);

CREATE TABLE prekey_bundles (
    bundle_id   BLOB PRIMARY KEY,
    owner_key   BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE prekeys (
    bundle_id   BLOB NOT NULL,
    key_id      INTEGER NOT NULL,
    key         BLOB NOT NULL,
    PRIMARY KEY (bundle_id, key_id)
) WITHOUT ROWID;

CREATE TABLE queues (
    queue         INTEGER PRIMARY KEY,
    send_id       BLOB NOT NULL UNIQUE,
    receive_id    BLOB NOT NULL UNIQUE,
    auth_key      BLOB NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0,
    byte_count    INTEGER NOT NULL DEFAULT 0
);

-- AUTOINCREMENT: ids are never reused, so a client's `after` cursor never skips mail.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    envelope    BLOB NOT NULL
);
CREATE INDEX messages_queue ON messages (queue, id);
";

/// Version 2: a covering index for the pending-mail query (receive id → message count
/// without reading the queue row).
const SCHEMA_V2: &str = "
CREATE INDEX queues_mail ON queues (receive_id, message_count);
";

/// Version 3: the pending-mail query is answered from memory (`mail_index`), so the
/// index of version 2 only cost every deposit an index update.
const SCHEMA_V3: &str = "
DROP INDEX IF EXISTS queues_mail;
";

/// Version 4: a redeemed invite keeps only a tombstone (who redeemed it, until it
/// expires); its record is erased at redemption, and so are the records of invites
/// redeemed before.
const SCHEMA_V4: &str = "
ALTER TABLE invites ADD COLUMN redeemed_by BLOB;
UPDATE invites SET record = X'' WHERE redeemed = 1;
";

/// Version 5: one-time prekeys keep the device's signature that binds each to its
/// bundle id (empty for keys uploaded before; initiators refuse those).
const SCHEMA_V5: &str = "
ALTER TABLE prekeys ADD COLUMN signature BLOB NOT NULL DEFAULT X'';
";

/// Version 6: what a stolen database yields. Queues keep a hash of their send id, not
/// the id (a send id lets anyone deposit); stored envelopes have their send id bytes
/// zeroed; a message's public id is its sequence number within its queue, so no id the
/// relay hands out orders deposits across queues. Row ids inside the file stay
/// ascending: random message row ids sent every deposit to a random B-tree page (0.41 of
/// the bare floor against 0.79 in the same benchmark) and random queue row ids cost
/// another fifth (0.83 against 1.04), so a stolen file still orders the undelivered
/// messages and the queues' creation.
/// Filled by [`migrate_v6`].
const SCHEMA_V6: &str = "
CREATE TABLE queues_v6 (
    queue         INTEGER PRIMARY KEY,
    send_hash     BLOB NOT NULL UNIQUE,
    receive_id    BLOB NOT NULL UNIQUE,
    auth_key      BLOB NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0,
    byte_count    INTEGER NOT NULL DEFAULT 0,
    last_seq      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE messages_v6 (
    id          INTEGER PRIMARY KEY,
    queue       INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    envelope    BLOB NOT NULL
);
";

/// Indexes of version 6, created after the rows are copied.
const SCHEMA_V6_FINISH: &str = "
DROP TABLE messages;
DROP TABLE queues;
ALTER TABLE queues_v6 RENAME TO queues;
ALTER TABLE messages_v6 RENAME TO messages;
CREATE UNIQUE INDEX messages_queue_seq ON messages (queue, seq);
";

/// A schema 5 queue row: old row id, send id, receive id, auth key, message and byte
/// counts.
type QueueRowV5 = (i64, Vec<u8>, Vec<u8>, Vec<u8>, i64, i64);

/// Copies queues and messages into the version 6 tables (see [`SCHEMA_V6`]).
fn migrate_v6(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(SCHEMA_V6)?;
    let queues: Vec<QueueRowV5> = tx
        .prepare(
            "SELECT queue, send_id, receive_id, auth_key, message_count, byte_count \
             FROM queues",
        )?
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut insert_queue = tx.prepare(
        "INSERT INTO queues_v6 (queue, send_hash, receive_id, auth_key, message_count, \
         byte_count, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut messages =
        tx.prepare("SELECT created_at, envelope FROM messages WHERE queue = ?1 ORDER BY id")?;
    let mut insert_message = tx.prepare(
        "INSERT INTO messages_v6 (queue, seq, created_at, envelope) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (queue, send_id, receive_id, auth_key, count, bytes) in queues {
        let mut seq = 0i64;
        let mut rows = messages.query([queue])?;
        while let Some(row) = rows.next()? {
            seq += 1;
            let created_at: i64 = row.get(0)?;
            let envelope: Vec<u8> = row.get(1)?;
            insert_message.execute(params![queue, seq, created_at, without_send_id(&envelope)])?;
        }
        insert_queue.execute(params![
            queue,
            send_hash(&id16(&send_id)?).as_slice(),
            receive_id,
            auth_key,
            count,
            bytes,
            seq
        ])?;
    }
    drop((insert_queue, messages, insert_message));
    tx.execute_batch(SCHEMA_V6_FINISH)?;
    Ok(())
}

/// Version 7: revocation that the relay enforces. Each member key remembers the grant
/// key it redeemed (filled from the invite tombstones that still exist); revoked grant
/// keys and the member keys they disable are kept, so a revoked member can neither
/// write nor take or upload prekeys, nor redeem again.
const SCHEMA_V7: &str = "
ALTER TABLE members ADD COLUMN grant_key BLOB;
UPDATE members SET grant_key = (
    SELECT i.redeem_key FROM invites i
    WHERE i.school_id = members.school_id AND i.redeemed_by = members.member_key
);
CREATE INDEX members_grant ON members (school_id, grant_key);
CREATE TABLE revoked_grants (
    school_id   BLOB NOT NULL,
    grant_key   BLOB NOT NULL,
    PRIMARY KEY (school_id, grant_key)
) WITHOUT ROWID;
CREATE TABLE revoked_members (
    member_key  BLOB NOT NULL PRIMARY KEY,
    school_id   BLOB NOT NULL
) WITHOUT ROWID;
";

/// Version 8: contact mailboxes are marked, for their per-sender deposit limit
/// (`mailbox_limit`). Mailboxes created before are marked when their owner's client
/// creates them again (it does at enrolment; an existing queue of the same key is
/// marked then).
const SCHEMA_V8: &str = "
ALTER TABLE queues ADD COLUMN mailbox INTEGER NOT NULL DEFAULT 0;
";

/// Version 9: admission. A member key keeps the member certificate it asked admission
/// for and, once the school root signed it, the admission; members waiting for one are
/// found through a partial index.
const SCHEMA_V9: &str = "
ALTER TABLE members ADD COLUMN certificate BLOB;
ALTER TABLE members ADD COLUMN admission BLOB;
CREATE INDEX members_pending ON members (school_id, member_key)
    WHERE certificate IS NOT NULL AND admission IS NULL;
";

/// Version 10: offices. An admission an office signed keeps the office's certificate,
/// which the member needs to verify it.
const SCHEMA_V10: &str = "
ALTER TABLE members ADD COLUMN admission_issuer BLOB;
";

/// Version 11: shared bodies. A group message deposited for many queues at once is
/// stored once in `bodies`; each queue's message row holds the envelope's 17-byte
/// prefix (kind, zeroed send id) and the body's id. `refs` counts the rows pointing at
/// a body; the body is deleted with its last row.
const SCHEMA_V11: &str = "
CREATE TABLE bodies (
    body     INTEGER PRIMARY KEY,
    refs     INTEGER NOT NULL,
    content  BLOB NOT NULL
);
ALTER TABLE messages ADD COLUMN body INTEGER;
";

/// One message row to store: the envelope (send id zeroed), or a shared body's envelope
/// prefix and the body's id; `len` is the envelope's whole length, for the quota.
struct StoredEnvelope {
    row: Vec<u8>,
    body: Option<i64>,
    len: usize,
}

/// Stores a message in the queue of `send_id`, within its quota and, for a contact
/// mailbox, the sender's deposit limit. The queue's counters change in `held` and reach
/// the database when the batch writes them back.
#[allow(clippy::too_many_arguments)]
fn deposit_into(
    tx: &rusqlite::Transaction<'_>,
    held: &mut HeldCounters,
    mail: &mut Vec<MailChange>,
    mailboxes: &MailboxBuckets,
    send_id: &Id16,
    stored: &StoredEnvelope,
    quota: &QueueQuota,
    now: i64,
    sender: Option<MailboxSender>,
) -> rusqlite::Result<WriteOutcome> {
    let Some(queue) = held.get(tx, send_hash(send_id))? else {
        return Ok(WriteOutcome::NotFound);
    };
    if to_u64(queue.message_count) >= quota.max_messages
        || to_u64(queue.byte_count) >= quota.max_bytes
    {
        return Ok(WriteOutcome::Full);
    }
    if queue.mailbox
        && let Some(sender) = sender
        && let Err(wait) = mailboxes.take(queue.queue, &sender)
    {
        return Ok(WriteOutcome::Throttled {
            retry_after_secs: wait.as_secs().saturating_add(1),
        });
    }
    let receive_id = ReceiveId::from_bytes(id16(&queue.receive_id)?);
    let id = queue.last_seq + 1;
    tx.prepare_cached(
        "INSERT INTO messages (queue, seq, created_at, envelope, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![queue.queue, id, now, stored.row, stored.body])?;
    queue.deposit(to_i64(stored.len as u64));
    mail.push(MailChange::Filled(receive_id));
    Ok(WriteOutcome::Deposited {
        id: to_u64(id),
        receive_id,
    })
}

/// Drops one reference to each shared body in `bodies` (a body id per deleted message
/// row that had one) and deletes bodies left without references. Returns the bytes
/// the bodies added to their messages, per entry, in order.
fn release_bodies(tx: &rusqlite::Transaction<'_>, bodies: &[i64]) -> rusqlite::Result<Vec<i64>> {
    let mut release = tx.prepare_cached(
        "UPDATE bodies SET refs = refs - 1 WHERE body = ?1 RETURNING refs, length(content)",
    )?;
    let mut delete = tx.prepare_cached("DELETE FROM bodies WHERE body = ?1")?;
    let mut sizes = Vec::with_capacity(bodies.len());
    for body in bodies {
        let left: Option<(i64, i64)> = release
            .query_row([body], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let (refs, size) = left.unwrap_or((0, 0));
        if refs <= 0 {
            delete.execute([body])?;
        }
        sizes.push(size);
    }
    Ok(sizes)
}

/// Whether the school revoked `grant_key`.
fn grant_revoked(
    conn: &Connection,
    school_id: &Id16,
    grant_key: &PublicKey,
) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM revoked_grants WHERE school_id = ?1 AND grant_key = ?2")?
        .query_row([school_id.as_slice(), grant_key.as_slice()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether a school revoked `member_key`.
fn member_revoked(conn: &Connection, member_key: &PublicKey) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM revoked_members WHERE member_key = ?1")?
        .query_row([member_key.as_slice()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The SQLite store.
pub struct SqliteStore {
    path: std::path::PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    mail: MailIndex,
    mailboxes: MailboxBuckets,
    checkpoints: Checkpointer,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// Bytes the write-ahead log file is cut back to after the log starts over.
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// A busy handler for the connections that take the write lock (the writer and the
/// checkpoint thread): retry every 200 µs for up to 5 s. SQLite's own timeout sleeps
/// 1, 2, 5, 10… ms between tries, which would turn a lock held for a millisecond into
/// a stall of several.
fn wait_briefly(tries: i32) -> bool {
    std::thread::sleep(Duration::from_micros(200));
    tries < 25_000
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir`, enables WAL and runs
    /// migrations.
    ///
    /// # Errors
    /// [`StoreError`] if the directory or database cannot be created or opened, or the
    /// database was written by a newer relay.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(data_dir).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let path = data_dir.join(DATABASE_FILE);
        let mut conn = open_connection(&path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Schema(format!(
                "the database could not switch to WAL mode (got {mode})"
            )));
        }
        migrate(&mut conn)?;
        // Checkpoints run on their own thread (`checkpoint.rs`), never inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        conn.busy_handler(Some(wait_briefly))?;
        let checkpoints = Checkpointer::start(&path)?;
        let mail = MailIndex::new(queues_with_mail(&conn)?);
        Ok(Self {
            path,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            mail,
            mailboxes: MailboxBuckets::default(),
            checkpoints,
        })
    }

    /// Runs `f` on a pooled read connection.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().map_err(|_| poisoned())?.pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        let result = f(&conn);
        let mut readers = self.readers.lock().map_err(|_| poisoned())?;
        if readers.len() < MAX_IDLE_READERS {
            readers.push(conn);
        }
        Ok(result?)
    }
}

/// Describes the database in `data_dir` without changing anything (for
/// `--check-config`): its schema version, or that it will be created.
///
/// # Errors
/// [`StoreError`] if it cannot be read, or a newer relay wrote it.
pub fn inspect(data_dir: &Path) -> Result<String, StoreError> {
    let path = data_dir.join(DATABASE_FILE);
    if !path.exists() {
        let mut existing = data_dir;
        while !existing.exists() {
            existing = existing.parent().unwrap_or(Path::new("."));
        }
        let probe = existing.join(".satchel-relay-check");
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|error| {
                StoreError::Backend(
                    format!("cannot write in {}: {error}", existing.display()).into(),
                )
            })?;
        return Ok(format!(
            "SQLite: no database yet; it will be created at {}",
            path.display()
        ));
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let steps = super::migrations::pending_steps("SQLite", version, MIGRATIONS.len())?;
    Ok(format!(
        "SQLite: {} at schema version {version}{}",
        path.display(),
        if steps.is_empty() {
            String::new()
        } else {
            format!(" (this relay will upgrade it to {SCHEMA_VERSION} at start)")
        }
    ))
}

fn poisoned() -> StoreError {
    StoreError::Schema("a storage lock was poisoned by an earlier failure".to_owned())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// One step of the schema: SQL, or Rust for a step that computes (hashes) what it copies.
enum Migration {
    Sql(&'static str),
    Rust(fn(&rusqlite::Transaction<'_>) -> Result<(), StoreError>),
}

/// The steps to schema version `index + 1`, in order; each runs in its own transaction
/// with the version it reaches.
const MIGRATIONS: [Migration; 11] = [
    Migration::Sql(SCHEMA_V1),
    Migration::Sql(SCHEMA_V2),
    Migration::Sql(SCHEMA_V3),
    Migration::Sql(SCHEMA_V4),
    Migration::Sql(SCHEMA_V5),
    Migration::Rust(migrate_v6),
    Migration::Sql(SCHEMA_V7),
    Migration::Sql(SCHEMA_V8),
    Migration::Sql(SCHEMA_V9),
    Migration::Sql(SCHEMA_V10),
    Migration::Sql(SCHEMA_V11),
];

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for index in super::migrations::pending_steps("SQLite", version, MIGRATIONS.len())? {
        let Some(step) = MIGRATIONS.get(index) else {
            break;
        };
        let tx = conn.transaction()?;
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Rust(run) => run(&tx)?,
        }
        tx.pragma_update(None, "user_version", to_i64(index as u64 + 1))?;
        tx.commit()?;
    }
    Ok(())
}

/// Every queue holding at least one message (to fill the [`MailIndex`]).
fn queues_with_mail(conn: &Connection) -> Result<Vec<ReceiveId>, StoreError> {
    let mut statement = conn.prepare("SELECT receive_id FROM queues WHERE message_count > 0")?;
    let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0))?;
    let mut ids = Vec::new();
    for row in rows {
        ids.push(ReceiveId::from_bytes(id16(&row?)?));
    }
    Ok(ids)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn key32(bytes: &[u8]) -> Result<PublicKey, rusqlite::Error> {
    bytes.try_into().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "key".into(), rusqlite::types::Type::Blob)
    })
}

fn sig64(bytes: &[u8]) -> Result<[u8; 64], rusqlite::Error> {
    bytes.try_into().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "signature".into(), rusqlite::types::Type::Blob)
    })
}

fn id16(bytes: &[u8]) -> Result<Id16, rusqlite::Error> {
    bytes.try_into().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "id".into(), rusqlite::types::Type::Blob)
    })
}

fn school_exists(tx: &Transaction<'_>, school_id: &Id16) -> Result<bool, rusqlite::Error> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM schools WHERE school_id = ?1")?
        .query_row([school_id.as_slice()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Looks up a queue by receive id: its row id.
fn queue_by_receive_id(
    tx: &Transaction<'_>,
    receive_id: &ReceiveId,
) -> Result<Option<i64>, rusqlite::Error> {
    tx.prepare_cached("SELECT queue FROM queues WHERE receive_id = ?1")?
        .query_row([receive_id.as_bytes().as_slice()], |row| row.get(0))
        .optional()
}

/// Applies one write inside the batch's transaction; what it does to the set of queues
/// with mail is added to `mail`, applied only once the transaction has committed.
fn apply(
    tx: &mut Transaction<'_>,
    op: &WriteOp,
    held: &mut HeldCounters,
    mail: &mut Vec<MailChange>,
    mailboxes: &MailboxBuckets,
) -> Result<WriteOutcome, rusqlite::Error> {
    if !matches!(op, WriteOp::Deposit { .. } | WriteOp::DepositShared { .. }) {
        held.write_back(tx)?;
    }
    match op {
        WriteOp::RegisterSchool {
            school_id,
            root_key,
        } => {
            let existing: Option<Vec<u8>> = tx
                .prepare_cached("SELECT root_key FROM schools WHERE school_id = ?1")?
                .query_row([school_id.as_slice()], |row| row.get(0))
                .optional()?;
            match existing {
                Some(key) if key.as_slice() == root_key.as_slice() => Ok(WriteOutcome::Unchanged),
                Some(_) => Ok(WriteOutcome::Conflict),
                None => {
                    tx.prepare_cached("INSERT INTO schools (school_id, root_key) VALUES (?1, ?2)")?
                        .execute(params![school_id.as_slice(), root_key.as_slice()])?;
                    Ok(WriteOutcome::Created)
                }
            }
        }
        WriteOp::PutInvite {
            school_id,
            lookup_id,
            record,
            redeem_key,
            expires_at,
        } => {
            if !school_exists(tx, school_id)? {
                return Ok(WriteOutcome::UnknownSchool);
            }
            let redeemed: Option<bool> = tx
                .prepare_cached(
                    "SELECT redeemed FROM invites WHERE school_id = ?1 AND lookup_id = ?2",
                )?
                .query_row([school_id.as_slice(), lookup_id.as_slice()], |row| {
                    row.get(0)
                })
                .optional()?;
            match redeemed {
                Some(true) => Ok(WriteOutcome::Conflict),
                Some(false) => {
                    tx.prepare_cached(
                        "UPDATE invites SET record = ?3, redeem_key = ?4, expires_at = ?5 \
                         WHERE school_id = ?1 AND lookup_id = ?2",
                    )?
                    .execute(params![
                        school_id.as_slice(),
                        lookup_id.as_slice(),
                        record,
                        redeem_key.as_slice(),
                        expires_at
                    ])?;
                    Ok(WriteOutcome::Unchanged)
                }
                None => {
                    tx.prepare_cached(
                        "INSERT INTO invites (school_id, lookup_id, record, redeem_key, expires_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        school_id.as_slice(),
                        lookup_id.as_slice(),
                        record,
                        redeem_key.as_slice(),
                        expires_at
                    ])?;
                    Ok(WriteOutcome::Created)
                }
            }
        }
        WriteOp::RedeemInvite {
            school_id,
            lookup_id,
            redeem_key,
            member_key,
            now,
        } => {
            // The caller verified the signature with the redeem key it read; check the
            // invite is still that one, so a concurrent replacement cannot be redeemed.
            let row: Option<(Vec<u8>, i64, bool, OptionalBlob)> = tx
                .prepare_cached(
                    "SELECT redeem_key, expires_at, redeemed, redeemed_by FROM invites \
                     WHERE school_id = ?1 AND lookup_id = ?2",
                )?
                .query_row([school_id.as_slice(), lookup_id.as_slice()], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()?;
            match row {
                None => Ok(WriteOutcome::NotFound),
                Some((_, expires_at, ..)) if expires_at <= *now => Ok(WriteOutcome::NotFound),
                Some((key, ..)) if key.as_slice() != redeem_key.as_slice() => {
                    Ok(WriteOutcome::Forbidden)
                }
                _ if grant_revoked(tx, school_id, redeem_key)?
                    || member_revoked(tx, member_key)? =>
                {
                    Ok(WriteOutcome::Revoked)
                }
                // A join that redeemed and then failed before it finished, retried with
                // the same member key: the same outcome again.
                Some((_, _, true, Some(by))) if by.as_slice() == member_key.as_slice() => {
                    Ok(WriteOutcome::Done)
                }
                Some((_, _, true, _)) => Ok(WriteOutcome::Conflict),
                Some((_, _, false, _)) => {
                    // The record (grant, directory key) is erased now: after redemption a
                    // copy of the code no longer yields anything from the relay.
                    let changed = tx
                        .prepare_cached(
                            "UPDATE invites SET redeemed = 1, record = X'', redeemed_by = ?3 \
                             WHERE school_id = ?1 AND lookup_id = ?2 AND redeemed = 0",
                        )?
                        .execute([
                            school_id.as_slice(),
                            lookup_id.as_slice(),
                            member_key.as_slice(),
                        ])?;
                    if changed == 0 {
                        return Ok(WriteOutcome::Conflict);
                    }
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO members (school_id, member_key, grant_key) \
                         VALUES (?1, ?2, ?3)",
                    )?
                    .execute([
                        school_id.as_slice(),
                        member_key.as_slice(),
                        redeem_key.as_slice(),
                    ])?;
                    Ok(WriteOutcome::Done)
                }
            }
        }
        WriteOp::RevokeMembers {
            school_id,
            grant_keys,
            lookup_ids,
        } => {
            if !school_exists(tx, school_id)? {
                return Ok(WriteOutcome::UnknownSchool);
            }
            let mut keys = grant_keys.clone();
            for lookup_id in lookup_ids {
                let key: Option<Vec<u8>> = tx
                    .prepare_cached(
                        "SELECT redeem_key FROM invites WHERE school_id = ?1 AND lookup_id = ?2",
                    )?
                    .query_row([school_id.as_slice(), lookup_id.as_slice()], |row| {
                        row.get(0)
                    })
                    .optional()?;
                if let Some(key) = key {
                    keys.push(key32(&key)?);
                }
            }
            let mut disabled = 0u64;
            for grant_key in &keys {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO revoked_grants (school_id, grant_key) VALUES (?1, ?2)",
                )?
                .execute([school_id.as_slice(), grant_key.as_slice()])?;
                let members: Vec<Vec<u8>> = tx
                    .prepare_cached(
                        "DELETE FROM members WHERE school_id = ?1 AND grant_key = ?2 \
                         RETURNING member_key",
                    )?
                    .query_map([school_id.as_slice(), grant_key.as_slice()], |row| {
                        row.get(0)
                    })?
                    .collect::<Result<_, _>>()?;
                for member in members {
                    disabled += tx
                        .prepare_cached(
                            "INSERT OR IGNORE INTO revoked_members (member_key, school_id) \
                             VALUES (?1, ?2)",
                        )?
                        .execute([member.as_slice(), school_id.as_slice()])?
                        as u64;
                }
            }
            Ok(WriteOutcome::Deleted(disabled))
        }
        WriteOp::DeleteInvite {
            school_id,
            lookup_id,
        } => {
            let n = tx
                .prepare_cached("DELETE FROM invites WHERE school_id = ?1 AND lookup_id = ?2")?
                .execute([school_id.as_slice(), lookup_id.as_slice()])?;
            Ok(WriteOutcome::Deleted(n as u64))
        }
        WriteOp::PutRevocations {
            school_id,
            list,
            sequence,
        } => {
            if !school_exists(tx, school_id)? {
                return Ok(WriteOutcome::UnknownSchool);
            }
            let current: Option<i64> = tx
                .prepare_cached("SELECT sequence FROM revocations WHERE school_id = ?1")?
                .query_row([school_id.as_slice()], |row| row.get(0))
                .optional()?;
            let sequence = to_i64(*sequence);
            if current.is_some_and(|current| current >= sequence) {
                return Ok(WriteOutcome::Conflict);
            }
            tx.prepare_cached(
                "INSERT INTO revocations (school_id, sequence, list) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (school_id) DO UPDATE SET sequence = ?2, list = ?3",
            )?
            .execute(params![school_id.as_slice(), sequence, list])?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::PutDirectoryEntry {
            school_id,
            entry_id,
            entry,
            writer,
            now,
        } => {
            if !school_exists(tx, school_id)? {
                return Ok(WriteOutcome::UnknownSchool);
            }
            if let DirectoryWriter::Member(key) = writer
                && member_revoked(tx, key)?
            {
                return Ok(WriteOutcome::Revoked);
            }
            let owner = directory_owner(tx, school_id, entry_id)?;
            match (owner, writer) {
                (Some(owner), writer) => {
                    let allowed = match writer {
                        DirectoryWriter::Root => true,
                        DirectoryWriter::Member(key) => owner.as_ref() == Some(key),
                    };
                    if !allowed {
                        return Ok(WriteOutcome::Forbidden);
                    }
                    tx.prepare_cached(
                        "UPDATE directory SET entry = ?3, updated_at = ?4 \
                         WHERE school_id = ?1 AND entry_id = ?2",
                    )?
                    .execute(params![
                        school_id.as_slice(),
                        entry_id.as_slice(),
                        entry,
                        now
                    ])?;
                    Ok(WriteOutcome::Unchanged)
                }
                (None, DirectoryWriter::Root) => {
                    insert_directory_entry(tx, school_id, entry_id, None, entry, *now)?;
                    Ok(WriteOutcome::Created)
                }
                (None, DirectoryWriter::Member(key)) => {
                    let member = tx
                        .prepare_cached(
                            "SELECT 1 FROM members WHERE school_id = ?1 AND member_key = ?2",
                        )?
                        .query_row([school_id.as_slice(), key.as_slice()], |_| Ok(()))
                        .optional()?
                        .is_some();
                    let owns_one = tx
                        .prepare_cached(
                            "SELECT 1 FROM directory WHERE school_id = ?1 AND owner_key = ?2",
                        )?
                        .query_row([school_id.as_slice(), key.as_slice()], |_| Ok(()))
                        .optional()?
                        .is_some();
                    if !member || owns_one {
                        return Ok(WriteOutcome::Forbidden);
                    }
                    insert_directory_entry(tx, school_id, entry_id, Some(key), entry, *now)?;
                    Ok(WriteOutcome::Created)
                }
            }
        }
        WriteOp::DeleteDirectoryEntry {
            school_id,
            entry_id,
            writer,
        } => {
            let Some(owner) = directory_owner(tx, school_id, entry_id)? else {
                return Ok(WriteOutcome::Deleted(0));
            };
            if let DirectoryWriter::Member(key) = writer {
                if member_revoked(tx, key)? {
                    return Ok(WriteOutcome::Revoked);
                }
                if owner.as_ref() != Some(key) {
                    return Ok(WriteOutcome::Forbidden);
                }
            }
            let n = tx
                .prepare_cached("DELETE FROM directory WHERE school_id = ?1 AND entry_id = ?2")?
                .execute([school_id.as_slice(), entry_id.as_slice()])?;
            Ok(WriteOutcome::Deleted(n as u64))
        }
        WriteOp::PutPrekeys {
            bundle_id,
            owner_key,
            keys,
            max_stored,
        } => {
            if member_revoked(tx, owner_key)? {
                return Ok(WriteOutcome::Revoked);
            }
            let owner: Option<Vec<u8>> = tx
                .prepare_cached("SELECT owner_key FROM prekey_bundles WHERE bundle_id = ?1")?
                .query_row([bundle_id.as_slice()], |row| row.get(0))
                .optional()?;
            match owner {
                Some(owner) if owner.as_slice() != owner_key.as_slice() => {
                    return Ok(WriteOutcome::Forbidden);
                }
                Some(_) => {}
                None => {
                    tx.prepare_cached(
                        "INSERT INTO prekey_bundles (bundle_id, owner_key) VALUES (?1, ?2)",
                    )?
                    .execute([bundle_id.as_slice(), owner_key.as_slice()])?;
                }
            }
            let savepoint = tx.savepoint()?;
            {
                let mut insert = savepoint.prepare_cached(
                    "INSERT OR REPLACE INTO prekeys (bundle_id, key_id, key, signature) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for key in keys {
                    insert.execute(params![
                        bundle_id.as_slice(),
                        key.id,
                        key.key.as_slice(),
                        key.signature.as_slice()
                    ])?;
                }
            }
            let count: i64 = savepoint
                .prepare_cached("SELECT count(*) FROM prekeys WHERE bundle_id = ?1")?
                .query_row([bundle_id.as_slice()], |row| row.get(0))?;
            if to_u64(count) > *max_stored {
                // Dropping the savepoint rolls the inserts back.
                return Ok(WriteOutcome::Full);
            }
            savepoint.commit()?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::TakePrekey { bundle_id } => {
            let taken: Option<(u32, Vec<u8>, Vec<u8>)> = tx
                .prepare_cached(
                    "DELETE FROM prekeys WHERE bundle_id = ?1 AND key_id = \
                     (SELECT key_id FROM prekeys WHERE bundle_id = ?1 ORDER BY key_id LIMIT 1) \
                     RETURNING key_id, key, signature",
                )?
                .query_row([bundle_id.as_slice()], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            match taken {
                Some((id, key, signature)) => Ok(WriteOutcome::Prekey(UploadedPrekey {
                    id,
                    key: key32(&key)?,
                    signature,
                })),
                None => Ok(WriteOutcome::NotFound),
            }
        }
        WriteOp::CreateQueue {
            send_id,
            auth_key,
            mailbox,
        } => {
            let receive_id = ReceiveId::for_key(auth_key);
            let send_hash = send_hash(send_id);
            let by_send: Option<Vec<u8>> = tx
                .prepare_cached("SELECT auth_key FROM queues WHERE send_hash = ?1")?
                .query_row([send_hash.as_slice()], |row| row.get(0))
                .optional()?;
            match by_send {
                Some(key) if key.as_slice() == auth_key.as_slice() => {
                    if *mailbox {
                        tx.prepare_cached("UPDATE queues SET mailbox = 1 WHERE send_hash = ?1")?
                            .execute([send_hash.as_slice()])?;
                    }
                    Ok(WriteOutcome::Queue {
                        receive_id,
                        created: false,
                    })
                }
                Some(_) => Ok(WriteOutcome::Conflict),
                None => {
                    let by_receive = tx
                        .prepare_cached("SELECT 1 FROM queues WHERE receive_id = ?1")?
                        .query_row([receive_id.as_bytes().as_slice()], |_| Ok(()))
                        .optional()?;
                    if by_receive.is_some() {
                        return Ok(WriteOutcome::Conflict);
                    }
                    tx.prepare_cached(
                        "INSERT INTO queues (send_hash, receive_id, auth_key, mailbox) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        send_hash.as_slice(),
                        receive_id.as_bytes().as_slice(),
                        auth_key.as_slice(),
                        i64::from(*mailbox),
                    ])?;
                    Ok(WriteOutcome::Queue {
                        receive_id,
                        created: true,
                    })
                }
            }
        }
        WriteOp::DeleteQueue { receive_id } => {
            let Some(queue) = queue_by_receive_id(tx, receive_id)? else {
                return Ok(WriteOutcome::Deleted(0));
            };
            let bodies: Vec<Option<i64>> = tx
                .prepare_cached("DELETE FROM messages WHERE queue = ?1 RETURNING body")?
                .query_map([queue], |row| row.get::<_, Option<i64>>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let n = bodies.len();
            let shared: Vec<i64> = bodies.into_iter().flatten().collect();
            release_bodies(tx, &shared)?;
            tx.prepare_cached("DELETE FROM queues WHERE queue = ?1")?
                .execute([queue])?;
            // SQLite may give a queue created later this row id.
            mailboxes.forget(queue);
            mail.push(MailChange::Emptied(*receive_id));
            Ok(WriteOutcome::Deleted(n as u64))
        }
        WriteOp::Deposit {
            send_id,
            envelope,
            quota,
            now,
            sender,
        } => deposit_into(
            tx,
            held,
            mail,
            mailboxes,
            send_id,
            &StoredEnvelope {
                row: without_send_id(envelope),
                body: None,
                len: envelope.len(),
            },
            quota,
            *now,
            *sender,
        ),
        WriteOp::DepositShared {
            send_ids,
            prefix,
            body,
            quota,
            now,
            sender,
        } => {
            tx.prepare_cached("INSERT INTO bodies (refs, content) VALUES (0, ?1)")?
                .execute([body.as_slice()])?;
            let body_id = tx.last_insert_rowid();
            let mut row = prefix.to_vec();
            if let Some(send_id) = row.get_mut(1..17) {
                send_id.fill(0);
            }
            let stored = StoredEnvelope {
                row,
                body: Some(body_id),
                len: prefix.len() + body.len(),
            };
            let mut outcomes = Vec::with_capacity(send_ids.len());
            let mut refs = 0i64;
            for send_id in send_ids {
                let outcome = deposit_into(
                    tx, held, mail, mailboxes, send_id, &stored, quota, *now, *sender,
                )?;
                if matches!(outcome, WriteOutcome::Deposited { .. }) {
                    refs += 1;
                }
                outcomes.push(outcome);
            }
            if refs == 0 {
                tx.prepare_cached("DELETE FROM bodies WHERE body = ?1")?
                    .execute([body_id])?;
            } else {
                tx.prepare_cached("UPDATE bodies SET refs = ?2 WHERE body = ?1")?
                    .execute(params![body_id, refs])?;
            }
            Ok(WriteOutcome::DepositedShared(outcomes))
        }
        WriteOp::Ack { receive_id, ids } => {
            let Some(queue) = queue_by_receive_id(tx, receive_id)? else {
                return Ok(WriteOutcome::NotFound);
            };
            let mut count = 0i64;
            let mut bytes = 0i64;
            {
                let mut delete = tx.prepare_cached(
                    "DELETE FROM messages WHERE seq = ?1 AND queue = ?2 \
                     RETURNING length(envelope), body",
                )?;
                let mut shared = Vec::new();
                for id in ids {
                    let deleted: Option<(i64, Option<i64>)> = delete
                        .query_row(params![to_i64(*id), queue], |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })
                        .optional()?;
                    if let Some((size, body)) = deleted {
                        count += 1;
                        bytes += size;
                        shared.extend(body);
                    }
                }
                drop(delete);
                bytes += release_bodies(tx, &shared)?.iter().sum::<i64>();
            }
            if count > 0 {
                let left: i64 = tx
                    .prepare_cached(
                        "UPDATE queues SET message_count = max(message_count - ?2, 0), \
                         byte_count = max(byte_count - ?3, 0) WHERE queue = ?1 \
                         RETURNING message_count",
                    )?
                    .query_row(params![queue, count, bytes], |row| row.get(0))?;
                if left == 0 {
                    mail.push(MailChange::Emptied(*receive_id));
                }
            }
            Ok(WriteOutcome::Deleted(to_u64(count)))
        }
        WriteOp::PurgeMessages { before, limit } => {
            let old: Vec<(i64, i64, i64, Option<i64>)> = tx
                .prepare_cached(
                    "SELECT id, queue, length(envelope), body FROM messages \
                     WHERE created_at < ?1 LIMIT ?2",
                )?
                .query_map(params![before, limit], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut per_queue: HashMap<i64, (i64, i64)> = HashMap::new();
            {
                let mut delete = tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
                for (id, queue, size, body) in &old {
                    delete.execute([id])?;
                    let body_size = match body {
                        Some(body) => release_bodies(tx, &[*body])?.iter().sum::<i64>(),
                        None => 0,
                    };
                    let entry = per_queue.entry(*queue).or_default();
                    entry.0 += 1;
                    entry.1 += size + body_size;
                }
            }
            let mut update = tx.prepare_cached(
                "UPDATE queues SET message_count = max(message_count - ?2, 0), \
                 byte_count = max(byte_count - ?3, 0) WHERE queue = ?1 \
                 RETURNING receive_id, message_count",
            )?;
            for (queue, (count, bytes)) in per_queue {
                let left: Option<(Vec<u8>, i64)> = update
                    .query_row(params![queue, count, bytes], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                    .optional()?;
                if let Some((receive_id, 0)) = left {
                    mail.push(MailChange::Emptied(ReceiveId::from_bytes(id16(
                        &receive_id,
                    )?)));
                }
            }
            Ok(WriteOutcome::Deleted(old.len() as u64))
        }
        WriteOp::SetMemberCertificate {
            school_id,
            member_key,
            certificate,
        } => {
            let changed = tx
                .prepare_cached(
                    "UPDATE members SET certificate = ?3 \
                     WHERE school_id = ?1 AND member_key = ?2 AND certificate IS NULL",
                )?
                .execute([
                    school_id.as_slice(),
                    member_key.as_slice(),
                    certificate.as_slice(),
                ])?;
            Ok(if changed == 0 {
                WriteOutcome::Unchanged
            } else {
                WriteOutcome::Done
            })
        }
        WriteOp::PutAdmissions {
            school_id,
            admissions,
            issuer,
        } => {
            let mut stored = 0u64;
            for (member_key, admission) in admissions {
                stored += tx
                    .prepare_cached(
                        "UPDATE members SET admission = ?3, admission_issuer = ?4 \
                         WHERE school_id = ?1 AND member_key = ?2 AND certificate IS NOT NULL",
                    )?
                    .execute(params![
                        school_id.as_slice(),
                        member_key.as_slice(),
                        admission.as_slice(),
                        issuer.as_deref(),
                    ])? as u64;
            }
            Ok(WriteOutcome::Stored(stored))
        }
        WriteOp::PurgeInvites { now } => {
            let n = tx
                .prepare_cached("DELETE FROM invites WHERE expires_at <= ?1")?
                .execute([now])?;
            Ok(WriteOutcome::Deleted(n as u64))
        }
    }
}

fn directory_owner(
    conn: &Connection,
    school_id: &Id16,
    entry_id: &Id16,
) -> Result<Option<Option<PublicKey>>, rusqlite::Error> {
    let owner: Option<Option<Vec<u8>>> = conn
        .prepare_cached("SELECT owner_key FROM directory WHERE school_id = ?1 AND entry_id = ?2")?
        .query_row([school_id.as_slice(), entry_id.as_slice()], |row| {
            row.get(0)
        })
        .optional()?;
    owner
        .map(|owner| owner.as_deref().map(key32).transpose())
        .transpose()
}

fn insert_directory_entry(
    tx: &Transaction<'_>,
    school_id: &Id16,
    entry_id: &Id16,
    owner: Option<&PublicKey>,
    entry: &[u8],
    now: i64,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO directory (school_id, entry_id, owner_key, updated_at, entry) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        school_id.as_slice(),
        entry_id.as_slice(),
        owner.map(|key| key.as_slice()),
        now,
        entry
    ])?;
    Ok(())
}

impl RelayStore for SqliteStore {
    fn write_batch(&self, ops: &[WriteOp]) -> Result<Vec<WriteOutcome>, StoreError> {
        let mut conn = self.writer.lock().map_err(|_| poisoned())?;
        // IMMEDIATE: the write lock is taken (waiting through the busy handler) before
        // anything is read. A deferred transaction would read first and could then find
        // its snapshot outdated by the checkpoint thread restarting the log, which SQLite
        // reports as "database is locked" without waiting.
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut mail = Vec::new();
        let mut held = HeldCounters::default();
        for op in ops {
            outcomes.push(apply(&mut tx, op, &mut held, &mut mail, &self.mailboxes)?);
        }
        held.write_back(&tx)?;
        tx.commit()?;
        self.checkpoints.committed();
        self.mail.apply(&mail);
        Ok(outcomes)
    }

    fn stats(&self) -> Result<super::StoreStats, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT coalesce(sum(message_count), 0), count(*) FILTER (WHERE message_count > 0) \
                 FROM queues",
                [],
                |row| {
                    Ok(super::StoreStats {
                        messages: to_u64(row.get(0)?),
                        queues_with_mail: to_u64(row.get(1)?),
                    })
                },
            )
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn school_root(&self, school_id: &Id16) -> Result<Option<PublicKey>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT root_key FROM schools WHERE school_id = ?1")?
                .query_row([school_id.as_slice()], |row| row.get::<_, Vec<u8>>(0))
                .optional()?
                .as_deref()
                .map(key32)
                .transpose()
        })
    }

    fn invite(
        &self,
        school_id: &Id16,
        lookup_id: &Id16,
        now: i64,
    ) -> Result<Option<Invite>, StoreError> {
        self.read(|conn| {
            let row: Option<(Vec<u8>, Vec<u8>, bool, OptionalBlob)> = conn
                .prepare_cached(
                    "SELECT record, redeem_key, redeemed, redeemed_by FROM invites \
                     WHERE school_id = ?1 AND lookup_id = ?2 AND expires_at > ?3",
                )?
                .query_row(
                    params![school_id.as_slice(), lookup_id.as_slice(), now],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()?;
            row.map(|(record, redeem_key, redeemed, redeemed_by)| {
                Ok(Invite {
                    record,
                    redeem_key: key32(&redeem_key)?,
                    redeemed,
                    redeemed_by: redeemed_by.as_deref().map(key32).transpose()?,
                })
            })
            .transpose()
        })
    }

    fn is_revoked_grant(
        &self,
        school_id: &Id16,
        grant_key: &PublicKey,
    ) -> Result<bool, StoreError> {
        self.read(|conn| grant_revoked(conn, school_id, grant_key))
    }

    fn is_revoked_member(&self, member_key: &PublicKey) -> Result<bool, StoreError> {
        self.read(|conn| member_revoked(conn, member_key))
    }

    fn is_member(&self, school_id: &Id16, member_key: &PublicKey) -> Result<bool, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM members WHERE school_id = ?1 AND member_key = ?2")?
                .query_row([school_id.as_slice(), member_key.as_slice()], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn member(
        &self,
        school_id: &Id16,
        member_key: &PublicKey,
    ) -> Result<Option<Member>, StoreError> {
        self.read(|conn| {
            let row: Option<(OptionalBlob, OptionalBlob, OptionalBlob, OptionalBlob)> = conn
                .prepare_cached(
                    "SELECT grant_key, certificate, admission, admission_issuer FROM members \
                     WHERE school_id = ?1 AND member_key = ?2",
                )?
                .query_row([school_id.as_slice(), member_key.as_slice()], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()?;
            // A member recorded before relays kept grant keys (schema 7) cannot be
            // matched with a grant: it is not a member for admission.
            let Some((Some(grant_key), certificate, admission, admission_issuer)) = row else {
                return Ok(None);
            };
            Ok(Some(Member {
                grant_key: key32(&grant_key)?,
                certificate,
                admission: admission.map(|bytes| sig64(&bytes)).transpose()?,
                admission_issuer,
            }))
        })
    }

    fn pending_admissions(
        &self,
        school_id: &Id16,
        limit: u32,
    ) -> Result<Vec<PendingAdmission>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT member_key, grant_key, certificate FROM members \
                 WHERE school_id = ?1 AND certificate IS NOT NULL AND admission IS NULL \
                 AND grant_key IS NOT NULL ORDER BY member_key LIMIT ?2",
            )?;
            let rows = statement.query_map(
                rusqlite::params![school_id.as_slice(), i64::from(limit)],
                |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                    ))
                },
            )?;
            let mut pending = Vec::new();
            for row in rows {
                let (member_key, grant_key, certificate) = row?;
                pending.push(PendingAdmission {
                    member_key: key32(&member_key)?,
                    grant_key: key32(&grant_key)?,
                    certificate,
                });
            }
            Ok(pending)
        })
    }

    fn directory_owner(
        &self,
        school_id: &Id16,
        entry_id: &Id16,
    ) -> Result<Option<Option<PublicKey>>, StoreError> {
        self.read(|conn| directory_owner(conn, school_id, entry_id))
    }

    fn directory(&self, school_id: &Id16) -> Result<Vec<DirectoryEntry>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT entry_id, entry, updated_at FROM directory \
                 WHERE school_id = ?1 ORDER BY entry_id",
            )?
            .query_map([school_id.as_slice()], |row| {
                Ok(DirectoryEntry {
                    entry_id: id16(&row.get::<_, Vec<u8>>(0)?)?,
                    entry: row.get(1)?,
                    updated_at: row.get(2)?,
                })
            })?
            .collect()
        })
    }

    fn revocations(&self, school_id: &Id16) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT list, sequence FROM revocations WHERE school_id = ?1")?
                .query_row([school_id.as_slice()], |row| {
                    Ok((row.get(0)?, to_u64(row.get(1)?)))
                })
                .optional()
        })
    }

    fn revocation_sequence(&self, school_id: &Id16) -> Result<Option<u64>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT sequence FROM revocations WHERE school_id = ?1")?
                .query_row([school_id.as_slice()], |row| Ok(to_u64(row.get(0)?)))
                .optional()
        })
    }

    fn prekey_owner(&self, bundle_id: &Id16) -> Result<Option<PublicKey>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT owner_key FROM prekey_bundles WHERE bundle_id = ?1")?
                .query_row([bundle_id.as_slice()], |row| row.get::<_, Vec<u8>>(0))
                .optional()?
                .as_deref()
                .map(key32)
                .transpose()
        })
    }

    fn prekey_count(&self, bundle_id: &Id16) -> Result<u64, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT count(*) FROM prekeys WHERE bundle_id = ?1")?
                .query_row([bundle_id.as_slice()], |row| row.get::<_, i64>(0))
                .map(to_u64)
        })
    }

    fn may_take_prekeys(
        &self,
        bundle_id: &Id16,
        member_key: &PublicKey,
    ) -> Result<bool, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM prekey_bundles b \
                 JOIN members o ON o.member_key = b.owner_key \
                 JOIN members t ON t.school_id = o.school_id AND t.member_key = ?2 \
                 WHERE b.bundle_id = ?1)",
            )?
            .query_row([bundle_id.as_slice(), member_key.as_slice()], |row| {
                row.get(0)
            })
        })
    }

    fn queue_auth_key(&self, receive_id: &ReceiveId) -> Result<Option<PublicKey>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT auth_key FROM queues WHERE receive_id = ?1")?
                .query_row([receive_id.as_bytes().as_slice()], |row| {
                    row.get::<_, Vec<u8>>(0)
                })
                .optional()?
                .as_deref()
                .map(key32)
                .transpose()
        })
    }

    fn pending(&self, receive_ids: &[ReceiveId]) -> Result<Vec<ReceiveId>, StoreError> {
        // From memory (see `mail_index`): the same cost for 1 or 10,000 ids listed.
        Ok(self.mail.pending(receive_ids))
    }

    fn fetch(
        &self,
        receive_id: &ReceiveId,
        after: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<FetchPage, StoreError> {
        self.read(|conn| {
            // One row past the limit tells whether more follow.
            let mut statement = conn.prepare_cached(
                "SELECT m.seq, m.envelope, b.content FROM messages m \
                 JOIN queues q ON q.queue = m.queue \
                 LEFT JOIN bodies b ON b.body = m.body \
                 WHERE q.receive_id = ?1 AND m.seq > ?2 ORDER BY m.seq LIMIT ?3",
            )?;
            let mut rows = statement.query(params![
                receive_id.as_bytes().as_slice(),
                to_i64(after),
                i64::from(limit) + 1
            ])?;
            let mut page = FetchPage::default();
            let mut total = 0usize;
            while let Some(row) = rows.next()? {
                let mut envelope: Vec<u8> = row.get(1)?;
                // A shared body follows its row's prefix.
                if let Some(body) = row.get_ref(2)?.as_blob_or_null()? {
                    envelope.extend_from_slice(body);
                }
                total = total.saturating_add(envelope.len());
                let full = page.messages.len() >= limit as usize
                    || (total > max_bytes && !page.messages.is_empty());
                if full {
                    page.more = true;
                    break;
                }
                page.messages.push(StoredMessage {
                    id: to_u64(row.get(0)?),
                    envelope,
                });
            }
            Ok(page)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::store::QueueQuota;

    const QUOTA: QueueQuota = QueueQuota {
        max_messages: 100,
        max_bytes: 1 << 20,
    };

    /// A version 4 database with one prekey (no signature column yet) is upgraded in
    /// place: the key is still handed out, with an empty signature (clients refuse it),
    /// and new uploads keep theirs.
    #[test]
    fn a_version_4_database_gains_prekey_signatures() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute_batch(SCHEMA_V2).unwrap();
            conn.execute_batch(SCHEMA_V3).unwrap();
            conn.execute_batch(SCHEMA_V4).unwrap();
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO prekeys (bundle_id, key_id, key) VALUES (?1, 1, ?2)",
                params![[9u8; 16].as_slice(), [7u8; 32].as_slice()],
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let take = WriteOp::TakePrekey { bundle_id: [9; 16] };
        let old = UploadedPrekey {
            id: 1,
            key: [7; 32],
            signature: Vec::new(),
        };
        assert_eq!(
            store.write_batch(std::slice::from_ref(&take)).unwrap(),
            [WriteOutcome::Prekey(old)]
        );
        let new = UploadedPrekey {
            id: 2,
            key: [8; 32],
            signature: vec![6; 64],
        };
        store
            .write_batch(&[WriteOp::PutPrekeys {
                bundle_id: [9; 16],
                owner_key: [5; 32],
                keys: vec![new.clone()],
                max_stored: 10,
            }])
            .unwrap();
        assert_eq!(
            store.write_batch(&[take]).unwrap(),
            [WriteOutcome::Prekey(new)]
        );
    }

    fn queue(store: &SqliteStore, n: u8) -> ReceiveId {
        let auth_key = [n; 32];
        store
            .write_batch(&[WriteOp::CreateQueue {
                send_id: [n; 16],
                auth_key,
                mailbox: false,
            }])
            .unwrap();
        ReceiveId::for_key(&auth_key)
    }

    fn deposit(store: &SqliteStore, n: u8, now: i64) {
        let outcome = store
            .write_batch(&[WriteOp::Deposit {
                send_id: [n; 16],
                envelope: vec![n; 40],
                quota: QUOTA,
                now,
                sender: None,
            }])
            .unwrap();
        assert!(matches!(outcome[0], WriteOutcome::Deposited { .. }));
    }

    fn deposit_op(n: u8, len: usize, quota: QueueQuota) -> WriteOp {
        WriteOp::Deposit {
            send_id: [n; 16],
            envelope: vec![n; len],
            quota,
            now: 1,
            sender: None,
        }
    }

    /// The counters a batch holds in memory agree with the stored messages after
    /// batches that mix deposits to one queue with acknowledgements, a quota reached
    /// mid-batch and an unknown queue.
    #[test]
    fn held_counters_agree_with_the_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let first = queue(&store, 1);
        queue(&store, 2);
        let two = QueueQuota {
            max_messages: 3,
            max_bytes: 1 << 20,
        };
        let outcomes = store
            .write_batch(&[
                deposit_op(1, 40, QUOTA),
                deposit_op(1, 50, QUOTA),
                deposit_op(2, 60, two),
                WriteOp::Ack {
                    receive_id: first,
                    ids: vec![1],
                },
                deposit_op(1, 70, QUOTA),
                deposit_op(9, 40, QUOTA),
                deposit_op(2, 60, two),
                deposit_op(2, 60, two),
                deposit_op(2, 60, two),
            ])
            .unwrap();
        let ids: Vec<Option<u64>> = outcomes
            .iter()
            .map(|outcome| match outcome {
                WriteOutcome::Deposited { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(
            ids,
            [
                Some(1),
                Some(2),
                Some(1),
                None,
                Some(3),
                None,
                Some(2),
                Some(3),
                None
            ]
        );
        assert_eq!(outcomes[3], WriteOutcome::Deleted(1));
        assert_eq!(outcomes[5], WriteOutcome::NotFound);
        assert_eq!(outcomes[8], WriteOutcome::Full);
        let conn = store.writer.lock().unwrap();
        let rows: Vec<(i64, i64, i64, i64, i64, i64)> = conn
            .prepare(
                "SELECT q.message_count, q.byte_count, q.last_seq, count(m.id), \
                 coalesce(sum(length(m.envelope)), 0), coalesce(max(m.seq), 0) \
                 FROM queues q LEFT JOIN messages m ON m.queue = q.queue \
                 GROUP BY q.queue ORDER BY q.queue",
            )
            .unwrap()
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(2, 120, 3, 2, 120, 3), (3, 180, 3, 3, 180, 3)]);
    }

    /// With checkpoints on their own thread, deposits keep committing (none refused as
    /// "database is locked") while the log restarts, and the log stays bounded: 80 MiB
    /// go through a log that never grows past 56 MiB.
    #[test]
    fn the_log_restarts_while_deposits_keep_coming() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        queue(&store, 1);
        let quota = QueueQuota {
            max_messages: 1 << 20,
            max_bytes: 1 << 40,
        };
        let wal = dir.path().join(format!("{DATABASE_FILE}-wal"));
        let mut largest = 0;
        for _ in 0..640 {
            let ops: Vec<WriteOp> = (0..16).map(|_| deposit_op(1, 8192, quota)).collect();
            let outcomes = store.write_batch(&ops).unwrap();
            assert!(
                outcomes
                    .iter()
                    .all(|outcome| matches!(outcome, WriteOutcome::Deposited { .. }))
            );
            largest = largest.max(std::fs::metadata(&wal).unwrap().len());
        }
        assert!(largest < 56 << 20, "the log grew to {largest} bytes");
    }

    /// Expiry purges shared bodies with their last message, and the queues' counters
    /// fall back to zero (body bytes included).
    #[test]
    fn the_purge_releases_shared_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let (a, b) = (queue(&store, 1), queue(&store, 2));
        let outcome = store
            .write_batch(&[WriteOp::DepositShared {
                send_ids: vec![[1; 16], [2; 16]],
                prefix: [2; 17],
                body: vec![7; 500],
                quota: QUOTA,
                now: 100,
                sender: None,
            }])
            .unwrap();
        let WriteOutcome::DepositedShared(results) = &outcome[0] else {
            panic!("{outcome:?}");
        };
        assert!(
            results
                .iter()
                .all(|r| matches!(r, WriteOutcome::Deposited { .. }))
        );
        let page = store.fetch(&a, 0, 10, 1 << 20).unwrap();
        assert_eq!(page.messages[0].envelope.len(), 517);
        assert_eq!(page.messages[0].envelope[1..17], [0; 16]);
        let count = |sql: &str| -> i64 {
            store
                .read(|conn| conn.query_row(sql, [], |row| row.get(0)))
                .unwrap()
        };
        assert_eq!(count("SELECT sum(byte_count) FROM queues"), 2 * 517);
        store
            .write_batch(&[WriteOp::PurgeMessages {
                before: 500,
                limit: 10,
            }])
            .unwrap();
        assert_eq!(count("SELECT count(*) FROM bodies"), 0);
        assert_eq!(
            count("SELECT sum(byte_count) + sum(message_count) FROM queues"),
            0
        );
        assert!(store.pending(&[a, b]).unwrap().is_empty());
    }

    /// The in-memory answer to "which queues hold mail" follows the expiry purge, and
    /// agrees with the database after a reopen.
    #[test]
    fn pending_follows_the_purge_and_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let (old, new) = (queue(&store, 1), queue(&store, 2));
        deposit(&store, 1, 100);
        deposit(&store, 2, 100);
        deposit(&store, 2, 900);
        assert_eq!(store.pending(&[old, new]).unwrap(), vec![old, new]);
        store
            .write_batch(&[WriteOp::PurgeMessages {
                before: 500,
                limit: 10,
            }])
            .unwrap();
        assert_eq!(store.pending(&[old, new]).unwrap(), vec![new]);
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.pending(&[old, new]).unwrap(), vec![new]);
    }

    /// A batch that fails rolls back, and the set keeps its earlier answer.
    #[test]
    fn a_failed_batch_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let id = queue(&store, 3);
        // A deposit, then an operation that fails inside the same transaction: the
        // table it writes to is gone.
        store
            .writer
            .lock()
            .unwrap()
            .execute_batch("DROP TABLE invites")
            .unwrap();
        let failed = store.write_batch(&[
            WriteOp::Deposit {
                send_id: [3; 16],
                envelope: vec![3; 40],
                quota: QUOTA,
                now: 1,
                sender: None,
            },
            WriteOp::PurgeInvites { now: 1 },
        ]);
        assert!(failed.is_err());
        assert_eq!(store.pending(&[id]).unwrap(), Vec::<ReceiveId>::new());
    }
}

#[cfg(test)]
mod invite_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// Redemption erases the record in the same transaction; only the member key that
    /// redeemed may redeem again (a resumed join), and the tombstone cannot be
    /// overwritten with a new record.
    #[test]
    fn redemption_erases_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let (school, lookup, redeem_key, member) = ([1; 16], [2; 16], [3; 32], [4; 32]);
        let put = WriteOp::PutInvite {
            school_id: school,
            lookup_id: lookup,
            record: vec![7; 300],
            redeem_key,
            expires_at: 1_000,
        };
        let redeem = |member_key| WriteOp::RedeemInvite {
            school_id: school,
            lookup_id: lookup,
            redeem_key,
            member_key,
            now: 10,
        };
        store
            .write_batch(&[WriteOp::RegisterSchool {
                school_id: school,
                root_key: [9; 32],
            }])
            .unwrap();
        assert!(matches!(
            store.write_batch(std::slice::from_ref(&put)).unwrap()[0],
            WriteOutcome::Created
        ));
        assert!(matches!(
            store.write_batch(&[redeem(member)]).unwrap()[0],
            WriteOutcome::Done
        ));
        let invite = store.invite(&school, &lookup, 10).unwrap().unwrap();
        assert!(invite.redeemed && invite.record.is_empty());
        assert_eq!(invite.redeemed_by, Some(member));
        assert!(matches!(
            store.write_batch(&[redeem(member)]).unwrap()[0],
            WriteOutcome::Done
        ));
        assert!(matches!(
            store.write_batch(&[redeem([5; 32])]).unwrap()[0],
            WriteOutcome::Conflict
        ));
        assert!(matches!(
            store.write_batch(&[put]).unwrap()[0],
            WriteOutcome::Conflict
        ));
        assert!(
            store
                .invite(&school, &lookup, 10)
                .unwrap()
                .unwrap()
                .record
                .is_empty()
        );
    }
}

#[cfg(test)]
mod migration_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::store::QueueQuota;

    /// A relay database of schema 4 (send ids in clear, one global message counter) is
    /// converted in place: send ids hashed, envelopes' send ids zeroed, per-queue
    /// sequence numbers in deposit order; mail keeps flowing afterwards.
    #[test]
    fn a_schema_4_database_is_converted_and_keeps_its_mail() {
        let dir = tempfile::tempdir().unwrap();
        let (send_a, send_b) = ([0xa1; 16], [0xb2; 16]);
        let (key_a, key_b) = ([0x11; 32], [0x22; 32]);
        let envelope = |send_id: [u8; 16], body: u8| {
            let mut e = vec![1u8];
            e.extend_from_slice(&send_id);
            e.extend_from_slice(&[body; 30]);
            e
        };
        {
            create_private_dir(dir.path()).unwrap();
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute_batch(SCHEMA_V2).unwrap();
            conn.execute_batch(SCHEMA_V3).unwrap();
            conn.execute_batch(SCHEMA_V4).unwrap();
            conn.pragma_update(None, "user_version", 4).unwrap();
            for (queue, send_id, key) in [(1, send_a, key_a), (2, send_b, key_b)] {
                conn.execute(
                    "INSERT INTO queues (queue, send_id, receive_id, auth_key, message_count, \
                     byte_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        queue,
                        send_id.as_slice(),
                        ReceiveId::for_key(&key).as_bytes().as_slice(),
                        key.as_slice(),
                        if queue == 1 { 2 } else { 1 },
                        if queue == 1 { 94 } else { 47 }
                    ],
                )
                .unwrap();
            }
            // Global ids 1 (A), 2 (B), 3 (A): the order a thief could read before.
            for (queue, send_id, body) in [(1, send_a, 1u8), (2, send_b, 2), (1, send_a, 3)] {
                conn.execute(
                    "INSERT INTO messages (queue, created_at, envelope) VALUES (?1, 0, ?2)",
                    params![queue, envelope(send_id, body)],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let page = |key: &[u8; 32]| {
            store
                .fetch(&ReceiveId::for_key(key), 0, 100, 1 << 20)
                .unwrap()
                .messages
                .into_iter()
                .map(|m| (m.id, m.envelope))
                .collect::<Vec<_>>()
        };
        let zeroed = |body: u8| envelope([0; 16], body);
        assert_eq!(page(&key_a), [(1, zeroed(1)), (2, zeroed(3))]);
        assert_eq!(page(&key_b), [(1, zeroed(2))]);
        // Deposits find their queue by the hashed send id and continue its sequence.
        let outcome = store
            .write_batch(&[WriteOp::Deposit {
                send_id: send_a,
                envelope: envelope(send_a, 4),
                quota: QueueQuota {
                    max_messages: 10,
                    max_bytes: 1 << 20,
                },
                now: 0,
                sender: None,
            }])
            .unwrap();
        assert!(matches!(outcome[0], WriteOutcome::Deposited { id: 3, .. }));
        assert_eq!(page(&key_a).len(), 3);
        let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let clear: i64 = conn
            .query_row(
                "SELECT count(*) FROM queues WHERE send_hash IN (?1, ?2)",
                params![send_a.as_slice(), send_b.as_slice()],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(clear, 0, "a send id is stored in clear");
    }
}
