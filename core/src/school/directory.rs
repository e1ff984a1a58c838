//! The school directory: one encrypted entry per member device, stored on the relay.
//!
//! ```text
//! entry blob = nonce (12) || ChaCha20-Poly1305(directory_key, nonce, DirectoryEntry,
//!                                             aad = "Satchel directory entry v1" || school_id || entry_id)
//! ```
//!
//! The relay sees entry ids, how many entries there are, their (unpadded) sizes, when
//! they change, which member key wrote each, and who reads the directory; not names,
//! roles, classes or keys. Every member checks each entry it reads: the member
//! certificate against the pinned root, and that the prekey bundle belongs to the
//! certified account.

use prost::Message;
use rand_core::CryptoRng;
use satchel_proto::v1 as pb;
use zeroize::Zeroizing;

use super::member::MemberCertificate;
use super::office::{Authority, issuer_bytes, verify_issued};
use super::root::{SchoolId, SchoolKey};
use crate::crypto::aead::{self, NONCE_LEN};
use crate::crypto::dh::Hex;
use crate::crypto::secret::Secret32;
use crate::error::{DirectoryError, TrustError};
use crate::prekeys::PrekeyBundle;

const LABEL_ENTRY: &[u8] = b"Satchel directory entry v1";
const ENTRY_VERSION: u32 = 1;
/// The largest encrypted entry accepted.
pub const MAX_ENTRY_LEN: usize = 32 * 1024;

/// The key the directory is encrypted under, held by every enrolled member.
#[derive(Clone)]
pub struct DirectoryKey(Secret32);

impl DirectoryKey {
    /// A fresh random key (made once, when the school is created).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut_slice());
        Self(Secret32::new(*bytes))
    }

    /// Wraps stored key bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Secret32::from_slice(bytes).map(Self)
    }

    /// The key bytes, for the member's encrypted storage.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for DirectoryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectoryKey(<redacted>)")
    }
}

/// Names one directory entry on the relay.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId([u8; 16]);

impl EntryId {
    /// A fresh random id.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps 16 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl std::fmt::Debug for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryId({:?})", Hex(&self.0))
    }
}

/// One member device's directory entry: who they are and how to reach them.
#[derive(Clone, Debug)]
pub struct DirectoryEntry {
    /// The member's certificate, verified against the school root.
    pub member: MemberCertificate,
    /// The device's prekey bundle (without one-time prekey), verified and bound to the
    /// member's account.
    pub bundle: PrekeyBundle,
    /// Where the relay hands out this device's one-time prekeys.
    pub bundle_id: [u8; 16],
    /// When the member last updated the entry (Unix seconds).
    pub updated_at: u64,
}

/// `nonce (12) || AEAD(DK, nonce, aad, plaintext)` with a fresh random nonce (DK is
/// long-lived), refused if longer than `max`.
fn seal_under<R: CryptoRng + ?Sized>(
    key: &DirectoryKey,
    aad: &[u8],
    plaintext: &[u8],
    max: usize,
    rng: &mut R,
) -> Result<Vec<u8>, DirectoryError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + aead::TAG_LEN);
    out.extend_from_slice(&nonce);
    aead::seal_into(&key.0, &nonce, aad, plaintext, &mut out)
        .map_err(|_| DirectoryError::Malformed { field: "length" })?;
    if out.len() > max {
        return Err(DirectoryError::Malformed { field: "length" });
    }
    Ok(out)
}

/// Opens what [`seal_under`] made: length at most `max`, a nonce, then the AEAD.
fn open_under(
    blob: &[u8],
    key: &DirectoryKey,
    aad: &[u8],
    max: usize,
) -> Result<Vec<u8>, DirectoryError> {
    if blob.len() > max {
        return Err(DirectoryError::Malformed { field: "length" });
    }
    let (nonce, sealed) = blob
        .split_at_checked(NONCE_LEN)
        .ok_or(DirectoryError::Malformed { field: "nonce" })?;
    let nonce: &[u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| DirectoryError::Malformed { field: "nonce" })?;
    aead::open(&key.0, nonce, aad, sealed).map_err(|_| DirectoryError::DecryptionFailed)
}

fn entry_aad(school_id: &SchoolId, entry_id: &EntryId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(LABEL_ENTRY.len() + 32);
    aad.extend_from_slice(LABEL_ENTRY);
    aad.extend_from_slice(school_id.as_bytes());
    aad.extend_from_slice(entry_id.as_bytes());
    aad
}

