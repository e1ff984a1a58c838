//! [`Client`]: the whole Satchel client for one profile folder — enrolment, the school
//! directory, sending, and syncing — over the SQLite store and the relay transport.

use std::path::Path;

use prost::Message as _;
use satchel_core::relay_request::RequestKey;
use satchel_core::school::{
    DirectoryEntry, DirectoryKey, EntryId, GrantRequest, Invite, InviteCode, MemberCertificate,
    RevocationList, Role, SchoolId, SchoolKey, SchoolRoot, SenderStatus, verify_member,
};
use satchel_core::storage::protocol::active_session;
use satchel_core::storage::traits::{AccountStore, SessionStore};
use satchel_core::{
    Account, DecryptError, DeviceCertificate, Envelope, Fingerprint, PrekeyBundle, QueueKeys,
    Session, os_rng,
};
use satchel_proto::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::error::ClientError;
use crate::relay::{RelayClient, RelayError};
use crate::store::{ContactRecord, MessageRecord, SqliteStore};

const PROFILE_KEY: &str = "profile";
const DB_FILE: &str = "satchel.db";
/// One-time prekeys uploaded at enrolment.
const ONE_TIME_PREKEYS: usize = 50;
/// How long an invite code stays usable.
const INVITE_LIFETIME_SECS: u64 = 14 * 24 * 3600;
/// How long a grant is valid.
const GRANT_LIFETIME_SECS: u64 = 5 * 365 * 24 * 3600;

/// What this device is, as stored in the profile (hex strings for the binary fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Profile {
    relay_url: String,
    school_id: String,
    root_key: String,
    directory_key: String,
    root_secret: Option<String>,
    member_certificate: String,
    member_key: String,
    entry_id: String,
    bundle_id: String,
    revocations: Option<String>,
}

/// Who this device is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The name the school gave.
    pub name: String,
    /// The role.
    pub role: String,
    /// The classes.
    pub classes: Vec<String>,
    /// The account id (hex).
    pub account_id: String,
    /// The school id (hex), also the school's fingerprint.
    pub school_id: String,
    /// This account's fingerprint (30 digits in groups).
    pub fingerprint: String,
    /// Whether this device holds the school's root key.
    pub admin: bool,
}

/// A person in the school directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: String,
    /// Their classes.
    pub classes: Vec<String>,
    /// Whether the school vouches for them now (not revoked or expired).
    pub verified: bool,
    /// Their account id (hex).
    pub account_id: String,
    /// The safety number to compare in person.
    pub safety_number: String,
}

/// A message shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The sender's name (verified by the school), or a stranger's label.
    pub from: String,
    /// The sender's role, or `"unverified"`.
    pub role: String,
    /// Whether the school vouched for the sender when the message arrived.
    pub verified: bool,
    /// The text.
    pub text: String,
    /// The sender's clock (Unix milliseconds).
    pub sent_at: u64,
    /// Whether this device sent it.
    pub outgoing: bool,
}

impl From<MessageRecord> for Message {
    fn from(record: MessageRecord) -> Self {
        Self {
            from: record.sender_name,
            role: record.sender_role,
            verified: record.verified,
            text: record.body,
            sent_at: record.sent_at,
            outgoing: record.outgoing,
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// New messages, in arrival order.
    pub messages: Vec<Message>,
    /// Why envelopes were dropped (damaged, forged, or too old to decrypt); they are
    /// acknowledged so they do not come back.
    pub dropped: Vec<String>,
    /// Outgoing envelopes the relay has now accepted after an earlier failure.
    pub flushed: usize,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn unhex<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], ClientError> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(ClientError::Profile(what))
}

/// The Satchel client for one profile folder.
pub struct Client {
    store: SqliteStore,
    profile: Option<Profile>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("enrolled", &self.profile.is_some())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens the profile in `home` (created if missing; the folder is made private to
    /// the user on Unix).
    ///
    /// # Errors
    /// [`ClientError::Folder`] or [`ClientError::Store`] if the folder or database
    /// cannot be opened.
    pub fn open(home: &Path) -> Result<Self, ClientError> {
        std::fs::create_dir_all(home).map_err(|e| {
            ClientError::Store(rusqlite::Error::ToSqlConversionFailure(Box::new(e)).into())
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700));
        }
        let store = SqliteStore::open(&home.join(DB_FILE))?;
        let profile = match store.meta(PROFILE_KEY)? {
            Some(bytes) => {
                Some(serde_json::from_slice(&bytes).map_err(|_| ClientError::Profile("profile"))?)
            }
            None => None,
        };
        Ok(Self { store, profile })
    }

