//! Micro-benchmarks of the hot path: JWE encode/decode, key derivation, and a whole
//! `GET /session` (cookie parse → decrypt → jwt/session callbacks → re-encrypt) through
//! `Auth::handle`.
//!
//! Run: `cargo bench -p portcullis --bench core`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::Bytes;
use portcullis::jwt::{JweCodec, TokenFormat};
use portcullis::{Auth, AuthConfig, DefaultCallbacks};

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
