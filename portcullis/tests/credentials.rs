//! `POST /callback/credentials` and `POST /signin` (PROTOCOL.md §1.2, §1.3, §9.1, §10):
//! RDR-16, CRD-01, CRD-04, CRD-09, CSRF-01, CSRF-03, CSRF-06, SES-01.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::StatusCode;
use serde_json::{Value, json};

const SIGNIN_ERROR: &str =
    "https://app.example/api/auth/signin?error=CredentialsSignin&code=credentials";
const MISSING_CSRF: &str = "https://app.example/api/auth/signin?error=MissingCSRF";
const CONFIGURATION: &str = "https://app.example/api/auth/error?error=Configuration";

async fn sign_in(
    h: &Harness,
    jar: &Jar,
    token: &str,
    user: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> Res {
    let mut pairs = vec![
        ("csrfToken", token),
        ("username", user),
        ("password", password),
    ];
    pairs.extend_from_slice(extra);
    h.send(post_form("/callback/credentials", &pairs).jar(jar))
        .await
}

fn has_session_cookie(h: &Harness, res: &Res) -> bool {
    res.written().iter().any(|c| h.is_session_cookie(&c.name))
}

#[tokio::test]
async fn success_redirects_with_302_and_sets_the_session() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let res = sign_in(
        &h,
        &jar,
        &token,
        "alice",
        "wonderland",
        &[("callbackUrl", "/dashboard?tab=1")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "RDR-16: 302, never 307/308");
    assert_eq!(res.location(), Some("https://app.example/dashboard?tab=1"));
    assert!(res.body.is_empty());
    assert_eq!(h.calls(), 1);
    let c = res
        .set_cookie("__Secure-authjs.session-token")
        .expect("session cookie");
    assert!(c.has("Expires") && !c.has("Max-Age"));
    let mut jar = jar;
    jar.apply(&res);
    let claims = h.decode_jar(&jar);
    assert_eq!(claims["sub"], "1");
    assert_eq!(claims["name"], "Alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["access_token"], ACCESS_TOKEN);
    assert!(claims["jti"].is_string());
    // The callback-url cookie remembers the validated target.
    assert_eq!(
        res.set_cookie("__Secure-authjs.callback-url")
            .unwrap()
            .decoded(),
        "https://app.example/dashboard?tab=1"
    );
}

#[tokio::test]
async fn return_redirect_header_answers_json_and_keeps_location_and_cookies() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "wonderland"),
                    ("callbackUrl", "/home"),
                ],
            )
            .header("x-auth-return-redirect", "1")
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!({"url": "https://app.example/home"}));
    assert_eq!(res.location(), Some("https://app.example/home"));
    assert!(has_session_cookie(&h, &res));
}

#[tokio::test]
async fn crd_01_wrong_password_and_unknown_user_are_identical() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let wrong = sign_in(&h, &jar, &token, "alice", "WONDERLAND", &[]).await;
    let unknown = sign_in(&h, &jar, &token, "bob", "wonderland", &[]).await;
    let empty = sign_in(&h, &jar, &token, "", "", &[]).await;
    for (what, res) in [
        ("wrong password", &wrong),
        ("unknown user", &unknown),
        ("empty", &empty),
    ] {
        assert_eq!(res.status, StatusCode::FOUND, "{what}");
        assert_eq!(res.location(), Some(SIGNIN_ERROR), "{what}");
        assert!(!has_session_cookie(&h, res), "{what}");
    }
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.everything(), unknown.everything());
    // Same with the JSON answer: 200 {url}, and no cookies at all on an error.
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "bob"),
                    ("password", "x"),
                ],
            )
            .header("x-auth-return-redirect", "1")
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!({"url": SIGNIN_ERROR}));
    assert!(res.cookies.is_empty(), "{res:?}");
}

