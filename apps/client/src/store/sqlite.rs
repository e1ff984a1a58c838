//! [`SqliteStore`]: the client's state in one SQLite file.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use satchel_core::storage::traits::{
    self as core_store, AccountStore, ProtocolStore, SessionStore,
};
use satchel_core::{Account, DeviceId, SendId, Session, SessionId, StateError};

use super::schema::MIGRATIONS;

/// The store failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed (disk full, permissions, a locked or damaged file).
    #[error("the local database failed: {0} (check disk space and permissions)")]
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
    /// A stored value has the wrong shape.
    #[error("the local database is damaged ({0}): restore it from a backup")]
    Corrupted(&'static str),
}

impl From<StoreError> for core_store::StoreError {
    fn from(error: StoreError) -> Self {
        core_store::StoreError::new(error)
    }
}

/// One message as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The other person's account id (sender for incoming, recipient for outgoing).
    pub peer_account: [u8; 16],
    /// Whether this device sent it.
    pub outgoing: bool,
    /// The sender's random message id (deduplicates repeats).
    pub message_id: [u8; 16],
    /// The sender's name as verified (or shown) at receipt.
    pub sender_name: String,
    /// The sender's role as verified at receipt (`"teacher"`, or `"unverified"`).
    pub sender_role: String,
    /// Whether the school vouched for the sender when the message arrived.
    pub verified: bool,
    /// The text.
    pub body: String,
    /// The sender's clock, Unix milliseconds.
    pub sent_at: u64,
    /// This device's clock when stored, Unix milliseconds.
    pub stored_at: u64,
}

/// One member device from the school directory, as stored locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    /// The directory entry id.
    pub entry_id: [u8; 16],
    /// The member's account.
    pub account_id: [u8; 16],
    /// The member's device.
    pub device_id: [u8; 16],
    /// The name the school gave them.
    pub name: String,
    /// Their role (`"teacher"`…).
    pub role: String,
    /// Their classes.
    pub classes: Vec<String>,
    /// Their encoded member certificate.
    pub certificate: Vec<u8>,
    /// Their encoded prekey bundle.
    pub bundle: Vec<u8>,
    /// Where the relay hands out their one-time prekeys.
    pub bundle_id: [u8; 16],
    /// When they last updated the entry (Unix seconds).
    pub updated_at: u64,
}

/// The client's SQLite store. One connection; callers serialise access.
pub struct SqliteStore {
    conn: Connection,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

const ACCOUNT_KEY: &str = "account";

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A 16-byte id column; a damaged value reads as zeros (and matches nothing).
fn fixed(bytes: Vec<u8>) -> [u8; 16] {
    bytes.try_into().unwrap_or([0u8; 16])
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to
    /// date.
    ///
    /// # Errors
    /// [`StoreError`] if the file cannot be opened or is from a newer Satchel.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// An in-memory database (tests, ephemeral sessions).
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Self { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        if found > known {
            return Err(StoreError::NewerSchema { found, known });
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (index, migration) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(found).unwrap_or(0))
        {
            tx.execute_batch(migration)?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(index + 1).unwrap_or(i64::MAX),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A small value from the `meta` table (profile settings).
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Sets a `meta` value.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn put_session(tx: &Connection, session: &Session) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO sessions (id, peer_device, peer_account, inbound_send_id, state)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            params![
                session.id().as_bytes().as_slice(),
                session.peer().device_id().as_bytes().as_slice(),
                session.peer().account_id().as_bytes().as_slice(),
                session.inbound_queue().send_id().as_bytes().as_slice(),
                session.to_bytes(),
            ],
        )?;
        Ok(())
    }

    fn put_message(tx: &Connection, message: &MessageRecord) -> Result<bool, StoreError> {
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO messages
                 (peer_account, outgoing, message_id, sender_name, sender_role, verified, body, sent_at, stored_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                message.peer_account.as_slice(),
                message.outgoing,
                message.message_id.as_slice(),
                message.sender_name,
                message.sender_role,
                message.verified,
                message.body,
                to_i64(message.sent_at),
                to_i64(message.stored_at),
            ],
        )?;
        Ok(inserted == 1)
    }

