//! Storage behind a trait.
//!
//! [`RelayStore`] is synchronous, like the rest of Satchel's storage: reads are called
//! from `spawn_blocking`, and every write goes through one [`writer::Writer`] thread that
//! batches whatever is queued into one transaction (group commit) and answers the callers
//! only after the commit. A backend therefore implements writes once, as
//! [`RelayStore::write_batch`], and gets group commit for free; a PostgreSQL backend can
//! follow without any change to the HTTP layer.
//!
//! The store holds only ids, public keys, opaque ciphertext blobs, sizes and coarse
//! timestamps. Nothing in it is a name, an address or a message text.

#[cfg(test)]
mod backends_agree;
mod mail_index;
pub mod mailbox_limit;
mod migrations;
pub mod postgres;
pub mod sqlite;
mod stored_form;
pub mod writer;

use satchel_core::ReceiveId;

/// A 16-byte id (school, invite lookup, directory entry, prekey bundle, queue ids).
pub type Id16 = [u8; 16];
/// A 32-byte Ed25519 public key.
pub type PublicKey = [u8; 32];

/// A storage failure. Its `Display` never contains ids or payloads, so it may be logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (I/O, disk full, corrupt database, ...).
    #[error("storage backend failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The database was written by a newer relay, or is damaged.
    #[error("unsupported database: {0}")]
    Schema(String),
    /// The writer thread has stopped (the relay is shutting down).
    #[error("the storage writer has stopped")]
    WriterStopped,
    /// The database cannot be reached right now (PostgreSQL stopped, restarting or out
    /// of connections); the relay reconnects by itself.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The disk holding the database is full: nothing was written.
    #[error("the database's disk is full; free space for the relay's data folder")]
    DiskFull,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return Self::DiskFull;
        }
        Self::Backend(Box::new(error))
    }
}

/// Per-queue limits checked on every deposit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueQuota {
    /// The most envelopes one queue may hold.
    pub max_messages: u64,
    /// The most envelope bytes one queue may hold.
    pub max_bytes: u64,
}

/// How many deposits one client network may make into one contact mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxLimit {
    /// Per hour.
    pub per_hour: u32,
    /// At once.
    pub burst: u32,
}

/// Who deposits into a contact mailbox, for its per-sender limit
/// ([`mailbox_limit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxSender {
    /// The depositing client network, as an opaque per-process key (never stored).
    pub network: u64,
    /// Deposits one network may make into one mailbox per hour.
    pub per_hour: u32,
    /// Deposits one network may make into one mailbox at once.
    pub burst: u32,
}

/// Who signed a directory write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectoryWriter {
    /// The school's root key.
    Root,
    /// A member key recorded by a redeemed invite.
    Member(PublicKey),
}

