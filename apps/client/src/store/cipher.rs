//! Encryption at rest: every secret, message body and name in the store is sealed per
//! value under the store key.
//!
//! # Keys
//!
//! The 32-byte [`StoreKey`] comes from the platform (Android Keystore, iOS Keychain) or
//! from the key file (`keyfile.rs`). [`StoreCipher::new`] derives from it, with
//! HKDF-SHA256 (no salt: the store key is already uniformly random), three independent
//! values:
//!
//! | HKDF info | use |
//! |---|---|
//! | `"Satchel store value key v1"` | XChaCha20-Poly1305 key for [`StoreCipher::seal`] / [`StoreCipher::open`] |
//! | `"Satchel store index key v1"` | HMAC-SHA256 key for [`StoreCipher::index`] (blind indexes) |
//! | `"Satchel store key check v1"` | the [`StoreCipher::key_check`] value itself |
//!
//! # Sealed value format (version 1)
//!
//! ```text
//! offset  length  field
//! 0       1       version, 0x01
//! 1       24      nonce, random from the operating system
//! 25      n       XChaCha20 ciphertext of the n-byte plaintext
//! 25+n    16      Poly1305 tag
//! ```
//!
//! The associated data is the caller's `context`, which names the column and the row
//! (e.g. `b"messages.body"` followed by the row's identity), so a sealed value cannot be
//! moved to another column or row without failing to open. The overhead is
//! [`SEALED_OVERHEAD`] = 41 bytes per value. Random 192-bit nonces make a nonce
//! collision negligible for any number of values a store will ever hold.
//!
//! # Wrong key versus damage
//!
//! A single AEAD failure cannot tell a wrong key from a damaged value, so [`StoreCipher::open`]
//! reports [`CipherError::Damaged`]. The store keeps [`StoreCipher::key_check`] in its
//! metadata and calls [`StoreCipher::verify_key_check`] when it opens, which reports
//! [`CipherError::WrongKey`]; after that check, a failing value really is damaged (or was
//! moved).

use core::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of a [`StoreKey`].
pub const STORE_KEY_LEN: usize = 32;
/// The format version byte that starts every sealed value.
pub const SEALED_VERSION: u8 = 0x01;
/// Length of the XChaCha20-Poly1305 nonce in a sealed value.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag at the end of a sealed value.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed value adds to its plaintext: version, nonce and tag.
pub const SEALED_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// Length of a blind index and of the key-check value.
pub const INDEX_LEN: usize = 32;

/// HKDF info of the value-encryption key.
const LABEL_VALUE_KEY: &[u8] = b"Satchel store value key v1";
/// HKDF info of the blind-index key.
const LABEL_INDEX_KEY: &[u8] = b"Satchel store index key v1";
/// HKDF info of the key-check value.
const LABEL_KEY_CHECK: &[u8] = b"Satchel store key check v1";

type HmacSha256 = Hmac<Sha256>;

/// Why a value could not be sealed or opened, or a key not accepted.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CipherError {
    /// The key check stored in the database does not match this key.
    #[error(
        "the store key does not open this database: wrong passphrase or a different device's key"
    )]
    WrongKey,
    /// A value failed authentication: its bytes were changed, or it was moved to another
    /// row or column.
    #[error(
        "a stored value is damaged (it fails authentication: its bytes were changed, or it was \
         moved to another row or column); restore the database from a backup"
    )]
    Damaged,
    /// A value is too short to be a sealed value at all.
    #[error(
        "a stored value is damaged: it is {len} bytes long, shorter than the {SEALED_OVERHEAD} \
         bytes every sealed value has; restore the database from a backup"
    )]
    Truncated {
        /// The length found.
        len: usize,
    },
    /// A value starts with a format version this build does not know.
    #[error(
        "a stored value has format version {version}, which this version of Satchel does not \
         know: the database was written by a newer Satchel; update the app"
    )]
    UnknownVersion {
        /// The version byte found.
        version: u8,
    },
    /// A key was given with the wrong number of bytes.
    #[error("a store key is {STORE_KEY_LEN} bytes, but {len} bytes were given")]
    KeyLength {
        /// The length given.
        len: usize,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed; nothing was written")]
    Randomness,
    /// A plaintext is longer than XChaCha20-Poly1305 can encrypt under one nonce (256 GiB).
    #[error("a value of {len} bytes is too long to encrypt")]
    TooLong {
        /// The plaintext length.
        len: usize,
    },
}

