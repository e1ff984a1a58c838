//! Many `satchel send` processes on one profile at once: every message arrives, and the
//! conversation goes on afterwards (no message key is ever used twice).

use std::process::{Command, Stdio};

use crate::support::{PASSPHRASE, School, satchel_bin, texts};

const PARALLEL: usize = 30;

fn parallel_sends(from: &crate::support::Person, to: &str, prefix: &str) {
    let children: Vec<_> = (0..PARALLEL)
        .map(|i| {
            Command::new(satchel_bin())
                .env("SATCHEL_PASSPHRASE", PASSPHRASE)
                .arg("--home")
                .arg(&from.home)
                .args(["send", to, &format!("{prefix} {i}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a parallel send failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn received(messages: &[serde_json::Value], prefix: &str) -> Vec<String> {
    let mut texts: Vec<String> = texts(messages)
        .into_iter()
        .map(|(_, _, text)| text)
        .filter(|t| t.starts_with(prefix))
        .collect();
    texts.sort();
    texts
}

fn expected(prefix: &str) -> Vec<String> {
    let mut all: Vec<String> = (0..PARALLEL).map(|i| format!("{prefix} {i}")).collect();
    all.sort();
    all
}

#[test]
fn thirty_parallel_sends_on_one_profile_all_arrive_and_the_conversation_goes_on() {
    let school = School::start();
    let teacher = school.enrol("teacher", "teacher", "Ms Rivera", "5B");
    let mum = school.enrol("mum", "parent", "Sam's mum", "5B");

    // No session yet: thirty processes race to start one.
    parallel_sends(&teacher, "Sam's mum", "first");
    assert_eq!(received(&mum.sync(), "first"), expected("first"));

    // The parent answers (the session is confirmed), then thirty more at once.
    mum.ok(&["send", "Ms Rivera", "Got them all."]);
    assert_eq!(texts(&teacher.sync()).len(), 1);
    parallel_sends(&teacher, "Sam's mum", "second");
    assert_eq!(received(&mum.sync(), "second"), expected("second"));

    // Ordinary sends afterwards still arrive, both ways.
    for i in 0..3 {
        teacher.ok(&["send", "Sam's mum", &format!("after {i}")]);
    }
    let after: Vec<String> = texts(&mum.sync()).into_iter().map(|(_, _, t)| t).collect();
    assert_eq!(after, ["after 0", "after 1", "after 2"]);
    mum.ok(&["send", "Ms Rivera", "Thanks."]);
    assert_eq!(texts(&teacher.sync()).len(), 1);
    // Nothing left over, nothing shown twice.
    assert!(mum.sync().is_empty());
}

#[test]
fn parallel_syncs_show_every_message_once() {
    let school = School::start();
    let teacher = school.enrol("teacher", "teacher", "Ms Rivera", "5B");
    let mum = school.enrol("mum", "parent", "Sam's mum", "5B");
    for i in 0..20 {
        teacher.ok(&["send", "Sam's mum", &format!("note {i}")]);
    }
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(satchel_bin())
                .env("SATCHEL_PASSPHRASE", PASSPHRASE)
                .arg("--home")
                .arg(&mum.home)
                .args(["--json", "sync"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut shown = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for line in String::from_utf8(output.stdout).unwrap().lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(text) = value["text"].as_str() {
                shown.push(text.to_string());
            }
        }
    }
    shown.sort();
    let mut all: Vec<String> = (0..20).map(|i| format!("note {i}")).collect();
    all.sort();
    assert_eq!(
        shown, all,
        "every message exactly once across the parallel syncs"
    );
    let history = mum.ok(&["--json", "history", "Ms Rivera"]);
    assert_eq!(history.lines().count(), 20);
}
