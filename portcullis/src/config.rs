//! Configuration: [`AuthConfig`] and its builder.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::adapter::{RevocationAdapter, SessionAdapter, UserAdapter, VerificationTokenAdapter};
use crate::callbacks::{Callbacks, DynCallbacks, Erased};
use crate::cookie::CookieNames;
use crate::error::ConfigError;
use crate::events::Events;
use crate::jwt::{JweCodec, TokenFormat};
use crate::provider::{Credentials, ProviderEntry, ProviderKind, is_valid_id};
use crate::ratelimit::{RateLimiter, RateLimits};
use crate::secret::Secret;
use crate::store::{NotBeforeCache, Stores};
use crate::theme::{Messages, Theme};

/// Longest accepted session lifetime (ten years).
const MAX_LIFETIME: Duration = Duration::from_secs(10 * 366 * 24 * 60 * 60);

/// Shortest accepted secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Which Auth.js generation's wire dialect to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// Auth.js v5 / `@auth/core`: `authjs.*` cookies, `X-Auth-Return-Redirect`, `null` for no
    /// session, A256CBC-HS512 tokens.
    #[default]
    V5,
    /// next-auth v4 and nuxt-auth: `next-auth.*` cookies, `json=true`, `{}` for no session,
    /// A256GCM tokens.
    V4,
}

/// Custom page URLs (Auth.js `pages`). Each is a path on the application's origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pages {
    /// The sign-in page (default: the built-in `{base}/signin`).
    pub sign_in: Option<String>,
    /// The sign-out page (default: the built-in `{base}/signout`).
    pub sign_out: Option<String>,
    /// The error page (default: the built-in `{base}/error`).
    pub error: Option<String>,
}

/// How sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SessionStrategy {
    /// A stateless encrypted token in the session cookie (revocable through a
    /// [`RevocationAdapter`]'s per-user "not before" time).
    #[default]
    Jwt,
    /// A random token in the cookie, the session in a [`SessionAdapter`]: visible, listable
    /// and revocable. Works with credentials sign-in too (Auth.js refuses that combination).
    Database,
}