    /// Commits what receiving one message changed, in one transaction: the session's
    /// new state, the account (if the message started the session), the peer's school
    /// certificate (if it presented one) and the message (if there is one to show).
    /// Returns whether the message is new (`false`: already stored, not shown again).
    ///
    /// Acknowledge the envelope on the relay only after this returns.
    ///
    /// # Errors
    /// [`StoreError`]; then nothing was written.
    pub fn commit_received(
        &mut self,
        session: &Session,
        account: Option<&Account>,
        peer_certificate: Option<&[u8]>,
        message: Option<&MessageRecord>,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::put_session(&tx, session)?;
        if let Some(account) = account {
            Self::put_account(&tx, account)?;
        }
        Self::put_peer_certificate(&tx, session, peer_certificate)?;
        let inserted = match message {
            Some(message) => Self::put_message(&tx, message)?,
            None => false,
        };
        tx.commit()?;
        Ok(inserted)
    }

    fn put_peer_certificate(
        tx: &Connection,
        session: &Session,
        certificate: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        if let Some(certificate) = certificate.filter(|c| !c.is_empty()) {
            tx.execute(
                "UPDATE sessions SET peer_certificate = ?1 WHERE id = ?2",
                params![certificate, session.id().as_bytes().as_slice()],
            )?;
        }
        Ok(())
    }

    /// Commits a session's new state with the message it just encrypted and the
    /// envelope to deposit, in one transaction. Returns the outbox id: remove it with
    /// [`SqliteStore::outbox_remove`] once the relay has it, so nothing sent is lost if
    /// the relay is unreachable.
    ///
    /// # Errors
    /// [`StoreError`]; then nothing was written.
    pub fn commit_sent(
        &mut self,
        session: &Session,
        peer_certificate: Option<&[u8]>,
        message: &MessageRecord,
        envelope: &[u8],
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::put_session(&tx, session)?;
        Self::put_peer_certificate(&tx, session, peer_certificate)?;
        Self::put_message(&tx, message)?;
        tx.execute(
            "INSERT INTO outbox (envelope, created_at) VALUES (?1, ?2)",
            params![envelope, to_i64(message.stored_at)],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    /// Envelopes not yet accepted by the relay, oldest first: `(outbox id, envelope)`.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn outbox(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT id, envelope FROM outbox ORDER BY id")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
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

    /// The school certificate a session's peer presented (or the directory listed).
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails.
    pub fn peer_certificate(&self, session: &SessionId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT peer_certificate FROM sessions WHERE id = ?1",
                [session.as_bytes().as_slice()],
                |row| row.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Every stored session (to fetch each one's inbound queue).
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails or a session does not load.
    pub fn all_sessions(&self) -> Result<Vec<Session>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT state FROM sessions ORDER BY id")?;
        let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0))?;
        rows.map(|row| Ok(Session::from_bytes(&row?)?)).collect()
    }

    /// Replaces the local copy of the school directory.
    ///
    /// # Errors
    /// [`StoreError`]; then the old copy stays.
    pub fn replace_contacts(&mut self, contacts: &[ContactRecord]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM contacts", [])?;
        for c in contacts {
            tx.execute(
                "INSERT INTO contacts (entry_id, account_id, device_id, name, role, classes, certificate, bundle, bundle_id, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    c.entry_id.as_slice(),
                    c.account_id.as_slice(),
                    c.device_id.as_slice(),
                    c.name,
                    c.role,
                    c.classes.join("\n"),
                    c.certificate,
                    c.bundle,
                    c.bundle_id.as_slice(),
                    to_i64(c.updated_at),
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The local copy of the school directory, by name.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails or a row is damaged.
    pub fn contacts(&self) -> Result<Vec<ContactRecord>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT entry_id, account_id, device_id, name, role, classes, certificate, bundle, bundle_id, updated_at
             FROM contacts ORDER BY name, account_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(ContactRecord {
                entry_id: fixed(row.get(0)?),
                account_id: fixed(row.get(1)?),
                device_id: fixed(row.get(2)?),
                name: row.get(3)?,
                role: row.get(4)?,
                classes: row
                    .get::<_, String>(5)?
                    .split('\n')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                certificate: row.get(6)?,
                bundle: row.get(7)?,
                bundle_id: fixed(row.get(8)?),
                updated_at: to_u64(row.get(9)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The conversation with `peer_account`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite fails or a row is damaged.
    pub fn history(&self, peer_account: &[u8; 16]) -> Result<Vec<MessageRecord>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT peer_account, outgoing, message_id, sender_name, sender_role, verified, body, sent_at, stored_at
             FROM messages WHERE peer_account = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([peer_account.as_slice()], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, bool>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, bool>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, i64>(7)?,
                row.get::<_, i64>(8)?,
            ))
        })?;
        rows.map(|row| {
            let (peer, outgoing, id, sender_name, sender_role, verified, body, sent_at, stored_at) =
                row?;
            Ok(MessageRecord {
                peer_account: peer
                    .try_into()
                    .map_err(|_| StoreError::Corrupted("message peer"))?,
                outgoing,
                message_id: id
                    .try_into()
                    .map_err(|_| StoreError::Corrupted("message id"))?,
                sender_name,
                sender_role,
                verified,
                body,
                sent_at: to_u64(sent_at),
                stored_at: to_u64(stored_at),
            })
        })
        .collect()
    }

    fn put_account(tx: &Connection, account: &Account) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![ACCOUNT_KEY, account.to_bytes()],
        )?;
        Ok(())
    }
}

impl AccountStore for SqliteStore {
    fn load_account(&self) -> Result<Option<Account>, core_store::StoreError> {
        let bytes = self.meta(ACCOUNT_KEY)?;
        Ok(bytes
            .map(|b| Account::from_bytes(&b))
            .transpose()
            .map_err(StoreError::from)?)
    }

