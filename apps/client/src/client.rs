//! [`Client`]: one profile folder — its encrypted store, its school profile and its
//! relay. The operations live beside this file, one module each: [`crate::enrol`],
//! [`crate::admin`], [`crate::directory`], [`crate::send`], [`crate::sync`],
//! [`crate::history`].

use std::path::{Path, PathBuf};

use satchel_core::Account;
use satchel_core::DeviceCertificate;
use satchel_core::school::{Office, SchoolAuthority, SchoolRoot, SenderStatus, verify_member};

use crate::error::ClientError;
use crate::profile::{PROFILE_KEY, Profile};
use crate::relay::{RelayClient, TransportConfig};
use crate::store::SqliteStore;
use crate::store::cipher::StoreKey;
use crate::store::keyfile::{KeyFile, KeySource};
use crate::store::private_fs;

/// The database file in a profile folder.
pub(crate) const DB_FILE: &str = "satchel.db";
/// The wrapped store key in a profile folder.
pub(crate) const KEY_FILE: &str = "store.key";
/// The admin's wrapped school root key, kept apart from the store.
pub(crate) const ROOT_KEY_FILE: &str = "school-root.key";

/// How to open a profile folder.
pub struct ClientConfig {
    /// Where the store key comes from: a passphrase (the CLI) or 32 bytes the platform
    /// keeps (Android Keystore, iOS Keychain).
    pub key: KeySource,
    /// TLS settings for the relay (an extra CA certificate for a school's own PKI).
    pub transport: TransportConfig,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig").finish_non_exhaustive()
    }
}

