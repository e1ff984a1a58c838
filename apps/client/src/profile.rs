//! [`Profile`]: what this device is in its school, parsed once into typed values.
//!
//! Stored encrypted in the store's `meta` table (prost). The school's root signing key is
//! never part of it: the admin's device keeps it wrapped in its own file
//! ([`crate::store::keyfile`]), unlocked only for the operation that needs it.

use prost::Message as _;
use satchel_core::relay_request::RequestKey;
use satchel_core::school::{
    DirectoryKey, EntryId, MemberCertificate, RevocationList, SchoolId, SchoolKey,
};
use zeroize::Zeroizing;

use crate::error::ClientError;

/// The `meta` key the profile is stored under.
pub(crate) const PROFILE_KEY: &str = "profile";

/// What this device is in its school.
pub(crate) struct Profile {
    pub(crate) relay_url: String,
    pub(crate) school_id: SchoolId,
    pub(crate) root_key: SchoolKey,
    pub(crate) directory_key: DirectoryKey,
    pub(crate) member: MemberCertificate,
    pub(crate) member_key: RequestKey,
    pub(crate) entry_id: EntryId,
    pub(crate) bundle_id: [u8; 16],
    pub(crate) revocations: Option<RevocationList>,
    /// Whether this device holds the school's root key (in its own file).
    pub(crate) admin: bool,
    /// The school's name, from the invite (empty for a school joined before 0.2).
    pub(crate) school_name: String,
    /// The epoch of `directory_key` (0: the key the school was created with).
    pub(crate) directory_epoch: u32,
    /// Directory keys this device held before, newest first (at most
    /// [`PREVIOUS_DIRECTORY_KEYS`]): entries and admission requests still sealed under
    /// one of them open while their writers catch up.
    pub(crate) previous_directory_keys: Vec<DirectoryKey>,
}

/// How many replaced directory keys a profile keeps.
pub(crate) const PREVIOUS_DIRECTORY_KEYS: usize = 4;

impl Profile {
    /// Replaces the directory key with a newer one, keeping the old one for entries
    /// not resealed yet.
    pub(crate) fn replace_directory_key(&mut self, key: DirectoryKey, epoch: u32) {
        let old = std::mem::replace(&mut self.directory_key, key);
        self.previous_directory_keys.insert(0, old);
        self.previous_directory_keys
            .truncate(PREVIOUS_DIRECTORY_KEYS);
        self.directory_epoch = epoch;
    }

    /// The current directory key, then the previous ones, newest first.
    pub(crate) fn directory_keys(&self) -> impl Iterator<Item = &DirectoryKey> {
        std::iter::once(&self.directory_key).chain(self.previous_directory_keys.iter())
    }
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("school_id", &self.school_id)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredProfile {
    #[prost(uint32, tag = "1")]
    version: u32,
    #[prost(string, tag = "2")]
    relay_url: String,
    #[prost(bytes = "vec", tag = "3")]
    root_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    directory_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    member_certificate: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    member_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "7")]
    entry_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "8")]
    bundle_id: Vec<u8>,
    #[prost(bytes = "vec", optional, tag = "9")]
    revocations: Option<Vec<u8>>,
    #[prost(bool, tag = "10")]
    admin: bool,
    #[prost(string, tag = "11")]
    school_name: String,
    #[prost(uint32, tag = "12")]
    directory_epoch: u32,
    #[prost(bytes = "vec", repeated, tag = "13")]
    previous_directory_keys: Vec<Vec<u8>>,
}

/// The school root's secret key, as Satchel 0.1 kept it in the profile.
pub(crate) type RootSecret = Zeroizing<[u8; 32]>;

/// The profile format this build writes.
const PROFILE_VERSION: u32 = 2;

/// The plaintext JSON profile of Satchel 0.1 (hex strings), read once when an old store
/// is migrated.
#[derive(serde::Deserialize)]
struct LegacyProfile {
    relay_url: String,
    root_key: String,
    directory_key: String,
    root_secret: Option<String>,
    member_certificate: String,
    member_key: String,
    entry_id: String,
    bundle_id: String,
    revocations: Option<String>,
}

fn fixed<const N: usize>(bytes: &[u8], what: &'static str) -> Result<[u8; N], ClientError> {
    bytes.try_into().map_err(|_| ClientError::Profile(what))
}

fn unhex<const N: usize>(
    text: &str,
    what: &'static str,
) -> Result<Zeroizing<[u8; N]>, ClientError> {
    let bytes = Zeroizing::new(hex::decode(text).map_err(|_| ClientError::Profile(what))?);
    Ok(Zeroizing::new(fixed(&bytes, what)?))
}

