//! Configuration and host trust (SECURITY.md §6.16, PROTOCOL.md §1.3, §11): CFG-01, CFG-03,
//! CFG-05, trusted hosts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use common::*;
use http::{HeaderMap, Method, StatusCode};
use portcullis::{Auth, AuthConfig, Compat, Credentials, DefaultCallbacks, SessionError, User};
use serde_json::json;

const V5_MESSAGE: &str = "There was a problem with the server configuration. Check the server logs for more information.";
const V4_MESSAGE: &str =
    "There is a problem with the server configuration. Check the server logs for more information.";

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn cfg_01_missing_or_short_secrets_refuse_to_build() {
    let err = AuthConfig::builder(App::default())
        .url(ORIGIN)
        .build()
        .unwrap_err();
    assert!(
        err.problems().iter().any(|p| p.starts_with("AUTH_SECRET")),
        "{err}"
    );
    assert!(err.to_string().contains("AUTH_SECRET"));

    let short = "0123456789abcdef0123456789abcde"; // 31 bytes
    assert_eq!(short.len(), 31);
    let err = AuthConfig::builder(App::default())
        .secret(short)
        .url(ORIGIN)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AUTH_SECRET"), "{err}");
    assert!(
        !err.to_string().contains(short),
        "the secret itself is never printed: {err}"
    );
    assert!(!format!("{err:?}").contains(short));

    for bad in ["", "x"] {
        let err = AuthConfig::builder(App::default())
            .secret(bad)
            .url(ORIGIN)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("AUTH_SECRET"), "{bad:?}: {err}");
    }
    // A short secret anywhere in a rotation list.
    let err = AuthConfig::builder(App::default())
        .secret(SECRET)
        .secret("old")
        .url(ORIGIN)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AUTH_SECRET"), "{err}");
    // From the environment: missing, short, fine.
    let err = AuthConfig::builder(App::default())
        .from_env_with(env(&[("AUTH_URL", ORIGIN)]))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AUTH_SECRET"));
    let err = AuthConfig::builder(App::default())
        .from_env_with(env(&[("AUTH_URL", ORIGIN), ("AUTH_SECRET", "short")]))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AUTH_SECRET"));
    assert!(
        AuthConfig::builder(App::default())
            .from_env_with(env(&[("AUTH_URL", ORIGIN), ("AUTH_SECRET", SECRET)]))
            .build()
            .is_ok()
    );
    // Exactly 32 bytes is enough.
    let ok = "0123456789abcdef0123456789abcdef";
    assert!(
        AuthConfig::builder(App::default())
            .secret(ok)
            .url(ORIGIN)
            .build()
            .is_ok()
    );
}

#[test]
fn config_problems_are_reported_together_and_name_the_setting() {
    let err = AuthConfig::builder(App::default())
        .url("ftp://app.example")
        .base_path("api/auth/")
        .credentials(credentials(Arc::new(AtomicUsize::new(0)), AuthorizeMode::Demo).id("Bad Id"))
        .build()
        .unwrap_err();
    let text = err.to_string();
    for setting in ["AUTH_SECRET", "AUTH_URL", "base path", "provider id"] {
        assert!(text.contains(setting), "{setting}: {text}");
    }
    let err = AuthConfig::builder(App::default())
        .secret(SECRET)
        .url(ORIGIN)
        .credentials(credentials(
            Arc::new(AtomicUsize::new(0)),
            AuthorizeMode::Demo,
        ))
        .credentials(credentials(
            Arc::new(AtomicUsize::new(0)),
            AuthorizeMode::Demo,
        ))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("used twice"), "{err}");
    for bad in [
        "https://user:pw@app.example",
        "https://app.example/?x=1",
        "https://app.example/#f",
        "app.example",
        "https://",
    ] {
        let err = AuthConfig::builder(App::default())
            .secret(SECRET)
            .url(bad)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("AUTH_URL"), "{bad}: {err}");
    }
    let err = AuthConfig::builder(App::default())
        .from_env_with(env(&[("AUTH_SECRET", SECRET), ("AUTH_TRUST_HOST", "yes")]))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AUTH_TRUST_HOST"));
}

#[test]
fn secrets_and_config_debug_are_redacted() {
    let config = AuthConfig::builder(App::default())
        .secret(SECRET)
        .url(ORIGIN)
        .build()
        .unwrap();
    let auth = Auth::new(config);
    let debug = format!("{auth:?}");
    assert!(!debug.contains(SECRET), "{debug}");
}

fn untrusted() -> Harness {
    let calls = Arc::new(AtomicUsize::new(0));
    let config = AuthConfig::builder(App::default())
        .secret(SECRET)
        .credentials(credentials(calls.clone(), AuthorizeMode::Demo))
        .build()
        .unwrap();
    Harness::new(
        Auth::new(config),
        "https://evil.com",
        Compat::V5,
        SECRET,
        calls,
    )
}

