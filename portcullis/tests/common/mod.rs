//! Shared harness for the black-box tests: an application whose callbacks mirror the seed
//! example, configuration builders, request helpers, a `Set-Cookie` parser and a cookie jar.
//!
//! Every test drives [`Auth::handle`] directly.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod mock_op;
#[cfg(feature = "email")]
pub mod outbox;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{
    AdapterAccount, AdapterError, AdapterSession, AdapterUser, RevocationAdapter, SessionAdapter,
    TokenHash, UserAdapter, UserUpdate, VerificationToken, VerificationTokenAdapter,
};
use portcullis::jwt::{JweCodec, TokenFormat};
use portcullis::{
    Auth, AuthConfig, AuthConfigBuilder, AuthorizeError, CallbackError, Callbacks, Compat,
    CookieNames, Credentials, JwtParams, Session, SessionParams, Token, Trigger, User,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// The main secret (≥ 32 bytes).
pub const SECRET: &str = "portcullis-black-box-secret-0123456789abcdef";
/// Another deployment's secret / the secret before a rotation.
pub const OTHER_SECRET: &str = "another-deployment-secret-9876543210fedcba";
/// The configured origin in https mode.
pub const ORIGIN: &str = "https://app.example";
/// The configured origin in http mode.
pub const HTTP_ORIGIN: &str = "http://app.example";
/// The base path.
pub const BASE: &str = "/api/auth";

// ---------------------------------------------------------------------------------------
// The application (mirrors examples/credentials-jwt)

/// What `authorize` returns beyond id, name, email and image.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserFields {
    pub role: String,
    pub access_token: String,
}

/// What the session token carries beyond name, email, picture and sub.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

/// What the client sees on `session.user` beyond name, email and image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Exposed {
    pub id: String,
    pub role: String,
}

pub type AppSession = Session<Exposed>;

/// The access token `authorize` hands out (kept server-side).
pub const ACCESS_TOKEN: &str = "at-server-side-only-5f2b9c";

/// How the callbacks misbehave when a session is read (never at sign-in, so a cookie can be
/// obtained first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadMode {
    #[default]
    Normal,
    /// The `session` callback returns an error.
    SessionErrors,
    /// The `session` callback panics.
    SessionPanics,
    /// The `jwt` callback returns an error on a read.
    JwtErrors,
    /// The `jwt` callback panics on a read.
    JwtPanics,
    /// The `jwt` callback returns `None` on a read (ends the session).
    JwtEnds,
}

/// What one call of the `session` callback was given.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCall {
    pub trigger: Option<Trigger>,
    pub new_session: Option<Value>,
    /// Database strategy: the stored user's id and role.
    pub user: Option<(String, String)>,
}

/// The seed example's callbacks.
#[derive(Debug, Clone, Default)]
pub struct App {
    pub mode: ReadMode,
    /// Every call of the `session` callback, in order.
    pub seen: Arc<Mutex<Vec<SessionCall>>>,
}

/// A message no response may ever contain.
pub const SECRET_MESSAGE: &str = "db-password-hunter2-internal-detail";

#[portcullis::async_trait]
impl Callbacks for App {
    type UserFields = UserFields;
    type Claims = Claims;
    type Session = AppSession;

    async fn jwt(
        &self,
        p: JwtParams<'_, UserFields, Claims>,
    ) -> Result<Option<Token<Claims>>, CallbackError> {
        let mut token = p.token;
        if let Some(user) = p.user {
            token.claims.id = Some(user.id.clone());
            token.claims.role = Some(user.fields.role.clone());
            token.claims.access_token = Some(user.fields.access_token.clone());
        } else {
            match self.mode {
                ReadMode::JwtErrors => return Err(CallbackError::new(SECRET_MESSAGE)),
                ReadMode::JwtPanics => panic!("{SECRET_MESSAGE}"),
                ReadMode::JwtEnds => return Ok(None),
                _ => {}
            }
        }
        if p.trigger == Some(Trigger::Update)
            && let Some(name) = p
                .session
                .as_ref()
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
        {
            token.name = Some(name.chars().take(100).collect());
        }
        Ok(Some(token))
    }

    async fn session(
        &self,
        p: SessionParams<'_, UserFields, Claims>,
    ) -> Result<AppSession, CallbackError> {
        self.seen.lock().unwrap().push(SessionCall {
            trigger: p.trigger,
            new_session: p.new_session.clone(),
            user: p.user.map(|u| (u.id.clone(), u.fields.role.clone())),
        });
        match self.mode {
            ReadMode::SessionErrors => return Err(CallbackError::new(SECRET_MESSAGE)),
            ReadMode::SessionPanics => panic!("{SECRET_MESSAGE}"),
            _ => {}
        }
        // Database strategy: the stored user; JWT strategy: the token's claims.
        if let Some(user) = p.user {
            let exposed = Exposed {
                id: user.id.clone(),
                role: user.fields.role.clone(),
            };
            return Ok(p.session.with_user_fields(exposed));
        }
        let claims = &p.token.claims;
        let id = claims
            .id
            .clone()
            .or_else(|| p.token.sub.clone())
            .unwrap_or_default();
        let role = claims.role.clone().unwrap_or_else(|| "user".to_owned());
        Ok(p.session.with_user_fields(Exposed { id, role }))
    }
}

