//! Enrolment: creating a school (its admin's device) and joining one with an invite
//! code. Also [`Identity`], who this device is.

use satchel_core::relay_request::RequestKey;
use satchel_core::school::SchoolId;
use satchel_core::school::{
    DirectoryEntry, DirectoryKey, EntryId, GrantRequest, Invite, InviteCode, Role, SchoolRoot,
};
use satchel_core::{Account, AccountId, os_rng};

use crate::client::{Client, ROOT_KEY_FILE, now_secs};
use crate::error::ClientError;
use crate::profile::Profile;
use crate::relay::RelayError;
use crate::store::keyfile::KeyFile;
use crate::store::private_fs;
use satchel_relay_api::ErrorCode;

/// One-time prekeys uploaded at enrolment.
const ONE_TIME_PREKEYS: usize = 50;
/// How long an invite code stays usable.
pub(crate) const INVITE_LIFETIME_SECS: u64 = 14 * 24 * 3600;
/// How long a grant is valid.
pub(crate) const GRANT_LIFETIME_SECS: u64 = 5 * 365 * 24 * 3600;

/// Who this device is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The name the school gave.
    pub name: String,
    /// The role.
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    /// The classes.
    pub classes: Vec<String>,
    /// The account id (serialised as hex).
    #[serde(serialize_with = "hex_id")]
    pub account_id: AccountId,
    /// The school id (serialised as hex), also the school's fingerprint.
    #[serde(serialize_with = "hex_id")]
    pub school_id: SchoolId,
    /// This account's fingerprint (30 digits in groups).
    pub fingerprint: String,
    /// Whether this device holds the school's root key.
    pub admin: bool,
}

impl Client {
    /// Creates a school: a root key, a directory key, registration on the relay, and
    /// this device enrolled as the school's admin. The root key is kept in its own
    /// wrapped file. Returns who this device now is.
    ///
    /// # Errors
    /// [`ClientError::AlreadyEnrolled`] if this folder has a profile; relay errors.
    pub async fn create_school(
        &mut self,
        name: &str,
        relay_url: &str,
    ) -> Result<Identity, ClientError> {
        self.refuse_if_enrolled()?;
        let mut rng = os_rng();
        let root = SchoolRoot::generate(&mut rng);
        let directory_key = DirectoryKey::generate(&mut rng);
        let relay = self.relay_for(relay_url)?;
        relay.register_school(&root).await?;
        let now = now_secs();
        let request = GrantRequest {
            display_name: format!("{name} office"),
            role: Role::Admin,
            classes: Vec::new(),
            valid_from: now.saturating_sub(60),
            valid_until: now + GRANT_LIFETIME_SECS,
        };
        let invite = Invite::create(&root, request, &directory_key, relay_url, &mut rng)?;
        relay
            .put_invite(&root, &invite, now + INVITE_LIFETIME_SECS)
            .await?;
        let file = KeyFile::wrap_secret(&root.to_secret_bytes(), &self.key)?;
        private_fs::write_private_file(&self.home.join(ROOT_KEY_FILE), &file.to_bytes())?;
        self.enrol(&invite.code, true).await
    }

    /// Enrols this device with an invite code: creates its keys, redeems the code,
    /// publishes its prekeys and directory entry. Returns who this device now is.
    ///
    /// The code is accepted in any case and with stray spaces.
    ///
    /// # Errors
    /// [`ClientError::InviteUsed`], [`ClientError::InviteUnknown`],
    /// [`ClientError::Invite`] for a code that does not parse,
    /// [`ClientError::AlreadyEnrolled`], relay errors.
    pub async fn join(&mut self, code: &str) -> Result<Identity, ClientError> {
        self.refuse_if_enrolled()?;
        let code = InviteCode::parse(&normalise_code(code))?;
        self.enrol(&code, false).await
    }

    fn refuse_if_enrolled(&self) -> Result<(), ClientError> {
        match self.whoami() {
            Ok(identity) => Err(ClientError::AlreadyEnrolled {
                name: identity.name,
            }),
            Err(_) if self.profile.is_some() => Err(ClientError::AlreadyEnrolled {
                name: String::new(),
            }),
            Err(_) => Ok(()),
        }
    }

