//! Rotating the school's directory key (`docs/PROTOCOL.md` §5.6) so that a revoked member,
//! who kept the old key, reads nothing written afterwards.
//!
//! The admin's device makes a new key with the next epoch, signed by the school root,
//! re-seals every current member's directory entry under it (as the root), and sends the
//! signed key to each current member's device over their pairwise session (end-to-end
//! encrypted, so it reaches only them). The entries of members the school no longer
//! vouches for stay as they were, under the old key: current members keep their last
//! copy (shown as revoked, so a send to them is refused with the reason), members who
//! join later never see them, and the revoked learn nothing they did not have. A member's sync keeps a received key in the store's `meta` table
//! in the same transaction as the message, then adopts it (a newer epoch only), writes
//! its own entry under it and refreshes the directory. Members admitted later get the
//! current key the same way when the admin admits them.

use prost::Message as _;
use satchel_core::school::{
    DirectoryEntry, DirectoryKey, DirectoryKeyUpdate, EntryId, MemberCertificate, SenderStatus,
    UnverifiedReason,
};
use satchel_core::{PrekeyBundle, os_rng};
use satchel_proto::v1 as pb;

use crate::client::{Client, now_millis, now_secs};
use crate::enrol::put_own_entry;
use crate::error::ClientError;
use crate::store::ContactRecord;

/// The `meta` key of a received directory key not adopted yet (an encoded
/// `DirectoryKeyUpdate`, verified when it was received).
pub(crate) const RECEIVED_DIRECTORY_KEY: &str = "received_directory_key";

impl Client {
    /// The admin's side: a new directory key for the next epoch, every current entry
    /// (and those of members waiting for admission) re-sealed under it, and the key sent
    /// to each current member's devices. Call after the revocation list that motivated
    /// it is in the profile. Returns how many devices the key was sent to.
    pub(crate) async fn rotate_directory_key(&mut self) -> Result<usize, ClientError> {
        let root = self.authority()?;
        self.refresh_directory().await?;
        let relay = self.relay()?;
        let mut profile = self.profile.take().ok_or(ClientError::NotEnrolled)?;
        let epoch = profile.directory_epoch.saturating_add(1);
        let update = DirectoryKeyUpdate::sign(&root, epoch, DirectoryKey::generate(&mut os_rng()));
        profile.replace_directory_key(update.key().clone(), epoch);
        self.save_profile(profile)?;

        let mut current = Vec::new();
        for contact in self.store.contacts()? {
            let Ok(bundle) = PrekeyBundle::from_bytes(&contact.bundle) else {
                continue;
            };
            let status = self.status_of(Some(&contact.certificate), bundle.device())?;
            // Current members, and those who joined but wait for admission (the key
            // follows at admission), are re-sealed; the revoked and expired are left
            // under the old key.
            let keep = matches!(
                status,
                SenderStatus::Verified(_) | SenderStatus::Unverified(UnverifiedReason::NotAdmitted)
            );
            if !keep {
                continue;
            }
            let member =
                MemberCertificate::from_bytes(&contact.certificate, &self.profile()?.root_key)?;
            let (entry_id, blob) = self.resealed_entry(&contact, member, bundle)?;
            relay
                .put_directory_entry_as_root(&root, &entry_id, &blob)
                .await?;
            if status.is_verified() {
                current.push(contact);
            }
        }
        put_own_entry(&relay, &self.account()?, self.profile()?).await?;
        self.send_directory_key(&current, &update).await?;
        self.refresh_directory().await?;
        Ok(current.len())
    }

    /// Sends the current directory key to `targets` (the admin's device only; nothing
    /// to send while the school still uses its first key).
    pub(crate) async fn send_current_directory_key(
        &mut self,
        targets: &[ContactRecord],
    ) -> Result<(), ClientError> {
        let profile = self.profile()?;
        if profile.directory_epoch == 0 || targets.is_empty() {
            return Ok(());
        }
        let update = DirectoryKeyUpdate::sign(
            &self.authority()?,
            profile.directory_epoch,
            profile.directory_key.clone(),
        );
        self.send_directory_key(targets, &update).await
    }