    fn profile(&self) -> Result<&Profile, ClientError> {
        self.profile.as_ref().ok_or(ClientError::NotEnrolled)
    }

    fn relay(&self) -> Result<RelayClient, ClientError> {
        Ok(RelayClient::new(&self.profile()?.relay_url)?)
    }

    fn root_key(&self) -> Result<SchoolKey, ClientError> {
        Ok(SchoolKey::from_bytes(unhex(
            &self.profile()?.root_key,
            "root key",
        )?))
    }

    fn school_id(&self) -> Result<SchoolId, ClientError> {
        Ok(SchoolId::from_bytes(unhex(
            &self.profile()?.school_id,
            "school id",
        )?))
    }

    fn account(&self) -> Result<Account, ClientError> {
        self.store
            .load_account()
            .map_err(|_| ClientError::Profile("account"))?
            .ok_or(ClientError::NotEnrolled)
    }

    fn member(&self) -> Result<MemberCertificate, ClientError> {
        let bytes = hex::decode(&self.profile()?.member_certificate)
            .map_err(|_| ClientError::Profile("certificate"))?;
        Ok(MemberCertificate::from_bytes(&bytes, &self.root_key()?)?)
    }

    fn root(&self) -> Result<SchoolRoot, ClientError> {
        let secret = self
            .profile()?
            .root_secret
            .as_deref()
            .ok_or(ClientError::NotAdmin)?;
        Ok(SchoolRoot::from_secret_bytes(unhex(secret, "root secret")?))
    }

    fn revocations(&self) -> Result<Option<RevocationList>, ClientError> {
        match &self.profile()?.revocations {
            None => Ok(None),
            Some(text) => {
                let bytes = hex::decode(text).map_err(|_| ClientError::Profile("revocations"))?;
                Ok(Some(RevocationList::from_bytes(&bytes, &self.root_key()?)?))
            }
        }
    }

    fn save_profile(&mut self, profile: Profile) -> Result<(), ClientError> {
        let bytes = serde_json::to_vec(&profile).map_err(|_| ClientError::Profile("profile"))?;
        self.store.set_meta(PROFILE_KEY, &bytes)?;
        self.profile = Some(profile);
        Ok(())
    }

    /// Creates a school: a root key, a directory key, registration on the relay, and
    /// this device enrolled as the school's admin. Returns who this device now is.
    ///
    /// # Errors
    /// [`ClientError::AlreadyEnrolled`] if this folder has a profile; relay errors.
    pub async fn create_school(
        &mut self,
        name: &str,
        relay_url: &str,
    ) -> Result<Identity, ClientError> {
        if let Some(identity) = self.profile.as_ref().and_then(|_| self.whoami().ok()) {
            return Err(ClientError::AlreadyEnrolled {
                name: identity.name,
            });
        }
        let mut rng = os_rng();
        let root = SchoolRoot::generate(&mut rng);
        let directory_key = DirectoryKey::generate(&mut rng);
        let relay = RelayClient::new(relay_url)?;
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
        self.enrol(&invite.code, Some(&root)).await
    }

