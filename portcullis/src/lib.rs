//! # portcullis
//!
//! Authentication and sessions for Rust web services, wire-compatible with
//! [Auth.js](https://authjs.dev): the official `next-auth/react` client and nuxt-auth work
//! against it unchanged, and it reads and writes Auth.js session tokens byte-for-byte.
//!
//! The core is framework-agnostic: [`Auth::handle`] answers the REST API under the base
//! path (`/api/auth/csrf`, `providers`, `session`, `signin`, `callback`, `signout`, …) for
//! any `http::Request`. `portcullis-axum` mounts it in an axum `Router` and adds a session
//! extractor and route protection.
//!
//! ## Quick start
//! ```
//! use portcullis::{Auth, AuthConfig, CallbackError, Callbacks, Credentials, Session,
//!     SessionParams, User};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Default)]
//! struct UserFields { role: String }
//! #[derive(Serialize, Deserialize, Default)]
//! struct Claims { role: Option<String> }
//! #[derive(Serialize, Deserialize)]
//! struct Exposed { role: String }
//!
//! struct App;
//! #[portcullis::async_trait]
//! impl Callbacks for App {
//!     type UserFields = UserFields;
//!     type Claims = Claims;
//!     type Session = Session<Exposed>;
//!     async fn jwt(&self, p: portcullis::JwtParams<'_, UserFields, Claims>)
//!         -> Result<Option<portcullis::Token<Claims>>, CallbackError> {
//!         let mut token = p.token;
//!         if let Some(user) = p.user { token.claims.role = Some(user.fields.role.clone()); }
//!         Ok(Some(token))
//!     }
//!     async fn session(&self, p: SessionParams<'_, UserFields, Claims>) -> Result<Session<Exposed>, CallbackError> {
//!         let role = p.token.claims.role.clone().unwrap_or_default();
//!         Ok(p.session.with_user_fields(Exposed { role }))
//!     }
//! }
//!
//! let config = AuthConfig::builder(App)
//!     .secret("0123456789abcdef0123456789abcdef-example") // AUTH_SECRET
//!     .url("http://localhost:3000")                      // AUTH_URL
//!     .credentials(Credentials::new(|form, _req| async move {
//!         let ok = form.get("username").and_then(|v| v.as_str()) == Some("alice");
//!         Ok(ok.then(|| User::new("1").with_name("Alice")
//!             .with_fields(UserFields { role: "admin".into() })))
//!     }))
//!     .build()
//!     .expect("valid configuration");
//! let auth = Auth::new(config);
//! ```
//!
//! ## What is where
//! | module | what |
//! |---|---|
//! | [`Auth`] | the entry point: `handle`, server-side `session`, `token` (Auth.js `getToken`) |
//! | [`AuthConfig`] | configuration, built with [`AuthConfig::builder`], also from `AUTH_*` env |
//! | [`Callbacks`] | `sign_in`, `redirect`, `jwt`, `session`, with typed data |
//! | [`Credentials`] | the credentials provider |
//! | [`jwt`] | the JWE codec Auth.js uses for session tokens |
//! | `OAuth`, `providers` | OAuth 2.0 / OpenID Connect providers and presets (feature `oauth`) |
//! | [`Email`], [`email`] | sign-in links by email, address normalisation, SMTP delivery (feature `email`) |
//! | [`Passwords`], [`password`] | email + password accounts: Argon2id, sign-up, verification, reset, change (features `email` + `password`) |
//! | [`audit`] | the audit log: security events as `tracing` events and, with an [`AuditAdapter`](adapter::AuditAdapter), stored with a retention; `GET {base}/audit` and [`Auth::audit_events`] |
//! | [`Metrics`] | counters and latency histograms in the Prometheus text format ([`Auth::metrics`]) |
//!
//! ## Observability
//! - Each request to the auth routes runs in a span `portcullis.request`, and each store
//!   call in a span `portcullis.store`, both at `debug` and with OpenTelemetry's
//!   conventional fields (`otel.name`, `otel.kind`, `otel.status_code`, …), so a
//!   `tracing-opentelemetry` layer exports them as server and client spans. No span or
//!   event records a token, a password, a CSRF value or a secret.
//! - Security events (sign-ins and refusals, sign-outs, revocations, password changes and
//!   resets, linked and unlinked accounts, rate-limit hits, refused configuration) are
//!   `tracing` events with target `portcullis::audit`; see [`audit`].
//! - [`Auth::metrics`] counts sign-ins by provider and outcome, session reads, store calls
//!   and their failures, rate-limit hits and audit events, with latency histograms per
//!   action and per store operation. The standalone server serves them at `GET /metrics`
//!   on its own listener (`PORTCULLIS_METRICS_LISTEN`).
//!
//! ## Features
//! | feature | default | what |
//! |---|---|---|
//! | `oauth` | yes | OAuth 2.0 / OIDC sign-in: `OAuth`, the `providers` presets, ID-token verification (RS256, ES256, EdDSA), refresh-token rotation; pulls reqwest + rustls (ring) |
//! | `email` | yes | the `email` provider (magic links), `email::normalize_identifier`, templates, `SmtpSender` (lettre, rustls/ring) and `LogSender` |
//! | `password` | yes | `password::PasswordHasher` (Argon2id, OWASP parameters, rehash detection, hashing on its own bounded threads); with `email`, `Passwords` |
//!
//! ## Security
//! - Session tokens are JWE `dir` + `A256CBC-HS512` with keys derived by HKDF from the
//!   secret and the cookie name, as Auth.js does; parsing is strict (header allow-list, no
//!   `zip`/`crit`, size cap before any crypto), the tag is checked in constant time before
//!   decryption, and claims are type-checked after it (`exp` and `sub` required).
//! - CSRF uses Auth.js's double-submit cookie, compared in constant time, `__Host-` on
//!   https; on top, POSTs with `Sec-Fetch-Site: cross-site` or a foreign `Origin` get 403.
//! - Redirect targets are same-origin only by default, checked on the parsed URL.
//! - Without `AUTH_URL` or `AUTH_TRUST_HOST`, no URL is ever built from the `Host` header:
//!   requests answer with Auth.js's configuration error instead.
//! - Secrets shorter than 32 bytes are refused; secrets and tokens have redacted `Debug`.
//! - OAuth sign-ins always use PKCE S256, `state` and (OIDC) `nonce`, kept in a sealed check
//!   cookie bound to the provider, issuer, client and redirect URI; `iss` (RFC 9207) and
//!   the ID token (OIDC Core §3.1.3.7, algorithm fixed by configuration) are checked.
//! - Errors from callbacks are logged, never shown; clients see only Auth.js's client-safe
//!   error codes (`CredentialsSignin`, `AccessDenied`, …) and otherwise `Configuration`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod action;
pub mod adapter;
pub mod audit;
mod auth;
mod callbacks;
mod config;
mod cookie;
mod csrf;
#[cfg(feature = "email")]
pub mod email;
mod error;
mod events;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod jwt;
mod manage;
mod metrics;
mod observe;
#[cfg(feature = "password")]
pub mod password;
mod provider;
#[cfg(feature = "oauth")]
pub mod providers;
pub mod ratelimit;
mod request;
mod response;
mod secret;
mod session;
mod store;
mod theme;
mod token;
mod url;
mod user;

