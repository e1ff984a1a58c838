//! What school IT uses: `/healthz`, the separate `/metrics` listener, and what the
//! relay answers when its database is unreachable.

use crate::support::*;

/// `/healthz` answers on the API port; `/metrics` only on `--metrics-listen`, in
/// Prometheus text, counting requests, deposits, fetches and errors, and holding no ids.
#[tokio::test]
async fn health_and_metrics_count_without_ids() {
    let relay = TestRelay::start_with(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let health = relay
        .client
        .get(relay.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let on_api_port = relay
        .client
        .get(relay.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        on_api_port.status(),
        404,
        "metrics must not be served with the API"
    );

    let keys = queue_keys();
    let receive_id = relay.create_queue(&keys).await;
    for _ in 0..3 {
        assert_eq!(
            relay
                .deposit(envelope(keys.send_id().as_bytes(), 80))
                .await
                .status,
            202
        );
    }
    assert_eq!(relay.fetch(&keys, "").await.status, 200);
    // An error: a deposit to a queue nobody created.
    assert_eq!(
        relay.deposit(envelope(&random::<16>(), 80)).await.status,
        404
    );

    let metrics_addr = relay.metrics_addr();
    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "satchel_relay_deposits_total 3",
        "satchel_relay_messages_fetched_total 3",
        "satchel_relay_queued_messages 3",
        "satchel_relay_queues_with_mail 1",
        "satchel_relay_errors_total{code=\"unknown_queue\"} 1",
        "satchel_relay_http_requests_total{route=\"/v1/envelopes\",status=\"202\"} 3",
        "satchel_relay_http_request_duration_seconds_bucket{",
        "satchel_relay_write_batch_ops_count",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains(&receive_id), "an id in the metrics");
    assert!(!text.contains("127.0.0.1"), "an address in the metrics");
    let health = reqwest::get(format!("http://{metrics_addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    relay.stop().await;
}
