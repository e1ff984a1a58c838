//! The one error type of the HTTP API.
//!
//! Every failure becomes `{"error": "<code>", "message": "<what to do>"}` with a status
//! code chosen in [`Error::status`]. Internal details are logged, never sent, and no
//! message contains ids, keys or payloads.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use satchel_relay_api::{ErrorBody, ErrorCode};

use crate::store::StoreError;

/// An API error. `Display` is the human message sent to the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not the JSON this endpoint expects.
    #[error("the request body is not valid JSON for this endpoint: {0}")]
    MalformedJson(String),
    /// A JSON field has the wrong encoding or length.
    #[error("field `{field}` must be {expected}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What it must be, e.g. "32 bytes in base64url without padding".
        expected: &'static str,
    },
    /// A path id is not lowercase hex of the right length.
    #[error("the {0} in the path must be {1} bytes as lowercase hex")]
    InvalidId(&'static str, usize),
    /// A query parameter is malformed.
    #[error("invalid query: {0}")]
    InvalidQuery(&'static str),
    /// The envelope does not parse.
    #[error("the body is not a valid envelope: {0}")]
    InvalidEnvelope(String),
    /// The batch framing is broken.
    #[error("the batch body is malformed: {0}")]
    InvalidBatch(&'static str),
    /// Deposits must be `application/octet-stream`.
    #[error("send the envelope with Content-Type: application/octet-stream")]
    UnsupportedMediaType,
    /// The `Satchel-Auth` header cannot be parsed.
    #[error(
        "the Satchel-Auth header must be `<unix seconds>.<16-byte nonce>.<signature>`, nonce and \
         signature in base64url without padding (an older app: update it)"
    )]
    MalformedAuth,
    /// The endpoint needs a signature.
    #[error("this request must be signed: add a Satchel-Auth header")]
    AuthRequired,
    /// The signed timestamp is too far from the relay's clock.
    #[error(
        "the signed timestamp is more than 300 seconds from the relay's clock; check the device clock"
    )]
    ClockSkew,
    /// The signature does not verify with the key this endpoint requires.
    #[error("the signature does not verify with the key this request needs")]
    BadSignature,
    /// This signed request was accepted before.
    #[error("this signed request was already used; sign each request afresh (a new nonce)")]
    Replayed,
    /// The signer may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The school revoked the membership of the signing key.
    #[error(
        "the school revoked this membership: the relay no longer accepts this member key; \
         ask the school if this is a mistake"
    )]
    MembershipRevoked,
    /// The relay registers no new schools.
    #[error(
        "this relay does not register new schools: its operator must start it with a \
         registration token (--registration-token) and give that token to the school's \
         administrator"
    )]
    RegistrationClosed,
    /// The registration token is missing or wrong.
    #[error(
        "registering a school on this relay needs the operator's registration token, and \
         the one given is missing or wrong: ask the relay's operator for it"
    )]
    BadRegistrationToken,
    /// The school is not registered.
    #[error("no school is registered with this id")]
    UnknownSchool,
    /// The invite does not exist or has expired.
    #[error("no such invite, or it has expired")]
    UnknownInvite,
    /// No revocation list was uploaded yet.
    #[error("this school has not published a revocation list")]
    NoRevocationList,
    /// The prekey bundle does not exist.
    #[error("no prekeys were uploaded under this bundle id")]
    UnknownBundle,
    /// No one-time prekey is left.
    #[error("no one-time prekeys are left; use the bundle without one")]
    NoPrekeys,
    /// The queue does not exist.
    #[error("no queue exists with this id")]
    UnknownQueue,
    /// No route matches.
    #[error("no such endpoint; see docs/RELAY_API.md")]
    NotFound,
    /// The invite was redeemed already.
    #[error("this invite has already been used; ask the school for a new one")]
    InviteUsed,
    /// The revocation sequence number did not increase.
    #[error("the sequence number must be higher than the stored one")]
    StaleSequence,
    /// The send id belongs to a queue with another key.
    #[error("a queue with this send id or key already exists with a different key or send id")]
    QueueConflict,
    /// Something is larger than allowed.
    #[error("{0} is too large")]
    TooLarge(&'static str),
    /// The bundle would hold more prekeys than allowed.
    #[error("a bundle holds at most {0} one-time prekeys; upload fewer")]
    TooManyPrekeys(u64),
    /// The queue is at its quota.
    #[error("the recipient's queue is full; try again later")]
    QueueFull,
    /// Too many requests on this connection.
    #[error("too many requests from your network; slow down and retry after a second")]
    RateLimited,
    /// This member took too many one-time prekeys recently.
    #[error(
        "this member took too many one-time prekeys recently; start the session without one, \
         or retry after {retry_after_secs} seconds"
    )]
    TooManyTakes {
        /// Seconds until the next take is allowed (sent as `Retry-After`).
        retry_after_secs: u64,
    },
    /// This sender's deposits into a contact mailbox are used up for now.
    #[error(
        "too many first messages from your network to this person for now; retry after \
         {retry_after_secs} seconds"
    )]
    MailboxBusy {
        /// Seconds until the next deposit is allowed (sent as `Retry-After`).
        retry_after_secs: u64,
    },
    /// This client network holds its share of large answers it has not read yet.
    #[error(
        "your network has too many large answers it has not read yet; read them, or retry \
         in a few seconds"
    )]
    UnreadAnswers,
    /// All clients together hold the relay's limit of large answers not read yet.
    #[error(
        "the relay holds too many answers its clients have not read yet; retry in a few seconds"
    )]
    AnswersBusy,
    /// The relay is shutting down.
    #[error("the relay is shutting down; retry shortly")]
    Unavailable,
    /// The relay cannot reach its database right now (it reconnects by itself).
    #[error("the relay cannot reach its database right now; retry in a few seconds")]
    DatabaseUnavailable,
    /// The disk holding the relay's database is full; nothing was written.
    #[error("the relay's storage is full; retry later (the operator has been told in the log)")]
    StorageFull,
    /// The relay cannot take more signed requests right now (its replay cache is full).
    #[error("the relay is too busy to take signed requests; retry in a minute")]
    Busy,
    /// Anything else: logged, sent as a bare 500.
    #[error("the relay had an internal error; the operator can find details in its log")]
    Internal(String),
}

