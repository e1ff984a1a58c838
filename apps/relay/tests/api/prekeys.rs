use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::support::{Key, TestRelay, b64, member, member_write, random, unb64};

fn keys(ids: std::ops::Range<u32>) -> Vec<serde_json::Value> {
    ids.map(|id| json!({"id": id, "key": b64(&random::<32>()), "signature": b64(&random::<64>())}))
        .collect()
}

/// A school with two members; `owner` uploads `uploaded` to a fresh bundle.
struct School {
    root: Key,
    school: String,
    owner: Key,
    taker: Key,
    path: String,
}

async fn school_with_bundle(relay: &TestRelay, uploaded: &[serde_json::Value]) -> School {
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let owner = member(relay, &root, &school).await;
    let taker = member(relay, &root, &school).await;
    let path = format!("/v1/prekeys/{}", hex::encode(random::<16>()));
    let r = upload(relay, &path, &owner, json!(uploaded)).await;
    assert_eq!(r.status, 204, "{}", r.json);
    School {
        root,
        school,
        owner,
        taker,
        path,
    }
}

/// An upload of `keys` to the bundle at `path`, signed by `owner`.
async fn upload(
    relay: &TestRelay,
    path: &str,
    owner: &Key,
    keys: serde_json::Value,
) -> crate::support::Response {
    let body = json!({"owner_key": owner.public_b64(), "keys": keys});
    relay.json("POST", path, body, Some(owner)).await
}

/// A take signed by `key`, naming it in `Satchel-Key`.
async fn take(relay: &TestRelay, path: &str, key: &Key) -> crate::support::Response {
    member_write(relay, "POST", &format!("{path}/take"), None, key).await
}

#[tokio::test]
async fn upload_count_take() {
    let relay = TestRelay::start().await;
    let uploaded = keys(0..3);
    let School {
        owner, taker, path, ..
    } = school_with_bundle(&relay, &uploaded).await;
    // Another key may not add to the bundle.
    let intruder = Key::new();
    let r = upload(&relay, &path, &intruder, json!(keys(10..11))).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    // Every key carries a 64-byte signature.
    for bad in [
        json!([{"id": 5, "key": b64(&random::<32>())}]),
        json!([{"id": 5, "key": b64(&random::<32>()), "signature": b64(&random::<63>())}]),
    ] {
        let r = upload(&relay, &path, &owner, json!(bad)).await;
        assert_eq!(r.status, 400, "{}", r.json);
    }

    let count_path = format!("{path}/count");
    let r = relay
        .json("GET", &count_path, json!(null), Some(&owner))
        .await;
    assert_eq!((r.status, r.json["count"].as_u64()), (200, Some(3)));
    let r = relay
        .json("GET", &count_path, json!(null), Some(&intruder))
        .await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));

    // A member of the school takes the oldest key, with its signature as uploaded.
    let r = take(&relay, &path, &taker).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["id"], json!(0));
    for field in ["key", "signature"] {
        assert_eq!(
            unb64(r.json[field].as_str().unwrap()),
            unb64(uploaded[0][field].as_str().unwrap())
        );
    }
    let r = relay
        .json("GET", &count_path, json!(null), Some(&owner))
        .await;
    assert_eq!(r.json["count"].as_u64(), Some(2));

    // At most 1,000 per bundle.
    let r = upload(&relay, &path, &owner, json!(keys(100..1099))).await;
    assert_eq!((r.status, r.error()), (413, "too_many_prekeys"));
    let r = relay
        .json("GET", &count_path, json!(null), Some(&owner))
        .await;
    assert_eq!(
        r.json["count"].as_u64(),
        Some(2),
        "a refused upload stores nothing"
    );
    let r = upload(&relay, &path, &owner, json!(keys(100..1098))).await;
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

#[tokio::test]
async fn only_members_of_the_owners_school_take_prekeys() {
    let relay = TestRelay::start().await;
    let School {
        root,
        school,
        owner,
        taker,
        path,
    } = school_with_bundle(&relay, &keys(0..5)).await;
    let take_path = format!("{path}/take");

    // Unsigned: 401.
    let r = relay.json("POST", &take_path, json!(null), None).await;
    assert_eq!((r.status, r.error()), (401, "auth_required"));
    // Signed, but naming no key: 401.
    let r = relay
        .json("POST", &take_path, json!(null), Some(&taker))
        .await;
    assert_eq!((r.status, r.error()), (401, "auth_required"));
    // Naming a key it did not sign with: 401.
    let stranger = Key::new();
    let body: Vec<u8> = Vec::new();
    let r = relay
        .client
        .post(relay.url(&take_path))
        .header("satchel-auth", stranger.auth("POST", &take_path, &body))
        .header("satchel-key", taker.public_b64())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A stranger's own key: 403, the same as for a bundle that does not exist.
    let r = take(&relay, &path, &stranger).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    let unknown = format!("/v1/prekeys/{}", hex::encode(random::<16>()));
    let r = take(&relay, &unknown, &taker).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    // A member of another school: 403.
    let other_root = Key::new();
    let other_school = relay.register_school(&other_root).await;
    let outsider = member(&relay, &other_root, &other_school).await;
    let r = take(&relay, &path, &outsider).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    // The school root (not a member key): 403.
    let r = take(&relay, &path, &root).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    let _ = school;

    // Nothing was handed out to any of them.
    let r = relay
        .json("GET", &format!("{path}/count"), json!(null), Some(&owner))
        .await;
    assert_eq!(r.json["count"].as_u64(), Some(5));
    // Members (the owner too) may.
    assert_eq!(take(&relay, &path, &taker).await.status, 200);
    assert_eq!(take(&relay, &path, &owner).await.status, 200);
    relay.stop().await;
}

#[tokio::test]
async fn takes_are_rate_limited_per_member() {
    let relay = TestRelay::start_with(|config| {
        config.prekey_takes_per_hour = 60;
        config.prekey_take_burst = 3;
    })
    .await;
    let School {
        root,
        school,
        owner,
        taker,
        path,
    } = school_with_bundle(&relay, &keys(0..20)).await;
    for _ in 0..3 {
        assert_eq!(take(&relay, &path, &taker).await.status, 200);
    }
    let r = take(&relay, &path, &taker).await;
    assert_eq!((r.status, r.error()), (429, "rate_limited"), "{}", r.json);
    let retry = relay
        .client
        .post(relay.url(&format!("{path}/take")))
        .header(
            "satchel-auth",
            taker.auth("POST", &format!("{path}/take"), b""),
        )
        .header("satchel-key", taker.public_b64())
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status().as_u16(), 429);
    let seconds: u64 = retry.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=61).contains(&seconds), "Retry-After {seconds}");
    // Another member has its own budget.
    let other = member(&relay, &root, &school).await;
    assert_eq!(take(&relay, &path, &other).await.status, 200);
    // Refused takes hand out nothing.
    let r = relay
        .json("GET", &format!("{path}/count"), json!(null), Some(&owner))
        .await;
    assert_eq!(r.json["count"].as_u64(), Some(16));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_prekey_is_handed_out_once_under_concurrency() {
    let relay = Arc::new(TestRelay::start().await);
    let School {
        root, school, path, ..
    } = school_with_bundle(&relay, &keys(0..10)).await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let relay = Arc::clone(&relay);
        let (path, taker) = (path.clone(), member(&relay, &root, &school).await);
        tasks.push(tokio::spawn(async move {
            let r = take(&relay, &path, &taker).await;
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
