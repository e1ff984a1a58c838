//! `--announce`: one announcement to every device of a school, end to end.
//!
//! The generator holds the state of every recipient device (a queue and a group
//! session with the author's sender key, as a member's app would after the key came
//! over the pairwise session). Per round the author encrypts one 100-byte announcement
//! and makes one shared deposit naming every recipient's queue; then, as if a push had
//! reached them all at once, the recipients (over `--fetchers` connections) fetch their
//! queue, decrypt, and acknowledge. Reported: the author's send (encryption + upload,
//! until the relay's durable answer), each recipient's delivery time from the start of
//! the send, and the bytes the relay stores per announcement — against a 1:1 fan-out of
//! the same text (one pairwise ratchet encryption and one stored envelope per device,
//! deposited in batches of 1,000), measured in the same run.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::StatusCode;
use satchel_core::group::{GroupId, GroupSession, SenderDevice};
use satchel_core::{QueueKeys, os_rng};
use satchel_relay_api::{FetchResponse, paths};
use tokio::sync::Mutex;

use super::{Conn, Error, micros, percentile_ms};

const NOW: u64 = 1_767_225_600;
const TEXT: [u8; 100] = [0x61; 100];

/// What a recipient device holds.
struct Device {
    queue: QueueKeys,
    group: GroupSession,
}

/// The sending end of a confirmed pairwise session (its steady state: no first contact,
/// no announcement), for the fan-out baseline.
fn confirmed_sender() -> Result<satchel_core::Session, Error> {
    let mut rng = os_rng();
    let alice = satchel_core::Account::new(&mut rng);
    let mut bob = satchel_core::Account::new(&mut rng);
    let bundle = bob.prekey_bundle_with_one_time_prekey(&mut rng);
    let mut to_bob = satchel_core::Session::initiate(&alice, &bundle, &mut rng)?;
    let first = to_bob.encrypt(b"first", &mut rng)?;
    let contact = bob.open_first_contact(&first)?;
    let mut to_alice = bob.accept(&contact, &mut rng)?.session;
    let reply = to_alice.encrypt(b"reply", &mut rng)?;
    to_bob.decrypt(&reply)?;
    let again = to_bob.encrypt(b"again", &mut rng)?;
    to_alice.decrypt(&again)?;
    Ok(to_bob)
}

