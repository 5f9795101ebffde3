//! The email provider, black-box through `Auth::handle` (SECURITY.md §6.8 EML-01…15,
//! KEY-04, CLK-05): a capturing `Sender` stands in for SMTP (the real SMTP path is tested
//! against a real server in `smtp.rs` and in the server's tests).
#![cfg(feature = "email")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::outbox::Outbox;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{
    BASE, Harness, Jar, ORIGIN, OTHER_SECRET, Req, Res, SECRET, get, post_form, post_json,
};
use http::StatusCode;
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{
    AdapterError, AdapterUser, TokenHash, UserAdapter, VerificationToken, VerificationTokenAdapter,
};
use portcullis::email::{EmailKind, EmailMessage, SendError, Sender};
use portcullis::{
    Auth, AuthConfig, CallbackError, Callbacks, ClientIp, Compat, DefaultCallbacks, Email,
    MemoryRateLimiter, SessionStrategy, SignInDecision, SignInParams,
};
use serde_json::json;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------
// Test doubles

/// Counts the store calls made through it (the same work for known and unknown addresses)
/// and remembers each stored verification token.
#[derive(Default)]
struct Store {
    inner: MemoryAdapter,
    created: Mutex<Vec<VerificationToken>>,
    calls: AtomicUsize,
}

#[portcullis::async_trait]
impl VerificationTokenAdapter for Store {
    async fn create_verification_token(&self, t: &VerificationToken) -> Result<(), AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.created.lock().unwrap().push(t.clone());
        self.inner.create_verification_token(t).await
    }

    async fn use_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> Result<Option<VerificationToken>, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.use_verification_token(identifier, token).await
    }

    async fn delete_verification_tokens(&self, identifier: &str) -> Result<u64, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_verification_tokens(identifier).await
    }
}

/// `sign_in` refuses `blocked@example.com`, and records `verification_request`.
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<Vec<(String, bool)>>>);

#[portcullis::async_trait]
impl Callbacks for Gate {
    type UserFields = portcullis::NoFields;
    type Claims = portcullis::NoFields;
    type Session = portcullis::Session;

    async fn sign_in(
        &self,
        p: SignInParams<'_, portcullis::NoFields>,
    ) -> Result<SignInDecision, CallbackError> {
        let email = p.user.email.clone().unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push((email.clone(), p.verification_request));
        Ok(if email == "blocked@example.com" {
            SignInDecision::Deny
        } else {
            SignInDecision::Allow
        })
    }

    async fn session(
        &self,
        p: portcullis::SessionParams<'_, portcullis::NoFields, portcullis::NoFields>,
    ) -> Result<portcullis::Session, CallbackError> {
        Ok(p.session)
    }
}

struct Setup {
    h: Harness,
    outbox: Outbox,
    users: Arc<MemoryAdapter>,
    tokens: Arc<Store>,
    gate: Gate,
}

#[derive(Clone)]
struct Options {
    strategy: SessionStrategy,
    sign_up: bool,
    limiter: bool,
    secrets: Vec<&'static str>,
    pinned: Option<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            strategy: SessionStrategy::Jwt,
            sign_up: true,
            limiter: false,
            secrets: vec![SECRET],
            pinned: None,
        }
    }
}

fn setup_with(o: &Options, tokens: Arc<Store>) -> Setup {
    let outbox = Outbox::default();
    let users = Arc::new(MemoryAdapter::new());
    let gate = Gate::default();
    let mut provider = Email::new(outbox.clone()).allow_sign_up(o.sign_up);
    if let Some(p) = o.pinned {
        provider = provider.secret(p);
    }
    let mut b = AuthConfig::builder(gate.clone())
        .url(ORIGIN)
        .user_adapter(users.clone())
        .verification_token_adapter(tokens.clone())
        .session_strategy(o.strategy)
        .email(provider);
    if o.strategy == SessionStrategy::Database {
        b = b.session_adapter(users.clone());
    }
    if o.limiter {
        b = b.rate_limiter(Arc::new(MemoryRateLimiter::new()));
    }
    for s in &o.secrets {
        b = b.secret(*s);
    }
    let auth = Auth::new(b.build().expect("valid email configuration"));
    let h = Harness::new(auth, ORIGIN, Compat::V5, o.secrets[0], Arc::default());
    Setup {
        h,
        outbox,
        users,
        tokens,
        gate,
    }
}

