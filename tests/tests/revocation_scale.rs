//! Revocation lists at school scale, through a real relay on 127.0.0.1: a school with
//! 20,000 grants and 5,000 revocations, compaction when grants expire, and lists
//! published by older admins (format 1).
//!
//! The grant ids and the big list are made at the core level (20,000 invites over HTTP
//! would test nothing more); the people who check what they see are real clients.

use std::path::Path;
use std::time::{Duration, Instant};

use satchel_client::relay::RelayClient;
use satchel_client::store::keyfile::{KeyFile, KeySource};
use satchel_core::os_rng;
use satchel_core::school::{
    GrantId, PRUNE_MARGIN_SECS, RevocationFormat, RevocationList, RevokedGrant, Role, SchoolRoot,
};
use zeroize::Zeroizing;

use crate::support::{client, join_confirmed, oak_admin, relay};

const DAY: u64 = 86_400;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The admin's school root, unwrapped from its key file with the admin's platform key
/// (`support::oak_admin` opens the admin with seed 1).
fn admin_root(admin_home: &Path) -> SchoolRoot {
    let file =
        KeyFile::from_bytes(&std::fs::read(admin_home.join("school-root.key")).unwrap()).unwrap();
    let secret = file
        .unwrap_secret(&KeySource::Platform(Zeroizing::new([1; 32])))
        .unwrap();
    SchoolRoot::from_secret_bytes(*secret)
}

/// `count` random grant ids with expiries spread over the next five years.
fn grants(count: usize, now: u64) -> Vec<RevokedGrant> {
    let mut rng = os_rng();
    (0..count)
        .map(|i| {
            let mut id = [0u8; 16];
            rand_core::Rng::fill_bytes(&mut rng, &mut id);
            RevokedGrant {
                id: GrantId::from_bytes(id),
                valid_until: now + 1 + (i as u64 * 5 * 365 * DAY) / count as u64,
            }
        })
        .collect()
}

fn verified(contacts: &[satchel_client::Contact], name: &str) -> bool {
    contacts
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} is in the directory"))
        .verified
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// 20,000 grants, 5,000 of them revoked (plus one real teacher): the list is published,
/// a parent's client syncs, the revoked teacher is NOT VERIFIED and the other stays
/// verified; an unchanged list costs a 304. Prints the list's size, the sign and parse
/// times and the fetch times with and without a change (see `docs/PROTOCOL.md` §5.5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_school_with_20000_grants_and_5000_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 1_000).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let mut people = Vec::new();
    for (folder, seed, role, name) in [
        ("rivera", 2, Role::Teacher, "Ms Rivera"),
        ("oak", 3, Role::Teacher, "Mr Oak"),
        ("mum", 4, Role::Parent, "Sam's mum"),
    ] {
        let code = admin.invite(role, name, &["5B".to_string()]).await.unwrap();
        let mut person = client(&dir.path().join(folder), seed);
        join_confirmed(&mut admin, &mut person, &code).await;
        people.push(person);
    }
    let mut mum = people.pop().unwrap();
    mum.sync().await.unwrap();
    let contacts = mum.contacts().await.unwrap();
    assert!(verified(&contacts, "Ms Rivera") && verified(&contacts, "Mr Oak"));

    // The admin revokes Ms Rivera through the client (a v2 list with her grant's expiry).
    assert_eq!(admin.revoke("Ms Rivera").await.unwrap(), 1);
    let relay_client = RelayClient::new(&url).unwrap();
    let root = admin_root(&dir.path().join("admin"));
    let school = root.school_id();
    let first = relay_client
        .get_revocations(&school)
        .await
        .unwrap()
        .unwrap();
    let first = RevocationList::from_bytes(&first, &root.public()).unwrap();
    assert_eq!(first.format(), RevocationFormat::V2);
    assert_eq!(first.revoked().len(), 1);
    mum.sync().await.unwrap();

    // The rest of the school: 20,000 grants, 5,000 of them revoked.
    let now = now();
    let school_grants = grants(20_000, now);
    let revoked: Vec<RevokedGrant> = school_grants.iter().step_by(4).copied().collect();
    assert_eq!(revoked.len(), 5_000);
    let started = Instant::now();
    let list = RevocationList::successor(Some(&first), &root, now, revoked.clone()).unwrap();
    let sign_time = started.elapsed();
    let bytes = list.to_bytes();
    assert_eq!(list.revoked().len(), 5_001);
    let started = Instant::now();
    let parsed = RevocationList::from_bytes(&bytes, &root.public()).unwrap();
    let parse_time = started.elapsed();
    assert_eq!(parsed, list);
    // Every revoked grant is found, no other grant of the school is.
    for (i, grant) in school_grants.iter().enumerate() {
        assert_eq!(parsed.is_revoked(&grant.id), i % 4 == 0);
    }
    relay_client
        .put_revocations(&as_school(&root), &list)
        .await
        .unwrap();

    // A member's client: the first sync fetches the new list, the next gets a 304.
    let started = Instant::now();
    mum.sync().await.unwrap();
    let sync_changed = started.elapsed();
    let started = Instant::now();
    mum.sync().await.unwrap();
    let sync_unchanged = started.elapsed();
    let contacts = mum.contacts().await.unwrap();
    assert!(!verified(&contacts, "Ms Rivera"), "revoked: NOT VERIFIED");
    assert!(verified(&contacts, "Mr Oak"), "not revoked: still verified");

    // The fetch alone, as a sync makes it.
    let started = Instant::now();
    let full = relay_client
        .get_revocations_since(&school, list.sequence() - 1)
        .await
        .unwrap()
        .unwrap();
    let fetch_changed = started.elapsed();
    assert_eq!(full, bytes);
    let started = Instant::now();
    let unchanged = relay_client
        .get_revocations_since(&school, list.sequence())
        .await
        .unwrap();
    let fetch_unchanged = started.elapsed();
    assert_eq!(unchanged, None);

    println!(
        "revocation list, 5,001 entries of 20,000 grants: {} bytes ({} base64), \
         sign {:.1} ms, parse+verify {:.1} ms; fetch {:.1} ms changed, {:.1} ms unchanged \
         (304); member sync {:.1} ms after a change, {:.1} ms without",
        bytes.len(),
        bytes.len().div_ceil(3) * 4,
        ms(sign_time),
        ms(parse_time),
        ms(fetch_changed),
        ms(fetch_unchanged),
        ms(sync_changed),
        ms(sync_unchanged),
    );
    server.shutdown().await;
}

