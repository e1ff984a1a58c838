//! What every request shares: the profile (locked until a passphrase opens it), the
//! launch token, and the change counter that live updates watch.

use std::path::PathBuf;
use std::sync::Arc;

use satchel_client::relay::TransportConfig;
use satchel_client::store::keyfile::KeySource;
use satchel_client::{Client, ClientConfig, ClientError};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, watch};

use crate::security::LaunchToken;

/// The shared state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    home: PathBuf,
    transport: TransportConfig,
    port: u16,
    token: LaunchToken,
    /// `None` until the profile is unlocked.
    client: Mutex<Option<Client>>,
    /// Bumped whenever something the page shows may have changed.
    changes: watch::Sender<u64>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("port", &self.0.port)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub(crate) fn new(
        home: PathBuf,
        transport: TransportConfig,
        port: u16,
        token: LaunchToken,
    ) -> Self {
        Self(Arc::new(Inner {
            home,
            transport,
            port,
            token,
            client: Mutex::new(None),
            changes: watch::Sender::new(0),
        }))
    }

    /// The port this app listens on.
    pub(crate) fn port(&self) -> u16 {
        self.0.port
    }

    pub(crate) fn token(&self) -> &LaunchToken {
        &self.0.token
    }

    /// Whether the profile folder has a store key yet (false: a first run).
    pub(crate) fn profile_exists(&self) -> bool {
        self.0.home.join("store.key").exists()
    }

    /// Opens the profile with `key`, keeping it for every later request.
    pub(crate) async fn unlock(&self, key: KeySource) -> Result<(), ClientError> {
        let mut slot = self.0.client.lock().await;
        if slot.is_none() {
            let config = ClientConfig {
                key,
                transport: self.0.transport.clone(),
            };
            let home = self.0.home.clone();
            // Opening stretches the passphrase (Argon2id): off the async threads.
            let client = tokio::task::spawn_blocking(move || Client::open(&home, config))
                .await
                .map_err(|_| ClientError::Profile("the profile could not be opened"))??;
            *slot = Some(client);
        }
        drop(slot);
        self.changed();
        Ok(())
    }

    /// The open profile, or `None` while locked.
    pub(crate) async fn client(&self) -> Option<ClientGuard<'_>> {
        MutexGuard::try_map(self.0.client.lock().await, Option::as_mut).ok()
    }

    /// Tells live pages to refresh.
    pub(crate) fn changed(&self) {
        self.0.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Watches for changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.changes.subscribe()
    }
}

/// The open profile, locked for one request.
pub(crate) type ClientGuard<'a> = MappedMutexGuard<'a, Client>;
