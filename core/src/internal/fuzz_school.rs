//! The `school` fuzz target: every school-trust parser (invite codes, member
//! certificates, revocation lists, invite records, directory entries, sealed admission
//! requests, directory key updates) against a fixed,
//! deterministic school. Part of [`super::fuzz`]; see there for the conventions.

use std::sync::OnceLock;

use super::fuzz::{FuzzRng, Seed};
use crate::Account;
use crate::identity::certificate::DeviceCertificate;
use crate::school::{
    DirectoryEntry, DirectoryKey, DirectoryKeyUpdate, EntryId, GrantRequest, Invite, InviteCode,
    JoinKeys, MemberCertificate, Office, RevocationList, RevokedGrant, Role, SchoolKey, SchoolRoot,
    verify_member,
};

const NOW: u64 = 1_790_000_000;

struct SchoolFixture {
    root: SchoolKey,
    keys: JoinKeys,
    directory_key: DirectoryKey,
    entry_id: EntryId,
    member_key: [u8; 32],
    device: DeviceCertificate,
    seeds: Vec<(&'static str, Vec<u8>)>,
}

fn build() -> Option<SchoolFixture> {
    let mut rng = FuzzRng::new(b"school");
    let root = SchoolRoot::generate(&mut rng);
    let directory_key = DirectoryKey::generate(&mut rng);
    let request = GrantRequest {
        display_name: "Ms Rivera".into(),
        role: Role::Teacher,
        classes: vec!["5B".into()],
        valid_from: NOW - 60,
        valid_until: NOW + 3_600,
    };
    let invite = Invite::create(
        &root,
        "",
        request,
        &directory_key,
        "http://127.0.0.1:7878",
        &mut rng,
    )
    .ok()?;
    let keys = invite.code.keys();
    let account = Account::new(&mut rng);
    let contents = keys.open_record(&invite.record).ok()?;
    let member = keys
        .bind(
            contents.grant,
            account.account_id(),
            *account.certificate().account_key(),
        )
        .ok()?;
    let list_v1 = RevocationList::sign_v1(&root, 1, NOW, vec![invite.grant.id()]).ok()?;
    let revoked = |n: u8| RevokedGrant {
        id: crate::school::GrantId::from_bytes([n; 16]),
        valid_until: NOW + u64::from(n),
    };
    let list = RevocationList::sign(
        &root,
        2,
        NOW,
        vec![
            RevokedGrant {
                id: invite.grant.id(),
                valid_until: NOW + 3_600,
            },
            revoked(1),
            revoked(0xfe),
        ],
    )
    .ok()?;
    let entry_id = EntryId::random(&mut rng);
    let entry = DirectoryEntry {
        member: member.clone(),
        bundle: account.prekey_bundle(),
        bundle_id: [3; 16],
        updated_at: NOW,
    }
    .seal(&directory_key, &root.school_id(), &entry_id, &mut rng)
    .ok()?;
    let member_key = [9u8; 32];
    let admission_request = member
        .seal_admission_request(&directory_key, &root.school_id(), &member_key, &mut rng)
        .ok()?;
    let admitted = member.clone().admit(&root).ok()?;
    let key_update =
        DirectoryKeyUpdate::sign(&root, 2, DirectoryKey::generate(&mut rng)).to_proto();
    // An office and what it signs (drawn last: the seeds above keep their bytes).
    let office_request = GrantRequest {
        display_name: "Front office".into(),
        role: Role::Admin,
        classes: Vec::new(),
        valid_from: NOW - 60,
        valid_until: NOW + 3_600,
    };
    let office_invite = Invite::create(
        &root,
        "",
        office_request,
        &directory_key,
        "http://127.0.0.1:7878",
        &mut rng,
    )
    .ok()?;
    let office_keys = office_invite.code.keys();
    let office_account = Account::new(&mut rng);
    let office_certificate = office_keys
        .bind(
            office_keys.open_record(&office_invite.record).ok()?.grant,
            office_account.account_id(),
            *office_account.certificate().account_key(),
        )
        .ok()?
        .admit(&root)
        .ok()?;
    let office = Office::new(&office_account, office_certificate, &root.public()).ok()?;
    let office_admitted = member.clone().admit(&office).ok()?;
    let office_list = RevocationList::sign(&office, 3, NOW, vec![revoked(2)]).ok()?;
    let seeds = vec![
        ("invite_code", invite.code.to_line().into_bytes()),
        ("invite_record", invite.record.clone()),
        ("member_certificate", member.to_bytes()),
        ("revocation_list", list_v1.to_bytes()),
        ("revocation_list_v2", list.to_bytes()),
        ("directory_entry", entry),
        ("admitted_member_certificate", admitted.to_bytes()),
        ("admission_request", admission_request),
        (
            "directory_key_update",
            prost::Message::encode_to_vec(&key_update),
        ),
        (
            "office_admitted_member_certificate",
            office_admitted.to_bytes(),
        ),
        ("office_revocation_list", office_list.to_bytes()),
        ("empty", Vec::new()),
    ];
    Some(SchoolFixture {
        root: root.public(),
        keys,
        directory_key,
        entry_id,
        member_key,
        device: account.certificate().clone(),
        seeds,
    })
}

fn fixture() -> Option<&'static SchoolFixture> {
    static FIXTURE: OnceLock<Option<SchoolFixture>> = OnceLock::new();
    FIXTURE.get_or_init(build).as_ref()
}