#[tokio::test]
async fn crd_04_huge_and_long_passwords() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let huge = "p".repeat(1024 * 1024);
    let res = sign_in(&h, &jar, &token, "alice", &huge, &[]).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(h.calls(), 0, "authorize never saw the 1 MB body");
    assert!(!has_session_cookie(&h, &res));
    let long = "p".repeat(10_000);
    let res = sign_in(&h, &jar, &token, "alice", &long, &[]).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some(SIGNIN_ERROR));
    let res = sign_in(&h, &jar, &token, &long, "wonderland", &[]).await;
    assert_eq!(res.location(), Some(SIGNIN_ERROR));
    // Over the 1024-byte field cap: refused like wrong credentials, authorize never called.
    assert_eq!(h.calls(), 0, "authorize never saw a 10,000-byte field");
    // At the cap, authorize runs (and a 1024-byte password is simply wrong here).
    let at_cap = "p".repeat(portcullis::DEFAULT_MAX_FIELD_LEN);
    let res = sign_in(&h, &jar, &token, "alice", &at_cap, &[]).await;
    assert_eq!(res.location(), Some(SIGNIN_ERROR));
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn crd_09_failing_or_panicking_authorize_is_a_configuration_error() {
    for mode in [AuthorizeMode::Fails, AuthorizeMode::Panics] {
        let h = Harness::builder().authorize(mode).build();
        let (jar, token) = h.with_csrf().await;
        let res = sign_in(&h, &jar, &token, "alice", "wonderland", &[]).await;
        assert_eq!(res.status, StatusCode::FOUND, "{mode:?}");
        assert_eq!(res.location(), Some(CONFIGURATION), "{mode:?}");
        assert!(!has_session_cookie(&h, &res), "{mode:?}");
        assert!(
            !res.everything().contains(SECRET_MESSAGE),
            "{mode:?} leaked"
        );
        assert_eq!(h.calls(), 1);
        let res = h
            .send(
                post_form(
                    "/callback/credentials",
                    &[
                        ("csrfToken", &token),
                        ("username", "alice"),
                        ("password", "x"),
                    ],
                )
                .header("x-auth-return-redirect", "1")
                .jar(&jar),
            )
            .await;
        assert_eq!(res.json(), json!({"url": CONFIGURATION}), "{mode:?}");
        assert!(!res.everything().contains(SECRET_MESSAGE));
    }
}

#[tokio::test]
async fn rejected_with_a_custom_code() {
    let h = Harness::builder()
        .authorize(AuthorizeMode::Rejects("custom"))
        .build();
    let (jar, token) = h.with_csrf().await;
    let res = sign_in(&h, &jar, &token, "alice", "wonderland", &[]).await;
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/signin?error=CredentialsSignin&code=custom")
    );
    assert!(!has_session_cookie(&h, &res));
    // The code is query-encoded, so it cannot add parameters.
    let h = Harness::builder()
        .authorize(AuthorizeMode::Rejects("a&error=AccessDenied#x"))
        .build();
    let (jar, token) = h.with_csrf().await;
    let res = sign_in(&h, &jar, &token, "alice", "wonderland", &[]).await;
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let pairs: Vec<(String, String)> = loc.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        vec![
            ("error".to_owned(), "CredentialsSignin".to_owned()),
            ("code".to_owned(), "a&error=AccessDenied#x".to_owned())
        ]
    );
    assert_eq!(loc.fragment(), None);
}

