//! Keeping this device's prekeys fresh, as part of every sync:
//!
//! * **replenishment** — at most once per [`PrekeyPolicy::check_every_secs`], the relay
//!   is asked how many one-time prekeys it still holds; below the threshold, new ones are
//!   generated and **stored before** they are uploaded (an interrupted upload is
//!   repeated with the same signed keys by the next check), then marked published;
//! * **rotation** — every [`PrekeyPolicy::rotate_every_secs`] (default 7 days) the
//!   signed and ML-KEM prekeys are replaced and the directory entry is written again
//!   with the new bundle. Core keeps [`satchel_core::RETAINED_ROTATED_PREKEYS`] of each
//!   (the current one included), so a first contact made with a previous bundle still
//!   works for two more rotations: 14 days at the default schedule.
//!
//! Mail is fetched before either runs, so first contacts waiting on the relay are always
//! accepted with the keys they were made for.

use satchel_core::{BundleId, os_rng};

use crate::client::{Client, now_secs};
use crate::error::ClientError;
use crate::relay::{RelayClient, RelayError};
use crate::store::{StoreError, Writer};
use satchel_relay_api::ErrorCode;

/// The `meta` key of the last one-time prekey check (Unix seconds, big-endian).
const CHECKED_AT: &str = "prekeys_checked_at";
/// The `meta` key of the last signed/ML-KEM prekey rotation (Unix seconds).
const ROTATED_AT: &str = "prekeys_rotated_at";
/// Set while a rotated bundle has not reached the directory yet.
const ENTRY_STALE: &str = "prekeys_entry_stale";

/// When this device checks and renews its prekeys (during [`Client::sync`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrekeyPolicy {
    /// Seconds between two checks of the relay's one-time prekey count (default one
    /// hour).
    pub check_every_secs: u64,
    /// Top up when the relay holds fewer than this many one-time prekeys (default 20).
    pub threshold: usize,
    /// How many one-time prekeys a top-up aims for (default 100).
    pub target: usize,
    /// Seconds between two rotations of the signed and ML-KEM prekeys (default 7 days).
    pub rotate_every_secs: u64,
}

impl Default for PrekeyPolicy {
    fn default() -> Self {
        Self {
            check_every_secs: 3600,
            threshold: 20,
            target: 100,
            rotate_every_secs: 7 * 24 * 3600,
        }
    }
}

impl PrekeyPolicy {
    /// The defaults: check hourly, top up below 20 to 100, rotate weekly.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the one-time prekey count at most every `secs` seconds.
    #[must_use]
    pub fn check_every_secs(mut self, secs: u64) -> Self {
        self.check_every_secs = secs;
        self
    }

    /// Tops up below `threshold` to `target` (a target below the threshold is raised to
    /// it).
    #[must_use]
    pub fn one_time_prekeys(mut self, threshold: usize, target: usize) -> Self {
        self.threshold = threshold;
        self.target = target.max(threshold);
        self
    }

    /// Rotates the signed and ML-KEM prekeys every `secs` seconds.
    #[must_use]
    pub fn rotate_every_secs(mut self, secs: u64) -> Self {
        self.rotate_every_secs = secs;
        self
    }
}

/// What prekey maintenance did during a sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrekeyReport {
    /// One-time prekeys uploaded (new, or left over from an interrupted upload).
    pub uploaded: usize,
    /// Whether the signed and ML-KEM prekeys were rotated.
    pub rotated: bool,
    /// Whether the directory entry was written with a new bundle.
    pub republished: bool,
}

fn read_secs(bytes: Option<Vec<u8>>) -> Option<u64> {
    bytes
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
        .map(u64::from_be_bytes)
}

/// Records a rotation (or enrolment) at `now`.
pub(crate) fn record_rotation(w: &Writer<'_>, now: u64) -> Result<(), StoreError> {
    w.set_meta(ROTATED_AT, &now.to_be_bytes())
}

