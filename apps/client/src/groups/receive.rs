//! Receiving in groups, inside sync's page transaction: the creator's updates, members'
//! sender keys, and group messages; and the items that wait for a key.

use prost::Message as _;
use satchel_core::group::{GroupId, SenderDevice, SenderKeyDistribution};
use satchel_core::school::SenderStatus;
use satchel_core::{DeviceCertificate, GroupDecryptError};
use satchel_proto::v1 as pb;

use super::{
    GroupKind, GroupRecord, KnownSender, MAX_GROUP_DEVICES, MAX_GROUP_TITLE_LEN, MemberDevice,
    may_create, may_post,
};
use crate::client::now_secs;
use crate::store::{StoreError, Writer};
use crate::sync::{DropReason, Outcome, Verifier};

/// How long a group message or key waits for what it needs (then it is dropped).
const WAIT_SECS: u64 = 7 * 24 * 60 * 60;
/// The most items kept waiting; the oldest go first.
const MAX_WAITING: usize = 2_000;
/// The most message ids one read confirmation may carry.
pub(crate) const MAX_RECEIPT_IDS: usize = 100;
/// The longest class name a group update may carry.
const MAX_CLASS_LEN: usize = 64;

#[derive(Clone, PartialEq, prost::Message)]
struct WaitingItem {
    /// A group message (`message`), or a sender key (`key`, with the certificates of
    /// the session it came over).
    #[prost(bytes = "vec", tag = "1")]
    message: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    device_certificate: Vec<u8>,
    #[prost(bytes = "vec", optional, tag = "4")]
    member_certificate: Option<Vec<u8>>,
    /// The device whose pairwise queue the message came on (empty: a mailbox).
    #[prost(bytes = "vec", tag = "5")]
    via_device: Vec<u8>,
}

fn wait(w: &Writer<'_>, item: &WaitingItem) -> Result<(), StoreError> {
    let waiting = w.group_waiting()?;
    for (id, _, _) in waiting
        .iter()
        .take((waiting.len() + 1).saturating_sub(MAX_WAITING))
    {
        w.remove_group_waiting(*id)?;
    }
    w.push_group_waiting(&item.encode_to_vec(), now_secs())?;
    Ok(())
}

fn groups(w: &Writer<'_>) -> Result<Vec<GroupRecord>, StoreError> {
    w.groups()?.iter().map(|b| GroupRecord::decode(b)).collect()
}

fn save(w: &Writer<'_>, record: &GroupRecord) -> Result<(), StoreError> {
    w.put_group(record.id.as_bytes(), &record.encode())
}

fn parse_member(m: &pb::GroupMember) -> Option<MemberDevice> {
    Some(MemberDevice {
        account_id: m.account_id.as_slice().try_into().ok()?,
        account_key: m.account_key.as_slice().try_into().ok()?,
        device_key: m.device_key.as_slice().try_into().ok()?,
    })
}

/// A group update from `peer`. Only a verified sender that lists itself counts; for a
/// known group only its creator, and only a newer epoch.
pub(crate) fn receive_update(
    w: &Writer<'_>,
    status: &SenderStatus,
    peer: &DeviceCertificate,
    me: &MemberDevice,
    update: &pb::GroupUpdate,
) -> Result<Outcome, StoreError> {
    let SenderStatus::Verified(sender) = status else {
        return Ok(Outcome::Dropped(DropReason::NotAllowedInGroup));
    };
    let (Some(id), Some(kind)) = (
        <[u8; 16]>::try_from(update.group_id.as_slice()).ok(),
        GroupKind::from_wire(update.kind),
    ) else {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    };
    let members: Option<Vec<MemberDevice>> = update.members.iter().map(parse_member).collect();
    let Some(members) = members.filter(|m| m.len() <= MAX_GROUP_DEVICES) else {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    };
    let from_account = *peer.account_id().as_bytes();
    let from_key = *peer.account_key();
    if !members
        .iter()
        .any(|m| m.account_id == from_account && &m.device_key == peer.device_signing_key())
    {
        return Ok(Outcome::Dropped(DropReason::NotAllowedInGroup));
    }
    let id = GroupId::from_bytes(id);
    let listed = members.iter().any(|m| m.device_key == me.device_key);
    let title: String = update.title.chars().take(MAX_GROUP_TITLE_LEN).collect();
    let class_name: String = update.class_name.chars().take(MAX_CLASS_LEN).collect();
    let existing = w.group(id.as_bytes())?;
    let mut record = match existing {
        Some(bytes) => {
            let record = GroupRecord::decode(&bytes)?;
            if !record.is_creator(&from_account, &from_key) || update.epoch <= record.epoch {
                return Ok(Outcome::Nothing);
            }
            record
        }
        None => {
            if !may_create(kind, &class_name, sender.role) || !listed {
                return Ok(Outcome::Dropped(DropReason::NotAllowedInGroup));
            }
            GroupRecord::new(id, kind, from_account, from_key, me.sender(), now_secs())
        }
    };
    let removed: Vec<MemberDevice> = record
        .members
        .iter()
        .filter(|old| !members.iter().any(|m| m.device_key == old.device_key))
        .cloned()
        .collect();
    for member in &removed {
        record.session.remove_sender(&member.sender());
        record.senders.retain(|s| s.device_key != member.device_key);
    }
    if !removed.is_empty() {
        record.rotate = true;
        record
            .distributed_to
            .retain(|d| members.iter().any(|m| &m.device_key == d));
    }
    record.kind = kind;
    record.title = title;
    record.class_name = class_name;
    record.members_may_post = update.members_may_post;
    record.epoch = update.epoch;
    record.members = members;
    record.active = listed;
    save(w, &record)?;
    Ok(Outcome::Nothing)
}

