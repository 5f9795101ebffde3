//! The audit log: security events, kept through an [`AuditAdapter`] and emitted as
//! `tracing` events.
//!
//! Every event below is written as a `tracing` event with target `portcullis::audit`
//! (`warn` for failures and refusals, `info` otherwise), counted in
//! [`Metrics`](crate::Metrics), and — when the configuration has an
//! [`audit_adapter`](crate::AuthConfigBuilder::audit_adapter) — stored, then kept for the
//! [`audit_retention`](crate::AuthConfigBuilder::audit_retention) (default 90 days).
//!
//! | kind | when | user |
//! |---|---|---|
//! | `sign_in` | a session was issued (any provider) | the user |
//! | `sign_in_failed` | a sign-in or callback was refused (bad password, denied, bad state…) | the user when known (a wrong password for an existing account) |
//! | `sign_out` | `POST /signout` ended a session | the user when the session could be read |
//! | `session_revoked` | a session was revoked through the management API or routes | the owner |
//! | `password_changed` | a signed-in user changed the password | the user |
//! | `password_reset` | a reset link set a new password | the user |
//! | `account_linked` | an OAuth account was linked to an existing user | the user |
//! | `account_unlinked` | [`Auth::unlink_account`](crate::Auth::unlink_account) removed one | the user |
//! | `rate_limited` | a rate limit refused an attempt | — |
//! | `configuration_refused` | a request was refused for the configuration (an untrusted host) | — |
//!
//! An event holds ids, the provider, the client address and browser, and a short reason
//! code chosen by portcullis (`CredentialsSignin`, `revoke-all`, …). It never holds a
//! password, a token, a CSRF value, a secret or what a client typed as its username: a
//! stored audit log is not a second place to steal credentials from.
//!
//! A failure to store an event is logged (`[auth][error] AuditLogError`) and counted as a
//! store error; it never changes the answer to the request.
//!
//! The signed-in user reads their own events at `GET {base}/audit` (`?limit=` 1–200,
//! default 50; `?before=` an ISO 8601 time, for the next page), newest first; the
//! application reads anyone's through [`Auth::audit_events`](crate::Auth::audit_events).

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::adapter::{AdapterError, AuditAdapter};
use crate::auth::Auth;
use crate::config::AuthConfig;
use crate::request::Ctx;
use crate::session::iso_millis;

/// Default retention of stored audit events.
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// How often (at most) an instance deletes events past the retention, in seconds.
const PRUNE_EVERY_SECS: i64 = 60 * 60;

/// The longest user agent kept in an event, in bytes.
const MAX_USER_AGENT: usize = 256;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A session was issued.
    SignIn,
    /// A sign-in attempt was refused.
    SignInFailed,
    /// A session was ended by signing out.
    SignOut,
    /// Sessions were revoked (one, the others, or all).
    SessionRevoked,
    /// The user changed the password.
    PasswordChanged,
    /// A reset link set a new password.
    PasswordReset,
    /// A provider account was linked to an existing user.
    AccountLinked,
    /// A provider account was unlinked.
    AccountUnlinked,
    /// A rate limit refused an attempt.
    RateLimited,
    /// A request was refused because of the configuration (an untrusted host).
    ConfigurationRefused,
}

impl AuditKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 10] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::SignOut,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::AccountLinked,
        Self::AccountUnlinked,
        Self::RateLimited,
        Self::ConfigurationRefused,
    ];

    /// The stored name (`sign_in`, `sign_in_failed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignOut => "sign_out",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::AccountLinked => "account_linked",
            Self::AccountUnlinked => "account_unlinked",
            Self::RateLimited => "rate_limited",
            Self::ConfigurationRefused => "configuration_refused",
        }
    }

    /// The kind for a stored name; `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether the event reports a refusal (logged at `warn`).
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::SignInFailed | Self::RateLimited | Self::ConfigurationRefused
        )
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEvent {
    /// A random UUID.
    pub id: String,
    /// When it happened (UTC, millisecond precision once stored).
    pub at: OffsetDateTime,
    /// What happened.
    pub kind: AuditKind,
    /// Whose account it concerns, when known.
    pub user_id: Option<String>,
    /// The provider id (sign-in, linking).
    pub provider: Option<String>,
    /// The client address, when the framework layer supplied one
    /// ([`ClientIp`](crate::ClientIp)).
    pub ip: Option<String>,
    /// The browser's `User-Agent`, cut to 256 bytes.
    pub user_agent: Option<String>,
    /// A short reason code chosen by portcullis (an error code, `revoke-all`…).
    pub detail: Option<String>,
}

impl AuditEvent {
    /// A new event of `kind`, now, with a fresh id.
    pub fn new(kind: AuditKind) -> Self {
        Self {
            id: crate::secret::random_uuid(),
            at: OffsetDateTime::now_utc(),
            kind,
            user_id: None,
            provider: None,
            ip: None,
            user_agent: None,
            detail: None,
        }
    }

