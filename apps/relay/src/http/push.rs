//! WebSocket push: `{"type":"mail"}` whenever a deposit to the queue commits. No
//! content, no ids, no counts: the client fetches after a notification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use satchel_core::ReceiveId;
use tokio::sync::broadcast;

use super::AppState;
use super::queues::{check_proof, parse_receive_id};
use crate::auth::SignedRequest;
use crate::error::Result;

/// How often the relay pings an idle WebSocket; a connection that has not answered the
/// previous ping by the next one is closed.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);

/// The notification frame.
pub const MAIL_FRAME: &str = r#"{"type":"mail"}"#;

/// In-memory subscriptions, by receive id. Nothing here is persisted or logged.
#[derive(Debug, Default)]
pub struct Notifier {
    senders: Mutex<HashMap<ReceiveId, broadcast::Sender<()>>>,
}

impl Notifier {
    /// Tells every WebSocket of the queue that mail arrived.
    pub fn notify(&self, receive_id: &ReceiveId) {
        if let Ok(senders) = self.senders.lock()
            && let Some(sender) = senders.get(receive_id)
        {
            // No receivers is fine: nobody is listening right now.
            let _ = sender.send(());
        }
    }

    /// Subscribes to a queue's notifications until the returned value is dropped.
    pub fn subscribe(self: &Arc<Self>, receive_id: ReceiveId) -> Subscription {
        let receiver = match self.senders.lock() {
            Ok(mut senders) => senders
                .entry(receive_id)
                .or_insert_with(|| broadcast::channel(1).0)
                .subscribe(),
            // A poisoned map only means an earlier panic; subscribe to nothing.
            Err(_) => broadcast::channel(1).1,
        };
        Subscription {
            receiver,
            notifier: Arc::clone(self),
            receive_id,
        }
    }

    /// The queues with at least one WebSocket now.
    #[must_use]
    pub fn watched(&self) -> Vec<ReceiveId> {
        self.senders
            .lock()
            .map(|senders| senders.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The number of queues with at least one WebSocket.
    #[must_use]
    pub fn queues_watched(&self) -> usize {
        self.senders.lock().map_or(0, |senders| senders.len())
    }
}

/// Mail that other relays sharing the database committed, pushed to this relay's
/// WebSockets ([`crate::store::MailSink`]).
pub struct RemoteMail {
    /// This relay's subscriptions.
    pub push: Arc<Notifier>,
    /// The store, to see which watched queues hold mail after a reconnect.
    pub store: Arc<dyn crate::store::RelayStore>,
}

impl crate::store::MailSink for RemoteMail {
    fn mail(&self, receive_ids: &[ReceiveId]) {
        for receive_id in receive_ids {
            self.push.notify(receive_id);
        }
    }

    fn resync(&self) {
        let watched = self.push.watched();
        if watched.is_empty() {
            return;
        }
        match self.store.pending(&watched) {
            Ok(with_mail) => self.mail(&with_mail),
            // Unknown: tell every watcher; a fetch that finds nothing costs little.
            Err(_) => self.mail(&watched),
        }
    }
}

/// A live subscription; removes the queue's entry when the last one goes.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<()>,
    notifier: Arc<Notifier>,
    receive_id: ReceiveId,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut senders) = self.notifier.senders.lock()
            && senders
                .get(&self.receive_id)
                .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            senders.remove(&self.receive_id);
        }
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/queues/{receive_id}/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    Path(receive_id): Path<String>,
    upgrade: WebSocketUpgrade,
    signed: SignedRequest,
) -> Result<Response> {
    let receive_id = parse_receive_id(&receive_id)?;
    check_proof(&state, &signed, receive_id).await?;
    let subscription = state.push.subscribe(receive_id);
    let shutdown = state.shutdown.clone();
    Ok(upgrade
        .max_message_size(4096)
        .on_upgrade(move |socket| run(socket, subscription, shutdown)))
}

async fn run(
    mut socket: WebSocket,
    mut subscription: Subscription,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    let mut awaiting_pong = false;
    loop {
        tokio::select! {
            received = subscription.receiver.recv() => match received {
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    if socket.send(Message::text(MAIL_FRAME)).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = ping.tick() => {
                if awaiting_pong || socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                awaiting_pong = true;
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => break,
        }
    }
}
