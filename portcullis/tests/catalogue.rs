//! SECURITY.md §6 rows that had no test, or only part of one, each black-box through
//! `Auth::handle` (see docs/security.md): CSRF-01 (OAuth sign-in), CSRF-05, CSRF-07,
//! CSRF-10 (`GET /signin/{oauth}`), RDR-13 (magic link), TOK-01 (log line), SES-04
//! (signed-out victim), SES-09, RACE-05, RACE-06, INJ-06 (outbound requests, `Referer`),
//! FLT-03 (token use and account link), FLT-08 (log line, stored token), CLK-04 and
//! WAN-01..05 (no passkey surface).
//!
//! No test here measures time: CSRF-07 is checked structurally (same answer, same path),
//! and the bench `post_signout_csrf_mismatch` in `benches/core.rs` prints the figures.
#![cfg(all(feature = "oauth", feature = "email"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use common::mock_op::*;
use common::outbox::Outbox;
use common::*;
use http::{Method, StatusCode};
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{SessionAdapter, TokenHash, UserAdapter, VerificationTokenAdapter};
use portcullis::email::{EmailMessage, SendError, Sender};
use portcullis::{
    Auth, AuthConfig, Compat, DefaultCallbacks, Email, MemoryRateLimiter, RateLimits,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

/// The parts of an answer a client can observe, cookies included (values too), for
/// "the same answer" checks.
fn observable(res: &Res) -> (StatusCode, Option<String>, String, Vec<String>) {
    let mut cookies: Vec<String> = res.cookies.iter().map(|c| c.raw.clone()).collect();
    cookies.sort();
    (
        res.status,
        res.location().map(str::to_owned),
        res.text().to_owned(),
        cookies,
    )
}

/// Flips one ASCII hex digit of `s` at byte `i` to another hex digit.
fn flip_hex(s: &str, i: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

// ---------------------------------------------------------------------------------------
// CSRF

/// CSRF-07, structurally (no timing): a body token differing from the cookie's in its first
/// byte, its last byte, its middle, or in length gets exactly the same answer as any other
/// wrong token — status, `Location`, body and cookies byte for byte — and each one leaves the
/// session and the store alone. The comparison itself is `subtle`'s: the source check below
/// pins that `Csrf::verify` and the cookie-hash check go through `secret::ct_eq`, and that
/// `ct_eq` is `subtle::ConstantTimeEq` (whose only early exit is the length, which is public:
/// every token portcullis issues is 64 hex digits). The bench `post_signout_csrf_mismatch`
/// prints the first- and last-byte figures.
#[tokio::test]
async fn csrf_07_every_mismatch_position_gets_the_same_answer_through_one_comparison() {
    let db = Db::database();
    let (mut jar, session) = db.browser("alice", None).await;
    let token = db.csrf(&mut jar).await;
    assert_eq!(token.len(), 64, "tokens are 64 hex digits");
    let wrong: Vec<(&str, String)> = vec![
        ("first byte", flip_hex(&token, 0)),
        ("last byte", flip_hex(&token, 63)),
        ("middle byte", flip_hex(&token, 32)),
        (
            "every byte",
            token
                .chars()
                .map(|c| if c == 'a' { 'b' } else { 'a' })
                .collect(),
        ),
        ("one short", token[..63].to_owned()),
        ("one long", format!("{token}0")),
        ("empty", String::new()),
        ("10 KB", "f".repeat(10_000)),
        ("non-ASCII, same byte length", format!("{}é", &token[..62])),
    ];
    let mut answers = Vec::new();
    for (what, posted) in &wrong {
        assert_ne!(posted, &token);
        db.store.reset_calls();
        let res = db
            .send(post_form("/signout", &[("csrfToken", posted)]).jar(&jar))
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "{what}: {res:?}");
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/signin?error=MissingCSRF"),
            "{what}"
        );
        assert_eq!(db.store.total_calls(), 0, "{what}: the store was reached");
        assert!(db.row(&session).await.is_some(), "{what}: signed out");
        answers.push((what, observable(&res)));
    }
    for (what, answer) in &answers[1..] {
        assert_eq!(
            answer, &answers[0].1,
            "{what} differs from {}",
            answers[0].0
        );
    }
    // The credentials callback too: `authorize` never runs, one answer for every position.
    let mut answers = Vec::new();
    for (what, posted) in &wrong {
        let res = db
            .send(
                post_form(
                    "/callback/credentials",
                    &[
                        ("csrfToken", posted),
                        ("username", "bob"),
                        ("password", "builder"),
                    ],
                )
                .jar(&jar),
            )
            .await;
        answers.push((what, observable(&res)));
    }
    for (what, answer) in &answers[1..] {
        assert_eq!(
            answer, &answers[0].1,
            "{what} differs from {}",
            answers[0].0
        );
    }
    assert_eq!(db.calls(), 1, "authorize ran only for the sign-in");
    // The right token still works: the mismatches above were refused for being wrong.
    let res = db
        .send(post_form("/signout", &[("csrfToken", &token)]).jar(&jar))
        .await;
    assert_eq!(res.location(), Some("https://app.example/"));
    assert!(db.row(&session).await.is_none());

    // The comparison path (source of this crate): one constant-time function, no `==`.
    let csrf_rs = include_str!("../src/csrf.rs");
    let secret_rs = include_str!("../src/secret.rs");
    let body = |src: &'static str, sig: &str| -> &'static str {
        let start = src.find(sig).unwrap_or_else(|| panic!("`{sig}` not found"));
        let rest = &src[start..];
        let end = rest
            .find("\n    }\n")
            .or_else(|| rest.find("\n}\n"))
            .unwrap();
        &rest[..end]
    };
    let verify = body(csrf_rs, "fn verify(");
    assert!(
        verify.contains("ct_eq(t.as_bytes(), self.token.as_bytes())"),
        "{verify}"
    );
    assert!(
        !verify.contains("=="),
        "a plain comparison in verify: {verify}"
    );
    let from_cookie = body(csrf_rs, "fn from_cookie(");
    assert!(
        from_cookie.contains("ct_eq(hash.as_bytes()"),
        "{from_cookie}"
    );
    assert!(!from_cookie.contains("=="), "{from_cookie}");
    let ct_eq = body(secret_rs, "fn ct_eq(");
    assert!(
        secret_rs.contains("use subtle::ConstantTimeEq"),
        "subtle is used"
    );
    assert!(
        ct_eq.contains("a.len() == b.len() && bool::from(a.ct_eq(b))"),
        "ct_eq is subtle's: {ct_eq}"
    );
}