impl Client {
    /// Sets when this device checks and renews its prekeys (see [`PrekeyPolicy`]).
    pub fn set_prekey_policy(&mut self, policy: PrekeyPolicy) {
        self.prekey_policy = policy;
    }

    /// Replenishes one-time prekeys and rotates the signed and ML-KEM prekeys when due.
    pub(crate) async fn maintain_prekeys(
        &mut self,
        relay: &RelayClient,
    ) -> Result<PrekeyReport, ClientError> {
        let mut report = PrekeyReport::default();
        let now = now_secs();
        let policy = self.prekey_policy;
        let checked = read_secs(self.store.meta(CHECKED_AT)?).unwrap_or(0);
        if now.saturating_sub(checked) >= policy.check_every_secs {
            report.uploaded = self.replenish(relay, &policy).await?;
            self.store
                .write(|w| w.set_meta(CHECKED_AT, &now.to_be_bytes()))?;
        }
        let rotated = match read_secs(self.store.meta(ROTATED_AT)?) {
            Some(at) => at,
            None => {
                // A profile from before scheduled rotation: start counting now.
                self.store.write(|w| record_rotation(w, now))?;
                now
            }
        };
        if now.saturating_sub(rotated) >= policy.rotate_every_secs {
            self.store.write(|w| {
                let mut account = w.account()?.ok_or(ClientError::NotEnrolled)?;
                account.rotate_prekeys(&mut os_rng());
                w.put_account(&account)?;
                record_rotation(w, now)?;
                w.set_meta(ENTRY_STALE, &[1])?;
                Ok::<_, ClientError>(())
            })?;
            report.rotated = true;
        }
        if self.store.meta(ENTRY_STALE)?.is_some() {
            let account = self.account()?;
            crate::enrol::put_own_entry(relay, &account, self.profile()?).await?;
            self.store.write(|w| w.delete_meta(ENTRY_STALE))?;
            report.republished = true;
        }
        Ok(report)
    }

    /// Tops up the relay's one-time prekeys if fewer than the threshold remain (or an
    /// earlier upload was cut off); returns how many were uploaded.
    async fn replenish(
        &mut self,
        relay: &RelayClient,
        policy: &PrekeyPolicy,
    ) -> Result<usize, ClientError> {
        let profile = self.profile()?;
        let bundle_id = BundleId::from_bytes(profile.bundle_id);
        let member_key = profile.member_key.clone();
        let on_relay = match relay.prekey_count(&bundle_id, &member_key).await {
            Ok(count) => usize::try_from(count).unwrap_or(usize::MAX),
            Err(RelayError::Rejected {
                code: ErrorCode::UnknownBundle,
                ..
            }) => 0,
            Err(error) => return Err(error.into()),
        };
        let (_, unpublished) = self.account()?.one_time_prekey_counts();
        if on_relay >= policy.threshold && unpublished == 0 {
            return Ok(0);
        }
        // Generated and stored first: if the upload below fails, the next check uploads
        // the same keys (their signatures are deterministic).
        let account = self.store.write(|w| {
            let mut account = w.account()?.ok_or(ClientError::NotEnrolled)?;
            if on_relay < policy.threshold {
                account.replenish_one_time_prekeys(on_relay, policy.target, &mut os_rng());
                w.put_account(&account)?;
            }
            Ok::<_, ClientError>(account)
        })?;
        let keys = account.unpublished_one_time_prekeys(&bundle_id);
        if keys.is_empty() {
            return Ok(0);
        }
        relay.upload_prekeys(&bundle_id, &member_key, &keys).await?;
        let ids: Vec<u32> = keys.iter().map(|k| k.id).collect();
        self.store.write(|w| {
            let mut account = w.account()?.ok_or(ClientError::NotEnrolled)?;
            account.mark_one_time_prekeys_published(&ids);
            w.put_account(&account)?;
            Ok::<_, ClientError>(())
        })?;
        Ok(ids.len())
    }
}
