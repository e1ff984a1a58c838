//! Attacks on groups by an enrolled parent with a hostile app, through a real relay:
//! posting in the teacher's announcement group, starting a "class group" as if staff,
//! and a group message slipped onto the teacher's queue. The parent uses his genuine,
//! verified identity; only his app is hostile.

use prost::Message as _;
use satchel_client::relay::RelayClient;
use satchel_client::{Client, DropReason, GroupKind};
use satchel_core::group::{GroupId, GroupSession, SenderDevice};
use satchel_core::school::Role;
use satchel_core::{PrekeyBundle, Session, os_rng};
use satchel_proto::v1 as pb;

use crate::support::{enrol, oak_admin, open_store, relay, stored_account, teacher_and_mum};

const NOW: u64 = 1_767_225_600;

fn content(body: pb::content::Body) -> Vec<u8> {
    let mut id = [0u8; 16];
    rand_core::Rng::fill_bytes(&mut os_rng(), &mut id);
    pb::Content {
        message_id: id.to_vec(),
        sent_at: 1,
        body: Some(body),
    }
    .encode_to_vec()
}

fn text(t: &str) -> pb::content::Body {
    pb::content::Body::Text(pb::Text { text: t.to_owned() })
}

/// The hostile dad's pairwise session with mum, his genuine certificate in its slot, as
/// his own app would start it; every `send` is a first contact on her mailbox.
struct Hostile {
    session: Session,
    relay: RelayClient,
}

impl Hostile {
    async fn start(dir: &std::path::Path, url: &str) -> Self {
        let (dad_home, mum_home) = (dir.join("dad"), dir.join("mum"));
        let relay = RelayClient::new(url).unwrap();
        let dad = stored_account(&dad_home, 4);
        let contacts = open_store(&mum_home, 3).contacts().unwrap();
        let his = contacts.iter().find(|c| c.name == "Alex's dad").unwrap();
        let mum_entry = open_store(&dad_home, 4)
            .contacts()
            .unwrap()
            .into_iter()
            .find(|c| c.name == "Sam's mum")
            .unwrap();
        let bundle = PrekeyBundle::from_bytes(&mum_entry.bundle).unwrap();
        let mut session = Session::initiate(&dad, &bundle, &mut os_rng()).unwrap();
        session
            .set_sender_certificate(his.certificate.clone())
            .unwrap();
        relay.create_queue(session.inbound_queue()).await.unwrap();
        Self { session, relay }
    }

    async fn send(&mut self, plaintext: &[u8]) {
        let envelope = self.session.encrypt(plaintext, &mut os_rng()).unwrap();
        self.relay.deposit(&envelope).await.unwrap();
    }

    /// A group envelope onto queue `send_id`, as a shared deposit.
    async fn deposit_group(&self, send_id: [u8; 16], message: &[u8]) {
        let body = satchel_relay_api::shared_deposit::encode(&[send_id], message).unwrap();
        let results = self.relay.deposit_shared(body).await.unwrap();
        assert!(matches!(
            results[0],
            satchel_relay_api::BatchItemResult::Stored { .. }
        ));
    }
}

