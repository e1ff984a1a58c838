//! [`Account`]: this device's identity and prekeys; starts and accepts sessions.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use satchel_core::{Envelope, PrekeyBundle};

use crate::{SatchelError, Session};

/// This device's long-term identity: account key, device keys and prekeys.
///
/// Save [`Account::to_bytes`] after creating it and after every
/// [`Account::prekey_bundle`] and [`Account::accept_session`] (both change the prekeys);
/// it holds secret keys, so keep it in the app's private, encrypted storage.
///
/// Safe to share between threads; calls are serialised.
///
/// ```kotlin
/// val alice = Account()
/// val bob = Account()
/// val toBob = alice.startSession(bob.prekeyBundle())
/// val first = toBob.encrypt("hello".toByteArray())
/// val inbound = bob.acceptSession(first)   // inbound.session, inbound.plaintext
/// ```
#[derive(uniffi::Object)]
pub struct Account {
    inner: Mutex<satchel_core::Account>,
}

impl Account {
    pub(crate) fn lock(&self) -> MutexGuard<'_, satchel_core::Account> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wrap(account: satchel_core::Account) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(account),
        })
    }
}

/// A session accepted from a peer's first message, and that message's text.
#[derive(uniffi::Record)]
pub struct InboundSession {
    /// The new session with the sender.
    pub session: Arc<Session>,
    /// The first message.
    pub plaintext: Vec<u8>,
}

#[uniffi::export]
impl Account {
    /// Creates a new account with fresh random keys.
    #[uniffi::constructor]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Arc<Self> {
        Self::wrap(satchel_core::Account::new(&mut satchel_core::os_rng()))
    }

    /// Restores an account saved with [`Account::to_bytes`].
    ///
    /// # Errors
    /// `CorruptedState` or `OutdatedState`.
    #[uniffi::constructor]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Arc<Self>, SatchelError> {
        Ok(Self::wrap(satchel_core::Account::from_bytes(&bytes)?))
    }

    /// The account's state, to store.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.lock().to_bytes()
    }

    /// A signed prekey bundle with a fresh one-time prekey, for a peer to start a session
    /// with ([`Account::start_session`]). Save the account afterwards: it must remember
    /// the one-time prekey to accept the session.
    pub fn prekey_bundle(&self) -> Vec<u8> {
        self.lock()
            .prekey_bundle_with_one_time_prekey(&mut satchel_core::os_rng())
            .to_bytes()
    }

    /// This account's fingerprint (digits in groups of five) for people to compare.
    pub fn fingerprint(&self) -> String {
        self.lock().fingerprint().to_string()
    }

    /// The safety number between this account and the peer of `session`: the same
    /// digits on both phones when nobody is in the middle.
    pub fn safety_number(&self, session: &Session) -> String {
        let peer = session.lock().peer().clone();
        self.lock().safety_number(&peer).to_string()
    }

    /// Starts a session with the owner of `bundle` (verified first). The first
    /// [`Session::encrypt`] makes the sealed first-contact message.
    ///
    /// # Errors
    /// `InvalidBundle` for a malformed, badly signed or own bundle.
    pub fn start_session(&self, bundle: Vec<u8>) -> Result<Arc<Session>, SatchelError> {
        let bundle = PrekeyBundle::from_bytes(&bundle)?;
        let session =
            satchel_core::Session::initiate(&self.lock(), &bundle, &mut satchel_core::os_rng())?;
        Ok(Session::wrap(session, None))
    }

    /// Accepts a peer's first message: opens it, creates the session and consumes the
    /// one-time prekey it used. Save the account and the session afterwards.
    ///
    /// # Errors
    /// `Duplicate` for a replayed first message; `UnknownSession` if it is not for this
    /// account or names a prekey it no longer has; `CorruptedMessage`. The account is
    /// unchanged after any error.
    pub fn accept_session(
        self: Arc<Self>,
        first_message: Vec<u8>,
    ) -> Result<InboundSession, SatchelError> {
        let envelope = Envelope::from_vec(first_message)?;
        let inbound = {
            let mut account = self.lock();
            let contact = account.open_first_contact(&envelope)?;
            account.accept(&contact, &mut satchel_core::os_rng())?
        };
        Ok(InboundSession {
            session: Session::wrap(inbound.session, Some(self)),
            plaintext: inbound.plaintext,
        })
    }

    /// Restores a session this account accepted (saved with [`Session::to_bytes`]),
    /// linked to the account so that the peer's repeated first messages still decrypt.
    ///
    /// # Errors
    /// `CorruptedState` or `OutdatedState`.
    pub fn restore_session(self: Arc<Self>, bytes: Vec<u8>) -> Result<Arc<Session>, SatchelError> {
        let session = satchel_core::Session::from_bytes(&bytes)?;
        Ok(Session::wrap(session, Some(self)))
    }
}
