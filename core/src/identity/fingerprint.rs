//! Fingerprints and safety numbers for comparing identities out of band.
//!
//! An account's fingerprint is 30 decimal digits derived from its id and identity key by
//! 5,200 iterations of SHA-512 (the iteration count makes finding a colliding key
//! costly). Two people compare the *safety number* of their pair: both fingerprints in
//! a canonical order, 60 digits shown as twelve groups of five, identical on both
//! devices. The layout is Satchel's own; `docs/PROTOCOL.md` specifies it.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use super::ids::AccountId;

const FINGERPRINT_VERSION: [u8; 2] = [0, 1];
const ITERATIONS: usize = 5_200;
const DIGITS: usize = 30;

/// An account's 30-digit fingerprint.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of the account `account_id` with identity key `account_key`.
    #[must_use]
    pub fn of(account_id: &AccountId, account_key: &[u8; 32]) -> Self {
        let mut hash: Vec<u8> = Vec::with_capacity(64 + 32);
        hash.extend_from_slice(&FINGERPRINT_VERSION);
        hash.extend_from_slice(account_key);
        hash.extend_from_slice(account_id.as_bytes());
        for _ in 0..ITERATIONS {
            let mut hasher = Sha512::new();
            hasher.update(&hash);
            hasher.update(account_key);
            hash = hasher.finalize().to_vec();
        }
        let mut digits = String::with_capacity(DIGITS);
        for chunk in hash.chunks_exact(5).take(DIGITS / 5) {
            let value = chunk
                .iter()
                .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
            digits.push_str(&format!("{:05}", value % 100_000));
        }
        Self(digits)
    }

    /// The 30 digits without spaces.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_groups(f, &self.0)
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The safety number of two accounts: the same 60 digits on both sides.
#[derive(Clone, Eq)]
pub struct SafetyNumber(String);

impl SafetyNumber {
    /// The safety number between two accounts (order of arguments does not matter).
    #[must_use]
    pub fn between(a: &Fingerprint, b: &Fingerprint) -> Self {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        Self(format!("{}{}", low.0, high.0))
    }

    /// The 60 digits without spaces.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// Compares with digits a person typed or a QR code carried, ignoring spaces; in
    /// constant time over the digits.
    #[must_use]
    pub fn matches(&self, candidate: &str) -> bool {
        let cleaned: String = candidate.chars().filter(|c| !c.is_whitespace()).collect();
        cleaned.len() == self.0.len() && bool::from(cleaned.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

impl PartialEq for SafetyNumber {
    fn eq(&self, other: &Self) -> bool {
        self.matches(&other.0)
    }
}

impl std::fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_groups(f, &self.0)
    }
}

impl std::fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SafetyNumber({self})")
    }
}

fn write_groups(f: &mut std::fmt::Formatter<'_>, digits: &str) -> std::fmt::Result {
    for (index, group) in digits.as_bytes().chunks(5).enumerate() {
        if index > 0 {
            f.write_str(" ")?;
        }
        f.write_str(std::str::from_utf8(group).map_err(|_| std::fmt::Error)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safety_number_is_symmetric_and_matches_with_spaces() {
        let a = Fingerprint::of(&AccountId::from_bytes([1; 16]), &[2; 32]);
        let b = Fingerprint::of(&AccountId::from_bytes([3; 16]), &[4; 32]);
        let ab = SafetyNumber::between(&a, &b);
        let ba = SafetyNumber::between(&b, &a);
        assert_eq!(ab, ba);
        assert_eq!(ab.digits().len(), 60);
        assert!(ab.matches(&ab.to_string()));
        assert!(!ab.matches(&a.to_string()));
        assert_eq!(a.to_string().len(), 30 + 5);
    }
}
