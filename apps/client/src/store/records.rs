//! The records the store keeps, and their private encoding (prost). Each record is
//! encrypted as one value (see [`super::cipher`]); nothing here is ever written in the
//! clear.

use prost::Message as _;

use super::StoreError;

/// One message as stored and shown.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The other person's account id (sender for incoming, recipient for outgoing).
    pub peer_account: [u8; 16],
    /// Whether this device sent it.
    pub outgoing: bool,
    /// The sender's random message id (deduplicates repeats).
    pub message_id: [u8; 16],
    /// The sender's name as verified (or shown) at receipt.
    pub sender_name: String,
    /// The sender's role as verified at receipt (`"teacher"`, or `"unverified"`).
    pub sender_role: String,
    /// Whether the school vouched for the sender when the message arrived.
    pub verified: bool,
    /// The text.
    pub body: String,
    /// The sender's clock, Unix milliseconds.
    pub sent_at: u64,
    /// This device's clock when stored, Unix milliseconds.
    pub stored_at: u64,
}

impl std::fmt::Debug for MessageRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Message text and names stay out of logs.
        f.debug_struct("MessageRecord")
            .field("outgoing", &self.outgoing)
            .field("verified", &self.verified)
            .field("sent_at", &self.sent_at)
            .finish_non_exhaustive()
    }
}

/// One member device from the school directory, as stored locally.
#[derive(Clone, PartialEq, Eq)]
pub struct ContactRecord {
    /// The directory entry id.
    pub entry_id: [u8; 16],
    /// The member's account.
    pub account_id: [u8; 16],
    /// The member's device.
    pub device_id: [u8; 16],
    /// The name the school gave them.
    pub name: String,
    /// Their role (`"teacher"`…).
    pub role: String,
    /// Their classes.
    pub classes: Vec<String>,
    /// Their encoded member certificate.
    pub certificate: Vec<u8>,
    /// Their encoded prekey bundle.
    pub bundle: Vec<u8>,
    /// Where the relay hands out their one-time prekeys.
    pub bundle_id: [u8; 16],
    /// When they last updated the entry (Unix seconds).
    pub updated_at: u64,
    /// The grant their certificate carries (all zero in a record from before 0.2).
    pub grant_id: [u8; 16],
    /// Their account key (all zero in a record from before 0.2).
    pub account_key: [u8; 32],
}

impl std::fmt::Debug for ContactRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactRecord")
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// An invite the admin issued: who it is for, and where its record is.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedInvite {
    /// The grant's id (what a revocation names).
    pub grant_id: [u8; 16],
    /// The name on the grant.
    pub name: String,
    /// The role (`"teacher"`…).
    pub role: String,
    /// The classes.
    pub classes: Vec<String>,
    /// When it was issued (Unix seconds).
    pub issued_at: u64,
    /// When its code stops working if unused (Unix seconds).
    pub code_expires_at: u64,
    /// Where its record is on the relay.
    pub lookup_id: [u8; 16],
    /// The grant's `valid_until` (Unix seconds), which revocation lists carry so that
    /// expired grants can be pruned; `None` in a record from before revocation list
    /// format 2 (such a grant's revocation is never pruned).
    pub grant_valid_until: Option<u64>,
}

impl std::fmt::Debug for IssuedInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedInvite")
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredIssued {
    #[prost(bytes = "vec", tag = "1")]
    grant_id: Vec<u8>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    role: String,
    #[prost(string, repeated, tag = "4")]
    classes: Vec<String>,
    #[prost(uint64, tag = "5")]
    issued_at: u64,
    #[prost(uint64, tag = "6")]
    code_expires_at: u64,
    #[prost(bytes = "vec", tag = "7")]
    lookup_id: Vec<u8>,
    /// 0: not recorded (a record from before revocation list format 2).
    #[prost(uint64, tag = "8")]
    grant_valid_until: u64,
}