/// How `authorize` behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthorizeMode {
    /// `alice` / `wonderland` only.
    #[default]
    Demo,
    /// `Err(AuthorizeError::Failed(..))` with [`SECRET_MESSAGE`].
    Fails,
    /// Panics with [`SECRET_MESSAGE`].
    Panics,
    /// `Err(AuthorizeError::Rejected { code })`.
    Rejects(&'static str),
    /// `alice` / `wonderland` (id 1, admin) and `bob` / `builder` (id 2, editor).
    TwoUsers,
}

/// The credentials provider, counting its calls.
pub fn credentials(calls: Arc<AtomicUsize>, mode: AuthorizeMode) -> Credentials<UserFields> {
    Credentials::new(move |form, _request| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            match mode {
                AuthorizeMode::Demo | AuthorizeMode::TwoUsers => {}
                AuthorizeMode::Fails => {
                    return Err(AuthorizeError::Failed(CallbackError::new(SECRET_MESSAGE)));
                }
                AuthorizeMode::Panics => panic!("{SECRET_MESSAGE}"),
                AuthorizeMode::Rejects(code) => {
                    return Err(AuthorizeError::Rejected {
                        code: code.to_owned(),
                    });
                }
            }
            let field = |k: &str| {
                form.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            if mode == AuthorizeMode::TwoUsers
                && field("username") == "bob"
                && field("password") == "builder"
            {
                return Ok(Some(
                    User::new("2")
                        .with_name("Bob")
                        .with_email("bob@example.com")
                        .with_fields(UserFields {
                            role: "editor".into(),
                            access_token: "at-bob".into(),
                        }),
                ));
            }
            if field("username") != "alice" || field("password") != "wonderland" {
                return Ok(None);
            }
            Ok(Some(
                User::new("1")
                    .with_name("Alice")
                    .with_email("alice@example.com")
                    .with_fields(UserFields {
                        role: "admin".into(),
                        access_token: ACCESS_TOKEN.into(),
                    }),
            ))
        }
    })
    .field("username", "Username", "text")
    .field("password", "Password", "password")
}

// ---------------------------------------------------------------------------------------
// Harness

type Configure = Box<dyn FnOnce(AuthConfigBuilder<App>) -> AuthConfigBuilder<App>>;

/// Builds a [`Harness`].
pub struct HarnessBuilder {
    origin: String,
    compat: Compat,
    app: App,
    authorize: AuthorizeMode,
    secrets: Vec<String>,
    configure: Vec<Configure>,
}

impl HarnessBuilder {
    pub fn http(mut self) -> Self {
        self.origin = HTTP_ORIGIN.to_owned();
        self
    }

    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = origin.to_owned();
        self
    }

    pub fn v4(mut self) -> Self {
        self.compat = Compat::V4;
        self
    }

    pub fn read_mode(mut self, mode: ReadMode) -> Self {
        self.app.mode = mode;
        self
    }

    pub fn authorize(mut self, mode: AuthorizeMode) -> Self {
        self.authorize = mode;
        self
    }

    /// Replaces the secrets (newest first).
    pub fn secrets(mut self, secrets: &[&str]) -> Self {
        self.secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    pub fn configure(
        mut self,
        f: impl FnOnce(AuthConfigBuilder<App>) -> AuthConfigBuilder<App> + 'static,
    ) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    pub fn build(self) -> Harness {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = self.app.seen.clone();
        let mut b = AuthConfig::builder(self.app)
            .url(self.origin.clone())
            .compat(self.compat)
            .credentials(credentials(calls.clone(), self.authorize));
        for s in &self.secrets {
            b = b.secret(s.clone());
        }
        for f in self.configure {
            b = f(b);
        }
        let config = b.build().expect("valid test configuration");
        let mut h = Harness::new(
            Auth::new(config),
            &self.origin,
            self.compat,
            &self.secrets[0],
            calls,
        );
        h.session_calls = seen;
        h
    }
}

/// One configured `Auth` plus what the tests need to know about it.
pub struct Harness {
    pub auth: Auth,
    /// How many times `authorize` ran.
    pub calls: Arc<AtomicUsize>,
    pub origin: String,
    pub compat: Compat,
    pub secure: bool,
    pub names: CookieNames,
    /// The encoding secret.
    pub secret: String,
    /// Every call of the `session` callback (harnesses made by [`HarnessBuilder`] only).
    pub session_calls: Arc<Mutex<Vec<SessionCall>>>,
}

