//! The entry point: [`Auth::handle`] turns an `http::Request` into an `http::Response`.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use url::Url;

use std::time::Instant;

use tracing::Instrument;

use crate::action;
use crate::action::database;
use crate::adapter::{AdapterError, AdapterUser, TokenHash};
use crate::audit::{AuditEvent, AuditKind};
use crate::callbacks::SessionOutcome;
use crate::callbacks::{SessionFailure, SessionRead};
use crate::config::AuthConfig;
use crate::config::SessionStrategy;
use crate::cookie::{RequestCookies, SessionCookie};
use crate::csrf::Csrf;
use crate::jwt::MAX_TOKEN_LEN;
use crate::metrics::{ReadOutcome, ReadSource};
use crate::request::{
    Action, ClientIp, Ctx, Rejection, allowed_methods, parse_body, parse_path, parse_query,
    resolve_origin,
};
use crate::response::{bad_request, plain_json};
use crate::session::iso_millis;
use crate::token::Token;

/// The auth engine: configuration plus derived keys, cheap to clone and share.
///
/// # Examples
/// ```
/// # tokio_test_block(async {
/// use portcullis::{Auth, AuthConfig, DefaultCallbacks};
/// let auth = Auth::new(
///     AuthConfig::builder(DefaultCallbacks)
///         .secret("0123456789abcdef0123456789abcdef-example")
///         .url("http://localhost:3000")
///         .build()
///         .unwrap(),
/// );
/// let req = http::Request::get("http://localhost:3000/api/auth/session")
///     .body(bytes::Bytes::new())
///     .unwrap();
/// let res = auth.handle(req).await;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.body().as_ref(), b"null");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct Auth {
    config: Arc<AuthConfig>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.config)
            .finish()
    }
}

/// Why a server-side session read could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The origin cannot be determined (no `AUTH_URL`, host not trusted): fail closed.
    #[error("portcullis is misconfigured: no trusted origin (set AUTH_URL or AUTH_TRUST_HOST)")]
    Configuration,
    /// The session store (or the revocation store) cannot be reached: answer 503.
    #[error("the session store is unavailable")]
    Unavailable,
}

/// A session found for a request: whose, which row (database strategy), and what the
/// callbacks made of it.
pub(crate) struct Resolved {
    pub(crate) user_id: String,
    /// The database session's key; `None` with the JWT strategy.
    pub(crate) key: Option<TokenHash>,
    /// The stored user (database strategy).
    pub(crate) user: Option<AdapterUser>,
    pub(crate) outcome: SessionOutcome,
}

/// The session of a request, read on the server: cookie → token or row → callbacks. No
/// cookie is written (a database session's expiry may still slide forward).
pub(crate) async fn resolve_session(
    cfg: &AuthConfig,
    headers: &HeaderMap,
) -> Result<Option<Resolved>, SessionError> {
    let origin = resolve_origin(cfg, headers).map_err(|_| SessionError::Configuration)?;
    let secure = cfg.is_secure(&origin);
    let cookies = RequestCookies::parse(
        headers
            .get_all(header::COOKIE)
            .iter()
            .map(HeaderValue::as_bytes),
    );
    let name = &cfg.names(secure).session_token;
    let now = OffsetDateTime::now_utc();
    let unavailable = |e: &AdapterError| {
        if e.is_unavailable() {
            tracing::warn!(target: "portcullis", error = %e, "session store unavailable");
            Err(SessionError::Unavailable)
        } else {
            tracing::error!(target: "portcullis", error = %e, "[auth][error] SessionTokenError");
            Ok(None)
        }
    };
    let read = |claims, expires, not_before| SessionRead {
        claims,
        now: now.unix_timestamp(),
        max_age: cfg.max_age,
        expires,
        is_update: false,
        update: None,
        not_before,
        reauthenticated: false,
        provider_error: None,
    };
    let (user_id, key, user, outcome) = match cfg.strategy {
        SessionStrategy::Database => {
            let Some(token) = database::token_from_cookies(&cookies, name) else {
                return Ok(None);
            };
            let (row, user, _) = match database::lookup(cfg, &token, now).await {
                Ok(Some(found)) => found,
                Ok(None) => return Ok(None),
                Err(e) => return unavailable(&e),
            };
            let mut r = read(&[], iso_millis(row.expires), None);
            r.provider_error = database::refresh_provider_tokens(cfg, &user.id, now).await;
            let outcome = cfg.callbacks.read_database_session(&user, r).await;
            (user.id.clone(), Some(row.key), Some(user), outcome)
        }
        SessionStrategy::Jwt => {
            let SessionCookie::Present(token) = cookies.session_token(name, MAX_TOKEN_LEN) else {
                return Ok(None);
            };
            let Ok(claims) = cfg.codec(secure).decode(&token) else {
                return Ok(None);
            };
            let Some(user_id) = crate::action::session::subject(&claims) else {
                return Ok(None);
            };
            let not_before = match cfg.stores.not_before(&user_id).await {
                Ok(v) => v,
                Err(e) => return unavailable(&e),
            };
            let expires = iso_millis(now + time::Duration::seconds(cfg.max_age));
            let outcome = cfg
                .callbacks
                .read_session(read(&claims, expires, not_before))
                .await;
            (user_id, None, None, outcome)
        }
    };
    match outcome {
        Ok(outcome) => Ok(Some(Resolved {
            user_id,
            key,
            user,
            outcome,
        })),
        Err(SessionFailure::Callback(e)) => {
            tracing::error!(target: "portcullis", error = %e, "[auth][error] JWTSessionError");
            Ok(None)
        }
        Err(SessionFailure::Token(_) | SessionFailure::Ended) => Ok(None),
    }
}

