//! [`GroupSession`]: sender keys for one group on one device, bytes in and bytes out
//! (the low level; `SatchelClient`'s group calls do all of this for an app).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use satchel_core::group::{GroupId, SenderDevice, SenderKeyDistribution};

use crate::SatchelError;

/// One group on one device: this device's sender key and the keys of the others.
///
/// Hand [`GroupSession::distribution`] to each member inside the pairwise `Session` with
/// that member's device (it is secret); give what a member hands back to
/// [`GroupSession::receive_distribution`] with the device key of the session it came
/// over. [`GroupSession::encrypt`] makes one message for every member. Save
/// [`GroupSession::to_bytes`] after every call that changes it; a failed call changes
/// nothing.
///
/// ```kotlin
/// val group = GroupSession(groupId, myDeviceKey, nowSeconds)
/// peerSession.encrypt(group.distribution())          // to each member, once
/// val wire = group.encrypt("Trip on Friday".toByteArray(), nowSeconds)
/// val read = memberGroup.decrypt(wire)               // read.sender, read.plaintext
/// ```
#[derive(uniffi::Object)]
pub struct GroupSession {
    inner: Mutex<satchel_core::group::GroupSession>,
}

/// A decrypted group message.
#[derive(Debug, Clone, uniffi::Record)]
pub struct GroupPlaintext {
    /// The sending device's signing key (32 bytes), as its device certificate has it.
    pub sender: Vec<u8>,
    /// The message's index in the sender's chain.
    pub index: u32,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// Why one message of a batch did not decrypt (see [`DecryptFailure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DecryptFailure {
    /// Already received: ignore it.
    Duplicate,
    /// No key for it yet (group messages): keep it and try again after the next sync.
    NoKeyYet,
    /// Not for this conversation: ignore it.
    UnknownSession,
    /// Damaged or forged: drop it; nothing changed.
    Corrupted,
    /// Too many messages were lost before it: drop it.
    TooLargeGap,
    /// Made by a newer Satchel: update the app.
    UpdateRequired,
}

/// One result of [`GroupSession::decrypt_batch`]: the message, or why it failed.
#[derive(Debug, Clone, uniffi::Record)]
pub struct GroupDecryptResult {
    /// The message, if it decrypted.
    pub message: Option<GroupPlaintext>,
    /// Why not, if it failed.
    pub failure: Option<DecryptFailure>,
    /// The same, as a sentence for people.
    pub error: Option<String>,
}

pub(crate) fn failure_of(error: &satchel_core::GroupDecryptError) -> DecryptFailure {
    match error {
        satchel_core::GroupDecryptError::Duplicate => DecryptFailure::Duplicate,
        satchel_core::GroupDecryptError::NoSenderKey => DecryptFailure::NoKeyYet,
        satchel_core::GroupDecryptError::TooFarAhead { .. } => DecryptFailure::TooLargeGap,
        _ => DecryptFailure::Corrupted,
    }
}

fn key32(bytes: &[u8], what: &str) -> Result<[u8; 32], SatchelError> {
    bytes.try_into().map_err(|_| {
        SatchelError::InvalidInput(format!("{what} must be 32 bytes, not {}", bytes.len()))
    })
}

impl GroupSession {
    fn lock(&self) -> MutexGuard<'_, satchel_core::group::GroupSession> {
        // Core changes a group session only after a call fully succeeded.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[uniffi::export]
impl GroupSession {
    /// A session for the group `group_id` (16 bytes; draw it at random when creating a
    /// group) on the device whose signing key is `own_device` (32 bytes, from its device
    /// certificate), with a fresh sender key. `now` is Unix seconds.
    ///
    /// # Errors
    /// `InvalidInput` for ids of the wrong length.
    #[uniffi::constructor]
    pub fn new(
        group_id: Vec<u8>,
        own_device: Vec<u8>,
        now: u64,
    ) -> Result<Arc<Self>, SatchelError> {
        let id = GroupId::from_slice(&group_id).ok_or_else(|| {
            SatchelError::InvalidInput(format!("a group id is 16 bytes, not {}", group_id.len()))
        })?;
        let device = SenderDevice::from_bytes(key32(&own_device, "a device key")?);
        let session =
            satchel_core::group::GroupSession::new(id, device, now, &mut satchel_core::os_rng());
        Ok(Arc::new(Self {
            inner: Mutex::new(session),
        }))
    }

