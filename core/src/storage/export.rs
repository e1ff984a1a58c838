//! State exported encrypted under a caller's 32-byte key (backups, moving devices).
//!
//! ```text
//! export = "SCX" || version (0x01) || nonce (12) || ChaCha20-Poly1305(key, nonce,
//!          ExportedState protobuf, aad = "SCX" || version)
//! ```

use prost::Message;
use rand_core::CryptoRng;
use satchel_proto::v1 as pb;
use zeroize::Zeroizing;

use crate::account::Account;
use crate::crypto::aead::{self, NONCE_LEN};
use crate::crypto::secret::Secret32;
use crate::error::StateError;
use crate::session::Session;

const MAGIC: &[u8; 3] = b"SCX";
/// The export format version.
pub const EXPORT_VERSION: u8 = 1;
const HEADER_LEN: usize = 4;

/// A 32-byte key protecting exported state. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct ExportKey(Secret32);

impl ExportKey {
    /// Wraps key bytes (for example from the platform keystore).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Secret32::new(bytes))
    }

    /// A fresh random key.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut_slice());
        Self::from_bytes(*bytes)
    }
}

impl std::fmt::Debug for ExportKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExportKey(<redacted>)")
    }
}

fn seal<R: CryptoRng + ?Sized>(
    key: &ExportKey,
    state: pb::exported_state::State,
    rng: &mut R,
) -> Vec<u8> {
    let plaintext = Zeroizing::new(
        pb::ExportedState {
            version: u32::from(EXPORT_VERSION),
            state: Some(state),
        }
        .encode_to_vec(),
    );
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + aead::TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(EXPORT_VERSION);
    out.extend_from_slice(&nonce);
    let header = [MAGIC[0], MAGIC[1], MAGIC[2], EXPORT_VERSION];
    // State blobs are far below the AEAD's 256 GiB limit, so sealing cannot fail; an
    // empty export would fail to import loudly rather than silently.
    if aead::seal_into(&key.0, &nonce, &header, &plaintext, &mut out).is_err() {
        out.clear();
    }
    out
}

fn open(key: &ExportKey, bytes: &[u8]) -> Result<pb::exported_state::State, StateError> {
    let (header, rest) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or(StateError::Malformed {
            field: "export header",
        })?;
    match header {
        [b'S', b'C', b'X', EXPORT_VERSION] => {}
        [b'S', b'C', b'X', version] => {
            return Err(StateError::UnsupportedVersion {
                found: u32::from(*version),
                supported: u32::from(EXPORT_VERSION),
            });
        }
        _ => {
            return Err(StateError::Malformed {
                field: "export header",
            });
        }
    }
    let (nonce, sealed) = rest
        .split_at_checked(NONCE_LEN)
        .ok_or(StateError::Malformed {
            field: "export nonce",
        })?;
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| StateError::Malformed {
        field: "export nonce",
    })?;
    let plaintext = Zeroizing::new(
        aead::open(&key.0, nonce, header, sealed).map_err(|_| StateError::DecryptionFailed)?,
    );
    let exported =
        pb::ExportedState::decode(plaintext.as_slice()).map_err(|_| StateError::Malformed {
            field: "export content",
        })?;
    if exported.version != u32::from(EXPORT_VERSION) {
        return Err(StateError::UnsupportedVersion {
            found: exported.version,
            supported: u32::from(EXPORT_VERSION),
        });
    }
    exported.state.ok_or(StateError::Malformed {
        field: "export content",
    })
}

/// Exports an account encrypted under `key`.
pub fn export_account<R: CryptoRng + ?Sized>(
    account: &Account,
    key: &ExportKey,
    rng: &mut R,
) -> Vec<u8> {
    seal(
        key,
        pb::exported_state::State::Account(account.to_proto()),
        rng,
    )
}

/// Imports an account exported by [`export_account`].
///
/// # Errors
/// [`StateError::DecryptionFailed`] for a wrong key or damaged export; other
/// [`StateError`]s for unknown versions or the wrong kind of state.
pub fn import_account(bytes: &[u8], key: &ExportKey) -> Result<Account, StateError> {
    match open(key, bytes)? {
        pb::exported_state::State::Account(state) => Account::from_proto(&state),
        pb::exported_state::State::Session(_) => Err(StateError::WrongKind {
            expected: "account",
            found: "session",
        }),
    }
}

/// Exports a session encrypted under `key`.
pub fn export_session<R: CryptoRng + ?Sized>(
    session: &Session,
    key: &ExportKey,
    rng: &mut R,
) -> Vec<u8> {
    seal(
        key,
        pb::exported_state::State::Session(session.to_proto()),
        rng,
    )
}

/// Imports a session exported by [`export_session`].
///
/// # Errors
/// As [`import_account`].
pub fn import_session(bytes: &[u8], key: &ExportKey) -> Result<Session, StateError> {
    match open(key, bytes)? {
        pb::exported_state::State::Session(state) => Session::from_proto(&state),
        pb::exported_state::State::Account(_) => Err(StateError::WrongKind {
            expected: "session",
            found: "account",
        }),
    }
}
