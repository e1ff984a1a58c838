//! [`SqliteStore`]: the client's state in one SQLite file, encrypted value by value.
//!
//! Every change that must not roll back (a session's ratchet state, the account's
//! prekeys, a received message, an outgoing envelope) happens inside
//! [`SqliteStore::write`]: one `BEGIN IMMEDIATE` transaction, which takes SQLite's write
//! lock *before* anything is read. Two processes, two threads or two clients on one
//! folder therefore never load the same session state to advance it: the second waits
//! for the first to commit and then reads the new state. Session rows also carry a
//! version that every update checks, so a state read outside such a transaction can
//! never overwrite a newer one ([`StoreError::Conflict`]).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use satchel_core::{
    Account, DeviceCertificate, QUEUE_ID_LEN, ReceiveId, SendId, Session, SessionId, StateError,
};

use super::cipher::{CipherError, StoreCipher, StoreKey};
use super::records::{ContactRecord, IssuedInvite, MessageRecord, StoredSession};
use super::schema;

/// The store failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed (disk full, permissions, a locked or damaged file).
    #[error("the local database failed: {0} (check disk space and permissions, then try again)")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored account or session does not load.
    #[error("stored state does not load: {0}")]
    State(#[from] StateError),
    /// The database was written by a newer version of Satchel.
    #[error(
        "the local database is from a newer Satchel (schema {found}, this one knows {known}): update Satchel"
    )]
    NewerSchema {
        /// Schema version found.
        found: i64,
        /// Newest schema this build knows.
        known: i64,
    },
    /// The key does not open this database.
    #[error(
        "this key does not open the local database: wrong passphrase, or the app's key for another profile"
    )]
    WrongKey,
    /// A stored value does not decrypt or has the wrong shape.
    #[error("the local database is damaged ({0}): restore it from a backup")]
    Corrupted(&'static str),
    /// A value could not be encrypted (the system's random number generator failed).
    #[error("cannot encrypt a value for the local database: {0}")]
    Encrypt(CipherError),
    /// Another writer changed a session after it was read; the operation can be retried.
    #[error("another Satchel process changed this conversation at the same time: try again")]
    Conflict,
}

impl From<CipherError> for StoreError {
    fn from(error: CipherError) -> Self {
        match error {
            CipherError::WrongKey => StoreError::WrongKey,
            CipherError::Damaged
            | CipherError::Truncated { .. }
            | CipherError::UnknownVersion { .. } => StoreError::Corrupted("an encrypted value"),
            other => StoreError::Encrypt(other),
        }
    }
}

/// The blind index of a conversation: one per peer *account key*, so a stranger who
/// reuses someone's account id under another key is a separate conversation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConversationKey([u8; 32]);

impl std::fmt::Debug for ConversationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConversationKey(..)")
    }
}

/// A stored session with what the store keeps beside it.
pub struct StoredSessionRow {
    /// The session.
    pub session: Session,
    /// The school certificate the peer presented (or the directory listed).
    pub peer_certificate: Option<Vec<u8>>,
    /// Whether the session's inbound queue exists on the relay.
    pub queue_ready: bool,
    version: i64,
}

impl std::fmt::Debug for StoredSessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSessionRow")
            .field("session", &self.session.id())
            .field("queue_ready", &self.queue_ready)
            .finish_non_exhaustive()
    }
}

/// The client's SQLite store. One connection; share it behind a lock, or open one per
/// thread or process: [`SqliteStore::write`] serialises writers across all of them.
pub struct SqliteStore {
    conn: Connection,
    cipher: StoreCipher,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

const ACCOUNT_KEY: &str = "account";
/// The receive ids of every inbound queue that exists on the relay, concatenated, as one
/// encrypted value: a sync reads one value, not one per conversation.
const QUEUES_KEY: &str = "inbound_queues";
const KEY_CHECK: &str = "key_check";
/// How long a writer waits for another process's transaction (a sync of a large page
/// holds the lock for well under a second).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn ctx(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for part in parts {
        out.extend_from_slice(part);
        out.push(0);
    }
    out
}

