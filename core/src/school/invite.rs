//! One-time invite codes: enrol a parent or teacher without the admin being online.
//!
//! The admin signs a [`Grant`] for a key derived from a fresh 32-byte secret and
//! uploads an *invite record* (root key, grant, directory key), encrypted under another
//! key derived from the same secret, to the relay under a *lookup id* also derived from
//! it. The code handed to the person carries only the relay URL, the school id and the
//! secret:
//!
//! ```text
//! SATCHEL1-<base32(school_id (16) || secret (32))>@<relay url>
//! HKDF-SHA256(salt = school_id, ikm = secret, info = "Satchel invite v1", 80 bytes)
//!   = grant key seed (32) || lookup id (16) || record key (32)
//! ```
//!
//! The joiner fetches the record by lookup id, decrypts it, checks that the root key in
//! it has the school id from the code (so a relay cannot substitute another school),
//! and binds the grant to their new account with the grant key. Redeeming on the relay
//! is signed with the grant key and succeeds once.

use prost::Message;
use rand_core::CryptoRng;
use satchel_proto::v1 as pb;
use zeroize::Zeroizing;

use super::directory::DirectoryKey;
use super::grant::{Grant, GrantRequest, MAX_NAME_LEN};
use super::member::MemberCertificate;
use super::root::{SchoolId, SchoolKey};
use crate::crypto::aead::{self, ZERO_NONCE};
use crate::crypto::kdf::hkdf;
use crate::crypto::secret::Secret32;
use crate::crypto::signing::SigningKeyPair;
use crate::error::{InviteError, TrustError};
use crate::identity::ids::AccountId;

const CODE_PREFIX: &str = "SATCHEL1-";
const LABEL_INVITE: &[u8] = b"Satchel invite v1";
const LABEL_RECORD: &[u8] = b"Satchel invite record v1";
const RECORD_VERSION: u32 = 1;
/// The largest encrypted invite record accepted.
pub const MAX_RECORD_LEN: usize = 16 * 1024;

/// The secret inside an invite code. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct InviteSecret(Secret32);

impl std::fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteSecret(<redacted>)")
    }
}

/// A parsed invite code.
#[derive(Clone, Debug)]
pub struct InviteCode {
    /// Where the school's relay is.
    pub relay_url: String,
    /// The school (and the fingerprint of its root key).
    pub school_id: SchoolId,
    /// The one-time secret.
    pub secret: InviteSecret,
}

impl InviteCode {
    /// Parses a code as printed by [`InviteCode::to_line`]; surrounding whitespace is
    /// ignored.
    ///
    /// # Errors
    /// [`InviteError::Malformed`] with a reason a person can act on.
    pub fn parse(code: &str) -> Result<Self, InviteError> {
        let code = code.trim();
        let rest = code
            .strip_prefix(CODE_PREFIX)
            .ok_or(InviteError::Malformed {
                reason: "it does not start with SATCHEL1-; copy the whole code",
            })?;
        let (payload, relay_url) = rest.split_once('@').ok_or(InviteError::Malformed {
            reason: "the relay address after '@' is missing; copy the whole code",
        })?;
        if !(relay_url.starts_with("http://") || relay_url.starts_with("https://")) {
            return Err(InviteError::Malformed {
                reason: "the relay address must start with http:// or https://",
            });
        }
        let bytes = Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .decode(payload.to_ascii_uppercase().as_bytes())
                .map_err(|_| InviteError::Malformed {
                    reason: "it contains characters an invite code never has: check the code, or copy it again",
                })?,
        );
        let (school, secret) = bytes.split_at_checked(16).ok_or(InviteError::Malformed {
            reason: "the code is too short; copy the whole code",
        })?;
        let secret = Secret32::from_slice(secret).ok_or(InviteError::Malformed {
            reason: "the code has the wrong length; copy the whole code",
        })?;
        Ok(Self {
            relay_url: relay_url.to_string(),
            school_id: SchoolId::from_slice(school).ok_or(InviteError::Malformed {
                reason: "the code has the wrong length; copy the whole code",
            })?,
            secret: InviteSecret(secret),
        })
    }

    /// The one-line form: copy-pasteable, and short enough for a QR code.
    #[must_use]
    pub fn to_line(&self) -> String {
        let mut bytes = Zeroizing::new(Vec::with_capacity(48));
        bytes.extend_from_slice(self.school_id.as_bytes());
        bytes.extend_from_slice(self.secret.0.as_bytes());
        format!(
            "{CODE_PREFIX}{}@{}",
            data_encoding::BASE32_NOPAD.encode(&bytes),
            self.relay_url
        )
    }

    /// The keys this code gives its holder.
    #[must_use]
    pub fn keys(&self) -> JoinKeys {
        JoinKeys::derive(&self.school_id, &self.secret)
    }
}