    /// An event read back from a store (for adapters): the other fields start empty and
    /// are set directly.
    pub fn from_stored(id: String, at: OffsetDateTime, kind: AuditKind) -> Self {
        Self {
            id,
            at,
            kind,
            user_id: None,
            provider: None,
            ip: None,
            user_agent: None,
            detail: None,
        }
    }

    /// Sets the user.
    #[must_use]
    pub fn with_user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the provider.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Sets the reason code.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the client address and browser of the request that caused it.
    #[must_use]
    pub fn with_client(mut self, ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        self.ip = ip.map(|ip| ip.to_string());
        self.user_agent = user_agent.map(|ua| {
            let mut end = ua.len().min(MAX_USER_AGENT);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        self
    }

    /// Fills in the client of an action's request.
    pub(crate) fn client_of(self, ctx: &Ctx<'_>) -> Self {
        let client = Client::of(ctx);
        self.with_client(client.ip, client.user_agent)
    }

    /// The JSON shape of `GET {base}/audit` (camelCase, ISO 8601 time; no user id: the
    /// route only shows the caller's own events).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "at": iso_millis(self.at),
            "kind": self.kind.as_str(),
            "provider": self.provider,
            "ip": self.ip,
            "userAgent": self.user_agent,
            "detail": self.detail,
        })
    }
}

/// Which events [`Auth::audit_events`] returns: newest first, at most `limit`, all
/// strictly before `before` when set (for paging).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only events before this time.
    pub before: Option<OffsetDateTime>,
    /// At most this many (1 to 1000; larger values are cut to 1000).
    pub limit: u32,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            before: None,
            limit: 50,
        }
    }
}

impl AuditQuery {
    /// The newest `limit` events.
    pub fn latest(limit: u32) -> Self {
        Self {
            before: None,
            limit,
        }
    }

    /// Only events before `at`.
    #[must_use]
    pub fn before(mut self, at: OffsetDateTime) -> Self {
        self.before = Some(at);
        self
    }
}

/// The configured audit store and its retention.
pub(crate) struct AuditLog {
    pub(crate) adapter: Option<std::sync::Arc<dyn AuditAdapter>>,
    pub(crate) retention: Duration,
    /// Unix seconds of this instance's last prune (0: never).
    last_prune: AtomicI64,
}

impl AuditLog {
    pub(crate) fn new(
        adapter: Option<std::sync::Arc<dyn AuditAdapter>>,
        retention: Duration,
    ) -> Self {
        Self {
            adapter,
            retention,
            last_prune: AtomicI64::new(0),
        }
    }

