//! A batch of plain deposits in one statement: the hot path on PostgreSQL.
//!
//! Under load most batches are deposits and nothing else. The general path
//! (`batch.rs`) spends four round trips on one (begin, lock, write, commit), and every
//! round trip wakes the writer thread and a PostgreSQL backend on a machine whose cores
//! are already busy. Here one statement, which is its own transaction:
//!
//! 1. locks the batch's queues in queue order (`FOR UPDATE`, the order every other
//!    writer uses, so it cannot deadlock with them);
//! 2. numbers the deposits per queue and decides each against the quota: the relay
//!    passes each deposit's place among the batch's deposits into its queue and the
//!    bytes deposited there before it, and a deposit is taken while the queue's stored
//!    messages and bytes plus those before it are under the limits. Counts only grow
//!    within the batch, so once one deposit is refused every later one into that queue
//!    is refused too, and the taken deposits are exactly those the general path takes;
//! 3. inserts the taken messages and adds them to their queues' counters.
//!
//! The statement writes nothing unless it found every deposit's queue, and leaves the
//! batch to the general path otherwise: a queue it did not find by the ids it was given
//! (not known to this relay yet and named by row id, deleted, or never created) or a
//! contact mailbox, whose per-sender limit lives in this process (`mailbox_limit.rs`).
//! Such batches are rare, and all or nothing keeps a batch one transaction: a batch
//! that fails is retried job by job, which must not deposit anything twice.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, Statement};
use satchel_core::ReceiveId;

use super::super::stored_form::{send_hash, without_send_id};
use super::super::{QueueQuota, StoreError, WriteOp, WriteOutcome};
use super::batch::Applied;
use super::queue_ids::QueueIds;
use super::{id16, to_i64, to_u64};

/// The statement for queues matching `$cond` (`$7`: row ids or send id hashes). Each
/// deposit comes with its place among the batch's deposits into the same queue (`$8`,
/// from 1) and the bytes deposited there before it (`$9`).
macro_rules! deposit_where {
    ($cond:literal) => {
        concat!(
            "WITH locked AS MATERIALIZED (\
                 SELECT queue, send_hash, receive_id, message_count, byte_count, last_seq \
                 FROM queues WHERE ",
            $cond,
            " AND NOT mailbox ORDER BY queue FOR UPDATE), \
             numbered AS MATERIALIZED (\
                 SELECT i.ord, l.queue, l.receive_id, i.created_at, i.envelope, i.len, \
                 l.last_seq + i.place AS seq, \
                 l.message_count + i.place - 1 < $5::bigint \
                 AND l.byte_count + i.before < $6::bigint AS taken \
                 FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bytea[], \
                 $8::bigint[], $9::bigint[]) \
                 WITH ORDINALITY AS i(hash, len, created_at, envelope, place, before, ord) \
                 JOIN locked l ON l.send_hash = i.hash), \
             every AS (SELECT count(*) = cardinality($1) AS found FROM numbered), \
             inserted AS (\
                 INSERT INTO messages (queue, seq, created_at, envelope) \
                 SELECT queue, seq, created_at, envelope FROM numbered, every \
                 WHERE taken AND found), \
             counted AS (\
                 UPDATE queues AS q SET message_count = q.message_count + t.n, \
                 byte_count = q.byte_count + t.b, last_seq = q.last_seq + t.n \
                 FROM (SELECT queue, count(*) AS n, sum(len)::bigint AS b FROM numbered, every \
                 WHERE taken AND found GROUP BY queue) AS t WHERE q.queue = t.queue) \
             SELECT ord, queue, receive_id, seq, taken FROM numbered"
        )
    };
}

/// The quota every operation shares when `ops` are all plain deposits, the only batches
/// this statement takes (it decides with one quota; the relay gives every deposit the
/// same).
pub(super) fn only_deposits(ops: &[WriteOp]) -> Option<QueueQuota> {
    let mut shared = None;
    for op in ops {
        let WriteOp::Deposit { quota, .. } = op else {
            return None;
        };
        match shared {
            None => shared = Some(*quota),
            Some(seen) if seen == *quota => {}
            Some(_) => return None,
        }
    }
    shared
}