#[tokio::test]
async fn csrf_01_and_03_missing_or_wrong_tokens_never_reach_authorize() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let (_, other_token) = h.with_csrf().await;
    let mut wrong = token.clone();
    wrong.replace_range(63.., if token.ends_with('0') { "1" } else { "0" });
    let mut no_cookie = jar.clone();
    no_cookie.remove("__Host-authjs.csrf-token");
    let cases: Vec<(&str, Req)> = vec![
        (
            "no token",
            post_form(
                "/callback/credentials",
                &[("username", "alice"), ("password", "wonderland")],
            )
            .jar(&jar),
        ),
        (
            "empty token",
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", ""),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&jar),
        ),
        (
            "wrong token",
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &wrong),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&jar),
        ),
        (
            "another browser's token",
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &other_token),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&jar),
        ),
        (
            "the whole cookie value",
            post_form(
                "/callback/credentials",
                &[
                    (
                        "csrfToken",
                        &jar.get("__Host-authjs.csrf-token")
                            .unwrap()
                            .replace("%7C", "|"),
                    ),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&jar),
        ),
        (
            "no cookie",
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&no_cookie),
        ),
        (
            "no cookie, JSON",
            post_json(
                "/callback/credentials",
                &json!({"csrfToken": token, "username": "alice", "password": "wonderland"}),
            )
            .jar(&no_cookie),
        ),
        (
            "token as a number",
            post_json(
                "/callback/credentials",
                &json!({"csrfToken": 1, "username": "alice", "password": "wonderland"}),
            )
            .jar(&jar),
        ),
    ];
    for (what, req) in cases {
        let res = h.send(req).await;
        assert_eq!(res.status, StatusCode::FOUND, "{what}");
        assert_eq!(res.location(), Some(MISSING_CSRF), "{what}");
        assert!(!has_session_cookie(&h, &res), "{what}");
    }
    assert_eq!(h.calls(), 0, "authorize ran without a valid CSRF token");
    // With X-Auth-Return-Redirect the same error is `{url}`.
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[("username", "alice"), ("password", "wonderland")],
            )
            .header("x-auth-return-redirect", "1")
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!({"url": MISSING_CSRF}));
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn csrf_06_cross_site_posts_are_refused_before_anything_runs() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let form = [
        ("csrfToken", token.as_str()),
        ("username", "alice"),
        ("password", "wonderland"),
    ];
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "CROSS-SITE"),
        ("origin", "https://evil.example"),
        ("origin", "https://app.example.evil.example"),
        ("origin", "http://app.example"),
        ("origin", "https://app.example:8443"),
        ("origin", "null"),
        ("origin", "not a url"),
    ] {
        let res = h
            .send(
                post_form("/callback/credentials", &form)
                    .header(header, value)
                    .jar(&jar),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{header}: {value}");
        assert_eq!(res.json()["error"], "CrossSiteRequest");
        assert!(res.cookies.is_empty(), "{header}: {value}");
        // Every other POST action too.
        for path in ["/signout", "/session", "/signin"] {
            let res = h
                .send(post_form(path, &form).header(header, value).jar(&jar))
                .await;
            assert_eq!(
                res.status,
                StatusCode::FORBIDDEN,
                "{path} {header}: {value}"
            );
        }
    }
    assert_eq!(h.calls(), 0);
    // Same-origin requests from the browser pass.
    let res = h
        .send(
            post_form("/callback/credentials", &form)
                .header("sec-fetch-site", "same-origin")
                .header("origin", "https://app.example")
                .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(has_session_cookie(&h, &res));
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn a_null_origin_passes_only_when_the_browser_says_same_origin() {
    // The built-in pages send `Referrer-Policy: no-referrer`, so Chromium posts their forms
    // with `Origin: null` and `Sec-Fetch-Site: same-origin` (found by the browser test).
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let form = [
        ("csrfToken", token.as_str()),
        ("username", "alice"),
        ("password", "wonderland"),
    ];
    for site in ["same-site", "none", "cross-site"] {
        let res = h
            .send(
                post_form("/callback/credentials", &form)
                    .header("origin", "null")
                    .header("sec-fetch-site", site)
                    .jar(&jar),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "Origin: null, Sec-Fetch-Site: {site}"
        );
    }
    assert_eq!(h.calls(), 0);
    let res = h
        .send(
            post_form("/callback/credentials", &form)
                .header("origin", "null")
                .header("sec-fetch-site", "same-origin")
                .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(has_session_cookie(&h, &res));
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn ses_01_a_planted_session_is_replaced() {
    let h = Harness::https();
    let (mut jar, token) = h.with_csrf().await;
    let n = h.names.session_token.clone();
    // A valid session of another user, planted by an attacker.
    let planted = h.seal(&json!({"sub": "666", "name": "Mallory", "exp": now() + 3600, "iat": now(), "jti": "planted"}));
    jar.set(&n, &planted);
    let res = sign_in(&h, &jar, &token, "alice", "wonderland", &[]).await;
    let c = res.set_cookie(&n).expect("fresh session cookie");
    assert!(!c.is_deletion());
    assert_ne!(c.value, planted);
    jar.apply(&res);
    let claims = h.decode_jar(&jar);
    assert_eq!(claims["sub"], "1");
    assert_ne!(claims["jti"], "planted");
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.json()["user"]["name"], "Alice");

    // Planted chunks are deleted and replaced by the plain cookie.
    let (mut jar, token) = h.with_csrf().await;
    jar.set(&format!("{n}.0"), "AAAA");
    jar.set(&format!("{n}.1"), "BBBB");
    jar.set(&format!("{n}.7"), "CCCC");
    let res = sign_in(&h, &jar, &token, "alice", "wonderland", &[]).await;
    let mut deleted = res.deleted();
    deleted.sort_unstable();
    assert_eq!(
        deleted,
        vec![format!("{n}.0"), format!("{n}.1"), format!("{n}.7")]
    );
    assert!(res.set_cookie(&n).is_some_and(|c| !c.is_deletion()));
    jar.apply(&res);
    assert_eq!(jar.session_names(&n), vec![n.clone()]);
}

#[tokio::test]
async fn get_callback_credentials_is_a_configuration_error() {
    let h = Harness::https();
    let (jar, _) = h.with_csrf().await;
    let res = h
        .send(get("/callback/credentials?username=alice&password=wonderland").jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some(CONFIGURATION));
    assert_eq!(h.calls(), 0);
    assert!(!has_session_cookie(&h, &res));
}

#[tokio::test]
async fn unknown_provider_is_a_configuration_error() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let res = h
        .send(
            post_form(
                "/callback/github",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.location(), Some(CONFIGURATION));
    let res = h
        .send(post_form("/signin/github", &[("csrfToken", &token)]).jar(&jar))
        .await;
    assert_eq!(res.location(), Some(CONFIGURATION));
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn post_signin_goes_to_the_sign_in_page() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    for path in ["/signin", "/signin/credentials", "/signin/undefined"] {
        let res = h
            .send(post_form(path, &[("csrfToken", &token)]).jar(&jar))
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "{path}");
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/signin"),
            "{path}"
        );
        let res = h.send(post_form(path, &[]).jar(&jar)).await;
        assert_eq!(res.location(), Some(MISSING_CSRF), "{path}");
    }
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn v4_wrong_password_with_json_is_401_with_the_error_url() {
    let h = Harness::v4();
    let (jar, token) = h.with_csrf().await;
    assert!(jar.get("__Host-next-auth.csrf-token").is_some());
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "nope"),
                    ("json", "true"),
                ],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json(),
        json!({"url": "https://app.example/api/auth/error?error=CredentialsSignin&provider=credentials"})
    );
    assert!(!has_session_cookie(&h, &res));
    // Without json: a plain redirect to the same place.
    let res = sign_in(&h, &jar, &token, "alice", "nope", &[]).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/error?error=CredentialsSignin&provider=credentials")
    );
    // v4 ignores X-Auth-Return-Redirect.
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "nope"),
                ],
            )
            .header("x-auth-return-redirect", "1")
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    // Success with json=true: 200 {url} and the v4 cookie.
    let res = sign_in(
        &h,
        &jar,
        &token,
        "alice",
        "wonderland",
        &[("json", "true"), ("callbackUrl", "/x")],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!({"url": "https://app.example/x"}));
    assert!(res.set_cookie("__Secure-next-auth.session-token").is_some());
    // Missing CSRF in v4: `?csrf=true`.
    let res = h
        .send(post_form("/callback/credentials", &[("username", "alice")]).jar(&jar))
        .await;
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/signin?csrf=true")
    );
}