    fn cutoff(&self, now: OffsetDateTime) -> OffsetDateTime {
        let secs = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        now.checked_sub(time::Duration::seconds(secs))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Who made a request, for an event: the client address and browser (`NONE` for calls
/// through the Rust API).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Client<'a> {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<&'a str>,
}

impl<'a> Client<'a> {
    pub(crate) const NONE: Client<'static> = Client {
        ip: None,
        user_agent: None,
    };

    pub(crate) fn of(ctx: &'a Ctx<'_>) -> Self {
        Self {
            ip: ctx.client_ip,
            user_agent: ctx
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        }
    }
}

/// Sessions of `user_id` were revoked (`how`: `revoke`, `revoke-others`, `revoke-all`).
pub(crate) async fn revoked(cfg: &AuthConfig, user_id: &str, how: &str, client: Client<'_>) {
    let event = AuditEvent::new(AuditKind::SessionRevoked)
        .with_user(user_id)
        .with_detail(how)
        .with_client(client.ip, client.user_agent);
    record(cfg, event).await;
}

/// Emits, counts and stores one event. Never fails: a store error is logged.
pub(crate) async fn record(cfg: &AuthConfig, event: AuditEvent) {
    let kind = event.kind.as_str();
    let user = event.user_id.as_deref().unwrap_or("");
    let provider = event.provider.as_deref().unwrap_or("");
    let detail = event.detail.as_deref().unwrap_or("");
    let ip = event.ip.as_deref().unwrap_or("");
    // Ids come from the application or a provider: Debug formatting escapes control
    // characters, so no value can forge a log line.
    if event.kind.is_refusal() {
        tracing::warn!(target: "portcullis::audit", kind, user_id = ?user, provider, detail, ip, "audit");
    } else {
        tracing::info!(target: "portcullis::audit", kind, user_id = ?user, provider, detail, ip, "audit");
    }
    cfg.metrics.audit_event(event.kind);
    let Some(adapter) = &cfg.audit.adapter else {
        return;
    };
    if let Err(e) = adapter.record_audit_event(&event).await {
        tracing::error!(target: "portcullis", error = %e, kind, "[auth][error] AuditLogError: the event could not be stored");
        return;
    }
    let now = OffsetDateTime::now_utc();
    let last = cfg.audit.last_prune.load(Ordering::Relaxed);
    if now.unix_timestamp() - last >= PRUNE_EVERY_SECS
        && cfg
            .audit
            .last_prune
            .compare_exchange(
                last,
                now.unix_timestamp(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
        && let Err(e) = adapter
            .delete_audit_events_before(cfg.audit.cutoff(now))
            .await
    {
        tracing::warn!(target: "portcullis", error = %e, "[auth][warn] could not delete audit events past the retention");
    }
}

/// A completed sign-in: the `success` count, the `sign_in` event, and the application's
/// [`Events::sign_in`](crate::Events::sign_in) hook.
pub(crate) async fn signed_in(ctx: &Ctx<'_>, user_id: &str, provider: &str, is_new_user: bool) {
    ctx.cfg.metrics.sign_in(provider, "success");
    let mut event = AuditEvent::new(AuditKind::SignIn)
        .with_user(user_id)
        .with_provider(provider)
        .client_of(ctx);
    if is_new_user {
        event = event.with_detail("new_user");
    }
    record(ctx.cfg, event).await;
    if let Some(events) = &ctx.cfg.events {
        let event = crate::events::SignInEvent {
            user_id: user_id.to_owned(),
            provider: provider.to_owned(),
            is_new_user,
        };
        crate::events::fire("sign_in", events.sign_in(event)).await;
    }
}

/// An event about `user_id` caused by an action's request.
#[cfg(any(feature = "oauth", all(feature = "email", feature = "password")))]
pub(crate) async fn user_event(
    ctx: &Ctx<'_>,
    kind: AuditKind,
    user_id: &str,
    detail: Option<&str>,
) {
    let mut event = AuditEvent::new(kind).with_user(user_id).client_of(ctx);
    if let Some(d) = detail {
        event = event.with_detail(d);
    }
    if let Some(p) = &ctx.provider
        && matches!(kind, AuditKind::AccountLinked)
    {
        event = event.with_provider(p.clone());
    }
    record(ctx.cfg, event).await;
}

/// Why the audit log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// No [`audit_adapter`](crate::AuthConfigBuilder::audit_adapter) is configured.
    #[error("no audit adapter is configured")]
    NotConfigured,
    /// The store failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

impl Auth {
    /// The user's stored audit events, newest first.
    ///
    /// # Errors
    /// [`AuditError::NotConfigured`] without an audit adapter; [`AuditError::Adapter`] when
    /// the store fails.
    pub async fn audit_events(
        &self,
        user_id: &str,
        query: AuditQuery,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        let adapter = self
            .config()
            .audit
            .adapter
            .as_ref()
            .ok_or(AuditError::NotConfigured)?;
        let limit = query.limit.clamp(1, 1000);
        Ok(adapter.audit_events(user_id, query.before, limit).await?)
    }

    /// Records an event of the application's own (an administrator disabled a user, say)
    /// exactly as portcullis records its own: `tracing`, metrics, and the store.
    pub async fn record_audit_event(&self, event: AuditEvent) {
        record(self.config(), event).await;
    }

    /// Deletes every stored event older than the retention now; returns how many. portcullis
    /// also does this at most once an hour per instance as events are recorded.
    ///
    /// # Errors
    /// As [`audit_events`](Self::audit_events).
    pub async fn prune_audit_log(&self) -> Result<u64, AuditError> {
        let audit = &self.config().audit;
        let adapter = audit.adapter.as_ref().ok_or(AuditError::NotConfigured)?;
        let now = OffsetDateTime::now_utc();
        audit
            .last_prune
            .store(now.unix_timestamp(), Ordering::Relaxed);
        Ok(adapter
            .delete_audit_events_before(audit.cutoff(now))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in AuditKind::ALL {
            assert_eq!(AuditKind::parse(k.as_str()), Some(k));
            assert_eq!(AuditKind::ALL[k.index()], k);
        }
        assert_eq!(AuditKind::parse("SIGN_IN"), None);
        assert_eq!(AuditKind::parse(""), None);
    }

    #[test]
    fn user_agents_are_cut_on_a_character_boundary() {
        let ua = "é".repeat(200); // 400 bytes
        let e = AuditEvent::new(AuditKind::SignIn).with_client(None, Some(&ua));
        let kept = e.user_agent.unwrap();
        assert!(kept.len() <= MAX_USER_AGENT && kept.len() >= MAX_USER_AGENT - 1);
        assert!(ua.starts_with(&kept));
    }

    #[test]
    fn the_cutoff_never_underflows() {
        let log = AuditLog::new(None, Duration::from_secs(u64::MAX));
        assert_eq!(
            log.cutoff(OffsetDateTime::now_utc()),
            OffsetDateTime::UNIX_EPOCH
        );
        let log = AuditLog::new(None, Duration::from_secs(3600));
        let now = OffsetDateTime::from_unix_timestamp(10_000).unwrap();
        assert_eq!(log.cutoff(now).unix_timestamp(), 10_000 - 3600);
    }
}
