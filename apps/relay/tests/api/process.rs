//! The compiled binary: `listening on ADDR`, durability across kill -9, `--help`.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::support::{TestRelay, envelope, queue_keys, stored, unb64};

/// Starts the binary on a free port; returns the child and its base URL.
fn start(data: &Path) -> (Child, String) {
    crate::support::spawn_binary(data, &[], None)
}

fn kill_9(mut child: Child) {
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

#[tokio::test]
async fn survives_kill_9_between_deposit_and_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, base) = start(&data);
    let relay = TestRelay::external(base, dir);
    let keys = queue_keys();
    let receive_id = relay.create_queue(&keys).await;
    let sent: Vec<Vec<u8>> = (0..5)
        .map(|i| envelope(keys.send_id().as_bytes(), 100 * i))
        .collect();
    for e in &sent {
        assert_eq!(relay.deposit(e.clone()).await.status, 202);
    }
    kill_9(child);

    let (child, base) = start(&data);
    let relay = TestRelay::external(base, relay.dir);
    let r = relay.fetch(&keys, "").await;
    assert_eq!(r.status, 200, "{}", r.json);
    let messages = r.json["messages"].as_array().unwrap();
    let got: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| unb64(m["envelope"].as_str().unwrap()))
        .collect();
    let sent: Vec<Vec<u8>> = sent.iter().map(|e| stored(e)).collect();
    assert_eq!(got, sent, "every acknowledged deposit survives kill -9");

    // Ack three, kill again: they stay gone, the rest stays.
    let ids: Vec<u64> = messages.iter().map(|m| m["id"].as_u64().unwrap()).collect();
    let r = relay
        .queue(
            "POST",
            &format!("/v1/queues/{receive_id}/ack"),
            json!({"ids": &ids[..3]}),
            &keys,
        )
        .await;
    assert_eq!(r.status, 204);
    kill_9(child);

    let (child, base) = start(&data);
    let relay = TestRelay::external(base, relay.dir);
    let r = relay.fetch(&keys, "").await;
    let left: Vec<u64> = r.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(left, ids[3..].to_vec());
    // New ids never reuse acknowledged ones.
    let r = relay.deposit(envelope(keys.send_id().as_bytes(), 1)).await;
    assert!(r.json["id"].as_u64().unwrap() > *ids.last().unwrap());
    kill_9(child);
}

#[test]
fn help_explains_every_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_satchel-relay"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--data",
        "--queue-max-messages",
        "--queue-max-bytes",
        "--max-age-days",
        "--rate-limit",
        "--replay-cache-entries",
        "--max-connections",
        "--max-connections-per-address",
        "--header-timeout",
        "--idle-timeout",
        "--registration-token",
        "--prekey-takes-per-hour",
        "--prekey-take-burst",
        "--log",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _) = start(&dir.path().join("data"));
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// Logs written to a file or a pipe carry no colour codes (they are for terminals).
#[cfg(unix)]
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_satchel-relay"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("stopped"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
}
