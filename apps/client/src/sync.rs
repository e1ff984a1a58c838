//! Syncing: fetch every queue's envelopes a page at a time, decrypt and commit the page
//! (messages with their session states) in one transaction, then acknowledge the page.
//!
//! No envelope can stop a sync: one that cannot be used (damaged, forged, replayed, for
//! no conversation of this device, for a session whose stored state is damaged) is
//! dropped with a typed [`DropReason`], acknowledged so it does not come back, and
//! counted in the [`SyncReport`]. Only a failure of the local database or of the
//! network stops a sync — then nothing of the page was acknowledged, and the next sync
//! picks it up again (messages already stored are recognised and not shown twice).

use prost::Message as _;
use satchel_core::school::{
    RevocationList, SchoolKey, SenderStatus, UnverifiedReason, verify_member,
};
use std::collections::HashMap;

use satchel_core::storage::receive::{OpenError, Opened, ReceiveState, open};
use satchel_core::{
    Account, DecryptError, DeviceCertificate, Envelope, FirstContactError, QueueKeys, SendId,
    Session, SessionId, os_rng,
};
use satchel_proto::v1 as pb;

use crate::client::{Client, now_millis, now_secs};
use crate::error::ClientError;
use crate::groups::MemberDevice;
use crate::history::Message;
use crate::relay::{Fetched, RelayClient, RelayError};
use crate::store::{MessageRecord, StoreError, StoredSessionRow, Writer};
use satchel_relay_api::ErrorCode;

/// Meta key: this device's mailbox was created (or marked) as a mailbox on the relay.
const MAILBOX_MARKED: &str = "mailbox-marked";
/// Envelopes fetched, committed and acknowledged together.
const PAGE: u32 = 200;

/// Why an envelope was dropped. It was acknowledged, so it does not come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropReason {
    /// Not a Satchel envelope at all.
    #[error("a damaged envelope (not a Satchel message)")]
    Malformed,
    /// For no conversation of this device (a stale or foreign queue).
    #[error("an envelope for no conversation of this device")]
    NotForThisDevice,
    /// Did not decrypt: damaged, forged, or not meant for this conversation.
    #[error("a message that does not decrypt (damaged or forged)")]
    Undecryptable,
    /// A first contact that was already accepted once.
    #[error("a repeated first contact (a replay)")]
    Replayed,
    /// A first contact for prekeys this device no longer has (too old).
    #[error("a first contact made with keys this device no longer has (too old)")]
    UnknownPrekey,
    /// A first contact whose sender certificate is invalid or claims to be this device.
    #[error("a first contact with an invalid sender")]
    InvalidSender,
    /// Too many messages of the conversation are missing before this one.
    #[error("a message too far ahead of the conversation (too many missing before it)")]
    TooFarAhead,
    /// The message is well-formed but its content is not understood.
    #[error("a malformed message (the sender's app may be faulty)")]
    MalformedContent,
    /// The stored state of its conversation is damaged.
    #[error("a message for a conversation whose local state is damaged")]
    LocalStateDamaged,
    /// A group message, key or update from someone the group does not allow to send it
    /// (not a member, not its creator, not allowed to post, or a key passed on by
    /// another device).
    #[error("a group message from someone the group does not allow to send it")]
    NotAllowedInGroup,
}

impl From<DecryptError> for DropReason {
    fn from(error: DecryptError) -> Self {
        match error {
            DecryptError::Envelope(_) => DropReason::Malformed,
            DecryptError::WrongQueue => DropReason::NotForThisDevice,
            DecryptError::TooFarAhead { .. } => DropReason::TooFarAhead,
            DecryptError::Malformed { .. } => DropReason::MalformedContent,
            _ => DropReason::Undecryptable,
        }
    }
}

