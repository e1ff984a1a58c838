//! One-way queues: the addresses envelopes are deposited to and fetched from.
//!
//! A queue is owned by its receiver. Its *send id* is the permission to deposit and is
//! known only to the peer (or, for a contact mailbox, to the school directory's
//! members). Its *receive id* is derived from the queue's Ed25519 authentication key,
//! and fetching requires a signature by that key, so only the owner can read or delete.
//! The relay therefore sees two unrelated random-looking ids per queue and nothing that
//! ties them to an account, a name, or another queue.

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use crate::crypto::dh::Hex;
use crate::crypto::kdf::sha256;
use crate::crypto::secret::Secret32;
use crate::crypto::signing::{self, SigningKeyPair};

/// Length of a send id or receive id.
pub const QUEUE_ID_LEN: usize = 16;

const LABEL_RECEIVE_ID: &[u8] = b"Satchel queue receive id v1";
const LABEL_FETCH_PROOF: &[u8] = b"Satchel queue fetch proof v1";

/// The id under which envelopes are deposited on a queue. Knowing it is the permission
/// to send.
#[derive(Clone, Copy, Eq)]
pub struct SendId([u8; QUEUE_ID_LEN]);

/// The id under which the owner fetches a queue (derived from the queue's key).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiveId([u8; QUEUE_ID_LEN]);

impl SendId {
    /// Wraps 16 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; QUEUE_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses exactly 16 bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; QUEUE_ID_LEN] {
        &self.0
    }

    pub(crate) fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; QUEUE_ID_LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }
}

/// Send ids compare in constant time: they are capabilities.
impl PartialEq for SendId {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::hash::Hash for SendId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl std::fmt::Debug for SendId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SendId({:?})", Hex(&self.0))
    }
}

impl ReceiveId {
    /// Wraps 16 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; QUEUE_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The receive id that belongs to a queue authentication key.
    #[must_use]
    pub fn for_key(auth_key: &[u8; 32]) -> Self {
        let digest = sha256(&[LABEL_RECEIVE_ID, auth_key]);
        let mut id = [0u8; QUEUE_ID_LEN];
        id.copy_from_slice(digest.get(..QUEUE_ID_LEN).unwrap_or(&[0u8; QUEUE_ID_LEN]));
        Self(id)
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; QUEUE_ID_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for ReceiveId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiveId({:?})", Hex(&self.0))
    }
}

/// The owner's side of a queue: its send id (to hand to the sender) and the secret
/// authentication key that proves ownership to the relay.
#[derive(Clone)]
pub struct QueueKeys {
    send_id: SendId,
    auth: SigningKeyPair,
}

impl QueueKeys {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::with_send_id(SendId::random(rng), rng)
    }

    pub(crate) fn with_send_id<R: CryptoRng + ?Sized>(send_id: SendId, rng: &mut R) -> Self {
        Self {
            send_id,
            auth: SigningKeyPair::generate(rng),
        }
    }

    pub(crate) fn from_parts(send_id: SendId, auth_secret: &Secret32) -> Self {
        Self {
            send_id,
            auth: SigningKeyPair::from_secret(auth_secret),
        }
    }

    pub(crate) fn auth_secret(&self) -> Secret32 {
        self.auth.secret_bytes()
    }

    /// The id senders deposit to.
    #[must_use]
    pub fn send_id(&self) -> SendId {
        self.send_id
    }

    /// The id the owner fetches with.
    #[must_use]
    pub fn receive_id(&self) -> ReceiveId {
        ReceiveId::for_key(&self.auth.public())
    }

    /// The public authentication key the relay stores when the queue is created.
    #[must_use]
    pub fn auth_key(&self) -> [u8; 32] {
        self.auth.public()
    }

    /// Signs a relay-chosen challenge, proving possession of the queue key.
    #[must_use]
    pub fn prove(&self, challenge: &[u8]) -> [u8; 64] {
        self.auth
            .sign(&fetch_proof_message(&self.receive_id(), challenge))
    }
}

impl std::fmt::Debug for QueueKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueKeys")
            .field("send_id", &self.send_id)
            .field("receive_id", &self.receive_id())
            .finish_non_exhaustive()
    }
}

fn fetch_proof_message(receive_id: &ReceiveId, challenge: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(LABEL_FETCH_PROOF.len() + QUEUE_ID_LEN + challenge.len());
    message.extend_from_slice(LABEL_FETCH_PROOF);
    message.extend_from_slice(receive_id.as_bytes());
    message.extend_from_slice(challenge);
    message
}

/// Relay side: checks that `proof` was made by the key whose receive id is `receive_id`.
///
/// Returns `false` for a key that does not match the id or a signature that does not
/// verify.
#[must_use]
pub fn verify_fetch_proof(
    receive_id: &ReceiveId,
    auth_key: &[u8; 32],
    challenge: &[u8],
    proof: &[u8],
) -> bool {
    if ReceiveId::for_key(auth_key) != *receive_id {
        return false;
    }
    signing::verify(auth_key, &fetch_proof_message(receive_id, challenge), proof).is_ok()
}
