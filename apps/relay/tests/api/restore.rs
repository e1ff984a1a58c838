//! The restore drill of docs/OPERATIONS.md: back up a running relay's database, keep
//! writing, restore the backup elsewhere and start a relay on it. The restored relay
//! holds exactly what the backup held.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// The newest PostgreSQL client tools installed.
fn pg_bin(tool: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .map(|entry| entry.unwrap().path().join("bin"))
        .collect();
    dirs.sort();
    dirs.pop().unwrap().join(tool)
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Backs up the live database of the relay in `dir` into `backup` (a file).
fn back_up(dir: &Path, backup: &Path) {
    if let Some(url) = database_for(dir) {
        run(Command::new(pg_bin("pg_dump"))
            .args(["-Fc", "-d", &url, "-f"])
            .arg(backup));
    } else {
        // SQLite's online backup API (what `sqlite3 relay.sqlite3 ".backup FILE"` uses),
        // through Python's standard library, on the live WAL database.
        run(Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))",
            ])
            .arg(dir.join("data").join("relay.sqlite3"))
            .arg(backup));
    }
}

/// Restores `backup` for a new relay in `dir`.
fn restore(backup: &Path, dir: &Path) {
    if let Some(url) = database_for(dir) {
        run(Command::new(pg_bin("pg_restore"))
            .args(["--no-owner", "-d", &url])
            .arg(backup));
    } else {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::copy(backup, data.join("relay.sqlite3")).unwrap();
    }
}

#[tokio::test]
async fn a_backup_restores_into_a_working_relay() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    relay.create_queue(&keys).await;
    let mut before = Vec::new();
    for _ in 0..20 {
        let e = envelope(keys.send_id().as_bytes(), 100);
        assert_eq!(relay.deposit(e.clone()).await.status, 202);
        before.push(stored(&e));
    }
    let scratch = tempfile::tempdir().unwrap();
    let backup = scratch.path().join("backup");
    let source = relay.dir.path().to_owned();
    tokio::task::spawn_blocking(move || back_up(&source, &backup))
        .await
        .unwrap();
    // Written after the backup: not in the restored copy.
    assert_eq!(
        relay
            .deposit(envelope(keys.send_id().as_bytes(), 100))
            .await
            .status,
        202
    );
    relay.stop().await;

    let target = tempfile::tempdir().unwrap();
    let (backup, target_path) = (scratch.path().join("backup"), target.path().to_owned());
    tokio::task::spawn_blocking(move || restore(&backup, &target_path))
        .await
        .unwrap();
    let restored = TestRelay::start_in(target, |_| {}).await;
    let health = reqwest::get(restored.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let page = restored.fetch(&keys, "").await;
    let got: Vec<Vec<u8>> = page.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| unb64(m["envelope"].as_str().unwrap()))
        .collect();
    assert_eq!(got, before);
    // And it keeps working: new deposits continue the queue's ids.
    let r = restored
        .deposit(envelope(keys.send_id().as_bytes(), 100))
        .await;
    assert_eq!((r.status, r.json["id"].as_u64()), (202, Some(21)));
    restored.stop().await;
}
