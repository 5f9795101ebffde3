//! Rate limiting of credentials sign-in: SECURITY.md CRD-06 (brute force on one account,
//! rotating `X-Forwarded-For` does not help), CRD-07 (password spraying from one IP) and
//! FLT-05 (a failing limiter fails closed with 503, never unlimited).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::StatusCode;
use portcullis::adapter::AdapterError;
use portcullis::{ClientIp, MemoryRateLimiter, RateDecision, RateLimiter, RateLimits};
use serde_json::json;

const LIMITS: RateLimits = RateLimits {
    per_identifier: (3, Duration::from_secs(60)),
    per_ip: (5, Duration::from_secs(60)),
    email_per_identifier: (5, Duration::from_secs(3600)),
    email_per_ip: (20, Duration::from_secs(3600)),
    verify_per_identifier: (10, Duration::from_secs(900)),
};

fn limited<L: RateLimiter>(limiter: Arc<L>) -> Harness {
    Harness::builder()
        .configure(move |b| b.rate_limiter(limiter).rate_limits(LIMITS))
        .build()
}

async fn attempt(
    h: &Harness,
    jar: &Jar,
    token: &str,
    user: &str,
    password: &str,
    ip: Option<&str>,
    xff: Option<&str>,
) -> Res {
    let mut req = post_form(
        "/callback/credentials",
        &[
            ("csrfToken", token),
            ("username", user),
            ("password", password),
        ],
    )
    .jar(jar);
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    let mut req = req.build();
    if let Some(ip) = ip {
        req.extensions_mut()
            .insert(ClientIp(ip.parse::<IpAddr>().unwrap()));
    }
    Res::from(h.auth.handle(req).await)
}

fn assert_too_many(res: &Res, max_secs: u64) {
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    assert_eq!(res.json(), json!({"error": "TooManyRequests"}));
    let secs: u64 = res
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=max_secs).contains(&secs), "Retry-After {secs}");
    assert!(res.cookies.is_empty(), "no cookie changes: {res:?}");
}

#[tokio::test]
async fn identifier_limit_blocks_before_authorize_and_spares_other_accounts() {
    let h = limited(Arc::new(MemoryRateLimiter::new()));
    let (jar, token) = h.with_csrf().await;
    for i in 0..3 {
        let res = attempt(&h, &jar, &token, "alice", "wrong", None, None).await;
        assert_eq!(res.status, StatusCode::FOUND, "attempt {i}: {res:?}");
    }
    assert_eq!(h.calls(), 3);
    // Case and surrounding spaces do not make a fresh bucket; the right password neither.
    for user in ["alice", " ALICE ", "Alice"] {
        let res = attempt(&h, &jar, &token, user, "wonderland", None, None).await;
        assert_too_many(&res, 60);
    }
    assert_eq!(h.calls(), 3, "authorize not called over the limit");
    // Another account is unaffected.
    let res = attempt(&h, &jar, &token, "bob", "x", None, None).await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    assert_eq!(h.calls(), 4);
}

#[tokio::test]
async fn within_the_limit_sign_in_still_works() {
    let h = limited(Arc::new(MemoryRateLimiter::new()));
    let (jar, token) = h.with_csrf().await;
    let res = attempt(&h, &jar, &token, "alice", "wonderland", None, None).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(res.written().iter().any(|c| h.is_session_cookie(&c.name)));
}

#[tokio::test]
async fn no_limiter_means_no_limit() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    for _ in 0..10 {
        let res = attempt(&h, &jar, &token, "alice", "wrong", None, None).await;
        assert_eq!(res.status, StatusCode::FOUND);
    }
    assert_eq!(h.calls(), 10);
}

