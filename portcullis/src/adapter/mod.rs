//! Storage adapters (PROTOCOL.md §8), split by capability.
//!
//! Auth.js has one `Adapter` interface whose methods are all optional and checks at run time
//! which ones exist. portcullis splits it by capability, so a missing capability is a compile
//! error:
//!
//! | trait | what | needed for |
//! |---|---|---|
//! | [`UserAdapter`] | users and linked accounts | database sessions, OAuth, email |
//! | [`SessionAdapter`] | database sessions | `SessionStrategy::Database` |
//! | [`VerificationTokenAdapter`] | single-use email tokens | the email provider |
//! | [`RevocationAdapter`] | a per-user "not before" time | revoking JWT sessions |
//! | [`PasswordAdapter`] | password hashes, disabled flags | the `Passwords` provider |
//! | [`AuditAdapter`] | the audit log | keeping security events ([`crate::audit`]) |
//!
//! Every sentence in these trait docs is a contract; `portcullis-adapter-tests` checks each
//! one against every backend, reading the backend directly rather than through the adapter.
//!
//! ## Secrets never reach the store
//! Session tokens and verification tokens are handed to adapters only as their SHA-256
//! ([`TokenHash`]): a leaked table or a Redis dump yields no live session and no usable
//! sign-in link.
//!
//! ## Time
//! Timestamps are [`OffsetDateTime`] in UTC; adapters must keep at least millisecond
//! precision (the conformance suite uses millisecond values and expects them back exactly).

pub mod memory;

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::user::AccountType;

/// Why an adapter call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The store cannot be reached (connection refused or reset, pool timeout, Redis down).
    /// Session reads answer `503 {"error":"SessionStoreUnavailable"}` with `Retry-After`;
    /// nothing is treated as signed out or signed in.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A uniqueness rule was hit: the email is taken, or the (provider, providerAccountId)
    /// pair is already linked.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record to update does not exist.
    #[error("not found")]
    NotFound,
    /// Any other failure (a constraint, a malformed row, a driver error).
    #[error("adapter error")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AdapterError {
    /// Wraps a driver error as [`AdapterError::Unavailable`], keeping it as the source.
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }

    /// Wraps a driver error as [`AdapterError::Other`], keeping it as the source.
    pub fn other(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(e))
    }

    /// Whether this is an outage rather than a logical failure.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// The SHA-256 of a session or verification token, as 64 lowercase hex characters. The
/// only form in which tokens reach a store.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a token.
    ///
    /// # Examples
    /// ```
    /// let h = portcullis::adapter::TokenHash::of("abc");
    /// assert_eq!(h.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /// ```
    pub fn of(token: &str) -> Self {
        Self(crate::secret::hex(&Sha256::digest(token.as_bytes())))
    }

    /// Hashes a token together with a secret (Auth.js's verification-token hash:
    /// `sha256(token + secret)`).
    pub fn of_with_secret(token: &str, secret: &str) -> Self {
        let mut h = Sha256::new();
        h.update(token.as_bytes());
        h.update(secret.as_bytes());
        Self(crate::secret::hex(&h.finalize()))
    }

    /// Wraps a stored hash read back from a backend. `None` unless it is 64 lowercase hex.
    pub fn from_stored(hex: &str) -> Option<Self> {
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(hex.to_owned()))
    }

    /// The hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not a secret, but there is no reason to print it whole either.
        write!(f, "TokenHash({}…)", &self.0[..8.min(self.0.len())])
    }
}

/// A stored user (Auth.js `AdapterUser`).
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterUser {
    /// The user id (a UUID when portcullis creates the user).
    pub id: String,
    /// Email address, unique across users when present. Stored exactly as given: callers
    /// normalise it (lowercase) before any lookup.
    pub email: Option<String>,
    /// When the email was verified.
    pub email_verified: Option<OffsetDateTime>,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub image: Option<String>,
    /// The application's own fields (a role…), stored as a JSON object and returned exactly.
    pub fields: Map<String, Value>,
}

/// Changes to a user: each `Some` replaces the stored value.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UserUpdate {
    /// New email.
    pub email: Option<Option<String>>,
    /// New verification time.
    pub email_verified: Option<Option<OffsetDateTime>>,
    /// New name.
    pub name: Option<Option<String>>,
    /// New image.
    pub image: Option<Option<String>>,
    /// New application fields (replaces the whole object).
    pub fields: Option<Map<String, Value>>,
}