impl Error {
    /// The HTTP status for this error: the single place where statuses are chosen.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_)
            | Self::InvalidField { .. }
            | Self::InvalidId(..)
            | Self::InvalidQuery(_)
            | Self::InvalidEnvelope(_)
            | Self::InvalidBatch(_)
            | Self::MalformedAuth => StatusCode::BAD_REQUEST,
            Self::AuthRequired | Self::ClockSkew | Self::BadSignature | Self::Replayed => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden(_)
            | Self::MembershipRevoked
            | Self::RegistrationClosed
            | Self::BadRegistrationToken => StatusCode::FORBIDDEN,
            Self::UnknownSchool
            | Self::UnknownInvite
            | Self::NoRevocationList
            | Self::UnknownBundle
            | Self::NoPrekeys
            | Self::UnknownQueue
            | Self::NotFound => StatusCode::NOT_FOUND,
            Self::InviteUsed | Self::StaleSequence | Self::QueueConflict => StatusCode::CONFLICT,
            Self::TooLarge(_) | Self::TooManyPrekeys(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::QueueFull
            | Self::RateLimited
            | Self::TooManyTakes { .. }
            | Self::MailboxBusy { .. }
            | Self::UnreadAnswers => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable
            | Self::Busy
            | Self::DatabaseUnavailable
            | Self::StorageFull
            | Self::AnswersBusy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code sent as `"error"`.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MalformedJson(_) => ErrorCode::MalformedJson,
            Self::InvalidField { .. } => ErrorCode::InvalidField,
            Self::InvalidId(..) => ErrorCode::InvalidId,
            Self::InvalidQuery(_) => ErrorCode::InvalidQuery,
            Self::InvalidEnvelope(_) => ErrorCode::InvalidEnvelope,
            Self::InvalidBatch(_) => ErrorCode::InvalidBatch,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::MalformedAuth => ErrorCode::MalformedAuth,
            Self::AuthRequired => ErrorCode::AuthRequired,
            Self::ClockSkew => ErrorCode::ClockSkew,
            Self::BadSignature => ErrorCode::BadSignature,
            Self::Replayed => ErrorCode::Replayed,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::MembershipRevoked => ErrorCode::MembershipRevoked,
            Self::RegistrationClosed => ErrorCode::RegistrationClosed,
            Self::BadRegistrationToken => ErrorCode::BadRegistrationToken,
            Self::UnknownSchool => ErrorCode::UnknownSchool,
            Self::UnknownInvite => ErrorCode::UnknownInvite,
            Self::NoRevocationList => ErrorCode::NoRevocationList,
            Self::UnknownBundle => ErrorCode::UnknownBundle,
            Self::NoPrekeys => ErrorCode::NoPrekeys,
            Self::UnknownQueue => ErrorCode::UnknownQueue,
            Self::NotFound => ErrorCode::NotFound,
            Self::InviteUsed => ErrorCode::InviteUsed,
            Self::StaleSequence => ErrorCode::StaleSequence,
            Self::QueueConflict => ErrorCode::QueueConflict,
            Self::TooLarge(_) => ErrorCode::TooLarge,
            Self::TooManyPrekeys(_) => ErrorCode::TooManyPrekeys,
            Self::QueueFull => ErrorCode::QueueFull,
            Self::RateLimited
            | Self::TooManyTakes { .. }
            | Self::MailboxBusy { .. }
            | Self::UnreadAnswers => ErrorCode::RateLimited,
            Self::Unavailable
            | Self::Busy
            | Self::DatabaseUnavailable
            | Self::StorageFull
            | Self::AnswersBusy => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// Builds a JSON error response for a status produced outside the handlers (a layer or
/// the router), so that every error the relay sends has the same shape.
#[must_use]
pub fn response_for_status(status: StatusCode) -> Response {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (
            ErrorCode::NotFound,
            "no such endpoint; see docs/RELAY_API.md",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this endpoint does not accept this HTTP method; see docs/RELAY_API.md",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            ErrorCode::Timeout,
            "the request took too long; retry, sending the body promptly",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::TooLarge, "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "this endpoint expects a different Content-Type",
        ),
        StatusCode::UPGRADE_REQUIRED => (
            ErrorCode::UpgradeRequired,
            "this endpoint is a WebSocket: send an upgrade request",
        ),
        status if status.is_server_error() => (
            ErrorCode::Internal,
            "the relay had an internal error; the operator can find details in its log",
        ),
        _ => (
            ErrorCode::BadRequest,
            "the request is malformed; see docs/RELAY_API.md",
        ),
    };
    (
        status,
        Json(ErrorBody {
            error: code,
            message: message.to_owned(),
        }),
    )
        .into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(detail = %detail, "internal error");
        }
        let status = self.status();
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.code(),
                message: self.to_string(),
            }),
        )
            .into_response();
        // For the error counter in `/metrics`.
        response.extensions_mut().insert(self.code());
        if let Self::TooManyTakes { retry_after_secs } | Self::MailboxBusy { retry_after_secs } =
            self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        let retry_after = match self {
            Self::Busy | Self::StorageFull => Some("60"),
            Self::DatabaseUnavailable | Self::Unavailable => Some("2"),
            Self::AnswersBusy => Some("5"),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::WriterStopped => Self::Unavailable,
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "the database is unavailable");
                Self::DatabaseUnavailable
            }
            StoreError::DiskFull => {
                tracing::error!(
                    "the disk holding the database is full: writes are refused until space is freed"
                );
                Self::StorageFull
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(format!("a storage task failed: {error}"))
    }
}

/// The result type of handlers.
pub type Result<T, E = Error> = std::result::Result<T, E>;
