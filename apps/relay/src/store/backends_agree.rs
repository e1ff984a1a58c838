//! Both backends give the same outcome for the same batches of queue operations, and
//! hold the same messages afterwards (a property test against a real PostgreSQL: it
//! runs when `SATCHEL_TEST_POSTGRES` names a server, as `scripts/pg-tmp.sh` prints, and
//! says it skipped otherwise).
//!
//! PostgreSQL applies a batch of plain deposits in one statement that decides quotas
//! and numbers messages in SQL (`postgres/deposits.rs`), mixes it with the general path
//! when a batch holds other operations, and falls back to that path when it cannot find
//! a queue by the row id it remembered. SQLite does each deposit in Rust. Random batches
//! over a few queues, with quotas small enough to be reached within a batch, contact
//! mailboxes, queues deleted and created again, and deposits into queues that do not
//! exist, compare the two.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use satchel_core::ReceiveId;

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::{MailboxSender, QueueQuota, RelayStore, WriteOp, WriteOutcome};

/// Queues per case; the last send id is never created.
const QUEUES: u8 = 4;

const QUOTA: QueueQuota = QueueQuota {
    max_messages: 3,
    max_bytes: 600,
};

/// One operation, naming its queue by number.
#[derive(Clone, Debug)]
enum Step {
    Create { queue: u8, mailbox: bool },
    Delete { queue: u8 },
    Deposit { queue: u8, len: usize, network: u8 },
    Shared { queues: Vec<u8>, len: usize },
    Ack { queue: u8, ids: Vec<u64> },
}

fn step() -> impl Strategy<Value = Step> {
    let queue = 0..=QUEUES;
    prop_oneof![
        2 => (queue.clone(), proptest::bool::weighted(0.3))
            .prop_map(|(queue, mailbox)| Step::Create { queue, mailbox }),
        1 => queue.clone().prop_map(|queue| Step::Delete { queue }),
        8 => (queue.clone(), 17usize..300, 0u8..2)
            .prop_map(|(queue, len, network)| Step::Deposit { queue, len, network }),
        1 => (proptest::collection::vec(queue.clone(), 1..4), 17usize..200)
            .prop_map(|(queues, len)| Step::Shared { queues, len }),
        2 => (queue, proptest::collection::vec(1u64..8, 1..4))
            .prop_map(|(queue, ids)| Step::Ack { queue, ids }),
    ]
}

/// The keys of queue `n` in case `case`: fresh for every case, shrinking included.
struct Keys {
    case: u64,
}

impl Keys {
    fn send_id(&self, queue: u8) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.case.to_le_bytes());
        id[8] = queue;
        id
    }

    fn auth_key(&self, queue: u8) -> [u8; 32] {
        let mut key = [7u8; 32];
        key[..8].copy_from_slice(&self.case.to_le_bytes());
        key[8] = queue;
        key
    }

    fn receive_id(&self, queue: u8) -> ReceiveId {
        ReceiveId::for_key(&self.auth_key(queue))
    }

    fn envelope(&self, queue: u8, len: usize, salt: usize) -> Vec<u8> {
        let mut envelope: Vec<u8> = (0..len)
            .map(|i| u8::try_from((i + salt) % 251).unwrap_or(0))
            .collect();
        if let Some(send_id) = envelope.get_mut(1..17) {
            send_id.copy_from_slice(&self.send_id(queue));
        }
        envelope
    }

    fn op(&self, step: &Step, salt: usize) -> WriteOp {
        match step {
            Step::Create { queue, mailbox } => WriteOp::CreateQueue {
                send_id: self.send_id(*queue),
                auth_key: self.auth_key(*queue),
                mailbox: *mailbox,
            },
            Step::Delete { queue } => WriteOp::DeleteQueue {
                receive_id: self.receive_id(*queue),
            },
            Step::Deposit {
                queue,
                len,
                network,
            } => WriteOp::Deposit {
                send_id: self.send_id(*queue),
                envelope: self.envelope(*queue, *len, salt),
                quota: QUOTA,
                now: 1_000,
                sender: Some(MailboxSender {
                    network: u64::from(*network),
                    per_hour: 2,
                    burst: 2,
                }),
            },
            Step::Shared { queues, len } => {
                let mut prefix = [0u8; 17];
                prefix[0] = 2;
                WriteOp::DepositShared {
                    send_ids: queues.iter().map(|queue| self.send_id(*queue)).collect(),
                    prefix,
                    body: self.envelope(0, *len, salt),
                    quota: QUOTA,
                    now: 1_000,
                    sender: None,
                }
            }
            Step::Ack { queue, ids } => WriteOp::Ack {
                receive_id: self.receive_id(*queue),
                ids: ids.clone(),
            },
        }
    }
}

