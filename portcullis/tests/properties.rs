//! Properties over random requests (SECURITY.md HTTP-10, RDR-14, TOK-02/05, CKE-06):
//! `Auth::handle` never panics, never answers 5xx for a valid configuration (except the
//! documented 500 of `GET /error?error=Configuration`), and every redirect target it hands
//! out — `Location`, `{url}`, the callback-url cookie — stays on the configured origin.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::LazyLock;

use common::*;
use http::{HeaderMap, HeaderValue, Method, Request};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::Value;
use tokio::runtime::Runtime;

static RT: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

/// Two configurations: https v5 and http v4.
static HARNESSES: LazyLock<[Harness; 2]> =
    LazyLock::new(|| [Harness::https(), Harness::builder().http().v4().build()]);

/// Real values to mix in: a valid session token and a valid CSRF pair, per harness.
struct Valid {
    session: String,
    csrf_cookie: String,
    csrf_token: String,
}

static VALID: LazyLock<Vec<Valid>> = LazyLock::new(|| {
    HARNESSES
        .iter()
        .map(|h| {
            RT.block_on(async {
                let mut jar = h.signed_in().await;
                let csrf_token = h.csrf(&mut jar).await;
                Valid {
                    session: jar.session_token(&h.names.session_token).unwrap(),
                    csrf_cookie: jar.get(&h.names.csrf_token).unwrap().to_owned(),
                    csrf_token,
                }
            })
        })
        .collect()
});

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        4 => Just(Method::GET),
        4 => Just(Method::POST),
        1 => prop::sample::select(vec![
            Method::PUT, Method::DELETE, Method::HEAD, Method::OPTIONS, Method::PATCH, Method::TRACE,
            Method::from_bytes(b"FOO").unwrap(),
        ]),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "/api/auth/csrf",
        "/api/auth/providers",
        "/api/auth/session",
        "/api/auth/signin",
        "/api/auth/signin/credentials",
        "/api/auth/signout",
        "/api/auth/callback/credentials",
        "/api/auth/error",
        "/api/auth/verify-request",
        "/api/auth/webauthn-options/credentials",
        "/api/auth/_log",
        "/api/auth/signin/undefined",
        "/api/auth/callback/github",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        6 => known,
        2 => "/api/auth/[a-z_-]{0,14}(/[a-zA-Z0-9%._~'-]{0,20}){0,3}",
        1 => "/[ -~]{0,60}",
    ]
}

/// URL-shaped and arbitrary redirect targets.
fn target() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec![
        "",
        "/",
        "//",
        "///",
        "\\",
        "/\\",
        "\\\\",
        "https://",
        "http://",
        "https:",
        "%2F%2F",
        "/%2F",
        "https://app.example",
        "https://app.example.",
        "http://app.example",
        "javascript:",
        " ",
        "https://app.example@",
        "/%09/",
        "data:",
    ]);
    prop_oneof![
        3 => (prefix, "[a-zA-Z0-9.@:%/\\\\?#&=_ \t-]{0,30}").prop_map(|(p, r)| format!("{p}{r}")),
        1 => any::<String>().prop_map(|s| s.chars().take(80).collect()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,24}".prop_map(Value::from),
        target().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(key(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["csrfToken", "callbackUrl", "username", "password", "data", "json", "name", "role"])
            .prop_map(str::to_owned),
        1 => "[a-zA-Z]{0,8}",
    ]
}

#[derive(Debug, Clone)]
enum Body {
    Bytes(Vec<u8>),
    Json(Value),
    /// Form pairs; `Some(true)` in a value slot means "the valid CSRF token".
    Form(Vec<(String, String)>, bool),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        vec(any::<u8>(), 0..200).prop_map(Body::Bytes),
        json_value().prop_map(Body::Json),
        (
            vec(
                (
                    key(),
                    prop_oneof![target(), "[ -~]{0,20}".prop_map(String::from)]
                ),
                0..6
            ),
            any::<bool>()
        )
            .prop_map(|(pairs, csrf)| Body::Form(pairs, csrf)),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("text/plain".to_owned())),
        Just(Some("multipart/form-data; boundary=x".to_owned())),
        Just(Some("text/plain; charset=application/json".to_owned())),
        "[ -~]{0,30}".prop_map(Some),
    ]
}

#[derive(Debug, Clone)]
enum CookieValue {
    Random(String),
    ValidSession,
    ValidCsrf,
    Target(String),
}

