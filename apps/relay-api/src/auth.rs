//! The `Satchel-Auth` header's value: `TIMESTAMP "." NONCE "." SIGNATURE`, the nonce
//! (16 bytes) and the Ed25519 signature (64 bytes) in base64url without padding. What
//! the signature covers is core's `satchel_core::relay_request::RelayRequest::message`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The header that carries a request's signature (`docs/RELAY_API.md`, "Authentication").
pub const AUTH_HEADER: &str = "satchel-auth";

/// The header naming the member key that signed a directory write.
pub const KEY_HEADER: &str = "satchel-key";

/// The header carrying the operator's registration token when a school is registered
/// (`POST /v1/schools`).
pub const REGISTRATION_HEADER: &str = "satchel-registration";

/// The header in which an office (`docs/PROTOCOL.md` §5.8) sends its member certificate
/// (base64url) with a request it signed with its account key, where the school root's
/// signature is otherwise needed.
pub const OFFICE_HEADER: &str = "satchel-office";

/// A parsed `Satchel-Auth` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthValue {
    /// Unix seconds, as signed.
    pub timestamp: u64,
    /// The request's random nonce.
    pub nonce: [u8; 16],
    /// The signature.
    pub signature: [u8; 64],
}

/// Why a `Satchel-Auth` value does not parse (each is the relay's `malformed_auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthParseError {
    /// Not three parts separated by dots (a client of the old, nonce-less format).
    #[error("the Satchel-Auth header must be TIMESTAMP.NONCE.SIGNATURE")]
    Shape,
    /// The timestamp is not 1 to 19 decimal digits.
    #[error("the Satchel-Auth timestamp must be decimal Unix seconds")]
    Timestamp,
    /// The nonce is not 16 bytes of base64url.
    #[error("the Satchel-Auth nonce must be 16 bytes of base64url")]
    Nonce,
    /// The signature is not 64 bytes of base64url.
    #[error("the Satchel-Auth signature must be 64 bytes of base64url")]
    Signature,
}

impl AuthValue {
    /// The header value.
    ///
    /// ```
    /// use satchel_relay_api::AuthValue;
    ///
    /// let value = AuthValue { timestamp: 1_763_900_000, nonce: [7; 16], signature: [9; 64] };
    /// assert_eq!(AuthValue::parse(&value.to_header()), Ok(value));
    /// ```
    #[must_use]
    pub fn to_header(&self) -> String {
        format!(
            "{}.{}.{}",
            self.timestamp,
            URL_SAFE_NO_PAD.encode(self.nonce),
            URL_SAFE_NO_PAD.encode(self.signature)
        )
    }

    /// Parses a header value. The timestamp keeps the digits as sent: a value with
    /// leading zeros parses, but its signature covers the number's canonical digits.
    ///
    /// # Errors
    /// [`AuthParseError`] saying which part is wrong.
    pub fn parse(value: &str) -> Result<Self, AuthParseError> {
        let mut parts = value.split('.');
        let (Some(timestamp), Some(nonce), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthParseError::Shape);
        };
        if timestamp.is_empty()
            || timestamp.len() > 19
            || !timestamp.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(AuthParseError::Timestamp);
        }
        let timestamp = timestamp.parse().map_err(|_| AuthParseError::Timestamp)?;
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(AuthParseError::Nonce)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(AuthParseError::Signature)?;
        Ok(Self {
            timestamp,
            nonce,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_say_which_part() {
        let good = AuthValue {
            timestamp: 5,
            nonce: [1; 16],
            signature: [2; 64],
        }
        .to_header();
        let (ts, rest) = good.split_once('.').unwrap_or_default();
        let (nonce, signature) = rest.split_once('.').unwrap_or_default();
        assert_eq!(
            AuthValue::parse(&format!("{ts}.{signature}")),
            Err(AuthParseError::Shape)
        );
        assert_eq!(
            AuthValue::parse(&format!("{good}.x")),
            Err(AuthParseError::Shape)
        );
        assert_eq!(
            AuthValue::parse(&format!("-5.{nonce}.{signature}")),
            Err(AuthParseError::Timestamp)
        );
        assert_eq!(
            AuthValue::parse(&format!("5.{signature}.{signature}")),
            Err(AuthParseError::Nonce)
        );
        assert_eq!(
            AuthValue::parse(&format!("5.{nonce}.{nonce}")),
            Err(AuthParseError::Signature)
        );
    }
}
