//! An office (docs/PROTOCOL.md §5.8) makes the school's requests with its account key and
//! its certificate in `Satchel-Office`: the relay accepts it while the certificate is an
//! office of this school, valid now and not revoked, and the signature is the office's.

use ed25519_dalek::SigningKey;
use satchel_core::relay_request::RelayRequest;
use satchel_core::school::{
    DirectoryKey, GrantRequest, Invite, MemberCertificate, Office, Role, SchoolRoot,
};
use satchel_core::{Account, os_rng};
use satchel_relay_api::AuthValue;
use serde_json::json;

use crate::support::{Key, TestRelay, b64, json_with_headers, now, random};

/// A member of `root`'s school with `role`, bound and admitted by the root; its
/// validity runs from `from` to `until` (Unix seconds).
fn member(root: &SchoolRoot, role: Role, from: u64, until: u64) -> (Account, MemberCertificate) {
    let mut rng = os_rng();
    let request = GrantRequest {
        display_name: "Front office".into(),
        role,
        classes: vec![],
        valid_from: from,
        valid_until: until,
    };
    let invite = Invite::create(
        root,
        "",
        request,
        &DirectoryKey::generate(&mut rng),
        "http://127.0.0.1:1",
        &mut rng,
    )
    .unwrap();
    let keys = invite.code.keys();
    let account = Account::new(&mut rng);
    let certificate = keys
        .bind(
            keys.open_record(&invite.record).unwrap().grant,
            account.account_id(),
            *account.certificate().account_key(),
        )
        .unwrap()
        .admit(root)
        .unwrap();
    (account, certificate)
}

/// A `PUT` of an invite record, signed by `office` and naming `certificate`.
async fn put_invite_as(
    relay: &TestRelay,
    school: &str,
    office: &Office,
    certificate: &MemberCertificate,
) -> crate::support::Response {
    let path = format!(
        "/v1/schools/{school}/invites/{}",
        hex::encode(random::<16>())
    );
    let body = serde_json::to_vec(&json!({
        "record": b64(b"sealed"),
        "redeem_key": b64(&random::<32>()),
        "expires_at": now() + 600,
    }))
    .unwrap();
    let request = RelayRequest::new("PUT", &path, now() as u64, &body, &mut os_rng());
    let auth = AuthValue {
        timestamp: request.timestamp,
        nonce: request.nonce,
        signature: office.sign_request(&request),
    };
    let headers = [
        ("satchel-auth", auth.to_header()),
        ("satchel-office", b64(&certificate.to_bytes())),
    ];
    json_with_headers(relay, "PUT", &path, body, &headers).await
}

#[tokio::test]
async fn an_office_acts_for_its_school_only_while_it_is_one() {
    let relay = TestRelay::start().await;
    let root = SchoolRoot::generate(&mut os_rng());
    let root_key = Key(SigningKey::from_bytes(&root.to_secret_bytes()));
    let school = relay.register_school(&root_key).await;
    let now = now() as u64;
    let (office_account, office_cert) = member(&root, Role::Admin, now - 60, now + 3_600);
    let office = Office::new(&office_account, office_cert.clone(), &root.public()).unwrap();

    // The office publishes an invite as the school.
    let r = put_invite_as(&relay, &school, &office, &office_cert).await;
    assert_eq!(r.status, 201, "{}", r.json);

    // A teacher's certificate is no office's, whoever signs.
    let (_, teacher_cert) = member(&root, Role::Teacher, now - 60, now + 3_600);
    let r = put_invite_as(&relay, &school, &office, &teacher_cert).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"), "{}", r.json);
    // Another office's certificate with this office's signature: refused.
    let (_, other_cert) = member(&root, Role::Admin, now - 60, now + 3_600);
    let r = put_invite_as(&relay, &school, &office, &other_cert).await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"), "{}", r.json);
    // Another school's office.
    let elsewhere = SchoolRoot::generate(&mut os_rng());
    let (foreign_account, foreign_cert) = member(&elsewhere, Role::Admin, now - 60, now + 3_600);
    let foreign = Office::new(&foreign_account, foreign_cert.clone(), &elsewhere.public()).unwrap();
    let r = put_invite_as(&relay, &school, &foreign, &foreign_cert).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"), "{}", r.json);
    // An office whose grant has expired.
    let (old_account, old_cert) = member(&root, Role::Admin, now - 7_200, now - 3_600);
    let old = Office::new(&old_account, old_cert.clone(), &root.public()).unwrap();
    let r = put_invite_as(&relay, &school, &old, &old_cert).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"), "{}", r.json);

    // The root revokes the office: refused from then on.
    let body = json!({"grant_keys": [b64(office_cert.grant().grant_key())]});
    let path = format!("/v1/schools/{school}/revoked-members");
    assert_eq!(
        relay
            .json("POST", &path, body, Some(&root_key))
            .await
            .status,
        200
    );
    let r = put_invite_as(&relay, &school, &office, &office_cert).await;
    assert_eq!(
        (r.status, r.error()),
        (403, "membership_revoked"),
        "{}",
        r.json
    );
    relay.stop().await;
}
