//! Receiving and sending over a [`ProtocolStore`]: routes each envelope to the account
//! (first contact) or the right session, and saves state only after success.

use rand_core::CryptoRng;

use super::receive::{StoreReceiver, commit_received, open};
use super::traits::{ProtocolStore, StoreError};
use crate::envelope::Envelope;
use crate::error::{DecryptError, EncryptError, FirstContactError, HandshakeError};
use crate::identity::certificate::DeviceCertificate;
use crate::identity::ids::DeviceId;
use crate::prekeys::PrekeyBundle;
use crate::session::{Session, SessionId, preferred_session};

/// Receiving an envelope failed; nothing was saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No account is stored yet.
    #[error("no account: create or restore one first")]
    NoAccount,
    /// The envelope is for no queue or mailbox of this device.
    #[error("this envelope is for no conversation of this device")]
    UnknownQueue,
    /// A first contact failed.
    #[error(transparent)]
    FirstContact(#[from] FirstContactError),
    /// A message failed to decrypt.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
}

/// Sending failed; nothing was saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No account is stored yet.
    #[error("no account: create or restore one first")]
    NoAccount,
    /// No session with that device and no bundle to start one.
    #[error("no conversation with this device yet: fetch its prekey bundle to start one")]
    NoSession,
    /// Starting a session failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// Encryption failed.
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
}

/// A received message.
#[derive(Debug)]
pub struct Received {
    /// The session it arrived on.
    pub session: SessionId,
    /// The sender's device.
    pub sender: DeviceCertificate,
    /// The decrypted plaintext.
    pub plaintext: Vec<u8>,
    /// Whether this message started a new session.
    pub new_session: bool,
    /// For a first contact: the sender-certificate slot it carried (check it with
    /// [`crate::school::verify_member`] and keep it with the session); otherwise empty.
    pub sender_certificate: Vec<u8>,
}

/// Decrypts one envelope fetched from any of this device's queues or its mailbox, and
/// saves the changed state (session, and account for a new session): [`open`] over a
/// [`StoreReceiver`], then [`commit_received`].
///
/// A new session and the account are saved together through
/// [`ProtocolStore::save_new_session`] (one transaction in a durable store).
///
/// # Errors
/// [`ReceiveError`]; nothing is saved on error.
pub fn receive<S: ProtocolStore, R: CryptoRng + ?Sized>(
    store: &mut S,
    envelope: &Envelope,
    rng: &mut R,
) -> Result<Received, ReceiveError> {
    let mut receiver = StoreReceiver::new(store);
    let opened = open(&mut receiver, envelope, rng)?;
    commit_received(receiver, opened)
}

/// The session to send on with a peer device: among all sessions with it, the one
/// [`preferred_session`] picks (so simultaneous initiation converges).
///
/// # Errors
/// [`StoreError`] if the store fails.
pub fn active_session<S: ProtocolStore>(
    store: &S,
    device: &DeviceId,
) -> Result<Option<Session>, StoreError> {
    let ids = store.sessions_with(device)?;
    let Some(chosen) = ids.into_iter().reduce(preferred_session) else {
        return Ok(None);
    };
    store.load_session(&chosen)
}

/// Encrypts `plaintext` for `device`, starting a session from `bundle` if there is none,
/// and saves the session.
///
/// # Errors
/// [`SendError`]; nothing is saved on error.
pub fn send<S: ProtocolStore, R: CryptoRng + ?Sized>(
    store: &mut S,
    device: &DeviceId,
    bundle: Option<&PrekeyBundle>,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<(Session, Envelope), SendError> {
    let mut session = match active_session(store, device)? {
        Some(session) => session,
        None => {
            let bundle = bundle.ok_or(SendError::NoSession)?;
            let account = store.load_account()?.ok_or(SendError::NoAccount)?;
            Session::initiate(&account, bundle, rng)?
        }
    };
    let envelope = session.encrypt(plaintext, rng)?;
    store.save_session(&session)?;
    Ok((session, envelope))
}
