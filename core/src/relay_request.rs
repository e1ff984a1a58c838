//! Signed requests to the relay: the byte string every `Satchel-Auth` signature covers,
//! and a plain Ed25519 key for the relay objects that are not queues (directory entries,
//! one-time prekey uploads).
//!
//! ```text
//! signed = "Satchel relay request v2\n" || METHOD || "\n" || PATH_AND_QUERY || "\n"
//!          || TIMESTAMP (decimal Unix seconds) || "\n" || NONCE (16 bytes)
//!          || SHA-256(body)
//! header = "Satchel-Auth: " TIMESTAMP "." base64url-no-pad(NONCE) "." base64url-no-pad(signature)
//! ```
//!
//! The nonce is 16 random bytes per request, so that two identical requests sign
//! differently and the relay can refuse any signed request it has seen before (its
//! replay cache keeps what it accepted for as long as the timestamp is fresh).
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

const LABEL_REQUEST: &[u8] = b"Satchel relay request v2\n";

/// The length of a request nonce.
pub const NONCE_LEN: usize = 16;

/// One relay request as it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayRequest<'a> {
    /// The HTTP method, e.g. `"POST"`.
    pub method: &'a str,
    /// The path with its query string, exactly as sent.
    pub path_and_query: &'a str,
    /// Unix seconds; the relay accepts a few minutes either way.
    pub timestamp: u64,
    /// Fresh random bytes for every request ([`RelayRequest::new`] draws them).
    pub nonce: [u8; NONCE_LEN],
    /// The request body (empty for none).
    pub body: &'a [u8],
}

impl<'a> RelayRequest<'a> {
    /// A request with a fresh random nonce.
    pub fn new<R: CryptoRng + ?Sized>(
        method: &'a str,
        path_and_query: &'a str,
        timestamp: u64,
        body: &'a [u8],
        rng: &mut R,
    ) -> Self {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        Self {
            method,
            path_and_query,
            timestamp,
            nonce,
            body,
        }
    }

    /// The bytes the request's signature covers.
    #[must_use]
    pub fn message(&self) -> Vec<u8> {
        let timestamp = self.timestamp.to_string();
        let mut message = Vec::with_capacity(
            LABEL_REQUEST.len()
                + self.method.len()
                + self.path_and_query.len()
                + timestamp.len()
                + 3
                + NONCE_LEN
                + 32,
        );
        message.extend_from_slice(LABEL_REQUEST);
        message.extend_from_slice(self.method.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(self.path_and_query.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(timestamp.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(&self.nonce);
        message.extend_from_slice(&sha256(&[self.body]));
        message
    }
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
    pub fn sign_request(&self, request: &RelayRequest<'_>) -> [u8; 64] {
        self.0.sign(&request.message())
    }
}

impl std::fmt::Debug for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequestKey({:?})", Hex(&self.public()))
    }
}