    async fn send_directory_key(
        &mut self,
        targets: &[ContactRecord],
        update: &DirectoryKeyUpdate,
    ) -> Result<(), ClientError> {
        let mut message_id = [0u8; 16];
        rand_core::Rng::fill_bytes(&mut os_rng(), &mut message_id);
        let content = zeroize::Zeroizing::new(
            pb::Content {
                message_id: message_id.to_vec(),
                sent_at: now_millis(),
                body: Some(pb::content::Body::DirectoryKey(update.to_proto())),
            }
            .encode_to_vec(),
        );
        self.send_control(targets, &content).await?;
        Ok(())
    }

    /// One member's entry sealed again under the current directory key with `member`
    /// (its certificate, possibly just admitted), for the school to write (the entry
    /// keeps its owner). Not async: the caller holds the client mutably across the
    /// request, which keeps its future `Send`.
    pub(crate) fn resealed_entry(
        &self,
        contact: &ContactRecord,
        member: MemberCertificate,
        bundle: PrekeyBundle,
    ) -> Result<(EntryId, Vec<u8>), ClientError> {
        let profile = self.profile()?;
        let entry_id = EntryId::from_bytes(contact.entry_id);
        let blob = DirectoryEntry {
            member,
            bundle,
            bundle_id: contact.bundle_id,
            updated_at: now_secs(),
        }
        .seal(
            &profile.directory_key,
            &profile.school_id,
            &entry_id,
            &mut os_rng(),
        )?;
        Ok((entry_id, blob))
    }

    /// A member's side: adopts a directory key received by an earlier sync if it is
    /// newer than the one held, writes this device's entry under it and refreshes the
    /// directory. Returns whether the key changed.
    pub(crate) async fn adopt_received_directory_key(&mut self) -> Result<bool, ClientError> {
        let Some(bytes) = self.store.meta(RECEIVED_DIRECTORY_KEY)? else {
            return Ok(false);
        };
        let bytes = zeroize::Zeroizing::new(bytes);
        let mut profile = self.profile.take().ok_or(ClientError::NotEnrolled)?;
        let update = pb::DirectoryKeyUpdate::decode(bytes.as_slice())
            .ok()
            .and_then(|proto| DirectoryKeyUpdate::from_proto(&proto, &profile.root_key).ok());
        let newer = update
            .as_ref()
            .filter(|update| update.epoch() > profile.directory_epoch);
        if let Some(update) = newer {
            profile.replace_directory_key(update.key().clone(), update.epoch());
        }
        let changed = newer.is_some();
        let encoded = profile.encode();
        self.store.write(|w| {
            w.set_meta(crate::profile::PROFILE_KEY, &encoded)?;
            w.delete_meta(RECEIVED_DIRECTORY_KEY)
        })?;
        self.profile = Some(profile);
        if changed {
            let relay = self.relay()?;
            // A revoked member's relay refuses the write; it keeps reading its mail.
            match put_own_entry(&relay, &self.account()?, self.profile()?).await {
                Err(ClientError::Relay(error)) if error.code().is_some() => {}
                other => other?,
            }
            self.refresh_directory().await?;
        }
        Ok(changed)
    }
}

/// Keeps a directory key received in `content` for [`Client::adopt_received_directory_key`]
/// (inside the page's transaction, so it is not lost once the message is acknowledged).
/// Only an update the pinned root signed, with an epoch above any kept one, is kept.
pub(crate) fn keep_received_directory_key(
    w: &crate::store::Writer<'_>,
    root: &satchel_core::school::SchoolKey,
    revocations: Option<&satchel_core::school::RevocationList>,
    update: &pb::DirectoryKeyUpdate,
) -> Result<(), crate::store::StoreError> {
    let Ok(verified) = DirectoryKeyUpdate::from_proto(update, root) else {
        return Ok(());
    };
    // An office's key counts only while that office acts for the school.
    if verified
        .issuer()
        .is_some_and(|office| !satchel_core::school::office_acts(office, now_secs(), revocations))
    {
        return Ok(());
    }
    let kept_epoch = w
        .meta(RECEIVED_DIRECTORY_KEY)?
        .and_then(|bytes| pb::DirectoryKeyUpdate::decode(bytes.as_slice()).ok())
        .map(|kept| kept.epoch);
    if kept_epoch.is_none_or(|epoch| verified.epoch() > epoch) {
        let encoded = zeroize::Zeroizing::new(verified.to_proto().encode_to_vec());
        w.set_meta(RECEIVED_DIRECTORY_KEY, &encoded)?;
    }
    Ok(())
}
