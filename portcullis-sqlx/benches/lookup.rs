//! Micro-benchmarks of the database-strategy lookup: one
//! `SessionAdapter::session_and_user` (the session row joined with its user, the read every
//! `GET /session` does with `SessionStrategy::Database`) of an existing session, seeded once
//! before the loop, polled with `block_on` on a current-thread runtime.
//!
//! - `sqlite_session_and_user`: an in-memory database (`memory`) and a database file in a
//!   temporary directory (`file`, WAL, separate reader pool).
//! - `postgres_session_and_user`: a database of its own, created from `template0` on the
//!   server at `PORTCULLIS_TEST_POSTGRES_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/test`) and dropped afterwards; with the adapter's
//!   default pool (`default_pool`: sqlx's ping before every query, one more round trip per
//!   read, kept because it replaces a connection the server ended while it sat idle) and
//!   without it (`no_ping`: what that check costs; not a safe setting). Skipped, with a notice, when the server is unreachable.
//!
//! Run: `cargo bench -p portcullis-sqlx --bench lookup`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use portcullis::adapter::{SessionAdapter, UserAdapter};
use portcullis_adapter_tests::fixtures;
use portcullis_sqlx::sqlx;
use portcullis_sqlx::sqlx::postgres::{PgPool, PgPoolOptions};
use portcullis_sqlx::{PostgresAdapter, SqliteAdapter};
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

/// A current-thread runtime with IO and timers (the pools need both).
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A name no other run (or other bench of this run) uses: lowercase hex.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{:x}{:x}{:x}",
        nanos & 0xffff_ffff_ffff,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Seeds a user and one of its sessions, checks the lookup returns both exactly, then
/// measures the lookup.
fn bench_lookup<A: SessionAdapter + UserAdapter>(
    bencher: divan::Bencher<'_, '_>,
    rt: &Runtime,
    adapter: &A,
) {
    let user = fixtures::user();
    let session = fixtures::session(&user.id);
    rt.block_on(adapter.create_user(&user)).unwrap();
    rt.block_on(adapter.create_session(&session)).unwrap();
    let found = rt.block_on(adapter.session_and_user(&session.key)).unwrap();
    assert_eq!(found, Some((session.clone(), Some(user))));
    bencher.bench_local(|| {
        rt.block_on(adapter.session_and_user(black_box(&session.key)))
            .unwrap()
    });
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("portcullis-bench-{}", unique_suffix()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SQLite, in memory or in a file (migrations applied by the adapter on open).
#[divan::bench(args = ["memory", "file"])]
fn sqlite_session_and_user(bencher: divan::Bencher<'_, '_>, storage: &str) {
    let rt = runtime();
    let dir = TempDir::new();
    let adapter = rt.block_on(async {
        if storage == "memory" {
            SqliteAdapter::in_memory().await
        } else {
            SqliteAdapter::connect(dir.0.join("auth.db").to_str().unwrap()).await
        }
    });
    let adapter = adapter.unwrap();
    bench_lookup(bencher, &rt, &adapter);
    rt.block_on(adapter.close());
}

/// The server the PostgreSQL bench uses.
fn postgres_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// PostgreSQL, on a database created for this run and dropped after it.
#[divan::bench(args = ["default_pool", "no_ping"])]
fn postgres_session_and_user(bencher: divan::Bencher<'_, '_>, pool: &str) {
    let rt = runtime();
    let admin_url = postgres_url();
    let admin = rt.block_on(
        PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&admin_url),
    );
    let admin: PgPool = match admin {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "notice: skipping postgres_session_and_user: PostgreSQL at {admin_url} unreachable ({e})"
            );
            return;
        }
    };
    // "portcullis_bench_" + hex digits we generated: safe to splice.
    let name = format!("portcullis_bench_{}", unique_suffix());
    rt.block_on(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE template0"
        )))
        .execute(&admin),
    )
    .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    let options = match pool {
        "default_pool" => PostgresAdapter::pool_options(),
        _ => PostgresAdapter::pool_options().test_before_acquire(false),
    };
    let adapter = rt
        .block_on(PostgresAdapter::connect_with(options, url.as_str()))
        .unwrap();
    bench_lookup(bencher, &rt, &adapter);
    rt.block_on(async {
        adapter.close().await;
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await {
            eprintln!("notice: could not drop bench database {name}: {e}");
        }
        admin.close().await;
    });
}