    fn save_account(&mut self, account: &Account) -> Result<(), core_store::StoreError> {
        Ok(Self::put_account(&self.conn, account)?)
    }
}

impl SessionStore for SqliteStore {
    fn load_session(&self, id: &SessionId) -> Result<Option<Session>, core_store::StoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT state FROM sessions WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |row| row.get(0),
            )
            .optional()
            .map_err(StoreError::from)?;
        Ok(bytes
            .map(|b| Session::from_bytes(&b))
            .transpose()
            .map_err(StoreError::from)?)
    }

    fn save_session(&mut self, session: &Session) -> Result<(), core_store::StoreError> {
        Ok(Self::put_session(&self.conn, session)?)
    }

    fn session_for_queue(
        &self,
        send_id: &SendId,
    ) -> Result<Option<SessionId>, core_store::StoreError> {
        let id: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT id FROM sessions WHERE inbound_send_id = ?1",
                [send_id.as_bytes().as_slice()],
                |row| row.get(0),
            )
            .optional()
            .map_err(StoreError::from)?;
        id.map(|bytes| {
            bytes
                .try_into()
                .map(SessionId::from_bytes)
                .map_err(|_| StoreError::Corrupted("session id").into())
        })
        .transpose()
    }

    fn sessions_with(&self, device: &DeviceId) -> Result<Vec<SessionId>, core_store::StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT id FROM sessions WHERE peer_device = ?1 ORDER BY id")
            .map_err(StoreError::from)?;
        let ids = statement
            .query_map([device.as_bytes().as_slice()], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .map_err(StoreError::from)?;
        ids.map(|id| {
            let id = id.map_err(StoreError::from)?;
            id.try_into()
                .map(SessionId::from_bytes)
                .map_err(|_| StoreError::Corrupted("session id").into())
        })
        .collect()
    }

    fn delete_session(&mut self, id: &SessionId) -> Result<(), core_store::StoreError> {
        self.conn
            .execute(
                "DELETE FROM sessions WHERE id = ?1",
                [id.as_bytes().as_slice()],
            )
            .map_err(StoreError::from)?;
        Ok(())
    }
}

impl ProtocolStore for SqliteStore {
    fn save_new_session(
        &mut self,
        account: &Account,
        session: &Session,
    ) -> Result<(), core_store::StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        Self::put_session(&tx, session)?;
        Self::put_account(&tx, account)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(())
    }
}