    /// Creates an invite code for a teacher, staff member or parent (admin only).
    ///
    /// # Errors
    /// [`ClientError::NotAdmin`] on other devices; bad fields; relay errors.
    pub async fn invite(
        &mut self,
        role: Role,
        name: &str,
        classes: &[String],
    ) -> Result<String, ClientError> {
        let root = self.root()?;
        let profile = self.profile()?.clone();
        let directory_key = DirectoryKey::from_slice(
            &hex::decode(&profile.directory_key)
                .map_err(|_| ClientError::Profile("directory key"))?,
        )
        .ok_or(ClientError::Profile("directory key"))?;
        let now = now_secs();
        let request = GrantRequest {
            display_name: name.to_string(),
            role,
            classes: classes.to_vec(),
            valid_from: now.saturating_sub(60),
            valid_until: now + GRANT_LIFETIME_SECS,
        };
        let invite = Invite::create(
            &root,
            request,
            &directory_key,
            &profile.relay_url,
            &mut os_rng(),
        )?;
        self.relay()?
            .put_invite(&root, &invite, now + INVITE_LIFETIME_SECS)
            .await?;
        Ok(invite.code.to_line())
    }

    /// Revokes everyone called `name` (admin only): publishes a new revocation list.
    /// Returns how many members were revoked.
    ///
    /// # Errors
    /// [`ClientError::UnknownContact`] if nobody has that name; relay errors.
    pub async fn revoke(&mut self, name: &str) -> Result<usize, ClientError> {
        let root = self.root()?;
        self.refresh_directory().await?;
        let root_key = root.public();
        let grants: Vec<_> = self
            .store
            .contacts()?
            .into_iter()
            .filter(|c| c.name.eq_ignore_ascii_case(name))
            .filter_map(|c| MemberCertificate::from_bytes(&c.certificate, &root_key).ok())
            .map(|m| m.grant().id())
            .collect();
        if grants.is_empty() {
            return Err(ClientError::UnknownContact {
                name: name.to_string(),
            });
        }
        let previous = self.revocations()?;
        let mut revoked: Vec<_> = previous
            .as_ref()
            .map(|l| l.revoked().to_vec())
            .unwrap_or_default();
        revoked.extend(grants.iter().copied());
        let sequence = previous.map_or(1, |l| l.sequence() + 1);
        let list = RevocationList::sign(&root, sequence, now_secs(), revoked)?;
        self.relay()?.put_revocations(&root, &list).await?;
        let mut profile = self.profile()?.clone();
        profile.revocations = Some(hex::encode(list.to_bytes()));
        self.save_profile(profile)?;
        Ok(grants.len())
    }

    /// Enrols this device with an invite code: creates its keys, redeems the code,
    /// publishes its prekeys and directory entry. Returns who this device now is.
    ///
    /// # Errors
    /// [`ClientError::InviteUsed`], [`ClientError::Invite`] for a wrong or expired
    /// code, [`ClientError::AlreadyEnrolled`], relay errors.
    pub async fn join(&mut self, code: &str) -> Result<Identity, ClientError> {
        if let Some(identity) = self.profile.as_ref().and_then(|_| self.whoami().ok()) {
            return Err(ClientError::AlreadyEnrolled {
                name: identity.name,
            });
        }
        let code = InviteCode::parse(code)?;
        self.enrol(&code, None).await
    }