/// CSRF-05: an attacker's own valid pair planted under the unprefixed name (what a sibling
/// subdomain or a plain-`http` response can set) is never read in secure mode, where the
/// cookie is `__Host-authjs.csrf-token`: the attacker's token is `MissingCSRF` and the
/// victim stays signed in. On plain `http` there is no prefix, so the same planted pair
/// passes the double-submit check: this test pins that documented gap (docs/security.md).
#[tokio::test]
async fn csrf_05_a_planted_pair_needs_the_host_prefix_to_be_refused() {
    // Secure mode.
    let h = Harness::https();
    assert_eq!(h.names.csrf_token, "__Host-authjs.csrf-token");
    let (attacker, attacker_token) = h.with_csrf().await;
    let pair = attacker.get(&h.names.csrf_token).unwrap().to_owned();
    let mut victim = h.signed_in().await;
    victim.remove(&h.names.csrf_token);
    victim.set("authjs.csrf-token", &pair);
    let res = h
        .send(post_form("/signout", &[("csrfToken", &attacker_token)]).jar(&victim))
        .await;
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/signin?error=MissingCSRF"),
        "{res:?}"
    );
    assert!(res.deleted().is_empty(), "{res:?}");
    let s = h.send(get("/session").jar(&victim)).await;
    assert_eq!(s.json()["user"]["id"], "1", "the victim is still signed in");

    // Plain http: the pair has no prefix, and a planted one is accepted (the gap).
    let h = Harness::http();
    assert_eq!(h.names.csrf_token, "authjs.csrf-token");
    let (attacker, attacker_token) = h.with_csrf().await;
    let pair = attacker.get(&h.names.csrf_token).unwrap().to_owned();
    let mut victim = h.signed_in().await;
    victim.set(&h.names.csrf_token, &pair);
    let res = h
        .send(post_form("/signout", &[("csrfToken", &attacker_token)]).jar(&victim))
        .await;
    assert_eq!(res.location(), Some("http://app.example/"), "{res:?}");
    assert!(res.deleted().contains(&h.names.session_token.as_str()));
}

async fn mock_world(store: Store) -> (MockOp, World) {
    let op = MockOp::start().await;
    let w = World::builder()
        .store(store)
        .provider(op.oidc("mock"))
        .build();
    (op, w)
}

/// CSRF-01 for `POST /signin/{oauth}`: without a `csrfToken`, with a wrong one, or without
/// the CSRF cookie: `SIGNIN_ERR(MissingCSRF)`, no redirect to the provider, no check
/// cookie, nothing asked of the provider and nothing written.
#[tokio::test]
async fn csrf_01_oauth_sign_in_without_a_valid_token_never_reaches_the_provider() {
    let (op, w) = mock_world(Store::Database).await;
    let (jar, token) = w.h.with_csrf().await;
    let before = op.records().requests.len();
    let cases: Vec<(&str, Req)> = vec![
        ("no token", post_form("/signin/mock", &[]).jar(&jar)),
        (
            "wrong token",
            post_form("/signin/mock", &[("csrfToken", &flip_hex(&token, 5))]).jar(&jar),
        ),
        (
            "no cookie",
            post_form("/signin/mock", &[("csrfToken", &token)]),
        ),
        (
            "JSON, no token",
            post_json("/signin/mock", &json!({"callbackUrl": "/"})).jar(&jar),
        ),
    ];
    for (what, req) in cases {
        let res = w.h.send(req).await;
        assert_eq!(res.status, StatusCode::FOUND, "{what}: {res:?}");
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/signin?error=MissingCSRF"),
            "{what}"
        );
        assert!(res.set_cookie(CHECK_COOKIE).is_none(), "{what}: {res:?}");
        assert_no_session(&res);
    }
    assert_eq!(
        op.records().requests.len(),
        before,
        "the provider was asked"
    );
    assert!(op.records().authorize.is_empty());
    assert_eq!(w.writes(), 0);
    // With the token the same request does go to the provider.
    let res =
        w.h.send(post_form("/signin/mock", &[("csrfToken", &token)]).jar(&jar))
            .await;
    assert!(res.location().unwrap().starts_with(&op.url("/authorize?")));
}

/// CSRF-10 for `GET /signin/{oauth}`: a GET (a link, an `<img>`) never starts a sign-in —
/// no redirect to the provider, no check cookie, no state — and answers as `GET
/// /signin/credentials` does (not an action in Auth.js v5), never 5xx.
#[tokio::test]
async fn csrf_10_get_signin_with_an_oauth_provider_starts_nothing() {
    let (op, w) = mock_world(Store::Database).await;
    let mut jar = Jar::default();
    w.h.csrf(&mut jar).await;
    let mut answers = Vec::new();
    for path in [
        "/signin/mock",
        "/signin/mock?callbackUrl=%2Fdashboard",
        "/signin/mock?csrfToken=x",
    ] {
        let res = w.h.send(get(path).jar(&jar)).await;
        assert!(!res.status.is_server_error(), "{path}: {res:?}");
        if let Some(location) = res.location() {
            assert_same_origin(location, ORIGIN, path);
            assert!(!location.starts_with(&op.issuer), "{path}: {location}");
        }
        assert!(res.set_cookie(CHECK_COOKIE).is_none(), "{path}: {res:?}");
        assert!(res.written().is_empty(), "{path}: {res:?}");
        answers.push((path, observable(&res)));
    }
    for (path, answer) in &answers[1..] {
        assert_eq!(answer, &answers[0].1, "{path}");
    }
    assert!(op.records().authorize.is_empty());
    assert!(op.token_requests().is_empty());
    assert_eq!(w.writes(), 0);
}