#[tokio::test]
async fn cfg_03_no_url_and_no_trust_is_a_configuration_error_everywhere() {
    let h = untrusted();
    let valid = Harness::https().signed_in().await;
    let session_cookie = format!(
        "authjs.session-token={}; __Secure-authjs.session-token={}",
        valid
            .session_token("__Secure-authjs.session-token")
            .unwrap(),
        valid
            .session_token("__Secure-authjs.session-token")
            .unwrap()
    );
    let api: Vec<(&str, Req)> = vec![
        ("csrf", get("/csrf")),
        ("providers", get("/providers")),
        ("session", get("/session")),
        (
            "session with cookie",
            get("/session").cookie_header(&session_cookie),
        ),
        (
            "callback GET",
            get("/callback/credentials?callbackUrl=https%3A%2F%2Fevil.com%2Fx"),
        ),
        ("webauthn", get("/webauthn-options/credentials")),
        (
            "callback",
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", "x"),
                    ("username", "alice"),
                    ("password", "wonderland"),
                    ("callbackUrl", "https://evil.com/x"),
                ],
            ),
        ),
        (
            "callback json",
            post_form("/callback/credentials", &[("username", "alice")])
                .header("x-auth-return-redirect", "1"),
        ),
        ("signin", post_form("/signin", &[])),
        (
            "signout",
            post_form("/signout", &[("callbackUrl", "/x")]).cookie_header(&session_cookie),
        ),
        (
            "update",
            post_json("/session", &json!({"data": {}})).cookie_header(&session_cookie),
        ),
        ("signin page POST", post_form("/signin/credentials", &[])),
        ("_log", post_json("/_log", &json!({}))),
    ];
    let hosts: [&[(&str, &str)]; 4] = [
        &[("host", "evil.com")],
        &[
            ("host", "app.example"),
            ("x-forwarded-host", "evil.com"),
            ("x-forwarded-proto", "https"),
        ],
        &[("host", "evil.com:443"), ("origin", "https://evil.com")],
        &[],
    ];
    for headers in hosts {
        for (what, req) in &api {
            let mut req = req.clone();
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let res = h.send(req).await;
            assert_eq!(
                res.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{what} {headers:?}"
            );
            assert_eq!(res.json(), json!({"message": V5_MESSAGE}), "{what}");
            assert!(res.cookies.is_empty(), "{what}: {res:?}");
            assert!(!res.everything().contains("evil.com"), "{what}: {res:?}");
        }
        for path in [
            "/signin?callbackUrl=https%3A%2F%2Fevil.com",
            "/signin/credentials",
            "/signout",
            "/error?error=AccessDenied",
            "/verify-request",
        ] {
            let mut req = get(path);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let res = h.send(req).await;
            assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
            assert!(res.text().contains("Server error"), "{path}");
            assert!(res.cookies.is_empty(), "{path}");
            assert!(!res.everything().contains("evil.com"), "{path}: {res:?}");
        }
    }
    assert_eq!(h.calls(), 0, "authorize never ran");
    // Server-side readers fail closed, even with a cookie that is valid elsewhere.
    let mut headers = HeaderMap::new();
    headers.insert("host", "evil.com".parse().unwrap());
    headers.insert("cookie", session_cookie.parse().unwrap());
    let s: Result<Option<AppSession>, SessionError> = h.auth.session(&headers).await;
    assert_eq!(s.unwrap_err(), SessionError::Configuration);
    assert!(h.auth.origin(&headers).is_err());
}

#[tokio::test]
async fn cfg_03_v4_message() {
    let config = AuthConfig::builder(App::default())
        .secret(SECRET)
        .compat(Compat::V4)
        .build()
        .unwrap();
    let res: Res = Auth::new(config)
        .handle(get("/session").header("host", "evil.com").build())
        .await
        .into();
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.json(), json!({"message": V4_MESSAGE}));
}

fn trusted() -> Harness {
    let calls = Arc::new(AtomicUsize::new(0));
    let config = AuthConfig::builder(App::default())
        .secret(SECRET)
        .trust_host(true)
        .credentials(credentials(calls.clone(), AuthorizeMode::Demo))
        .build()
        .unwrap();
    Harness::new(
        Auth::new(config),
        "http://auth.example",
        Compat::V5,
        SECRET,
        calls,
    )
}