impl DirectoryEntry {
    /// Encrypts the entry for upload under `entry_id`. A one-time prekey in the bundle
    /// is left out (those are handed out by the relay, once each).
    ///
    /// # Errors
    /// [`DirectoryError::Malformed`] if the entry is too large to upload.
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        key: &DirectoryKey,
        school_id: &SchoolId,
        entry_id: &EntryId,
        rng: &mut R,
    ) -> Result<Vec<u8>, DirectoryError> {
        let mut bundle = self.bundle.to_proto();
        bundle.one_time_prekey = None;
        let plaintext = pb::DirectoryEntry {
            version: ENTRY_VERSION,
            member: Some(self.member.to_proto()),
            prekey_bundle: bundle.encode_to_vec(),
            bundle_id: self.bundle_id.to_vec(),
            updated_at: self.updated_at,
        }
        .encode_to_vec();
        seal_under(
            key,
            &entry_aad(school_id, entry_id),
            &plaintext,
            MAX_ENTRY_LEN,
            rng,
        )
    }

    /// Decrypts and verifies an entry fetched from the relay.
    ///
    /// # Errors
    /// [`DirectoryError`] if it does not decrypt, is malformed, its certificate does
    /// not verify against `root`, or its bundle belongs to another account.
    pub fn open(
        blob: &[u8],
        key: &DirectoryKey,
        root: &SchoolKey,
        entry_id: &EntryId,
    ) -> Result<Self, DirectoryError> {
        let plaintext = open_under(
            blob,
            key,
            &entry_aad(&root.school_id(), entry_id),
            MAX_ENTRY_LEN,
        )?;
        let entry = pb::DirectoryEntry::decode(plaintext.as_slice())
            .map_err(|_| DirectoryError::Malformed { field: "encoding" })?;
        if entry.version != ENTRY_VERSION {
            return Err(DirectoryError::Malformed { field: "version" });
        }
        let member = MemberCertificate::from_proto(
            entry
                .member
                .as_ref()
                .ok_or(DirectoryError::Malformed { field: "member" })?,
            root,
        )?;
        // An entry's bundle never carries a one-time prekey (`seal` leaves it out): one
        // placed there by whoever wrote the entry is vouched for by nobody, so it is
        // dropped. One-time prekeys come only from the relay, signed for the bundle id.
        let bundle = PrekeyBundle::from_bytes(&entry.prekey_bundle)?
            .expect_account(&member.account_id(), member.account_key())
            .map_err(|_| DirectoryError::AccountMismatch)?
            .without_one_time_prekey();
        Ok(Self {
            member,
            bundle,
            bundle_id: entry
                .bundle_id
                .as_slice()
                .try_into()
                .map_err(|_| DirectoryError::Malformed { field: "bundle_id" })?,
            updated_at: entry.updated_at,
        })
    }
}

const LABEL_ADMISSION_REQUEST: &[u8] = b"Satchel admission request v1";
/// The largest sealed admission request accepted: a nonce, the largest certificate and
/// the AEAD tag.
pub const MAX_ADMISSION_REQUEST_LEN: usize =
    NONCE_LEN + super::member::MAX_MEMBER_CERTIFICATE_LEN + aead::TAG_LEN;

fn admission_request_aad(school_id: &SchoolId, member_key: &[u8; 32]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(LABEL_ADMISSION_REQUEST.len() + 48);
    aad.extend_from_slice(LABEL_ADMISSION_REQUEST);
    aad.extend_from_slice(school_id.as_bytes());
    aad.extend_from_slice(member_key);
    aad
}

impl MemberCertificate {
    /// Seals this certificate under the directory key for the relay to keep until the
    /// admin admits it (`docs/PROTOCOL.md` §5.3): the relay stores it for `member_key`,
    /// the key the member's redemption recorded, and cannot read the name, role or
    /// classes in it.
    ///
    /// # Errors
    /// [`DirectoryError::Malformed`] if it is too large (cannot happen for a certificate
    /// that parsed).
    pub fn seal_admission_request<R: CryptoRng + ?Sized>(
        &self,
        key: &DirectoryKey,
        school_id: &SchoolId,
        member_key: &[u8; 32],
        rng: &mut R,
    ) -> Result<Vec<u8>, DirectoryError> {
        seal_under(
            key,
            &admission_request_aad(school_id, member_key),
            &self.to_bytes(),
            MAX_ADMISSION_REQUEST_LEN,
            rng,
        )
    }

