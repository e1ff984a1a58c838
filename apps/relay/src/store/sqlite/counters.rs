//! Queue counters the writer holds while a batch deposits.
//!
//! A deposit needs its queue's row: to find the queue, check the quota and take the next
//! sequence number. Updating that row in place for every deposit would write the queue
//! page again for each message. Instead a batch reads each queue's row once, counts in
//! memory, and writes the changed rows back in one pass, in queue order, before the
//! commit. Any operation other than a deposit writes the held rows back first, so it
//! reads and changes the rows as they really are.

use std::collections::HashMap;

use rusqlite::{OptionalExtension as _, Transaction, params};

/// A queue's row as the batch sees it.
pub(super) struct HeldQueue {
    /// The queue's row id.
    pub queue: i64,
    /// The queue's receive id (16 bytes as stored).
    pub receive_id: Vec<u8>,
    /// Messages waiting in the queue.
    pub message_count: i64,
    /// Bytes the waiting messages hold.
    pub byte_count: i64,
    /// The last sequence number handed out.
    pub last_seq: i64,
    /// Whether the queue is a contact mailbox.
    pub mailbox: bool,
    changed: bool,
}

impl HeldQueue {
    /// Counts one deposit of `len` bytes and returns its sequence number.
    pub fn deposit(&mut self, len: i64) -> i64 {
        self.message_count += 1;
        self.byte_count += len;
        self.last_seq += 1;
        self.changed = true;
        self.last_seq
    }
}

/// The queue rows one batch holds, by the hash of their send id.
#[derive(Default)]
pub(super) struct HeldCounters {
    by_hash: HashMap<[u8; 32], HeldQueue>,
}

impl HeldCounters {
    /// The queue whose stored send id hash is `hash`, read from the database the first
    /// time the batch asks; `None` when there is no such queue.
    pub fn get(
        &mut self,
        tx: &Transaction<'_>,
        hash: [u8; 32],
    ) -> rusqlite::Result<Option<&mut HeldQueue>> {
        use std::collections::hash_map::Entry;
        match self.by_hash.entry(hash) {
            Entry::Occupied(held) => Ok(Some(held.into_mut())),
            Entry::Vacant(slot) => {
                let row = tx
                    .prepare_cached(
                        "SELECT queue, receive_id, message_count, byte_count, last_seq, mailbox \
                         FROM queues WHERE send_hash = ?1",
                    )?
                    .query_row([hash.as_slice()], |row| {
                        Ok(HeldQueue {
                            queue: row.get(0)?,
                            receive_id: row.get(1)?,
                            message_count: row.get(2)?,
                            byte_count: row.get(3)?,
                            last_seq: row.get(4)?,
                            mailbox: row.get(5)?,
                            changed: false,
                        })
                    })
                    .optional()?;
                Ok(row.map(|held| slot.insert(held)))
            }
        }
    }

    /// Writes every changed row back, in queue order, and lets go of all rows.
    pub fn write_back(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        if self.by_hash.is_empty() {
            return Ok(());
        }
        let mut changed: Vec<HeldQueue> = self
            .by_hash
            .drain()
            .map(|(_, held)| held)
            .filter(|held| held.changed)
            .collect();
        changed.sort_unstable_by_key(|held| held.queue);
        let mut update = tx.prepare_cached(
            "UPDATE queues SET message_count = ?2, byte_count = ?3, last_seq = ?4 WHERE queue = ?1",
        )?;
        for held in &changed {
            update.execute(params![
                held.queue,
                held.message_count,
                held.byte_count,
                held.last_seq
            ])?;
        }
        Ok(())
    }
}