// ---------------------------------------------------------------------------------------
// Email: RDR-13, FLT-03, FLT-08, INJ-06, RACE-05

fn email_auth(outbox: Outbox, store: Arc<MemoryAdapter>) -> Harness {
    let auth = Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret(SECRET)
            .url(ORIGIN)
            .user_adapter(store.clone())
            .verification_token_adapter(store)
            .email(Email::new(outbox))
            .build()
            .unwrap(),
    );
    Harness::new(auth, ORIGIN, Compat::V5, SECRET, Arc::default())
}

/// `POST /signin/email` for `email` with a fresh CSRF token, then the mailed link.
async fn mail_link(h: &Harness, outbox: &Outbox, email: &str) -> url::Url {
    let n = outbox.len();
    let mut jar = Jar::default();
    let csrf = h.csrf(&mut jar).await;
    let res = h
        .send(post_form("/signin/email", &[("csrfToken", &csrf), ("email", email)]).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    outbox.wait_for(n + 1).await.remove(n).url
}

fn path_of(url: &url::Url) -> String {
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// `url` with its `callbackUrl` replaced.
fn with_callback(url: &url::Url, target: &str) -> url::Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "callbackUrl")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .append_pair("callbackUrl", target)
        .extend_pairs(pairs);
    out
}

/// RDR-13 for the magic link: `GET /callback/email` whose `callbackUrl` was edited to a
/// hostile target signs in (the token is good) and redirects to the origin, never away.
#[tokio::test]
async fn rdr_13_a_magic_link_with_a_foreign_callback_url_stays_on_the_origin() {
    let outbox = Outbox::default();
    let h = email_auth(outbox.clone(), Arc::new(MemoryAdapter::new()));
    for target in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "http://app.example/",
        "https://app.example.evil.example/",
        "https://app.example@evil.example/",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
        "https://evil.example/api/auth/error",
    ] {
        let link = with_callback(&mail_link(&h, &outbox, "rdr@example.com").await, target);
        let res = h.send(Req::new(Method::GET, &path_of(&link))).await;
        assert_eq!(res.status, StatusCode::FOUND, "{target}: {res:?}");
        let location = res.location().unwrap();
        assert_same_origin(location, ORIGIN, target);
        assert!(!location.contains("error="), "{target}: {location}");
        assert!(
            res.written().iter().any(|c| h.is_session_cookie(&c.name)),
            "{target}: the link did not sign in"
        );
    }
}

/// A sender that always fails, as an SMTP relay that refuses.
#[derive(Clone, Default)]
struct Refusing(Arc<Mutex<usize>>);

#[portcullis::async_trait]
impl Sender for Refusing {
    async fn send(&self, _: &EmailMessage) -> Result<(), SendError> {
        *self.0.lock().unwrap() += 1;
        Err(SendError::new("554 relay refused"))
    }
}

/// FLT-08: when the transport fails, the answer is the one a delivered mail gets
/// (`verify-request`, EML-11), the failure is logged as `EmailSignInError` without the
/// link or its token, and the stored token is a keyed hash that expires with the link's
/// default ten minutes (never longer): an undelivered link dies on its own.
#[test]
fn flt_08_a_failed_delivery_is_logged_and_its_token_is_short_lived() {
    let (logs, _guard) = capture_logs();
    block_on(async {
        let store = Arc::new(MemoryAdapter::new());
        let sender = Refusing::default();
        let auth = Auth::new(
            AuthConfig::builder(DefaultCallbacks)
                .secret(SECRET)
                .url(ORIGIN)
                .user_adapter(store.clone())
                .verification_token_adapter(store.clone())
                .email(Email::new(sender.clone()))
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
                    &[("csrfToken", &csrf), ("email", "flt08@example.com")],
                )
                .jar(&jar),
            )
            .await;
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/verify-request?provider=email&type=email")
        );
        for _ in 0..100 {
            if *sender.0.lock().unwrap() > 0 {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        assert_eq!(*sender.0.lock().unwrap(), 1, "delivery was attempted");
        Outbox::default().settle().await;
        let log = logs.text();
        assert!(
            log.contains("EmailSignInError") && log.contains("554 relay refused"),
            "{log}"
        );
        assert!(!log.contains("token="), "the link reached the log: {log}");
        assert!(!log.contains("callback/email"), "{log}");
        // The one stored row: expires within ten minutes of the request. Using it needs
        // the raw token, which was only ever in the undelivered mail.
        let row = store
            .use_verification_token("flt08@example.com", &TokenHash::of("not-the-token"))
            .await
            .unwrap();
        assert!(row.is_none());
        let n = store
            .delete_verification_tokens("flt08@example.com")
            .await
            .unwrap();
        assert_eq!(n, 1, "one stored token");
    });
}

