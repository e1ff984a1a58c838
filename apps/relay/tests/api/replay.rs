//! Replayed signed requests are refused: each signed request is accepted once, and a
//! request signed before the relay (re)started is refused too.

use serde_json::json;

use crate::support::{Key, Response, TestRelay, b64, member, member_write, now, random};

/// Sends `body` as JSON with a given `Satchel-Auth` value (a captured one, say).
async fn send_as(relay: &TestRelay, method: &str, path: &str, body: &[u8], auth: &str) -> Response {
    relay
        .send(
            method,
            path,
            body.to_vec(),
            Some(auth.to_owned()),
            "application/json",
        )
        .await
}

/// A captured prekey upload, sent again after the prekeys were taken, would reinstall
/// consumed one-time prekeys; a captured invite upload, sent again after the school
/// deleted the invite, would restore it. Both are refused as replays; the same request
/// freshly signed is accepted.
#[tokio::test]
async fn captured_signed_requests_cannot_be_sent_again() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let school = relay.register_school(&root).await;
    let owner = member(&relay, &root, &school).await;
    let taker = member(&relay, &root, &school).await;
    let path = format!("/v1/prekeys/{}", hex::encode(random::<16>()));
    let take_path = format!("{path}/take");
    let body = serde_json::to_vec(&json!({
        "owner_key": owner.public_b64(),
        "keys": [{"id": 1, "key": b64(&random::<32>()), "signature": b64(&random::<64>())}],
    }))
    .unwrap();
    let captured = owner.auth("POST", &path, &body);
    let r = send_as(&relay, "POST", &path, &body, &captured).await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = member_write(&relay, "POST", &take_path, None, &taker).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = send_as(&relay, "POST", &path, &body, &captured).await;
    assert_eq!((r.status, r.error()), (401, "replayed"));
    let r = member_write(&relay, "POST", &take_path, None, &taker).await;
    assert_eq!((r.status, r.error()), (404, "no_prekeys"), "still consumed");
    // The owner signing the same upload afresh (a new nonce) is fine.
    let fresh = owner.auth("POST", &path, &body);
    let r = send_as(&relay, "POST", &path, &body, &fresh).await;
    assert_eq!(r.status, 204, "{}", r.json);

    // An invite upload replayed after the school deleted the invite.
    let invite = format!(
        "/v1/schools/{school}/invites/{}",
        hex::encode(random::<16>())
    );
    let body = serde_json::to_vec(&json!({
        "record": b64(&random::<100>()),
        "redeem_key": Key::new().public_b64(),
        "expires_at": now() + 3600,
    }))
    .unwrap();
    let captured = root.auth("PUT", &invite, &body);
    let r = send_as(&relay, "PUT", &invite, &body, &captured).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let r = relay
        .json("DELETE", &invite, json!(null), Some(&root))
        .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let r = send_as(&relay, "PUT", &invite, &body, &captured).await;
    assert_eq!((r.status, r.error()), (401, "replayed"));
    let r = relay.json("GET", &invite, json!(null), None).await;
    assert_eq!(
        (r.status, r.error()),
        (404, "unknown_invite"),
        "stays deleted"
    );
    relay.stop().await;
}

/// The cache lives in memory; a restart does not reopen the window: a request signed
/// before the relay started is refused, one signed after is accepted.
#[tokio::test]
async fn a_restart_does_not_reopen_the_replay_window() {
    let relay = TestRelay::start().await;
    let root = Key::new();
    let body = serde_json::to_vec(&json!({"root_key": root.public_b64()})).unwrap();
    let captured = root.auth_at("POST", "/v1/schools", &body, now() - 2);
    let dir = relay.stop().await;
    let relay = TestRelay::start_in(dir, |_| {}).await;
    let r = send_as(&relay, "POST", "/v1/schools", &body, &captured).await;
    assert_eq!((r.status, r.error()), (401, "replayed"));
    let r = send_as(
        &relay,
        "POST",
        "/v1/schools",
        &body,
        &root.auth("POST", "/v1/schools", &body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    relay.stop().await;
}
