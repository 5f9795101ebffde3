//! Nothing secret reaches the logs (SECURITY.md INJ-05, INJ-06): a whole flow — failed and
//! successful sign-ins, session reads, an update, a forged token, sign-out — with every
//! `tracing` event captured at TRACE level, for the JWT and the database strategies. The
//! capture must contain events (so the check is not vacuous) and none of: the passwords, the
//! CSRF token, the session token, the secret, or a line forged through a username.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::{Auth, AuthConfig, Credentials, DefaultCallbacks, User};

const SECRET: &str = "log-test-secret-0123456789abcdef-0123456789";
const PASSWORD: &str = "correct-horse-battery-staple-42";
const WRONG: &str = "wrong-password-that-must-not-leak-77";
const FORGED_USER: &str = "mallory\n2026-11-23T00:00:00Z INFO portcullis: login ok user=admin";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn auth(database: bool) -> Auth {
    let provider = Credentials::new(|form, _req| async move {
        let ok = form.get("username").and_then(|v| v.as_str()) == Some("alice")
            && form.get("password").and_then(|v| v.as_str()) == Some(PASSWORD);
        Ok(ok.then(|| User::new("1").with_name("Alice")))
    });
    let mut b = AuthConfig::builder(DefaultCallbacks)
        .secret(SECRET)
        .url("http://localhost:3000")
        .credentials(provider);
    if database {
        b = b.adapter(Arc::new(MemoryAdapter::new()));
    }
    Auth::new(b.build().unwrap())
}

struct Browser {
    auth: Auth,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: http::request::Builder, body: &str) -> http::Response<Bytes> {
        let req = req
            .header("cookie", self.cookie_header())
            .body(Bytes::from(body.to_owned()))
            .unwrap();
        let res = self.auth.handle(req).await;
        for v in res.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !v.to_str().unwrap().contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
        }
        res
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| {
                s.bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect::<String>()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn flow(database: bool) -> (String, Vec<String>) {
    let mut b = Browser {
        auth: auth(database),
        cookies: Vec::new(),
    };
    let base = "http://localhost:3000/api/auth";
    let res = b.send(http::Request::get(format!("{base}/csrf")), "").await;
    let csrf: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    let csrf = csrf["csrfToken"].as_str().unwrap().to_owned();
    let post = |path: &str| {
        http::Request::post(format!("{base}/{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
    };
    // A sign-in without the CSRF token, a forged username, a wrong password.
    b.send(
        post("callback/credentials"),
        &form(&[("username", "alice"), ("password", PASSWORD)]),
    )
    .await;
    b.send(
        post("callback/credentials"),
        &form(&[
            ("csrfToken", &csrf),
            ("username", FORGED_USER),
            ("password", WRONG),
        ]),
    )
    .await;
    // The real sign-in, reads, an update.
    let res = b
        .send(
            post("callback/credentials"),
            &form(&[
                ("csrfToken", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(res.status(), 302);
    let session = b.cookie("authjs.session-token").expect("signed in");
    let res = b
        .send(http::Request::get(format!("{base}/session")), "")
        .await;
    assert_ne!(res.body().as_ref(), b"null");
    b.send(
        http::Request::post(format!("{base}/session")).header("content-type", "application/json"),
        &serde_json::json!({ "csrfToken": csrf, "data": { "name": "A" } }).to_string(),
    )
    .await;
    // A forged session token and a bad update.
    let mut forged = Browser {
        auth: b.auth.clone(),
        cookies: vec![("authjs.session-token".into(), format!("{session}x"))],
    };
    forged
        .send(http::Request::get(format!("{base}/session")), "")
        .await;
    b.send(
        http::Request::post(format!("{base}/session")).header("content-type", "application/json"),
        r#"{"csrfToken":"nope","data":{}}"#,
    )
    .await;
    b.send(post("signout"), &form(&[("csrfToken", &csrf)]))
        .await;
    (csrf, vec![session])
}

#[test]
fn no_secret_reaches_the_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut secrets = vec![SECRET.to_owned(), PASSWORD.to_owned(), WRONG.to_owned()];
    tracing::subscriber::with_default(subscriber, || {
        for database in [false, true] {
            let (csrf, tokens) = rt.block_on(flow(database));
            secrets.push(csrf);
            secrets.extend(tokens);
        }
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("MissingCSRF") && logs.contains("CredentialsSignin"),
        "the flow must have logged its failures:\n{logs}"
    );
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret value reached the logs:\n{logs}"
        );
    }
    // The session token's SHA-256 is the database key: not secret, but not logged either.
    assert!(
        !logs.contains("login ok user=admin"),
        "a forged line reached the logs:\n{logs}"
    );
    assert!(
        !logs.contains("mallory"),
        "usernames are not logged:\n{logs}"
    );
    for line in logs.lines() {
        assert!(
            !line.starts_with("2026-11-23T00:00:00Z"),
            "forged line: {line}"
        );
    }
}
