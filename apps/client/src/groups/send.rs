//! Sending in groups: keeping this device's sender key with every member, changing who
//! is in a group, and one shared deposit per message.

use prost::Message as _;
use satchel_core::group::GroupId;
use satchel_core::school::Role;
use satchel_core::{PrekeyBundle, os_rng};
use satchel_proto::v1 as pb;

use super::{GroupInfo, GroupKind, GroupRecord, MemberDevice, may_post, member_of, random_id};
use crate::client::{Client, now_millis, now_secs};
use crate::error::ClientError;
use crate::send::SendReport;
use crate::store::{ContactRecord, MessageRecord, StoreError, Writer};

/// Meta key: `[0]` when this person switched read confirmations off.
const READ_RECEIPTS: &str = "read_receipts";

/// The first byte of an outbox item that is a shared deposit (a pairwise envelope's
/// first byte is `0x01`).
pub(crate) const SHARED_OUTBOX_ITEM: u8 = satchel_core::group::GROUP_ENVELOPE_KIND;

impl Client {
    /// Hands this device's current sender key for the group to every member device that
    /// does not hold it yet (rotating first if a member left or the key is due).
    pub(crate) async fn distribute_own_key(&mut self, id: GroupId) -> Result<(), ClientError> {
        let me = self.own_member()?;
        let role = self.own_role()?;
        let (record, rotated) = self.store.write(|w| {
            let mut record = load(w, &id)?;
            let creator = record.is_creator(&me.account_id, &me.account_key);
            let mut rotated = false;
            if record.active
                && may_post(&record, creator, Some(role))
                && (record.rotate || record.session.rotation_due(now_secs()))
            {
                let _ = record.session.rotate(now_secs(), &mut os_rng());
                record.distributed_to.clear();
                record.rotate = false;
                rotated = true;
                w.put_group(id.as_bytes(), &record.encode())?;
            }
            Ok::<_, ClientError>((record, rotated))
        })?;
        let creator = record.is_creator(&me.account_id, &me.account_key);
        if !record.active || !may_post(&record, creator, Some(role)) {
            return Ok(());
        }
        let missing: Vec<(MemberDevice, ContactRecord)> = self
            .contacts_for(record.members.iter())?
            .into_iter()
            .filter(|(m, _)| m.device_key != me.device_key)
            .filter(|(m, _)| rotated || !record.distributed_to.contains(&m.device_key))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let key = pb::Content {
            message_id: random_id().to_vec(),
            sent_at: now_millis(),
            body: Some(pb::content::Body::GroupKey(pb::GroupKey {
                group_id: id.as_bytes().to_vec(),
                distribution: record.session.distribution().to_bytes(),
            })),
        };
        let content = zeroize::Zeroizing::new(key.encode_to_vec());
        let targets: Vec<ContactRecord> = missing.iter().map(|(_, c)| c.clone()).collect();
        self.send_control(&targets, &content).await?;
        let signing_key = record.session.distribution().signing_key();
        self.store.write(|w| {
            let mut record = load(w, &id)?;
            // Only if the key is still the one handed out.
            if record.session.distribution().signing_key() == signing_key {
                for (member, _) in &missing {
                    if !record.distributed_to.contains(&member.device_key) {
                        record.distributed_to.push(member.device_key);
                    }
                }
                w.put_group(id.as_bytes(), &record.encode())?;
            }
            Ok::<_, ClientError>(())
        })
    }

