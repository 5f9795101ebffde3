//! Redirect targets (SECURITY.md §6.5): every RDR row, through every entry point that takes
//! a `callbackUrl` — the credentials callback body (redirect and `{url}`), `GET /signin`
//! (page and custom page), the callback-url cookie on `GET /session` / `GET /csrf` and on a
//! later sign-in, and `POST /signout`. Whatever comes back must parse to the origin
//! `https://app.example`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::StatusCode;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use portcullis::Pages;

/// Targets that must fall back to a same-origin URL (the origin itself, or a path on it).
const HOSTILE: &[&str] = &[
    // RDR-01
    "https://evil.com",
    "https://evil.com/",
    "http://app.example",
    "http://app.example/dashboard",
    "https://app.example:8443",
    "https://app.example:8443/x",
    // RDR-02
    "//evil.com",
    "///evil.com",
    "////evil.com",
    "//evil.com/path?q=1",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    // RDR-05
    "%2F%2Fevil.com",
    "/%2F%2Fevil.com",
    "%5C%5Cevil.com",
    "%252F%252Fevil.com",
    "/%09/evil.com",
    "/%0d%0a/evil.com",
    "/\t/evil.com",
    "/\r\n/evil.com",
    // RDR-06
    "https://app.example.evil.com",
    "https://evilapp.example",
    "https://app.example.",
    "https://APP.EXAMPLE.evil.com/",
    // RDR-07 (no allow-list is configured: these fall back as well)
    "https://evil.example.attacker.com",
    "https://x.example@evil.com",
    "https://app.example@evil.com",
    "https://app.example%2F@evil.com",
    "https://app.example%40evil.com",
    // Schemes and oddities
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox",
    "file:///etc/passwd",
    "ftp://app.example/",
    "blob:https://app.example/uuid",
    "https:evil.com",
    "https:/evil.com",
    " https://evil.com",
    "",
    "evil.com",
    "/@evil.com",
    "/.evil.com",
    "/..//evil.com",
];

/// RDR-10: same-origin targets are kept, normalised.
const SAFE: &[(&str, &str)] = &[
    ("/dashboard?x=1#y", "https://app.example/dashboard?x=1#y"),
    ("/../../etc", "https://app.example/etc"),
    ("/./a", "https://app.example/a"),
    ("/", "https://app.example/"),
    ("https://app.example/x?y", "https://app.example/x?y"),
    ("https://user:pw@app.example/x", "https://app.example/x"),
    ("HTTPS://APP.EXAMPLE/Upper", "https://app.example/Upper"),
    ("https://app.example:443/p", "https://app.example/p"),
];