impl Auth {
    /// Wraps a validated configuration.
    pub fn new(config: AuthConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Whether `path` is under the auth base path (and so belongs to [`Auth::handle`]).
    pub fn is_auth_path(&self, path: &str) -> bool {
        parse_path(&self.config.base_path, path).is_some()
    }

    /// Answers one request to the auth routes, exactly as Auth.js would (PROTOCOL.md §1).
    /// Never panics on request input and never answers 5xx for it: unknown paths are 400,
    /// wrong methods 405, oversized bodies 413, malformed bodies 400.
    ///
    /// Each answered action runs in a `debug` span `portcullis.request` (the level tower-http's
    /// `TraceLayer` uses) with OpenTelemetry's
    /// conventional fields (`otel.name` = the action, `otel.kind = "server"`,
    /// `http.request.method`, `http.response.status_code`, and `otel.status_code = "ERROR"`
    /// on a 5xx), and its latency is counted in [`metrics`](Self::metrics).
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let cfg = &*self.config;
        let (parts, body) = req.into_parts();
        let (action, provider) = match parse_path(&cfg.base_path, parts.uri.path()) {
            Some(Ok((action, provider))) => (action, provider.map(str::to_owned)),
            Some(Err(_)) | None => return bad_request(),
        };
        let started = Instant::now();
        let span = tracing::debug_span!(
            target: "portcullis",
            "portcullis.request",
            otel.name = action.name(),
            otel.kind = "server",
            portcullis.action = action.name(),
            http.request.method = parts.method.as_str(),
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        // Instrumenting the answer inline cost ~8,000 instructions per request even with the
        // span disabled (bench/instructions.sh): the future grew. Only a listened-to span
        // pays for it, with a boxed future.
        let response = if span.is_disabled() {
            self.answer(action, provider, parts, body).await
        } else {
            Box::pin(self.answer(action, provider, parts, body))
                .instrument(span.clone())
                .await
        };
        let status = response.status().as_u16();
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
        cfg.metrics.request(action, started.elapsed());
        if action == Action::Session {
            let outcome = match status {
                200 if response.body().as_ref() == b"null" => Some(ReadOutcome::None),
                200 => Some(ReadOutcome::Active),
                503 => Some(ReadOutcome::Unavailable),
                _ => None,
            };
            if let Some(outcome) = outcome {
                cfg.metrics.session_read(ReadSource::Route, outcome);
            }
        }
        response
    }

    /// A server-side session read, counted in the metrics (`source="server"`).
    async fn resolve_counted(&self, headers: &HeaderMap) -> Result<Option<Resolved>, SessionError> {
        let result = resolve_session(&self.config, headers).await;
        let outcome = match &result {
            Ok(Some(_)) => ReadOutcome::Active,
            Ok(None) => ReadOutcome::None,
            Err(SessionError::Unavailable) => ReadOutcome::Unavailable,
            Err(SessionError::Configuration) => return result,
        };
        self.config
            .metrics
            .session_read(ReadSource::Server, outcome);
        result
    }

    /// [`handle`](Self::handle) once the path named an action.
    async fn answer(
        &self,
        action: Action,
        provider: Option<String>,
        parts: http::request::Parts,
        body: Bytes,
    ) -> Response<Bytes> {
        let cfg = &*self.config;
        let allowed = allowed_methods(action, provider.is_some());
        let method_ok = match parts.method {
            Method::GET => allowed.contains("GET"),
            Method::POST => allowed.contains("POST"),
            _ => false,
        };
        if !method_ok {
            return method_not_allowed(allowed);
        }
        if body.len() > cfg.body_limit {
            return reject(&Rejection::TooLarge);
        }
        let origin = match resolve_origin(cfg, &parts.headers) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(target: "portcullis", error = %e, "[auth][error] UntrustedHost");
                let ua = parts
                    .headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok());
                let event = AuditEvent::new(AuditKind::ConfigurationRefused)
                    .with_detail("UntrustedHost")
                    .with_client(parts.extensions.get::<ClientIp>().map(|c| c.0), ua);
                crate::audit::record(cfg, event).await;
                return action::configuration_error(cfg.compat, action, &parts.method);
            }
        };
        let post = parts.method == Method::POST;
        if post
            && cfg.check_fetch_metadata
            && !is_form_post_callback(cfg, action, provider.as_deref())
            && is_cross_site(&parts.headers, &origin)
        {
            tracing::warn!(target: "portcullis", action = action.name(), "[auth][warn] cross-site POST refused");
            return plain_json(
                StatusCode::FORBIDDEN,
                br#"{"error":"CrossSiteRequest","message":"Cross-site requests to the auth routes are refused."}"#.to_vec(),
            );
        }
        let body = if post {
            match parse_body(&parts.headers, &body) {
                Ok(b) => b,
                Err(r) => return reject(&r),
            }
        } else {
            serde_json::Map::new()
        };
        let query = parse_query(parts.uri.query());
        let secure = cfg.is_secure(&origin);
        let names = cfg.names(secure);
        let cookies = RequestCookies::parse(
            parts
                .headers
                .get_all(header::COOKIE)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        let csrf = Csrf::from_cookie(cookies.get(&names.csrf_token), &cfg.csrf_secret);
        let requested = if post {
            body.get("callbackUrl").and_then(|v| v.as_str())
        } else {
            query.get("callbackUrl").and_then(|v| v.as_str())
        };
        let cookie_value = cookies.get(&names.callback_url);
        let callback_url = match requested.or(cookie_value) {
            Some(target) => cfg.callbacks.redirect(target, &origin),
            None => origin.clone(),
        };
        let callback_cookie_stale = cookie_value != Some(callback_url.as_str());
        let ctx = Ctx {
            cfg,
            method: parts.method,
            action,
            provider,
            headers: parts.headers,
            origin,
            secure,
            cookies,
            query,
            body,
            csrf,
            callback_url,
            callback_cookie_stale,
            now: OffsetDateTime::now_utc(),
            path_and_query: parts.uri.path_and_query().cloned(),
            client_ip: parts.extensions.get::<ClientIp>().map(|c| c.0),
            attempted_user: std::sync::OnceLock::new(),
        };
        action::run(ctx).await
    }

    /// Reads the session of a request on the server (for extractors and middleware): the
    /// same decode, `jwt` and `session` callbacks as `GET /session`, without writing cookies.
    /// Returns the application's `Session` type when `T` is it, or `T` deserialised from the
    /// session JSON otherwise.
    ///
    /// # Errors
    /// [`SessionError::Configuration`] when no trusted origin can be determined, and
    /// [`SessionError::Unavailable`] when the session or revocation store cannot be reached:
    /// the caller must fail closed (never treat either as signed in, nor as signed out).
    pub async fn session<T: DeserializeOwned + Send + 'static>(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<T>, SessionError> {
        let Some(resolved) = self.resolve_counted(headers).await? else {
            return Ok(None);
        };
        let typed: Box<dyn Any + Send> = resolved.outcome.typed;
        match typed.downcast::<T>() {
            Ok(t) => Ok(Some(*t)),
            Err(_) => Ok(serde_json::from_slice(&resolved.outcome.body).ok()),
        }
    }

    /// The signed-in user as stored, with the application's fields (database strategy; with
    /// the JWT strategy there is no stored user and this is `None` — read the token instead).
    ///
    /// # Errors
    /// As [`session`](Self::session).
    pub async fn user<X: DeserializeOwned>(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<crate::User<X>>, SessionError> {
        let Some(resolved) = self.resolve_counted(headers).await? else {
            return Ok(None);
        };
        Ok(resolved
            .user
            .and_then(|u| crate::callbacks::typed_user(&u).ok()))
    }

    /// Decodes the session token of a request, like Auth.js `getToken`: the session cookie
    /// (chunked or not), else `Authorization: Bearer <token>`. Any failure — no token, a
    /// malformed header, a bad token, expired, wrong claim types — is `None`.
    ///
    /// Any Rust service that shares the secret can read sessions this way, including those
    /// issued by a Node app running Auth.js with the same cookie name.
    pub fn token<C: DeserializeOwned>(&self, headers: &HeaderMap) -> Option<Token<C>> {
        let secure = self
            .secure_for(headers)
            .unwrap_or_else(|_| self.config.default_secure());
        let claims = self
            .decode_cookie(headers, secure)
            .or_else(|| self.decode_bearer(headers, secure))?;
        let token: Token<C> = serde_json::from_slice(&claims).ok()?;
        token
            .validate(OffsetDateTime::now_utc().unix_timestamp())
            .ok()?;
        Some(token)
    }

    fn secure_for(&self, headers: &HeaderMap) -> Result<bool, SessionError> {
        let origin =
            resolve_origin(&self.config, headers).map_err(|_| SessionError::Configuration)?;
        Ok(self.config.is_secure(&origin))
    }

    fn decode_cookie(&self, headers: &HeaderMap, secure: bool) -> Option<Vec<u8>> {
        let name = &self.config.names(secure).session_token;
        let cookies = RequestCookies::parse(
            headers
                .get_all(header::COOKIE)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        match cookies.session_token(name, MAX_TOKEN_LEN) {
            SessionCookie::Present(t) => self.config.codec(secure).decode(&t).ok(),
            SessionCookie::Absent | SessionCookie::Invalid => None,
        }
    }

    fn decode_bearer(&self, headers: &HeaderMap, secure: bool) -> Option<Vec<u8>> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let raw = value.strip_prefix("Bearer ")?.trim();
        if raw.is_empty() || raw.len() > MAX_TOKEN_LEN * 3 {
            return None;
        }
        // Auth.js URL-decodes the value; malformed escapes are simply "no token"
        // (GHSA-xmf8-cvqr-rfgj: they must never become a server error).
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()?;
        self.config.codec(secure).decode(&decoded).ok()
    }

    /// The public origin for requests with these headers (`AUTH_URL`'s origin, or the
    /// trusted `Host`), used to build sign-in redirects.
    ///
    /// # Errors
    /// [`SessionError::Configuration`] when no trusted origin can be determined.
    pub fn origin(&self, headers: &HeaderMap) -> Result<Url, SessionError> {
        resolve_origin(&self.config, headers).map_err(|_| SessionError::Configuration)
    }
}

