//! The profile folder at rest: private permissions, and no plaintext names, texts or ids
//! anywhere in its files (the database, its write-ahead log, the key files).

use crate::support::{PASSPHRASE, School, files_contain, texts};

#[test]
fn the_profile_folder_holds_no_names_texts_or_ids_and_is_private() {
    let school = School::start();
    let teacher = school.enrol("teacher", "teacher", "Ms Rivera", "5B Otters");
    let mum = school.enrol("mum", "parent", "Sam's mum", "5B Otters");
    teacher.ok(&[
        "send",
        "Sam's mum",
        "The trip is on Friday, bring a packed lunch.",
    ]);
    assert_eq!(texts(&mum.sync()).len(), 1);
    mum.ok(&["send", "Ms Rivera", "Thank you, see you then."]);
    assert_eq!(texts(&teacher.sync()).len(), 1);

    let ids: Vec<Vec<u8>> = [&teacher, &mum, &school.admin]
        .iter()
        .map(|p| {
            let me: serde_json::Value = serde_json::from_str(&p.ok(&["--json", "whoami"])).unwrap();
            hex::decode(me["account_id"].as_str().unwrap()).unwrap()
        })
        .collect();
    for person in [&teacher, &mum, &school.admin] {
        for needle in [
            "Ms Rivera",
            "Sam's mum",
            "5B Otters",
            "Oak Primary",
            "packed lunch",
            "see you then",
            PASSPHRASE,
        ] {
            assert!(
                !files_contain(&person.home, needle.as_bytes()),
                "{needle:?} is readable in {}",
                person.home.display()
            );
        }
        for id in &ids {
            assert!(
                !files_contain(&person.home, id),
                "a raw account id is readable"
            );
        }
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for person in [&teacher, &mum, &school.admin] {
            let mode = std::fs::metadata(&person.home)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the profile folder is readable by others");
            for entry in std::fs::read_dir(&person.home).unwrap() {
                let path = entry.unwrap().path();
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is readable by others", path.display());
            }
        }
        // A folder others can read is refused, with what to do.
        std::fs::set_permissions(&mum.home, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = mum.run(&["whoami"]).unwrap_err();
        assert!(error.contains("chmod"), "{error}");
        std::fs::set_permissions(&mum.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    // The wrong passphrase opens nothing.
    let out = std::process::Command::new(crate::support::satchel_bin())
        .env("SATCHEL_PASSPHRASE", "not the passphrase")
        .arg("--home")
        .arg(&mum.home)
        .arg("whoami")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
}