/// The 32-byte key that protects the whole store.
///
/// Kept by the platform (Android Keystore, iOS Keychain) or wrapped in the key file.
/// Zeroed when dropped; its `Debug` shows no bytes.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct StoreKey([u8; STORE_KEY_LEN]);

impl StoreKey {
    /// A store key from its 32 bytes (as the platform keystore returns them).
    ///
    /// The caller should zero its own copy of `bytes` afterwards.
    #[must_use]
    pub fn from_bytes(bytes: [u8; STORE_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A store key from a byte slice, which must be exactly 32 bytes long.
    ///
    /// # Errors
    /// [`CipherError::KeyLength`] if `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CipherError> {
        let array = <[u8; STORE_KEY_LEN]>::try_from(bytes)
            .map_err(|_| CipherError::KeyLength { len: bytes.len() })?;
        Ok(Self(array))
    }

    /// A fresh random store key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`CipherError::Randomness`] if the operating system cannot provide randomness.
    pub fn generate() -> Result<Self, CipherError> {
        let mut key = Self([0u8; STORE_KEY_LEN]);
        getrandom::fill(&mut key.0).map_err(|_| CipherError::Randomness)?;
        Ok(key)
    }

    /// The key's bytes, for handing to the platform keystore or the key file.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; STORE_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// Seals and opens store values, and computes blind indexes, under keys derived from a
/// [`StoreKey`].
///
/// All keys are zeroed when the cipher is dropped.
pub struct StoreCipher {
    aead: XChaCha20Poly1305,
    index_key: Zeroizing<[u8; INDEX_LEN]>,
    key_check: [u8; INDEX_LEN],
    /// Benchmarks only: values are written in the clear (same sizes), to measure what
    /// encryption at rest costs. Not compiled into normal builds.
    #[cfg(feature = "bench-unencrypted")]
    unencrypted: bool,
}

impl fmt::Debug for StoreCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreCipher(..)")
    }
}

impl StoreCipher {
    /// Derives the value key, the index key and the key-check value from `key`.
    #[must_use]
    pub fn new(key: &StoreKey) -> Self {
        let hk = Hkdf::<Sha256>::new(None, key.as_bytes());
        let mut value_key = Zeroizing::new([0u8; 32]);
        let mut index_key = Zeroizing::new([0u8; INDEX_LEN]);
        let mut key_check = [0u8; INDEX_LEN];
        // HKDF-SHA256 can expand up to 255 * 32 bytes; 32 bytes never fails, and the
        // outputs stay zero (never reached) rather than panicking if it somehow did.
        let _ = hk.expand(LABEL_VALUE_KEY, value_key.as_mut_slice());
        let _ = hk.expand(LABEL_INDEX_KEY, index_key.as_mut_slice());
        let _ = hk.expand(LABEL_KEY_CHECK, &mut key_check);
        let aead_key: &Key = (&*value_key).into();
        Self {
            aead: XChaCha20Poly1305::new(aead_key),
            index_key,
            key_check,
            #[cfg(feature = "bench-unencrypted")]
            unencrypted: false,
        }
    }

    /// **Benchmarks only** (feature `bench-unencrypted`): a cipher that stores values in
    /// the clear, with the same layout and sizes, so a benchmark can measure what
    /// encryption at rest costs. Never use it for data.
    #[cfg(feature = "bench-unencrypted")]
    #[doc(hidden)]
    #[must_use]
    pub fn unencrypted_for_benchmarks(key: &StoreKey) -> Self {
        let mut cipher = Self::new(key);
        cipher.unencrypted = true;
        cipher
    }