    async fn enrol(
        &mut self,
        code: &InviteCode,
        root: Option<&SchoolRoot>,
    ) -> Result<Identity, ClientError> {
        let mut rng = os_rng();
        let relay = RelayClient::new(&code.relay_url)?;
        let keys = code.keys();
        let (record, redeemed) =
            relay
                .get_invite(&code.school_id, &keys)
                .await
                .map_err(|e| match e.code() {
                    Some("not_found") => {
                        ClientError::Invite(satchel_core::InviteError::Malformed {
                            reason: "the relay does not know this code (expired or mistyped)",
                        })
                    }
                    _ => ClientError::Relay(e),
                })?;
        if redeemed {
            return Err(ClientError::InviteUsed);
        }
        let contents = keys.open_record(&record)?;
        let member_key = RequestKey::generate(&mut rng);
        relay
            .redeem_invite(&code.school_id, &keys, &member_key)
            .await
            .map_err(|e| {
                if e.code() == Some("invite_used") {
                    ClientError::InviteUsed
                } else {
                    ClientError::Relay(e)
                }
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

        self.store
            .save_account(&account)
            .map_err(|_| ClientError::Profile("account"))?;
        self.save_profile(Profile {
            relay_url: code.relay_url.clone(),
            school_id: code.school_id.to_hex(),
            root_key: hex::encode(contents.root.as_bytes()),
            directory_key: hex::encode(contents.directory_key.as_bytes()),
            root_secret: root.map(|r| hex::encode(*r.to_secret_bytes())),
            member_certificate: hex::encode(member.to_bytes()),
            member_key: hex::encode(*member_key.to_secret_bytes()),
            entry_id: hex::encode(entry_id.as_bytes()),
            bundle_id: hex::encode(bundle_id),
            revocations: None,
        })?;
        self.refresh_directory().await?;
        self.whoami()
    }

    /// Who this device is.
    ///
    /// # Errors
    /// [`ClientError::NotEnrolled`].
    pub fn whoami(&self) -> Result<Identity, ClientError> {
        let member = self.member()?;
        let account = self.account()?;
        let details = member.grant().details();
        Ok(Identity {
            name: details.display_name.clone(),
            role: details.role.to_string(),
            classes: details.classes.clone(),
            account_id: account.account_id().to_hex(),
            school_id: self.school_id()?.to_hex(),
            fingerprint: account.fingerprint().to_string(),
            admin: self.profile()?.root_secret.is_some(),
        })
    }

    /// Fetches the directory and the revocation list from the relay into the local
    /// store. Entries that do not verify are skipped.
    async fn refresh_directory(&mut self) -> Result<(), ClientError> {
        let relay = self.relay()?;
        let school = self.school_id()?;
        let root = self.root_key()?;
        let key = DirectoryKey::from_slice(
            &hex::decode(&self.profile()?.directory_key)
                .map_err(|_| ClientError::Profile("directory key"))?,
        )
        .ok_or(ClientError::Profile("directory key"))?;
        if let Some(bytes) = relay.get_revocations(&school).await? {
            let list = RevocationList::from_bytes(&bytes, &root)?;
            let newer = self
                .revocations()?
                .is_none_or(|current| list.sequence() > current.sequence());
            if newer {
                let mut profile = self.profile()?.clone();
                profile.revocations = Some(hex::encode(list.to_bytes()));
                self.save_profile(profile)?;
            }
        }
        let own = self.account()?.device_id();
        let contacts: Vec<ContactRecord> = relay
            .directory(&school)
            .await?
            .into_iter()
            .filter_map(|(id, blob)| {
                let entry = DirectoryEntry::open(&blob, &key, &root, &id).ok()?;
                let details = entry.member.grant().details();
                (entry.bundle.device().device_id() != own).then(|| ContactRecord {
                    entry_id: *id.as_bytes(),
                    account_id: *entry.member.account_id().as_bytes(),
                    device_id: *entry.bundle.device().device_id().as_bytes(),
                    name: details.display_name.clone(),
                    role: details.role.to_string(),
                    classes: details.classes.clone(),
                    certificate: entry.member.to_bytes(),
                    bundle: entry.bundle.to_bytes(),
                    bundle_id: entry.bundle_id,
                    updated_at: entry.updated_at,
                })
            })
            .collect();
        self.store.replace_contacts(&contacts)?;
        Ok(())
    }

    fn status_of(
        &self,
        certificate: Option<&[u8]>,
        device: &DeviceCertificate,
    ) -> Result<SenderStatus, ClientError> {
        Ok(verify_member(
            &self.root_key()?,
            self.revocations()?.as_ref(),
            now_secs(),
            certificate,
            device,
        ))
    }

    /// The school directory (refreshed from the relay), with verified state and safety
    /// numbers.
    ///
    /// # Errors
    /// Relay or store errors.
    pub async fn contacts(&mut self) -> Result<Vec<Contact>, ClientError> {
        self.refresh_directory().await?;
        let account = self.account()?;
        let mut seen = std::collections::HashSet::new();
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
                name: c.name,
                role: c.role,
                classes: c.classes,
                verified,
                account_id: hex::encode(c.account_id),
                safety_number: account.safety_number(bundle.device()).to_string(),
            });
        }
        Ok(contacts)
    }

