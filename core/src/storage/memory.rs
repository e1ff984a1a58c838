//! An in-memory store. It keeps the *serialised* state, so using it exercises the same
//! save/load path as a durable store.

use std::collections::HashMap;

use super::traits::{AccountStore, SessionStore, StoreError};
use crate::account::Account;
use crate::envelope::queue::SendId;
use crate::identity::ids::DeviceId;
use crate::session::{Session, SessionId};

struct StoredSession {
    bytes: Vec<u8>,
    inbound: SendId,
    peer: DeviceId,
}

/// Keeps an account and sessions in memory, serialised.
#[derive(Default)]
pub struct InMemoryStore {
    account: Option<Vec<u8>>,
    sessions: HashMap<SessionId, StoredSession>,
}

impl InMemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions are stored.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryStore")
            .field("has_account", &self.account.is_some())
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl super::traits::ProtocolStore for InMemoryStore {}

impl AccountStore for InMemoryStore {
    fn load_account(&self) -> Result<Option<Account>, StoreError> {
        self.account
            .as_deref()
            .map(Account::from_bytes)
            .transpose()
            .map_err(StoreError::new)
    }

    fn save_account(&mut self, account: &Account) -> Result<(), StoreError> {
        self.account = Some(account.to_bytes());
        Ok(())
    }
}

impl SessionStore for InMemoryStore {
    fn load_session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        self.sessions
            .get(id)
            .map(|stored| Session::from_bytes(&stored.bytes))
            .transpose()
            .map_err(StoreError::new)
    }

    fn save_session(&mut self, session: &Session) -> Result<(), StoreError> {
        self.sessions.insert(
            session.id(),
            StoredSession {
                bytes: session.to_bytes(),
                inbound: session.inbound_queue().send_id(),
                peer: session.peer().device_id(),
            },
        );
        Ok(())
    }

    fn session_for_queue(&self, send_id: &SendId) -> Result<Option<SessionId>, StoreError> {
        Ok(self
            .sessions
            .iter()
            .find(|(_, stored)| stored.inbound == *send_id)
            .map(|(id, _)| *id))
    }

    fn sessions_with(&self, device: &DeviceId) -> Result<Vec<SessionId>, StoreError> {
        let mut ids: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, stored)| stored.peer == *device)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn delete_session(&mut self, id: &SessionId) -> Result<(), StoreError> {
        self.sessions.remove(id);
        Ok(())
    }
}
