//! Groups for a school (docs/PROTOCOL.md §13): class announcements, class groups and
//! class-team threads, over sender keys. One encryption and one signature per message;
//! one shared deposit puts it in every member device's queue.
//!
//! * The creator decides who is in the group and announces it to every member over
//!   their pairwise sessions ([`GroupUpdate`](satchel_proto::v1::GroupUpdate)); only the
//!   creator's updates count, and only a newer one replaces the state.
//! * Each device that may post hands its sender key to every member device over the
//!   same pairwise sessions; a key is taken only from a device the group lists, over a
//!   session with that very device.
//! * Names are never carried: every device shows the name its own school directory
//!   certifies for a sender, and whether the school vouches for them now.
//! * A member who leaves (removed by the creator, or revoked by the school) makes every
//!   remaining poster rotate its key before it sends again.

pub mod fuzz;
pub(crate) mod receive;
mod record;
mod send;

use std::collections::HashMap;

use satchel_core::PrekeyBundle;
use satchel_core::group::GroupId;
use satchel_core::school::{Role, SenderStatus};
use satchel_proto::v1 as pb;

use crate::client::{Client, now_secs};
use crate::error::ClientError;
use crate::history::Message;
use crate::store::ContactRecord;

pub use record::GroupKind;
pub(crate) use record::{GroupRecord, KnownSender, MemberDevice};
pub(crate) use send::SHARED_OUTBOX_ITEM;

/// The most member devices a group may have (one shared deposit each).
pub const MAX_GROUP_DEVICES: usize = satchel_relay_api::shared_deposit::MAX_SHARED_RECIPIENTS;
/// The longest group title.
pub const MAX_GROUP_TITLE_LEN: usize = 100;

/// A group as shown to the person.
///
/// `title` is attacker-controlled text (the creator chose it): escape it before display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupInfo {
    /// The group's id (hex); any unique prefix of at least 6 characters names it.
    pub id: String,
    /// What kind of group.
    pub kind: GroupKind,
    /// Its title.
    pub title: String,
    /// The class it is for ("" for the whole school).
    pub class_name: String,
    /// How many people are in it (this device's account included).
    pub people: usize,
    /// Whether this device created it (and so decides who is in it).
    pub created_by_me: bool,
    /// Whether this device may post in it.
    pub may_post: bool,
    /// Class groups: whether parents may post.
    pub members_may_post: bool,
    /// `false` once the creator removed this device: nothing new arrives.
    pub active: bool,
}

/// Whether someone of `role` may start a group of `kind` for `class`: staff an
/// announcement to a class or a class group, the school's admins (its office) an
/// announcement to the whole school (no class), anyone a team thread of a class. The
/// creator's app asks before creating; every member's app before accepting the group.
pub(crate) fn may_create(kind: GroupKind, class: &str, role: Role) -> bool {
    match kind {
        GroupKind::Announcement if class.is_empty() => role == Role::Admin,
        GroupKind::Announcement | GroupKind::ClassGroup => role != Role::Parent,
        GroupKind::TeamThread => !class.is_empty(),
    }
}

/// Whether someone of `role` may post in `group` (the creator always may).
pub(crate) fn may_post(group: &GroupRecord, creator: bool, role: Option<Role>) -> bool {
    if creator {
        return true;
    }
    match group.kind {
        GroupKind::Announcement => false,
        GroupKind::ClassGroup => match role {
            Some(Role::Parent) => group.members_may_post,
            Some(_) => true,
            None => false,
        },
        GroupKind::TeamThread => role.is_some(),
    }
}

/// Whether a directory entry is staff (not a parent).
fn is_staff(contact: &ContactRecord) -> bool {
    Role::parse(&contact.role).is_some_and(|role| role != Role::Parent)
}

fn teaches(contact: &ContactRecord, class: &str) -> bool {
    contact
        .classes
        .iter()
        .any(|c| c.trim().eq_ignore_ascii_case(class.trim()))
}

