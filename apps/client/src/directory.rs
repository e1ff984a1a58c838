//! The school directory: refreshing the local copy from the relay (with the revocation
//! list), listing people, and resolving a name to the devices of exactly one person.

use std::collections::{HashMap, HashSet};

use satchel_core::school::{DirectoryEntry, RevocationList, Role, office_acts};
use satchel_core::{AccountId, DirectoryError, PrekeyBundle};

use crate::client::{Client, now_secs};
use crate::error::ClientError;
use crate::store::ContactRecord;

/// A person in the school directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Contact {
    /// Their name, as the school certified it (attacker-controlled text: escape it
    /// before display).
    pub name: String,
    /// Their role.
    #[serde(serialize_with = "crate::enrol::role_name")]
    pub role: Role,
    /// Their classes.
    pub classes: Vec<String>,
    /// Whether the school vouches for them now (not revoked or expired).
    pub verified: bool,
    /// Their account id (serialised as hex).
    #[serde(serialize_with = "crate::enrol::hex_id")]
    pub account_id: AccountId,
    /// The safety number to compare in person.
    pub safety_number: String,
}

/// A sync refreshes the local directory when it is older than this (a send to an
/// unknown name, `contacts` and `revoke` always refresh it; revocations are fetched on
/// every sync).
const DIRECTORY_MAX_AGE_SECS: u64 = 10 * 60;
/// The `meta` key of the last directory refresh (Unix seconds).
const DIRECTORY_AT: &str = "directory_at";

impl Client {
    /// Fetches the latest revocation list, if newer than the one kept (a conditional
    /// fetch: the relay sends the list only when its sequence number is higher).
    pub(crate) async fn refresh_revocations(&mut self) -> Result<(), ClientError> {
        let relay = self.relay()?;
        let profile = self.profile()?;
        let fetched = match &profile.revocations {
            Some(kept) => {
                relay
                    .get_revocations_since(&profile.school_id, kept.sequence())
                    .await?
            }
            None => relay.get_revocations(&profile.school_id).await?,
        };
        let Some(bytes) = fetched else {
            return Ok(());
        };
        let list = RevocationList::from_bytes(&bytes, &profile.root_key)?;
        // An office's list counts only while that office acts for the school: valid
        // now, and revoked neither by the list held nor by this one (a revoked office
        // cannot publish its way back).
        let from_acting_office = list.issuer().is_none_or(|office| {
            let now = now_secs();
            office_acts(office, now, profile.revocations.as_ref())
                && office_acts(office, now, Some(&list))
        });
        let newer = from_acting_office
            && profile
                .revocations
                .as_ref()
                .is_none_or(|current| list.sequence() > current.sequence());
        if newer && let Some(mut profile) = self.profile.take() {
            profile.revocations = Some(list);
            self.save_profile(profile)?;
        }
        Ok(())
    }

    /// Whether the local directory is older than [`DIRECTORY_MAX_AGE_SECS`].
    pub(crate) fn directory_is_stale(&self) -> Result<bool, ClientError> {
        let at = self
            .store
            .meta(DIRECTORY_AT)?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map_or(0, u64::from_be_bytes);
        Ok(now_secs().saturating_sub(at) >= DIRECTORY_MAX_AGE_SECS)
    }

    /// Fetches the directory and the revocation list from the relay into the local
    /// store. Entries that do not verify are skipped. An entry that does not decrypt
    /// under any directory key this device holds (sealed under a newer key that has not
    /// reached it yet) keeps its last local copy, so a device that is one key behind
    /// does not lose its contacts.
    pub(crate) async fn refresh_directory(&mut self) -> Result<(), ClientError> {
        self.refresh_revocations().await?;
        let relay = self.relay()?;
        let profile = self.profile()?;
        let school = profile.school_id;
        let own = self.account()?.device_id();
        let kept: HashMap<[u8; 16], ContactRecord> = self
            .store
            .contacts()?
            .into_iter()
            .map(|c| (c.entry_id, c))
            .collect();
        let contacts: Vec<ContactRecord> = relay
            .directory(&school)
            .await?
            .into_iter()
            .filter_map(|(id, blob)| {
                let opened = profile.directory_keys().find_map(|key| {
                    match DirectoryEntry::open(&blob, key, &profile.root_key, &id) {
                        Err(DirectoryError::DecryptionFailed) => None,
                        other => Some(other),
                    }
                });
                let entry = match opened {
                    Some(Ok(entry)) => entry,
                    Some(Err(_)) => return None,
                    None => return kept.get(id.as_bytes()).cloned(),
                };
                let details = entry.member.grant().details();
                (entry.bundle.device().device_id() != own).then(|| ContactRecord {
                    entry_id: *id.as_bytes(),
                    account_id: *entry.member.account_id().as_bytes(),
                    device_id: *entry.bundle.device().device_id().as_bytes(),
                    name: details.display_name.clone(),
                    role: details.role.as_str().to_string(),
                    classes: details.classes.clone(),
                    certificate: entry.member.to_bytes(),
                    bundle: entry.bundle.to_bytes(),
                    bundle_id: entry.bundle_id,
                    updated_at: entry.updated_at,
                    grant_id: *entry.member.grant().id().as_bytes(),
                    account_key: *entry.member.account_key(),
                })
            })
            .collect();
        self.store.write(|w| {
            w.replace_contacts(&contacts)?;
            w.set_meta(DIRECTORY_AT, &now_secs().to_be_bytes())
        })?;
        Ok(())
    }

