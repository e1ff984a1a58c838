//! The per-member limit on one-time prekey takes: a token bucket per member key, in
//! memory only (a restart refills every bucket).
//!
//! Only members of the bundle owner's school get this far, so the map holds at most one
//! entry per member key that took a prekey recently; full buckets are pruned when it
//! grows past 10,000 entries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::PublicKey;

/// Buckets kept before full ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

/// Default takes per member and hour (`--prekey-takes-per-hour`).
pub const DEFAULT_TAKES_PER_HOUR: u32 = 60;
/// Default burst of takes per member (`--prekey-take-burst`).
pub const DEFAULT_TAKE_BURST: u32 = 20;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets of one-time prekey takes, one per member key.
#[derive(Debug)]
pub struct TakeLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<PublicKey, Bucket>>,
}

impl TakeLimiter {
    /// A limiter refilling `per_hour` takes an hour, holding at most `burst` (both at
    /// least 1).
    #[must_use]
    pub fn new(per_hour: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_hour.max(1)) / 3600.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `member`; `Err(wait)` with how long until the next one if
    /// the member is over its limit.
    ///
    /// # Errors
    /// The time to wait before a take can succeed.
    pub fn take(&self, member: &PublicKey) -> Result<(), Duration> {
        self.take_at(member, Instant::now())
    }

    fn take_at(&self, member: &PublicKey, now: Instant) -> Result<(), Duration> {
        // A poisoned lock only means another request panicked mid-update; the buckets
        // are still usable numbers.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(*member).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(Duration::from_secs_f64(missing / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::TakeLimiter;

    #[test]
    fn a_member_gets_the_burst_then_one_take_per_interval() {
        let limiter = TakeLimiter::new(60, 3);
        let (alice, bob) = ([1; 32], [2; 32]);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take_at(&alice, start), Ok(()));
        }
        let wait = limiter.take_at(&alice, start).err();
        assert!(
            wait.is_some_and(|w| w > Duration::from_secs(59) && w <= Duration::from_secs(60)),
            "{wait:?}"
        );
        // Another member has its own bucket.
        assert_eq!(limiter.take_at(&bob, start), Ok(()));
        // One take a minute at 60 an hour.
        let later = start + Duration::from_secs(61);
        assert_eq!(limiter.take_at(&alice, later), Ok(()));
        assert!(limiter.take_at(&alice, later).is_err());
    }
}
