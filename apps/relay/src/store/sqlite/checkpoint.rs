//! WAL checkpoints off the commit path.
//!
//! In WAL mode a commit appends pages to the write-ahead log; a checkpoint copies them
//! into the database file and syncs it. SQLite's default runs that checkpoint inside the
//! commit that crosses 1,000 pages, so every few hundred milliseconds under load one
//! batch of deposits waits for a copy and an extra fsync before it is acknowledged.
//!
//! Here the writer connection never checkpoints (`wal_autocheckpoint = 0`). After each
//! commit it wakes this thread, which waits [`GATHER`] so one checkpoint covers many
//! commits, then runs a `PASSIVE` checkpoint on its own connection: it copies what it can
//! without waiting for the writer or readers. A passive checkpoint alone cannot let the
//! log start over while commits keep arriving, so once the log holds [`RESTART_FRAMES`]
//! it follows up with a `RESTART` checkpoint. That one briefly holds off the writer,
//! but by then only the few pages committed since the passive pass are left to copy.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

use rusqlite::Connection;

use super::super::StoreError;

/// How long the checkpoint thread lets commits gather before it copies them.
const GATHER: Duration = Duration::from_millis(50);

/// Log size (in pages of 4 KiB) from which a checkpoint also restarts the log.
const RESTART_FRAMES: i64 = 4096;

/// Wakes the checkpoint thread; the thread stops when this is dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
}

impl Checkpointer {
    /// Starts the checkpoint thread with its own connection to the database at `path`.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let mut conn = super::open_connection(path)?;
        conn.busy_handler(Some(super::wait_briefly))?;
        let (wake, woken) = sync_channel(1);
        std::thread::Builder::new()
            .name("satchel-checkpoint".to_owned())
            .spawn(move || run(&conn, &woken))
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Self { wake })
    }

    /// Tells the thread that a commit added pages to the log.
    pub fn committed(&self) {
        // A full channel means the thread is already due to run; nothing is lost.
        let _ = self.wake.try_send(());
    }
}

/// `(busy, pages in the log, pages copied)` as `PRAGMA wal_checkpoint` reports them.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(bool, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get::<_, i64>(0)? != 0, row.get(1)?, row.get(2)?))
    })
}

fn run(conn: &Connection, woken: &Receiver<()>) {
    while woken.recv().is_ok() {
        std::thread::sleep(GATHER);
        loop {
            match woken.try_recv() {
                Ok(()) => {}
                Err(TryRecvError::Empty) => break,
                // The store is gone; SQLite checkpoints when the last connection closes.
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let result = checkpoint(conn, "PASSIVE").and_then(|(_, log, _)| {
            if log >= RESTART_FRAMES {
                checkpoint(conn, "RESTART")
            } else {
                Ok((false, log, 0))
            }
        });
        match result {
            Ok((true, log, copied)) => {
                tracing::debug!(
                    log,
                    copied,
                    "a WAL checkpoint could not restart the log yet"
                );
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "a WAL checkpoint failed; it is tried again after the next commit")
            }
        }
    }
}
