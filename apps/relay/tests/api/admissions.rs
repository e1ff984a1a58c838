//! Admission: a member hands in its (sealed) certificate with the member key its
//! redemption recorded; the school root lists who waits and stores admissions; the
//! member picks its admission up. Nobody else can do any of it, and the relay keeps the
//! first certificate a member key handed in.

use serde_json::{Value, json};

use crate::support::{Key, TestRelay, b64, member, member_json, member_with_grant, random, unb64};

fn ask_path(school: &str) -> String {
    format!("/v1/schools/{school}/admission")
}

fn admissions_path(school: &str) -> String {
    format!("/v1/schools/{school}/admissions")
}

async fn ask(
    relay: &TestRelay,
    school: &str,
    key: &Key,
    sealed: &[u8],
) -> crate::support::Response {
    member_json(
        relay,
        "POST",
        &ask_path(school),
        json!({"sealed_certificate": b64(sealed)}),
        key,
    )
    .await
}

async fn waiting(relay: &TestRelay, school: &str, signer: &Key) -> crate::support::Response {
    relay
        .json("GET", &admissions_path(school), Value::Null, Some(signer))
        .await
}

async fn admit(
    relay: &TestRelay,
    school: &str,
    signer: &Key,
    admissions: Value,
) -> crate::support::Response {
    relay
        .json(
            "PUT",
            &admissions_path(school),
            json!({ "admissions": admissions }),
            Some(signer),
        )
        .await
}

#[tokio::test]
async fn a_member_is_admitted_through_the_root_and_only_the_root() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let (alice, alice_grant, _) = member_with_grant(&relay, &root, &school).await;
    let bob = member(&relay, &root, &school).await;

    // Alice hands in her sealed certificate: nothing to pick up yet.
    let sealed = random::<300>();
    let r = ask(&relay, &school, &alice, &sealed).await;
    assert_eq!(
        (r.status, &r.json["admission"]),
        (200, &Value::Null),
        "{}",
        r.json
    );
    // A second, different one is not kept: the first is what the admin sees.
    let r = ask(&relay, &school, &alice, &random::<300>()).await;
    assert_eq!(r.status, 200, "{}", r.json);

    // Only the root lists who waits: Alice, with her invite's grant key; Bob asked
    // nothing, so he is not listed.
    let r = waiting(&relay, &school, &alice).await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    let r = waiting(&relay, &school, &root).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let pending = r.json["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{}", r.json);
    assert_eq!(pending[0]["member_key"], alice.public_b64());
    assert_eq!(pending[0]["grant_key"], alice_grant.public_b64());
    assert_eq!(
        unb64(pending[0]["sealed_certificate"].as_str().unwrap()),
        sealed
    );

    // Only the root stores admissions; one for Bob (who handed nothing in) is skipped.
    let signature = random::<64>();
    let body = json!([
        {"member_key": alice.public_b64(), "admission": b64(&signature)},
        {"member_key": bob.public_b64(), "admission": b64(&random::<64>())},
    ]);
    let r = admit(&relay, &school, &bob, body.clone()).await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    let r = admit(&relay, &school, &root, body).await;
    assert_eq!(
        (r.status, r.json["stored"].as_u64()),
        (200, Some(1)),
        "{}",
        r.json
    );
    let r = waiting(&relay, &school, &root).await;
    assert_eq!(r.json["pending"], json!([]));

    // Alice picks it up; Bob still has none.
    let r = ask(&relay, &school, &alice, &sealed).await;
    assert_eq!(r.json["admission"], b64(&signature), "{}", r.json);
    let r = ask(&relay, &school, &bob, &random::<100>()).await;
    assert_eq!((r.status, &r.json["admission"]), (200, &Value::Null));
    relay.stop().await;
}

#[tokio::test]
async fn strangers_revoked_members_and_malformed_requests_are_refused() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let (alice, alice_grant, _) = member_with_grant(&relay, &root, &school).await;

    // A key no invite recorded (whoever holds a copied code but did not redeem).
    let stranger = Key::new();
    let r = ask(&relay, &school, &stranger, &random::<300>()).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"), "{}", r.json);
    // Another school's member.
    let other_root = Key::new();
    let other = relay.register_school(&other_root).await;
    let r = ask(&relay, &other, &alice, &random::<300>()).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"), "{}", r.json);
    // Unsigned, or signed by another key than the one named.
    let r = relay
        .json(
            "POST",
            &ask_path(&school),
            json!({"sealed_certificate": b64(&[1; 10])}),
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.json);
    // Too large, or not base64.
    let r = ask(&relay, &school, &alice, &vec![0; 4_125]).await;
    assert_eq!((r.status, r.error()), (413, "too_large"), "{}", r.json);
    let r = member_json(
        &relay,
        "POST",
        &ask_path(&school),
        json!({"sealed_certificate": "!!"}),
        &alice,
    )
    .await;
    assert_eq!((r.status, r.error()), (400, "invalid_field"));
    // Admissions: too many, or of the wrong size.
    let many: Vec<Value> = (0..501)
        .map(|_| json!({"member_key": b64(&random::<32>()), "admission": b64(&random::<64>())}))
        .collect();
    let r = admit(&relay, &school, &root, Value::Array(many)).await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    let short = json!([{"member_key": alice.public_b64(), "admission": b64(&[0; 63])}]);
    let r = admit(&relay, &school, &root, short).await;
    assert_eq!((r.status, r.error()), (400, "invalid_field"));

    // Revoked: the member key is refused, and no longer listed as waiting.
    assert_eq!(
        ask(&relay, &school, &alice, &random::<300>()).await.status,
        200
    );
    let r = relay
        .json(
            "POST",
            &format!("/v1/schools/{school}/revoked-members"),
            json!({"grant_keys": [alice_grant.public_b64()]}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = ask(&relay, &school, &alice, &random::<300>()).await;
    assert_eq!((r.status, r.error()), (403, "membership_revoked"));
    let r = waiting(&relay, &school, &root).await;
    assert_eq!(r.json["pending"], json!([]));
    relay.stop().await;
}