impl From<FirstContactError> for DropReason {
    fn from(error: FirstContactError) -> Self {
        match error {
            FirstContactError::Envelope(_) | FirstContactError::Malformed { .. } => {
                DropReason::Malformed
            }
            FirstContactError::NotForThisMailbox => DropReason::NotForThisDevice,
            FirstContactError::Replayed => DropReason::Replayed,
            FirstContactError::UnknownPrekey => DropReason::UnknownPrekey,
            FirstContactError::Certificate(_) | FirstContactError::FromSelf => {
                DropReason::InvalidSender
            }
            _ => DropReason::Undecryptable,
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    /// New messages, in arrival order.
    pub messages: Vec<Message>,
    /// Envelopes dropped, with why; they were acknowledged so they do not come back.
    pub dropped: Vec<DropReason>,
    /// Envelopes fetched from the relay, of any kind (messages, and also group keys,
    /// read confirmations and other control content that has no line in `messages`):
    /// an app redraws when this is not 0.
    pub fetched: usize,
    /// Outgoing envelopes the relay accepted during this sync (sent after an earlier
    /// failure).
    pub flushed: usize,
    /// Outgoing envelopes still waiting for the relay.
    pub pending: usize,
    /// Outgoing envelopes the relay refused for good (the recipient's inbox is gone).
    pub undeliverable: usize,
    /// Queues of this device the relay does not know (deleted or never created); their
    /// conversations cannot receive until they are set up again.
    pub missing_queues: usize,
    /// What prekey maintenance did (one-time prekeys topped up, a scheduled rotation).
    pub prekeys: crate::prekeys::PrekeyReport,
    /// New members the school admin's device admitted during this sync (always 0 on
    /// other devices).
    pub admitted: usize,
}

/// What the school says about senders, for the page being committed.
pub(crate) struct Verifier<'a> {
    root: &'a SchoolKey,
    revocations: Option<&'a RevocationList>,
    now: u64,
    /// Who holds each grant in the local directory (account id and key), read on the
    /// first verified sender of the page.
    holders: std::cell::OnceCell<GrantHolders>,
}

/// Grant id → the account the directory lists under it.
pub(crate) type GrantHolders = HashMap<[u8; 16], ([u8; 16], [u8; 32])>;

/// The holders of grants in `contacts` (records from before 0.2, without a grant id,
/// are left out until the next directory refresh).
pub(crate) fn grant_holders(contacts: &[crate::store::ContactRecord]) -> GrantHolders {
    contacts
        .iter()
        .filter(|c| c.grant_id != [0; 16])
        .map(|c| (c.grant_id, (c.account_id, c.account_key)))
        .collect()
}

/// A genuine certificate presented by an account other than the one the directory lists
/// under its grant: a copied invite code bound to someone else's account.
pub(crate) fn held_by_another(
    status: SenderStatus,
    device: &DeviceCertificate,
    holders: &GrantHolders,
) -> SenderStatus {
    match &status {
        SenderStatus::Verified(member) => match holders.get(member.grant_id.as_bytes()) {
            Some((account, key))
                if account != device.account_id().as_bytes() || key != device.account_key() =>
            {
                SenderStatus::Unverified(UnverifiedReason::HeldByAnother)
            }
            _ => status,
        },
        SenderStatus::Unverified(_) => status,
    }
}

impl<'a> Verifier<'a> {
    /// What the school says about senders at `now`, under `root` and `revocations`.
    pub(crate) fn new(
        root: &'a SchoolKey,
        revocations: Option<&'a RevocationList>,
        now: u64,
    ) -> Self {
        Self {
            root,
            revocations,
            now,
            holders: std::cell::OnceCell::new(),
        }
    }

