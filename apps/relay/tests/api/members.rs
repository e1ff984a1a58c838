//! The school root revokes members on the relay: the member keys that redeemed the
//! revoked grants can no longer write the directory, upload or take one-time prekeys,
//! or redeem again; other members are unaffected.

use serde_json::json;

use crate::support::{Key, TestRelay, b64, member, member_with_grant, member_write, random};

async fn revoke(
    relay: &TestRelay,
    school: &str,
    signer: &Key,
    body: serde_json::Value,
) -> crate::support::Response {
    let path = format!("/v1/schools/{school}/revoked-members");
    relay.json("POST", &path, body, Some(signer)).await
}

/// Redeems the invite at `path` for `member`, signed by the invite's `grant` key.
async fn redeem(
    relay: &TestRelay,
    path: &str,
    member: &Key,
    grant: &Key,
) -> crate::support::Response {
    let body = json!({"member_key": member.public_b64()});
    relay
        .json("POST", &format!("{path}/redeem"), body, Some(grant))
        .await
}

fn assert_revoked(r: crate::support::Response) {
    assert_eq!(
        (r.status, r.error()),
        (403, "membership_revoked"),
        "{}",
        r.json
    );
}

fn entry_path(school: &str) -> String {
    format!(
        "/v1/schools/{school}/directory/{}",
        hex::encode(random::<16>())
    )
}

async fn upload(relay: &TestRelay, bundle: &str, owner: &Key) -> crate::support::Response {
    let keys = json!([{"id": 1, "key": b64(&random::<32>()), "signature": b64(&random::<64>())}]);
    let body = json!({"owner_key": owner.public_b64(), "keys": keys});
    relay.json("POST", bundle, body, Some(owner)).await
}

#[tokio::test]
async fn a_revoked_member_key_is_refused_everywhere_and_others_keep_working() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let (revoked, grant, lookup) = member_with_grant(&relay, &root, &school).await;
    let honest = member(&relay, &root, &school).await;
    // Both have a directory entry and a bundle before the revocation.
    let revoked_entry = entry_path(&school);
    let r = member_write(
        &relay,
        "PUT",
        &revoked_entry,
        Some(b"sealed entry"),
        &revoked,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let honest_entry = entry_path(&school);
    let r = member_write(&relay, "PUT", &honest_entry, Some(b"sealed entry"), &honest).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let revoked_bundle = format!("/v1/prekeys/{}", hex::encode(random::<16>()));
    assert_eq!(upload(&relay, &revoked_bundle, &revoked).await.status, 204);
    let honest_bundle = format!("/v1/prekeys/{}", hex::encode(random::<16>()));
    assert_eq!(upload(&relay, &honest_bundle, &honest).await.status, 204);

    // Only the school's root may revoke.
    let body = json!({"grant_keys": [grant.public_b64()]});
    let r = revoke(&relay, &school, &honest, body.clone()).await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    let r = revoke(&relay, &school, &root, body.clone()).await;
    assert_eq!(
        (r.status, r.json["revoked"].as_u64()),
        (200, Some(1)),
        "{}",
        r.json
    );
    // Idempotent: nothing more to disable.
    let r = revoke(&relay, &school, &root, body).await;
    assert_eq!((r.status, r.json["revoked"].as_u64()), (200, Some(0)));

    // The revoked key: refused for each thing a member key does.
    let refused = assert_revoked;
    refused(member_write(&relay, "PUT", &revoked_entry, Some(b"rewritten"), &revoked).await);
    refused(
        member_write(
            &relay,
            "PUT",
            &entry_path(&school),
            Some(b"another"),
            &revoked,
        )
        .await,
    );
    refused(member_write(&relay, "DELETE", &revoked_entry, None, &revoked).await);
    refused(upload(&relay, &revoked_bundle, &revoked).await);
    refused(
        upload(
            &relay,
            &format!("/v1/prekeys/{}", hex::encode(random::<16>())),
            &revoked,
        )
        .await,
    );
    refused(
        member_write(
            &relay,
            "POST",
            &format!("{honest_bundle}/take"),
            None,
            &revoked,
        )
        .await,
    );
    // Nobody takes the revoked member's one-time prekeys either.
    let r = member_write(
        &relay,
        "POST",
        &format!("{revoked_bundle}/take"),
        None,
        &honest,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.json);
    // A second redemption of the same grant (a resumed join) is refused too.
    let path = format!("/v1/schools/{school}/invites/{lookup}");
    assert_revoked(redeem(&relay, &path, &revoked, &grant).await);

    // The honest member is unaffected.
    let r = member_write(&relay, "PUT", &honest_entry, Some(b"updated"), &honest).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(upload(&relay, &honest_bundle, &honest).await.status, 204);
    relay.stop().await;
}

#[tokio::test]
async fn revoking_by_invite_covers_a_code_redeemed_by_someone_else_and_an_unused_one() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    // A leaked code redeemed by a copier: the admin knows only the invite's lookup id.
    let (copier, _, lookup) = member_with_grant(&relay, &root, &school).await;
    // An unused code.
    let unused_grant = Key::new();
    let unused = hex::encode(random::<16>());
    let path = format!("/v1/schools/{school}/invites/{unused}");
    let body = json!({"record": b64(b"sealed"), "redeem_key": unused_grant.public_b64(), "expires_at": crate::support::now() + 600});
    assert_eq!(
        relay.json("PUT", &path, body, Some(&root)).await.status,
        201
    );

    let r = revoke(&relay, &school, &root, json!({"invites": [lookup, unused]})).await;
    assert_eq!(
        (r.status, r.json["revoked"].as_u64()),
        (200, Some(1)),
        "{}",
        r.json
    );
    let r = member_write(&relay, "PUT", &entry_path(&school), Some(b"x"), &copier).await;
    assert_eq!((r.status, r.error()), (403, "membership_revoked"));
    // The unused code can no longer make anyone a member.
    assert_revoked(redeem(&relay, &path, &Key::new(), &unused_grant).await);

    // Malformed bodies are refused without side effects.
    let r = revoke(&relay, &school, &root, json!({"invites": ["XYZ"]})).await;
    assert_eq!((r.status, r.error()), (400, "invalid_field"));
    let r = revoke(
        &relay,
        &school,
        &root,
        json!({"grant_keys": [b64(&[1; 31])]}),
    )
    .await;
    assert_eq!((r.status, r.error()), (400, "invalid_field"));
    let many: Vec<String> = (0..1001).map(|_| b64(&random::<32>())).collect();
    let r = revoke(&relay, &school, &root, json!({"grant_keys": many})).await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    relay.stop().await;
}
