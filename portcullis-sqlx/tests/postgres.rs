//! `PostgresAdapter`: the conformance suite, each test on a database of its own
//! (`CREATE DATABASE portcullis_t_<random>`, dropped afterwards), plus what is particular to
//! PostgreSQL (pool exhaustion, error mapping, shared pools, the sweeper).
//!
//! The server is `PORTCULLIS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it cannot be reached the tests print a
//! notice and pass, unless `PORTCULLIS_REQUIRE_SERVICES=1`, when they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{PgHarness, TestDatabase};
use portcullis::adapter::{AdapterError, SessionAdapter, UserAdapter};
use portcullis_adapter_tests::fixtures;
use portcullis_sqlx::PostgresAdapter;
use portcullis_sqlx::sqlx::{self, postgres::PgPoolOptions};

async fn harness() -> Option<PgHarness> {
    PgHarness::new("postgres conformance").await
}

mod postgres {
    portcullis_adapter_tests::all_adapter_tests!(super::harness);
}

/// Runs `f` against a fresh harness and tears it down even when `f` panics.
async fn with_harness<F, Fut>(test: &str, f: F)
where
    F: FnOnce(std::sync::Arc<PgHarness>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    portcullis_adapter_tests::run(|| PgHarness::new(test), f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_from_pool_shares_a_pool() {
    with_harness("migrations_are_idempotent", |h| async move {
        // Migrate again through the adapter, then through a second adapter on the same pool.
        h.adapter.migrate().await.unwrap();
        let shared = PostgresAdapter::from_pool(h.adapter.pool().clone());
        shared.migrate().await.unwrap();
        // Connecting again (which migrates) is fine too.
        let again = PostgresAdapter::connect(&h.db.url).await.unwrap();
        let user = fixtures::user();
        h.adapter.create_user(&user).await.unwrap();
        assert_eq!(shared.user(&user.id).await.unwrap(), Some(user.clone()));
        assert_eq!(again.user(&user.id).await.unwrap(), Some(user));
        again.close().await;
        let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
            .fetch_one(&h.raw)
            .await
            .unwrap();
        assert_eq!(applied, 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_errors_are_classified() {
    with_harness("driver_errors_are_classified", |h| async move {
        let user = fixtures::user();
        h.adapter.create_user(&user).await.unwrap();
        match h.adapter.create_user(&user).await {
            Err(AdapterError::Conflict(msg)) => {
                assert!(msg.contains("users_pkey"), "names the constraint: {msg}");
                assert!(!msg.contains(&user.id), "does not copy the value: {msg}");
            }
            other => panic!("expected Conflict, got {other:?}"),
        }
        let r = h
            .adapter
            .link_account(&fixtures::account("no-such-user"))
            .await;
        assert!(matches!(r, Err(AdapterError::NotFound)), "{r:?}");
        let r = h
            .adapter
            .create_session(&fixtures::session("no-such-user"))
            .await;
        assert!(matches!(r, Err(AdapterError::NotFound)), "{r:?}");

        // A session terminated by the server (57P01) is an outage, with the driver error as
        // the source; the pool replaces the connection and the next call works.
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(h.adapter.pool())
            .await
            .unwrap();
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&h.raw)
            .await
            .unwrap();
        assert!(killed);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut saw = Vec::new();
        for _ in 0..3 {
            match h.adapter.user(&user.id).await {
                Ok(u) => {
                    assert_eq!(u, Some(user.clone()));
                    break;
                }
                Err(e) => {
                    assert!(
                        e.is_unavailable(),
                        "a killed connection is Unavailable, got {e:?}"
                    );
                    let source =
                        std::error::Error::source(&e).and_then(|s| s.downcast_ref::<sqlx::Error>());
                    assert!(source.is_some(), "the sqlx error is kept as the source");
                    saw.push(format!("{e:?}"));
                }
            }
        }
        assert!(saw.len() < 3, "the pool must recover: {saw:?}");
        assert_eq!(h.adapter.user(&user.id).await.unwrap(), Some(user));

        h.adapter.close().await;
        let r = h.adapter.user("x").await;
        assert!(r.as_ref().is_err_and(AdapterError::is_unavailable), "{r:?}");
    })
    .await;
}

/// FLT-07: a pool of 2 and 50 concurrent calls, the two connections held by calls blocked on
/// a row lock: every call returns `Ok` or `Unavailable` within the acquire timeout (plus the
/// lock hold), nothing hangs, and the pool works normally afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_pool_fails_fast() {
    with_harness("exhausted_pool_fails_fast", |h| async move {
        let options = PostgresAdapter::pool_options().max_connections(2).acquire_timeout(Duration::from_secs(1));
        let small = std::sync::Arc::new(PostgresAdapter::connect_with(options, &h.db.url).await.unwrap());
        let user = fixtures::user();
        small.create_user(&user).await.unwrap();
        let s = fixtures::session(&user.id);
        small.create_session(&s).await.unwrap();

        // Hold the session row locked from outside the pool for 2 s.
        let mut locker = h.raw.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM sessions WHERE key = $1 FOR UPDATE")
            .bind(s.key.as_str())
            .execute(&mut *locker)
            .await
            .unwrap();
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let small = small.clone();
            let key = s.key.clone();
            tasks.spawn(async move {
                let t = Instant::now();
                let r = small.touch_session(&key, fixtures::now_ms(), fixtures::now_ms()).await;
                (r, t.elapsed())
            });
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        locker.rollback().await.unwrap();

        let (mut ok, mut unavailable, mut slowest) = (0, 0, Duration::ZERO);
        while let Some(joined) = tasks.join_next().await {
            let (r, took) = joined.unwrap();
            slowest = slowest.max(took);
            match r {
                Ok(Some(_)) => ok += 1,
                Err(e) if e.is_unavailable() => unavailable += 1,
                other => panic!("expected Ok or Unavailable, got {other:?}"),
            }
        }
        let total = started.elapsed();
        eprintln!("FLT-07: {ok} ok, {unavailable} unavailable, slowest call {slowest:?}, all done in {total:?}");
        assert_eq!(ok + unavailable, 50);
        assert!(ok >= 2, "the two calls holding connections finish once the lock is released");
        assert!(unavailable >= 1, "callers that could not get a connection fail fast");
        assert!(slowest < Duration::from_secs(4), "no call waits past lock hold + acquire timeout");
        // The pool is healthy afterwards.
        assert!(small.touch_session(&s.key, s.expires, s.last_used_at).await.unwrap().is_some());
        small.close().await;
    })
    .await;
}

#[tokio::test]
async fn unreachable_server_is_an_unavailable_connect_error() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = PgPoolOptions::new().acquire_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let r =
        PostgresAdapter::connect_with(options, &format!("postgres://postgres@127.0.0.1:{port}/x"))
            .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    match r {
        Err(e) => {
            assert!(e.is_unavailable(), "{e:?}");
            assert!(AdapterError::from(e).is_unavailable());
        }
        Ok(_) => panic!("nothing listens there"),
    }
    let r = PostgresAdapter::connect("not a url").await;
    assert!(
        matches!(r, Err(portcullis_sqlx::Error::Options(_))),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeper_deletes_expired_sessions() {
    with_harness("sweeper_deletes_expired_sessions", |h| async move {
        let user = fixtures::user();
        h.adapter.create_user(&user).await.unwrap();
        let live = fixtures::session(&user.id);
        let mut dead = fixtures::session(&user.id);
        dead.expires = fixtures::now_ms() - time::Duration::seconds(1);
        h.adapter.create_session(&live).await.unwrap();
        h.adapter.create_session(&dead).await.unwrap();
        let sweeper = h.adapter.spawn_sweeper(Duration::from_millis(50));
        let deadline = Instant::now() + Duration::from_secs(5);
        while h.adapter.session(&dead.key).await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "the sweeper did not run");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(h.adapter.session(&live.key).await.unwrap().is_some());
        drop(sweeper);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_types() {
    with_harness("schema_types", |h| async move {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name IN ('users', 'sessions', 'verification_tokens') \
               AND column_name IN ('email_verified', 'not_before', 'expires', 'created_at', 'last_used_at', 'fields')",
        )
        .fetch_all(&h.raw)
        .await
        .unwrap();
        assert!(!rows.is_empty());
        for (table, column, ty) in rows {
            let expected = if column == "fields" { "jsonb" } else { "timestamp with time zone" };
            assert_eq!(ty, expected, "{table}.{column}");
        }
        let cascades: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.referential_constraints WHERE delete_rule = 'CASCADE'",
        )
        .fetch_one(&h.raw)
        .await
        .unwrap();
        assert_eq!(cascades, 3, "accounts, sessions and credentials cascade from users");
    })
    .await;
}

#[tokio::test]
async fn test_databases_are_dropped() {
    let Some(db) = TestDatabase::create("test_databases_are_dropped").await else {
        return;
    };
    let name = db.name.clone();
    db.drop_now().await;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&common::postgres_url())
        .await
        .unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(!exists);
    admin.close().await;
}

/// What `Manage::delete_user` does: delete the user, then revoke its JWTs. The revocation
/// must be recordable for a deleted (or never stored) user and must outlive `delete_user`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_outlives_the_user_row() {
    with_harness("revocation_outlives_the_user_row", |h| async move {
        use portcullis::adapter::RevocationAdapter;
        let user = fixtures::user();
        h.adapter.create_user(&user).await.unwrap();
        let first = fixtures::ms(1_700_000_000_001);
        h.adapter.set_not_before(&user.id, first).await.unwrap();
        h.adapter.delete_user(&user.id).await.unwrap();
        assert_eq!(h.adapter.not_before(&user.id).await.unwrap(), Some(first));
        h.adapter
            .set_not_before("credentials-only", first)
            .await
            .unwrap();
        assert_eq!(
            h.adapter.not_before("credentials-only").await.unwrap(),
            Some(first)
        );
    })
    .await;
}