    pub(crate) fn status(
        &self,
        w: &Writer<'_>,
        certificate: Option<&[u8]>,
        device: &DeviceCertificate,
    ) -> Result<SenderStatus, StoreError> {
        let status = verify_member(self.root, self.revocations, self.now, certificate, device);
        if !status.is_verified() {
            return Ok(status);
        }
        let holders = match self.holders.get() {
            Some(holders) => holders,
            None => {
                let built = grant_holders(&w.contacts()?);
                self.holders.get_or_init(|| built)
            }
        };
        Ok(held_by_another(status, device, holders))
    }
}

/// The outcome of one envelope.
pub(crate) enum Outcome {
    Message(Box<Message>),
    Nothing,
    Dropped(DropReason),
}

impl Client {
    /// Fetches, decrypts, stores and acknowledges everything waiting on the relay, and
    /// sends what is in the outbox.
    ///
    /// # Errors
    /// Network or local database failures (what was committed before stays committed;
    /// nothing uncommitted was acknowledged). Bad envelopes are never an error: see
    /// [`SyncReport::dropped`].
    pub async fn sync(&mut self) -> Result<SyncReport, ClientError> {
        self.reload_profile()?;
        let relay = self.relay()?;
        self.refresh_revocations().await?;
        // A relay that refuses the request (a revoked member; a member key recorded
        // before relays kept grant keys, which a new invite replaces) does not fail
        // the sync: the mail is still read. `Identity::admitted` stays false.
        match self.refresh_admission().await {
            Err(ClientError::Relay(error)) if error.code().is_some() => {}
            other => {
                other?;
            }
        }
        if self.directory_is_stale()? {
            self.refresh_directory().await?;
        }
        let flushed = self.flush_outbox(&relay).await?;
        let mut report = SyncReport {
            flushed: flushed.deposited,
            pending: flushed.pending,
            undeliverable: flushed.undeliverable,
            ..SyncReport::default()
        };
        self.create_pending_queues(&relay).await?;
        // One request asks which queues hold mail; only those are fetched.
        let mailbox = self.mailbox()?;
        // A mailbox created before relays limited first contacts per sender is marked
        // once, so the limit protects it too.
        if self.store.meta(MAILBOX_MARKED)?.is_none() {
            relay.create_mailbox(&mailbox).await?;
            self.store.write(|w| w.set_meta(MAILBOX_MARKED, &[1]))?;
        }
        let mut queues = self.store.ready_queues()?;
        queues.push(mailbox.receive_id());
        let with_mail = relay.pending(&queues).await?.unwrap_or(queues);
        for receive_id in with_mail {
            let keys = if receive_id == mailbox.receive_id() {
                mailbox.clone()
            } else {
                match self.store.session_for_receive(&receive_id)? {
                    Some(row) => row.session.inbound_queue().clone(),
                    None => continue,
                }
            };
            self.sync_queue(&relay, &keys, &mut report).await?;
        }
        // Group messages and keys that waited for a key or a group: try them again.
        for outcome in self.retry_group_waiting()? {
            match outcome {
                Outcome::Message(message) => report.messages.push(*message),
                Outcome::Dropped(reason) => report.dropped.push(reason),
                Outcome::Nothing => {}
            }
        }
        // Sessions this sync accepted: their inbound queues exist before any reply
        // announces them.
        self.create_pending_queues(&relay).await?;
        // A new directory key from the school (after a revocation) is adopted now.
        self.adopt_received_directory_key().await?;
        // The root's device or an office confirms new members, with every directory key
        // it holds by now (a newcomer's request is sealed under the key of its invite).
        report.admitted = if self.acts_for_school()? {
            self.confirm_new_members().await?
        } else {
            0
        };
        // After the mail: first contacts that waited are accepted with the keys they
        // were made for before any rotation.
        // A member the school revoked still reads its mail; the relay refuses its
        // prekey uploads and directory writes, which is not a failed sync.
        // Keys owed to group members, rotations after someone left, and (as a creator)
        // members the school no longer vouches for.
        match self.maintain_groups().await {
            Ok(()) | Err(ClientError::Relay(_)) => {}
            Err(error) => return Err(error),
        }
        report.prekeys = match self.maintain_prekeys(&relay).await {
            Ok(prekeys) => prekeys,
            Err(ClientError::Relay(error))
                if error.code() == Some(ErrorCode::MembershipRevoked) =>
            {
                crate::prekeys::PrekeyReport::default()
            }
            Err(error) => return Err(error),
        };
        Ok(report)
    }

