//! [`RedisRateLimiter`]: counts and window expiry on the shared Redis, and SECURITY.md
//! FLT-05 on a private `redis-server` that is stopped: the limiter fails closed (503
//! through `Auth::handle`, never a session, never unlimited) and works again after a
//! restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{PrivateRedis, TestRedis, free_port, redis_server_available};
use portcullis::{
    Auth, AuthConfig, ClientIp, Credentials, DefaultCallbacks, RateLimiter, RateLimits, User,
};
use portcullis_redis::{RedisAdapter, RedisRateLimiter};

#[tokio::test]
async fn counts_per_key_and_windows_expire() {
    let Some(t) = TestRedis::new("counts_per_key_and_windows_expire").await else {
        return;
    };
    let limiter = RedisRateLimiter::new(&t.adapter);
    let window = Duration::from_millis(700);
    for i in 1..=3 {
        let d = limiter.hit("cred:id:abc", 3, window).await.unwrap();
        assert!(d.allowed, "hit {i}");
        assert!(d.retry_after > Duration::ZERO && d.retry_after <= window);
    }
    let d = limiter.hit("cred:id:abc", 3, window).await.unwrap();
    assert!(!d.allowed, "the 4th hit is over the limit");
    assert!(d.retry_after > Duration::ZERO && d.retry_after <= window);
    assert!(
        limiter
            .hit("cred:ip:203.0.113.7", 3, window)
            .await
            .unwrap()
            .allowed
    );

    // Key layout: prefix + "rate:" + 64 lowercase hex, nothing of the caller's key verbatim.
    let keys = t.keys().await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    for k in &keys {
        let tail = k.strip_prefix(&format!("{}rate:", t.prefix)).expect(k);
        assert_eq!(tail.len(), 64, "{k}");
        assert!(
            tail.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
    let key = limiter.key_for("cred:id:abc");
    assert!(keys.contains(&key));
    let count: i64 = t.raw(redis::cmd("GET").arg(&key)).await;
    assert_eq!(count, 4);
    let pttl: i64 = t.raw(redis::cmd("PTTL").arg(&key)).await;
    assert!(pttl > 0 && pttl <= 700, "{pttl}");

    tokio::time::sleep(Duration::from_millis(800)).await;
    let d = limiter.hit("cred:id:abc", 3, window).await.unwrap();
    assert!(d.allowed, "a new window");
    let count: i64 = t.raw(redis::cmd("GET").arg(&key)).await;
    assert_eq!(count, 1);
}

// ---------------------------------------------------------------------------------------
// FLT-05 on a private redis-server

/// The outcome of one credentials sign-in: status, `Retry-After`, `Set-Cookie` names, body.
struct Outcome {
    status: u16,
    retry_after: Option<String>,
    cookies: Vec<String>,
    body: String,
}

/// GET /csrf, then POST /callback/credentials with the CSRF cookie and token.
async fn sign_in(auth: &Auth, user: &str, password: &str) -> Outcome {
    let req = http::Request::get("https://app.example/api/auth/csrf")
        .body(bytes::Bytes::new())
        .unwrap();
    let res = auth.handle(req).await;
    assert_eq!(res.status().as_u16(), 200);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let json: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    let token = json["csrfToken"].as_str().unwrap().to_owned();

    let builder = http::Request::post("https://app.example/api/auth/callback/credentials")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &cookie);
    let form = format!(
        "csrfToken={}&username={user}&password={password}",
        token.replace('|', "%7C")
    );
    let req = builder
        .extension(ClientIp("203.0.113.5".parse().unwrap()))
        .body(bytes::Bytes::from(form))
        .unwrap();
    let res = auth.handle(req).await;
    Outcome {
        status: res.status().as_u16(),
        retry_after: res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        cookies: res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
            .collect(),
        body: String::from_utf8_lossy(res.body()).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flt05_an_unreachable_limiter_fails_closed_and_recovers() {
    if !redis_server_available("the FLT-05 test") {
        return;
    }
    let port = free_port();
    let mut server = PrivateRedis::start(port);
    let redis = RedisAdapter::connect(&server.url())
        .await
        .unwrap()
        .with_timeout(Duration::from_millis(1500));
    let limiter = Arc::new(RedisRateLimiter::new(&redis));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let config = AuthConfig::builder(DefaultCallbacks)
        .secret("portcullis-redis-ratelimit-secret-0123456789")
        .url("https://app.example")
        .credentials(Credentials::new(move |form, _req| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let ok = form.get("password").and_then(|v| v.as_str()) == Some("wonderland");
                Ok(ok.then(|| User::new("1").with_name("Alice")))
            }
        }))
        .rate_limiter(limiter.clone())
        .rate_limits(RateLimits {
            per_identifier: (3, Duration::from_secs(60)),
            per_ip: (20, Duration::from_secs(60)),
            ..RateLimits::default()
        })
        .build()
        .unwrap();
    let auth = Auth::new(config);
    let is_session = |c: &String| c.contains("session-token");

    let ok = sign_in(&auth, "alice", "wonderland").await;
    assert_eq!(ok.status, 302, "{}", ok.body);
    assert!(ok.cookies.iter().any(is_session));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // --- Redis goes away. ---
    server.kill();
    let started = Instant::now();
    let e = limiter
        .hit("cred:id:x", 3, Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(e.is_unavailable(), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2_000),
        "{:?}",
        started.elapsed()
    );
    for _ in 0..5 {
        let started = Instant::now();
        let res = sign_in(&auth, "alice", "wonderland").await;
        assert_eq!(res.status, 503, "{}", res.body);
        assert_eq!(res.body, r#"{"error":"RateLimiterUnavailable"}"#);
        assert!(res.retry_after.is_some());
        assert!(!res.cookies.iter().any(is_session), "never a session");
        assert!(started.elapsed() < Duration::from_millis(2_000));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "authorize never called during the outage"
    );

    // --- Redis is back (empty): the same limiter and Auth work again. ---
    let _server = PrivateRedis::start(port);
    let started = Instant::now();
    while limiter
        .hit("probe", 100, Duration::from_secs(1))
        .await
        .is_err()
    {
        assert!(started.elapsed() < Duration::from_secs(15), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ok = sign_in(&auth, "alice", "wonderland").await;
    assert_eq!(ok.status, 302, "{}", ok.body);
    assert!(ok.cookies.iter().any(is_session));
    // And the limit holds again.
    for _ in 0..2 {
        assert_eq!(sign_in(&auth, "alice", "nope").await.status, 302);
    }
    let over = sign_in(&auth, "alice", "wonderland").await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}
