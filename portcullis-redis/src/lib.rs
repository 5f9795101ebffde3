//! # portcullis-redis
//!
//! A Redis store for [portcullis]: database sessions ([`SessionAdapter`]),
//! single-use verification tokens for magic links ([`VerificationTokenAdapter`]) and
//! per-user "not before" times that revoke JWT sessions ([`RevocationAdapter`]).
//!
//! ## Why users stay in SQL
//! Users and linked accounts are durable, relational data with uniqueness rules (one email,
//! one `(provider, providerAccountId)` pair) that need transactions across rows; they
//! belong in a database. Sessions and tokens are the opposite: small, hot, read on every
//! request, shared by every instance of the application, and meant to disappear on their
//! own. That is what Redis does well, so [`RedisAdapter`] implements no `UserAdapter`:
//! pair it with a SQL user store (`portcullis-sqlx`), as below.
//!
//! ## Quick start
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use portcullis::{Auth, AuthConfig, DefaultCallbacks};
//! use portcullis::adapter::memory::MemoryAdapter;
//! use portcullis_redis::RedisAdapter;
//!
//! // The user store: a SQL adapter in production (the memory adapter stands in here).
//! let users = Arc::new(MemoryAdapter::new());
//! // Sessions, magic-link tokens and revocations in Redis, shared by every instance.
//! let redis = Arc::new(RedisAdapter::connect("redis://127.0.0.1:6379").await?.with_prefix("myapp:auth:"));
//!
//! let config = AuthConfig::builder(DefaultCallbacks)
//!     .secret("0123456789abcdef0123456789abcdef-example")
//!     .url("https://example.com")
//!     .user_adapter(users)
//!     .session_adapter(redis.clone())
//!     .verification_token_adapter(redis.clone())
//!     .revocation_adapter(redis)
//!     .build()?;
//! let auth = Auth::new(config);
//! # let _ = auth; Ok(()) }
//! ```
//!
//! ## Key layout
//! Every key starts with the prefix (default `portcullis:`, see
//! [`RedisAdapter::with_prefix`]). After it comes a fixed kind word and parts that are
//! lowercase hex only: token hashes as given (SHA-256, 64 hex), user ids hex-encoded byte
//! by byte, identifiers (email addresses) as the SHA-256 of their UTF-8 bytes.
//!
//! | key | type | contents | expires |
//! |---|---|---|---|
//! | `{prefix}session:{token hash}` | hash | `user_id`, `expires`, `created_at`, `last_used_at` (ms since the epoch), `user_agent`, `ip` (absent when unknown) | at `expires` + grace (`PEXPIREAT`) |
//! | `{prefix}user-sessions:{hex(user id)}` | sorted set | the user's token hashes, scored by `created_at` | with the user's longest-lived session |
//! | `{prefix}session-expiry` | sorted set | every token hash, scored by `expires` | never; entries whose session has expired are pruned by each `create_session` and by `delete_expired_sessions` |
//! | `{prefix}verification:{sha256(identifier)}:{token hash}` | string | JSON `{"identifier": …, "expires": ms}` | at `expires` + grace (`PXAT`) |
//! | `{prefix}verification-index:{sha256(identifier)}` | sorted set | the identifier's token key names, scored by `expires` + grace; entries past it are pruned by each `create_verification_token` | with the identifier's longest-lived token |
//! | `{prefix}not-before:{hex(user id)}` | string | ms since the epoch | never |
//! | `{prefix}rate:{sha256(limiter key)}` | string | hits in the window ([`RedisRateLimiter`]) | at the window's end (`PEXPIRE`) |
//!
//! Session writes that touch several keys (create, touch, delete, list, bulk delete) run
//! as Lua scripts, so the session hash and both indexes always change together; so do
//! `create_verification_token` (the token and its index entry) and
//! `delete_verification_tokens` (every token the index names, then the index). Using a
//! token (`GETDEL`) leaves its index entry, which names a key that is gone and is pruned
//! once its score passes. Tokens created by a version of this crate without the index
//! are not found by `delete_verification_tokens`; they still expire on their own. Listing a
//! user's sessions also drops index entries whose session has expired.
//!
//! ## Expiry
//! Rows expire by Redis TTL, at `expires` plus the configured grace (default zero). Redis
//! checks a key's expiry on every access, so from that millisecond on (by the Redis
//! server's clock) the row reads as absent even before the background expiry cycle frees
//! it: an expired session reads `None`, an expired magic link is not found. portcullis
//! treats a missing session or token exactly as an expired one (signed out; `Verification`
//! error), so the outcome is the same as in a SQL store; what differs is that `session`,
//! `user_sessions` and `use_verification_token` never return rows past their expiry, where
//! the trait contract allows them. Give [`RedisAdapter::with_expiry_grace`] a duration to
//! keep rows that long past their expiry, with the contract holding in full during it.
//!
//! `delete_expired_sessions(now)` removes every session with `expires <= now` still held
//! (those within the grace period, or not yet expired by the Redis clock) using the
//! `session-expiry` index, in batches, and returns how many it removed; sessions Redis has
//! already dropped are not counted. With a zero grace there is no need to schedule it.
//!
//! ## Outages
//! Connection refused, reset or timed out, a server still loading, a cluster or primary
//! that is down: every such failure is [`AdapterError::Unavailable`] with the
//! [`redis::RedisError`] as its source, and portcullis answers `503` without signing
//! anyone out (SECURITY.md FLT-01). No call waits longer than the deadline
//! ([`RedisAdapter::with_timeout`], default 3 s; connection attempts time out after 2 s,
//! replies after 2 s). The underlying [`ConnectionManager`] reconnects by itself: once
//! Redis is back, the same adapter works again. It notices a dropped connection only when
//! a command fails on it, so reads and idempotent writes (`session`, `touch_session`,
//! `delete_session`, listing and bulk deletes, `delete_verification_tokens`, revocations)
//! are sent once more on the new connection, within the same deadline: the first request
//! after a Redis restart does not fail. Creating a row is repeated too, and on the repeat a row identical to the one being
//! created counts as created (keys are random tokens' hashes: only the first attempt can
//! have written it). Consuming a token (`GETDEL`) is repeated as well; only one `GETDEL`
//! can succeed, so the single use holds, and should the first attempt have consumed the
//! token with its reply lost, the repeat answers `None` (the link is spent).
//!
//! Redis without persistence loses everything on restart (SECURITY.md FLT-04): users are
//! signed out and pending magic links stop working, which is safe. **Revocations are lost
//! too**, and a revoked JWT session becomes valid again until it expires. Run Redis with
//! persistence (`appendonly yes`) if it holds revocations, or keep revocations in the SQL
//! store.
//!
//! ## Security
//! - Tokens reach Redis only as SHA-256 hashes: a dump yields no live session and no
//!   usable sign-in link.
//! - No caller input reaches a key name verbatim (SECURITY.md INJ-04): user ids and
//!   identifiers containing `:`, `*`, spaces, CRLF or `{hash tags}` cannot forge another
//!   key, collide with one, or pick a cluster slot. The adapter never runs `KEYS` or `SCAN`.
//! - Verification tokens are consumed with `GETDEL`: of concurrent uses exactly one gets
//!   the token (SECURITY.md EML-15). Requires Redis 6.2 or later.
//!
//! ## Deployment notes
//! - Redis 6.2 or later (`GETDEL`, `SET … PXAT`), reached at one address: a standalone
//!   server or a managed primary endpoint (redis-rs's Sentinel and Cluster clients are not
//!   built in). Should the keys ever live on a Cluster, give them a prefix with a hash tag
//!   (`{auth}:`) so they share one slot: the scripts touch keys they derive from stored data.
//! - `rediss://` (TLS) is not built in: redis-rs's rustls support needs a process-wide
//!   rustls crypto provider, which this crate does not pull in. A `rediss://` URL is
//!   refused with [`AdapterError::Other`]; use a TLS-terminating proxy, or a private
//!   network.
//! - The connection is multiplexed: one [`RedisAdapter`] (cheap to clone) serves every
//!   task; no pool is needed.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod keys;
mod ratelimit;
mod revocation;
mod scripts;
mod session;
mod verification;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use portcullis::adapter::AdapterError;
#[cfg(doc)]
use portcullis::adapter::{RevocationAdapter, SessionAdapter, VerificationTokenAdapter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, RedisResult, ScriptInvocation};
use time::OffsetDateTime;

