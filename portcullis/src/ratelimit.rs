//! Rate limiting for credentials sign-in (SECURITY.md CRD-06, CRD-07, FLT-05).
//!
//! With a [`RateLimiter`] configured ([`AuthConfigBuilder::rate_limiter`]), every
//! `POST /callback/:credentials` that passes the CSRF check counts one hit, **before**
//! `authorize` runs, against two keys:
//!
//! - `cred:id:{sha256 hex of the trimmed, lowercased username (or email) field}`: brute
//!   force on one account (default 5 attempts per 15 minutes, see [`RateLimits`]). A body
//!   with neither field counts against the hash of the empty string.
//! - `cred:ip:{client ip}`, when the framework layer supplied a [`ClientIp`]: password
//!   spraying from one address (default 20 attempts per minute). The core never reads
//!   `X-Forwarded-For`: rotating that header does not give a fresh bucket; the framework
//!   layer decides which proxies it trusts when it sets [`ClientIp`].
//!
//! Over either limit the answer is `429 {"error":"TooManyRequests"}` with `Retry-After`
//! (seconds, rounded up); `authorize` is not called and no cookie changes. When the limiter
//! fails (Redis down, say) the answer is `503 {"error":"RateLimiterUnavailable"}` with
//! `Retry-After`: the limiter fails closed, sign-in is never unlimited (FLT-05).
//!
//! [`AuthConfigBuilder::rate_limiter`]: crate::AuthConfigBuilder::rate_limiter
//! [`ClientIp`]: crate::ClientIp

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::adapter::AdapterError;

/// What a [`RateLimiter`] decided about one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the hit is within the limit.
    pub allowed: bool,
    /// How long until the current window ends and the key's count starts again.
    pub retry_after: Duration,
}

/// Counts attempts per key in fixed windows.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one hit for `key` in its current window and says whether the count is within
    /// `limit` (the `limit`-th hit is allowed, the next is not), with the time until the
    /// window ends. A key's window starts with its first hit and lasts `window`. Hits over
    /// the limit still count. Keys are short ASCII strings chosen by portcullis
    /// (`cred:id:…`, `cred:ip:…`). An error (the store cannot be reached) makes portcullis
    /// refuse the attempt with 503: it never lets an attempt through uncounted.
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, AdapterError>;
}

/// The limits portcullis applies when a [`RateLimiter`] is configured: `(attempts,
/// window)` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Attempts per account identifier (default 5 per 15 minutes).
    pub per_identifier: (u32, Duration),
    /// Attempts per client IP (default 20 per minute), when the IP is known.
    pub per_ip: (u32, Duration),
    /// Emails requested per address: sign-in links, sign-up verification and password
    /// resets (default 5 per hour). Stops mail-bombing one inbox (SECURITY.md EML-13).
    pub email_per_identifier: (u32, Duration),
    /// Emails requested per client IP (default 20 per hour): one client cannot send mail
    /// to thousands of addresses.
    pub email_per_ip: (u32, Duration),
    /// Uses of email links per address (default 10 per 15 minutes): bounds token guessing
    /// (SECURITY.md EML-14) on top of the 256-bit tokens.
    pub verify_per_identifier: (u32, Duration),
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_identifier: (5, Duration::from_secs(15 * 60)),
            per_ip: (20, Duration::from_secs(60)),
            email_per_identifier: (5, Duration::from_secs(60 * 60)),
            email_per_ip: (20, Duration::from_secs(60 * 60)),
            verify_per_identifier: (10, Duration::from_secs(15 * 60)),
        }
    }
}

/// A clock for [`MemoryRateLimiter`].
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// An in-process [`RateLimiter`]: fixed windows in a bounded map. Counts are per process:
/// behind a load balancer with several instances, use a shared store (`portcullis-redis`).
///
/// The map holds at most `capacity` keys (default 100,000). Expired entries are pruned
/// when it is full (and every 1,024 hits); if it is still full, the entries whose windows
/// started earliest are dropped to make room.
pub struct MemoryRateLimiter {
    entries: Mutex<State>,
    capacity: usize,
    clock: Clock,
}

#[derive(Default)]
struct State {
    map: HashMap<String, Entry>,
    hits: u64,
}

struct Entry {
    start: Instant,
    window: Duration,
    count: u32,
}

impl Entry {
    fn ends(&self) -> Instant {
        self.start + self.window
    }
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRateLimiter {
    /// An empty limiter holding up to 100,000 keys, on the system's monotonic clock.
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(State::default()),
            capacity: 100_000,
            clock: Arc::new(Instant::now),
        }
    }

    /// The most keys held at once (at least 1).
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Uses `clock` instead of [`Instant::now`] (for tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is one
        // assignment), so a poisoned lock is used as is.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn hit_now(&self, key: &str, limit: u32, window: Duration) -> RateDecision {
        let now = (self.clock)();
        let mut state = self.lock();
        state.hits = state.hits.wrapping_add(1);
        let full = state.map.len() >= self.capacity && !state.map.contains_key(key);
        if full || state.hits & 1023 == 0 {
            state.map.retain(|_, e| e.ends() > now);
        }
        while state.map.len() >= self.capacity && !state.map.contains_key(key) {
            let oldest = state
                .map
                .iter()
                .min_by_key(|(_, e)| e.start)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    state.map.remove(&k);
                }
                None => break,
            }
        }
        let entry = state.map.entry(key.to_owned()).or_insert(Entry {
            start: now,
            window,
            count: 0,
        });
        if entry.ends() <= now {
            *entry = Entry {
                start: now,
                window,
                count: 0,
            };
        }
        entry.count = entry.count.saturating_add(1);
        RateDecision {
            allowed: entry.count <= limit,
            retry_after: entry.ends().saturating_duration_since(now),
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, AdapterError> {
        Ok(self.hit_now(key, limit, window))
    }
}

/// `Retry-After` seconds: the duration rounded up, at least 1.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fake_clock() -> (Clock, Arc<Mutex<Instant>>) {
        let t = Arc::new(Mutex::new(Instant::now()));
        let c = t.clone();
        (Arc::new(move || *c.lock().unwrap()), t)
    }

    #[test]
    fn fixed_window_counts_and_resets() {
        let (clock, t) = fake_clock();
        let l = MemoryRateLimiter::new().with_clock(clock);
        let w = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.hit_now("k", 3, w).allowed);
        }
        let d = l.hit_now("k", 3, w);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, w);
        assert!(l.hit_now("other", 3, w).allowed);
        *t.lock().unwrap() += Duration::from_secs(59);
        let d = l.hit_now("k", 3, w);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(1));
        *t.lock().unwrap() += Duration::from_secs(1);
        assert!(l.hit_now("k", 3, w).allowed, "a new window");
    }

    #[test]
    fn map_stays_bounded_and_prunes() {
        let (clock, t) = fake_clock();
        let l = MemoryRateLimiter::new().with_capacity(4).with_clock(clock);
        let w = Duration::from_secs(10);
        for i in 0..10 {
            l.hit_now(&format!("k{i}"), 1, w);
            assert!(l.len() <= 4);
        }
        *t.lock().unwrap() += w;
        l.hit_now("fresh", 1, w);
        assert_eq!(l.len(), 1, "expired entries pruned");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