/// A read confirmation from `peer` for this device's announcements: counted only from
/// a member the school vouches for, for messages this device sent in the group.
pub(crate) fn receive_receipt(
    w: &Writer<'_>,
    status: &SenderStatus,
    peer: &DeviceCertificate,
    me: &MemberDevice,
    receipt: &pb::ReadReceipt,
) -> Result<Outcome, StoreError> {
    let Ok(id) = <[u8; 16]>::try_from(receipt.group_id.as_slice()) else {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    };
    if receipt.message_ids.len() > MAX_RECEIPT_IDS {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    }
    let Some(bytes) = w.group(&id)? else {
        return Ok(Outcome::Nothing);
    };
    let mut record = GroupRecord::decode(&bytes)?;
    let reader = *peer.account_id().as_bytes();
    let member = record
        .members
        .iter()
        .any(|m| m.account_id == reader && &m.account_key == peer.account_key());
    if !status.is_verified()
        || !member
        || record.kind != GroupKind::Announcement
        || !record.is_creator(&me.account_id, &me.account_key)
    {
        return Ok(Outcome::Dropped(DropReason::NotAllowedInGroup));
    }
    let mut changed = false;
    for message_id in &receipt.message_ids {
        let Ok(message_id) = <[u8; 16]>::try_from(message_id.as_slice()) else {
            continue;
        };
        if let Some((_, readers)) = record.reads.iter_mut().find(|(m, _)| *m == message_id)
            && !readers.contains(&reader)
        {
            readers.push(reader);
            changed = true;
        }
    }
    if changed {
        save(w, &record)?;
    }
    Ok(Outcome::Nothing)
}

/// A sender key from `peer`, over the pairwise session whose school certificate is
/// `member_certificate`. Waits if the group is not known yet.
pub(crate) fn receive_key(
    w: &Writer<'_>,
    peer: &DeviceCertificate,
    member_certificate: Option<&[u8]>,
    key: &pb::GroupKey,
) -> Result<Outcome, StoreError> {
    let Ok(id) = <[u8; 16]>::try_from(key.group_id.as_slice()) else {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    };
    let Some(bytes) = w.group(&id)? else {
        wait(
            w,
            &WaitingItem {
                key: key.encode_to_vec(),
                device_certificate: peer.to_proto().encode_to_vec(),
                member_certificate: member_certificate.map(<[u8]>::to_vec),
                ..WaitingItem::default()
            },
        )?;
        return Ok(Outcome::Nothing);
    };
    let mut record = GroupRecord::decode(&bytes)?;
    apply_key(w, &mut record, peer, member_certificate, key)
}

fn apply_key(
    w: &Writer<'_>,
    record: &mut GroupRecord,
    peer: &DeviceCertificate,
    member_certificate: Option<&[u8]>,
    key: &pb::GroupKey,
) -> Result<Outcome, StoreError> {
    if !record.is_member_device(peer.device_signing_key()) {
        return Ok(Outcome::Dropped(DropReason::NotAllowedInGroup));
    }
    let Ok(distribution) = SenderKeyDistribution::from_bytes(&key.distribution) else {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    };
    if record
        .session
        .receive_distribution(SenderDevice::of(peer), &distribution)
        .is_err()
    {
        return Ok(Outcome::Dropped(DropReason::NotAllowedInGroup));
    }
    let device_key = *peer.device_signing_key();
    record.senders.retain(|s| s.device_key != device_key);
    record.senders.push(KnownSender {
        device_key,
        device_certificate: peer.to_proto().encode_to_vec(),
        member_certificate: member_certificate.map(<[u8]>::to_vec),
    });
    save(w, record)?;
    Ok(Outcome::Nothing)
}

/// A group message, from the pairwise queue of `via` (`None`: the mailbox). Tried on
/// every group; waits if no key opens it yet.
pub(crate) fn receive_message(
    w: &Writer<'_>,
    verifier: &Verifier<'_>,
    message: &[u8],
    via: Option<&DeviceCertificate>,
) -> Result<Outcome, StoreError> {
    match open_message(w, verifier, message, via)? {
        Some(outcome) => Ok(outcome),
        None => {
            wait(
                w,
                &WaitingItem {
                    message: message.to_vec(),
                    via_device: via
                        .map(|d| d.to_proto().encode_to_vec())
                        .unwrap_or_default(),
                    ..WaitingItem::default()
                },
            )?;
            Ok(Outcome::Nothing)
        }
    }
}