pub use crate::error::RedisStoreError;
use crate::keys::{DEFAULT_PREFIX, Keys};
pub use crate::ratelimit::RedisRateLimiter;

/// Longest wait for a TCP connection (and handshake) to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for a reply on an open connection.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a call to the adapter may take, reconnection included.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Sessions, verification tokens and revocation times in Redis.
///
/// Cheap to clone: clones share one multiplexed, self-reconnecting connection.
///
/// # Examples
/// ```no_run
/// # async fn example() -> Result<(), portcullis::adapter::AdapterError> {
/// use std::time::Duration;
/// use portcullis_redis::RedisAdapter;
///
/// let redis = RedisAdapter::connect("redis://127.0.0.1:6379/0")
///     .await?
///     .with_prefix("shop:auth:")
///     .with_timeout(Duration::from_secs(2));
/// # let _ = redis; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisAdapter {
    conn: ConnectionManager,
    keys: Keys,
    grace: Duration,
    timeout: Duration,
}

impl fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connection: its URL may carry a password.
        f.debug_struct("RedisAdapter")
            .field("prefix", &self.keys.prefix())
            .field("grace", &self.grace)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `redis+unix:///path`) and checks that the server answers.
    ///
    /// The connection is a [`ConnectionManager`] configured by
    /// [`default_connection_config`](Self::default_connection_config).
    ///
    /// # Errors
    /// [`AdapterError::Unavailable`] when the server cannot be reached within the deadline;
    /// [`AdapterError::Other`] for a malformed URL, a `rediss://` URL (TLS is not built in),
    /// or an authentication failure.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn example() -> Result<(), portcullis::adapter::AdapterError> {
    /// let redis = portcullis_redis::RedisAdapter::connect("redis://127.0.0.1:6379").await?;
    /// # let _ = redis; Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, AdapterError> {
        let client = redis::Client::open(url).map_err(error::from_redis)?;
        let connecting =
            ConnectionManager::new_with_config(client, Self::default_connection_config());
        let conn = deadline(DEFAULT_TIMEOUT, connecting).await?;
        Ok(Self::from_connection_manager(conn))
    }

    /// Like [`connect`](Self::connect), but without connecting now: the first call
    /// connects. Lets an application start while Redis is still down; calls fail with
    /// [`AdapterError::Unavailable`] until it is up.
    ///
    /// # Errors
    /// [`AdapterError::Other`] for a malformed or `rediss://` URL, or when called outside a
    /// Tokio runtime.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let redis = portcullis_redis::RedisAdapter::connect_lazy("redis://127.0.0.1:6379").unwrap();
    /// assert_eq!(redis.prefix(), "portcullis:");
    /// # }
    /// ```
    pub fn connect_lazy(url: &str) -> Result<Self, AdapterError> {
        let client = redis::Client::open(url).map_err(error::from_redis)?;
        // The manager spawns a task on the current runtime, which would panic without one.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(AdapterError::other(RedisStoreError::NoRuntime));
        }
        let conn =
            ConnectionManager::new_lazy_with_config(client, Self::default_connection_config())
                .map_err(error::from_redis)?;
        Ok(Self::from_connection_manager(conn))
    }

    /// Wraps a connection manager the application configured itself (other timeouts,
    /// retries, RESP3). The adapter's own deadline still applies
    /// ([`with_timeout`](Self::with_timeout)).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use portcullis_redis::RedisAdapter;
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let config = RedisAdapter::default_connection_config().set_number_of_retries(0);
    /// let manager = redis::aio::ConnectionManager::new_with_config(client, config).await?;
    /// let redis = RedisAdapter::from_connection_manager(manager);
    /// # let _ = redis; Ok(()) }
    /// ```
    pub fn from_connection_manager(conn: ConnectionManager) -> Self {
        Self {
            conn,
            keys: Keys::new(DEFAULT_PREFIX.to_owned()),
            grace: Duration::ZERO,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The connection settings [`connect`](Self::connect) uses: connection attempts time
    /// out after 2 s, replies after 2 s, and a lost connection is retried once (after
    /// 100–500 ms) before calls fail, so an outage is reported within seconds instead of
    /// after the driver's default back-off.
    pub fn default_connection_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(500))
    }

    /// Puts every key under `prefix` (default `portcullis:`), so that several
    /// applications, or tests, can share one Redis. Use a fixed string ending in a
    /// separator; two adapters must not use prefixes where one starts with the other.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let redis = portcullis_redis::RedisAdapter::connect_lazy("redis://127.0.0.1:6379")
    ///     .unwrap()
    ///     .with_prefix("shop:auth:");
    /// assert_eq!(redis.prefix(), "shop:auth:");
    /// # }
    /// ```
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.keys = Keys::new(prefix.into());
        self
    }

    /// Keeps sessions and verification tokens for `grace` past their expiry before Redis
    /// drops them (default zero). During that time they are returned like live rows (the
    /// caller checks `expires`), as the trait contracts describe, and
    /// `delete_expired_sessions` removes them.
    #[must_use]
    pub fn with_expiry_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The longest one call may take, reconnection included (default 3 s); past it the
    /// call fails with [`AdapterError::Unavailable`] and [`RedisStoreError::Timeout`] as
    /// the source. The command may still run on the server if it was already sent.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    fn grace_ms(&self) -> i64 {
        i64::try_from(self.grace.as_millis()).unwrap_or(i64::MAX)
    }

    /// Runs one command under the deadline.
    async fn query<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        retry: Retry,
    ) -> Result<T, AdapterError> {
        let mut conn = self.conn.clone();
        let call = async move {
            match cmd.query_async(&mut conn).await {
                Err(e) if retry.applies(&e) => cmd.query_async(&mut conn).await,
                r => r,
            }
        };
        deadline(self.timeout, call).await
    }

    /// Runs one script under the deadline.
    async fn invoke<T: FromRedisValue>(
        &self,
        inv: &ScriptInvocation<'_>,
        retry: Retry,
    ) -> Result<T, AdapterError> {
        let mut conn = self.conn.clone();
        let call = async move {
            match inv.invoke_async(&mut conn).await {
                Err(e) if retry.applies(&e) => inv.invoke_async(&mut conn).await,
                r => r,
            }
        };
        deadline(self.timeout, call).await
    }
}

