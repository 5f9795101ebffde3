//! The whole router: `Auth::handle` on arbitrary requests — method, path under the base
//! path and elsewhere, query, headers (`Cookie`, `Content-Type`, `Host`,
//! `X-Forwarded-*`, `Origin`, `Sec-Fetch-Site`, `Authorization`, …) and body — against three
//! configurations (`portcullis_fuzz::Setup`): JWT sessions on https with credentials and an
//! OAuth provider; database sessions on http with email sign-in, a memory adapter and a
//! memory rate limiter; next-auth v4 behind a trusted proxy (origin from the headers).
//!
//! Input layout: `portcullis_fuzz::read_spec` (seeds: `examples/make_seeds.rs`).
//!
//! Checks:
//! - `handle` never panics;
//! - no 5xx, except the two answers Auth.js gives on purpose: the error page for
//!   `GET {base}/error?error=Configuration` (500), and the configuration error when the
//!   origin cannot be determined from a trusted proxy's headers (500). Nothing here can
//!   answer 503 (the memory stores never fail);
//! - a path outside the base path is 400; a method other than GET and POST is 405 or 400;
//! - every redirect (`Location`, the `{url}` of JSON answers, and the callback-url cookie)
//!   stays on the request's origin, except the OAuth sign-in's redirect to the provider's
//!   authorization endpoint;
//! - every `Set-Cookie` is `HttpOnly; Path=/`, and `Secure` exactly on an https origin;
//! - no response carries the session secret or the server-side access token (unless the
//!   request itself did: it may be echoed);
//! - `GET {base}/csrf` answers 200 with a 64-hex-digit `csrfToken`.

#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use http::{Method, Response, header};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use portcullis::Auth;
use portcullis::fuzzing::parse_query;
use portcullis_fuzz::{
    OAUTH_AUTHORIZE, SECRET, SERVER_ONLY, Setup, build_request, read_spec, setup_of,
};
use url::Url;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("no runtime: {e}"),
        }
    })
}

/// The https setup holds an HTTP client (for the OAuth provider), which is costly to build:
/// it is built once. It keeps no state a request could change (no adapter, no limiter). The
/// other setups are built for every input, so their stores start empty.
fn auth_for(setup: Setup) -> Auth {
    static JWT_HTTPS: OnceLock<Auth> = OnceLock::new();
    match setup {
        Setup::JwtHttps => JWT_HTTPS.get_or_init(|| setup.build()).clone(),
        _ => setup.build(),
    }
}

/// Whether `needle` occurs in `haystack`, found by comparing rolling hashes rather than
/// bytes: a `memcmp` against the needle would hand it to libFuzzer's comparison tracing,
/// which then writes it into requests that get it echoed back (a `Host` header, say).
fn contains(haystack: &[u8], needle: &str) -> bool {
    const B: u64 = 1_000_003;
    let needle = needle.as_bytes();
    let n = needle.len();
    if n == 0 || haystack.len() < n {
        return n == 0;
    }
    let hash = |s: &[u8]| {
        s.iter()
            .fold(0u64, |h, &b| h.wrapping_mul(B).wrapping_add(u64::from(b)))
    };
    let target = hash(needle);
    let top = (1..n).fold(1u64, |p, _| p.wrapping_mul(B));
    let mut h = hash(&haystack[..n]);
    for start in 0..=haystack.len() - n {
        if start > 0 {
            let out = u64::from(haystack[start - 1]).wrapping_mul(top);
            h = h
                .wrapping_sub(out)
                .wrapping_mul(B)
                .wrapping_add(u64::from(haystack[start + n - 1]));
        }
        if h == target
            && haystack[start..start + n]
                .iter()
                .zip(needle)
                .all(|(a, b)| a == b)
        {
            return true;
        }
    }
    false
}