    /// The directory entries (devices) of the person `to`: a name (case-insensitive) or
    /// an account id (hex, or a unique prefix of at least 8 characters).
    fn resolve(&self, to: &str) -> Result<Vec<ContactRecord>, ClientError> {
        let to_lower = to.to_lowercase();
        let contacts = self.store.contacts()?;
        let mut matches: Vec<ContactRecord> = contacts
            .iter()
            .filter(|c| c.name.to_lowercase() == to_lower)
            .cloned()
            .collect();
        if matches.is_empty() && to.len() >= 8 {
            matches = contacts
                .into_iter()
                .filter(|c| hex::encode(c.account_id).starts_with(&to_lower))
                .collect();
        }
        let accounts: std::collections::HashSet<_> = matches.iter().map(|c| c.account_id).collect();
        match accounts.len() {
            0 => Err(ClientError::UnknownContact {
                name: to.to_string(),
            }),
            1 => Ok(matches),
            count => Err(ClientError::AmbiguousContact {
                name: to.to_string(),
                count,
            }),
        }
    }

    /// Sends `text` to the person `to` (every device of theirs). The message is stored
    /// before anything goes to the relay; if the relay is unreachable it stays in the
    /// outbox and is sent by the next [`Client::send`] or [`Client::sync`].
    /// Returns whether the relay accepted it now.
    ///
    /// # Errors
    /// [`ClientError::UnknownContact`], [`ClientError::AmbiguousContact`], protocol or
    /// store errors.
    pub async fn send(&mut self, to: &str, text: &str) -> Result<bool, ClientError> {
        let mut targets = self.resolve(to);
        if matches!(targets, Err(ClientError::UnknownContact { .. })) {
            self.refresh_directory().await?;
            targets = self.resolve(to);
        }
        let targets = targets?;
        let relay = self.relay()?;
        let mut rng = os_rng();
        let member = self.member()?;
        let account = self.account()?;
        let mut message_id = [0u8; 16];
        rand_core::Rng::fill_bytes(&mut rng, &mut message_id);
        let sent_at = now_millis();
        let content = pb::Content {
            message_id: message_id.to_vec(),
            sent_at,
            body: Some(pb::content::Body::Text(pb::Text {
                text: text.to_string(),
            })),
        }
        .encode_to_vec();
        let me = member.grant().details();
        for contact in &targets {
            let device = satchel_core::DeviceId::from_bytes(contact.device_id);
            let mut session = match active_session(&self.store, &device)
                .map_err(|_| ClientError::Profile("sessions"))?
            {
                Some(session) => session,
                None => {
                    let mut proto = PrekeyBundle::from_bytes(&contact.bundle)
                        .map_err(|e| ClientError::Directory(e.into()))?
                        .to_proto();
                    if let Some((id, key)) = relay.take_prekey(&contact.bundle_id).await? {
                        proto.one_time_prekey = Some(pb::OneTimePrekey {
                            id,
                            public_key: key.to_vec(),
                        });
                    }
                    let bundle = PrekeyBundle::from_proto(&proto)
                        .and_then(|b| {
                            b.expect_account(
                                &satchel_core::AccountId::from_bytes(contact.account_id),
                                &account_key_of(contact)?,
                            )
                        })
                        .map_err(|e| ClientError::Directory(e.into()))?;
                    let mut session = Session::initiate(&account, &bundle, &mut rng)?;
                    session.set_sender_certificate(member.to_bytes())?;
                    relay.create_queue(session.inbound_queue()).await?;
                    session
                }
            };
            let envelope = session.encrypt(&content, &mut rng)?;
            let record = MessageRecord {
                peer_account: contact.account_id,
                outgoing: true,
                message_id,
                sender_name: me.display_name.clone(),
                sender_role: me.role.to_string(),
                verified: true,
                body: text.to_string(),
                sent_at,
                stored_at: now_millis(),
            };
            self.store.commit_sent(
                &session,
                Some(&contact.certificate),
                &record,
                envelope.as_bytes(),
            )?;
        }
        let (_, pending) = self.flush_outbox(&relay).await?;
        Ok(pending == 0)
    }