#[allow(clippy::needless_pass_by_value)] // call sites read better with a literal
fn setup(o: Options) -> Setup {
    setup_with(&o, Arc::new(Store::default()))
}

/// `POST /signin/email` with a fresh CSRF token; returns the response.
async fn request_link(s: &Setup, email: &str) -> Res {
    let mut jar = Jar::default();
    let csrf = s.h.csrf(&mut jar).await;
    s.h.send(
        post_form(
            "/signin/email",
            &[
                ("csrfToken", &csrf),
                ("email", email),
                ("callbackUrl", "/dashboard"),
            ],
        )
        .jar(&jar),
    )
    .await
}

fn verify_request_url() -> String {
    format!("{ORIGIN}{BASE}/verify-request?provider=email&type=email")
}

/// The path and query of a link, for `Harness::send`.
fn path_of(url: &url::Url) -> String {
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

fn query(url: &url::Url, key: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn follow(s: &Setup, url: &url::Url) -> Res {
    s.h.send(Req::new(http::Method::GET, &path_of(url))).await
}

fn assert_verification_error(res: &Res) {
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    assert_eq!(
        res.location(),
        Some(format!("{ORIGIN}{BASE}/error?error=Verification").as_str())
    );
    assert!(
        res.written().iter().all(|c| !s_is_session(&c.name)),
        "no session cookie: {res:?}"
    );
}

fn s_is_session(name: &str) -> bool {
    name.contains("session-token")
}

async fn session_email(s: &Setup, res: &Res) -> Option<String> {
    let mut jar = Jar::default();
    jar.apply(res);
    let r = s.h.send(get("/session").jar(&jar)).await;
    r.json()["user"]["email"].as_str().map(str::to_owned)
}

// ---------------------------------------------------------------------------------------
// The flow

#[tokio::test]
async fn eml_01_a_link_signs_in_once() {
    let s = setup(Options::default());
    let res = request_link(&s, "alice@example.com").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some(verify_request_url().as_str()));
    let mail = s.outbox.wait_for(1).await.remove(0);
    assert_eq!(mail.kind, EmailKind::SignIn);
    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.url.path(), format!("{BASE}/callback/email"));
    assert_eq!(query(&mail.url, "email"), "alice@example.com");
    assert_eq!(
        query(&mail.url, "callbackUrl"),
        format!("{ORIGIN}/dashboard")
    );
    assert!(mail.text.contains(mail.url.as_str()));
    assert!(mail.text.contains("10 minutes"), "{}", mail.text);

    let first = follow(&s, &mail.url).await;
    assert_eq!(first.status, StatusCode::FOUND, "{first:?}");
    assert_eq!(
        first.location(),
        Some(format!("{ORIGIN}/dashboard").as_str())
    );
    assert_eq!(
        session_email(&s, &first).await.as_deref(),
        Some("alice@example.com")
    );
    // The user was created with a verified email.
    let user = s
        .users
        .user_by_email("alice@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(user.email_verified.is_some());

    let again = follow(&s, &mail.url).await;
    assert_verification_error(&again);
}

#[tokio::test]
async fn database_sessions_start_from_a_link() {
    let s = setup(Options {
        strategy: SessionStrategy::Database,
        ..Options::default()
    });
    request_link(&s, "dora@example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    let res = follow(&s, &mail.url).await;
    assert_eq!(
        session_email(&s, &res).await.as_deref(),
        Some("dora@example.com")
    );
    let user = s
        .users
        .user_by_email("dora@example.com")
        .await
        .unwrap()
        .unwrap();
    use portcullis::adapter::SessionAdapter;
    assert_eq!(s.users.user_sessions(&user.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_existing_unverified_user_gets_verified_and_keeps_their_id() {
    let s = setup(Options::default());
    let row = AdapterUser {
        id: "u-1".into(),
        email: Some("carol@example.com".into()),
        email_verified: None,
        name: Some("Carol".into()),
        image: None,
        fields: serde_json::Map::new(),
    };
    s.users.create_user(&row).await.unwrap();
    request_link(&s, "Carol@Example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    let res = follow(&s, &mail.url).await;
    let mut jar = Jar::default();
    jar.apply(&res);
    assert_eq!(s.h.decode_jar(&jar)["sub"], "u-1");
    let stored = s.users.user("u-1").await.unwrap().unwrap();
    assert!(stored.email_verified.is_some());
    assert_eq!(stored.name.as_deref(), Some("Carol"));
}

#[tokio::test]
async fn eml_02_an_expired_link_fails_and_its_row_is_gone() {
    let s = setup(Options::default());
    let token = "ab".repeat(32);
    let email = "late@example.com";
    s.tokens
        .create_verification_token(&VerificationToken {
            identifier: email.into(),
            token: TokenHash::of_with_secret(&token, SECRET),
            expires: OffsetDateTime::now_utc() - time::Duration::seconds(1),
        })
        .await
        .unwrap();
    let url = url::Url::parse(&format!(
        "{ORIGIN}{BASE}/callback/email?token={token}&email={email}"
    ))
    .unwrap();
    assert_verification_error(&follow(&s, &url).await);
    // The expired row was consumed: it cannot be used later either.
    assert!(
        s.tokens
            .inner
            .use_verification_token(email, &TokenHash::of_with_secret(&token, SECRET))
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.users.user_by_email(email).await.unwrap().is_none());
}

#[tokio::test]
async fn clk_05_a_link_works_until_its_expiry_and_the_default_is_ten_minutes() {
    let s = setup(Options::default());
    let before = OffsetDateTime::now_utc();
    request_link(&s, "clock@example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    let after = OffsetDateTime::now_utc();
    let lifetime = mail.expires - before;
    assert!(
        lifetime >= time::Duration::minutes(10)
            && mail.expires <= after + time::Duration::minutes(10),
        "default lifetime is 10 minutes: {lifetime}"
    );
    let stored = s.tokens.created.lock().unwrap()[0].clone();
    assert_eq!(stored.expires, mail.expires);
    // One second before its expiry a link still works (the boundary itself is exclusive:
    // `now >= expires` fails, documented on `Email::max_age`).
    let token = "cd".repeat(32);
    s.tokens
        .create_verification_token(&VerificationToken {
            identifier: "edge@example.com".into(),
            token: TokenHash::of_with_secret(&token, SECRET),
            expires: OffsetDateTime::now_utc() + time::Duration::seconds(2),
        })
        .await
        .unwrap();
    let url = url::Url::parse(&format!(
        "{ORIGIN}{BASE}/callback/email?token={token}&email=edge@example.com"
    ))
    .unwrap();
    let res = follow(&s, &url).await;
    assert_eq!(
        session_email(&s, &res).await.as_deref(),
        Some("edge@example.com")
    );
}

#[tokio::test]
async fn eml_03_token_and_address_must_both_match() {
    let s = setup(Options::default());
    request_link(&s, "victim@example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    let token = query(&mail.url, "token");
    let callback = query(&mail.url, "callbackUrl");
    let wrong_token = url::Url::parse(&format!(
        "{ORIGIN}{BASE}/callback/email?token={}&email=victim@example.com",
        "0".repeat(64)
    ))
    .unwrap();
    assert_verification_error(&follow(&s, &wrong_token).await);
    let other_email = url::Url::parse(&format!(
        "{ORIGIN}{BASE}/callback/email?token={token}&email=attacker@example.com"
    ))
    .unwrap();
    assert_verification_error(&follow(&s, &other_email).await);
    let malformed = url::Url::parse(&format!(
        "{ORIGIN}{BASE}/callback/email?token=../../x&email=victim@example.com"
    ))
    .unwrap();
    assert_verification_error(&follow(&s, &malformed).await);
    // The real link still works, once.
    let res = follow(&s, &mail.url).await;
    assert_eq!(res.location(), Some(callback.as_str()));
    assert_eq!(
        session_email(&s, &res).await.as_deref(),
        Some("victim@example.com")
    );
}

#[tokio::test]
async fn eml_04_only_a_keyed_hash_of_a_256_bit_token_is_stored() {
    let s = setup(Options::default());
    request_link(&s, "store@example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    let token = query(&mail.url, "token");
    assert_eq!(token.len(), 64, "32 random bytes, hex");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let stored = s.tokens.created.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].identifier, "store@example.com");
    assert_eq!(stored[0].token, TokenHash::of_with_secret(&token, SECRET));
    assert_ne!(stored[0].token.as_str(), token);
    assert_ne!(
        stored[0].token,
        TokenHash::of(&token),
        "keyed with the secret"
    );
    // Two requests never get the same token.
    request_link(&s, "store@example.com").await;
    let second = s.outbox.wait_for(2).await.remove(1);
    assert_ne!(query(&second.url, "token"), token);
}

// ---------------------------------------------------------------------------------------
// Hostile addresses: refused before any side effect

async fn assert_refused_without_effect(s: &Setup, res: &Res, what: &str) {
    assert_eq!(res.status, StatusCode::FOUND, "{what}: {res:?}");
    assert_eq!(
        res.location(),
        Some(format!("{ORIGIN}{BASE}/error?error=Configuration").as_str()),
        "{what}"
    );
    s.outbox.settle().await;
    assert_eq!(s.outbox.len(), 0, "{what}: no mail");
    assert!(
        s.tokens.created.lock().unwrap().is_empty(),
        "{what}: no token"
    );
    assert!(s.gate.0.lock().unwrap().is_empty(), "{what}: no callback");
}

#[tokio::test]
async fn eml_05_06_07_10_lists_and_tricks_are_refused_with_nothing_sent() {
    let s = setup(Options::default());
    for email in [
        "a@x.com,b@y.com",
        "a@x.com, b@y.com",
        "a@x.com@victim.com",
        "victim.com",
        "",
        "\"e@attacker.com\"@victim.com",
        "<e@attacker.com>",
        "a@victim.com\r\nBcc: x@evil.com",
        "a@b.com, Claim your money <a href=https://evil.example>here</a>",
    ] {
        let res = request_link(&s, email).await;
        assert_refused_without_effect(&s, &res, email).await;
    }
    // Not a string: arrays, objects, numbers (JSON), or a missing field.
    let mut jar = Jar::default();
    let csrf = s.h.csrf(&mut jar).await;
    for body in [
        json!({"csrfToken": csrf, "email": ["a@x.com", "b@y.com"]}),
        json!({"csrfToken": csrf, "email": {}}),
        json!({"csrfToken": csrf, "email": 5}),
        json!({"csrfToken": csrf}),
    ] {
        let res = s.h.send(post_json("/signin/email", &body).jar(&jar)).await;
        assert_refused_without_effect(&s, &res, &body.to_string()).await;
    }
    // PHP-style `email[]` is not `email`; a repeated key is a malformed form (400).
    let res =
        s.h.send(
            Req::new(http::Method::POST, &format!("{BASE}/signin/email"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "csrfToken={}&email%5B%5D=a%40x.com&email%5B%5D=b%40y.com",
                    common::enc(&csrf)
                ))
                .jar(&jar),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "repeated keys: {res:?}"
    );
    let res =
        s.h.send(
            Req::new(http::Method::POST, &format!("{BASE}/signin/email"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "csrfToken={}&email%5B%5D=a%40x.com",
                    common::enc(&csrf)
                ))
                .jar(&jar),
        )
        .await;
    assert_refused_without_effect(&s, &res, "email[]").await;
    assert_eq!(s.users.user_by_email("a@x.com").await.unwrap(), None);
}

#[tokio::test]
async fn eml_07_the_sender_only_ever_sees_the_canonical_address() {
    let s = setup(Options::default());
    request_link(&s, "  Mixed.Case+Tag@Example.COM. ").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    assert_eq!(mail.to, "mixed.case+tag@example.com");
    assert_eq!(query(&mail.url, "email"), "mixed.case+tag@example.com");
}

#[tokio::test]
async fn eml_09_every_spelling_is_one_user() {
    let s = setup(Options::default());
    let spellings = [
        "foo@example.com",
        "Foo@Example.COM",
        "foo@EXAMPLE.com.",
        "ｆｏｏ@example.com",
    ];
    let mut subs = Vec::new();
    for (i, email) in spellings.iter().enumerate() {
        request_link(&s, email).await;
        let mail = s.outbox.wait_for(i + 1).await.remove(i);
        assert_eq!(mail.to, "foo@example.com", "{email}");
        let res = follow(&s, &mail.url).await;
        let mut jar = Jar::default();
        jar.apply(&res);
        subs.push(s.h.decode_jar(&jar)["sub"].clone());
    }
    assert!(subs.windows(2).all(|w| w[0] == w[1]), "one user: {subs:?}");
    // IDN: the Unicode and the punycode forms are one address.
    request_link(&s, "foo@bücher.example").await;
    request_link(&s, "foo@xn--bcher-kva.example").await;
    let all = s.outbox.wait_for(spellings.len() + 2).await;
    assert_eq!(all[spellings.len()].to, "foo@xn--bcher-kva.example");
    assert_eq!(all[spellings.len() + 1].to, "foo@xn--bcher-kva.example");
}

#[tokio::test]
async fn eml_10_the_message_interpolates_only_server_values() {
    let s = setup(Options::default());
    request_link(&s, "plain@example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    for body in [&mail.html, &mail.text, &mail.subject] {
        assert!(!body.contains("<script"), "{body}");
    }
    assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
    assert!(mail.subject.contains("app.example"), "{}", mail.subject);
    // The link's `&` separators are escaped in the HTML.
    assert!(mail.html.contains("&amp;token="), "{}", mail.html);
}

// ---------------------------------------------------------------------------------------
// Enumeration, hosts, limits, races, rotation

#[tokio::test]
async fn eml_11_known_and_unknown_addresses_get_the_same_answer_after_the_same_work() {
    let s = setup(Options {
        sign_up: false,
        ..Options::default()
    });
    s.users
        .create_user(&AdapterUser {
            id: "known".into(),
            email: Some("known@example.com".into()),
            email_verified: None,
            name: None,
            image: None,
            fields: serde_json::Map::new(),
        })
        .await
        .unwrap();
    let calls_before = s.tokens.calls.load(Ordering::SeqCst);
    let known = request_link(&s, "known@example.com").await;
    let calls_known = s.tokens.calls.load(Ordering::SeqCst) - calls_before;
    let unknown = request_link(&s, "nobody@example.com").await;
    let calls_unknown = s.tokens.calls.load(Ordering::SeqCst) - calls_before - calls_known;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.location(), unknown.location());
    assert_eq!(known.text(), unknown.text());
    let names = |r: &Res| {
        r.written()
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&known), names(&unknown));
    assert_eq!(calls_known, calls_unknown, "same store work");
    // Sign-up off: only the known address gets mail.
    let mails = s.outbox.wait_for(1).await;
    s.outbox.settle().await;
    assert_eq!(s.outbox.len(), 1);
    assert_eq!(mails[0].to, "known@example.com");
}

#[tokio::test]
async fn eml_12_links_use_the_configured_url_whatever_the_host_says() {
    let s = setup(Options::default());
    let mut jar = Jar::default();
    let csrf = s.h.csrf(&mut jar).await;
    let res =
        s.h.send(
            post_form(
                "/signin/email",
                &[("csrfToken", &csrf), ("email", "host@example.com")],
            )
            .header("host", "evil.example")
            .header("x-forwarded-host", "evil.example")
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let mail = s.outbox.wait_for(1).await.remove(0);
    assert_eq!(mail.url.host_str(), Some("app.example"));
    assert!(!mail.html.contains("evil") && !mail.text.contains("evil"));
    // Without AUTH_URL the provider is a configuration error, even with trust_host.
    let store = Arc::new(MemoryAdapter::new());
    let err = AuthConfig::builder(DefaultCallbacks)
        .secret(SECRET)
        .trust_host(true)
        .user_adapter(store.clone())
        .verification_token_adapter(store)
        .email(Email::new(Outbox::default()))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AUTH_URL"), "{err}");
    // And without the adapters.
    let err = AuthConfig::builder(DefaultCallbacks)
        .secret(SECRET)
        .url(ORIGIN)
        .email(Email::new(Outbox::default()))
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("user adapter") && err.contains("verification-token adapter"),
        "{err}"
    );
}

async fn request_link_from(s: &Setup, email: &str, ip: &str) -> Res {
    let mut jar = Jar::default();
    let csrf = s.h.csrf(&mut jar).await;
    let mut req = post_form("/signin/email", &[("csrfToken", &csrf), ("email", email)])
        .jar(&jar)
        .build();
    req.extensions_mut().insert(ClientIp(ip.parse().unwrap()));
    Res::from(s.h.auth.handle(req).await)
}

#[tokio::test]
async fn eml_13_sends_are_limited_per_address_and_per_ip() {
    let s = setup(Options {
        limiter: true,
        ..Options::default()
    });
    // Per address: 5 per hour by default, whatever the IP.
    for i in 0..5 {
        let res = request_link_from(&s, "bombed@example.com", &format!("10.0.0.{i}")).await;
        assert_eq!(res.status, StatusCode::FOUND, "request {i}");
    }
    let res = request_link_from(&s, "Bombed@Example.com", "10.0.1.1").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    s.outbox.settle().await;
    assert_eq!(s.outbox.len(), 5, "no mail bomb");
    // Per IP: 20 per hour by default, whatever the address.
    for i in 0..20 {
        let res = request_link_from(&s, &format!("user{i}@example.com"), "192.0.2.7").await;
        assert_eq!(res.status, StatusCode::FOUND, "address {i}");
    }
    let res = request_link_from(&s, "user99@example.com", "192.0.2.7").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    s.outbox.settle().await;
    assert_eq!(s.outbox.len(), 25);
}

#[tokio::test]
async fn eml_14_guessing_tokens_is_rate_limited() {
    let s = setup(Options {
        limiter: true,
        ..Options::default()
    });
    request_link(&s, "guess@example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    let mut limited = 0;
    for i in 0..12 {
        let url = url::Url::parse(&format!(
            "{ORIGIN}{BASE}/callback/email?token={:064x}&email=guess@example.com",
            i
        ))
        .unwrap();
        let res = follow(&s, &url).await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        } else {
            assert_verification_error(&res);
        }
    }
    assert_eq!(limited, 2, "10 uses per 15 minutes, then 429");
    // Even the real link is refused now: guessing locked the address for the window…
    assert_eq!(
        follow(&s, &mail.url).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …and it is gone for good: the lock-out deleted every outstanding link of the address.
    let real = TokenHash::of_with_secret(&query(&mail.url, "token"), SECRET);
    assert!(
        s.tokens
            .inner
            .use_verification_token("guess@example.com", &real)
            .await
            .unwrap()
            .is_none(),
        "the guessed-at link was invalidated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eml_15_two_concurrent_clicks_make_one_session() {
    let s = Arc::new(setup(Options {
        strategy: SessionStrategy::Database,
        ..Options::default()
    }));
    request_link(&s, "race@example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    let (a, b) = tokio::join!(follow(&s, &mail.url), follow(&s, &mail.url));
    let signed: Vec<&Res> = [&a, &b]
        .into_iter()
        .filter(|r| r.written().iter().any(|c| s_is_session(&c.name)))
        .collect();
    assert_eq!(signed.len(), 1, "exactly one session: {a:?} {b:?}");
    let refused: Vec<&Res> = [&a, &b]
        .into_iter()
        .filter(|r| !r.written().iter().any(|c| s_is_session(&c.name)))
        .collect();
    assert_eq!(refused.len(), 1);
    assert_verification_error(refused[0]);
    let user = s
        .users
        .user_by_email("race@example.com")
        .await
        .unwrap()
        .unwrap();
    use portcullis::adapter::SessionAdapter;
    assert_eq!(s.users.user_sessions(&user.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn key_04_links_survive_a_rotation_while_the_old_secret_is_kept() {
    let tokens = Arc::new(Store::default());
    let before = setup_with(&Options::default(), tokens.clone());
    request_link(&before, "rotate@example.com").await;
    let mail = before.outbox.wait_for(1).await.remove(0);
    request_link(&before, "gone@example.com").await;
    let gone = before.outbox.wait_for(2).await.remove(1);
    // Rotated: [new, old] still opens the link sent before.
    let rotated = setup_with(
        &Options {
            secrets: vec![OTHER_SECRET, SECRET],
            ..Options::default()
        },
        tokens.clone(),
    );
    let res = follow(&rotated, &mail.url).await;
    assert_eq!(
        session_email(&rotated, &res).await.as_deref(),
        Some("rotate@example.com")
    );
    // Old secret dropped: a clean Verification error, never a 5xx.
    let dropped = setup_with(
        &Options {
            secrets: vec![OTHER_SECRET],
            ..Options::default()
        },
        tokens.clone(),
    );
    assert_verification_error(&follow(&dropped, &gone.url).await);
    // A pinned provider secret is independent of AUTH_SECRET rotation.
    let pinned = Options {
        pinned: Some("pinned-provider-secret-0123456789abcdef"),
        ..Options::default()
    };
    let a = setup_with(&pinned, tokens.clone());
    request_link(&a, "pinned@example.com").await;
    let mail = a.outbox.wait_for(1).await.remove(0);
    let b = setup_with(
        &Options {
            secrets: vec![OTHER_SECRET],
            ..pinned
        },
        tokens,
    );
    let res = follow(&b, &mail.url).await;
    assert_eq!(
        session_email(&b, &res).await.as_deref(),
        Some("pinned@example.com")
    );
}

// ---------------------------------------------------------------------------------------
// Callbacks, providers, pages

#[tokio::test]
async fn the_sign_in_callback_sees_both_steps_and_can_refuse_before_any_mail() {
    let s = setup(Options::default());
    let res = request_link(&s, "blocked@example.com").await;
    assert_eq!(
        res.location(),
        Some(format!("{ORIGIN}{BASE}/error?error=AccessDenied").as_str())
    );
    s.outbox.settle().await;
    assert_eq!(s.outbox.len(), 0);
    assert!(s.tokens.created.lock().unwrap().is_empty());
    request_link(&s, "ok@example.com").await;
    let mail = s.outbox.wait_for(1).await.remove(0);
    follow(&s, &mail.url).await;
    let seen = s.gate.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("blocked@example.com".to_owned(), true),
            ("ok@example.com".to_owned(), true),
            ("ok@example.com".to_owned(), false),
        ]
    );
}

#[tokio::test]
async fn sign_up_off_refuses_links_for_unknown_addresses() {
    let s = setup(Options {
        sign_up: false,
        ..Options::default()
    });
    // A token for an address with no user (sent while sign-up was on, say).
    let token = "ef".repeat(32);
    s.tokens
        .create_verification_token(&VerificationToken {
            identifier: "new@example.com".into(),
            token: TokenHash::of_with_secret(&token, SECRET),
            expires: OffsetDateTime::now_utc() + time::Duration::minutes(5),
        })
        .await
        .unwrap();
    let url = url::Url::parse(&format!(
        "{ORIGIN}{BASE}/callback/email?token={token}&email=new@example.com"
    ))
    .unwrap();
    let res = follow(&s, &url).await;
    assert_eq!(
        res.location(),
        Some(format!("{ORIGIN}{BASE}/error?error=AccessDenied").as_str())
    );
    assert!(
        s.users
            .user_by_email("new@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn providers_and_pages_show_the_email_provider() {
    let s = setup(Options::default());
    let res = s.h.send(get("/providers")).await;
    assert_eq!(
        res.json()["email"],
        json!({
            "id": "email",
            "name": "Email",
            "type": "email",
            "signinUrl": format!("{ORIGIN}{BASE}/signin/email"),
            "callbackUrl": format!("{ORIGIN}{BASE}/callback/email"),
        })
    );
    let page = s.h.send(get("/signin")).await;
    assert!(
        page.text().contains("name=\"email\" type=\"email\""),
        "{}",
        page.text()
    );
    assert!(
        page.text()
            .contains(&format!("action=\"{ORIGIN}{BASE}/signin/email\""))
    );
    let verify =
        s.h.send(get("/verify-request?provider=email&type=email"))
            .await;
    assert_eq!(verify.status, StatusCode::OK);
    assert!(verify.text().contains("Check your email"));
    // A credentials-style POST to the email callback is refused.
    let mut jar = Jar::default();
    let csrf = s.h.csrf(&mut jar).await;
    let res =
        s.h.send(post_form("/callback/email", &[("csrfToken", &csrf)]).jar(&jar))
            .await;
    assert_eq!(
        res.location(),
        Some(format!("{ORIGIN}{BASE}/error?error=Configuration").as_str())
    );
    // No CSRF token: nothing is sent.
    let res =
        s.h.send(post_form(
            "/signin/email",
            &[("email", "nocsrf@example.com")],
        ))
        .await;
    assert!(
        res.location().unwrap().contains("error=MissingCSRF"),
        "{res:?}"
    );
    s.outbox.settle().await;
    assert_eq!(s.outbox.len(), 0);
}

/// A sender that always fails.
struct Broken;

#[portcullis::async_trait]
impl Sender for Broken {
    async fn send(&self, _: &EmailMessage) -> Result<(), SendError> {
        Err(SendError::new("relay refused"))
    }
}

#[tokio::test]
async fn a_failing_sender_changes_nothing_the_client_sees() {
    let store = Arc::new(MemoryAdapter::new());
    let auth = Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret(SECRET)
            .url(ORIGIN)
            .user_adapter(store.clone())
            .verification_token_adapter(store)
            .email(Email::new(Broken))
            .build()
            .unwrap(),
    );
    let h = Harness::new(auth, ORIGIN, Compat::V5, SECRET, Arc::default());
    let mut jar = Jar::default();
    let csrf = h.csrf(&mut jar).await;
    let res = h
        .send(
            post_form(
                "/signin/email",
                &[("csrfToken", &csrf), ("email", "x@example.com")],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.location(), Some(verify_request_url().as_str()));
}
