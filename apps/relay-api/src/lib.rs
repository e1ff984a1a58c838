//! # satchel-relay-api
//!
//! The relay's wire contract (`docs/RELAY_API.md`), as types both sides compile against:
//! the auth header, the error codes a relay sends, the paths, and the JSON body of every
//! request and response. The relay parses and answers with these types, the client
//! sends and reads them, so the two cannot drift apart. Serde types only: no I/O, no
//! crypto. Binary fields are strings as they are on the wire (base64url without
//! padding, or lowercase hex, as each field says): decoding them, and the error a bad
//! one earns, stay with each side.
//!
//! Request bodies reject unknown fields (`#[serde(deny_unknown_fields)]`, as the relay
//! does); response bodies ignore them, so an older client reads a newer relay's answer.
//!
//! ```
//! use satchel_relay_api::{ErrorBody, ErrorCode};
//!
//! let body: ErrorBody =
//!     serde_json::from_str(r#"{"error":"invite_used","message":"ask for a new code"}"#)?;
//! assert_eq!(body.error, ErrorCode::InviteUsed);
//! // A code this build does not know (a newer relay) still parses.
//! let newer: ErrorBody = serde_json::from_str(r#"{"error":"brand_new","message":"…"}"#)?;
//! assert_eq!(newer.error, ErrorCode::Other);
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! ```
//! use satchel_relay_api::{AckRequest, BatchDepositResponse, BatchItemResult, ErrorCode, paths};
//!
//! let body = serde_json::to_string(&AckRequest { ids: vec![1234, 1235] })?;
//! assert_eq!(body, r#"{"ids":[1234,1235]}"#);
//! assert_eq!(paths::queue_ack("00ff"), "/v1/queues/00ff/ack");
//!
//! let answer: BatchDepositResponse =
//!     serde_json::from_str(r#"{"results":[{"id":7},{"error":"unknown_queue"}]}"#)?;
//! assert_eq!(
//!     answer.results,
//!     [
//!         BatchItemResult::Stored { id: 7 },
//!         BatchItemResult::Failed { error: ErrorCode::UnknownQueue },
//!     ]
//! );
//! # Ok::<(), serde_json::Error>(())
//! ```
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

mod auth;
pub mod shared_deposit;

pub use auth::{
    AUTH_HEADER, AuthParseError, AuthValue, KEY_HEADER, OFFICE_HEADER, REGISTRATION_HEADER,
};

/// The most receive ids in one pending-mail query.
pub const MAX_PENDING_IDS: usize = 10_000;

