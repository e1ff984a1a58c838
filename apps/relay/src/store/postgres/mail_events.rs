//! "New mail" between relay processes that share one database: LISTEN/NOTIFY.
//!
//! After the writer commits a batch that filled queues, [`Publisher`] sends one
//! `NOTIFY satchel_mail` for the batches committed within [`GATHER`] (more only past the
//! 8,000-byte payload limit) on its own connection with `synchronous_commit = off`. It sends after the commit, never in
//! it: a NOTIFY inside a durable transaction holds a global lock through the commit's
//! fsync and serializes every notifying commit of every relay. The payload is the
//! sending relay's random instance id and the receive ids (hex); receive ids are what
//! the shared database already holds, and nothing else is sent.
//!
//! [`listen`] runs one thread per relay on its own connection, hands other relays' ids
//! to the [`MailSink`] (the WebSocket notifier) and skips its own. A notification is
//! lost while the listener is disconnected, so after every (re)connect it asks the sink
//! to look again ([`MailSink::resync`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::{Client, NoTls, Statement};
use satchel_core::ReceiveId;

use super::super::{BackgroundTasks, MailSink, StoreError};

/// The channel name.
const CHANNEL: &str = "satchel_mail";

/// Receive ids per notification: 16 hex characters of instance id, then 32 per id,
/// under PostgreSQL's 8,000-byte payload limit.
const IDS_PER_NOTIFICATION: usize = 240;

/// How long the publisher lets committed batches gather before it announces them: one
/// notification then covers every batch of those milliseconds (under load a batch
/// commits every millisecond or two, and each notification costs a round trip and work
/// in every listening relay). Other relays' WebSockets hear of mail this much later.
const GATHER: Duration = Duration::from_millis(5);

/// How long the listener waits between attempts to reconnect.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Sends the receive ids of committed deposits to the publishing thread.
#[derive(Debug)]
pub(super) struct Publisher {
    ids: mpsc::Sender<Vec<ReceiveId>>,
    instance: String,
}

impl Publisher {
    /// Starts the publishing thread; it connects when it first has something to send.
    pub(super) fn start(config: postgres::Config) -> std::io::Result<Self> {
        let mut random = [0u8; 8];
        rand_instance(&mut random);
        let instance = hex::encode(random);
        let (ids, receiver) = mpsc::channel();
        let own = instance.clone();
        std::thread::Builder::new()
            .name("satchel-notify".to_owned())
            .spawn(move || publish_loop(&config, &own, &receiver))?;
        Ok(Self { ids, instance })
    }

    /// This relay process's instance id (hex), which its listener skips.
    pub(super) fn instance(&self) -> String {
        self.instance.clone()
    }

    /// Queues the ids a committed batch filled (nothing if none).
    pub(super) fn publish(&self, filled: Vec<ReceiveId>) {
        if !filled.is_empty() {
            // The thread stops only when the store is dropped.
            let _ = self.ids.send(filled);
        }
    }
}

fn rand_instance(bytes: &mut [u8; 8]) {
    use rand_core::Rng as _;
    satchel_core::os_rng().fill_bytes(bytes);
}

fn publish_loop(
    config: &postgres::Config,
    instance: &str,
    receiver: &mpsc::Receiver<Vec<ReceiveId>>,
) {
    let mut client: Option<(Client, Statement)> = None;
    while let Ok(first) = receiver.recv() {
        std::thread::sleep(GATHER);
        let mut ids = first;
        while let Ok(more) = receiver.try_recv() {
            ids.extend(more);
        }
        ids.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        ids.dedup();
        // One retry on a fresh connection; after that the ids are dropped (WebSocket
        // clients of other relays then see the mail at their next fetch).
        for _ in 0..2 {
            match send(config, &mut client, instance, &ids) {
                Ok(()) => break,
                Err(error) => {
                    client = None;
                    tracing::warn!(%error, "could not announce new mail to the other relays");
                }
            }
        }
    }
}