/// Outcomes with the parts that depend on the clock or the backend's row ids made equal:
/// the seconds a throttled sender waits.
fn comparable(outcome: WriteOutcome) -> WriteOutcome {
    match outcome {
        WriteOutcome::Throttled { .. } => WriteOutcome::Throttled {
            retry_after_secs: 0,
        },
        WriteOutcome::DepositedShared(outcomes) => {
            WriteOutcome::DepositedShared(outcomes.into_iter().map(comparable).collect())
        }
        other => other,
    }
}

struct Stores {
    sqlite: SqliteStore,
    postgres: PostgresStore,
    _dir: tempfile::TempDir,
}

fn stores(server: &str) -> Stores {
    let name = format!(
        "satchel_agree_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|time| time.subsec_nanos())
            .unwrap_or(0)
    );
    let mut admin = postgres::Client::connect(server, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    let dir = tempfile::tempdir().unwrap();
    Stores {
        sqlite: SqliteStore::open(&dir.path().join("data")).unwrap(),
        postgres: PostgresStore::open(&format!("{base}/{name}")).unwrap(),
        _dir: dir,
    }
}

#[test]
fn sqlite_and_postgres_agree_on_random_batches() {
    let Some(server) = std::env::var("SATCHEL_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!("skipped: SATCHEL_TEST_POSTGRES names no PostgreSQL server");
        return;
    };
    let stores = stores(&server);
    let cases = AtomicU64::new(1);
    let batches = proptest::collection::vec(proptest::collection::vec(step(), 1..10), 1..8);
    proptest!(ProptestConfig::with_cases(256), |(batches in batches)| {
        let keys = Keys { case: cases.fetch_add(1, Ordering::Relaxed) };
        // Every queue but the last exists at the start, one of them a contact mailbox.
        let setup: Vec<WriteOp> = (0..QUEUES)
            .map(|queue| keys.op(&Step::Create { queue, mailbox: queue == 1 }, 0))
            .collect();
        stores.sqlite.write_batch(&setup).unwrap();
        stores.postgres.write_batch(&setup).unwrap();
        for (number, batch) in batches.iter().enumerate() {
            let ops: Vec<WriteOp> = batch
                .iter()
                .enumerate()
                .map(|(salt, step)| keys.op(step, number * 16 + salt))
                .collect();
            let sqlite: Vec<WriteOutcome> =
                stores.sqlite.write_batch(&ops).unwrap().into_iter().map(comparable).collect();
            let postgres: Vec<WriteOutcome> =
                stores.postgres.write_batch(&ops).unwrap().into_iter().map(comparable).collect();
            prop_assert_eq!(sqlite, postgres, "batch {} of {:?}", number, batches);
        }
        for queue in 0..=QUEUES {
            let receive_id = keys.receive_id(queue);
            let sqlite = stores.sqlite.fetch(&receive_id, 0, 100, 1 << 20).unwrap();
            let postgres = stores.postgres.fetch(&receive_id, 0, 100, 1 << 20).unwrap();
            prop_assert_eq!(sqlite, postgres, "queue {} after {:?}", queue, batches);
        }
    });
}
