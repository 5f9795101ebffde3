//! The Lua scripts that keep a session hash, its user's index and the expiry index
//! consistent. Each runs atomically on the server; `redis::Script` sends it by SHA-1 and
//! reloads it after a restart (`NOSCRIPT`).
//!
//! Times are milliseconds since the epoch. "Now" inside a script is the server's clock
//! (`TIME`), so TTLs agree with Redis's own expiry; the `expires` values come from the
//! application, whose clock should agree (NTP).
//!
//! The scripts rebuild `{prefix}session:{token}` and `{prefix}user-sessions:{hex(user id)}`
//! from the prefix and the stored user id, exactly as `keys.rs` does, because
//! `delete_session` cannot know the user before reading the row; likewise
//! `delete_verification_tokens` deletes the token keys its index names. Keys built or read
//! inside a script are undeclared, so these scripts need every key in one slot on Redis Cluster (a prefix
//! with a hash tag such as `{auth}:`); a standalone server needs nothing.

use std::sync::LazyLock;

use redis::Script;

/// Helpers shared by every script.
const PRELUDE: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n)
  return string.format('%.0f', n)
end
local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
local function session_key(prefix, token)
  return prefix .. 'session:' .. token
end
local function index_key(prefix, user_id)
  return prefix .. 'user-sessions:' .. hex(user_id)
end
-- Pushes the index's expiry out to `at` if it would otherwise end earlier: the index
-- lives as long as its longest-lived session, then disappears with it.
local function extend(key, at, now)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 or now + ttl < at then
    redis.call('PEXPIREAT', key, int(at))
  end
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// KEYS: session, user index, expiry index.
/// ARGV: prefix, token, expires, created_at, grace, then field/value pairs.
/// Returns 1 when created, 0 when the key exists. A session whose expiry (plus grace) has
/// already passed is accepted and not stored: Redis would drop it at once.
pub(crate) static CREATE_SESSION: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = now_ms()
local at = tonumber(ARGV[3]) + tonumber(ARGV[5])
-- Entries whose session has certainly expired by TTL: keeps the index bounded even
-- when delete_expired_sessions is never called.
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. int(now - tonumber(ARGV[5])))
if at <= now then return 1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIREAT', KEYS[1], int(at))
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
extend(KEYS[2], at, now)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 1
",
    )
});

/// KEYS: session, expiry index. ARGV: prefix, token, expires, last_used_at, grace.
/// Returns the updated row (flat field/value list), or nil when the session does not exist:
/// a deleted or expired session is never brought back.
pub(crate) static TOUCH_SESSION: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
-- Only ever forward: concurrent extensions never move the expiry back (RACE-03).
local function later(field, given)
  local stored = redis.call('HGET', KEYS[1], field)
  if stored and tonumber(stored) > tonumber(given) then return stored end
  return given
end
ARGV[3] = later('expires', ARGV[3])
redis.call('HSET', KEYS[1], 'expires', ARGV[3], 'last_used_at', later('last_used_at', ARGV[4]))
local row = redis.call('HGETALL', KEYS[1])
local user_id = redis.call('HGET', KEYS[1], 'user_id') or ''
local index = index_key(ARGV[1], user_id)
local now = now_ms()
local at = tonumber(ARGV[3]) + tonumber(ARGV[5])
if at <= now then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', index, ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[2])
else
  redis.call('PEXPIREAT', KEYS[1], int(at))
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  -- Normally a no-op; repairs the index should the entry be missing.
  redis.call('ZADD', index, redis.call('HGET', KEYS[1], 'created_at') or '0', ARGV[2])
  extend(index, at, now)
end
return row
",
    )
});

/// KEYS: session, expiry index. ARGV: prefix, token.
/// Returns the deleted row (flat field/value list), or nil when it did not exist.
pub(crate) static DELETE_SESSION: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local row = redis.call('HGETALL', KEYS[1])
if #row == 0 then return false end
local user_id = redis.call('HGET', KEYS[1], 'user_id') or ''
redis.call('DEL', KEYS[1])
redis.call('ZREM', index_key(ARGV[1], user_id), ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
return row
",
    )
});

/// KEYS: user index, expiry index. ARGV: prefix, user id.
/// Returns `{token, {field, value, …}}` for each live session, oldest first, and removes
/// index entries whose session is gone (expired by TTL).
pub(crate) static USER_SESSIONS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local out = {}
for _, token in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = session_key(ARGV[1], token)
  local owner = redis.call('HGET', key, 'user_id')
  if owner == ARGV[2] then
    table.insert(out, {token, redis.call('HGETALL', key)})
  else
    redis.call('ZREM', KEYS[1], token)
    if not owner then redis.call('ZREM', KEYS[2], token) end
  end
end
return out
",
    )
});

/// KEYS: user index, expiry index. ARGV: prefix, user id, token to keep ('' for none).
/// Returns how many sessions were deleted.
pub(crate) static DELETE_USER_SESSIONS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local n = 0
for _, token in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if token ~= ARGV[3] then
    local key = session_key(ARGV[1], token)
    local owner = redis.call('HGET', key, 'user_id')
    if owner == ARGV[2] then
      redis.call('DEL', key)
      n = n + 1
    end
    redis.call('ZREM', KEYS[1], token)
    if owner == ARGV[2] or not owner then redis.call('ZREM', KEYS[2], token) end
  end
end
return n
",
    )
});

/// KEYS: expiry index. ARGV: prefix, now, batch size.
/// Deletes up to one batch of sessions with `expires <= now`; returns `{deleted, examined}`.
/// Every examined entry leaves the range (removed, or re-scored to its stored expiry when
/// that is later), so repeating until `examined < batch` terminates.
pub(crate) static DELETE_EXPIRED_SESSIONS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local now = tonumber(ARGV[2])
local tokens = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
for _, token in ipairs(tokens) do
  local key = session_key(ARGV[1], token)
  local f = redis.call('HMGET', key, 'user_id', 'expires')
  local expires = tonumber(f[2])
  if f[1] and expires and expires <= now then
    redis.call('DEL', key)
    redis.call('ZREM', index_key(ARGV[1], f[1]), token)
    redis.call('ZREM', KEYS[1], token)
    n = n + 1
  elseif f[1] and expires then
    redis.call('ZADD', KEYS[1], f[2], token)
  else
    redis.call('ZREM', KEYS[1], token)
  end
end
return {n, #tokens}
",
    )
});

/// KEYS: token, the identifier's token index. ARGV: value, expires + grace.
/// Returns 1 when created, 0 when the pair exists. A token already past its expiry (plus
/// grace) is accepted and not stored.
///
/// The index is a sorted set of token key names scored by the key's expiry (expires +
/// grace); it lives as long as its longest-lived token. Entries whose token has certainly
/// expired by TTL are pruned on each create, so the index stays as small as the number of
/// live (or not yet expired, used) tokens.
pub(crate) static CREATE_VERIFICATION_TOKEN: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = now_ms()
local at = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. int(now))
if at <= now then return 1 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', int(at))
redis.call('ZADD', KEYS[2], int(at), KEYS[1])
extend(KEYS[2], at, now)
return 1
",
    )
});

/// KEYS: the identifier's token index.
/// Deletes every token the index names, and the index. Returns how many token keys
/// existed (a used or TTL-expired token's entry counts for nothing).
pub(crate) static DELETE_VERIFICATION_TOKENS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local n = 0
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', key)
end
redis.call('DEL', KEYS[1])
return n
",
    )
});
