//! [`RevocationAdapter`] for [`RedisAdapter`].

use async_trait::async_trait;
use portcullis::adapter::{AdapterError, RevocationAdapter};
use time::OffsetDateTime;

use crate::error::malformed;
use crate::{RedisAdapter, Retry, from_ms, to_ms};

#[async_trait]
impl RevocationAdapter for RedisAdapter {
    async fn not_before(&self, user_id: &str) -> Result<Option<OffsetDateTime>, AdapterError> {
        let value: Option<String> = self
            .query(
                redis::cmd("GET").arg(self.keys.not_before(user_id)),
                Retry::Idempotent,
            )
            .await?;
        value
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .and_then(from_ms)
                    .ok_or_else(|| malformed("not-before", "not a time in ms"))
            })
            .transpose()
    }

    async fn set_not_before(&self, user_id: &str, at: OffsetDateTime) -> Result<(), AdapterError> {
        // No TTL: a revocation must outlive every token issued before it, and this crate
        // does not know the session lifetime. One short string per revoked user.
        let () = self
            .query(
                redis::cmd("SET")
                    .arg(self.keys.not_before(user_id))
                    .arg(to_ms(at)),
                Retry::Idempotent,
            )
            .await?;
        Ok(())
    }
}