/// The validated configuration of an [`Auth`](crate::Auth).
pub struct AuthConfig {
    pub(crate) base_path: String,
    pub(crate) url: Option<Url>,
    pub(crate) trust_host: bool,
    pub(crate) csrf_secret: String,
    /// Every configured secret, the encoding one first.
    #[cfg_attr(not(feature = "email"), allow(dead_code))]
    pub(crate) secrets: Vec<Secret>,
    pub(crate) compat: Compat,
    pub(crate) max_age: i64,
    pub(crate) strategy: SessionStrategy,
    pub(crate) update_age: i64,
    pub(crate) absolute_max_age: Option<i64>,
    pub(crate) stores: Stores,
    pub(crate) secure_override: Option<bool>,
    pub(crate) providers: Vec<ProviderEntry>,
    pub(crate) callbacks: Arc<dyn DynCallbacks>,
    pub(crate) events: Option<Arc<dyn Events>>,
    pub(crate) pages: Pages,
    pub(crate) theme: Theme,
    pub(crate) messages: Messages,
    pub(crate) check_fetch_metadata: bool,
    pub(crate) body_limit: usize,
    pub(crate) rate_limiter: Option<Arc<dyn RateLimiter>>,
    pub(crate) rate_limits: RateLimits,
    pub(crate) audit: crate::audit::AuditLog,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// Index 0: http names/codec; index 1: https (`__Secure-`/`__Host-`).
    pub(crate) names: [CookieNames; 2],
    pub(crate) codecs: [JweCodec; 2],
    #[cfg(feature = "oauth")]
    pub(crate) oauth: crate::provider::oauth::Shared,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("base_path", &self.base_path)
            .field("url", &self.url.as_ref().map(Url::as_str))
            .field("trust_host", &self.trust_host)
            .field("compat", &self.compat)
            .field("max_age", &self.max_age)
            .field(
                "providers",
                &self.providers.iter().map(|p| &p.id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Starts a configuration with the application's callbacks.
    ///
    /// # Examples
    /// ```
    /// use portcullis::{AuthConfig, Credentials, DefaultCallbacks, User};
    /// let config = AuthConfig::builder(DefaultCallbacks)
    ///     .secret("0123456789abcdef0123456789abcdef-example")
    ///     .url("http://localhost:3000")
    ///     .credentials(Credentials::new(|_form, _req| async { Ok(None::<User>) }))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.base_path(), "/api/auth");
    /// ```
    pub fn builder<C: Callbacks>(callbacks: C) -> AuthConfigBuilder<C> {
        AuthConfigBuilder {
            callbacks,
            providers: Vec::new(),
            secrets: Vec::new(),
            base_path: None,
            url: None,
            trust_host: None,
            compat: Compat::V5,
            max_age: Duration::from_secs(30 * 24 * 60 * 60),
            update_age: Duration::from_secs(24 * 60 * 60),
            absolute_max_age: None,
            strategy: None,
            stores: Stores::default(),
            not_before_ttl: Duration::from_secs(5),
            accept_v4_tokens: false,
            secure_override: None,
            allow_short_secret: false,
            events: None,
            pages: Pages::default(),
            theme: Theme::default(),
            messages: Messages::default(),
            check_fetch_metadata: true,
            body_limit: 64 * 1024,
            rate_limiter: None,
            rate_limits: RateLimits::default(),
            audit_adapter: None,
            audit_retention: crate::audit::DEFAULT_AUDIT_RETENTION,
            problems: Vec::new(),
        }
    }

    /// The base path of the auth routes (`/api/auth`).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The configured public URL (`AUTH_URL`), if any.
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// The wire dialect.
    pub fn compat(&self) -> Compat {
        self.compat
    }

    /// Session lifetime in seconds (`maxAge`).
    pub fn max_age(&self) -> i64 {
        self.max_age
    }

    /// The session strategy.
    pub fn strategy(&self) -> SessionStrategy {
        self.strategy
    }

    /// The largest request body accepted, in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    pub(crate) fn names(&self, secure: bool) -> &CookieNames {
        &self.names[usize::from(secure)]
    }

    pub(crate) fn codec(&self, secure: bool) -> &JweCodec {
        &self.codecs[usize::from(secure)]
    }

    /// Whether cookies are `Secure` when no request is at hand (from `AUTH_URL`).
    /// Whether cookies for requests on `origin` are `Secure` (and `__Secure-`/`__Host-`).
    /// How many secrets are configured.
    #[cfg(feature = "email")]
    pub(crate) fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// The configured secrets, the encoding one first.
    #[cfg(feature = "email")]
    pub(crate) fn secrets(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(Secret::expose)
    }

    pub(crate) fn is_secure(&self, origin: &Url) -> bool {
        self.secure_override.unwrap_or(origin.scheme() == "https")
    }

    pub(crate) fn default_secure(&self) -> bool {
        self.secure_override
            .unwrap_or_else(|| self.url.as_ref().is_some_and(|u| u.scheme() == "https"))
    }
}

/// Builds an [`AuthConfig`]; every problem is collected and reported by
/// [`build`](Self::build) at once.
pub struct AuthConfigBuilder<C: Callbacks> {
    callbacks: C,
    providers: Vec<ProviderEntry>,
    secrets: Vec<Secret>,
    base_path: Option<String>,
    url: Option<String>,
    trust_host: Option<bool>,
    compat: Compat,
    max_age: Duration,
    update_age: Duration,
    absolute_max_age: Option<Duration>,
    strategy: Option<SessionStrategy>,
    stores: Stores,
    not_before_ttl: Duration,
    accept_v4_tokens: bool,
    secure_override: Option<bool>,
    allow_short_secret: bool,
    events: Option<Arc<dyn Events>>,
    pages: Pages,
    theme: Theme,
    messages: Messages,
    check_fetch_metadata: bool,
    body_limit: usize,
    rate_limiter: Option<Arc<dyn RateLimiter>>,
    rate_limits: RateLimits,
    audit_adapter: Option<Arc<dyn crate::adapter::AuditAdapter>>,
    audit_retention: Duration,
    problems: Vec<String>,
}

impl<C: Callbacks> AuthConfigBuilder<C> {
    /// Adds a secret. The first one added encodes; all decode (rotation: put the new
    /// secret first, keep the old one after it until old sessions have expired).
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(Secret::new(secret));
        self
    }

    /// The public URL of the application (`AUTH_URL`). Its origin is used for every URL
    /// portcullis builds; a path other than `/` sets the base path.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Whether to build URLs from the request's `Host` / `X-Forwarded-Host` and
    /// `X-Forwarded-Proto` (`AUTH_TRUST_HOST`). Only behind a proxy that sets them.
    pub fn trust_host(mut self, trust: bool) -> Self {
        self.trust_host = Some(trust);
        self
    }

