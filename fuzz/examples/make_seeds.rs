//! Writes the seed corpora under `fuzz/seeds/<target>/`: a handful of valid inputs per
//! target — real tokens sealed by the crate, a real chunked cookie header, the requests of
//! a sign-in — in the byte layout each target reads.
//!
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --example
//! make_seeds` (any toolchain; the seeds do not depend on the fuzzing build).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use portcullis::jwt::{JweCodec, TokenFormat};
use portcullis_fuzz::{PathSpec, RequestSpec, SECRET, Setup, Writer};
use sha2::{Digest, Sha256};

fn dir(target: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("create the seed directory");
    d
}

fn write(d: &Path, name: &str, bytes: &[u8]) {
    fs::write(d.join(name), bytes).expect("write a seed");
}

fn v5_codec() -> JweCodec {
    JweCodec::new(
        &[SECRET.as_bytes()],
        "authjs.session-token",
        TokenFormat::V5,
        true,
    )
    .unwrap()
}

const CLAIMS: &str = r#"{"name":"Alice","email":"alice@example.com","sub":"1","role":"admin","iat":1767225600,"exp":4102444800,"jti":"0f8e3c52-7c1b-4d0c-9a57-2b8f4f0e1a6d"}"#;

fn jwe_decode() {
    let d = dir("jwe_decode");
    let v5 = v5_codec().encode(CLAIMS.as_bytes());
    write(&d, "v5-token", &Writer::new().byte(0).rest(v5.as_bytes()));
    let v4 = JweCodec::new(&[SECRET.as_bytes()], "", TokenFormat::V4, true)
        .unwrap()
        .encode(CLAIMS.as_bytes());
    write(&d, "v4-token", &Writer::new().byte(0).rest(v4.as_bytes()));
    write(
        &d,
        "not-a-jwe",
        &Writer::new().byte(0).rest(b"eyJhbGciOiJkaXIifQ..AA.AA.AA"),
    );
    let round = Writer::new()
        .byte(1)
        .byte(1)
        .text("new-secret-0123456789")
        .text("old-secret-9876543210")
        .text("__Secure-authjs.session-token")
        .byte(0)
        .rest(CLAIMS.as_bytes());
    write(&d, "round-trip-v5", &round);
    let round = Writer::new()
        .byte(1)
        .byte(0)
        .text("next-auth-secret")
        .text("")
        .byte(1)
        .rest(br#"{"sub":"42"}"#);
    write(&d, "round-trip-v4", &round);
}

fn session_cookie() {
    let d = dir("session_cookie");
    let token = v5_codec().encode(CLAIMS.as_bytes());
    let (a, b) = token.split_at(token.len() / 2);
    let chunked = format!(
        "authjs.csrf-token=abc%7Cdef; authjs.session-token.0={a}; authjs.session-token.1={b}"
    );
    write(
        &d,
        "chunked",
        &Writer::new()
            .byte(0)
            .byte(0)
            .byte(0)
            .text(&token)
            .rest(chunked.as_bytes()),
    );
    let plain = format!("authjs.session-token={token}; theme=dark");
    write(
        &d,
        "plain",
        &Writer::new()
            .byte(0)
            .byte(0)
            .byte(0)
            .text("x.y.z")
            .rest(plain.as_bytes()),
    );
    let secure = format!(
        "__Secure-next-auth.session-token.1={b}\n__Secure-next-auth.session-token.0={a}; \"quoted\"=\"v\""
    );
    let long = "A".repeat(5000);
    write(
        &d,
        "secure-v4-two-headers",
        &Writer::new()
            .byte(1)
            .byte(1)
            .byte(2)
            .text(&long)
            .rest(secure.as_bytes()),
    );
    write(
        &d,
        "ambiguous",
        &Writer::new()
            .byte(0)
            .byte(0)
            .byte(0)
            .text("")
            .rest(b"authjs.session-token=a; authjs.session-token.0=b; authjs.session-token.01=c"),
    );
}

fn callback_url() {
    let d = dir("callback_url");
    let inputs: [(&str, u8, &str); 8] = [
        ("path", 0, "/dashboard?tab=1#top"),
        ("same-origin", 0, "https://app.example/account"),
        ("other-port", 2, "https://app.example/account"),
        ("scheme-relative", 0, "//evil.example/x"),
        ("backslash", 1, "/\\evil.example"),
        ("userinfo", 1, "http://localhost:3000@evil.example/"),
        ("encoded", 3, "/%2F%2Fevil.example/%2e%2e/a"),
        ("tab", 0, "/\t/evil.example"),
    ];
    for (name, base, url) in inputs {
        write(&d, name, &Writer::new().byte(base).rest(url.as_bytes()));
    }
}

fn csrf_pair(secret: &str) -> (String, String) {
    let token = "5f".repeat(32);
    let hash: String = Sha256::new()
        .chain_update(token.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cookie = format!("{token}|{hash}");
    (token, cookie)
}

fn csrf_cookie() {
    let d = dir("csrf_cookie");
    let (token, cookie) = csrf_pair("csrf-secret-derived-from-the-session-secret");
    write(
        &d,
        "valid",
        &Writer::new()
            .byte(0)
            .byte(1)
            .byte(1)
            .byte(0)
            .text(&token)
            .rest(cookie.as_bytes()),
    );
    let header = format!("__Host-authjs.csrf-token={}", cookie.replace('|', "%7C"));
    write(
        &d,
        "valid-in-header",
        &Writer::new()
            .byte(0)
            .byte(1)
            .byte(1)
            .byte(1)
            .text(&token)
            .rest(header.as_bytes()),
    );
    write(
        &d,
        "wrong-secret",
        &Writer::new()
            .byte(1)
            .byte(1)
            .byte(1)
            .byte(0)
            .text(&token)
            .rest(cookie.as_bytes()),
    );
    write(
        &d,
        "missing",
        &Writer::new()
            .byte(0)
            .byte(0)
            .byte(1)
            .byte(0)
            .text("x")
            .finish(),
    );
}

fn request_body() {
    let d = dir("request_body");
    let seeds: [(&str, u8, &[u8]); 5] = [
        (
            "json",
            0,
            br#"{"csrfToken":"abc","data":{"name":"Bob"},"n":[1,2.5,null]}"#,
        ),
        (
            "form",
            1,
            b"csrfToken=abc&callbackUrl=%2Fdash&email=a%2Bb%40x.example&x=1+2",
        ),
        ("form-charset", 2, b"a=1&b=%E2%82%AC&c"),
        ("text-plain", 4, br#"{"csrfToken":"abc"}"#),
        ("repeated-key", 1, b"a=1&a=2"),
    ];
    for (name, choice, body) in seeds {
        write(&d, name, &Writer::new().byte(choice).rest(body));
    }
    write(
        &d,
        "custom-type",
        &Writer::new()
            .byte(7)
            .text("Application/JSON ; charset=utf-8")
            .rest(b"{}"),
    );
}

fn email_normalize() {
    let d = dir("email_normalize");
    let seeds = [
        ("plain", "  Foo@Example.COM. "),
        ("idn", "foo@bücher.example"),
        ("fullwidth", "ｆｏｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
        ("list", "a@x.com,b@y.com"),
        ("quoted", "\"e@attacker.com\"@victim.com"),
        ("plus", "first.last+tag@sub.example.co.uk"),
        ("punycode", "x@xn--bcher-kva.example"),
    ];
    for (name, s) in seeds {
        write(&d, name, s.as_bytes());
    }
}

fn oauth_callback() {
    let d = dir("oauth_callback");
    let token = br#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1","scope":["openid","email"],"id_token":"eyJ.x.y"}"#;
    let seeds: [(&str, u8, u8, u8, &str); 6] = [
        (
            "code",
            0,
            0,
            1,
            "code=abc&state=s-123&iss=https%3A%2F%2Fidp.example",
        ),
        ("form-post", 1, 0, 1, "code=abc&state=s-123"),
        (
            "error",
            0,
            0,
            1,
            "error=access_denied&error_description=no&state=s-1",
        ),
        ("wrong-state", 0, 0, 0, "code=abc&state=guess"),
        ("other-provider", 0, 1, 1, "code=abc&state=s-9"),
        (
            "fuzzer-cookie",
            0,
            5,
            1,
            "state=s&cookie=eyJhbGciOiJkaXIifQ..AA.AA.AA",
        ),
    ];
    for (name, post, kind, mint, params) in seeds {
        let seed = Writer::new()
            .byte(post)
            .byte(kind)
            .byte(mint)
            .byte(10)
            .text(params)
            .rest(token);
        write(&d, name, &seed);
    }
}

/// Drives a real `Auth`: the CSRF pair of the https setup and a session cookie from a
/// credentials sign-in.
fn sign_in(rt: &tokio::runtime::Runtime) -> (String, String, String) {
    let auth = Setup::JwtHttps.build();
    let get = http::Request::get("https://app.example/api/auth/csrf")
        .body(Bytes::new())
        .unwrap();
    let res = rt.block_on(auth.handle(get));
    let json: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    let token = json["csrfToken"].as_str().unwrap().to_owned();
    let csrf_cookie = res
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-authjs.csrf-token="))
        .unwrap();
    let post = http::Request::post("https://app.example/api/auth/callback/credentials")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &csrf_cookie)
        .body(Bytes::from(format!(
            "csrfToken={token}&username=alice&password=wonderland&callbackUrl=%2Fhome"
        )))
        .unwrap();
    let res = rt.block_on(auth.handle(post));
    let session = res
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("__Secure-authjs.session-token="))
        .expect("the demo user signs in");
    (token, csrf_cookie, session)
}

fn router() {
    let d = dir("router");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (token, csrf, session) = sign_in(&rt);
    let both = format!("{csrf}; {session}");
    let form = "application/x-www-form-urlencoded";
    let seg = |spec: RequestSpec, segment: &str| RequestSpec {
        path: match spec.path {
            PathSpec::Action(a) => PathSpec::ActionSegment(
                a,
                portcullis_fuzz::SEGMENTS
                    .iter()
                    .position(|s| *s == segment)
                    .unwrap() as u8,
            ),
            other => other,
        },
        ..spec
    };
    let post = |setup: Setup, action: &str, cookie: &str, ctype: &str, body: String| {
        let mut spec = RequestSpec::get(setup, action)
            .header("cookie", cookie)
            .header("content-type", ctype);
        spec.method = 1;
        spec.body = body.into_bytes();
        spec
    };
    let http_csrf = csrf.replacen("__Host-", "", 1);
    let (name, value) = session.split_once('=').unwrap();
    let csrf_value = csrf.split_once('=').unwrap().1;
    let (a, b) = value.split_at(value.len() / 2);
    let mut seeds: Vec<(&str, RequestSpec)> = vec![
        ("csrf", RequestSpec::get(Setup::JwtHttps, "csrf")),
        ("providers", RequestSpec::get(Setup::JwtHttps, "providers")),
        (
            "session",
            RequestSpec::get(Setup::JwtHttps, "session").header("cookie", &session),
        ),
        (
            "signin-page",
            RequestSpec {
                query: Some("callbackUrl=%2Fdash&error=CredentialsSignin".into()),
                ..RequestSpec::get(Setup::JwtHttps, "signin")
            },
        ),
        (
            "error-configuration",
            RequestSpec {
                query: Some("error=Configuration".into()),
                ..RequestSpec::get(Setup::JwtHttps, "error")
            },
        ),
        (
            "credentials-signin",
            seg(
                post(
                    Setup::JwtHttps,
                    "callback",
                    &csrf,
                    form,
                    format!(
                        "csrfToken={token}&username=alice&password=wonderland&callbackUrl=%2Fhome"
                    ),
                ),
                "credentials",
            ),
        ),
        (
            "session-update",
            post(
                Setup::JwtHttps,
                "session",
                &both,
                "application/json",
                format!(r#"{{"csrfToken":"{token}","data":{{"name":"Bob"}}}}"#),
            ),
        ),
        (
            "signout",
            post(
                Setup::JwtHttps,
                "signout",
                &both,
                form,
                format!("csrfToken={token}&callbackUrl=https%3A%2F%2Fevil.example"),
            )
            .header("x-auth-return-redirect", "1"),
        ),
        (
            "oauth-signin",
            seg(
                post(
                    Setup::JwtHttps,
                    "signin",
                    &csrf,
                    form,
                    format!("csrfToken={token}&callbackUrl=%2Fafter"),
                ),
                "acme",
            ),
        ),
        (
            "oauth-callback",
            seg(
                RequestSpec {
                    query: Some("code=abc&state=xyz&iss=https%3A%2F%2Fidp.example".into()),
                    ..RequestSpec::get(Setup::JwtHttps, "callback")
                }
                .header(
                    "cookie",
                    "__Host-authjs.oauth-check=eyJhbGciOiJkaXIifQ..AA.AA.AA",
                ),
                "acme",
            ),
        ),
        (
            "cross-site-post",
            post(
                Setup::JwtHttps,
                "signout",
                &both,
                form,
                format!("csrfToken={token}"),
            )
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site"),
        ),
        (
            "sessions-list",
            RequestSpec::get(Setup::JwtHttps, "sessions").header("cookie", &session),
        ),
        (
            "email-signin",
            seg(
                post(
                    Setup::DatabaseHttp,
                    "signin",
                    &http_csrf,
                    form,
                    format!("csrfToken={token}&email=Bob%40Example.com&callbackUrl=%2F"),
                ),
                "email",
            ),
        ),
        (
            "email-callback",
            seg(
                RequestSpec {
                    query: Some("token=abc&email=bob%40example.com&callbackUrl=%2F".into()),
                    ..RequestSpec::get(Setup::DatabaseHttp, "callback")
                },
                "email",
            ),
        ),
        (
            "database-session",
            RequestSpec::get(Setup::DatabaseHttp, "session").header(
                "cookie",
                "authjs.session-token=0f8e3c52-7c1b-4d0c-9a57-2b8f4f0e1a6d",
            ),
        ),
        (
            "trust-host-csrf",
            RequestSpec::get(Setup::TrustHostV4, "csrf")
                .header("host", "app.example:8080")
                .header("x-forwarded-proto", "https"),
        ),
        (
            "trust-host-untrusted",
            RequestSpec::get(Setup::TrustHostV4, "signin").header("host", "bad/host"),
        ),
        (
            "trust-host-v4-json",
            seg(
                post(
                    Setup::TrustHostV4,
                    "callback",
                    &format!("next-auth.csrf-token={csrf_value}"),
                    form,
                    format!("json=true&csrfToken={token}&username=alice&password=wonderland"),
                )
                .header("x-forwarded-host", "proxy.example"),
                "credentials",
            ),
        ),
        (
            "not-ours",
            RequestSpec {
                path: PathSpec::Raw("/index.html".into()),
                ..RequestSpec::get(Setup::JwtHttps, "csrf")
            },
        ),
        (
            "put",
            RequestSpec {
                method: 3,
                ..RequestSpec::get(Setup::JwtHttps, "session")
            },
        ),
        (
            "chunked-session",
            RequestSpec::get(Setup::JwtHttps, "session")
                .header("cookie", &format!("{name}.0={a}; {name}.1={b}")),
        ),
    ];
    let bearer = format!(
        "Bearer {}",
        session.split_once('=').map(|(_, v)| v).unwrap_or_default()
    );
    seeds.push((
        "bearer",
        RequestSpec {
            absolute: true,
            ..RequestSpec::get(Setup::JwtHttps, "session").header("authorization", &bearer)
        },
    ));
    for (name, spec) in &seeds {
        assert!(
            portcullis_fuzz::build_request(spec).is_some(),
            "seed {name} does not build"
        );
        assert_eq!(
            &portcullis_fuzz::read_spec(&spec.encode()),
            spec,
            "seed {name}"
        );
        write(&d, name, &spec.encode());
        let setup = portcullis_fuzz::setup_of(spec);
        let req = portcullis_fuzz::build_request(spec).unwrap();
        let res = rt.block_on(setup.build().handle(req));
        let location = res
            .headers()
            .get(http::header::LOCATION)
            .map(|l| l.to_str().unwrap_or("?").to_owned())
            .unwrap_or_default();
        println!(
            "router seed {name:<22} {setup:?}: {} {location}",
            res.status()
        );
    }
}

fn main() {
    jwe_decode();
    session_cookie();
    callback_url();
    csrf_cookie();
    request_body();
    email_normalize();
    oauth_callback();
    router();
    println!("seeds written under fuzz/seeds/");
}
