//! School trust: invites, member certificates, revocation, the encrypted directory, and
//! what a recipient is shown.

use satchel_core::school::{
    DirectoryEntry, DirectoryKey, EntryId, GrantRequest, Invite, InviteCode, RevocationList, Role,
    SchoolRoot, SenderStatus, UnverifiedReason, verify_member,
};
use satchel_core::{Account, DirectoryError, InviteError, Session, TrustError};

use crate::support::{rng, wire};

const NOW: u64 = 1_790_000_000;
const YEAR: u64 = 365 * 24 * 3600;

fn request(name: &str, role: Role, classes: &[&str]) -> GrantRequest {
    GrantRequest {
        display_name: name.to_string(),
        role,
        classes: classes.iter().map(|c| c.to_string()).collect(),
        valid_from: NOW - 60,
        valid_until: NOW + YEAR,
    }
}

struct School {
    root: SchoolRoot,
    directory_key: DirectoryKey,
}

fn school(rng: &mut chacha20::ChaCha20Rng) -> School {
    School {
        root: SchoolRoot::generate(rng),
        directory_key: DirectoryKey::generate(rng),
    }
}

/// An account enrolled through an invite, with its member certificate bytes.
fn enrol(
    school: &School,
    req: GrantRequest,
    rng: &mut chacha20::ChaCha20Rng,
) -> (Account, Vec<u8>, Invite) {
    let invite = Invite::create(
        &school.root,
        "",
        req,
        &school.directory_key,
        "http://127.0.0.1:7878",
        rng,
    )
    .unwrap();
    let code = InviteCode::parse(&invite.code.to_line()).unwrap();
    let keys = code.keys();
    assert_eq!(keys.lookup_id(), invite.lookup_id);
    assert_eq!(keys.redeem_key(), invite.redeem_key);
    let contents = keys.open_record(&invite.record).unwrap();
    assert_eq!(contents.root, school.root.public());
    assert_eq!(
        contents.directory_key.as_bytes(),
        school.directory_key.as_bytes()
    );
    let account = Account::new(rng);
    let member = keys
        .bind(
            contents.grant,
            account.account_id(),
            *account.certificate().account_key(),
        )
        .unwrap()
        .admit(&school.root)
        .unwrap();
    (account, member.to_bytes(), invite)
}

#[test]
fn an_invited_teacher_is_shown_verified_to_a_parent_until_revoked() {
    let mut rng = rng(30);
    let s = school(&mut rng);
    let (teacher, teacher_cert, teacher_invite) =
        enrol(&s, request("Ms Rivera", Role::Teacher, &["5B"]), &mut rng);
    let (mut parent, _, _) = enrol(&s, request("Sam's mum", Role::Parent, &["5B"]), &mut rng);

    let mut session = Session::initiate(&teacher, &parent.prekey_bundle(), &mut rng).unwrap();
    session.set_sender_certificate(teacher_cert).unwrap();
    let first = session.encrypt(b"Welcome to 5B!", &mut rng).unwrap();
    let contact = parent.open_first_contact(&wire(&first)).unwrap();
    let status = verify_member(
        &s.root.public(),
        None,
        NOW,
        Some(contact.sender_certificate()),
        contact.sender(),
    );
    let SenderStatus::Verified(member) = status else {
        panic!("teacher not verified: {status:?}")
    };
    assert_eq!(member.display_name, "Ms Rivera");
    assert_eq!(member.role, Role::Teacher);
    assert_eq!(member.classes, ["5B"]);
    assert_eq!(
        parent.accept(&contact, &mut rng).unwrap().plaintext,
        b"Welcome to 5B!"
    );

    // The school revokes the teacher: the same certificate is no longer verified.
    let list = RevocationList::sign(&s.root, 1, NOW, vec![(&teacher_invite.grant).into()]).unwrap();
    let list = RevocationList::from_bytes(&list.to_bytes(), &s.root.public()).unwrap();
    assert_eq!(
        verify_member(
            &s.root.public(),
            Some(&list),
            NOW,
            Some(contact.sender_certificate()),
            contact.sender()
        ),
        SenderStatus::Unverified(UnverifiedReason::Revoked)
    );
}