/// `None` when no group holds a key for it.
fn open_message(
    w: &Writer<'_>,
    verifier: &Verifier<'_>,
    message: &[u8],
    via: Option<&DeviceCertificate>,
) -> Result<Option<Outcome>, StoreError> {
    for mut record in groups(w)? {
        let read = match record.session.decrypt(message) {
            Ok(read) => read,
            Err(GroupDecryptError::NoSenderKey) => continue,
            Err(GroupDecryptError::Duplicate) => return Ok(Some(Outcome::Nothing)),
            Err(GroupDecryptError::TooFarAhead { .. }) => {
                return Ok(Some(Outcome::Dropped(DropReason::TooFarAhead)));
            }
            Err(_) => return Ok(Some(Outcome::Dropped(DropReason::Undecryptable))),
        };
        // Consumed either way: a replay of it is a duplicate from now on.
        save(w, &record)?;
        // The key must belong to the device whose queue carried it.
        if let Some(via) = via
            && via.device_signing_key() != read.sender.as_bytes()
        {
            return Ok(Some(Outcome::Dropped(DropReason::NotAllowedInGroup)));
        }
        let Some(known) = record
            .senders
            .iter()
            .find(|s| &s.device_key == read.sender.as_bytes())
        else {
            return Ok(Some(Outcome::Dropped(DropReason::NotAllowedInGroup)));
        };
        let Ok(device) = pb::DeviceCertificate::decode(known.device_certificate.as_slice())
            .map_err(|_| ())
            .and_then(|p| DeviceCertificate::from_proto(&p).map_err(|_| ()))
        else {
            return Err(StoreError::Corrupted("group sender"));
        };
        let status = verifier.status(w, known.member_certificate.as_deref(), &device)?;
        let creator = record.is_creator(device.account_id().as_bytes(), device.account_key());
        let role = match &status {
            SenderStatus::Verified(member) => Some(member.role),
            SenderStatus::Unverified(_) => None,
        };
        if !record.is_member_device(read.sender.as_bytes()) || !may_post(&record, creator, role) {
            return Ok(Some(Outcome::Dropped(DropReason::NotAllowedInGroup)));
        }
        return store_group_message(w, &record, status, &device, &read.plaintext).map(Some);
    }
    Ok(None)
}

fn store_group_message(
    w: &Writer<'_>,
    record: &GroupRecord,
    status: SenderStatus,
    device: &DeviceCertificate,
    plaintext: &[u8],
) -> Result<Outcome, StoreError> {
    let Ok(content) = pb::Content::decode(plaintext) else {
        return Ok(Outcome::Dropped(DropReason::MalformedContent));
    };
    let conversation = w.group_conversation(record.id.as_bytes());
    crate::sync::store_text(w, content, status, device, &conversation, Some(record))
}

/// Tries every waiting item again (after a sync): keys whose group is known now, and
/// messages a key opens now. Items older than a week are dropped.
pub(crate) fn retry_waiting(
    w: &Writer<'_>,
    verifier: &Verifier<'_>,
) -> Result<Vec<Outcome>, StoreError> {
    let mut outcomes = Vec::new();
    let now = now_secs();
    // Keys first: a message may need one that waited too.
    let mut items = w.group_waiting()?;
    items.sort_by_key(|(id, item, _)| {
        let is_message = WaitingItem::decode(item.as_slice()).is_ok_and(|i| !i.message.is_empty());
        (is_message, *id)
    });
    for (id, bytes, created_at) in items {
        let expired = now.saturating_sub(created_at) > WAIT_SECS;
        let Ok(item) = WaitingItem::decode(bytes.as_slice()) else {
            w.remove_group_waiting(id)?;
            continue;
        };
        let done = if item.message.is_empty() {
            retry_key(w, &item)?
        } else {
            let via = decode_device(&item.via_device);
            match open_message(w, verifier, &item.message, via.as_ref())? {
                Some(outcome) => {
                    outcomes.push(outcome);
                    true
                }
                None => false,
            }
        };
        if done || expired {
            w.remove_group_waiting(id)?;
        }
    }
    Ok(outcomes)
}

fn decode_device(bytes: &[u8]) -> Option<DeviceCertificate> {
    if bytes.is_empty() {
        return None;
    }
    let proto = pb::DeviceCertificate::decode(bytes).ok()?;
    DeviceCertificate::from_proto(&proto).ok()
}

fn retry_key(w: &Writer<'_>, item: &WaitingItem) -> Result<bool, StoreError> {
    let (Ok(key), Some(peer)) = (
        pb::GroupKey::decode(item.key.as_slice()),
        decode_device(&item.device_certificate),
    ) else {
        return Ok(true);
    };
    let Ok(id) = <[u8; 16]>::try_from(key.group_id.as_slice()) else {
        return Ok(true);
    };
    let Some(bytes) = w.group(&id)? else {
        return Ok(false);
    };
    let mut record = GroupRecord::decode(&bytes)?;
    apply_key(
        w,
        &mut record,
        &peer,
        item.member_certificate.as_deref(),
        &key,
    )?;
    Ok(true)
}
