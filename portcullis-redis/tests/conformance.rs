//! The conformance suite (`portcullis-adapter-tests`) against Redis: the session,
//! verification-token and revocation capabilities (Redis holds no users).
//!
//! The raw readers use their own connection and plain commands (`HGETALL`, `GET`,
//! `ZRANGE`) on the documented key layout, and decode with code of their own, never the
//! adapter's.
//!
//! Two configurations run:
//! - `redis_with_grace`: every case, with `with_expiry_grace(7 days)`. The contract says
//!   expired rows are still returned (until `delete_session` / `delete_expired_sessions`);
//!   the fixtures' expired rows are at most a few days old, so a 7-day grace keeps them.
//! - `redis_default`: the default configuration (rows dropped by TTL at `expires`), every case but
//!   the four that store rows already past their expiry and expect them back:
//!   `session_returns_row_even_expired`, `user_sessions_oldest_first`,
//!   `delete_expired_sessions_removes_due_rows`, `use_verification_token_returns_expired`.
//!   What the default does instead (the row reads as absent) is tested in `tests/redis.rs`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::TestRedis;
use portcullis::adapter::{RevocationAdapter, SessionAdapter, TokenHash, VerificationTokenAdapter};
use portcullis_adapter_tests::{Harness, RawResult, RawSession, RawVerificationToken};
use portcullis_redis::RedisAdapter;
use time::OffsetDateTime;

struct RedisHarness {
    t: TestRedis,
    adapter: Arc<RedisAdapter>,
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn time_of(ms: &str) -> RawResult<OffsetDateTime> {
    let ms: i64 = ms.parse()?;
    Ok(OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(ms) * 1_000_000,
    )?)
}

impl RedisHarness {
    async fn raw_cmd<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> RawResult<T> {
        let mut raw = self.t.raw.clone();
        Ok(cmd.query_async(&mut raw).await?)
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.t.prefix)
    }
}

#[async_trait::async_trait]
impl Harness for RedisHarness {
    fn sessions(&self) -> Option<Arc<dyn SessionAdapter>> {
        Some(self.adapter.clone())
    }
    fn verification_tokens(&self) -> Option<Arc<dyn VerificationTokenAdapter>> {
        Some(self.adapter.clone())
    }
    fn revocations(&self) -> Option<Arc<dyn RevocationAdapter>> {
        Some(self.adapter.clone())
    }

    async fn raw_session(&self, key: &TokenHash) -> RawResult<Option<RawSession>> {
        let fields: HashMap<String, String> = self
            .raw_cmd(redis::cmd("HGETALL").arg(self.key(&format!("session:{}", key.as_str()))))
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |name: &str| -> RawResult<&String> {
            fields
                .get(name)
                .ok_or_else(|| format!("session hash has no `{name}`").into())
        };
        Ok(Some(RawSession {
            key: key.as_str().to_owned(),
            user_id: get("user_id")?.clone(),
            expires: time_of(get("expires")?)?,
            created_at: time_of(get("created_at")?)?,
            last_used_at: time_of(get("last_used_at")?)?,
            user_agent: fields.get("user_agent").cloned(),
            ip: fields.get("ip").cloned(),
        }))
    }

    async fn count_user_sessions(&self, user_id: &str) -> RawResult<u64> {
        // The user's index, counting only members whose session hash still exists and
        // belongs to the user.
        let members: Vec<String> = self
            .raw_cmd(
                redis::cmd("ZRANGE")
                    .arg(self.key(&format!("user-sessions:{}", hex(user_id))))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let mut n = 0;
        for m in members {
            let owner: Option<String> = self
                .raw_cmd(
                    redis::cmd("HGET")
                        .arg(self.key(&format!("session:{m}")))
                        .arg("user_id"),
                )
                .await?;
            if owner.as_deref() == Some(user_id) {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn raw_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> RawResult<Option<RawVerificationToken>> {
        let key = self.key(&format!(
            "verification:{}:{}",
            TokenHash::of(identifier).as_str(),
            token.as_str()
        ));
        let value: Option<String> = self.raw_cmd(redis::cmd("GET").arg(key)).await?;
        let Some(value) = value else { return Ok(None) };
        let json: serde_json::Value = serde_json::from_str(&value)?;
        let stored_identifier = json["identifier"].as_str().ok_or("no identifier")?;
        let expires = json["expires"].as_i64().ok_or("no expires")?;
        Ok(Some(RawVerificationToken {
            identifier: stored_identifier.to_owned(),
            token_hash: token.as_str().to_owned(),
            expires: time_of(&expires.to_string())?,
        }))
    }

    async fn raw_not_before(&self, user_id: &str) -> RawResult<Option<OffsetDateTime>> {
        let value: Option<String> = self
            .raw_cmd(redis::cmd("GET").arg(self.key(&format!("not-before:{}", hex(user_id)))))
            .await?;
        value.map(|v| time_of(&v)).transpose()
    }

    async fn teardown(&self) {
        // TestRedis deletes the prefix's keys on drop; nothing else to close.
    }
}

async fn make_default() -> Option<RedisHarness> {
    let t = TestRedis::new("conformance (redis)").await?;
    let adapter = Arc::new(t.adapter.clone());
    Some(RedisHarness { t, adapter })
}

async fn make_with_grace() -> Option<RedisHarness> {
    let t = TestRedis::new("conformance (redis_with_grace)").await?;
    let adapter = Arc::new(
        t.adapter
            .clone()
            .with_expiry_grace(Duration::from_secs(7 * 86_400)),
    );
    Some(RedisHarness { t, adapter })
}

mod redis_with_grace {
    portcullis_adapter_tests::session_adapter_tests!(super::make_with_grace);
    portcullis_adapter_tests::verification_token_adapter_tests!(super::make_with_grace);
    portcullis_adapter_tests::revocation_adapter_tests!(super::make_with_grace);
}

mod redis_default {
    portcullis_adapter_tests::adapter_tests!(super::make_default;
        create_session_stores_every_field,
        session_and_user_returns_both,
        touch_session_updates_exactly,
        touch_session_concurrent_never_fails,
        delete_session_returns_row,
        delete_user_sessions_keeps_one,
        session_timestamps_keep_milliseconds,
        create_verification_token_stores_row,
        use_verification_token_once,
        use_verification_token_wrong_identifier,
        use_verification_token_wrong_token,
        use_verification_token_concurrent_single_use,
        delete_verification_tokens_of_identifier,
        set_not_before_replaces,
        set_not_before_unknown_user_is_never_silent,
    );
}