/// FLT-08 (the stored token's lifetime): the row written before delivery expires ten
/// minutes after the request, whatever the sender does.
#[tokio::test]
async fn flt_08_the_token_of_a_failed_delivery_expires_with_the_link() {
    #[derive(Default)]
    struct Recording {
        inner: MemoryAdapter,
        rows: Mutex<Vec<portcullis::adapter::VerificationToken>>,
    }
    #[portcullis::async_trait]
    impl VerificationTokenAdapter for Recording {
        async fn create_verification_token(
            &self,
            t: &portcullis::adapter::VerificationToken,
        ) -> Result<(), portcullis::adapter::AdapterError> {
            self.rows.lock().unwrap().push(t.clone());
            self.inner.create_verification_token(t).await
        }
        async fn use_verification_token(
            &self,
            identifier: &str,
            token: &TokenHash,
        ) -> Result<Option<portcullis::adapter::VerificationToken>, portcullis::adapter::AdapterError>
        {
            self.inner.use_verification_token(identifier, token).await
        }
        async fn delete_verification_tokens(
            &self,
            identifier: &str,
        ) -> Result<u64, portcullis::adapter::AdapterError> {
            self.inner.delete_verification_tokens(identifier).await
        }
    }
    let tokens = Arc::new(Recording::default());
    let auth = Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret(SECRET)
            .url(ORIGIN)
            .user_adapter(Arc::new(MemoryAdapter::new()))
            .verification_token_adapter(tokens.clone())
            .email(Email::new(Refusing::default()))
            .build()
            .unwrap(),
    );
    let h = Harness::new(auth, ORIGIN, Compat::V5, SECRET, Arc::default());
    let mut jar = Jar::default();
    let csrf = h.csrf(&mut jar).await;
    let before = OffsetDateTime::now_utc();
    h.send(
        post_form(
            "/signin/email",
            &[("csrfToken", &csrf), ("email", "short@example.com")],
        )
        .jar(&jar),
    )
    .await;
    let after = OffsetDateTime::now_utc();
    let rows = tokens.rows.lock().unwrap().clone();
    assert_eq!(rows.len(), 1);
    let ten = Duration::minutes(10);
    assert!(
        rows[0].expires >= before + ten - Duration::seconds(1) && rows[0].expires <= after + ten,
        "expires {} (request at {before})",
        rows[0].expires
    );
    assert_eq!(rows[0].token.as_str().len(), 64, "a hash, not the token");
}

/// FLT-03 for verification-token use: the store failing while a link is used is never a
/// sign-in — an outage is not "treated as success": no session cookie, no session row, an
/// error page or 503 (never 500), no internal detail shown; the same link works once the
/// store is back (the failed use consumed nothing).
#[tokio::test]
async fn flt_03_a_store_failure_while_using_a_link_signs_no_one_in() {
    let outbox = Outbox::default();
    let db = Db::database_with(Harness::builder().configure({
        let outbox = outbox.clone();
        move |b| b.email(Email::new(outbox))
    }));
    db.plant_user("1").await;
    let link = mail_link(&db.h, &outbox, "alice@example.com").await;
    for fault in [Fault::Unavailable, Fault::Other] {
        db.store.fail("use_verification_token", fault);
        let res = db.send(Req::new(Method::GET, &path_of(&link))).await;
        assert_ne!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{fault:?}");
        assert!(
            res.status == StatusCode::FOUND || res.status == StatusCode::SERVICE_UNAVAILABLE,
            "{fault:?}: {res:?}"
        );
        assert!(
            res.written().iter().all(|c| !db.is_session_cookie(&c.name)),
            "{fault:?}: a session cookie: {res:?}"
        );
        if res.status == StatusCode::FOUND {
            let location = res.location().unwrap();
            assert!(location.contains("/error?error="), "{fault:?}: {location}");
        }
        assert!(db.rows("1").await.is_empty(), "{fault:?}: a session row");
        assert!(!res.everything().contains(SECRET_MESSAGE));
    }
    db.store.heal_all();
    let res = db.send(Req::new(Method::GET, &path_of(&link))).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(res.written().iter().any(|c| db.is_session_cookie(&c.name)));
    assert_eq!(db.rows("1").await.len(), 1);
}

/// FLT-03 for account linking: when creating the user with its account, or linking the
/// account, fails, the OAuth callback is an error with no session, and the store holds no
/// user without its account (and no account without its user).
#[tokio::test]
async fn flt_03_a_store_failure_while_linking_an_account_leaves_no_half_user() {
    let (op, w) = mock_world(Store::Database).await;
    let carol = Person::new("carol-sub").email("carol@idp.test", Some(true));
    for (method, fault) in [
        ("create_user_with_account", Fault::Unavailable),
        ("create_user_with_account", Fault::Other),
    ] {
        w.store.fail(method, fault);
        let mut jar = Jar::default();
        let res = w.sign_in(&op, &mut jar, "mock", &carol).await;
        assert_eq!(res.status, StatusCode::FOUND, "{method}: {res:?}");
        assert!(
            res.location().unwrap().contains("error="),
            "{method} {fault:?}: {res:?}"
        );
        assert_no_session(&res);
        assert!(w.user_of("mock", "carol-sub").await.is_none());
        assert!(
            w.mem
                .user_by_email("carol@idp.test")
                .await
                .unwrap()
                .is_none(),
            "{method}: a user without an account"
        );
        w.store.heal_all();
    }
    // Linking to a signed-in user: `link_account` fails, nothing is linked.
    let dave = Person::new("dave-sub").email("dave@idp.test", Some(true));
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &dave).await;
    let dave_user = w.user_of("mock", "dave-sub").await.unwrap();
    let op2 = MockOp::start().await;
    let w2 = World::builder()
        .memory(w.mem.clone())
        .provider(op.oidc("mock"))
        .provider(op2.oidc("other"))
        .build();
    let mut jar2 = Jar::default();
    w2.signed_in(&op, &mut jar2, "mock", &dave).await;
    w2.store.fail("link_account", Fault::Other);
    let res = w2
        .sign_in(&op2, &mut jar2, "other", &Person::new("dave-other"))
        .await;
    assert!(res.location().unwrap().contains("error="), "{res:?}");
    assert_no_session(&res);
    assert!(w2.user_of("other", "dave-other").await.is_none());
    assert_eq!(w2.accounts(&dave_user.id).await.len(), 1);
    // The session is intact.
    let s = w2.session(&mut jar2).await;
    assert_eq!(s["user"]["id"], json!(dave_user.id));
}

