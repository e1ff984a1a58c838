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

#[tokio::test]
async fn registration_needs_the_operators_token_and_is_closed_without_one() {
    let root = Key::new();
    let body = json!({"root_key": root.public_b64()});
    // A relay started without a token registers no new school.
    let closed = TestRelay::start_with(|c| c.registration_token = None).await;
    let r = closed
        .json("POST", "/v1/schools", body.clone(), Some(&root))
        .await;
    assert_eq!((r.status, r.error()), (403, "registration_closed"));
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("--registration-token"),
        "{}",
        r.json
    );
    closed.stop().await;

    let relay = TestRelay::start().await;
    let send = |token: Option<&'static str>| {
        let auth = root.auth("POST", "/v1/schools", body.to_string().as_bytes());
        let mut request = reqwest::Client::new()
            .post(relay.url("/v1/schools"))
            .header("satchel-auth", auth)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header("satchel-registration", token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let json: serde_json::Value = response.json().await.unwrap_or_default();
            (status, json["error"].as_str().unwrap_or("").to_owned())
        }
    };
    // No token, a wrong one, one that differs in the last character: refused, and
    // nothing is registered.
    for token in [
        None,
        Some("wrong-token-wrong-token"),
        Some("api-test-registration-tokeN"),
    ] {
        assert_eq!(send(token).await, (403, "bad_registration_token".into()));
    }
    // The right token registers it (201: it was not registered before); a retry of a
    // known school needs no token.
    assert_eq!(
        send(Some(crate::support::REGISTRATION_TOKEN)).await,
        (201, String::new())
    );
    assert_eq!(send(None).await, (200, String::new()));
    relay.stop().await;
}