/// The device signing key of a directory entry.
pub(crate) fn device_key_of(contact: &ContactRecord) -> Option<[u8; 32]> {
    PrekeyBundle::from_bytes(&contact.bundle)
        .ok()
        .map(|bundle| *bundle.device().device_signing_key())
}

pub(crate) fn member_of(contact: &ContactRecord) -> Option<MemberDevice> {
    Some(MemberDevice {
        account_id: contact.account_id,
        account_key: contact.account_key,
        device_key: device_key_of(contact)?,
    })
}

impl Client {
    /// This device as a group member.
    pub(crate) fn own_member(&self) -> Result<MemberDevice, ClientError> {
        let account = self.account()?;
        let certificate = account.certificate();
        Ok(MemberDevice {
            account_id: *certificate.account_id().as_bytes(),
            account_key: *certificate.account_key(),
            device_key: *certificate.device_signing_key(),
        })
    }

    /// This device's role, as its own certificate says.
    pub(crate) fn own_role(&self) -> Result<Role, ClientError> {
        Ok(self.profile()?.member.grant().details().role)
    }

    /// Directory entries the school vouches for now.
    pub(crate) fn verified_contacts(&self) -> Result<Vec<ContactRecord>, ClientError> {
        let mut verified = Vec::new();
        for contact in self.store.contacts()? {
            let Ok(bundle) = PrekeyBundle::from_bytes(&contact.bundle) else {
                continue;
            };
            if let SenderStatus::Verified(_) =
                self.status_of(Some(&contact.certificate), bundle.device())?
            {
                verified.push(contact);
            }
        }
        Ok(verified)
    }

    /// Who belongs in a new group of `kind` for `class`, from the directory.
    fn initial_members(
        &self,
        kind: GroupKind,
        class: &str,
    ) -> Result<Vec<MemberDevice>, ClientError> {
        let mut members = vec![self.own_member()?];
        for contact in self.verified_contacts()? {
            let belongs = match kind {
                GroupKind::Announcement if class.is_empty() => true,
                GroupKind::Announcement => {
                    Role::parse(&contact.role) == Some(Role::Parent) && teaches(&contact, class)
                }
                GroupKind::ClassGroup => teaches(&contact, class),
                GroupKind::TeamThread => is_staff(&contact) && teaches(&contact, class),
            };
            if belongs
                && let Some(member) = member_of(&contact)
                && !members.iter().any(|m| m.device_key == member.device_key)
            {
                members.push(member);
            }
        }
        Ok(members)
    }

    /// Creates a group and tells every member. `kind` and `class` decide who is in it,
    /// from the school directory: an announcement reaches every parent of `class` (the
    /// whole school with an empty class, for the office), a class group the teachers
    /// and parents of `class`, a team thread the staff of `class`.
    ///
    /// # Errors
    /// [`ClientError::NotAllowedInGroup`] when this device may not create it (only
    /// staff create announcements and class groups, only the school's office
    /// announces to the whole school); [`ClientError::EmptyGroup`] when the directory
    /// has nobody for it (a mistyped class); [`ClientError::GroupTooLarge`];
    /// [`ClientError::NotYetAdmitted`], [`ClientError::MembershipEnded`]; relay and
    /// store errors.
    pub async fn create_group(
        &mut self,
        kind: GroupKind,
        class: &str,
        title: Option<&str>,
        members_may_post: bool,
    ) -> Result<GroupInfo, ClientError> {
        let class = class.trim();
        // Members check the school certificate in every session this starts.
        self.check_before_sending().await?;
        if !may_create(kind, class, self.own_role()?) {
            return Err(ClientError::NotAllowedInGroup {
                what: "create this kind of group",
            });
        }
        // Who is in the class is decided now: from a fresh directory.
        self.refresh_directory().await?;
        let members = self.initial_members(kind, class)?;
        // Only this device: a mistyped class, or a class nobody has joined yet.
        if members.len() < 2 {
            return Err(ClientError::EmptyGroup {
                class: class.chars().take(MAX_GROUP_TITLE_LEN).collect(),
            });
        }
        if members.len() > MAX_GROUP_DEVICES {
            return Err(ClientError::GroupTooLarge {
                devices: members.len(),
                max: MAX_GROUP_DEVICES,
            });
        }
        let title = match title.map(str::trim) {
            Some(title) if !title.is_empty() => title.chars().take(MAX_GROUP_TITLE_LEN).collect(),
            _ => default_title(kind, class),
        };
        let me = self.own_member()?;
        let id = GroupId::random(&mut satchel_core::os_rng());
        let mut record = GroupRecord::new(
            id,
            kind,
            me.account_id,
            me.account_key,
            me.sender(),
            now_secs(),
        );
        record.title = title;
        record.class_name = class.to_owned();
        record.members_may_post = members_may_post;
        record.epoch = 1;
        record.members = members;
        self.store
            .write(|w| w.put_group(id.as_bytes(), &record.encode()))?;
        self.announce_group_state(&record, &[]).await?;
        self.distribute_own_key(id).await?;
        self.group_info(&record)
    }