impl Harness {
    /// https, v5, the example's callbacks, `authorize` = the demo user.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            origin: ORIGIN.to_owned(),
            compat: Compat::V5,
            app: App::default(),
            authorize: AuthorizeMode::Demo,
            secrets: vec![SECRET.to_owned()],
            configure: Vec::new(),
        }
    }

    pub fn https() -> Self {
        Self::builder().build()
    }

    pub fn http() -> Self {
        Self::builder().http().build()
    }

    pub fn v4() -> Self {
        Self::builder().v4().build()
    }

    /// Wraps an `Auth` built elsewhere (other callback types).
    pub fn new(
        auth: Auth,
        origin: &str,
        compat: Compat,
        secret: &str,
        calls: Arc<AtomicUsize>,
    ) -> Self {
        let secure = origin.starts_with("https://");
        Self {
            auth,
            calls,
            origin: origin.to_owned(),
            compat,
            secure,
            names: CookieNames::defaults(compat, secure),
            secret: secret.to_owned(),
            session_calls: Arc::default(),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// `{origin}{base}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{BASE}{path}", self.origin)
    }

    pub async fn send(&self, req: Req) -> Res {
        Res::from(self.auth.handle(req.build()).await)
    }

    /// A codec for the session cookie of this harness with `secrets` (newest first).
    pub fn codec_with(&self, secrets: &[&str]) -> JweCodec {
        let bytes: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
        let format = match self.compat {
            Compat::V5 => TokenFormat::V5,
            Compat::V4 => TokenFormat::V4,
        };
        JweCodec::new(&bytes, &self.names.session_token, format, false).expect("codec")
    }

    /// A codec with this harness's encoding secret.
    pub fn codec(&self) -> JweCodec {
        self.codec_with(&[&self.secret])
    }

    /// Seals claims as a session token with the right key.
    pub fn seal(&self, claims: &Value) -> String {
        self.codec().encode(claims.to_string().as_bytes())
    }

    /// Decodes the session token carried by a jar (plain or chunked) with this harness's
    /// secret.
    pub fn decode_jar(&self, jar: &Jar) -> Value {
        let token = jar
            .session_token(&self.names.session_token)
            .expect("a session cookie");
        let plain = self.codec().decode(&token).expect("decodes");
        serde_json::from_slice(&plain).expect("claims JSON")
    }

    /// `GET /csrf`, updating the jar; returns the token.
    pub async fn csrf(&self, jar: &mut Jar) -> String {
        let res = self.send(get("/csrf").jar(jar)).await;
        assert_eq!(res.status, StatusCode::OK);
        jar.apply(&res);
        res.json()["csrfToken"]
            .as_str()
            .expect("csrfToken")
            .to_owned()
    }

    /// csrf → credentials callback for alice; returns the jar with the session.
    pub async fn signed_in(&self) -> Jar {
        let mut jar = Jar::default();
        let token = self.csrf(&mut jar).await;
        let res = self
            .send(
                post_form(
                    "/callback/credentials",
                    &[
                        ("csrfToken", &token),
                        ("username", "alice"),
                        ("password", "wonderland"),
                    ],
                )
                .jar(&jar),
            )
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "sign-in failed: {res:?}");
        jar.apply(&res);
        assert!(
            jar.session_token(&self.names.session_token).is_some(),
            "no session cookie after sign-in: {res:?}"
        );
        jar
    }

    /// A jar holding a valid CSRF cookie; returns it with the token.
    pub async fn with_csrf(&self) -> (Jar, String) {
        let mut jar = Jar::default();
        let token = self.csrf(&mut jar).await;
        (jar, token)
    }

    /// The no-session body of the dialect.
    pub fn null_body(&self) -> &'static str {
        match self.compat {
            Compat::V5 => "null",
            Compat::V4 => "{}",
        }
    }

    /// Whether `name` is the session cookie or one of its chunks.
    pub fn is_session_cookie(&self, name: &str) -> bool {
        let base = &self.names.session_token;
        name == base
            || name
                .strip_prefix(base.as_str())
                .is_some_and(|r| r.starts_with('.'))
    }

    /// `GET /session` with a raw cookie header, asserting `NULL_SESSION` + `CLEAR`: status 200,
    /// the no-session body, the no-cache headers, a `Max-Age=0` deletion for every session
    /// cookie name in `cookie_header`, and no session cookie written.
    pub async fn assert_null_and_cleared(&self, cookie_header: &str, what: &str) -> Res {
        let res = self
            .send(get("/session").cookie_header(cookie_header))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{what}: status");
        assert_eq!(res.text(), self.null_body(), "{what}: body");
        assert_no_cache(&res);
        let mut present: Vec<String> = Vec::new();
        for pair in cookie_header.split(';') {
            if let Some((n, _)) = pair.split_once('=') {
                let n = n.trim().to_owned();
                if self.is_session_cookie(&n) && !present.contains(&n) {
                    present.push(n);
                }
            }
        }
        assert!(!present.is_empty(), "{what}: test sends no session cookie");
        for name in &present {
            let c = res
                .set_cookie(name)
                .unwrap_or_else(|| panic!("{what}: {name} not cleared: {res:?}"));
            assert!(c.is_deletion(), "{what}: {name} not deleted: {}", c.raw);
        }
        for c in &res.cookies {
            if self.is_session_cookie(&c.name) {
                assert!(
                    c.is_deletion(),
                    "{what}: a session cookie was written: {}",
                    c.raw
                );
            }
        }
        res
    }

    /// `GET /session` with a single session cookie value.
    pub async fn assert_token_rejected(&self, token: &str, what: &str) -> Res {
        let header = format!("{}={token}", self.names.session_token);
        self.assert_null_and_cleared(&header, what).await
    }
}

