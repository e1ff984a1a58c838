//! A school, a teacher and a parent, end to end through a real relay on 127.0.0.1:0:
//! core (protocol and school trust) + the client's relay transport + the relay.

use satchel_client::relay::{PrekeyTake, RelayClient, RelayError};
use satchel_core::relay_request::RequestKey;
use satchel_core::school::{
    DirectoryEntry, DirectoryKey, EntryId, GrantRequest, Invite, InviteCode, MemberCertificate,
    RevocationList, Role, SchoolRoot, SenderStatus, UnverifiedReason, verify_member,
};
use satchel_core::{Account, BundleId, Envelope, Session, os_rng};
use satchel_relay_api::ErrorCode;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Member {
    account: Account,
    certificate: Vec<u8>,
    grant: satchel_core::school::Grant,
    member_key: RequestKey,
}

/// Joins with an invite code the way a client does: fetch, open, redeem, bind, get
/// admitted by the school root (the admin's side played by `root`), publish.
async fn join(
    relay: &RelayClient,
    root: &SchoolRoot,
    code: &str,
    directory_key_out: &mut Option<DirectoryKey>,
) -> Member {
    let mut rng = os_rng();
    let code = InviteCode::parse(code).unwrap();
    let keys = code.keys();
    let (record, redeemed) = relay.get_invite(&code.school_id, &keys).await.unwrap();
    assert!(!redeemed);
    let contents = keys.open_record(&record).unwrap();
    let member_key = RequestKey::generate(&mut rng);
    relay
        .redeem_invite(&code.school_id, &keys, &member_key)
        .await
        .unwrap();
    let mut account = Account::new(&mut rng);
    account.generate_one_time_prekeys(5, &mut rng);
    let certificate = keys
        .bind(
            contents.grant.clone(),
            account.account_id(),
            *account.certificate().account_key(),
        )
        .unwrap();
    // The member hands in its certificate, sealed under the directory key (the relay
    // reads no name in it): nothing to pick up yet.
    let sealed = certificate
        .seal_admission_request(
            &contents.directory_key,
            &code.school_id,
            &member_key.public(),
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        relay
            .request_admission(&code.school_id, &member_key, &sealed)
            .await
            .unwrap(),
        None
    );
    // The admin sees it waiting, with the grant key of the redeemed invite, admits it.
    let waiting = relay.pending_admissions(&as_school(root)).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].member_key, member_key.public());
    assert_eq!(&waiting[0].grant_key, contents.grant.grant_key());
    let opened = MemberCertificate::open_admission_request(
        &waiting[0].sealed_certificate,
        &contents.directory_key,
        &root.public(),
        &waiting[0].member_key,
    )
    .unwrap();
    assert_eq!(opened, certificate);
    let admitted = certificate.clone().admit(root).unwrap();
    let signature = *admitted.admission().unwrap();
    assert_eq!(
        relay
            .put_admissions(&as_school(root), &[(member_key.public(), signature)])
            .await
            .unwrap(),
        1
    );
    assert!(
        relay
            .pending_admissions(&as_school(root))
            .await
            .unwrap()
            .is_empty()
    );
    // The member picks it up and checks it under the pinned root.
    let picked = relay
        .request_admission(&code.school_id, &member_key, &sealed)
        .await
        .unwrap()
        .unwrap();
    let certificate = certificate
        .with_admission(&picked.signature, picked.issuer.as_deref(), &contents.root)
        .unwrap();
    assert_eq!(certificate, admitted);
    // One-time prekeys go to the relay; the signed bundle goes into the directory.
    let bundle_id = *EntryId::random(&mut rng).as_bytes();
    let keys_to_upload = account.unpublished_one_time_prekeys(&BundleId::from_bytes(bundle_id));
    relay
        .upload_prekeys(
            &BundleId::from_bytes(bundle_id),
            &member_key,
            &keys_to_upload,
        )
        .await
        .unwrap();
    relay.create_queue(account.mailbox()).await.unwrap();
    let entry = DirectoryEntry {
        member: certificate.clone(),
        bundle: account.prekey_bundle(),
        bundle_id,
        updated_at: now(),
    };
    let entry_id = EntryId::random(&mut rng);
    let blob = entry
        .seal(
            &contents.directory_key,
            &code.school_id,
            &entry_id,
            &mut rng,
        )
        .unwrap();
    relay
        .put_directory_entry(&code.school_id, &entry_id, &blob, &member_key)
        .await
        .unwrap();
    *directory_key_out = Some(contents.directory_key);
    Member {
        account,
        certificate: certificate.to_bytes(),
        grant: contents.grant,
        member_key,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_and_a_parent_talk_through_the_relay_and_revocation_is_visible() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = crate::support::relay(&dir.path().join("data"), "127.0.0.1:0", 200).await;
    let relay = RelayClient::new(&url).unwrap();
    let mut rng = os_rng();

    // The admin sets up the school and invites a teacher and a parent.
    let root = SchoolRoot::generate(&mut rng);
    let directory_key = DirectoryKey::generate(&mut rng);
    relay
        .register_school(&root, Some(crate::support::REGISTRATION_TOKEN))
        .await
        .unwrap();
    let invite = |name: &str, role, class: &str, rng: &mut _| {
        let request = GrantRequest {
            display_name: name.into(),
            role,
            classes: vec![class.into()],
            valid_from: now() - 60,
            valid_until: now() + 86_400,
        };
        Invite::create(&root, "", request, &directory_key, &url, rng).unwrap()
    };
    let teacher_invite = invite("Ms Rivera", Role::Teacher, "5B", &mut rng);
    let parent_invite = invite("Sam's mum", Role::Parent, "5B", &mut rng);
    for i in [&teacher_invite, &parent_invite] {
        relay
            .put_invite(&as_school(&root), i, now() + 3_600)
            .await
            .unwrap();
    }

    let mut key = None;
    let teacher = join(&relay, &root, &teacher_invite.code.to_line(), &mut key).await;
    let mut parent = join(&relay, &root, &parent_invite.code.to_line(), &mut key).await;
    let directory_key = key.unwrap();

    // A code works once.
    let keys = teacher_invite.code.keys();
    let again = relay
        .redeem_invite(&root.school_id(), &keys, &RequestKey::generate(&mut rng))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some(ErrorCode::InviteUsed), "{again}");

    // The teacher finds the parent in the directory and writes first.
    let school = root.school_id();
    let entries = relay.directory(&school).await.unwrap();
    assert_eq!(entries.len(), 2);
    let parent_entry = entries
        .iter()
        .filter_map(|(id, blob)| {
            DirectoryEntry::open(blob, &directory_key, &root.public(), id).ok()
        })
        .find(|e| e.member.account_id() == parent.account.account_id())
        .unwrap();
    assert_eq!(
        parent_entry.member.grant().details().display_name,
        "Sam's mum"
    );
    // Taking a one-time prekey needs a member key of the school (the teacher's).
    let bundle_id = BundleId::from_bytes(parent_entry.bundle_id);
    let PrekeyTake::Taken(one_time) = relay
        .take_prekey(&bundle_id, &teacher.member_key)
        .await
        .unwrap()
    else {
        panic!("no signed one-time prekey");
    };
    let bundle = parent_entry
        .bundle
        .clone()
        .with_one_time_prekey(&bundle_id, &one_time)
        .unwrap();
    let mut to_parent = Session::initiate(&teacher.account, &bundle, &mut rng).unwrap();
    to_parent
        .set_sender_certificate(teacher.certificate.clone())
        .unwrap();
    relay.create_queue(to_parent.inbound_queue()).await.unwrap();
    let first = to_parent.encrypt(b"Welcome to 5B!", &mut rng).unwrap();
    relay.deposit(&first).await.unwrap();

    // The parent (offline until now) fetches the mailbox, verifies, accepts, replies.
    let fetched = relay
        .fetch(parent.account.mailbox(), 0, 100)
        .await
        .unwrap()
        .messages;
    assert_eq!(fetched.len(), 1);
    let contact = parent
        .account
        .open_first_contact(&Envelope::from_bytes(&fetched[0].envelope).unwrap())
        .unwrap();
    let status = verify_member(
        &root.public(),
        None,
        now(),
        Some(contact.sender_certificate()),
        contact.sender(),
    );
    let SenderStatus::Verified(sender) = status else {
        panic!("{status:?}")
    };
    assert_eq!(
        (sender.display_name.as_str(), sender.role),
        ("Ms Rivera", Role::Teacher)
    );
    let inbound = parent.account.accept(&contact, &mut rng).unwrap();
    assert_eq!(inbound.plaintext, b"Welcome to 5B!");
    let mut to_teacher = inbound.session;
    relay
        .create_queue(to_teacher.inbound_queue())
        .await
        .unwrap();
    relay
        .ack(parent.account.mailbox(), &[fetched[0].id])
        .await
        .unwrap();
    assert!(
        relay
            .fetch(parent.account.mailbox(), 0, 100)
            .await
            .unwrap()
            .messages
            .is_empty()
    );

    let reply = to_teacher.encrypt(b"Thank you!", &mut rng).unwrap();
    relay.deposit(&reply).await.unwrap();
    let fetched = relay
        .fetch(to_parent.inbound_queue(), 0, 100)
        .await
        .unwrap()
        .messages;
    assert_eq!(
        to_parent
            .decrypt(&Envelope::from_bytes(&fetched[0].envelope).unwrap())
            .unwrap(),
        b"Thank you!"
    );
    relay
        .ack(to_parent.inbound_queue(), &[fetched[0].id])
        .await
        .unwrap();

    // The school revokes the teacher; the parent's client sees it on the next sync.
    let list = RevocationList::sign(&root, 1, now(), vec![(&teacher.grant).into()]).unwrap();
    relay
        .put_revocations(&as_school(&root), &list)
        .await
        .unwrap();
    let fetched_list = relay.get_revocations(&school).await.unwrap().unwrap();
    let list = RevocationList::from_bytes(&fetched_list, &root.public()).unwrap();
    assert_eq!(
        verify_member(
            &root.public(),
            Some(&list),
            now(),
            Some(contact.sender_certificate()),
            contact.sender()
        ),
        SenderStatus::Unverified(UnverifiedReason::Revoked)
    );

    // Bad input from a client is a typed, actionable error.
    let error = relay.deposit(&first).await.map(|_| ());
    assert!(
        error.is_ok(),
        "depositing to an existing mailbox again is allowed"
    );
    let unknown = Envelope::from_bytes(&[1u8; 80]).unwrap();
    match relay.deposit(&unknown).await {
        Err(RelayError::Rejected {
            status: 404, code, ..
        }) => assert_eq!(code, ErrorCode::UnknownQueue),
        other => panic!("{other:?}"),
    }
    server.shutdown().await;
}