/// INJ-06 beyond the logs: no session token, CSRF token or cookie value, and no check
/// cookie ever reaches the provider (authorization URL, token request, userinfo call) or a
/// redirect `Location`; every answer of the flow says `Referrer-Policy: no-referrer`, so the
/// magic link's token (in its URL, by design) is not sent on as a `Referer`.
#[tokio::test]
async fn inj_06_tokens_never_reach_the_provider_a_location_or_a_referer() {
    let (op, w) = mock_world(Store::Database).await;
    let mut jar = Jar::default();
    let csrf = w.h.csrf(&mut jar).await;
    let begun = w.begin(&mut jar, "mock").await;
    let auth = op.authorize(&begun.location, &Person::new("inj-sub"));
    let res = w.callback(&mut jar, &auth).await;
    assert_signed_in(&res);
    let session = jar.get(SESSION_COOKIE).unwrap().to_owned();
    let check = begun.res.set_cookie(CHECK_COOKIE).unwrap().value.clone();
    let csrf_cookie = jar.get(&w.h.names.csrf_token).unwrap().to_owned();
    let secrets = [
        ("session token", session.as_str()),
        ("csrf token", csrf.as_str()),
        ("csrf cookie", csrf_cookie.as_str()),
        ("check cookie", check.as_str()),
    ];
    let r = op.records();
    let mut outbound = vec![begun.location.clone()];
    outbound.extend(r.requests.iter().cloned());
    outbound.extend(r.authorize.iter().map(|a| format!("{a:?}")));
    outbound.extend(r.token.iter().map(|t| format!("{:?}", t.form)));
    outbound.extend(r.userinfo.iter().map(|u| format!("{u:?}")));
    for (what, value) in secrets {
        for o in &outbound {
            assert!(!o.contains(value), "the {what} reached the provider: {o}");
        }
        for res in [&begun.res, &res] {
            let location = res.location().unwrap_or_default();
            assert!(!location.contains(value), "the {what} in a Location");
        }
    }
    for res in [&begun.res, &res] {
        assert_eq!(
            res.header("referrer-policy"),
            Some("no-referrer"),
            "{res:?}"
        );
    }
    // The magic link: its answer carries the policy and its Location no token.
    let outbox = Outbox::default();
    let h = email_auth(outbox.clone(), Arc::new(MemoryAdapter::new()));
    let link = mail_link(&h, &outbox, "inj06@example.com").await;
    let token = link
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    for res in [
        h.send(Req::new(Method::GET, &path_of(&link))).await,
        h.send(Req::new(Method::GET, &path_of(&link))).await,
    ] {
        assert_eq!(
            res.header("referrer-policy"),
            Some("no-referrer"),
            "{res:?}"
        );
        assert!(!res.location().unwrap_or_default().contains(&token));
        assert!(!res.everything().contains(&token), "{res:?}");
    }
}

/// RACE-05: following a magic link and `POST /signout` at the same time, many times, with
/// the store calls interleaved: whatever the order, the signed-out session never comes
/// back, at most one session row is left and only the one the link's answer handed out,
/// and the browser ends either signed out or signed in with that session, never with the
/// old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_05_a_link_followed_during_sign_out_resurrects_nothing() {
    let outbox = Outbox::default();
    let db = Arc::new(Db::database_with(Harness::builder().configure({
        let outbox = outbox.clone();
        move |b| b.email(Email::new(outbox))
    })));
    db.store.interleave(true);
    let mut link_won = 0;
    for round in 0..40 {
        let (mut jar, old) = db.browser("alice", None).await;
        let csrf = db.csrf(&mut jar).await;
        let link = mail_link(&db.h, &outbox, "alice@example.com").await;
        let (a, b) = (db.clone(), db.clone());
        let (ja, jb) = (jar.clone(), jar.clone());
        let path = path_of(&link);
        let follow =
            tokio::spawn(async move { a.send(Req::new(Method::GET, &path).jar(&ja)).await });
        let out = tokio::spawn(async move {
            b.send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&jb))
                .await
        });
        let (followed, signed_out) = (follow.await.unwrap(), out.await.unwrap());
        assert!(!followed.status.is_server_error(), "{round}: {followed:?}");
        assert!(
            !signed_out.status.is_server_error(),
            "{round}: {signed_out:?}"
        );
        assert!(
            db.row(&old).await.is_none(),
            "{round}: the old session survived"
        );
        let issued: Vec<String> = followed
            .written()
            .iter()
            .filter(|c| db.is_session_cookie(&c.name))
            .map(|c| c.value.clone())
            .collect();
        link_won += usize::from(!issued.is_empty());
        let rows = db.rows("1").await;
        assert!(rows.len() <= 1, "{round}: {} rows", rows.len());
        for row in &rows {
            assert!(
                issued.iter().any(|t| TokenHash::of(t) == row.key),
                "{round}: a row nobody was handed"
            );
        }
        // Both arrival orders at the browser.
        for order in [[&followed, &signed_out], [&signed_out, &followed]] {
            let mut j = jar.clone();
            j.apply(order[0]);
            j.apply(order[1]);
            let res = db.send(get("/session").jar(&j)).await;
            let body = res.json();
            match j.session_token(&db.names.session_token) {
                None => assert_eq!(body, Value::Null, "{round}"),
                Some(t) => {
                    assert_ne!(t, old, "{round}: the old cookie is back");
                    assert_eq!(body["user"]["id"], "1", "{round}: {body}");
                }
            }
        }
        db.assert_token_rejected(&old, "the signed-out session")
            .await;
        for row in rows {
            db.mem.delete_session(&row.key).await.unwrap();
        }
    }
    // The link was used for real (its token is independent of the session cookie).
    assert_eq!(link_won, 40, "a link failed to sign in");
}

// ---------------------------------------------------------------------------------------
// SES-04, SES-09