#[test]
fn strangers_impostors_and_stale_certificates_are_never_verified() {
    let mut rng = rng(31);
    let s = school(&mut rng);
    let other = school(&mut rng);
    let (teacher, teacher_cert, _) =
        enrol(&s, request("Ms Rivera", Role::Teacher, &["5B"]), &mut rng);
    let (_, foreign_cert, _) = enrol(
        &other,
        request("Ms Rivera", Role::Teacher, &["5B"]),
        &mut rng,
    );
    let stranger = Account::new(&mut rng);
    let root = s.root.public();
    let device = teacher.certificate();

    let status = |cert: Option<&[u8]>, sender, now| verify_member(&root, None, now, cert, sender);
    assert_eq!(
        status(None, device, NOW),
        SenderStatus::Unverified(UnverifiedReason::NoCertificate)
    );
    assert_eq!(
        status(Some(b""), device, NOW),
        SenderStatus::Unverified(UnverifiedReason::NoCertificate)
    );
    assert_eq!(
        status(Some(b"garbage"), device, NOW),
        SenderStatus::Unverified(UnverifiedReason::Invalid)
    );
    // "Hi mum, new number": a stranger presenting the teacher's (public) certificate.
    assert_eq!(
        status(Some(&teacher_cert), stranger.certificate(), NOW),
        SenderStatus::Unverified(UnverifiedReason::AccountMismatch)
    );
    // A certificate from another school, however genuine there.
    assert_eq!(
        status(Some(&foreign_cert), device, NOW),
        SenderStatus::Unverified(UnverifiedReason::Invalid)
    );
    assert_eq!(
        status(Some(&teacher_cert), device, NOW - 3_600),
        SenderStatus::Unverified(UnverifiedReason::NotYetValid)
    );
    assert_eq!(
        status(Some(&teacher_cert), device, NOW + 2 * YEAR),
        SenderStatus::Unverified(UnverifiedReason::Expired)
    );
    // Any flipped byte breaks it.
    for i in (0..teacher_cert.len()).step_by(7) {
        let mut bad = teacher_cert.clone();
        bad[i] ^= 0x20;
        assert!(!status(Some(&bad), device, NOW).is_verified(), "byte {i}");
    }
    assert!(status(Some(&teacher_cert), device, NOW).is_verified());
}