/// `school`: parses the input as each school-trust format; whatever parses must
/// re-encode to something that parses to the same value.
pub fn school(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(code) = InviteCode::parse(text)
    {
        let line = code.to_line();
        let again = InviteCode::parse(&line);
        assert!(again.is_ok(), "a printed invite code does not parse");
        if let Ok(again) = again {
            assert_eq!(again.school_id, code.school_id);
            assert_eq!(again.to_line(), line);
        }
    }
    let Some(f) = fixture() else {
        return;
    };
    if let Ok(member) = MemberCertificate::from_bytes(data, &f.root) {
        assert_eq!(
            MemberCertificate::from_bytes(&member.to_bytes(), &f.root).ok(),
            Some(member)
        );
    }
    if let Ok(list) = RevocationList::from_bytes(data, &f.root) {
        assert_eq!(
            RevocationList::from_bytes(&list.to_bytes(), &f.root).ok(),
            Some(list.clone())
        );
        // Lookups agree with the entries, which are strictly ascending.
        let entries: Vec<RevokedGrant> = list.entries().collect();
        assert_eq!(entries.len(), list.revoked().len());
        assert!(
            entries
                .windows(2)
                .all(|w| matches!(w, [a, b] if a.id < b.id))
        );
        assert!(entries.iter().all(|e| list.is_revoked(&e.id)));
    }
    if let Ok(contents) = f.keys.open_record(data) {
        assert_eq!(contents.root, f.root);
    }
    if let Ok(entry) = DirectoryEntry::open(data, &f.directory_key, &f.root, &f.entry_id) {
        assert_eq!(
            entry.bundle.device().account_id(),
            entry.member.account_id()
        );
    }
    if let Ok(member) =
        MemberCertificate::open_admission_request(data, &f.directory_key, &f.root, &f.member_key)
    {
        assert_eq!(
            MemberCertificate::from_bytes(&member.to_bytes(), &f.root).ok(),
            Some(member)
        );
    }
    if let Ok(proto) = <satchel_proto::v1::DirectoryKeyUpdate as prost::Message>::decode(data)
        && let Ok(update) = DirectoryKeyUpdate::from_proto(&proto, &f.root)
    {
        let again = DirectoryKeyUpdate::from_proto(&update.to_proto(), &f.root);
        assert_eq!(again.map(|u| u.epoch()).ok(), Some(update.epoch()));
    }
    let _ = verify_member(&f.root, None, NOW, Some(data), &f.device);
}

/// Seeds for the `school` target: each format once, plus flipped copies.
pub(crate) fn school_seeds() -> Vec<Seed> {
    let Some(f) = fixture() else {
        return Vec::new();
    };
    let flipped: [&'static str; 11] = [
        "invite_code_flipped",
        "invite_record_flipped",
        "member_certificate_flipped",
        "revocation_list_flipped",
        "revocation_list_v2_flipped",
        "directory_entry_flipped",
        "admitted_member_certificate_flipped",
        "admission_request_flipped",
        "directory_key_update_flipped",
        "office_admitted_member_certificate_flipped",
        "office_revocation_list_flipped",
    ];
    let mut seeds: Vec<Seed> = f
        .seeds
        .iter()
        .map(|(name, bytes)| Seed {
            target: "school",
            name,
            bytes: bytes.clone(),
        })
        .collect();
    for ((_, bytes), name) in f.seeds.iter().zip(flipped) {
        let mut bytes = bytes.clone();
        let middle = bytes.len() / 2;
        if let Some(byte) = bytes.get_mut(middle) {
            *byte ^= 0x04;
        }
        seeds.push(Seed {
            target: "school",
            name,
            bytes,
        });
    }
    seeds
}

/// Signs a version 1 revocation list, as admins before list format 2 did (sorted,
/// deduplicated grant ids, no expiries). For known-answer vectors and tests of old lists.
///
/// # Errors
/// [`crate::error::TrustError::InvalidField`] for more than
/// [`crate::school::MAX_REVOKED`] ids.
pub fn sign_revocation_list_v1(
    root: &SchoolRoot,
    sequence: u64,
    issued_at: u64,
    revoked: Vec<crate::school::GrantId>,
) -> Result<RevocationList, crate::error::TrustError> {
    RevocationList::sign_v1(root, sequence, issued_at, revoked)
}
