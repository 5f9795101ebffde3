//! The enrichment webhook against the built binary, with an in-process mock webhook.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::{Client, Server, add_user, temp_dir};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

const OK: u8 = 0;
const FAIL: u8 = 1;
const SLOW: u8 = 2;
const MALFORMED: u8 = 3;

#[derive(Default)]
struct Mock {
    calls: AtomicUsize,
    mode: AtomicU8,
    bodies: Mutex<Vec<Value>>,
}

impl Mock {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

async fn hook(State(m): State<Arc<Mock>>, Json(body): Json<Value>) -> Response {
    m.calls.fetch_add(1, Ordering::SeqCst);
    m.bodies.lock().unwrap().push(body);
    match m.mode.load(Ordering::SeqCst) {
        FAIL => (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        SLOW => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Json(json!({"attributes": {"plan": "late"}})).into_response()
        }
        MALFORMED => "{not json".into_response(),
        _ => Json(json!({
            "attributes": {"plan": "pro", "id": "hijacked", "email": "x@evil.example",
                           "bad key!": 1, "internal": "not exposed"}
        }))
        .into_response(),
    }
}

/// The mock on 127.0.0.1:0 in a background thread; its URL.
fn mock() -> (Arc<Mock>, String) {
    let m = Arc::new(Mock::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/enrich", listener.local_addr().unwrap());
    let state = m.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/enrich", axum::routing::post(hook))
                .with_state(state);
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (m, url)
}

fn start(strategy: &str, url: &str, cache: &str) -> Server {
    let dir = temp_dir(&format!("webhook-{strategy}"));
    let env = [
        ("PORTCULLIS_STRATEGY", strategy),
        ("PORTCULLIS_SESSION_EXPOSE", "role,plan"),
        ("PORTCULLIS_WEBHOOK_URL", url),
        ("PORTCULLIS_WEBHOOK_TIMEOUT_MS", "500"),
        ("PORTCULLIS_WEBHOOK_CACHE_SECONDS", cache),
    ];
    add_user(&dir, &env, "ada@example.com", PASSWORD, &["role=admin"]);
    Server::start(&dir, &env)
}

fn signed_in(c: &mut Client) {
    let r = c.sign_in("username", "ada@example.com", PASSWORD);
    assert_eq!(r.status, 302, "{r:?}");
    let loc = r.header("location").unwrap();
    assert!(!loc.contains("error"), "sign-in failed: {loc}");
}

fn enriched_sign_in_and_cache(strategy: &str) {
    let (m, url) = mock();
    let server = start(strategy, &url, "30");
    let mut c = Client::new(server.port);
    signed_in(&mut c);
    assert_eq!(m.calls(), 1, "one signIn call");
    {
        let bodies = m.bodies.lock().unwrap();
        let b = &bodies[0];
        assert_eq!(b["event"], json!("signIn"));
        assert_eq!(b["user"]["email"], json!("ada@example.com"));
        assert_eq!(b["user"]["attributes"]["role"], json!("admin"));
        assert!(!b.to_string().contains(PASSWORD), "no password sent: {b}");
    }
    let s = c.session();
    assert_eq!(s["user"]["plan"], json!("pro"), "merged and exposed: {s}");
    assert_eq!(s["user"]["role"], json!("admin"), "{s}");
    assert_eq!(
        s["user"]["email"],
        json!("ada@example.com"),
        "reserved ignored"
    );
    assert_ne!(s["user"]["id"], json!("hijacked"), "reserved ignored");
    assert!(s["user"].get("internal").is_none(), "not exposed: {s}");
    for _ in 0..5 {
        assert_eq!(c.session()["user"]["plan"], json!("pro"));
    }
    assert_eq!(m.calls(), 1, "session reads hit the cache");
}

#[test]
fn database_sign_in_merges_attributes_and_reads_hit_the_cache() {
    enriched_sign_in_and_cache("database");
}

#[test]
fn jwt_sign_in_merges_attributes_and_reads_hit_the_cache() {
    enriched_sign_in_and_cache("jwt");
}

#[test]
fn a_failing_slow_or_malformed_webhook_refuses_the_sign_in() {
    let (m, url) = mock();
    let server = start("database", &url, "30");
    for mode in [FAIL, SLOW, MALFORMED] {
        m.set(mode);
        let before = m.calls();
        let mut c = Client::new(server.port);
        let started = std::time::Instant::now();
        let r = c.sign_in("username", "ada@example.com", PASSWORD);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the timeout applies"
        );
        assert_eq!(m.calls(), before + 1, "mode {mode}: called");
        assert_eq!(r.status, 302, "mode {mode}: {r:?}");
        let loc = r.header("location").unwrap();
        assert!(loc.contains("error=AccessDenied"), "mode {mode}: {loc}");
        assert!(
            c.jar.0.keys().all(|k| !k.contains("session-token")),
            "mode {mode}: no session cookie: {:?}",
            c.jar
        );
        assert_eq!(c.session(), Value::Null, "mode {mode}: no session");
    }
    // Healthy again: sign-in works.
    m.set(OK);
    let mut c = Client::new(server.port);
    signed_in(&mut c);
    assert_eq!(c.session()["user"]["plan"], json!("pro"));
}

#[test]
fn a_failing_webhook_on_a_later_session_read_still_serves_the_session() {
    for strategy in ["database", "jwt"] {
        let (m, url) = mock();
        let server = start(strategy, &url, "1");
        let mut c = Client::new(server.port);
        signed_in(&mut c);
        m.set(FAIL);
        std::thread::sleep(Duration::from_millis(1200));
        let s = c.session();
        assert_eq!(
            s["user"]["email"],
            json!("ada@example.com"),
            "{strategy}: {s}"
        );
        assert_eq!(
            s["user"]["plan"],
            json!("pro"),
            "{strategy}: last cached value"
        );
        assert_eq!(m.calls(), 2, "{strategy}: one session call");
        // Not retried on every read while the failure is cached.
        for _ in 0..3 {
            assert_eq!(c.session()["user"]["role"], json!("admin"));
        }
        assert!(m.calls() <= 3, "{strategy}: {} calls", m.calls());
        // A slow webhook: the session is served within the timeout.
        m.set(SLOW);
        std::thread::sleep(Duration::from_millis(1200));
        let started = std::time::Instant::now();
        let s = c.session();
        assert!(started.elapsed() < Duration::from_secs(2), "{strategy}");
        assert_eq!(s["user"]["plan"], json!("pro"), "{strategy}: {s}");
        // Healthy again: fresh data after the cache expires.
        m.set(OK);
        std::thread::sleep(Duration::from_millis(1200));
        assert_eq!(c.session()["user"]["plan"], json!("pro"));
        assert_eq!(c.get("/api/auth/session").status, 200);
    }
}