/// The three no-cache headers of `GET /csrf` and `GET /session`.
pub fn assert_no_cache(res: &Res) {
    assert_eq!(
        res.header("cache-control"),
        Some("private, no-cache, no-store"),
        "{res:?}"
    );
    assert_eq!(res.header("expires"), Some("0"), "{res:?}");
    assert_eq!(res.header("pragma"), Some("no-cache"), "{res:?}");
}

/// The exact session JSON of alice, given the `expires` the server chose.
pub fn alice_session(name: &str, expires: &str) -> Value {
    serde_json::json!({
        "user": {"name": name, "email": "alice@example.com", "id": "1", "role": "admin"},
        "expires": expires,
    })
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs(),
    )
    .expect("fits")
}

// ---------------------------------------------------------------------------------------
// Requests

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Req {
    method: Method,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
}

/// `GET {base}{path}` (path may carry a query).
pub fn get(path: &str) -> Req {
    Req::new(Method::GET, &format!("{BASE}{path}"))
}

/// `POST {base}{path}` with a form body.
pub fn post_form(path: &str, pairs: &[(&str, &str)]) -> Req {
    Req::new(Method::POST, &format!("{BASE}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
}

/// `POST {base}{path}` with a JSON body.
pub fn post_json(path: &str, value: &Value) -> Req {
    Req::new(Method::POST, &format!("{BASE}{path}"))
        .header("content-type", "application/json")
        .body(value.to_string())
}

/// `application/x-www-form-urlencoded` encoding.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Percent-encodes a query component.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Req {
    /// Any method and any path (not prefixed with the base path).
    pub fn new(method: Method, uri: &str) -> Self {
        Self {
            method,
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a `Cookie` header with the jar's cookies (none if empty).
    pub fn jar(self, jar: &Jar) -> Self {
        match jar.header() {
            Some(h) => self.header("cookie", h),
            None => self,
        }
    }

    pub fn cookie_header(self, value: &str) -> Self {
        self.header("cookie", value)
    }

    pub fn build(self) -> Request<Bytes> {
        let mut b = Request::builder().method(self.method).uri(self.uri);
        for (k, v) in self.headers {
            b = b.header(k, v);
        }
        b.body(self.body).expect("valid test request")
    }
}

// ---------------------------------------------------------------------------------------
// Responses

/// One parsed `Set-Cookie` header.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub raw: String,
    pub name: String,
    /// The value as sent (percent-encoded).
    pub value: String,
    /// Attributes in order, names as sent.
    pub attrs: Vec<(String, Option<String>)>,
}

impl SetCookie {
    pub fn parse(raw: &str) -> Self {
        let mut parts = raw.split(';');
        let first = parts.next().unwrap_or_default();
        let (name, value) = first.split_once('=').expect("name=value");
        let attrs = parts
            .map(|a| {
                let a = a.trim();
                match a.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (a.to_owned(), None),
                }
            })
            .collect();
        Self {
            raw: raw.to_owned(),
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attrs,
        }
    }

    /// The attribute's value (`Some(None)` for a flag), case-insensitive name.
    pub fn attr(&self, name: &str) -> Option<Option<&str>> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    pub fn has(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    pub fn is_deletion(&self) -> bool {
        self.attr("Max-Age") == Some(Some("0"))
    }

    /// The value, percent-decoded.
    pub fn decoded(&self) -> String {
        percent_encoding::percent_decode_str(&self.value)
            .decode_utf8()
            .expect("UTF-8 cookie value")
            .into_owned()
    }
}

/// A response, with its body and cookies parsed.
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub cookies: Vec<SetCookie>,
}

impl std::fmt::Debug for Res {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(600).collect();
        f.debug_struct("Res")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &body)
            .finish()
    }
}

impl From<http::Response<Bytes>> for Res {
    fn from(res: http::Response<Bytes>) -> Self {
        let (parts, body) = res.into_parts();
        let cookies = parts
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| SetCookie::parse(v.to_str().expect("ASCII Set-Cookie")))
            .collect();
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
            cookies,
        }
    }
}