    /// Tells every member (and `also`, devices just removed) the group's current state.
    pub(crate) async fn announce_group_state(
        &mut self,
        record: &GroupRecord,
        also: &[MemberDevice],
    ) -> Result<(), ClientError> {
        let update = pb::Content {
            message_id: random_id().to_vec(),
            sent_at: crate::client::now_millis(),
            body: Some(pb::content::Body::GroupUpdate(update_of(record))),
        };
        let content = zeroize::Zeroizing::new(prost::Message::encode_to_vec(&update));
        let me = self.own_member()?;
        let targets: Vec<ContactRecord> = self
            .contacts_for(record.members.iter().chain(also))?
            .into_iter()
            .filter(|(member, _)| member.device_key != me.device_key)
            .map(|(_, contact)| contact)
            .collect();
        if !targets.is_empty() {
            self.send_control(&targets, &content).await?;
        }
        Ok(())
    }

    /// The directory entries of `members` (devices not in the directory are skipped).
    pub(crate) fn contacts_for<'a>(
        &self,
        members: impl Iterator<Item = &'a MemberDevice>,
    ) -> Result<Vec<(MemberDevice, ContactRecord)>, ClientError> {
        let by_device: HashMap<[u8; 32], ContactRecord> = self
            .store
            .contacts()?
            .into_iter()
            .filter_map(|c| Some((device_key_of(&c)?, c)))
            .collect();
        Ok(members
            .filter_map(|m| by_device.get(&m.device_key).map(|c| (m.clone(), c.clone())))
            .collect())
    }

    /// Loads a group by id, id prefix (6 hex characters or more) or exact title.
    pub(crate) fn find_group(&self, name: &str) -> Result<GroupRecord, ClientError> {
        let wanted = name.trim().to_lowercase();
        let groups: Vec<GroupRecord> = self
            .store
            .groups()?
            .iter()
            .map(|bytes| GroupRecord::decode(bytes))
            .collect::<Result<_, _>>()?;
        let mut matches: Vec<GroupRecord> = Vec::new();
        for group in groups {
            let id = group.id.to_string();
            if group.title.trim().to_lowercase() == wanted
                || (wanted.len() >= 6 && id.starts_with(&wanted))
            {
                matches.push(group);
            }
        }
        match matches.len() {
            1 => matches.pop().ok_or(ClientError::UnknownGroup {
                name: name.to_owned(),
            }),
            0 => Err(ClientError::UnknownGroup {
                name: name.to_owned(),
            }),
            _ => Err(ClientError::AmbiguousGroup {
                name: name.to_owned(),
                choices: matches.iter().map(|g| g.id.to_string()).collect(),
            }),
        }
    }

    /// Every group this device is in (or was), by title.
    ///
    /// # Errors
    /// Store errors.
    pub fn groups(&self) -> Result<Vec<GroupInfo>, ClientError> {
        let mut infos = Vec::new();
        for bytes in self.store.groups()? {
            infos.push(self.group_info(&GroupRecord::decode(&bytes)?)?);
        }
        infos.sort_by_key(|info| info.title.to_lowercase());
        Ok(infos)
    }

    /// One group.
    ///
    /// # Errors
    /// [`ClientError::UnknownGroup`], [`ClientError::AmbiguousGroup`].
    pub fn group(&self, group: &str) -> Result<GroupInfo, ClientError> {
        self.group_info(&self.find_group(group)?)
    }

    /// The people in a group, as this device's directory names them (people no longer
    /// in the directory are listed by account id).
    ///
    /// # Errors
    /// As [`Client::group`].
    pub fn group_members(&self, group: &str) -> Result<Vec<String>, ClientError> {
        let record = self.find_group(group)?;
        let me = self.own_member()?;
        let contacts = self.store.contacts()?;
        let mut names: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for member in &record.members {
            if !seen.insert(member.account_id) {
                continue;
            }
            let name = if member.account_id == me.account_id {
                format!(
                    "{} (you)",
                    self.profile()?.member.grant().details().display_name
                )
            } else {
                contacts
                    .iter()
                    .find(|c| c.account_id == member.account_id)
                    .map_or_else(
                        || hex::encode(member.account_id),
                        |c| format!("{} ({})", c.name, c.role),
                    )
            };
            names.push(name);
        }
        Ok(names)
    }

    /// A group's messages, oldest first.
    ///
    /// # Errors
    /// As [`Client::group`].
    pub fn group_history(&self, group: &str) -> Result<Vec<Message>, ClientError> {
        let record = self.find_group(group)?;
        let conversation = self.store.group_conversation(record.id.as_bytes());
        Ok(self
            .store
            .history(&conversation)?
            .into_iter()
            .map(|m| {
                let id = m.message_id;
                Message::from(m).in_group(&record).with_reads(&record, &id)
            })
            .collect())
    }

    pub(crate) fn group_info(&self, record: &GroupRecord) -> Result<GroupInfo, ClientError> {
        let me = self.own_member()?;
        let creator = record.is_creator(&me.account_id, &me.account_key);
        let mut people: Vec<[u8; 16]> = record.members.iter().map(|m| m.account_id).collect();
        people.sort_unstable();
        people.dedup();
        Ok(GroupInfo {
            id: record.id.to_string(),
            kind: record.kind,
            title: record.title.clone(),
            class_name: record.class_name.clone(),
            people: people.len(),
            created_by_me: creator,
            may_post: record.active && may_post(record, creator, Some(self.own_role()?)),
            members_may_post: record.members_may_post,
            active: record.active,
        })
    }
}

fn default_title(kind: GroupKind, class: &str) -> String {
    match (kind, class.is_empty()) {
        (GroupKind::Announcement, true) => "School announcements".to_owned(),
        (GroupKind::Announcement, false) => format!("{class} announcements"),
        (GroupKind::ClassGroup, _) => format!("Class {class}"),
        (GroupKind::TeamThread, _) => format!("Teachers of {class}"),
    }
}

pub(crate) fn random_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    rand_core::Rng::fill_bytes(&mut satchel_core::os_rng(), &mut id);
    id
}

/// The update that announces `record`'s state.
pub(crate) fn update_of(record: &GroupRecord) -> pb::GroupUpdate {
    pb::GroupUpdate {
        group_id: record.id.as_bytes().to_vec(),
        kind: record.kind.to_wire(),
        title: record.title.clone(),
        class_name: record.class_name.clone(),
        members_may_post: record.members_may_post,
        epoch: record.epoch,
        members: record
            .members
            .iter()
            .map(|m| pb::GroupMember {
                account_id: m.account_id.to_vec(),
                account_key: m.account_key.to_vec(),
                device_key: m.device_key.to_vec(),
            })
            .collect(),
    }
}
