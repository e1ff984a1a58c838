//! What a store must provide. Core stays sans-I/O: implementations (the in-memory one
//! here, SQLite in `satchel-client`) do the I/O.
//!
//! Atomicity is the store's job: when a call sequence saves an account and a session (or
//! a session and a decrypted message), a durable store commits them in one transaction.

use crate::account::Account;
use crate::envelope::queue::SendId;
use crate::identity::ids::DeviceId;
use crate::session::{Session, SessionId};

/// A storage backend failed (I/O, corruption). Carries the backend's error.
#[derive(Debug, thiserror::Error)]
#[error("storage failed: {0}")]
pub struct StoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps any backend error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(error))
    }
}

/// Holds this device's account.
pub trait AccountStore {
    /// The account, if one was saved.
    ///
    /// # Errors
    /// [`StoreError`] if the backend fails or the stored account does not load.
    fn load_account(&self) -> Result<Option<Account>, StoreError>;

    /// Saves (replaces) the account.
    ///
    /// # Errors
    /// [`StoreError`] if the backend fails.
    fn save_account(&mut self, account: &Account) -> Result<(), StoreError>;
}

/// Holds sessions, findable by id, by inbound queue and by peer device.
pub trait SessionStore {
    /// The session with this id.
    ///
    /// # Errors
    /// [`StoreError`] if the backend fails or the stored session does not load.
    fn load_session(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;

    /// Saves (inserts or replaces) a session.
    ///
    /// # Errors
    /// [`StoreError`] if the backend fails.
    fn save_session(&mut self, session: &Session) -> Result<(), StoreError>;

    /// The session whose inbound queue has this send id.
    ///
    /// # Errors
    /// [`StoreError`] if the backend fails.
    fn session_for_queue(&self, send_id: &SendId) -> Result<Option<SessionId>, StoreError>;

    /// All sessions with a peer device.
    ///
    /// # Errors
    /// [`StoreError`] if the backend fails.
    fn sessions_with(&self, device: &DeviceId) -> Result<Vec<SessionId>, StoreError>;

    /// Deletes a session (its queues should then be deleted on the relay).
    ///
    /// # Errors
    /// [`StoreError`] if the backend fails.
    fn delete_session(&mut self, id: &SessionId) -> Result<(), StoreError>;
}

/// Everything the protocol functions in [`super::protocol`] need.
pub trait ProtocolStore: AccountStore + SessionStore {
    /// Saves a session created by an incoming first contact together with the account
    /// it changed (one-time prekey consumed, handshake remembered).
    ///
    /// Durable stores must do this in one transaction: if only the session were saved,
    /// the first message would be lost (its repeat is a duplicate); if only the account,
    /// the session would be. The default saves one after the other and suits stores
    /// that cannot fail, such as [`super::memory::InMemoryStore`].
    ///
    /// # Errors
    /// [`StoreError`] if the backend fails; then nothing may have been saved.
    fn save_new_session(&mut self, account: &Account, session: &Session) -> Result<(), StoreError> {
        self.save_session(session)?;
        self.save_account(account)
    }
}
