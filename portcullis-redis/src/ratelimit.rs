//! [`RedisRateLimiter`]: portcullis's [`RateLimiter`] on Redis, shared by every instance.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use portcullis::adapter::{AdapterError, TokenHash};
use portcullis::{RateDecision, RateLimiter};
use redis::Script;

use crate::error::malformed;
use crate::{RedisAdapter, Retry};

/// KEYS: the counter. ARGV: the window in ms.
/// Counts one hit; the first hit of a window sets its expiry. Returns `{count, pttl}`.
static HIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
",
    )
});

/// A fixed-window [`RateLimiter`] in Redis: one counter per key,
/// `{prefix}rate:{sha256(key)}`, a string holding the window's count that expires with
/// the window (`INCR`, then `PEXPIRE` on the window's first hit, in one Lua script).
///
/// It shares the connection, prefix and deadline of the [`RedisAdapter`] it is made from.
/// When Redis cannot be reached, [`hit`](RateLimiter::hit) returns
/// [`AdapterError::Unavailable`] within the deadline and portcullis refuses the sign-in
/// with 503 (SECURITY.md FLT-05: fail closed, never unlimited). A hit whose reply was lost
/// to a dropped connection is sent once more, so it may count twice: the safe direction.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use portcullis::{AuthConfig, DefaultCallbacks};
/// use portcullis_redis::{RedisAdapter, RedisRateLimiter};
/// let redis = RedisAdapter::connect("redis://127.0.0.1:6379").await?;
/// let config = AuthConfig::builder(DefaultCallbacks)
///     .secret("0123456789abcdef0123456789abcdef-example")
///     .url("https://example.com")
///     .rate_limiter(Arc::new(RedisRateLimiter::new(&redis)))
///     .build()?;
/// # let _ = config; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisRateLimiter {
    redis: RedisAdapter,
}

impl RedisRateLimiter {
    /// A limiter on `adapter`'s connection, with its prefix and deadline.
    pub fn new(adapter: &RedisAdapter) -> Self {
        Self {
            redis: adapter.clone(),
        }
    }

    /// The Redis key of a limiter key: `{prefix}rate:{sha256 hex of key}`.
    pub fn key_for(&self, key: &str) -> String {
        format!(
            "{}rate:{}",
            self.redis.prefix(),
            TokenHash::of(key).as_str()
        )
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, AdapterError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut inv = HIT.key(self.key_for(key));
        inv.arg(window_ms);
        let (count, ttl): (i64, i64) = self.redis.invoke(&inv, Retry::Idempotent).await?;
        if count < 1 {
            return Err(malformed("rate", "count below one"));
        }
        let ttl = u64::try_from(ttl.max(1)).unwrap_or(1);
        Ok(RateDecision {
            allowed: count <= i64::from(limit),
            retry_after: Duration::from_millis(ttl),
        })
    }
}
