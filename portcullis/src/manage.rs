//! Session management: list a user's sessions, revoke one, revoke the others, revoke all —
//! as a Rust API on [`Auth`] and as authenticated routes under the base path
//! (`GET sessions`, `POST sessions/revoke`, `sessions/revoke-others`, `sessions/revoke-all`).
//!
//! Database sessions are rows, so each can be listed and deleted. JWT sessions cannot be
//! listed; they are revoked through a per-user "not before" time in a
//! [`RevocationAdapter`](crate::adapter::RevocationAdapter): every token issued before it is
//! refused on its next read (within the revocation cache TTL on other instances).

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::adapter::{AdapterError, AdapterSession, TokenHash};
use crate::audit::{AuditEvent, AuditKind, Client};
use crate::auth::Auth;
use crate::config::{AuthConfig, SessionStrategy};
use crate::session::iso_millis;
use crate::user::Account;

/// A session as shown to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session's id: the SHA-256 of its token (the token itself is never stored).
    pub id: String,
    /// When the user signed in (ISO 8601).
    pub created_at: String,
    /// When the session was last extended (ISO 8601).
    pub last_used_at: String,
    /// When it expires unless used (ISO 8601).
    pub expires: String,
    /// The browser it was created from.
    pub user_agent: Option<String>,
    /// The client address it was created from, when known.
    pub ip: Option<String>,
    /// Whether this is the session of the request that asked.
    pub current: bool,
}

impl SessionInfo {
    pub(crate) fn from_row(row: &AdapterSession, current: Option<&TokenHash>) -> Self {
        Self {
            id: row.key.as_str().to_owned(),
            created_at: iso_millis(row.created_at),
            last_used_at: iso_millis(row.last_used_at),
            expires: iso_millis(row.expires),
            user_agent: row.user_agent.clone(),
            ip: row.ip.clone(),
            current: current == Some(&row.key),
        }
    }
}