/// A copied invite code lets anyone derive the grant key and bind the grant to an
/// account of their own; only the root's admission makes that account verified, and an
/// admission is good for exactly the account it names.
#[test]
fn only_the_account_the_root_admitted_is_verified() {
    let mut rng = rng(33);
    let s = school(&mut rng);
    let other = school(&mut rng);
    let invite = Invite::create(
        &s.root,
        "",
        request("Ms Rivera", Role::Teacher, &["5B"]),
        &s.directory_key,
        "http://127.0.0.1:7878",
        &mut rng,
    )
    .unwrap();
    let keys = invite.code.keys();
    let contents = keys.open_record(&invite.record).unwrap();
    let bind = |account: &Account| {
        keys.bind(
            contents.grant.clone(),
            account.account_id(),
            *account.certificate().account_key(),
        )
        .unwrap()
    };
    let teacher = Account::new(&mut rng);
    let copier = Account::new(&mut rng);
    let root = s.root.public();
    let status = |cert: &[u8], account: &Account| {
        verify_member(&root, None, NOW, Some(cert), account.certificate())
    };

    // Bound with the copied code, never admitted: a stranger, with the reason.
    let copied = bind(&copier);
    assert!(!copied.is_admitted());
    assert_eq!(
        status(&copied.to_bytes(), &copier),
        SenderStatus::Unverified(UnverifiedReason::NotAdmitted)
    );
    // The root admits the teacher's binding (the account that redeemed the invite).
    let admitted = bind(&teacher).admit(&s.root).unwrap();
    assert!(status(&admitted.to_bytes(), &teacher).is_verified());
    // The teacher's admission moved onto the copier's certificate does not verify.
    let signature = *admitted.admission().unwrap();
    assert_eq!(
        bind(&copier).with_admission(&signature, None, &root),
        Err(TrustError::BadSignature)
    );
    let mut forged = copied.to_proto();
    forged.admission = signature.to_vec();
    let forged = satchel_proto::Message::encode_to_vec(&forged);
    assert_eq!(
        status(&forged, &copier),
        SenderStatus::Unverified(UnverifiedReason::Invalid)
    );
    // Another school's root cannot admit, and its signature does not verify here.
    assert_eq!(
        bind(&teacher).admit(&other.root),
        Err(TrustError::WrongSchool)
    );
    let foreign = SchoolRoot::generate(&mut rng);
    assert!(
        bind(&teacher)
            .with_admission(&[7; 64], None, &foreign.public())
            .is_err()
    );
    // An admission received from the relay is checked, then kept through encoding.
    let attached = bind(&teacher)
        .with_admission(&signature, None, &root)
        .unwrap();
    assert_eq!(attached, admitted);
    assert_eq!(
        satchel_core::school::MemberCertificate::from_bytes(&attached.to_bytes(), &root).unwrap(),
        admitted
    );
    // A truncated admission is malformed, not "not admitted".
    let mut short = admitted.to_proto();
    short.admission.truncate(63);
    assert_eq!(
        status(&satchel_proto::Message::encode_to_vec(&short), &teacher),
        SenderStatus::Unverified(UnverifiedReason::Invalid)
    );
}

#[test]
fn invite_codes_parse_strictly_with_actionable_errors() {
    let mut rng = rng(32);
    let s = school(&mut rng);
    let invite = Invite::create(
        &s.root,
        "",
        request("Sam's dad", Role::Parent, &["5B"]),
        &s.directory_key,
        "https://relay.example.org",
        &mut rng,
    )
    .unwrap();
    let line = invite.code.to_line();
    assert!(line.starts_with("SATCHEL1-"));
    assert!(line.ends_with("@https://relay.example.org"));
    assert!(
        line.len() < 120,
        "fits a QR code comfortably: {}",
        line.len()
    );
    assert!(
        !format!("{:?}", invite.code).contains(&line[9..30]),
        "Debug shows the secret"
    );
    let parsed = InviteCode::parse(&format!(
        "  {}\n",
        line.to_lowercase()
            .replace("satchel1-", "SATCHEL1-")
            .replace("@HTTPS", "@https")
    ))
    .unwrap();
    assert_eq!(parsed.school_id, s.root.school_id());

    for (bad, expected) in [
        ("hello", "SATCHEL1-"),
        ("SATCHEL1-ABCDEF", "'@'"),
        ("SATCHEL1-ABC@ftp://x", "http://"),
        (
            "SATCHEL1-!!!!@http://x",
            "characters an invite code never has",
        ),
        ("SATCHEL1-ABCDEFGH@http://x", "too short"),
    ] {
        let error = InviteCode::parse(bad).unwrap_err();
        assert!(error.to_string().contains(expected), "{bad}: {error}");
    }
    // The record opens only with the right code.
    let other = Invite::create(
        &s.root,
        "",
        request("X", Role::Parent, &[]),
        &s.directory_key,
        "http://r",
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        other.code.keys().open_record(&invite.record).unwrap_err(),
        InviteError::DecryptionFailed
    );
    let mut damaged = invite.record.clone();
    damaged[3] ^= 1;
    assert_eq!(
        invite.code.keys().open_record(&damaged).unwrap_err(),
        InviteError::DecryptionFailed
    );
}