    /// The base path of the routes (default `/api/auth`).
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        self.base_path = Some(path.into());
        self
    }

    /// The wire dialect (default [`Compat::V5`]).
    pub fn compat(mut self, compat: Compat) -> Self {
        self.compat = compat;
        self
    }

    /// Session lifetime (default 30 days).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How often a database session's expiry is pushed forward (`updateAge`, default 24 h):
    /// a read extends it only when it was last extended longer ago than this.
    pub fn update_age(mut self, update_age: Duration) -> Self {
        self.update_age = update_age;
        self
    }

    /// An absolute lifetime for database sessions, counted from sign-in, that sliding
    /// expiry never extends (default: none, as Auth.js).
    pub fn absolute_max_age(mut self, max: Duration) -> Self {
        self.absolute_max_age = Some(max);
        self
    }

    /// Forces a session strategy. Default: [`SessionStrategy::Database`] when a session
    /// adapter is set, [`SessionStrategy::Jwt`] otherwise (as Auth.js).
    pub fn session_strategy(mut self, strategy: SessionStrategy) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// The store of users and linked accounts.
    pub fn user_adapter<A: UserAdapter>(mut self, adapter: Arc<A>) -> Self {
        self.stores.users = Some(adapter);
        self
    }

    /// The store of database sessions (it may differ from the user store: Redis in front
    /// of SQL, say).
    pub fn session_adapter<A: SessionAdapter>(mut self, adapter: Arc<A>) -> Self {
        self.stores.sessions = Some(adapter);
        self
    }

    /// The store of verification tokens (email sign-in, password reset).
    pub fn verification_token_adapter<A: VerificationTokenAdapter>(
        mut self,
        adapter: Arc<A>,
    ) -> Self {
        self.stores.tokens = Some(adapter);
        self
    }

    /// The store of per-user "not before" times that revoke JWT sessions.
    pub fn revocation_adapter<A: RevocationAdapter>(mut self, adapter: Arc<A>) -> Self {
        self.stores.revocations = Some(adapter);
        self
    }

    /// Sets the password store (password hashes and the disabled flag), for
    /// [`passwords`](Self::passwords).
    pub fn password_adapter<A: crate::adapter::PasswordAdapter>(mut self, adapter: Arc<A>) -> Self {
        self.stores.passwords = Some(adapter);
        self
    }

    /// One adapter for every capability (the SQL adapters, the memory adapter).
    pub fn adapter<A>(self, adapter: Arc<A>) -> Self
    where
        A: UserAdapter + SessionAdapter + VerificationTokenAdapter + RevocationAdapter,
    {
        self.user_adapter(adapter.clone())
            .session_adapter(adapter.clone())
            .verification_token_adapter(adapter.clone())
            .revocation_adapter(adapter)
    }

    /// Where security events are kept ([`crate::audit`]): sign-ins and failed attempts,
    /// sign-outs, revocations, password changes, linked accounts, rate-limit hits. Without
    /// one, events are still emitted as `tracing` events and counted.
    pub fn audit_adapter<A: crate::adapter::AuditAdapter>(mut self, adapter: Arc<A>) -> Self {
        self.audit_adapter = Some(adapter);
        self
    }

    /// How long stored audit events are kept (default 90 days, at least one day). Older
    /// ones are deleted at most once an hour per instance, as new events are recorded, or
    /// by [`Auth::prune_audit_log`](crate::Auth::prune_audit_log).
    pub fn audit_retention(mut self, retention: Duration) -> Self {
        self.audit_retention = retention;
        self
    }

    /// How long a "not before" time read from the revocation store is reused (default 5 s).
    /// Another instance's revocation takes effect here within this time.
    pub fn revocation_cache_ttl(mut self, ttl: Duration) -> Self {
        self.not_before_ttl = ttl;
        self
    }

    /// Also accept next-auth v4 tokens (A256GCM) on decode, for migrating from v4. In
    /// [`Compat::V4`] this is always on.
    pub fn accept_v4_tokens(mut self, accept: bool) -> Self {
        self.accept_v4_tokens = accept;
        self
    }

    /// Forces `Secure` cookies on or off (default: on exactly when the origin is https).
    /// Turning them off for an https `AUTH_URL` is refused.
    pub fn use_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_override = Some(secure);
        self
    }

    /// Accepts secrets shorter than [`MIN_SECRET_LEN`] bytes. For tests and for reading
    /// tokens of an existing deployment only.
    pub fn insecure_allow_short_secret(mut self, allow: bool) -> Self {
        self.allow_short_secret = allow;
        self
    }

    /// Adds a credentials provider. Its user type must be the callbacks' `UserFields`.
    pub fn credentials(mut self, provider: Credentials<C::UserFields>) -> Self {
        let (id, name, fields, authorize) = provider.into_dyn();
        self.providers.push(ProviderEntry {
            id,
            name,
            kind: ProviderKind::Credentials { fields, authorize },
        });
        self
    }

    /// Adds an OAuth 2.0 / OpenID Connect provider (a preset from
    /// [`providers`](crate::providers) or an [`OAuth`](crate::OAuth) of your own). Its
    /// configuration problems (no client id, no issuer or endpoints, plain-http endpoints)
    /// are reported by [`build`](Self::build).
    ///
    /// # Examples
    /// ```
    /// use portcullis::{AuthConfig, DefaultCallbacks, providers};
    /// let config = AuthConfig::builder(DefaultCallbacks)
    ///     .secret("0123456789abcdef0123456789abcdef-example")
    ///     .url("http://localhost:3000")
    ///     .oauth(providers::github().client("client-id", "client-secret"))
    ///     .build()
    ///     .unwrap();
    /// # let _ = config;
    /// ```
    #[cfg(feature = "oauth")]
    pub fn oauth(mut self, provider: crate::OAuth) -> Self {
        use crate::provider::oauth::{OAuthEntry, client};
        self.problems.extend(provider.problems());
        match client::http_client(provider.timeout) {
            Ok(http) => self.providers.push(ProviderEntry {
                id: provider.id.clone(),
                name: provider.name.clone(),
                kind: ProviderKind::OAuth(Box::new(OAuthEntry {
                    config: provider,
                    runtime: client::Runtime::new(http),
                })),
            }),
            Err(e) => self
                .problems
                .push(format!("provider `{}`: {e}", provider.id)),
        }
        self
    }

    /// Adds the email provider (sign-in links, see [`Email`](crate::Email)). It needs
    /// `AUTH_URL` (links are never built from a request's `Host`), a user adapter and a
    /// verification-token adapter; [`build`](Self::build) reports what is missing.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use portcullis::{AuthConfig, DefaultCallbacks, Email, adapter::memory::MemoryAdapter};
    /// use portcullis::email::LogSender;
    /// let store = Arc::new(MemoryAdapter::new());
    /// let config = AuthConfig::builder(DefaultCallbacks)
    ///     .secret("0123456789abcdef0123456789abcdef-example")
    ///     .url("http://localhost:3000")
    ///     .user_adapter(store.clone())
    ///     .verification_token_adapter(store)
    ///     .email(Email::new(LogSender))
    ///     .build()
    ///     .unwrap();
    /// # let _ = config;
    /// ```
    #[cfg(feature = "email")]
    pub fn email(mut self, provider: crate::Email) -> Self {
        if provider.max_age < time::Duration::minutes(1)
            || provider.max_age > time::Duration::days(1)
        {
            self.problems.push(format!(
                "provider `{}`: max_age must be between one minute and one day",
                provider.id
            ));
        }
        self.providers.push(ProviderEntry {
            id: provider.id.clone(),
            name: provider.name.clone(),
            kind: ProviderKind::Email(Box::new(provider)),
        });
        self
    }

    /// Adds email + password accounts (sign-in, and — as configured — sign-up,
    /// verification, reset and change; see [`Passwords`](crate::Passwords)). Needs a user
    /// adapter and a password adapter; with a sender, also `AUTH_URL` and a
    /// verification-token adapter. [`build`](Self::build) reports what is missing.
    #[cfg(all(feature = "email", feature = "password"))]
    pub fn passwords(mut self, provider: crate::Passwords) -> Self {
        if provider.sign_up && provider.sender.is_none() {
            self.problems.push(format!(
                "provider `{}`: sign-up sends a verification mail: give it a sender",
                provider.id
            ));
        }
        for (what, d) in [
            ("verify_max_age", provider.verify_max_age),
            ("reset_max_age", provider.reset_max_age),
        ] {
            if d < time::Duration::minutes(1) || d > time::Duration::days(7) {
                self.problems.push(format!(
                    "provider `{}`: {what} must be between one minute and seven days",
                    provider.id
                ));
            }
        }
        self.providers.push(ProviderEntry {
            id: provider.id.clone(),
            name: provider.name.clone(),
            kind: ProviderKind::Password(Box::new(provider)),
        });
        self
    }

    /// Sets the event hooks.
    pub fn events(mut self, events: impl Events) -> Self {
        self.events = Some(Arc::new(events));
        self
    }

    /// Sets custom page URLs.
    pub fn pages(mut self, pages: Pages) -> Self {
        self.pages = pages;
        self
    }

    /// Sets the look of the built-in pages.
    pub fn theme(mut self, theme: Theme) -> Self {
        self.theme = theme;
        self
    }

    /// Sets the words of the built-in pages (a translation).
    pub fn messages(mut self, messages: Messages) -> Self {
        self.messages = messages;
        self
    }

    /// Whether POSTs whose `Sec-Fetch-Site` is `cross-site` or whose `Origin` is foreign are
    /// refused with 403 (default on; defence in depth over the CSRF token).
    pub fn check_fetch_metadata(mut self, check: bool) -> Self {
        self.check_fetch_metadata = check;
        self
    }

    /// The largest request body accepted (default 64 KiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Rate-limits credentials sign-in with `limiter` (see [`crate::ratelimit`]): without
    /// one, no limit applies. A limiter error refuses the attempt with 503 (fail closed).
    pub fn rate_limiter<L: RateLimiter>(mut self, limiter: Arc<L>) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// The limits a configured [`rate_limiter`](Self::rate_limiter) enforces (default
    /// [`RateLimits::default`]: 5 attempts per identifier per 15 minutes, 20 per client IP
    /// per minute).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Reads the Auth.js environment variables from the process environment; see
    /// [`from_env_with`](Self::from_env_with).
    pub fn from_env(self) -> Self {
        self.from_env_with(|k| std::env::var(k).ok())
    }

    /// Reads `AUTH_SECRET` (plus `AUTH_SECRET_1`, `_2`, … for rotation, in Auth.js's
    /// order: the highest number encodes and `AUTH_SECRET` comes last), `AUTH_URL` and
    /// `AUTH_TRUST_HOST` (`true`/`false`/`1`/`0`) through `var`. Settings made on the
    /// builder win over the environment.
    pub fn from_env_with(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        if self.secrets.is_empty() {
            let mut list = Vec::new();
            if let Some(s) = var("AUTH_SECRET").filter(|s| !s.is_empty()) {
                list.push(Secret::new(s));
            }
            let mut n = 1;
            while let Some(s) = var(&format!("AUTH_SECRET_{n}")).filter(|s| !s.is_empty()) {
                list.insert(0, Secret::new(s));
                n += 1;
            }
            self.secrets = list;
        }
        if self.url.is_none() {
            self.url = var("AUTH_URL").filter(|s| !s.is_empty());
        }
        if self.trust_host.is_none() {
            match var("AUTH_TRUST_HOST").as_deref() {
                None | Some("") => {}
                Some("true" | "1") => self.trust_host = Some(true),
                Some("false" | "0") => self.trust_host = Some(false),
                Some(other) => self.problems.push(format!(
                    "AUTH_TRUST_HOST: `{other}` is not a boolean: set it to `true` or `false`"
                )),
            }
        }
        self
    }

    /// Validates and builds the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] listing every problem: no secret, a short secret, a malformed
    /// `AUTH_URL` or base path, duplicate or malformed provider ids, insecure cookies on
    /// https.
    pub fn build(self) -> Result<AuthConfig, ConfigError> {
        let mut problems = self.problems;
        if self.secrets.is_empty() {
            problems.push(
                "AUTH_SECRET: missing: set it to at least 32 random bytes (`openssl rand -base64 33`)"
                    .to_owned(),
            );
        }
        for (i, s) in self.secrets.iter().enumerate() {
            if s.len() < MIN_SECRET_LEN && !self.allow_short_secret {
                problems.push(format!(
                    "AUTH_SECRET: secret #{} is {} bytes: use at least {MIN_SECRET_LEN} random bytes (`openssl rand -base64 33`)",
                    i + 1,
                    s.len()
                ));
            }
        }
        let url = match self.url.as_deref().map(parse_public_url) {
            Some(Ok(u)) => Some(u),
            Some(Err(p)) => {
                problems.push(p);
                None
            }
            None => None,
        };
        let base_path = match (&self.base_path, &url) {
            (Some(p), _) => p.clone(),
            (None, Some(u)) if u.path() != "/" => u.path().trim_end_matches('/').to_owned(),
            _ => "/api/auth".to_owned(),
        };
        if !is_valid_base_path(&base_path) {
            problems.push(format!(
                "base path: `{base_path}` is not a clean absolute path: use something like `/api/auth`"
            ));
        }
        let mut seen = Vec::new();
        for p in &self.providers {
            if !is_valid_id(&p.id) {
                problems.push(format!(
                    "provider id `{}`: use 1–64 characters of a–z, 0–9, `-`, `_`",
                    p.id
                ));
            }
            if seen.contains(&&p.id) {
                problems.push(format!("provider id `{}`: used twice", p.id));
            }
            seen.push(&p.id);
        }
        if self.secure_override == Some(false)
            && url.as_ref().is_some_and(|u| u.scheme() == "https")
        {
            problems.push(
                "use_secure_cookies: off for an https AUTH_URL: leave it unset so cookies get `Secure` and `__Host-`/`__Secure-`"
                    .to_owned(),
            );
        }
        let max_age = i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX);
        if max_age <= 0 {
            problems.push("max_age: must be at least one second".to_owned());
        }
        // Far-future lifetimes would overflow date arithmetic; ten years is already absurd.
        for (name, d) in [
            ("max_age", Some(self.max_age)),
            ("update_age", Some(self.update_age)),
            ("absolute_max_age", self.absolute_max_age),
        ] {
            if d.is_some_and(|d| d > MAX_LIFETIME) {
                problems.push(format!(
                    "{name}: longer than ten years: use a shorter lifetime"
                ));
            }
        }
        for (name, (limit, window)) in [
            ("per_identifier", self.rate_limits.per_identifier),
            ("per_ip", self.rate_limits.per_ip),
            (
                "email_per_identifier",
                self.rate_limits.email_per_identifier,
            ),
            ("email_per_ip", self.rate_limits.email_per_ip),
            (
                "verify_per_identifier",
                self.rate_limits.verify_per_identifier,
            ),
        ] {
            if limit == 0 || window.is_zero() {
                problems.push(format!(
                    "rate_limits: {name} needs at least one attempt in a non-zero window"
                ));
            }
        }
        #[cfg(feature = "email")]
        for p in &self.providers {
            if !matches!(p.kind, ProviderKind::Email(_)) {
                continue;
            }
            if url.is_none() {
                problems.push(format!(
                    "provider `{}`: email links are built from AUTH_URL, never from the request's Host: set AUTH_URL",
                    p.id
                ));
            }
            if self.stores.users.is_none() {
                problems.push(format!(
                    "provider `{}`: needs a user adapter: call `.user_adapter(…)`",
                    p.id
                ));
            }
            if self.stores.tokens.is_none() {
                problems.push(format!(
                    "provider `{}`: needs a verification-token adapter: call `.verification_token_adapter(…)`",
                    p.id
                ));
            }
        }
        #[cfg(all(feature = "email", feature = "password"))]
        for p in &self.providers {
            let ProviderKind::Password(pw) = &p.kind else {
                continue;
            };
            if self.stores.users.is_none() {
                problems.push(format!(
                    "provider `{}`: needs a user adapter: call `.user_adapter(…)`",
                    p.id
                ));
            }
            if self.stores.passwords.is_none() {
                problems.push(format!(
                    "provider `{}`: needs a password adapter: call `.password_adapter(…)`",
                    p.id
                ));
            }
            if pw.sender.is_some() {
                if url.is_none() {
                    problems.push(format!(
                        "provider `{}`: mailed links are built from AUTH_URL, never from the request's Host: set AUTH_URL",
                        p.id
                    ));
                }
                if self.stores.tokens.is_none() {
                    problems.push(format!(
                        "provider `{}`: mailed links need a verification-token adapter: call `.verification_token_adapter(…)`",
                        p.id
                    ));
                }
            }
        }
        let strategy = self.strategy.unwrap_or(if self.stores.sessions.is_some() {
            SessionStrategy::Database
        } else {
            SessionStrategy::Jwt
        });
        if strategy == SessionStrategy::Database {
            if self.stores.sessions.is_none() {
                problems.push(
                    "session strategy: `database` needs a session adapter: call `.session_adapter(…)` or use the JWT strategy"
                        .to_owned(),
                );
            }
            if self.stores.users.is_none() {
                problems.push(
                    "session strategy: `database` needs a user adapter: call `.user_adapter(…)`"
                        .to_owned(),
                );
            }
        }
        #[cfg(all(feature = "email", feature = "password"))]
        if strategy == SessionStrategy::Jwt
            && self.stores.revocations.is_none()
            && let Some(p) = self
                .providers
                .iter()
                .find(|p| matches!(p.kind, ProviderKind::Password(_)))
        {
            problems.push(format!(
                "provider `{}`: with JWT sessions a password reset or change must end the user's other sessions: call `.revocation_adapter(…)`",
                p.id
            ));
        }
        if self.audit_retention < Duration::from_secs(24 * 60 * 60)
            || self.audit_retention > MAX_LIFETIME
        {
            problems.push(
                "audit_retention: keep audit events between one day and ten years".to_owned(),
            );
        }
        let absolute_max_age = self
            .absolute_max_age
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let mut stores = self.stores.observed(&metrics);
        stores.not_before_cache = Arc::new(NotBeforeCache::new(self.not_before_ttl));
        let rate_limiter = self.rate_limiter.map(|l| -> Arc<dyn RateLimiter> {
            crate::observe::Observed::wrap(l, "rate_limiter", &metrics)
        });
        let audit_adapter = self
            .audit_adapter
            .map(|a| -> Arc<dyn crate::adapter::AuditAdapter> {
                crate::observe::Observed::wrap(a, "audit", &metrics)
            });
        let write = match self.compat {
            Compat::V5 => TokenFormat::V5,
            Compat::V4 => TokenFormat::V4,
        };
        let accept_v4 = self.accept_v4_tokens || self.compat == Compat::V4;
        let names = [
            CookieNames::defaults(self.compat, false),
            CookieNames::defaults(self.compat, true),
        ];
        let secret_bytes: Vec<&[u8]> = self.secrets.iter().map(|s| s.expose().as_bytes()).collect();
        let codecs = if problems.is_empty() {
            let a = JweCodec::new(&secret_bytes, &names[0].session_token, write, accept_v4);
            let b = JweCodec::new(&secret_bytes, &names[1].session_token, write, accept_v4);
            match (a, b) {
                (Ok(a), Ok(b)) => Some([a, b]),
                (Err(e), _) | (_, Err(e)) => {
                    problems.push(format!("AUTH_SECRET: {e}"));
                    None
                }
            }
        } else {
            None
        };
        let Some(codecs) = codecs.filter(|_| problems.is_empty()) else {
            tracing::warn!(target: "portcullis::audit", kind = "configuration_refused", problems = problems.len(), "audit");
            return Err(ConfigError::new(problems));
        };
        #[cfg(feature = "oauth")]
        let oauth = {
            let stem = match self.compat {
                Compat::V5 => "authjs",
                Compat::V4 => "next-auth",
            };
            let names = [
                format!("{stem}.oauth-check"),
                format!("__Host-{stem}.oauth-check"),
            ];
            let make = |salt: &str| JweCodec::new(&secret_bytes, salt, TokenFormat::V5, false);
            match (make(&names[0]), make(&names[1])) {
                (Ok(a), Ok(b)) => crate::provider::oauth::Shared::new(names, [a, b]),
                (Err(e), _) | (_, Err(e)) => {
                    return Err(ConfigError::new(vec![format!("AUTH_SECRET: {e}")]));
                }
            }
        };
        // Auth.js interpolates an array secret into the CSRF hash, which joins it with commas.
        let csrf_secret = self
            .secrets
            .iter()
            .map(Secret::expose)
            .collect::<Vec<_>>()
            .join(",");
        Ok(AuthConfig {
            base_path,
            url,
            trust_host: self.trust_host.unwrap_or(false),
            csrf_secret,
            secrets: self.secrets,
            compat: self.compat,
            max_age,
            strategy,
            update_age: i64::try_from(self.update_age.as_secs()).unwrap_or(i64::MAX),
            absolute_max_age,
            stores,
            secure_override: self.secure_override,
            providers: self.providers,
            callbacks: Arc::new(Erased(self.callbacks)),
            events: self.events,
            pages: self.pages,
            theme: self.theme,
            messages: self.messages,
            check_fetch_metadata: self.check_fetch_metadata,
            body_limit: self.body_limit,
            rate_limiter,
            rate_limits: self.rate_limits,
            audit: crate::audit::AuditLog::new(audit_adapter, self.audit_retention),
            metrics,
            names,
            codecs,
            #[cfg(feature = "oauth")]
            oauth,
        })
    }
}

