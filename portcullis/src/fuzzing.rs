//! Internal entry points for the fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! Thin wrappers around crate-private parsers, so that the fuzzers reach the code a request
//! goes through without a whole [`crate::Auth`]. This is **not a stable API**: it is hidden
//! from the documentation and may change with any release.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::Compat;
use crate::cookie::{RequestCookies, SessionCookie};

/// The cookies of a request, parsed from its `Cookie` headers as [`crate::Auth::handle`]
/// parses them.
#[derive(Debug, Clone)]
pub struct Cookies(RequestCookies);

/// What the session cookie(s) of a request amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionToken {
    /// No session cookie at all.
    Absent,
    /// Session cookies are present but malformed (ambiguous chunks, too many, too large).
    Invalid,
    /// The reassembled token.
    Present(String),
}

impl Cookies {
    /// Parses the values of every `Cookie` header, in order.
    pub fn parse<'a>(headers: impl IntoIterator<Item = &'a [u8]>) -> Self {
        Self(RequestCookies::parse(headers))
    }

    /// The first value sent under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// Every distinct name that is `name` or looks like one of its chunks (`name.…`).
    pub fn session_names(&self, name: &str) -> Vec<String> {
        self.0.session_names(name)
    }

    /// The session token reassembled from the cookie `name` or its chunks `name.0`, `name.1`, …
    pub fn session_token(&self, name: &str, max_len: usize) -> SessionToken {
        match self.0.session_token(name, max_len) {
            SessionCookie::Absent => SessionToken::Absent,
            SessionCookie::Invalid => SessionToken::Invalid,
            SessionCookie::Present(token) => SessionToken::Present(token.into_owned()),
        }
    }
}

/// One `Set-Cookie` header portcullis would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookieView {
    /// The cookie name.
    pub name: String,
    /// The unencoded value.
    pub value: String,
    /// Whether the cookie deletes its name (`Max-Age=0`).
    pub deletion: bool,
    /// The header value as sent.
    pub header: String,
}

/// The value characters of one session-cookie chunk for a dialect.
pub fn chunk_size(compat: Compat) -> usize {
    crate::cookie::chunk_size(compat)
}

/// The `Set-Cookie` headers that write `token` as the session cookie `name`, chunked as
/// needed, deleting the other session cookies in `present`.
pub fn session_set_cookies(
    name: &str,
    token: &str,
    secure: bool,
    compat: Compat,
    present: &[String],
) -> Vec<SetCookieView> {
    let expires = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    crate::cookie::session_cookies(name, token, expires, secure, compat, present)
        .into_iter()
        .map(|c| SetCookieView {
            deletion: c.max_age == Some(0),
            header: c.to_header_value(),
            name: c.name,
            value: c.value,
        })
        .collect()
}

/// What the double-submit CSRF check made of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfOutcome {
    /// The token the client must echo (the cookie's, or a fresh one).
    pub token: String,
    /// The cookie value to set, when the request's cookie was missing or not ours.
    pub new_cookie: Option<String>,
    /// Whether `body_token` passed the check.
    pub verified: bool,
}

/// Reads a CSRF cookie value with `secret` and checks the body's `csrfToken` against it.
pub fn csrf_check(cookie: Option<&str>, secret: &str, body_token: Option<&str>) -> CsrfOutcome {
    let csrf = crate::csrf::Csrf::from_cookie(cookie, secret);
    let verified = csrf.verify(body_token);
    CsrfOutcome {
        token: csrf.token,
        new_cookie: csrf.new_cookie,
        verified,
    }
}

/// The request body as the POST actions see it; `None` where the request is answered 400.
pub fn parse_body(headers: &HeaderMap, body: &[u8]) -> Option<Map<String, Value>> {
    crate::request::parse_body(headers, &Bytes::copy_from_slice(body)).ok()
}

/// A strict `application/x-www-form-urlencoded` parse (`None`: invalid UTF-8 or a
/// repeated key).
pub fn parse_form(raw: &[u8]) -> Option<Map<String, Value>> {
    crate::request::parse_form(raw)
}

/// The lenient query-string parse (malformed or repeated parameters dropped).
pub fn parse_query(query: Option<&str>) -> Map<String, Value> {
    crate::request::parse_query(query)
}

#[cfg(feature = "oauth")]
pub use oauth::{CheckBinding, ReplayGuard, open_oauth_check, seal_oauth_check, token_set};

#[cfg(feature = "oauth")]
mod oauth {
    use serde_json::{Map, Value};

    use crate::jwt::JweCodec;
    use crate::provider::oauth::TokenSet;
    use crate::provider::oauth::check::{Binding, Check};

    /// What an OAuth check cookie is bound to.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CheckBinding {
        /// The provider id.
        pub provider: String,
        /// The issuer (OIDC), if any.
        pub issuer: Option<String>,
        /// The client id.
        pub client_id: String,
        /// The redirect URI.
        pub redirect_uri: String,
    }

    impl CheckBinding {
        fn binding(&self) -> Binding<'_> {
            Binding {
                provider: &self.provider,
                issuer: self.issuer.as_deref(),
                client_id: &self.client_id,
                redirect_uri: &self.redirect_uri,
            }
        }
    }

    /// A sealed check cookie for `to` with a chosen `state`, minted at `now`.
    pub fn seal_oauth_check(codec: &JweCodec, to: &CheckBinding, state: &str, now: i64) -> String {
        let mut check = Check::new(
            &to.binding(),
            true,
            "https://app.example/".to_owned(),
            None,
            now,
        );
        state.clone_into(&mut check.state);
        check.seal(codec)
    }

    /// The callback's first step: opens the check cookie, checks its binding and expiry, then
    /// compares the response's `state`. `Ok` carries the sealed state; `Err` the reason.
    ///
    /// # Errors
    /// The reason the check failed, as logged.
    pub fn open_oauth_check(
        cookie: Option<&str>,
        codec: &JweCodec,
        expect: &CheckBinding,
        now: i64,
        state: Option<&str>,
    ) -> Result<String, String> {
        let check =
            Check::open(cookie, codec, &expect.binding(), now).map_err(|e| e.to_string())?;
        check.verify_state(state).map_err(|e| e.to_string())?;
        Ok(check.state)
    }

    /// The token endpoint's JSON answer as a [`TokenSet`].
    ///
    /// # Errors
    /// Why the answer is not usable.
    pub fn token_set(raw: &Map<String, Value>, now: i64) -> Result<TokenSet, String> {
        crate::action::oauth::token_set(raw, now).map_err(|e| e.to_string())
    }

    /// The single-use guard for OAuth `state` values.
    #[derive(Default)]
    pub struct ReplayGuard(crate::provider::oauth::check::ReplayGuard);

    impl std::fmt::Debug for ReplayGuard {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("ReplayGuard")
        }
    }

    impl ReplayGuard {
        /// Records `state` as used until `exp`; `false` when it was already used.
        pub fn first_use(&self, state: &str, exp: i64, now: i64) -> bool {
            self.0.first_use(state, exp, now)
        }
    }
}
