//! Shared test setup: the Redis URL, a random key prefix per test, and cleanup of that
//! prefix's keys when the test ends (also when it fails).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_redis::RedisAdapter;
use redis::aio::MultiplexedConnection;
use time::OffsetDateTime;

/// `PORTCULLIS_TEST_REDIS_URL`, default the local server.
pub fn redis_url() -> String {
    std::env::var("PORTCULLIS_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether a missing Redis fails the test rather than skipping it.
pub fn services_required() -> bool {
    std::env::var("PORTCULLIS_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A fresh random prefix: `pcr-test:{16 hex}:`.
pub fn random_prefix() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("random bytes");
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("pcr-test:{hex}:")
}

/// An adapter under a random prefix, a raw connection for checking what was stored, and
/// cleanup of the prefix on drop.
pub struct TestRedis {
    pub adapter: RedisAdapter,
    pub raw: MultiplexedConnection,
    pub prefix: String,
    url: String,
}

impl TestRedis {
    /// Connects, or returns `None` (with a notice) when Redis is not reachable and not
    /// required.
    pub async fn new(test: &str) -> Option<Self> {
        let url = redis_url();
        let prefix = random_prefix();
        let adapter = match RedisAdapter::connect(&url).await {
            Ok(a) => a.with_prefix(prefix.clone()),
            Err(e) => {
                if services_required() {
                    panic!("Redis at {url} is required (PORTCULLIS_REQUIRE_SERVICES=1): {e:?}");
                }
                eprintln!("notice: skipping {test}: Redis at {url} unreachable ({e:?})");
                return None;
            }
        };
        let raw = redis::Client::open(url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection");
        Some(Self {
            adapter,
            raw,
            prefix,
            url,
        })
    }

    /// Every key under this test's prefix (SCAN on the test's own random prefix).
    pub async fn keys(&self) -> Vec<String> {
        let mut raw = self.raw.clone();
        let mut cursor = 0u64;
        let mut out = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut raw)
                .await
                .expect("scan");
            out.extend(batch);
            if next == 0 {
                out.sort();
                return out;
            }
            cursor = next;
        }
    }

    /// Runs one raw command.
    pub async fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let mut raw = self.raw.clone();
        cmd.query_async(&mut raw).await.expect("raw command")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        // Synchronous, so it also runs after a panic; deletes only this test's keys.
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        // SCAN, not KEYS: the server is shared and KEYS blocks it.
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
            else {
                return;
            };
            if !keys.is_empty() {
                let _: Result<i64, _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

/// Now, truncated to milliseconds (what the store keeps).
pub fn now_ms() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .expect("valid")
}

/// Milliseconds since the epoch.
pub fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).expect("fits")
}

/// A `redis-server` child on a loopback port; killed (by its own pid) on drop.
pub struct PrivateRedis {
    child: Option<Child>,
    port: u16,
}

impl PrivateRedis {
    pub fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args([
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--protected-mode",
                "yes",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let me = Self {
            child: Some(child),
            port,
        };
        me.wait_ready();
        me
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(200))
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "private redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `SHUTDOWN NOSAVE`, as an operator's restart would, then reaps the process.
    pub fn shutdown(&mut self) {
        let client = redis::Client::open(self.url()).unwrap();
        if let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(1)) {
            // The server closes the connection instead of answering.
            let _: Result<(), _> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut c);
        }
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a `redis-server` binary is on the machine (required under
/// `PORTCULLIS_REQUIRE_SERVICES=1`); `test` names the skipped test in the notice.
pub fn redis_server_available(test: &str) -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !services_required(),
            "redis-server is required (PORTCULLIS_REQUIRE_SERVICES=1)"
        );
        eprintln!("notice: skipping {test}: no redis-server binary");
    }
    found
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
