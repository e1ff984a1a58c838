//! Attacks on prekeys, through a real relay on 127.0.0.1 with real clients: a stranger
//! or an outsider taking one-time prekeys, a member draining them, a duplicated
//! directory entry pointing at fake one-time prekeys; and the honest side of the same
//! machinery: rotation with its grace period, replenishment after first contacts.

use std::path::{Path, PathBuf};

use satchel_client::relay::{PrekeyTake, RelayClient, RelayError};
use satchel_client::store::keyfile::KeySource;
use satchel_client::store::{ContactRecord, SqliteStore};
use satchel_client::{Client, DropReason, PrekeyPolicy};
use satchel_core::relay_request::RequestKey;
use satchel_core::school::{DirectoryEntry, EntryId, InviteCode, Role};
use satchel_core::{BundleId, PrekeyBundle, SignedOneTimePrekey, os_rng};
use satchel_relay_api::ErrorCode;
use zeroize::Zeroizing;

use crate::support::{client, join_confirmed, oak_admin};

/// A relay with Oak Primary, its admin, a teacher and a parent (real clients).
struct School {
    dir: tempfile::TempDir,
    server: satchel_relay::Relay,
    url: String,
    relay: RelayClient,
    admin: Client,
    teacher: (Client, PathBuf),
    mum: (Client, PathBuf),
}

/// Someone who joined "by hand" with an invite code: the member key and what the
/// invite record gave (the directory key, the school root). An enrolled member who
/// reads the code's library can do all of this.
struct HandJoined {
    member_key: RequestKey,
    contents: satchel_core::school::InviteContents,
    school: satchel_core::school::SchoolId,
}

async fn school_with(configure: impl FnOnce(&mut satchel_relay::Config)) -> School {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        satchel_relay::Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("relay"));
    config.registration_token = Some(crate::support::registration_token());
    configure(&mut config);
    let server = satchel_relay::serve(config).await.unwrap();
    let url = format!("http://{}", server.local_addr());
    let mut admin = oak_admin(dir.path(), &url).await;
    let teacher = enrol(
        dir.path(),
        &mut admin,
        "teacher",
        2,
        Role::Teacher,
        "Ms Rivera",
    )
    .await;
    let mum = enrol(dir.path(), &mut admin, "mum", 3, Role::Parent, "Sam's mum").await;
    School {
        relay: RelayClient::new(&url).unwrap(),
        dir,
        server,
        url,
        admin,
        teacher,
        mum,
    }
}

/// A member of `admin`'s school, a real client in `dir/folder`.
async fn enrol(
    dir: &Path,
    admin: &mut Client,
    folder: &str,
    seed: u8,
    role: Role,
    name: &str,
) -> (Client, PathBuf) {
    let code = admin.invite(role, name, &["5B".to_string()]).await.unwrap();
    let home = dir.join(folder);
    let mut member = client(&home, seed);
    join_confirmed(admin, &mut member, &code).await;
    (member, home)
}

