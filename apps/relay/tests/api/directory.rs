use satchel_relay::http::revocations::MAX_REVOCATION_LIST;
use serde_json::json;

use crate::support::{Key, TestRelay, b64, member, member_write, now, random, unb64};

#[tokio::test]
async fn directory_ownership() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let entry_path = |id: &str| format!("/v1/schools/{school}/directory/{id}");

    // Root writes an entry.
    let staff = hex::encode(random::<16>());
    let r = relay
        .json(
            "PUT",
            &entry_path(&staff),
            json!({"entry": b64(b"staff entry")}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);

    // A member writes one entry, and updates it.
    let alice = member(&relay, &root, &school).await;
    let mine = hex::encode(random::<16>());
    let r = member_write(&relay, "PUT", &entry_path(&mine), Some(b"v1"), &alice).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let r = member_write(&relay, "PUT", &entry_path(&mine), Some(b"v2"), &alice).await;
    assert_eq!(r.status, 200, "{}", r.json);
    // Without the header, the owner's signature is found through the entry.
    let r = relay
        .json(
            "PUT",
            &entry_path(&mine),
            json!({"entry": b64(b"v3")}),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    // ... but not a second entry.
    let second = hex::encode(random::<16>());
    let r = member_write(&relay, "PUT", &entry_path(&second), Some(b"x"), &alice).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    // Nor another's entry.
    let r = member_write(&relay, "PUT", &entry_path(&staff), Some(b"x"), &alice).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    // A key without a redeemed invite may not write.
    let stranger = Key::new();
    let r = member_write(&relay, "PUT", &entry_path(&second), Some(b"x"), &stranger).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    let r = relay
        .json(
            "PUT",
            &entry_path(&second),
            json!({"entry": b64(b"x")}),
            Some(&stranger),
        )
        .await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    // Another member may not delete alice's entry; root may update it.
    let bob = member(&relay, &root, &school).await;
    let r = member_write(&relay, "DELETE", &entry_path(&mine), None, &bob).await;
    assert_eq!((r.status, r.error()), (403, "forbidden"));
    let r = relay
        .json(
            "PUT",
            &entry_path(&mine),
            json!({"entry": b64(b"v4")}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, 200);

    let r = relay
        .json(
            "GET",
            &format!("/v1/schools/{school}/directory"),
            json!(null),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let entries = r.json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let found = entries
        .iter()
        .find(|e| e["entry_id"] == json!(mine))
        .unwrap();
    assert_eq!(unb64(found["entry"].as_str().unwrap()), b"v4");
    assert!(found["updated_at"].as_i64().unwrap() > now() - 120);

    // The owner deletes; then it may write a new one.
    let r = member_write(&relay, "DELETE", &entry_path(&mine), None, &alice).await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = member_write(&relay, "PUT", &entry_path(&second), Some(b"x"), &alice).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let r = relay
        .json("DELETE", &entry_path(&staff), json!(null), Some(&root))
        .await;
    assert_eq!(r.status, 204);
    let r = relay
        .json(
            "GET",
            &format!("/v1/schools/{school}/directory"),
            json!(null),
            None,
        )
        .await;
    assert_eq!(r.json["entries"].as_array().unwrap().len(), 1);

    // Unknown school.
    let r = relay
        .json(
            "GET",
            &format!("/v1/schools/{}/directory", hex::encode(random::<16>())),
            json!(null),
            None,
        )
        .await;
    assert_eq!((r.status, r.error()), (404, "unknown_school"));
    // Too large.
    let r = relay
        .json(
            "PUT",
            &entry_path(&staff),
            json!({"entry": b64(&vec![0; 32 * 1024 + 1])}),
            Some(&root),
        )
        .await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    relay.stop().await;
}

#[tokio::test]
async fn revocation_list_sequence() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let path = format!("/v1/schools/{school}/revocations");
    let r = relay.json("GET", &path, json!(null), None).await;
    assert_eq!((r.status, r.error()), (404, "no_revocation_list"));
    let r = relay
        .json(
            "PUT",
            &path,
            json!({"list": b64(b"list one"), "sequence": 1}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = relay
        .json(
            "PUT",
            &path,
            json!({"list": b64(b"list again"), "sequence": 1}),
            Some(&root),
        )
        .await;
    assert_eq!((r.status, r.error()), (409, "stale_sequence"));
    let r = relay
        .json(
            "PUT",
            &path,
            json!({"list": b64(b"list two"), "sequence": 2}),
            Some(&Key::new()),
        )
        .await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    let r = relay
        .json(
            "PUT",
            &path,
            json!({"list": b64(b"list two"), "sequence": 2}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = relay.json("GET", &path, json!(null), None).await;
    assert_eq!(r.json["sequence"], json!(2));
    assert_eq!(unb64(r.json["list"].as_str().unwrap()), b"list two");
    let r = relay
        .json(
            "PUT",
            &path,
            json!({"list": b64(&vec![0; MAX_REVOCATION_LIST + 1]), "sequence": 3}),
            Some(&root),
        )
        .await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    relay.stop().await;
}

/// `?since=SEQ`: the list only when the stored one is newer, else an empty 304; lists
/// far above the 256 KiB of other JSON bodies are accepted.
#[tokio::test]
async fn revocation_list_conditional_fetch_and_size() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let path = format!("/v1/schools/{school}/revocations");
    let since = |seq: &str| format!("{path}?since={seq}");
    let r = relay.json("GET", &since("0"), json!(null), None).await;
    assert_eq!((r.status, r.error()), (404, "no_revocation_list"));

    // The largest list (2.4 MB, 3.2 MB of base64) goes through.
    let big = vec![7u8; MAX_REVOCATION_LIST];
    let r = relay
        .json(
            "PUT",
            &path,
            json!({"list": b64(&big), "sequence": 5}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.json);

    for seq in ["0", "4"] {
        let r = relay.json("GET", &since(seq), json!(null), None).await;
        assert_eq!(r.status, 200, "since={seq}");
        assert_eq!(r.json["sequence"], json!(5));
        assert_eq!(unb64(r.json["list"].as_str().unwrap()), big);
    }
    for seq in ["5", "6", &u64::MAX.to_string()] {
        let r = relay.json("GET", &since(seq), json!(null), None).await;
        assert_eq!((r.status, &r.json), (304, &json!(null)), "since={seq}");
    }
    // Without `since`, the list as before.
    let r = relay.json("GET", &path, json!(null), None).await;
    assert_eq!((r.status, r.json["sequence"].clone()), (200, json!(5)));

    for bad in [
        since("-1"),
        since("x"),
        since(""),
        format!("{path}?since=1&since=2"),
        format!("{path}?after=1"),
        format!("{path}?since=18446744073709551616"),
    ] {
        let r = relay.json("GET", &bad, json!(null), None).await;
        assert_eq!((r.status, r.error()), (400, "invalid_query"), "{bad}");
    }
    relay.stop().await;
}