pub use async_trait::async_trait;

pub use crate::audit::{AuditError, AuditEvent, AuditKind, AuditQuery};
pub use crate::auth::{Auth, SessionError};
pub use crate::callbacks::{
    Callbacks, DefaultCallbacks, JwtParams, SessionParams, SignInDecision, SignInParams, Trigger,
};
pub use crate::config::{
    AuthConfig, AuthConfigBuilder, Compat, MIN_SECRET_LEN, Pages, SessionStrategy,
};
pub use crate::cookie::{CookieNames, MAX_REQUEST_COOKIES, MAX_SESSION_CHUNKS};
pub use crate::error::{CallbackError, ConfigError, Error, ErrorCode};
pub use crate::events::{Events, SessionEvent, SignInEvent, SignOutEvent};
pub use crate::manage::{ManageError, SessionInfo};
pub use crate::metrics::Metrics;
#[cfg(feature = "oauth")]
pub use crate::provider::oauth::{
    DEFAULT_HTTP_TIMEOUT, DEFAULT_ID_TOKEN_LEEWAY_SECS, DEFAULT_REFRESH_WINDOW, IdTokenAlg, OAuth,
    OAuthKind, Profile, ProfileError, TokenAuthMethod, TokenSet, UnsupportedAlg,
};
pub use crate::provider::{
    AuthorizeError, AuthorizeRequest, CredentialField, Credentials, DEFAULT_MAX_FIELD_LEN,
};
#[cfg(all(feature = "email", feature = "password"))]
pub use crate::provider::{BreachedPasswords, Passwords};
#[cfg(feature = "email")]
pub use crate::provider::{DEFAULT_LINK_MAX_AGE, Email};
pub use crate::ratelimit::{MemoryRateLimiter, RateDecision, RateLimiter, RateLimits};
pub use crate::request::ClientIp;
pub use crate::secret::Secret;
pub use crate::session::{Session, SessionUser};
pub use crate::theme::{ColorScheme, Messages, Theme, ThemeError};
pub use crate::token::{CLOCK_TOLERANCE_SECS, ProviderTokens, Token, TokenError};
pub use crate::url::CallbackUrl;
pub use crate::user::{Account, AccountType, NoFields, User};
