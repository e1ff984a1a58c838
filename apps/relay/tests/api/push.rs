use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestRelay, envelope, queue_keys, rid};

#[tokio::test]
async fn websocket_announces_mail_without_content() {
    let relay = TestRelay::start().await;
    let keys = queue_keys();
    relay.create_queue(&keys).await;
    let path = format!("/v1/queues/{}/ws", rid(&keys));

    // Without a valid proof, no upgrade.
    let other = queue_keys();
    let request = crate::support::ws_request(&relay, &path, &other);
    assert!(tokio_tungstenite::connect_async(request).await.is_err());

    let request = crate::support::ws_request(&relay, &path, &keys);
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
