//! Faults under load, with real processes: the relay killed with SIGKILL (on whichever
//! backend this pass of the suite uses), PostgreSQL restarted under the relay, and the
//! SQLite disk filling up. Clients retry what was not acknowledged, as the apps do; the
//! checks are that nothing acknowledged is lost, and that only a deposit retried after
//! an unanswered attempt can be stored twice (the recipient's ratchet drops that copy:
//! it is the same ciphertext).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use satchel_core::QueueKeys;

use crate::support::*;

/// The relay binary with the load's limits lifted (every client is 127.0.0.1).
fn spawn_relay(data: &Path, extra: &[&str], stderr: Option<&Path>) -> (Child, String) {
    let mut args = vec![
        "--rate-limit",
        "1000000",
        "--max-connections-per-address",
        "8192",
        "--queue-max-messages",
        "1000000",
    ];
    args.extend_from_slice(extra);
    spawn_binary(data, &args, stderr)
}

fn kill_9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// What the load saw.
#[derive(Default)]
struct Ledger {
    /// Bodies the relay acknowledged (202), by queue.
    acknowledged: Vec<(usize, Vec<u8>)>,
    /// Bodies sent again after an attempt got no answer or a 5xx.
    retried: HashSet<Vec<u8>>,
    /// Statuses of refused attempts, with whether `Retry-After` came along.
    refusals: HashMap<(u16, bool), u64>,
}

/// Depositors that keep sending unique envelopes to `queues` at the relay whose URL is
/// in `base`, retrying each until it is acknowledged.
struct Load {
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: Arc<RwLock<String>>, queues: &[QueueKeys], depositors: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let counter = Arc::new(AtomicU64::new(0));
        let send_ids: Vec<[u8; 16]> = queues.iter().map(|k| *k.send_id().as_bytes()).collect();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let tasks = (0..depositors)
            .map(|task| {
                let (stop, ledger, counter, base, client) = (
                    Arc::clone(&stop),
                    Arc::clone(&ledger),
                    Arc::clone(&counter),
                    Arc::clone(&base),
                    client.clone(),
                );
                let send_ids = send_ids.clone();
                tokio::spawn(async move {
                    let mut pending: Option<(usize, Vec<u8>)> = None;
                    loop {
                        // Stop only with nothing unanswered in hand.
                        if stop.load(Ordering::Relaxed) && pending.is_none() {
                            return;
                        }
                        let (queue, body) = pending.take().unwrap_or_else(|| {
                            let n = counter.fetch_add(1, Ordering::Relaxed);
                            let queue = (task + n as usize) % send_ids.len();
                            let mut body = envelope(&send_ids[queue], 48);
                            body[17..25].copy_from_slice(&n.to_be_bytes());
                            (queue, body)
                        });
                        let url = format!("{}/v1/envelopes", base.read().unwrap());
                        let answer = client
                            .post(url)
                            .header("content-type", "application/octet-stream")
                            .body(body.clone())
                            .send()
                            .await;
                        let acknowledged = {
                            let mut ledger_now = ledger.lock().unwrap();
                            match answer {
                                Ok(r) if r.status().as_u16() == 202 => {
                                    ledger_now.acknowledged.push((queue, body.clone()));
                                    true
                                }
                                Ok(r) => {
                                    let key = (
                                        r.status().as_u16(),
                                        r.headers().contains_key("retry-after"),
                                    );
                                    *ledger_now.refusals.entry(key).or_default() += 1;
                                    ledger_now.retried.insert(body.clone());
                                    false
                                }
                                Err(_) => {
                                    *ledger_now.refusals.entry((0, false)).or_default() += 1;
                                    ledger_now.retried.insert(body.clone());
                                    false
                                }
                            }
                        };
                        if acknowledged {
                            continue;
                        }
                        pending = Some((queue, body));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
            })
            .collect();
        Self {
            stop,
            ledger,
            tasks,
        }
    }

    async fn finish(self) -> Ledger {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("a depositor never got its last deposit acknowledged")
                .unwrap();
        }
        Arc::try_unwrap(self.ledger)
            .ok()
            .unwrap()
            .into_inner()
            .unwrap()
    }
}

/// Every stored envelope of `keys`' queue, following pages.
async fn drain(relay: &TestRelay, keys: &QueueKeys) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = relay
            .fetch(keys, &format!("?after={after}&limit=500"))
            .await;
        assert_eq!(page.status, 200, "{}", page.json);
        let messages = page.json["messages"].as_array().unwrap().clone();
        if messages.is_empty() {
            return all;
        }
        for m in messages {
            after = m["id"].as_u64().unwrap();
            all.push(unb64(m["envelope"].as_str().unwrap()));
        }
    }
}

