//! Who may hold a connection, and how fast each client address may send requests.
//!
//! One table in memory, keyed by the client's network (an IPv4 address, or the /64 of an
//! IPv6 address, which is what one household or phone is usually given). Each entry
//! counts the connections that network holds and carries one token bucket shared by
//! all of them, so opening more connections buys no more requests. Entries vanish once
//! their network holds no connection and its bucket has refilled; nothing is written to
//! disk and addresses are never logged.
//!
//! A network that keeps sending over its rate goes into debt: each refused request
//! costs a token too (down to minus one burst), its connection is closed after the 429,
//! and new connections from it are refused at accept — cheaply, before any byte is read
//! — until the debt is paid back at the normal rate. A flood then costs the relay an
//! accept and a close per attempt instead of a parsed request and an answer.
//!
//! The table also counts the bytes of large answers (pages of fetched messages) that
//! are built but not yet sent to their client. A client that asks and never reads
//! would otherwise make the relay hold each answer until the connection's idle timeout.
//! The kernel takes only [`SEND_BUFFER_BYTES`] of each answer (see `server/mod.rs`);
//! the rest waits in the relay. A network may hold
//! [`ConnectionLimits::answer_bytes_per_address`] of such answers and all networks
//! together [`ConnectionLimits::answer_bytes_total`]; past that a large answer is
//! refused (429, or 503 when the whole relay is at its limit) until earlier answers are
//! read or their connections close.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::limits::RateLimit;

/// The kernel send buffer of each client connection. Without a fixed size, Linux grows
/// it up to `net.ipv4.tcp_wmem`'s maximum (4 MiB by default) for a client that does not
/// read, and a few networks of unread connections push the whole machine into TCP memory
/// pressure. 256 KiB (the kernel doubles it for its bookkeeping) still fills a link of
/// 20 Mbit/s at 100 ms round trip.
pub const SEND_BUFFER_BYTES: usize = 256 << 10;

/// The connection limits: in total and per client network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The most connections the relay holds at once.
    pub total: usize,
    /// The most connections one client network holds at once.
    pub per_address: usize,
    /// Bytes of unsent answers all client networks together may hold.
    pub answer_bytes_total: usize,
    /// Bytes of unsent answers one client network may hold.
    pub answer_bytes_per_address: usize,
}

/// The key of a client network: an IPv4 address, or the first 64 bits of an IPv6 one
/// (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Network {
    V4(u32),
    V6(u64),
}

impl Network {
    fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(u32::from(v4)),
                None => Self::V6(prefix_64(v6)),
            },
        }
    }
}

fn prefix_64(address: Ipv6Addr) -> u64 {
    // The upper 64 bits of the 128-bit address.
    u64::try_from(u128::from(address) >> 64).unwrap_or(u64::MAX)
}

#[derive(Debug)]
struct Entry {
    connections: usize,
    tokens: f64,
    last: Instant,
    /// Bytes of this network's answers not yet sent.
    answer_bytes: usize,
}

impl Entry {
    /// Refills the bucket for the time since it was last touched.
    fn refill(&mut self, now: Instant, rate: RateLimit) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.last = now;
    }
}

#[derive(Debug)]
struct Table {
    entries: HashMap<Network, Entry>,
    total: usize,
    /// Bytes of all networks' answers not yet sent.
    answer_bytes: usize,
    /// Admissions since the last sweep of idle entries.
    since_sweep: usize,
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The relay holds its maximum number of connections.
    Total,
    /// This client network holds its maximum number of connections.
    PerAddress,
    /// This client network is in debt for sending over its rate.
    OverRate,
}

/// The admission table shared by the accept loop and the rate-limit middleware.
#[derive(Debug)]
pub struct Admission {
    limits: ConnectionLimits,
    rate: RateLimit,
    /// Keys [`ClientSlot::network_key`]: random per process.
    hasher: RandomState,
    table: Mutex<Table>,
}

/// Sweep idle entries after this many admissions (and only then), so the table stays
/// about as large as the set of networks holding connections.
const SWEEP_EVERY: usize = 1024;