impl UserUpdate {
    /// Sets the email (`None` clears it).
    pub fn with_email(mut self, email: Option<String>) -> Self {
        self.email = Some(email);
        self
    }

    /// Sets the verification time.
    pub fn with_email_verified(mut self, at: Option<OffsetDateTime>) -> Self {
        self.email_verified = Some(at);
        self
    }

    /// Sets the name (`None` clears it).
    pub fn with_name(mut self, name: Option<String>) -> Self {
        self.name = Some(name);
        self
    }

    /// Sets the image (`None` clears it).
    pub fn with_image(mut self, image: Option<String>) -> Self {
        self.image = Some(image);
        self
    }

    /// Replaces the application fields.
    pub fn with_fields(mut self, fields: Map<String, Value>) -> Self {
        self.fields = Some(fields);
        self
    }
}

/// A linked provider account (Auth.js `AdapterAccount`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdapterAccount {
    /// The user it belongs to.
    pub user_id: String,
    /// `oauth`, `oidc`, `email`, `webauthn`, `credentials`.
    #[serde(rename = "type")]
    pub kind: AccountType,
    /// Provider id. (`provider`, `provider_account_id`) is unique.
    pub provider: String,
    /// The user's id at the provider.
    pub provider_account_id: String,
    /// OAuth refresh token.
    #[serde(default, rename = "refresh_token")]
    pub refresh_token: Option<String>,
    /// OAuth access token.
    #[serde(default, rename = "access_token")]
    pub access_token: Option<String>,
    /// Access-token expiry, seconds since the epoch.
    #[serde(default, rename = "expires_at")]
    pub expires_at: Option<i64>,
    /// OAuth token type.
    #[serde(default, rename = "token_type")]
    pub token_type: Option<String>,
    /// Granted scope.
    #[serde(default)]
    pub scope: Option<String>,
    /// OIDC ID token.
    #[serde(default, rename = "id_token")]
    pub id_token: Option<String>,
    /// OIDC session state.
    #[serde(default, rename = "session_state")]
    pub session_state: Option<String>,
}

/// A database session (Auth.js `AdapterSession`, plus what session management needs).
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSession {
    /// The SHA-256 of the session token; the key of the row.
    pub key: TokenHash,
    /// The user it belongs to.
    pub user_id: String,
    /// When it expires (sliding; extended on use after `update_age`).
    pub expires: OffsetDateTime,
    /// When it was created (the absolute lifetime counts from here).
    pub created_at: OffsetDateTime,
    /// When it was last extended or read with an update.
    pub last_used_at: OffsetDateTime,
    /// The `User-Agent` of the sign-in request, truncated to 512 bytes.
    pub user_agent: Option<String>,
    /// The client IP of the sign-in request.
    pub ip: Option<String>,
}

/// A verification token (email sign-in, password reset) as stored: hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationToken {
    /// The address (or other identifier) it was issued for.
    pub identifier: String,
    /// The hash of the token.
    pub token: TokenHash,
    /// When it expires.
    pub expires: OffsetDateTime,
}

