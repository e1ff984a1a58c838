//! The school's root key lives on the admin's device only, in its own file wrapped under
//! the profile's passphrase; the documented backup is a copy of the admin's whole folder
//! (README, "The admin's profile is the school"). This drill restores such a copy on a
//! "new machine" and runs the school from it: it needs the passphrase, and then confirms,
//! invites and revokes as the original did.

use satchel_client::store::keyfile::KeySource;
use satchel_client::{Client, ClientConfig, ClientError};
use satchel_core::school::Role;

use crate::support::{REGISTRATION_TOKEN, client, join_confirmed, relay};

const PASSPHRASE: &str = "correct horse battery staple, Oak Primary office";

fn open(home: &std::path::Path, passphrase: &str) -> Result<Client, ClientError> {
    Client::open(
        home,
        ClientConfig {
            key: KeySource::Passphrase(zeroize::Zeroizing::new(passphrase.to_owned())),
            transport: satchel_client::relay::TransportConfig::default(),
        },
    )
}

/// `cp -a` for a flat folder: the files with their permission bits.
fn copy_folder(from: &std::path::Path, to: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_file(), "{:?}", entry.path());
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_copy_of_the_admin_folder_runs_the_school_with_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 1_000).await;
    let office = dir.path().join("office");
    let mut admin = open(&office, PASSPHRASE).unwrap();
    admin
        .create_school("Oak Primary", &url, Some(REGISTRATION_TOKEN))
        .await
        .unwrap();
    let five_b = ["5B".to_string()];
    let teacher_code = admin
        .invite(Role::Teacher, "Ms Rivera", &five_b)
        .await
        .unwrap();

    // The nightly backup, then the office computer dies.
    let backup = dir.path().join("backup");
    drop(admin);
    copy_folder(&office, &backup);
    std::fs::remove_dir_all(&office).unwrap();

    // Meanwhile the teacher joins; nobody can confirm her yet.
    let mut teacher = client(&dir.path().join("teacher"), 2);
    assert!(!teacher.join(&teacher_code).await.unwrap().admitted);

    // On the new machine: the wrong passphrase opens nothing.
    assert!(matches!(
        open(&backup, "wrong passphrase"),
        Err(ClientError::Key(_))
    ));
    // The right one: the school's admin again, with the root key.
    let mut restored = open(&backup, PASSPHRASE).unwrap();
    assert!(restored.whoami().unwrap().admin);
    assert_eq!(restored.confirm_new_members().await.unwrap(), 1);
    let mum_code = restored
        .invite(Role::Parent, "Sam's mum", &five_b)
        .await
        .unwrap();
    let mut mum = client(&dir.path().join("mum"), 3);
    join_confirmed(&mut restored, &mut mum, &mum_code).await;
    teacher.send("Sam's mum", "Trip on Friday.").await.unwrap();
    let got = mum.sync().await.unwrap().messages;
    assert_eq!((got.len(), got[0].verified), (1, true));
    // And it revokes: the invites it lists include the ones issued before the backup.
    let issued = restored.invites().await.unwrap();
    assert_eq!(
        issued.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["Oak Primary office", "Ms Rivera", "Sam's mum"]
    );
    assert_eq!(restored.revoke("Ms Rivera").await.unwrap(), 1);
    mum.sync().await.unwrap();
    let contacts = mum.contacts().await.unwrap();
    let rivera = contacts.iter().find(|c| c.name == "Ms Rivera").unwrap();
    assert!(!rivera.verified);
    server.shutdown().await;
}
