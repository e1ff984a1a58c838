//! [`Session`]: one end of an encrypted conversation.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use satchel_core::{DecryptError, EncryptError, Envelope, Fingerprint, MAX_PLAINTEXT_LEN};

use crate::{Account, DecryptFailure, SatchelError};

/// One end of an end-to-end encrypted conversation with one peer device.
///
/// Every successful [`Session::encrypt`] and [`Session::decrypt`] changes the session:
/// save [`Session::to_bytes`] after each one, together with the message, before telling
/// the relay the message was received. A failed call leaves the session exactly as it
/// was, so a damaged or duplicate message never breaks the conversation.
///
/// Safe to share between threads; calls on one session are serialised.
///
/// ```kotlin
/// val wire = session.encrypt("Trip on Friday".toByteArray())
/// val text = peerSession.decrypt(wire).decodeToString()
/// ```
#[derive(uniffi::Object)]
pub struct Session {
    inner: Mutex<satchel_core::Session>,
    /// The account that accepted this session: it opens the peer's repeated first
    /// messages, which arrive sealed to the account's mailbox until this side replies.
    account: Option<Arc<Account>>,
}

impl Session {
    pub(crate) fn wrap(session: satchel_core::Session, account: Option<Arc<Account>>) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(session),
            account,
        })
    }

    /// The session; a panic elsewhere cannot leave it half-updated (core changes state
    /// only after a call fully succeeded), so a poisoned lock is still usable.
    fn decrypt_envelope(&self, envelope: &Envelope) -> Result<Vec<u8>, SatchelError> {
        let mut session = self.lock();
        self.decrypt_locked(&mut session, envelope)
    }

    /// A queue message, or a repeated first message opened by the accepting account.
    fn decrypt_locked(
        &self,
        session: &mut satchel_core::Session,
        envelope: &Envelope,
    ) -> Result<Vec<u8>, SatchelError> {
        match (session.decrypt(envelope), &self.account) {
            (Err(DecryptError::WrongQueue), Some(account)) => {
                let contact = account.lock().open_first_contact(envelope)?;
                Ok(session.decrypt_first_contact(&contact)?)
            }
            (result, _) => Ok(result?),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, satchel_core::Session> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[uniffi::export]
impl Session {
    /// Restores a session saved with [`Session::to_bytes`].
    ///
    /// For a session this device *accepted*, use [`Account::restore_session`] instead:
    /// until this side replies, the peer's further messages are sealed to the account's
    /// mailbox, and only a session restored through its account can open them.
    ///
    /// # Errors
    /// `CorruptedState` for damaged bytes, `OutdatedState` for bytes written by a newer
    /// library version.
    #[uniffi::constructor]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Arc<Self>, SatchelError> {
        Ok(Self::wrap(satchel_core::Session::from_bytes(&bytes)?, None))
    }

    /// The session's state, to store (it contains secret keys: keep it in the app's
    /// private storage, encrypted at rest where the platform offers it).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.lock().to_bytes()
    }

    /// Encrypts `plaintext` into an envelope to hand to the relay.
    ///
    /// # Errors
    /// `MessageTooLarge`; `SessionExhausted` if the session cannot send any more.
    pub fn encrypt(&self, plaintext: Vec<u8>) -> Result<Vec<u8>, SatchelError> {
        let envelope = self
            .lock()
            .encrypt(&plaintext, &mut satchel_core::os_rng())?;
        Ok(envelope.into_bytes())
    }

    /// Decrypts an envelope from the peer.
    ///
    /// # Errors
    /// `Duplicate`, `UnknownSession` (another conversation's message),
    /// `CorruptedMessage`, `TooLargeGap`; the session is unchanged after any of them.
    pub fn decrypt(&self, message: Vec<u8>) -> Result<Vec<u8>, SatchelError> {
        let envelope = Envelope::from_vec(message)?;
        self.decrypt_envelope(&envelope)
    }

    /// Encrypts several messages in one call (one crossing of the language boundary):
    /// the same as calling [`Session::encrypt`] for each, in order. If any plaintext is
    /// too large, nothing is encrypted and the session is unchanged.
    ///
    /// # Errors
    /// As [`Session::encrypt`].
    pub fn encrypt_batch(&self, plaintexts: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, SatchelError> {
        if let Some(p) = plaintexts.iter().find(|p| p.len() > MAX_PLAINTEXT_LEN) {
            return Err(EncryptError::PlaintextTooLarge {
                len: p.len(),
                max: MAX_PLAINTEXT_LEN,
            }
            .into());
        }
        let mut session = self.lock();
        let mut rng = satchel_core::os_rng();
        plaintexts
            .iter()
            .map(|p| Ok(session.encrypt(p, &mut rng)?.into_bytes()))
            .collect()
    }

    /// Decrypts several envelopes in one call. Each result is its own: a bad envelope
    /// does not stop the others (see [`DecryptResult`]).
    pub fn decrypt_batch(&self, messages: Vec<Vec<u8>>) -> Vec<DecryptResult> {
        // Lock order everywhere: the session, then (briefly) its account.
        let mut session = self.lock();
        messages
            .into_iter()
            .map(|message| {
                let result = Envelope::from_vec(message)
                    .map_err(SatchelError::from)
                    .and_then(|envelope| self.decrypt_locked(&mut session, &envelope));
                match result {
                    Ok(plaintext) => DecryptResult {
                        plaintext: Some(plaintext),
                        failure: None,
                        error: None,
                    },
                    Err(error) => DecryptResult {
                        plaintext: None,
                        failure: Some(DecryptFailure::of(&error)),
                        error: Some(error.to_string()),
                    },
                }
            })
            .collect()
    }

    /// The fingerprint of the peer's account (digits in groups), to compare with what
    /// the peer's own app shows. [`crate::Account::safety_number`] combines both sides.
    pub fn peer_fingerprint(&self) -> String {
        let session = self.lock();
        let peer = session.peer();
        Fingerprint::of(&peer.account_id(), peer.account_key()).to_string()
    }
}

/// One result of [`Session::decrypt_batch`]: the plaintext, or why it failed.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DecryptResult {
    /// The decrypted message, if it decrypted.
    pub plaintext: Option<Vec<u8>>,
    /// Why it did not, if it failed: what to do with it.
    pub failure: Option<DecryptFailure>,
    /// The same as a person-readable sentence.
    pub error: Option<String>,
}

impl DecryptFailure {
    fn of(error: &SatchelError) -> Self {
        match error {
            SatchelError::Duplicate(_) => Self::Duplicate,
            SatchelError::UnknownSession(_) => Self::UnknownSession,
            SatchelError::TooLargeGap(_) => Self::TooLargeGap,
            SatchelError::UpdateRequired(_) | SatchelError::OutdatedState(_) => {
                Self::UpdateRequired
            }
            _ => Self::Corrupted,
        }
    }
}
