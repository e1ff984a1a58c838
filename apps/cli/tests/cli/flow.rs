//! The main flow: a school, its teacher and parents, through a relay that crashes.

use serde_json::Value;

use crate::support::{Person, Relay, files_contain, texts};

#[test]
fn a_school_its_teacher_and_parents_talk_through_a_relay_that_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay-data");
    let relay = Relay::start(&data, "127.0.0.1:0");
    let url = format!("http://{}", relay.addr);
    let person = |name: &str| Person {
        home: dir.path().join(name),
    };
    let (admin, teacher, mum, dad) = (
        person("admin"),
        person("teacher"),
        person("mum"),
        person("dad"),
    );

    let created: Value = serde_json::from_str(&admin.ok(&[
        "--json",
        "school",
        "create",
        "--name",
        "Oak Primary",
        "--relay",
        &url,
    ]))
    .unwrap();
    let invite = |role: &str, name: &str| {
        let out = admin.ok(&[
            "--json",
            "school",
            "invite",
            "--role",
            role,
            "--name",
            name,
            "--class",
            "5B Otters",
        ]);
        serde_json::from_str::<Value>(&out).unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let teacher_code = invite("teacher", "Ms Rivera");
    let mum_code = invite("parent", "Sam's mum");
    let dad_code = invite("parent", "Alex's dad");
    let joined = teacher.ok(&["join", &teacher_code]);
    assert!(joined.contains("still has to confirm"), "{joined}");
    mum.ok(&["join", &mum_code]);
    dad.ok(&["join", &dad_code]);
    // Until the office confirms her, the teacher cannot send (and says why).
    let waiting = teacher.run(&["send", "Sam's mum", "Hello"]).unwrap_err();
    assert!(
        waiting.contains("not confirmed your enrolment"),
        "{waiting}"
    );
    let confirmed = admin.ok(&["sync"]);
    assert!(
        confirmed.contains("Confirmed 3 new member(s)"),
        "{confirmed}"
    );
    // Her device learns it at its next sync (or send).
    assert!(teacher.ok(&["whoami"]).contains("confirmed:   not yet"));
    teacher.ok(&["sync"]);
    assert!(teacher.ok(&["whoami"]).contains("confirmed:   yes"));
    let me: Value = serde_json::from_str(&mum.ok(&["--json", "whoami"])).unwrap();
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("Sam's mum"), Some("parent"))
    );
    assert_eq!(me["school_id"], created["school_id"]);

    // An invite code works once.
    let again = person("stranger")
        .run(&["join", &teacher_code])
        .unwrap_err();
    assert!(again.contains("already used"), "{again}");

    // The teacher sends the same notice to both parents (dad is offline for now).
    for parent in ["Sam's mum", "Alex's dad"] {
        teacher.ok(&["send", parent, "Trip on Friday: bring a packed lunch."]);
    }
    assert_eq!(
        texts(&mum.sync()),
        [(
            "Ms Rivera".into(),
            true,
            "Trip on Friday: bring a packed lunch.".into()
        )]
    );
    mum.ok(&["send", "Ms Rivera", "Thank you!"]);

    // The relay crashes after the teacher's reply was accepted and before anyone syncs.
    teacher.ok(&["send", "Sam's mum", "See you at 9."]);
    let port = relay.addr.clone();
    relay.kill();
    let relay = Relay::start(&data, &port);
    assert_eq!(
        texts(&teacher.sync()),
        [("Sam's mum".into(), true, "Thank you!".into())]
    );
    assert_eq!(
        texts(&mum.sync()),
        [("Ms Rivera".into(), true, "See you at 9.".into())]
    );
    assert!(mum.sync().is_empty(), "a message was shown twice");
    assert_eq!(
        texts(&dad.sync()),
        [(
            "Ms Rivera".into(),
            true,
            "Trip on Friday: bring a packed lunch.".into()
        )]
    );

    let history = mum.ok(&["--json", "history", "Ms Rivera"]);
    assert_eq!(history.lines().count(), 3);

    // The teacher writes, and the school revokes her before mum reads it: the message is
    // not shown as verified.
    teacher.ok(&[
        "send",
        "Sam's mum",
        "Please pay the trip fee to this new account.",
    ]);
    admin.ok(&["school", "revoke", "Ms Rivera"]);
    let after = mum.sync();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["verified"], Value::Bool(false));
    assert_eq!(after[0]["role"], Value::String("unverified".into()));
    assert!(
        after[0]["from"].as_str().unwrap().contains("revoked"),
        "{}",
        after[0]
    );
    let contacts = mum.ok(&["--json", "contacts"]);
    let rivera: Value = contacts
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|c| c["name"] == "Ms Rivera")
        .unwrap();
    assert_eq!(rivera["verified"], Value::Bool(false));
    // Her own client now refuses to send, and says why.
    let refused = teacher.run(&["send", "Sam's mum", "Hello?"]).unwrap_err();
    assert!(
        refused.contains("no longer vouches for your membership"),
        "{refused}"
    );
    // Mum's client refuses to write to her unless mum insists.
    let refused = mum
        .run(&["send", "Ms Rivera", "Is this real?"])
        .unwrap_err();
    assert!(refused.contains("--allow-unverified"), "{refused}");
    mum.ok(&["send", "--allow-unverified", "Ms Rivera", "Is this real?"]);

    // Errors a person can act on.
    let unknown = mum.run(&["send", "Nobody", "hi"]).unwrap_err();
    assert!(unknown.contains("contact list"), "{unknown}");
    let not_admin = mum
        .run(&["school", "invite", "--role", "parent", "--name", "X"])
        .unwrap_err();
    assert!(not_admin.contains("admin"), "{not_admin}");
    let fresh = person("fresh").run(&["whoami"]).unwrap_err();
    assert!(fresh.contains("join with the invite code"), "{fresh}");

    // The relay's files hold no names, classes or message text.
    for needle in [
        "Ms Rivera",
        "Sam's mum",
        "5B Otters",
        "Oak Primary",
        "packed lunch",
        "Thank you",
    ] {
        assert!(
            !files_contain(&data, needle.as_bytes()),
            "the relay stored {needle:?}"
        );
    }
    relay.kill();
}