#[tokio::test]
async fn trusted_hosts_build_urls_from_the_request() {
    let h = trusted();
    let res = h
        .send(get("/providers").header("host", "auth.example:8080"))
        .await;
    assert_eq!(
        res.json()["credentials"]["signinUrl"],
        "http://auth.example:8080/api/auth/signin/credentials"
    );
    // X-Forwarded-Host wins over Host, X-Forwarded-Proto picks the scheme (first value).
    let res = h
        .send(
            get("/providers")
                .header("host", "internal:3000")
                .header("x-forwarded-host", "public.example, proxy.internal")
                .header("x-forwarded-proto", "https, http"),
        )
        .await;
    assert_eq!(
        res.json()["credentials"]["callbackUrl"],
        "https://public.example/api/auth/callback/credentials"
    );
    // https from the proxy → secure cookie names.
    let res = h
        .send(
            get("/csrf")
                .header("host", "public.example")
                .header("x-forwarded-proto", "https"),
        )
        .await;
    assert!(
        res.set_cookie("__Host-authjs.csrf-token").is_some(),
        "{res:?}"
    );
    assert_eq!(
        res.set_cookie("__Secure-authjs.callback-url")
            .unwrap()
            .decoded(),
        "https://public.example/"
    );
    let res = h.send(get("/csrf").header("host", "public.example")).await;
    assert!(res.set_cookie("authjs.csrf-token").is_some(), "{res:?}");
    // Redirect targets are checked against the request origin.
    let res = h
        .send(
            get(&format!("/signin?callbackUrl={}", enc("https://evil.com/")))
                .header("host", "public.example")
                .header("x-forwarded-proto", "https"),
        )
        .await;
    assert_eq!(
        res.set_cookie("__Secure-authjs.callback-url")
            .unwrap()
            .decoded(),
        "https://public.example/"
    );
}

#[tokio::test]
async fn trusted_hosts_still_refuse_malformed_host_values() {
    let h = trusted();
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("host", "evil.com/path")],
        vec![("host", "user@evil.com")],
        vec![("host", "evil.com\\@good")],
        vec![("host", "evil.com?x")],
        vec![("host", "evil.com#x")],
        vec![("host", "")],
        vec![],
        vec![("host", "app.example"), ("x-forwarded-proto", "javascript")],
        vec![("host", "app.example"), ("x-forwarded-proto", "ftp")],
        vec![("x-forwarded-host", "a b")],
    ];
    for headers in cases {
        let mut req = get("/providers");
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let res = h.send(req).await;
        assert_eq!(
            res.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{headers:?}: {res:?}"
        );
        assert_eq!(res.json(), json!({"message": V5_MESSAGE}));
    }
}

#[tokio::test]
async fn a_configured_url_wins_over_trusted_headers() {
    let h = Harness::builder().configure(|b| b.trust_host(true)).build();
    let res = h
        .send(
            get("/providers")
                .header("host", "evil.com")
                .header("x-forwarded-host", "evil.com"),
        )
        .await;
    assert_eq!(
        res.json()["credentials"]["signinUrl"],
        "https://app.example/api/auth/signin/credentials"
    );
    assert!(!res.everything().contains("evil.com"));
}

#[tokio::test]
async fn auth_url_path_sets_the_base_path() {
    let config = AuthConfig::builder(DefaultCallbacks)
        .secret(SECRET)
        .url("https://app.example/custom/auth/")
        .credentials(Credentials::new(|_f, _r| async { Ok(None::<User>) }))
        .build()
        .unwrap();
    assert_eq!(config.base_path(), "/custom/auth");
    let auth = Auth::new(config);
    assert!(auth.is_auth_path("/custom/auth/session"));
    assert!(!auth.is_auth_path("/api/auth/session"));
    let res: Res = auth
        .handle(Req::new(Method::GET, "/custom/auth/providers").build())
        .await
        .into();
    assert_eq!(
        res.json()["credentials"]["signinUrl"],
        "https://app.example/custom/auth/signin/credentials"
    );
    let res: Res = auth
        .handle(Req::new(Method::GET, "/api/auth/providers").build())
        .await
        .into();
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cfg_05_insecure_cookies_on_https_are_refused() {
    let err = AuthConfig::builder(App::default())
        .secret(SECRET)
        .url(ORIGIN)
        .use_secure_cookies(false)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("use_secure_cookies"), "{err}");
    // Forcing secure cookies on http is allowed and gives the prefixed names.
    let h = Harness::builder()
        .http()
        .configure(|b| b.use_secure_cookies(true))
        .build();
    let res = h.send(get("/csrf")).await;
    let c = res
        .set_cookie("__Host-authjs.csrf-token")
        .expect("secure names");
    assert!(c.has("Secure"));
    // An explicit `true` on https is fine.
    assert!(
        AuthConfig::builder(App::default())
            .secret(SECRET)
            .url(ORIGIN)
            .use_secure_cookies(true)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn max_age_sets_the_token_lifetime() {
    let h = Harness::builder()
        .configure(|b| b.max_age(std::time::Duration::from_secs(3600)))
        .build();
    let jar = h.signed_in().await;
    let claims = h.decode_jar(&jar);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let err = AuthConfig::builder(App::default())
        .secret(SECRET)
        .url(ORIGIN)
        .max_age(std::time::Duration::from_millis(10))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_age"));
}
