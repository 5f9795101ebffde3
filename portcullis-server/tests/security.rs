//! SECURITY.md CFG-04 (forwarded headers only from trusted proxies) and RDR-15 (no
//! redirect loop through the error page) against the built binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Client, Jar, Res, Server, add_user, form, request_with, temp_dir};

const PASSWORD: &str = "correct horse battery";
const FORWARDED: &[(&str, &str)] = &[
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Proto", "https"),
];

/// `GET /api/auth/providers` and a failed credentials sign-in, both carrying
/// `X-Forwarded-Host/Proto`: every URL in the answers.
fn urls_with_forwarded_headers(port: u16) -> (String, String) {
    let providers = request_with(
        port,
        "GET",
        "/api/auth/providers",
        &Jar::default(),
        None,
        FORWARDED,
    );
    assert_eq!(providers.status, 200, "{providers:?}");
    let mut c = Client::new(port);
    let t = c.csrf();
    let body = form(&[
        ("csrfToken", &t),
        ("username", "nobody@example.com"),
        ("password", "wrong password!"),
    ]);
    let r = request_with(
        port,
        "POST",
        "/api/auth/callback/credentials",
        &c.jar,
        Some(("application/x-www-form-urlencoded", &body)),
        FORWARDED,
    );
    assert_eq!(r.status, 302, "{r:?}");
    (
        providers.body,
        r.header("location").unwrap_or_default().to_owned(),
    )
}

#[test]
fn cfg_04_forwarded_host_only_from_trusted_proxies() {
    let dir = temp_dir("cfg04");
    let server = Server::start(&dir, &[("AUTH_TRUST_HOST", "true")]);
    let real = format!("http://localhost:{}/api/auth/", server.port);
    let (providers, location) = urls_with_forwarded_headers(server.port);
    assert!(!providers.contains("evil.example"), "{providers}");
    assert!(providers.contains(&real), "built from Host: {providers}");
    assert!(!location.contains("evil.example"), "{location}");
    assert!(location.starts_with(&real), "built from Host: {location}");
    drop(server);

    let dir = temp_dir("cfg04-trusted");
    let server = Server::start(
        &dir,
        &[
            ("AUTH_TRUST_HOST", "true"),
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    );
    let (providers, location) = urls_with_forwarded_headers(server.port);
    assert!(
        providers.contains("https://evil.example/api/auth/"),
        "honoured from a trusted proxy: {providers}"
    );
    assert!(
        location.starts_with("https://evil.example/api/auth/"),
        "{location}"
    );
}

/// Follows redirects (same server, cookies kept) until a non-redirect answer; the answer
/// and the number of redirects.
fn follow(c: &mut Client, first: Res) -> (Res, usize) {
    let origin = format!("http://localhost:{}", c.port);
    let mut r = first;
    let mut hops = 0;
    while matches!(r.status, 301 | 302 | 303 | 307 | 308) {
        hops += 1;
        assert!(hops <= 5, "redirect loop: {r:?}");
        let loc = r.header("location").unwrap().to_owned();
        let path = loc.strip_prefix(&origin).unwrap_or(&loc).to_owned();
        assert!(path.starts_with('/'), "left the server: {loc}");
        r = c.get(&path);
    }
    (r, hops)
}

#[test]
fn rdr_15_error_page_as_callback_url_does_not_loop() {
    let dir = temp_dir("rdr15");
    add_user(&dir, &[], "ada@example.com", PASSWORD, &[]);
    let server = Server::start(&dir, &[]);
    let port = server.port;
    let error_page = format!("http://localhost:{port}/api/auth/error");
    let encoded = format!("http%3A%2F%2Flocalhost%3A{port}%2Fapi%2Fauth%2Ferror");

    // The sign-in page with the error page as its callbackUrl.
    let mut c = Client::new(port);
    let first = c.get(&format!("/api/auth/signin?callbackUrl={encoded}"));
    let (end, _) = follow(&mut c, first);
    assert_eq!(end.status, 200, "{end:?}");
    assert!(end.body.contains("<html"), "a page: {}", end.body);

    // A failed and a successful sign-in whose callbackUrl is the error page.
    for password in ["wrong password!", PASSWORD] {
        let mut c = Client::new(port);
        let t = c.csrf();
        let body = form(&[
            ("csrfToken", &t),
            ("username", "ada@example.com"),
            ("password", password),
            ("callbackUrl", &error_page),
        ]);
        let first = c.post(
            "/api/auth/callback/credentials",
            "application/x-www-form-urlencoded",
            &body,
        );
        assert_eq!(first.status, 302, "{first:?}");
        let (end, hops) = follow(&mut c, first);
        assert!(hops <= 3, "{hops} redirects");
        assert!(
            matches!(end.status, 200 | 400 | 403 | 500),
            "a page, not a redirect: {end:?}"
        );
        assert!(end.body.contains("<html"), "a page: {}", end.body);
    }
}

/// One raw request with a chosen `Host`; the whole response (head and body) as text.
fn raw_with_host(port: u16, method: &str, path: &str, host: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let body = if method == "POST" {
        "csrfToken=x&username=a%40b.c&password=wrong-password"
    } else {
        ""
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn cfg_03_no_url_is_built_from_an_untrusted_host_header() {
    let dir = temp_dir("cfg03");
    let server = Server::start(&dir, &[]);
    for (method, path) in [
        ("GET", "/api/auth/providers"),
        ("GET", "/api/auth/csrf"),
        ("GET", "/api/auth/signin"),
        ("GET", "/api/auth/signout"),
        ("GET", "/api/auth/error?error=AccessDenied"),
        ("GET", "/protected"),
        ("GET", "/"),
        ("POST", "/api/auth/callback/credentials"),
        ("POST", "/api/auth/signin"),
    ] {
        let text = raw_with_host(server.port, method, path, "evil.example");
        assert!(text.starts_with("HTTP/1.1 "), "{method} {path}: {text}");
        assert!(
            !text.contains("evil.example"),
            "{method} {path} built a URL from Host: {text}"
        );
    }
}

#[test]
fn http_11_security_headers_on_every_endpoint() {
    let dir = temp_dir("http11");
    let server = Server::start(&dir, &[]);
    for (path, html) in [
        ("/", true),
        ("/api/auth/signin", true),
        ("/api/auth/signout", true),
        ("/api/auth/error?error=Configuration", true),
        ("/api/auth/verify-request", true),
        ("/api/auth/csrf", false),
        ("/api/auth/session", false),
        ("/api/auth/providers", false),
        ("/api/auth/bogus", false),
    ] {
        let r: Res = common::get(server.port, path, &Jar::default());
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}: {r:?}"
        );
        assert!(r.header("referrer-policy").is_some(), "{path}");
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.contains("charset=utf-8"), "{path}: {ct}");
        if html {
            assert!(ct.starts_with("text/html"), "{path}: {ct}");
            let csp = r.header("content-security-policy").unwrap_or_default();
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        }
    }
    // The protected page without a session: a redirect, with no-store.
    let r = common::get(server.port, "/protected", &Jar::default());
    assert_eq!(r.status, 302);
}