/// Every machine-readable error code a relay sends as `"error"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The JSON body does not parse.
    MalformedJson,
    /// A field has the wrong encoding or length.
    InvalidField,
    /// A path id is not lowercase hex of the right length.
    InvalidId,
    /// A query parameter is malformed.
    InvalidQuery,
    /// The envelope is malformed.
    InvalidEnvelope,
    /// The batch framing is malformed.
    InvalidBatch,
    /// The body has the wrong content type.
    UnsupportedMediaType,
    /// The auth header does not parse.
    MalformedAuth,
    /// The request must be signed.
    AuthRequired,
    /// The request's timestamp is too far from the relay's clock.
    ClockSkew,
    /// The signature does not verify.
    BadSignature,
    /// The relay accepted this very signed request before (a replay).
    Replayed,
    /// The signer may not do this.
    Forbidden,
    /// The school revoked the membership of the key that signed.
    MembershipRevoked,
    /// The relay does not register new schools (its operator gave no registration
    /// token).
    RegistrationClosed,
    /// The registration token is missing or wrong.
    BadRegistrationToken,
    /// No such school.
    UnknownSchool,
    /// No such invite (expired, or a mistyped code).
    UnknownInvite,
    /// The school has published no revocation list.
    NoRevocationList,
    /// No such prekey bundle.
    UnknownBundle,
    /// The bundle has no one-time prekeys left.
    NoPrekeys,
    /// No such queue.
    UnknownQueue,
    /// No such object or endpoint.
    NotFound,
    /// The invite was redeemed before.
    InviteUsed,
    /// A revocation list older than the stored one.
    StaleSequence,
    /// The send id or receive id is taken by another key.
    QueueConflict,
    /// The body or a list is too large.
    TooLarge,
    /// Too many one-time prekeys.
    TooManyPrekeys,
    /// The queue is full.
    QueueFull,
    /// Too many requests from this client network, or one-time prekey takes by this
    /// member: retry after the `Retry-After` header's seconds.
    RateLimited,
    /// The relay cannot serve now: retry later.
    Unavailable,
    /// The relay failed.
    Internal,
    /// The endpoint does not accept this HTTP method.
    MethodNotAllowed,
    /// The request took too long.
    Timeout,
    /// The endpoint is a WebSocket: send an upgrade request.
    UpgradeRequired,
    /// The request is malformed in a way no other code names.
    BadRequest,
    /// A code this build does not know (sent by a newer relay).
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The code as sent on the wire (`"invite_used"`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidField => "invalid_field",
            Self::InvalidId => "invalid_id",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidEnvelope => "invalid_envelope",
            Self::InvalidBatch => "invalid_batch",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MalformedAuth => "malformed_auth",
            Self::AuthRequired => "auth_required",
            Self::ClockSkew => "clock_skew",
            Self::BadSignature => "bad_signature",
            Self::Replayed => "replayed",
            Self::Forbidden => "forbidden",
            Self::MembershipRevoked => "membership_revoked",
            Self::RegistrationClosed => "registration_closed",
            Self::BadRegistrationToken => "bad_registration_token",
            Self::UnknownSchool => "unknown_school",
            Self::UnknownInvite => "unknown_invite",
            Self::NoRevocationList => "no_revocation_list",
            Self::UnknownBundle => "unknown_bundle",
            Self::NoPrekeys => "no_prekeys",
            Self::UnknownQueue => "unknown_queue",
            Self::NotFound => "not_found",
            Self::InviteUsed => "invite_used",
            Self::StaleSequence => "stale_sequence",
            Self::QueueConflict => "queue_conflict",
            Self::TooLarge => "too_large",
            Self::TooManyPrekeys => "too_many_prekeys",
            Self::QueueFull => "queue_full",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Timeout => "timeout",
            Self::UpgradeRequired => "upgrade_required",
            Self::BadRequest => "bad_request",
            Self::Other => "other",
        }
    }

    /// Whether retrying the same request later may succeed (the relay is busy, rate
    /// limiting, or restarting).
    #[must_use]
    pub const fn is_transient(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Unavailable | Self::Internal | Self::Timeout
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub error: ErrorCode,
    /// What the client (or its user) should do.
    pub message: String,
}

/// The answer to a health check (`GET /v1/health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"`.
    pub status: String,
}

/// The body of a school registration (`POST /v1/schools`), signed by the root key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterSchoolRequest {
    /// The school's root public key: 32 bytes, base64url without padding.
    pub root_key: String,
}

/// The answer to a school registration (201 the first time, 200 after).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterSchoolResponse {
    /// The school id derived from the root key: 16 bytes, lowercase hex.
    pub school_id: String,
}

/// The body of an invite upload (`PUT /v1/schools/{school_id}/invites/{lookup_id}`),
/// signed by the school root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutInviteRequest {
    /// The encrypted invite record (at most 16 KiB), base64url without padding.
    pub record: String,
    /// The key that may redeem the invite: 32 bytes, base64url without padding.
    pub redeem_key: String,
    /// When the invite expires: unix seconds, in the future.
    pub expires_at: i64,
}

/// The answer to an invite lookup (`GET /v1/schools/{school_id}/invites/{lookup_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteResponse {
    /// The encrypted invite record, base64url without padding.
    pub record: String,
    /// Whether the invite has been redeemed.
    pub redeemed: bool,
}

