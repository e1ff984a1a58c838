//! Where the store key comes from: a key file that wraps a random 32-byte secret under a
//! key-encryption key (KEK) taken from a passphrase or from the platform's keystore.
//!
//! The profile folder holds `store.key` (the [`StoreKey`] of the encrypted store); a
//! school administrator's profile also holds `school-root.key` (the school's 32-byte root
//! signing seed), wrapped separately in the same format with [`KeyFile::wrap_secret`].
//! The data key never changes when the passphrase does ([`KeyFile::rewrap`]), so the
//! database is not re-encrypted.
//!
//! # File format (version 1), 112 bytes
//!
//! ```text
//! offset  length  field
//! 0       10      magic, ASCII "SATCHELKEY"
//! 10      1       format version, 0x01
//! 11      1       key source: 0x01 passphrase, 0x02 platform key
//! 12      4       Argon2id memory cost m, in KiB, u32 big-endian (0 for a platform key)
//! 16      4       Argon2id time cost t (passes), u32 big-endian (0 for a platform key)
//! 20      4       Argon2id parallelism p (lanes), u32 big-endian (0 for a platform key)
//! 24      16      salt, random per file (and per rewrap)
//! 40      24      XChaCha20-Poly1305 nonce, random per file (and per rewrap)
//! 64      48      the wrapped secret: 32 bytes of ciphertext, then the 16-byte tag
//! ```
//!
//! The associated data of the wrapping AEAD is bytes 0..40 (everything before the
//! nonce), so the version, source, parameters and salt cannot be changed without the file
//! failing to open.
//!
//! # Key-encryption key
//!
//! * Passphrase: KEK = Argon2id v1.3 (RFC 9106) of the passphrase's UTF-8 bytes with the
//!   file's salt and parameters, 32 bytes of output. The passphrase is used exactly as
//!   given (no Unicode normalisation, no trimming).
//! * Platform key: KEK = HKDF-SHA256(salt = the file's salt, IKM = the platform's 32
//!   bytes, info = `"Satchel key file platform KEK v1"`). The platform key is already
//!   uniformly random, so no slow derivation is needed.
//!
//! # Argon2id parameters
//!
//! New passphrase files use [`Argon2Params::DEFAULT`]: m = 64 MiB, t = 3, p = 1, RFC 9106
//! section 4's second recommended option (for memory-constrained environments). One
//! derivation takes about a quarter of a second on a current x86-64 core in a release
//! build, once per unlock, which is what a phone or laptop can afford; an attacker pays
//! the same 64 MiB and three passes for every guess. [`Argon2Params::OWASP`] (m = 19 MiB,
//! t = 2, p = 1) is the lighter fallback for devices where that is too slow.
//!
//! A file's parameters are read before any work is done: files asking for more than
//! [`MAX_M_COST_KIB`] (1 GiB) of memory, more than [`MAX_T_COST`] passes or more than
//! [`MAX_P_COST`] lanes are refused, so a hostile or corrupted file cannot make unlocking
//! exhaust memory or hang.

use core::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::cipher::{STORE_KEY_LEN, StoreKey};

/// The first ten bytes of every key file.
pub const MAGIC: &[u8; 10] = b"SATCHELKEY";
/// The format version this build writes and reads.
pub const KEY_FILE_VERSION: u8 = 0x01;
/// The length of a version-1 key file.
pub const KEY_FILE_LEN: usize = 112;
/// The length of the wrapped secret.
pub const SECRET_LEN: usize = 32;
/// Length of the per-file salt.
pub const SALT_LEN: usize = 16;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes 0..40: magic, version, kind, parameters, salt; the AEAD's associated data.
const HEADER_LEN: usize = 10 + 1 + 1 + 12 + SALT_LEN;
const WRAPPED_LEN: usize = SECRET_LEN + TAG_LEN;

/// Largest accepted Argon2id memory cost: 1 GiB, in KiB.
pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
/// Largest accepted Argon2id time cost (passes).
pub const MAX_T_COST: u32 = 10;
/// Largest accepted Argon2id parallelism (lanes).
pub const MAX_P_COST: u32 = 16;

/// HKDF info of the KEK for a platform key.
const LABEL_PLATFORM_KEK: &[u8] = b"Satchel key file platform KEK v1";