    /// Posts `text` in a group: one encryption, one shared deposit for every member
    /// device. Stored (with the group's new state) before anything goes to the relay;
    /// if the relay is unreachable it waits in the outbox.
    ///
    /// # Errors
    /// [`ClientError::EmptyMessage`], [`ClientError::UnknownGroup`],
    /// [`ClientError::NotAllowedInGroup`] (removed, or not allowed to post),
    /// [`ClientError::MembershipEnded`], [`ClientError::NotYetAdmitted`]; relay and
    /// store errors.
    pub async fn send_to_group(
        &mut self,
        group: &str,
        text: &str,
    ) -> Result<SendReport, ClientError> {
        if text.trim().is_empty() {
            return Err(ClientError::EmptyMessage);
        }
        self.check_before_sending().await?;
        let record = self.find_group(group)?;
        let me = self.own_member()?;
        let creator = record.is_creator(&me.account_id, &me.account_key);
        if !record.active || !may_post(&record, creator, Some(self.own_role()?)) {
            return Err(ClientError::NotAllowedInGroup {
                what: "post in this group",
            });
        }
        let id = record.id;
        if creator {
            match self.directory_is_stale() {
                Ok(true) => match self.refresh_directory().await {
                    Ok(()) | Err(ClientError::Relay(_)) => {}
                    Err(error) => return Err(error),
                },
                Ok(false) => {}
                Err(error) => return Err(error),
            }
            let verified = self.verified_contacts()?;
            self.refresh_membership(id, &verified).await?;
        }
        self.distribute_own_key(id).await?;
        let relay = self.relay()?;
        let content = zeroize::Zeroizing::new(
            pb::Content {
                message_id: random_id().to_vec(),
                sent_at: now_millis(),
                body: Some(pb::content::Body::Text(pb::Text {
                    text: text.to_owned(),
                })),
            }
            .encode_to_vec(),
        );
        let details = self.profile()?.member.grant().details().clone();
        let contacts = self.contacts_for(record.members.iter())?;
        self.store.write(|w| {
            let mut record = load(w, &id)?;
            let message_id = pb::Content::decode(content.as_slice())
                .ok()
                .and_then(|c| <[u8; 16]>::try_from(c.message_id.as_slice()).ok())
                .unwrap_or_default();
            let sealed = record.session.encrypt(&content, now_secs()).map_err(|_| {
                ClientError::NotAllowedInGroup {
                    what: "post before this device's group key was handed out again",
                }
            })?;
            let mut send_ids = Vec::new();
            for (member, contact) in &contacts {
                if member.device_key == me.device_key {
                    continue;
                }
                if let Some(send_id) = send_id_for(w, contact)? {
                    send_ids.push(send_id);
                }
            }
            if record.kind == GroupKind::Announcement {
                // Who confirms reading it is tracked for the author.
                record.reads.push((message_id, Vec::new()));
                let excess = record
                    .reads
                    .len()
                    .saturating_sub(super::record::MAX_TRACKED_READS);
                record.reads.drain(..excess);
            }
            w.put_group(id.as_bytes(), &record.encode())?;
            let now = now_millis();
            let record_message = MessageRecord {
                peer_account: me.account_id,
                outgoing: true,
                message_id,
                sender_name: details.display_name.clone(),
                sender_role: details.role.as_str().to_owned(),
                verified: true,
                body: text.to_owned(),
                sent_at: now,
                stored_at: now,
            };
            w.put_message(&w.group_conversation(id.as_bytes()), &record_message)?;
            for chunk in send_ids.chunks(satchel_relay_api::shared_deposit::MAX_SHARED_RECIPIENTS) {
                let body = satchel_relay_api::shared_deposit::encode(chunk, &sealed)
                    .map_err(|_| StoreError::Corrupted("shared deposit"))?;
                let mut item = Vec::with_capacity(1 + body.len());
                item.push(SHARED_OUTBOX_ITEM);
                item.extend_from_slice(&body);
                w.push_outbox(&item, now)?;
            }
            Ok::<_, ClientError>(())
        })?;
        let flushed = self.flush_outbox(&relay).await?;
        Ok(SendReport {
            delivered_to_relay: flushed.pending == 0,
            pending: flushed.pending,
            undeliverable: flushed.undeliverable,
            without_one_time_prekey: 0,
            refused_one_time_prekeys: 0,
        })
    }

    /// Posts to every parent of `class` (the whole school with an empty class, from the
    /// office): in this device's announcement group for that class, created on first
    /// use.
    ///
    /// # Errors
    /// As [`Client::create_group`] and [`Client::send_to_group`].
    pub async fn announce(&mut self, class: &str, text: &str) -> Result<SendReport, ClientError> {
        let id = self.own_group(GroupKind::Announcement, class).await?;
        self.send_to_group(&id, text).await
    }

    /// Writes to the teachers (and other staff) of `class`: this device's thread with
    /// that class team, created on first use; whoever teaches the class now receives it.
    ///
    /// # Errors
    /// As [`Client::create_group`] and [`Client::send_to_group`].
    pub async fn send_to_class_team(
        &mut self,
        class: &str,
        text: &str,
    ) -> Result<SendReport, ClientError> {
        let id = self.own_group(GroupKind::TeamThread, class).await?;
        self.send_to_group(&id, text).await
    }

    /// The id of this device's own group of `kind` for `class`, created if missing.
    async fn own_group(&mut self, kind: GroupKind, class: &str) -> Result<String, ClientError> {
        let me = self.own_member()?;
        let class = class.trim();
        for bytes in self.store.groups()? {
            let record = GroupRecord::decode(&bytes)?;
            if record.kind == kind
                && record.active
                && record.class_name.eq_ignore_ascii_case(class)
                && record.is_creator(&me.account_id, &me.account_key)
            {
                return Ok(record.id.to_string());
            }
        }
        Ok(self.create_group(kind, class, None, false).await?.id)
    }

