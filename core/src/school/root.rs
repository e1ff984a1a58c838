//! The school root key and the school id derived from it.

use rand_core::CryptoRng;

use crate::crypto::dh::Hex;
use crate::crypto::kdf::sha256;
use crate::crypto::secret::Secret32;
use crate::crypto::signing::{self, SigningKeyPair};
use crate::relay_request::RelayRequest;

const LABEL_SCHOOL_ID: &[u8] = b"Satchel school id v1";

/// A school's id: `SHA-256("Satchel school id v1" || root key)[..16]`. Also the school
/// fingerprint that invite codes carry, so a joiner can check the root it is given.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchoolId([u8; 16]);

impl SchoolId {
    /// The id of the school with this root key.
    #[must_use]
    pub fn of(root_key: &[u8; 32]) -> Self {
        let digest = sha256(&[LABEL_SCHOOL_ID, root_key]);
        let mut id = [0u8; 16];
        id.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
        Self(id)
    }

    /// Wraps 16 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Parses exactly 16 bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Lowercase hex, as used in relay paths.
    #[must_use]
    pub fn to_hex(&self) -> String {
        format!("{:?}", Hex(&self.0))
    }
}

impl std::fmt::Debug for SchoolId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SchoolId({:?})", Hex(&self.0))
    }
}

impl std::fmt::Display for SchoolId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Hex(&self.0))
    }
}

/// A school's public root key, as pinned by members.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SchoolKey([u8; 32]);

impl SchoolKey {
    /// Wraps the 32 public-key bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The school this key is the root of.
    #[must_use]
    pub fn school_id(&self) -> SchoolId {
        SchoolId::of(&self.0)
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        signing::verify(&self.0, message, signature).is_ok()
    }
}

impl std::fmt::Debug for SchoolKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SchoolKey({:?})", Hex(&self.0))
    }
}

/// The school's root signing key. Keep it on the admin's device only; it signs grants
/// and revocation lists. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct SchoolRoot {
    key: SigningKeyPair,
}

impl SchoolRoot {
    /// A new random root.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            key: SigningKeyPair::generate(rng),
        }
    }

    /// Restores a root from its 32 secret bytes ([`SchoolRoot::to_secret_bytes`]).
    #[must_use]
    pub fn from_secret_bytes(bytes: [u8; 32]) -> Self {
        Self {
            key: SigningKeyPair::from_secret(&Secret32::new(bytes)),
        }
    }

    /// The secret bytes, for the admin's encrypted storage.
    #[must_use]
    pub fn to_secret_bytes(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(*self.key.secret_bytes().as_bytes())
    }

    /// The public root key.
    #[must_use]
    pub fn public(&self) -> SchoolKey {
        SchoolKey(self.key.public())
    }

    /// The school's id.
    #[must_use]
    pub fn school_id(&self) -> SchoolId {
        self.public().school_id()
    }

    /// Signs grants and revocation lists (each with its own label).
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message)
    }

    /// Signs a relay request made as the school (see [`crate::relay_request`]); the
    /// request label keeps these signatures apart from grants and lists.
    #[must_use]
    pub fn sign_request(&self, request: &RelayRequest<'_>) -> [u8; 64] {
        self.key.sign(&request.message())
    }
}

impl std::fmt::Debug for SchoolRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchoolRoot")
            .field("school_id", &self.school_id())
            .finish_non_exhaustive()
    }
}
