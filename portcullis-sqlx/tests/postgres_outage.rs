//! FLT-01 for PostgreSQL: a **private** server (initdb + pg_ctl in a temp directory, on a
//! free loopback port) is stopped under a live adapter — calls fail with `Unavailable`
//! quickly, without hanging or panicking — and started again, after which the same adapter
//! works without being rebuilt.
//!
//! The binaries are found with a glob (`/usr/lib/postgresql/*/bin`, highest version first,
//! or `PORTCULLIS_PG_BIN`). initdb refuses to run as root, so as root the server runs as the
//! `postgres` (or else `nobody`) user through `runuser`. Without binaries the test prints a
//! notice and passes, unless `PORTCULLIS_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{TempDir, services_required};
use portcullis::adapter::{AdapterError, SessionAdapter, UserAdapter, VerificationTokenAdapter};
use portcullis_adapter_tests::fixtures;
use portcullis_sqlx::PostgresAdapter;

/// The directory holding `initdb` and `pg_ctl`.
fn pg_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PORTCULLIS_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A uid/gid to run the server as when we are root (initdb refuses root).
fn unprivileged_user() -> Option<(String, u32, u32)> {
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    ["postgres", "nobody"].into_iter().find_map(|name| {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, name]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        Some((name.to_owned(), id("-u")?, id("-g")?))
    })
}

/// A private PostgreSQL cluster; stopped (immediately) and removed on drop.
struct PrivatePostgres {
    bin: PathBuf,
    run_as: Option<String>,
    data: PathBuf,
    port: u16,
    dir: TempDir,
}

impl PrivatePostgres {
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn init() -> Result<Self, String> {
        let bin = pg_bin_dir().ok_or("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")?;
        let user = unprivileged_user();
        let dir = TempDir::new();
        if let Some((_, uid, gid)) = &user {
            std::os::unix::fs::chown(dir.path(), Some(*uid), Some(*gid))
                .map_err(|e| format!("chown: {e}"))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let this = Self {
            bin,
            run_as: user.map(|u| u.0),
            data: dir.path().join("data"),
            port,
            dir,
        };
        let out = this
            .command("initdb")
            .arg("-D")
            .arg(&this.data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        check("initdb", &out)?;
        Ok(this)
    }

    fn start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB -c max_connections=20",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "30", "-o", &options, "start"])
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        check("pg_ctl start", &out).map_err(|e| format!("{e}\nserver log:\n{}", self.log()))
    }

    fn stop(&self, mode: &str) -> Result<(), String> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "-t", "30", "stop"])
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        check("pg_ctl stop", &out)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Best effort: it may already be stopped.
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn check(what: &str, out: &Output) -> Result<(), String> {
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_is_unavailable_and_the_pool_recovers() {
    let started = Instant::now();
    let pg = match PrivatePostgres::init().and_then(|pg| pg.start().map(|()| pg)) {
        Ok(pg) => pg,
        Err(why) => {
            if services_required() {
                panic!("a private PostgreSQL is required (PORTCULLIS_REQUIRE_SERVICES=1): {why}");
            }
            eprintln!("notice: skipping the outage test: {why}");
            return;
        }
    };
    eprintln!(
        "private PostgreSQL on port {} ready after {:?}",
        pg.port,
        started.elapsed()
    );

    let acquire = Duration::from_secs(2);
    let options = PostgresAdapter::pool_options()
        .max_connections(2)
        .acquire_timeout(acquire);
    let db = PostgresAdapter::connect_with(options, &pg.url())
        .await
        .expect("connect to the private server");
    let user = fixtures::user();
    db.create_user(&user).await.unwrap();
    let session = fixtures::session(&user.id);
    db.create_session(&session).await.unwrap();
    let (_, token) = fixtures::verification_token("outage@example.com");
    db.create_verification_token(&token).await.unwrap();

    // Outage: the pool holds connections to a server that is gone.
    pg.stop("fast").unwrap();
    let down = Instant::now();
    // Concurrently: each waits out the acquire timeout (sqlx keeps retrying a refused
    // connection until then), so together they take one timeout, not five.
    let other_user = fixtures::user();
    let (a, b, c, d, e) = tokio::join!(
        db.session_and_user(&session.key),
        db.touch_session(&session.key, session.expires, session.last_used_at),
        db.create_user(&other_user),
        db.use_verification_token(&token.identifier, &token.token),
        db.delete_session(&session.key),
    );
    let calls: Vec<(&str, Result<(), AdapterError>)> = vec![
        ("session_and_user", a.map(drop)),
        ("touch_session", b.map(drop)),
        ("create_user", c.map(drop)),
        ("use_verification_token", d.map(drop)),
        ("delete_session", e.map(drop)),
    ];
    for (name, r) in &calls {
        match r {
            Err(e) if e.is_unavailable() => {
                let source = std::error::Error::source(e)
                    .and_then(|s| s.downcast_ref::<portcullis_sqlx::sqlx::Error>());
                eprintln!(
                    "  {name} while down: Unavailable({:?})",
                    source.map(ToString::to_string)
                );
                assert!(source.is_some(), "the driver error is the source");
            }
            other => panic!("{name} while the server is down must be Unavailable, got {other:?}"),
        }
    }
    let outage_calls = down.elapsed();
    eprintln!(
        "5 concurrent calls during the outage took {outage_calls:?} (acquire timeout {acquire:?})"
    );
    assert!(
        outage_calls < acquire + Duration::from_secs(3),
        "calls must fail within the acquire timeout, not hang"
    );

    // Recovery: same adapter, no rebuild.
    pg.start().unwrap();
    let up = Instant::now();
    let mut attempts = 0;
    let back = loop {
        attempts += 1;
        match db.session_and_user(&session.key).await {
            Ok(v) => break v,
            Err(e) if e.is_unavailable() && up.elapsed() < Duration::from_secs(15) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the adapter did not recover: {e:?}\n{}", pg.log()),
        }
    };
    eprintln!("recovered after {attempts} attempt(s), {:?}", up.elapsed());
    assert_eq!(
        back,
        Some((session.clone(), Some(user.clone()))),
        "data written before the outage is there"
    );
    assert_eq!(
        db.use_verification_token(&token.identifier, &token.token)
            .await
            .unwrap(),
        Some(token)
    );
    let later = fixtures::user();
    db.create_user(&later).await.unwrap();
    assert_eq!(db.user(&later.id).await.unwrap(), Some(later));
    db.close().await;
    pg.stop("fast").unwrap();
    eprintln!("outage test total {:?}", started.elapsed());
}
