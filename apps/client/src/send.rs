//! Sending: one message to every device of one person, stored (with the advanced
//! session) before anything goes to the relay, then deposited from the outbox.
//!
//! A session is chosen by the peer's *full* identity — account id, account key, device
//! id and device keys — exactly as the school directory lists it. A first contact from
//! someone who reuses a known id under other keys creates a session with *them*, which
//! is never used to send to the person the directory names.

use prost::Message as _;
use satchel_core::school::{SenderStatus, UnverifiedReason};
use satchel_core::{
    AccountId, BundleId, DeviceCertificate, PrekeyBundle, Session, os_rng, preferred_session,
};
use satchel_proto::v1 as pb;

use crate::client::{Client, now_millis};
use crate::error::ClientError;
use crate::relay::{PrekeyTake, RelayClient, RelayError};
use crate::store::{ContactRecord, MessageRecord, StoreError, StoredSessionRow, Writer};
use satchel_relay_api::ErrorCode;

/// How often a send that lost a race with another writer starts again.
const MAX_ATTEMPTS: usize = 8;

/// How [`Client::send_with`] may send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// Send even though the school does not vouch for the recipient now (revoked,
    /// expired, no valid certificate). The person asked for it explicitly.
    pub allow_unverified: bool,
}

impl SendOptions {
    /// The defaults: only to recipients the school vouches for.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows sending to a recipient the school does not vouch for.
    #[must_use]
    pub fn allow_unverified(mut self) -> Self {
        self.allow_unverified = true;
        self
    }
}

/// What [`Client::send`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SendReport {
    /// Whether the relay has the message now (`false`: it waits in the outbox and goes
    /// out with the next send or sync — it is not lost).
    pub delivered_to_relay: bool,
    /// Outbox envelopes (this message's and older ones) still waiting for the relay.
    pub pending: usize,
    /// Outbox envelopes the relay refused for good (the recipient's inbox no longer
    /// exists); the messages stay in the history.
    pub undeliverable: usize,
    /// New conversations this send started without a one-time prekey (the recipient's
    /// device had none left, this device took too many recently, or the one handed out
    /// was refused). They work; only the first message's forward secrecy rests on the
    /// recipient's signed prekeys alone.
    pub without_one_time_prekey: usize,
    /// One-time prekeys refused because their signature did not verify for the
    /// recipient's device and bundle (a fake, or a copy placed under another bundle id):
    /// a sign that someone tampers with the directory or the relay. Counted in
    /// `without_one_time_prekey` too.
    pub refused_one_time_prekeys: usize,
}

/// How a new session got (or did not get) a one-time prekey.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct OneTimeUse {
    without: usize,
    refused: usize,
}

/// The outcome of depositing the outbox.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flushed {
    pub(crate) deposited: usize,
    pub(crate) pending: usize,
    pub(crate) undeliverable: usize,
}

/// The preferred session among rows with one peer (both sides converge on the lowest id).
fn preferred(rows: Vec<StoredSessionRow>) -> Option<StoredSessionRow> {
    rows.into_iter().reduce(|a, b| {
        if preferred_session(a.session.id(), b.session.id()) == a.session.id() {
            a
        } else {
            b
        }
    })
}

impl Client {
    /// Sends `text` to the person `to` (every device of theirs). The message is stored
    /// before anything goes to the relay; if the relay is unreachable it stays in the
    /// outbox and is sent by the next [`Client::send`] or [`Client::sync`].
    ///
    /// Refuses, before anything is stored or sent, when the school no longer vouches
    /// for this device's own membership ([`ClientError::MembershipEnded`]) or for the
    /// recipient ([`ClientError::RecipientNotVerified`]; see [`Client::send_with`] to
    /// send anyway). The revocation list is refreshed first when the relay answers.
    ///
    /// # Errors
    /// [`ClientError::EmptyMessage`], [`ClientError::UnknownContact`],
    /// [`ClientError::AmbiguousContact`], [`ClientError::MembershipEnded`],
    /// [`ClientError::RecipientNotVerified`], protocol or store errors. A relay that
    /// cannot be reached is not an error: see [`SendReport::delivered_to_relay`].
    pub async fn send(&mut self, to: &str, text: &str) -> Result<SendReport, ClientError> {
        self.send_with(to, text, SendOptions::new()).await
    }

