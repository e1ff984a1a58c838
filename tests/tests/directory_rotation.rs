//! Revocation rotates the directory key: a former member, who kept the old key, reads
//! nothing the directory holds afterwards, while current members (also one who joins
//! later with a code issued before the rotation) keep seeing each other and talking.

use satchel_client::relay::RelayClient;
use satchel_core::school::{DirectoryEntry, InviteCode, Role};

use crate::support::{client, join_confirmed, oak_admin, relay, teacher_and_mum};

fn names(contacts: &[satchel_client::Contact]) -> Vec<(String, bool)> {
    let mut names: Vec<(String, bool)> = contacts
        .iter()
        .map(|c| (c.name.clone(), c.verified))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_member_reads_nothing_new_and_current_members_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 1_000).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let (mut teacher, mut mum) = teacher_and_mum(dir.path(), &mut admin).await;
    let five_b = ["5B".to_string()];

    // Alex's dad joins; what he could keep is the directory key from his invite.
    let dad_code = admin
        .invite(Role::Parent, "Alex's dad", &five_b)
        .await
        .unwrap();
    let parsed = InviteCode::parse(&dad_code).unwrap();
    let relay_client = RelayClient::new(&url).unwrap();
    let (record, _) = relay_client
        .get_invite(&parsed.school_id, &parsed.keys())
        .await
        .unwrap();
    let old = parsed.keys().open_record(&record).unwrap();
    let mut dad = client(&dir.path().join("dad"), 4);
    join_confirmed(&mut admin, &mut dad, &dad_code).await;
    // A code issued now and used only after the rotation.
    let aunt_code = admin
        .invite(Role::Parent, "Sam's aunt", &five_b)
        .await
        .unwrap();
    let opens_with_old_key = |entries: &[(satchel_core::school::EntryId, Vec<u8>)]| {
        entries
            .iter()
            .filter(|(id, blob)| {
                DirectoryEntry::open(blob, &old.directory_key, &old.root, id).is_ok()
            })
            .count()
    };
    let before = relay_client.directory(&parsed.school_id).await.unwrap();
    assert_eq!(opens_with_old_key(&before), before.len());

    // The school revokes him.
    assert_eq!(admin.revoke("Alex's dad").await.unwrap(), 1);

    // Nothing on the relay opens with the key he kept, but his own entry (left as it
    // was: current members keep it, shown as revoked).
    let after = relay_client.directory(&parsed.school_id).await.unwrap();
    assert_eq!(after.len(), before.len());
    assert_eq!(
        opens_with_old_key(&after),
        1,
        "only his own entry opens with the old key"
    );

    // The current members get the new key with their next sync and carry on.
    for member in [&mut teacher, &mut mum] {
        member.sync().await.unwrap();
    }
    let seen = names(&mum.contacts().await.unwrap());
    assert_eq!(
        seen,
        [
            ("Alex's dad".to_string(), false),
            ("Ms Rivera".to_string(), true),
            ("Oak Primary office".to_string(), true)
        ]
    );
    teacher.send("Sam's mum", "Trip on Friday.").await.unwrap();
    let got = mum.sync().await.unwrap().messages;
    assert_eq!((got.len(), got[0].verified), (1, true));

    // Someone who joins now with a code from before the rotation is admitted, gets the
    // current key from the office, and sees the school.
    let mut aunt = client(&dir.path().join("aunt"), 5);
    join_confirmed(&mut admin, &mut aunt, &aunt_code).await;
    aunt.sync().await.unwrap();
    let seen = names(&aunt.contacts().await.unwrap());
    assert!(seen.contains(&("Sam's mum".to_string(), true)), "{seen:?}");
    // (Her code carried the old key, so his old entry opens for her: as revoked.)
    assert!(
        seen.contains(&("Alex's dad".to_string(), false)),
        "{seen:?}"
    );
    aunt.send("Ms Rivera", "Hello from Sam's aunt")
        .await
        .unwrap();
    assert_eq!(teacher.sync().await.unwrap().messages.len(), 1);

    // The former member's own app: the newcomer is invisible to it, and its entries
    // for the others are the stale copies it had (no new ones reach it).
    dad.sync().await.unwrap();
    let dad_sees = names(&dad.contacts().await.unwrap());
    assert!(
        !dad_sees.iter().any(|(name, _)| name == "Sam's aunt"),
        "{dad_sees:?}"
    );
    let latest = relay_client.directory(&parsed.school_id).await.unwrap();
    assert_eq!(opens_with_old_key(&latest), 1);
    server.shutdown().await;
}

/// A class of 24 families and their teacher: the office revokes one parent, and every
/// other member device gets the new key over its session and reads the whole directory
/// under it. Prints how long the revocation (with the rotation) took, per member device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_current_member_of_a_class_gets_the_new_key() {
    const PARENTS: u8 = 24;
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 5_000).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let five_b = ["5B".to_string()];
    let mut members = Vec::new();
    for n in 0..=PARENTS {
        let (role, name) = if n == 0 {
            (Role::Teacher, "Ms Rivera".to_string())
        } else {
            (Role::Parent, format!("Parent {n}"))
        };
        let code = admin.invite(role, &name, &five_b).await.unwrap();
        let mut member = client(&dir.path().join(format!("m{n}")), 10 + n);
        member.join(&code).await.unwrap();
        members.push(member);
    }
    assert_eq!(
        admin.confirm_new_members().await.unwrap(),
        usize::from(PARENTS) + 1
    );
    let started = std::time::Instant::now();
    assert_eq!(admin.revoke("Parent 7").await.unwrap(), 1);
    let took = started.elapsed();
    println!(
        "revoke with rotation, {} current member devices: {:.0} ms ({:.1} ms per device)",
        PARENTS,
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e3 / f64::from(PARENTS)
    );
    // Everyone but the revoked parent reads the re-sealed directory: all 25 others.
    for (n, member) in members.iter_mut().enumerate() {
        member.sync().await.unwrap();
        if n == 7 {
            continue;
        }
        let contacts = member.contacts().await.unwrap();
        let verified = contacts.iter().filter(|c| c.verified).count();
        assert_eq!(
            verified,
            usize::from(PARENTS),
            "member {n} sees {contacts:?}"
        );
    }
    server.shutdown().await;
}

/// Two clients on the office's folder (its app and a CLI run, say): one revokes — a new
/// directory key, saved in the folder — and the other, opened before, syncs afterwards.
/// The older copy of the profile must not overwrite the newer one: a member who joins
/// afterwards is still seen by a client opened afresh on the folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_on_the_office_folder_keeps_the_newer_directory_key() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 10_000).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let (_teacher, _mum) = teacher_and_mum(dir.path(), &mut admin).await;
    let mut stale = client(&dir.path().join("admin"), 1);
    admin.revoke("Ms Rivera").await.unwrap();
    stale.sync().await.unwrap();
    drop(stale);
    let code = admin
        .invite(Role::Parent, "Alex's dad", &["5B".to_string()])
        .await
        .unwrap();
    let mut dad = client(&dir.path().join("dad"), 4);
    join_confirmed(&mut admin, &mut dad, &code).await;
    let mut fresh = client(&dir.path().join("admin"), 1);
    let names: Vec<String> = fresh
        .contacts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(names.iter().any(|n| n == "Alex's dad"), "{names:?}");
    relay.shutdown().await;
}
