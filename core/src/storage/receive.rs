//! The one receive path: [`open`] routes an envelope and decrypts it against state held in
//! memory, writing nothing; the caller then commits what changed.
//!
//! Every receiver in Satchel goes through [`open`]: [`super::protocol::receive`] (over
//! any [`super::traits::ProtocolStore`], committing with [`commit_received`]) and the
//! client library's sync, which opens a whole page of envelopes against the sessions it
//! has loaded and commits the page in one transaction. Routing (mailbox or queue, a
//! repeated first contact or a new one), the order of checks and what may change on
//! failure are therefore written once.
//!
//! # Example
//! ```
//! use satchel_core::storage::memory::InMemoryStore;
//! use satchel_core::storage::protocol::{receive, send};
//! use satchel_core::storage::traits::AccountStore;
//! use satchel_core::{Account, os_rng};
//!
//! let mut rng = os_rng();
//! let mut alice = InMemoryStore::default();
//! let mut bob = InMemoryStore::default();
//! alice.save_account(&Account::new(&mut rng))?;
//! let bob_account = Account::new(&mut rng);
//! let bundle = bob_account.prekey_bundle();
//! bob.save_account(&bob_account)?;
//!
//! let bob_device = bundle.device().device_id();
//! let (_, envelope) = send(&mut alice, &bob_device, Some(&bundle), b"hello", &mut rng)?;
//! // `receive` is `open` followed by `commit_received`.
//! let received = receive(&mut bob, &envelope, &mut rng)?;
//! assert_eq!(received.plaintext, b"hello");
//! assert!(received.new_session);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand_core::CryptoRng;

use super::protocol::{ReceiveError, Received};
use super::traits::{ProtocolStore, StoreError};
use crate::account::{AcceptedHandshake, Account};
use crate::envelope::Envelope;
use crate::envelope::queue::SendId;
use crate::error::{DecryptError, FirstContactError};
use crate::session::{Session, SessionId};

/// The account and sessions [`open`] works on, held (or loaded on demand) by the caller.
///
/// [`open`] changes a session in place only when a message on it decrypts, and never
/// changes the account: a new session comes back with what to record in the account
/// ([`Opened::New`]). Loading may fail (a database read); that is `Self::Error`.
pub trait ReceiveState {
    /// A failure to load state.
    type Error;

    /// This device's mailbox send id (first contacts arrive there), if enrolled.
    ///
    /// # Errors
    /// If the state cannot be loaded.
    fn mailbox(&mut self) -> Result<Option<SendId>, Self::Error>;

    /// This device's account, if one exists.
    ///
    /// # Errors
    /// If the state cannot be loaded.
    fn account(&mut self) -> Result<Option<&Account>, Self::Error>;

    /// The session with this id.
    ///
    /// # Errors
    /// If the state cannot be loaded.
    fn session(&mut self, id: &SessionId) -> Result<Option<&mut Session>, Self::Error>;

    /// The session whose inbound queue has this send id.
    ///
    /// # Errors
    /// If the state cannot be loaded.
    fn session_for_queue(&mut self, send_id: &SendId) -> Result<Option<&mut Session>, Self::Error>;
}

/// An envelope that opened. Nothing is written yet: commit it.
#[derive(Debug)]
#[must_use = "nothing is saved until the caller commits it"]
pub enum Opened {
    /// A message on a session this device has. That session, in the caller's state,
    /// changed: save it.
    Existing {
        /// The session it arrived on.
        session: SessionId,
        /// The decrypted plaintext.
        plaintext: Vec<u8>,
        /// For a repeated first contact, the sender-certificate slot it carried; for a
        /// queue message, `None`.
        sender_certificate: Option<Vec<u8>>,
    },
    /// A first contact that starts a session. To keep it, record `handshake` in the
    /// account ([`Account::commit_accepted`]) and save the account and the session
    /// together; or drop both.
    New {
        /// The new session.
        session: Box<Session>,
        /// What the account must record (one-time prekey used, handshake seen).
        handshake: AcceptedHandshake,
        /// The decrypted plaintext of the first message.
        plaintext: Vec<u8>,
        /// The sender-certificate slot the first contact carried (check it with
        /// [`crate::school::verify_member`] and keep it with the session).
        sender_certificate: Vec<u8>,
    },
}