/// SES-04 for a signed-out victim: the attacker's check cookie (state, PKCE verifier)
/// planted before the victim signs in is replaced by the victim's own when the victim
/// starts, so the victim signs in as themselves; the attacker's callback URL then opened in
/// the victim's browser signs no one in. In secure mode the check cookie is `__Host-`
/// prefixed, which is what keeps a sibling origin from planting it at all.
#[tokio::test]
async fn ses_04_an_attackers_check_planted_before_a_signed_out_victim_binds_nothing() {
    let (op, w) = mock_world(Store::Database).await;
    assert!(CHECK_COOKIE.starts_with("__Host-"));
    let attacker = Person::new("attacker-sub").email("attacker@evil.test", Some(true));
    let victim = Person::new("victim-sub").email("victim@corp.test", Some(true));
    let mut ajar = Jar::default();
    let abegun = w.begin(&mut ajar, "mock").await;
    let aauth = op.authorize(&abegun.location, &attacker);

    let mut vjar = Jar::default();
    vjar.set(CHECK_COOKIE, ajar.get(CHECK_COOKIE).unwrap());
    let vbegun = w.begin(&mut vjar, "mock").await;
    assert_ne!(vjar.get(CHECK_COOKIE), ajar.get(CHECK_COOKIE), "replaced");
    assert_ne!(vbegun.state(), abegun.state());
    let vauth = op.authorize(&vbegun.location, &victim);
    let before = w.writes();
    let res = w.callback(&mut vjar.clone(), &aauth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "attacker-sub").await;
    w.signed_in_with(&mut vjar, &vauth).await;
    let vuser = w.user_of("mock", "victim-sub").await.unwrap();
    assert_eq!(w.session(&mut vjar).await["user"]["id"], json!(vuser.id));
    // After the victim's sign-in, the attacker's URL still binds nothing.
    let mut after = vjar.clone();
    after.set(CHECK_COOKIE, ajar.get(CHECK_COOKIE).unwrap());
    let before = w.writes();
    let res = w.callback(&mut after, &aauth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "attacker-sub").await;
    assert_eq!(w.session(&mut vjar).await["user"]["id"], json!(vuser.id));
}

/// SES-09, credentials and database sessions: sign-out requests that lack the session
/// cookie or the CSRF cookie end nothing and hand nothing out; a sign-in that follows in
/// the same browser gets a fresh session of its own user, and the first user's session
/// stays theirs.
#[tokio::test]
async fn ses_09_sign_out_with_cookies_missing_hands_no_session_to_another_user() {
    for (database, db) in [
        (true, Db::database()),
        (
            false,
            Db::revocable(Arc::new(MemoryAdapter::new()), StdDuration::ZERO),
        ),
    ] {
        let (alice_jar, alice) = db.browser("alice", None).await;
        let (mut shared, _) = db.browser("alice", None).await;
        let csrf = db.csrf(&mut shared).await;

        // The session cookie missing: no deletion reaches the store, no cookie is written.
        let mut no_session = shared.clone();
        for n in no_session.session_names(&db.names.session_token) {
            no_session.remove(&n);
        }
        db.store.reset_calls();
        let res = db
            .send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&no_session))
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
        assert!(res.written().is_empty(), "{res:?}");
        assert_eq!(db.store.calls("delete_session"), 0);
        // The CSRF cookie missing: MissingCSRF, the session kept.
        let mut no_csrf = shared.clone();
        no_csrf.remove(&db.names.csrf_token);
        let res = db
            .send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&no_csrf))
            .await;
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/signin?error=MissingCSRF")
        );
        assert!(
            res.written().iter().all(|c| !db.is_session_cookie(&c.name)),
            "{res:?}"
        );
        assert_eq!(db.store.calls("delete_session"), 0);
        assert_eq!(
            db.send(get("/session").jar(&shared)).await.json()["user"]["id"],
            "1"
        );

        // Bob signs in in the browser that lost its session cookie.
        let mut bob_jar = no_session.clone();
        let res = db.sign_in_as(&mut bob_jar, "bob", None).await;
        assert_eq!(res.status, StatusCode::FOUND);
        let bob = db.token_of(&bob_jar);
        assert_ne!(bob, alice);
        let s = db.send(get("/session").jar(&bob_jar)).await.json();
        assert_eq!(s["user"]["id"], "2", "{s}");
        assert_eq!(s["user"]["email"], "bob@example.com");
        if database {
            assert_eq!(db.row(&bob).await.unwrap().user_id, "2");
            assert_eq!(db.row(&alice).await.unwrap().user_id, "1");
        } else {
            let claims = db.decode_jar(&bob_jar);
            assert_eq!(claims["sub"], "2");
            assert_eq!(claims["access_token"], "at-bob", "only bob's tokens");
        }
        // Alice's browsers are still alice.
        for jar in [&alice_jar, &shared] {
            let s = db.send(get("/session").jar(jar)).await.json();
            assert_eq!(s["user"]["id"], "1", "{s}");
        }
        // Bob signs out properly: alice's sessions stay.
        let csrf = db.csrf(&mut bob_jar).await;
        let res = db
            .send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&bob_jar))
            .await;
        assert!(res.deleted().contains(&db.names.session_token.as_str()));
        if database {
            assert!(db.row(&bob).await.is_none());
            assert!(db.row(&alice).await.is_some());
        }
        let s = db.send(get("/session").jar(&alice_jar)).await.json();
        assert_eq!(s["user"]["id"], "1", "{s}");
    }
}