fn send(
    config: &postgres::Config,
    client: &mut Option<(Client, Statement)>,
    instance: &str,
    ids: &[ReceiveId],
) -> Result<(), StoreError> {
    let (connected, statement) = match client.take() {
        Some(existing) if !existing.0.is_closed() => client.insert(existing),
        _ => {
            let mut fresh = config.connect(NoTls)?;
            fresh.batch_execute("SET synchronous_commit = off")?;
            let statement = fresh.prepare("SELECT pg_notify($1, $2)")?;
            client.insert((fresh, statement))
        }
    };
    for chunk in ids.chunks(IDS_PER_NOTIFICATION) {
        let mut payload = String::with_capacity(instance.len() + 32 * chunk.len());
        payload.push_str(instance);
        for id in chunk {
            payload.push_str(&hex::encode(id.as_bytes()));
        }
        connected.query(&*statement, &[&CHANNEL, &payload])?;
    }
    Ok(())
}

/// Starts the listening thread.
pub(super) fn listen(
    config: postgres::Config,
    instance: String,
    sink: Arc<dyn MailSink>,
) -> Result<BackgroundTasks, StoreError> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("satchel-listen".to_owned())
        .spawn(move || listen_loop(&config, &instance, sink.as_ref(), &flag))
        .map_err(|error| StoreError::Backend(Box::new(error)))?;
    Ok(BackgroundTasks::new(stop))
}

fn listen_loop(config: &postgres::Config, instance: &str, sink: &dyn MailSink, stop: &AtomicBool) {
    let mut was_connected = true;
    while !stop.load(Ordering::Relaxed) {
        match listen_once(config, instance, sink, stop) {
            Ok(()) => return,
            Err(error) => {
                if was_connected {
                    tracing::warn!(%error, "lost the database's new-mail announcements; reconnecting");
                }
                was_connected = false;
                std::thread::sleep(RECONNECT_DELAY);
            }
        }
    }
}

/// Listens until `stop` (Ok) or the connection fails (Err).
fn listen_once(
    config: &postgres::Config,
    instance: &str,
    sink: &dyn MailSink,
    stop: &AtomicBool,
) -> Result<(), StoreError> {
    let mut client = config.connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    // Anything announced while we were not listening is lost: look again.
    sink.resync();
    let mut ids = Vec::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        {
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(Duration::from_secs(1));
            while let Some(notification) = waiting.next()? {
                ids.clear();
                parse_payload(notification.payload(), instance, &mut ids);
                if !ids.is_empty() {
                    sink.mail(&ids);
                }
            }
        }
        if client.is_closed() {
            return Err(StoreError::Unavailable(
                "the listening connection closed".to_owned(),
            ));
        }
    }
}

/// Reads a payload into `ids`; its own instance's and malformed ones yield nothing.
fn parse_payload(payload: &str, instance: &str, ids: &mut Vec<ReceiveId>) {
    let Some((sender, rest)) = payload.split_at_checked(instance.len()) else {
        return;
    };
    if sender == instance || rest.len() % 32 != 0 {
        return;
    }
    for start in (0..rest.len()).step_by(32) {
        let Some(hex_id) = rest.get(start..start + 32) else {
            return;
        };
        let mut id = [0u8; 16];
        if hex::decode_to_slice(hex_id, &mut id).is_err() {
            return;
        }
        ids.push(ReceiveId::from_bytes(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_of_other_relays_are_read_and_our_own_skipped() {
        let mut ids = Vec::new();
        let one = hex::encode([1u8; 16]);
        let two = hex::encode([2u8; 16]);
        parse_payload(
            &format!("aaaaaaaaaaaaaaaa{one}{two}"),
            "bbbbbbbbbbbbbbbb",
            &mut ids,
        );
        assert_eq!(
            ids,
            [
                ReceiveId::from_bytes([1; 16]),
                ReceiveId::from_bytes([2; 16])
            ]
        );
        ids.clear();
        parse_payload(
            &format!("bbbbbbbbbbbbbbbb{one}"),
            "bbbbbbbbbbbbbbbb",
            &mut ids,
        );
        assert!(ids.is_empty());
        parse_payload("short", "bbbbbbbbbbbbbbbb", &mut ids);
        parse_payload(
            &format!("aaaaaaaaaaaaaaaa{one}x"),
            "bbbbbbbbbbbbbbbb",
            &mut ids,
        );
        parse_payload(
            "aaaaaaaaaaaaaaaazzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "bbbbbbbbbbbbbbbb",
            &mut ids,
        );
        assert!(ids.is_empty());
    }
}