/// One write, applied by [`RelayStore::write_batch`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum WriteOp {
    /// Register a school (idempotent).
    RegisterSchool {
        /// `school_id` derived from the root key.
        school_id: Id16,
        /// The school's root key.
        root_key: PublicKey,
    },
    /// Create or replace an unredeemed invite.
    PutInvite {
        /// The school.
        school_id: Id16,
        /// The invite's lookup id.
        lookup_id: Id16,
        /// Opaque encrypted invite record.
        record: Vec<u8>,
        /// The key that may redeem the invite.
        redeem_key: PublicKey,
        /// Unix seconds after which the invite is gone.
        expires_at: i64,
    },
    /// Redeem an invite once, recording `member_key` as a directory writer.
    RedeemInvite {
        /// The school.
        school_id: Id16,
        /// The invite's lookup id.
        lookup_id: Id16,
        /// The redeem key the caller verified the signature with; the invite must still
        /// have it.
        redeem_key: PublicKey,
        /// The key allowed to own one directory entry.
        member_key: PublicKey,
        /// The current time, for expiry.
        now: i64,
    },
    /// Revoke members: record the grant keys (and those of the invites named) as
    /// revoked, and disable the member keys that redeemed them.
    RevokeMembers {
        /// The school.
        school_id: Id16,
        /// Revoked grant keys.
        grant_keys: Vec<PublicKey>,
        /// Invites whose grant key is revoked.
        lookup_ids: Vec<Id16>,
    },
    /// Delete an invite.
    DeleteInvite {
        /// The school.
        school_id: Id16,
        /// The invite's lookup id.
        lookup_id: Id16,
    },
    /// Replace the revocation list if `sequence` is higher than the stored one.
    PutRevocations {
        /// The school.
        school_id: Id16,
        /// Opaque signed list.
        list: Vec<u8>,
        /// Monotonic sequence number.
        sequence: u64,
    },
    /// Create or update a directory entry.
    PutDirectoryEntry {
        /// The school.
        school_id: Id16,
        /// The entry.
        entry_id: Id16,
        /// Opaque encrypted entry.
        entry: Vec<u8>,
        /// Who signed the request.
        writer: DirectoryWriter,
        /// Coarse time of the update.
        now: i64,
    },
    /// Delete a directory entry.
    DeleteDirectoryEntry {
        /// The school.
        school_id: Id16,
        /// The entry.
        entry_id: Id16,
        /// Who signed the request.
        writer: DirectoryWriter,
    },
    /// Add one-time prekeys to a bundle (setting its owner on first upload).
    PutPrekeys {
        /// The bundle.
        bundle_id: Id16,
        /// The key that signed the upload.
        owner_key: PublicKey,
        /// The keys; an existing id is replaced.
        keys: Vec<UploadedPrekey>,
        /// The most keys a bundle may hold.
        max_stored: u64,
    },
    /// Remove and return one prekey.
    TakePrekey {
        /// The bundle.
        bundle_id: Id16,
    },
    /// Create a queue (idempotent for the same pair).
    CreateQueue {
        /// The send id senders deposit to.
        send_id: Id16,
        /// The queue's authentication key.
        auth_key: PublicKey,
        /// Whether it is a device's contact mailbox (first contacts; limited per
        /// sender). Marking an existing queue of the same key as a mailbox is allowed.
        mailbox: bool,
    },
    /// Delete a queue and its messages.
    DeleteQueue {
        /// The queue.
        receive_id: ReceiveId,
    },
    /// Store one envelope.
    Deposit {
        /// The queue, from the envelope.
        send_id: Id16,
        /// The whole envelope.
        envelope: Vec<u8>,
        /// Limits to enforce.
        quota: QueueQuota,
        /// Coarse time of the deposit.
        now: i64,
        /// Who deposits, when the queue turns out to be a mailbox (`None`: not limited,
        /// e.g. requests without connection information).
        sender: Option<MailboxSender>,
    },
    /// Store one body for many queues (a group message): each queue gets a message
    /// made of `prefix` (kind and send id; the send id is not stored) and the body,
    /// stored once. Each queue is checked as by [`WriteOp::Deposit`].
    DepositShared {
        /// The queues.
        send_ids: Vec<Id16>,
        /// The envelope's first 17 bytes: its kind, then any send id.
        prefix: [u8; 17],
        /// The shared body.
        body: Vec<u8>,
        /// Limits to enforce, per queue.
        quota: QueueQuota,
        /// Coarse time of the deposit.
        now: i64,
        /// Who deposits, for queues that turn out to be mailboxes.
        sender: Option<MailboxSender>,
    },
    /// Delete acknowledged messages of a queue.
    Ack {
        /// The queue.
        receive_id: ReceiveId,
        /// Message ids; unknown ones are ignored.
        ids: Vec<u64>,
    },
    /// Delete up to `limit` messages deposited before `before`.
    PurgeMessages {
        /// Unix seconds.
        before: i64,
        /// The most messages to delete in this step.
        limit: u32,
    },
    /// Keep the member certificate a member key asks admission for (only if it has
    /// none yet).
    SetMemberCertificate {
        /// The school.
        school_id: Id16,
        /// The member key (recorded by a redeemed invite).
        member_key: PublicKey,
        /// The sealed certificate (opaque to the relay).
        certificate: Vec<u8>,
    },
    /// Store the root's admissions of members' certificates.
    PutAdmissions {
        /// The school.
        school_id: Id16,
        /// Member key and admission signature (opaque to the relay).
        admissions: Vec<(PublicKey, [u8; 64])>,
        /// The office that signed them (its encoded certificate); `None`: the root.
        issuer: Option<Vec<u8>>,
    },
    /// Delete invites that expired before `now`.
    PurgeInvites {
        /// Unix seconds.
        now: i64,
    },
}