/// SES-09, OAuth (database and JWT strategies): a callback whose check cookie (state,
/// PKCE verifier, nonce) went missing signs no one in — not the provider's user, and not
/// the user whose session the browser still holds — redeems no code, and leaves the
/// signed-in user's session as it was.
#[tokio::test]
async fn ses_09_an_oauth_callback_without_its_check_cookie_signs_no_one_in() {
    for store in [Store::Database, Store::Users, Store::None] {
        let (op, w) = mock_world(store).await;
        let alice = Person::new("alice-sub").email("alice@idp.test", Some(true));
        let bob = Person::new("bob-sub").email("bob@idp.test", Some(true));
        let mut ajar = Jar::default();
        w.signed_in(&op, &mut ajar, "mock", &alice).await;
        let alice_id = w.session(&mut ajar).await["user"]["id"].clone();

        // Bob's flow in a fresh browser, the check cookie lost before the callback.
        let mut bjar = Jar::default();
        let begun = w.begin(&mut bjar, "mock").await;
        let auth = op.authorize(&begun.location, &bob);
        bjar.remove(CHECK_COOKIE);
        let exchanges = op.code_exchanges();
        let before = w.writes();
        let res = w.callback(&mut bjar, &auth).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "bob-sub").await;
        assert_eq!(w.session(&mut bjar).await, Value::Null);

        // Bob's callback in alice's browser (her session present, no check cookie).
        let mut shared = ajar.clone();
        let begun = w.begin(&mut shared, "mock").await;
        let auth = op.authorize(&begun.location, &bob);
        shared.remove(CHECK_COOKIE);
        let res = w.callback(&mut shared, &auth).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "bob-sub").await;
        assert_eq!(op.code_exchanges(), exchanges, "a code was redeemed");
        assert_eq!(
            w.session(&mut shared).await["user"]["id"],
            alice_id,
            "{store:?}: alice's session changed hands"
        );
        assert_eq!(w.session(&mut ajar).await["user"]["id"], alice_id);
        if store == Store::None {
            let claims = w.claims(&shared);
            assert_eq!(claims["sub"], alice_id);
        }
    }
}

// ---------------------------------------------------------------------------------------
// RACE-06

/// RACE-06: 10,000 concurrent `GET /csrf` on a multi-thread runtime: every token is
/// unique, every cookie carries its own token, and all of them are valid (each verifies a
/// POST).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_06_ten_thousand_parallel_csrf_tokens_are_all_distinct() {
    let h = Arc::new(Harness::https());
    let mut tasks = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let res = h.send(get("/csrf")).await;
            assert_eq!(res.status, StatusCode::OK);
            let token = res.json()["csrfToken"].as_str().unwrap().to_owned();
            let cookie = res.set_cookie(&h.names.csrf_token).unwrap().value.clone();
            (token, cookie)
        }));
    }
    let mut tokens = HashSet::new();
    let mut cookies = HashSet::new();
    let mut sample = None;
    for t in tasks {
        let (token, cookie) = t.await.unwrap();
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        let decoded = percent_encoding::percent_decode_str(&cookie)
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded.split_once('|').unwrap().0, token);
        assert!(cookies.insert(cookie.clone()));
        sample.get_or_insert((token.clone(), cookie));
        assert!(tokens.insert(token), "a token repeated");
    }
    assert_eq!(tokens.len(), 10_000);
    // The issued pairs are real: one of them verifies a sign-in.
    let (token, cookie) = sample.unwrap();
    let header = format!("{}={cookie}", h.names.csrf_token);
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .cookie_header(&header),
        )
        .await;
    assert!(
        res.written().iter().any(|c| h.is_session_cookie(&c.name)),
        "{res:?}"
    );
}

// ---------------------------------------------------------------------------------------
// CLK-04

/// CLK-04, rate limits: the limiter's injected (monotonic) clock steps back an hour in the
/// middle of a window. Nothing panics; the window's count is not reset (an attacker gains
/// no attempts); `Retry-After` stays finite — at most the window plus the jump — and the
/// window ends when the clock passes its original end. New keys get ordinary windows.
#[tokio::test]
async fn clk_04_a_clock_stepping_back_an_hour_neither_panics_nor_resets_rate_limits() {
    let base = Instant::now() + StdDuration::from_secs(7200);
    let now = Arc::new(Mutex::new(base));
    let clock = {
        let now = now.clone();
        Arc::new(move || *now.lock().unwrap())
    };
    let limiter = Arc::new(MemoryRateLimiter::new().with_clock(clock));
    let limits = RateLimits {
        per_identifier: (3, StdDuration::from_secs(60)),
        ..RateLimits::default()
    };
    let h = Harness::builder()
        .configure(move |b| b.rate_limiter(limiter).rate_limits(limits))
        .build();
    let (jar, token) = h.with_csrf().await;
    let attempt = |user: &'static str| {
        let jar = jar.clone();
        let token = token.clone();
        let h = &h;
        async move {
            h.send(
                post_form(
                    "/callback/credentials",
                    &[("csrfToken", &token), ("username", user), ("password", "x")],
                )
                .jar(&jar),
            )
            .await
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt("alice").await.status, StatusCode::FOUND);
    }
    assert_eq!(attempt("alice").await.status, StatusCode::TOO_MANY_REQUESTS);
    *now.lock().unwrap() = base - StdDuration::from_secs(3600);
    let res = attempt("alice").await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the jump reset the window"
    );
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((60..=3660).contains(&retry), "Retry-After {retry}");
    assert_eq!(h.calls(), 3);
    // A key first seen after the jump: an ordinary window.
    for _ in 0..3 {
        assert_eq!(attempt("bob").await.status, StatusCode::FOUND);
    }
    let res = attempt("bob").await;
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Past the original end of alice's window, a new window opens.
    *now.lock().unwrap() = base + StdDuration::from_secs(60);
    assert_eq!(attempt("alice").await.status, StatusCode::FOUND);
}