async fn class_with_dad(
    dir: &std::path::Path,
) -> (satchel_relay::Relay, String, Client, Client, Client) {
    let (server, url) = relay(&dir.join("relay"), "127.0.0.1:0", 1_000).await;
    let mut admin = oak_admin(dir, &url).await;
    let (mut teacher, mut mum) = teacher_and_mum(dir, &mut admin).await;
    let mut dad = enrol(
        &mut admin,
        dir,
        ("dad", 4),
        Role::Parent,
        "Alex's dad",
        "5B",
    )
    .await;
    for member in [&mut teacher, &mut mum, &mut dad] {
        member.sync().await.unwrap();
        member.contacts().await.unwrap(); // a fresh directory: everyone knows everyone
    }
    (server, url, teacher, mum, dad)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_cannot_post_in_an_announcement_or_slip_a_message_onto_the_teachers_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url, mut teacher, mut mum, mut dad) = class_with_dad(dir.path()).await;
    teacher.announce("5B", "Photos on Monday").await.unwrap();
    mum.sync().await.unwrap();
    dad.sync().await.unwrap();
    let announcements = dad.groups().unwrap().remove(0);
    assert_eq!(announcements.kind, GroupKind::Announcement);
    assert!(!announcements.may_post);
    let id = GroupId::from_slice(&hex::decode(&announcements.id).unwrap()).unwrap();

    // His app makes itself a sender key for the group and hands it to mum: he is a
    // member, so she keeps it; then it posts in the teacher's announcement group.
    let dad_account = stored_account(&dir.path().join("dad"), 4);
    let mut forged = GroupSession::new(
        id,
        SenderDevice::of(dad_account.certificate()),
        NOW,
        &mut os_rng(),
    );
    let mut hostile = Hostile::start(dir.path(), &url).await;
    hostile
        .send(&content(pb::content::Body::GroupKey(pb::GroupKey {
            group_id: id.as_bytes().to_vec(),
            distribution: forged.distribution().to_bytes(),
        })))
        .await;
    let fake = forged
        .encrypt(&content(text("The trip money goes to NL00 FAKE 1234")), NOW)
        .unwrap();
    let mailbox = stored_account(&dir.path().join("mum"), 3)
        .mailbox()
        .send_id();
    hostile.deposit_group(*mailbox.as_bytes(), &fake).await;
    let got = mum.sync().await.unwrap();
    assert!(got.messages.is_empty(), "{:?}", got.messages);
    assert_eq!(got.dropped, [DropReason::NotAllowedInGroup]);

    // The same message slipped onto mum's queue for the teacher's session (the relay
    // knows it): it is not shown as the teacher's, nor as anyone's.
    let on_teacher_queue = open_store(&dir.path().join("mum"), 3)
        .all_sessions()
        .unwrap()
        .into_iter()
        .find(|row| row.session.peer().account_id() != dad_account.account_id())
        .unwrap()
        .session
        .inbound_queue()
        .send_id();
    let again = forged
        .encrypt(&content(text("Ms Rivera: pay here")), NOW)
        .unwrap();
    hostile
        .deposit_group(*on_teacher_queue.as_bytes(), &again)
        .await;
    let got = mum.sync().await.unwrap();
    assert!(got.messages.is_empty(), "{:?}", got.messages);
    assert_eq!(got.dropped, [DropReason::NotAllowedInGroup]);
    assert_eq!(mum.group_history(&announcements.id).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_cannot_start_a_class_group_as_if_staff_nor_change_the_teachers_group() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url, mut teacher, mut mum, _dad) = class_with_dad(dir.path()).await;
    let group = teacher
        .create_group(GroupKind::ClassGroup, "5B", None, false)
        .await
        .unwrap();
    mum.sync().await.unwrap();
    let dad_account = stored_account(&dir.path().join("dad"), 4);
    let mum_account = stored_account(&dir.path().join("mum"), 3);
    let member = |account: &satchel_core::Account| pb::GroupMember {
        account_id: account.account_id().as_bytes().to_vec(),
        account_key: account.certificate().account_key().to_vec(),
        device_key: account.certificate().device_signing_key().to_vec(),
    };
    let mut hostile = Hostile::start(dir.path(), &url).await;
    // A new "class group" from a parent.
    hostile
        .send(&content(pb::content::Body::GroupUpdate(pb::GroupUpdate {
            group_id: vec![7; 16],
            kind: 2, // a class group
            title: "Class 5B (official)".into(),
            class_name: "5B".into(),
            members_may_post: true,
            epoch: 1,
            members: vec![member(&dad_account), member(&mum_account)],
        })))
        .await;
    // And an update of the teacher's group with a higher epoch, removing her.
    hostile
        .send(&content(pb::content::Body::GroupUpdate(pb::GroupUpdate {
            group_id: hex::decode(&group.id).unwrap(),
            kind: 2,
            title: "Class 5B".into(),
            class_name: "5B".into(),
            members_may_post: true,
            epoch: 99,
            members: vec![member(&dad_account), member(&mum_account)],
        })))
        .await;
    let got = mum.sync().await.unwrap();
    assert_eq!(got.dropped, [DropReason::NotAllowedInGroup]);
    let groups = mum.groups().unwrap();
    assert_eq!(groups.len(), 1, "no group from the parent");
    assert!(groups[0].active && !groups[0].members_may_post && groups[0].people == 3);
    // The teacher's group still works as she made it.
    teacher
        .send_to_group(&group.id, "Still here")
        .await
        .unwrap();
    let got = mum.sync().await.unwrap();
    assert_eq!(got.messages.len(), 1);
    assert_eq!(got.messages[0].from, "Ms Rivera");
}