/// The result of one [`WriteOp`], in the same order as the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteOutcome {
    /// Something new was created.
    Created,
    /// It already existed identically, or was updated.
    Unchanged,
    /// The operation succeeded.
    Done,
    /// The target does not exist (or has expired).
    NotFound,
    /// A conflicting record exists (invite used, send id taken, stale sequence).
    Conflict,
    /// The signer may not do this.
    Forbidden,
    /// The school revoked the signer's membership.
    Revoked,
    /// The school is not registered.
    UnknownSchool,
    /// The limit was reached (prekeys per bundle, queue quota).
    Full,
    /// This sender has used its deposits into this mailbox for now.
    Throttled {
        /// Seconds until it may deposit again.
        retry_after_secs: u64,
    },
    /// A prekey was taken.
    Prekey(UploadedPrekey),
    /// A queue exists for this pair.
    Queue {
        /// Its receive id.
        receive_id: ReceiveId,
        /// Whether it was created just now.
        created: bool,
    },
    /// An envelope was stored.
    Deposited {
        /// The message id.
        id: u64,
        /// The queue it went to, for push notifications (never sent to anyone).
        receive_id: ReceiveId,
    },
    /// A shared body was stored: one outcome per queue, in order (`Deposited`,
    /// `NotFound`, `Full` or `Throttled`).
    DepositedShared(Vec<WriteOutcome>),
    /// Rows deleted.
    Deleted(u64),
    /// Rows stored.
    Stored(u64),
}

/// A one-time prekey as uploaded and handed out: the relay cannot verify its signature
/// (it does not know the device key) and stores it as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPrekey {
    /// The key's id in the bundle.
    pub id: u32,
    /// The X25519 public key.
    pub key: PublicKey,
    /// The device's signature (64 bytes; empty for a key stored before schema 5).
    pub signature: Vec<u8>,
}

/// A stored invite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    /// Opaque encrypted record.
    pub record: Vec<u8>,
    /// The key that may redeem it.
    pub redeem_key: PublicKey,
    /// Whether it was redeemed (then `record` is empty: it was erased at redemption).
    pub redeemed: bool,
    /// The member key that redeemed it (a retry of the same join may redeem again).
    pub redeemed_by: Option<PublicKey>,
}

/// A member key of a school, as its redeemed invite recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The grant key of the invite it redeemed.
    pub grant_key: PublicKey,
    /// The sealed member certificate it asked admission for, if it did.
    pub certificate: Option<Vec<u8>>,
    /// The root's admission of that certificate, once the admin signed it.
    pub admission: Option<[u8; 64]>,
    /// The office that signed the admission (its encoded certificate); `None`: the root.
    pub admission_issuer: Option<Vec<u8>>,
}

/// A member waiting to be admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAdmission {
    /// The member key.
    pub member_key: PublicKey,
    /// The grant key of the invite it redeemed.
    pub grant_key: PublicKey,
    /// The sealed certificate it asked admission for.
    pub certificate: Vec<u8>,
}

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The entry id.
    pub entry_id: Id16,
    /// Opaque encrypted entry.
    pub entry: Vec<u8>,
    /// Coarse unix time of the last write.
    pub updated_at: i64,
}

/// One page of a queue, as fetched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchPage {
    /// Oldest first.
    pub messages: Vec<StoredMessage>,
    /// Whether more messages follow the last one.
    pub more: bool,
}

/// A stored message, as fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message id (increasing, never reused).
    pub id: u64,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
}

/// What the store holds, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Undelivered messages.
    pub messages: u64,
    /// Queues holding at least one message.
    pub queues_with_mail: u64,
}

/// Where a store that several relay processes share reports mail that the others
/// committed ([`RelayStore::listen_for_mail`]).
pub trait MailSink: Send + Sync + 'static {
    /// Mail was committed into these queues by another relay process.
    fn mail(&self, receive_ids: &[ReceiveId]);
    /// The store (re)connected its listener: announcements sent while it was away are
    /// lost, so whatever waits for mail should look again.
    fn resync(&self);
}