    async fn sync_queue(
        &mut self,
        relay: &RelayClient,
        queue: &QueueKeys,
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        let mut after = 0;
        loop {
            let page = match relay.fetch(queue, after, PAGE).await {
                Ok(page) => page,
                Err(RelayError::Rejected {
                    code: ErrorCode::UnknownQueue,
                    ..
                }) => {
                    report.missing_queues += 1;
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
            };
            report.fetched += page.messages.len();
            let Some(last) = page.messages.iter().map(|f| f.id).max() else {
                return Ok(());
            };
            after = last;
            let outcomes = self.commit_page(&page.messages)?;
            let ids: Vec<u64> = page.messages.iter().map(|f| f.id).collect();
            relay.ack(queue, &ids).await?;
            for outcome in outcomes {
                match outcome {
                    Outcome::Message(message) => report.messages.push(*message),
                    Outcome::Dropped(reason) => report.dropped.push(reason),
                    Outcome::Nothing => {}
                }
            }
            // A page may be cut short by the relay's byte limit: ask again while it
            // says more wait, so one sync delivers everything.
            if !page.more {
                return Ok(());
            }
        }
    }

    /// Decrypts a page and commits everything it changed in one transaction: each
    /// session it touched is loaded once and saved once, each sender verified once.
    fn commit_page(&mut self, page: &[Fetched]) -> Result<Vec<Outcome>, ClientError> {
        let mailbox = self.mailbox()?.send_id();
        let me = self.own_member()?;
        let Client { store, profile, .. } = self;
        let profile = profile.as_ref().ok_or(ClientError::NotEnrolled)?;
        let verifier = Verifier::new(&profile.root_key, profile.revocations.as_ref(), now_secs());
        Ok(store.write(|w| {
            let mut state = PageState::default();
            let mut outcomes = Vec::with_capacity(page.len());
            for fetched in page {
                let outcome =
                    match receive_one(w, &mut state, mailbox, &me, &verifier, &fetched.envelope) {
                        Ok(outcome) => outcome,
                        Err(StoreError::Sqlite(error)) => return Err(StoreError::Sqlite(error)),
                        Err(StoreError::Encrypt(error)) => return Err(StoreError::Encrypt(error)),
                        // Damaged local state for this one conversation: drop, go on.
                        Err(_) => Outcome::Dropped(DropReason::LocalStateDamaged),
                    };
                outcomes.push(outcome);
            }
            for mut row in state
                .sessions
                .into_values()
                .filter(|(_, dirty)| *dirty)
                .map(|(row, _)| row)
            {
                w.update_session(&mut row)?;
            }
            if state.account_changed
                && let Some(account) = &state.account
            {
                w.put_account(account)?;
            }
            Ok::<_, StoreError>(outcomes)
        })?)
    }

    /// Group items that waited, tried again in one transaction.
    fn retry_group_waiting(&mut self) -> Result<Vec<Outcome>, ClientError> {
        let Client { store, profile, .. } = self;
        let profile = profile.as_ref().ok_or(ClientError::NotEnrolled)?;
        let verifier = Verifier::new(&profile.root_key, profile.revocations.as_ref(), now_secs());
        Ok(store.write(|w| crate::groups::receive::retry_waiting(w, &verifier))?)
    }

    /// Creates on the relay the inbound queues of sessions that do not have one yet.
    async fn create_pending_queues(&mut self, relay: &RelayClient) -> Result<(), ClientError> {
        for row in self.store.sessions_without_queue()? {
            match relay.create_queue(row.session.inbound_queue()).await {
                Ok(()) => self.store.write(|w| w.set_queue_ready(&row.session))?,
                // Someone holds this send id with another key: that conversation
                // cannot receive; the others go on.
                Err(RelayError::Rejected {
                    code: ErrorCode::QueueConflict,
                    ..
                }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

/// What a page has loaded and changed so far (written when the page commits).
#[derive(Default)]
struct PageState {
    /// Sessions loaded by this page, with whether they changed.
    sessions: HashMap<SessionId, (StoredSessionRow, bool)>,
    /// Which loaded session owns which inbound queue.
    queues: HashMap<SendId, SessionId>,
    /// Each session's sender status, checked once per page.
    statuses: HashMap<SessionId, SenderStatus>,
    /// The account, loaded for the first first contact.
    account: Option<Account>,
    account_changed: bool,
}

/// The page's state as core's receive path sees it ([`ReceiveState`]): loaded from the
/// page's transaction on first use, kept for the rest of the page.
struct PageReceiver<'p, 'w> {
    w: &'p Writer<'w>,
    state: &'p mut PageState,
    mailbox: SendId,
}

impl PageReceiver<'_, '_> {
    fn cache(&mut self, row: StoredSessionRow) -> &mut Session {
        let id = row.session.id();
        self.state
            .queues
            .insert(row.session.inbound_queue().send_id(), id);
        &mut self
            .state
            .sessions
            .entry(id)
            .or_insert((row, false))
            .0
            .session
    }
}

impl ReceiveState for PageReceiver<'_, '_> {
    type Error = StoreError;

    fn mailbox(&mut self) -> Result<Option<SendId>, StoreError> {
        Ok(Some(self.mailbox))
    }

    fn account(&mut self) -> Result<Option<&Account>, StoreError> {
        if self.state.account.is_none() {
            self.state.account = self.w.account()?;
        }
        Ok(self.state.account.as_ref())
    }

    fn session(&mut self, id: &SessionId) -> Result<Option<&mut Session>, StoreError> {
        if self.state.sessions.contains_key(id) {
            return Ok(self
                .state
                .sessions
                .get_mut(id)
                .map(|(row, _)| &mut row.session));
        }
        Ok(self.w.session(id)?.map(|row| self.cache(row)))
    }

    fn session_for_queue(&mut self, send_id: &SendId) -> Result<Option<&mut Session>, StoreError> {
        if let Some(id) = self.state.queues.get(send_id).copied() {
            return self.session(&id);
        }
        Ok(self
            .w
            .session_for_queue(send_id)?
            .map(|row| self.cache(row)))
    }
}

/// Handles one envelope inside the page's transaction: core's [`open`] against the
/// page's state, then what it changed is recorded (sessions and the account are
/// written when the page commits; a new session and the message now).
fn receive_one(
    w: &Writer<'_>,
    state: &mut PageState,
    mailbox: SendId,
    me: &MemberDevice,
    verifier: &Verifier<'_>,
    bytes: &[u8],
) -> Result<Outcome, StoreError> {
    if let Some(message) = satchel_core::group::group_message_in(bytes) {
        // A group message: on the pairwise queue of its sender's device, or (while
        // that session has no queue yet) on the mailbox.
        let send_id = bytes
            .get(1..17)
            .and_then(|id| <[u8; 16]>::try_from(id).ok())
            .map(SendId::from_bytes);
        let via = match send_id {
            Some(id) if id == mailbox => None,
            Some(id) => {
                let mut receiver = PageReceiver { w, state, mailbox };
                match receiver.session_for_queue(&id)? {
                    Some(session) => Some(session.peer().clone()),
                    None => return Ok(Outcome::Dropped(DropReason::NotForThisDevice)),
                }
            }
            None => return Ok(Outcome::Dropped(DropReason::Malformed)),
        };
        return crate::groups::receive::receive_message(w, verifier, message, via.as_ref());
    }
    let Ok(envelope) = Envelope::from_bytes(bytes) else {
        return Ok(Outcome::Dropped(DropReason::Malformed));
    };
    let mut receiver = PageReceiver { w, state, mailbox };
    let opened = match open(&mut receiver, &envelope, &mut os_rng()) {
        Ok(opened) => opened,
        Err(OpenError::State(error)) => return Err(error),
        Err(OpenError::NoAccount) => return Err(StoreError::Corrupted("account")),
        Err(OpenError::UnknownQueue) => return Ok(Outcome::Dropped(DropReason::NotForThisDevice)),
        Err(OpenError::Decrypt(DecryptError::Duplicate)) => return Ok(Outcome::Nothing),
        Err(OpenError::Decrypt(error)) => return Ok(Outcome::Dropped(error.into())),
        Err(OpenError::FirstContact(error)) => return Ok(Outcome::Dropped(error.into())),
        // A kind of failure added to core later: treat it as damaged state.
        Err(_) => return Err(StoreError::Corrupted("receive state")),
    };
    match opened {
        Opened::Existing {
            session,
            plaintext,
            sender_certificate,
        } => {
            let plaintext = zeroize::Zeroizing::new(plaintext);
            let Some((row, dirty)) = state.sessions.get_mut(&session) else {
                return Err(StoreError::Corrupted("session"));
            };
            *dirty = true;
            let status = match sender_certificate {
                // A repeated first contact: verified by the certificate it carries.
                Some(certificate) => verifier.status(w, Some(&certificate), row.session.peer())?,
                None => match state.statuses.get(&session) {
                    Some(status) => status.clone(),
                    None => {
                        let status = verifier.status(
                            w,
                            row.peer_certificate.as_deref(),
                            row.session.peer(),
                        )?;
                        state.statuses.insert(session, status.clone());
                        status
                    }
                },
            };
            let certificate = row.peer_certificate.clone();
            store_message(
                w,
                verifier,
                me,
                status,
                row.session.peer(),
                certificate.as_deref(),
                &plaintext,
            )
        }
        Opened::New {
            session,
            handshake,
            plaintext,
            sender_certificate,
        } => {
            let plaintext = zeroize::Zeroizing::new(plaintext);
            match w.insert_session(&session, Some(&sender_certificate), false) {
                Ok(()) => {}
                // Its id or peer is already taken by another session: never merged.
                Err(StoreError::Conflict) => {
                    return Ok(Outcome::Dropped(DropReason::InvalidSender));
                }
                Err(error) => return Err(error),
            }
            let Some(account) = state.account.as_mut() else {
                return Err(StoreError::Corrupted("account"));
            };
            account.commit_accepted(&handshake);
            state.account_changed = true;
            let status = verifier.status(w, Some(&sender_certificate), session.peer())?;
            store_message(
                w,
                verifier,
                me,
                status,
                session.peer(),
                Some(&sender_certificate),
                &plaintext,
            )
        }
    }
}

/// Stores a received plaintext in the sender's conversation, with the sender's
/// verified state now.
fn store_message(
    w: &Writer<'_>,
    verifier: &Verifier<'_>,
    me: &MemberDevice,
    status: SenderStatus,
    peer: &DeviceCertificate,
    peer_certificate: Option<&[u8]>,
    plaintext: &[u8],
) -> Result<Outcome, StoreError> {
    let Ok(content) = pb::Content::decode(plaintext) else {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    };
    match &content.body {
        Some(pb::content::Body::GroupUpdate(update)) => {
            return crate::groups::receive::receive_update(w, &status, peer, me, update);
        }
        Some(pb::content::Body::GroupKey(key)) => {
            return crate::groups::receive::receive_key(w, peer, peer_certificate, key);
        }
        Some(pb::content::Body::ReadReceipt(receipt)) => {
            return crate::groups::receive::receive_receipt(w, &status, peer, me, receipt);
        }
        _ => {}
    }
    if let Some(pb::content::Body::DirectoryKey(update)) = &content.body {
        // Whoever sent it, only a key the school root signed is kept.
        crate::directory_key::keep_received_directory_key(
            w,
            verifier.root,
            verifier.revocations,
            update,
        )?;
        return Ok(Outcome::Nothing);
    }
    let conversation = w.conversation_of(peer);
    store_text(w, content, status, peer, &conversation, None)
}

/// Stores a received text in `conversation` (a group's thread when `group` is given),
/// with the sender's name, role and verified state now. Content of another kind is not
/// shown; a text already stored (an earlier sync crashed before its ack) is not shown
/// twice.
pub(crate) fn store_text(
    w: &Writer<'_>,
    content: pb::Content,
    status: SenderStatus,
    device: &DeviceCertificate,
    conversation: &crate::store::ConversationKey,
    group: Option<&crate::groups::GroupRecord>,
) -> Result<Outcome, StoreError> {
    let Some(pb::content::Body::Text(text)) = content.body else {
        return Ok(Outcome::Nothing); // a kind of content this version does not show
    };
    let Ok(message_id) = <[u8; 16]>::try_from(content.message_id.as_slice()) else {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    };
    let (sender_name, sender_role, verified) = shown_sender(status, device);
    let record = MessageRecord {
        peer_account: *device.account_id().as_bytes(),
        outgoing: false,
        message_id,
        sender_name,
        sender_role,
        verified,
        body: text.text,
        sent_at: content.sent_at,
        stored_at: now_millis(),
    };
    if !w.put_message(conversation, &record)? {
        return Ok(Outcome::Nothing);
    }
    let message = Message::from(record);
    Ok(Outcome::Message(Box::new(match group {
        Some(group) => message.in_group(group),
        None => message,
    })))
}

/// The name, role and verified state a message from `device` is stored with.
pub(crate) fn shown_sender(
    status: SenderStatus,
    device: &DeviceCertificate,
) -> (String, String, bool) {
    match status {
        SenderStatus::Verified(member) => {
            (member.display_name, member.role.as_str().to_string(), true)
        }
        SenderStatus::Unverified(reason) => (
            format!(
                "unknown sender {} ({reason})",
                hex::encode(device.account_key().get(..4).unwrap_or_default())
            ),
            "unverified".to_string(),
            false,
        ),
    }
}
