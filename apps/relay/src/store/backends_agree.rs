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
const QUEUES: u8 = 3;

const QUOTA_MESSAGES: usize = 5;

const QUOTA: QueueQuota = QueueQuota {
    max_messages: QUOTA_MESSAGES as u64,
    max_bytes: 500,
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

/// The test server, or `None` (and a note that the test skipped).
fn test_server() -> Option<String> {
    let server = std::env::var("SATCHEL_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty());
    if server.is_none() {
        eprintln!("skipped: SATCHEL_TEST_POSTGRES names no PostgreSQL server");
    }
    server
}

/// One store's outcomes for `ops`, made comparable.
fn outcomes(store: &dyn RelayStore, ops: &[WriteOp]) -> Result<Vec<WriteOutcome>, String> {
    Ok(store
        .write_batch(ops)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(comparable)
        .collect())
}

/// Applies `batches` to both stores, after creating every queue but the last (queue 1
/// a contact mailbox); the outcomes of each batch and then every queue's messages must
/// be equal.
fn compare(stores: &Stores, keys: &Keys, batches: &[Vec<Step>]) -> Result<(), String> {
    let setup: Vec<WriteOp> = (0..QUEUES)
        .map(|queue| {
            keys.op(
                &Step::Create {
                    queue,
                    mailbox: queue == 1,
                },
                0,
            )
        })
        .collect();
    outcomes(&stores.sqlite, &setup)?;
    outcomes(&stores.postgres, &setup)?;
    for (number, batch) in batches.iter().enumerate() {
        let ops: Vec<WriteOp> = batch
            .iter()
            .enumerate()
            .map(|(salt, step)| keys.op(step, number * 16 + salt))
            .collect();
        let sqlite = outcomes(&stores.sqlite, &ops)?;
        let postgres = outcomes(&stores.postgres, &ops)?;
        if sqlite != postgres {
            return Err(format!(
                "batch {number}: SQLite {sqlite:?}, PostgreSQL {postgres:?}"
            ));
        }
    }
    for queue in 0..=QUEUES {
        let receive_id = keys.receive_id(queue);
        let sqlite = stores.sqlite.fetch(&receive_id, 0, 100, 1 << 20);
        let postgres = stores.postgres.fetch(&receive_id, 0, 100, 1 << 20);
        let (sqlite, postgres) = (
            sqlite.map_err(|e| e.to_string())?,
            postgres.map_err(|e| e.to_string())?,
        );
        if sqlite != postgres {
            return Err(format!(
                "queue {queue}: SQLite {sqlite:?}, PostgreSQL {postgres:?}"
            ));
        }
    }
    Ok(())
}

/// The limits within one batch of deposits, at their edges: the last message that fits
/// and the first that does not, by count and by bytes.
#[test]
fn both_backends_stop_a_batch_of_deposits_at_the_quota() {
    let Some(server) = test_server() else {
        return;
    };
    let stores = stores(&server);
    let deposit = |len| Step::Deposit {
        queue: 0,
        len,
        network: 0,
    };
    let by_count = vec![vec![deposit(17); QUOTA_MESSAGES + 1]];
    compare(&stores, &Keys { case: 1 }, &by_count).unwrap();
    // 250 + 240 bytes fit under 500 (the second starts at 250); the third starts at 490,
    // under the limit, and is taken; the fourth starts at 510 and is refused.
    let by_bytes = vec![vec![deposit(250), deposit(240), deposit(20), deposit(20)]];
    compare(&stores, &Keys { case: 2 }, &by_bytes).unwrap();
    // The same across batches, with a message already stored.
    let stored_first = vec![vec![deposit(300)], vec![deposit(199), deposit(17)]];
    compare(&stores, &Keys { case: 3 }, &stored_first).unwrap();
    let refused: Vec<WriteOutcome> = stores
        .postgres
        .write_batch(&[Keys { case: 2 }.op(&deposit(17), 0)])
        .unwrap();
    assert_eq!(refused, [WriteOutcome::Full]);
}

#[test]
fn sqlite_and_postgres_agree_on_random_batches() {
    let Some(server) = test_server() else {
        return;
    };
    let stores = stores(&server);
    let cases = AtomicU64::new(100);
    let batches = proptest::collection::vec(proptest::collection::vec(step(), 1..12), 1..8);
    proptest!(ProptestConfig::with_cases(512), |(batches in batches)| {
        let keys = Keys { case: cases.fetch_add(1, Ordering::Relaxed) };
        prop_assert_eq!(compare(&stores, &keys, &batches), Ok(()), "{:?}", batches);
    });
}