/// Threads a store runs in the background; dropping this asks them to stop (they notice
/// within a second) without waiting for them.
#[derive(Debug)]
pub struct BackgroundTasks {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BackgroundTasks {
    /// A handle whose drop sets `stop`.
    #[must_use]
    pub fn new(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        Self { stop }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The relay's storage. Implementations must be safe to share between threads; reads may
/// run concurrently with [`RelayStore::write_batch`], which as many threads call at once
/// as [`RelayStore::writer_threads`] says.
pub trait RelayStore: Send + Sync + 'static {
    /// How many group-commit threads may call [`RelayStore::write_batch`] at once. One
    /// (the default) for a database with a single writer, such as SQLite; more where
    /// the database keeps concurrent batches apart itself and a batch spends most of its
    /// time waiting for round trips and the commit, so that batches can overlap.
    fn writer_threads(&self) -> usize {
        1
    }

    /// Applies `ops` in order, atomically: either all are committed durably (the call
    /// returns only then) or none is. Outcomes such as [`WriteOutcome::Conflict`] are not
    /// errors and do not abort the batch.
    ///
    /// # Errors
    /// [`StoreError`] if the batch could not be committed; nothing was written then.
    fn write_batch(&self, ops: &[WriteOp]) -> Result<Vec<WriteOutcome>, StoreError>;

    /// Whether the database answers (for `/healthz`).
    ///
    /// # Errors
    /// [`StoreError`] if it does not.
    fn check(&self) -> Result<(), StoreError>;

    /// Counts what the store holds (read at each `/metrics` scrape).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Starts reporting mail that other relay processes sharing this database commit
    /// (a store only one process uses has nothing to report: `None`).
    ///
    /// # Errors
    /// [`StoreError`] if the listener cannot be started.
    fn listen_for_mail(
        &self,
        sink: std::sync::Arc<dyn MailSink>,
    ) -> Result<Option<BackgroundTasks>, StoreError> {
        let _ = sink;
        Ok(None)
    }

    /// The root key of a registered school.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn school_root(&self, school_id: &Id16) -> Result<Option<PublicKey>, StoreError>;

    /// An invite that has not expired at `now`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn invite(
        &self,
        school_id: &Id16,
        lookup_id: &Id16,
        now: i64,
    ) -> Result<Option<Invite>, StoreError>;

    /// Whether the school revoked the grant whose key is `grant_key`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn is_revoked_grant(&self, school_id: &Id16, grant_key: &PublicKey)
    -> Result<bool, StoreError>;

    /// Whether a school revoked the membership of `member_key`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn is_revoked_member(&self, member_key: &PublicKey) -> Result<bool, StoreError>;

    /// Whether `member_key` was recorded by a redeemed invite of the school.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn is_member(&self, school_id: &Id16, member_key: &PublicKey) -> Result<bool, StoreError>;

    /// A member key of the school (recorded by a redeemed invite, not revoked).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn member(
        &self,
        school_id: &Id16,
        member_key: &PublicKey,
    ) -> Result<Option<Member>, StoreError>;

    /// Up to `limit` members of the school that asked admission and were not admitted
    /// yet, by member key.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn pending_admissions(
        &self,
        school_id: &Id16,
        limit: u32,
    ) -> Result<Vec<PendingAdmission>, StoreError>;

    /// The owner of a directory entry: `Some(None)` for root, `Some(Some(key))` for a
    /// member, `None` if the entry does not exist.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn directory_owner(
        &self,
        school_id: &Id16,
        entry_id: &Id16,
    ) -> Result<Option<Option<PublicKey>>, StoreError>;

    /// All directory entries of a school, by entry id.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn directory(&self, school_id: &Id16) -> Result<Vec<DirectoryEntry>, StoreError>;

    /// The revocation list and its sequence number.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn revocations(&self, school_id: &Id16) -> Result<Option<(Vec<u8>, u64)>, StoreError>;

    /// The sequence number of the stored revocation list, without reading the list (a
    /// conditional fetch compares it with what the client has).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn revocation_sequence(&self, school_id: &Id16) -> Result<Option<u64>, StoreError>;

    /// The owner key of a prekey bundle.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn prekey_owner(&self, bundle_id: &Id16) -> Result<Option<PublicKey>, StoreError>;

    /// How many prekeys a bundle holds.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn prekey_count(&self, bundle_id: &Id16) -> Result<u64, StoreError>;

    /// Whether `member_key` may take one-time prekeys of `bundle_id`: the bundle exists
    /// and a redeemed invite of a school recorded both its owner key and `member_key`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn may_take_prekeys(
        &self,
        bundle_id: &Id16,
        member_key: &PublicKey,
    ) -> Result<bool, StoreError>;

    /// The authentication key of a queue.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn queue_auth_key(&self, receive_id: &ReceiveId) -> Result<Option<PublicKey>, StoreError>;

    /// Which of `receive_ids` name a queue holding at least one message (unknown ids are
    /// left out, as empty queues are).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn pending(&self, receive_ids: &[ReceiveId]) -> Result<Vec<ReceiveId>, StoreError>;

    /// Messages of a queue with id greater than `after`, oldest first: at most `limit`,
    /// and no more than `max_bytes` of envelopes in total (but always at least one if any).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn fetch(
        &self,
        receive_id: &ReceiveId,
        after: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<FetchPage, StoreError>;
}
