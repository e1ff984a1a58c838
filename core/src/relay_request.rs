//! Signed requests to the relay: the byte string every `Satchel-Auth` signature covers,
//! and a plain Ed25519 key for the relay objects that are not queues (directory entries,
//! one-time prekey uploads).
//!
//! ```text
//! signed = "Satchel relay request v1\n" || METHOD || "\n" || PATH_AND_QUERY || "\n"
//!          || TIMESTAMP (decimal Unix seconds) || "\n" || SHA-256(body)
//! header = "Satchel-Auth: " TIMESTAMP "." base64url-no-pad(signature)
//! ```
//!
//! Queue requests are signed with [`crate::QueueKeys::prove`] over `signed` (which adds
//! its own label and the receive id); school requests with
//! [`crate::school::SchoolRoot::sign_request`]; invite redemption with
//! [`crate::school::JoinKeys::sign_request`]; everything else with
//! [`RequestKey::sign_request`]. Keys that also sign protocol objects only sign requests
//! through these functions, so the request label always separates the two.

use rand_core::CryptoRng;

use crate::crypto::dh::Hex;
use crate::crypto::kdf::sha256;
use crate::crypto::secret::Secret32;
use crate::crypto::signing::SigningKeyPair;

const LABEL_REQUEST: &[u8] = b"Satchel relay request v1\n";

/// The bytes a relay request's signature covers.
#[must_use]
pub fn request_message(method: &str, path_and_query: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    let mut message = Vec::with_capacity(
        LABEL_REQUEST.len() + method.len() + path_and_query.len() + timestamp.len() + 35,
    );
    message.extend_from_slice(LABEL_REQUEST);
    message.extend_from_slice(method.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(path_and_query.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(&sha256(&[body]));
    message
}

/// A plain Ed25519 key that signs relay requests (directory member key, prekey owner
/// key). Zeroized on drop; never printed.
#[derive(Clone)]
pub struct RequestKey(SigningKeyPair);

impl RequestKey {
    /// A fresh random key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(SigningKeyPair::generate(rng))
    }

    /// Restores a key from [`RequestKey::to_secret_bytes`].
    #[must_use]
    pub fn from_secret_bytes(bytes: [u8; 32]) -> Self {
        Self(SigningKeyPair::from_secret(&Secret32::new(bytes)))
    }

    /// The secret bytes, for the client's store.
    #[must_use]
    pub fn to_secret_bytes(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(*self.0.secret_bytes().as_bytes())
    }

    /// The public key the relay checks.
    #[must_use]
    pub fn public(&self) -> [u8; 32] {
        self.0.public()
    }

    /// Signs a relay request.
    #[must_use]
    pub fn sign_request(
        &self,
        method: &str,
        path_and_query: &str,
        timestamp: u64,
        body: &[u8],
    ) -> [u8; 64] {
        self.0
            .sign(&request_message(method, path_and_query, timestamp, body))
    }
}

impl std::fmt::Debug for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequestKey({:?})", Hex(&self.public()))
    }
}
