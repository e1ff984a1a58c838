//! The conversation list an app shows first: every person this device has messages
//! with and every group it is in, with the last message and how many messages arrived
//! since the person last looked ([`Client::mark_seen`]).

use std::collections::{BTreeMap, HashSet};

use satchel_core::PrekeyBundle;
use satchel_core::school::Role;

use crate::client::{Client, now_millis};
use crate::error::ClientError;
use crate::groups::{GroupKind, GroupRecord};
use crate::history::Message;
use crate::store::{ContactRecord, MessageRecord};

/// The `meta` key prefix of "seen up to" marks (this device's clock, Unix milliseconds).
const SEEN_PREFIX: &str = "seen:";

/// What a conversation is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// One person (every device of theirs).
    Person,
    /// A group of this kind.
    Group(GroupKind),
}

/// One line of the conversation list.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conversation {
    /// What names it: the person's account id or the group's id (hex). Pass it to
    /// [`Client::history`] or [`Client::group_history`], and to [`Client::mark_seen`].
    pub id: String,
    /// Person or group.
    pub kind: ConversationKind,
    /// The person's certified name, or the group's title (attacker-controlled text).
    pub title: String,
    /// The person's certified role (`None` for a group).
    #[serde(serialize_with = "crate::enrol::optional_role_name")]
    pub role: Option<Role>,
    /// Whether the school vouches for the person now (`true` for a group; each group
    /// message carries its own state).
    pub verified: bool,
    /// A group's class (`""` for a person or the whole school).
    pub class_name: String,
    /// The newest message, if any.
    pub last: Option<Message>,
    /// Messages from others stored since [`Client::mark_seen`] was last called for it.
    pub unread: usize,
    /// When the newest message was stored (this device's clock, Unix milliseconds; 0 if
    /// none): the list is sorted by it, newest first.
    pub last_at: u64,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names and text stay out of logs.
        f.debug_struct("Conversation")
            .field("kind", &self.kind)
            .field("unread", &self.unread)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Every person this device has exchanged messages with and every group it is in,
    /// newest activity first. Reads the local store only (no network).
    ///
    /// # Errors
    /// Store errors.
    pub fn conversations(&self) -> Result<Vec<Conversation>, ClientError> {
        let mut list = Vec::new();
        let mut people: BTreeMap<[u8; 16], Vec<ContactRecord>> = BTreeMap::new();
        for contact in self.store.contacts()? {
            people.entry(contact.account_id).or_default().push(contact);
        }
        for (account, devices) in people {
            if let Some(conversation) = self.person_conversation(account, &devices)? {
                list.push(conversation);
            }
        }
        for bytes in self.store.groups()? {
            let record = GroupRecord::decode(&bytes)?;
            list.push(self.group_conversation(&record)?);
        }
        list.sort_by(|a, b| {
            b.last_at
                .cmp(&a.last_at)
                .then_with(|| a.title.to_lowercase().cmp(&b.title.to_lowercase()))
        });
        Ok(list)
    }

    /// Marks a conversation (its [`Conversation::id`]) as seen now: its unread count
    /// drops to 0. Does not send anything (for an announcement's read confirmation, see
    /// [`Client::mark_group_read`]).
    ///
    /// # Errors
    /// Store errors.
    pub fn mark_seen(&mut self, conversation: &str) -> Result<(), ClientError> {
        let key = format!("{SEEN_PREFIX}{}", conversation.trim().to_lowercase());
        let now = now_millis();
        self.store.write(|w| w.set_meta(&key, &now.to_be_bytes()))?;
        Ok(())
    }

    fn seen_at(&self, id: &str) -> Result<u64, ClientError> {
        let stored = self.store.meta(&format!("{SEEN_PREFIX}{id}"))?;
        Ok(stored
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    fn person_conversation(
        &self,
        account: [u8; 16],
        devices: &[ContactRecord],
    ) -> Result<Option<Conversation>, ClientError> {
        let mut records: Vec<MessageRecord> = Vec::new();
        let mut seen = HashSet::new();
        let mut verified = false;
        for contact in devices {
            let Ok(bundle) = PrekeyBundle::from_bytes(&contact.bundle) else {
                continue;
            };
            verified |= self
                .status_of(Some(&contact.certificate), bundle.device())?
                .is_verified();
            let conversation = self.store.conversation_of(bundle.device());
            if seen.insert(conversation) {
                records.extend(self.store.history(&conversation)?);
            }
        }
        let Some(first) = devices.first() else {
            return Ok(None);
        };
        if records.is_empty() {
            return Ok(None);
        }
        let id = hex::encode(account);
        let seen_at = self.seen_at(&id)?;
        let unread = unread(&records, seen_at);
        let newest = records.into_iter().max_by_key(|r| r.stored_at);
        let last_at = newest.as_ref().map_or(0, |r| r.stored_at);
        Ok(Some(Conversation {
            id,
            kind: ConversationKind::Person,
            title: first.name.clone(),
            role: Role::parse(&first.role),
            verified,
            class_name: String::new(),
            last: newest.map(Message::from),
            unread,
            last_at,
        }))
    }

    fn group_conversation(&self, record: &GroupRecord) -> Result<Conversation, ClientError> {
        let records = self
            .store
            .history(&self.store.group_conversation(record.id.as_bytes()))?;
        let id = record.id.to_string();
        let seen_at = self.seen_at(&id)?;
        let unread = unread(&records, seen_at);
        let newest = records.into_iter().max_by_key(|r| r.stored_at);
        let last_at = newest.as_ref().map_or(0, |r| r.stored_at);
        Ok(Conversation {
            id,
            kind: ConversationKind::Group(record.kind),
            title: record.title.clone(),
            role: None,
            verified: true,
            class_name: record.class_name.clone(),
            last: newest.map(|m| Message::from(m).in_group(record)),
            unread,
            last_at,
        })
    }
}

fn unread(records: &[MessageRecord], seen_at: u64) -> usize {
    records
        .iter()
        .filter(|r| !r.outgoing && r.stored_at > seen_at)
        .count()
}