/// Users and their linked accounts.
///
/// # Contract
/// - `create_user` stores the user with the id it is given and returns it as stored; an
///   email already used by another user is [`AdapterError::Conflict`].
/// - `user`, `user_by_email`, `user_by_account` return `None` for unknown keys; lookups
///   are exact (no case folding, no pattern matching).
/// - `update_user` applies the `Some` fields and returns the updated user;
///   [`AdapterError::NotFound`] for an unknown id.
/// - `delete_user` removes the user **and** its accounts and sessions (cascade); deleting an
///   unknown id is not an error.
/// - `link_account` stores every field; a (provider, provider_account_id) pair that is
///   already linked is [`AdapterError::Conflict`], even under concurrent calls (exactly one
///   row results).
/// - `create_user_with_account` does both atomically: after any failure neither exists.
/// - `unlink_account` removes the account; unknown pairs are not an error.
/// - `update_account` replaces the token fields (`access_token`, `refresh_token`,
///   `expires_at`, `token_type`, `scope`, `id_token`, `session_state`) of the linked account
///   (`account.provider`, `account.provider_account_id`) with the given values (a `None`
///   clears the field); `user_id` and `kind` are not changed. An unknown pair is
///   [`AdapterError::NotFound`] and nothing is created.
/// - `accounts` returns every account linked to the user with its token fields exactly as
///   last stored by `link_account` or `update_account`; an empty list for an unknown user.
///
/// # Examples
/// [`memory::MemoryAdapter`] is a complete implementation of every capability.
#[async_trait]
pub trait UserAdapter: Send + Sync + 'static {
    /// Stores a new user.
    async fn create_user(&self, user: &AdapterUser) -> Result<AdapterUser, AdapterError>;
    /// A user by id.
    async fn user(&self, id: &str) -> Result<Option<AdapterUser>, AdapterError>;
    /// A user by exact email.
    async fn user_by_email(&self, email: &str) -> Result<Option<AdapterUser>, AdapterError>;
    /// The user a provider account is linked to.
    async fn user_by_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<Option<AdapterUser>, AdapterError>;
    /// Updates a user.
    async fn update_user(&self, id: &str, update: &UserUpdate)
    -> Result<AdapterUser, AdapterError>;
    /// Deletes a user with its accounts and sessions.
    async fn delete_user(&self, id: &str) -> Result<(), AdapterError>;
    /// Links an account to a user.
    async fn link_account(&self, account: &AdapterAccount) -> Result<(), AdapterError>;
    /// Creates a user and links an account in one transaction.
    async fn create_user_with_account(
        &self,
        user: &AdapterUser,
        account: &AdapterAccount,
    ) -> Result<AdapterUser, AdapterError>;
    /// Unlinks an account.
    async fn unlink_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<(), AdapterError>;
    /// The accounts linked to a user.
    async fn accounts(&self, user_id: &str) -> Result<Vec<AdapterAccount>, AdapterError>;
    /// Replaces the token fields (`access_token`, `refresh_token`, `expires_at`,
    /// `token_type`, `scope`, `id_token`, `session_state`) of the linked account
    /// (`account.provider`, `account.provider_account_id`) with the given values (a `None`
    /// clears the field); `user_id` and `kind` are not changed. Unknown pair →
    /// [`AdapterError::NotFound`].
    async fn update_account(&self, account: &AdapterAccount) -> Result<(), AdapterError>;
}

/// Database sessions.
///
/// # Contract
/// - `create_session` stores the row; the key is unique.
/// - `session` returns the row whether or not it has expired (the caller checks expiry and
///   calls `delete_session`); `None` for an unknown key. A store with native expiry (Redis
///   TTLs) may instead drop a row once `expires` has passed: callers treat a missing row
///   exactly like an expired one.
/// - `session_and_user` may return the user too when the store holds users (one round trip
///   for SQL); the default returns the session with `None`, and the caller asks its
///   [`UserAdapter`].
/// - `touch_session` sets `expires` and `last_used_at` and returns the updated row, `None`
///   when the key is unknown. Neither value ever moves back: each becomes the later of the
///   stored and the given one (SQL `GREATEST`/`MAX`), so of concurrent touches the latest
///   expiry wins whatever order they land in (SECURITY.md RACE-03). Concurrent touches
///   never fail.
/// - `delete_session` removes the row and returns it (`None` when it did not exist).
/// - `user_sessions` lists a user's sessions, expired ones included, oldest first.
/// - `delete_user_sessions` removes every session of a user except `keep`, returning how
///   many were removed.
/// - `delete_expired_sessions` removes every row with `expires <= now`, returning the count.
#[async_trait]
pub trait SessionAdapter: Send + Sync + 'static {
    /// Stores a new session.
    async fn create_session(&self, session: &AdapterSession) -> Result<(), AdapterError>;
    /// A session by key.
    async fn session(&self, key: &TokenHash) -> Result<Option<AdapterSession>, AdapterError>;
    /// A session and, when this store also holds users, its user.
    async fn session_and_user(
        &self,
        key: &TokenHash,
    ) -> Result<Option<(AdapterSession, Option<AdapterUser>)>, AdapterError> {
        Ok(self.session(key).await?.map(|s| (s, None)))
    }
    /// Extends a session.
    async fn touch_session(
        &self,
        key: &TokenHash,
        expires: OffsetDateTime,
        last_used_at: OffsetDateTime,
    ) -> Result<Option<AdapterSession>, AdapterError>;
    /// Deletes a session, returning it.
    async fn delete_session(&self, key: &TokenHash)
    -> Result<Option<AdapterSession>, AdapterError>;
    /// A user's sessions.
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<AdapterSession>, AdapterError>;
    /// Deletes a user's sessions except one.
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
    ) -> Result<u64, AdapterError>;
    /// Deletes expired sessions.
    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, AdapterError>;
}