const _: () = assert!(HEADER_LEN + NONCE_LEN + WRAPPED_LEN == KEY_FILE_LEN);
const _: () = assert!(SECRET_LEN == STORE_KEY_LEN);

/// Why a key file could not be created, read or unlocked.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The bytes do not start with `SATCHELKEY`.
    #[error("this is not a Satchel key file (it does not start with \"SATCHELKEY\")")]
    NotAKeyFile,
    /// The file has the wrong length for its version.
    #[error(
        "the key file is {len} bytes long instead of {KEY_FILE_LEN}: it is damaged or was cut \
         short; restore it from a backup"
    )]
    WrongLength {
        /// The length found.
        len: usize,
    },
    /// The file has a format version this build does not know.
    #[error(
        "the key file has format version {version}, which this version of Satchel does not \
         know: it was written by a newer Satchel; update the app"
    )]
    UnknownVersion {
        /// The version byte found.
        version: u8,
    },
    /// The key-source byte is neither passphrase nor platform key.
    #[error(
        "the key file names an unknown key source ({kind}): it is damaged; restore it from a backup"
    )]
    UnknownKind {
        /// The byte found.
        kind: u8,
    },
    /// Argon2id parameters outside the accepted range.
    #[error(
        "the key file asks for Argon2id parameters m = {m_cost_kib} KiB, t = {t_cost}, \
         p = {p_cost}; Satchel accepts 1 <= p <= {MAX_P_COST}, 8 * p <= m <= {MAX_M_COST_KIB} \
         KiB and 1 <= t <= {MAX_T_COST} (and zeros for a platform key), so it refuses a file \
         that could exhaust memory or time: the file is damaged or was not written by Satchel"
    )]
    UnsafeParameters {
        /// Memory cost in KiB.
        m_cost_kib: u32,
        /// Time cost (passes).
        t_cost: u32,
        /// Parallelism (lanes).
        p_cost: u32,
    },
    /// The passphrase does not open the file.
    #[error(
        "wrong passphrase (if you are sure it is right, the key file is damaged: restore it \
         from a backup)"
    )]
    WrongPassphrase,
    /// The platform key does not open the file.
    #[error(
        "the platform key does not open this key file: the file belongs to another device or \
         app install, or it is damaged"
    )]
    WrongPlatformKey,
    /// The file is unlocked by another kind of source than the one given.
    #[error("this key file is unlocked with a {file}, not with a {given}")]
    SourceMismatch {
        /// The source the file was made for.
        file: SourceKind,
        /// The source given.
        given: SourceKind,
    },
    /// An empty passphrase was given.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed; no key file was made")]
    Randomness,
    /// A cryptographic primitive failed; in practice only Argon2id, when it cannot
    /// allocate its memory.
    #[error("deriving or wrapping the key failed: {reason}")]
    Crypto {
        /// What failed.
        reason: String,
    },
}

/// Which kind of secret unlocks a key file (byte 11 of the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A passphrase, stretched with Argon2id.
    Passphrase,
    /// 32 bytes kept by the platform (Android Keystore, iOS Keychain).
    Platform,
}

impl SourceKind {
    /// The byte that names this kind in the file.
    #[must_use]
    pub fn byte(self) -> u8 {
        match self {
            Self::Passphrase => 1,
            Self::Platform => 2,
        }
    }

    fn from_byte(byte: u8) -> Result<Self, KeyFileError> {
        match byte {
            1 => Ok(Self::Passphrase),
            2 => Ok(Self::Platform),
            kind => Err(KeyFileError::UnknownKind { kind }),
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Passphrase => "passphrase",
            Self::Platform => "platform key",
        })
    }
}

/// The secret a key file is unlocked with. Its `Debug` shows no secret.
pub enum KeySource {
    /// A passphrase the user types; the KEK is Argon2id of it.
    Passphrase(Zeroizing<String>),
    /// 32 random bytes kept by the platform's keystore; the KEK is HKDF of them.
    Platform(Zeroizing<[u8; 32]>),
}

impl KeySource {
    /// The kind of this source.
    #[must_use]
    pub fn kind(&self) -> SourceKind {
        match self {
            Self::Passphrase(_) => SourceKind::Passphrase,
            Self::Platform(_) => SourceKind::Platform,
        }
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Passphrase(_) => "Passphrase(..)",
            Self::Platform(_) => "Platform(..)",
        })
    }
}