/// Outcome of checking what is stored against what was acknowledged.
struct Audit {
    acknowledged: usize,
    lost: usize,
    stored_twice: usize,
    stored_twice_without_retry: usize,
}

async fn audit(relay: &TestRelay, queues: &[QueueKeys], ledger: &Ledger) -> Audit {
    let mut stored_counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for keys in queues {
        for envelope in drain(relay, keys).await {
            *stored_counts.entry(envelope).or_default() += 1;
        }
    }
    let mut audit = Audit {
        acknowledged: ledger.acknowledged.len(),
        lost: 0,
        stored_twice: 0,
        stored_twice_without_retry: 0,
    };
    for (_, body) in &ledger.acknowledged {
        match stored_counts.get(&stored(body)).copied().unwrap_or(0) {
            0 => audit.lost += 1,
            1 => {}
            _ => {
                audit.stored_twice += 1;
                if !ledger.retried.contains(body) {
                    audit.stored_twice_without_retry += 1;
                }
            }
        }
    }
    audit
}

async fn queues_on(relay: &TestRelay, n: usize) -> Vec<QueueKeys> {
    let mut queues = Vec::new();
    for _ in 0..n {
        let keys = queue_keys();
        relay.create_queue(&keys).await;
        queues.push(keys);
    }
    queues
}

/// Ten SIGKILLs of the relay under load: nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_kill_9s_under_load_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, base) = spawn_relay(&data, &[], None);
    let relay = TestRelay::external(base.clone(), dir);
    let queues = queues_on(&relay, 8).await;
    let shared_base = Arc::new(RwLock::new(base));
    let load = Load::start(Arc::clone(&shared_base), &queues, 24);
    let mut child = child;
    let started = Instant::now();
    for round in 0..10u64 {
        // Let the load run 150..450 ms, then kill.
        tokio::time::sleep(Duration::from_millis(150 + (round * 97) % 300)).await;
        kill_9(child);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (next, base) = spawn_relay(&data, &[], None);
        *shared_base.write().unwrap() = base;
        child = next;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ledger = load.finish().await;
    let base = shared_base.read().unwrap().clone();
    let relay = TestRelay::external(base, relay.dir);
    let result = audit(&relay, &queues, &ledger).await;
    eprintln!(
        "kill -9 x10 in {:.1} s ({}): {} acknowledged, {} lost, {} stored twice \
         (all after a retry of an unanswered deposit: {}); refusals {:?}",
        started.elapsed().as_secs_f64(),
        if test_postgres().is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        result.acknowledged,
        result.lost,
        result.stored_twice,
        result.stored_twice_without_retry == 0,
        ledger.refusals,
    );
    assert!(result.acknowledged > 100, "the load barely ran");
    assert_eq!(result.lost, 0, "acknowledged deposits were lost");
    assert_eq!(result.stored_twice_without_retry, 0);
    kill_9(child);
}

/// A PostgreSQL server of its own for the restart test (durable, so a crash restart
/// keeps what was committed): (its folder, its URL).
fn own_postgres() -> (PathBuf, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-tmp.sh");
    let output = Command::new(script)
        .arg("start")
        .env("PG_DURABLE", "1")
        .env("INSTALL", "0")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing in {text}"))
            .to_owned()
    };
    (PathBuf::from(field("PGTMP_DIR")), field("DATABASE_URL"))
}

fn pg_tmp(command: &str, dir: &Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-tmp.sh");
    let status = Command::new(script).arg(command).arg(dir).status().unwrap();
    assert!(status.success(), "pg-tmp.sh {command} failed");
}