    /// Opens an admission request the relay listed for `member_key` and verifies the
    /// certificate in it against the pinned root (the admin's side).
    ///
    /// # Errors
    /// [`DirectoryError`]: too long, does not decrypt for this school and member key,
    /// or the certificate does not verify.
    pub fn open_admission_request(
        blob: &[u8],
        key: &DirectoryKey,
        root: &SchoolKey,
        member_key: &[u8; 32],
    ) -> Result<Self, DirectoryError> {
        let plaintext = open_under(
            blob,
            key,
            &admission_request_aad(&root.school_id(), member_key),
            MAX_ADMISSION_REQUEST_LEN,
        )?;
        Ok(MemberCertificate::from_bytes(&plaintext, root)?)
    }
}

const LABEL_KEY_UPDATE: &[u8] = b"Satchel directory key v1";
const LABEL_KEY_COMMITMENT: &[u8] = b"Satchel directory key commitment v1";

/// The string the root signs for a directory key (76 bytes): the epoch and a hash of
/// the key, never the key itself.
fn key_update_bytes(school_id: &SchoolId, epoch: u32, key: &DirectoryKey) -> Vec<u8> {
    let commitment = crate::crypto::kdf::sha256(&[LABEL_KEY_COMMITMENT, key.as_bytes()]);
    let mut bytes = Vec::with_capacity(LABEL_KEY_UPDATE.len() + 16 + 4 + 32);
    bytes.extend_from_slice(LABEL_KEY_UPDATE);
    bytes.extend_from_slice(school_id.as_bytes());
    bytes.extend_from_slice(&epoch.to_be_bytes());
    bytes.extend_from_slice(&commitment);
    bytes
}

/// A new directory key, signed by the school root with its epoch (`docs/PROTOCOL.md`
/// §5.6). After a revocation the admin's device makes one and sends it to each current
/// member over their pairwise session, so a former member, who kept the old key, cannot
/// read entries sealed under the new one. A member accepts an update only from the
/// pinned root and only with a higher epoch than the key it holds.
///
/// ```
/// use satchel_core::school::{DirectoryKey, DirectoryKeyUpdate, SchoolRoot};
/// let mut rng = satchel_core::os_rng();
/// let root = SchoolRoot::generate(&mut rng);
/// let update = DirectoryKeyUpdate::sign(&root, 1, DirectoryKey::generate(&mut rng));
/// let received = DirectoryKeyUpdate::from_proto(&update.to_proto(), &root.public()).unwrap();
/// assert_eq!(received.epoch(), 1);
/// ```
#[derive(Clone)]
pub struct DirectoryKeyUpdate {
    epoch: u32,
    key: DirectoryKey,
    signature: [u8; 64],
    issuer: Option<Box<MemberCertificate>>,
}

impl DirectoryKeyUpdate {
    /// Signs `key` as the school's directory key from `epoch` on, as the root or an
    /// office.
    #[must_use]
    pub fn sign(authority: &impl Authority, epoch: u32, key: DirectoryKey) -> Self {
        let (signature, issuer) =
            authority.sign_object(&key_update_bytes(&authority.school_id(), epoch, &key));
        Self {
            epoch,
            key,
            signature,
            issuer: issuer.map(Box::new),
        }
    }

    /// Parses and verifies an update under the pinned root.
    ///
    /// # Errors
    /// [`TrustError::Malformed`] for a key or signature of the wrong length,
    /// [`TrustError::BadSignature`] if the root did not sign it.
    pub fn from_proto(
        proto: &pb::DirectoryKeyUpdate,
        root: &SchoolKey,
    ) -> Result<Self, TrustError> {
        let key =
            DirectoryKey::from_slice(&proto.key).ok_or(TrustError::Malformed { field: "key" })?;
        let signature: [u8; 64] = proto
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| TrustError::Malformed { field: "signature" })?;
        let issuer = verify_issued(
            root,
            &proto.issuer,
            &key_update_bytes(&root.school_id(), proto.epoch, &key),
            &signature,
        )?;
        Ok(Self {
            epoch: proto.epoch,
            key,
            signature,
            issuer: issuer.map(Box::new),
        })
    }

    /// The protobuf form (carries the key: send it only inside an encrypted session).
    #[must_use]
    pub fn to_proto(&self) -> pb::DirectoryKeyUpdate {
        pb::DirectoryKeyUpdate {
            epoch: self.epoch,
            key: self.key.as_bytes().to_vec(),
            signature: self.signature.to_vec(),
            issuer: issuer_bytes(self.issuer.as_deref()),
        }
    }

    /// The epoch: higher replaces lower.
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The key.
    #[must_use]
    pub fn key(&self) -> &DirectoryKey {
        &self.key
    }

    /// The office that signed it (`None`: the root).
    #[must_use]
    pub fn issuer(&self) -> Option<&MemberCertificate> {
        self.issuer.as_deref()
    }
}

impl std::fmt::Debug for DirectoryKeyUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryKeyUpdate")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}
