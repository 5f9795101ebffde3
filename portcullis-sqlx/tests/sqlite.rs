//! `SqliteAdapter`: the conformance suite on a fresh file per test and on an in-memory
//! database, plus what is particular to SQLite (directories, reopening, concurrent writers,
//! error mapping, the sweeper).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{SqliteHarness, TempDir};
use portcullis::adapter::{
    AdapterError, AdapterSession, AdapterUser, SessionAdapter, TokenHash, UserAdapter,
    VerificationTokenAdapter,
};
use portcullis_adapter_tests::fixtures;
use portcullis_sqlx::SqliteAdapter;
use portcullis_sqlx::sqlx::{self, Row};

async fn file_harness() -> Option<SqliteHarness> {
    Some(SqliteHarness::file().await)
}

async fn memory_harness() -> Option<SqliteHarness> {
    Some(SqliteHarness::memory().await)
}

mod sqlite_file {
    portcullis_adapter_tests::all_adapter_tests!(super::file_harness);
}

mod sqlite_memory {
    portcullis_adapter_tests::all_adapter_tests!(super::memory_harness);
}

#[tokio::test]
async fn creates_missing_nested_directories() {
    let dir = TempDir::new();
    let path = dir.path().join("a/b/c/auth.db");
    assert!(!path.parent().unwrap().exists());
    let db = SqliteAdapter::connect(path.to_str().unwrap())
        .await
        .unwrap();
    let user = fixtures::user();
    db.create_user(&user).await.unwrap();
    db.close().await;
    assert!(path.is_file(), "the database file must exist");

    // The same through a `sqlite:` URL.
    let url = format!("sqlite://{}", dir.path().join("d/e/auth.db").display());
    let db = SqliteAdapter::connect(&url).await.unwrap();
    db.close().await;
    assert!(dir.path().join("d/e/auth.db").is_file());
}

#[tokio::test]
async fn reopening_applies_migrations_idempotently() {
    let dir = TempDir::new();
    let path = dir.path().join("auth.db");
    let path = path.to_str().unwrap();
    let user = fixtures::user();
    {
        let db = SqliteAdapter::connect(path).await.unwrap();
        db.create_user(&user).await.unwrap();
        db.migrate().await.unwrap();
        db.close().await;
    }
    // Reopen twice (migrations run again on each connect); the data survives.
    for _ in 0..2 {
        let db = SqliteAdapter::connect(path).await.unwrap();
        assert_eq!(db.user(&user.id).await.unwrap(), Some(user.clone()));
        db.close().await;
    }
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(applied, 4, "each migration is recorded once");
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    raw.close().await;
}

#[tokio::test]
async fn connection_settings_are_applied() {
    let h = SqliteHarness::file().await;
    let conn = h.adapter.writer_pool();
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(conn)
        .await
        .unwrap();
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(conn)
        .await
        .unwrap();
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(conn)
        .await
        .unwrap();
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(conn)
        .await
        .unwrap();
    assert_eq!(
        (fk, sync, busy),
        (1, 1, 5000),
        "foreign_keys=ON, synchronous=NORMAL, busy_timeout=5s"
    );
    let reader_fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(h.adapter.reader_pool())
        .await
        .unwrap();
    assert_eq!(reader_fk, 1);
    eprintln!("bundled SQLite {version}");
    assert_eq!(
        h.adapter.writer_pool().options().get_max_connections(),
        1,
        "one writer"
    );
    h.adapter.close().await;
}

#[tokio::test]
async fn timestamps_are_integer_milliseconds() {
    let h = SqliteHarness::file().await;
    let user = fixtures::user();
    h.adapter.create_user(&user).await.unwrap();
    let mut s = fixtures::session(&user.id);
    s.expires = fixtures::ms(1_700_000_000_123);
    h.adapter.create_session(&s).await.unwrap();
    let row = sqlx::query("SELECT typeof(expires) AS t, expires FROM sessions")
        .fetch_one(&h.raw)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("t"), "integer");
    assert_eq!(row.get::<i64, _>("expires"), 1_700_000_000_123);

    // Sub-millisecond precision is truncated (toward the past), not rounded.
    let mut fine = fixtures::session(&user.id);
    fine.expires = fixtures::ms(1_700_000_000_123) + time::Duration::microseconds(999);
    fine.created_at = fixtures::ms(-1) - time::Duration::microseconds(1);
    h.adapter.create_session(&fine).await.unwrap();
    let back = h.adapter.session(&fine.key).await.unwrap().unwrap();
    assert_eq!(back.expires, fixtures::ms(1_700_000_000_123));
    assert_eq!(back.created_at, fixtures::ms(-2));
    h.adapter.close().await;
}