/// Grants that expired drop out: the admin's next revoke (through the client) publishes
/// a list without them, smaller than the one before. Entries of a format 1 list (no
/// expiry) are carried over unpruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revoke_after_grants_expired_publishes_a_smaller_list() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 1_000).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    for name in ["Ms Rivera", "Mr Oak"] {
        admin
            .invite(Role::Teacher, name, &["5B".to_string()])
            .await
            .unwrap();
    }
    let root = admin_root(&dir.path().join("admin"));
    let school = root.school_id();
    let relay_client = RelayClient::new(&url).unwrap();
    let now = now();

    // A list from an older admin app: format 1, no expiries.
    let old_ids: Vec<GrantId> = grants(50, now).iter().map(|g| g.id).collect();
    let v1 = satchel_core::internal::fuzz::sign_revocation_list_v1(
        &root,
        1,
        now - 400 * DAY,
        old_ids.clone(),
    )
    .unwrap();
    relay_client
        .put_revocations(&as_school(&root), &v1)
        .await
        .unwrap();

    // The admin revokes an unused invite: the v1 entries all stay.
    assert_eq!(admin.revoke("Ms Rivera").await.unwrap(), 1);
    let after_v1 = RevocationList::from_bytes(
        &relay_client
            .get_revocations(&school)
            .await
            .unwrap()
            .unwrap(),
        &root.public(),
    )
    .unwrap();
    assert_eq!(after_v1.format(), RevocationFormat::V2);
    assert_eq!(after_v1.sequence(), 2);
    assert_eq!(after_v1.revoked().len(), 51);
    assert!(old_ids.iter().all(|id| after_v1.is_revoked(id)));

    // Later, 2,000 revoked grants have expired and 500 have not.
    let expired: Vec<RevokedGrant> = grants(2_000, now)
        .into_iter()
        .map(|g| RevokedGrant {
            valid_until: now - PRUNE_MARGIN_SECS - 1 - g.valid_until % (300 * DAY),
            ..g
        })
        .collect();
    let current = grants(500, now);
    let mut entries: Vec<RevokedGrant> = after_v1.entries().collect();
    entries.extend(expired.iter().copied());
    entries.extend(current.iter().copied());
    // Signed before they expired (so they are still listed).
    let before = RevocationList::sign(&root, 3, now - 3 * 365 * DAY, entries).unwrap();
    assert_eq!(before.revoked().len(), 2_551);
    relay_client
        .put_revocations(&as_school(&root), &before)
        .await
        .unwrap();

    assert_eq!(admin.revoke("Mr Oak").await.unwrap(), 1);
    let after = relay_client
        .get_revocations(&school)
        .await
        .unwrap()
        .unwrap();
    let after = RevocationList::from_bytes(&after, &root.public()).unwrap();
    assert_eq!(after.sequence(), 4);
    assert_eq!(after.revoked().len(), 50 + 1 + 500 + 1);
    assert!(after.to_bytes().len() < before.to_bytes().len() / 4);
    assert!(expired.iter().all(|g| !after.is_revoked(&g.id)));
    assert!(current.iter().all(|g| after.is_revoked(&g.id)));
    assert!(old_ids.iter().all(|id| after.is_revoked(id)));
    server.shutdown().await;
}