    /// Deposits what is in the outbox; returns (deposited, still pending).
    async fn flush_outbox(&mut self, relay: &RelayClient) -> Result<(usize, usize), ClientError> {
        let mut deposited = 0;
        let mut pending = 0;
        for (id, bytes) in self.store.outbox()? {
            let Ok(envelope) = Envelope::from_bytes(&bytes) else {
                self.store.outbox_remove(id)?;
                continue;
            };
            match relay.deposit(&envelope).await {
                Ok(_) => {
                    self.store.outbox_remove(id)?;
                    deposited += 1;
                }
                Err(RelayError::Network(_)) | Err(RelayError::Rejected { .. }) => pending += 1,
                Err(error) => return Err(error.into()),
            }
        }
        Ok((deposited, pending))
    }

    /// Fetches, decrypts, stores and acknowledges everything waiting on the relay, and
    /// sends what is in the outbox. Each message is committed (with the session state)
    /// before its envelope is acknowledged, so a crash loses nothing and shows nothing
    /// twice.
    ///
    /// # Errors
    /// Relay or store errors (what was committed before stays committed).
    pub async fn sync(&mut self) -> Result<SyncReport, ClientError> {
        let relay = self.relay()?;
        self.refresh_directory().await?;
        let mut report = SyncReport {
            flushed: self.flush_outbox(&relay).await?.0,
            ..SyncReport::default()
        };
        let mut account = self.account()?;
        let mut queues: Vec<QueueKeys> = vec![account.mailbox().clone()];
        queues.extend(
            self.store
                .all_sessions()?
                .iter()
                .map(|s| s.inbound_queue().clone()),
        );
        for queue in queues {
            let mut after = 0;
            loop {
                let batch = relay.fetch(&queue, after, 100).await?;
                if batch.is_empty() {
                    break;
                }
                let mut done = Vec::with_capacity(batch.len());
                for fetched in &batch {
                    after = after.max(fetched.id);
                    match self
                        .receive_one(&relay, &mut account, &fetched.envelope)
                        .await?
                    {
                        Ok(Some(message)) => report.messages.push(message),
                        Ok(None) => {}
                        Err(reason) => report.dropped.push(reason),
                    }
                    done.push(fetched.id);
                }
                relay.ack(&queue, &done).await?;
            }
        }
        Ok(report)
    }