/// FLT-06: 100 concurrent writers on one file — four adapters (four writer connections,
/// contending through SQLite's lock and busy timeout) with 25 tasks each (queueing on each
/// adapter's single writer) — all finish without `SQLITE_BUSY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_writers_do_not_fail() {
    let dir = TempDir::new();
    let path = dir.path().join("busy.db");
    let mut adapters = Vec::new();
    for _ in 0..4 {
        adapters.push(Arc::new(
            SqliteAdapter::connect(path.to_str().unwrap())
                .await
                .unwrap(),
        ));
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let db = adapters[i % 4].clone();
        tasks.spawn(async move {
            let user = fixtures::user();
            let account = fixtures::account(&user.id);
            db.create_user_with_account(&user, &account).await?;
            let s = fixtures::session(&user.id);
            db.create_session(&s).await?;
            db.touch_session(&s.key, s.expires, s.last_used_at).await?;
            let (_, t) = fixtures::verification_token(user.email.as_deref().unwrap_or_default());
            db.create_verification_token(&t).await?;
            db.use_verification_token(&t.identifier, &t.token).await?;
            Ok::<_, AdapterError>(())
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.unwrap() {
            failures.push(format!("{e:?}"));
        }
    }
    let elapsed = started.elapsed();
    assert!(failures.is_empty(), "writers failed: {failures:?}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(adapters[0].reader_pool())
        .await
        .unwrap();
    assert_eq!(count, 100);
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(adapters[0].writer_pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    eprintln!("100 writers x 6 writes on 4 adapters: {elapsed:?}");
    for a in adapters {
        a.close().await;
    }
}

/// Real driver errors are mapped: unique → Conflict, missing user → NotFound, closed pool →
/// Unavailable, a locked database past the busy timeout → Unavailable; the driver error is
/// kept as the source.
#[tokio::test]
async fn driver_errors_are_classified() {
    let h = SqliteHarness::file().await;
    let user = fixtures::user();
    h.adapter.create_user(&user).await.unwrap();
    let r = h.adapter.create_user(&user).await;
    assert!(matches!(r, Err(AdapterError::Conflict(_))), "{r:?}");

    let orphan = fixtures::account("no-such-user");
    let r = h.adapter.link_account(&orphan).await;
    assert!(matches!(r, Err(AdapterError::NotFound)), "{r:?}");
    let r = h
        .adapter
        .create_session(&fixtures::session("no-such-user"))
        .await;
    assert!(matches!(r, Err(AdapterError::NotFound)), "{r:?}");

    // Another connection holds the write lock longer than the busy timeout.
    let mut locker = h.raw.acquire().await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut *locker)
        .await
        .unwrap();
    let started = Instant::now();
    let r = h.adapter.create_user(&fixtures::user()).await;
    let waited = started.elapsed();
    sqlx::query("ROLLBACK").execute(&mut *locker).await.unwrap();
    drop(locker);
    match r {
        Err(AdapterError::Unavailable(source)) => {
            let driver = source
                .downcast_ref::<sqlx::Error>()
                .expect("the sqlx error is the source");
            let code = driver
                .as_database_error()
                .and_then(|d| d.code())
                .unwrap_or_default();
            assert_eq!(
                code.parse::<i32>().unwrap_or(0) & 0xff,
                5,
                "SQLITE_BUSY, got {driver}"
            );
        }
        other => panic!("a write blocked past the busy timeout must be Unavailable, got {other:?}"),
    }
    assert!(
        waited >= Duration::from_secs(4),
        "the busy timeout was honoured ({waited:?})"
    );
    // And it works again once the lock is gone.
    h.adapter.create_user(&fixtures::user()).await.unwrap();

    h.adapter.close().await;
    let r = h.adapter.user(&user.id).await;
    match r {
        Err(AdapterError::Unavailable(source)) => {
            assert!(matches!(
                source.downcast_ref::<sqlx::Error>(),
                Some(sqlx::Error::PoolClosed)
            ));
        }
        other => panic!("a closed pool must be Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn unopenable_file_is_a_connect_error() {
    let dir = TempDir::new();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let r = SqliteAdapter::connect(blocker.join("auth.db").to_str().unwrap()).await;
    assert!(
        matches!(r, Err(portcullis_sqlx::Error::CreateDir { .. })),
        "{r:?}"
    );
    std::fs::create_dir_all(dir.path().join("dir.db")).unwrap();
    let r = SqliteAdapter::connect(dir.path().join("dir.db").to_str().unwrap()).await;
    assert!(
        matches!(r, Err(portcullis_sqlx::Error::Connect(_))),
        "{r:?}"
    );
}

#[tokio::test]
async fn session_and_user_is_one_joined_query() {
    let h = SqliteHarness::memory().await;
    let user: AdapterUser = fixtures::user();
    h.adapter.create_user(&user).await.unwrap();
    let s: AdapterSession = fixtures::session(&user.id);
    h.adapter.create_session(&s).await.unwrap();
    let both = h.adapter.session_and_user(&s.key).await.unwrap();
    assert_eq!(both, Some((s, Some(user))));
    // A LEFT JOIN: a session whose user row is missing (written behind the adapter's back,
    // foreign keys off) comes back without a user rather than vanishing.
    let ghost = fixtures::session("ghost-user");
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&h.raw)
        .await
        .unwrap();
    sqlx::query("INSERT INTO sessions (key, user_id, expires, created_at, last_used_at) VALUES (?, 'ghost-user', 1, 1, 1)")
        .bind(ghost.key.as_str())
        .execute(&h.raw)
        .await
        .unwrap();
    let (got, user) = h
        .adapter
        .session_and_user(&ghost.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.user_id.as_str(), user), ("ghost-user", None));
    assert_eq!(
        h.adapter
            .session_and_user(&TokenHash::of("nope"))
            .await
            .unwrap(),
        None
    );
    h.adapter.close().await;
}

#[tokio::test]
async fn sweeper_deletes_expired_sessions_until_dropped() {
    let h = SqliteHarness::file().await;
    let user = fixtures::user();
    h.adapter.create_user(&user).await.unwrap();
    let expired = |minutes_ago: i64| {
        let mut s = fixtures::session(&user.id);
        s.expires = fixtures::now_ms() - time::Duration::minutes(minutes_ago);
        s
    };
    let live = fixtures::session(&user.id);
    h.adapter.create_session(&live).await.unwrap();
    h.adapter.create_session(&expired(5)).await.unwrap();
    h.adapter.create_session(&expired(1)).await.unwrap();

    let sweeper = h.adapter.spawn_sweeper(Duration::from_millis(50));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
            .fetch_one(&h.raw)
            .await
            .unwrap();
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the sweeper did not run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        h.adapter.session(&live.key).await.unwrap().is_some(),
        "live sessions stay"
    );

    drop(sweeper);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let late = expired(1);
    h.adapter.create_session(&late).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        h.adapter.session(&late.key).await.unwrap().is_some(),
        "a dropped sweeper sweeps no more"
    );

    let sweeper = portcullis_sqlx::spawn_sweeper(h.adapter.clone(), Duration::from_millis(50));
    sweeper.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sweeper.is_finished());
    h.adapter.close().await;
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let h = SqliteHarness::file().await;
    let user = fixtures::user();
    h.adapter.create_user(&user).await.unwrap();
    let raw_session_token = "the-raw-session-token";
    let mut s = fixtures::session(&user.id);
    s.key = TokenHash::of(raw_session_token);
    h.adapter.create_session(&s).await.unwrap();
    let (raw_magic, t) = fixtures::verification_token("someone@example.com");
    h.adapter.create_verification_token(&t).await.unwrap();
    h.adapter.close().await;
    h.raw.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(h.adapter.filename().parent().unwrap()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let haystack = String::from_utf8_lossy(&bytes);
    assert!(!haystack.contains(raw_session_token) && !haystack.contains(&raw_magic));
    assert!(haystack.contains(s.key.as_str()) && haystack.contains(t.token.as_str()));
}