/// The relay's stored bytes for undelivered messages: message rows' envelopes plus shared
/// bodies.
fn stored_bytes(database: &std::path::Path) -> Result<(i64, i64), Error> {
    let conn = rusqlite::Connection::open_with_flags(
        database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let rows: i64 = conn.query_row(
        "SELECT coalesce(sum(length(envelope)), 0) FROM messages",
        [],
        |r| r.get(0),
    )?;
    let bodies: i64 = conn.query_row(
        "SELECT coalesce(sum(length(content)), 0) FROM bodies",
        [],
        |r| r.get(0),
    )?;
    Ok((rows, bodies))
}

/// Drains every queue (fetch, decrypt with `decrypt`, ack); returns each device's
/// completion time in microseconds since `start`.
async fn drain(
    addr: std::net::SocketAddr,
    devices: Arc<Vec<Mutex<Device>>>,
    fetchers: usize,
    start: Instant,
    group: bool,
) -> Result<Vec<u64>, Error> {
    let mut tasks = Vec::with_capacity(fetchers);
    for first in 0..fetchers {
        let devices = Arc::clone(&devices);
        let mut conn = Conn::open(addr).await?;
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for device in devices.iter().skip(first).step_by(fetchers) {
                let mut device = device.lock().await;
                let receive_id = hex::encode(device.queue.receive_id().as_bytes());
                let path = paths::queue_messages(&receive_id, 0, 100);
                let (status, body) = conn
                    .queue_request(&device.queue, "GET", &path, Vec::new())
                    .await?;
                if status != StatusCode::OK {
                    return Err(format!("fetch: {status}").into());
                }
                let answer: FetchResponse = serde_json::from_slice(&body)?;
                let mut ids = Vec::new();
                for message in &answer.messages {
                    ids.push(message.id);
                    if group {
                        let envelope = base64::Engine::decode(
                            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                            &message.envelope,
                        )?;
                        let inner = satchel_core::group::group_message_in(&envelope)
                            .ok_or("not a group envelope")?;
                        let read = device.group.decrypt(inner)?;
                        if read.plaintext != TEXT {
                            return Err("wrong plaintext".into());
                        }
                    }
                }
                if ids.is_empty() {
                    return Err("a device found no message".into());
                }
                let body = serde_json::to_vec(&satchel_relay_api::AckRequest { ids })?;
                let (status, _) = conn
                    .queue_request(&device.queue, "POST", &paths::queue_ack(&receive_id), body)
                    .await?;
                if status != StatusCode::NO_CONTENT {
                    return Err(format!("ack: {status}").into());
                }
                done.push(micros(start.elapsed()));
            }
            Ok::<_, Error>(done)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

pub(crate) async fn run(
    addr: std::net::SocketAddr,
    queues: Vec<QueueKeys>,
    rounds: usize,
    fetchers: usize,
    database: &std::path::Path,
) -> Result<(), Error> {
    let mut rng = os_rng();
    let id = GroupId::random(&mut rng);
    let mut author = GroupSession::new(id, SenderDevice::from_bytes([0xAA; 32]), NOW, &mut rng);
    let key = author.distribution();
    let devices: Vec<Mutex<Device>> = queues
        .into_iter()
        .enumerate()
        .map(|(n, queue)| {
            let mut device_key = [0u8; 32];
            device_key[..8].copy_from_slice(&(n as u64).to_be_bytes());
            let mut group =
                GroupSession::new(id, SenderDevice::from_bytes(device_key), NOW, &mut os_rng());
            group.receive_distribution(author.own_device(), &key)?;
            Ok(Mutex::new(Device { queue, group }))
        })
        .collect::<Result<_, Error>>()?;
    let count = devices.len();
    let send_ids: Vec<[u8; 16]> = {
        let mut ids = Vec::with_capacity(count);
        for device in &devices {
            ids.push(*device.lock().await.queue.send_id().as_bytes());
        }
        ids
    };
    let devices = Arc::new(devices);
    let mut author_conn = Conn::open(addr).await?;
    let mut send_us = Vec::new();
    let mut delivery_us = Vec::new();
    let mut stored = (0, 0);
    for round in 0..rounds {
        let start = Instant::now();
        let message = author.encrypt(&TEXT, NOW)?;
        let body = satchel_relay_api::shared_deposit::encode(&send_ids, &message)?;
        let (status, answer) = author_conn
            .request(
                "POST",
                paths::ENVELOPES_SHARED,
                "application/octet-stream",
                None,
                Bytes::from(body),
            )
            .await?;
        send_us.push(micros(start.elapsed()));
        if status != StatusCode::OK || answer.windows(7).any(|w| w == b"\"error\"") {
            return Err(format!(
                "shared deposit: {status} {}",
                String::from_utf8_lossy(&answer)
            )
            .into());
        }
        if round == 0 {
            stored = stored_bytes(database)?;
        }
        delivery_us.extend(drain(addr, Arc::clone(&devices), fetchers, start, true).await?);
    }

    // The 1:1 fan-out of the same text: the author's pairwise encryptions (a confirmed
    // session's steady state, one per device) and batch deposits of 1,000.
    let mut pair = confirmed_sender()?;
    let mut fanout_send_us = Vec::new();
    let mut fanout_stored = 0;
    for round in 0..rounds {
        let start = Instant::now();
        let mut frames = Vec::with_capacity(count);
        for send_id in &send_ids {
            let envelope = pair.encrypt(&TEXT, &mut rng)?;
            let mut bytes = envelope.into_bytes();
            // Addressed to each device's queue (a real fan-out has one session per
            // device; the cost per message is the same).
            if let Some(prefix) = bytes.get_mut(1..17) {
                prefix.copy_from_slice(send_id);
            }
            frames.push(bytes);
        }
        for chunk in frames.chunks(1_000) {
            let mut body = Vec::new();
            for envelope in chunk {
                body.extend_from_slice(&u32::try_from(envelope.len())?.to_be_bytes());
                body.extend_from_slice(envelope);
            }
            let (status, _) = author_conn
                .request(
                    "POST",
                    paths::ENVELOPES_BATCH,
                    "application/octet-stream",
                    None,
                    Bytes::from(body),
                )
                .await?;
            if status != StatusCode::OK {
                return Err(format!("batch deposit: {status}").into());
            }
        }
        fanout_send_us.push(micros(start.elapsed()));
        if round == 0 {
            fanout_stored = stored_bytes(database)?.0;
        }
        drain(addr, Arc::clone(&devices), fetchers, start, false).await?;
    }

    send_us.sort_unstable();
    delivery_us.sort_unstable();
    fanout_send_us.sort_unstable();
    let (rows, bodies) = stored;
    let shared_total = rows + bodies;
    println!(
        "announce {count} devices x {rounds}: send p50 {:.1} ms max {:.1} ms; delivered p50 {:.1} ms p99 {:.1} ms max {:.1} ms; stored {shared_total} bytes ({rows} in rows, {bodies} body)",
        percentile_ms(&send_us, 0.5),
        percentile_ms(&send_us, 1.0),
        percentile_ms(&delivery_us, 0.5),
        percentile_ms(&delivery_us, 0.99),
        percentile_ms(&delivery_us, 1.0),
    );
    println!(
        "fan-out  {count} devices x {rounds}: send p50 {:.1} ms max {:.1} ms; stored {fanout_stored} bytes ({:.1}x the shared deposit)",
        percentile_ms(&fanout_send_us, 0.5),
        percentile_ms(&fanout_send_us, 1.0),
        fanout_stored as f64 / shared_total.max(1) as f64,
    );
    println!(
        "{}",
        serde_json::json!({
            "phase": "announce", "devices": count, "rounds": rounds,
            "send_p50_ms": percentile_ms(&send_us, 0.5), "send_max_ms": percentile_ms(&send_us, 1.0),
            "delivered_p50_ms": percentile_ms(&delivery_us, 0.5),
            "delivered_p99_ms": percentile_ms(&delivery_us, 0.99),
            "delivered_max_ms": percentile_ms(&delivery_us, 1.0),
            "stored_bytes": shared_total, "stored_row_bytes": rows, "stored_body_bytes": bodies,
            "fanout_send_p50_ms": percentile_ms(&fanout_send_us, 0.5),
            "fanout_stored_bytes": fanout_stored,
        })
    );
    Ok(())
}
