//! The per-sender limit on contact mailboxes: how many first contacts one client
//! network may deposit into one mailbox, so that one hostile member cannot fill a
//! teacher's mailbox (10,000 messages by default) and block everyone else's first
//! contacts while the teacher is offline.
//!
//! A token bucket per (mailbox, sending network), in memory only: the network is an
//! opaque per-process key ([`crate::server::ClientSlot::network_key`]), never stored or
//! logged. Conversation queues are not limited here (only the peer knows their send id).
//! Every storage backend keeps one of these next to its writer.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::MailboxSender;

/// Buckets are swept (full ones dropped) when the table grows past this.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of every (mailbox, network) pair seen recently.
#[derive(Debug, Default)]
pub struct MailboxBuckets {
    buckets: Mutex<HashMap<(i64, u64), Bucket>>,
}

impl MailboxBuckets {
    /// Takes one deposit from the bucket of `sender` into mailbox `queue` (a storage row
    /// id); `Err(wait)` when it is empty, with the time until the next token.
    ///
    /// # Errors
    /// The time to wait.
    pub fn take(&self, queue: i64, sender: &MailboxSender) -> Result<(), Duration> {
        let per_second = f64::from(sender.per_hour.max(1)) / 3600.0;
        let burst = f64::from(sender.burst.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, bucket| {
                let refilled = bucket.tokens
                    + now.saturating_duration_since(bucket.last).as_secs_f64() * per_second;
                refilled < burst
            });
        }
        let bucket = buckets.entry((queue, sender.network)).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// Drops the buckets of a deleted mailbox: a queue created later starts with full
    /// buckets, even where the backend gives it the same row id (SQLite may).
    pub fn forget(&self, queue: i64) {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets.retain(|(mailbox, _), _| *mailbox != queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_network_has_its_own_budget_per_mailbox() {
        let buckets = MailboxBuckets::default();
        let from = |network| MailboxSender {
            network,
            per_hour: 60,
            burst: 3,
        };
        for _ in 0..3 {
            assert!(buckets.take(1, &from(7)).is_ok());
        }
        let wait = buckets.take(1, &from(7)).unwrap_err();
        assert!(
            wait <= Duration::from_secs(60) && wait > Duration::from_secs(50),
            "{wait:?}"
        );
        // Another network, and another mailbox, are unaffected.
        assert!(buckets.take(1, &from(8)).is_ok());
        assert!(buckets.take(2, &from(7)).is_ok());
    }
}
