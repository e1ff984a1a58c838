use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::support::{Key, TestRelay, b64, random, unb64};

fn keys(ids: std::ops::Range<u32>) -> Vec<serde_json::Value> {
    ids.map(|id| json!({"id": id, "key": b64(&random::<32>())}))
        .collect()
}

#[tokio::test]
async fn upload_count_take() {
    let relay = TestRelay::start().await;
    let owner = Key::new();
    let bundle = hex::encode(random::<16>());
    let path = format!("/v1/prekeys/{bundle}");
    let uploaded = keys(0..3);
    let r = relay
        .json(
            "POST",
            &path,
            json!({"owner_key": owner.public_b64(), "keys": uploaded}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    // Another key may not add to the bundle.
    let intruder = Key::new();
    let r = relay
        .json(
            "POST",
            &path,
            json!({"owner_key": intruder.public_b64(), "keys": keys(10..11)}),
            Some(&intruder),
        )
        .await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));

    let count_path = format!("{path}/count");
    let r = relay
        .json("GET", &count_path, json!(null), Some(&owner))
        .await;
    assert_eq!((r.status, r.json["count"].as_u64()), (200, Some(3)));
    let r = relay
        .json("GET", &count_path, json!(null), Some(&intruder))
        .await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));

    let r = relay
        .json("POST", &format!("{path}/take"), json!(null), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["id"], json!(0));
    assert_eq!(
        unb64(r.json["key"].as_str().unwrap()),
        unb64(uploaded[0]["key"].as_str().unwrap())
    );
    let r = relay
        .json("GET", &count_path, json!(null), Some(&owner))
        .await;
    assert_eq!(r.json["count"].as_u64(), Some(2));

    // At most 1,000 per bundle.
    let r = relay
        .json(
            "POST",
            &path,
            json!({"owner_key": owner.public_b64(), "keys": keys(100..1099)}),
            Some(&owner),
        )
        .await;
    assert_eq!((r.status, r.error()), (413, "too_many_prekeys"));
    let r = relay
        .json("GET", &count_path, json!(null), Some(&owner))
        .await;
    assert_eq!(
        r.json["count"].as_u64(),
        Some(2),
        "a refused upload stores nothing"
    );
    let r = relay
        .json(
            "POST",
            &path,
            json!({"owner_key": owner.public_b64(), "keys": keys(100..1098)}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.json);

    let r = relay
        .json(
            "GET",
            &format!("/v1/prekeys/{}/count", hex::encode(random::<16>())),
            json!(null),
            Some(&owner),
        )
        .await;
    assert_eq!((r.status, r.error()), (404, "unknown_bundle"));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_prekey_is_handed_out_once_under_concurrency() {
    let relay = Arc::new(TestRelay::start().await);
    let owner = Key::new();
    let bundle = hex::encode(random::<16>());
    let path = format!("/v1/prekeys/{bundle}");
    let r = relay
        .json(
            "POST",
            &path,
            json!({"owner_key": owner.public_b64(), "keys": keys(0..10)}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, 204);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (relay, path) = (Arc::clone(&relay), format!("{path}/take"));
        tasks.push(tokio::spawn(async move {
            let r = relay.json("POST", &path, json!(null), None).await;
            (r.status, r.json)
        }));
    }
    let mut ids = HashSet::new();
    let mut empty = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, json) => assert!(ids.insert(json["id"].as_u64().unwrap()), "handed out twice"),
            (404, json) => {
                assert_eq!(json["error"], "no_prekeys");
                empty += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ids.len(), empty), (10, 22));
    Arc::into_inner(relay).unwrap().stop().await;
}