/// Single-use verification tokens (magic links, password resets).
///
/// # Contract
/// - `create_verification_token` stores the row; the pair (identifier, token) is unique.
/// - `use_verification_token` deletes **and** returns the row whose identifier **and** token
///   both match, atomically: of any number of concurrent calls exactly one gets the row,
///   the others `None`. A right identifier with a wrong token (or the reverse) returns
///   `None` and leaves the real row usable. Expired rows are returned like any other (the
///   caller checks `expires`), or — in a store with native expiry — already gone.
/// - `delete_verification_tokens` deletes every row of the identifier (used or not,
///   expired or not) and returns how many it deleted, `0` for an identifier with none;
///   rows of other identifiers are untouched. Afterwards `use_verification_token` returns
///   `None` for each deleted token.
#[async_trait]
pub trait VerificationTokenAdapter: Send + Sync + 'static {
    /// Stores a token.
    async fn create_verification_token(
        &self,
        token: &VerificationToken,
    ) -> Result<(), AdapterError>;
    /// Consumes a token.
    async fn use_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> Result<Option<VerificationToken>, AdapterError>;
    /// Deletes every token of `identifier` (used or not, expired or not) and returns how many
    /// were deleted; `0` for an identifier with none. portcullis calls it when an address
    /// exceeds its limit of link uses (SECURITY.md EML-14: tokens invalidated after N
    /// failures), so a guessed-at link dies with the guessing.
    async fn delete_verification_tokens(&self, identifier: &str) -> Result<u64, AdapterError>;
}

/// A per-user "not before" time: sessions issued earlier are refused (JWT revocation).
///
/// # Contract
/// - `not_before` returns the last time set for the user, `None` if never set.
/// - `set_not_before` stores it, replacing any earlier value.
#[async_trait]
pub trait RevocationAdapter: Send + Sync + 'static {
    /// The user's "not before" time.
    async fn not_before(&self, user_id: &str) -> Result<Option<OffsetDateTime>, AdapterError>;
    /// Sets the user's "not before" time.
    async fn set_not_before(&self, user_id: &str, at: OffsetDateTime) -> Result<(), AdapterError>;
}

/// Password hashes and the disabled flag of users (the credentials provider of the
/// standalone server, password sign-in in applications).
///
/// The adapter stores PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`) as given: hashing,
/// verifying and parameter choices are the caller's. A user's password and flag live and
/// die with the user (`delete_user` removes them).
///
/// # Contract
/// - `password_hash` returns the stored PHC string, `None` when the user has no password
///   or does not exist.
/// - `set_password_hash` stores or replaces it; [`AdapterError::NotFound`] for an unknown
///   user (nothing is stored).
/// - `set_disabled` sets the flag; [`AdapterError::NotFound`] for an unknown user.
/// - `is_disabled` returns the flag: `false` for users never disabled **and** for unknown
///   users (callers that must refuse unknown users look the user up first).
#[async_trait]
pub trait PasswordAdapter: Send + Sync + 'static {
    /// The user's password hash (PHC string).
    async fn password_hash(&self, user_id: &str) -> Result<Option<String>, AdapterError>;
    /// Stores or replaces the user's password hash.
    async fn set_password_hash(&self, user_id: &str, phc: &str) -> Result<(), AdapterError>;
    /// Disables or re-enables the user.
    async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<(), AdapterError>;
    /// Whether the user is disabled.
    async fn is_disabled(&self, user_id: &str) -> Result<bool, AdapterError>;
}

/// The audit log's store ([`crate::audit`]).
#[async_trait]
pub trait AuditAdapter: Send + Sync + 'static {
    /// Stores one event. Its `id` is a fresh random UUID; storing the same id twice is a
    /// [`AdapterError::Conflict`].
    async fn record_audit_event(
        &self,
        event: &crate::audit::AuditEvent,
    ) -> Result<(), AdapterError>;
    /// The user's events, newest first (of events with the same `at`, the one recorded
    /// last first), only those strictly before `before` when given, at most `limit` (at
    /// least 1).
    async fn audit_events(
        &self,
        user_id: &str,
        before: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<crate::audit::AuditEvent>, AdapterError>;
    /// Deletes every event strictly before `cutoff`, whoever it concerns; returns how many.
    async fn delete_audit_events_before(&self, cutoff: OffsetDateTime)
    -> Result<u64, AdapterError>;
}
