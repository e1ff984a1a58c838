//! Attacks by enrolled members on the client library, through a real relay on
//! 127.0.0.1: a forged device certificate that reuses the teacher's ids, and an inbox
//! flooded with garbage. Each failed against Satchel 0.1.

use std::path::Path;

use satchel_client::relay::RelayClient;
use satchel_client::{Client, DropReason};
use satchel_core::school::Role;
use satchel_core::{Account, Envelope, Session, os_rng};

use crate::support::{client, join_confirmed, oak_admin, open_store, relay, stored_account};

fn open(home: &Path, seed: u8) -> Client {
    client(home, seed)
}

/// A relay on 127.0.0.1 with a school, its teacher and a parent, each a real client.
struct School {
    _dir: tempfile::TempDir,
    server: satchel_relay::Relay,
    /// The relay, as the attacker talks to it.
    relay: RelayClient,
    teacher: (Client, std::path::PathBuf),
    mum: (Client, std::path::PathBuf),
}

async fn school() -> School {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 200).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let mut enrol = async |folder: &str, seed: u8, role: Role, name: &str| {
        let code = admin.invite(role, name, &["5B".to_string()]).await.unwrap();
        let home = dir.path().join(folder);
        let mut client = open(&home, seed);
        join_confirmed(&mut admin, &mut client, &code).await;
        (client, home)
    };
    let teacher = enrol("teacher", 2, Role::Teacher, "Ms Rivera").await;
    let mum = enrol("mum", 3, Role::Parent, "Sam's mum").await;
    School {
        _dir: dir,
        server,
        relay: RelayClient::new(&url).unwrap(),
        teacher,
        mum,
    }
}

/// A relay with Oak Primary and an unused invite code for Ms Rivera: (relay, its URL,
/// the admin, the code).
async fn teacher_invited(dir: &Path) -> (satchel_relay::Relay, String, Client, String) {
    let (server, url) = relay(&dir.join("relay"), "127.0.0.1:0", 200).await;
    let mut admin = oak_admin(dir, &url).await;
    let code = admin
        .invite(Role::Teacher, "Ms Rivera", &["5B".to_string()])
        .await
        .unwrap();
    (server, url, admin, code)
}