/// Opening an envelope failed; the state is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError<E> {
    /// Loading state failed.
    #[error("loading state failed")]
    State(#[source] E),
    /// No account is stored yet.
    #[error("no account: create or restore one first")]
    NoAccount,
    /// The envelope is for no queue or mailbox of this device.
    #[error("this envelope is for no conversation of this device")]
    UnknownQueue,
    /// A first contact failed.
    #[error(transparent)]
    FirstContact(#[from] FirstContactError),
    /// A message failed to decrypt (a duplicate is [`DecryptError::Duplicate`]).
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
}

/// Routes `envelope` to the mailbox (a first contact: a repeat of one this device
/// accepted goes to its session, a new one makes a session) or to the session owning its
/// queue, and decrypts it. Writes nothing; see [`Opened`] for what to commit.
///
/// # Errors
/// [`OpenError`]; the state is unchanged on error.
pub fn open<S: ReceiveState + ?Sized, R: CryptoRng + ?Sized>(
    state: &mut S,
    envelope: &Envelope,
    rng: &mut R,
) -> Result<Opened, OpenError<S::Error>> {
    let send_id = envelope.send_id();
    let mailbox = state
        .mailbox()
        .map_err(OpenError::State)?
        .ok_or(OpenError::NoAccount)?;
    if send_id != mailbox {
        let session = state
            .session_for_queue(&send_id)
            .map_err(OpenError::State)?
            .ok_or(OpenError::UnknownQueue)?;
        let plaintext = session.decrypt(envelope)?;
        return Ok(Opened::Existing {
            session: session.id(),
            plaintext,
            sender_certificate: None,
        });
    }
    let contact = state
        .account()
        .map_err(OpenError::State)?
        .ok_or(OpenError::NoAccount)?
        .open_first_contact(envelope)?;
    let sender_certificate = contact.sender_certificate().to_vec();
    if let Some(session) = state
        .session(&contact.session_id())
        .map_err(OpenError::State)?
    {
        // A repeat of a handshake this device accepted: the same session.
        let plaintext = session.decrypt_first_contact(&contact)?;
        return Ok(Opened::Existing {
            session: session.id(),
            plaintext,
            sender_certificate: Some(sender_certificate),
        });
    }
    let account = state
        .account()
        .map_err(OpenError::State)?
        .ok_or(OpenError::NoAccount)?;
    let (inbound, handshake) = account.accept_uncommitted(&contact, rng)?;
    Ok(Opened::New {
        session: Box::new(inbound.session),
        handshake,
        plaintext: inbound.plaintext,
        sender_certificate,
    })
}

/// A [`ReceiveState`] that loads from a [`ProtocolStore`] on demand (the account, and
/// the one session an envelope touches). Use it with [`open`], then
/// [`commit_received`].
#[derive(Debug)]
pub struct StoreReceiver<'s, S: ?Sized> {
    store: &'s mut S,
    account: Option<Account>,
    session: Option<Session>,
}

impl<'s, S: ProtocolStore + ?Sized> StoreReceiver<'s, S> {
    /// Receiving over `store`; nothing is loaded yet.
    pub fn new(store: &'s mut S) -> Self {
        Self {
            store,
            account: None,
            session: None,
        }
    }

    fn load_account(&mut self) -> Result<Option<&Account>, StoreError> {
        if self.account.is_none() {
            self.account = self.store.load_account()?;
        }
        Ok(self.account.as_ref())
    }

    fn load_session(&mut self, id: &SessionId) -> Result<Option<&mut Session>, StoreError> {
        if self.session.as_ref().map(Session::id) != Some(*id) {
            self.session = self.store.load_session(id)?;
        }
        Ok(self.session.as_mut())
    }
}

impl<S: ProtocolStore + ?Sized> ReceiveState for StoreReceiver<'_, S> {
    type Error = StoreError;

    fn mailbox(&mut self) -> Result<Option<SendId>, StoreError> {
        Ok(self
            .load_account()?
            .map(|account| account.mailbox().send_id()))
    }

    fn account(&mut self) -> Result<Option<&Account>, StoreError> {
        self.load_account()
    }

    fn session(&mut self, id: &SessionId) -> Result<Option<&mut Session>, StoreError> {
        self.load_session(id)
    }

    fn session_for_queue(&mut self, send_id: &SendId) -> Result<Option<&mut Session>, StoreError> {
        match self.store.session_for_queue(send_id)? {
            Some(id) => self.load_session(&id),
            None => Ok(None),
        }
    }
}

/// Saves what [`open`] changed: the session of an [`Opened::Existing`], or for an
/// [`Opened::New`] the session together with the account that records its handshake
/// (through [`ProtocolStore::save_new_session`], one transaction in a durable store).
///
/// A store with transactions of its own (the client library commits a page of
/// envelopes at once) saves the same two things itself.
///
/// # Errors
/// [`ReceiveError::Store`] if the store fails, [`ReceiveError::NoAccount`] if the
/// receiver never loaded an account (an [`Opened`] from another state).
pub fn commit_received<S: ProtocolStore + ?Sized>(
    receiver: StoreReceiver<'_, S>,
    opened: Opened,
) -> Result<Received, ReceiveError> {
    let StoreReceiver {
        store,
        account,
        session,
    } = receiver;
    match opened {
        Opened::Existing {
            session: id,
            plaintext,
            sender_certificate,
        } => {
            let session = session
                .filter(|session| session.id() == id)
                .ok_or(ReceiveError::UnknownQueue)?;
            store.save_session(&session)?;
            Ok(Received {
                session: id,
                sender: session.peer().clone(),
                plaintext,
                new_session: false,
                sender_certificate: sender_certificate.unwrap_or_default(),
            })
        }
        Opened::New {
            session,
            handshake,
            plaintext,
            sender_certificate,
        } => {
            let mut account = account.ok_or(ReceiveError::NoAccount)?;
            account.commit_accepted(&handshake);
            store.save_new_session(&account, &session)?;
            Ok(Received {
                session: session.id(),
                sender: session.peer().clone(),
                plaintext,
                new_session: true,
                sender_certificate,
            })
        }
    }
}

impl From<OpenError<StoreError>> for ReceiveError {
    fn from(error: OpenError<StoreError>) -> Self {
        match error {
            OpenError::State(error) => Self::Store(error),
            OpenError::NoAccount => Self::NoAccount,
            OpenError::UnknownQueue => Self::UnknownQueue,
            OpenError::FirstContact(error) => Self::FirstContact(error),
            OpenError::Decrypt(error) => Self::Decrypt(error),
        }
    }
}