/// Everything a device certificate says about who the peer is.
fn identity_bytes(device: &DeviceCertificate) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + 32 + 16 + 32 + 32);
    bytes.extend_from_slice(device.account_id().as_bytes());
    bytes.extend_from_slice(device.account_key());
    bytes.extend_from_slice(device.device_id().as_bytes());
    bytes.extend_from_slice(device.device_dh_key());
    bytes.extend_from_slice(device.device_signing_key());
    bytes
}

/// Reads shared by [`SqliteStore`] and [`Writer`].
struct Reader<'a> {
    conn: &'a Connection,
    cipher: &'a StoreCipher,
}

impl Reader<'_> {
    /// Every row of a table of sealed records (`SELECT <index>, record`), opened with
    /// the context `table || index` and decoded.
    fn sealed_records<T>(
        &self,
        sql: &str,
        table: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        rows.map(|row| {
            let (index, sealed) = row?;
            let plain = self.cipher.open(&ctx(&[table, &index]), &sealed)?;
            decode(&plain)
        })
        .collect()
    }

    /// The local copy of the school directory, by name.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails or a row is damaged.
    fn contacts(&self) -> Result<Vec<ContactRecord>, StoreError> {
        let mut contacts = self.sealed_records(
            "SELECT entry, record FROM contacts",
            b"contacts",
            ContactRecord::decode,
        )?;
        contacts.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.account_id.cmp(&b.account_id))
        });
        Ok(contacts)
    }

    /// Every invite this admin device issued, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    fn issued(&self) -> Result<Vec<IssuedInvite>, StoreError> {
        let mut issued = self.sealed_records(
            "SELECT grant, record FROM issued",
            b"issued",
            IssuedInvite::decode,
        )?;
        issued.sort_by_key(|i| (i.issued_at, i.grant_id));
        Ok(issued)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |row| row.get(0))
            .optional()?;
        sealed
            .map(|s| {
                Ok(self
                    .cipher
                    .open(&ctx(&[b"meta", key.as_bytes()]), &s)?
                    .to_vec())
            })
            .transpose()
    }

    fn account(&self) -> Result<Option<Account>, StoreError> {
        self.meta(ACCOUNT_KEY)?
            .map(|bytes| Ok(Account::from_bytes(&bytes)?))
            .transpose()
    }

    fn session_row(
        &self,
        id_index: &[u8; 32],
        secret: &[u8],
        queue_ready: bool,
        version: i64,
    ) -> Result<StoredSessionRow, StoreError> {
        let plain = self.cipher.open(&ctx(&[b"sessions", id_index]), secret)?;
        let stored = <StoredSession as prost::Message>::decode(plain.as_slice())
            .map_err(|_| StoreError::Corrupted("session"))?;
        Ok(StoredSessionRow {
            session: Session::from_bytes(&stored.state)?,
            peer_certificate: stored.peer_certificate,
            queue_ready,
            version,
        })
    }

    /// Sessions selected by `filter` (a `WHERE` clause or nothing) with `params`.
    fn sessions(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<StoredSessionRow>, StoreError> {
        let sql =
            format!("SELECT id, secret, queue_ready, version FROM sessions {filter} ORDER BY id");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(params, |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, bool>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (id, secret, ready, version) = row?;
            let id: [u8; 32] = id
                .try_into()
                .map_err(|_| StoreError::Corrupted("session id"))?;
            self.session_row(&id, &secret, ready, version)
        })
        .collect()
    }

    /// Sessions whose `column` holds the blind index of `value` in `domain`.
    fn sessions_by(
        &self,
        column: &str,
        domain: &[u8],
        value: &[u8],
    ) -> Result<Vec<StoredSessionRow>, StoreError> {
        let index = self.cipher.index(domain, value);
        self.sessions(&format!("WHERE {column} = ?1"), [index.as_slice()])
    }

    /// The one session whose `column` holds the blind index of `value` in `domain`.
    fn session_by(
        &self,
        column: &str,
        domain: &[u8],
        value: &[u8],
    ) -> Result<Option<StoredSessionRow>, StoreError> {
        Ok(self.sessions_by(column, domain, value)?.into_iter().next())
    }

    fn session(&self, id: &SessionId) -> Result<Option<StoredSessionRow>, StoreError> {
        self.session_by("id", b"session", id.as_bytes())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with `key`, and brings its
    /// schema up to date. A Satchel 0.1 file (plaintext) is encrypted in place on the
    /// first open and vacuumed.
    ///
    /// # Errors
    /// [`StoreError::WrongKey`] if the file was written under another key;
    /// [`StoreError::NewerSchema`]; SQLite errors.
    pub fn open(path: &Path, key: &StoreKey) -> Result<Self, StoreError> {
        Self::init(Connection::open(path)?, key)
    }

    /// **Benchmarks only**: a store whose values are written in the clear.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    #[cfg(feature = "bench-unencrypted")]
    #[doc(hidden)]
    pub fn open_unencrypted_for_benchmarks(
        path: &Path,
        key: &StoreKey,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init_with(conn, StoreCipher::unencrypted_for_benchmarks(key))
    }

    /// An in-memory database (tests, ephemeral sessions).
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn in_memory(key: &StoreKey) -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, key)
    }

    fn init(conn: Connection, key: &StoreKey) -> Result<Self, StoreError> {
        Self::init_with(conn, StoreCipher::new(key))
    }

    fn init_with(conn: Connection, cipher: StoreCipher) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Deleted rows are overwritten with zeros, not left in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let mut store = Self { conn, cipher };
        store.migrate()?;
        Ok(store)
    }

    fn reader(&self) -> Reader<'_> {
        Reader {
            conn: &self.conn,
            cipher: &self.cipher,
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        if found > schema::CURRENT {
            return Err(StoreError::NewerSchema {
                found,
                known: schema::CURRENT,
            });
        }
        if found == schema::CURRENT {
            return self.check_key();
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while this one waited for the lock.
        let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let converted = match found {
            0 => {
                tx.execute_batch(schema::V3)?;
                false
            }
            1 | 2 => {
                if found == 1 {
                    tx.execute_batch(schema::LEGACY_V2_FROM_V1)?;
                }
                super::legacy::convert(&tx, &self.cipher)?;
                true
            }
            3 | 4 => {
                if found == 3 {
                    tx.execute_batch(schema::V4)?;
                }
                tx.execute_batch(schema::V5)?;
                tx.pragma_update(None, "user_version", schema::CURRENT)?;
                tx.commit()?;
                return self.check_key();
            }
            _ => {
                drop(tx);
                return self.check_key();
            }
        };
        tx.execute_batch(schema::V4)?;
        tx.execute_batch(schema::V5)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![KEY_CHECK, self.cipher.key_check().as_slice()],
        )?;
        tx.pragma_update(None, "user_version", schema::CURRENT)?;
        tx.commit()?;
        if converted {
            // Rewrite the file so that no page of the plaintext tables survives, and
            // empty the write-ahead log that held them.
            self.conn.execute_batch("VACUUM")?;
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    fn check_key(&self) -> Result<(), StoreError> {
        let stored: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [KEY_CHECK],
                |row| row.get(0),
            )
            .optional()?;
        let stored = stored.ok_or(StoreError::Corrupted("key check"))?;
        Ok(self.cipher.verify_key_check(&stored)?)
    }

    /// Runs `change` in one write transaction (SQLite's write lock is taken first, so
    /// nothing it reads can be changed by another writer before it commits). Nothing is
    /// written if `change` fails.
    ///
    /// # Errors
    /// What `change` returns, or [`StoreError`] if the transaction cannot start or
    /// commit.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        change: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let mut writer = Writer {
            tx: &tx,
            cipher: &self.cipher,
        };
        let value = change(&mut writer)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// The conversation key for a peer (its account id and account key).
    #[must_use]
    pub fn conversation_of(&self, device: &DeviceCertificate) -> ConversationKey {
        conversation_of(&self.cipher, device)
    }

    /// A small setting (profile values), decrypted.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails or the value does not decrypt.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.reader().meta(key)
    }

    /// The conversation key of a group's thread.
    #[must_use]
    pub fn group_conversation(&self, group_id: &[u8; 16]) -> ConversationKey {
        ConversationKey(self.cipher.index(b"group conversation", group_id))
    }

    /// Every stored group record.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn groups(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.reader()
            .sealed_records("SELECT id, record FROM groups", b"groups", |plain| {
                Ok(plain.to_vec())
            })
    }

    /// The account, if enrolled.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails or the account does not load.
    pub fn account(&self) -> Result<Option<Account>, StoreError> {
        self.reader().account()
    }

    /// A session by id (a read outside any write: use it for display, not to advance).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn session(&self, id: &SessionId) -> Result<Option<StoredSessionRow>, StoreError> {
        self.reader().session(id)
    }

    /// Every session, with whether its inbound queue exists on the relay.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn all_sessions(&self) -> Result<Vec<StoredSessionRow>, StoreError> {
        self.reader().sessions("", [])
    }

    /// The local copy of the school directory, by name.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails or a row is damaged.
    pub fn contacts(&self) -> Result<Vec<ContactRecord>, StoreError> {
        self.reader().contacts()
    }

    /// Every invite this admin device issued, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn issued(&self) -> Result<Vec<IssuedInvite>, StoreError> {
        self.reader().issued()
    }

    /// The conversation `conversation`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails or a row is damaged.
    pub fn history(
        &self,
        conversation: &ConversationKey,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT dedupe, payload FROM messages WHERE conversation = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([conversation.0.as_slice()], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        rows.map(|row| {
            let (dedupe, sealed) = row?;
            let plain = self
                .cipher
                .open(&ctx(&[b"messages", &conversation.0, &dedupe]), &sealed)?;
            MessageRecord::decode(&plain)
        })
        .collect()
    }

    /// Envelopes not yet accepted by the relay, oldest first: `(outbox id, envelope)`.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn outbox(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, envelope FROM outbox ORDER BY id")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        rows.map(|row| {
            let (id, sealed) = row?;
            Ok((id, self.cipher.open(b"outbox\0", &sealed)?.to_vec()))
        })
        .collect()
    }

    /// When the oldest outbox envelope was queued, if any.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn outbox_oldest(&self) -> Result<Option<u64>, StoreError> {
        let oldest: Option<i64> =
            self.conn
                .query_row("SELECT MIN(created_at) FROM outbox", [], |row| row.get(0))?;
        Ok(oldest.map(|at| u64::try_from(at).unwrap_or(0)))
    }

    /// Removes an envelope the relay has accepted.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn outbox_remove(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM outbox WHERE id = ?1", [id])?;
        Ok(())
    }

    /// The receive ids of every inbound queue that exists on the relay (one stored
    /// value, whatever the number of conversations).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn ready_queues(&self) -> Result<Vec<ReceiveId>, StoreError> {
        ready_queues(&self.reader())
    }

    /// Sessions whose inbound queue is not on the relay yet.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn sessions_without_queue(&self) -> Result<Vec<StoredSessionRow>, StoreError> {
        self.reader().sessions("WHERE queue_ready = 0", [])
    }

    /// The session whose inbound queue has this receive id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn session_for_receive(
        &self,
        receive_id: &ReceiveId,
    ) -> Result<Option<StoredSessionRow>, StoreError> {
        self.reader()
            .session_by("receive", b"receive", receive_id.as_bytes())
    }
}