/// What an invite secret derives: the grant key, the lookup id and the record key.
pub struct JoinKeys {
    school_id: SchoolId,
    grant_key: SigningKeyPair,
    lookup_id: [u8; 16],
    record_key: Secret32,
}

impl std::fmt::Debug for JoinKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinKeys")
            .field("school_id", &self.school_id)
            .finish_non_exhaustive()
    }
}

/// The contents of an invite record, checked against the code.
#[derive(Debug, Clone)]
pub struct InviteContents {
    /// The school root (its id matches the code's).
    pub root: SchoolKey,
    /// The grant, signed by that root, for this code's grant key.
    pub grant: Grant,
    /// The key the school directory is encrypted under.
    pub directory_key: DirectoryKey,
    /// The school's name as its admin gave it (empty if none was given). Only whoever
    /// holds the code and the admin can have written it; it is not signed by the root.
    /// Attacker-controlled text wherever displayed: escape it.
    pub school_name: String,
}

impl JoinKeys {
    fn derive(school_id: &SchoolId, secret: &InviteSecret) -> Self {
        let okm = Zeroizing::new(hkdf::<80>(
            school_id.as_bytes(),
            secret.0.as_bytes(),
            LABEL_INVITE,
        ));
        let (seed, rest) = okm.split_at(32);
        let (lookup, record) = rest.split_at(16);
        let mut lookup_id = [0u8; 16];
        lookup_id.copy_from_slice(lookup);
        let zero = || Secret32::new([0u8; 32]);
        Self {
            school_id: *school_id,
            grant_key: SigningKeyPair::from_secret(
                &Secret32::from_slice(seed).unwrap_or_else(zero),
            ),
            lookup_id,
            record_key: Secret32::from_slice(record).unwrap_or_else(zero),
        }
    }

    /// Where the invite record is stored on the relay.
    #[must_use]
    pub fn lookup_id(&self) -> [u8; 16] {
        self.lookup_id
    }

    /// The public grant key: the relay checks redeem requests against it.
    #[must_use]
    pub fn redeem_key(&self) -> [u8; 32] {
        self.grant_key.public()
    }

    /// Signs a relay request (the redeem call) with the grant key (see
    /// [`crate::relay_request`]); the request label keeps it apart from bindings.
    #[must_use]
    pub fn sign_request(&self, request: &crate::relay_request::RelayRequest<'_>) -> [u8; 64] {
        self.grant_key.sign(&request.message())
    }