/// Argon2id cost parameters, as stored in a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Time cost: passes over the memory.
    pub t_cost: u32,
    /// Parallelism: lanes.
    pub p_cost: u32,
}

impl Argon2Params {
    /// RFC 9106's second recommended option: 64 MiB, 3 passes, 1 lane. Used for new
    /// passphrase files.
    pub const DEFAULT: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// OWASP's password-storage minimum for Argon2id: 19 MiB, 2 passes, 1 lane. A lighter
    /// choice for slow devices.
    pub const OWASP: Self = Self {
        m_cost_kib: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };

    /// The all-zero parameters a platform-key file carries.
    const NONE: Self = Self {
        m_cost_kib: 0,
        t_cost: 0,
        p_cost: 0,
    };

    /// Checks the parameters are within the accepted range (see the module documentation).
    ///
    /// # Errors
    /// [`KeyFileError::UnsafeParameters`] otherwise.
    pub fn check(&self) -> Result<(), KeyFileError> {
        let p_ok = (1..=MAX_P_COST).contains(&self.p_cost);
        let m_ok = self.m_cost_kib <= MAX_M_COST_KIB
            && self
                .p_cost
                .checked_mul(8)
                .is_some_and(|min| self.m_cost_kib >= min);
        let t_ok = (1..=MAX_T_COST).contains(&self.t_cost);
        if p_ok && m_ok && t_ok {
            Ok(())
        } else {
            Err(self.unsafe_error())
        }
    }

