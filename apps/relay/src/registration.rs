//! Who may register a school: the holder of the operator's registration token.
//!
//! A relay started without `--registration-token` registers no new schools (schools it
//! already has keep working). With a token, `POST /v1/schools` for a school the relay
//! does not know must carry it in the `Satchel-Registration` header; the relay compares
//! it in constant time and never logs it. The operator gives the token to the school's
//! administrator, who passes it to `satchel school create --registration-token`.

use std::fmt;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The shortest token accepted: 16 characters, e.g. `openssl rand -hex 16` gives 32.
pub const MIN_TOKEN_LEN: usize = 16;
/// The longest token accepted.
pub const MAX_TOKEN_LEN: usize = 200;

/// The operator's registration token. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct RegistrationToken {
    /// SHA-256 of the token: comparisons run over equal-length digests.
    digest: [u8; 32],
}

impl fmt::Debug for RegistrationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegistrationToken(..)")
    }
}

/// Why a token given to the relay is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Shorter than [`MIN_TOKEN_LEN`].
    #[error(
        "the registration token must be at least {MIN_TOKEN_LEN} characters \
         (for example the output of `openssl rand -hex 16`)"
    )]
    TooShort,
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("the registration token must be at most {MAX_TOKEN_LEN} characters")]
    TooLong,
    /// Not printable ASCII (it travels in an HTTP header).
    #[error("the registration token may only contain printable ASCII without spaces")]
    NotPrintable,
}

impl RegistrationToken {
    /// Checks and keeps `token`.
    ///
    /// # Errors
    /// [`TokenError`] for a token too short, too long, or not printable ASCII.
    pub fn new(token: &str) -> Result<Self, TokenError> {
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        Ok(Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether `presented` is this token (in constant time).
    #[must_use]
    pub fn matches(&self, presented: &[u8]) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented).into();
        bool::from(self.digest.ct_eq(&presented))
    }
}

/// Parses `--registration-token` for clap.
///
/// # Errors
/// The [`TokenError`] as text.
pub fn parse(token: &str) -> Result<RegistrationToken, TokenError> {
    RegistrationToken::new(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_compared_whole() {
        assert_eq!(
            RegistrationToken::new("short").err(),
            Some(TokenError::TooShort)
        );
        assert_eq!(
            RegistrationToken::new("sixteen chars ok").err(),
            Some(TokenError::NotPrintable)
        );
        assert_eq!(
            RegistrationToken::new(&"a".repeat(201)).err(),
            Some(TokenError::TooLong)
        );
        let token = RegistrationToken::new("0123456789abcdef").unwrap();
        assert!(token.matches(b"0123456789abcdef"));
        assert!(!token.matches(b"0123456789abcde"));
        assert!(!token.matches(b"0123456789abcdeF"));
        assert!(!token.matches(b""));
        assert_eq!(format!("{token:?}"), "RegistrationToken(..)");
    }
}
