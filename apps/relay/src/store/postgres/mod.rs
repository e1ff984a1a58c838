//! The PostgreSQL backend, for relays that outgrow one machine: several relay processes
//! share one database (`satchel-relay --database postgres://…`).
//!
//! It keeps the shape of the SQLite backend: the blocking `postgres` client, one
//! group-commit writer (`batch.rs`; a batch of plain deposits is one statement,
//! `deposits.rs`), and a small pool of read connections used from `spawn_blocking`.
//! What changes with several relays:
//!
//! - Queue rows are locked at the start of each batch, in queue order, so two relays'
//!   batches never deadlock over them, and message sequence numbers stay unique per
//!   queue whichever relay took the deposit.
//! - "Which queues hold mail" is asked of the database (another relay may have filled
//!   or emptied a queue), not of an in-memory set.
//! - "New mail" reaches WebSockets held by other relays through LISTEN/NOTIFY
//!   (`mail_events.rs`): one notification for the batches of a few milliseconds, sent
//!   after their commits.
//! - Per-sender mailbox limits and the replay cache stay per process (see
//!   docs/OPERATIONS.md).
//!
//! A connection failure is [`StoreError::Unavailable`] (HTTP 503 with `Retry-After`);
//! every operation reconnects by itself on its next use.

mod batch;
mod deposits;
mod mail_events;
mod queue_ids;
mod schema;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::{Client, NoTls, Statement};
use satchel_core::ReceiveId;

use super::mailbox_limit::MailboxBuckets;
use super::{
    BackgroundTasks, DirectoryEntry, FetchPage, Id16, Invite, MailSink, Member, PendingAdmission,
    PublicKey, RelayStore, StoreError, StoredMessage, WriteOp, WriteOutcome,
};

pub use schema::SCHEMA_VERSION;

/// Read connections kept open between requests.
const MAX_IDLE_READERS: usize = 8;

/// How long connecting may take before the database counts as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a URL names a PostgreSQL database (`postgres://` or `postgresql://`).
#[must_use]
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A connection with the statements it has prepared (each SQL text is prepared once
/// per connection, saving a round trip per query).
pub(crate) struct Connection {
    client: Client,
    prepared: std::collections::HashMap<&'static str, Statement>,
}

impl Connection {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.query(&statement, params)?)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<postgres::Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_opt(&statement, params)?)
    }
}

/// Classifies a client error: a lost or refused connection (or a server shutting down,
/// starting, or out of connections) is [`StoreError::Unavailable`]; the rest is a
/// backend failure.
pub(crate) fn backend_error(error: postgres::Error) -> StoreError {
    let unavailable = error.is_closed()
        || std::error::Error::source(&error).is_some_and(|source| source.is::<std::io::Error>())
        || error.as_db_error().is_some_and(|db| {
            let code = db.code().code();
            // 08: connection exception; 57P01..57P03: admin shutdown, crash shutdown,
            // cannot connect now; 53300: too many connections.
            code.starts_with("08") || code.starts_with("57P0") || code == "53300"
        })
        || (error.as_db_error().is_none() && error.to_string().contains("connect"));
    if unavailable {
        let detail = match std::error::Error::source(&error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        };
        StoreError::Unavailable(detail)
    } else {
        StoreError::Backend(Box::new(error))
    }
}

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        backend_error(error)
    }
}

/// The PostgreSQL store.
pub struct PostgresStore {
    config: postgres::Config,
    /// Connections of the writer threads that are not in a batch right now.
    writers: Mutex<Vec<Connection>>,
    readers: Mutex<Vec<Connection>>,
    mailboxes: MailboxBuckets,
    queue_ids: queue_ids::QueueIds,
    events: mail_events::Publisher,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

fn connect(config: &postgres::Config) -> Result<Connection, StoreError> {
    let client = config.connect(NoTls)?;
    Ok(Connection {
        client,
        prepared: std::collections::HashMap::new(),
    })
}

impl PostgresStore {
    /// Connects to the database at `url` (a libpq-style `postgres://` URL), creates or
    /// upgrades the schema, and starts the thread that announces new mail to other
    /// relays.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the database cannot be reached,
    /// [`StoreError::Schema`] if a newer relay upgraded it, [`StoreError::Backend`] for
    /// a malformed URL or a failed migration.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|_| {
            StoreError::Schema(
                "the database URL is not a valid postgres:// URL (see docs/OPERATIONS.md)"
                    .to_owned(),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("satchel-relay");
        let mut writer = connect(&config)?;
        schema::migrate(&mut writer.client)?;
        let events = mail_events::Publisher::start(config.clone())
            .map_err(|error| StoreError::Backend(Box::new(error)))?;
        Ok(Self {
            config,
            writers: Mutex::new(vec![writer]),
            readers: Mutex::new(Vec::new()),
            mailboxes: MailboxBuckets::default(),
            queue_ids: queue_ids::QueueIds::default(),
            events,
        })
    }

