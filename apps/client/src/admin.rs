//! School administration on the admin's device: invite codes and revocation.

use satchel_core::os_rng;
use satchel_core::school::{GrantRequest, Invite, MemberCertificate, RevocationList, Role};

use crate::client::{Client, now_secs};
use crate::enrol::{GRANT_LIFETIME_SECS, INVITE_LIFETIME_SECS};
use crate::error::ClientError;

impl Client {
    /// Creates an invite code for a teacher, staff member or parent (admin only).
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
        let name = name.trim();
        if name.is_empty() {
            return Err(ClientError::EmptyName);
        }
        let root = self.root()?;
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
            .put_invite(&root, &invite, now + INVITE_LIFETIME_SECS)
            .await?;
        Ok(invite.code.to_line())
    }

    /// Revokes everyone called `name` (admin only): publishes a new revocation list.
    /// Returns how many certificates were revoked.
    ///
    /// # Errors
    /// [`ClientError::UnknownContact`] if nobody has that name; relay errors.
    pub async fn revoke(&mut self, name: &str) -> Result<usize, ClientError> {
        let root = self.root()?;
        self.refresh_directory().await?;
        let root_key = root.public();
        let wanted = name.trim().to_lowercase();
        let contacts = self.store.contacts()?;
        let grants: Vec<_> = contacts
            .iter()
            .filter(|c| c.name.to_lowercase() == wanted)
            .filter_map(|c| MemberCertificate::from_bytes(&c.certificate, &root_key).ok())
            .map(|m| m.grant().id())
            .collect();
        if grants.is_empty() {
            return Err(ClientError::UnknownContact {
                name: name.to_string(),
                suggestion: crate::directory::nearest_name(&contacts, name),
            });
        }
        let previous = self.profile()?.revocations.as_ref();
        let mut revoked: Vec<_> = previous.map(|l| l.revoked().to_vec()).unwrap_or_default();
        revoked.extend(grants.iter().copied());
        revoked.sort();
        revoked.dedup();
        let sequence = previous.map_or(1, |l| l.sequence() + 1);
        let list = RevocationList::sign(&root, sequence, now_secs(), revoked)?;
        self.relay()?.put_revocations(&root, &list).await?;
        if let Some(mut profile) = self.profile.take() {
            profile.revocations = Some(list);
            self.save_profile(profile)?;
        }
        Ok(grants.len())
    }
}