/// What `Manage::delete_user` does: delete the user, then revoke its JWTs. The revocation
/// must be recordable for a deleted (or never stored) user and must outlive `delete_user`.
#[tokio::test]
async fn revocation_outlives_the_user_row() {
    let h = SqliteHarness::file().await;
    use portcullis::adapter::RevocationAdapter;
    let user = fixtures::user();
    h.adapter.create_user(&user).await.unwrap();
    let first = fixtures::ms(1_700_000_000_001);
    h.adapter.set_not_before(&user.id, first).await.unwrap();
    h.adapter.delete_user(&user.id).await.unwrap();
    assert_eq!(
        h.adapter.not_before(&user.id).await.unwrap(),
        Some(first),
        "kept after delete_user"
    );
    let later = fixtures::ms(1_700_000_000_002);
    h.adapter.set_not_before(&user.id, later).await.unwrap();
    assert_eq!(h.adapter.not_before(&user.id).await.unwrap(), Some(later));
    // A credentials user that never had a row.
    h.adapter
        .set_not_before("credentials-only", first)
        .await
        .unwrap();
    assert_eq!(
        h.adapter.not_before("credentials-only").await.unwrap(),
        Some(first)
    );
    h.adapter.close().await;
}

/// A database created by the first migration (when `not_before` lived on `users`) keeps its
/// revocations when the second migration moves them to `revocations`.
#[tokio::test]
async fn upgrade_moves_not_before_out_of_users() {
    use portcullis::adapter::RevocationAdapter;
    let dir = TempDir::new();
    let path = dir.path().join("old.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let old = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run_to(20261123000000, &old)
        .await
        .unwrap();
    sqlx::query("INSERT INTO users (id, created_at, not_before) VALUES ('old', 0, 1700000000123), ('plain', 0, NULL)")
        .execute(&old)
        .await
        .unwrap();
    old.close().await;

    let db = SqliteAdapter::connect(path.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        db.not_before("old").await.unwrap(),
        Some(fixtures::ms(1_700_000_000_123))
    );
    assert_eq!(db.not_before("plain").await.unwrap(), None);
    assert!(db.user("old").await.unwrap().is_some());
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('users')")
        .fetch_all(db.reader_pool())
        .await
        .unwrap();
    assert!(!columns.iter().any(|c| c == "not_before"), "{columns:?}");
    db.close().await;
}