/// Why a management call could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManageError {
    /// The strategy or configuration cannot do this (listing JWT sessions; revoking JWT
    /// sessions without a revocation adapter).
    #[error("not supported here: {0}")]
    Unsupported(&'static str),
    /// A store call failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

impl Auth {
    /// The user's live database sessions, oldest first.
    ///
    /// # Errors
    /// [`ManageError::Unsupported`] without a session adapter; [`ManageError::Adapter`] when
    /// the store fails.
    pub async fn list_sessions(&self, user_id: &str) -> Result<Vec<SessionInfo>, ManageError> {
        list(self.config(), user_id, None).await
    }

    /// Revokes one of the user's sessions by id. Returns whether it existed and belonged to
    /// the user (another user's session id revokes nothing).
    ///
    /// # Errors
    /// As [`list_sessions`](Self::list_sessions).
    pub async fn revoke_session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<bool, ManageError> {
        revoke_one(self.config(), user_id, session_id, Client::NONE).await
    }

    /// Revokes every session of the user except `keep` (a session id). Returns how many
    /// database sessions were removed.
    ///
    /// # Errors
    /// As [`list_sessions`](Self::list_sessions).
    pub async fn revoke_other_sessions(
        &self,
        user_id: &str,
        keep: &str,
    ) -> Result<u64, ManageError> {
        revoke_others(
            self.config(),
            user_id,
            TokenHash::from_stored(keep).as_ref(),
            Client::NONE,
        )
        .await
    }

    /// Revokes every session of the user: database rows, and — with a revocation adapter —
    /// every JWT issued until now. Use it after a password change or when disabling a user.
    ///
    /// # Errors
    /// [`ManageError::Unsupported`] when neither a session nor a revocation adapter is
    /// configured; [`ManageError::Adapter`] when a store fails.
    pub async fn revoke_all_sessions(&self, user_id: &str) -> Result<u64, ManageError> {
        revoke_all(
            self.config(),
            user_id,
            OffsetDateTime::now_utc(),
            Client::NONE,
        )
        .await
    }

    /// The provider accounts linked to a user (`provider`, `providerAccountId`, `type`;
    /// tokens are not returned).
    ///
    /// # Errors
    /// [`ManageError::Unsupported`] without a user adapter; [`ManageError::Adapter`] when the
    /// store fails.
    pub async fn linked_accounts(&self, user_id: &str) -> Result<Vec<Account>, ManageError> {
        let users = self
            .config()
            .stores
            .users
            .as_ref()
            .ok_or(ManageError::Unsupported(
                "linked accounts need a user adapter",
            ))?;
        Ok(users
            .accounts(user_id)
            .await?
            .into_iter()
            .map(|a| {
                let mut account = Account::credentials(a.provider, a.provider_account_id);
                account.kind = a.kind;
                account
            })
            .collect())
    }

    /// Unlinks the user's account at `provider` (the user signs in through it no more; a
    /// later sign-in there is a new account). Returns whether one was linked. Refuses to
    /// remove the user's last linked account unless `allow_last` — a user without any
    /// account may be left with no way to sign in.
    ///
    /// # Errors
    /// [`ManageError::Unsupported`] without a user adapter or for the last account;
    /// [`ManageError::Adapter`] when the store fails.
    pub async fn unlink_account(
        &self,
        user_id: &str,
        provider: &str,
        allow_last: bool,
    ) -> Result<bool, ManageError> {
        let users = self
            .config()
            .stores
            .users
            .as_ref()
            .ok_or(ManageError::Unsupported("unlinking needs a user adapter"))?;
        let accounts = users.accounts(user_id).await?;
        let Some(account) = accounts.iter().find(|a| a.provider == provider) else {
            return Ok(false);
        };
        if accounts.len() == 1 && !allow_last {
            return Err(ManageError::Unsupported(
                "this is the user's last linked account",
            ));
        }
        users
            .unlink_account(&account.provider, &account.provider_account_id)
            .await?;
        let event = AuditEvent::new(AuditKind::AccountUnlinked)
            .with_user(user_id)
            .with_provider(provider);
        crate::audit::record(self.config(), event).await;
        Ok(true)
    }

    /// Deletes a user with its accounts and sessions, wherever the sessions are stored,
    /// and revokes its JWT sessions.
    ///
    /// # Errors
    /// [`ManageError::Adapter`] when a store fails.
    pub async fn delete_user(&self, user_id: &str) -> Result<(), ManageError> {
        let cfg = self.config();
        cfg.stores.delete_user(user_id).await?;
        cfg.stores
            .set_not_before(user_id, OffsetDateTime::now_utc() + Duration::seconds(1))
            .await?;
        Ok(())
    }
}

pub(crate) async fn list(
    cfg: &AuthConfig,
    user_id: &str,
    current: Option<&TokenHash>,
) -> Result<Vec<SessionInfo>, ManageError> {
    // With the JWT strategy a session adapter may be configured, but it holds no sessions.
    let sessions = cfg
        .stores
        .sessions
        .as_ref()
        .filter(|_| cfg.strategy == SessionStrategy::Database)
        .ok_or(ManageError::Unsupported(
            "listing sessions needs database sessions",
        ))?;
    let now = OffsetDateTime::now_utc();
    let alive = |row: &AdapterSession| {
        let deadline = cfg
            .absolute_max_age
            .map(|secs| row.created_at + Duration::seconds(secs));
        row.expires > now && deadline.is_none_or(|d| d > now)
    };
    Ok(sessions
        .user_sessions(user_id)
        .await?
        .iter()
        .filter(|row| alive(row))
        .map(|row| SessionInfo::from_row(row, current))
        .collect())
}

/// Deletes every database session of the user except `keep`.
pub(crate) async fn revoke_others(
    cfg: &AuthConfig,
    user_id: &str,
    keep: Option<&TokenHash>,
    client: Client<'_>,
) -> Result<u64, ManageError> {
    let sessions = cfg
        .stores
        .sessions
        .as_ref()
        .ok_or(ManageError::Unsupported("no session adapter"))?;
    let removed = sessions.delete_user_sessions(user_id, keep).await?;
    crate::audit::revoked(cfg, user_id, "revoke-others", client).await;
    Ok(removed)
}

pub(crate) async fn revoke_one(
    cfg: &AuthConfig,
    user_id: &str,
    session_id: &str,
    client: Client<'_>,
) -> Result<bool, ManageError> {
    let sessions = cfg
        .stores
        .sessions
        .as_ref()
        .ok_or(ManageError::Unsupported("no session adapter"))?;
    let Some(key) = TokenHash::from_stored(session_id) else {
        return Ok(false);
    };
    // Only the owner may revoke: check before deleting.
    match sessions.session(&key).await? {
        Some(row) if row.user_id == user_id => {
            let deleted = sessions.delete_session(&key).await?.is_some();
            if deleted {
                crate::audit::revoked(cfg, user_id, "revoke", client).await;
            }
            Ok(deleted)
        }
        _ => Ok(false),
    }
}

/// Revokes everything; JWTs issued in the current second die too (the "not before" time is
/// set one second ahead, since `iat` has whole seconds).
pub(crate) async fn revoke_all(
    cfg: &AuthConfig,
    user_id: &str,
    now: OffsetDateTime,
    client: Client<'_>,
) -> Result<u64, ManageError> {
    let mut removed = 0;
    let mut done = false;
    if let Some(sessions) = &cfg.stores.sessions {
        removed = sessions.delete_user_sessions(user_id, None).await?;
        done = true;
    }
    if cfg
        .stores
        .set_not_before(user_id, now + Duration::seconds(1))
        .await?
    {
        done = true;
    }
    if done {
        crate::audit::revoked(cfg, user_id, "revoke-all", client).await;
        Ok(removed)
    } else {
        Err(ManageError::Unsupported(
            "revoking sessions needs a session or revocation adapter",
        ))
    }
}
