//! Shared pieces of the portcullis fuzz targets: a byte reader over [`arbitrary::Unstructured`]
//! whose layout the seed generator can write back ([`Writer`]), the secrets and names the
//! targets use, and the [`Auth`] configurations the router target drives.
//!
//! The inputs are read front to back: one byte per choice, and strings as a length prefix
//! (one byte, or `0xff` followed by a little-endian `u16`) and that many bytes. That keeps
//! seeds easy to write (`examples/make_seeds.rs`) while libFuzzer mutates them freely: any
//! byte string decodes to *some* input.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};

use arbitrary::Unstructured;
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::email::{EmailMessage, SendError, Sender};
use portcullis::{
    Auth, AuthConfig, CallbackError, Callbacks, Compat, Credentials, Email, JwtParams,
    MemoryRateLimiter, OAuth, Session, SessionParams, SessionStrategy, Token, User,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The session secret of every fuzzed configuration (≥ 32 bytes).
pub const SECRET: &str = "portcullis-fuzz-secret-0123456789abcdef-0123456789";
/// A second secret: tokens sealed with it must never open with [`SECRET`] alone.
pub const OTHER_SECRET: &str = "another-deployment-secret-9876543210fedcba-zyxw";
/// A value the credentials provider hands out and no response may ever contain.
pub const SERVER_ONLY: &str = "server-side-only-access-token-5f2b9c";
/// The OAuth provider's authorization endpoint: the only foreign redirect target.
pub const OAUTH_AUTHORIZE: &str = "https://idp.example/authorize";

/// Reads a fuzz input front to back. Running out of bytes yields zeros and empty strings.
#[derive(Debug)]
pub struct Reader<'a> {
    u: Unstructured<'a>,
}

impl<'a> Reader<'a> {
    /// A reader over the whole input.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            u: Unstructured::new(data),
        }
    }

    /// One byte (0 once the input is exhausted).
    pub fn byte(&mut self) -> u8 {
        self.u.arbitrary::<u8>().unwrap_or(0)
    }

    /// A choice among `n` options (`n` > 0).
    pub fn choose(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// A flag.
    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        self.u.arbitrary::<u64>().unwrap_or(0)
    }

    /// A length-prefixed byte string, cut short where the input ends.
    pub fn bytes(&mut self) -> &'a [u8] {
        let mut len = usize::from(self.byte());
        if len == 0xff {
            len = usize::from(u16::from_le_bytes([self.byte(), self.byte()]));
        }
        let len = len.min(self.u.len());
        self.u.bytes(len).unwrap_or_default()
    }

    /// A length-prefixed string (invalid UTF-8 replaced).
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// Whatever is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::replace(&mut self.u, Unstructured::new(&[])).take_rest()
    }

    /// Whether the input is exhausted.
    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }
}

/// Writes inputs in the layout [`Reader`] reads (for seeds).
#[derive(Debug, Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// An empty input.
    pub fn new() -> Self {
        Self::default()
    }

    /// One byte (a choice or a flag).
    pub fn byte(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }

    /// A little-endian `u64`.
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A length-prefixed byte string.
    ///
    /// # Panics
    /// If `s` is longer than 65 535 bytes.
    pub fn bytes(mut self, s: &[u8]) -> Self {
        if s.len() < 0xff {
            self.0.push(s.len() as u8);
        } else {
            let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
            self.0.push(0xff);
            self.0.extend_from_slice(&len.to_le_bytes());
        }
        self.0.extend_from_slice(s);
        self
    }

    /// A length-prefixed string.
    pub fn text(self, s: &str) -> Self {
        self.bytes(s.as_bytes())
    }

    /// The remaining bytes, unprefixed (must come last).
    pub fn rest(mut self, s: &[u8]) -> Vec<u8> {
        self.0.extend_from_slice(s);
        self.0
    }

    /// The input.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

// ---------------------------------------------------------------------------------------
// The application the router target serves: the seed example's callbacks.

/// What `authorize` returns beyond id, name, email and image (absent from the rows the
/// email sign-in stores, hence the defaults).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UserFields {
    /// The user's role.
    pub role: String,
    /// Kept server-side; never in a response.
    pub access_token: String,
}