    fn unsafe_error(&self) -> KeyFileError {
        KeyFileError::UnsafeParameters {
            m_cost_kib: self.m_cost_kib,
            t_cost: self.t_cost,
            p_cost: self.p_cost,
        }
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A parsed key file: one 32-byte secret wrapped under a passphrase or a platform key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile {
    kind: SourceKind,
    params: Argon2Params,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    wrapped: [u8; WRAPPED_LEN],
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("kind", &self.kind)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// A new random store key, and the key file that wraps it under `source` (with
    /// [`Argon2Params::DEFAULT`] for a passphrase).
    ///
    /// # Errors
    /// [`KeyFileError::EmptyPassphrase`], [`KeyFileError::Randomness`] or
    /// [`KeyFileError::Crypto`].
    pub fn create(source: &KeySource) -> Result<(Self, StoreKey), KeyFileError> {
        Self::create_with_params(source, Argon2Params::DEFAULT)
    }

    /// [`KeyFile::create`] with explicit Argon2id parameters (ignored for a platform key).
    ///
    /// # Errors
    /// As [`KeyFile::create`], and [`KeyFileError::UnsafeParameters`] for parameters out
    /// of range.
    pub fn create_with_params(
        source: &KeySource,
        params: Argon2Params,
    ) -> Result<(Self, StoreKey), KeyFileError> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        getrandom::fill(secret.as_mut_slice()).map_err(|_| KeyFileError::Randomness)?;
        let file = Self::wrap_secret_with_params(&secret, source, params)?;
        Ok((file, StoreKey::from_bytes(*secret)))
    }

    /// Unwraps the store key.
    ///
    /// # Errors
    /// [`KeyFileError::WrongPassphrase`], [`KeyFileError::WrongPlatformKey`],
    /// [`KeyFileError::SourceMismatch`], [`KeyFileError::EmptyPassphrase`] or
    /// [`KeyFileError::Crypto`].
    pub fn unlock(&self, source: &KeySource) -> Result<StoreKey, KeyFileError> {
        let secret = self.unwrap_secret(source)?;
        Ok(StoreKey::from_bytes(*secret))
    }

    /// Wraps any 32-byte secret (e.g. the school's root signing seed) under `source`, with
    /// [`Argon2Params::DEFAULT`] for a passphrase.
    ///
    /// # Errors
    /// As [`KeyFile::create`].
    pub fn wrap_secret(
        secret: &[u8; SECRET_LEN],
        source: &KeySource,
    ) -> Result<Self, KeyFileError> {
        Self::wrap_secret_with_params(secret, source, Argon2Params::DEFAULT)
    }

    /// [`KeyFile::wrap_secret`] with explicit Argon2id parameters (ignored for a platform
    /// key).
    ///
    /// # Errors
    /// As [`KeyFile::create_with_params`].
    pub fn wrap_secret_with_params(
        secret: &[u8; SECRET_LEN],
        source: &KeySource,
        params: Argon2Params,
    ) -> Result<Self, KeyFileError> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut salt).map_err(|_| KeyFileError::Randomness)?;
        getrandom::fill(&mut nonce).map_err(|_| KeyFileError::Randomness)?;
        let params = match source.kind() {
            SourceKind::Passphrase => {
                params.check()?;
                params
            }
            SourceKind::Platform => Argon2Params::NONE,
        };
        let mut file = Self {
            kind: source.kind(),
            params,
            salt,
            nonce,
            wrapped: [0u8; WRAPPED_LEN],
        };
        let kek = file.kek(source)?;
        let mut buffer = Zeroizing::new(*secret);
        let tag = aead(&kek)
            .encrypt_inout_detached(
                <&XNonce>::from(&file.nonce),
                &file.header(),
                buffer.as_mut_slice().into(),
            )
            // 32 bytes is far below the AEAD's length limit: never reached.
            .map_err(|_| KeyFileError::Crypto {
                reason: "XChaCha20-Poly1305 refused a 32-byte secret".to_owned(),
            })?;
        let (ciphertext, tag_out) = file.wrapped.split_at_mut(SECRET_LEN);
        ciphertext.copy_from_slice(buffer.as_slice());
        tag_out.copy_from_slice(&tag);
        Ok(file)
    }

    /// Unwraps the 32-byte secret.
    ///
    /// # Errors
    /// As [`KeyFile::unlock`].
    pub fn unwrap_secret(
        &self,
        source: &KeySource,
    ) -> Result<Zeroizing<[u8; SECRET_LEN]>, KeyFileError> {
        let kek = self.kek(source)?;
        let (ciphertext, tag) = self.wrapped.split_at(SECRET_LEN);
        let wrong = match self.kind {
            SourceKind::Passphrase => KeyFileError::WrongPassphrase,
            SourceKind::Platform => KeyFileError::WrongPlatformKey,
        };
        let tag = <&Tag>::try_from(tag).map_err(|_| wrong.clone())?;
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret.copy_from_slice(ciphertext);
        aead(&kek)
            .decrypt_inout_detached(
                <&XNonce>::from(&self.nonce),
                &self.header(),
                secret.as_mut_slice().into(),
                tag,
            )
            .map_err(|_| wrong)?;
        Ok(secret)
    }

    /// The same secret wrapped under a new source (a passphrase change, or moving between
    /// passphrase and platform key), with a fresh salt and nonce and
    /// [`Argon2Params::DEFAULT`] for a passphrase.
    ///
    /// # Errors
    /// Unlocking with `old` fails as in [`KeyFile::unlock`]; wrapping under `new` as in
    /// [`KeyFile::create`].
    pub fn rewrap(&self, old: &KeySource, new: &KeySource) -> Result<Self, KeyFileError> {
        self.rewrap_with_params(old, new, Argon2Params::DEFAULT)
    }

    /// [`KeyFile::rewrap`] with explicit Argon2id parameters for the new file.
    ///
    /// # Errors
    /// As [`KeyFile::rewrap`], and [`KeyFileError::UnsafeParameters`].
    pub fn rewrap_with_params(
        &self,
        old: &KeySource,
        new: &KeySource,
        params: Argon2Params,
    ) -> Result<Self, KeyFileError> {
        let secret = self.unwrap_secret(old)?;
        Self::wrap_secret_with_params(&secret, new, params)
    }

    /// Which kind of source unlocks this file.
    #[must_use]
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The file's Argon2id parameters (all zero for a platform key).
    #[must_use]
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// The file's bytes (see the module documentation for the layout).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; KEY_FILE_LEN] {
        let mut out = [0u8; KEY_FILE_LEN];
        let (header, rest) = out.split_at_mut(HEADER_LEN);
        header.copy_from_slice(&self.header());
        let (nonce, wrapped) = rest.split_at_mut(NONCE_LEN);
        nonce.copy_from_slice(&self.nonce);
        wrapped.copy_from_slice(&self.wrapped);
        out
    }

    /// Parses a key file. Never panics; checks the parameters before any work is done.
    ///
    /// # Errors
    /// [`KeyFileError::NotAKeyFile`], [`KeyFileError::UnknownVersion`],
    /// [`KeyFileError::UnknownKind`], [`KeyFileError::WrongLength`] or
    /// [`KeyFileError::UnsafeParameters`], checked in that order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyFileError> {
        let magic_len = bytes.len().min(MAGIC.len());
        if bytes.get(..magic_len) != MAGIC.get(..magic_len) {
            return Err(KeyFileError::NotAKeyFile);
        }
        let wrong_length = KeyFileError::WrongLength { len: bytes.len() };
        let rest = bytes.get(MAGIC.len()..).ok_or(wrong_length.clone())?;
        let (&version, rest) = rest.split_first().ok_or(wrong_length.clone())?;
        if version != KEY_FILE_VERSION {
            return Err(KeyFileError::UnknownVersion { version });
        }
        let (&kind, rest) = rest.split_first().ok_or(wrong_length.clone())?;
        let kind = SourceKind::from_byte(kind)?;
        if bytes.len() != KEY_FILE_LEN {
            return Err(wrong_length);
        }
        let (m, rest) = rest.split_first_chunk::<4>().ok_or(wrong_length.clone())?;
        let (t, rest) = rest.split_first_chunk::<4>().ok_or(wrong_length.clone())?;
        let (p, rest) = rest.split_first_chunk::<4>().ok_or(wrong_length.clone())?;
        let (salt, rest) = rest
            .split_first_chunk::<SALT_LEN>()
            .ok_or(wrong_length.clone())?;
        let (nonce, rest) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(wrong_length.clone())?;
        let wrapped = <&[u8; WRAPPED_LEN]>::try_from(rest).map_err(|_| wrong_length)?;
        let params = Argon2Params {
            m_cost_kib: u32::from_be_bytes(*m),
            t_cost: u32::from_be_bytes(*t),
            p_cost: u32::from_be_bytes(*p),
        };
        match kind {
            SourceKind::Passphrase => params.check()?,
            SourceKind::Platform if params == Argon2Params::NONE => {}
            SourceKind::Platform => return Err(params.unsafe_error()),
        }
        Ok(Self {
            kind,
            params,
            salt: *salt,
            nonce: *nonce,
            wrapped: *wrapped,
        })
    }

    /// Bytes 0..40 of the file: the AEAD's associated data.
    fn header(&self) -> [u8; HEADER_LEN] {
        let mut header = [0u8; HEADER_LEN];
        let fields: [&[u8]; 7] = [
            MAGIC,
            &[KEY_FILE_VERSION],
            &[self.kind.byte()],
            &self.params.m_cost_kib.to_be_bytes(),
            &self.params.t_cost.to_be_bytes(),
            &self.params.p_cost.to_be_bytes(),
            &self.salt,
        ];
        let mut rest = header.as_mut_slice();
        for field in fields {
            let (head, tail) = rest.split_at_mut(field.len());
            head.copy_from_slice(field);
            rest = tail;
        }
        header
    }

    /// The key-encryption key for `source` under this file's salt and parameters.
    fn kek(&self, source: &KeySource) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
        if source.kind() != self.kind {
            return Err(KeyFileError::SourceMismatch {
                file: self.kind,
                given: source.kind(),
            });
        }
        let mut kek = Zeroizing::new([0u8; 32]);
        match source {
            KeySource::Passphrase(passphrase) => {
                if passphrase.is_empty() {
                    return Err(KeyFileError::EmptyPassphrase);
                }
                self.params.check()?;
                let kdf_error = |error: argon2::Error| KeyFileError::Crypto {
                    reason: format!("Argon2id: {error}"),
                };
                let params = argon2::Params::new(
                    self.params.m_cost_kib,
                    self.params.t_cost,
                    self.params.p_cost,
                    Some(32),
                )
                .map_err(kdf_error)?;
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                    .hash_password_into(passphrase.as_bytes(), &self.salt, kek.as_mut_slice())
                    .map_err(kdf_error)?;
            }
            KeySource::Platform(platform) => {
                let hk = Hkdf::<Sha256>::new(Some(&self.salt), platform.as_slice());
                // 32 bytes of HKDF-SHA256 output never fails: never reached.
                hk.expand(LABEL_PLATFORM_KEK, kek.as_mut_slice())
                    .map_err(|_| KeyFileError::Crypto {
                        reason: "HKDF-SHA256 refused a 32-byte output".to_owned(),
                    })?;
            }
        }
        Ok(kek)
    }
}

