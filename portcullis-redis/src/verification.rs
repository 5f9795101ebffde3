//! [`VerificationTokenAdapter`] for [`RedisAdapter`].

use async_trait::async_trait;
use portcullis::adapter::{AdapterError, TokenHash, VerificationToken, VerificationTokenAdapter};
use serde_json::{Value, json};

use crate::error::{RedisStoreError, malformed};
use crate::keys::token_part;
use crate::scripts::{CREATE_VERIFICATION_TOKEN, DELETE_VERIFICATION_TOKENS};
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
        // The token and its entry in the identifier's index are written together.
        inv.key(&key)
            .key(self.keys.verification_index(&token.identifier))
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

    /// Deletes the tokens the identifier's index names (written by
    /// `create_verification_token`), and the index, in one script. A used token may still
    /// be named there; its key is gone, so it is not counted.
    ///
    /// Repeated once after a dropped connection: the repeat deletes whatever is left
    /// (nothing, if the first attempt ran), so no token survives, but the count of a run
    /// whose reply was lost is not reported.
    async fn delete_verification_tokens(&self, identifier: &str) -> Result<u64, AdapterError> {
        let mut inv = DELETE_VERIFICATION_TOKENS.prepare_invoke();
        inv.key(self.keys.verification_index(identifier));
        let n: i64 = self.invoke(&inv, Retry::Idempotent).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
