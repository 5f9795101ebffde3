//! SECURITY.md FLT-04 / FLT-01: a private Redis (no persistence) on a spare loopback port is
//! stopped under the adapter and started again. Calls during the outage fail with
//! `Unavailable` within the deadline and never hang or panic; once Redis is back the same
//! adapter works again without being rebuilt, and the data is gone (no persistence).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{PrivateRedis, free_port, now_ms, redis_server_available};
use portcullis::adapter::{
    AdapterSession, RevocationAdapter, SessionAdapter, TokenHash, VerificationToken,
    VerificationTokenAdapter,
};
use portcullis_redis::RedisAdapter;

/// Longest an outage call may take: the adapter's 3 s deadline plus scheduling slack.
const OUTAGE_BOUND: Duration = Duration::from_millis(3_500);

fn session(token: &str) -> AdapterSession {
    let now = now_ms();
    AdapterSession {
        key: TokenHash::of(token),
        user_id: "outage-user".to_owned(),
        expires: now + Duration::from_secs(600),
        created_at: now,
        last_used_at: now,
        user_agent: None,
        ip: None,
    }
}

/// Polls until a call succeeds; returns how long that took.
async fn time_to_recover(db: &RedisAdapter, key: &TokenHash) -> Duration {
    let started = Instant::now();
    loop {
        match db.session(key).await {
            Ok(_) => return started.elapsed(),
            Err(e) => assert!(e.is_unavailable(), "{e:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the adapter did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_is_unavailable_fast_and_the_same_adapter_recovers() {
    if !redis_server_available("the outage test") {
        return;
    }
    let port = free_port();
    let mut server = PrivateRedis::start(port);
    let db = Arc::new(RedisAdapter::connect(&server.url()).await.unwrap());

    let before = session("before-outage");
    db.create_session(&before).await.unwrap();
    let vt = VerificationToken {
        identifier: "outage@example.com".to_owned(),
        token: TokenHash::of("link"),
        expires: now_ms() + Duration::from_secs(600),
    };
    db.create_verification_token(&vt).await.unwrap();
    db.set_not_before("outage-user", now_ms()).await.unwrap();
    assert_eq!(db.session(&before.key).await.unwrap(), Some(before.clone()));

    // --- Outage 1: an orderly restart (SHUTDOWN NOSAVE). ---
    server.shutdown();
    let mut timings = Vec::new();
    for i in 0..5 {
        let started = Instant::now();
        let e = match i % 3 {
            0 => db.session(&before.key).await.map(|_| ()),
            1 => db
                .touch_session(&before.key, now_ms(), now_ms())
                .await
                .map(|_| ()),
            _ => db
                .use_verification_token(&vt.identifier, &vt.token)
                .await
                .map(|_| ()),
        }
        .unwrap_err();
        let took = started.elapsed();
        assert!(e.is_unavailable(), "call {i}: {e:?}");
        assert!(took < OUTAGE_BOUND, "call {i} took {took:?}");
        timings.push(took);
    }
    // Many callers at once: all fail fast, none hangs.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (db, key) = (db.clone(), before.key.clone());
        tasks.spawn(async move { db.session(&key).await });
    }
    while let Some(r) = tasks.join_next().await {
        assert!(r.unwrap().unwrap_err().is_unavailable());
    }
    let burst = started.elapsed();
    assert!(burst < OUTAGE_BOUND, "50 concurrent calls took {burst:?}");

    // Back on the same port: the same adapter reconnects by itself.
    let mut server = PrivateRedis::start(port);
    let recovered = time_to_recover(&db, &before.key).await;
    // No persistence: everything is gone (users are signed out; links no longer work).
    assert_eq!(db.session(&before.key).await.unwrap(), None);
    assert_eq!(
        db.use_verification_token(&vt.identifier, &vt.token)
            .await
            .unwrap(),
        None
    );
    assert_eq!(db.not_before("outage-user").await.unwrap(), None);
    let after = session("after-restart");
    db.create_session(&after).await.unwrap();
    assert_eq!(db.session(&after.key).await.unwrap(), Some(after.clone()));

    // --- Outage 2: a crash (SIGKILL). ---
    server.kill();
    let started = Instant::now();
    let e = db.user_sessions("outage-user").await.unwrap_err();
    let crash_call = started.elapsed();
    assert!(e.is_unavailable(), "{e:?}");
    assert!(crash_call < OUTAGE_BOUND, "{crash_call:?}");
    let _server = PrivateRedis::start(port);
    let recovered_after_crash = time_to_recover(&db, &after.key).await;
    db.create_session(&session("after-crash")).await.unwrap();

    eprintln!(
        "FLT-04 timings: calls during shutdown outage {timings:?}; 50 concurrent calls {burst:?}; \
         recovery after restart {recovered:?}; call after SIGKILL {crash_call:?}; \
         recovery after crash {recovered_after_crash:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_built_before_redis_starts_works_once_it_is_up() {
    if !redis_server_available("the outage test") {
        return;
    }
    let port = free_port();
    let db = RedisAdapter::connect_lazy(&format!("redis://127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    let e = db.not_before("early").await.unwrap_err();
    assert!(e.is_unavailable(), "{e:?}");
    assert!(started.elapsed() < OUTAGE_BOUND, "{:?}", started.elapsed());

    let _server = PrivateRedis::start(port);
    let key = TokenHash::of("early");
    let recovered = time_to_recover(&db, &key).await;
    db.set_not_before("early", now_ms()).await.unwrap();
    assert!(db.not_before("early").await.unwrap().is_some());
    eprintln!(
        "lazy start: first call failed in {:?}; usable {recovered:?} after the server started",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_call_after_a_restart_while_idle_succeeds() {
    if !redis_server_available("the outage test") {
        return;
    }
    let port = free_port();
    let mut server = PrivateRedis::start(port);
    let db = RedisAdapter::connect(&server.url()).await.unwrap();
    let s = session("idle");
    db.create_session(&s).await.unwrap();

    // Restarted between two requests: the adapter's connection is dead but Redis is back.
    server.shutdown();
    let mut server = PrivateRedis::start(port);
    let started = Instant::now();
    assert_eq!(
        db.session(&s.key).await.unwrap(),
        None,
        "reads are retried on the new connection"
    );
    let first_read = started.elapsed();
    db.set_not_before("idle", now_ms()).await.unwrap();

    // Again, with writes: a create and a token use are repeated safely too.
    let vt = VerificationToken {
        identifier: "idle@example.com".to_owned(),
        token: TokenHash::of("idle-link"),
        expires: now_ms() + Duration::from_secs(600),
    };
    server.shutdown();
    let mut server = PrivateRedis::start(port);
    db.create_session(&s).await.unwrap();
    assert_eq!(db.session(&s.key).await.unwrap(), Some(s.clone()));
    server.shutdown();
    let mut server = PrivateRedis::start(port);
    db.create_verification_token(&vt).await.unwrap();
    let key = format!(
        "portcullis:verification:{}:{}",
        TokenHash::of(&vt.identifier).as_str(),
        vt.token.as_str()
    );
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let stored: Option<String> = redis::cmd("GET").arg(&key).query(&mut raw).unwrap();
    assert!(stored.is_some());
    // The token, put back behind the adapter's back after another restart: the first call
    // on the stale connection is the GETDEL.
    server.shutdown();
    let server = PrivateRedis::start(port);
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(stored.unwrap())
        .query(&mut raw)
        .unwrap();
    assert_eq!(
        db.use_verification_token(&vt.identifier, &vt.token)
            .await
            .unwrap(),
        Some(vt.clone())
    );
    assert_eq!(
        db.use_verification_token(&vt.identifier, &vt.token)
            .await
            .unwrap(),
        None
    );
    eprintln!("restart while idle: first read answered in {first_read:?}");
}