    fn record_aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(LABEL_RECORD.len() + 32);
        aad.extend_from_slice(LABEL_RECORD);
        aad.extend_from_slice(self.school_id.as_bytes());
        aad.extend_from_slice(&self.lookup_id);
        aad
    }

    /// Decrypts and checks an invite record fetched from the relay.
    ///
    /// # Errors
    /// [`InviteError::DecryptionFailed`] if it does not decrypt (wrong or damaged
    /// record), [`InviteError::WrongSchool`] if its root is not the school named in the
    /// code, [`InviteError::Trust`] if the grant does not verify or is for another key.
    pub fn open_record(&self, record: &[u8]) -> Result<InviteContents, InviteError> {
        if record.len() > MAX_RECORD_LEN {
            return Err(InviteError::Malformed {
                reason: "the invite record is too large",
            });
        }
        let plaintext = Zeroizing::new(
            aead::open(&self.record_key, &ZERO_NONCE, &self.record_aad(), record)
                .map_err(|_| InviteError::DecryptionFailed)?,
        );
        let record =
            pb::InviteRecord::decode(plaintext.as_slice()).map_err(|_| InviteError::Malformed {
                reason: "the invite record is not readable",
            })?;
        if record.version != RECORD_VERSION {
            return Err(InviteError::UnsupportedVersion {
                found: record.version,
            });
        }
        let root = SchoolKey::from_bytes(record.root_key.as_slice().try_into().map_err(|_| {
            InviteError::Malformed {
                reason: "the invite record's root key has the wrong length",
            }
        })?);
        if root.school_id() != self.school_id {
            return Err(InviteError::WrongSchool);
        }
        let grant = Grant::from_proto(
            record.grant.as_ref().ok_or(InviteError::Malformed {
                reason: "the invite record has no grant",
            })?,
            &root,
        )?;
        if *grant.grant_key() != self.grant_key.public() {
            return Err(InviteError::Trust(TrustError::BadSignature));
        }
        let directory_key =
            DirectoryKey::from_slice(&record.directory_key).ok_or(InviteError::Malformed {
                reason: "the invite record's directory key has the wrong length",
            })?;
        if record.school_name.len() > MAX_NAME_LEN {
            return Err(InviteError::Malformed {
                reason: "the invite record's school name is too long",
            });
        }
        Ok(InviteContents {
            root,
            grant,
            directory_key,
            school_name: record.school_name,
        })
    }

    /// Binds `grant` (from [`JoinKeys::open_record`]) to the joining account.
    ///
    /// # Errors
    /// [`TrustError::BadSignature`] if the grant is for another key.
    pub fn bind(
        &self,
        grant: Grant,
        account_id: AccountId,
        account_key: [u8; 32],
    ) -> Result<MemberCertificate, TrustError> {
        MemberCertificate::bind(grant, &self.grant_key, account_id, account_key)
    }
}

/// An invite the admin has created: the code to hand over, and what to upload.
#[derive(Debug)]
pub struct Invite {
    /// The code for the person (print it or show it as a QR code).
    pub code: InviteCode,
    /// The grant it carries.
    pub grant: Grant,
    /// Upload the record under this lookup id.
    pub lookup_id: [u8; 16],
    /// The key the relay checks redeem requests against.
    pub redeem_key: [u8; 32],
    /// The encrypted invite record to upload.
    pub record: Vec<u8>,
}

impl Invite {
    /// Creates an invite for `request` at the school `root` called `school_name` (shown
    /// to the joiner; may be empty), whose relay is `relay_url` and whose directory is
    /// encrypted under `directory_key`.
    ///
    /// # Errors
    /// [`TrustError::InvalidField`] if the request's fields or the school name (at most
    /// [`MAX_NAME_LEN`] bytes) are out of bounds.
    pub fn create<R: CryptoRng + ?Sized>(
        root: &impl super::office::Authority,
        school_name: &str,
        request: GrantRequest,
        directory_key: &DirectoryKey,
        relay_url: &str,
        rng: &mut R,
    ) -> Result<Self, TrustError> {
        if school_name.len() > MAX_NAME_LEN {
            return Err(TrustError::InvalidField {
                field: "school_name",
                reason: "at most 200 bytes",
            });
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(secret.as_mut_slice());
        let code = InviteCode {
            relay_url: relay_url.to_string(),
            school_id: root.school_id(),
            secret: InviteSecret(Secret32::new(*secret)),
        };
        let keys = code.keys();
        let grant = Grant::sign(root, request, keys.redeem_key(), rng)?;
        let plaintext = Zeroizing::new(
            pb::InviteRecord {
                version: RECORD_VERSION,
                root_key: root.root_key().as_bytes().to_vec(),
                grant: Some(grant.to_proto()),
                directory_key: directory_key.as_bytes().to_vec(),
                school_name: school_name.to_owned(),
            }
            .encode_to_vec(),
        );
        let mut record = Vec::with_capacity(plaintext.len() + aead::TAG_LEN);
        aead::seal_into(
            &keys.record_key,
            &ZERO_NONCE,
            &keys.record_aad(),
            &plaintext,
            &mut record,
        )
        .map_err(|_| TrustError::InvalidField {
            field: "record",
            reason: "too large",
        })?;
        Ok(Self {
            lookup_id: keys.lookup_id(),
            redeem_key: keys.redeem_key(),
            code,
            grant,
            record,
        })
    }
}