fn cookie_encode(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// The value of the hidden `callbackUrl` input of a page, HTML-unescaped.
fn hidden_callback(html: &str) -> String {
    let marker = r#"name="callbackUrl" value=""#;
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no callbackUrl input: {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every URL an entry point produced for `target`, labelled.
async fn outcomes(h: &Harness, target: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (jar, token) = h.with_csrf().await;
    let creds = [
        ("csrfToken", token.as_str()),
        ("username", "alice"),
        ("password", "wonderland"),
        ("callbackUrl", target),
    ];

    // Credentials callback body: redirect.
    let res = h
        .send(post_form("/callback/credentials", &creds).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{target:?}");
    out.push((
        "callback Location".into(),
        res.location().unwrap().to_owned(),
    ));
    if let Some(c) = res.set_cookie(&h.names.callback_url) {
        out.push(("callback cookie".into(), c.decoded()));
    }
    // ... and `{url}`.
    let res = h
        .send(
            post_form("/callback/credentials", &creds)
                .header("x-auth-return-redirect", "1")
                .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{target:?}");
    out.push((
        "callback {url}".into(),
        res.json()["url"].as_str().unwrap().to_owned(),
    ));
    out.push((
        "callback {url} Location".into(),
        res.location().unwrap().to_owned(),
    ));
    // A failed sign-in with the same target.
    let bad = [
        ("csrfToken", token.as_str()),
        ("username", "alice"),
        ("password", "nope"),
        ("callbackUrl", target),
    ];
    let res = h
        .send(post_form("/callback/credentials", &bad).jar(&jar))
        .await;
    out.push((
        "failed callback Location".into(),
        res.location().unwrap().to_owned(),
    ));

    // GET /signin?callbackUrl=: the form's hidden input and the cookie.
    let res = h
        .send(get(&format!("/signin?callbackUrl={}", enc(target))))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    out.push(("signin page input".into(), hidden_callback(res.text())));
    if let Some(c) = res.set_cookie(&h.names.callback_url) {
        out.push(("signin page cookie".into(), c.decoded()));
    }
    // GET /signout?callbackUrl=: the form's hidden input.
    let res = h
        .send(get(&format!("/signout?callbackUrl={}", enc(target))))
        .await;
    out.push(("signout page input".into(), hidden_callback(res.text())));

    // The callback-url cookie (RDR-11) on GET /session, GET /csrf, then used by a sign-in.
    let planted = format!("{}={}", h.names.callback_url, cookie_encode(target));
    for path in ["/session", "/csrf"] {
        let res = h.send(get(path).cookie_header(&planted)).await;
        if let Some(c) = res.set_cookie(&h.names.callback_url) {
            out.push((format!("{path} cookie rewrite"), c.decoded()));
        }
    }
    let mut cookie_jar = jar.clone();
    cookie_jar.set(&h.names.callback_url, &cookie_encode(target));
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
            .jar(&cookie_jar),
        )
        .await;
    out.push((
        "cookie → callback Location".into(),
        res.location().unwrap().to_owned(),
    ));

    // POST /signout.
    let res = h
        .send(
            post_form(
                "/signout",
                &[("csrfToken", &token), ("callbackUrl", target)],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    out.push((
        "signout Location".into(),
        res.location().unwrap().to_owned(),
    ));
    let res = h
        .send(
            post_form(
                "/signout",
                &[("csrfToken", &token), ("callbackUrl", target)],
            )
            .header("x-auth-return-redirect", "1")
            .jar(&jar),
        )
        .await;
    out.push((
        "signout {url}".into(),
        res.json()["url"].as_str().unwrap().to_owned(),
    ));
    out
}

/// The same through a configured custom sign-in page (a GET that redirects, RDR-13).
async fn custom_page_outcomes(h: &Harness, target: &str) -> Vec<(String, String)> {
    let res = h
        .send(get(&format!("/signin?callbackUrl={}", enc(target))))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let loc = res.location().unwrap().to_owned();
    let parsed = url::Url::parse(&loc).unwrap();
    assert_eq!(parsed.path(), "/login", "{loc}");
    let cb = parsed
        .query_pairs()
        .find(|(k, _)| k == "callbackUrl")
        .map(|(_, v)| v.into_owned())
        .expect("callbackUrl param");
    vec![
        ("custom page Location".into(), loc),
        ("custom page callbackUrl".into(), cb),
    ]
}

fn custom_pages() -> Harness {
    Harness::builder()
        .configure(|b| {
            let mut pages = Pages::default();
            pages.sign_in = Some("/login".into());
            pages.error = Some("/oops".into());
            b.pages(pages)
        })
        .build()
}

#[tokio::test]
async fn hostile_targets_stay_on_the_origin_everywhere() {
    let h = Harness::https();
    let custom = custom_pages();
    for target in HOSTILE {
        let mut all = outcomes(&h, target).await;
        all.extend(custom_page_outcomes(&custom, target).await);
        assert!(all.len() >= 12, "{target:?}: too few outcomes");
        for (what, url) in &all {
            assert_same_origin(url, ORIGIN, &format!("{target:?} via {what}"));
            let parsed = url::Url::parse(url).unwrap();
            assert_eq!(
                parsed.host_str(),
                Some("app.example"),
                "{target:?} via {what}: {url}"
            );
            assert!(
                parsed.username().is_empty() && parsed.password().is_none(),
                "{target:?} via {what}: {url}"
            );
            assert!(!url.to_ascii_lowercase().starts_with("javascript"), "{url}");
        }
    }
}

#[tokio::test]
async fn absolute_foreign_targets_fall_back_to_the_origin_itself() {
    let h = Harness::https();
    for target in [
        "https://evil.com",
        "http://app.example",
        "https://app.example:8443",
        "https://app.example.evil.com",
        "https://x.example@evil.com",
        "javascript:alert(1)",
    ] {
        for (what, url) in outcomes(&h, target).await {
            if what.starts_with("failed") {
                continue;
            }
            assert_eq!(url, "https://app.example/", "{target:?} via {what}");
        }
    }
}

#[tokio::test]
async fn rdr_10_relative_and_same_origin_targets_are_normalised() {
    let h = Harness::https();
    let custom = custom_pages();
    for (target, expected) in SAFE {
        let mut all = outcomes(&h, target).await;
        all.extend(custom_page_outcomes(&custom, target).await);
        for (what, url) in all {
            if what.starts_with("failed") {
                assert!(
                    url.starts_with("https://app.example/api/auth/signin?error="),
                    "{url}"
                );
            } else if what == "custom page Location" {
                assert_eq!(
                    url,
                    format!(
                        "https://app.example/login?callbackUrl={}",
                        cookie_encode_component(expected)
                    )
                );
            } else {
                assert_eq!(&url, expected, "{target:?} via {what}");
            }
        }
    }
}

/// `encodeURIComponent`, as the custom-page redirect writes its query.
fn cookie_encode_component(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    utf8_percent_encode(s, SET).to_string()
}

#[tokio::test]
async fn rdr_11_tampered_callback_cookie_is_revalidated_on_read() {
    let h = Harness::https();
    let evil = format!(
        "{}={}",
        h.names.callback_url,
        cookie_encode("https://evil.com")
    );
    for path in ["/session", "/csrf", "/signin", "/signout"] {
        let res = h.send(get(path).cookie_header(&evil)).await;
        let c = res
            .set_cookie(&h.names.callback_url)
            .unwrap_or_else(|| panic!("{path}: not rewritten"));
        assert_eq!(c.decoded(), "https://app.example/", "{path}");
        assert!(!res.everything().contains("evil.com"), "{path}: {res:?}");
    }
    // A valid cookie is kept as is (not rewritten on every request).
    let good = format!(
        "{}={}",
        h.names.callback_url,
        cookie_encode("https://app.example/dashboard")
    );
    let res = h.send(get("/session").cookie_header(&good)).await;
    assert!(res.set_cookie(&h.names.callback_url).is_none(), "{res:?}");
}

#[tokio::test]
async fn rdr_13_error_redirects_to_custom_pages_stay_on_the_origin() {
    let h = custom_pages();
    let (jar, token) = h.with_csrf().await;
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "x"),
                    ("callbackUrl", "https://evil.com"),
                ],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(
        res.location(),
        Some("https://app.example/login?error=CredentialsSignin&code=credentials")
    );
    let res = h.send(get("/error?error=https%3A%2F%2Fevil.com")).await;
    let loc = res.location().unwrap();
    assert_same_origin(loc, ORIGIN, "custom error page");
    assert!(loc.starts_with("https://app.example/oops?error="), "{loc}");
    let res = h
        .send(get(
            "/callback/credentials?callbackUrl=https%3A%2F%2Fevil.com",
        ))
        .await;
    assert_eq!(
        res.location(),
        Some("https://app.example/oops?error=Configuration")
    );
}

#[tokio::test]
async fn overlong_targets_fall_back() {
    let h = Harness::https();
    let long = format!("/{}", "a".repeat(5000));
    for (what, url) in outcomes(&h, &long).await {
        assert_same_origin(&url, ORIGIN, &what);
        assert!(url.len() < 200, "{what}: the overlong target was kept");
    }
}
