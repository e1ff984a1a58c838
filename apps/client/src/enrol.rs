//! Enrolment: creating a school (its admin's device) and joining one with an invite
//! code. Also [`Identity`], who this device is.

use satchel_core::relay_request::RequestKey;
use satchel_core::school::{
    DirectoryEntry, DirectoryKey, EntryId, GrantRequest, Invite, InviteCode, JoinKeys, Role,
    SchoolAuthority, SchoolId, SchoolRoot,
};
use satchel_core::{Account, AccountId, BundleId, os_rng};
use zeroize::Zeroizing;

use crate::client::{Client, ROOT_KEY_FILE, now_secs};
use crate::error::ClientError;
use crate::profile::Profile;
use crate::relay::{RelayClient, RelayError};
use crate::store::keyfile::KeyFile;
use crate::store::private_fs;
use satchel_relay_api::ErrorCode;

/// Where a join that has not finished keeps its profile (see `Client::enrol`).
const JOINING_KEY: &str = "joining";

/// One-time prekeys uploaded at enrolment (syncs top them up to
/// [`crate::PrekeyPolicy`]'s target).
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
    /// The school's name as its admin gave it (empty for a school joined before 0.2).
    /// Attacker-controlled text: escape it before display.
    pub school_name: String,
    /// The school id (serialised as hex), also the school's fingerprint.
    #[serde(serialize_with = "hex_id")]
    pub school_id: SchoolId,
    /// This account's fingerprint (30 digits in groups).
    pub fingerprint: String,
    /// Whether this device holds the school's root key.
    pub admin: bool,
    /// Whether this device is an office of the school: an admin the root confirmed,
    /// which invites, confirms and revokes without holding the root key.
    pub office: bool,
    /// Whether the school confirmed this enrolment (its root admitted this account).
    /// Until it does, others see this device as a stranger and sending is refused.
    pub admitted: bool,
}

/// What an invite code enrols as, read before joining ([`Client::preview_invite`]).
/// Every text here is the school's (attacker-controlled if the code came from someone
/// else): escape it before display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvitePreview {
    /// The school's name.
    pub school_name: String,
    /// The name the school gave the person.
    pub name: String,
    /// The role.
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    /// The classes.
    pub classes: Vec<String>,
    /// The relay the code points at.
    pub relay_url: String,
}