impl RedisAdapter {
    /// Runs a create script (it answers 1 when it stored the row, 0 when the key exists).
    ///
    /// Repeated once when the connection dropped under it; on the repeat, an existing row
    /// identical to this one (`is_ours`) counts as created: the key is a random token's
    /// hash, so only the first attempt can have written it.
    async fn create<F, Fut>(
        &self,
        inv: &ScriptInvocation<'_>,
        is_ours: F,
    ) -> Result<bool, AdapterError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<bool, AdapterError>>,
    {
        match self.invoke::<i64>(inv, Retry::Never).await {
            Ok(n) => Ok(n == 1),
            Err(e) if connection_dropped(&e) => {
                if self.invoke::<i64>(inv, Retry::Never).await? == 1 {
                    Ok(true)
                } else {
                    is_ours().await
                }
            }
            Err(e) => Err(e),
        }
    }
}

fn connection_dropped(e: &AdapterError) -> bool {
    match e {
        AdapterError::Unavailable(source) => source
            .downcast_ref::<redis::RedisError>()
            .is_some_and(redis::RedisError::is_connection_dropped),
        _ => false,
    }
}

/// Whether a call is sent again when the connection turns out to have dropped under it.
///
/// The connection manager only notices a dead connection when a command fails on it, and
/// then reconnects; without a retry, the first call after every Redis restart would fail
/// even when Redis is already back (FLT-04: no burst of 503s after a reconnect).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reads, writes that end in the same state when repeated, and `GETDEL` (it can
    /// succeed only once however often it is sent): sent once more, on the new connection,
    /// within the same deadline.
    Idempotent,
    /// Not repeated here (creates repeat themselves, see `RedisAdapter::create`).
    Never,
}

