//! [`SatchelError`]: one flat error enum for every call, with variants a UI can act on.

use satchel_client::ClientError;
use satchel_client::relay::RelayError;
use satchel_core::{
    BundleError, DecryptError, EncryptError, EnvelopeError, FirstContactError, HandshakeError,
    InviteError, StateError, TrustError,
};

/// Everything that can go wrong in a Satchel call. Each variant carries a sentence for
/// people (`message` in Kotlin, `str(e)` in Python); the variant says what to do:
///
/// | variant | what the app should do |
/// |---|---|
/// | `Duplicate` | ignore the message: it was already received |
/// | `UnknownSession` | the message is for another conversation or an unknown prekey: ignore it |
/// | `CorruptedMessage` | drop the message; the session is unchanged |
/// | `TooLargeGap` | drop the message; too many were lost before it |
/// | `CorruptedState` | the saved bytes are damaged: restore a backup |
/// | `OutdatedState` | saved by a newer app version: update the app |
/// | `InvalidBundle` | do not start a session with this prekey bundle |
/// | `MessageTooLarge` | send less (large content goes as an attachment) |
/// | `SessionExhausted` | start a new session with the peer |
/// | `Network` | retry later; nothing was lost |
/// | `RelayRefused` | show the message; the relay said no (full queue, bad request…) |
/// | `RegistrationRefused` | creating a school needs the relay operator's registration token: ask for it |
/// | `InviteUsed` / `InvalidInvite` | ask the school for a new invite code |
/// | `NotEnrolled` / `AlreadyEnrolled` / `NotAdmin` | guide the person to join, or use another folder |
/// | `UnknownContact` / `AmbiguousContact` | let the person pick from `contacts()` |
/// | `InvalidInput` | an argument is out of bounds (a name too long, a bad relay address): fix it |
/// | `Storage` | the local database failed or the profile is damaged |
/// | `UpdateRequired` | the data comes from a newer Satchel version: update the app |
/// | `Certificate` | the relay's TLS certificate is not trusted: pass the school's CA certificate |
/// | `WrongStoreKey` | the store key given does not open this folder: pass the key this install created |
/// | `MembershipEnded` | the school revoked (or let expire) this person's membership: say so plainly; nothing was sent |
/// | `NotYetAdmitted` | the school office has not confirmed this enrolment yet: say so; sync and retry later |
/// | `RecipientNotVerified` | the school does not vouch for the recipient now: warn; `sendToUnverified` only if the person insists |
/// | `NoKeyYet` | a group message whose sender's key has not arrived: keep it, retry after the next sync |
/// | `UnknownGroup` | let the person pick from `groups()` |
/// | `NotAllowedInGroup` | the group does not let this person do that (post, change members): say so |
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum SatchelError {
    /// The message was already received (a duplicate or a replay).
    #[error("{0}")]
    Duplicate(String),
    /// The message belongs to another conversation, or names a prekey this account does
    /// not have.
    #[error("{0}")]
    UnknownSession(String),
    /// The message is damaged, forged, or not meant for this session.
    #[error("{0}")]
    CorruptedMessage(String),
    /// Too many messages were skipped before this one.
    #[error("{0}")]
    TooLargeGap(String),
    /// A saved state blob is damaged (or was exported under another key).
    #[error("{0}")]
    CorruptedState(String),
    /// A saved state blob was written by a newer version of the library.
    #[error("{0}")]
    OutdatedState(String),
    /// A prekey bundle is malformed, badly signed, or unusable.
    #[error("{0}")]
    InvalidBundle(String),
    /// The message is larger than a session carries.
    #[error("{0}")]
    MessageTooLarge(String),
    /// The session cannot send any more: start a new one.
    #[error("{0}")]
    SessionExhausted(String),
    /// The relay could not be reached.
    #[error("{0}")]
    Network(String),
    /// The relay refused the request.
    #[error("{0}")]
    RelayRefused(String),
    /// The relay registers no new school without its operator's registration token (none
    /// given, a wrong one, or the relay registers no new schools at all).
    #[error("{0}")]
    RegistrationRefused(String),
    /// The invite code was already used.
    #[error("{0}")]
    InviteUsed(String),
    /// The invite code is wrong, expired or forged.
    #[error("{0}")]
    InvalidInvite(String),
    /// This profile folder is not enrolled yet.
    #[error("{0}")]
    NotEnrolled(String),
    /// This profile folder is already enrolled.
    #[error("{0}")]
    AlreadyEnrolled(String),
    /// Only the school admin's device can do this.
    #[error("{0}")]
    NotAdmin(String),
    /// Nobody of that name is in the school directory.
    #[error("{0}")]
    UnknownContact(String),
    /// Several people have that name.
    #[error("{0}")]
    AmbiguousContact(String),
    /// An argument is out of bounds or malformed (e.g. a name too long, a relay address
    /// that is not http(s)).
    #[error("{0}")]
    InvalidInput(String),
    /// The local database failed, or the stored profile is damaged.
    #[error("{0}")]
    Storage(String),
    /// The data was made by a newer Satchel version.
    #[error("{0}")]
    UpdateRequired(String),
    /// The relay's TLS certificate is not trusted (wrong host name, unknown issuer,
    /// expired): pass the school's CA certificate, or check the relay address.
    #[error("{0}")]
    Certificate(String),
    /// The store key does not open this profile folder (another install's key, or the
    /// key file is damaged).
    #[error("{0}")]
    WrongStoreKey(String),
    /// The school no longer vouches for this device's membership: nothing was sent.
    #[error("{0}")]
    MembershipEnded(String),
    /// The school has not confirmed this device's enrolment yet: nothing was sent.
    #[error("{0}")]
    NotYetAdmitted(String),
    /// The school does not vouch for the recipient now: nothing was sent.
    #[error("{0}")]
    RecipientNotVerified(String),
    /// No key opens this group message yet: keep it and try again after the next sync.
    #[error("{0}")]
    NoKeyYet(String),
    /// No group (or several) by that name or id.
    #[error("{0}")]
    UnknownGroup(String),
    /// The group does not allow this device to do that (post, change who is in it).
    #[error("{0}")]
    NotAllowedInGroup(String),
}

