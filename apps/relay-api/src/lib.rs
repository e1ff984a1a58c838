//! # satchel-relay-api
//!
//! The relay's wire contract (`docs/RELAY_API.md`), as types both sides compile against:
//! the auth header, the error codes a relay sends, and the JSON bodies of the queue
//! endpoints. Serde types only: no I/O, no crypto.
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
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// The header that carries a request's signature (`docs/RELAY_API.md`, "Authentication").
pub const AUTH_HEADER: &str = "satchel-auth";

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
    /// The signer may not do this.
    Forbidden,
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
    /// Too many requests on this connection: retry later.
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
            Self::Forbidden => "forbidden",
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

/// The answer to a pending-mail query (`POST /v1/queues/pending`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingResponse {
    /// Receive ids (lowercase hex) of the asked queues that hold mail.
    pub pending: Vec<String>,
}

/// Paths of the relay's endpoints (ids as lowercase hex).
pub mod paths {
    /// `POST` a deposit.
    pub const ENVELOPES: &str = "/v1/envelopes";
    /// `POST` a pending-mail query.
    pub const PENDING: &str = "/v1/queues/pending";
    /// `POST` a new queue.
    pub const QUEUES: &str = "/v1/queues";

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
    use super::ErrorCode;

    #[test]
    fn codes_round_trip_through_json_as_their_wire_names() {
        for code in [
            ErrorCode::InviteUsed,
            ErrorCode::UnknownQueue,
            ErrorCode::QueueConflict,
            ErrorCode::MethodNotAllowed,
            ErrorCode::RateLimited,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).ok(), Some(code));
        }
    }
}
