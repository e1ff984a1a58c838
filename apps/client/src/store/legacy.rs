//! Converts a Satchel 0.1 store (schema 2, everything in the clear) to schema 3 inside
//! the migration's transaction: every row is read, the plaintext tables are dropped,
//! and the rows are written again through [`Writer`], encrypted.
//!
//! Sessions whose state no longer loads (a protocol version this build cannot speak)
//! are dropped: the next message to that person starts a new session. Messages keep
//! their conversation when the peer's account key is known from a session or the
//! directory; otherwise they are kept under their own legacy conversation.

use std::collections::HashMap;

use rusqlite::Connection;
use satchel_core::Session;

use super::cipher::StoreCipher;
use super::records::{ContactRecord, MessageRecord};
use super::schema;
use super::sqlite::{StoreError, Writer};

type Row<T> = Result<T, rusqlite::Error>;

fn id16(bytes: Vec<u8>) -> [u8; 16] {
    bytes.try_into().unwrap_or([0u8; 16])
}

fn u64_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(crate) fn convert(tx: &Connection, cipher: &StoreCipher) -> Result<(), StoreError> {
    let meta: Vec<(String, Vec<u8>)> = tx
        .prepare("SELECT key, value FROM meta")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Row<_>>()?;
    let sessions: Vec<(Vec<u8>, Option<Vec<u8>>)> = tx
        .prepare("SELECT state, peer_certificate FROM sessions ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Row<_>>()?;
    let messages: Vec<MessageRecord> = tx
        .prepare(
            "SELECT peer_account, outgoing, message_id, sender_name, sender_role, verified, body, sent_at, stored_at
             FROM messages ORDER BY id",
        )?
        .query_map([], |r| {
            Ok(MessageRecord {
                peer_account: id16(r.get(0)?),
                outgoing: r.get(1)?,
                message_id: id16(r.get(2)?),
                sender_name: r.get(3)?,
                sender_role: r.get(4)?,
                verified: r.get(5)?,
                body: r.get(6)?,
                sent_at: u64_of(r.get(7)?),
                stored_at: u64_of(r.get(8)?),
            })
        })?
        .collect::<Row<_>>()?;
    let contacts: Vec<ContactRecord> = tx
        .prepare(
            "SELECT entry_id, account_id, device_id, name, role, classes, certificate, bundle, bundle_id, updated_at
             FROM contacts",
        )?
        .query_map([], |r| {
            Ok(ContactRecord {
                entry_id: id16(r.get(0)?),
                account_id: id16(r.get(1)?),
                device_id: id16(r.get(2)?),
                name: r.get(3)?,
                role: r.get(4)?,
                classes: r
                    .get::<_, String>(5)?
                    .split('\n')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                certificate: r.get(6)?,
                bundle: r.get(7)?,
                bundle_id: id16(r.get(8)?),
                updated_at: u64_of(r.get(9)?),
                // Filled by the next directory refresh.
                grant_id: [0; 16],
                account_key: [0; 32],
            })
        })?
        .collect::<Row<_>>()?;
    let outbox: Vec<(Vec<u8>, i64)> = tx
        .prepare("SELECT envelope, created_at FROM outbox ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Row<_>>()?;

    tx.execute_batch(
        "DROP TABLE meta; DROP TABLE sessions; DROP TABLE messages;
         DROP TABLE contacts; DROP TABLE outbox;",
    )?;
    tx.execute_batch(schema::V3)?;

    let writer = Writer::within(tx, cipher);
    for (key, value) in &meta {
        writer.set_meta(key, value)?;
    }
    // Where each peer account's conversation lives: from sessions, then the directory.
    let mut conversations = HashMap::new();
    for (state, certificate) in &sessions {
        let Ok(session) = Session::from_bytes(state) else {
            continue; // a state this build cannot speak: a new session starts next time
        };
        conversations.insert(
            *session.peer().account_id().as_bytes(),
            writer.conversation_of(session.peer()),
        );
        writer.insert_session(&session, certificate.as_deref(), true)?;
    }
    for contact in &contacts {
        if let Ok(bundle) = satchel_core::PrekeyBundle::from_bytes(&contact.bundle) {
            conversations
                .entry(contact.account_id)
                .or_insert_with(|| writer.conversation_of(bundle.device()));
        }
    }
    writer.replace_contacts(&contacts)?;
    for message in &messages {
        let conversation = match conversations.get(&message.peer_account) {
            Some(conversation) => *conversation,
            None => writer.legacy_conversation(&message.peer_account),
        };
        writer.put_message(&conversation, message)?;
    }
    for (envelope, created_at) in &outbox {
        writer.push_outbox(envelope, u64_of(*created_at))?;
    }
    Ok(())
}