/// The root as the signer of requests only the school may make.
fn as_school(root: &satchel_core::school::SchoolRoot) -> satchel_core::school::SchoolAuthority {
    satchel_core::school::SchoolAuthority::Root(Box::new(root.clone()))
}

/// A relay (or a confused admin app) that hands a member an admission the root never
/// signed changes nothing: the member's app ignores it, stays unconfirmed and keeps
/// syncing; the real admission, once signed, is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_admission_is_ignored_and_the_real_one_taken() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = crate::support::relay(&dir.path().join("data"), "127.0.0.1:0", 200).await;
    let relay = RelayClient::new(&url).unwrap();
    let mut rng = os_rng();
    let root = SchoolRoot::generate(&mut rng);
    relay
        .register_school(&root, Some(crate::support::REGISTRATION_TOKEN))
        .await
        .unwrap();
    let request = GrantRequest {
        display_name: "Sam's mum".into(),
        role: Role::Parent,
        classes: vec!["5B".into()],
        valid_from: now() - 60,
        valid_until: now() + 86_400,
    };
    let directory_key = DirectoryKey::generate(&mut rng);
    let invite = Invite::create(&root, "", request, &directory_key, &url, &mut rng).unwrap();
    relay
        .put_invite(&as_school(&root), &invite, now() + 3_600)
        .await
        .unwrap();
    let mut mum = crate::support::client(&dir.path().join("mum"), 3);
    mum.join(&invite.code.to_line()).await.unwrap();

    // A signature the root never made is stored for her member key.
    let waiting = relay.pending_admissions(&as_school(&root)).await.unwrap();
    assert_eq!(waiting.len(), 1);
    let member_key = waiting[0].member_key;
    relay
        .put_admissions(&as_school(&root), &[(member_key, [7; 64])])
        .await
        .unwrap();
    mum.sync().await.unwrap();
    assert!(!mum.whoami().unwrap().admitted);

    // The real one replaces it and is taken.
    let certificate = MemberCertificate::open_admission_request(
        &waiting[0].sealed_certificate,
        &directory_key,
        &root.public(),
        &member_key,
    )
    .unwrap()
    .admit(&root)
    .unwrap();
    relay
        .put_admissions(
            &as_school(&root),
            &[(member_key, *certificate.admission().unwrap())],
        )
        .await
        .unwrap();
    mum.sync().await.unwrap();
    assert!(mum.whoami().unwrap().admitted);
    server.shutdown().await;
}