/// What the session token carries beyond name, email, picture and sub.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Claims {
    /// The role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Server-side only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

/// What the client sees on `session.user`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exposed {
    /// The role.
    pub role: String,
}

/// The callbacks: copy the role into the token and the session, keep the access token in
/// the token only; `update` may rename the user.
#[derive(Debug, Clone, Copy, Default)]
pub struct App;

#[portcullis::async_trait]
impl Callbacks for App {
    type UserFields = UserFields;
    type Claims = Claims;
    type Session = Session<Exposed>;

    async fn jwt(
        &self,
        p: JwtParams<'_, UserFields, Claims>,
    ) -> Result<Option<Token<Claims>>, CallbackError> {
        let mut token = p.token;
        if let Some(user) = p.user {
            token.claims.role = Some(user.fields.role.clone());
            token.claims.access_token = Some(user.fields.access_token.clone());
        }
        if let Some(name) = p
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
    ) -> Result<Session<Exposed>, CallbackError> {
        let role = match p.user {
            Some(user) => user.fields.role.clone(),
            None => p.token.claims.role.clone().unwrap_or_default(),
        };
        Ok(p.session.with_user_fields(Exposed { role }))
    }
}

/// A sender that drops every message.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMail;

#[portcullis::async_trait]
impl Sender for NoMail {
    async fn send(&self, _message: &EmailMessage) -> Result<(), SendError> {
        Ok(())
    }
}

/// `alice` / `wonderland` signs in; everything else is refused.
pub fn credentials() -> Credentials<UserFields> {
    Credentials::new(|form, _request| async move {
        let field = |k: &str| form.get(k).and_then(Value::as_str).unwrap_or_default();
        if field("username") != "alice" || field("password") != "wonderland" {
            return Ok(None);
        }
        Ok(Some(
            User::new("1")
                .with_name("Alice")
                .with_email("alice@example.com")
                .with_fields(UserFields {
                    role: "admin".into(),
                    access_token: SERVER_ONLY.into(),
                }),
        ))
    })
    .field("username", "Username", "text")
    .field("password", "Password", "password")
}

/// The configurations the router target picks from (its first input byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// `https://app.example`, v5, JWT sessions: credentials and an OAuth provider with
    /// fixed endpoints (no discovery, so no network before the token request, which a
    /// fuzzer cannot reach: it needs a sealed check cookie). Built once.
    JwtHttps,
    /// `http://localhost:3000`, v5, database sessions in a memory adapter, email sign-in
    /// (messages dropped), a memory rate limiter. Built afresh for every input, so the
    /// stores start empty each time.
    DatabaseHttp,
    /// No `AUTH_URL`, `AUTH_TRUST_HOST`: the origin comes from `Host` /
    /// `X-Forwarded-Host` / `X-Forwarded-Proto`; next-auth v4 dialect, base path `/auth`,
    /// credentials, JWT sessions, v4 tokens accepted. Built afresh for every input.
    TrustHostV4,
}

impl Setup {
    /// Every setup, in the order the router's first byte selects them.
    pub const ALL: [Setup; 3] = [Setup::JwtHttps, Setup::DatabaseHttp, Setup::TrustHostV4];