impl School {
    async fn stop(self) {
        self.server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_forges_the_teachers_ids_gets_a_separate_unverified_thread_and_nothing_else() {
    let mut s = school().await;
    let relay = s.relay.clone();

    // An enrolled parent (who can read the directory) signs himself a device
    // certificate claiming the teacher's account id and device id, under his own keys,
    // and sends mum a first contact with it.
    let teacher = stored_account(&s.teacher.1, 2);
    let mum_account = stored_account(&s.mum.1, 3);
    let mut rng = os_rng();
    let forged = satchel_core::internal::account_claiming(
        teacher.account_id(),
        teacher.device_id(),
        &mut rng,
    );
    let mut hijack = Session::initiate(&forged, &mum_account.prekey_bundle(), &mut rng).unwrap();
    relay.create_queue(hijack.inbound_queue()).await.unwrap();
    let envelope = hijack
        .encrypt(
            &satchel_proto_text("Hi, it is Ms Rivera. Please reply here."),
            &mut rng,
        )
        .unwrap();
    relay.deposit(&envelope).await.unwrap();

    // Mum sees it as a stranger, never as the teacher.
    let report = s.mum.0.sync().await.unwrap();
    assert_eq!(report.messages.len(), 1);
    assert!(!report.messages[0].verified);
    assert_ne!(report.messages[0].from, "Ms Rivera");
    assert!(
        s.mum.0.history("Ms Rivera").unwrap().is_empty(),
        "the forged message joined the teacher's thread"
    );

    // Mum writes to the teacher: it reaches the real teacher, and nothing reaches the
    // forger's queue.
    s.mum
        .0
        .send("Ms Rivera", "Is the trip still on?")
        .await
        .unwrap();
    let teacher_got = s.teacher.0.sync().await.unwrap();
    assert_eq!(teacher_got.messages.len(), 1);
    assert_eq!(teacher_got.messages[0].text, "Is the trip still on?");
    assert!(teacher_got.messages[0].verified);
    let stolen = relay
        .fetch(hijack.inbound_queue(), 0, 100)
        .await
        .unwrap()
        .messages;
    assert!(
        stolen.is_empty(),
        "a message for the teacher reached the forger"
    );
    // And the teacher's reply is shown as verified in the right thread.
    s.teacher.0.send("Sam's mum", "Yes, 9:00.").await.unwrap();
    let mum_got = s.mum.0.sync().await.unwrap();
    assert_eq!(mum_got.messages.len(), 1);
    assert!(mum_got.messages[0].verified);
    let history = s.mum.0.history("Ms Rivera").unwrap();
    assert_eq!(
        history.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["Is the trip still on?", "Yes, 9:00."]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn squatting_the_queue_id_an_initiator_could_derive_in_satchel_0_1_blocks_nothing() {
    let mut s = school().await;
    let relay = s.relay.clone();
    let mut rng = os_rng();

    // A stranger starts a session with mum. In Satchel 0.1 the responder's inbound send id
    // was bytes 112..128 of HKDF(0^32, SK, "Satchel session init v1"), which the
    // initiator knows: create a queue there first, with the attacker's own key.
    let mum_account = stored_account(&s.mum.1, 3);
    let attacker = Account::new(&mut rng);
    let (mut session, secret) = satchel_core::internal::fuzz::initiate_with_handshake_secret(
        &attacker,
        &mum_account.prekey_bundle(),
        &mut rng,
    )
    .unwrap();
    let mut okm = [0u8; 128];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&[0u8; 32]), &secret)
        .expand(b"Satchel session init v1", &mut okm)
        .unwrap();
    let old_responder_id = satchel_core::SendId::from_slice(&okm[112..128]).unwrap();
    let squat = satchel_core::internal::queue_keys_with_send_id(old_responder_id, &mut rng);
    relay.create_queue(&squat).await.unwrap();
    relay.create_queue(session.inbound_queue()).await.unwrap();
    let first = session
        .encrypt(&satchel_proto_text("hello from a stranger"), &mut rng)
        .unwrap();
    relay.deposit(&first).await.unwrap();
    // And a real message from the teacher waits behind it.
    s.teacher
        .0
        .send("Sam's mum", "Trip on Friday.")
        .await
        .unwrap();

    // Mum's sync is not blocked: both messages arrive, the stranger's as unverified.
    let report = s.mum.0.sync().await.unwrap();
    let mut got: Vec<(bool, String)> = report
        .messages
        .iter()
        .map(|m| (m.verified, m.text.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (false, "hello from a stranger".to_string()),
            (true, "Trip on Friday.".to_string())
        ]
    );
    assert!(report.dropped.is_empty());
    // Every conversation of mum's has its queue on the relay (none was squatted).
    assert!(
        open_store(&s.mum.1, 3)
            .sessions_without_queue()
            .unwrap()
            .is_empty()
    );
    // The squatted queue receives nothing, ever.
    assert!(
        relay
            .fetch(&squat, 0, 10)
            .await
            .unwrap()
            .messages
            .is_empty()
    );
    s.stop().await;
}

/// A text message as the client encodes it.
fn satchel_proto_text(text: &str) -> Vec<u8> {
    use prost::Message as _;
    let mut id = [0u8; 16];
    rand_core::Rng::fill_bytes(&mut os_rng(), &mut id);
    satchel_proto::v1::Content {
        message_id: id.to_vec(),
        sent_at: 1,
        body: Some(satchel_proto::v1::content::Body::Text(
            satchel_proto::v1::Text {
                text: text.to_string(),
            },
        )),
    }
    .encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_in_an_inbox_never_stops_a_sync_every_good_message_arrives() {
    const GOOD: usize = 900;
    const GARBAGE: usize = 100;
    let mut s = school().await;
    let relay = s.relay.clone();

    s.teacher.0.send("Sam's mum", "first").await.unwrap();
    assert_eq!(s.mum.0.sync().await.unwrap().messages.len(), 1);
    s.mum.0.send("Ms Rivera", "ok").await.unwrap();
    assert_eq!(s.teacher.0.sync().await.unwrap().messages.len(), 1);

    // Mum's inbound queue for the teacher: anyone who learns its send id can deposit.
    let mum_account = stored_account(&s.mum.1, 3);
    let mut rng = os_rng();
    let mut garbage_sent = 0;
    for i in 0..GOOD {
        s.teacher
            .0
            .send("Sam's mum", &format!("notice {i}"))
            .await
            .unwrap();
        if i % 9 == 0 && garbage_sent < GARBAGE {
            // Well-framed envelopes with random bodies, on the queue and the mailbox.
            let target = mum_inbound_send_id(&s.mum.1, 3, &mum_account);
            let mut body = vec![0u8; 200];
            rand_core::Rng::fill_bytes(&mut rng, &mut body);
            let mut bytes = vec![1u8];
            bytes.extend_from_slice(target.as_bytes());
            bytes.extend_from_slice(&body);
            relay
                .deposit(&Envelope::from_bytes(&bytes).unwrap())
                .await
                .unwrap();
            garbage_sent += 1;
        }
    }
    let report = s.mum.0.sync().await.unwrap();
    assert_eq!(report.messages.len(), GOOD, "every good message arrives");
    assert_eq!(report.dropped.len(), garbage_sent);
    assert!(
        report
            .dropped
            .iter()
            .all(|r| matches!(r, DropReason::Undecryptable | DropReason::Malformed))
    );
    // Nothing comes back.
    let again = s.mum.0.sync().await.unwrap();
    assert!(again.messages.is_empty() && again.dropped.is_empty());
    s.stop().await;
}

/// The send id of mum's inbound queue from the teacher (read from her store).
fn mum_inbound_send_id(home: &Path, seed: u8, account: &Account) -> satchel_core::SendId {
    open_store(home, seed)
        .all_sessions()
        .unwrap()
        .into_iter()
        .map(|row| row.session.inbound_queue().send_id())
        .find(|id| *id != account.mailbox().send_id())
        .unwrap()
}

/// Someone photographs the teacher's invite code after she joined (a QR code left on a
/// desk): the relay erased the record when she redeemed it, so the code yields neither
/// the grant nor the directory key, and joining with it is refused. (A code seen
/// *before* it was redeemed still works for whoever redeems first: issue "school trust
/// v2", docs/THREAT_MODEL.md.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_seen_after_the_teacher_joined_yields_nothing() {
    use satchel_client::ClientError;
    use satchel_core::school::InviteCode;
    use satchel_relay_api::ErrorCode;

    let dir = tempfile::tempdir().unwrap();
    let (server, url, mut admin, code) = teacher_invited(dir.path()).await;
    let mut teacher = open(&dir.path().join("teacher"), 2);
    join_confirmed(&mut admin, &mut teacher, &code).await;

    // The photographer derives the invite's keys from the code and asks for the record.
    let parsed = InviteCode::parse(&code).unwrap();
    let relay = RelayClient::new(&url).unwrap();
    let refused = relay
        .get_invite(&parsed.school_id, &parsed.keys())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InviteUsed), "{refused}");
    // Joining with it as a client: refused, and the thief's folder stays unenrolled.
    let mut thief = open(&dir.path().join("thief"), 9);
    assert!(matches!(
        thief.join(&code).await,
        Err(ClientError::InviteUsed)
    ));
    assert!(thief.whoami().is_err());