impl Res {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The last `Set-Cookie` for `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&SetCookie> {
        self.cookies.iter().rev().find(|c| c.name == name)
    }

    /// Names deleted with `Max-Age=0`.
    pub fn deleted(&self) -> Vec<&str> {
        self.cookies
            .iter()
            .filter(|c| c.is_deletion())
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Cookies written (not deletions).
    pub fn written(&self) -> Vec<&SetCookie> {
        self.cookies.iter().filter(|c| !c.is_deletion()).collect()
    }

    /// Every header value and the body, as text, for "never contains" checks.
    pub fn everything(&self) -> String {
        let mut s = format!("{}\n", self.status);
        for (k, v) in &self.headers {
            s.push_str(k.as_str());
            s.push_str(": ");
            s.push_str(&String::from_utf8_lossy(v.as_bytes()));
            s.push('\n');
        }
        s.push_str(&String::from_utf8_lossy(&self.body));
        s
    }
}

// ---------------------------------------------------------------------------------------
// Cookie jar

/// A browser-like jar: `Set-Cookie` values are stored as sent and sent back as is.
#[derive(Debug, Clone, Default)]
pub struct Jar {
    pub cookies: Vec<(String, String)>,
}

impl Jar {
    /// Applies every `Set-Cookie` of a response in order (deletions remove).
    pub fn apply(&mut self, res: &Res) {
        for c in &res.cookies {
            self.cookies.retain(|(n, _)| n != &c.name);
            if !c.is_deletion() {
                self.cookies.push((c.name.clone(), c.value.clone()));
            }
        }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }

    pub fn remove(&mut self, name: &str) {
        self.cookies.retain(|(n, _)| n != name);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Names of the session cookie and its chunks in the jar.
    pub fn session_names(&self, base: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| n == base || n.strip_prefix(base).is_some_and(|r| r.starts_with('.')))
            .collect();
        names.sort();
        names
    }

    /// The session token: the plain cookie, or the chunks `.0 .. .N` joined in order.
    pub fn session_token(&self, base: &str) -> Option<String> {
        if let Some(v) = self.get(base) {
            return Some(v.to_owned());
        }
        let mut out = String::new();
        let mut i = 0;
        while let Some(v) = self.get(&format!("{base}.{i}")) {
            out.push_str(v);
            i += 1;
        }
        (i > 0).then_some(out)
    }

    /// The `Cookie` header value.
    pub fn header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        Some(
            self.cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// Parses a URL and asserts its origin is `origin`.
pub fn assert_same_origin(url: &str, origin: &str, what: &str) {
    let parsed =
        url::Url::parse(url).unwrap_or_else(|e| panic!("{what}: `{url}` does not parse: {e}"));
    let expected = url::Url::parse(origin).expect("origin");
    assert_eq!(
        parsed.origin(),
        expected.origin(),
        "{what}: `{url}` left the origin"
    );
}

/// Runs a future on a fresh current-thread runtime (for proptest bodies).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

// ---------------------------------------------------------------------------------------
// Stores: a fault-injecting, call-counting wrapper around the memory adapter

/// How an adapter method is made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// [`AdapterError::Unavailable`]: the store cannot be reached.
    Unavailable,
    /// [`AdapterError::Other`]: any other failure.
    Other,
}

impl Fault {
    fn error(self, method: &str) -> AdapterError {
        // The message carries SECRET_MESSAGE: no response may ever show it.
        let e = std::io::Error::other(format!("injected fault in {method}: {SECRET_MESSAGE}"));
        match self {
            Self::Unavailable => AdapterError::unavailable(e),
            Self::Other => AdapterError::other(e),
        }
    }
}

/// Every method of the four adapter traits, by name.
pub const ADAPTER_METHODS: &[&str] = &[
    "create_user",
    "user",
    "user_by_email",
    "user_by_account",
    "update_user",
    "delete_user",
    "link_account",
    "create_user_with_account",
    "unlink_account",
    "accounts",
    "update_account",
    "create_session",
    "session",
    "session_and_user",
    "touch_session",
    "delete_session",
    "user_sessions",
    "delete_user_sessions",
    "delete_expired_sessions",
    "create_verification_token",
    "use_verification_token",
    "not_before",
    "set_not_before",
];

/// A [`MemoryAdapter`] behind every adapter trait, counting calls per method and failing
/// the methods it is told to.
pub struct FaultyAdapter {
    pub inner: Arc<MemoryAdapter>,
    faults: Mutex<HashMap<&'static str, Fault>>,
    calls: Mutex<HashMap<&'static str, usize>>,
    interleave: AtomicBool,
    delays: Mutex<HashMap<&'static str, std::collections::VecDeque<std::time::Duration>>>,
    /// The `expires` of every `touch_session` call, in call order.
    pub touched: Mutex<Vec<OffsetDateTime>>,
}

fn known(method: &str) {
    assert!(
        ADAPTER_METHODS.contains(&method),
        "`{method}` is not an adapter method"
    );
}

impl FaultyAdapter {
    pub fn new(inner: Arc<MemoryAdapter>) -> Self {
        Self {
            inner,
            faults: Mutex::default(),
            calls: Mutex::default(),
            interleave: AtomicBool::new(false),
            delays: Mutex::default(),
            touched: Mutex::default(),
        }
    }

    /// Makes the next call of `method` (one per queued delay) wait this long before it
    /// reaches the store.
    pub fn delay_next(&self, method: &'static str, delay: std::time::Duration) {
        known(method);
        self.delays
            .lock()
            .unwrap()
            .entry(method)
            .or_default()
            .push_back(delay);
    }

    /// Makes `method` fail until healed.
    pub fn fail(&self, method: &'static str, fault: Fault) {
        known(method);
        self.faults.lock().unwrap().insert(method, fault);
    }

    pub fn heal(&self, method: &'static str) {
        known(method);
        self.faults.lock().unwrap().remove(method);
    }

    pub fn heal_all(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// How many times `method` was called (failed calls included).
    pub fn calls(&self, method: &str) -> usize {
        known(method);
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    /// Calls of every method.
    pub fn total_calls(&self) -> usize {
        self.calls.lock().unwrap().values().sum()
    }

    pub fn reset_calls(&self) {
        self.calls.lock().unwrap().clear();
    }

    /// Whether each call yields to the scheduler first, so concurrent requests interleave.
    pub fn interleave(&self, on: bool) {
        self.interleave.store(on, Ordering::SeqCst);
    }

    async fn enter(&self, method: &'static str) -> Result<(), AdapterError> {
        *self.calls.lock().unwrap().entry(method).or_insert(0) += 1;
        if self.interleave.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        let delay = self
            .delays
            .lock()
            .unwrap()
            .get_mut(method)
            .and_then(std::collections::VecDeque::pop_front);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let fault = self.faults.lock().unwrap().get(method).copied();
        match fault {
            Some(f) => Err(f.error(method)),
            None => Ok(()),
        }
    }
}

#[portcullis::async_trait]
impl UserAdapter for FaultyAdapter {
    async fn create_user(&self, user: &AdapterUser) -> Result<AdapterUser, AdapterError> {
        self.enter("create_user").await?;
        self.inner.create_user(user).await
    }
    async fn user(&self, id: &str) -> Result<Option<AdapterUser>, AdapterError> {
        self.enter("user").await?;
        self.inner.user(id).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<AdapterUser>, AdapterError> {
        self.enter("user_by_email").await?;
        self.inner.user_by_email(email).await
    }
    async fn user_by_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<Option<AdapterUser>, AdapterError> {
        self.enter("user_by_account").await?;
        self.inner
            .user_by_account(provider, provider_account_id)
            .await
    }
    async fn update_user(
        &self,
        id: &str,
        update: &UserUpdate,
    ) -> Result<AdapterUser, AdapterError> {
        self.enter("update_user").await?;
        self.inner.update_user(id, update).await
    }
    async fn delete_user(&self, id: &str) -> Result<(), AdapterError> {
        self.enter("delete_user").await?;
        self.inner.delete_user(id).await
    }
    async fn link_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        self.enter("link_account").await?;
        self.inner.link_account(account).await
    }
    async fn create_user_with_account(
        &self,
        user: &AdapterUser,
        account: &AdapterAccount,
    ) -> Result<AdapterUser, AdapterError> {
        self.enter("create_user_with_account").await?;
        self.inner.create_user_with_account(user, account).await
    }
    async fn unlink_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<(), AdapterError> {
        self.enter("unlink_account").await?;
        self.inner
            .unlink_account(provider, provider_account_id)
            .await
    }
    async fn accounts(&self, user_id: &str) -> Result<Vec<AdapterAccount>, AdapterError> {
        self.enter("accounts").await?;
        self.inner.accounts(user_id).await
    }
    async fn update_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        self.enter("update_account").await?;
        self.inner.update_account(account).await
    }
}

#[portcullis::async_trait]
impl SessionAdapter for FaultyAdapter {
    async fn create_session(&self, session: &AdapterSession) -> Result<(), AdapterError> {
        self.enter("create_session").await?;
        self.inner.create_session(session).await
    }
    async fn session(&self, key: &TokenHash) -> Result<Option<AdapterSession>, AdapterError> {
        self.enter("session").await?;
        self.inner.session(key).await
    }
    async fn session_and_user(
        &self,
        key: &TokenHash,
    ) -> Result<Option<(AdapterSession, Option<AdapterUser>)>, AdapterError> {
        self.enter("session_and_user").await?;
        self.inner.session_and_user(key).await
    }
    async fn touch_session(
        &self,
        key: &TokenHash,
        expires: OffsetDateTime,
        last_used_at: OffsetDateTime,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        self.touched.lock().unwrap().push(expires);
        self.enter("touch_session").await?;
        self.inner.touch_session(key, expires, last_used_at).await
    }
    async fn delete_session(
        &self,
        key: &TokenHash,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        self.enter("delete_session").await?;
        self.inner.delete_session(key).await
    }
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<AdapterSession>, AdapterError> {
        self.enter("user_sessions").await?;
        self.inner.user_sessions(user_id).await
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
    ) -> Result<u64, AdapterError> {
        self.enter("delete_user_sessions").await?;
        self.inner.delete_user_sessions(user_id, keep).await
    }
    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, AdapterError> {
        self.enter("delete_expired_sessions").await?;
        self.inner.delete_expired_sessions(now).await
    }
}

#[portcullis::async_trait]
impl VerificationTokenAdapter for FaultyAdapter {
    async fn create_verification_token(
        &self,
        token: &VerificationToken,
    ) -> Result<(), AdapterError> {
        self.enter("create_verification_token").await?;
        self.inner.create_verification_token(token).await
    }
    async fn use_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> Result<Option<VerificationToken>, AdapterError> {
        self.enter("use_verification_token").await?;
        self.inner.use_verification_token(identifier, token).await
    }
    async fn delete_verification_tokens(&self, identifier: &str) -> Result<u64, AdapterError> {
        self.enter("delete_verification_tokens").await?;
        self.inner.delete_verification_tokens(identifier).await
    }
}

#[portcullis::async_trait]
impl RevocationAdapter for FaultyAdapter {
    async fn not_before(&self, user_id: &str) -> Result<Option<OffsetDateTime>, AdapterError> {
        self.enter("not_before").await?;
        self.inner.not_before(user_id).await
    }
    async fn set_not_before(&self, user_id: &str, at: OffsetDateTime) -> Result<(), AdapterError> {
        self.enter("set_not_before").await?;
        self.inner.set_not_before(user_id, at).await
    }
}

// ---------------------------------------------------------------------------------------
// Database-strategy (and revocable JWT) harness

/// A [`Harness`] over a [`FaultyAdapter`] around a [`MemoryAdapter`], with `authorize`
/// accepting alice (id 1) and bob (id 2).
pub struct Db {
    pub h: Harness,
    /// The store itself, read and written directly (bypassing the fault wrapper).
    pub mem: Arc<MemoryAdapter>,
    /// What `Auth` talks to.
    pub store: Arc<FaultyAdapter>,
}

impl std::ops::Deref for Db {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.h
    }
}

/// Attaches the store to a configuration.
pub type Attach =
    Box<dyn FnOnce(AuthConfigBuilder<App>, Arc<FaultyAdapter>) -> AuthConfigBuilder<App>>;

impl Db {
    /// `builder` with `authorize` = [`AuthorizeMode::TwoUsers`] and the store attached by
    /// `attach`. `mem` may be shared with another `Db` (another instance, same store).
    pub fn with_store(builder: HarnessBuilder, mem: Arc<MemoryAdapter>, attach: Attach) -> Self {
        let store = Arc::new(FaultyAdapter::new(mem.clone()));
        let s = store.clone();
        let h = builder
            .authorize(AuthorizeMode::TwoUsers)
            .configure(move |b| attach(b, s))
            .build();
        Self { h, mem, store }
    }

    /// The database strategy: `.adapter(store)` on `builder`.
    pub fn database_with(builder: HarnessBuilder) -> Self {
        Self::with_store(
            builder,
            Arc::new(MemoryAdapter::new()),
            Box::new(|b, s| b.adapter(s)),
        )
    }

    /// The database strategy with defaults (https, v5, 30-day max age, 1-day update age).
    pub fn database() -> Self {
        Self::database_with(Harness::builder())
    }

    /// The JWT strategy with `.revocation_adapter(store)` and a revocation cache TTL.
    pub fn revocable(mem: Arc<MemoryAdapter>, ttl: std::time::Duration) -> Self {
        Self::with_store(
            Harness::builder(),
            mem,
            Box::new(move |b, s| b.revocation_adapter(s).revocation_cache_ttl(ttl)),
        )
    }

    /// csrf (if the jar has none) → credentials sign-in as `username`, optionally with a
    /// `User-Agent`; applies the response to the jar and returns it.
    pub async fn sign_in_as(&self, jar: &mut Jar, username: &str, user_agent: Option<&str>) -> Res {
        let csrf = self.csrf(jar).await;
        let password = match username {
            "alice" => "wonderland",
            "bob" => "builder",
            other => panic!("no password for {other}"),
        };
        let mut req = post_form(
            "/callback/credentials",
            &[
                ("csrfToken", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .jar(jar);
        if let Some(ua) = user_agent {
            req = req.header("user-agent", ua);
        }
        let res = self.send(req).await;
        jar.apply(&res);
        res
    }

    /// A fresh jar signed in as `username`; returns it with the session token.
    pub async fn browser(&self, username: &str, user_agent: Option<&str>) -> (Jar, String) {
        let mut jar = Jar::default();
        let res = self.sign_in_as(&mut jar, username, user_agent).await;
        assert_eq!(res.status, StatusCode::FOUND, "sign-in failed: {res:?}");
        let token = self.token_of(&jar);
        (jar, token)
    }

    /// The session cookie value in a jar.
    pub fn token_of(&self, jar: &Jar) -> String {
        jar.session_token(&self.names.session_token)
            .expect("a session cookie")
    }

    /// `name=token` for the session cookie.
    pub fn cookie(&self, token: &str) -> String {
        format!("{}={token}", self.names.session_token)
    }

    /// `GET /session` with only this session token.
    pub async fn read(&self, token: &str) -> Res {
        self.send(get("/session").cookie_header(&self.cookie(token)))
            .await
    }

    /// The stored row for a cookie token (read directly from the store).
    pub async fn row(&self, token: &str) -> Option<AdapterSession> {
        self.mem.session(&TokenHash::of(token)).await.unwrap()
    }

    /// The user's stored sessions (read directly from the store).
    pub async fn rows(&self, user_id: &str) -> Vec<AdapterSession> {
        self.mem.user_sessions(user_id).await.unwrap()
    }

    /// Stores alice's (or bob's) user row as a first sign-in would, if missing.
    pub async fn plant_user(&self, user_id: &str) {
        if self.mem.user(user_id).await.unwrap().is_some() {
            return;
        }
        let (name, email, role) = match user_id {
            "1" => ("Alice", "alice@example.com", "admin"),
            "2" => ("Bob", "bob@example.com", "editor"),
            other => panic!("unknown test user {other}"),
        };
        let mut fields = serde_json::Map::new();
        fields.insert("role".into(), Value::String(role.into()));
        fields.insert("access_token".into(), Value::String("at".into()));
        let user = AdapterUser {
            id: user_id.to_owned(),
            email: Some(email.to_owned()),
            email_verified: None,
            name: Some(name.to_owned()),
            image: None,
            fields,
        };
        self.mem.create_user(&user).await.unwrap();
    }

    /// Writes a session row with chosen times straight into the store; returns its token.
    pub async fn plant_session(
        &self,
        user_id: &str,
        created_at: OffsetDateTime,
        last_used_at: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> String {
        self.plant_user(user_id).await;
        let token = random_token();
        let row = AdapterSession {
            key: TokenHash::of(&token),
            user_id: user_id.to_owned(),
            expires,
            created_at,
            last_used_at,
            user_agent: None,
            ip: None,
        };
        self.mem.create_session(&row).await.unwrap();
        token
    }
}

/// A token shaped like the ones portcullis issues (64 lowercase hex), never issued by it.
pub fn random_token() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    TokenHash::of(&format!("planted-{n}-{nanos}"))
        .as_str()
        .to_owned()
}

/// `Date.prototype.toUTCString()`, as `Set-Cookie` `Expires` carries it.
pub fn http_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        &t.weekday().to_string()[..3],
        t.day(),
        &t.month().to_string()[..3],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`) to seconds since the epoch.