    /// The base path of the auth routes.
    pub fn base_path(self) -> &'static str {
        match self {
            Setup::JwtHttps | Setup::DatabaseHttp => "/api/auth",
            Setup::TrustHostV4 => "/auth",
        }
    }

    /// The configured origin (`None`: taken from the request).
    pub fn origin(self) -> Option<&'static str> {
        match self {
            Setup::JwtHttps => Some("https://app.example"),
            Setup::DatabaseHttp => Some("http://localhost:3000"),
            Setup::TrustHostV4 => None,
        }
    }

    /// The dialect.
    pub fn compat(self) -> Compat {
        match self {
            Setup::JwtHttps | Setup::DatabaseHttp => Compat::V5,
            Setup::TrustHostV4 => Compat::V4,
        }
    }

    /// Builds the configuration.
    ///
    /// # Panics
    /// If the configuration is refused (a bug in this harness).
    #[allow(clippy::expect_used)]
    pub fn build(self) -> Auth {
        // Ten years, so that the session cookies in the committed seeds stay valid.
        let b = AuthConfig::builder(App)
            .secret(SECRET)
            .max_age(std::time::Duration::from_secs(10 * 365 * 86_400));
        let b = match self {
            Setup::JwtHttps => b
                .url("https://app.example")
                .credentials(credentials())
                .oauth(
                    OAuth::oauth(
                        "acme",
                        "Acme",
                        OAUTH_AUTHORIZE,
                        "https://idp.example/token",
                        "https://idp.example/userinfo",
                    )
                    .client("fuzz-client", "fuzz-client-secret"),
                ),
            Setup::DatabaseHttp => {
                let store = Arc::new(MemoryAdapter::new());
                b.url("http://localhost:3000")
                    .adapter(store)
                    .session_strategy(SessionStrategy::Database)
                    .email(Email::new(NoMail))
                    .rate_limiter(Arc::new(MemoryRateLimiter::new()))
            }
            Setup::TrustHostV4 => b
                .trust_host(true)
                .base_path("/auth")
                .compat(Compat::V4)
                .accept_v4_tokens(true)
                .credentials(credentials()),
        };
        Auth::new(b.build().expect("a valid fuzz configuration"))
    }
}

// ---------------------------------------------------------------------------------------
// The router's requests.

/// The methods a request picks from (the last choice reads a method name instead).
pub const METHODS: [&str; 7] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"];
/// The actions a path under the base picks from.
pub const ACTIONS: [&str; 17] = [
    "csrf",
    "providers",
    "session",
    "signin",
    "signout",
    "callback",
    "error",
    "verify-request",
    "webauthn-options",
    "_log",
    "sessions",
    "signup",
    "verify-email",
    "forgot-password",
    "reset-password",
    "change-password",
    "unknown",
];
/// The second path segments a path picks from.
pub const SEGMENTS: [&str; 8] = [
    "credentials",
    "email",
    "acme",
    "revoke",
    "revoke-others",
    "revoke-all",
    "undefined",
    "",
];
/// The header names a request picks from (the last choice reads a name instead).
pub const HEADERS: [&str; 14] = [
    "cookie",
    "content-type",
    "host",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-for",
    "origin",
    "sec-fetch-site",
    "x-auth-return-redirect",
    "authorization",
    "accept",
    "referer",
    "content-length",
    "user-agent",
];

/// How a request's path is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSpec {
    /// `{base}/{ACTIONS[i]}`.
    Action(u8),
    /// `{base}/{ACTIONS[i]}/{SEGMENTS[j]}`.
    ActionSegment(u8, u8),
    /// `{base}/{text}`.
    UnderBase(String),
    /// The text as the whole path.
    Raw(String),
}