/// The body of a redemption (`POST /v1/schools/{school_id}/invites/{lookup_id}/redeem`),
/// signed by the invite's redeem key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemInviteRequest {
    /// The member key allowed to own one directory entry: 32 bytes, base64url without
    /// padding.
    pub member_key: String,
}

/// The answer to a redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemInviteResponse {
    /// Always `true` (a refused redemption is an error).
    pub redeemed: bool,
}

/// The body of a revocation list upload (`PUT /v1/schools/{school_id}/revocations`),
/// signed by the school root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutRevocationsRequest {
    /// The signed list (opaque, at most 2,404,228 bytes: 100,000 grants), base64url
    /// without padding.
    pub list: String,
    /// Its sequence number: above the stored one, below 2^63.
    pub sequence: u64,
}

/// The most grant keys and invites one member revocation names.
pub const MAX_REVOKE_MEMBERS: usize = 1_000;

/// Members whose keys the relay stops accepting (`POST
/// /v1/schools/{school_id}/revoked-members`), signed by the school root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeMembersRequest {
    /// Revoked grants by their grant key (32 bytes, base64url without padding): the
    /// member key that redeemed each is disabled, and the grant can no longer redeem.
    #[serde(default)]
    pub grant_keys: Vec<String>,
    /// Revoked invites by lookup id (16 bytes, lowercase hex): the grant key of each is
    /// revoked as above (for an invite whose grant key the admin did not keep).
    #[serde(default)]
    pub invites: Vec<String>,
}

/// The most admissions one request lists or stores.
pub const MAX_ADMISSIONS: usize = 500;

/// A member asks to be admitted (`POST /v1/schools/{school_id}/admission`, signed by
/// its member key named in `Satchel-Key`): the relay keeps the certificate it bound
/// with its redeemed invite's grant, sealed under the directory key, for the admin to
/// admit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionRequest {
    /// The sealed member certificate (at most 4,124 bytes, base64url without padding;
    /// opaque to the relay).
    pub sealed_certificate: String,
}

/// The answer to an [`AdmissionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionResponse {
    /// The root's admission signature (64 bytes, base64url without padding), or `None`
    /// while the admin has not admitted this member yet.
    pub admission: Option<String>,
    /// When an office admitted the member: the office's member certificate (base64url),
    /// which the member verifies the admission with.
    #[serde(default)]
    pub admission_issuer: Option<String>,
}

/// Certificates waiting for the admin (`GET /v1/schools/{school_id}/admissions`,
/// signed by the school root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingAdmissions {
    /// At most [`MAX_ADMISSIONS`], oldest redemption first.
    pub pending: Vec<PendingAdmission>,
}

/// One member waiting to be admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingAdmission {
    /// The member key that redeemed the invite (32 bytes, base64url).
    pub member_key: String,
    /// The grant key of the invite it redeemed (32 bytes, base64url).
    pub grant_key: String,
    /// The sealed certificate that member key handed in (base64url).
    pub sealed_certificate: String,
}

/// Admissions the admin signed (`PUT /v1/schools/{school_id}/admissions`, signed by the
/// school root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutAdmissionsRequest {
    /// At most [`MAX_ADMISSIONS`].
    pub admissions: Vec<Admission>,
}

/// One admission: the root's signature for the certificate a member key submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admission {
    /// The member key (32 bytes, base64url).
    pub member_key: String,
    /// The root's admission signature (64 bytes, base64url).
    pub admission: String,
}

/// The answer to a [`PutAdmissionsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutAdmissionsResponse {
    /// How many were stored (a repeated admission counts again).
    pub stored: u64,
}

/// The answer to a member revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeMembersResponse {
    /// Member keys disabled now (0 for grants nobody redeemed, or revoked before).
    pub revoked: u64,
}