impl From<satchel_core::GroupDecryptError> for SatchelError {
    fn from(error: satchel_core::GroupDecryptError) -> Self {
        let message = error.to_string();
        match crate::group::failure_of(&error) {
            crate::group::DecryptFailure::Duplicate => Self::Duplicate(message),
            crate::group::DecryptFailure::NoKeyYet => Self::NoKeyYet(message),
            crate::group::DecryptFailure::TooLargeGap => Self::TooLargeGap(message),
            _ => Self::CorruptedMessage(message),
        }
    }
}

impl From<satchel_core::GroupEncryptError> for SatchelError {
    fn from(error: satchel_core::GroupEncryptError) -> Self {
        let message = error.to_string();
        match error {
            satchel_core::GroupEncryptError::PlaintextTooLarge { .. } => {
                Self::MessageTooLarge(message)
            }
            _ => Self::SessionExhausted(message),
        }
    }
}

impl From<satchel_core::DistributionError> for SatchelError {
    fn from(error: satchel_core::DistributionError) -> Self {
        let message = error.to_string();
        match error {
            satchel_core::DistributionError::UnsupportedVersion { .. } => {
                Self::UpdateRequired(message)
            }
            _ => Self::CorruptedMessage(message),
        }
    }
}

impl From<EnvelopeError> for SatchelError {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::UnsupportedVersion { .. } => Self::UpdateRequired(error.to_string()),
            _ => Self::CorruptedMessage(error.to_string()),
        }
    }
}

impl From<DecryptError> for SatchelError {
    fn from(error: DecryptError) -> Self {
        let message = error.to_string();
        match error {
            DecryptError::Envelope(e) => e.into(),
            DecryptError::Duplicate => Self::Duplicate(message),
            DecryptError::WrongQueue => Self::UnknownSession(message),
            DecryptError::TooFarAhead { .. } => Self::TooLargeGap(message),
            _ => Self::CorruptedMessage(message),
        }
    }
}

impl From<FirstContactError> for SatchelError {
    fn from(error: FirstContactError) -> Self {
        let message = error.to_string();
        match error {
            FirstContactError::Envelope(e) => e.into(),
            FirstContactError::Replayed => Self::Duplicate(message),
            FirstContactError::NotForThisMailbox | FirstContactError::UnknownPrekey => {
                Self::UnknownSession(message)
            }
            _ => Self::CorruptedMessage(message),
        }
    }
}