fn aead(kek: &[u8; 32]) -> XChaCha20Poly1305 {
    let key: &Key = kek.into();
    XChaCha20Poly1305::new(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Cheap parameters so the tests stay fast; the default path is tested once.
    const CHEAP: Argon2Params = Argon2Params {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    fn pass(text: &str) -> KeySource {
        KeySource::Passphrase(Zeroizing::new(text.to_owned()))
    }

    fn platform(byte: u8) -> KeySource {
        KeySource::Platform(Zeroizing::new([byte; 32]))
    }

    #[test]
    fn passphrase_round_trip() {
        let source = pass("correct horse battery staple");
        let (file, key) = KeyFile::create_with_params(&source, CHEAP).unwrap();
        assert_eq!(file.kind(), SourceKind::Passphrase);
        assert_eq!(file.params(), CHEAP);
        let parsed = KeyFile::from_bytes(&file.to_bytes()).unwrap();
        assert_eq!(parsed, file);
        assert_eq!(parsed.unlock(&source).unwrap().as_bytes(), key.as_bytes());
    }

    #[test]
    fn platform_round_trip() {
        let source = platform(0x5A);
        let (file, key) = KeyFile::create(&source).unwrap();
        assert_eq!(file.kind(), SourceKind::Platform);
        let bytes = file.to_bytes();
        assert_eq!(&bytes[12..24], &[0u8; 12]);
        let parsed = KeyFile::from_bytes(&bytes).unwrap();
        assert_eq!(parsed.unlock(&source).unwrap().as_bytes(), key.as_bytes());
    }

    #[test]
    fn default_parameters_round_trip() {
        let source = pass("één wachtwoord 🔑");
        let (file, key) = KeyFile::create(&source).unwrap();
        assert_eq!(file.params(), Argon2Params::DEFAULT);
        let bytes = file.to_bytes();
        assert_eq!(&bytes[12..16], &(64u32 * 1024).to_be_bytes());
        assert_eq!(&bytes[16..20], &3u32.to_be_bytes());
        assert_eq!(&bytes[20..24], &1u32.to_be_bytes());
        let parsed = KeyFile::from_bytes(&bytes).unwrap();
        assert_eq!(parsed.unlock(&source).unwrap().as_bytes(), key.as_bytes());
    }

    #[test]
    fn layout_matches_the_documentation() {
        let (file, _) = KeyFile::create_with_params(&pass("x"), CHEAP).unwrap();
        let bytes = file.to_bytes();
        assert_eq!(bytes.len(), 112);
        assert_eq!(&bytes[..10], b"SATCHELKEY");
        assert_eq!(bytes[10], 1);
        assert_eq!(bytes[11], 1);
        assert_eq!(&bytes[12..16], &64u32.to_be_bytes());
        assert_eq!(&bytes[16..20], &1u32.to_be_bytes());
        assert_eq!(&bytes[20..24], &1u32.to_be_bytes());
        assert_eq!(&bytes[24..40], &file.salt);
        assert_eq!(&bytes[40..64], &file.nonce);
        assert_eq!(&bytes[64..], &file.wrapped);
        // Two files for the same source differ (salt, nonce, key).
        let (other, _) = KeyFile::create_with_params(&pass("x"), CHEAP).unwrap();
        assert_ne!(other.to_bytes()[24..], bytes[24..]);
    }

    #[test]
    fn wrong_passphrase_and_wrong_platform_key() {
        let (file, _) = KeyFile::create_with_params(&pass("right"), CHEAP).unwrap();
        let error = file.unlock(&pass("wrong")).unwrap_err();
        assert_eq!(error, KeyFileError::WrongPassphrase);
        assert!(error.to_string().starts_with("wrong passphrase"));
        assert_eq!(
            file.unlock(&pass("")).unwrap_err(),
            KeyFileError::EmptyPassphrase
        );
        assert_eq!(
            file.unlock(&platform(1)).unwrap_err(),
            KeyFileError::SourceMismatch {
                file: SourceKind::Passphrase,
                given: SourceKind::Platform
            }
        );

        let (file, _) = KeyFile::create(&platform(1)).unwrap();
        assert_eq!(
            file.unlock(&platform(2)).unwrap_err(),
            KeyFileError::WrongPlatformKey
        );
        let error = file.unlock(&pass("right")).unwrap_err();
        assert_eq!(
            error,
            KeyFileError::SourceMismatch {
                file: SourceKind::Platform,
                given: SourceKind::Passphrase
            }
        );
        assert_eq!(
            error.to_string(),
            "this key file is unlocked with a platform key, not with a passphrase"
        );
        assert_eq!(
            KeyFile::create(&pass("")).unwrap_err(),
            KeyFileError::EmptyPassphrase
        );
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        for source in [pass("p"), platform(3)] {
            let (file, _) = KeyFile::create_with_params(&source, CHEAP).unwrap();
            let bytes = file.to_bytes();
            for len in 0..KEY_FILE_LEN {
                let error = KeyFile::from_bytes(&bytes[..len]).unwrap_err();
                assert_eq!(error, KeyFileError::WrongLength { len }, "length {len}");
            }
            let mut longer = bytes.to_vec();
            longer.push(0);
            assert_eq!(
                KeyFile::from_bytes(&longer).unwrap_err(),
                KeyFileError::WrongLength { len: 113 }
            );
        }
        assert_eq!(
            KeyFile::from_bytes(b"SQLite format 3\0").unwrap_err(),
            KeyFileError::NotAKeyFile
        );
        assert_eq!(
            KeyFile::from_bytes(b"X").unwrap_err(),
            KeyFileError::NotAKeyFile
        );
    }

    #[test]
    fn bit_flips_are_typed_errors() {
        let source = pass("p");
        let (file, _) = KeyFile::create_with_params(&source, CHEAP).unwrap();
        let bytes = file.to_bytes();
        let outcome = |index: usize, bit: u8| {
            let mut bad = bytes;
            bad[index] ^= bit;
            KeyFile::from_bytes(&bad).and_then(|file| file.unlock(&source).map(|_| ()))
        };
        assert_eq!(outcome(0, 0x01), Err(KeyFileError::NotAKeyFile));
        assert_eq!(outcome(9, 0x20), Err(KeyFileError::NotAKeyFile));
        assert_eq!(
            outcome(10, 0x02),
            Err(KeyFileError::UnknownVersion { version: 3 })
        );
        assert_eq!(
            outcome(11, 0x04),
            Err(KeyFileError::UnknownKind { kind: 5 })
        );
        // Passphrase kind turned into platform kind: its parameters are not zero.
        assert!(matches!(
            outcome(11, 0x03),
            Err(KeyFileError::UnsafeParameters { .. })
        ));
        // m raised past 1 GiB, t past 10, p to 0: refused before any work.
        assert!(matches!(
            outcome(12, 0x80),
            Err(KeyFileError::UnsafeParameters { .. })
        ));
        assert!(matches!(
            outcome(19, 0x40),
            Err(KeyFileError::UnsafeParameters { .. })
        ));
        assert!(matches!(
            outcome(23, 0x01),
            Err(KeyFileError::UnsafeParameters { .. })
        ));
        // In-range parameter changes, salt, nonce, ciphertext and tag: authentication
        // fails.
        for index in [15, 19, 24, 39, 40, 63, 64, 95, 96, 111] {
            let bit = if index == 19 { 0x02 } else { 0x01 };
            assert_eq!(
                outcome(index, bit),
                Err(KeyFileError::WrongPassphrase),
                "byte {index}"
            );
        }

        let source = platform(9);
        let (file, _) = KeyFile::create(&source).unwrap();
        let bytes = file.to_bytes();
        for index in [24, 50, 70, 111] {
            let mut bad = bytes;
            bad[index] ^= 0x10;
            let error = KeyFile::from_bytes(&bad)
                .unwrap()
                .unlock(&source)
                .unwrap_err();
            assert_eq!(error, KeyFileError::WrongPlatformKey);
        }
        let mut bad = bytes;
        bad[13] = 1;
        assert!(matches!(
            KeyFile::from_bytes(&bad),
            Err(KeyFileError::UnsafeParameters { .. })
        ));
    }

    #[test]
    fn absurd_parameters_are_refused() {
        let (file, _) = KeyFile::create_with_params(&pass("p"), CHEAP).unwrap();
        let with = |m: u32, t: u32, p: u32| {
            let mut bytes = file.to_bytes();
            bytes[12..16].copy_from_slice(&m.to_be_bytes());
            bytes[16..20].copy_from_slice(&t.to_be_bytes());
            bytes[20..24].copy_from_slice(&p.to_be_bytes());
            KeyFile::from_bytes(&bytes).map(|_| ())
        };
        let refused = |m_cost_kib, t_cost, p_cost| {
            Err(KeyFileError::UnsafeParameters {
                m_cost_kib,
                t_cost,
                p_cost,
            })
        };
        assert_eq!(with(u32::MAX, 3, 1), refused(u32::MAX, 3, 1));
        assert_eq!(
            with(MAX_M_COST_KIB + 1, 3, 1),
            refused(MAX_M_COST_KIB + 1, 3, 1)
        );
        assert_eq!(with(65_536, 101, 1), refused(65_536, 101, 1));
        assert_eq!(with(65_536, u32::MAX, 1), refused(65_536, u32::MAX, 1));
        assert_eq!(with(65_536, 0, 1), refused(65_536, 0, 1));
        assert_eq!(with(65_536, 3, 0), refused(65_536, 3, 0));
        assert_eq!(with(65_536, 3, u32::MAX), refused(65_536, 3, u32::MAX));
        assert_eq!(with(7, 1, 1), refused(7, 1, 1));
        assert_eq!(with(MAX_M_COST_KIB, MAX_T_COST, MAX_P_COST), Ok(()));
        assert_eq!(with(8, 1, 1), Ok(()));
        let error = KeyFile::create_with_params(
            &pass("p"),
            Argon2Params {
                m_cost_kib: 4 * 1024 * 1024,
                t_cost: 3,
                p_cost: 1,
            },
        )
        .unwrap_err();
        assert!(matches!(error, KeyFileError::UnsafeParameters { .. }));
        assert!(error.to_string().contains("refuses"));
        assert_eq!(Argon2Params::DEFAULT.check(), Ok(()));
        assert_eq!(Argon2Params::OWASP.check(), Ok(()));
    }

    #[test]
    fn rewrap_keeps_the_data_key() {
        let old = pass("old passphrase");
        let new = pass("new passphrase");
        let (file, key) = KeyFile::create_with_params(&old, CHEAP).unwrap();
        let changed = file.rewrap_with_params(&old, &new, CHEAP).unwrap();
        assert_eq!(changed.unlock(&new).unwrap().as_bytes(), key.as_bytes());
        assert_eq!(
            changed.unlock(&old).unwrap_err(),
            KeyFileError::WrongPassphrase
        );
        assert_ne!(changed.salt, file.salt);
        // A wrong old passphrase changes nothing.
        assert_eq!(
            file.rewrap_with_params(&new, &old, CHEAP).unwrap_err(),
            KeyFileError::WrongPassphrase
        );
        // Passphrase to platform key and back.
        let device = platform(7);
        let moved = changed.rewrap(&new, &device).unwrap();
        assert_eq!(moved.kind(), SourceKind::Platform);
        assert_eq!(moved.unlock(&device).unwrap().as_bytes(), key.as_bytes());
        let back = moved.rewrap_with_params(&device, &old, CHEAP).unwrap();
        assert_eq!(back.unlock(&old).unwrap().as_bytes(), key.as_bytes());
    }

    #[test]
    fn any_secret_can_be_wrapped() {
        let root_seed = [0x77u8; SECRET_LEN];
        let source = pass("school admin");
        let file = KeyFile::wrap_secret_with_params(&root_seed, &source, CHEAP).unwrap();
        let parsed = KeyFile::from_bytes(&file.to_bytes()).unwrap();
        assert_eq!(*parsed.unwrap_secret(&source).unwrap(), root_seed);
        assert_eq!(
            parsed.unwrap_secret(&pass("guess")).unwrap_err(),
            KeyFileError::WrongPassphrase
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let source = pass("hunter2");
        assert_eq!(format!("{source:?}"), "Passphrase(..)");
        assert_eq!(format!("{:?}", platform(1)), "Platform(..)");
        let (file, _) = KeyFile::create_with_params(&source, CHEAP).unwrap();
        let shown = format!("{file:?}");
        assert!(shown.starts_with("KeyFile { kind: Passphrase"));
        assert!(!shown.contains("wrapped"));
    }
}
