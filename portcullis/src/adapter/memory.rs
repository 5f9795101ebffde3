//! An in-memory adapter with every capability: for tests, examples and single-process
//! development. Nothing survives a restart.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    AdapterAccount, AdapterError, AdapterSession, AdapterUser, AuditAdapter, PasswordAdapter,
    RevocationAdapter, SessionAdapter, TokenHash, UserAdapter, UserUpdate, VerificationToken,
    VerificationTokenAdapter,
};

#[derive(Default)]
struct State {
    users: HashMap<String, AdapterUser>,
    accounts: Vec<AdapterAccount>,
    sessions: HashMap<TokenHash, AdapterSession>,
    tokens: Vec<VerificationToken>,
    not_before: HashMap<String, OffsetDateTime>,
    passwords: HashMap<String, String>,
    disabled: HashMap<String, bool>,
    audit: Vec<crate::audit::AuditEvent>,
}

/// Every adapter capability, held in a mutex-guarded map.
///
/// # Examples
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use portcullis::adapter::{memory::MemoryAdapter, AdapterUser, UserAdapter};
/// let db = MemoryAdapter::new();
/// let user = AdapterUser { id: "1".into(), email: Some("a@example.com".into()),
///     email_verified: None, name: None, image: None, fields: Default::default() };
/// db.create_user(&user).await.unwrap();
/// assert_eq!(db.user_by_email("a@example.com").await.unwrap(), Some(user));
/// # });
/// ```
#[derive(Default)]
pub struct MemoryAdapter {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryAdapter").finish_non_exhaustive()
    }
}

impl MemoryAdapter {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, AdapterError> {
        // A poisoned lock means a panic while holding it; the data may be half-written.
        self.state
            .lock()
            .map_err(|_| AdapterError::Other("memory adapter lock poisoned".into()))
    }
}

fn email_taken(state: &State, email: Option<&str>, except_id: &str) -> bool {
    email.is_some_and(|e| {
        state
            .users
            .values()
            .any(|u| u.id != except_id && u.email.as_deref() == Some(e))
    })
}

#[async_trait]
impl UserAdapter for MemoryAdapter {
    async fn create_user(&self, user: &AdapterUser) -> Result<AdapterUser, AdapterError> {
        let mut s = self.lock()?;
        if s.users.contains_key(&user.id) {
            return Err(AdapterError::Conflict("user id exists".into()));
        }
        if email_taken(&s, user.email.as_deref(), &user.id) {
            return Err(AdapterError::Conflict("email in use".into()));
        }
        s.users.insert(user.id.clone(), user.clone());
        Ok(user.clone())
    }

    async fn user(&self, id: &str) -> Result<Option<AdapterUser>, AdapterError> {
        Ok(self.lock()?.users.get(id).cloned())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<AdapterUser>, AdapterError> {
        Ok(self
            .lock()?
            .users
            .values()
            .find(|u| u.email.as_deref() == Some(email))
            .cloned())
    }

    async fn user_by_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<Option<AdapterUser>, AdapterError> {
        let s = self.lock()?;
        Ok(s.accounts
            .iter()
            .find(|a| a.provider == provider && a.provider_account_id == provider_account_id)
            .and_then(|a| s.users.get(&a.user_id).cloned()))
    }

    async fn update_user(
        &self,
        id: &str,
        update: &UserUpdate,
    ) -> Result<AdapterUser, AdapterError> {
        let mut s = self.lock()?;
        if let Some(email) = &update.email
            && email_taken(&s, email.as_deref(), id)
        {
            return Err(AdapterError::Conflict("email in use".into()));
        }
        let user = s.users.get_mut(id).ok_or(AdapterError::NotFound)?;
        if let Some(v) = &update.email {
            user.email.clone_from(v);
        }
        if let Some(v) = update.email_verified {
            user.email_verified = v;
        }
        if let Some(v) = &update.name {
            user.name.clone_from(v);
        }
        if let Some(v) = &update.image {
            user.image.clone_from(v);
        }
        if let Some(v) = &update.fields {
            user.fields.clone_from(v);
        }
        Ok(user.clone())
    }

    async fn delete_user(&self, id: &str) -> Result<(), AdapterError> {
        let mut s = self.lock()?;
        s.users.remove(id);
        s.accounts.retain(|a| a.user_id != id);
        s.sessions.retain(|_, v| v.user_id != id);
        s.not_before.remove(id);
        s.passwords.remove(id);
        s.disabled.remove(id);
        Ok(())
    }

    async fn link_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        let mut s = self.lock()?;
        if !s.users.contains_key(&account.user_id) {
            return Err(AdapterError::NotFound);
        }
        if s.accounts.iter().any(|a| {
            a.provider == account.provider && a.provider_account_id == account.provider_account_id
        }) {
            return Err(AdapterError::Conflict("account already linked".into()));
        }
        s.accounts.push(account.clone());
        Ok(())
    }

