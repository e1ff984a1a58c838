//! Request signatures: the relay's only authentication.
//!
//! A signed request carries `Satchel-Auth: <unix seconds>.<nonce>.<signature>` (nonce and
//! signature in base64url without padding) where the Ed25519 signature covers core's
//! [`RelayRequest::message`]:
//!
//! ```text
//! "Satchel relay request v2\n" || METHOD || "\n" || PATH_AND_QUERY || "\n"
//!     || timestamp (decimal) || "\n" || nonce (16 bytes) || SHA-256(body)
//! ```
//!
//! `SHA-256(body)` is the raw 32-byte digest (of the empty string for a body-less
//! request). The timestamp must be within [`MAX_CLOCK_SKEW_SECS`] of the relay's clock,
//! and a request whose signature verifies is accepted only once ([`ReplayCache`]).
//! Which key must have signed depends on the endpoint: plain keys are checked with
//! [`SignedRequest::verify`] (`verify_strict`), queue ownership with
//! [`SignedRequest::verify_queue`], which uses core's fetch proof over the same message.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method};
use ed25519_dalek::{Signature, VerifyingKey};
use satchel_core::ReceiveId;
use satchel_relay_api::AuthValue;

use crate::error::Error;
use crate::replay::ReplayCache;
use crate::store::PublicKey;

pub use satchel_relay_api::{AUTH_HEADER, KEY_HEADER};

/// How far a signed timestamp may be from the relay's clock, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The request a client signs (defined in core so client and relay agree).
pub use satchel_core::relay_request::RelayRequest;

/// The current unix time in seconds.
#[must_use]
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A request whose `Satchel-Auth` header parsed and whose timestamp is fresh; the
/// signature is checked by [`SignedRequest::verify`] or [`SignedRequest::verify_queue`]
/// once the handler knows which key must have signed.
#[derive(Debug)]
pub struct SignedRequest {
    message: Vec<u8>,
    timestamp: u64,
    signature: [u8; 64],
    /// Where accepted requests are remembered (`None` only for a router built without
    /// [`crate::http::router`]'s layers, e.g. a unit test).
    replay: Option<Arc<ReplayCache>>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Bytes,
}

impl SignedRequest {
    /// Checks the signature with a plain Ed25519 key (`verify_strict`).
    ///
    /// # Errors
    /// [`Error::BadSignature`] if it does not verify.
    pub fn verify(&self, key: &PublicKey) -> Result<(), Error> {
        let key = VerifyingKey::from_bytes(key).map_err(|_| Error::BadSignature)?;
        key.verify_strict(&self.message, &Signature::from_bytes(&self.signature))
            .map_err(|_| Error::BadSignature)?;
        self.remember()
    }

    /// The key named in the `Satchel-Key` header (a member signing as itself), if any.
    ///
    /// # Errors
    /// [`Error::MalformedAuth`] or [`Error::InvalidField`] if the header is not a
    /// 32-byte key in base64url.
    pub fn named_key(&self) -> Result<Option<PublicKey>, Error> {
        let Some(value) = self.headers.get(KEY_HEADER) else {
            return Ok(None);
        };
        let text = value.to_str().map_err(|_| Error::MalformedAuth)?;
        crate::http::decode_fixed::<32>("Satchel-Key header", crate::http::KEY_32, text).map(Some)
    }

    /// Records the verified request in the replay cache: a second use is refused.
    fn remember(&self) -> Result<(), Error> {
        match &self.replay {
            Some(cache) => cache.accept(&self.message, self.timestamp),
            None => Ok(()),
        }
    }

    /// Checks a queue-ownership proof: core's fetch proof over the request message.
    ///
    /// # Errors
    /// [`Error::BadSignature`] if it does not verify.
    pub fn verify_queue(&self, receive_id: &ReceiveId, auth_key: &PublicKey) -> Result<(), Error> {
        if satchel_core::verify_fetch_proof(receive_id, auth_key, &self.message, &self.signature) {
            self.remember()
        } else {
            Err(Error::BadSignature)
        }
    }

    fn parse(
        method: &Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
        replay: Option<Arc<ReplayCache>>,
    ) -> Result<Self, Error> {
        let value = headers.get(AUTH_HEADER).ok_or(Error::AuthRequired)?;
        let value = value.to_str().map_err(|_| Error::MalformedAuth)?;
        let auth = AuthValue::parse(value).map_err(|_| Error::MalformedAuth)?;
        if now_unix().unsigned_abs().abs_diff(auth.timestamp) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err(Error::ClockSkew);
        }
        let message = RelayRequest {
            method: method.as_str(),
            path_and_query,
            timestamp: auth.timestamp,
            nonce: auth.nonce,
            body: &body,
        }
        .message();
        Ok(Self {
            message,
            timestamp: auth.timestamp,
            signature: auth.signature,
            replay,
            headers,
            body,
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for SignedRequest {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        let path_and_query = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |pq| pq.as_str().to_owned(),
        );
        let headers = request.headers().clone();
        let replay = request.extensions().get::<Arc<ReplayCache>>().cloned();
        let RawBody(body) = RawBody::from_request(request, state).await?;
        Self::parse(&method, &path_and_query, headers, body, replay)
    }
}

/// The raw request body, with size and read failures mapped to [`Error`].
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(Error::TooLarge("the request body"))
            }
            Err(_) => Err(Error::MalformedJson(
                "the body could not be read".to_owned(),
            )),
        }
    }
}
