//! Client sync against a real relay on 127.0.0.1 (in this process, SQLite on disk):
//!
//! * `sync_idle/{1,2000}` — a sync that finds nothing, for a parent with 1 and with
//!   2,000 conversations. The target: 2,000 within 2× of 1 (a sync makes the same
//!   relay requests — revocations and one pending-mail query — whatever the number of
//!   conversations).
//! * `sync_1000/{encrypted,unencrypted}` — a sync that fetches, decrypts, commits (with
//!   the session states) and acknowledges 1,000 waiting 100-byte messages; `unencrypted`
//!   is the same sync over a store whose values are written in the clear (feature
//!   `bench-unencrypted`), the baseline for the cost of encryption at rest. Targets:
//!   ≥ 10,000 messages/s, and encrypted ≥ 0.8× unencrypted in messages/s.
//!
//! Each `sync_1000` iteration starts from a copy of the same relay data and profile
//! folder (made once; copying is not timed), so every iteration syncs the same 1,000
//! messages.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use satchel_client::Client;
use satchel_client::relay::RelayClient;
use satchel_client::store::SqliteStore;
use satchel_client::store::keyfile::{KeyFile, KeySource};
use satchel_core::{Account, Session, os_rng};
use zeroize::Zeroizing;

mod support;

use support::{config, runtime, school, start_relay, start_relay_at};

const WAITING: usize = 1_000;

/// Adds `count` idle conversations to the parent's store: sessions with fresh peers,
/// their inbound queues created on the relay.
async fn add_idle_conversations(parent_home: &Path, seed: u8, url: &str, count: usize) {
    let file = KeyFile::from_bytes(&std::fs::read(parent_home.join("store.key")).unwrap()).unwrap();
    let key = file
        .unlock(&KeySource::Platform(Zeroizing::new([seed; 32])))
        .unwrap();
    let mut store = SqliteStore::open(&parent_home.join("satchel.db"), &key).unwrap();
    let account = store.account().unwrap().unwrap();
    let relay = RelayClient::new(url).unwrap();
    let mut rng = os_rng();
    for _ in 0..count {
        let peer = Account::new(&mut rng);
        let session = Session::initiate(&account, &peer.prekey_bundle(), &mut rng).unwrap();
        relay.create_queue(session.inbound_queue()).await.unwrap();
        store
            .write(|w| w.insert_session(&session, None, true))
            .unwrap();
    }
}

fn sync_idle(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sync_idle");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(6));
    for conversations in [1usize, 2000] {
        let dir = tempfile::tempdir().unwrap();
        let (relay, url, mut parent) = rt.block_on(async {
            let (relay, url) = start_relay(&dir.path().join("relay")).await;
            let (_, mut teacher, mut parent) = school(dir.path(), &url, false).await;
            teacher.send("Sam's mum", "hello").await.unwrap();
            parent.sync().await.unwrap();
            add_idle_conversations(&dir.path().join("parent"), 3, &url, conversations - 1).await;
            parent.sync().await.unwrap();
            (relay, url, parent)
        });
        let _ = url;
        group.bench_function(BenchmarkId::from_parameter(conversations), |b| {
            b.iter(|| {
                let report = rt.block_on(parent.sync()).unwrap();
                assert!(report.messages.is_empty());
            });
        });
        rt.block_on(relay.shutdown());
    }
    group.finish();
}

/// Copies a folder tree (the fixture for one iteration).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Builds, once, a relay data folder holding 1,000 messages for the parent and the
/// parent's folder; returns the folder holding both.
fn waiting_fixture(rt: &tokio::runtime::Runtime, unencrypted: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let (relay, url) = start_relay(&dir.path().join("relay")).await;
        std::fs::write(
            dir.path().join("relay-address"),
            relay.local_addr().to_string(),
        )
        .unwrap();
        let (_, mut teacher, mut parent) = school(dir.path(), &url, unencrypted).await;
        teacher.send("Sam's mum", "first").await.unwrap();
        parent.sync().await.unwrap();
        parent.send("Ms Rivera", "ok").await.unwrap();
        teacher.sync().await.unwrap();
        let text = "x".repeat(100);
        for _ in 0..WAITING {
            teacher.send("Sam's mum", &text).await.unwrap();
        }
        drop(parent);
        relay.shutdown().await;
    });
    dir
}

fn sync_1000(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sync_1000");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(WAITING as u64));
    for (name, unencrypted) in [("encrypted", false), ("unencrypted", true)] {
        let fixture = waiting_fixture(&rt, unencrypted);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let run = tempfile::tempdir().unwrap();
                    copy_tree(&fixture.path().join("relay"), &run.path().join("relay"));
                    copy_tree(&fixture.path().join("parent"), &run.path().join("parent"));
                    total += rt.block_on(async {
                        // The profile keeps its relay's address: serve the copied data
                        // on the address the fixture used.
                        let address =
                            std::fs::read_to_string(fixture.path().join("relay-address")).unwrap();
                        let (relay, _) = start_relay_at(&run.path().join("relay"), &address).await;
                        let home: PathBuf = run.path().join("parent");
                        let mut parent = if unencrypted {
                            Client::open_unencrypted_for_benchmarks(&home, config(3)).unwrap()
                        } else {
                            Client::open(&home, config(3)).unwrap()
                        };
                        let start = Instant::now();
                        let report = parent.sync().await.unwrap();
                        let elapsed = start.elapsed();
                        assert_eq!(report.messages.len(), WAITING);
                        relay.shutdown().await;
                        elapsed
                    });
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, sync_idle, sync_1000);
criterion_main!(benches);
