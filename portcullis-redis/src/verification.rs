//! [`VerificationTokenAdapter`] for [`RedisAdapter`].

use async_trait::async_trait;
use portcullis::adapter::{AdapterError, TokenHash, VerificationToken, VerificationTokenAdapter};
use serde_json::{Value, json};

use crate::error::{RedisStoreError, malformed};
use crate::keys::token_part;
use crate::scripts::CREATE_VERIFICATION_TOKEN;
use crate::{RedisAdapter, Retry, from_ms, to_ms};

#[async_trait]
impl VerificationTokenAdapter for RedisAdapter {
    async fn create_verification_token(
        &self,
        token: &VerificationToken,
    ) -> Result<(), AdapterError> {
        let hash = token_part(&token.token)
            .ok_or_else(|| AdapterError::other(RedisStoreError::InvalidTokenHash))?;
        let expires = to_ms(token.expires);
        let value = json!({ "identifier": token.identifier, "expires": expires }).to_string();
        let key = self.keys.verification(&token.identifier, hash);
        let mut inv = CREATE_VERIFICATION_TOKEN.prepare_invoke();
        inv.key(&key)
            .arg(&value)
            .arg(expires.saturating_add(self.grace_ms()));
        let is_ours = || async {
            let stored: Option<String> = self
                .query(redis::cmd("GET").arg(&key), Retry::Idempotent)
                .await?;
            Ok(stored.as_deref() == Some(value.as_str()))
        };
        if self.create(&inv, is_ours).await? {
            Ok(())
        } else {
            Err(AdapterError::Conflict(
                "verification token exists".to_owned(),
            ))
        }
    }

    async fn use_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> Result<Option<VerificationToken>, AdapterError> {
        let Some(hash) = token_part(token) else {
            return Ok(None);
        };
        // GETDEL: read and delete in one command, so of concurrent uses exactly one gets it.
        // Repeating it after a dropped connection keeps that: only one GETDEL can succeed.
        // Should the first attempt have consumed the token and its reply been lost, the
        // repeat answers `None`: the link is spent, as it would be after any failure.
        let value: Option<String> = self
            .query(
                redis::cmd("GETDEL").arg(self.keys.verification(identifier, hash)),
                Retry::Idempotent,
            )
            .await?;
        let Some(value) = value else {
            return Ok(None);
        };
        let stored: Value = serde_json::from_str(&value)
            .map_err(|e| malformed("verification token", e.to_string()))?;
        let stored_identifier = stored
            .get("identifier")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("verification token", "no `identifier`"))?;
        let expires = stored
            .get("expires")
            .and_then(Value::as_i64)
            .and_then(from_ms)
            .ok_or_else(|| malformed("verification token", "no `expires` time"))?;
        // The key already binds the identifier (by its SHA-256); this re-check costs nothing.
        if stored_identifier != identifier {
            return Ok(None);
        }
        Ok(Some(VerificationToken {
            identifier: stored_identifier.to_owned(),
            token: token.clone(),
            expires,
        }))
    }
}
