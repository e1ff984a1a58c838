use serde_json::json;

use crate::support::{Key, TestRelay, b64, queue_keys};

#[tokio::test]
async fn malformed_input_gets_json_4xx() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;

    // Malformed JSON, unknown fields, wrong types.
    for body in [
        b"{not json".to_vec(),
        br#"{"root_key": 5}"#.to_vec(),
        br#"{"root_key": "", "x": 1}"#.to_vec(),
    ] {
        let auth = root.auth("POST", "/v1/schools", &body);
        let r = relay
            .send("POST", "/v1/schools", body, Some(auth), "application/json")
            .await;
        assert_eq!((r.status, r.error()), (400, "malformed_json"), "{}", r.json);
        assert!(r.json["message"].as_str().unwrap().len() > 10);
    }
    // Bad base64 and wrong lengths.
    for key in ["!!!", "AAAA=", &b64(&[0; 33]), &b64(&[0; 16])] {
        let r = relay
            .json("POST", "/v1/schools", json!({"root_key": key}), Some(&root))
            .await;
        assert_eq!((r.status, r.error()), (400, "invalid_field"), "{key}");
    }
    // Bad path ids: uppercase, short, non-hex.
    for id in [
        "ABCDEF00112233445566778899aabbcc",
        "abcd",
        "zz112233445566778899aabbccddeeff",
    ] {
        let r = relay
            .json(
                "GET",
                &format!("/v1/schools/{id}/directory"),
                json!(null),
                None,
            )
            .await;
        assert_eq!((r.status, r.error()), (400, "invalid_id"), "{id}");
    }
    // Malformed Satchel-Auth.
    for header in [
        "nodot",
        "12x.AAAA",
        "123.!!!",
        &format!("{}.{}", 1, b64(&[0; 63])),
        // The nonce-less format of relay request v1 (an old app).
        &format!("{}.{}", crate::support::now(), b64(&[0; 64])),
        &format!(
            "{}.{}.{}",
            crate::support::now(),
            b64(&[0; 15]),
            b64(&[0; 64])
        ),
    ] {
        let body = serde_json::to_vec(&json!({"root_key": root.public_b64()})).unwrap();
        let r = relay
            .send(
                "POST",
                "/v1/schools",
                body,
                Some(header.to_owned()),
                "application/json",
            )
            .await;
        assert_eq!((r.status, r.error()), (400, "malformed_auth"), "{header}");
    }
    // Oversized JSON body (every JSON endpoint but the revocation list upload keeps
    // 256 KiB).
    let path = format!("/v1/schools/{school}/directory/{}", "ab".repeat(16));
    let body = vec![b' '; 300 * 1024];
    let auth = root.auth("PUT", &path, &body);
    let r = relay
        .send("PUT", &path, body, Some(auth), "application/json")
        .await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    // Unknown route and wrong method.
    let r = relay.json("GET", "/v2/nothing", json!(null), None).await;
    assert_eq!((r.status, r.error()), (404, "not_found"));
    let r = relay.json("PUT", "/v1/health", json!(null), None).await;
    assert_eq!((r.status, r.error()), (405, "method_not_allowed"));
    // Too many ack ids.
    let keys = queue_keys();
    let receive_id = relay.create_queue(&keys).await;
    let ids: Vec<u64> = (0..1001).collect();
    let r = relay
        .queue(
            "POST",
            &format!("/v1/queues/{receive_id}/ack"),
            json!({"ids": ids}),
            &keys,
        )
        .await;
    assert_eq!((r.status, r.error()), (413, "too_large"));
    // WebSocket endpoint without an upgrade.
    let path = format!("/v1/queues/{receive_id}/ws");
    let r = relay.queue("GET", &path, json!(null), &keys).await;
    assert!(r.status == 400 || r.status == 426, "{}", r.status);
    assert!(r.json["error"].is_string());
    relay.stop().await;
}
