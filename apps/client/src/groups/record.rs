//! A group as this device stores it: its state as the creator last announced it, the
//! members' devices, what this device knows of each sender, and its own group session
//! (all sender keys). One sealed record per group (`groups` table).

use prost::Message as _;
use satchel_core::group::{GroupId, GroupSession, SenderDevice};

use crate::store::StoreError;

/// What kind of group (docs/PROTOCOL.md §13.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// A teacher (or the office, for the whole school) posts to every parent of a
    /// class; parents read and reply privately to the author.
    Announcement,
    /// Teachers and parents of a class; parents post only if the teacher allows it.
    ClassGroup,
    /// A parent's thread with the teachers of a class: everyone in it writes.
    TeamThread,
}

impl GroupKind {
    pub(crate) fn to_wire(self) -> u32 {
        match self {
            GroupKind::Announcement => 1,
            GroupKind::ClassGroup => 2,
            GroupKind::TeamThread => 3,
        }
    }

    pub(crate) fn from_wire(value: u32) -> Option<Self> {
        match value {
            1 => Some(GroupKind::Announcement),
            2 => Some(GroupKind::ClassGroup),
            3 => Some(GroupKind::TeamThread),
            _ => None,
        }
    }

    /// The name used on the command line and in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Announcement => "announcement",
            GroupKind::ClassGroup => "class_group",
            GroupKind::TeamThread => "team_thread",
        }
    }
}

/// One member device of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberDevice {
    pub(crate) account_id: [u8; 16],
    pub(crate) account_key: [u8; 32],
    pub(crate) device_key: [u8; 32],
}

impl MemberDevice {
    pub(crate) fn sender(&self) -> SenderDevice {
        SenderDevice::from_bytes(self.device_key)
    }
}

/// What this device knows of a sender whose key it holds: the device certificate and
/// the school certificate of the pairwise session the key came over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownSender {
    pub(crate) device_key: [u8; 32],
    pub(crate) device_certificate: Vec<u8>,
    pub(crate) member_certificate: Option<Vec<u8>>,
}

pub(crate) struct GroupRecord {
    pub(crate) id: GroupId,
    pub(crate) kind: GroupKind,
    pub(crate) title: String,
    pub(crate) class_name: String,
    pub(crate) members_may_post: bool,
    pub(crate) epoch: u64,
    pub(crate) members: Vec<MemberDevice>,
    pub(crate) creator_account: [u8; 16],
    pub(crate) creator_key: [u8; 32],
    pub(crate) session: GroupSession,
    pub(crate) senders: Vec<KnownSender>,
    /// `false` once the creator's update no longer lists this device.
    pub(crate) active: bool,
    /// Devices that hold this device's current sender key.
    pub(crate) distributed_to: Vec<[u8; 32]>,
    /// A member left: this device's key must rotate before it sends again.
    pub(crate) rotate: bool,
    /// The author of an announcement group: its recent messages and who confirmed
    /// reading each (account ids), oldest first, at most [`MAX_TRACKED_READS`].
    pub(crate) reads: Vec<([u8; 16], Vec<[u8; 16]>)>,
    /// A reader: messages whose reading this device confirmed, at most
    /// [`MAX_TRACKED_READS`].
    pub(crate) receipted: Vec<[u8; 16]>,
}

/// How many messages' read confirmations a group record keeps.
pub(crate) const MAX_TRACKED_READS: usize = 200;

#[derive(Clone, PartialEq, prost::Message)]
struct StoredMember {
    #[prost(bytes = "vec", tag = "1")]
    account_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    account_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    device_key: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredSender {
    #[prost(bytes = "vec", tag = "1")]
    device_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    device_certificate: Vec<u8>,
    #[prost(bytes = "vec", optional, tag = "3")]
    member_certificate: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredRead {
    #[prost(bytes = "vec", tag = "1")]
    message_id: Vec<u8>,
    #[prost(bytes = "vec", repeated, tag = "2")]
    readers: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredGroup {
    #[prost(bytes = "vec", tag = "1")]
    id: Vec<u8>,
    #[prost(uint32, tag = "2")]
    kind: u32,
    #[prost(string, tag = "3")]
    title: String,
    #[prost(string, tag = "4")]
    class_name: String,
    #[prost(bool, tag = "5")]
    members_may_post: bool,
    #[prost(uint64, tag = "6")]
    epoch: u64,
    #[prost(message, repeated, tag = "7")]
    members: Vec<StoredMember>,
    #[prost(bytes = "vec", tag = "8")]
    creator_account: Vec<u8>,
    #[prost(bytes = "vec", tag = "9")]
    creator_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "10")]
    session: Vec<u8>,
    #[prost(message, repeated, tag = "11")]
    senders: Vec<StoredSender>,
    #[prost(bool, tag = "12")]
    active: bool,
    #[prost(bytes = "vec", repeated, tag = "13")]
    distributed_to: Vec<Vec<u8>>,
    #[prost(bool, tag = "14")]
    rotate: bool,
    #[prost(message, repeated, tag = "15")]
    reads: Vec<StoredRead>,
    #[prost(bytes = "vec", repeated, tag = "16")]
    receipted: Vec<Vec<u8>>,
}

fn array<const N: usize>(bytes: Vec<u8>, what: &'static str) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupted(what))
}

pub(crate) fn member_to_stored(m: &MemberDevice) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        m.account_id.to_vec(),
        m.account_key.to_vec(),
        m.device_key.to_vec(),
    )
}

