//! One error enum per operation.
//!
//! Messages say what happened and, where there is something to do, what to do. Errors
//! about decryption are deliberately opaque: they never say *why* authentication failed,
//! so that a peer or the relay learns nothing from them.

use thiserror::Error;

/// Parsing an envelope's outer layer failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Fewer bytes than the fixed prefix.
    #[error("envelope too short ({len} bytes): it was truncated in transit")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// More bytes than any envelope this library writes.
    #[error("envelope too long ({len} bytes, at most {max}): refuse it")]
    TooLong {
        /// Bytes received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A version byte this library does not know.
    #[error("envelope version {version} is not supported: update the app")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
}

/// A device certificate was malformed or its signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// A field had the wrong length or was missing.
    #[error("device certificate is malformed ({field})")]
    Malformed {
        /// Which field.
        field: &'static str,
    },
    /// The account key's signature over the device keys did not verify.
    #[error("device certificate signature is invalid: do not trust this device")]
    BadSignature,
}

/// Parsing or verifying a prekey bundle failed. Fetch a fresh bundle; if it fails again
/// the publisher or the relay is misbehaving.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a protobuf `PrekeyBundle`, or a field had the wrong length.
    #[error("prekey bundle is malformed ({field})")]
    Malformed {
        /// Which field.
        field: &'static str,
    },
    /// A bundle version this library does not know.
    #[error("prekey bundle version {found} is not supported (this library reads {supported})")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// The device certificate inside is invalid.
    #[error("prekey bundle: {0}")]
    Certificate(#[from] CertificateError),
    /// The device's signature over its prekeys did not verify.
    #[error("prekey bundle signature is invalid: do not start a session with it")]
    BadPrekeySignature,
    /// The bundle belongs to a different account than the one expected.
    #[error("prekey bundle belongs to a different account than expected")]
    UnexpectedAccount,
    /// A one-time prekey's signature does not verify for this device and bundle id: a
    /// fake, or a key copied from another bundle. Start the session without it.
    #[error(
        "one-time prekey signature is invalid (a fake or a copy from another bundle): start the session without it"
    )]
    BadOneTimePrekeySignature,
    /// A one-time prekey came without a signature (an older relay or publisher). Start
    /// the session without it.
    #[error("one-time prekey is not signed: start the session without it")]
    MissingOneTimePrekeySignature,
}

/// Starting a session from a verified bundle failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A public key in the bundle is a low-order point (no shared secret would result).
    #[error("the bundle contains an invalid public key: do not start a session with it")]
    InvalidPeerKey,
    /// The bundle is our own.
    #[error("cannot start a session with this device itself")]
    OwnBundle,
}

/// Accepting a first-contact envelope failed. The account is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FirstContactError {
    /// The envelope's outer layer is invalid.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Addressed to a different mailbox than this account's.
    #[error("this envelope is not addressed to this device's mailbox")]
    NotForThisMailbox,
    /// The sealed box or the first ratchet message did not decrypt. Opaque on purpose.
    #[error(
        "first-contact message could not be decrypted: it was damaged or not meant for this device"
    )]
    DecryptionFailed,
    /// The decrypted content was not a valid initial message.
    #[error("first-contact message is malformed ({field})")]
    Malformed {
        /// Which field.
        field: &'static str,
    },
    /// The sender's device certificate is invalid.
    #[error("first-contact sender: {0}")]
    Certificate(#[from] CertificateError),
    /// The sender used prekeys this device no longer has.
    #[error(
        "the sender used an old or unknown prekey: they must fetch this device's current bundle and try again"
    )]
    UnknownPrekey,
    /// The same initial message was accepted before.
    #[error("this first-contact message was already accepted (a replay); it is ignored")]
    Replayed,
    /// The sender is this device itself.
    #[error("first-contact message claims to come from this device itself")]
    FromSelf,
}