mod properties {
    use proptest::prelude::*;
    use satchel_core::TrustError;
    use satchel_core::school::{
        GrantId, PRUNE_MARGIN_SECS, RevocationList, RevokedGrant, SchoolRoot, UNKNOWN_EXPIRY,
    };

    use crate::support::rng;

    const T: u64 = 1_800_000_000;

    fn root() -> SchoolRoot {
        SchoolRoot::generate(&mut rng(91))
    }

    /// Expiries around the pruning edge, far in the past and future, and unknown.
    fn expiry() -> impl Strategy<Value = u64> {
        prop_oneof![
            (T - PRUNE_MARGIN_SECS - 3)..(T - PRUNE_MARGIN_SECS + 3),
            0..T,
            T..(T + 10 * 365 * 86_400),
            Just(UNKNOWN_EXPIRY),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Pruning keeps every revoked grant not expired beyond the margin, drops
        /// exactly the others, and the list round-trips; a flipped byte never verifies
        /// as a different list.
        #[test]
        fn pruning_keeps_exactly_the_unexpired_grants(
            given in prop::collection::vec((any::<[u8; 16]>(), expiry()), 0..200),
            previous in prop::collection::vec(any::<[u8; 16]>(), 0..20),
            flip in any::<prop::sample::Index>(),
        ) {
            let root = root();
            let entries: Vec<RevokedGrant> = given
                .iter()
                .map(|(id, valid_until)| RevokedGrant { id: GrantId::from_bytes(*id), valid_until: *valid_until })
                .collect();
            let list = RevocationList::sign(&root, 2, T, entries.clone()).unwrap();
            for entry in &entries {
                // An id given twice counts with its latest expiry.
                let latest = entries.iter().filter(|e| e.id == entry.id).map(|e| e.valid_until).max().unwrap();
                let kept = latest.saturating_add(PRUNE_MARGIN_SECS) >= T;
                prop_assert_eq!(list.is_revoked(&entry.id), kept);
            }
            prop_assert!(list.entries().all(|e| entries.contains(&e)));
            let bytes = list.to_bytes();
            let parsed = RevocationList::from_bytes(&bytes, &root.public()).unwrap();
            prop_assert_eq!(&parsed, &list);

            let mut tampered = bytes.clone();
            let at = flip.index(tampered.len());
            tampered[at] ^= 0x01;
            if let Ok(other) = RevocationList::from_bytes(&tampered, &root.public()) {
                // Only a change protobuf ignores may still parse, to the same list.
                prop_assert_eq!(other, list);
            }

            // A v1 predecessor's ids are carried over unpruned, whatever the time.
            let ids: Vec<GrantId> = previous.iter().map(|id| GrantId::from_bytes(*id)).collect();
            let v1 = satchel_core::internal::fuzz::sign_revocation_list_v1(&root, 1, 0, ids.clone()).unwrap();
            let next = RevocationList::successor(Some(&v1), &root, u64::MAX, entries).unwrap();
            prop_assert!(ids.iter().all(|id| next.is_revoked(id)));
            prop_assert_eq!(next.sequence(), 2);
        }
    }

    #[test]
    fn a_list_of_another_school_is_refused() {
        let root = root();
        let list = RevocationList::sign(&root, 1, T, vec![]).unwrap();
        let other = SchoolRoot::generate(&mut rng(92));
        assert_eq!(
            RevocationList::from_bytes(&list.to_bytes(), &other.public()).unwrap_err(),
            TrustError::WrongSchool
        );
    }
}

/// The root as the signer of requests only the school may make.
fn as_school(root: &satchel_core::school::SchoolRoot) -> satchel_core::school::SchoolAuthority {
    satchel_core::school::SchoolAuthority::Root(Box::new(root.clone()))
}