impl Client {
    /// Creates a school: a root key, a directory key, registration on the relay, and
    /// this device enrolled as the school's admin. The root key is kept in its own
    /// wrapped file. Returns who this device now is.
    ///
    /// A relay registers new schools only for the holder of its operator's
    /// registration token: pass it as `registration_token`.
    ///
    /// # Errors
    /// [`ClientError::AlreadyEnrolled`] if this folder has a profile;
    /// [`ClientError::RegistrationClosed`] if the relay registers no new schools,
    /// [`ClientError::RegistrationRefused`] if the token is missing or wrong; relay
    /// errors.
    pub async fn create_school(
        &mut self,
        name: &str,
        relay_url: &str,
        registration_token: Option<&str>,
    ) -> Result<Identity, ClientError> {
        self.refuse_if_enrolled()?;
        let name = name.trim();
        if name.is_empty() {
            return Err(ClientError::EmptyName);
        }
        let mut rng = os_rng();
        let root = SchoolRoot::generate(&mut rng);
        let directory_key = DirectoryKey::generate(&mut rng);
        let relay = self.relay_for(relay_url)?;
        relay
            .register_school(&root, registration_token)
            .await
            .map_err(|error| match error.code() {
                Some(ErrorCode::RegistrationClosed) => ClientError::RegistrationClosed,
                Some(ErrorCode::BadRegistrationToken) => ClientError::RegistrationRefused,
                _ => ClientError::from(error),
            })?;
        let now = now_secs();
        let request = GrantRequest {
            display_name: format!("{name} office"),
            role: Role::Admin,
            classes: Vec::new(),
            valid_from: now.saturating_sub(60),
            valid_until: now + GRANT_LIFETIME_SECS,
        };
        let invite = Invite::create(&root, name, request, &directory_key, relay_url, &mut rng)?;
        relay
            .put_invite(
                &SchoolAuthority::Root(Box::new(root.clone())),
                &invite,
                now + INVITE_LIFETIME_SECS,
            )
            .await?;
        let file = KeyFile::wrap_secret(&root.to_secret_bytes(), &self.key)?;
        private_fs::write_private_file(&self.home.join(ROOT_KEY_FILE), &file.to_bytes())?;
        self.enrol(&invite.code, true).await?;
        self.record_issued(&invite, now, now + INVITE_LIFETIME_SECS)?;
        // The admin's own enrolment (handed in by `enrol`) is the first one its root
        // admits.
        self.confirm_new_members().await?;
        self.refresh_admission().await?;
        self.whoami()
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

    /// What an invite code would enrol this device as — the school's name, the name,
    /// role and classes the school wrote on it — without using it: show this and ask
    /// before calling [`Client::join`]. Reads the invite from the relay the code names.
    ///
    /// # Errors
    /// As [`Client::join`] (the code is not redeemed, so trying again is harmless).
    pub async fn preview_invite(&mut self, code: &str) -> Result<InvitePreview, ClientError> {
        let code = InviteCode::parse(&normalise_code(code))?;
        let relay = self.relay_for(&code.relay_url)?;
        let keys = code.keys();
        let (record, redeemed) = fetch_invite(&relay, &code, &keys).await?;
        if redeemed {
            return Err(ClientError::InviteUsed);
        }
        let contents = keys.open_record(&record)?;
        let details = contents.grant.details();
        Ok(InvitePreview {
            school_name: contents.school_name.clone(),
            name: details.display_name.clone(),
            role: details.role,
            classes: details.classes.clone(),
            relay_url: code.relay_url.clone(),
        })
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
        let relay = self.relay_for(&code.relay_url)?;
        let keys = code.keys();
        // The relay erases an invite's record when it is redeemed, so everything the
        // record gave is stored (with the new account) before redeeming: a join that
        // stops after redeeming resumes from here when run again with the same code.
        let (mut account, profile) = match self.pending_join(&keys)? {
            Some(pending) => pending,
            None => {
                let (account, profile) = prepare_join(&relay, code, &keys, admin).await?;
                let encoded = profile.encode();
                self.store.write(|w| {
                    w.put_account(&account)?;
                    w.set_meta(JOINING_KEY, &encoded)
                })?;
                (account, profile)
            }
        };
        relay
            .redeem_invite(&code.school_id, &keys, &profile.member_key)
            .await
            .map_err(|e| match e {
                RelayError::Rejected {
                    code: ErrorCode::InviteUsed,
                    ..
                } => ClientError::InviteUsed,
                RelayError::Rejected {
                    code: ErrorCode::UnknownInvite | ErrorCode::UnknownSchool,
                    ..
                } => ClientError::InviteUnknown,
                other => ClientError::Relay(other),
            })?;
        publish(&relay, &mut account, &profile).await?;
        let encoded = profile.encode();
        self.store.write(|w| {
            w.put_account(&account)?;
            w.set_meta(crate::profile::PROFILE_KEY, &encoded)?;
            crate::prekeys::record_rotation(w, now_secs())?;
            w.delete_meta(JOINING_KEY)
        })?;
        self.profile = Some(profile);
        // Hands the certificate to the relay for the admin to admit.
        self.refresh_admission().await?;
        self.refresh_directory().await?;
        self.whoami()
    }

    /// A join of this invite that stored its keys but did not finish.
    fn pending_join(&self, keys: &JoinKeys) -> Result<Option<(Account, Profile)>, ClientError> {
        let Some(bytes) = self.store.meta(JOINING_KEY)? else {
            return Ok(None);
        };
        let profile = Profile::decode(&Zeroizing::new(bytes))?;
        if profile.member.grant().grant_key() != &keys.redeem_key() {
            return Ok(None); // an abandoned join of another invite
        }
        let account = self
            .store
            .account()?
            .ok_or(ClientError::Profile("account"))?;
        Ok(Some((account, profile)))
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
            school_name: profile.school_name.clone(),
            school_id: profile.school_id,
            fingerprint: account.fingerprint().to_string(),
            admin: profile.admin,
            office: !profile.admin && profile.member.is_office(),
            admitted: profile.member.is_admitted(),
        })
    }
}