    /// Restores a session saved with [`GroupSession::to_bytes`].
    ///
    /// # Errors
    /// `CorruptedState`, `OutdatedState`.
    #[uniffi::constructor]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Arc<Self>, SatchelError> {
        Ok(Arc::new(Self {
            inner: Mutex::new(satchel_core::group::GroupSession::from_bytes(&bytes)?),
        }))
    }

    /// The session's state, to store (secret keys: keep it in private storage).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.lock().to_bytes()
    }

    /// This device's sender key at its current index (secret): send it to each member
    /// inside the pairwise session with that member's device.
    pub fn distribution(&self) -> Vec<u8> {
        self.lock().distribution().to_bytes()
    }

    /// Takes a member's sender key, received over the pairwise session with the device
    /// whose signing key is `from_device`. Returns `true` if it was new.
    ///
    /// # Errors
    /// `CorruptedMessage` for a key that is malformed, for another group, or not made by
    /// `from_device` (someone passing another member's key off as theirs);
    /// `InvalidInput` for a device key of the wrong length.
    pub fn receive_distribution(
        &self,
        from_device: Vec<u8>,
        distribution: Vec<u8>,
    ) -> Result<bool, SatchelError> {
        let from = SenderDevice::from_bytes(key32(&from_device, "a device key")?);
        let distribution = SenderKeyDistribution::from_bytes(&distribution)?;
        Ok(matches!(
            self.lock().receive_distribution(from, &distribution)?,
            satchel_core::group::DistributionOutcome::Added
        ))
    }

    /// Whether this device's key is due for rotation (then [`GroupSession::rotate`]).
    pub fn rotation_due(&self, now: u64) -> bool {
        self.lock().rotation_due(now)
    }

    /// A fresh sender key, returned for the members: after removing a member (send it
    /// to the remaining members only) and when [`GroupSession::rotation_due`].
    pub fn rotate(&self, now: u64) -> Vec<u8> {
        self.lock()
            .rotate(now, &mut satchel_core::os_rng())
            .to_bytes()
    }

    /// Forgets every key of a member who left (their device signing key). Returns
    /// whether any was held; rotate too.
    ///
    /// # Errors
    /// `InvalidInput` for a device key of the wrong length.
    pub fn remove_sender(&self, device: Vec<u8>) -> Result<bool, SatchelError> {
        let device = SenderDevice::from_bytes(key32(&device, "a device key")?);
        Ok(self.lock().remove_sender(&device))
    }

    /// One message for every member: one encryption, one signature.
    ///
    /// # Errors
    /// `MessageTooLarge`; `SessionExhausted` when the key is due for rotation (rotate,
    /// hand out the new key, then encrypt).
    pub fn encrypt(&self, plaintext: Vec<u8>, now: u64) -> Result<Vec<u8>, SatchelError> {
        Ok(self.lock().encrypt(&plaintext, now)?)
    }

    /// Decrypts a group message.
    ///
    /// # Errors
    /// `NoKeyYet` (keep it; retry after the sender's key arrives), `Duplicate`,
    /// `CorruptedMessage`, `TooLargeGap`; the session is unchanged after any of them.
    pub fn decrypt(&self, message: Vec<u8>) -> Result<GroupPlaintext, SatchelError> {
        let read = self.lock().decrypt(&message)?;
        Ok(GroupPlaintext {
            sender: read.sender.as_bytes().to_vec(),
            index: read.index,
            plaintext: read.plaintext,
        })
    }

    /// Decrypts many messages in one call, verifying their signatures in one batch
    /// (catching up after being offline); one result per message, exactly as
    /// [`GroupSession::decrypt`] on each in turn would give.
    pub fn decrypt_batch(&self, messages: Vec<Vec<u8>>) -> Vec<GroupDecryptResult> {
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        self.lock()
            .decrypt_batch(&refs)
            .into_iter()
            .map(|result| match result {
                Ok(read) => GroupDecryptResult {
                    message: Some(GroupPlaintext {
                        sender: read.sender.as_bytes().to_vec(),
                        index: read.index,
                        plaintext: read.plaintext,
                    }),
                    failure: None,
                    error: None,
                },
                Err(error) => GroupDecryptResult {
                    message: None,
                    failure: Some(failure_of(&error)),
                    error: Some(error.to_string()),
                },
            })
            .collect()
    }
}