/// PostgreSQL crashes and restarts three times under load: meanwhile the relay answers
/// 503 with `Retry-After` (never a bare 500), it reconnects by itself, and nothing it
/// acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_gives_503_and_loses_nothing() {
    if test_postgres().is_none() {
        eprintln!("skipped: set SATCHEL_TEST_POSTGRES (scripts/test does) to run it");
        return;
    }
    let (pg_dir, url) = own_postgres();
    struct StopPostgres(PathBuf);
    impl Drop for StopPostgres {
        fn drop(&mut self) {
            pg_tmp("stop", &self.0);
        }
    }
    let _stop = StopPostgres(pg_dir.clone());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("database-url"), &url).unwrap();
    let (child, base) = spawn_relay(&dir.path().join("data"), &[], None);
    let relay = TestRelay::external(base.clone(), dir);
    let queues = queues_on(&relay, 4).await;
    let load = Load::start(Arc::new(RwLock::new(base)), &queues, 16);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let pg = pg_dir.clone();
        tokio::task::spawn_blocking(move || pg_tmp("restart", &pg))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let recovered_at = Instant::now();
    let ledger = load.finish().await;
    let drained_in = recovered_at.elapsed();
    let result = audit(&relay, &queues, &ledger).await;
    eprintln!(
        "PostgreSQL restarted x3 under load: {} acknowledged, {} lost, {} stored twice; \
         refusals (status, retry-after) {:?}; last retries done {} ms after the restart",
        result.acknowledged,
        result.lost,
        result.stored_twice,
        ledger.refusals,
        drained_in.as_millis()
    );
    assert_eq!(result.lost, 0, "acknowledged deposits were lost");
    assert_eq!(result.stored_twice_without_retry, 0);
    assert!(
        ledger.refusals.contains_key(&(503, true)),
        "no 503 with Retry-After while PostgreSQL was down: {:?}",
        ledger.refusals
    );
    let bare: Vec<_> = ledger
        .refusals
        .keys()
        .filter(|(status, retry)| *status != 0 && !(*status == 503 && *retry))
        .collect();
    assert!(
        bare.is_empty(),
        "answers other than 503 + Retry-After: {bare:?}"
    );
    let health = reqwest::get(relay.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    kill_9(child);
}

/// The SQLite disk fills up: deposits get 503 with `Retry-After` and the log says why;
/// nothing is corrupted; once space is freed, service resumes by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_disk_refuses_clearly_and_recovers() {
    if test_postgres().is_some() {
        return; // The SQLite pass runs it.
    }
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small-disk");
    std::fs::create_dir(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mount)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !mounted {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let ballast = mount.join("ballast");
    std::fs::write(&ballast, vec![0u8; 1 << 20]).unwrap();
    let log = dir.path().join("relay.log");
    let (child, base) = spawn_relay(&mount.join("data"), &[], Some(&log));
    let relay = TestRelay::external(base, tempfile::tempdir().unwrap());
    let keys = queue_keys();
    relay.create_queue(&keys).await;
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for _ in 0..5_000 {
        let body = envelope(keys.send_id().as_bytes(), 4_000);
        let r = relay.deposit(body.clone()).await;
        if r.status == 202 {
            acknowledged.push(stored(&body));
        } else {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("the disk never filled");
    assert_eq!(
        (refused.status, refused.error()),
        (503, "unavailable"),
        "{}",
        refused.json
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("disk holding the database is full"), "{text}");
    // Space returns: the relay takes deposits again without a restart.
    std::fs::remove_file(&ballast).unwrap();
    let body = envelope(keys.send_id().as_bytes(), 4_000);
    let r = relay.deposit(body.clone()).await;
    assert_eq!(r.status, 202, "{}", r.json);
    acknowledged.push(stored(&body));
    assert_eq!(drain(&relay, &keys).await, acknowledged);
    eprintln!(
        "disk full after {} deposits of 4 KB on a 3 MiB disk; resumed after freeing 1 MiB",
        acknowledged.len() - 1
    );
    kill_9(child);
    let conn = rusqlite::Connection::open(mount.join("data").join("relay.sqlite3")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