/// A router input before it becomes an `http::Request`: what [`read_spec`] reads and
/// [`RequestSpec::encode`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    /// Index into [`Setup::ALL`].
    pub setup: u8,
    /// Index into [`METHODS`]; past the end: `method_name`.
    pub method: u8,
    /// The method name when `method` is past the end of [`METHODS`].
    pub method_name: String,
    /// The path.
    pub path: PathSpec,
    /// The query string, if any.
    pub query: Option<String>,
    /// Whether the request target is in absolute form (`https://app.example/…`).
    pub absolute: bool,
    /// Headers: an index into [`HEADERS`] (past the end: the name that follows) and a value.
    pub headers: Vec<(u8, String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Most headers a request carries.
pub const MAX_HEADERS: usize = 16;

impl RequestSpec {
    /// A `GET` to `{base}/{action}` on `setup` with no headers.
    pub fn get(setup: Setup, action: &str) -> Self {
        Self {
            setup: setup_index(setup),
            method: 0,
            method_name: String::new(),
            path: PathSpec::Action(action_index(action)),
            query: None,
            absolute: false,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header by name.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match HEADERS.iter().position(|h| *h == name) {
            Some(i) => self
                .headers
                .push((i as u8, String::new(), value.as_bytes().to_vec())),
            None => self.headers.push((
                HEADERS.len() as u8,
                name.to_owned(),
                value.as_bytes().to_vec(),
            )),
        }
        self
    }

    /// The bytes [`read_spec`] reads back as this request.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new().byte(self.setup).byte(self.method);
        if usize::from(self.method) >= METHODS.len() {
            w = w.text(&self.method_name);
        }
        w = match &self.path {
            PathSpec::Action(a) => w.byte(0).byte(*a),
            PathSpec::ActionSegment(a, s) => w.byte(1).byte(*a).byte(*s),
            PathSpec::UnderBase(t) => w.byte(2).text(t),
            PathSpec::Raw(t) => w.byte(3).text(t),
        };
        w = match &self.query {
            Some(q) => w.byte(1).text(q),
            None => w.byte(0),
        };
        w = w
            .byte(u8::from(self.absolute))
            .byte(self.headers.len() as u8);
        for (i, name, value) in &self.headers {
            w = w.byte(*i);
            if usize::from(*i) >= HEADERS.len() {
                w = w.text(name);
            }
            w = w.bytes(value);
        }
        w.rest(&self.body)
    }
}

/// The index of a setup in [`Setup::ALL`].
pub fn setup_index(setup: Setup) -> u8 {
    Setup::ALL.iter().position(|s| *s == setup).unwrap_or(0) as u8
}

/// The index of an action in [`ACTIONS`].
pub fn action_index(action: &str) -> u8 {
    ACTIONS.iter().position(|a| *a == action).unwrap_or(0) as u8
}

/// Reads a router input.
pub fn read_spec(data: &[u8]) -> RequestSpec {
    let mut r = Reader::new(data);
    let setup = r.byte();
    let method = r.byte();
    let method_name = if usize::from(method) >= METHODS.len() {
        r.text()
    } else {
        String::new()
    };
    let path = match r.byte() % 4 {
        0 => PathSpec::Action(r.byte()),
        1 => PathSpec::ActionSegment(r.byte(), r.byte()),
        2 => PathSpec::UnderBase(r.text()),
        _ => PathSpec::Raw(r.text()),
    };
    let query = r.flag().then(|| r.text());
    let absolute = r.flag();
    let count = usize::from(r.byte()) % (MAX_HEADERS + 1);
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let i = r.byte();
        let name = if usize::from(i) >= HEADERS.len() {
            r.text()
        } else {
            String::new()
        };
        headers.push((i, name, r.bytes().to_vec()));
    }
    let body = r.rest().to_vec();
    RequestSpec {
        setup,
        method,
        method_name,
        path,
        query,
        absolute,
        headers,
        body,
    }
}

/// The setup a spec selects.
pub fn setup_of(spec: &RequestSpec) -> Setup {
    Setup::ALL[usize::from(spec.setup) % Setup::ALL.len()]
}

/// Builds the `http::Request` of a spec; `None` when it is not a request an HTTP server
/// would hand over (an invalid method, target or header), which the fuzzer skips.
pub fn build_request(spec: &RequestSpec) -> Option<Request<Bytes>> {
    let setup = setup_of(spec);
    let method = match METHODS.get(usize::from(spec.method)) {
        Some(m) => Method::from_bytes(m.as_bytes()).ok()?,
        None => Method::from_bytes(spec.method_name.as_bytes()).ok()?,
    };
    let base = setup.base_path();
    let pick = |list: &[&'static str], i: u8| list[usize::from(i) % list.len()];
    let mut target = match &spec.path {
        PathSpec::Action(a) => format!("{base}/{}", pick(&ACTIONS, *a)),
        PathSpec::ActionSegment(a, s) => {
            format!("{base}/{}/{}", pick(&ACTIONS, *a), pick(&SEGMENTS, *s))
        }
        PathSpec::UnderBase(t) => format!("{base}/{t}"),
        PathSpec::Raw(t) => t.clone(),
    };
    if let Some(q) = &spec.query {
        target.push('?');
        target.push_str(q);
    }
    if spec.absolute {
        let origin = setup.origin().unwrap_or("http://app.example");
        target = format!("{origin}{target}");
    }
    let mut builder = Request::builder().method(method).uri(target.as_str());
    for (i, name, value) in &spec.headers {
        let name = match HEADERS.get(usize::from(*i)) {
            Some(n) => HeaderName::from_static(n),
            None => HeaderName::from_bytes(name.as_bytes()).ok()?,
        };
        builder = builder.header(name, HeaderValue::from_bytes(value).ok()?);
    }
    builder.body(Bytes::from(spec.body.clone())).ok()
}