impl IssuedInvite {
    pub(crate) fn encode(&self) -> Vec<u8> {
        StoredIssued {
            grant_id: self.grant_id.to_vec(),
            name: self.name.clone(),
            role: self.role.clone(),
            classes: self.classes.clone(),
            issued_at: self.issued_at,
            code_expires_at: self.code_expires_at,
            lookup_id: self.lookup_id.to_vec(),
            grant_valid_until: self.grant_valid_until.unwrap_or(0),
        }
        .encode_to_vec()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let stored =
            StoredIssued::decode(bytes).map_err(|_| StoreError::Corrupted("issued invite"))?;
        Ok(Self {
            grant_id: id16(stored.grant_id, "grant id")?,
            name: stored.name,
            role: stored.role,
            classes: stored.classes,
            issued_at: stored.issued_at,
            code_expires_at: stored.code_expires_at,
            lookup_id: id16(stored.lookup_id, "lookup id")?,
            grant_valid_until: (stored.grant_valid_until != 0).then_some(stored.grant_valid_until),
        })
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredMessage {
    #[prost(bytes = "vec", tag = "1")]
    peer_account: Vec<u8>,
    #[prost(bool, tag = "2")]
    outgoing: bool,
    #[prost(bytes = "vec", tag = "3")]
    message_id: Vec<u8>,
    #[prost(string, tag = "4")]
    sender_name: String,
    #[prost(string, tag = "5")]
    sender_role: String,
    #[prost(bool, tag = "6")]
    verified: bool,
    #[prost(string, tag = "7")]
    body: String,
    #[prost(uint64, tag = "8")]
    sent_at: u64,
    #[prost(uint64, tag = "9")]
    stored_at: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredContact {
    #[prost(bytes = "vec", tag = "1")]
    entry_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    account_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    device_id: Vec<u8>,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(string, tag = "5")]
    role: String,
    #[prost(string, repeated, tag = "6")]
    classes: Vec<String>,
    #[prost(bytes = "vec", tag = "7")]
    certificate: Vec<u8>,
    #[prost(bytes = "vec", tag = "8")]
    bundle: Vec<u8>,
    #[prost(bytes = "vec", tag = "9")]
    bundle_id: Vec<u8>,
    #[prost(uint64, tag = "10")]
    updated_at: u64,
    #[prost(bytes = "vec", tag = "11")]
    grant_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "12")]
    account_key: Vec<u8>,
}

/// A session row's secret part: the session state, and the school certificate the peer
/// presented.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StoredSession {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) state: Vec<u8>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) peer_certificate: Option<Vec<u8>>,
}

fn id16(bytes: Vec<u8>, what: &'static str) -> Result<[u8; 16], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupted(what))
}

impl MessageRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        StoredMessage {
            peer_account: self.peer_account.to_vec(),
            outgoing: self.outgoing,
            message_id: self.message_id.to_vec(),
            sender_name: self.sender_name.clone(),
            sender_role: self.sender_role.clone(),
            verified: self.verified,
            body: self.body.clone(),
            sent_at: self.sent_at,
            stored_at: self.stored_at,
        }
        .encode_to_vec()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let m = StoredMessage::decode(bytes).map_err(|_| StoreError::Corrupted("message"))?;
        Ok(Self {
            peer_account: id16(m.peer_account, "message peer")?,
            outgoing: m.outgoing,
            message_id: id16(m.message_id, "message id")?,
            sender_name: m.sender_name,
            sender_role: m.sender_role,
            verified: m.verified,
            body: m.body,
            sent_at: m.sent_at,
            stored_at: m.stored_at,
        })
    }
}

impl ContactRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        StoredContact {
            entry_id: self.entry_id.to_vec(),
            account_id: self.account_id.to_vec(),
            device_id: self.device_id.to_vec(),
            name: self.name.clone(),
            role: self.role.clone(),
            classes: self.classes.clone(),
            certificate: self.certificate.clone(),
            bundle: self.bundle.clone(),
            bundle_id: self.bundle_id.to_vec(),
            updated_at: self.updated_at,
            grant_id: self.grant_id.to_vec(),
            account_key: self.account_key.to_vec(),
        }
        .encode_to_vec()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let c = StoredContact::decode(bytes).map_err(|_| StoreError::Corrupted("contact"))?;
        Ok(Self {
            entry_id: id16(c.entry_id, "contact entry id")?,
            account_id: id16(c.account_id, "contact account id")?,
            device_id: id16(c.device_id, "contact device id")?,
            name: c.name,
            role: c.role,
            classes: c.classes,
            certificate: c.certificate,
            bundle: c.bundle,
            bundle_id: id16(c.bundle_id, "contact bundle id")?,
            updated_at: c.updated_at,
            grant_id: c.grant_id.try_into().unwrap_or([0; 16]),
            account_key: c.account_key.try_into().unwrap_or([0; 32]),
        })
    }
}
