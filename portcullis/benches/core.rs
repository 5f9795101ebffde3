//! Micro-benchmarks of the hot path: JWE encode/decode, key derivation, a whole
//! `GET /session` (cookie parse → decrypt → jwt/session callbacks → re-encrypt) through
//! `Auth::handle`, the double-submit CSRF check of a POST, and session-cookie chunking
//! (reassembling `authjs.session-token.0`, `.1`, … from the `Cookie` header and splitting
//! the re-issued token into chunked `Set-Cookie` headers).
//!
//! CSRF verification and chunking are crate-private, so they are measured through the
//! public API: `Auth::handle` for both, and `Auth::token` (cookie parse → reassembly →
//! decrypt → claims) for reassembly alone.
//!
//! Run: `cargo bench -p portcullis --bench core` (one bench: append its name, e.g.
//! `cargo bench -p portcullis --bench core -- token_chunked`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::Bytes;
use portcullis::jwt::{JweCodec, TokenFormat};
use portcullis::{
    Auth, AuthConfig, CallbackError, Callbacks, DefaultCallbacks, NoFields, Session, SessionParams,
};

const SECRET: &str = "0123456789abcdef0123456789abcdef-bench";
const SALT: &str = "authjs.session-token";
/// A typical token payload (the seed example's claims), about 300 bytes of JSON.
const CLAIMS: &str = r#"{"name":"Alice","email":"alice@example.com","sub":"1","id":"1","role":"admin","access_token":"at-5f2b8c1e9a7d4e3f8b6a2c1d0e9f8a7b","iat":1800000000,"exp":1802592000,"jti":"3d17e474-51be-46cd-8616-692aebb64880"}"#;

fn main() {
    divan::main();
}

fn codec() -> JweCodec {
    JweCodec::new(&[SECRET.as_bytes()], SALT, TokenFormat::V5, false).unwrap()
}

#[divan::bench]
fn jwe_encode(bencher: divan::Bencher<'_, '_>) {
    let c = codec();
    bencher.bench_local(|| c.encode(black_box(CLAIMS.as_bytes())));
}

#[divan::bench]
fn jwe_decode(bencher: divan::Bencher<'_, '_>) {
    let c = codec();
    let token = c.encode(CLAIMS.as_bytes());
    bencher.bench_local(|| c.decode(black_box(&token)).unwrap());
}

#[divan::bench]
fn key_derivation(bencher: divan::Bencher<'_, '_>) {
    bencher.bench_local(|| {
        JweCodec::new(
            &[black_box(SECRET).as_bytes()],
            SALT,
            TokenFormat::V5,
            false,
        )
        .unwrap()
    });
}

fn auth() -> Auth {
    Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret(SECRET)
            .url("http://localhost:3000")
            .build()
            .unwrap(),
    )
}

/// A session read: decrypt, validate, default callbacks, re-encrypt, cookies, JSON.
#[divan::bench]
fn get_session(bencher: divan::Bencher<'_, '_>) {
    let auth = auth();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = format!(
        r#"{{"name":"Alice","email":"alice@example.com","sub":"1","iat":{now},"exp":{}}}"#,
        now + 3600
    );
    let token = codec().encode(claims.as_bytes());
    // A warm browser: valid csrf and callback-url cookies, so only the session is re-issued.
    let warm = rt.block_on(
        auth.handle(
            http::Request::get("http://localhost:3000/api/auth/csrf")
                .body(Bytes::new())
                .unwrap(),
        ),
    );
    let mut cookie = format!("authjs.session-token={token}");
    for c in warm.headers().get_all("set-cookie") {
        let pair = c.to_str().unwrap().split(';').next().unwrap();
        cookie.push_str("; ");
        cookie.push_str(pair);
    }
    bencher.bench_local(|| {
        let req = http::Request::get("http://localhost:3000/api/auth/session")
            .header("cookie", &cookie)
            .body(Bytes::new())
            .unwrap();
        let res = rt.block_on(auth.handle(req));
        assert_eq!(res.status(), 200);
        res
    });
}

/// `GET /csrf` with a valid cookie (hash check only).
#[divan::bench]
fn get_csrf(bencher: divan::Bencher<'_, '_>) {
    let auth = auth();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let first = rt.block_on(
        auth.handle(
            http::Request::get("http://localhost:3000/api/auth/csrf")
                .body(Bytes::new())
                .unwrap(),
        ),
    );
    let cookie: Vec<String> = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let cookie = cookie.join("; ");
    bencher.bench_local(|| {
        let req = http::Request::get("http://localhost:3000/api/auth/csrf")
            .header("cookie", &cookie)
            .body(Bytes::new())
            .unwrap();
        rt.block_on(auth.handle(req))
    });
}