    /// [`Client::send`] with options.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn send_with(
        &mut self,
        to: &str,
        text: &str,
        options: SendOptions,
    ) -> Result<SendReport, ClientError> {
        if text.trim().is_empty() {
            return Err(ClientError::EmptyMessage);
        }
        self.check_before_sending().await?;
        let mut targets = self.resolve_fresh(to).await?;
        if !options.allow_unverified && self.check_recipient(to, &targets).is_err() {
            // The local directory may predate the recipient's admission or a renewed
            // certificate: look again before refusing.
            match self.refresh_directory().await {
                Ok(()) | Err(ClientError::Relay(_)) => {}
                Err(error) => return Err(error),
            }
            targets = self.resolve(to)?;
            self.check_recipient(to, &targets)?;
        }
        let relay = self.relay()?;
        let mut message_id = [0u8; 16];
        rand_core::Rng::fill_bytes(&mut os_rng(), &mut message_id);
        let sent_at = now_millis();
        let content = zeroize::Zeroizing::new(
            pb::Content {
                message_id: message_id.to_vec(),
                sent_at,
                body: Some(pb::content::Body::Text(pb::Text {
                    text: text.to_string(),
                })),
            }
            .encode_to_vec(),
        );
        let me = self.profile()?.member.grant().details().clone();
        let mut one_time = OneTimeUse::default();
        for contact in &targets {
            let bundle = PrekeyBundle::from_bytes(&contact.bundle)
                .map_err(|e| ClientError::Directory(e.into()))?;
            let peer = bundle.device().clone();
            self.ensure_session(&relay, contact, &peer, &mut one_time)
                .await?;
            let record = MessageRecord {
                peer_account: contact.account_id,
                outgoing: true,
                message_id,
                sender_name: me.display_name.clone(),
                sender_role: me.role.as_str().to_string(),
                verified: true,
                body: text.to_string(),
                sent_at,
                stored_at: sent_at,
            };
            self.encrypt_and_store(&peer, &content, Some(&record))?;
        }
        let flushed = self.flush_outbox(&relay).await?;
        Ok(SendReport {
            delivered_to_relay: flushed.pending == 0,
            pending: flushed.pending,
            undeliverable: flushed.undeliverable,
            without_one_time_prekey: one_time.without,
            refused_one_time_prekeys: one_time.refused,
        })
    }

    /// Before anything is sent (to a person or a group): a fresh revocation list and
    /// admission if the relay answers (offline, the ones we have: the message then waits
    /// in the outbox, as always), then refuses if the school no longer vouches for this
    /// device's own membership or has not confirmed it yet.
    pub(crate) async fn check_before_sending(&mut self) -> Result<(), ClientError> {
        match self.refresh_revocations().await {
            Ok(()) | Err(ClientError::Relay(_)) => {}
            Err(error) => return Err(error),
        }
        // Not admitted yet when last asked: ask again (the office may have synced).
        match self.refresh_admission().await {
            Ok(_) | Err(ClientError::Relay(_)) => {}
            Err(error) => return Err(error),
        }
        self.check_own_membership()
    }

    /// Refuses when the school no longer vouches for this device's own membership.
    fn check_own_membership(&self) -> Result<(), ClientError> {
        let profile = self.profile()?;
        let account = self.account()?;
        match self.status_of(Some(&profile.member.to_bytes()), account.certificate())? {
            SenderStatus::Verified(_) => Ok(()),
            SenderStatus::Unverified(UnverifiedReason::NotAdmitted) => {
                Err(ClientError::NotYetAdmitted)
            }
            SenderStatus::Unverified(reason) => Err(ClientError::MembershipEnded { reason }),
        }
    }

    /// Refuses when the school does not vouch for the person `targets` names now.
    fn check_recipient(&self, to: &str, targets: &[ContactRecord]) -> Result<(), ClientError> {
        for contact in targets {
            let bundle = PrekeyBundle::from_bytes(&contact.bundle)
                .map_err(|e| ClientError::Directory(e.into()))?;
            if let SenderStatus::Unverified(reason) =
                self.status_of(Some(&contact.certificate), bundle.device())?
            {
                return Err(ClientError::RecipientNotVerified {
                    name: to.trim().to_owned(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Makes sure a session with exactly `peer` exists and its inbound queue is on the
    /// relay. A new session's queue is created before the session is stored, so a reply
    /// always has somewhere to go.
    async fn ensure_session(
        &mut self,
        relay: &RelayClient,
        contact: &ContactRecord,
        peer: &DeviceCertificate,
        one_time: &mut OneTimeUse,
    ) -> Result<(), ClientError> {
        let existing = self
            .store
            .write(|w| Ok::<_, ClientError>(preferred(w.sessions_with(peer)?)))?;
        if let Some(row) = existing {
            if !row.queue_ready {
                relay.create_queue(row.session.inbound_queue()).await?;
                self.store.write(|w| w.set_queue_ready(&row.session))?;
            }
            return Ok(());
        }
        let account = self.account()?;
        let profile = self.profile()?;
        let member = profile.member.to_bytes();
        // The directory's copy never carries a one-time prekey (core drops one there).
        let bundle = PrekeyBundle::from_bytes(&contact.bundle)
            .and_then(|b| {
                b.expect_account(
                    &AccountId::from_bytes(contact.account_id),
                    peer.account_key(),
                )
            })
            .map_err(|e| ClientError::Directory(e.into()))?
            .without_one_time_prekey();
        let bundle_id = BundleId::from_bytes(contact.bundle_id);
        let bundle = match relay.take_prekey(&bundle_id, &profile.member_key).await {
            Ok(PrekeyTake::Taken(key)) => {
                match bundle.clone().with_one_time_prekey(&bundle_id, &key) {
                    Ok(with) => with,
                    // A fake, or a genuine key copied under another bundle id: using it
                    // would make the recipient refuse the first contact. Start without.
                    Err(_) => {
                        one_time.refused += 1;
                        one_time.without += 1;
                        bundle
                    }
                }
            }
            Ok(PrekeyTake::Invalid(_)) => {
                one_time.refused += 1;
                one_time.without += 1;
                bundle
            }
            // None left, or this member took too many recently: the first contact works
            // without one (the recipient's replay cache stands in for it).
            Ok(PrekeyTake::NoneLeft)
            | Err(RelayError::Rejected {
                code: ErrorCode::RateLimited | ErrorCode::Forbidden | ErrorCode::UnknownBundle,
                ..
            }) => {
                one_time.without += 1;
                bundle
            }
            Err(error) => return Err(error.into()),
        };
        let mut session = Session::initiate(&account, &bundle, &mut os_rng())?;
        session.set_sender_certificate(member)?;
        relay.create_queue(session.inbound_queue()).await?;
        self.store.write(|w| {
            // Another process may have started a session with this peer meanwhile: keep
            // theirs (ours was never used; its queue stays empty).
            if w.sessions_with(peer)?.is_empty() {
                w.insert_session(&session, Some(&contact.certificate), true)?;
            }
            Ok::<_, ClientError>(())
        })
    }

    /// Encrypts on the newest stored state of the preferred session with `peer` and
    /// stores the new state, the message and the envelope in one transaction. Retries
    /// from the stored state if another writer got there first.
    fn encrypt_and_store(
        &mut self,
        peer: &DeviceCertificate,
        content: &[u8],
        record: Option<&MessageRecord>,
    ) -> Result<(), ClientError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = self.store.write(|w| encrypt_in(w, peer, content, record));
            match result {
                Err(ClientError::Store(StoreError::Conflict)) if attempts < MAX_ATTEMPTS => {}
                other => return other,
            }
        }
    }

    /// Sends `content` (control content, kept in no history) to each device in
    /// `targets` over its session, starting sessions where needed, then deposits the
    /// outbox. Returns the outbox state after the deposit.
    pub(crate) async fn send_control(
        &mut self,
        targets: &[ContactRecord],
        content: &[u8],
    ) -> Result<Flushed, ClientError> {
        let relay = self.relay()?;
        let mut one_time = OneTimeUse::default();
        for contact in targets {
            let bundle = PrekeyBundle::from_bytes(&contact.bundle)
                .map_err(|e| ClientError::Directory(e.into()))?;
            let peer = bundle.device().clone();
            self.ensure_session(&relay, contact, &peer, &mut one_time)
                .await?;
            self.encrypt_and_store(&peer, content, None)?;
        }
        self.flush_outbox(&relay).await
    }

    /// Deposits what is in the outbox, oldest first. A relay that cannot be reached
    /// leaves the rest for later; nothing is lost.
    pub(crate) async fn flush_outbox(
        &mut self,
        relay: &RelayClient,
    ) -> Result<Flushed, ClientError> {
        let mut flushed = Flushed::default();
        let outbox = self.store.outbox()?;
        let total = outbox.len();
        for (id, bytes) in outbox {
            if let Some((&crate::groups::SHARED_OUTBOX_ITEM, body)) = bytes.split_first() {
                match self.flush_shared(relay, id, body).await? {
                    SharedFlush::Done { undeliverable } => {
                        flushed.deposited += 1;
                        flushed.undeliverable += undeliverable;
                        continue;
                    }
                    SharedFlush::Later => {
                        flushed.pending = total - flushed.deposited - flushed.undeliverable;
                        return Ok(flushed);
                    }
                }
            }
            let Ok(envelope) = satchel_core::Envelope::from_bytes(&bytes) else {
                self.store.outbox_remove(id)?;
                flushed.undeliverable += 1;
                continue;
            };
            match relay.deposit(&envelope).await {
                Ok(_) => {
                    self.store.outbox_remove(id)?;
                    flushed.deposited += 1;
                }
                // The queue is gone (the peer deleted it): this envelope can never be
                // delivered, and keeping it would retry forever.
                Err(RelayError::Rejected {
                    code: ErrorCode::UnknownQueue,
                    ..
                }) => {
                    self.store.outbox_remove(id)?;
                    flushed.undeliverable += 1;
                }
                Err(error) if error.is_transient() => {
                    flushed.pending = total - flushed.deposited - flushed.undeliverable;
                    return Ok(flushed);
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(flushed)
    }
}

/// What became of one shared deposit in the outbox.
enum SharedFlush {
    /// Out of the outbox: deposited (some queues may be gone for good).
    Done { undeliverable: usize },
    /// The relay could not take it now (or took it for some queues only): what is left
    /// stays in the outbox.
    Later,
}

impl Client {
    /// Deposits one shared outbox item; queues that refused it for now stay in the item.
    async fn flush_shared(
        &mut self,
        relay: &RelayClient,
        id: i64,
        body: &[u8],
    ) -> Result<SharedFlush, ClientError> {
        let Ok((send_ids, message)) = satchel_relay_api::shared_deposit::decode(body) else {
            self.store.outbox_remove(id)?;
            return Ok(SharedFlush::Done { undeliverable: 1 });
        };
        let results = match relay.deposit_shared(body.to_vec()).await {
            Ok(results) => results,
            Err(error) if error.is_transient() => return Ok(SharedFlush::Later),
            Err(error) => return Err(error.into()),
        };
        let mut retry = Vec::new();
        let mut gone = 0;
        for (send_id, result) in send_ids.iter().zip(results) {
            match result {
                satchel_relay_api::BatchItemResult::Stored { .. } => {}
                satchel_relay_api::BatchItemResult::Failed { error } if error.is_transient() => {
                    retry.push(*send_id);
                }
                satchel_relay_api::BatchItemResult::Failed { .. } => gone += 1,
            }
        }
        if retry.is_empty() {
            self.store.outbox_remove(id)?;
            return Ok(SharedFlush::Done {
                undeliverable: usize::from(gone > 0),
            });
        }
        let body = satchel_relay_api::shared_deposit::encode(&retry, message)
            .map_err(|_| StoreError::Corrupted("shared deposit"))?;
        let mut item = Vec::with_capacity(1 + body.len());
        item.push(crate::groups::SHARED_OUTBOX_ITEM);
        item.extend_from_slice(&body);
        self.store.write(|w| w.replace_outbox(id, &item))?;
        Ok(SharedFlush::Later)
    }
}

fn encrypt_in(
    w: &mut Writer<'_>,
    peer: &DeviceCertificate,
    content: &[u8],
    record: Option<&MessageRecord>,
) -> Result<(), ClientError> {
    // Read under the write lock: nobody else can advance this session until we commit.
    let mut row =
        preferred(w.sessions_with(peer)?).ok_or(ClientError::Store(StoreError::Conflict))?;
    let envelope = row.session.encrypt(content, &mut os_rng())?;
    w.update_session(&mut row)?;
    // Control content (a directory key) goes out without a line in the history.
    let queued_at = match record {
        Some(record) => {
            let conversation = w.conversation_of(peer);
            w.put_message(&conversation, record)?;
            record.stored_at
        }
        None => now_millis(),
    };
    w.push_outbox(envelope.as_bytes(), queued_at)?;
    Ok(())
}

impl Client {
    /// How many outgoing envelopes wait in the outbox for the relay (it was unreachable
    /// or refused for now). [`Client::sync`] and every send retry them; an app shows
    /// "waiting to send" while this is not 0.
    ///
    /// # Errors
    /// Store errors.
    pub fn waiting_to_send(&self) -> Result<usize, ClientError> {
        Ok(self.store.outbox()?.len())
    }

    /// When the oldest envelope still waiting for the relay was queued (Unix
    /// milliseconds, this device's clock), `None` if nothing waits: this device's
    /// messages sent since then may not have reached the relay yet.
    ///
    /// # Errors
    /// Store errors.
    pub fn waiting_since(&self) -> Result<Option<u64>, ClientError> {
        Ok(self.store.outbox_oldest()?)
    }
}