#[tokio::test]
async fn v5_ignores_the_v4_json_field() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let res = sign_in(&h, &jar, &token, "alice", "nope", &[("json", "true")]).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some(SIGNIN_ERROR));
}

#[tokio::test]
async fn authorize_sees_the_whole_body_and_the_request() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Option<(Value, String)>>> = Arc::default();
    let s = seen.clone();
    let config = portcullis::AuthConfig::builder(App::default())
        .secret(SECRET)
        .url(ORIGIN)
        .credentials(portcullis::Credentials::new(move |form, req| {
            let s = s.clone();
            async move {
                *s.lock().unwrap() = Some((Value::Object(form), req.url.to_string()));
                Ok(None)
            }
        }))
        .build()
        .unwrap();
    let h = Harness::new(
        portcullis::Auth::new(config),
        ORIGIN,
        portcullis::Compat::V5,
        SECRET,
        Default::default(),
    );
    let (jar, token) = h.with_csrf().await;
    let res = h
        .send(
            post_form(
                "/callback/credentials?x=1",
                &[("csrfToken", &token), ("username", "a"), ("otp", "123")],
            )
            .header("host", "evil.example")
            .jar(&jar),
        )
        .await;
    assert_eq!(res.location(), Some(SIGNIN_ERROR));
    let (form, url) = seen.lock().unwrap().clone().expect("authorize ran");
    assert_eq!(
        form,
        json!({"csrfToken": token, "username": "a", "otp": "123"})
    );
    assert_eq!(
        url, "https://app.example/api/auth/callback/credentials?x=1",
        "URL from the configured origin"
    );
}

/// Callbacks whose `sign_in` and sign-in `jwt` decisions are chosen per test.
struct Gate {
    decision: portcullis::SignInDecision,
    sign_in_fails: bool,
    no_token: bool,
}

#[portcullis::async_trait]
impl portcullis::Callbacks for Gate {
    type UserFields = UserFields;
    type Claims = portcullis::NoFields;
    type Session = portcullis::Session;

