//! The double-submit CSRF check: an arbitrary CSRF cookie value and body `csrfToken`.
//!
//! Input: a secret selector, flags for whether the cookie and the body token are present,
//! the body token, then the cookie value (or a whole `Cookie` header when the last flag is
//! set, read the way requests are read).
//!
//! Checks, against an independent SHA-256 of `token + secret`:
//! - the cookie is kept exactly when it is `token|sha256hex(token + secret)` with a token
//!   of at most 128 bytes; otherwise a fresh 64-hex-digit token is issued with its own
//!   valid cookie;
//! - `verify` passes exactly when the cookie was kept and the body token equals its token
//!   (a freshly issued token never verifies in the same request);
//! - the issued cookie, sent back, is kept and verifies with the issued token.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::fuzzing::{Cookies, csrf_check};
use portcullis_fuzz::Reader;
use sha2::{Digest, Sha256};

const SECRETS: [&str; 2] = [
    "csrf-secret-derived-from-the-session-secret",
    "another-csrf-secret-for-a-second-deployment",
];
const COOKIE_NAME: &str = "__Host-authjs.csrf-token";

fn hash_hex(token: &str, secret: &str) -> String {
    let digest = Sha256::new()
        .chain_update(token.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_ours(cookie: &str, secret: &str) -> bool {
    cookie
        .split_once('|')
        .is_some_and(|(t, h)| t.len() <= 128 && h == hash_hex(t, secret))
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let secret = SECRETS[r.choose(SECRETS.len())];
    let has_cookie = r.flag();
    let has_body = r.flag();
    let via_header = r.flag();
    let body_token = r.text();
    let raw = r.rest();
    let cookie_value: Option<String> = if via_header {
        Cookies::parse([raw]).get(COOKIE_NAME).map(str::to_owned)
    } else {
        has_cookie.then(|| String::from_utf8_lossy(raw).into_owned())
    };
    let cookie = cookie_value.as_deref();
    let body = has_body.then_some(body_token.as_str());

    let outcome = csrf_check(cookie, secret, body);
    let valid = cookie.is_some_and(|c| is_ours(c, secret));
    if valid {
        let (token, _) = cookie.and_then(|c| c.split_once('|')).unwrap_or_default();
        assert_eq!(outcome.token, token);
        assert_eq!(outcome.new_cookie, None, "a valid cookie was replaced");
        assert_eq!(outcome.verified, body == Some(token));
    } else {
        assert!(!outcome.verified, "verified without a valid cookie");
        assert_eq!(outcome.token.len(), 64);
        assert!(outcome.token.bytes().all(|b| b.is_ascii_hexdigit()));
        let issued = outcome.new_cookie.as_deref().unwrap_or_default();
        assert_eq!(
            issued,
            format!("{}|{}", outcome.token, hash_hex(&outcome.token, secret))
        );
        let next = csrf_check(Some(issued), secret, Some(&outcome.token));
        assert!(next.verified && next.new_cookie.is_none());
        assert_eq!(next.token, outcome.token);
        // Another deployment's secret does not accept it.
        let other = SECRETS
            .iter()
            .find(|s| **s != secret)
            .copied()
            .unwrap_or_default();
        assert!(!csrf_check(Some(issued), other, Some(&outcome.token)).verified);
    }
});