    // The teacher is unaffected: enrolled, and the admin's directory shows her verified.
    assert_eq!(teacher.whoami().unwrap().name, "Ms Rivera");
    let contacts = admin.contacts().await.unwrap();
    assert!(
        contacts.iter().any(|c| c.name == "Ms Rivera" && c.verified),
        "{contacts:?}"
    );
    server.shutdown().await;
}

/// Revocation bites on send: the revoked teacher's own client refuses to send and says
/// the school ended the membership (instead of "Sent"); a parent's client refuses to
/// send to the revoked teacher unless the parent explicitly allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_member_can_neither_send_nor_be_written_to_by_mistake() {
    use satchel_client::{ClientError, SendOptions};
    use satchel_core::school::UnverifiedReason;

    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 200).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let (mut teacher, mut mum) = crate::support::teacher_and_mum(dir.path(), &mut admin).await;
    teacher.send("Sam's mum", "Welcome!").await.unwrap();
    mum.sync().await.unwrap();

    assert_eq!(admin.revoke("Ms Rivera").await.unwrap(), 1);

    match teacher.send("Sam's mum", "Still here").await {
        Err(ClientError::MembershipEnded {
            reason: UnverifiedReason::Revoked,
        }) => {}
        other => panic!("expected the membership to have ended, got {other:?}"),
    }
    match mum.send("Ms Rivera", "Is the trip on?").await {
        Err(ClientError::RecipientNotVerified {
            reason: UnverifiedReason::Revoked,
            ..
        }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Nothing was stored or sent by the refusals.
    let history = mum.history("Ms Rivera").unwrap();
    assert_eq!(
        history.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["Welcome!"]
    );
    // Explicitly allowed, it goes.
    let report = mum
        .send_with(
            "Ms Rivera",
            "Is the trip on?",
            SendOptions::new().allow_unverified(),
        )
        .await
        .unwrap();
    assert!(report.delivered_to_relay);
    // The relay no longer accepts the revoked member's key: her app's prekey top-up and
    // its directory rewrite after a rotation are refused (a modified app gets the same
    // answers; `apps/relay/tests/api/members.rs`), while her app still reads its mail.
    // The same forced maintenance works for an honest member.
    let mut eager = satchel_client::PrekeyPolicy::default();
    eager.check_every_secs = 0;
    eager.threshold = 1_000;
    eager.target = 1_000;
    eager.rotate_every_secs = 0;
    teacher.set_prekey_policy(eager);
    let report = teacher.sync().await.unwrap();
    assert_eq!(
        (report.prekeys.uploaded, report.prekeys.republished),
        (0, false)
    );
    mum.set_prekey_policy(eager);
    let report = mum.sync().await.unwrap();
    assert!(report.prekeys.uploaded > 0 && report.prekeys.republished);
    // Honest members are unaffected.
    admin.send("Sam's mum", "The trip is on.").await.unwrap();
    assert_eq!(
        mum.sync()
            .await
            .unwrap()
            .messages
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        ["The trip is on."]
    );
    server.shutdown().await;
}

/// Someone sees the teacher's invite code *before* she uses it and fetches its record
/// (the grant and the directory key). She then joins normally. The copier binds the
/// genuine grant to an account of their own and writes to a parent as "Ms Rivera": the
/// binding is valid, but the school root admitted only the account that redeemed the
/// invite (hers), so the message is shown NOT VERIFIED ("not confirmed by the school").
/// (Before school trust v2 it was shown as the verified teacher.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_copied_before_the_teacher_joined_does_not_make_the_copier_verified() {
    use satchel_core::school::InviteCode;

    let dir = tempfile::tempdir().unwrap();
    let (server, url, mut admin, code) = teacher_invited(dir.path()).await;

    // The copier reads the record while the code is still unused.
    let parsed = InviteCode::parse(&code).unwrap();
    let keys = parsed.keys();
    let relay_client = RelayClient::new(&url).unwrap();
    let (record, _) = relay_client
        .get_invite(&parsed.school_id, &keys)
        .await
        .unwrap();
    let stolen = keys.open_record(&record).unwrap();

    // The teacher and a parent join as usual.
    let mut teacher = client(&dir.path().join("teacher"), 2);
    join_confirmed(&mut admin, &mut teacher, &code).await;
    let mum_code = admin
        .invite(Role::Parent, "Sam's mum", &["5B".to_string()])
        .await
        .unwrap();
    let mum_home = dir.path().join("mum");
    let mut mum = client(&mum_home, 3);
    join_confirmed(&mut admin, &mut mum, &mum_code).await;

    // The copier binds the genuine grant to a fresh account and writes to mum.
    let mut rng = os_rng();
    let copier = Account::new(&mut rng);
    let certificate = keys
        .bind(
            stolen.grant,
            copier.account_id(),
            *copier.certificate().account_key(),
        )
        .unwrap();
    let mum_account = stored_account(&mum_home, 3);
    let mut session = Session::initiate(&copier, &mum_account.prekey_bundle(), &mut rng).unwrap();
    session
        .set_sender_certificate(certificate.to_bytes())
        .unwrap();
    relay_client
        .create_queue(session.inbound_queue())
        .await
        .unwrap();
    let envelope = session
        .encrypt(
            &satchel_proto_text("Ms Rivera here: new bank details for the trip."),
            &mut rng,
        )
        .unwrap();
    relay_client.deposit(&envelope).await.unwrap();

    let report = mum.sync().await.unwrap();
    assert_eq!(report.messages.len(), 1, "{report:?}");
    let message = &report.messages[0];
    assert!(!message.verified, "the copier was shown as the teacher");
    assert_eq!(message.role, None);
    // The school never admitted the copier's account: only the account that redeemed
    // the invite was admitted.
    assert!(message.from.contains("not confirmed"), "{}", message.from);
    assert!(mum.history("Ms Rivera").unwrap().is_empty());

    // The real teacher is unaffected.
    teacher.send("Sam's mum", "The trip is on.").await.unwrap();
    let real = mum.sync().await.unwrap();
    assert_eq!(real.messages.len(), 1);
    assert!(real.messages[0].verified);
    assert_eq!(real.messages[0].from, "Ms Rivera");
    server.shutdown().await;
}
