//! Turning an `http::Request` into the parsed context an action runs with.

use bytes::Bytes;
use http::{HeaderMap, Method, header};
use percent_encoding::percent_decode;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use url::Url;

use crate::config::AuthConfig;
use crate::cookie::{CookieNames, RequestCookies};
use crate::csrf::Csrf;
use crate::error::Error;
use crate::jwt::JweCodec;
use crate::url::origin_url;

/// The recognised actions (PROTOCOL.md §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Csrf,
    Providers,
    Session,
    Signin,
    Signout,
    Callback,
    VerifyRequest,
    Error,
    WebauthnOptions,
    /// next-auth v4's client log endpoint.
    Log,
    /// Session management (beyond Auth.js).
    Sessions,
    /// Password accounts (beyond Auth.js): create one.
    Signup,
    /// Password accounts: confirm an address.
    VerifyEmail,
    /// Password accounts: ask for a reset link.
    ForgotPassword,
    /// Password accounts: set a new password with a reset link.
    ResetPassword,
    /// Password accounts: change the password while signed in.
    ChangePassword,
    /// The signed-in user's audit events (beyond Auth.js).
    Audit,
}

impl Action {
    /// Every action, in declaration order (`ALL[a as usize] == a`).
    pub(crate) const ALL: [Self; 17] = [
        Self::Csrf,
        Self::Providers,
        Self::Session,
        Self::Signin,
        Self::Signout,
        Self::Callback,
        Self::VerifyRequest,
        Self::Error,
        Self::WebauthnOptions,
        Self::Log,
        Self::Sessions,
        Self::Signup,
        Self::VerifyEmail,
        Self::ForgotPassword,
        Self::ResetPassword,
        Self::ChangePassword,
        Self::Audit,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Csrf => "csrf",
            Self::Providers => "providers",
            Self::Session => "session",
            Self::Signin => "signin",
            Self::Signout => "signout",
            Self::Callback => "callback",
            Self::VerifyRequest => "verify-request",
            Self::Error => "error",
            Self::WebauthnOptions => "webauthn-options",
            Self::Log => "_log",
            Self::Sessions => "sessions",
            Self::Signup => "signup",
            Self::VerifyEmail => "verify-email",
            Self::ForgotPassword => "forgot-password",
            Self::ResetPassword => "reset-password",
            Self::ChangePassword => "change-password",
            Self::Audit => "audit",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "csrf" => Self::Csrf,
            "providers" => Self::Providers,
            "session" => Self::Session,
            "signin" => Self::Signin,
            "signout" => Self::Signout,
            "callback" => Self::Callback,
            "verify-request" => Self::VerifyRequest,
            "error" => Self::Error,
            "webauthn-options" => Self::WebauthnOptions,
            "_log" => Self::Log,
            "sessions" => Self::Sessions,
            "signup" => Self::Signup,
            "verify-email" => Self::VerifyEmail,
            "forgot-password" => Self::ForgotPassword,
            "reset-password" => Self::ResetPassword,
            "change-password" => Self::ChangePassword,
            "audit" => Self::Audit,
            _ => return None,
        })
    }

    /// Whether the action renders an HTML page on GET.
    pub(crate) fn is_page(self) -> bool {
        matches!(
            self,
            Self::Signin
                | Self::Signout
                | Self::Error
                | Self::VerifyRequest
                | Self::Signup
                | Self::ForgotPassword
                | Self::ResetPassword
        )
    }
}

/// Why a request did not reach an action.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Not a recognised `{base}/{action}[/{provider}]` path: 400 `"Bad request."`.
    BadRequest,
    /// The body exceeds the configured limit: 413.
    TooLarge,
}

/// Splits `{base}/{action}[/{provider}]`; `None` when the path is not one of ours.
pub(crate) fn parse_path<'a>(
    base: &str,
    path: &'a str,
) -> Option<Result<(Action, Option<&'a str>), Rejection>> {
    let rest = if base == "/" {
        path.strip_prefix('/')?
    } else {
        path.strip_prefix(base)?.strip_prefix('/')?
    };
    let mut parts = rest.split('/');
    let action = parts.next().unwrap_or_default();
    let provider = parts.next();
    if parts.next().is_some() {
        return Some(Err(Rejection::BadRequest));
    }
    let Some(action) = Action::parse(action) else {
        return Some(Err(Rejection::BadRequest));
    };
    let provider = match provider {
        None | Some("undefined") => None,
        Some(p)
            if matches!(
                action,
                Action::Signin | Action::Callback | Action::WebauthnOptions
            ) =>
        {
            if !crate::provider::is_valid_id(p) {
                return Some(Err(Rejection::BadRequest));
            }
            Some(p)
        }
        Some(op)
            if action == Action::Sessions
                && matches!(op, "revoke" | "revoke-others" | "revoke-all") =>
        {
            Some(op)
        }
        Some(_) => return Some(Err(Rejection::BadRequest)),
    };
    Some(Ok((action, provider)))
}

