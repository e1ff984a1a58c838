//! Groups end to end, through a real relay: class groups, announcements and the
//! class-team thread, with members joining, leaving and being revoked.

use satchel_client::{ClientError, GroupKind, Message};
use satchel_core::school::Role;

use crate::support::{enrol, oak_admin, relay, teacher_and_mum};

fn texts(messages: &[Message]) -> Vec<(String, String, bool, Option<String>)> {
    messages
        .iter()
        .map(|m| (m.from.clone(), m.text.clone(), m.verified, m.group.clone()))
        .collect()
}

/// The shared bodies the relay holds: (rows, references).
fn bodies(relay_dir: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open_with_flags(
        relay_dir.join("relay.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(
        "SELECT count(*), coalesce(sum(refs), 0) FROM bodies",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_group_reaches_its_members_with_one_upload_and_follows_removals() {
    let dir = tempfile::tempdir().unwrap();
    let relay_dir = dir.path().join("relay");
    let (_server, url) = relay(&relay_dir, "127.0.0.1:0", 1_000).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let (mut teacher, mut mum) = teacher_and_mum(dir.path(), &mut admin).await;
    let mut dad = enrol(
        &mut admin,
        dir.path(),
        ("dad", 4),
        Role::Parent,
        "Alex's dad",
        "5B",
    )
    .await;
    let mut other = enrol(
        &mut admin,
        dir.path(),
        ("other", 5),
        Role::Parent,
        "Noor's mum",
        "6A",
    )
    .await;
    teacher.sync().await.unwrap();

    let group = teacher
        .create_group(GroupKind::ClassGroup, "5B", None, false)
        .await
        .unwrap();
    assert_eq!((group.title.as_str(), group.people), ("Class 5B", 3));
    let report = teacher
        .send_to_group(&group.id, "The trip is on Friday")
        .await
        .unwrap();
    assert!(report.delivered_to_relay);
    // One body for both parents' devices.
    assert_eq!(bodies(&relay_dir), (1, 2));

    let expected = vec![(
        "Ms Rivera".to_string(),
        "The trip is on Friday".to_string(),
        true,
        Some("Class 5B".to_string()),
    )];
    for parent in [&mut mum, &mut dad] {
        let got = parent.sync().await.unwrap();
        assert_eq!(texts(&got.messages), expected, "{:?}", got.dropped);
        let groups = parent.groups().unwrap();
        assert_eq!(groups.len(), 1);
        assert!(groups[0].active && !groups[0].may_post && !groups[0].created_by_me);
    }
    assert_eq!(bodies(&relay_dir), (0, 0));
    assert!(other.sync().await.unwrap().messages.is_empty());
    assert!(other.groups().unwrap().is_empty());
    // Parents may not post unless the teacher allows it.
    assert!(matches!(
        mum.send_to_group(&group.id, "Can we bring snacks?").await,
        Err(ClientError::NotAllowedInGroup { .. })
    ));

    // The teacher removes the dad: he is told, and reads nothing sent afterwards.
    let after = teacher.group_remove(&group.id, "Alex's dad").await.unwrap();
    assert_eq!(after.people, 2);
    teacher
        .send_to_group(&group.id, "Bring a packed lunch")
        .await
        .unwrap();
    let got = dad.sync().await.unwrap();
    assert!(got.messages.is_empty(), "{:?}", texts(&got.messages));
    assert!(!dad.groups().unwrap()[0].active);
    let got = mum.sync().await.unwrap();
    assert_eq!(
        texts(&got.messages),
        vec![(
            "Ms Rivera".to_string(),
            "Bring a packed lunch".to_string(),
            true,
            Some("Class 5B".to_string())
        )],
        "{:?}",
        got.dropped
    );
    assert_eq!(mum.group_history(&group.id).unwrap().len(), 2);
    assert_eq!(teacher.group_history(&group.id).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parents_of_a_class_read_an_announcement_and_reply_privately() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 1_000).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let (mut teacher, mut mum) = teacher_and_mum(dir.path(), &mut admin).await;
    let mut dad = enrol(
        &mut admin,
        dir.path(),
        ("dad", 4),
        Role::Parent,
        "Alex's dad",
        "5B",
    )
    .await;
    teacher.sync().await.unwrap();
    teacher
        .announce("5B", "School photos on Monday")
        .await
        .unwrap();
    teacher
        .announce("5B", "Wear the school jumper")
        .await
        .unwrap();
    assert_eq!(
        teacher.groups().unwrap().len(),
        1,
        "one announcement group per class"
    );
    let got = mum.sync().await.unwrap();
    assert_eq!(
        got.messages
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        ["School photos on Monday", "Wear the school jumper"],
        "{:?}",
        got.dropped
    );
    assert_eq!(got.messages[0].group.as_deref(), Some("5B announcements"));
    let group = got.messages[0].group_id.clone().unwrap();
    assert_eq!(dad.sync().await.unwrap().messages.len(), 2);

    // Read confirmations go to the author only; the dad switched them off.
    assert_eq!(mum.mark_group_read(&group).await.unwrap(), 2);
    assert_eq!(
        mum.mark_group_read(&group).await.unwrap(),
        0,
        "confirmed once"
    );
    dad.set_read_receipts(false).unwrap();
    assert!(!dad.read_receipts().unwrap());
    assert_eq!(dad.mark_group_read(&group).await.unwrap(), 0);
    teacher.sync().await.unwrap();
    let reads: Vec<(Option<usize>, Option<usize>)> = teacher
        .group_history(&group)
        .unwrap()
        .iter()
        .map(|m| (m.read_by, m.read_of))
        .collect();
    assert_eq!(reads, [(Some(1), Some(2)), (Some(1), Some(2))]);
    // Nobody else sees who read what.
    assert!(
        mum.group_history(&group)
            .unwrap()
            .iter()
            .all(|m| m.read_by.is_none())
    );

    // A reply goes to the author alone, as a private message.
    mum.send("Ms Rivera", "Sam will be away on Monday")
        .await
        .unwrap();
    let got = teacher.sync().await.unwrap();
    assert_eq!(got.messages.len(), 1);
    assert_eq!(got.messages[0].group, None);
    assert_eq!(got.messages[0].from, "Sam's mum");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teachers_of_a_class_share_a_parents_thread_and_the_school_removes_a_revoked_member() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 1_000).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let (mut teacher, mut mum) = teacher_and_mum(dir.path(), &mut admin).await;
    let mut substitute = enrol(
        &mut admin,
        dir.path(),
        ("substitute", 6),
        Role::Teacher,
        "Mr Chen",
        "5B",
    )
    .await;
    let mut other = enrol(
        &mut admin,
        dir.path(),
        ("other", 7),
        Role::Teacher,
        "Ms Okafor",
        "6A",
    )
    .await;
    mum.sync().await.unwrap();

    mum.send_to_class_team("5B", "Is the trip still on?")
        .await
        .unwrap();
    for staff in [&mut teacher, &mut substitute] {
        let got = staff.sync().await.unwrap();
        assert_eq!(
            texts(&got.messages),
            vec![(
                "Sam's mum".to_string(),
                "Is the trip still on?".to_string(),
                true,
                Some("Teachers of 5B".to_string())
            )],
            "{:?}",
            got.dropped
        );
    }
    assert!(other.sync().await.unwrap().messages.is_empty());

    // The substitute answers in the thread: the parent and the other teacher see who.
    let thread = substitute.groups().unwrap().remove(0);
    assert!(thread.may_post);
    substitute
        .send_to_group(&thread.id, "Yes, Friday at 9")
        .await
        .unwrap();
    for reader in [&mut mum, &mut teacher] {
        let got = reader.sync().await.unwrap();
        assert_eq!(
            texts(&got.messages),
            vec![(
                "Mr Chen".to_string(),
                "Yes, Friday at 9".to_string(),
                true,
                Some("Teachers of 5B".to_string())
            )],
            "{:?}",
            got.dropped
        );
    }

    // The school revokes the substitute: the parent's next message does not reach him.
    assert_eq!(admin.revoke("Mr Chen").await.unwrap(), 1);
    mum.sync().await.unwrap();
    mum.send_to_class_team("5B", "Thank you!").await.unwrap();
    assert_eq!(mum.group(&thread.id).unwrap().people, 2);
    let got = teacher.sync().await.unwrap();
    assert_eq!(got.messages.len(), 1, "{:?}", got.dropped);
    let got = substitute.sync().await.unwrap();
    assert!(got.messages.is_empty(), "{:?}", texts(&got.messages));
}