/// Encrypting a message failed. The session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The plaintext exceeds [`crate::MAX_PLAINTEXT_LEN`].
    #[error("message too large ({len} bytes, at most {max}): send large content as an attachment")]
    PlaintextTooLarge {
        /// Plaintext length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The sending chain has produced 2^32 - 1 messages (unreachable in practice).
    #[error(
        "this session has sent the maximum number of messages in one chain: start a new session"
    )]
    ChainExhausted,
    /// The peer's ratchet key is invalid.
    #[error("the peer's ratchet key is invalid: start a new session")]
    InvalidPeerKey,
    /// The sender-certificate slot is larger than a first contact can carry.
    #[error("sender certificate too large ({len} bytes, at most {max})")]
    SenderCertificateTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Decrypting a message failed. The session is exactly as it was before the call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The envelope's outer layer is invalid.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The envelope is for a queue this session does not receive on.
    #[error("this envelope belongs to another conversation's queue")]
    WrongQueue,
    /// Authentication failed: the message was damaged, forged, for another session, or
    /// so old that its chain expired. Opaque on purpose.
    #[error("message could not be decrypted: it was damaged or not meant for this conversation")]
    DecryptionFailed,
    /// The message was already decrypted (or its key expired from the skipped-key store).
    #[error("message was already received (a duplicate or replay); it is ignored")]
    Duplicate,
    /// The message is further ahead in its chain than the session allows to skip.
    #[error(
        "message is {gap} messages ahead of the last one received (at most {max}); too many were lost to catch up"
    )]
    TooFarAhead {
        /// How many message keys would have to be skipped.
        gap: u64,
        /// The configured maximum.
        max: u32,
    },
    /// The message authenticated but its contents are malformed (a faulty sender).
    #[error("message is malformed ({field}); the sender's app may be faulty")]
    Malformed {
        /// What was wrong.
        field: &'static str,
    },
}

/// Loading persisted or exported state failed. Nothing was loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not a valid state blob: corrupted or truncated storage.
    #[error("stored state is corrupted ({field}): restore it from a backup")]
    Malformed {
        /// Which field.
        field: &'static str,
    },
    /// Written by a newer (or unknown) version of the library.
    #[error("stored state has version {found}, this library reads {supported}: update the app")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// Written by an older version of the library whose state this one no longer reads
    /// (a format 1 session): drop it; the next message starts a new session.
    #[error(
        "stored state has version {found}, from an older version this library no longer reads \
         (it reads {supported}): start a new conversation"
    )]
    Obsolete {
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// An encrypted export did not decrypt: wrong key or damaged data.
    #[error("exported state could not be decrypted: wrong key, or the export is damaged")]
    DecryptionFailed,
    /// The export holds a different kind of state than requested.
    #[error("exported state holds a {found}, not a {expected}")]
    WrongKind {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
}

/// A school certificate, grant or revocation list is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A field had the wrong length or was missing.
    #[error("school certificate is malformed ({field})")]
    Malformed {
        /// Which field.
        field: &'static str,
    },
    /// Signed for another school than the one pinned.
    #[error("this certificate is from another school")]
    WrongSchool,
    /// A signature did not verify.
    #[error("school certificate signature is invalid: do not trust it")]
    BadSignature,
    /// A field is out of bounds (when creating a grant or list).
    #[error("{field}: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// What is allowed.
        reason: &'static str,
    },
    /// Signed by a member that is no office of the school (not an admin the root
    /// issued and admitted itself).
    #[error("signed by someone who is not an office of this school: do not trust it")]
    NotAnOffice,
    /// A format version this library does not know (a revocation list from a newer
    /// admin app).
    #[error("school list made by a newer app version ({found}): update the app")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
    },
}

/// Using an invite code failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InviteError {
    /// The code (or the record it points to) is not well formed.
    #[error("invite code not usable: {reason}")]
    Malformed {
        /// What is wrong, in words a person can act on.
        reason: &'static str,
    },
    /// A record version this library does not know.
    #[error("invite made by a newer app version ({found}): update the app")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
    },
    /// The record does not decrypt with this code.
    #[error("the invite does not match this code: check the code, or ask the school for a new one")]
    DecryptionFailed,
    /// The relay returned a record of another school than the code names.
    #[error("the relay returned an invite of another school: do not continue, tell the school")]
    WrongSchool,
    /// The grant inside does not verify.
    #[error("the invite is not validly signed by the school: {0}")]
    Trust(#[from] TrustError),
}