    async fn create_user_with_account(
        &self,
        user: &AdapterUser,
        account: &AdapterAccount,
    ) -> Result<AdapterUser, AdapterError> {
        let mut s = self.lock()?;
        if s.users.contains_key(&user.id) || email_taken(&s, user.email.as_deref(), &user.id) {
            return Err(AdapterError::Conflict("user exists".into()));
        }
        if s.accounts.iter().any(|a| {
            a.provider == account.provider && a.provider_account_id == account.provider_account_id
        }) {
            return Err(AdapterError::Conflict("account already linked".into()));
        }
        s.users.insert(user.id.clone(), user.clone());
        let mut account = account.clone();
        account.user_id.clone_from(&user.id);
        s.accounts.push(account);
        Ok(user.clone())
    }

    async fn unlink_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<(), AdapterError> {
        self.lock()?
            .accounts
            .retain(|a| !(a.provider == provider && a.provider_account_id == provider_account_id));
        Ok(())
    }

    async fn accounts(&self, user_id: &str) -> Result<Vec<AdapterAccount>, AdapterError> {
        Ok(self
            .lock()?
            .accounts
            .iter()
            .filter(|a| a.user_id == user_id)
            .cloned()
            .collect())
    }

    async fn update_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        let mut s = self.lock()?;
        let stored = s
            .accounts
            .iter_mut()
            .find(|a| {
                a.provider == account.provider
                    && a.provider_account_id == account.provider_account_id
            })
            .ok_or(AdapterError::NotFound)?;
        // The token fields only: the owner and the kind of a link never change here.
        stored.access_token.clone_from(&account.access_token);
        stored.refresh_token.clone_from(&account.refresh_token);
        stored.expires_at = account.expires_at;
        stored.token_type.clone_from(&account.token_type);
        stored.scope.clone_from(&account.scope);
        stored.id_token.clone_from(&account.id_token);
        stored.session_state.clone_from(&account.session_state);
        Ok(())
    }
}

#[async_trait]
impl SessionAdapter for MemoryAdapter {
    async fn create_session(&self, session: &AdapterSession) -> Result<(), AdapterError> {
        let mut s = self.lock()?;
        if s.sessions.contains_key(&session.key) {
            return Err(AdapterError::Conflict("session key exists".into()));
        }
        s.sessions.insert(session.key.clone(), session.clone());
        Ok(())
    }

    async fn session(&self, key: &TokenHash) -> Result<Option<AdapterSession>, AdapterError> {
        Ok(self.lock()?.sessions.get(key).cloned())
    }

    async fn session_and_user(
        &self,
        key: &TokenHash,
    ) -> Result<Option<(AdapterSession, Option<AdapterUser>)>, AdapterError> {
        let s = self.lock()?;
        Ok(s.sessions
            .get(key)
            .map(|session| (session.clone(), s.users.get(&session.user_id).cloned())))
    }

    async fn touch_session(
        &self,
        key: &TokenHash,
        expires: OffsetDateTime,
        last_used_at: OffsetDateTime,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        let mut s = self.lock()?;
        Ok(s.sessions.get_mut(key).map(|row| {
            // A late write never moves the expiry back (RACE-03).
            row.expires = row.expires.max(expires);
            row.last_used_at = row.last_used_at.max(last_used_at);
            row.clone()
        }))
    }

    async fn delete_session(
        &self,
        key: &TokenHash,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        Ok(self.lock()?.sessions.remove(key))
    }

