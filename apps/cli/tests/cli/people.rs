//! The CLI tried as a new user would: forgiving input, errors in plain words, JSON errors
//! for scripts, and nothing lost when the relay is away.

use serde_json::Value;

use crate::support::{Relay, School, texts};

#[test]
fn codes_in_any_case_with_spaces_join_and_mistakes_say_what_to_do() {
    let school = School::start();
    let code = school.invite("parent", "Sam's mum", "5B");
    let (payload, relay) = code.split_once('@').unwrap();
    // Lower case, broken into groups with spaces, as someone types it from paper.
    let typed = format!(
        "{} @{relay}",
        payload
            .to_lowercase()
            .as_bytes()
            .chunks(6)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mum = school.person("mum");
    let joined = mum.ok(&["join", &typed]);
    // The school's name, not a hex id: the admin named it "Oak Primary".
    assert!(
        joined.contains("Joined Oak Primary as Sam's mum"),
        "{joined}"
    );
    let me = mum.ok(&["whoami"]);
    assert!(
        me.contains("school:      Oak Primary (fingerprint "),
        "{me}"
    );

    // A mistyped code: one character changed.
    let other = school.invite("parent", "Alex's dad", "5B");
    let mut chars: Vec<char> = other.chars().collect();
    chars[12] = if chars[12] == 'A' { 'B' } else { 'A' };
    let mistyped: String = chars.into_iter().collect();
    let error = school.person("dad").run(&["join", &mistyped]).unwrap_err();
    assert!(error.contains("check the code"), "{error}");
    assert!(!error.contains("base32"), "jargon in {error}");

    // Garbage is explained without jargon.
    let error = school
        .person("x")
        .run(&["join", "SATCHEL1-!!!@http://127.0.0.1:1"])
        .unwrap_err();
    assert!(!error.contains("base32"), "jargon in {error}");
}

#[test]
fn names_are_resolved_kindly_and_duplicates_are_never_guessed() {
    let school = School::start();
    let teacher = school.enrol("teacher", "teacher", "Ms Rivera", "5B");
    let mum = school.enrol("mum1", "parent", "Sam's mum", "5B");
    school.enrol("mum2", "parent", "Sam's mum", "6A");

    let error = mum.run(&["send", "Ms Rivra", "hi"]).unwrap_err();
    assert!(error.contains("did you mean \"Ms Rivera\""), "{error}");
    let error = teacher.run(&["send", "Sam's mum", "hi"]).unwrap_err();
    assert!(error.contains("2 people are called"), "{error}");
    assert!(error.contains("5B") && error.contains("6A"), "{error}");
    let error = teacher.run(&["send", "  sam's MUM ", "   "]).unwrap_err();
    assert!(error.contains("empty"), "{error}");

    // --json errors are JSON on standard output.
    let out = std::process::Command::new(crate::support::satchel_bin())
        .env("SATCHEL_PASSPHRASE", crate::support::PASSPHRASE)
        .arg("--home")
        .arg(&teacher.home)
        .args(["--json", "send", "Nobody at all", "hi"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["error"], "unknown_contact");
}

#[test]
fn a_message_written_while_the_relay_is_down_is_kept_and_sent_later() {
    let school = School::start();
    let teacher = school.enrol("teacher", "teacher", "Ms Rivera", "5B");
    let mum = school.enrol("mum", "parent", "Sam's mum", "5B");
    teacher.ok(&["send", "Sam's mum", "first"]);
    assert_eq!(texts(&mum.sync()).len(), 1);
    let data = school.dir.path().join("relay-data");
    let addr = school.relay.addr.clone();
    let School {
        dir: _dir, relay, ..
    } = school;
    relay.kill();
    let out = teacher.ok(&["send", "Sam's mum", "written offline"]);
    assert!(out.contains("safe"), "{out}");
    let error = mum.run(&["sync"]).unwrap_err();
    assert!(error.contains("relay"), "{error}");
    assert!(!error.contains("/v1/"), "internal URL in {error}");
    let relay = Relay::start(&data, &addr);
    let out = teacher.ok(&["sync"]);
    assert!(out.contains("were sent now"), "{out}");
    assert_eq!(
        texts(&mum.sync()),
        [("Ms Rivera".into(), true, "written offline".into())]
    );
    relay.kill();
}