#[test]
fn grants_refuse_out_of_bounds_fields() {
    let s = school(&mut rng(33));
    let make = |req| {
        Invite::create(&s.root, "", req, &s.directory_key, "http://r", &mut rng(34)).map(|_| ())
    };
    assert!(matches!(
        make(request("", Role::Parent, &[])),
        Err(TrustError::InvalidField {
            field: "display_name",
            ..
        })
    ));
    assert!(matches!(
        make(request(&"x".repeat(201), Role::Parent, &[])),
        Err(TrustError::InvalidField { .. })
    ));
    let many: Vec<String> = (0..33).map(|i| format!("C{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(
        make(request("A", Role::Teacher, &many)),
        Err(TrustError::InvalidField {
            field: "classes",
            ..
        })
    ));
    let mut backwards = request("A", Role::Staff, &[]);
    backwards.valid_until = backwards.valid_from;
    assert!(matches!(
        make(backwards),
        Err(TrustError::InvalidField {
            field: "valid_until",
            ..
        })
    ));
}

#[test]
fn revocation_lists_verify_against_their_school_only() {
    let mut rng = rng(35);
    let s = school(&mut rng);
    let other = school(&mut rng);
    let (_, _, invite) = enrol(&s, request("A", Role::Parent, &["1A"]), &mut rng);
    let list = RevocationList::sign(
        &s.root,
        7,
        NOW,
        vec![(&invite.grant).into(), (&invite.grant).into()],
    )
    .unwrap();
    assert_eq!(list.revoked().len(), 1);
    let bytes = list.to_bytes();
    let parsed = RevocationList::from_bytes(&bytes, &s.root.public()).unwrap();
    assert_eq!(parsed.sequence(), 7);
    assert!(parsed.is_revoked(&invite.grant.id()));
    assert_eq!(
        RevocationList::from_bytes(&bytes, &other.root.public()).unwrap_err(),
        TrustError::WrongSchool
    );
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        RevocationList::from_bytes(&tampered, &s.root.public()).unwrap_err(),
        TrustError::BadSignature
    );
}

#[test]
fn directory_entries_are_encrypted_and_bound_to_the_certified_account() {
    let mut rng = rng(36);
    let s = school(&mut rng);
    let (teacher, cert, _) = enrol(&s, request("Ms Rivera", Role::Teacher, &["5B"]), &mut rng);
    let root = s.root.public();
    let member = satchel_core::school::MemberCertificate::from_bytes(&cert, &root).unwrap();
    let entry = DirectoryEntry {
        member: member.clone(),
        bundle: teacher.prekey_bundle(),
        bundle_id: [9; 16],
        updated_at: NOW,
    };
    let id = EntryId::random(&mut rng);
    let blob = entry
        .seal(&s.directory_key, &s.root.school_id(), &id, &mut rng)
        .unwrap();
    assert!(
        !blob.windows(9).any(|w| w == b"Ms Rivera"),
        "the name is visible in the blob"
    );
    let opened = DirectoryEntry::open(&blob, &s.directory_key, &root, &id).unwrap();
    assert_eq!(opened.member, member);
    assert_eq!(opened.bundle.device(), teacher.certificate());

    let wrong_key = DirectoryKey::generate(&mut rng);
    assert_eq!(
        DirectoryEntry::open(&blob, &wrong_key, &root, &id).unwrap_err(),
        DirectoryError::DecryptionFailed
    );
    assert_eq!(
        DirectoryEntry::open(&blob, &s.directory_key, &root, &EntryId::random(&mut rng))
            .unwrap_err(),
        DirectoryError::DecryptionFailed
    );
    // Someone else's device under the teacher's certificate is refused.
    let impostor = Account::new(&mut rng);
    let forged = DirectoryEntry {
        bundle: impostor.prekey_bundle(),
        ..entry
    };
    let blob = forged
        .seal(&s.directory_key, &s.root.school_id(), &id, &mut rng)
        .unwrap();
    assert_eq!(
        DirectoryEntry::open(&blob, &s.directory_key, &root, &id).unwrap_err(),
        DirectoryError::AccountMismatch
    );
}