/// Whether this is the callback of a provider answering with `response_mode=form_post`:
/// the provider's page POSTs it cross-site by design, and the sealed `state` protects it.
fn is_form_post_callback(
    cfg: &AuthConfig,
    action: crate::request::Action,
    provider: Option<&str>,
) -> bool {
    #[cfg(feature = "oauth")]
    if action == crate::request::Action::Callback
        && let Some(id) = provider
    {
        return cfg.providers.iter().any(|p| {
            p.id == id
                && matches!(&p.kind, crate::provider::ProviderKind::OAuth(e) if e.config.is_form_post())
        });
    }
    let _ = (cfg, action, provider);
    false
}

/// `Sec-Fetch-Site: cross-site`, or an `Origin` other than ours (including `null`).
fn is_cross_site(headers: &HeaderMap, origin: &Url) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let same_origin_fetch = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"same-origin"));
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => false,
        // Our pages send `Referrer-Policy: no-referrer`, which makes browsers send
        // `Origin: null` on their form POSTs; the browser's own `Sec-Fetch-Site:
        // same-origin` (which scripts cannot set) vouches for those. Any other `null`
        // origin (sandboxed frames, `data:` pages) is refused.
        Some(Ok("null")) => !same_origin_fetch,
        Some(Ok(o)) => Url::parse(o).map_or(true, |u| u.origin() != origin.origin()),
        Some(Err(_)) => true,
    }
}

fn method_not_allowed(allowed: &'static str) -> Response<Bytes> {
    let mut res = plain_json(
        StatusCode::METHOD_NOT_ALLOWED,
        b"\"Method not allowed.\"".to_vec(),
    );
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    res
}

fn reject(r: &Rejection) -> Response<Bytes> {
    match r {
        Rejection::BadRequest => bad_request(),
        Rejection::TooLarge => plain_json(
            StatusCode::PAYLOAD_TOO_LARGE,
            b"\"Payload too large.\"".to_vec(),
        ),
    }
}