    /// The school directory (refreshed from the relay), with verified state and safety
    /// numbers, one line per person.
    ///
    /// # Errors
    /// Relay or store errors.
    pub async fn contacts(&mut self) -> Result<Vec<Contact>, ClientError> {
        self.reload_profile()?;
        self.refresh_directory().await?;
        let account = self.account()?;
        let mut seen = HashSet::new();
        let mut contacts = Vec::new();
        for c in self.store.contacts()? {
            if !seen.insert(c.account_id) {
                continue; // one line per person, whatever their number of devices
            }
            let Ok(bundle) = PrekeyBundle::from_bytes(&c.bundle) else {
                continue;
            };
            let verified = self
                .status_of(Some(&c.certificate), bundle.device())?
                .is_verified();
            contacts.push(Contact {
                role: Role::parse(&c.role).unwrap_or(Role::Parent),
                name: c.name,
                classes: c.classes,
                verified,
                account_id: AccountId::from_bytes(c.account_id),
                safety_number: account.safety_number(bundle.device()).to_string(),
            });
        }
        Ok(contacts)
    }

    /// One person from the local copy of the directory (no network): `with` is a name
    /// or an account id, as for [`Client::history`].
    ///
    /// # Errors
    /// [`ClientError::UnknownContact`] and friends; store errors.
    pub fn person(&self, with: &str) -> Result<Contact, ClientError> {
        let devices = self.resolve(with)?;
        let account = self.account()?;
        let mut verified = false;
        let mut found = None;
        for c in devices {
            let Ok(bundle) = PrekeyBundle::from_bytes(&c.bundle) else {
                continue;
            };
            verified |= self
                .status_of(Some(&c.certificate), bundle.device())?
                .is_verified();
            if found.is_none() {
                found = Some((c, account.safety_number(bundle.device()).to_string()));
            }
        }
        let (c, safety_number) = found.ok_or_else(|| ClientError::UnknownContact {
            name: with.to_string(),
            suggestion: None,
        })?;
        Ok(Contact {
            role: Role::parse(&c.role).unwrap_or(Role::Parent),
            name: c.name,
            classes: c.classes,
            verified,
            account_id: AccountId::from_bytes(c.account_id),
            safety_number,
        })
    }

    /// The directory entries (devices) of the one person `to` names: a name
    /// (case-insensitive, surrounding spaces ignored) or an account id (hex, or a unique
    /// prefix of at least 8 characters). If the local copy knows nobody by that name, it
    /// is refreshed from the relay first.
    pub(crate) async fn resolve_fresh(
        &mut self,
        to: &str,
    ) -> Result<Vec<ContactRecord>, ClientError> {
        match self.resolve(to) {
            Err(ClientError::UnknownContact { .. }) => {
                self.refresh_directory().await?;
                self.resolve(to)
            }
            other => other,
        }
    }

    /// As [`Client::resolve_fresh`], on the local copy only.
    pub(crate) fn resolve(&self, to: &str) -> Result<Vec<ContactRecord>, ClientError> {
        let wanted = to.trim().to_lowercase();
        let contacts = self.store.contacts()?;
        let mut matches: Vec<ContactRecord> = contacts
            .iter()
            .filter(|c| c.name.trim().to_lowercase() == wanted)
            .cloned()
            .collect();
        if matches.is_empty() && wanted.len() >= 8 && wanted.chars().all(|c| c.is_ascii_hexdigit())
        {
            matches = contacts
                .iter()
                .filter(|c| hex::encode(c.account_id).starts_with(&wanted))
                .cloned()
                .collect();
        }
        let mut accounts: Vec<[u8; 16]> = matches.iter().map(|c| c.account_id).collect();
        accounts.sort_unstable();
        accounts.dedup();
        match accounts.len() {
            0 => Err(ClientError::UnknownContact {
                name: to.to_string(),
                suggestion: nearest_name(&contacts, to),
            }),
            1 => Ok(matches),
            _ => Err(ClientError::AmbiguousContact {
                name: to.to_string(),
                choices: accounts
                    .iter()
                    .map(|account| {
                        let entry = matches.iter().find(|c| &c.account_id == account);
                        let classes = entry.map(|c| c.classes.join(", ")).unwrap_or_default();
                        let role = entry.map(|c| c.role.clone()).unwrap_or_default();
                        format!("{} ({role} {classes})", hex::encode(account))
                    })
                    .collect(),
            }),
        }
    }
}

/// The directory name closest to `wanted` (edit distance at most a third of its
/// length), to offer as "did you mean".
pub(crate) fn nearest_name(contacts: &[ContactRecord], wanted: &str) -> Option<String> {
    let wanted = wanted.trim().to_lowercase();
    let limit = (wanted.chars().count() / 3).max(1);
    contacts
        .iter()
        .map(|c| (edit_distance(&c.name.to_lowercase(), &wanted), &c.name))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.clone())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute =
                previous.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let delete = previous
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let insert = current
                .get(j)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distance_counts_single_character_changes() {
        assert_eq!(edit_distance("ms rivera", "ms rivera"), 0);
        assert_eq!(edit_distance("ms rivera", "ms rivra"), 1);
        assert_eq!(edit_distance("ms rivera", "mr rivero"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