/// A current-thread runtime, as a request handler would poll `Auth::handle` on.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// The `name=value` pairs of a response's `Set-Cookie` headers, deletions left out.
fn set_cookie_pairs(res: &http::Response<Bytes>) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap())
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect()
}

/// A warm browser: `GET /csrf` once, returning its cookies (`name=value; …`: the csrf
/// double-submit pair and the callback URL) and the `csrfToken` the page would post.
fn warm_browser(auth: &Auth, rt: &tokio::runtime::Runtime) -> (String, String) {
    let res = rt.block_on(
        auth.handle(
            http::Request::get("http://localhost:3000/api/auth/csrf")
                .body(Bytes::new())
                .unwrap(),
        ),
    );
    assert_eq!(res.status(), 200);
    let cookie = set_cookie_pairs(&res).join("; ");
    let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    let token = body["csrfToken"].as_str().unwrap().to_owned();
    (cookie, token)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A valid session token of about `token_bytes` bytes: the usual claims plus a `pad`
/// claim sized to reach the length (JWE adds ~4/3 of the plaintext plus a fixed part).
fn token_of_len(token_bytes: usize) -> String {
    let now = now_secs();
    let claims = |pad: usize| {
        format!(
            r#"{{"name":"Alice","email":"alice@example.com","sub":"1","pad":"{}","iat":{now},"exp":{}}}"#,
            "p".repeat(pad),
            now + 3600
        )
    };
    let c = codec();
    let base = c.encode(claims(0).as_bytes()).len();
    let pad = token_bytes.saturating_sub(base) * 3 / 4;
    let token = c.encode(claims(pad).as_bytes());
    assert!(
        token.len().abs_diff(token_bytes) < 64,
        "token of {} bytes, wanted about {token_bytes}",
        token.len()
    );
    token
}

/// Callbacks that keep every claim of the token (the default `jwt` callback, with the claims
/// typed as a JSON object), so a large token stays large when `GET /session` re-issues it.
/// `DefaultCallbacks` has no application claims and would drop the padding.
struct KeepClaims;

#[portcullis::async_trait]
impl Callbacks for KeepClaims {
    type UserFields = NoFields;
    type Claims = serde_json::Map<String, serde_json::Value>;
    type Session = Session;

    async fn session(
        &self,
        params: SessionParams<'_, NoFields, Self::Claims>,
    ) -> Result<Session, CallbackError> {
        Ok(params.session)
    }
}

fn auth_keeping_claims() -> Auth {
    Auth::new(
        AuthConfig::builder(KeepClaims)
            .secret(SECRET)
            .url("http://localhost:3000")
            .build()
            .unwrap(),
    )
}

/// The `Cookie` header of a browser holding a session token of about `token_bytes` bytes,
/// chunked exactly as portcullis chunks it: the plain token is sent once, and the chunks
/// it re-issues (`authjs.session-token.0`, `.1`, …) become the cookie. Returns the header
/// and the number of chunks.
fn chunked_cookie(
    auth: &Auth,
    rt: &tokio::runtime::Runtime,
    token_bytes: usize,
) -> (String, usize) {
    let (warm, _) = warm_browser(auth, rt);
    let token = token_of_len(token_bytes);
    let res = rt.block_on(
        auth.handle(
            http::Request::get("http://localhost:3000/api/auth/session")
                .header("cookie", format!("{warm}; authjs.session-token={token}"))
                .body(Bytes::new())
                .unwrap(),
        ),
    );
    assert_eq!(res.status(), 200);
    let chunks = set_cookie_pairs(&res);
    let n = chunks.len();
    assert!(n >= 2, "a {token_bytes}-byte token must be chunked");
    for (i, c) in chunks.iter().enumerate() {
        assert!(c.starts_with(&format!("authjs.session-token.{i}=")), "{c}");
    }
    (format!("{warm}; {}", chunks.join("; ")), n)
}

/// `POST /signout` with no session: dominated by the double-submit CSRF check (cookie
/// hash `sha256(token + secret)` and constant-time compare of the form's `csrfToken`),
/// plus form parsing and the redirect. `valid` posts the cookie's token and is sent to the
/// callback URL; `mismatch` posts another token and is sent to `/signin?error=MissingCSRF`.
#[divan::bench(args = ["valid", "mismatch"])]
fn post_signout_csrf(bencher: divan::Bencher<'_, '_>, case: &str) {
    let auth = auth();
    let rt = runtime();
    let (cookie, token) = warm_browser(&auth, &rt);
    let (posted, location) = match case {
        "valid" => (token, "http://localhost:3000/"),
        _ => (
            "0".repeat(token.len()),
            "http://localhost:3000/api/auth/signin?error=MissingCSRF",
        ),
    };
    let body = Bytes::from(format!("csrfToken={posted}"));
    let request = || {
        http::Request::post("http://localhost:3000/api/auth/signout")
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .unwrap()
    };
    let res = rt.block_on(auth.handle(request()));
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], location);
    assert!(
        set_cookie_pairs(&res).is_empty(),
        "a warm browser gets no new cookies"
    );
    bencher.bench_local(|| rt.block_on(auth.handle(request())));
}

