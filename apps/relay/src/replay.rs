//! The replay cache: every signed request the relay accepted, for as long as its
//! timestamp would still be accepted, so that a captured request cannot be sent again
//! (a replayed prekey upload would reinstall consumed one-time prekeys; a replayed invite
//! upload would restore a deleted invite).
//!
//! Each request carries a random nonce inside what it signs
//! (`satchel_core::relay_request`), so two honest identical requests differ. The cache
//! keeps the SHA-256 of the signed message (not the signature, which a verifier that is
//! not strict could accept in a second encoding), in memory only: after a restart the
//! relay refuses requests signed before it started (see [`ReplayCache::new`]), so nothing
//! accepted before the restart can be replayed after it.
//!
//! It is bounded: when it holds `capacity` live entries, new signed requests get
//! `503 unavailable` with `Retry-After` until entries expire (at most
//! 2 × [`MAX_CLOCK_SKEW_SECS`] later), rather than the cache growing without limit.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::auth::{MAX_CLOCK_SKEW_SECS, now_unix};
use crate::error::Error;

/// Live entries kept by default (about 90 bytes each: ~45 MB when full).
pub const DEFAULT_CAPACITY: usize = 500_000;

/// Signed requests accepted recently.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    /// Requests signed before this (Unix seconds) are refused: they may have been
    /// accepted by this relay before it restarted, when the cache was empty.
    started: i64,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    seen: HashSet<[u8; 32]>,
    /// In arrival order, with the time each stops mattering.
    order: VecDeque<(i64, [u8; 32])>,
}

impl ReplayCache {
    /// An empty cache holding at most `capacity` live entries; requests signed before
    /// now are refused by [`ReplayCache::accept`].
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            started: now_unix(),
            inner: Mutex::new(Entries::default()),
        }
    }

    /// Records that the request signed as `message` at `timestamp` was accepted.
    /// Call only after its signature verified (so nobody can fill the cache without a
    /// key).
    ///
    /// # Errors
    /// [`Error::Replayed`] if it was accepted before (or signed before the relay
    /// started); [`Error::Busy`] if the cache is full.
    pub fn accept(&self, message: &[u8], timestamp: u64) -> Result<(), Error> {
        let timestamp = i64::try_from(timestamp).unwrap_or(i64::MAX);
        if timestamp < self.started {
            return Err(Error::Replayed);
        }
        self.accept_at(message, timestamp, now_unix())
    }

    fn accept_at(&self, message: &[u8], timestamp: i64, now: i64) -> Result<(), Error> {
        let digest: [u8; 32] = Sha256::digest(message).into();
        let mut entries = self
            .inner
            .lock()
            .map_err(|_| Error::Internal("the replay cache lock was poisoned".to_owned()))?;
        while let Some(&(expires, key)) = entries.order.front() {
            if expires > now {
                break;
            }
            entries.order.pop_front();
            entries.seen.remove(&key);
        }
        if entries.seen.contains(&digest) {
            return Err(Error::Replayed);
        }
        if entries.seen.len() >= self.capacity {
            return Err(Error::Busy);
        }
        entries.seen.insert(digest);
        // After this the timestamp check refuses the request anyway.
        let expires = timestamp.saturating_add(MAX_CLOCK_SKEW_SECS);
        entries.order.push_back((expires, digest));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_accepted_once_then_forgotten_when_stale() {
        let cache = ReplayCache {
            capacity: 10,
            started: 0,
            inner: Mutex::new(Entries::default()),
        };
        assert!(cache.accept_at(b"one", 1_000, 1_000).is_ok());
        assert!(matches!(
            cache.accept_at(b"one", 1_000, 1_001),
            Err(Error::Replayed)
        ));
        assert!(cache.accept_at(b"two", 1_000, 1_001).is_ok());
        // Once the timestamp is out of the window, the entry goes (the relay's
        // timestamp check refuses such a request before it gets here).
        assert!(cache.accept_at(b"three", 1_400, 1_400).is_ok());
        let entries = cache.inner.lock().map(|e| e.seen.len()).unwrap_or(0);
        assert_eq!(entries, 1);
    }

    #[test]
    fn a_full_cache_refuses_rather_than_grows() {
        let cache = ReplayCache {
            capacity: 2,
            started: 0,
            inner: Mutex::new(Entries::default()),
        };
        assert!(cache.accept_at(b"a", 10, 10).is_ok());
        assert!(cache.accept_at(b"b", 10, 10).is_ok());
        assert!(matches!(cache.accept_at(b"c", 10, 10), Err(Error::Busy)));
        assert!(cache.accept_at(b"c", 10, 400).is_ok());
    }

    #[test]
    fn requests_signed_before_the_relay_started_are_refused() {
        let cache = ReplayCache::new(10);
        let before = u64::try_from(now_unix() - 5).unwrap_or(0);
        assert!(matches!(cache.accept(b"old", before), Err(Error::Replayed)));
    }
}