/// A value leaks when the response carries it and the request did not (a request may
/// carry anything, and some of it is echoed back legitimately).
fn leaks(response_part: &[u8], value: &str, input: &[u8]) -> bool {
    contains(response_part, value) && !contains(input, value)
}

fn check_redirect(target: &str, origin: Option<&Url>) {
    if target.starts_with(OAUTH_AUTHORIZE) {
        let Ok(url) = Url::parse(target) else {
            panic!("unparsable provider redirect {target:?}");
        };
        assert_eq!(url.host_str(), Some("idp.example"));
        return;
    }
    let Some(origin) = origin else {
        panic!("redirect {target:?} without a trusted origin");
    };
    let url = match Url::parse(target) {
        Ok(u) => u,
        Err(_) => match origin.join(target) {
            Ok(u) => u,
            Err(e) => panic!("redirect {target:?} does not parse: {e}"),
        },
    };
    assert_eq!(
        url.origin(),
        origin.origin(),
        "redirect {target:?} leaves the origin {origin}"
    );
}

fn check_response(
    auth: &Auth,
    setup: Setup,
    method: &Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    res: &Response<Bytes>,
    input: &[u8],
) {
    let (path, query) = (uri.path(), uri.query());
    let status = res.status();
    let origin = auth.origin(headers).ok();
    let base = setup.base_path();
    let in_base = auth.is_auth_path(path);

    if status.is_server_error() {
        let error_page = *method == Method::GET
            && path == format!("{base}/error")
            && parse_query(query).get("error").and_then(|v| v.as_str()) == Some("Configuration");
        assert!(
            status == 500 && (error_page || origin.is_none()),
            "{status} for {method} {path}?{query:?}: {:?}",
            String::from_utf8_lossy(res.body())
        );
    }
    if !in_base {
        assert_eq!(status, 400, "{method} {path} is not ours");
    } else if *method != Method::GET && *method != Method::POST {
        assert!(
            status == 405 || status == 400,
            "{status} for {method} {path}"
        );
    }

    let body = res.body().as_ref();
    for part in std::iter::once(body).chain(res.headers().values().map(|v| v.as_bytes())) {
        assert!(!leaks(part, SECRET, input), "the secret leaked");
        assert!(
            !leaks(part, SERVER_ONLY, input),
            "a server-side token leaked"
        );
    }

    if let Some(location) = res.headers().get(header::LOCATION) {
        let Ok(location) = location.to_str() else {
            panic!("a Location that is not ASCII");
        };
        check_redirect(location, origin.as_ref());
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body)
        && map.len() == 1
        && let Some(url) = map.get("url").and_then(|u| u.as_str())
    {
        check_redirect(url, origin.as_ref());
    }

    for cookie in res.headers().get_all(header::SET_COOKIE) {
        let Ok(cookie) = cookie.to_str() else {
            panic!("a Set-Cookie that is not ASCII");
        };
        assert!(
            cookie.contains("; Path=/") && cookie.contains("; HttpOnly"),
            "{cookie}"
        );
        let (name, value) = cookie
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .unwrap_or_default();
        if name.ends_with("callback-url") && !value.is_empty() {
            let value = percent_decode_str(value).decode_utf8_lossy();
            check_redirect(&value, origin.as_ref());
        }
        if let Some(origin) = &origin {
            assert_eq!(
                cookie.contains("; Secure"),
                origin.scheme() == "https",
                "{cookie} on {origin}"
            );
        }
    }

    if *method == Method::GET && path == format!("{base}/csrf") && origin.is_some() {
        assert_eq!(status, 200);
        let token: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let token = token["csrfToken"].as_str().unwrap_or_default();
        assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

fuzz_target!(|data: &[u8]| {
    let spec = read_spec(data);
    let Some(req) = build_request(&spec) else {
        return;
    };
    let setup = setup_of(&spec);
    let auth = auth_for(setup);
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let res = runtime().block_on(auth.handle(req));
    check_response(&auth, setup, &method, &uri, &headers, &res, data);
});