    /// Encrypts `plaintext` bound to `context` (column and row identity) into
    /// `0x01 || nonce || ciphertext || tag`.
    ///
    /// # Errors
    /// [`CipherError::Randomness`] if the operating system cannot provide a nonce;
    /// [`CipherError::TooLong`] for a plaintext of 256 GiB or more.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CipherError::Randomness)?;
        self.seal_with_nonce(&nonce, context, plaintext)
    }

    fn seal_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CipherError> {
        let too_long = CipherError::TooLong {
            len: plaintext.len(),
        };
        #[cfg(feature = "bench-unencrypted")]
        if self.unencrypted {
            let mut out = Vec::with_capacity(plaintext.len() + SEALED_OVERHEAD);
            out.push(SEALED_VERSION);
            out.extend_from_slice(nonce);
            out.extend_from_slice(plaintext);
            out.extend_from_slice(&[0u8; TAG_LEN]);
            return Ok(out);
        }
        let capacity = plaintext
            .len()
            .checked_add(SEALED_OVERHEAD)
            .ok_or_else(|| too_long.clone())?;
        // The buffer briefly holds the plaintext; zero it if encryption fails.
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        out.push(SEALED_VERSION);
        out.extend_from_slice(nonce);
        out.extend_from_slice(plaintext);
        let body = out
            .get_mut(1 + NONCE_LEN..)
            .ok_or_else(|| too_long.clone())?;
        let tag = self
            .aead
            .encrypt_inout_detached(<&XNonce>::from(nonce), context, body.into())
            .map_err(|_| too_long)?;
        out.extend_from_slice(&tag);
        Ok(core::mem::take(&mut *out))
    }

    /// Decrypts a value sealed by [`StoreCipher::seal`] with the same `context`.
    ///
    /// The tag is verified before anything is released; on any error no plaintext is
    /// returned and the working buffer is zeroed.
    ///
    /// # Errors
    /// [`CipherError::Truncated`] for fewer than [`SEALED_OVERHEAD`] bytes,
    /// [`CipherError::UnknownVersion`] for a version byte other than 0x01, and
    /// [`CipherError::Damaged`] if authentication fails (changed bytes, another context,
    /// or another key: see the module documentation).
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let (&version, rest) = sealed
            .split_first()
            .ok_or(CipherError::Truncated { len: 0 })?;
        if version != SEALED_VERSION {
            return Err(CipherError::UnknownVersion { version });
        }
        if sealed.len() < SEALED_OVERHEAD {
            return Err(CipherError::Truncated { len: sealed.len() });
        }
        let (nonce, rest) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(CipherError::Truncated { len: sealed.len() })?;
        let split = rest
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CipherError::Truncated { len: sealed.len() })?;
        let (ciphertext, tag) = rest.split_at(split);
        #[cfg(feature = "bench-unencrypted")]
        if self.unencrypted {
            return Ok(Zeroizing::new(ciphertext.to_vec()));
        }
        let nonce = <&XNonce>::try_from(nonce).map_err(|_| CipherError::Damaged)?;
        let tag = <&Tag>::try_from(tag).map_err(|_| CipherError::Damaged)?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        self.aead
            .decrypt_inout_detached(nonce, context, buffer.as_mut_slice().into(), tag)
            .map_err(|_| CipherError::Damaged)?;
        Ok(buffer)
    }

    /// A blind index of `value` in `domain`: HMAC-SHA256 under the index key of
    /// `u64_be(len(domain)) || domain || value`.
    ///
    /// Deterministic for one store key, so a column can be looked up by equality
    /// (session id, peer account, inbound send id) without storing the raw value; a
    /// different `domain` (e.g. `b"sessions.id"`) gives unrelated indexes for the same
    /// value. Without the store key the index reveals nothing but equality.
    #[must_use]
    pub fn index(&self, domain: &[u8], value: &[u8]) -> [u8; INDEX_LEN] {
        let mut mac = self.index_mac();
        let domain_len = u64::try_from(domain.len()).unwrap_or(u64::MAX);
        mac.update(&domain_len.to_be_bytes());
        mac.update(domain);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// The key-check value: HKDF of the store key with its own label.
    ///
    /// The store saves it when it is created and compares it (with
    /// [`StoreCipher::verify_key_check`]) when it is opened, to tell a wrong key from
    /// damaged values. It reveals nothing about the key or the other derived keys.
    #[must_use]
    pub fn key_check(&self) -> [u8; INDEX_LEN] {
        self.key_check
    }

    /// Compares a stored key-check value with this cipher's, in constant time.
    ///
    /// # Errors
    /// [`CipherError::WrongKey`] if they differ (or `stored` has the wrong length).
    pub fn verify_key_check(&self, stored: &[u8]) -> Result<(), CipherError> {
        if bool::from(self.key_check.as_slice().ct_eq(stored)) {
            Ok(())
        } else {
            Err(CipherError::WrongKey)
        }
    }

    fn index_mac(&self) -> HmacSha256 {
        // HMAC zero-pads keys shorter than the hash block, so padding the 32-byte key to
        // the 64-byte block here gives the same MAC through the infallible constructor.
        let mut block = Zeroizing::new([0u8; 64]);
        let (head, _) = block.split_at_mut(INDEX_LEN);
        head.copy_from_slice(self.index_key.as_slice());
        <HmacSha256 as hmac::KeyInit>::new(&(*block).into())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> StoreCipher {
        StoreCipher::new(&StoreKey::from_bytes([byte; STORE_KEY_LEN]))
    }

    #[test]
    fn round_trip() {
        let c = cipher(7);
        for len in [0usize, 1, 15, 16, 17, 100, 2048, 70_000] {
            let plaintext: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let sealed = c.seal(b"messages.body\x00row 1", &plaintext).unwrap();
            assert_eq!(sealed.len(), len + SEALED_OVERHEAD);
            assert_eq!(sealed[0], SEALED_VERSION);
            let opened = c.open(b"messages.body\x00row 1", &sealed).unwrap();
            assert_eq!(opened.as_slice(), plaintext.as_slice());
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn known_answer_is_stable() {
        // Pins the format and the key derivation: a change here breaks every stored
        // database, so it must come with a version bump. The expected values were computed
        // independently (Python: hmac/hashlib HKDF, a hand-written HChaCha20 checked
        // against the XChaCha20 draft's test vector, and `cryptography`'s
        // ChaCha20Poly1305).
        let c = cipher(0x42);
        let sealed = c
            .seal_with_nonce(&[0x24; NONCE_LEN], b"ctx", b"Satchel")
            .unwrap();
        assert_eq!(
            hex(&sealed),
            "01242424242424242424242424242424242424242424242424\
             9b4afc61a507426ff201aba98859fefe4ccf3019307f9a"
        );
        assert_eq!(c.open(b"ctx", &sealed).unwrap().as_slice(), b"Satchel");
        assert_eq!(
            hex(&c.key_check()),
            "8ffa4280a1f23da231cf80961826f3f71c6d376425fac9f07992f6c8e724f884"
        );
        assert_eq!(
            hex(&c.index(b"sessions.id", b"session-1")),
            "589afe3ad0f08fb5b37fd5035c8cedc2ed97b6c9b7164e87de9c1d1410b0bdba"
        );
    }

    #[test]
    fn wrong_context_fails() {
        let c = cipher(1);
        let sealed = c.seal(b"messages.body\x00row 1", b"hello").unwrap();
        assert_eq!(
            c.open(b"messages.body\x00row 2", &sealed).unwrap_err(),
            CipherError::Damaged
        );
        assert_eq!(
            c.open(b"contacts.name\x00row 1", &sealed).unwrap_err(),
            CipherError::Damaged
        );
        assert_eq!(c.open(b"", &sealed).unwrap_err(), CipherError::Damaged);
    }

    #[test]
    fn wrong_key_fails_and_the_key_check_names_it() {
        let right = cipher(1);
        let wrong = cipher(2);
        let sealed = right.seal(b"ctx", b"secret").unwrap();
        // Per value, a wrong key is indistinguishable from damage...
        assert_eq!(
            wrong.open(b"ctx", &sealed).unwrap_err(),
            CipherError::Damaged
        );
        // ...so the store's key check is what reports it.
        let stored = right.key_check();
        assert_eq!(right.verify_key_check(&stored), Ok(()));
        let error = wrong.verify_key_check(&stored).unwrap_err();
        assert_eq!(error, CipherError::WrongKey);
        assert!(error.to_string().contains("wrong passphrase"));
        assert_eq!(
            right.verify_key_check(&stored[..31]).unwrap_err(),
            CipherError::WrongKey
        );
        assert_eq!(
            right.verify_key_check(&[]).unwrap_err(),
            CipherError::WrongKey
        );
    }

    #[test]
    fn every_tampered_byte_fails() {
        let c = cipher(3);
        let sealed = c.seal(b"ctx", b"a message body").unwrap();
        for i in 0..sealed.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = sealed.clone();
                bad[i] ^= bit;
                let error = c.open(b"ctx", &bad).unwrap_err();
                if i == 0 {
                    assert!(matches!(error, CipherError::UnknownVersion { .. }));
                } else {
                    assert_eq!(error, CipherError::Damaged);
                }
            }
        }
        // Appending a byte also fails.
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(c.open(b"ctx", &longer).unwrap_err(), CipherError::Damaged);
    }

    #[test]
    fn truncated_input_is_an_error_never_a_panic() {
        let c = cipher(4);
        let sealed = c.seal(b"ctx", b"").unwrap();
        assert_eq!(sealed.len(), SEALED_OVERHEAD);
        let long = c.seal(b"ctx", b"0123456789").unwrap();
        for len in 0..=SEALED_OVERHEAD {
            let error = c.open(b"ctx", &long[..len]).unwrap_err();
            if len < SEALED_OVERHEAD {
                assert_eq!(error, CipherError::Truncated { len }, "length {len}");
            } else {
                assert_eq!(error, CipherError::Damaged);
            }
            if len < SEALED_OVERHEAD {
                assert!(c.open(b"ctx", &sealed[..len]).is_err());
            }
        }
        assert!(c.open(b"ctx", &sealed).unwrap().is_empty());
    }

    #[test]
    fn unknown_version_is_named() {
        let c = cipher(5);
        let mut sealed = c.seal(b"ctx", b"x").unwrap();
        sealed[0] = 2;
        let error = c.open(b"ctx", &sealed).unwrap_err();
        assert_eq!(error, CipherError::UnknownVersion { version: 2 });
        assert!(error.to_string().contains("newer Satchel"));
        // Even a single unknown byte is reported as a version, not a panic.
        assert_eq!(
            c.open(b"ctx", &[9]).unwrap_err(),
            CipherError::UnknownVersion { version: 9 }
        );
    }

    #[test]
    fn two_seals_of_the_same_plaintext_differ() {
        let c = cipher(6);
        let a = c.seal(b"ctx", b"same").unwrap();
        let b = c.seal(b"ctx", b"same").unwrap();
        assert_ne!(a, b);
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
    }

    #[test]
    fn index_is_deterministic_per_key_and_domain() {
        let a = cipher(8);
        let b = cipher(9);
        let x = a.index(b"sessions.id", b"session-1");
        assert_eq!(x, cipher(8).index(b"sessions.id", b"session-1"));
        assert_ne!(x, b.index(b"sessions.id", b"session-1"));
        assert_ne!(x, a.index(b"sessions.id", b"session-2"));
        assert_ne!(x, a.index(b"contacts.account", b"session-1"));
        // The length prefix keeps (domain, value) splits apart.
        assert_ne!(a.index(b"ab", b"c"), a.index(b"a", b"bc"));
        // The index key, value key and key check are independent.
        assert_ne!(x, a.key_check());
    }

    #[test]
    fn keys_from_slices_and_debug_hide_bytes() {
        assert_eq!(
            StoreKey::from_slice(&[0u8; 31]).unwrap_err(),
            CipherError::KeyLength { len: 31 }
        );
        let key = StoreKey::from_slice(&[0xAB; 32]).unwrap();
        assert_eq!(key.as_bytes(), &[0xAB; 32]);
        assert_eq!(format!("{key:?}"), "StoreKey(..)");
        assert_eq!(format!("{:?}", StoreCipher::new(&key)), "StoreCipher(..)");
        let a = StoreKey::generate().unwrap();
        let b = StoreKey::generate().unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
    }
}
