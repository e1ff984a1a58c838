//! School administration on the admin's device: invite codes and revocation.

use satchel_core::os_rng;
use satchel_core::school::{
    GrantId, GrantRequest, Invite, MemberCertificate, RevocationList, RevokedGrant, Role,
    UNKNOWN_EXPIRY,
};

use crate::client::{Client, now_secs};
use crate::enrol::GRANT_LIFETIME_SECS;
use crate::error::ClientError;
use crate::store::IssuedInvite;
use satchel_relay_api::ErrorCode;

/// Where an issued invite stands ([`Client::invites`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InviteStatus {
    /// Not used yet; the code still works.
    Pending,
    /// Its person joined (a directory entry carries the grant).
    Joined,
    /// Not used, and the code no longer works.
    Expired,
    /// The school revoked the grant.
    Revoked,
}

/// An invite the admin issued, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IssuedInviteStatus {
    /// The grant id (hex): `revoke` accepts its first 8 or more digits.
    pub grant_id: String,
    /// The name on it (escape before display).
    pub name: String,
    /// The role.
    #[serde(serialize_with = "crate::enrol::role_name")]
    pub role: Role,
    /// The classes.
    pub classes: Vec<String>,
    /// When it was issued (Unix seconds).
    pub issued_at: u64,
    /// When its code stops working if unused (Unix seconds).
    pub code_expires_at: u64,
    /// Where it stands.
    pub status: InviteStatus,
}

/// The longest a code may stay usable, in days.
pub const MAX_CODE_VALID_DAYS: u32 = 90;

/// How [`Client::invite_with`] makes an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InviteOptions {
    /// Days the code stays usable if nobody uses it (1 to [`MAX_CODE_VALID_DAYS`];
    /// default 14). Shorter is safer: a code is a secret until it is used.
    pub code_valid_days: u32,
}

impl Default for InviteOptions {
    fn default() -> Self {
        Self {
            code_valid_days: DEFAULT_CODE_VALID_DAYS,
        }
    }
}

impl InviteOptions {
    /// The defaults (a code valid for 14 days).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A code valid for `days` days.
    #[must_use]
    pub fn code_valid_days(mut self, days: u32) -> Self {
        self.code_valid_days = days;
        self
    }
}

/// Days a code stays usable by default.
const DEFAULT_CODE_VALID_DAYS: u32 = 14;

impl Client {
    /// Creates an invite code for a teacher, staff member or parent, valid for 14 days
    /// (the root's device, or an office: an office cannot invite an admin).
    ///
    /// # Errors
    /// [`ClientError::NotAdmin`] on other devices; [`ClientError::EmptyName`]; bad
    /// fields; relay errors.
    pub async fn invite(
        &mut self,
        role: Role,
        name: &str,
        classes: &[String],
    ) -> Result<String, ClientError> {
        self.invite_with(role, name, classes, InviteOptions::new())
            .await
    }

    /// [`Client::invite`] with options.
    ///
    /// # Errors
    /// As [`Client::invite`]; [`ClientError::CodeLifetime`] for a lifetime out of range.
    pub async fn invite_with(
        &mut self,
        role: Role,
        name: &str,
        classes: &[String],
        options: InviteOptions,
    ) -> Result<String, ClientError> {
        if !(1..=MAX_CODE_VALID_DAYS).contains(&options.code_valid_days) {
            return Err(ClientError::CodeLifetime {
                days: options.code_valid_days,
            });
        }
        let lifetime = u64::from(options.code_valid_days) * 86_400;
        let name = name.trim();
        if name.is_empty() {
            return Err(ClientError::EmptyName);
        }
        let root = self.authority()?;
        let profile = self.profile()?;
        let now = now_secs();
        let request = GrantRequest {
            display_name: name.to_string(),
            role,
            classes: classes.iter().map(|c| c.trim().to_string()).collect(),
            valid_from: now.saturating_sub(60),
            valid_until: now + GRANT_LIFETIME_SECS,
        };
        let invite = Invite::create(
            &root,
            &profile.school_name,
            request,
            &profile.directory_key,
            &profile.relay_url,
            &mut os_rng(),
        )?;
        self.relay()?
            .put_invite(&root, &invite, now + lifetime)
            .await?;
        self.record_issued(&invite, now, now + lifetime)?;
        Ok(invite.code.to_line())
    }

    /// Keeps the admin's list of issued invites (see [`Client::invites`]).
    pub(crate) fn record_issued(
        &mut self,
        invite: &Invite,
        now: u64,
        code_expires_at: u64,
    ) -> Result<(), ClientError> {
        let details = invite.grant.details();
        let record = IssuedInvite {
            grant_id: *invite.grant.id().as_bytes(),
            name: details.display_name.clone(),
            role: details.role.as_str().to_owned(),
            classes: details.classes.clone(),
            issued_at: now,
            code_expires_at,
            lookup_id: invite.lookup_id,
            grant_valid_until: Some(details.valid_until),
        };
        Ok(self.store.write(|w| w.put_issued(&record))?)
    }