    /// Confirms to an announcement's author that this person read the group's messages
    /// (call it when they are shown). Sends nothing when read confirmations are off
    /// ([`Client::set_read_receipts`]), for other kinds of groups, or when there is
    /// nothing new. Returns how many messages were confirmed.
    ///
    /// # Errors
    /// [`ClientError::UnknownGroup`]; relay and store errors.
    pub async fn mark_group_read(&mut self, group: &str) -> Result<usize, ClientError> {
        let record = self.find_group(group)?;
        let me = self.own_member()?;
        if record.kind != GroupKind::Announcement
            || record.is_creator(&me.account_id, &me.account_key)
            || !self.read_receipts()?
        {
            return Ok(0);
        }
        let conversation = self.store.group_conversation(record.id.as_bytes());
        let unread: Vec<[u8; 16]> = self
            .store
            .history(&conversation)?
            .into_iter()
            .filter(|m| !m.outgoing && m.peer_account == record.creator_account)
            .map(|m| m.message_id)
            .filter(|id| !record.receipted.contains(id))
            .collect();
        if unread.is_empty() {
            return Ok(0);
        }
        let author: Vec<ContactRecord> = self
            .contacts_for(
                record
                    .members
                    .iter()
                    .filter(|m| m.account_id == record.creator_account),
            )?
            .into_iter()
            .map(|(_, contact)| contact)
            .collect();
        for chunk in unread.chunks(super::receive::MAX_RECEIPT_IDS) {
            let receipt = pb::Content {
                message_id: random_id().to_vec(),
                sent_at: now_millis(),
                body: Some(pb::content::Body::ReadReceipt(pb::ReadReceipt {
                    group_id: record.id.as_bytes().to_vec(),
                    message_ids: chunk.iter().map(|id| id.to_vec()).collect(),
                })),
            };
            let content = zeroize::Zeroizing::new(receipt.encode_to_vec());
            if !author.is_empty() {
                self.send_control(&author, &content).await?;
            }
        }
        let id = record.id;
        self.store.write(|w| {
            let mut record = load(w, &id)?;
            record.receipted.extend(&unread);
            let excess = record
                .receipted
                .len()
                .saturating_sub(super::record::MAX_TRACKED_READS);
            record.receipted.drain(..excess);
            w.put_group(id.as_bytes(), &record.encode())?;
            Ok::<_, ClientError>(())
        })?;
        Ok(unread.len())
    }

    /// Whether this device confirms reading announcements to their authors (on unless
    /// switched off).
    ///
    /// # Errors
    /// Store errors.
    pub fn read_receipts(&self) -> Result<bool, ClientError> {
        Ok(self.store.meta(READ_RECEIPTS)?.as_deref() != Some(&[0]))
    }

    /// Switches read confirmations for announcements on or off (kept in the profile).
    ///
    /// # Errors
    /// Store errors.
    pub fn set_read_receipts(&mut self, on: bool) -> Result<(), ClientError> {
        self.store
            .write(|w| w.set_meta(READ_RECEIPTS, &[u8::from(on)]))?;
        Ok(())
    }

    /// The creator adds a person (every device of theirs) to a group.
    ///
    /// # Errors
    /// [`ClientError::NotAllowedInGroup`] unless this device created the group;
    /// [`ClientError::UnknownContact`] and friends.
    pub async fn group_add(&mut self, group: &str, person: &str) -> Result<GroupInfo, ClientError> {
        let record = self.find_group(group)?;
        let devices = self.resolve_fresh(person).await?;
        let added: Vec<MemberDevice> = devices.iter().filter_map(member_of).collect();
        self.change_members(record.id, &added, &[]).await
    }

    /// The creator removes a person from a group: they read nothing sent afterwards
    /// (every poster rotates its key).
    ///
    /// # Errors
    /// As [`Client::group_add`].
    pub async fn group_remove(
        &mut self,
        group: &str,
        person: &str,
    ) -> Result<GroupInfo, ClientError> {
        let record = self.find_group(group)?;
        let devices = self.resolve(person)?;
        let accounts: Vec<[u8; 16]> = devices.iter().map(|c| c.account_id).collect();
        self.change_members(record.id, &[], &accounts).await
    }

