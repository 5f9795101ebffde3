//! Micro-benchmark of the database-strategy lookup on Redis: one
//! `SessionAdapter::session_and_user` of an existing session (seeded once before the loop),
//! polled with `block_on` on a current-thread runtime. Redis holds no users, so this is the
//! trait's default — one `HGETALL` of the session hash, user `None`; the strategy then asks
//! the user store separately.
//!
//! Uses the server at `PORTCULLIS_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) under a
//! random key prefix (`pcr-bench:{16 hex}:`) whose keys are deleted afterwards. Skipped,
//! with a notice, when Redis is unreachable.
//!
//! Run: `cargo bench -p portcullis-redis --bench lookup`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use portcullis::adapter::SessionAdapter;
use portcullis_adapter_tests::fixtures;
use portcullis_redis::RedisAdapter;

fn main() {
    divan::main();
}

fn redis_url() -> String {
    std::env::var("PORTCULLIS_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A fresh random prefix: `pcr-bench:{16 hex}:`.
fn random_prefix() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("pcr-bench:{hex}:")
}

/// Deletes every key under `prefix` (SCAN, not KEYS: the server may be shared).
fn delete_prefix(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)?;
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).exec(&mut conn)?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

#[divan::bench]
fn redis_session_and_user(bencher: divan::Bencher<'_, '_>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = redis_url();
    let prefix = random_prefix();
    let adapter = match rt.block_on(RedisAdapter::connect(&url)) {
        Ok(a) => a.with_prefix(prefix.clone()),
        Err(e) => {
            eprintln!("notice: skipping redis_session_and_user: Redis at {url} unreachable ({e})");
            return;
        }
    };
    let session = fixtures::session(&fixtures::unique("user"));
    rt.block_on(adapter.create_session(&session)).unwrap();
    let found = rt.block_on(adapter.session_and_user(&session.key)).unwrap();
    assert_eq!(found, Some((session.clone(), None)));
    bencher.bench_local(|| {
        rt.block_on(adapter.session_and_user(black_box(&session.key)))
            .unwrap()
    });
    drop(adapter);
    if let Err(e) = delete_prefix(&url, &prefix) {
        eprintln!("notice: could not delete the bench keys under {prefix}: {e}");
    }
}
