//! [`Message`] and the stored conversation with one person.

use satchel_core::PrekeyBundle;
use satchel_core::school::Role;

use crate::client::Client;
use crate::error::ClientError;
use crate::store::MessageRecord;

/// A message shown to the person.
///
/// `from` and `text` are attacker-controlled text: escape control and bidirectional
/// characters before display, and show [`Message::verified`] in the app's own chrome,
/// never inside the text.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    /// The sender's name (verified by the school), or a stranger's label.
    pub from: String,
    /// The sender's role as the school certified it when the message arrived; `None`
    /// for a sender the school did not vouch for (serialised as `null`).
    #[serde(serialize_with = "crate::enrol::optional_role_name")]
    pub role: Option<Role>,
    /// Whether the school vouched for the sender when the message arrived.
    pub verified: bool,
    /// The text.
    pub text: String,
    /// The sender's clock (Unix milliseconds).
    pub sent_at: u64,
    /// Whether this device sent it.
    pub outgoing: bool,
    /// The group it was posted in (its title; attacker-controlled text), `None` for a
    /// message between two people.
    pub group: Option<String>,
    /// The group's id (hex), `None` for a message between two people.
    pub group_id: Option<String>,
    /// This device's announcement: how many people confirmed reading it (`None` for
    /// anything else). People can switch confirmations off, so it is a lower bound.
    pub read_by: Option<usize>,
    /// …of how many people it went to.
    pub read_of: Option<usize>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("verified", &self.verified)
            .field("outgoing", &self.outgoing)
            .field("sent_at", &self.sent_at)
            .finish_non_exhaustive()
    }
}

impl From<MessageRecord> for Message {
    fn from(record: MessageRecord) -> Self {
        Self {
            from: record.sender_name,
            role: if record.verified {
                Role::parse(&record.sender_role)
            } else {
                None
            },
            verified: record.verified,
            text: record.body,
            sent_at: record.sent_at,
            outgoing: record.outgoing,
            group: None,
            group_id: None,
            read_by: None,
            read_of: None,
        }
    }
}

impl Message {
    /// The message as posted in `group`.
    pub(crate) fn in_group(mut self, group: &crate::groups::GroupRecord) -> Self {
        self.group = Some(group.title.clone());
        self.group_id = Some(group.id.to_string());
        self
    }

    /// With "read by N of M" for an announcement this device sent.
    pub(crate) fn with_reads(
        mut self,
        group: &crate::groups::GroupRecord,
        message_id: &[u8; 16],
    ) -> Self {
        if !self.outgoing || group.kind != crate::groups::GroupKind::Announcement {
            return self;
        }
        let Some((_, readers)) = group.reads.iter().find(|(id, _)| id == message_id) else {
            return self;
        };
        let mut people: Vec<[u8; 16]> = group.members.iter().map(|m| m.account_id).collect();
        people.sort_unstable();
        people.dedup();
        self.read_by = Some(readers.len());
        self.read_of = Some(people.len().saturating_sub(1));
        self
    }
}

impl Client {
    /// The conversation with `with` (a name or account id from the directory), oldest
    /// first. Messages from someone who only *claims* that person's ids under other keys
    /// are not part of it.
    ///
    /// # Errors
    /// [`ClientError::UnknownContact`] and friends; store errors.
    pub fn history(&self, with: &str) -> Result<Vec<Message>, ClientError> {
        let devices = self.resolve(with)?;
        let mut messages = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for contact in devices {
            let bundle = PrekeyBundle::from_bytes(&contact.bundle)
                .map_err(|e| ClientError::Directory(e.into()))?;
            let conversation = self.store.conversation_of(bundle.device());
            if seen.insert(conversation) {
                messages.extend(
                    self.store
                        .history(&conversation)?
                        .into_iter()
                        .map(Message::from),
                );
            }
        }
        Ok(messages)
    }
}