    async fn enrol(&mut self, code: &InviteCode, admin: bool) -> Result<Identity, ClientError> {
        let mut rng = os_rng();
        let relay = self.relay_for(&code.relay_url)?;
        let keys = code.keys();
        let (record, redeemed) =
            relay
                .get_invite(&code.school_id, &keys)
                .await
                .map_err(|e| match e {
                    RelayError::Rejected {
                        code: ErrorCode::UnknownInvite | ErrorCode::UnknownSchool,
                        ..
                    } => ClientError::InviteUnknown,
                    other => ClientError::Relay(other),
                })?;
        if redeemed {
            return Err(ClientError::InviteUsed);
        }
        let contents = keys.open_record(&record)?;
        let member_key = RequestKey::generate(&mut rng);
        relay
            .redeem_invite(&code.school_id, &keys, &member_key)
            .await
            .map_err(|e| match e {
                RelayError::Rejected {
                    code: ErrorCode::InviteUsed,
                    ..
                } => ClientError::InviteUsed,
                other => ClientError::Relay(other),
            })?;
        let mut account = Account::new(&mut rng);
        account.generate_one_time_prekeys(ONE_TIME_PREKEYS, &mut rng);
        let member = keys.bind(
            contents.grant.clone(),
            account.account_id(),
            *account.certificate().account_key(),
        )?;
        let bundle_id = *EntryId::random(&mut rng).as_bytes();
        let upload = account.prekey_upload();
        let one_time: Vec<(u32, [u8; 32])> = upload
            .one_time_prekeys
            .iter()
            .filter_map(|k| Some((k.id, k.public_key.as_slice().try_into().ok()?)))
            .collect();
        relay
            .upload_prekeys(&bundle_id, &member_key, &one_time)
            .await?;
        relay.create_queue(account.mailbox()).await?;
        let entry_id = EntryId::random(&mut rng);
        let entry = DirectoryEntry {
            member: member.clone(),
            bundle: account.prekey_bundle(),
            bundle_id,
            updated_at: now_secs(),
        };
        let blob = entry.seal(
            &contents.directory_key,
            &code.school_id,
            &entry_id,
            &mut rng,
        )?;
        relay
            .put_directory_entry(&code.school_id, &entry_id, &blob, &member_key)
            .await?;
        let profile = Profile {
            relay_url: code.relay_url.clone(),
            school_id: code.school_id,
            root_key: contents.root,
            directory_key: contents.directory_key,
            member,
            member_key,
            entry_id,
            bundle_id,
            revocations: None,
            admin,
        };
        let encoded = profile.encode();
        self.store.write(|w| {
            w.put_account(&account)?;
            w.set_meta(crate::profile::PROFILE_KEY, &encoded)
        })?;
        self.profile = Some(profile);
        self.refresh_directory().await?;
        self.whoami()
    }

    /// Who this device is.
    ///
    /// # Errors
    /// [`ClientError::NotEnrolled`].
    pub fn whoami(&self) -> Result<Identity, ClientError> {
        let profile = self.profile()?;
        let account = self.account()?;
        let details = profile.member.grant().details();
        Ok(Identity {
            name: details.display_name.clone(),
            role: details.role,
            classes: details.classes.clone(),
            account_id: account.account_id(),
            school_id: profile.school_id,
            fingerprint: account.fingerprint().to_string(),
            admin: profile.admin,
        })
    }
}

/// An invite code as people type it: any case before the relay address, spaces and
/// line breaks anywhere. The relay address keeps its case.
fn normalise_code(code: &str) -> String {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    match compact.split_once('@') {
        Some((payload, relay)) => format!("{}@{relay}", payload.to_ascii_uppercase()),
        None => compact.to_ascii_uppercase(),
    }
}

/// Serialises an optional role by its name, or `null`.
pub(crate) fn optional_role_name<S: serde::Serializer>(
    role: &Option<Role>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match role {
        Some(role) => serializer.serialize_str(role.as_str()),
        None => serializer.serialize_none(),
    }
}

/// Serialises an id by its hex form.
pub(crate) fn hex_id<S: serde::Serializer>(
    id: &impl HexId,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&id.hex())
}

/// Ids shown as hex.
pub(crate) trait HexId {
    fn hex(&self) -> String;
}

impl HexId for AccountId {
    fn hex(&self) -> String {
        self.to_hex()
    }
}

impl HexId for SchoolId {
    fn hex(&self) -> String {
        self.to_hex()
    }
}

/// Serialises a role by its name (`"teacher"`).
pub(crate) fn role_name<S: serde::Serializer>(
    role: &Role,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(role.as_str())
}

#[cfg(test)]
mod tests {
    use super::normalise_code;

    #[test]
    fn codes_are_accepted_in_any_case_and_with_spaces() {
        assert_eq!(
            normalise_code(" satchel1-ab cd\nef@https://Relay.example/Path "),
            "SATCHEL1-ABCDEF@https://Relay.example/Path"
        );
    }
}