/// Which methods an action takes.
pub(crate) fn allowed_methods(action: Action, has_provider: bool) -> &'static str {
    match (action, has_provider) {
        (
            Action::Csrf
            | Action::Providers
            | Action::Error
            | Action::VerifyRequest
            | Action::VerifyEmail
            | Action::Audit,
            _,
        )
        | (Action::WebauthnOptions, _) => "GET",
        (Action::Log | Action::ChangePassword, _) | (Action::Sessions, true) => "POST",
        (Action::Signup | Action::ForgotPassword | Action::ResetPassword, _) => "GET, POST",
        (Action::Sessions, false) => "GET",
        (Action::Signin | Action::Signout | Action::Session, _) | (Action::Callback, _) => {
            "GET, POST"
        }
    }
}

/// The origin URLs are built from: `AUTH_URL`, or — only when the host is trusted — the
/// request's `X-Forwarded-Host`/`Host` and `X-Forwarded-Proto`. Otherwise
/// [`Error::UntrustedHost`]: no URL is ever built from an untrusted `Host` header.
pub(crate) fn resolve_origin(cfg: &AuthConfig, headers: &HeaderMap) -> Result<Url, Error> {
    if let Some(url) = &cfg.url {
        return Ok(origin_url(url));
    }
    if !cfg.trust_host {
        return Err(Error::UntrustedHost);
    }
    let header_str = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or_default().trim())
            .filter(|v| !v.is_empty())
    };
    let host = header_str("x-forwarded-host")
        .or_else(|| header_str(header::HOST.as_str()))
        .ok_or(Error::UntrustedHost)?;
    let proto = match header_str("x-forwarded-proto") {
        None => "http",
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        Some(_) => return Err(Error::UntrustedHost),
    };
    // The host must be exactly `name[:port]`: nothing that could smuggle a path or userinfo.
    if host.len() > 255
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    {
        return Err(Error::UntrustedHost);
    }
    let url = Url::parse(&format!("{proto}://{host}/")).map_err(|_| Error::UntrustedHost)?;
    if url.host_str().is_none() {
        return Err(Error::UntrustedHost);
    }
    Ok(url)
}

/// Everything an action needs about its request.
pub(crate) struct Ctx<'a> {
    pub(crate) cfg: &'a AuthConfig,
    pub(crate) method: Method,
    pub(crate) action: Action,
    pub(crate) provider: Option<String>,
    pub(crate) headers: HeaderMap,
    /// The origin with a trailing slash (`https://app.example/`).
    pub(crate) origin: Url,
    pub(crate) secure: bool,
    pub(crate) cookies: RequestCookies,
    pub(crate) query: Map<String, Value>,
    pub(crate) body: Map<String, Value>,
    pub(crate) csrf: Csrf,
    pub(crate) callback_url: Url,
    /// Whether the callback-url cookie must be (re)written.
    pub(crate) callback_cookie_stale: bool,
    pub(crate) now: OffsetDateTime,
    /// The request's path and query (see [`Ctx::request_url`]).
    pub(crate) path_and_query: Option<http::uri::PathAndQuery>,
    /// The client address, when the framework layer supplied one ([`ClientIp`]).
    pub(crate) client_ip: Option<std::net::IpAddr>,
    /// The stored user a failing sign-in was for, when the action found it (a wrong
    /// password for an existing account): the failure's audit event names it.
    pub(crate) attempted_user: std::sync::OnceLock<String>,
}

/// The client's IP address, put in the request extensions by the framework integration
/// (portcullis-axum does it from `ConnectInfo` when available). Recorded with database
/// sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

impl Ctx<'_> {
    pub(crate) fn names(&self) -> &CookieNames {
        self.cfg.names(self.secure)
    }

    /// The provider id of the path when it is a configured provider, else `"unknown"`: a
    /// metric label or audit field never takes a value a client made up (one series per
    /// random path segment would grow without bound).
    pub(crate) fn configured_provider(&self) -> &str {
        match self.provider.as_deref() {
            Some(id) if self.cfg.providers.iter().any(|p| p.id == id) => id,
            _ => "unknown",
        }
    }

    pub(crate) fn codec(&self) -> &JweCodec {
        self.cfg.codec(self.secure)
    }

    /// The request URL on the trusted origin (what `authorize` sees). Built on demand: only
    /// the credentials sign-in needs it, and a URL parse per session read is waste.
    pub(crate) fn request_url(&self) -> Url {
        let path = self.path_and_query.as_ref().map_or("/", |p| p.as_str());
        self.origin
            .join(path)
            .unwrap_or_else(|_| self.origin.clone())
    }

    /// `{origin}{base}` without a trailing slash (`https://app.example/api/auth`).
    pub(crate) fn base_url(&self) -> String {
        let origin = self.origin.as_str().trim_end_matches('/');
        if self.cfg.base_path == "/" {
            origin.to_owned()
        } else {
            format!("{origin}{}", self.cfg.base_path)
        }
    }

    pub(crate) fn body_str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    pub(crate) fn query_str(&self, key: &str) -> Option<&str> {
        self.query.get(key).and_then(Value::as_str)
    }

    /// Whether the client asked for `{url}` instead of a redirect: v5's
    /// `X-Auth-Return-Redirect` header, or v4's `json=true` body field.
    pub(crate) fn wants_json_redirect(&self) -> bool {
        match self.cfg.compat {
            crate::Compat::V5 => self.headers.contains_key("x-auth-return-redirect"),
            crate::Compat::V4 => match self.body.get("json") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "true",
                _ => false,
            },
        }
    }

    pub(crate) fn unix_now(&self) -> i64 {
        self.now.unix_timestamp()
    }
}