pub fn parse_http_date(s: &str) -> i64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = s.split([' ', ':']).collect();
    assert_eq!(parts.len(), 8, "not an IMF-fixdate: {s}");
    assert_eq!(parts[7], "GMT", "{s}");
    let month = MONTHS.iter().position(|m| *m == parts[2]).expect("month") + 1;
    let num = |i: usize| parts[i].parse::<u16>().unwrap_or_else(|_| panic!("{s}"));
    let date = time::Date::from_calendar_date(
        i32::from(num(3)),
        time::Month::try_from(u8::try_from(month).unwrap()).unwrap(),
        u8::try_from(num(1)).unwrap(),
    )
    .unwrap();
    let t = time::Time::from_hms(
        u8::try_from(num(4)).unwrap(),
        u8::try_from(num(5)).unwrap(),
        u8::try_from(num(6)).unwrap(),
    )
    .unwrap();
    let parsed = time::PrimitiveDateTime::new(date, t).assume_utc();
    assert_eq!(
        &parsed.weekday().to_string()[..3],
        parts[0].trim_end_matches(','),
        "weekday of {s}"
    );
    parsed.unix_timestamp()
}

/// `Date.prototype.toISOString()`.
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The current time, truncated to milliseconds (what stores keep).
pub fn now_ms() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(u32::from(t.millisecond()) * 1_000_000)
        .unwrap()
}

/// A `time::Duration` of whole seconds.
pub fn secs(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}