/// Fetches and opens the invite's record, and makes this device's account, member
/// certificate and ids. Nothing is stored or sent.
/// The invite's sealed record from the relay, and whether it was redeemed.
async fn fetch_invite(
    relay: &RelayClient,
    code: &InviteCode,
    keys: &JoinKeys,
) -> Result<(Vec<u8>, bool), ClientError> {
    relay
        .get_invite(&code.school_id, keys)
        .await
        .map_err(|e| match e {
            RelayError::Rejected {
                code: ErrorCode::UnknownInvite | ErrorCode::UnknownSchool,
                ..
            } => ClientError::InviteUnknown,
            RelayError::Rejected {
                code: ErrorCode::InviteUsed,
                ..
            } => ClientError::InviteUsed,
            other => ClientError::Relay(other),
        })
}

async fn prepare_join(
    relay: &RelayClient,
    code: &InviteCode,
    keys: &JoinKeys,
    admin: bool,
) -> Result<(Account, Profile), ClientError> {
    let mut rng = os_rng();
    let (record, redeemed) = fetch_invite(relay, code, keys).await?;
    if redeemed {
        return Err(ClientError::InviteUsed);
    }
    let contents = keys.open_record(&record)?;
    let mut account = Account::new(&mut rng);
    account.generate_one_time_prekeys(ONE_TIME_PREKEYS, &mut rng);
    let member = keys.bind(
        contents.grant.clone(),
        account.account_id(),
        *account.certificate().account_key(),
    )?;
    let profile = Profile {
        relay_url: code.relay_url.clone(),
        school_id: code.school_id,
        root_key: contents.root,
        directory_key: contents.directory_key,
        member,
        member_key: RequestKey::generate(&mut rng),
        entry_id: EntryId::random(&mut rng),
        bundle_id: *EntryId::random(&mut rng).as_bytes(),
        revocations: None,
        admin,
        school_name: contents.school_name,
        directory_epoch: 0,
        previous_directory_keys: Vec::new(),
    };
    Ok((account, profile))
}

/// Uploads this device's one-time prekeys (signed for its bundle id), creates its
/// mailbox and writes its directory entry (the account records its prekeys as
/// published: save it after). Each step may be repeated (a resumed join does).
async fn publish(
    relay: &RelayClient,
    account: &mut Account,
    profile: &Profile,
) -> Result<(), ClientError> {
    let bundle_id = BundleId::from_bytes(profile.bundle_id);
    let one_time = account.unpublished_one_time_prekeys(&bundle_id);
    relay
        .upload_prekeys(&bundle_id, &profile.member_key, &one_time)
        .await?;
    let ids: Vec<u32> = one_time.iter().map(|k| k.id).collect();
    account.mark_one_time_prekeys_published(&ids);
    relay.create_mailbox(account.mailbox()).await?;
    put_own_entry(relay, account, profile).await
}

/// Seals this device's directory entry with its current bundle and writes it (at
/// enrolment, and after each prekey rotation).
pub(crate) async fn put_own_entry(
    relay: &RelayClient,
    account: &Account,
    profile: &Profile,
) -> Result<(), ClientError> {
    let entry = DirectoryEntry {
        member: profile.member.clone(),
        bundle: account.prekey_bundle(),
        bundle_id: profile.bundle_id,
        updated_at: now_secs(),
    };
    let blob = entry.seal(
        &profile.directory_key,
        &profile.school_id,
        &profile.entry_id,
        &mut os_rng(),
    )?;
    relay
        .put_directory_entry(
            &profile.school_id,
            &profile.entry_id,
            &blob,
            &profile.member_key,
        )
        .await?;
    Ok(())
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