impl From<EncryptError> for SatchelError {
    fn from(error: EncryptError) -> Self {
        let message = error.to_string();
        match error {
            EncryptError::PlaintextTooLarge { .. } => Self::MessageTooLarge(message),
            _ => Self::SessionExhausted(message),
        }
    }
}

impl From<StateError> for SatchelError {
    fn from(error: StateError) -> Self {
        let message = error.to_string();
        match error {
            StateError::UnsupportedVersion { .. } => Self::OutdatedState(message),
            // A session from before format 2: like an exhausted one, start a new one.
            StateError::Obsolete { .. } => Self::SessionExhausted(message),
            _ => Self::CorruptedState(message),
        }
    }
}

impl From<BundleError> for SatchelError {
    fn from(error: BundleError) -> Self {
        Self::InvalidBundle(error.to_string())
    }
}

impl From<HandshakeError> for SatchelError {
    fn from(error: HandshakeError) -> Self {
        Self::InvalidBundle(error.to_string())
    }
}

impl From<InviteError> for SatchelError {
    fn from(error: InviteError) -> Self {
        let message = error.to_string();
        match error {
            InviteError::UnsupportedVersion { .. } => Self::UpdateRequired(message),
            _ => Self::InvalidInvite(message),
        }
    }
}

impl From<RelayError> for SatchelError {
    fn from(error: RelayError) -> Self {
        let message = error.to_string();
        match error {
            RelayError::Network(_) => Self::Network(message),
            RelayError::Certificate { .. } => Self::Certificate(message),
            RelayError::InvalidUrl(_)
            | RelayError::InsecureUrl { .. }
            | RelayError::CaCertificate { .. } => Self::InvalidInput(message),
            RelayError::Rejected {
                code: satchel_relay_api::ErrorCode::InviteUsed,
                ..
            } => Self::InviteUsed(message),
            _ => Self::RelayRefused(message),
        }
    }
}

impl From<ClientError> for SatchelError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::NotEnrolled => Self::NotEnrolled(
                "this device is not enrolled yet: join with the invite code from your school"
                    .to_owned(),
            ),
            ClientError::AlreadyEnrolled { .. } => Self::AlreadyEnrolled(error.to_string()),
            ClientError::NotAdmin => Self::NotAdmin(error.to_string()),
            ClientError::Relay(e) => e.into(),
            ClientError::Invite(e) => e.into(),
            ClientError::InviteUsed => Self::InviteUsed(error.to_string()),
            ClientError::RegistrationClosed | ClientError::RegistrationRefused => {
                Self::RegistrationRefused(error.to_string())
            }
            ClientError::MembershipEnded { .. } => Self::MembershipEnded(error.to_string()),
            ClientError::NotYetAdmitted => Self::NotYetAdmitted(error.to_string()),
            ClientError::RecipientNotVerified { .. } => {
                Self::RecipientNotVerified(error.to_string())
            }
            ClientError::InviteUnknown => Self::InvalidInvite(error.to_string()),
            ClientError::UnknownContact { .. } => Self::UnknownContact(error.to_string()),
            ClientError::AmbiguousContact { .. } => Self::AmbiguousContact(error.to_string()),
            ClientError::UnknownGroup { .. } | ClientError::AmbiguousGroup { .. } => {
                Self::UnknownGroup(error.to_string())
            }
            ClientError::NotAllowedInGroup { .. } => Self::NotAllowedInGroup(error.to_string()),
            ClientError::GroupTooLarge { .. } | ClientError::EmptyGroup { .. } => {
                Self::InvalidInput(error.to_string())
            }
            ClientError::EmptyMessage | ClientError::EmptyName => {
                Self::InvalidInput(error.to_string())
            }
            ClientError::Key(_)
            | ClientError::Store(satchel_client::store::StoreError::WrongKey) => {
                Self::WrongStoreKey(error.to_string())
            }
            ClientError::Permissions(_) => Self::Storage(error.to_string()),
            ClientError::Handshake(e) => e.into(),
            ClientError::Encrypt(e) => e.into(),
            ClientError::Trust(e @ TrustError::InvalidField { .. }) => {
                Self::InvalidInput(e.to_string())
            }
            other => Self::Storage(other.to_string()),
        }
    }
}
