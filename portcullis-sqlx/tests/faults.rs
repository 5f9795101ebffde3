//! SECURITY.md FLT-09 at the store level (the OAuth callback's one write that links two
//! rows): the PostgreSQL backend serving `create_user_with_account` is killed
//! (`pg_terminate_backend`) while its transaction holds the new user and waits to insert the
//! account. After the kill neither row exists, and the same call succeeds afterwards: a
//! crash between "user created" and "account linked" never leaves a half-linked user.
//!
//! The pause is made deterministic with a lock, not a delay: another connection holds
//! `LOCK TABLE accounts IN EXCLUSIVE MODE`, and the test waits until `pg_stat_activity` shows
//! the adapter's backend blocked on that lock inside its `INSERT INTO accounts` — so the
//! user row has been written in the open transaction — before it kills the backend.
//!
//! (SQLite takes its write lock at `BEGIN IMMEDIATE`, before the user insert, so there is no
//! "between" point another process can hold it at; the process-kill test of the server on
//! SQLite is `portcullis-server/tests/faults.rs`, and FLT-02's conformance case
//! `create_user_with_account_is_atomic` fails the account insert on every backend.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::PgHarness;
use portcullis::adapter::UserAdapter;
use portcullis_adapter_tests::fixtures;
use portcullis_sqlx::sqlx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flt_09_a_backend_killed_between_user_and_account_leaves_neither() {
    let Some(h) = PgHarness::new("flt_09_killed_between_user_and_account").await else {
        return;
    };
    let user = fixtures::user();
    let account = fixtures::account(&user.id);

    let mut blocker = h.raw.begin().await.unwrap();
    sqlx::query("LOCK TABLE accounts IN EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let adapter = h.adapter.clone();
    let (u, a) = (user.clone(), account.clone());
    let call = tokio::spawn(async move { adapter.create_user_with_account(&u, &a).await });

    // The adapter's backend, blocked on the lock in its account insert (the user row is
    // already written in its transaction).
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid: i32 = loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' \
             AND state = 'active' AND query LIKE 'INSERT INTO accounts%'",
        )
        .fetch_optional(&h.raw)
        .await
        .unwrap();
        if let Some(pid) = pid {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the adapter never blocked on the account insert"
        );
        assert!(!call.is_finished(), "the call ended without blocking");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Inside that transaction the user exists (visible to nobody else yet).
    let in_tx: Option<String> =
        sqlx::query_scalar("SELECT backend_xid::text FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&h.raw)
            .await
            .unwrap();
    assert!(in_tx.is_some(), "the backend has written nothing yet");

    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&h.raw)
        .await
        .unwrap();
    assert!(killed);
    blocker.rollback().await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("the call returns once its backend is gone")
        .unwrap();
    assert!(result.is_err(), "a killed transaction reported success");

    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
        .bind(&user.id)
        .fetch_one(&h.raw)
        .await
        .unwrap();
    let accounts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM accounts WHERE provider = $1 AND provider_account_id = $2",
    )
    .bind(&account.provider)
    .bind(&account.provider_account_id)
    .fetch_one(&h.raw)
    .await
    .unwrap();
    assert_eq!((users, accounts), (0, 0), "a half-linked user survived");
    assert_eq!(h.adapter.user(&user.id).await.unwrap(), None);

    // The retry (the user signing in again) creates both.
    let stored = h
        .adapter
        .create_user_with_account(&user, &account)
        .await
        .unwrap();
    assert_eq!(stored.id, user.id);
    assert_eq!(
        h.adapter
            .user_by_account(&account.provider, &account.provider_account_id)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(user.id.clone())
    );
    h.db.drop_now().await;
}