    /// Describes the database at `url` without changing anything (for
    /// `--check-config`): that it answers, and its schema version.
    ///
    /// # Errors
    /// As [`PostgresStore::open`].
    pub fn inspect(url: &str) -> Result<String, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|_| {
            StoreError::Schema("the database URL is not a valid postgres:// URL".to_owned())
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let mut conn = connect(&config)?;
        schema::describe(&mut conn.client)
    }

    /// Runs `f` on a pooled read connection; a connection that failed is dropped.
    fn read<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().map_err(|_| poisoned())?.pop();
        let mut conn = match pooled {
            Some(conn) if !conn.client.is_closed() => conn,
            _ => connect(&self.config)?,
        };
        let result = f(&mut conn);
        let broken = matches!(result, Err(StoreError::Unavailable(_))) || conn.client.is_closed();
        if !broken {
            let mut readers = self.readers.lock().map_err(|_| poisoned())?;
            if readers.len() < MAX_IDLE_READERS {
                readers.push(conn);
            }
        }
        result
    }
}

fn poisoned() -> StoreError {
    StoreError::Schema("a storage lock was poisoned by an earlier failure".to_owned())
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn wrong_size(what: &str) -> StoreError {
    StoreError::Schema(format!("a stored {what} has the wrong length"))
}

fn key32(bytes: &[u8]) -> Result<PublicKey, StoreError> {
    bytes.try_into().map_err(|_| wrong_size("key"))
}

fn sig64(bytes: &[u8]) -> Result<[u8; 64], StoreError> {
    bytes.try_into().map_err(|_| wrong_size("signature"))
}

fn id16(bytes: &[u8]) -> Result<Id16, StoreError> {
    bytes.try_into().map_err(|_| wrong_size("id"))
}

impl RelayStore for PostgresStore {
    // One group-commit thread, as on SQLite. Two threads taking turns paid off while a
    // batch of deposits took four round trips (begin, lock, write, commit): one batch
    // could be applied while the other waited. Now that such a batch is one statement
    // (`deposits.rs`), two threads only halve the batches, and each statement's fixed
    // cost is paid twice as often: benches/relay.sh and a mixed load of deposits, fetches
    // and acknowledgements both measured one thread faster (docs/BENCHMARKS.md).
    fn write_batch(&self, ops: &[WriteOp]) -> Result<Vec<WriteOutcome>, StoreError> {
        let idle = self.writers.lock().map_err(|_| poisoned())?.pop();
        let mut conn = match idle {
            Some(conn) if !conn.client.is_closed() => conn,
            _ => connect(&self.config)?,
        };
        let result = batch::apply(&mut conn, ops, &self.mailboxes, &self.queue_ids);
        let keep = match &result {
            Ok(_) => true,
            Err(error) => !matches!(error, StoreError::Unavailable(_)) && !conn.client.is_closed(),
        };
        if keep {
            self.writers.lock().map_err(|_| poisoned())?.push(conn);
        }
        let applied = result?;
        self.events.publish(applied.filled);
        Ok(applied.outcomes)
    }

    fn stats(&self) -> Result<super::StoreStats, StoreError> {
        self.read(|conn| {
            let rows = conn.query(
                "SELECT coalesce(sum(message_count), 0)::bigint, \
                 count(*) FILTER (WHERE message_count > 0) FROM queues",
                &[],
            )?;
            let Some(row) = rows.first() else {
                return Ok(super::StoreStats::default());
            };
            Ok(super::StoreStats {
                messages: to_u64(row.try_get(0)?),
                queues_with_mail: to_u64(row.try_get(1)?),
            })
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query("SELECT 1", &[]).map(drop))
    }

    fn listen_for_mail(
        &self,
        sink: Arc<dyn MailSink>,
    ) -> Result<Option<BackgroundTasks>, StoreError> {
        Ok(Some(mail_events::listen(
            self.config.clone(),
            self.events.instance(),
            sink,
        )?))
    }

    fn school_root(&self, school_id: &Id16) -> Result<Option<PublicKey>, StoreError> {
        self.read(|conn| {
            conn.query_opt(
                "SELECT root_key FROM schools WHERE school_id = $1",
                &[&school_id.as_slice()],
            )?
            .map(|row| key32(&row.try_get::<_, Vec<u8>>(0)?))
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
            let Some(row) = conn.query_opt(
                "SELECT record, redeem_key, redeemed, redeemed_by FROM invites \
                 WHERE school_id = $1 AND lookup_id = $2 AND expires_at > $3",
                &[&school_id.as_slice(), &lookup_id.as_slice(), &now],
            )?
            else {
                return Ok(None);
            };
            let redeemed_by: Option<Vec<u8>> = row.try_get(3)?;
            Ok(Some(Invite {
                record: row.try_get(0)?,
                redeem_key: key32(&row.try_get::<_, Vec<u8>>(1)?)?,
                redeemed: row.try_get(2)?,
                redeemed_by: redeemed_by.as_deref().map(key32).transpose()?,
            }))
        })
    }

    fn is_revoked_grant(
        &self,
        school_id: &Id16,
        grant_key: &PublicKey,
    ) -> Result<bool, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_opt(
                    "SELECT 1 FROM revoked_grants WHERE school_id = $1 AND grant_key = $2",
                    &[&school_id.as_slice(), &grant_key.as_slice()],
                )?
                .is_some())
        })
    }

    fn is_revoked_member(&self, member_key: &PublicKey) -> Result<bool, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_opt(
                    "SELECT 1 FROM revoked_members WHERE member_key = $1",
                    &[&member_key.as_slice()],
                )?
                .is_some())
        })
    }

    fn is_member(&self, school_id: &Id16, member_key: &PublicKey) -> Result<bool, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_opt(
                    "SELECT 1 FROM members WHERE school_id = $1 AND member_key = $2",
                    &[&school_id.as_slice(), &member_key.as_slice()],
                )?
                .is_some())
        })
    }

    fn member(
        &self,
        school_id: &Id16,
        member_key: &PublicKey,
    ) -> Result<Option<Member>, StoreError> {
        self.read(|conn| {
            let Some(row) = conn.query_opt(
                "SELECT grant_key, certificate, admission, admission_issuer FROM members \
                 WHERE school_id = $1 AND member_key = $2",
                &[&school_id.as_slice(), &member_key.as_slice()],
            )?
            else {
                return Ok(None);
            };
            let Some(grant_key) = row.try_get::<_, Option<Vec<u8>>>(0)? else {
                return Ok(None);
            };
            let admission: Option<Vec<u8>> = row.try_get(2)?;
            Ok(Some(Member {
                grant_key: key32(&grant_key)?,
                certificate: row.try_get(1)?,
                admission: admission.as_deref().map(sig64).transpose()?,
                admission_issuer: row.try_get(3)?,
            }))
        })
    }

    fn pending_admissions(
        &self,
        school_id: &Id16,
        limit: u32,
    ) -> Result<Vec<PendingAdmission>, StoreError> {
        self.read(|conn| {
            conn.query(
                "SELECT member_key, grant_key, certificate FROM members \
                 WHERE school_id = $1 AND certificate IS NOT NULL AND admission IS NULL \
                 AND grant_key IS NOT NULL ORDER BY member_key LIMIT $2",
                &[&school_id.as_slice(), &i64::from(limit)],
            )?
            .iter()
            .map(|row| {
                Ok(PendingAdmission {
                    member_key: key32(&row.try_get::<_, Vec<u8>>(0)?)?,
                    grant_key: key32(&row.try_get::<_, Vec<u8>>(1)?)?,
                    certificate: row.try_get(2)?,
                })
            })
            .collect()
        })
    }

    fn directory_owner(
        &self,
        school_id: &Id16,
        entry_id: &Id16,
    ) -> Result<Option<Option<PublicKey>>, StoreError> {
        self.read(|conn| {
            let Some(row) = conn.query_opt(
                "SELECT owner_key FROM directory WHERE school_id = $1 AND entry_id = $2",
                &[&school_id.as_slice(), &entry_id.as_slice()],
            )?
            else {
                return Ok(None);
            };
            let owner: Option<Vec<u8>> = row.try_get(0)?;
            Ok(Some(owner.as_deref().map(key32).transpose()?))
        })
    }

    fn directory(&self, school_id: &Id16) -> Result<Vec<DirectoryEntry>, StoreError> {
        self.read(|conn| {
            conn.query(
                "SELECT entry_id, entry, updated_at FROM directory \
                 WHERE school_id = $1 ORDER BY entry_id",
                &[&school_id.as_slice()],
            )?
            .iter()
            .map(|row| {
                Ok(DirectoryEntry {
                    entry_id: id16(&row.try_get::<_, Vec<u8>>(0)?)?,
                    entry: row.try_get(1)?,
                    updated_at: row.try_get(2)?,
                })
            })
            .collect()
        })
    }

    fn revocations(&self, school_id: &Id16) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        self.read(|conn| {
            conn.query_opt(
                "SELECT list, sequence FROM revocations WHERE school_id = $1",
                &[&school_id.as_slice()],
            )?
            .map(|row| Ok((row.try_get(0)?, to_u64(row.try_get(1)?))))
            .transpose()
        })
    }

    fn revocation_sequence(&self, school_id: &Id16) -> Result<Option<u64>, StoreError> {
        self.read(|conn| {
            conn.query_opt(
                "SELECT sequence FROM revocations WHERE school_id = $1",
                &[&school_id.as_slice()],
            )?
            .map(|row| Ok(to_u64(row.try_get(0)?)))
            .transpose()
        })
    }

    fn prekey_owner(&self, bundle_id: &Id16) -> Result<Option<PublicKey>, StoreError> {
        self.read(|conn| {
            conn.query_opt(
                "SELECT owner_key FROM prekey_bundles WHERE bundle_id = $1",
                &[&bundle_id.as_slice()],
            )?
            .map(|row| key32(&row.try_get::<_, Vec<u8>>(0)?))
            .transpose()
        })
    }

    fn prekey_count(&self, bundle_id: &Id16) -> Result<u64, StoreError> {
        self.read(|conn| {
            let rows = conn.query(
                "SELECT count(*) FROM prekeys WHERE bundle_id = $1",
                &[&bundle_id.as_slice()],
            )?;
            let count: i64 = match rows.first() {
                Some(row) => row.try_get(0)?,
                None => 0,
            };
            Ok(to_u64(count))
        })
    }

    fn may_take_prekeys(
        &self,
        bundle_id: &Id16,
        member_key: &PublicKey,
    ) -> Result<bool, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_opt(
                    "SELECT 1 FROM prekey_bundles b \
                     JOIN members o ON o.member_key = b.owner_key \
                     JOIN members t ON t.school_id = o.school_id AND t.member_key = $2 \
                     WHERE b.bundle_id = $1 LIMIT 1",
                    &[&bundle_id.as_slice(), &member_key.as_slice()],
                )?
                .is_some())
        })
    }

    fn queue_auth_key(&self, receive_id: &ReceiveId) -> Result<Option<PublicKey>, StoreError> {
        self.read(|conn| {
            conn.query_opt(
                "SELECT auth_key FROM queues WHERE receive_id = $1",
                &[&receive_id.as_bytes().as_slice()],
            )?
            .map(|row| key32(&row.try_get::<_, Vec<u8>>(0)?))
            .transpose()
        })
    }

    fn pending(&self, receive_ids: &[ReceiveId]) -> Result<Vec<ReceiveId>, StoreError> {
        if receive_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&[u8]> = receive_ids
            .iter()
            .map(|id| id.as_bytes().as_slice())
            .collect();
        let with_mail: HashSet<Vec<u8>> = self.read(|conn| {
            conn.query(
                "SELECT receive_id FROM queues WHERE receive_id = ANY($1) AND message_count > 0",
                &[&ids],
            )?
            .iter()
            .map(|row| Ok(row.try_get::<_, Vec<u8>>(0)?))
            .collect()
        })?;
        Ok(receive_ids
            .iter()
            .filter(|id| with_mail.contains(id.as_bytes().as_slice()))
            .copied()
            .collect())
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
            let rows = conn.query(
                "SELECT m.seq, m.envelope, b.content FROM messages m \
                 JOIN queues q ON q.queue = m.queue \
                 LEFT JOIN bodies b ON b.body = m.body \
                 WHERE q.receive_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3",
                &[
                    &receive_id.as_bytes().as_slice(),
                    &to_i64(after),
                    &(i64::from(limit) + 1),
                ],
            )?;
            let mut page = FetchPage::default();
            let mut total = 0usize;
            for row in rows {
                let mut envelope: Vec<u8> = row.try_get(1)?;
                // A shared body follows its row's prefix.
                if let Some(body) = row.try_get::<_, Option<&[u8]>>(2)? {
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
                    id: to_u64(row.try_get(0)?),
                    envelope,
                });
            }
            Ok(page)
        })
    }
}