    /// Handles one envelope. The outer `Err` is a store/relay failure (stop, retry
    /// later, nothing acknowledged); the inner `Err` is an envelope to drop.
    async fn receive_one(
        &mut self,
        relay: &RelayClient,
        account: &mut Account,
        bytes: &[u8],
    ) -> Result<Result<Option<Message>, String>, ClientError> {
        let envelope = match Envelope::from_bytes(bytes) {
            Ok(envelope) => envelope,
            Err(error) => return Ok(Err(satchel_core::DecryptError::from(error).to_string())),
        };
        if envelope.send_id() == account.mailbox().send_id() {
            let contact = match account.open_first_contact(&envelope) {
                Ok(contact) => contact,
                Err(error) => return Ok(Err(error.to_string())),
            };
            let existing = self
                .store
                .load_session(&contact.session_id())
                .map_err(|_| ClientError::Profile("sessions"))?;
            let (session, plaintext, new_account) = match existing {
                Some(mut session) => match session.decrypt_first_contact(&contact) {
                    Ok(plaintext) => (session, plaintext, false),
                    Err(DecryptError::Duplicate) => return Ok(Ok(None)),
                    Err(error) => return Ok(Err(error.to_string())),
                },
                None => match account.accept(&contact, &mut os_rng()) {
                    Ok(inbound) => {
                        relay.create_queue(inbound.session.inbound_queue()).await?;
                        (inbound.session, inbound.plaintext, true)
                    }
                    Err(error) => return Ok(Err(error.to_string())),
                },
            };
            let certificate = contact.sender_certificate().to_vec();
            let record = self.record_for(&session, Some(&certificate), &plaintext)?;
            let inserted = self.store.commit_received(
                &session,
                new_account.then_some(&*account),
                Some(&certificate),
                record.as_ref(),
            )?;
            return Ok(Ok(record.filter(|_| inserted).map(Message::from)));
        }
        let Some(id) = self
            .store
            .session_for_queue(&envelope.send_id())
            .map_err(|_| ClientError::Profile("sessions"))?
        else {
            return Ok(Err(DecryptError::WrongQueue.to_string()));
        };
        let Some(mut session) = self
            .store
            .load_session(&id)
            .map_err(|_| ClientError::Profile("sessions"))?
        else {
            return Ok(Err(DecryptError::WrongQueue.to_string()));
        };
        let plaintext = match session.decrypt(&envelope) {
            Ok(plaintext) => plaintext,
            Err(DecryptError::Duplicate) => return Ok(Ok(None)),
            Err(error) => return Ok(Err(error.to_string())),
        };
        let certificate = self.store.peer_certificate(&id)?;
        let record = self.record_for(&session, certificate.as_deref(), &plaintext)?;
        let inserted = self
            .store
            .commit_received(&session, None, None, record.as_ref())?;
        Ok(Ok(record.filter(|_| inserted).map(Message::from)))
    }

    /// The stored form of a received plaintext, with the sender's verified state now.
    fn record_for(
        &self,
        session: &Session,
        certificate: Option<&[u8]>,
        plaintext: &[u8],
    ) -> Result<Option<MessageRecord>, ClientError> {
        let Ok(content) = pb::Content::decode(plaintext) else {
            return Ok(None);
        };
        let Some(pb::content::Body::Text(text)) = content.body else {
            return Ok(None);
        };
        let peer = session.peer();
        let (sender_name, sender_role, verified) = match self.status_of(certificate, peer)? {
            SenderStatus::Verified(member) => (member.display_name, member.role.to_string(), true),
            SenderStatus::Unverified(reason) => (
                format!(
                    "unknown sender {} — {reason}",
                    peer.account_id().to_hex().get(..8).unwrap_or_default()
                ),
                "unverified".to_string(),
                false,
            ),
        };
        Ok(Some(MessageRecord {
            peer_account: *peer.account_id().as_bytes(),
            outgoing: false,
            message_id: content.message_id.try_into().unwrap_or([0u8; 16]),
            sender_name,
            sender_role,
            verified,
            body: text.text,
            sent_at: content.sent_at,
            stored_at: now_millis(),
        }))
    }

    /// The conversation with `with` (a name or account id), oldest first.
    ///
    /// # Errors
    /// [`ClientError::UnknownContact`] and friends; store errors.
    pub fn history(&self, with: &str) -> Result<Vec<Message>, ClientError> {
        let contact = self.resolve(with)?;
        let account = contact
            .first()
            .map(|c| c.account_id)
            .ok_or(ClientError::UnknownContact {
                name: with.to_string(),
            })?;
        Ok(self
            .store
            .history(&account)?
            .into_iter()
            .map(Message::from)
            .collect())
    }

    /// This account's fingerprint.
    ///
    /// # Errors
    /// [`ClientError::NotEnrolled`].
    pub fn fingerprint(&self) -> Result<Fingerprint, ClientError> {
        Ok(self.account()?.fingerprint())
    }
}

fn account_key_of(contact: &ContactRecord) -> Result<[u8; 32], satchel_core::BundleError> {
    Ok(*PrekeyBundle::from_bytes(&contact.bundle)?
        .device()
        .account_key())
}