/// The Satchel client for one profile folder.
///
/// Several `Client`s — in one process or in several — may open the same folder: every
/// change that must not roll back (a ratchet step, a consumed prekey, a stored message)
/// is one store transaction that reads the newest state under SQLite's write lock, so no
/// message key is ever used twice and no message is lost.
pub struct Client {
    pub(crate) home: PathBuf,
    pub(crate) store: SqliteStore,
    pub(crate) key: KeySource,
    pub(crate) transport: TransportConfig,
    pub(crate) profile: Option<Profile>,
    /// This device's mailbox keys, read once from the account (they never change).
    mailbox: Option<satchel_core::QueueKeys>,
    /// When prekeys are checked and renewed during a sync.
    pub(crate) prekey_policy: crate::prekeys::PrekeyPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("enrolled", &self.profile.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Client {
    /// Opens the profile in `home`, creating the folder (private to the user) and an
    /// empty encrypted store if needed. A Satchel 0.1 folder (plaintext store) is
    /// encrypted on this first open, and an admin's root key moves into its own
    /// wrapped file.
    ///
    /// # Errors
    /// [`ClientError::Folder`] if the folder cannot be created or is readable by others;
    /// [`ClientError::Key`] for a wrong passphrase or platform key;
    /// [`ClientError::Store`] if the database cannot be opened.
    pub fn open(home: &Path, config: ClientConfig) -> Result<Self, ClientError> {
        private_fs::ensure_private_dir(home)?;
        let db_path = home.join(DB_FILE);
        let legacy = db_path.exists() && !home.join(KEY_FILE).exists();
        let store_key = unlock_or_create(&home.join(KEY_FILE), &config.key)?;
        if legacy {
            // Satchel 0.1 created its files with the default permissions; they are
            // rewritten encrypted now, so make them private first.
            restrict_legacy_files(home)?;
        } else if db_path.exists() {
            private_fs::check_private_file(&db_path)?;
        } else {
            private_fs::write_private_file(&db_path, &[])?;
        }
        let store = SqliteStore::open(&db_path, &store_key)?;
        Self::with_store(home, store, config)
    }

    /// **Benchmarks only** (feature `bench-unencrypted`): opens `home` with a store that
    /// keeps values in the clear, to measure what encryption at rest costs.
    ///
    /// # Errors
    /// As [`Client::open`].
    #[cfg(feature = "bench-unencrypted")]
    #[doc(hidden)]
    pub fn open_unencrypted_for_benchmarks(
        home: &Path,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        private_fs::ensure_private_dir(home)?;
        let store_key = unlock_or_create(&home.join(KEY_FILE), &config.key)?;
        let store = SqliteStore::open_unencrypted_for_benchmarks(&home.join(DB_FILE), &store_key)?;
        Self::with_store(home, store, config)
    }

    fn with_store(
        home: &Path,
        mut store: SqliteStore,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let profile = match store.meta(PROFILE_KEY)? {
            None => None,
            Some(bytes) => match Profile::decode(&bytes) {
                Ok(profile) => Some(profile),
                Err(_) => {
                    let (profile, root_secret) = Profile::from_legacy_json(&bytes)?;
                    if let Some(secret) = root_secret {
                        let file = KeyFile::wrap_secret(&secret, &config.key)?;
                        private_fs::write_private_file(
                            &home.join(ROOT_KEY_FILE),
                            &file.to_bytes(),
                        )?;
                    }
                    store.write(|w| w.set_meta(PROFILE_KEY, &profile.encode()))?;
                    Some(profile)
                }
            },
        };
        Ok(Self {
            home: home.to_path_buf(),
            store,
            key: config.key,
            transport: config.transport,
            profile,
            mailbox: None,
            prekey_policy: crate::prekeys::PrekeyPolicy::default(),
        })
    }

    /// Reads the profile again from the store, at the start of every operation that may
    /// change it: another `Client` on this folder (another process, or another task of
    /// an app) may have stored a newer one — a revocation list, an admission, a new
    /// directory key — which saving this copy would otherwise overwrite.
    pub(crate) fn reload_profile(&mut self) -> Result<(), ClientError> {
        if let Some(bytes) = self.store.meta(PROFILE_KEY)?
            && let Ok(profile) = Profile::decode(&zeroize::Zeroizing::new(bytes))
        {
            self.profile = Some(profile);
        }
        Ok(())
    }

    pub(crate) fn profile(&self) -> Result<&Profile, ClientError> {
        self.profile.as_ref().ok_or(ClientError::NotEnrolled)
    }

    pub(crate) fn relay_for(&self, url: &str) -> Result<RelayClient, ClientError> {
        Ok(RelayClient::with_config(url, &self.transport)?)
    }

    pub(crate) fn relay(&self) -> Result<RelayClient, ClientError> {
        self.relay_for(&self.profile()?.relay_url)
    }

    /// This device's mailbox (cached: loading the account costs about a millisecond).
    pub(crate) fn mailbox(&mut self) -> Result<satchel_core::QueueKeys, ClientError> {
        if let Some(mailbox) = &self.mailbox {
            return Ok(mailbox.clone());
        }
        let mailbox = self.account()?.mailbox().clone();
        self.mailbox = Some(mailbox.clone());
        Ok(mailbox)
    }

    pub(crate) fn account(&self) -> Result<Account, ClientError> {
        self.store.account()?.ok_or(ClientError::NotEnrolled)
    }

    /// Whether this device acts for the school: it holds the root key, or it is an
    /// office (an admin the root admitted, `docs/PROTOCOL.md` §5.8).
    pub(crate) fn acts_for_school(&self) -> Result<bool, ClientError> {
        let profile = self.profile()?;
        Ok(profile.admin || profile.member.is_office())
    }

    /// Who this device signs the school's objects as: the root (the admin's device,
    /// its key unwrapped from its own file) or an office, which acts only while the
    /// school vouches for it.
    ///
    /// # Errors
    /// [`ClientError::NotAdmin`] on other devices; [`ClientError::MembershipEnded`] for
    /// an office that was revoked or expired.
    pub(crate) fn authority(&self) -> Result<SchoolAuthority, ClientError> {
        let profile = self.profile()?;
        if profile.admin {
            return Ok(SchoolAuthority::Root(Box::new(self.root()?)));
        }
        if !profile.member.is_office() {
            return Err(ClientError::NotAdmin);
        }
        let account = self.account()?;
        if let SenderStatus::Unverified(reason) =
            self.status_of(Some(&profile.member.to_bytes()), account.certificate())?
        {
            return Err(ClientError::MembershipEnded { reason });
        }
        Ok(SchoolAuthority::Office(Box::new(Office::new(
            &account,
            profile.member.clone(),
            &profile.root_key,
        )?)))
    }

    /// The school's root key, unwrapped from its own file (admin only).
    pub(crate) fn root(&self) -> Result<SchoolRoot, ClientError> {
        let path = self.home.join(ROOT_KEY_FILE);
        if !self.profile()?.admin || !path.exists() {
            return Err(ClientError::NotAdmin);
        }
        private_fs::check_private_file(&path)?;
        let bytes = std::fs::read(&path).map_err(|e| ClientError::Folder {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        let secret = KeyFile::from_bytes(&bytes)?.unwrap_secret(&self.key)?;
        Ok(SchoolRoot::from_secret_bytes(*secret))
    }

    /// Saves the profile (encrypted) and keeps it.
    pub(crate) fn save_profile(&mut self, profile: Profile) -> Result<(), ClientError> {
        let encoded = profile.encode();
        self.store.write(|w| w.set_meta(PROFILE_KEY, &encoded))?;
        self.profile = Some(profile);
        Ok(())
    }

    /// What the school says about `device` given the certificate it presented, now.
    pub(crate) fn status_of(
        &self,
        certificate: Option<&[u8]>,
        device: &DeviceCertificate,
    ) -> Result<SenderStatus, ClientError> {
        let profile = self.profile()?;
        Ok(verify_member(
            &profile.root_key,
            profile.revocations.as_ref(),
            now_secs(),
            certificate,
            device,
        ))
    }

    /// This account's fingerprint.
    ///
    /// # Errors
    /// [`ClientError::NotEnrolled`].
    pub fn fingerprint(&self) -> Result<satchel_core::Fingerprint, ClientError> {
        Ok(self.account()?.fingerprint())
    }
}

/// Unlocks the store key from `path`, or creates the key file (and key) if it is missing.
fn unlock_or_create(path: &Path, source: &KeySource) -> Result<StoreKey, ClientError> {
    if path.exists() {
        private_fs::check_private_file(path)?;
        let bytes = std::fs::read(path).map_err(|e| ClientError::Folder {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        Ok(KeyFile::from_bytes(&bytes)?.unlock(source)?)
    } else {
        let (file, key) = KeyFile::create(source)?;
        private_fs::write_private_file(path, &file.to_bytes())?;
        Ok(key)
    }
}

/// Makes a Satchel 0.1 database and its journal files private to the user (0.1 created
/// them with the default permissions).
fn restrict_legacy_files(home: &Path) -> Result<(), ClientError> {
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt as _;
        let path = home.join(format!("{DB_FILE}{suffix}"));
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
                |e| ClientError::Folder {
                    path: path.display().to_string(),
                    error: e.to_string(),
                },
            )?;
        }
    }
    #[cfg(not(unix))]
    let _ = home;
    Ok(())
}