/// CLK-04, sessions (equivalent to the server clock stepping back an hour after they were
/// issued): a JWT issued an hour "in the future" is refused without a panic (`NULL_SESSION`
/// + `CLEAR`, as TOK-16), and so is one whose `exp` is, for the server, 30 days and an hour
/// away — it gains no lifetime. A database row created, used and expiring an hour later
/// than "now" still reads, is not extended (no write), and keeps its stored expiry.
#[tokio::test]
async fn clk_04_sessions_from_an_hour_ahead_never_panic_or_gain_lifetime() {
    let h = Harness::https();
    let now = now();
    for (what, claims) in [
        (
            "issued an hour ahead",
            json!({"sub": "1", "iat": now + 3600, "exp": now + 3600 + 30 * 86_400}),
        ),
        (
            "nbf an hour ahead",
            json!({"sub": "1", "iat": now, "nbf": now + 3600, "exp": now + 86_400}),
        ),
    ] {
        h.assert_token_rejected(&h.seal(&claims), what).await;
    }
    // A token the server issued just now, read by a server whose clock stepped back by
    // less than the tolerance (10 s), is still good.
    let fine = json!({"sub": "1", "iat": now + 10, "exp": now + 3600});
    let res = h
        .send(get("/session").cookie_header(&format!(
            "{}={}",
            h.names.session_token,
            h.seal(&fine)
        )))
        .await;
    assert_eq!(res.json()["user"]["id"], "1");

    let db = Db::database_with(
        Harness::builder().configure(|b| b.absolute_max_age(StdDuration::from_secs(40 * 86_400))),
    );
    let t = now_ms() + Duration::hours(1);
    let expires = t + Duration::days(30);
    let token = db.plant_session("1", t, t, expires).await;
    db.store.reset_calls();
    let res = db.read(&token).await;
    assert_eq!(res.status, StatusCode::OK);
    let s = res.json();
    assert_eq!(s["user"]["id"], "1", "{s}");
    assert_eq!(s["expires"], json!(iso(expires)), "the expiry moved");
    assert_eq!(db.store.calls("touch_session"), 0, "extended");
    assert_eq!(db.row(&token).await.unwrap().expires, expires);
    // Its cookie carries the stored expiry too, not one an hour longer.
    if let Some(c) = res.set_cookie(&db.names.session_token) {
        assert_eq!(c.attr("Expires"), Some(Some(http_date(expires).as_str())));
    }
}

// ---------------------------------------------------------------------------------------
// TOK-01 log line

/// TOK-01: a token with a flipped bit is logged as `JWTSessionError` (the Auth.js type),
/// without the token itself.
#[test]
fn tok_01_a_tampered_token_is_logged_as_jwt_session_error() {
    let (logs, _guard) = capture_logs();
    block_on(async {
        let h = Harness::https();
        let good = h.seal(&json!({"sub": "1", "iat": now(), "exp": now() + 3600}));
        let mut b = good.clone().into_bytes();
        let i = b.len() - 5;
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(b).unwrap();
        h.assert_token_rejected(&bad, "bit flipped in the tag")
            .await;
        let log = logs.text();
        assert!(log.contains("JWTSessionError"), "{log}");
        assert!(!log.contains(&bad), "the token reached the log");
    });
}

// ---------------------------------------------------------------------------------------
// WAN-01..05

/// WAN-01..05: portcullis has no WebAuthn provider, so there is nothing to attack: Auth.js's
/// `webauthn-options` route, a `passkey`/`webauthn` provider id at sign-in and callback,
/// and a WebAuthn registration body all get the answer any unknown action or provider gets
/// — never 5xx, no cookie, no challenge, no store write — and `/providers` lists no
/// `webauthn` type. When passkeys are added, each WAN row needs its own test against a
/// software authenticator (see docs/security.md).
#[tokio::test]
async fn wan_01_to_05_there_is_no_passkey_surface() {
    let db = Db::database();
    let (mut jar, _) = db.browser("alice", None).await;
    let csrf = db.csrf(&mut jar).await;
    db.store.reset_calls();
    let unknown_get = db.send(get("/signin/credentials").jar(&jar)).await;
    for path in [
        "/webauthn-options/passkey",
        "/webauthn-options/passkey?action=register",
        "/webauthn-options/passkey?action=authenticate",
        "/webauthn-options/webauthn",
        "/webauthn-options/credentials",
    ] {
        let res = db.send(get(path).jar(&jar)).await;
        assert!(!res.status.is_server_error(), "{path}: {res:?}");
        assert_eq!(observable(&res), observable(&unknown_get), "{path}");
        assert!(!res.text().contains("challenge"), "{path}");
    }
    let unknown_post = db
        .send(post_form("/signin/nosuchprovider", &[("csrfToken", &csrf)]).jar(&jar))
        .await;
    let unknown_callback = db
        .send(post_form("/callback/nosuchprovider", &[("csrfToken", &csrf)]).jar(&jar))
        .await;
    let assertion = json!({
        "csrfToken": csrf,
        "action": "authenticate",
        "data": {"id": "cred", "rawId": "cred", "type": "public-key",
                 "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"}},
    });
    for id in ["passkey", "webauthn"] {
        let res = db
            .send(post_form(&format!("/signin/{id}"), &[("csrfToken", &csrf)]).jar(&jar))
            .await;
        assert_eq!(observable(&res), observable(&unknown_post), "signin/{id}");
        let res = db
            .send(post_json(&format!("/callback/{id}"), &assertion).jar(&jar))
            .await;
        assert!(!res.status.is_server_error(), "callback/{id}: {res:?}");
        let reference = db
            .send(post_json("/callback/nosuchprovider", &assertion).jar(&jar))
            .await;
        assert_eq!(observable(&res), observable(&reference), "callback/{id}");
        assert!(
            res.written().iter().all(|c| !db.is_session_cookie(&c.name)),
            "callback/{id}: {res:?}"
        );
    }
    assert!(!unknown_callback.status.is_server_error());
    let writes = [
        "create_user",
        "create_user_with_account",
        "link_account",
        "create_session",
    ];
    for m in writes {
        assert_eq!(db.store.calls(m), 0, "{m}");
    }
    let providers = db.send(get("/providers")).await.json();
    for (_, p) in providers.as_object().unwrap() {
        assert_ne!(p["type"], "webauthn", "{providers}");
    }
    assert!(providers.get("passkey").is_none());
    // The session is untouched by all of it.
    assert_eq!(
        db.send(get("/session").jar(&jar)).await.json()["user"]["id"],
        "1"
    );
}
