//! `GET /csrf` (PROTOCOL.md §1.2, §3) and the double-submit cookie: CSRF-04, CSRF-09, KEY-03.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::StatusCode;
use sha2::{Digest, Sha256};

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn get_csrf_matches_the_route_table_on_https() {
    let h = Harness::https();
    let res = h.send(get("/csrf")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_no_cache(&res);
    let body = res.json();
    let obj = body.as_object().expect("object");
    assert_eq!(obj.len(), 1, "only csrfToken: {body}");
    let token = obj["csrfToken"].as_str().expect("string");
    assert!(is_hex64(token), "{token}");

    // The cookie: `__Host-` on https, `token%7Chash`, hash = sha256hex(token + secret).
    let c = res
        .set_cookie("__Host-authjs.csrf-token")
        .expect("csrf cookie");
    let (t, hash) = c.value.split_once("%7C").expect("token%7Chash");
    assert_eq!(t, token);
    assert_eq!(hash, sha256_hex(&format!("{token}{SECRET}")));
    assert_eq!(c.decoded(), format!("{token}|{hash}"));
    for flag in ["HttpOnly", "Secure"] {
        assert_eq!(c.attr(flag), Some(None), "{flag}: {}", c.raw);
    }
    assert_eq!(c.attr("Path"), Some(Some("/")));
    assert_eq!(c.attr("SameSite"), Some(Some("Lax")));
    assert!(
        !c.has("Domain") && !c.has("Max-Age") && !c.has("Expires"),
        "browser-session cookie: {}",
        c.raw
    );

    // The callback-url cookie is written too (validated default: the origin).
    let cb = res
        .set_cookie("__Secure-authjs.callback-url")
        .expect("callback-url cookie");
    assert_eq!(cb.decoded(), "https://app.example/");
    assert_eq!(res.cookies.len(), 2, "{res:?}");
}

#[tokio::test]
async fn get_csrf_on_http_has_no_prefix_and_no_secure() {
    let h = Harness::http();
    let res = h.send(get("/csrf")).await;
    assert_eq!(res.status, StatusCode::OK);
    let c = res.set_cookie("authjs.csrf-token").expect("csrf cookie");
    assert!(!c.has("Secure"), "{}", c.raw);
    assert!(c.has("HttpOnly"));
    assert!(res.set_cookie("__Host-authjs.csrf-token").is_none());
    assert!(res.set_cookie("authjs.callback-url").is_some());
}

#[tokio::test]
async fn tokens_are_fresh_per_browser() {
    let h = Harness::https();
    let a = h.send(get("/csrf")).await.json()["csrfToken"].clone();
    let b = h.send(get("/csrf")).await.json()["csrfToken"].clone();
    assert_ne!(a, b);
}

#[tokio::test]
async fn csrf_09_a_valid_cookie_is_reused_not_reset() {
    let h = Harness::https();
    let mut jar = Jar::default();
    let first = h.csrf(&mut jar).await;
    let res = h.send(get("/csrf").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["csrfToken"], first.as_str());
    assert!(res.cookies.is_empty(), "nothing re-set: {res:?}");
    assert_no_cache(&res);
}

#[tokio::test]
async fn csrf_04_invalid_cookies_are_replaced_and_never_verify() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let good = jar.get("__Host-authjs.csrf-token").unwrap().to_owned();
    let (_, hash) = good.split_once("%7C").unwrap();
    let mut tampered_hash = hash.to_owned();
    let last = if tampered_hash.ends_with('0') {
        "1"
    } else {
        "0"
    };
    tampered_hash.replace_range(63.., last);
    let other_hash = sha256_hex(&format!("{token}{OTHER_SECRET}"));
    for bad in [
        format!("{token}%7C{tampered_hash}"),
        format!("{token}%7C{other_hash}"),
        token.clone(),
        format!("{token}{hash}"),
        String::new(),
        "%7C".to_owned(),
        format!("{token}%7C"),
        format!("%7C{hash}"),
    ] {
        let mut jar = jar.clone();
        jar.set("__Host-authjs.csrf-token", &bad);
        // GET: a new token and cookie.
        let res = h.send(get("/csrf").jar(&jar)).await;
        let fresh = res.json()["csrfToken"].as_str().unwrap().to_owned();
        assert_ne!(fresh, token, "{bad:?}: the sent token was adopted");
        let c = res
            .set_cookie("__Host-authjs.csrf-token")
            .unwrap_or_else(|| panic!("{bad:?}: no new cookie"));
        assert!(c.decoded().starts_with(&format!("{fresh}|")), "{bad:?}");
        // POST with the sent token: refused, authorize never runs.
        let before = h.calls();
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
                .jar(&jar),
            )
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "{bad:?}");
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/signin?error=MissingCSRF"),
            "{bad:?}"
        );
        assert_eq!(h.calls(), before, "{bad:?}: authorize ran");
        assert!(res.set_cookie(&h.names.session_token).is_none());
    }
}

#[tokio::test]
async fn key_03_csrf_cookie_from_before_a_rotation() {
    let old = Harness::builder().secrets(&[OTHER_SECRET]).build();
    let rotated = Harness::builder().secrets(&[SECRET, OTHER_SECRET]).build();
    let (jar, token) = old.with_csrf().await;

    // Sanity: the pair verifies where it was made.
    let res = old.send(get("/csrf").jar(&jar)).await;
    assert_eq!(res.json()["csrfToken"], token.as_str());

    let res = rotated.send(get("/csrf").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::OK);
    let fresh = res.json()["csrfToken"].as_str().unwrap().to_owned();
    assert_ne!(fresh, token);
    assert!(
        res.set_cookie("__Host-authjs.csrf-token").is_some(),
        "new cookie"
    );

    for path in ["/callback/credentials", "/signout", "/signin"] {
        let res = rotated
            .send(
                post_form(
                    path,
                    &[
                        ("csrfToken", &token),
                        ("username", "alice"),
                        ("password", "wonderland"),
                    ],
                )
                .jar(&jar),
            )
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "{path}");
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/signin?error=MissingCSRF"),
            "{path}"
        );
    }
    assert_eq!(rotated.calls(), 0);
}

#[tokio::test]
async fn the_token_travels_only_in_the_body() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[("username", "alice"), ("password", "wonderland")],
            )
            .header("x-csrf-token", &token)
            .header("csrf-token", &token)
            .jar(&jar),
        )
        .await;
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/signin?error=MissingCSRF")
    );
    assert_eq!(h.calls(), 0);
    // The same token in a JSON body works.
    let res = h
        .send(
            post_json(
                "/callback/credentials",
                &serde_json::json!({"csrfToken": token, "username": "alice", "password": "wonderland"}),
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.location(), Some("https://app.example/"));
    assert_eq!(h.calls(), 1);
}