#[test]
fn cfg_05_an_https_url_always_means_secure_prefixed_cookies() {
    // The server has no switch to turn `Secure` off: an https AUTH_URL gives `Secure`
    // cookies with `__Secure-`/`__Host-` names, also in production mode.
    let dir = temp_dir("cfg05");
    let env = [
        ("AUTH_URL", "https://auth.example.com"),
        ("AUTH_SECRET", "cfg05-secret-0123456789abcdef0123456789"),
        ("PORTCULLIS_ENV", "production"),
    ];
    add_user(&dir, &env, "secure@example.com", PASSWORD, &[]);
    let server = Server::start(&dir, &env);
    let csrf = common::get(server.port, "/api/auth/csrf", &Jar::default());
    let set: Vec<&str> = csrf.all("set-cookie");
    assert!(
        set.iter()
            .any(|c| c.starts_with("__Host-authjs.csrf-token=") && c.contains("; Secure")),
        "{set:?}"
    );
    let mut c = Client::new(server.port);
    let res = c.sign_in("username", "secure@example.com", PASSWORD);
    assert_eq!(res.status, 302, "{res:?}");
    let session: Vec<&str> = res
        .all("set-cookie")
        .into_iter()
        .filter(|h| h.contains("session-token="))
        .collect();
    assert!(!session.is_empty(), "{res:?}");
    for h in session {
        assert!(h.starts_with("__Secure-authjs.session-token"), "{h}");
        assert!(h.contains("; Secure") && h.contains("; HttpOnly"), "{h}");
        assert!(!h.to_ascii_lowercase().contains("domain="), "{h}");
    }
}