impl Admission {
    /// A table enforcing `limits`, with request buckets of `rate`.
    #[must_use]
    pub fn new(limits: ConnectionLimits, rate: RateLimit) -> Arc<Self> {
        Arc::new(Self {
            limits,
            rate,
            hasher: RandomState::new(),
            table: Mutex::new(Table {
                entries: HashMap::new(),
                total: 0,
                answer_bytes: 0,
                since_sweep: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table holds only counters: one left by a panicking thread is still usable.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `address`, or says which limit refuses it. The returned
    /// slot gives the connection back when dropped.
    ///
    /// # Errors
    /// [`Refused`] when a limit is reached.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<ClientSlot, Refused> {
        let network = Network::of(address);
        let now = Instant::now();
        let mut table = self.lock();
        if table.total >= self.limits.total {
            return Err(Refused::Total);
        }
        let rate = self.rate;
        let entry = table.entries.entry(network).or_insert(Entry {
            connections: 0,
            tokens: rate.burst,
            last: now,
            answer_bytes: 0,
        });
        if entry.connections >= self.limits.per_address {
            return Err(Refused::PerAddress);
        }
        entry.refill(now, rate);
        if entry.tokens < 0.0 {
            return Err(Refused::OverRate);
        }
        entry.connections += 1;
        table.total += 1;
        table.since_sweep += 1;
        if table.since_sweep >= SWEEP_EVERY {
            table.since_sweep = 0;
            table.entries.retain(|_, entry| {
                entry.refill(now, rate);
                entry.connections > 0 || entry.tokens < rate.burst || entry.answer_bytes > 0
            });
        }
        Ok(ClientSlot(Arc::new(Slot {
            admission: Arc::clone(self),
            network,
        })))
    }

    /// Connections held now (in total).
    #[must_use]
    pub fn connections(&self) -> usize {
        self.lock().total
    }

    fn release(&self, network: Network) {
        let mut table = self.lock();
        table.total = table.total.saturating_sub(1);
        let remove = match table.entries.get_mut(&network) {
            Some(entry) => {
                entry.connections = entry.connections.saturating_sub(1);
                // Keep a network whose bucket is not full: closing every connection and
                // reconnecting must not refill it early.
                entry.refill(Instant::now(), self.rate);
                entry.connections == 0 && entry.tokens >= self.rate.burst && entry.answer_bytes == 0
            }
            None => false,
        };
        if remove {
            table.entries.remove(&network);
        }
    }

    fn hold_answer(
        self: &Arc<Self>,
        network: Network,
        bytes: usize,
    ) -> Result<AnswerHold, AnswersRefused> {
        let mut table = self.lock();
        let total = table.answer_bytes.saturating_add(bytes);
        // The network's own share first: a network over it hears that it is the cause.
        let Some(entry) = table.entries.get_mut(&network) else {
            return Err(AnswersRefused::Network);
        };
        if entry.answer_bytes.saturating_add(bytes) > self.limits.answer_bytes_per_address {
            return Err(AnswersRefused::Network);
        }
        if total > self.limits.answer_bytes_total {
            return Err(AnswersRefused::Total);
        }
        entry.answer_bytes += bytes;
        table.answer_bytes = total;
        Ok(AnswerHold {
            admission: Arc::clone(self),
            network,
            bytes,
        })
    }

    fn release_answer(&self, network: Network, bytes: usize) {
        let mut table = self.lock();
        table.answer_bytes = table.answer_bytes.saturating_sub(bytes);
        if let Some(entry) = table.entries.get_mut(&network) {
            entry.answer_bytes = entry.answer_bytes.saturating_sub(bytes);
        }
    }

    fn take(&self, network: Network) -> bool {
        let mut table = self.lock();
        let Some(entry) = table.entries.get_mut(&network) else {
            return true;
        };
        entry.refill(Instant::now(), self.rate);
        if entry.tokens >= 1.0 {
            entry.tokens -= 1.0;
            true
        } else {
            // Refused requests cost too, down to one burst of debt.
            entry.tokens = (entry.tokens - 1.0).max(-self.rate.burst);
            false
        }
    }
}

#[derive(Debug)]
struct Slot {
    admission: Arc<Admission>,
    network: Network,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.release(self.network);
    }
}

/// One admitted connection's place in the table, attached to each of its requests (the
/// rate-limit middleware reads it). The place is given back when the connection and
/// every request of it are gone.
#[derive(Clone, Debug)]
pub struct ClientSlot(Arc<Slot>);

impl ClientSlot {
    /// An opaque key for this client network, stable while the relay runs and
    /// meaningless after (a keyed hash with a per-process random key): what per-sender
    /// limits are keyed by, never the address.
    #[must_use]
    pub fn network_key(&self) -> u64 {
        self.0.admission.hasher.hash_one(self.0.network)
    }

    /// Takes one request token from this client network's bucket; `false` when it is
    /// over its rate (then the refusal itself costs a token, see the module docs).
    #[must_use]
    pub fn take(&self) -> bool {
        self.0.admission.take(self.0.network)
    }

    /// Counts an answer of `bytes` against this client network's share until the
    /// returned hold is dropped: keep the hold with the answer's bytes ([`HeldAnswer`]).
    ///
    /// # Errors
    /// [`AnswersRefused`] when the network or the relay already holds its limit.
    pub fn hold_answer(&self, bytes: usize) -> Result<AnswerHold, AnswersRefused> {
        self.0.admission.hold_answer(self.0.network, bytes)
    }
}

/// Why a large answer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswersRefused {
    /// This client network holds its share of unsent answers.
    Network,
    /// All networks together hold the relay's limit.
    Total,
}

/// An answer's bytes counted against its network's share until dropped.
#[derive(Debug)]
pub struct AnswerHold {
    admission: Arc<Admission>,
    network: Network,
    bytes: usize,
}

impl Drop for AnswerHold {
    fn drop(&mut self) {
        self.admission.release_answer(self.network, self.bytes);
    }
}

/// An answer's bytes together with their hold. Made into `Bytes::from_owner`, the hold
/// ends when the last reference to the bytes is dropped: when the answer has been
/// handed to the kernel, or its connection is gone.
#[derive(Debug)]
pub struct HeldAnswer {
    /// The answer.
    pub bytes: Vec<u8>,
    /// Its place in the network's share.
    pub hold: AnswerHold,
}

impl AsRef<[u8]> for HeldAnswer {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_address: usize, per_second: u32) -> Arc<Admission> {
        Admission::new(
            ConnectionLimits {
                total,
                per_address,
                answer_bytes_total: 1 << 20,
                answer_bytes_per_address: 1 << 20,
            },
            RateLimit::new(per_second),
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn per_address_and_total_limits_hold_and_free_on_drop() {
        let table = admission(3, 2, 10);
        let a1 = table.admit(ip("10.0.0.1"));
        let a2 = table.admit(ip("10.0.0.1"));
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(table.admit(ip("10.0.0.1")).err(), Some(Refused::PerAddress));
        let b1 = table.admit(ip("10.0.0.2"));
        assert!(b1.is_ok());
        assert_eq!(table.admit(ip("10.0.0.3")).err(), Some(Refused::Total));
        assert_eq!(table.connections(), 3);
        drop(a1);
        assert_eq!(table.connections(), 2);
        assert!(table.admit(ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_network_and_mapped_ipv4_is_ipv4() {
        let table = admission(10, 1, 10);
        let _one = table.admit(ip("2001:db8:1:2::1"));
        assert_eq!(
            table.admit(ip("2001:db8:1:2:ffff::9")).err(),
            Some(Refused::PerAddress)
        );
        assert!(table.admit(ip("2001:db8:1:3::1")).is_ok());
        let _v4 = table.admit(ip("192.0.2.7"));
        assert_eq!(
            table.admit(ip("::ffff:192.0.2.7")).err(),
            Some(Refused::PerAddress)
        );
    }

    #[test]
    fn unsent_answers_are_held_per_network_and_in_total_until_dropped() {
        // 1 MiB per network and in total (see `admission` above).
        let table = admission(10, 10, 10);
        let (Ok(a), Ok(b)) = (table.admit(ip("10.0.0.1")), table.admit(ip("10.0.0.2"))) else {
            panic!("admitted");
        };
        let first = a.hold_answer(600 << 10);
        assert!(first.is_ok());
        assert_eq!(
            a.hold_answer(600 << 10).err(),
            Some(AnswersRefused::Network)
        );
        assert_eq!(b.hold_answer(600 << 10).err(), Some(AnswersRefused::Total));
        let small = b.hold_answer(400 << 10);
        assert!(small.is_ok());
        drop(first);
        assert!(b.hold_answer(600 << 10).is_ok());
        // A hold outlives its connection's slot and still gives its bytes back.
        let late = a.hold_answer(1 << 10);
        drop(a);
        drop(late);
        drop(small);
        assert!(b.hold_answer(1 << 20).is_ok());
    }

    #[test]
    fn connections_of_one_network_share_one_bucket() {
        // 1 per second, burst 2: two connections together get two requests, not four.
        let table = admission(10, 10, 1);
        let first = table.admit(ip("10.0.0.1"));
        let second = table.admit(ip("10.0.0.1"));
        let (Ok(first), Ok(second)) = (first, second) else {
            panic!("admitted");
        };
        assert!(first.take());
        assert!(second.take());
        // Closing both and reconnecting does not refill the bucket.
        drop((first, second));
        let Ok(again) = table.admit(ip("10.0.0.1")) else {
            panic!("admitted");
        };
        assert!(!again.take());
    }

    #[test]
    fn a_network_in_debt_is_refused_at_accept_until_it_has_paid() {
        // 1,000 per second, burst 2,000: a flood of 3,000 drives the bucket to -2,000.
        let table = admission(10, 10, 1_000);
        let Ok(flood) = table.admit(ip("10.0.0.1")) else {
            panic!("admitted");
        };
        let start = std::time::Instant::now();
        let refused = (0..3_000).filter(|_| !flood.take()).count();
        // The bucket refills while the loop runs (slowly, on a loaded machine): at most
        // 1,000 tokens a second of it.
        let refilled = start.elapsed().as_millis() + 1;
        assert!(
            u128::try_from(refused).unwrap_or(u128::MAX) + refilled >= 1_000,
            "{refused} refused in {:?}",
            start.elapsed()
        );
        assert_eq!(table.admit(ip("10.0.0.1")).err(), Some(Refused::OverRate));
        // Another network is not affected.
        assert!(table.admit(ip("10.0.0.2")).is_ok());
        // About two seconds repay a debt of 2,000 at 1,000/s.
        std::thread::sleep(std::time::Duration::from_millis(2_100));
        assert!(table.admit(ip("10.0.0.1")).is_ok());
    }
}
