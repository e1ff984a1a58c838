use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::support::{TestRelay, envelope, queue_auth, queue_keys, rid};

#[tokio::test]
async fn websocket_announces_mail_without_content() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    relay.create_queue(&keys).await;
    let path = format!("/v1/queues/{}/ws", rid(&keys));

    // Without a valid proof, no upgrade.
    let other = queue_keys();
    let mut request = format!("ws://{}{path}", &relay.base["http://".len()..])
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "satchel-auth",
        queue_auth(&other, "GET", &path, b"").parse().unwrap(),
    );
    assert!(tokio_tungstenite::connect_async(request).await.is_err());

    let mut request = format!("ws://{}{path}", &relay.base["http://".len()..])
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "satchel-auth",
        queue_auth(&keys, "GET", &path, b"").parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    assert_eq!(
        relay
            .deposit(envelope(keys.send_id().as_bytes(), 50))
            .await
            .status,
        202
    );
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
        .await
        .expect("a notification")
        .unwrap()
        .unwrap();
    assert_eq!(frame, Message::text(r#"{"type":"mail"}"#));

    // Shutdown closes the socket.
    relay.stop().await;
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
        .await
        .expect("closed");
    assert!(
        matches!(end, None | Some(Err(_)) | Some(Ok(Message::Close(_)))),
        "{end:?}"
    );
}