    /// Every invite this device issued (the root's device or an office), oldest first,
    /// with where it stands now: joined, waiting for its person, expired unused, or
    /// revoked. The directory and the revocation list are refreshed first.
    ///
    /// # Errors
    /// [`ClientError::NotAdmin`] on other devices; relay or store errors.
    pub async fn invites(&mut self) -> Result<Vec<IssuedInviteStatus>, ClientError> {
        self.authority()?;
        self.refresh_revocations().await?;
        self.refresh_directory().await?;
        let profile = self.profile()?;
        let root_key = profile.root_key;
        // The directory as this device sees it leaves this device out.
        let mut joined = vec![*profile.member.grant().id().as_bytes()];
        joined.extend(
            self.store
                .contacts()?
                .iter()
                .filter_map(|c| MemberCertificate::from_bytes(&c.certificate, &root_key).ok())
                .map(|m| *m.grant().id().as_bytes()),
        );
        let revocations = self.profile()?.revocations.clone();
        let now = now_secs();
        Ok(self
            .store
            .issued()?
            .into_iter()
            .map(|invite| {
                let id = GrantId::from_bytes(invite.grant_id);
                let status = if revocations.as_ref().is_some_and(|l| l.is_revoked(&id)) {
                    InviteStatus::Revoked
                } else if joined.contains(&invite.grant_id) {
                    InviteStatus::Joined
                } else if now >= invite.code_expires_at {
                    InviteStatus::Expired
                } else {
                    InviteStatus::Pending
                };
                IssuedInviteStatus {
                    grant_id: hex::encode(invite.grant_id),
                    name: invite.name,
                    role: Role::parse(&invite.role).unwrap_or(Role::Parent),
                    classes: invite.classes,
                    issued_at: invite.issued_at,
                    code_expires_at: invite.code_expires_at,
                    status,
                }
            })
            .collect())
    }

    /// Revokes (the root's device or an office) everyone called `name` — enrolled
    /// members in the directory and invites issued for that name that nobody used yet —
    /// or the one grant whose id starts with `name` (at least 8 hex digits, as
    /// `satchel school invites` shows it). Publishes a new revocation list, tells the
    /// relay to refuse their keys, deletes unused invites from the relay so their codes
    /// yield nothing, and rotates the directory key: a new key, signed by this device
    /// as the school, goes to every current member over their session and the
    /// directory is re-sealed under it (the revoked members' entries stay under the old
    /// key, shown to others as revoked). Returns how many grants were revoked.
    ///
    /// # Errors
    /// [`ClientError::UnknownContact`] if nothing has that name or id; relay errors.
    pub async fn revoke(&mut self, name: &str) -> Result<usize, ClientError> {
        self.reload_profile()?;
        let root = self.authority()?;
        self.refresh_directory().await?;
        let root_key = self.profile()?.root_key;
        let wanted = name.trim().to_lowercase();
        let by_id = wanted.len() >= 8 && wanted.chars().all(|c| c.is_ascii_hexdigit());
        let matches = |grant: &[u8; 16], person: &str| {
            if by_id {
                hex::encode(grant).starts_with(&wanted)
            } else {
                person.trim().to_lowercase() == wanted
            }
        };
        let contacts = self.store.contacts()?;
        let members: Vec<(RevokedGrant, [u8; 32])> = contacts
            .iter()
            .filter_map(|c| {
                let member = MemberCertificate::from_bytes(&c.certificate, &root_key).ok()?;
                let grant = member.grant();
                matches(grant.id().as_bytes(), &c.name)
                    .then(|| (RevokedGrant::from(grant), *grant.grant_key()))
            })
            .collect();
        let mut grants: Vec<RevokedGrant> = members.iter().map(|(grant, _)| *grant).collect();
        let unused: Vec<IssuedInvite> = self
            .store
            .issued()?
            .into_iter()
            .filter(|i| matches(&i.grant_id, &i.name))
            .collect();
        grants.extend(unused.iter().map(|i| RevokedGrant {
            id: GrantId::from_bytes(i.grant_id),
            valid_until: i.grant_valid_until.unwrap_or(UNKNOWN_EXPIRY),
        }));
        grants.sort_unstable_by_key(|grant| grant.id);
        grants.dedup_by_key(|grant| grant.id);
        if grants.is_empty() {
            return Err(ClientError::UnknownContact {
                name: name.to_string(),
                suggestion: crate::directory::nearest_name(&contacts, name),
            });
        }
        // The relay stops accepting the member keys that redeemed these grants (also a
        // copier's who redeemed a leaked code), before the invites' records go.
        let relay = self.relay()?;
        let mut grant_keys: Vec<[u8; 32]> = members.iter().map(|(_, key)| *key).collect();
        grant_keys.sort_unstable();
        grant_keys.dedup();
        let lookups: Vec<[u8; 16]> = unused.iter().map(|i| i.lookup_id).collect();
        for keys in grant_keys.chunks(satchel_relay_api::MAX_REVOKE_MEMBERS) {
            relay.revoke_members(&root, keys, &[]).await?;
        }
        for ids in lookups.chunks(satchel_relay_api::MAX_REVOKE_MEMBERS) {
            relay.revoke_members(&root, &[], ids).await?;
        }
        // An unused code must not become an enrolment after all: its record goes.
        for invite in &unused {
            relay.delete_invite(&root, &invite.lookup_id).await?;
        }
        // The kept list's entries (v1 ones unpruned, v2 ones without the grants expired
        // by now) plus these. Another admin device (the root or an office) may have
        // published a list meanwhile: then start from that one.
        let mut attempts = 0;
        let list = loop {
            attempts += 1;
            let previous = self.profile()?.revocations.as_ref();
            let list =
                RevocationList::successor(previous, &root, now_secs(), grants.iter().copied())?;
            match relay.put_revocations(&root, &list).await {
                Ok(()) => break list,
                Err(error) if attempts < 3 && error.code() == Some(ErrorCode::StaleSequence) => {
                    self.refresh_revocations().await?;
                }
                Err(error) => return Err(error.into()),
            }
        };
        if let Some(mut profile) = self.profile.take() {
            profile.revocations = Some(list);
            self.save_profile(profile)?;
        }
        // The revoked kept the directory key: a new one reaches only current members,
        // and their entries are sealed under it (the revoked ones' are deleted).
        self.rotate_directory_key().await?;
        Ok(grants.len())
    }
}