fn parse_public_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| {
        format!("AUTH_URL: `{raw}` is not a URL ({e}): use the public origin, e.g. `https://app.example`")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "AUTH_URL: `{raw}` must be an http or https URL with a host"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "AUTH_URL: `{raw}` must not carry a query, fragment or credentials"
        ));
    }
    Ok(url)
}

fn is_valid_base_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 128
        && (p == "/" || !p.ends_with('/'))
        && !p.contains("//")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
        && !p.split('/').any(|seg| seg == "." || seg == "..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DefaultCallbacks;
    use std::collections::HashMap;

    const GOOD: &str = "0123456789abcdef0123456789abcdef-test";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_and_short_secrets_are_refused() {
        // CFG-01
        let err = AuthConfig::builder(DefaultCallbacks).build().unwrap_err();
        assert!(
            err.problems()[0].starts_with("AUTH_SECRET: missing"),
            "{err}"
        );
        let err = AuthConfig::builder(DefaultCallbacks)
            .secret("short")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("5 bytes"), "{err}");
        assert!(
            !err.to_string().contains("short\""),
            "the secret itself is never printed"
        );
        assert!(
            AuthConfig::builder(DefaultCallbacks)
                .secret("short")
                .insecure_allow_short_secret(true)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn problems_are_collected_together() {
        let err = AuthConfig::builder(DefaultCallbacks)
            .url("ftp://x")
            .base_path("api/auth/")
            .build()
            .unwrap_err();
        assert_eq!(err.problems().len(), 3, "{err}");
    }

    #[test]
    fn env_secrets_follow_auth_js_order() {
        let b = AuthConfig::builder(DefaultCallbacks).from_env_with(env(&[
            ("AUTH_SECRET", "base"),
            ("AUTH_SECRET_1", "one"),
            ("AUTH_SECRET_2", "two"),
        ]));
        let got: Vec<&str> = b.secrets.iter().map(Secret::expose).collect();
        assert_eq!(got, ["two", "one", "base"]);
    }

    #[test]
    fn auth_url_path_sets_base_path() {
        let c = AuthConfig::builder(DefaultCallbacks)
            .from_env_with(env(&[
                ("AUTH_SECRET", GOOD),
                ("AUTH_URL", "https://app.example/auth/"),
            ]))
            .build()
            .unwrap();
        assert_eq!(c.base_path(), "/auth");
        assert!(c.default_secure());
        let c = AuthConfig::builder(DefaultCallbacks)
            .from_env_with(env(&[
                ("AUTH_SECRET", GOOD),
                ("AUTH_URL", "http://localhost:3000"),
            ]))
            .build()
            .unwrap();
        assert_eq!(c.base_path(), "/api/auth");
        assert!(!c.default_secure());
    }

    #[test]
    fn trust_host_must_be_a_boolean() {
        let err = AuthConfig::builder(DefaultCallbacks)
            .from_env_with(env(&[
                ("AUTH_SECRET", GOOD),
                ("AUTH_TRUST_HOST", "yes please"),
            ]))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("AUTH_TRUST_HOST"));
    }

    #[test]
    fn insecure_cookies_on_https_are_refused() {
        // CFG-05
        let err = AuthConfig::builder(DefaultCallbacks)
            .secret(GOOD)
            .url("https://app.example")
            .use_secure_cookies(false)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("use_secure_cookies"));
    }

    #[test]
    fn absurd_lifetimes_are_refused() {
        let err = AuthConfig::builder(DefaultCallbacks)
            .secret(GOOD)
            .max_age(Duration::from_secs(u64::MAX))
            .absolute_max_age(Duration::from_secs(400 * 365 * 24 * 3600))
            .build()
            .unwrap_err();
        assert_eq!(err.problems().len(), 2, "{err}");
        assert!(err.to_string().contains("max_age: longer than ten years"));
        assert!(err.to_string().contains("absolute_max_age"));
    }

    #[test]
    fn base_paths_are_checked() {
        for ok in ["/api/auth", "/auth", "/"] {
            assert!(is_valid_base_path(ok), "{ok}");
        }
        for bad in [
            "api/auth",
            "/api/auth/",
            "/a//b",
            "/a/../b",
            "/a b",
            "/(.*)",
            "",
        ] {
            assert!(!is_valid_base_path(bad), "{bad}");
        }
    }
}