fn cookies() -> impl Strategy<Value = Vec<(String, CookieValue)>> {
    let name = prop_oneof![
        4 => prop::sample::select(vec![
            "{session}", "{session}.0", "{session}.1", "{session}.2", "{session}.7", "{session}.00",
            "{session}.-1", "{session}.x", "{session}.", "{csrf}", "{callback}",
        ])
        .prop_map(str::to_owned),
        1 => "[!#$%&'*+.^_`|~a-zA-Z0-9-]{0,12}",
        1 => "[ -~]{0,12}",
    ];
    let value = prop_oneof![
        3 => "[ -~]{0,80}".prop_map(CookieValue::Random),
        1 => Just(CookieValue::ValidSession),
        1 => Just(CookieValue::ValidCsrf),
        2 => target().prop_map(CookieValue::Target),
    ];
    let signed_in = vec![
        ("{session}".to_owned(), CookieValue::ValidSession),
        ("{csrf}".to_owned(), CookieValue::ValidCsrf),
    ];
    prop_oneof![
        3 => vec((name.clone(), value.clone()), 0..8),
        // A signed-in browser, sometimes with extra cookies after its own.
        1 => vec((name, value), 0..3).prop_map(move |extra| {
            let mut all = signed_in.clone();
            all.extend(extra);
            all
        }),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    harness: usize,
    method: Method,
    path: String,
    query_target: Option<String>,
    query_error: Option<String>,
    cookies: Vec<(String, CookieValue)>,
    body: Body,
    content_type: Option<String>,
    return_redirect: bool,
    fetch_site: Option<&'static str>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..2usize,
        method(),
        path(),
        proptest::option::of(target()),
        proptest::option::of(prop_oneof![
            prop::sample::select(vec![
                "Configuration",
                "AccessDenied",
                "Verification",
                "CredentialsSignin"
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,20}",
        ]),
        cookies(),
        body(),
        content_type(),
        any::<bool>(),
        proptest::option::of(prop::sample::select(vec![
            "same-origin",
            "same-site",
            "none",
            "cross-site",
        ])),
    )
        .prop_map(
            |(
                harness,
                method,
                path,
                query_target,
                query_error,
                cookies,
                body,
                content_type,
                return_redirect,
                fetch_site,
            )| Case {
                harness,
                method,
                path,
                query_target,
                query_error,
                cookies,
                body,
                content_type,
                return_redirect,
                fetch_site,
            },
        )
}

/// Builds the request; `None` when the random path is not a valid URI.
fn build(c: &Case) -> Option<Request<bytes::Bytes>> {
    let h = &HARNESSES[c.harness];
    let valid = &VALID[c.harness];
    let mut uri = c.path.clone();
    let mut q = Vec::new();
    if let Some(t) = &c.query_target {
        q.push(format!("callbackUrl={}", enc(t)));
    }
    if let Some(e) = &c.query_error {
        q.push(format!("error={}", enc(e)));
    }
    if !q.is_empty() {
        uri.push(if uri.contains('?') { '&' } else { '?' });
        uri.push_str(&q.join("&"));
    }
    let uri: http::Uri = uri.parse().ok()?;
    let mut b = Request::builder().method(c.method.clone()).uri(uri);
    let cookie: Vec<String> = c
        .cookies
        .iter()
        .map(|(n, v)| {
            let n = n
                .replace("{session}", &h.names.session_token)
                .replace("{csrf}", &h.names.csrf_token)
                .replace("{callback}", &h.names.callback_url);
            let v = match v {
                CookieValue::Random(s) => s.clone(),
                CookieValue::ValidSession => valid.session.clone(),
                CookieValue::ValidCsrf => valid.csrf_cookie.clone(),
                CookieValue::Target(t) => enc(t),
            };
            format!("{n}={v}")
        })
        .collect();
    if !cookie.is_empty() {
        b = b.header("cookie", HeaderValue::from_str(&cookie.join("; ")).ok()?);
    }
    if let Some(ct) = &c.content_type {
        b = b.header("content-type", HeaderValue::from_str(ct).ok()?);
    }
    if c.return_redirect {
        b = b.header("x-auth-return-redirect", "1");
    }
    if let Some(s) = c.fetch_site {
        b = b.header("sec-fetch-site", s);
    }
    let body: Vec<u8> = match &c.body {
        Body::Bytes(b) => b.clone(),
        Body::Json(v) => v.to_string().into_bytes(),
        Body::Form(pairs, csrf) => {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            if *csrf {
                s.append_pair("csrfToken", &valid.csrf_token);
            }
            for (k, v) in pairs {
                if !(*csrf && k == "csrfToken") {
                    s.append_pair(k, v);
                }
            }
            s.finish().into_bytes()
        }
    };
    b.body(bytes::Bytes::from(body)).ok()
}

fn check(c: &Case, res: &Res) -> Result<(), TestCaseError> {
    let h = &HARNESSES[c.harness];
    let documented_500 = c.method == Method::GET
        && c.path == "/api/auth/error"
        && res.header("content-type") == Some("text/html; charset=utf-8")
        && res.text().contains("<h1>Server error</h1>");
    prop_assert!(res.status.as_u16() < 500 || documented_500, "5xx: {res:?}");
    prop_assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    if let Some(loc) = res.location() {
        let url = url::Url::parse(loc)
            .map_err(|e| TestCaseError::fail(format!("Location {loc}: {e}")))?;
        prop_assert_eq!(
            url.origin(),
            url::Url::parse(&h.origin).unwrap().origin(),
            "Location {}",
            loc
        );
        prop_assert!(
            url.username().is_empty() && url.password().is_none(),
            "Location {}",
            loc
        );
    }
    if res
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json"))
        && let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(&res.body)
        && let Some(Value::String(u)) = obj.get("url")
    {
        let url =
            url::Url::parse(u).map_err(|e| TestCaseError::fail(format!("{{url}} {u}: {e}")))?;
        prop_assert_eq!(
            url.origin(),
            url::Url::parse(&h.origin).unwrap().origin(),
            "{{url}} {}",
            u
        );
    }
    if let Some(cb) = res.set_cookie(&h.names.callback_url) {
        let v = cb.decoded();
        let url = url::Url::parse(&v)
            .map_err(|e| TestCaseError::fail(format!("callback cookie {v}: {e}")))?;
        prop_assert_eq!(
            url.origin(),
            url::Url::parse(&h.origin).unwrap().origin(),
            "callback cookie {}",
            v
        );
    }
    for sc in &res.cookies {
        prop_assert!(
            sc.has("HttpOnly") && sc.attr("Path") == Some(Some("/")),
            "{}",
            sc.raw
        );
        prop_assert_eq!(sc.has("Secure"), h.secure, "{}", sc.raw);
    }
    if c.path == "/api/auth/session" && c.method == Method::GET && res.status.is_success() {
        let body = res.json();
        prop_assert!(
            body == serde_json::json!(null)
                || body == serde_json::json!({})
                || body["user"]["id"] == "1",
            "session body {}",
            body
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2500, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn handle_never_fails_and_never_leaves_the_origin(c in case()) {
        let Some(req) = build(&c) else { return Ok(()); };
        let res: Res = RT.block_on(HARNESSES[c.harness].auth.handle(req)).into();
        check(&c, &res)?;
    }

    #[test]
    fn server_side_readers_never_panic(cookies in cookies(), bearer in prop_oneof![
        Just(None),
        "[ -~]{0,100}".prop_map(Some),
        vec(any::<u8>(), 0..100).prop_map(|b| Some(format!("Bearer {}", String::from_utf8_lossy(&b)))),
        Just(Some("Bearer %E0%A4%A".to_owned())),
    ], harness in 0..2usize) {
        let h = &HARNESSES[harness];
        let valid = &VALID[harness];
        let mut headers = HeaderMap::new();
        let cookie: Vec<String> = cookies.iter().map(|(n, v)| {
            let n = n.replace("{session}", &h.names.session_token).replace("{csrf}", &h.names.csrf_token).replace("{callback}", &h.names.callback_url);
            let v = match v {
                CookieValue::Random(s) => s.clone(),
                CookieValue::ValidSession => valid.session.clone(),
                CookieValue::ValidCsrf => valid.csrf_cookie.clone(),
                CookieValue::Target(t) => enc(t),
            };
            format!("{n}={v}")
        }).collect();
        if let Ok(v) = HeaderValue::from_str(&cookie.join("; ")) {
            headers.insert("cookie", v);
        }
        if let Some(b) = bearer.and_then(|b| HeaderValue::from_str(&b).ok()) {
            headers.insert("authorization", b);
        }
        let token = h.auth.token::<Value>(&headers);
        if let Some(t) = &token {
            prop_assert_eq!(t.sub.as_deref(), Some("1"));
        }
        let session: Option<Value> = RT.block_on(h.auth.session(&headers)).unwrap();
        if let Some(s) = session {
            prop_assert_eq!(&s["user"]["id"], "1");
        }
    }
}