fn ready_queues(reader: &Reader<'_>) -> Result<Vec<ReceiveId>, StoreError> {
    let bytes = reader.meta(QUEUES_KEY)?.unwrap_or_default();
    Ok(bytes
        .chunks_exact(QUEUE_ID_LEN)
        .filter_map(|chunk| chunk.try_into().ok().map(ReceiveId::from_bytes))
        .collect())
}

fn conversation_of(cipher: &StoreCipher, device: &DeviceCertificate) -> ConversationKey {
    let mut bytes = Vec::with_capacity(48);
    bytes.extend_from_slice(device.account_id().as_bytes());
    bytes.extend_from_slice(device.account_key());
    ConversationKey(cipher.index(b"conversation", &bytes))
}

/// One write transaction ([`SqliteStore::write`]).
pub struct Writer<'a> {
    tx: &'a Connection,
    cipher: &'a StoreCipher,
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl<'a> Writer<'a> {
    /// A writer over an open transaction (the legacy conversion runs inside the
    /// migration's transaction).
    pub(crate) fn within(tx: &'a Connection, cipher: &'a StoreCipher) -> Self {
        Self { tx, cipher }
    }

    fn reader(&self) -> Reader<'_> {
        Reader {
            conn: self.tx,
            cipher: self.cipher,
        }
    }

    /// The conversation key for a peer.
    #[must_use]
    pub fn conversation_of(&self, device: &DeviceCertificate) -> ConversationKey {
        conversation_of(self.cipher, device)
    }

    /// Where a Satchel 0.1 message goes whose peer's account key is unknown.
    pub(crate) fn legacy_conversation(&self, account_id: &[u8; 16]) -> ConversationKey {
        ConversationKey(self.cipher.index(b"legacy conversation", account_id))
    }

    /// A setting, decrypted.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.reader().meta(key)
    }

    /// Sets a setting (encrypted).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let sealed = self.cipher.seal(&ctx(&[b"meta", key.as_bytes()]), value)?;
        self.tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, sealed],
        )?;
        Ok(())
    }

    /// Removes a setting (nothing if it is not set).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        self.tx.execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// The account, if enrolled.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn account(&self) -> Result<Option<Account>, StoreError> {
        self.reader().account()
    }

    /// Saves the account.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.set_meta(ACCOUNT_KEY, &account.to_bytes())
    }

    /// A session by id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn session(&self, id: &SessionId) -> Result<Option<StoredSessionRow>, StoreError> {
        self.reader().session(id)
    }

    /// The session whose inbound queue is `send_id`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn session_for_queue(
        &self,
        send_id: &SendId,
    ) -> Result<Option<StoredSessionRow>, StoreError> {
        self.reader()
            .session_by("inbound", b"queue", send_id.as_bytes())
    }

    /// Every session with exactly this peer device (account id, account key, device id
    /// and device keys all equal).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn sessions_with(
        &self,
        peer: &DeviceCertificate,
    ) -> Result<Vec<StoredSessionRow>, StoreError> {
        self.reader()
            .sessions_by("peer", b"peer", &identity_bytes(peer))
    }

    /// Stores a new session (its id must be new).
    ///
    /// # Errors
    /// [`StoreError`]; [`StoreError::Conflict`] if a session with that id or inbound
    /// queue exists.
    pub fn insert_session(
        &self,
        session: &Session,
        peer_certificate: Option<&[u8]>,
        queue_ready: bool,
    ) -> Result<(), StoreError> {
        let id = self.cipher.index(b"session", session.id().as_bytes());
        let sealed = self.seal_session(&id, session, peer_certificate)?;
        let receive_id = session.inbound_queue().receive_id();
        let inserted = self.tx.execute(
            "INSERT OR IGNORE INTO sessions (id, peer, conversation, inbound, receive, queue_ready, version, secret)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)",
            params![
                id.as_slice(),
                self.cipher.index(b"peer", &identity_bytes(session.peer())).as_slice(),
                conversation_of(self.cipher, session.peer()).0.as_slice(),
                self.cipher
                    .index(b"queue", session.inbound_queue().send_id().as_bytes())
                    .as_slice(),
                self.cipher.index(b"receive", receive_id.as_bytes()).as_slice(),
                queue_ready,
                sealed,
            ],
        )?;
        if inserted != 1 {
            return Err(StoreError::Conflict);
        }
        if queue_ready {
            self.add_ready_queue(&receive_id)?;
        }
        Ok(())
    }

    /// The receive ids of the inbound queues that exist on the relay.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn ready_queues(&self) -> Result<Vec<ReceiveId>, StoreError> {
        ready_queues(&self.reader())
    }

    fn add_ready_queue(&self, receive_id: &ReceiveId) -> Result<(), StoreError> {
        let mut ids = self.ready_queues()?;
        if !ids.contains(receive_id) {
            ids.push(*receive_id);
            let bytes: Vec<u8> = ids.iter().flat_map(|id| *id.as_bytes()).collect();
            self.set_meta(QUEUES_KEY, &bytes)?;
        }
        Ok(())
    }

    /// Marks a session's inbound queue as created on the relay.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn set_queue_ready(&self, session: &Session) -> Result<(), StoreError> {
        let index = self.cipher.index(b"session", session.id().as_bytes());
        self.tx.execute(
            "UPDATE sessions SET queue_ready = 1 WHERE id = ?1",
            [index.as_slice()],
        )?;
        self.add_ready_queue(&session.inbound_queue().receive_id())
    }

    fn seal_session(
        &self,
        id: &[u8; 32],
        session: &Session,
        peer_certificate: Option<&[u8]>,
    ) -> Result<Vec<u8>, StoreError> {
        let stored = StoredSession {
            state: session.to_bytes(),
            peer_certificate: peer_certificate.map(<[u8]>::to_vec),
        };
        let plain = zeroize::Zeroizing::new(prost::Message::encode_to_vec(&stored));
        Ok(self.cipher.seal(&ctx(&[b"sessions", id]), &plain)?)
    }

    /// Saves `row.session`'s new state over the row it was read from.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the row changed since it was read (then nothing was
    /// written and the caller must start again from the stored state).
    pub fn update_session(&self, row: &mut StoredSessionRow) -> Result<(), StoreError> {
        let id = self.cipher.index(b"session", row.session.id().as_bytes());
        let sealed = self.seal_session(&id, &row.session, row.peer_certificate.as_deref())?;
        let changed = self.tx.execute(
            "UPDATE sessions SET secret = ?1, version = version + 1 WHERE id = ?2 AND version = ?3",
            params![sealed, id.as_slice(), row.version],
        )?;
        if changed != 1 {
            return Err(StoreError::Conflict);
        }
        row.version += 1;
        Ok(())
    }

    /// Stores a message; returns whether it is new (`false`: a repeat, not stored again).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_message(
        &self,
        conversation: &ConversationKey,
        message: &MessageRecord,
    ) -> Result<bool, StoreError> {
        let mut key = Vec::with_capacity(32 + 1 + 16);
        key.extend_from_slice(&conversation.0);
        key.push(u8::from(message.outgoing));
        key.extend_from_slice(&message.message_id);
        let dedupe = self.cipher.index(b"message", &key);
        let payload = zeroize::Zeroizing::new(message.encode());
        let sealed = self
            .cipher
            .seal(&ctx(&[b"messages", &conversation.0, &dedupe]), &payload)?;
        let inserted = self.tx.execute(
            "INSERT OR IGNORE INTO messages (conversation, dedupe, payload) VALUES (?1, ?2, ?3)",
            params![conversation.0.as_slice(), dedupe.as_slice(), sealed],
        )?;
        Ok(inserted == 1)
    }

    /// Queues an envelope for the relay; returns its outbox id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn push_outbox(&self, envelope: &[u8], created_at: u64) -> Result<i64, StoreError> {
        let sealed = self.cipher.seal(b"outbox\0", envelope)?;
        self.tx.execute(
            "INSERT INTO outbox (envelope, created_at) VALUES (?1, ?2)",
            params![sealed, to_i64(created_at)],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    /// The local copy of the school directory (as [`SqliteStore::contacts`]).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn contacts(&self) -> Result<Vec<ContactRecord>, StoreError> {
        self.reader().contacts()
    }

    /// Records an invite this admin device issued.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_issued(&self, invite: &IssuedInvite) -> Result<(), StoreError> {
        let grant = self.cipher.index(b"issued", &invite.grant_id);
        let plain = zeroize::Zeroizing::new(invite.encode());
        let sealed = self.cipher.seal(&ctx(&[b"issued", &grant]), &plain)?;
        self.tx.execute(
            "INSERT OR REPLACE INTO issued (grant, record) VALUES (?1, ?2)",
            params![grant.as_slice(), sealed],
        )?;
        Ok(())
    }

    /// The conversation key of a group's thread.
    #[must_use]
    pub fn group_conversation(&self, group_id: &[u8; 16]) -> ConversationKey {
        ConversationKey(self.cipher.index(b"group conversation", group_id))
    }

    /// A group's stored record (its state, members and sender keys), if known.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn group(&self, group_id: &[u8; 16]) -> Result<Option<Vec<u8>>, StoreError> {
        let id = self.cipher.index(b"group", group_id);
        let sealed: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT record FROM groups WHERE id = ?1",
                [id.as_slice()],
                |row| row.get(0),
            )
            .optional()?;
        sealed
            .map(|sealed| Ok(self.cipher.open(&ctx(&[b"groups", &id]), &sealed)?.to_vec()))
            .transpose()
    }

    /// Every stored group record.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn groups(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.reader()
            .sealed_records("SELECT id, record FROM groups", b"groups", |plain| {
                Ok(plain.to_vec())
            })
    }

    /// Stores (or replaces) a group's record.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_group(&self, group_id: &[u8; 16], record: &[u8]) -> Result<(), StoreError> {
        let id = self.cipher.index(b"group", group_id);
        let sealed = self.cipher.seal(&ctx(&[b"groups", &id]), record)?;
        self.tx.execute(
            "INSERT OR REPLACE INTO groups (id, record) VALUES (?1, ?2)",
            params![id.as_slice(), sealed],
        )?;
        Ok(())
    }

    /// Keeps a group item that waits for a key; returns its id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn push_group_waiting(&self, item: &[u8], created_at: u64) -> Result<i64, StoreError> {
        let sealed = self.cipher.seal(b"group_waiting\0", item)?;
        self.tx.execute(
            "INSERT INTO group_waiting (item, created_at) VALUES (?1, ?2)",
            params![sealed, to_i64(created_at)],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Every waiting group item, oldest first: (id, item, created at).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn group_waiting(&self) -> Result<Vec<(i64, Vec<u8>, u64)>, StoreError> {
        let mut statement = self
            .tx
            .prepare_cached("SELECT id, item, created_at FROM group_waiting ORDER BY id")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (id, sealed, created_at) = row?;
            let item = self.cipher.open(b"group_waiting\0", &sealed)?.to_vec();
            Ok((id, item, u64::try_from(created_at).unwrap_or(0)))
        })
        .collect()
    }

    /// Forgets a waiting group item.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_group_waiting(&self, id: i64) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM group_waiting WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Replaces an outbox item (a shared deposit that some queues still wait for).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn replace_outbox(&self, id: i64, item: &[u8]) -> Result<(), StoreError> {
        let sealed = self.cipher.seal(b"outbox\0", item)?;
        self.tx.execute(
            "UPDATE outbox SET envelope = ?2 WHERE id = ?1",
            params![id, sealed],
        )?;
        Ok(())
    }

    /// Replaces the local copy of the school directory.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn replace_contacts(&self, contacts: &[ContactRecord]) -> Result<(), StoreError> {
        self.tx.execute("DELETE FROM contacts", [])?;
        let mut insert = self
            .tx
            .prepare_cached("INSERT OR REPLACE INTO contacts (entry, record) VALUES (?1, ?2)")?;
        for contact in contacts {
            let entry = self.cipher.index(b"contact", &contact.entry_id);
            let plain = zeroize::Zeroizing::new(contact.encode());
            let sealed = self.cipher.seal(&ctx(&[b"contacts", &entry]), &plain)?;
            insert.execute(params![entry.as_slice(), sealed])?;
        }
        Ok(())
    }
}
