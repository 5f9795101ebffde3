//! The configured stores, composed: any session store in front of any user store.
//!
//! An application may keep users and accounts in SQL and sessions in Redis (the usual
//! production split), or everything in one database. [`Stores`] holds each capability as a
//! trait object and provides the operations that span two of them — deleting a user ends its
//! sessions wherever they live — plus a short-lived cache of per-user "not before" times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::adapter::{
    AdapterError, AdapterSession, AdapterUser, PasswordAdapter, RevocationAdapter, SessionAdapter,
    TokenHash, UserAdapter, VerificationTokenAdapter,
};

/// Most entries kept in the "not before" cache; past this it is cleared.
const NOT_BEFORE_CACHE_MAX: usize = 10_000;

/// The stores an [`Auth`](crate::Auth) uses.
#[derive(Clone, Default)]
pub(crate) struct Stores {
    pub(crate) users: Option<Arc<dyn UserAdapter>>,
    pub(crate) sessions: Option<Arc<dyn SessionAdapter>>,
    pub(crate) tokens: Option<Arc<dyn VerificationTokenAdapter>>,
    pub(crate) revocations: Option<Arc<dyn RevocationAdapter>>,
    #[cfg_attr(not(feature = "password"), allow(dead_code))]
    pub(crate) passwords: Option<Arc<dyn PasswordAdapter>>,
    pub(crate) not_before_cache: Arc<NotBeforeCache>,
}

impl Stores {
    /// The same stores, each wrapped to be traced and measured ([`crate::observe`]).
    pub(crate) fn observed(self, metrics: &Arc<crate::metrics::Metrics>) -> Self {
        use crate::observe::Observed;
        Self {
            users: self
                .users
                .map(|a| -> Arc<dyn UserAdapter> { Observed::wrap(a, "users", metrics) }),
            sessions: self
                .sessions
                .map(|a| -> Arc<dyn SessionAdapter> { Observed::wrap(a, "sessions", metrics) }),
            tokens: self.tokens.map(|a| -> Arc<dyn VerificationTokenAdapter> {
                Observed::wrap(a, "verification_tokens", metrics)
            }),
            revocations: self.revocations.map(|a| -> Arc<dyn RevocationAdapter> {
                Observed::wrap(a, "revocations", metrics)
            }),
            passwords: self
                .passwords
                .map(|a| -> Arc<dyn PasswordAdapter> { Observed::wrap(a, "passwords", metrics) }),
            not_before_cache: self.not_before_cache,
        }
    }

    /// The session and its user: one call when the session store also holds users, two
    /// otherwise. `Ok(None)` when the session or its user is gone.
    pub(crate) async fn session_and_user(
        &self,
        key: &TokenHash,
    ) -> Result<Option<(AdapterSession, AdapterUser)>, AdapterError> {
        let Some(sessions) = &self.sessions else {
            return Ok(None);
        };
        let Some((session, user)) = sessions.session_and_user(key).await? else {
            return Ok(None);
        };
        let user = match user {
            Some(u) => Some(u),
            None => match &self.users {
                Some(users) => users.user(&session.user_id).await?,
                None => None,
            },
        };
        Ok(user.map(|u| (session, u)))
    }

    /// Deletes a user everywhere: its row, accounts and — in a separate session store —
    /// its sessions, and forgets its cached "not before" time.
    pub(crate) async fn delete_user(&self, user_id: &str) -> Result<(), AdapterError> {
        if let Some(sessions) = &self.sessions {
            sessions.delete_user_sessions(user_id, None).await?;
        }
        if let Some(users) = &self.users {
            users.delete_user(user_id).await?;
        }
        self.not_before_cache.forget(user_id);
        Ok(())
    }

    /// The user's "not before" time, from the cache when fresh.
    pub(crate) async fn not_before(&self, user_id: &str) -> Result<Option<i64>, AdapterError> {
        let Some(rev) = &self.revocations else {
            return Ok(None);
        };
        if let Some(hit) = self.not_before_cache.get(user_id) {
            return Ok(hit);
        }
        let value = rev
            .not_before(user_id)
            .await?
            .map(OffsetDateTime::unix_timestamp);
        self.not_before_cache.put(user_id, value);
        Ok(value)
    }

    /// Sets the user's "not before" time and updates this instance's cache at once.
    pub(crate) async fn set_not_before(
        &self,
        user_id: &str,
        at: OffsetDateTime,
    ) -> Result<bool, AdapterError> {
        let Some(rev) = &self.revocations else {
            return Ok(false);
        };
        rev.set_not_before(user_id, at).await?;
        self.not_before_cache
            .put(user_id, Some(at.unix_timestamp()));
        Ok(true)
    }
}

/// A small time-bounded cache of "not before" times, so a JWT session read does not hit the
/// store every time. Another instance's revocation is seen within the TTL.
pub(crate) struct NotBeforeCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Option<i64>)>>,
}

impl Default for NotBeforeCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(5))
    }
}

impl NotBeforeCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, user_id: &str) -> Option<Option<i64>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        entries
            .get(user_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| *v)
    }

    fn put(&self, user_id: &str, value: Option<i64>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= NOT_BEFORE_CACHE_MAX {
                entries.clear();
            }
            entries.insert(user_id.to_owned(), (Instant::now(), value));
        }
    }

    fn forget(&self, user_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::memory::MemoryAdapter;

    #[tokio::test]
    async fn not_before_is_cached_and_updated_locally() {
        let mem = Arc::new(MemoryAdapter::new());
        let stores = Stores {
            revocations: Some(mem.clone()),
            not_before_cache: Arc::new(NotBeforeCache::new(Duration::from_secs(60))),
            ..Stores::default()
        };
        assert_eq!(stores.not_before("u").await.unwrap(), None);
        // Another instance writes directly to the store: this one sees the cached value…
        mem.set_not_before("u", OffsetDateTime::from_unix_timestamp(100).unwrap())
            .await
            .unwrap();
        assert_eq!(stores.not_before("u").await.unwrap(), None);
        // …while its own writes are visible at once.
        stores
            .set_not_before("u", OffsetDateTime::from_unix_timestamp(200).unwrap())
            .await
            .unwrap();
        assert_eq!(stores.not_before("u").await.unwrap(), Some(200));
    }

    #[tokio::test]
    async fn a_zero_ttl_always_reads_the_store() {
        let mem = Arc::new(MemoryAdapter::new());
        let stores = Stores {
            revocations: Some(mem.clone()),
            not_before_cache: Arc::new(NotBeforeCache::new(Duration::ZERO)),
            ..Stores::default()
        };
        assert_eq!(stores.not_before("u").await.unwrap(), None);
        mem.set_not_before("u", OffsetDateTime::from_unix_timestamp(100).unwrap())
            .await
            .unwrap();
        assert_eq!(stores.not_before("u").await.unwrap(), Some(100));
    }
}