impl Profile {
    /// Encodes the profile for the store (the caller encrypts it).
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            StoredProfile {
                version: PROFILE_VERSION,
                relay_url: self.relay_url.clone(),
                root_key: self.root_key.as_bytes().to_vec(),
                directory_key: self.directory_key.as_bytes().to_vec(),
                member_certificate: self.member.to_bytes(),
                member_key: self.member_key.to_secret_bytes().to_vec(),
                entry_id: self.entry_id.as_bytes().to_vec(),
                bundle_id: self.bundle_id.to_vec(),
                revocations: self.revocations.as_ref().map(RevocationList::to_bytes),
                admin: self.admin,
                school_name: self.school_name.clone(),
                directory_epoch: self.directory_epoch,
                previous_directory_keys: self
                    .previous_directory_keys
                    .iter()
                    .map(|k| k.as_bytes().to_vec())
                    .collect(),
            }
            .encode_to_vec(),
        )
    }

    /// Decodes a stored profile, verifying the member certificate and revocation list
    /// against the pinned school key.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, ClientError> {
        let stored = StoredProfile::decode(bytes).map_err(|_| ClientError::Profile("profile"))?;
        if stored.version != PROFILE_VERSION {
            return Err(ClientError::Profile("profile version"));
        }
        let root_key = SchoolKey::from_bytes(fixed(&stored.root_key, "school key")?);
        let member_key = Zeroizing::new(stored.member_key);
        Ok(Self {
            relay_url: stored.relay_url,
            school_id: SchoolId::of(root_key.as_bytes()),
            directory_key: DirectoryKey::from_slice(&Zeroizing::new(stored.directory_key))
                .ok_or(ClientError::Profile("directory key"))?,
            member: MemberCertificate::from_bytes(&stored.member_certificate, &root_key)?,
            member_key: RequestKey::from_secret_bytes(fixed(&member_key, "member key")?),
            entry_id: EntryId::from_bytes(fixed(&stored.entry_id, "entry id")?),
            bundle_id: fixed(&stored.bundle_id, "bundle id")?,
            revocations: stored
                .revocations
                .map(|r| RevocationList::from_bytes(&r, &root_key))
                .transpose()?,
            admin: stored.admin,
            school_name: stored.school_name,
            directory_epoch: stored.directory_epoch,
            previous_directory_keys: stored
                .previous_directory_keys
                .into_iter()
                .map(|bytes| {
                    DirectoryKey::from_slice(&Zeroizing::new(bytes))
                        .ok_or(ClientError::Profile("directory key"))
                })
                .collect::<Result<_, _>>()?,
            root_key,
        })
    }

    /// Reads a Satchel 0.1 JSON profile; returns it with the root secret it held (the
    /// caller moves that into its own wrapped file).
    pub(crate) fn from_legacy_json(
        bytes: &[u8],
    ) -> Result<(Self, Option<RootSecret>), ClientError> {
        let legacy: LegacyProfile =
            serde_json::from_slice(bytes).map_err(|_| ClientError::Profile("profile"))?;
        let root_key = SchoolKey::from_bytes(*unhex::<32>(&legacy.root_key, "school key")?);
        let member_certificate = hex::decode(&legacy.member_certificate)
            .map_err(|_| ClientError::Profile("certificate"))?;
        let root_secret = legacy
            .root_secret
            .as_deref()
            .map(|s| unhex::<32>(s, "root secret"))
            .transpose()?;
        let profile = Self {
            relay_url: legacy.relay_url,
            school_id: SchoolId::of(root_key.as_bytes()),
            directory_key: DirectoryKey::from_slice(
                unhex::<32>(&legacy.directory_key, "directory key")?.as_slice(),
            )
            .ok_or(ClientError::Profile("directory key"))?,
            member: MemberCertificate::from_bytes(&member_certificate, &root_key)?,
            member_key: RequestKey::from_secret_bytes(*unhex::<32>(
                &legacy.member_key,
                "member key",
            )?),
            entry_id: EntryId::from_bytes(*unhex::<16>(&legacy.entry_id, "entry id")?),
            bundle_id: *unhex::<16>(&legacy.bundle_id, "bundle id")?,
            revocations: legacy
                .revocations
                .map(|text| {
                    let bytes =
                        hex::decode(text).map_err(|_| ClientError::Profile("revocations"))?;
                    Ok::<_, ClientError>(RevocationList::from_bytes(&bytes, &root_key)?)
                })
                .transpose()?,
            admin: root_secret.is_some(),
            school_name: String::new(),
            directory_epoch: 0,
            previous_directory_keys: Vec::new(),
            root_key,
        };
        Ok((profile, root_secret))
    }
}