/// Applies `ops` (plain deposits sharing `quota`) in one statement, committed when it
/// returns; `None`, with nothing written, when it did not find every queue or `ops`
/// holds anything else.
pub(super) fn apply(
    client: &mut Client,
    prepared: &mut HashMap<&'static str, Statement>,
    ops: &[WriteOp],
    quota: QueueQuota,
    known: &QueueIds,
) -> Result<Option<Applied>, StoreError> {
    let mut hashes = Vec::with_capacity(ops.len());
    let mut lens = Vec::with_capacity(ops.len());
    let mut times = Vec::with_capacity(ops.len());
    let mut rows = Vec::with_capacity(ops.len());
    for op in ops {
        if let WriteOp::Deposit {
            send_id,
            envelope,
            now,
            ..
        } = op
        {
            hashes.push(send_hash(send_id));
            lens.push(to_i64(envelope.len() as u64));
            times.push(*now);
            rows.push(without_send_id(envelope));
        }
    }
    if hashes.len() != ops.len() {
        return Ok(None);
    }
    // Each deposit's place in its queue within the batch, and the bytes before it there.
    let mut places = Vec::with_capacity(ops.len());
    let mut befores = Vec::with_capacity(ops.len());
    let mut per_queue: HashMap<[u8; 32], (i64, i64)> = HashMap::with_capacity(ops.len());
    for (hash, len) in hashes.iter().zip(&lens) {
        let (count, bytes) = per_queue.entry(*hash).or_default();
        *count += 1;
        places.push(*count);
        befores.push(*bytes);
        *bytes = bytes.saturating_add(*len);
    }
    let hash_params: Vec<&[u8]> = hashes.iter().map(<[u8; 32]>::as_slice).collect();
    let max_messages = to_i64(quota.max_messages);
    let max_bytes = to_i64(quota.max_bytes);
    // By row id when this relay knows every queue (the steady state), else by hash.
    let ids = known.lookup_all(&hashes);
    let (sql, by): (&'static str, &(dyn ToSql + Sync)) = match &ids {
        Some(ids) => (deposit_where!("queue = ANY($7)"), ids),
        None => (deposit_where!("send_hash = ANY($7)"), &hash_params),
    };
    let statement = match prepared.get(sql) {
        Some(statement) => statement.clone(),
        None => {
            let statement = client.prepare(sql)?;
            prepared.insert(sql, statement.clone());
            statement
        }
    };
    // The statement has committed when its rows arrive. Reading them fails only on a
    // damaged database (a stored receive id of the wrong length); the error then fails
    // the batch, and the writer's one-by-one retry deposits its messages again. That is
    // the case of an answer lost after a commit, which clients already survive: a
    // ratchet refuses a message it has opened.
    let found = client.query(
        &statement,
        &[
            &hash_params,
            &lens,
            &times,
            &rows,
            &max_messages,
            &max_bytes,
            by,
            &places,
            &befores,
        ],
    )?;
    let mut outcomes: Vec<Option<WriteOutcome>> = vec![None; ops.len()];
    let mut filled = Vec::new();
    let mut learned = Vec::new();
    for row in found {
        let ord: i64 = row.try_get(0)?;
        let queue: i64 = row.try_get(1)?;
        let receive_id = ReceiveId::from_bytes(id16(&row.try_get::<_, Vec<u8>>(2)?)?);
        let seq: i64 = row.try_get(3)?;
        let taken: bool = row.try_get(4)?;
        let index = usize::try_from(ord - 1)
            .ok()
            .filter(|index| *index < ops.len())
            .ok_or_else(|| StoreError::Schema("a deposit came back out of range".to_owned()))?;
        if ids.is_none()
            && let Some(hash) = hashes.get(index)
        {
            learned.push((*hash, queue, *receive_id.as_bytes()));
        }
        let outcome = if taken {
            filled.push(receive_id);
            WriteOutcome::Deposited {
                id: to_u64(seq),
                receive_id,
            }
        } else {
            WriteOutcome::Full
        };
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = Some(outcome);
        }
    }
    if !learned.is_empty() {
        known.learn(
            learned.iter().map(|(hash, queue, _)| (hash, queue)),
            learned.iter().map(|(_, queue, receive)| (receive, queue)),
        );
    }
    let Some(outcomes) = outcomes.into_iter().collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    Ok(Some(Applied { outcomes, filled }))
}