impl School {
    async fn enrol(&mut self, folder: &str, seed: u8, role: Role, name: &str) -> (Client, PathBuf) {
        enrol(self.dir.path(), &mut self.admin, folder, seed, role, name).await
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// An enrolled parent of `admin`'s school who joins with the library's pieces instead of
/// the client.
async fn hand_join(relay: &RelayClient, admin: &mut Client, name: &str) -> HandJoined {
    let code = admin
        .invite(Role::Parent, name, &["5B".to_string()])
        .await
        .unwrap();
    let code = InviteCode::parse(&code).unwrap();
    let keys = code.keys();
    let (record, _) = relay.get_invite(&code.school_id, &keys).await.unwrap();
    let contents = keys.open_record(&record).unwrap();
    let member_key = RequestKey::generate(&mut os_rng());
    relay
        .redeem_invite(&code.school_id, &keys, &member_key)
        .await
        .unwrap();
    HandJoined {
        member_key,
        contents,
        school: code.school_id,
    }
}

fn open_store(home: &Path, seed: u8) -> SqliteStore {
    use satchel_client::store::keyfile::KeyFile;
    let file = KeyFile::from_bytes(&std::fs::read(home.join("store.key")).unwrap()).unwrap();
    let key = file
        .unlock(&KeySource::Platform(Zeroizing::new([seed; 32])))
        .unwrap();
    SqliteStore::open(&home.join("satchel.db"), &key).unwrap()
}

/// Someone's local directory record of `name`.
fn contact(home: &Path, seed: u8, name: &str) -> ContactRecord {
    open_store(home, seed)
        .contacts()
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap()
}

fn rejected(result: Result<PrekeyTake, RelayError>) -> (u16, ErrorCode) {
    match result {
        Err(RelayError::Rejected { status, code, .. }) => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_other_schools_cannot_take_one_time_prekeys() {
    let mut s = school_with(|_| {}).await;
    s.teacher.0.contacts().await.unwrap();
    let mum = BundleId::from_bytes(contact(&s.teacher.1, 2, "Sam's mum").bundle_id);

    // A stranger with a key of its own.
    let stranger = RequestKey::generate(&mut os_rng());
    assert_eq!(
        rejected(s.relay.take_prekey(&mum, &stranger).await),
        (403, ErrorCode::Forbidden)
    );
    // (An unsigned take, as Satchel 0.1 allowed, is 401: see the relay's API tests.)
    // A member of another school on the same relay.
    let mut elm = client(&s.dir.path().join("elm-admin"), 7);
    elm.create_school(
        "Elm Primary",
        &s.url,
        Some(crate::support::REGISTRATION_TOKEN),
    )
    .await
    .unwrap();
    let outsider = hand_join(&s.relay, &mut elm, "Elm parent").await;
    assert_eq!(
        rejected(s.relay.take_prekey(&mum, &outsider.member_key).await),
        (403, ErrorCode::Forbidden)
    );

    // None of them got anything: the teacher's first contact still uses a one-time
    // prekey, and mum reads it.
    assert_eq!(
        sent(&mut s.teacher.0, "Sam's mum", "Trip on Friday").await,
        (0, 0)
    );
    let synced = s.mum.0.sync().await.unwrap();
    assert_eq!(synced.messages.len(), 1);
    assert!(synced.messages[0].verified);
    assert_eq!(synced.messages[0].text, "Trip on Friday");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_draining_one_time_prekeys_is_rate_limited_and_first_contacts_still_work() {
    let mut s = school_with(|config| {
        config.prekey_takes_per_hour = 60;
        config.prekey_take_burst = 3;
    })
    .await;
    let mut gran = s.enrol("gran", 4, Role::Parent, "Sam's gran").await;
    s.teacher.0.contacts().await.unwrap();
    let mum = BundleId::from_bytes(contact(&s.teacher.1, 2, "Sam's mum").bundle_id);
    let gran_bundle = BundleId::from_bytes(contact(&s.teacher.1, 2, "Sam's gran").bundle_id);

    // A hostile parent, enrolled, tries to drain mum's 50 one-time prekeys: 3 and no more.
    let drainer = hand_join(&s.relay, &mut s.admin, "Hostile dad").await;
    let mut taken = 0;
    let refused = loop {
        match s.relay.take_prekey(&mum, &drainer.member_key).await {
            Ok(PrekeyTake::Taken(_)) => taken += 1,
            other => break rejected(other),
        }
        assert!(taken <= 50, "drained everything");
    };
    assert_eq!(taken, 3);
    assert_eq!(refused, (429, ErrorCode::RateLimited));
    // Also from gran: its budget is per member, not per bundle.
    assert_eq!(
        rejected(s.relay.take_prekey(&gran_bundle, &drainer.member_key).await),
        (429, ErrorCode::RateLimited)
    );

    // The teacher's own budget is untouched: her first contacts use keys until she
    // is over her own limit (a burst of 3), then start without one, and still work.
    let mut aunt = s.enrol("aunt", 5, Role::Parent, "Sam's aunt").await;
    let mut uncle = s.enrol("uncle", 6, Role::Parent, "Sam's uncle").await;
    for name in ["Sam's mum", "Sam's gran", "Sam's aunt"] {
        assert_eq!(
            sent(&mut s.teacher.0, name, "Trip on Friday").await,
            (0, 0),
            "{name}"
        );
    }
    assert_eq!(
        sent(&mut s.teacher.0, "Sam's uncle", "Trip on Friday").await,
        (1, 0)
    );
    for member in [&mut s.mum, &mut gran, &mut aunt, &mut uncle] {
        let synced = member.0.sync().await.unwrap();
        assert_eq!(synced.messages.len(), 1, "{:?}", synced.dropped);
        assert_eq!(synced.messages[0].text, "Trip on Friday");
        assert!(synced.messages[0].verified);
    }
    s.stop().await;
}

/// Sends `text` to `to`; returns how many new conversations started without a one-time
/// prekey and how many handed-out keys were refused.
async fn sent(from: &mut Client, to: &str, text: &str) -> (usize, usize) {
    let report = from.send(to, text).await.unwrap();
    assert!(report.delivered_to_relay);
    (
        report.without_one_time_prekey,
        report.refused_one_time_prekeys,
    )
}

/// Random bytes.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand_core::Rng::fill_bytes(&mut os_rng(), &mut bytes);
    bytes
}

/// Keeps in `home`'s local directory copy only the entry for `name` whose bundle id is
/// `bundle_id`: the copy a client holds when it happens to pick that entry first.
fn keep_only(home: &Path, seed: u8, name: &str, bundle_id: &BundleId) {
    let mut store = open_store(home, seed);
    let kept: Vec<ContactRecord> = store
        .contacts()
        .unwrap()
        .into_iter()
        .filter(|c| c.name != name || c.bundle_id == *bundle_id.as_bytes())
        .collect();
    assert!(kept.iter().any(|c| c.name == name));
    store.write(|w| w.replace_contacts(&kept)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_directory_entry_with_fake_one_time_prekeys_does_not_break_first_contact() {
    let mut s = school_with(|_| {}).await;
    let mut gran = s.enrol("gran", 4, Role::Parent, "Sam's gran").await;
    let attacker = hand_join(&s.relay, &mut s.admin, "Hostile dad").await;
    let (root, key) = (&attacker.contents.root, &attacker.contents.directory_key);

    // The attacker copies mum's entry (every member can read the directory) and writes
    // it again under an entry of its own, pointing at a bundle id it owns, filled with
    // fake one-time prekeys (ids above mum's, so the relay hands mum's copies out first).
    let mum_entry = s
        .relay
        .directory(&attacker.school)
        .await
        .unwrap()
        .iter()
        .filter_map(|(id, blob)| DirectoryEntry::open(blob, key, root, id).ok())
        .find(|e| e.member.grant().details().display_name == "Sam's mum")
        .unwrap();
    let fake_bundle = BundleId::random(&mut os_rng());
    let fakes: Vec<SignedOneTimePrekey> = (1000..1005)
        .map(|id| SignedOneTimePrekey {
            id,
            public_key: random::<32>(),
            signature: random::<64>(),
        })
        .collect();
    s.relay
        .upload_prekeys(&fake_bundle, &attacker.member_key, &fakes)
        .await
        .unwrap();
    let duplicate = DirectoryEntry {
        member: mum_entry.member.clone(),
        bundle: mum_entry.bundle.clone(),
        bundle_id: *fake_bundle.as_bytes(),
        updated_at: mum_entry.updated_at,
    };
    let entry_id = EntryId::random(&mut os_rng());
    let blob = duplicate
        .seal(key, &attacker.school, &entry_id, &mut os_rng())
        .unwrap();
    s.relay
        .put_directory_entry(&attacker.school, &entry_id, &blob, &attacker.member_key)
        .await
        .unwrap();

    // The teacher's client uses the duplicate: the fake key is refused (and counted),
    // and the first contact goes out without one. Mum reads it, verified.
    s.teacher.0.contacts().await.unwrap();
    keep_only(&s.teacher.1, 2, "Sam's mum", &fake_bundle);
    assert_eq!(
        sent(&mut s.teacher.0, "Sam's mum", "Trip on Friday").await,
        (1, 1)
    );

    // A genuine key of mum's, taken from her bundle and planted under the attacker's
    // bundle id, is refused too: its signature names mum's bundle id. (Used, it would
    // have been a second use of a key mum deletes after the first.)
    let mum_bundle = BundleId::from_bytes(mum_entry.bundle_id);
    let PrekeyTake::Taken(genuine) = s
        .relay
        .take_prekey(&mum_bundle, &attacker.member_key)
        .await
        .unwrap()
    else {
        panic!("mum has one-time prekeys");
    };
    assert!(
        PrekeyBundle::from_bytes(&mum_entry.bundle.to_bytes())
            .unwrap()
            .with_one_time_prekey(&mum_bundle, &genuine)
            .is_ok(),
        "it is genuine for mum's own bundle id"
    );
    s.relay
        .upload_prekeys(&fake_bundle, &attacker.member_key, &[genuine])
        .await
        .unwrap();
    gran.0.contacts().await.unwrap();
    keep_only(&gran.1, 4, "Sam's mum", &fake_bundle);
    assert_eq!(
        sent(&mut gran.0, "Sam's mum", "See you at the gate").await,
        (1, 1)
    );

    let synced = s.mum.0.sync().await.unwrap();
    assert!(synced.dropped.is_empty(), "{:?}", synced.dropped);
    let mut texts: Vec<(&str, bool)> = synced
        .messages
        .iter()
        .map(|m| (m.text.as_str(), m.verified))
        .collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        [("See you at the gate", true), ("Trip on Friday", true)]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contacts_with_a_rotated_bundle_work_within_the_grace_period_and_are_refused_after() {
    let mut s = school_with(|_| {}).await;
    // Gran's and the teacher's copies of the directory hold mum's first bundle.
    let mut gran = s.enrol("gran", 4, Role::Parent, "Sam's gran").await;
    s.teacher.0.contacts().await.unwrap();
    let first_bundle = contact(&s.teacher.1, 2, "Sam's mum").bundle;

    // Mum's device rotates at every sync here (weekly by default).
    s.mum
        .0
        .set_prekey_policy(PrekeyPolicy::new().rotate_every_secs(0));
    for _ in 0..2 {
        let report = s.mum.0.sync().await.unwrap();
        assert!(report.prekeys.rotated && report.prekeys.republished);
    }
    // The directory carries mum's new bundle.
    let dad = s.enrol("dad", 5, Role::Parent, "Sam's dad").await;
    let newest = contact(&dad.1, 5, "Sam's mum").bundle;
    assert_ne!(newest, first_bundle);
    assert!(PrekeyBundle::from_bytes(&newest).is_ok());

    // Two rotations back is within the grace period (3 signed and ML-KEM prekeys are
    // kept: 14 days at the weekly schedule).
    let report = s
        .teacher
        .0
        .send("Sam's mum", "Within the grace")
        .await
        .unwrap();
    assert!(report.delivered_to_relay);
    let synced = s.mum.0.sync().await.unwrap();
    assert_eq!(synced.messages.len(), 1, "{:?}", synced.dropped);
    assert_eq!(synced.messages[0].text, "Within the grace");
    assert!(synced.messages[0].verified);
    assert!(synced.prekeys.rotated, "rotated after the mail was read");

    // Three rotations back is past it: the first contact is dropped with a typed reason.
    gran.0.send("Sam's mum", "Too late").await.unwrap();
    let synced = s.mum.0.sync().await.unwrap();
    assert!(synced.messages.is_empty());
    assert_eq!(synced.dropped, [DropReason::UnknownPrekey]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_prekeys_are_topped_up_after_first_contacts() {
    let mut s = school_with(|_| {}).await;
    let mut gran = s.enrol("gran", 4, Role::Parent, "Sam's gran").await;
    // Check at every sync; top up below 49 to 60 (mum uploaded 50 when she joined).
    s.mum.0.set_prekey_policy(
        PrekeyPolicy::new()
            .check_every_secs(0)
            .one_time_prekeys(49, 60),
    );
    assert_eq!(s.mum.0.sync().await.unwrap().prekeys.uploaded, 0);

    s.teacher.0.send("Sam's mum", "one").await.unwrap();
    gran.0.send("Sam's mum", "two").await.unwrap();
    let synced = s.mum.0.sync().await.unwrap();
    assert_eq!(synced.messages.len(), 2, "{:?}", synced.dropped);
    // Two keys were used (48 left on the relay): 12 new ones make 60.
    assert_eq!(synced.prekeys.uploaded, 12);
    let account = open_store(&s.mum.1, 3).account().unwrap().unwrap();
    assert_eq!(account.one_time_prekey_counts(), (60, 0));
    // The relay holds them now (it reports 60, above the threshold): nothing more.
    assert_eq!(s.mum.0.sync().await.unwrap().prekeys.uploaded, 0);

    // With the default policy a sync asks at most once an hour.
    s.mum
        .0
        .set_prekey_policy(PrekeyPolicy::new().one_time_prekeys(100, 100));
    assert_eq!(s.mum.0.sync().await.unwrap().prekeys.uploaded, 0);
    s.stop().await;
}