/// The invite record carries the school's name for the joiner to see; a name longer than
/// a display name is refused when the invite is made, and one in a record is refused
/// when it is opened.
#[test]
fn the_invite_record_names_the_school() {
    let s = school(&mut rng(35));
    let request = || GrantRequest {
        display_name: "Ms Rivera".into(),
        role: Role::Teacher,
        classes: vec!["5B".into()],
        valid_from: NOW - 60,
        valid_until: NOW + 3_600,
    };
    let invite = Invite::create(
        &s.root,
        "Oak Primary",
        request(),
        &s.directory_key,
        "http://r",
        &mut rng(36),
    )
    .unwrap();
    let contents = invite.code.keys().open_record(&invite.record).unwrap();
    assert_eq!(contents.school_name, "Oak Primary");
    let too_long = "x".repeat(201);
    assert!(matches!(
        Invite::create(
            &s.root,
            &too_long,
            request(),
            &s.directory_key,
            "http://r",
            &mut rng(37)
        ),
        Err(TrustError::InvalidField {
            field: "school_name",
            ..
        })
    ));
}

/// A directory key update is the root's: another school's root, a changed epoch or key,
/// or a truncated signature are refused; encoding round-trips.
#[test]
fn directory_key_updates_come_only_from_the_root() {
    use satchel_core::school::DirectoryKeyUpdate;
    let mut rng = rng(34);
    let s = school(&mut rng);
    let other = school(&mut rng);
    let root = s.root.public();
    let update = DirectoryKeyUpdate::sign(&s.root, 3, DirectoryKey::generate(&mut rng));
    let proto = update.to_proto();
    let parsed = DirectoryKeyUpdate::from_proto(&proto, &root).unwrap();
    assert_eq!(parsed.epoch(), 3);
    assert_eq!(parsed.key().as_bytes(), update.key().as_bytes());
    assert!(!format!("{parsed:?}").contains(&hex_prefix(update.key().as_bytes())));

    let foreign = DirectoryKeyUpdate::sign(&other.root, 3, DirectoryKey::generate(&mut rng));
    assert_eq!(
        DirectoryKeyUpdate::from_proto(&foreign.to_proto(), &root).err(),
        Some(TrustError::BadSignature)
    );
    let mut later = proto.clone();
    later.epoch = 4;
    assert_eq!(
        DirectoryKeyUpdate::from_proto(&later, &root).err(),
        Some(TrustError::BadSignature)
    );
    let mut swapped = proto.clone();
    swapped.key = s.directory_key.as_bytes().to_vec();
    assert_eq!(
        DirectoryKeyUpdate::from_proto(&swapped, &root).err(),
        Some(TrustError::BadSignature)
    );
    let mut short = proto.clone();
    short.signature.truncate(63);
    assert!(matches!(
        DirectoryKeyUpdate::from_proto(&short, &root),
        Err(TrustError::Malformed { .. })
    ));
    let mut no_key = proto;
    no_key.key.clear();
    assert!(matches!(
        DirectoryKeyUpdate::from_proto(&no_key, &root),
        Err(TrustError::Malformed { .. })
    ));
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// An office — an admin the root granted and admitted — invites, admits, revokes and
/// rotates the directory key with its own account key, while the root stays offline;
/// the root revoking the office (or the office's grant expiring) ends what it vouched
/// for. Only the root makes offices, and an issuer never has an issuer.
#[test]
fn an_office_acts_for_the_school_until_the_root_revokes_it() {
    use satchel_core::school::{DirectoryKeyUpdate, MemberCertificate, Office};
    let mut rng = rng(35);
    let s = school(&mut rng);
    let root = s.root.public();
    let mut office_request = request("Front office", Role::Admin, &[]);
    office_request.valid_until = NOW + YEAR / 2;
    let (office_account, office_bytes, office_invite) = enrol(&s, office_request, &mut rng);
    let office_cert = MemberCertificate::from_bytes(&office_bytes, &root).unwrap();
    let office = Office::new(&office_account, office_cert.clone(), &root).unwrap();

    // The office invites a teacher and admits her: verified, with the office as issuer.
    let invite = Invite::create(
        &office,
        "",
        request("Ms Rivera", Role::Teacher, &["5B"]),
        &s.directory_key,
        "http://127.0.0.1:7878",
        &mut rng,
    )
    .unwrap();
    let keys = invite.code.keys();
    let contents = keys.open_record(&invite.record).unwrap();
    assert_eq!(contents.root, root);
    let teacher = Account::new(&mut rng);
    let teacher_cert = keys
        .bind(
            contents.grant,
            teacher.account_id(),
            *teacher.certificate().account_key(),
        )
        .unwrap()
        .admit(&office)
        .unwrap();
    let bytes = teacher_cert.to_bytes();
    let parsed = MemberCertificate::from_bytes(&bytes, &root).unwrap();
    assert_eq!(parsed.grant().issuer(), Some(&office_cert));
    assert_eq!(parsed.admission_issuer(), Some(&office_cert));
    let status = |list: Option<&RevocationList>, now| {
        verify_member(&root, list, now, Some(&bytes), teacher.certificate())
    };
    assert!(status(None, NOW).is_verified());

    // Only the root makes offices: an office may not grant or admit the admin role.
    let admin_request = request("Second office", Role::Admin, &[]);
    assert!(matches!(
        Invite::create(
            &office,
            "",
            admin_request,
            &s.directory_key,
            "http://x",
            &mut rng
        ),
        Err(TrustError::InvalidField { field: "role", .. })
    ));
    // A teacher is no office, even with a certificate of this school.
    assert_eq!(
        Office::new(&teacher, parsed.clone(), &root).err(),
        Some(TrustError::NotAnOffice)
    );
    let mut posing = parsed.grant().to_proto();
    posing.issuer = bytes.clone();
    assert!(matches!(
        satchel_core::school::Grant::from_proto(&posing, &root),
        Err(TrustError::Malformed { .. } | TrustError::NotAnOffice)
    ));
    // Nor is a teacher the root enrolled: refused as an issuer.
    let (_, root_teacher, _) = enrol(&s, request("Mr Oak", Role::Teacher, &["5C"]), &mut rng);
    let mut posing = parsed.grant().to_proto();
    posing.issuer = root_teacher;
    assert_eq!(
        satchel_core::school::Grant::from_proto(&posing, &root).err(),
        Some(TrustError::NotAnOffice)
    );
    // Another school's root does not make this office.
    let other = school(&mut rng);
    assert_eq!(
        Office::new(&office_account, office_cert.clone(), &other.root.public()).err(),
        Some(TrustError::WrongSchool)
    );

    // The office revokes the teacher: its list verifies, with the office as issuer.
    let list = RevocationList::successor(None, &office, NOW, [(&invite.grant).into()]).unwrap();
    let list = RevocationList::from_bytes(&list.to_bytes(), &root).unwrap();
    assert_eq!(list.issuer(), Some(&office_cert));
    assert_eq!(
        status(Some(&list), NOW),
        SenderStatus::Unverified(UnverifiedReason::Revoked)
    );
    // It rotates the directory key.
    let update = DirectoryKeyUpdate::sign(&office, 1, DirectoryKey::generate(&mut rng));
    let received = DirectoryKeyUpdate::from_proto(&update.to_proto(), &root).unwrap();
    assert_eq!(received.issuer(), Some(&office_cert));

    // The root revokes the office: what it vouched for is no longer verified.
    let ends = RevocationList::sign(&s.root, 2, NOW, vec![(&office_invite.grant).into()]).unwrap();
    assert_eq!(
        status(Some(&ends), NOW),
        SenderStatus::Unverified(UnverifiedReason::IssuerNotValid)
    );
    // So does the office's own grant expiring.
    assert_eq!(
        status(None, NOW + YEAR / 2 + 1),
        SenderStatus::Unverified(UnverifiedReason::IssuerNotValid)
    );
    // A forged office signature does not verify.
    let mut forged = teacher_cert.to_proto();
    forged.admission[0] ^= 1;
    assert_eq!(
        MemberCertificate::from_proto(&forged, &root).err(),
        Some(TrustError::BadSignature)
    );
}
