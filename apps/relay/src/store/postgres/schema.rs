//! The PostgreSQL schema and its migration runner.
//!
//! Step 1 is the SQLite schema as of its version 11, translated: the same tables and
//! the same privacy properties (hashed send ids, zeroed envelope send ids, per-queue
//! message sequence numbers, shared bodies stored once). Later steps append here; the
//! applied count lives in `satchel_schema`. Several relays may start at once on one
//! database: the runner holds a transaction-scoped advisory lock, so exactly one of
//! them migrates and the others then find the work done.

use postgres::Client;

use super::super::StoreError;
use super::super::migrations::pending_steps;
use super::backend_error;

/// The advisory lock key the migration runner holds ("satchel" in ASCII).
const MIGRATION_LOCK: i64 = 0x0073_6174_6368_656c;

const STEP_1: &str = "
CREATE TABLE schools (
    school_id   bytea PRIMARY KEY,
    root_key    bytea NOT NULL
);

CREATE TABLE invites (
    school_id   bytea NOT NULL,
    lookup_id   bytea NOT NULL,
    redeem_key  bytea NOT NULL,
    expires_at  bigint NOT NULL,
    redeemed    boolean NOT NULL DEFAULT false,
    record      bytea NOT NULL,
    redeemed_by bytea,
    PRIMARY KEY (school_id, lookup_id)
);
CREATE INDEX invites_expiry ON invites (expires_at);

CREATE TABLE members (
    school_id        bytea NOT NULL,
    member_key       bytea NOT NULL,
    grant_key        bytea,
    certificate      bytea,
    admission        bytea,
    admission_issuer bytea,
    PRIMARY KEY (school_id, member_key)
);
CREATE INDEX members_grant ON members (school_id, grant_key);
CREATE INDEX members_key ON members (member_key);
CREATE INDEX members_pending ON members (school_id, member_key)
    WHERE certificate IS NOT NULL AND admission IS NULL;

CREATE TABLE revoked_grants (
    school_id   bytea NOT NULL,
    grant_key   bytea NOT NULL,
    PRIMARY KEY (school_id, grant_key)
);

CREATE TABLE revoked_members (
    member_key  bytea PRIMARY KEY,
    school_id   bytea NOT NULL
);

CREATE TABLE directory (
    school_id   bytea NOT NULL,
    entry_id    bytea NOT NULL,
    owner_key   bytea,
    updated_at  bigint NOT NULL,
    entry       bytea NOT NULL,
    PRIMARY KEY (school_id, entry_id)
);
CREATE INDEX directory_owner ON directory (school_id, owner_key) WHERE owner_key IS NOT NULL;

CREATE TABLE revocations (
    school_id   bytea PRIMARY KEY,
    sequence    bigint NOT NULL,
    list        bytea NOT NULL
);

CREATE TABLE prekey_bundles (
    bundle_id   bytea PRIMARY KEY,
    owner_key   bytea NOT NULL
);

CREATE TABLE prekeys (
    bundle_id   bytea NOT NULL,
    key_id      bigint NOT NULL,
    key         bytea NOT NULL,
    signature   bytea NOT NULL,
    PRIMARY KEY (bundle_id, key_id)
);

CREATE TABLE queues (
    queue         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    send_hash     bytea NOT NULL UNIQUE,
    receive_id    bytea NOT NULL UNIQUE,
    auth_key      bytea NOT NULL,
    message_count bigint NOT NULL DEFAULT 0,
    byte_count    bigint NOT NULL DEFAULT 0,
    last_seq      bigint NOT NULL DEFAULT 0,
    mailbox       boolean NOT NULL DEFAULT false
);
CREATE INDEX queues_with_mail ON queues (receive_id) WHERE message_count > 0;

CREATE TABLE bodies (
    body     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refs     bigint NOT NULL,
    content  bytea NOT NULL
);

CREATE TABLE messages (
    queue       bigint NOT NULL,
    seq         bigint NOT NULL,
    created_at  bigint NOT NULL,
    envelope    bytea NOT NULL,
    body        bigint,
    PRIMARY KEY (queue, seq)
);
CREATE INDEX messages_created ON messages (created_at);
";

/// Every batch of deposits updates its queues' counters. PostgreSQL can update a row in
/// place (a HOT update: no new index entries) only when no index mentions a changed
/// column and the row's page has room. Step 1's partial index named `message_count`, so
/// each update added an entry to all four indexes and left a dead row behind (measured:
/// 0 HOT updates out of 102,782). Questions about mail go through the `receive_id`
/// index instead, half of each page is kept free for new row versions, and the table is
/// vacuumed every 2,000 dead rows rather than at a fifth of its size.
const STEP_2: &str = "
DROP INDEX queues_with_mail;
ALTER TABLE queues SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
                        autovacuum_vacuum_threshold = 2000);
";

/// The steps, in order.
const STEPS: [&str; 2] = [STEP_1, STEP_2];

/// The schema version this relay writes to PostgreSQL.
pub const SCHEMA_VERSION: usize = STEPS.len();

/// The server's version and the schema version found, without changing anything.
pub(super) fn describe(client: &mut Client) -> Result<String, StoreError> {
    let server: String = client
        .query_one("SHOW server_version", &[])
        .map_err(backend_error)?
        .try_get(0)
        .map_err(backend_error)?;
    let table = client
        .query_opt("SELECT to_regclass('satchel_schema')::text", &[])
        .map_err(backend_error)?
        .and_then(|row| row.try_get::<_, Option<String>>(0).ok().flatten());
    let found: i64 = match table {
        Some(_) => client
            .query_one("SELECT version FROM satchel_schema", &[])
            .map_err(backend_error)?
            .try_get(0)
            .map_err(backend_error)?,
        None => 0,
    };
    let steps = pending_steps("PostgreSQL", found, STEPS.len())?;
    Ok(format!(
        "PostgreSQL {server}: schema version {found}{}",
        if steps.is_empty() {
            String::new()
        } else {
            format!(" (this relay will upgrade it to {SCHEMA_VERSION} at start)")
        }
    ))
}

/// Creates or upgrades the schema.
///
/// # Errors
/// [`StoreError`] if the database cannot be reached, a step fails (it is rolled back)
/// or a newer relay already upgraded the database.
pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(backend_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS satchel_schema (
             only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
             version  bigint NOT NULL
         );
         INSERT INTO satchel_schema (version) VALUES (0) ON CONFLICT DO NOTHING;",
    )
    .map_err(backend_error)?;
    let found: i64 = tx
        .query_one("SELECT version FROM satchel_schema", &[])
        .map_err(backend_error)?
        .get(0);
    for index in pending_steps("PostgreSQL", found, STEPS.len())? {
        let Some(step) = STEPS.get(index) else {
            break;
        };
        let reached = i64::try_from(index + 1).unwrap_or(i64::MAX);
        // One transaction for every missing step: a failure leaves the old schema.
        tx.batch_execute(step).map_err(backend_error)?;
        tx.execute("UPDATE satchel_schema SET version = $1", &[&reached])
            .map_err(backend_error)?;
    }
    tx.commit().map_err(backend_error)
}
