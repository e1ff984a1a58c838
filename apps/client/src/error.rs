//! The client's error type: every variant says what the person (or app) should do.

use satchel_core::{DirectoryError, EncryptError, HandshakeError, InviteError, TrustError};

use crate::relay::RelayError;
use crate::store::StoreError;

/// A client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// There is no Satchel profile in this folder yet.
    #[error(
        "this device is not enrolled yet: run `satchel join CODE` with the invite code from your school (or `satchel school create` if you are the school's admin)"
    )]
    NotEnrolled,
    /// The folder already holds a profile.
    #[error(
        "this device is already enrolled as {name}: use another --home folder for a second profile"
    )]
    AlreadyEnrolled {
        /// Who it is enrolled as.
        name: String,
    },
    /// The operation needs the school's root key, which only the admin's device has.
    #[error("only the school admin's device can do this")]
    NotAdmin,
    /// The profile folder cannot be created.
    #[error("cannot create the profile folder {path}: {error} (choose another with --home)")]
    Folder {
        /// The folder.
        path: String,
        /// What the system said.
        error: String,
    },
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The relay could not be reached or refused.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The invite code is wrong, used, or expired.
    #[error(transparent)]
    Invite(#[from] InviteError),
    /// The invite was already used.
    #[error("this invite code was already used: ask the school for a new one")]
    InviteUsed,
    /// A school certificate or list is invalid.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// No contact matches.
    #[error(
        "nobody called {name:?} is in the school directory: check the name with `satchel contacts`"
    )]
    UnknownContact {
        /// What was asked for.
        name: String,
    },
    /// Several contacts match.
    #[error("{count} people are called {name:?}: use their account id from `satchel contacts`")]
    AmbiguousContact {
        /// What was asked for.
        name: String,
        /// How many match.
        count: usize,
    },
    /// Starting a session failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// Encrypting failed.
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
    /// A directory entry is unusable.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The profile stored in this folder is damaged.
    #[error(
        "the profile in this folder is damaged ({0}): restore it from a backup or enrol again in a new folder"
    )]
    Profile(&'static str),
}
