//! Password sign-ins per second on a 2-worker runtime, and what they do to `GET /session`.
//!
//! `cargo bench -p portcullis --bench signin_load` (add `-- --seconds N` to change the load
//! phase, default 5). Prints:
//! - `GET /session` latency (p50 / p99) alone;
//! - sign-ins per second with 16 clients signing in at once (each one an Argon2id
//!   verification with OWASP parameters, on the hasher's own threads);
//! - `GET /session` latency (p50 / p99) *while* that load runs.
//!
//! - medians of failed sign-ins for a wrong password and for an unknown user, and of reset
//!   requests for a known and an unknown address (enumeration: they should match).
//!
//! The second latency staying in microseconds shows the hashing does not block the async
//! workers. Numbers are for comparison between runs on one machine; nothing asserts them.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{AdapterUser, PasswordAdapter, UserAdapter};
use portcullis::email::{EmailMessage, SendError, Sender};
use portcullis::password::PasswordHasher;
use portcullis::{Auth, AuthConfig, DefaultCallbacks, Passwords};

/// Drops every message (the mails of the reset timing check).
struct Discard;

#[portcullis::async_trait]
impl Sender for Discard {
    async fn send(&self, _: &EmailMessage) -> Result<(), SendError> {
        Ok(())
    }
}

/// Median of `n` sequential POSTs of `form` to `path`.
async fn median_post(auth: &Auth, path: &str, cookie: &str, form: &str, n: usize) -> Duration {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let res = auth.handle(request(Method::POST, path, cookie, form)).await;
        out.push(t.elapsed());
        assert_eq!(res.status(), 302);
    }
    out.sort();
    percentile(&out, 0.5)
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

const ORIGIN: &str = "http://bench.example";
const SECRET: &str = "portcullis-bench-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery staple";

fn cookies(res: &http::Response<Bytes>) -> Vec<String> {
    res.headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

fn request(method: Method, path: &str, cookie: &str, body: &str) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(format!("/api/auth{path}"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

async fn session_latencies(auth: &Auth, cookie: &str, n: usize, pause: Duration) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let res = auth
            .handle(request(Method::GET, "/session", cookie, ""))
            .await;
        out.push(t.elapsed());
        assert_eq!(res.status(), 200);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    out.sort();
    out
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Arc::new(MemoryAdapter::new());
        let user = AdapterUser {
            id: "bench-user".into(),
            email: Some("bench@example.com".into()),
            email_verified: None,
            name: None,
            image: None,
            fields: serde_json::Map::new(),
        };
        store.create_user(&user).await.unwrap();
        let phc = PasswordHasher::default().hash(PASSWORD).await.unwrap();
        store.set_password_hash("bench-user", &phc).await.unwrap();
        let config = AuthConfig::builder(DefaultCallbacks)
            .secret(SECRET)
            .url(ORIGIN)
            .user_adapter(store.clone())
            .password_adapter(store.clone())
            .verification_token_adapter(store.clone())
            .revocation_adapter(store)
            .passwords(Passwords::new().sender(Discard))
            .build()
            .unwrap();
        let auth = Arc::new(Auth::new(config));

        // A CSRF cookie + token, and one session cookie.
        let csrf = auth.handle(request(Method::GET, "/csrf", "", "")).await;
        let csrf_cookie = cookies(&csrf).join("; ");
        let token: serde_json::Value = serde_json::from_slice(csrf.body()).unwrap();
        let token = token["csrfToken"].as_str().unwrap().to_owned();
        let good = form(&[
            ("csrfToken", &token),
            ("email", "bench@example.com"),
            ("password", PASSWORD),
        ]);
        let signed = auth
            .handle(request(
                Method::POST,
                "/callback/credentials",
                &csrf_cookie,
                &good,
            ))
            .await;
        let session_cookie = cookies(&signed)
            .into_iter()
            .find(|c| c.contains("session-token"))
            .expect("the sign-in worked");

        let idle = session_latencies(&auth, &session_cookie, 500, Duration::ZERO).await;

        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::new();
        for _ in 0..16 {
            let (auth, stop, done) = (auth.clone(), stop.clone(), done.clone());
            let (cookie, good) = (csrf_cookie.clone(), good.clone());
            clients.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let res = auth
                        .handle(request(
                            Method::POST,
                            "/callback/credentials",
                            &cookie,
                            &good,
                        ))
                        .await;
                    assert_eq!(res.status(), 302);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let started = Instant::now();
        let mut loaded = Vec::new();
        while started.elapsed() < Duration::from_secs(seconds) {
            loaded.extend(
                session_latencies(&auth, &session_cookie, 10, Duration::from_millis(5)).await,
            );
        }
        stop.store(true, Ordering::Relaxed);
        let elapsed = started.elapsed();
        for c in clients {
            c.await.unwrap();
        }
        loaded.sort();
        #[allow(clippy::cast_precision_loss)]
        let per_sec = done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64();
        println!(
            "2 async workers, {} CPUs, Argon2id m=19456 KiB t=2 p=1",
            std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
        );
        println!(
            "GET /session alone:            p50 {:>9.1?}  p99 {:>9.1?}  ({} requests)",
            percentile(&idle, 0.5),
            percentile(&idle, 0.99),
            idle.len()
        );
        println!("password sign-ins, 16 clients: {per_sec:>8.1} /s over {elapsed:.1?}");
        println!(
            "GET /session under that load:  p50 {:>9.1?}  p99 {:>9.1?}  ({} requests)",
            percentile(&loaded, 0.5),
            percentile(&loaded, 0.99),
            loaded.len()
        );

        // Enumeration (SECURITY.md CRD-02, EML-11): medians of 200 sequential requests.
        let n = 200;
        let wrong = form(&[
            ("csrfToken", &token),
            ("email", "bench@example.com"),
            ("password", "wrong password"),
        ]);
        let unknown = form(&[
            ("csrfToken", &token),
            ("email", "nobody@example.com"),
            ("password", "wrong password"),
        ]);
        let a = median_post(&auth, "/callback/credentials", &csrf_cookie, &wrong, n).await;
        let b = median_post(&auth, "/callback/credentials", &csrf_cookie, &unknown, n).await;
        println!("sign-in p50, wrong password:   {a:>9.1?}   unknown user: {b:>9.1?}   ({n} each)");
        let known = form(&[("csrfToken", &token), ("email", "bench@example.com")]);
        let nobody = form(&[("csrfToken", &token), ("email", "nobody@example.com")]);
        let a = median_post(&auth, "/forgot-password", &csrf_cookie, &known, n).await;
        let b = median_post(&auth, "/forgot-password", &csrf_cookie, &nobody, n).await;
        println!("reset request p50, known:      {a:>9.1?}   unknown:      {b:>9.1?}   ({n} each)");
    });
}