/// A directory entry is unusable; skip it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// Not a directory entry.
    #[error("directory entry is malformed ({field})")]
    Malformed {
        /// Which field.
        field: &'static str,
    },
    /// It does not decrypt under the directory key.
    #[error("directory entry could not be decrypted")]
    DecryptionFailed,
    /// Its member certificate is invalid.
    #[error("directory entry: {0}")]
    Trust(#[from] TrustError),
    /// Its prekey bundle is invalid.
    #[error("directory entry: {0}")]
    Bundle(#[from] BundleError),
    /// The bundle belongs to another account than the certificate.
    #[error("directory entry's device belongs to another account than its certificate")]
    AccountMismatch,
}

/// Encrypting a group message failed. The group session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupEncryptError {
    /// The plaintext exceeds [`crate::MAX_PLAINTEXT_LEN`].
    #[error("message too large ({len} bytes, at most {max}): send large content as an attachment")]
    PlaintextTooLarge {
        /// Plaintext length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// This device's sender key is due for rotation (its age or message count reached the
    /// group's limit, [`crate::group::GroupConfig`]).
    #[error(
        "this device's group key is due for rotation: rotate it and send the new key to every member first"
    )]
    RotationDue,
}

/// Decrypting a group message failed. The group session is exactly as it was before.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupDecryptError {
    /// Shorter than any group message, or longer than any envelope.
    #[error("group message has an impossible length ({len} bytes): it was damaged in transit")]
    BadLength {
        /// Bytes received.
        len: usize,
    },
    /// No sender key this device holds for the group opens the message: the sender's
    /// key has not arrived yet (it travels separately, over the pairwise conversation:
    /// keep the message and try again after the next sync), the sender removed this
    /// device from the group, or the message is forged. Opaque on purpose.
    #[error(
        "no key for this group message yet: it is kept and tried again once the sender's key arrives"
    )]
    NoSenderKey,
    /// A sender key opened the header but the body or the signature did not verify: the
    /// message was damaged or forged by someone who is not its sender.
    #[error("group message could not be decrypted: it was damaged or forged")]
    DecryptionFailed,
    /// The message was already decrypted (or its key expired from the skipped-key store).
    #[error("group message was already received (a duplicate or replay); it is ignored")]
    Duplicate,
    /// The message is further ahead in its sender's chain than the group allows to skip.
    #[error(
        "group message is {gap} messages ahead of the last one from its sender (at most {max}); too many were lost to catch up"
    )]
    TooFarAhead {
        /// How many message keys would have to be skipped.
        gap: u64,
        /// The configured maximum.
        max: u32,
    },
    /// The message authenticated but its padding is malformed (a faulty sender).
    #[error("group message is malformed ({field}); the sender's app may be faulty")]
    Malformed {
        /// What was wrong.
        field: &'static str,
    },
}

/// A sender-key distribution was refused. The group session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DistributionError {
    /// Not a protobuf `SenderKeyDistribution`, or a field had the wrong length.
    #[error("group key message is malformed ({field}); the sender's app may be faulty")]
    Malformed {
        /// Which field.
        field: &'static str,
    },
    /// A distribution version this library does not know.
    #[error("group key version {found} is not supported (this library reads {supported})")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// The key is for another group than this session's.
    #[error("group key belongs to another group")]
    WrongGroup,
    /// The key's binding does not name the device it came from: a member forwarded
    /// someone else's key as their own.
    #[error("group key was not made by the device that sent it: ignore it")]
    NotFromSender,
    /// The group already holds as many senders as it may.
    #[error("group has too many senders ({max}): remove members before adding more")]
    TooManySenders {
        /// The limit.
        max: usize,
    },
}