/// The school's latest revocation list (`GET /v1/schools/{school_id}/revocations`, or
/// `…/revocations?since=SEQ`, which answers `304 Not Modified` without a body when the
/// stored list's sequence is not above `SEQ`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocations {
    /// The signed list (unverified by the relay), base64url without padding.
    pub list: String,
    /// Its sequence number.
    pub sequence: u64,
}

/// The body of a directory write (`PUT /v1/schools/{school_id}/directory/{entry_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutDirectoryEntryRequest {
    /// The encrypted entry (at most 32 KiB), base64url without padding.
    pub entry: String,
}

/// The answer to a directory write (201 created, 200 updated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntryPut {
    /// The entry's id: 16 bytes, lowercase hex.
    pub entry_id: String,
    /// When it was written: unix seconds, rounded down to the minute.
    pub updated_at: i64,
}

/// One entry of the school directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// The entry's id: 16 bytes, lowercase hex.
    pub entry_id: String,
    /// The encrypted entry, base64url without padding.
    pub entry: String,
    /// When it was last written: unix seconds, rounded down to the minute.
    pub updated_at: i64,
}

/// The school directory (`GET /v1/schools/{school_id}/directory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryList {
    /// Every entry, by `entry_id`.
    pub entries: Vec<DirectoryEntry>,
}

/// The body of a one-time prekey upload (`POST /v1/prekeys/{bundle_id}`), signed by
/// `owner_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrekeyUpload {
    /// The bundle's owner: 32 bytes, base64url without padding. The first upload sets
    /// it; later ones must name the same key.
    pub owner_key: String,
    /// The keys to add (a bundle holds at most 1,000); an existing id is replaced.
    pub keys: Vec<UploadedPrekey>,
}

/// One key of a [`PrekeyUpload`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadedPrekey {
    /// The key's id in the bundle.
    pub id: u32,
    /// The public key: 32 bytes, base64url without padding.
    pub key: String,
    /// The device's signature binding the key to the bundle id (`docs/PROTOCOL.md`
    /// §3.3): 64 bytes, base64url without padding. The relay stores it unverified
    /// (it does not know the device key); initiators verify it.
    pub signature: String,
}

/// A one-time prekey handed out (`POST /v1/prekeys/{bundle_id}/take`, signed by a
/// member key of the bundle owner's school): removed from the bundle, never handed out
/// again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakenPrekey {
    /// The key's id in the bundle.
    pub id: u32,
    /// The public key: 32 bytes, base64url without padding.
    pub key: String,
    /// The signature uploaded with it: 64 bytes, base64url without padding. Absent for
    /// a key uploaded before relays stored signatures; such a key must not be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// How many one-time prekeys a bundle holds (`GET /v1/prekeys/{bundle_id}/count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrekeyCount {
    /// The number of keys left.
    pub count: u64,
}

/// The body of a queue creation (`POST /v1/queues`), proved by `auth_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateQueueRequest {
    /// The id senders deposit to: 16 bytes, base64url without padding.
    pub send_id: String,
    /// The queue's auth key: 32 bytes, base64url without padding.
    pub auth_key: String,
    /// Whether this is the device's contact mailbox (first contacts): the relay then
    /// limits how many deposits each sending network makes into it. Optional, default
    /// `false`; creating an existing queue again with `true` marks it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mailbox: bool,
}

/// The answer to a queue creation (201 created, 200 the same pair existed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedQueue {
    /// The queue's receive id (derived from the auth key): 16 bytes, lowercase hex.
    pub receive_id: String,
}

/// One fetched message (`GET /v1/queues/{receive_id}/messages`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedMessage {
    /// The relay's id: acknowledge with it.
    pub id: u64,
    /// The envelope, base64url without padding.
    pub envelope: String,
}

/// The answer to a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchResponse {
    /// Oldest first.
    pub messages: Vec<FetchedMessage>,
    /// Whether more messages wait after these (the page was cut by the count or the
    /// relay's byte limit): fetch again after the last id. `None` from a relay older
    /// than this field; then a page shorter than the limit means "no more".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more: Option<bool>,
}

