use serde_json::json;

use crate::support::{Key, TestRelay, b64};

#[tokio::test]
async fn health_and_register_is_idempotent() {
    let relay = TestRelay::start().await;
    let r = relay.json("GET", "/v1/health", json!(null), None).await;
    assert_eq!((r.status, r.json.clone()), (200, json!({"status": "ok"})));

    let root = Key::new();
    let body = json!({"root_key": root.public_b64()});
    let first = relay
        .json("POST", "/v1/schools", body.clone(), Some(&root))
        .await;
    assert_eq!(first.status, 201, "{}", first.json);
    let id = first.json["school_id"].as_str().unwrap().to_owned();
    assert_eq!(
        id,
        hex::encode(satchel_relay::http::schools::school_id(&root.public()))
    );
    assert_eq!(id.len(), 32);
    let again = relay
        .json("POST", "/v1/schools", body.clone(), Some(&root))
        .await;
    assert_eq!(
        (again.status, again.json["school_id"].as_str()),
        (200, Some(id.as_str()))
    );

    // Signed by another key: refused.
    let other = Key::new();
    let r = relay.json("POST", "/v1/schools", body, Some(&other)).await;
    assert_eq!((r.status, r.error()), (401, "bad_signature"));
    // Wrong key length.
    let r = relay
        .json(
            "POST",
            "/v1/schools",
            json!({"root_key": b64(&[1; 31])}),
            Some(&root),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_field"));
    relay.stop().await;
}
