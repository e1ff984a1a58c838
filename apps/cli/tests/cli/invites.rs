//! The admin's list of issued invites, and revoking by grant id — also a code nobody
//! used yet, which then stops working.

use serde_json::Value;

use crate::support::School;

fn invites(school: &School) -> Vec<Value> {
    school
        .admin
        .ok(&["--json", "school", "invites"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn status_of<'a>(list: &'a [Value], name: &str) -> &'a str {
    list.iter()
        .find(|i| i["name"] == name)
        .and_then(|i| i["status"].as_str())
        .unwrap_or("missing")
}

#[test]
fn issued_invites_are_listed_and_an_unused_one_can_be_revoked_by_id() {
    let school = School::start();
    let _teacher = school.enrol("teacher", "teacher", "Ms Rivera", "5B");
    let dad_code = school.invite("parent", "Alex's dad", "5B");

    let list = invites(&school);
    assert_eq!(status_of(&list, "Oak Primary office"), "joined");
    assert_eq!(status_of(&list, "Ms Rivera"), "joined");
    assert_eq!(status_of(&list, "Alex's dad"), "pending");
    let text = school.admin.ok(&["school", "invites"]);
    assert!(text.contains("Alex's dad — parent 5B — pending"), "{text}");

    // The code was handed to the wrong person: revoke it by its grant id.
    let grant = list
        .iter()
        .find(|i| i["name"] == "Alex's dad")
        .and_then(|i| i["grant_id"].as_str())
        .unwrap()
        .to_owned();
    let revoked = school.admin.ok(&["school", "revoke", &grant[..8]]);
    assert!(revoked.contains("Revoked"), "{revoked}");
    assert_eq!(status_of(&invites(&school), "Alex's dad"), "revoked");
    assert_eq!(status_of(&invites(&school), "Ms Rivera"), "joined");

    // Whoever holds the code now gets nothing.
    let error = school.person("dad").run(&["join", &dad_code]).unwrap_err();
    assert!(error.contains("check the code"), "{error}");
}

#[test]
fn a_code_can_be_short_lived_and_shown_as_a_qr_code() {
    let school = School::start();
    let out = school.admin.ok(&[
        "school",
        "invite",
        "--role",
        "parent",
        "--name",
        "Sam's mum",
        "--class",
        "5B",
        "--valid-days",
        "2",
        "--qr",
    ]);
    // The picture (half blocks), then the code line itself, which still joins.
    assert!(out.contains('▀') || out.contains('▄'), "{out}");
    let code = out.lines().last().unwrap().trim().to_owned();
    assert!(code.starts_with("SATCHEL1-"), "{out}");
    let list = invites(&school);
    let mum = list.iter().find(|i| i["name"] == "Sam's mum").unwrap();
    let lifetime = mum["code_expires_at"].as_u64().unwrap() - mum["issued_at"].as_u64().unwrap();
    assert_eq!(lifetime, 2 * 86_400);
    school.person("mum").ok(&["join", &code]);

    // Out of range: refused by the CLI before anything is made.
    let error = school
        .admin
        .run(&[
            "school",
            "invite",
            "--role",
            "parent",
            "--name",
            "X",
            "--valid-days",
            "91",
        ])
        .unwrap_err();
    assert!(error.contains("91"), "{error}");
}

#[test]
fn creating_a_school_needs_the_relay_operators_token_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let relay = crate::support::Relay::start(&dir.path().join("relay"), "127.0.0.1:0");
    let url = format!("http://{}", relay.addr);
    let admin = crate::support::Person {
        home: dir.path().join("admin"),
    };
    let create = [
        "school",
        "create",
        "--name",
        "Oak Primary",
        "--relay",
        url.as_str(),
    ];
    // No token: refused, with what to do.
    let error = admin
        .run_with(&create, &[("SATCHEL_REGISTRATION_TOKEN", None)])
        .unwrap_err();
    assert!(error.contains("registration token"), "{error}");
    assert!(error.contains("operator"), "{error}");
    // A wrong token on the command line: refused too, and nothing is left half made.
    let mut wrong = create.to_vec();
    wrong.extend(["--registration-token", "not-the-operators-token"]);
    let error = admin
        .run_with(&wrong, &[("SATCHEL_REGISTRATION_TOKEN", None)])
        .unwrap_err();
    assert!(error.contains("missing or wrong"), "{error}");
    // The operator's token, from the environment: created.
    let out = admin.ok(&create);
    assert!(out.contains("Oak Primary"), "{out}");
}

/// The README's "make an office": the root invites an admin, the office joins, the root's
/// sync confirms it; from then on the office invites, confirms and revokes on its own.
#[test]
fn an_office_runs_the_school_from_its_own_computer() {
    let school = School::start();
    let code = school.invite("admin", "Front office", "Office");
    let office = school.person("office");
    office.ok(&["join", &code]);
    let synced = school.admin.ok(&["sync"]);
    assert!(synced.contains("Confirmed 1 new member"), "{synced}");
    office.ok(&["sync"]);
    let me = office.ok(&["whoami"]);
    assert!(me.contains("an office of the school"), "{me}");

    // The office invites a parent and confirms her at its next sync.
    let out = office.ok(&[
        "--json",
        "school",
        "invite",
        "--role",
        "parent",
        "--name",
        "Sam's mum",
        "--class",
        "5B",
    ]);
    let mum_code = serde_json::from_str::<Value>(&out).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mum = school.person("mum");
    mum.ok(&["join", &mum_code]);
    let synced = office.ok(&["sync"]);
    assert!(synced.contains("Confirmed 1 new member"), "{synced}");
    mum.ok(&["send", "Front office", "Hello office"]);
    let got = office.ok(&["sync"]);
    assert!(
        got.contains("Sam's mum (parent, verified by the school)"),
        "{got}"
    );
    // And revokes her.
    let revoked = office.ok(&["school", "revoke", "Sam's mum"]);
    assert!(revoked.contains("Revoked"), "{revoked}");
}