/// The body of an acknowledgement (`POST /v1/queues/{receive_id}/ack`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// The ids to delete (at most 1,000).
    pub ids: Vec<u64>,
}

/// The answer to a deposit (`POST /v1/envelopes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposited {
    /// The stored message's id.
    pub id: u64,
}

/// The answer to a batch deposit (`POST /v1/envelopes/batch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchDepositResponse {
    /// One result per envelope, in the order of the batch.
    pub results: Vec<BatchItemResult>,
}

/// What became of one envelope of a batch: `{"id": n}` or `{"error": code}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchItemResult {
    /// Stored, committed with the rest of the batch.
    Stored {
        /// The stored message's id.
        id: u64,
    },
    /// Refused.
    Failed {
        /// Why: `invalid_envelope`, `too_large`, `unknown_queue` or `queue_full`.
        error: ErrorCode,
    },
}

/// The answer to a pending-mail query (`POST /v1/queues/pending`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingResponse {
    /// Receive ids (lowercase hex) of the asked queues that hold mail.
    pub pending: Vec<String>,
}

/// Paths of the relay's endpoints (ids as lowercase hex).
pub mod paths {
    /// `GET` the relay's health.
    pub const HEALTH: &str = "/v1/health";
    /// `POST` a school registration.
    pub const SCHOOLS: &str = "/v1/schools";
    /// `POST` a deposit.
    pub const ENVELOPES: &str = "/v1/envelopes";
    /// `POST` a batch deposit.
    pub const ENVELOPES_BATCH: &str = "/v1/envelopes/batch";
    /// `POST` a shared deposit: one group message for many queues
    /// ([`crate::shared_deposit`]).
    pub const ENVELOPES_SHARED: &str = "/v1/envelopes/shared";
    /// `POST` a pending-mail query.
    pub const PENDING: &str = "/v1/queues/pending";
    /// `POST` a new queue.
    pub const QUEUES: &str = "/v1/queues";

    /// `PUT`, `GET` or `DELETE` an invite.
    #[must_use]
    pub fn invite(school_id_hex: &str, lookup_id_hex: &str) -> String {
        format!("/v1/schools/{school_id_hex}/invites/{lookup_id_hex}")
    }

    /// `POST` a redemption of an invite.
    #[must_use]
    pub fn invite_redeem(school_id_hex: &str, lookup_id_hex: &str) -> String {
        format!("/v1/schools/{school_id_hex}/invites/{lookup_id_hex}/redeem")
    }

    /// `PUT` or `GET` a school's revocation list.
    #[must_use]
    pub fn revocations(school_id_hex: &str) -> String {
        format!("/v1/schools/{school_id_hex}/revocations")
    }

    /// `POST` a member's request to be admitted (its certificate; answers the
    /// admission once the admin signed it).
    #[must_use]
    pub fn admission(school_id_hex: &str) -> String {
        format!("/v1/schools/{school_id_hex}/admission")
    }

    /// `GET` (pending) or `PUT` (signed) admissions, as the school root.
    #[must_use]
    pub fn admissions(school_id_hex: &str) -> String {
        format!("/v1/schools/{school_id_hex}/admissions")
    }

    /// `POST` members the relay stops accepting.
    #[must_use]
    pub fn revoked_members(school_id_hex: &str) -> String {
        format!("/v1/schools/{school_id_hex}/revoked-members")
    }

    /// `GET` a school's revocation list only if its sequence is above `since` (else
    /// `304 Not Modified`).
    #[must_use]
    pub fn revocations_since(school_id_hex: &str, since: u64) -> String {
        format!("/v1/schools/{school_id_hex}/revocations?since={since}")
    }

    /// `GET` a school's directory.
    #[must_use]
    pub fn directory(school_id_hex: &str) -> String {
        format!("/v1/schools/{school_id_hex}/directory")
    }

    /// `PUT` or `DELETE` a directory entry.
    #[must_use]
    pub fn directory_entry(school_id_hex: &str, entry_id_hex: &str) -> String {
        format!("/v1/schools/{school_id_hex}/directory/{entry_id_hex}")
    }