#[tokio::test]
async fn per_ip_limit_stops_spraying_across_usernames() {
    // CRD-07: one attempt each on many accounts from one address.
    let h = limited(Arc::new(MemoryRateLimiter::new()));
    let (jar, token) = h.with_csrf().await;
    for i in 0..5 {
        let res = attempt(
            &h,
            &jar,
            &token,
            &format!("user{i}"),
            "pw",
            Some("203.0.113.7"),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    }
    let res = attempt(&h, &jar, &token, "user99", "pw", Some("203.0.113.7"), None).await;
    assert_too_many(&res, 60);
    assert_eq!(h.calls(), 5);
    // Another client address still gets through.
    let res = attempt(
        &h,
        &jar,
        &token,
        "user100",
        "pw",
        Some("198.51.100.1"),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(h.calls(), 6);
}

#[tokio::test]
async fn rotating_x_forwarded_for_does_not_help() {
    // CRD-06: the core never reads X-Forwarded-For; the account bucket and the IP bucket
    // (from ClientIp) stay the same whatever the header says.
    let h = limited(Arc::new(MemoryRateLimiter::new()));
    let (jar, token) = h.with_csrf().await;
    for i in 0..20 {
        let xff = format!("10.0.{}.{}", i / 250, i % 250 + 1);
        let res = attempt(
            &h,
            &jar,
            &token,
            "alice",
            "guess",
            Some("203.0.113.9"),
            Some(&xff),
        )
        .await;
        if i < 3 {
            assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
        } else {
            assert_too_many(&res, 60);
        }
    }
    assert_eq!(h.calls(), 3);
    // Spraying with rotating headers hits the IP bucket (5) all the same.
    for i in 0..10 {
        let xff = format!("10.1.0.{}", i + 1);
        let res = attempt(
            &h,
            &jar,
            &token,
            &format!("victim{i}"),
            "pw",
            Some("203.0.113.9"),
            Some(&xff),
        )
        .await;
        if i >= 2 {
            assert_too_many(&res, 60);
        }
    }
    assert!(h.calls() <= 5, "calls {}", h.calls());
}

#[tokio::test]
async fn windows_end() {
    let h = Harness::builder()
        .configure(|b| {
            b.rate_limiter(Arc::new(MemoryRateLimiter::new()))
                .rate_limits(RateLimits {
                    per_identifier: (1, Duration::from_millis(300)),
                    per_ip: (100, Duration::from_secs(60)),
                    ..RateLimits::default()
                })
        })
        .build();
    let (jar, token) = h.with_csrf().await;
    assert_eq!(
        attempt(&h, &jar, &token, "alice", "x", None, None)
            .await
            .status,
        StatusCode::FOUND
    );
    let res = attempt(&h, &jar, &token, "alice", "wonderland", None, None).await;
    assert_too_many(&res, 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let res = attempt(&h, &jar, &token, "alice", "wonderland", None, None).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(res.written().iter().any(|c| h.is_session_cookie(&c.name)));
}

struct Broken;

#[portcullis::async_trait]
impl RateLimiter for Broken {
    async fn hit(&self, _: &str, _: u32, _: Duration) -> Result<RateDecision, AdapterError> {
        Err(AdapterError::unavailable(std::io::Error::other(
            "redis down",
        )))
    }
}

#[tokio::test]
async fn a_failing_limiter_fails_closed() {
    // FLT-05: never unlimited.
    let h = limited(Arc::new(Broken));
    let (jar, token) = h.with_csrf().await;
    for ip in [None, Some("203.0.113.1")] {
        let res = attempt(&h, &jar, &token, "alice", "wonderland", ip, None).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
        assert_eq!(res.json(), json!({"error": "RateLimiterUnavailable"}));
        assert!(res.header("retry-after").is_some());
        assert!(res.cookies.is_empty(), "never a session: {res:?}");
    }
    assert_eq!(h.calls(), 0, "authorize not called");
}

#[tokio::test]
async fn the_csrf_check_comes_first() {
    let h = limited(Arc::new(Broken));
    let (jar, _) = h.with_csrf().await;
    let res = attempt(&h, &jar, "forged", "alice", "wonderland", None, None).await;
    assert_ne!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h.calls(), 0);
}

#[test]
fn zero_limits_are_refused() {
    let e = portcullis::AuthConfig::builder(portcullis::DefaultCallbacks)
        .secret(SECRET)
        .url(ORIGIN)
        .rate_limits(RateLimits {
            per_identifier: (0, Duration::from_secs(1)),
            per_ip: (1, Duration::ZERO),
            ..RateLimits::default()
        })
        .build()
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("per_identifier") && text.contains("per_ip"),
        "{text}"
    );
}
