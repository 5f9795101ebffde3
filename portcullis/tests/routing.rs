//! Routing, request parsing, response headers and the built-in pages (PROTOCOL.md §1.1,
//! §1.2, §10; SECURITY.md §6.12): HTTP-02, HTTP-04, HTTP-05, HTTP-07, HTTP-08, HTTP-09,
//! HTTP-11, INJ-01.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

const MISSING_CSRF: &str = "https://app.example/api/auth/signin?error=MissingCSRF";

#[tokio::test]
async fn http_07_unknown_actions_are_400_bad_request() {
    let h = Harness::https();
    let long_id = format!("/api/auth/signin/{}", "a".repeat(10_000));
    let paths = [
        "/api/auth/foo",
        "/api/auth/signinn",
        "/api/auth/Session",
        "/api/auth/signin/github/github",
        "/api/auth/session/x",
        "/api/auth/csrf/x",
        "/api/auth/session/",
        "/api/auth/",
        "/api/auth",
        "/api/auth//session",
        "/api/authx/session",
        "/other",
        "/",
        "/api/auth/signin/github'%20OR%20'1'='1",
        "/api/auth/signin/..",
        "/api/auth/signin/../../etc",
        "/api/auth/callback/%2e%2e",
        "/api/auth/callback/Credentials",
        long_id.as_str(),
    ];
    for path in paths {
        for method in [Method::GET, Method::POST] {
            let res = h.send(Req::new(method.clone(), path)).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{method} {path}");
            assert_eq!(res.text(), "\"Bad request.\"", "{method} {path}");
            assert_eq!(
                res.header("content-type"),
                Some("application/json; charset=utf-8")
            );
            assert!(res.cookies.is_empty());
        }
    }
    assert_eq!(h.calls(), 0);
    // `undefined` is "no provider", as in Auth.js.
    let res = h.send(get("/signin/undefined")).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn http_08_other_methods_are_405_with_allow() {
    let h = Harness::https();
    let jar = h.signed_in().await;
    for (path, allow) in [
        ("/session", "GET, POST"),
        ("/signin", "GET, POST"),
        ("/signout", "GET, POST"),
        ("/callback/credentials", "GET, POST"),
        ("/csrf", "GET"),
        ("/providers", "GET"),
        ("/error", "GET"),
        ("/verify-request", "GET"),
        ("/_log", "POST"),
    ] {
        for method in [
            "PUT", "DELETE", "TRACE", "PATCH", "OPTIONS", "HEAD", "CONNECT", "PROPFIND",
        ] {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let res = h
                .send(Req::new(method.clone(), &format!("{BASE}{path}")).jar(&jar))
                .await;
            assert_eq!(
                res.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
            assert!(res.cookies.is_empty(), "{method} {path}");
        }
    }
    // The wrong one of GET/POST is 405 too.
    let res = h.send(post_form("/csrf", &[])).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    let res = h.send(get("/_log")).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    // A DELETE on /session does not sign out.
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.json()["user"]["id"], "1");
}

#[tokio::test]
async fn http_02_bodies_over_the_limit_are_413() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let limit = h.auth.config().body_limit();
    assert_eq!(limit, 64 * 1024);
    for path in [
        "/callback/credentials",
        "/session",
        "/signout",
        "/signin",
        "/_log",
    ] {
        for size in [limit + 1, 10 * 1024 * 1024] {
            let body = format!(
                "csrfToken={token}&username=alice&password=wonderland&x={}",
                "a".repeat(size)
            );
            let res = h
                .send(
                    Req::new(Method::POST, &format!("{BASE}{path}"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body)
                        .jar(&jar),
                )
                .await;
            assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{path} {size}");
            assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        }
    }
    assert_eq!(h.calls(), 0);
    // Exactly at the limit is parsed (padded with many fields, each under the credentials
    // provider's 1024-byte field cap).
    let mut body = format!("csrfToken={token}&username=alice&password=wonderland");
    let mut i = 0;
    while body.len() < limit {
        let head = format!("&p{i}=");
        let room = limit - body.len();
        if room <= head.len() {
            // Too little room for another field: lengthen the last value instead.
            body.push_str(&"a".repeat(room));
        } else {
            body.push_str(&head);
            body.push_str(&"a".repeat((room - head.len()).min(1000)));
        }
        i += 1;
    }
    assert_eq!(body.len(), limit);
    let res = h
        .send(
            Req::new(Method::POST, "/api/auth/callback/credentials")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(h.calls(), 1);
    // A configured smaller limit.
    let small = Harness::builder().configure(|b| b.body_limit(100)).build();
    let res = small
        .send(post_form(
            "/callback/credentials",
            &[("x", &"a".repeat(200))],
        ))
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn http_04_malformed_bodies_are_400() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    let mut bad_utf8_form = format!("csrfToken={token}&username=").into_bytes();
    bad_utf8_form.extend_from_slice(&[0xff, 0xfe]);
    let mut bad_utf8_json = format!(r#"{{"csrfToken":"{token}","username":""#).into_bytes();
    bad_utf8_json.extend_from_slice(&[0xc3, 0x28, b'"', b'}']);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("invalid UTF-8 form", form, bad_utf8_form),
        (
            "percent-encoded invalid UTF-8",
            form,
            format!("csrfToken={token}&username=%FF%FE").into_bytes(),
        ),
        (
            "repeated form key",
            form,
            format!("csrfToken={token}&csrfToken={token}&username=alice").into_bytes(),
        ),
        ("invalid UTF-8 JSON", json, bad_utf8_json),
        ("malformed JSON", json, b"{\"csrfToken\":".to_vec()),
        (
            "JSON array",
            json,
            format!(r#"[{{"csrfToken":"{token}"}}]"#).into_bytes(),
        ),
        ("JSON string", json, b"\"csrfToken\"".to_vec()),
        ("JSON number", json, b"1".to_vec()),
        ("JSON null", json, b"null".to_vec()),
        (
            "trailing garbage",
            json,
            format!(r#"{{"csrfToken":"{token}"}} x"#).into_bytes(),
        ),
    ];
    for (what, ct, body) in cases {
        for path in ["/callback/credentials", "/session", "/signout"] {
            let res = h
                .send(
                    Req::new(Method::POST, &format!("{BASE}{path}"))
                        .header("content-type", ct)
                        .body(body.clone())
                        .jar(&jar),
                )
                .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{what} {path}");
            assert_eq!(res.text(), "\"Bad request.\"", "{what} {path}");
        }
    }
    assert_eq!(h.calls(), 0);
    // An empty JSON body is an empty object (then: no CSRF token).
    let res = h
        .send(
            Req::new(Method::POST, "/api/auth/signout")
                .header("content-type", json)
                .jar(&jar),
        )
        .await;
    assert_eq!(res.location(), Some(MISSING_CSRF));
}

#[tokio::test]
async fn http_05_other_content_types_are_never_parsed() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let form_body = format!("csrfToken={token}&username=alice&password=wonderland");
    let json_body =
        format!(r#"{{"csrfToken":"{token}","username":"alice","password":"wonderland"}}"#);
    let multipart = format!(
        "--x\r\nContent-Disposition: form-data; name=\"csrfToken\"\r\n\r\n{token}\r\n--x\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--x\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nwonderland\r\n--x--\r\n"
    );
    let cases: Vec<(Option<&str>, String)> = vec![
        (Some("text/plain"), form_body.clone()),
        (Some("text/plain"), json_body.clone()),
        (None, form_body.clone()),
        (None, json_body.clone()),
        (Some("multipart/form-data; boundary=x"), multipart),
        (Some("application/xml"), form_body.clone()),
        (Some("application/jsonx"), json_body.clone()),
        // CORS-safelisted text bodies that merely mention JSON or forms.
        (
            Some("text/plain; charset=application/json"),
            json_body.clone(),
        ),
        (
            Some("text/plain; x=application/x-www-form-urlencoded"),
            form_body.clone(),
        ),
        (Some("application/json-seq"), json_body.clone()),
    ];
    for (ct, body) in cases {
        let mut req = Req::new(Method::POST, "/api/auth/callback/credentials")
            .body(body.clone())
            .jar(&jar);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let res = h.send(req).await;
        assert_eq!(res.status, StatusCode::FOUND, "{ct:?}");
        assert_eq!(res.location(), Some(MISSING_CSRF), "{ct:?}: {body}");
    }
    assert_eq!(h.calls(), 0, "authorize never ran");
    // POST /session with text/plain: 400 null.
    let res = h
        .send(
            Req::new(Method::POST, "/api/auth/session")
                .header("content-type", "text/plain")
                .body(format!(
                    r#"{{"csrfToken":"{token}","data":{{"name":"x"}}}}"#
                ))
                .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.text(), "null");
    // Content types are matched case-insensitively and with parameters.
    let res = h
        .send(
            Req::new(Method::POST, "/api/auth/callback/credentials")
                .header(
                    "content-type",
                    "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                )
                .body(form_body)
                .jar(&jar),
        )
        .await;
    assert_eq!(res.location(), Some("https://app.example/"));
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn http_09_malformed_bearer_values_are_no_token() {
    let h = Harness::https();
    let jar = h.signed_in().await;
    let token = jar.session_token(&h.names.session_token).unwrap();
    let bearer = |v: &[u8]| {
        let mut m = HeaderMap::new();
        m.insert("authorization", HeaderValue::from_bytes(v).unwrap());
        m
    };
    // Positive control: the real token works as a bearer.
    let t = h
        .auth
        .token::<Value>(&bearer(format!("Bearer {token}").as_bytes()))
        .expect("valid bearer");
    assert_eq!(t.sub.as_deref(), Some("1"));
    let huge = format!("Bearer {}", "A".repeat(1024 * 1024));
    let huge_pct = format!("Bearer {}", "%41".repeat(100_000));
    let mut non_ascii = b"Bearer ".to_vec();
    non_ascii.extend_from_slice(&[0xe9, 0xff, 0x80]);
    let mut non_ascii_tail = format!("Bearer {token}").into_bytes();
    non_ascii_tail.push(0xe9);
    let values: Vec<Vec<u8>> = vec![
        b"Bearer %E0%A4%A".to_vec(),
        b"Bearer %".to_vec(),
        b"Bearer %ZZ".to_vec(),
        b"Bearer %C3%28".to_vec(),
        b"Bearer ".to_vec(),
        b"Bearer".to_vec(),
        b"Bearer    ".to_vec(),
        b"".to_vec(),
        huge.into_bytes(),
        huge_pct.into_bytes(),
        non_ascii,
        non_ascii_tail,
        format!("Basic {token}").into_bytes(),
        format!("Bearer {token}x").into_bytes(),
        format!("Bearer {}", &token[..token.len() - 1]).into_bytes(),
    ];
    for v in values {
        let what = String::from_utf8_lossy(&v)
            .chars()
            .take(40)
            .collect::<String>();
        assert!(h.auth.token::<Value>(&bearer(&v)).is_none(), "{what}");
        // And through the endpoint: a bearer never makes a cookie session.
        let res = h
            .send(get("/session").header("authorization", v.clone()))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{what}");
        assert_eq!(res.text(), "null", "{what}");
    }
}

/// Every response carries these; pages carry the framing and CSP headers too.
fn assert_http_11(res: &Res, what: &str) {
    assert_eq!(
        res.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{what}");
    if !res.body.is_empty() {
        let ct = res
            .header("content-type")
            .unwrap_or_else(|| panic!("{what}: no content-type"));
        assert!(ct.ends_with("; charset=utf-8"), "{what}: {ct}");
    }
    if res
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html"))
    {
        let csp = res
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{what}: no CSP"));
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
        assert_eq!(res.header("x-frame-options"), Some("DENY"), "{what}");
        assert_no_cache(res);
    }
}

#[tokio::test]
async fn http_11_security_headers_on_every_endpoint() {
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let token = h.csrf(&mut jar).await;
    let reqs: Vec<(&str, Req)> = vec![
        ("csrf", get("/csrf")),
        ("providers", get("/providers")),
        ("session", get("/session").jar(&jar)),
        ("no session", get("/session")),
        (
            "update",
            post_json("/session", &serde_json::json!({"csrfToken": token})).jar(&jar),
        ),
        (
            "update 400",
            post_json("/session", &serde_json::json!({})).jar(&jar),
        ),
        ("signin page", get("/signin")),
        ("signin/:provider", get("/signin/credentials")),
        (
            "signin POST",
            post_form("/signin", &[("csrfToken", &token)]).jar(&jar),
        ),
        ("signout page", get("/signout")),
        (
            "signout POST",
            post_form("/signout", &[("csrfToken", &token)]).jar(&jar),
        ),
        (
            "callback",
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&jar),
        ),
        (
            "callback json",
            post_form("/callback/credentials", &[("csrfToken", &token)])
                .header("x-auth-return-redirect", "1")
                .jar(&jar),
        ),
        ("callback GET", get("/callback/credentials")),
        ("error", get("/error")),
        ("error Configuration", get("/error?error=Configuration")),
        ("error AccessDenied", get("/error?error=AccessDenied")),
        ("verify-request", get("/verify-request")),
        ("webauthn-options", get("/webauthn-options/credentials")),
        ("_log", post_json("/_log", &serde_json::json!({}))),
        ("400", get("/nope")),
        ("405", Req::new(Method::PUT, "/api/auth/session")),
        ("413", post_form("/signout", &[("x", &"a".repeat(70_000))])),
        ("400 body", post_json("/signout", &serde_json::json!([]))),
        (
            "403",
            post_form("/signout", &[]).header("sec-fetch-site", "cross-site"),
        ),
    ];
    for (what, req) in reqs {
        let res = h.send(req).await;
        assert_http_11(&res, what);
    }
}

#[tokio::test]
async fn signin_page_lists_the_form_with_the_csrf_token() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let res = h
        .send(get("/signin?callbackUrl=%2Fdashboard").jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let html = res.text();
    for needle in [
        r#"<form method="post" action="https://app.example/api/auth/callback/credentials">"#
            .to_owned(),
        format!(r#"<input type="hidden" name="csrfToken" value="{token}">"#),
        r#"<input type="hidden" name="callbackUrl" value="https://app.example/dashboard">"#
            .to_owned(),
        r#"name="username" type="text" required>"#.to_owned(),
        r#"name="password" type="password" required>"#.to_owned(),
        "Sign in with Credentials".to_owned(),
    ] {
        assert!(html.contains(&needle), "missing {needle}: {html}");
    }
    // Without a CSRF cookie the page's token is the one in the fresh cookie.
    let res = h.send(get("/signin")).await;
    let c = res
        .set_cookie("__Host-authjs.csrf-token")
        .expect("csrf cookie");
    let fresh = c.decoded().split('|').next().unwrap().to_owned();
    assert!(
        res.text()
            .contains(&format!(r#"name="csrfToken" value="{fresh}""#))
    );
}

#[tokio::test]
async fn signin_page_escapes_hostile_input() {
    let h = Harness::https();
    let target = "/x?a=1&b='\"><script>alert(1)</script>";
    let res = h
        .send(get(&format!(
            "/signin?callbackUrl={}&error={}",
            enc(target),
            enc("<img src=x onerror=alert(1)>")
        )))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(
        !html.contains("onerror"),
        "the error text is never reflected: {html}"
    );
    assert!(html.contains("Unable to sign in."), "{html}");
    // The kept target is HTML-escaped inside the attribute.
    assert!(
        html.contains(r#"name="callbackUrl" value="https://app.example/x?a=1&amp;b="#),
        "{html}"
    );
    // Known errors get their fixed message.
    let res = h.send(get("/signin?error=CredentialsSignin")).await;
    assert!(
        res.text()
            .contains("Sign in failed. Check the details you provided are correct.")
    );
    let res = h.send(get("/signin?error=SessionRequired")).await;
    assert!(res.text().contains("Please sign in to access this page."));
}

#[tokio::test]
async fn error_page_statuses_by_type() {
    let h = Harness::https();
    for (error, status, heading) in [
        ("Configuration", 500, "Server error"),
        ("AccessDenied", 403, "Access Denied"),
        ("Verification", 403, "Unable to sign in"),
        ("CredentialsSignin", 200, "Error"),
        ("<script>alert(1)</script>", 200, "Error"),
        ("", 200, "Error"),
    ] {
        let res = h.send(get(&format!("/error?error={}", enc(error)))).await;
        assert_eq!(res.status.as_u16(), status, "{error}");
        assert!(
            res.text().contains(&format!("<h1>{heading}</h1>")),
            "{error}: {}",
            res.text()
        );
        assert!(!res.text().contains("<script>alert"), "{error}");
    }
    let res = h.send(get("/error")).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = h.send(get("/verify-request")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Check your email"));
}

#[tokio::test]
async fn v4_error_page_sends_sign_in_errors_to_the_sign_in_page() {
    let h = Harness::v4();
    let res = h.send(get("/error?error=CredentialsSignin")).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/signin?error=CredentialsSignin")
    );
    let res = h.send(get("/error?error=AccessDenied")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unsupported_gets_are_configuration_errors() {
    let h = Harness::https();
    for path in ["/signin/credentials", "/webauthn-options/credentials"] {
        let res = h.send(get(path)).await;
        assert_eq!(res.status, StatusCode::FOUND, "{path}");
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/error?error=Configuration"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn log_endpoint_answers_an_empty_object() {
    let h = Harness::v4();
    let res = h
        .send(post_json(
            "/_log",
            &serde_json::json!({"level": "error", "message": "x"}),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "{}");
}
