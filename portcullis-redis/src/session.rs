//! [`SessionAdapter`] for [`RedisAdapter`].

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis::adapter::{AdapterError, AdapterSession, SessionAdapter, TokenHash};
use time::OffsetDateTime;

use crate::error::{RedisStoreError, malformed};
use crate::keys::token_part;
use crate::scripts::{
    CREATE_SESSION, DELETE_EXPIRED_SESSIONS, DELETE_SESSION, DELETE_USER_SESSIONS, TOUCH_SESSION,
    USER_SESSIONS,
};
use crate::{RedisAdapter, Retry, from_ms, to_ms};

/// Expired sessions examined per script run in `delete_expired_sessions`, so that one run
/// never blocks Redis for long.
const SWEEP_BATCH: usize = 500;

#[async_trait]
impl SessionAdapter for RedisAdapter {
    async fn create_session(&self, session: &AdapterSession) -> Result<(), AdapterError> {
        let token = token_part(&session.key)
            .ok_or_else(|| AdapterError::other(RedisStoreError::InvalidTokenHash))?;
        let fields = stored_fields(session);
        let mut inv = CREATE_SESSION.prepare_invoke();
        inv.key(self.keys.session(token))
            .key(self.keys.user_sessions(&session.user_id))
            .key(self.keys.session_expiry())
            .arg(self.keys.prefix())
            .arg(token)
            .arg(to_ms(session.expires))
            .arg(to_ms(session.created_at))
            .arg(self.grace_ms());
        for (name, value) in &fields {
            inv.arg(*name).arg(value);
        }
        let is_ours = || async {
            let stored: HashMap<String, String> = self
                .query(
                    redis::cmd("HGETALL").arg(self.keys.session(token)),
                    Retry::Idempotent,
                )
                .await?;
            Ok(stored.len() == fields.len()
                && fields.iter().all(|(k, v)| stored.get(*k) == Some(v)))
        };
        if self.create(&inv, is_ours).await? {
            Ok(())
        } else {
            Err(AdapterError::Conflict("session key exists".to_owned()))
        }
    }

    async fn session(&self, key: &TokenHash) -> Result<Option<AdapterSession>, AdapterError> {
        let Some(token) = token_part(key) else {
            return Ok(None);
        };
        let fields: HashMap<String, String> = self
            .query(
                redis::cmd("HGETALL").arg(self.keys.session(token)),
                Retry::Idempotent,
            )
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        session_from_fields(key.clone(), &fields).map(Some)
    }

    async fn touch_session(
        &self,
        key: &TokenHash,
        expires: OffsetDateTime,
        last_used_at: OffsetDateTime,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        let Some(token) = token_part(key) else {
            return Ok(None);
        };
        let mut inv = TOUCH_SESSION.prepare_invoke();
        inv.key(self.keys.session(token))
            .key(self.keys.session_expiry())
            .arg(self.keys.prefix())
            .arg(token)
            .arg(to_ms(expires))
            .arg(to_ms(last_used_at))
            .arg(self.grace_ms());
        let row: Option<Vec<String>> = self.invoke(&inv, Retry::Idempotent).await?;
        row.map(|flat| session_from_fields(key.clone(), &pairs(flat)))
            .transpose()
    }

    async fn delete_session(
        &self,
        key: &TokenHash,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        let Some(token) = token_part(key) else {
            return Ok(None);
        };
        // Retried on a dropped connection: should the first attempt have run, the repeat
        // finds nothing and answers `None`; the row is gone either way.
        let mut inv = DELETE_SESSION.prepare_invoke();
        inv.key(self.keys.session(token))
            .key(self.keys.session_expiry())
            .arg(self.keys.prefix())
            .arg(token);
        let row: Option<Vec<String>> = self.invoke(&inv, Retry::Idempotent).await?;
        row.map(|flat| session_from_fields(key.clone(), &pairs(flat)))
            .transpose()
    }

    async fn user_sessions(&self, user_id: &str) -> Result<Vec<AdapterSession>, AdapterError> {
        let mut inv = USER_SESSIONS.prepare_invoke();
        inv.key(self.keys.user_sessions(user_id))
            .key(self.keys.session_expiry())
            .arg(self.keys.prefix())
            .arg(user_id);
        let rows: Vec<(String, Vec<String>)> = self.invoke(&inv, Retry::Idempotent).await?;
        rows.into_iter()
            .map(|(token, flat)| {
                let key = TokenHash::from_stored(&token)
                    .ok_or_else(|| malformed("session index", "member is not a token hash"))?;
                session_from_fields(key, &pairs(flat))
            })
            .collect()
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
    ) -> Result<u64, AdapterError> {
        let mut inv = DELETE_USER_SESSIONS.prepare_invoke();
        inv.key(self.keys.user_sessions(user_id))
            .key(self.keys.session_expiry())
            .arg(self.keys.prefix())
            .arg(user_id)
            // A malformed `keep` matches no stored session, like "".
            .arg(keep.and_then(token_part).unwrap_or(""));
        self.invoke(&inv, Retry::Idempotent).await
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, AdapterError> {
        let now = to_ms(now);
        let mut total = 0;
        loop {
            let mut inv = DELETE_EXPIRED_SESSIONS.prepare_invoke();
            inv.key(self.keys.session_expiry())
                .arg(self.keys.prefix())
                .arg(now)
                .arg(SWEEP_BATCH);
            let (deleted, examined): (u64, usize) = self.invoke(&inv, Retry::Idempotent).await?;
            total += deleted;
            if examined < SWEEP_BATCH {
                return Ok(total);
            }
        }
    }
}

/// The hash fields of a session, as stored (optional ones only when present).
fn stored_fields(session: &AdapterSession) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("user_id", session.user_id.clone()),
        ("expires", to_ms(session.expires).to_string()),
        ("created_at", to_ms(session.created_at).to_string()),
        ("last_used_at", to_ms(session.last_used_at).to_string()),
    ];
    if let Some(ua) = &session.user_agent {
        fields.push(("user_agent", ua.clone()));
    }
    if let Some(ip) = &session.ip {
        fields.push(("ip", ip.clone()));
    }
    fields
}

/// A flat `field, value, field, value…` list as a map.
fn pairs(flat: Vec<String>) -> HashMap<String, String> {
    let mut out = HashMap::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.insert(k, v);
    }
    out
}

fn session_from_fields(
    key: TokenHash,
    fields: &HashMap<String, String>,
) -> Result<AdapterSession, AdapterError> {
    let text = |name: &str| {
        fields
            .get(name)
            .ok_or_else(|| malformed("session", format!("no `{name}` field")))
    };
    let time = |name: &str| {
        let v = text(name)?;
        v.parse::<i64>()
            .ok()
            .and_then(from_ms)
            .ok_or_else(|| malformed("session", format!("`{name}` is not a time in ms")))
    };
    Ok(AdapterSession {
        key,
        user_id: text("user_id")?.clone(),
        expires: time("expires")?,
        created_at: time("created_at")?,
        last_used_at: time("last_used_at")?,
        user_agent: fields.get("user_agent").cloned(),
        ip: fields.get("ip").cloned(),
    })
}