    async fn user_sessions(&self, user_id: &str) -> Result<Vec<AdapterSession>, AdapterError> {
        let mut out: Vec<AdapterSession> = self
            .lock()?
            .sessions
            .values()
            .filter(|v| v.user_id == user_id)
            .cloned()
            .collect();
        out.sort_by_key(|v| v.created_at);
        Ok(out)
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
    ) -> Result<u64, AdapterError> {
        let mut s = self.lock()?;
        let before = s.sessions.len();
        s.sessions
            .retain(|k, v| v.user_id != user_id || Some(k) == keep);
        Ok((before - s.sessions.len()) as u64)
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, AdapterError> {
        let mut s = self.lock()?;
        let before = s.sessions.len();
        s.sessions.retain(|_, v| v.expires > now);
        Ok((before - s.sessions.len()) as u64)
    }
}

#[async_trait]
impl VerificationTokenAdapter for MemoryAdapter {
    async fn create_verification_token(
        &self,
        token: &VerificationToken,
    ) -> Result<(), AdapterError> {
        let mut s = self.lock()?;
        if s.tokens
            .iter()
            .any(|t| t.identifier == token.identifier && t.token == token.token)
        {
            return Err(AdapterError::Conflict("token exists".into()));
        }
        s.tokens.push(token.clone());
        Ok(())
    }

    async fn use_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> Result<Option<VerificationToken>, AdapterError> {
        let mut s = self.lock()?;
        let pos = s
            .tokens
            .iter()
            .position(|t| t.identifier == identifier && &t.token == token);
        Ok(pos.map(|i| s.tokens.swap_remove(i)))
    }

    async fn delete_verification_tokens(&self, identifier: &str) -> Result<u64, AdapterError> {
        let mut s = self.lock()?;
        let before = s.tokens.len();
        s.tokens.retain(|t| t.identifier != identifier);
        Ok((before - s.tokens.len()) as u64)
    }
}

#[async_trait]
impl RevocationAdapter for MemoryAdapter {
    async fn not_before(&self, user_id: &str) -> Result<Option<OffsetDateTime>, AdapterError> {
        Ok(self.lock()?.not_before.get(user_id).copied())
    }

    async fn set_not_before(&self, user_id: &str, at: OffsetDateTime) -> Result<(), AdapterError> {
        self.lock()?.not_before.insert(user_id.to_owned(), at);
        Ok(())
    }
}

#[async_trait]
impl PasswordAdapter for MemoryAdapter {
    async fn password_hash(&self, user_id: &str) -> Result<Option<String>, AdapterError> {
        Ok(self.lock()?.passwords.get(user_id).cloned())
    }

    async fn set_password_hash(&self, user_id: &str, phc: &str) -> Result<(), AdapterError> {
        let mut s = self.lock()?;
        if !s.users.contains_key(user_id) {
            return Err(AdapterError::NotFound);
        }
        s.passwords.insert(user_id.to_owned(), phc.to_owned());
        Ok(())
    }

    async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<(), AdapterError> {
        let mut s = self.lock()?;
        if !s.users.contains_key(user_id) {
            return Err(AdapterError::NotFound);
        }
        s.disabled.insert(user_id.to_owned(), disabled);
        Ok(())
    }

    async fn is_disabled(&self, user_id: &str) -> Result<bool, AdapterError> {
        Ok(self.lock()?.disabled.get(user_id).copied().unwrap_or(false))
    }
}

#[async_trait]
impl AuditAdapter for MemoryAdapter {
    async fn record_audit_event(
        &self,
        event: &crate::audit::AuditEvent,
    ) -> Result<(), AdapterError> {
        let mut state = self.lock()?;
        if state.audit.iter().any(|e| e.id == event.id) {
            return Err(AdapterError::Conflict("audit event id".into()));
        }
        let mut stored = event.clone();
        // Millisecond precision, as the SQL stores keep it.
        stored.at = truncate_ms(stored.at);
        state.audit.push(stored);
        Ok(())
    }

    async fn audit_events(
        &self,
        user_id: &str,
        before: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<crate::audit::AuditEvent>, AdapterError> {
        let state = self.lock()?;
        let mut out: Vec<_> = state
            .audit
            .iter()
            .filter(|e| e.user_id.as_deref() == Some(user_id))
            .filter(|e| before.is_none_or(|b| e.at < b))
            .rev()
            .cloned()
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.at));
        out.truncate(limit.max(1) as usize);
        Ok(out)
    }

    async fn delete_audit_events_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, AdapterError> {
        let mut state = self.lock()?;
        let before = state.audit.len();
        state.audit.retain(|e| e.at >= cutoff);
        Ok((before - state.audit.len()) as u64)
    }
}

fn truncate_ms(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(1_000_000)).unwrap_or(t)
}