impl Retry {
    fn applies(self, e: &redis::RedisError) -> bool {
        self == Self::Idempotent && e.is_connection_dropped()
    }
}

async fn deadline<T>(
    limit: Duration,
    fut: impl Future<Output = RedisResult<T>>,
) -> Result<T, AdapterError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error::from_redis(e)),
        Err(_) => Err(AdapterError::unavailable(RedisStoreError::Timeout {
            after: limit,
        })),
    }
}

/// Milliseconds since the epoch, rounded down.
pub(crate) fn to_ms(t: OffsetDateTime) -> i64 {
    // Every OffsetDateTime fits: even ±999,999 years is about ±3.2e16 ms.
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

/// The instant `ms` milliseconds after the epoch, if representable.
pub(crate) fn from_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip_and_round_down() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(to_ms(t), 1_700_000_000_123);
        assert_eq!(
            from_ms(1_700_000_000_123).unwrap(),
            t.replace_nanosecond(123_000_000).unwrap()
        );
        let before_epoch = OffsetDateTime::from_unix_timestamp_nanos(-1_500_000).unwrap();
        assert_eq!(to_ms(before_epoch), -2);
        assert_eq!(from_ms(i64::MAX), None);
    }

    #[test]
    fn rediss_urls_are_refused_not_panicking() {
        let e = RedisAdapter::connect_lazy("rediss://127.0.0.1:6379").unwrap_err();
        assert!(matches!(e, AdapterError::Other(_)), "{e:?}");
        let e = RedisAdapter::connect_lazy("not a url").unwrap_err();
        assert!(matches!(e, AdapterError::Other(_)), "{e:?}");
        // A valid URL, but no runtime to run the connection on: an error, not a panic.
        let e = RedisAdapter::connect_lazy("redis://127.0.0.1:6379").unwrap_err();
        let source =
            std::error::Error::source(&e).and_then(|s| s.downcast_ref::<RedisStoreError>());
        assert_eq!(source, Some(&RedisStoreError::NoRuntime));
    }
}
