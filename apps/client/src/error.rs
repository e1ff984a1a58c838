//! The client's error type: every variant says what the person (or app) should do.
//!
//! The wording is for people; apps that show their own text match on the variant.

use satchel_core::school::UnverifiedReason;
use satchel_core::{DirectoryError, EncryptError, HandshakeError, InviteError, TrustError};

use crate::relay::RelayError;
use crate::store::StoreError;
use crate::store::keyfile::KeyFileError;
use crate::store::private_fs::PrivateFsError;

/// A client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// There is no Satchel profile in this folder yet.
    #[error("this device is not enrolled yet: join with the invite code from your school")]
    NotEnrolled,
    /// The folder already holds a profile.
    #[error("this device is already enrolled{}: use another profile folder for a second profile", if name.is_empty() { String::new() } else { format!(" as {name}") })]
    AlreadyEnrolled {
        /// Who it is enrolled as (empty if the profile does not load).
        name: String,
    },
    /// The operation needs the school's root key, which only the admin's device has.
    #[error("only the school admin's device can do this")]
    NotAdmin,
    /// A file of the profile folder cannot be read or written.
    #[error("cannot use {path}: {error}")]
    Folder {
        /// The file or folder.
        path: String,
        /// What the system said.
        error: String,
    },
    /// The profile folder or one of its files is readable by others, or cannot be made
    /// private.
    #[error(transparent)]
    Permissions(#[from] PrivateFsError),
    /// The store key could not be unlocked (wrong passphrase, another device's key) or
    /// the key file is damaged.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The relay could not be reached or refused.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The invite code does not parse.
    #[error(transparent)]
    Invite(#[from] InviteError),
    /// The relay does not know the invite code.
    #[error(
        "the school's relay does not know this invite code: check the code for typing mistakes; if it is right, it has expired — ask the school for a new one"
    )]
    InviteUnknown,
    /// The invite was already used.
    #[error("this invite code was already used: ask the school for a new one")]
    InviteUsed,
    /// A school certificate or list is invalid.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// No contact matches.
    #[error("nobody called {name:?} is in the school directory{}", match suggestion { Some(s) => format!(": did you mean {s:?}?"), None => ": check the name in the contact list".to_string() })]
    UnknownContact {
        /// What was asked for.
        name: String,
        /// The closest name in the directory, if one is close.
        suggestion: Option<String>,
    },
    /// Several people have that name.
    #[error("{} people are called {name:?}: choose one by account id ({})", choices.len(), choices.join("; "))]
    AmbiguousContact {
        /// What was asked for.
        name: String,
        /// Each person's account id, role and classes.
        choices: Vec<String>,
    },
    /// A message without text.
    #[error("the message is empty: write some text")]
    EmptyMessage,
    /// The school no longer vouches for this device's membership (revoked or expired):
    /// nothing was sent.
    #[error(
        "the school no longer vouches for your membership ({reason}): nothing was sent; ask the school"
    )]
    MembershipEnded {
        /// Why.
        reason: UnverifiedReason,
    },
    /// The school has not confirmed this device's enrolment yet: nothing was sent.
    #[error(
        "the school has not confirmed your enrolment yet, so nothing was sent: the school \
         office's Satchel confirms new members when it next syncs — try again after that, or \
         ask the office"
    )]
    NotYetAdmitted,
    /// The school does not vouch for the recipient now: nothing was sent.
    #[error("the school does not vouch for {name} now ({reason}): nothing was sent")]
    RecipientNotVerified {
        /// The name as given.
        name: String,
        /// Why.
        reason: UnverifiedReason,
    },
    /// An invite code's lifetime out of range.
    #[error("an invite code can stay valid for 1 to 90 days, not {days}")]
    CodeLifetime {
        /// The days asked for.
        days: u32,
    },
    /// An invite for nobody.
    #[error("the name is empty: give the name others will see")]
    EmptyName,
    /// The relay registers no new schools.
    #[error(
        "this relay does not accept new schools: ask its operator to start it with a \
         registration token (satchel-relay --registration-token) and to give you that token"
    )]
    RegistrationClosed,
    /// The relay refused the registration token (missing or wrong).
    #[error(
        "the relay needs its operator's registration token to create a school, and the one \
         given is missing or wrong: ask the relay's operator for it"
    )]
    RegistrationRefused,
    /// Starting a session failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// Encrypting failed.
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
    /// A directory entry is unusable.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// No group by that name or id.
    #[error("no group called {name:?}: see the list of groups")]
    UnknownGroup {
        /// The name or id as given.
        name: String,
    },
    /// Several groups match.
    #[error("{} groups match {name:?}: choose one by id ({})", choices.len(), choices.join("; "))]
    AmbiguousGroup {
        /// The name as given.
        name: String,
        /// The ids of the matching groups.
        choices: Vec<String>,
    },
    /// The group does not allow this device to do that.
    #[error("this device may not {what}")]
    NotAllowedInGroup {
        /// What was refused.
        what: &'static str,
    },
    /// Nobody the group would reach is in the school directory.
    #[error(
        "nobody in the school directory belongs in this group for class {class:?}: check the class name"
    )]
    EmptyGroup {
        /// The class as given.
        class: String,
    },
    /// More member devices than one shared deposit reaches.
    #[error("a group can reach at most {max} devices, this one would have {devices}")]
    GroupTooLarge {
        /// Devices the group would have.
        devices: usize,
        /// The limit.
        max: usize,
    },
    /// The profile stored in this folder is damaged.
    #[error(
        "the profile in this folder is damaged ({0}): restore it from a backup or enrol again in a new folder"
    )]
    Profile(&'static str),
}