impl GroupRecord {
    /// A group as its creator starts it, or as a member first hears of it: no title,
    /// members or senders yet, and a fresh sender key for this device.
    pub(crate) fn new(
        id: GroupId,
        kind: GroupKind,
        creator_account: [u8; 16],
        creator_key: [u8; 32],
        own_device: SenderDevice,
        now: u64,
    ) -> Self {
        Self {
            id,
            kind,
            title: String::new(),
            class_name: String::new(),
            members_may_post: false,
            epoch: 0,
            members: Vec::new(),
            creator_account,
            creator_key,
            session: GroupSession::new(id, own_device, now, &mut satchel_core::os_rng()),
            senders: Vec::new(),
            active: true,
            distributed_to: Vec::new(),
            rotate: false,
            reads: Vec::new(),
            receipted: Vec::new(),
        }
    }

    pub(crate) fn encode(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(
            StoredGroup {
                id: self.id.as_bytes().to_vec(),
                kind: self.kind.to_wire(),
                title: self.title.clone(),
                class_name: self.class_name.clone(),
                members_may_post: self.members_may_post,
                epoch: self.epoch,
                members: self
                    .members
                    .iter()
                    .map(|m| {
                        let (account_id, account_key, device_key) = member_to_stored(m);
                        StoredMember {
                            account_id,
                            account_key,
                            device_key,
                        }
                    })
                    .collect(),
                creator_account: self.creator_account.to_vec(),
                creator_key: self.creator_key.to_vec(),
                session: self.session.to_bytes(),
                senders: self
                    .senders
                    .iter()
                    .map(|s| StoredSender {
                        device_key: s.device_key.to_vec(),
                        device_certificate: s.device_certificate.clone(),
                        member_certificate: s.member_certificate.clone(),
                    })
                    .collect(),
                active: self.active,
                distributed_to: self.distributed_to.iter().map(|d| d.to_vec()).collect(),
                rotate: self.rotate,
                reads: self
                    .reads
                    .iter()
                    .map(|(id, readers)| StoredRead {
                        message_id: id.to_vec(),
                        readers: readers.iter().map(|r| r.to_vec()).collect(),
                    })
                    .collect(),
                receipted: self.receipted.iter().map(|r| r.to_vec()).collect(),
            }
            .encode_to_vec(),
        )
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let g = StoredGroup::decode(bytes).map_err(|_| StoreError::Corrupted("group"))?;
        Ok(Self {
            id: GroupId::from_bytes(array(g.id, "group id")?),
            kind: GroupKind::from_wire(g.kind).ok_or(StoreError::Corrupted("group kind"))?,
            title: g.title,
            class_name: g.class_name,
            members_may_post: g.members_may_post,
            epoch: g.epoch,
            members: g
                .members
                .into_iter()
                .map(|m| {
                    Ok(MemberDevice {
                        account_id: array(m.account_id, "group member")?,
                        account_key: array(m.account_key, "group member")?,
                        device_key: array(m.device_key, "group member")?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            creator_account: array(g.creator_account, "group creator")?,
            creator_key: array(g.creator_key, "group creator")?,
            session: GroupSession::from_bytes(&g.session)
                .map_err(|_| StoreError::Corrupted("group session"))?,
            senders: g
                .senders
                .into_iter()
                .map(|s| {
                    Ok(KnownSender {
                        device_key: array(s.device_key, "group sender")?,
                        device_certificate: s.device_certificate,
                        member_certificate: s.member_certificate,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            active: g.active,
            distributed_to: g
                .distributed_to
                .into_iter()
                .map(|d| array(d, "group key holder"))
                .collect::<Result<_, StoreError>>()?,
            rotate: g.rotate,
            reads: g
                .reads
                .into_iter()
                .map(|r| {
                    Ok((
                        array(r.message_id, "group read")?,
                        r.readers
                            .into_iter()
                            .map(|reader| array(reader, "group reader"))
                            .collect::<Result<_, StoreError>>()?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?,
            receipted: g
                .receipted
                .into_iter()
                .map(|r| array(r, "group receipt"))
                .collect::<Result<_, StoreError>>()?,
        })
    }

    pub(crate) fn is_member_device(&self, device_key: &[u8; 32]) -> bool {
        self.members.iter().any(|m| &m.device_key == device_key)
    }

    pub(crate) fn is_creator(&self, account_id: &[u8; 16], account_key: &[u8; 32]) -> bool {
        &self.creator_account == account_id && &self.creator_key == account_key
    }
}