    /// Applies a membership change as the creator: a new epoch, announced to everyone
    /// concerned, and a new key if anyone left.
    pub(crate) async fn change_members(
        &mut self,
        id: GroupId,
        added: &[MemberDevice],
        removed_accounts: &[[u8; 16]],
    ) -> Result<GroupInfo, ClientError> {
        let me = self.own_member()?;
        if removed_accounts.contains(&me.account_id) {
            return Err(ClientError::NotAllowedInGroup {
                what: "remove yourself from your own group",
            });
        }
        let (record, removed) = self.store.write(|w| {
            let mut record = load(w, &id)?;
            if !record.is_creator(&me.account_id, &me.account_key) {
                return Err(ClientError::NotAllowedInGroup {
                    what: "change who is in a group someone else created",
                });
            }
            let mut removed = Vec::new();
            record.members.retain(|m| {
                let out = removed_accounts.contains(&m.account_id);
                if out {
                    removed.push(m.clone());
                }
                !out
            });
            let mut changed = !removed.is_empty();
            for member in added {
                if !record.is_member_device(&member.device_key) {
                    record.members.push(member.clone());
                    changed = true;
                }
            }
            if record.members.len() > super::MAX_GROUP_DEVICES {
                return Err(ClientError::GroupTooLarge {
                    devices: record.members.len(),
                    max: super::MAX_GROUP_DEVICES,
                });
            }
            if changed {
                record.epoch += 1;
                for member in &removed {
                    record.session.remove_sender(&member.sender());
                    record.distributed_to.retain(|d| d != &member.device_key);
                }
                if !removed.is_empty() {
                    record.rotate = true;
                }
                w.put_group(id.as_bytes(), &record.encode())?;
            }
            Ok((record, removed))
        })?;
        self.announce_group_state(&record, &removed).await?;
        self.distribute_own_key(id).await?;
        self.group_info(&self.find_group(&id.to_string())?)
    }

    /// The creator brings a group's members in line with the school: people the school
    /// no longer vouches for leave; a team thread follows whoever teaches the class now.
    /// `verified`: the directory entries the school vouches for now
    /// ([`Client::verified_contacts`], computed once for several groups).
    pub(crate) async fn refresh_membership(
        &mut self,
        id: GroupId,
        verified: &[ContactRecord],
    ) -> Result<(), ClientError> {
        let record = self.find_group(&id.to_string())?;
        let me = self.own_member()?;
        let vouched = |m: &MemberDevice| {
            m.account_id == me.account_id
                || verified.iter().any(|c| {
                    c.account_id == m.account_id && super::device_key_of(c) == Some(m.device_key)
                })
        };
        let mut removed: Vec<[u8; 16]> = record
            .members
            .iter()
            .filter(|m| !vouched(m))
            .map(|m| m.account_id)
            .collect();
        let mut added = Vec::new();
        if record.kind == GroupKind::TeamThread {
            let team: Vec<&ContactRecord> = verified
                .iter()
                .filter(|c| {
                    Role::parse(&c.role).is_some_and(|r| r != Role::Parent)
                        && c.classes
                            .iter()
                            .any(|k| k.trim().eq_ignore_ascii_case(&record.class_name))
                })
                .collect();
            for member in &record.members {
                if member.account_id != me.account_id
                    && !team.iter().any(|c| c.account_id == member.account_id)
                {
                    removed.push(member.account_id);
                }
            }
            added = team.iter().filter_map(|c| member_of(c)).collect();
        }
        removed.sort_unstable();
        removed.dedup();
        let new_device = added
            .iter()
            .any(|m| !record.is_member_device(&m.device_key));
        if removed.is_empty() && !new_device {
            return Ok(());
        }
        self.change_members(id, &added, &removed).await.map(|_| ())
    }

    /// After a sync: hand out keys this device owes, rotate where a member left, and as
    /// a creator drop members the school no longer vouches for.
    pub(crate) async fn maintain_groups(&mut self) -> Result<(), ClientError> {
        let me = self.own_member()?;
        // Verifying the directory costs a few signatures per entry: once per sync.
        let mut verified: Option<Vec<ContactRecord>> = None;
        for bytes in self.store.groups()? {
            let record = GroupRecord::decode(&bytes)?;
            if !record.active {
                continue;
            }
            if record.is_creator(&me.account_id, &me.account_key) {
                if verified.is_none() {
                    verified = Some(self.verified_contacts()?);
                }
                let list = verified.as_deref().unwrap_or_default();
                self.refresh_membership(record.id, list).await?;
            }
            self.distribute_own_key(record.id).await?;
        }
        Ok(())
    }
}

/// Loads a group inside a transaction.
pub(crate) fn load(w: &Writer<'_>, id: &GroupId) -> Result<GroupRecord, ClientError> {
    let bytes = w.group(id.as_bytes())?.ok_or(ClientError::UnknownGroup {
        name: id.to_string(),
    })?;
    Ok(GroupRecord::decode(&bytes)?)
}

/// Where a group message for `contact`'s device goes: the outbound queue of the
/// session with it, or its mailbox while that session has none yet.
fn send_id_for(w: &Writer<'_>, contact: &ContactRecord) -> Result<Option<[u8; 16]>, ClientError> {
    let Ok(bundle) = PrekeyBundle::from_bytes(&contact.bundle) else {
        return Ok(None);
    };
    let sessions = w.sessions_with(bundle.device())?;
    let outbound = sessions
        .iter()
        .find_map(|row| row.session.outbound_send_id());
    Ok(Some(
        *outbound.unwrap_or_else(|| bundle.mailbox()).as_bytes(),
    ))
}
