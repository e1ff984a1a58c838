//! Groups from the command line: `group create|add|remove|list|show|send`, `announce`,
//! and `send "teachers of 5B"`, between real processes.

use serde_json::Value;

use crate::support::{School, files_contain, texts};

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_class_group_an_announcement_and_the_teachers_of_a_class() {
    let school = School::start();
    let teacher = school.enrol("teacher", "teacher", "Ms Rivera", "5B");
    let mum = school.enrol("mum", "parent", "Sam's mum", "5B");
    let dad = school.enrol("dad", "parent", "Alex's dad", "5B");

    // A class group: the directory decides who is in it.
    let created = json_lines(&teacher.ok(&["--json", "group", "create", "--class", "5B"]));
    assert_eq!(created[0]["title"], "Class 5B");
    assert_eq!(created[0]["people"], 3);
    let id = created[0]["id"].as_str().unwrap().to_string();
    let sent = teacher.ok(&["group", "send", "Class 5B", "Swimming is cancelled"]);
    assert!(sent.contains("Sent to Class 5B"), "{sent}");
    for parent in [&mum, &dad] {
        let synced = parent.sync();
        assert!(synced[0].get("text").is_some(), "{synced:?}");
        assert_eq!(
            texts(&synced[..1]),
            vec![(
                "Ms Rivera".to_string(),
                true,
                "Swimming is cancelled".to_string()
            )]
        );
        assert_eq!(synced[0]["group"], "Class 5B");
        assert_eq!(synced[0]["group_id"], id.as_str());
    }
    // The text shows the group in Satchel's own header line.
    let shown = mum.ok(&["group", "show", &id[..8]]);
    assert!(
        shown.contains("Class 5B — class group of 5B, 3 people"),
        "{shown}"
    );
    assert!(shown.contains("in group Class 5B"), "{shown}");
    assert!(shown.contains("Sam's mum (you)"), "{shown}");
    let error = mum.run(&["group", "send", &id, "Me too"]).unwrap_err();
    assert!(error.contains("may not post in this group"), "{error}");

    // Removing the dad: he is told, and the next message does not reach him.
    let removed = json_lines(&teacher.ok(&["--json", "group", "remove", &id, "Alex's dad"]));
    assert_eq!(removed[0]["people"], 2);
    teacher.ok(&["group", "send", &id, "Bring a towel"]);
    assert!(dad.sync().iter().all(|line| line.get("text").is_none()));
    let listed = dad.ok(&["group", "list"]);
    assert!(listed.contains("you were removed"), "{listed}");
    let synced = mum.sync();
    assert_eq!(synced[0]["text"], "Bring a towel");

    // An announcement to the parents of 5B; the mum reads it (`group show`), the dad
    // switched read confirmations off.
    let sent = teacher.ok(&["announce", "--class", "5B", "Photos on Monday"]);
    assert!(sent.contains("Sent to the parents of 5B"), "{sent}");
    let synced = mum.sync();
    assert_eq!(synced[0]["group"], "5B announcements");
    assert_eq!(synced[0]["text"], "Photos on Monday");
    mum.ok(&["group", "show", "5B announcements"]);
    let off = dad.ok(&["read-receipts", "off"]);
    assert!(off.contains("not told"), "{off}");
    assert!(dad.run(&["read-receipts", "maybe"]).is_err());
    teacher.sync();
    let shown = teacher.ok(&["group", "show", "5B announcements"]);
    assert!(shown.contains("read by 1 of 2"), "{shown}");

    // A parent writes to "the teachers of 5B".
    let sent = mum.ok(&["send", "Teachers of 5B", "Is the trip still on?"]);
    assert!(sent.contains("Sent to Teachers of 5B"), "{sent}");
    let synced = teacher.sync();
    assert_eq!(synced[0]["from"], "Sam's mum");
    assert_eq!(synced[0]["group"], "Teachers of 5B");
    let groups = json_lines(&teacher.ok(&["--json", "group", "list"]));
    assert_eq!(groups.len(), 3, "{groups:?}");

    // A mistyped class says so, and creates nothing.
    let error = teacher
        .run(&["group", "create", "--class", "5 B ".repeat(200).as_str()])
        .unwrap_err();
    assert!(error.contains("check the class name"), "{error}");
    let error = mum.run(&["send", "teachers of 9Z", "hello?"]).unwrap_err();
    assert!(error.contains("check the class name"), "{error}");
    assert_eq!(
        json_lines(&teacher.ok(&["--json", "group", "list"])).len(),
        3
    );

    // A stolen laptop: the profile folders hold no group title, text or class name in
    // the clear (everything is sealed under the store key).
    for (person, needles) in [
        (
            &teacher,
            [
                &b"Swimming is cancelled"[..],
                b"Class 5B",
                b"Is the trip still on?",
            ],
        ),
        (
            &mum,
            [
                &b"Bring a towel"[..],
                b"5B announcements",
                b"Teachers of 5B",
            ],
        ),
    ] {
        for needle in needles {
            assert!(
                !files_contain(&person.home, needle),
                "{:?} in the clear",
                String::from_utf8_lossy(needle)
            );
        }
    }
}