    async fn sign_in(
        &self,
        _p: portcullis::SignInParams<'_, UserFields>,
    ) -> Result<portcullis::SignInDecision, portcullis::CallbackError> {
        if self.sign_in_fails {
            return Err(portcullis::CallbackError::new(SECRET_MESSAGE));
        }
        Ok(self.decision.clone())
    }

    async fn jwt(
        &self,
        p: portcullis::JwtParams<'_, UserFields, portcullis::NoFields>,
    ) -> Result<Option<portcullis::Token>, portcullis::CallbackError> {
        Ok((!self.no_token).then_some(p.token))
    }

    async fn session(
        &self,
        p: portcullis::SessionParams<'_, UserFields, portcullis::NoFields>,
    ) -> Result<portcullis::Session, portcullis::CallbackError> {
        Ok(p.session)
    }
}

fn gate(decision: portcullis::SignInDecision, sign_in_fails: bool, no_token: bool) -> Harness {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let config = portcullis::AuthConfig::builder(Gate {
        decision,
        sign_in_fails,
        no_token,
    })
    .secret(SECRET)
    .url(ORIGIN)
    .credentials(credentials(calls.clone(), AuthorizeMode::Demo))
    .build()
    .unwrap();
    Harness::new(
        portcullis::Auth::new(config),
        ORIGIN,
        portcullis::Compat::V5,
        SECRET,
        calls,
    )
}

#[tokio::test]
async fn sign_in_callback_can_deny_redirect_or_fail() {
    use portcullis::SignInDecision;
    let h = gate(SignInDecision::Deny, false, false);
    let (jar, token) = h.with_csrf().await;
    let res = sign_in(&h, &jar, &token, "alice", "wonderland", &[]).await;
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/error?error=AccessDenied")
    );
    assert!(!has_session_cookie(&h, &res));

    // A string decision goes through `redirect`: foreign targets fall back to the origin.
    for (to, expected) in [
        ("https://evil.com/x", "https://app.example/"),
        ("//evil.com", "https://app.example//evil.com"),
        ("/welcome?x=1", "https://app.example/welcome?x=1"),
    ] {
        let h = gate(SignInDecision::Redirect(to.to_owned()), false, false);
        let (jar, token) = h.with_csrf().await;
        let res = sign_in(&h, &jar, &token, "alice", "wonderland", &[]).await;
        assert_eq!(res.status, StatusCode::FOUND, "{to}");
        assert_eq!(res.location(), Some(expected), "{to}");
        assert!(!has_session_cookie(&h, &res), "{to}: the sign-in stopped");
    }

    let h = gate(SignInDecision::Allow, true, false);
    let (jar, token) = h.with_csrf().await;
    let res = sign_in(&h, &jar, &token, "alice", "wonderland", &[]).await;
    assert_eq!(res.location(), Some(CONFIGURATION));
    assert!(!res.everything().contains(SECRET_MESSAGE));
    assert!(!has_session_cookie(&h, &res));
}

#[tokio::test]
async fn jwt_returning_none_at_sign_in_sets_no_cookie_and_clears_old_ones() {
    let h = gate(portcullis::SignInDecision::Allow, false, true);
    let (mut jar, token) = h.with_csrf().await;
    jar.set(&h.names.session_token, "old");
    let res = sign_in(
        &h,
        &jar,
        &token,
        "alice",
        "wonderland",
        &[("callbackUrl", "/next")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("https://app.example/next"));
    assert!(!has_session_cookie(&h, &res));
    assert_eq!(res.deleted(), vec![h.names.session_token.as_str()]);
}

struct PanickingEvents;

#[portcullis::async_trait]
impl portcullis::Events for PanickingEvents {
    async fn sign_in(&self, _e: portcullis::SignInEvent) {
        panic!("sign_in event");
    }
    async fn sign_out(&self, _e: portcullis::SignOutEvent) {
        panic!("sign_out event");
    }
    async fn session(&self, _e: portcullis::SessionEvent) {
        panic!("session event");
    }
}

#[tokio::test]
async fn panicking_events_never_change_the_answer() {
    let h = Harness::builder()
        .configure(|b| b.events(PanickingEvents))
        .build();
    let mut jar = h.signed_in().await;
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["user"]["id"], "1");
    let token = h.csrf(&mut jar).await;
    let res = h
        .send(post_form("/signout", &[("csrfToken", &token)]).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(
        res.set_cookie(&h.names.session_token)
            .is_some_and(SetCookie::is_deletion)
    );
}