    /// `POST` one-time prekeys to a bundle.
    #[must_use]
    pub fn prekeys(bundle_id_hex: &str) -> String {
        format!("/v1/prekeys/{bundle_id_hex}")
    }

    /// `POST` to take one one-time prekey of a bundle (signed by a member key named in
    /// `Satchel-Key`).
    #[must_use]
    pub fn prekey_take(bundle_id_hex: &str) -> String {
        format!("/v1/prekeys/{bundle_id_hex}/take")
    }

    /// `GET` the number of one-time prekeys a bundle holds.
    #[must_use]
    pub fn prekey_count(bundle_id_hex: &str) -> String {
        format!("/v1/prekeys/{bundle_id_hex}/count")
    }

    /// `DELETE` a queue.
    #[must_use]
    pub fn queue(receive_id_hex: &str) -> String {
        format!("/v1/queues/{receive_id_hex}")
    }

    /// `GET` messages of a queue after `after`, at most `limit`.
    #[must_use]
    pub fn queue_messages(receive_id_hex: &str, after: u64, limit: u32) -> String {
        format!("/v1/queues/{receive_id_hex}/messages?after={after}&limit={limit}")
    }

    /// `POST` an acknowledgement.
    #[must_use]
    pub fn queue_ack(receive_id_hex: &str) -> String {
        format!("/v1/queues/{receive_id_hex}/ack")
    }
}

#[cfg(test)]
mod tests {
    use super::{
        BatchDepositResponse, BatchItemResult, CreateQueueRequest, DirectoryList, ErrorCode,
        PrekeyUpload, UploadedPrekey,
    };

    #[test]
    fn batch_results_are_an_id_or_an_error_code() {
        let answer = BatchDepositResponse {
            results: vec![
                BatchItemResult::Stored { id: 1235 },
                BatchItemResult::Failed {
                    error: ErrorCode::InvalidEnvelope,
                },
            ],
        };
        let json = serde_json::to_string(&answer).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"results":[{"id":1235},{"error":"invalid_envelope"}]}"#
        );
        assert_eq!(serde_json::from_str(&json).ok(), Some(answer));
    }

    #[test]
    fn requests_reject_unknown_fields_and_answers_ignore_them() {
        let extra = r#"{"send_id":"AA","auth_key":"AA","more":1}"#;
        assert!(serde_json::from_str::<CreateQueueRequest>(extra).is_err());
        let nested = r#"{"owner_key":"AA","keys":[{"id":1,"key":"AA","signature":"AA","more":1}]}"#;
        assert!(serde_json::from_str::<PrekeyUpload>(nested).is_err());
        let newer =
            r#"{"entries":[{"entry_id":"00","entry":"AA","updated_at":60,"more":1}],"more":1}"#;
        let list: Option<DirectoryList> = serde_json::from_str(newer).ok();
        assert_eq!(list.map(|l| l.entries.len()), Some(1));
    }

    #[test]
    fn upload_keeps_its_wire_shape() {
        let upload = PrekeyUpload {
            owner_key: "b3du".to_owned(),
            keys: vec![UploadedPrekey {
                id: 17,
                key: "a2V5".to_owned(),
                signature: "c2ln".to_owned(),
            }],
        };
        assert_eq!(
            serde_json::to_string(&upload).unwrap_or_default(),
            r#"{"owner_key":"b3du","keys":[{"id":17,"key":"a2V5","signature":"c2ln"}]}"#
        );
    }

    #[test]
    fn codes_round_trip_through_json_as_their_wire_names() {
        for code in [
            ErrorCode::InviteUsed,
            ErrorCode::UnknownQueue,
            ErrorCode::QueueConflict,
            ErrorCode::MethodNotAllowed,
            ErrorCode::RateLimited,
            ErrorCode::Replayed,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).ok(), Some(code));
        }
    }
}
