//! A profile folder written by Satchel 0.1 (plaintext store) opens with client v2: its
//! messages, contacts and identity are kept, the file is encrypted and no plaintext is
//! left in it, and the admin's root key moves into its own wrapped file.

use std::path::{Path, PathBuf};

use crate::support::{Person, files_contain};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v0.1")
        .join(name)
}

fn copy_of(name: &str, dir: &Path) -> Person {
    let home = dir.join(name);
    std::fs::create_dir(&home).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::copy(fixture(name).join("satchel.db"), home.join("satchel.db")).unwrap();
    Person { home }
}

#[test]
fn a_satchel_0_1_profile_is_encrypted_on_first_open_and_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let parent = copy_of("parent", dir.path());
    assert!(
        files_contain(&parent.home, b"Legacy message"),
        "the fixture is plaintext"
    );

    let history = parent.ok(&["--json", "history", "Ms Rivera"]);
    let texts: Vec<String> = history
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        texts,
        [
            "Legacy message: the trip is on Friday.",
            "Legacy reply: thank you."
        ]
    );
    let me: serde_json::Value = serde_json::from_str(&parent.ok(&["--json", "whoami"])).unwrap();
    assert_eq!(me["name"], "Sam's mum");
    for needle in [
        "Legacy message",
        "Legacy reply",
        "Ms Rivera",
        "Sam's mum",
        "relay_url",
    ] {
        assert!(
            !files_contain(&parent.home, needle.as_bytes()),
            "{needle:?} is still readable after the migration"
        );
    }
    // Opening again is an ordinary open.
    assert_eq!(
        parent
            .ok(&["--json", "history", "Ms Rivera"])
            .lines()
            .count(),
        2
    );
}

#[test]
fn a_satchel_0_1_admin_profile_moves_the_root_key_into_its_own_wrapped_file() {
    let dir = tempfile::tempdir().unwrap();
    let admin = copy_of("admin", dir.path());
    assert!(
        files_contain(&admin.home, b"root_secret"),
        "the fixture holds the root in clear"
    );
    let me: serde_json::Value = serde_json::from_str(&admin.ok(&["--json", "whoami"])).unwrap();
    assert_eq!(me["admin"], true);
    assert!(admin.home.join("school-root.key").exists());
    for needle in ["root_secret", "Oak Primary", "Ms Rivera"] {
        assert!(
            !files_contain(&admin.home, needle.as_bytes()),
            "{needle:?} left in clear"
        );
    }
}