/// SECURITY.md CSRF-07: `POST /signout` whose `csrfToken` differs from the cookie's token
/// in its first byte or in its last byte. Both are refused through the same constant-time
/// comparison (`subtle`), so the two figures should agree within noise; the test
/// `catalogue.rs::csrf_07_every_mismatch_position_gets_the_same_answer_through_one_comparison`
/// checks the same path structurally, never by timing.
#[divan::bench(args = ["first byte", "last byte"])]
fn post_signout_csrf_mismatch(bencher: divan::Bencher<'_, '_>, position: &str) {
    let auth = auth();
    let rt = runtime();
    let (cookie, token) = warm_browser(&auth, &rt);
    let i = if position == "first byte" {
        0
    } else {
        token.len() - 1
    };
    let mut posted = token.into_bytes();
    posted[i] = if posted[i] == b'0' { b'1' } else { b'0' };
    let posted = String::from_utf8(posted).unwrap();
    let body = Bytes::from(format!("csrfToken={posted}"));
    let request = || {
        http::Request::post("http://localhost:3000/api/auth/signout")
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .unwrap()
    };
    let res = rt.block_on(auth.handle(request()));
    assert_eq!(
        res.headers()["location"],
        "http://localhost:3000/api/auth/signin?error=MissingCSRF"
    );
    bencher.bench_local(|| rt.block_on(auth.handle(request())));
}

/// `GET /session` whose session token (about `token_bytes` bytes) arrives in chunks:
/// chunk reassembly, decrypt, callbacks, re-encrypt, and splitting the new token into
/// chunked `Set-Cookie` headers again. Compare with `get_session` (one ~300-byte cookie;
/// `DefaultCallbacks` there, claims kept as a JSON object here).
#[divan::bench(args = [5_000, 10_000])]
fn get_session_chunked(bencher: divan::Bencher<'_, '_>, token_bytes: usize) {
    let auth = auth_keeping_claims();
    let rt = runtime();
    let (cookie, n) = chunked_cookie(&auth, &rt, token_bytes);
    let request = || {
        http::Request::get("http://localhost:3000/api/auth/session")
            .header("cookie", &cookie)
            .body(Bytes::new())
            .unwrap()
    };
    let res = rt.block_on(auth.handle(request()));
    assert_eq!(res.status(), 200);
    assert_eq!(
        set_cookie_pairs(&res).len(),
        n,
        "re-issued in as many chunks"
    );
    let session: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(session["user"]["name"], "Alice");
    bencher.bench_local(|| rt.block_on(auth.handle(request())));
}

/// `Auth::token` (Auth.js `getToken`) on a chunked session cookie of about `token_bytes`
/// bytes: `Cookie` parse, chunk reassembly, decrypt, claims JSON. No cookies are written.
#[divan::bench(args = [5_000, 10_000])]
fn token_chunked(bencher: divan::Bencher<'_, '_>, token_bytes: usize) {
    let auth = auth_keeping_claims();
    let rt = runtime();
    let (cookie, _) = chunked_cookie(&auth, &rt, token_bytes);
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    let token = auth
        .token::<serde_json::Map<String, serde_json::Value>>(&headers)
        .unwrap();
    assert_eq!(token.sub.as_deref(), Some("1"));
    assert!(token.claims["pad"].as_str().unwrap().len() > token_bytes / 2);
    bencher.bench_local(|| {
        auth.token::<serde_json::Map<String, serde_json::Value>>(black_box(&headers))
    });
}

/// `Auth::token` on a single ~300-byte session cookie: the baseline for `token_chunked`.
#[divan::bench]
fn token_unchunked(bencher: divan::Bencher<'_, '_>) {
    let auth = auth();
    let rt = runtime();
    let (warm, _) = warm_browser(&auth, &rt);
    let now = now_secs();
    let claims = format!(
        r#"{{"name":"Alice","email":"alice@example.com","sub":"1","iat":{now},"exp":{}}}"#,
        now + 3600
    );
    let cookie = format!(
        "{warm}; authjs.session-token={}",
        codec().encode(claims.as_bytes())
    );
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    let token = auth
        .token::<serde_json::Map<String, serde_json::Value>>(&headers)
        .unwrap();
    assert_eq!(token.sub.as_deref(), Some("1"));
    bencher.bench_local(|| {
        auth.token::<serde_json::Map<String, serde_json::Value>>(black_box(&headers))
    });
}
