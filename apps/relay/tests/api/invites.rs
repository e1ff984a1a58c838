use std::sync::Arc;

use serde_json::json;

use crate::support::{Key, TestRelay, b64, now, random, unb64};

async fn put_invite(
    relay: &TestRelay,
    root: &Key,
    school: &str,
    redeem: &Key,
    expires: i64,
) -> String {
    let lookup = hex::encode(random::<16>());
    let path = format!("/v1/schools/{school}/invites/{lookup}");
    let body = json!({"record": b64(&random::<200>()), "redeem_key": redeem.public_b64(), "expires_at": expires});
    let r = relay.json("PUT", &path, body, Some(root)).await;
    assert_eq!(r.status, 201, "{}", r.json);
    lookup
}

#[tokio::test]
async fn invite_lifecycle() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let redeem = Key::new();
    let lookup = hex::encode(random::<16>());
    let path = format!("/v1/schools/{school}/invites/{lookup}");
    let record = random::<300>();
    let body = json!({"record": b64(&record), "redeem_key": redeem.public_b64(), "expires_at": now() + 3600});

    // Only the root may create it.
    let r = relay.json("PUT", &path, body.clone(), Some(&redeem)).await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    let r = relay.json("PUT", &path, body, Some(&root)).await;
    assert_eq!(r.status, 201, "{}", r.json);

    let r = relay.json("GET", &path, json!(null), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(unb64(r.json["record"].as_str().unwrap()), record);
    assert_eq!(r.json["redeemed"], json!(false));

    let member = Key::new();
    let redeem_path = format!("{path}/redeem");
    let redeem_body = json!({"member_key": member.public_b64()});
    // Signed by the wrong key.
    let r = relay
        .json("POST", &redeem_path, redeem_body.clone(), Some(&member))
        .await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    let r = relay
        .json("POST", &redeem_path, redeem_body.clone(), Some(&redeem))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    // The same join, retried (it stopped after redeeming): the same answer.
    let r = relay
        .json("POST", &redeem_path, redeem_body, Some(&redeem))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    // Anyone else holding the code: refused.
    let r = relay
        .json(
            "POST",
            &redeem_path,
            json!({"member_key": Key::new().public_b64()}),
            Some(&redeem),
        )
        .await;
    assert_eq!((r.status, r.error()), (409, "invite_used"));
    // The record (grant, directory key) was erased at redemption: nothing is served.
    let r = relay.json("GET", &path, json!(null), None).await;
    assert_eq!((r.status, r.error()), (409, "invite_used"));
    assert!(r.json.get("record").is_none(), "{}", r.json);

    // A redeemed invite cannot be overwritten.
    let body = json!({"record": b64(&record), "redeem_key": redeem.public_b64(), "expires_at": now() + 3600});
    let r = relay.json("PUT", &path, body, Some(&root)).await;
    assert_eq!((r.status, r.error()), (409, "invite_used"));

    let r = relay.json("DELETE", &path, json!(null), Some(&root)).await;
    assert_eq!(r.status, 204);
    let r = relay.json("GET", &path, json!(null), None).await;
    assert_eq!((r.status, r.error()), (404, "unknown_invite"));

    // Unknown school.
    let r = relay
        .json(
            "GET",
            &format!(
                "/v1/schools/{}/invites/{lookup}",
                hex::encode(random::<16>())
            ),
            json!(null),
            None,
        )
        .await;
    assert_eq!((r.status, r.error()), (404, "unknown_invite"));
    relay.stop().await;
}

#[tokio::test]
async fn expired_invite_is_gone() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let redeem = Key::new();
    // In the past: refused.
    let lookup = hex::encode(random::<16>());
    let path = format!("/v1/schools/{school}/invites/{lookup}");
    let body =
        json!({"record": b64(b"x"), "redeem_key": redeem.public_b64(), "expires_at": now() - 1});
    let r = relay.json("PUT", &path, body, Some(&root)).await;
    assert_eq!((r.status, r.error()), (400, "invalid_field"));

    let lookup = put_invite(&relay, &root, &school, &redeem, now() + 2).await;
    let path = format!("/v1/schools/{school}/invites/{lookup}");
    assert_eq!(
        relay.json("GET", &path, json!(null), None).await.status,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let r = relay.json("GET", &path, json!(null), None).await;
    assert_eq!((r.status, r.error()), (404, "unknown_invite"));
    let r = relay
        .json(
            "POST",
            &format!("{path}/redeem"),
            json!({"member_key": Key::new().public_b64()}),
            Some(&redeem),
        )
        .await;
    assert_eq!((r.status, r.error()), (404, "unknown_invite"));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invite_redeemed_once_under_concurrency() {
    let relay = Arc::new(TestRelay::start().await);
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let redeem = Arc::new(Key::new());
    let lookup = put_invite(&relay, &root, &school, &redeem, now() + 3600).await;
    let path = format!("/v1/schools/{school}/invites/{lookup}/redeem");
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let (relay, redeem, path) = (Arc::clone(&relay), Arc::clone(&redeem), path.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"member_key": Key::new().public_b64()});
            let r = relay.json("POST", &path, body, Some(&redeem)).await;
            (r.status, r.error().to_owned())
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, _) => ok += 1,
            (409, code) => assert_eq!(code, "invite_used"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    Arc::into_inner(relay).unwrap().stop().await;
}