/// The request's body, parsed as Auth.js does: JSON when the media type is
/// `application/json`, a form when it is `application/x-www-form-urlencoded` (parameters
/// allowed, case-insensitive), nothing otherwise. Strict: invalid UTF-8, malformed
/// JSON, a JSON body that is not an object, or a repeated form key is a bad request.
pub(crate) fn parse_body(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, Rejection> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    // Match the media type itself, not a substring: `text/plain; charset=application/json`
    // is a CORS-safelisted text body a cross-site page can send, and must not parse as JSON
    // (SECURITY.md HTTP-05).
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence == "application/json" {
        if body.is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(Rejection::BadRequest),
        }
    } else if essence == "application/x-www-form-urlencoded" {
        parse_form(body).ok_or(Rejection::BadRequest)
    } else {
        Ok(Map::new())
    }
}

/// Parses `application/x-www-form-urlencoded` strictly: `None` on invalid UTF-8 (before or
/// after percent-decoding) or a repeated key (no parameter pollution).
pub(crate) fn parse_form(raw: &[u8]) -> Option<Map<String, Value>> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut out = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode_form_component(k)?;
        let v = decode_form_component(v)?;
        if out.insert(k, Value::String(v)).is_some() {
            return None;
        }
    }
    Some(out)
}

fn decode_form_component(s: &str) -> Option<String> {
    let plus = s.replace('+', " ");
    percent_decode(plus.as_bytes())
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Parses the query string leniently: malformed or repeated parameters are dropped.
pub(crate) fn parse_query(query: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(q) = query else { return out };
    for pair in q.split('&').filter(|p| !p.is_empty()).take(64) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (decode_form_component(k), decode_form_component(v)) {
            out.entry(k).or_insert(Value::String(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_listed_once_at_its_index() {
        // The metrics index per-action histograms by `action as usize`.
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i);
            assert_eq!(Action::parse(a.name()), Some(*a));
        }
    }

    #[test]
    fn paths_parse_like_auth_js() {
        let p = |s| parse_path("/api/auth", s);
        assert_eq!(p("/api/auth/session"), Some(Ok((Action::Session, None))));
        assert_eq!(
            p("/api/auth/callback/credentials"),
            Some(Ok((Action::Callback, Some("credentials"))))
        );
        assert_eq!(
            p("/api/auth/signin/undefined"),
            Some(Ok((Action::Signin, None)))
        );
        assert_eq!(p("/api/other"), None);
        assert_eq!(p("/api/authx/session"), None);
        // HTTP-07, INJ-01
        for bad in [
            "/api/auth/foo",
            "/api/auth/signinn",
            "/api/auth/signin/github/github",
            "/api/auth/session/x",
            "/api/auth/session/",
            "/api/auth/",
            "/api/auth/signin/github'%20OR%20'1'='1",
            "/api/auth/signin/..",
        ] {
            assert_eq!(p(bad), Some(Err(Rejection::BadRequest)), "{bad}");
        }
        let long = format!("/api/auth/signin/{}", "a".repeat(10_000));
        assert_eq!(p(&long), Some(Err(Rejection::BadRequest)));
    }

    #[test]
    fn forms_are_strict() {
        let f = parse_form(b"csrfToken=a%7Cb&callbackUrl=%2Fx&name=A+B").unwrap();
        assert_eq!(f["csrfToken"], "a|b");
        assert_eq!(f["name"], "A B");
        assert!(parse_form(b"a=1&a=2").is_none(), "repeated keys");
        assert!(
            parse_form(b"a=%FF").is_none(),
            "invalid UTF-8 after decoding"
        );
        assert!(parse_form(&[b'a', b'=', 0xff]).is_none(), "invalid UTF-8");
        assert_eq!(parse_form(b"").unwrap().len(), 0);
    }

    #[test]
    fn bodies_follow_content_type() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(parse_body(&h, &Bytes::from_static(br#"{"a":1}"#)).is_ok());
        assert_eq!(
            parse_body(&h, &Bytes::from_static(b"[1]")),
            Err(Rejection::BadRequest)
        );
        assert_eq!(
            parse_body(&h, &Bytes::from_static(b"{")),
            Err(Rejection::BadRequest)
        );
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            parse_body(&h, &Bytes::from_static(br#"{"a":1}"#))
                .unwrap()
                .len(),
            0
        );
        h.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=x".parse().unwrap(),
        );
        assert_eq!(
            parse_body(&h, &Bytes::from_static(b"a=1")).unwrap().len(),
            0
        );
    }
}
