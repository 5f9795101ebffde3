//! SECURITY.md FLT-09 against the real binary on a SQLite file: the `portcullis` process is
//! killed (SIGKILL) while a `POST /signout` — and, the same way, a credentials sign-in — is
//! inside its write, then started again on the same file.
//!
//! No timing decides the outcome: the test holds `BEGIN EXCLUSIVE` on the database from
//! another connection, so the server's write (deleting the session row, creating one)
//! waits on SQLite's lock (5 s `busy_timeout`) and cannot commit before the kill; the lock
//! is released only once the process is gone. After the restart the state must be exactly
//! the one before the request: the session intact and usable, no new row, the file intact —
//! and a sign-out that does complete before a kill stays done.
//!
//! The OAuth callback's write is killed at the store level instead (no OpenID Provider runs
//! in these tests): `portcullis-sqlx/tests/faults.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Client, Server, add_user, form, request, temp_dir};
use portcullis_sqlx::sqlx::{self, SqlitePool, sqlite::SqliteConnectOptions};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn pool(dir: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(dir.join("data/portcullis.db"));
    sqlx::pool::PoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

async fn session_rows(db: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(db)
        .await
        .unwrap()
}

/// Runs `send` on a thread while the database is write-locked, kills the server while the
/// request waits on the lock, then releases the lock. Returns whether the request was
/// answered (it must not be: with the lock held the server can only wait, up to its 5 s
/// `busy_timeout`, and it is killed well before).
fn kill_during(
    server: Server,
    dir: &Path,
    send: impl FnOnce(u16) -> common::Res + Send + 'static,
) -> bool {
    let rt = rt();
    let db = rt.block_on(pool(dir));
    let lock = rt.block_on(db.begin_with("BEGIN EXCLUSIVE")).unwrap();
    let port = server.port;
    let pending = std::thread::spawn(move || send(port));
    // Give the request time to reach its write; the outcome does not depend on it: the
    // write cannot commit while the lock is held, wherever the kill lands.
    std::thread::sleep(Duration::from_millis(1500));
    drop(server); // SIGKILL, then wait for the exit
    rt.block_on(lock.rollback()).unwrap();
    rt.block_on(db.close());
    // The client sees the connection reset (the thread panics) unless it was answered.
    pending.join().is_ok()
}

#[test]
fn flt_09_killed_during_sign_out_or_sign_in_the_store_is_as_before() {
    let dir = temp_dir("flt09");
    let email = "flt09@example.com";
    add_user(&dir, &[], email, PASSWORD, &[]);
    let server = Server::start(&dir, &[]);
    let mut alice = Client::new(server.port);
    let res = alice.sign_in("username", email, PASSWORD);
    assert!(
        !res.header("location").unwrap().contains("error"),
        "{res:?}"
    );
    assert_eq!(alice.session()["user"]["email"], email);
    let rt = rt();
    assert_eq!(
        rt.block_on(async { session_rows(&pool(&dir).await).await }),
        1
    );

    // Sign-out, killed inside the delete.
    let csrf = alice.csrf();
    let jar = alice.jar.clone();
    let answered = kill_during(server, &dir, move |port| {
        request(
            port,
            "POST",
            "/api/auth/signout",
            &jar,
            Some((
                "application/x-www-form-urlencoded",
                &form(&[("csrfToken", &csrf)]),
            )),
        )
    });
    assert!(
        !answered,
        "the sign-out finished while the database was locked"
    );

    let server = Server::start(&dir, &[]);
    alice.port = server.port;
    let db = rt.block_on(pool(&dir));
    let check: String = rt
        .block_on(sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&db))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(rt.block_on(session_rows(&db)), 1, "the session is intact");
    assert_eq!(
        alice.session()["user"]["email"],
        email,
        "the intact session still works"
    );

    // A credentials sign-in in another browser, killed inside its session insert.
    let mut bob = Client::new(server.port);
    let csrf = bob.csrf();
    let jar = bob.jar.clone();
    rt.block_on(db.close());
    let answered = kill_during(server, &dir, move |port| {
        request(
            port,
            "POST",
            "/api/auth/callback/credentials",
            &jar,
            Some((
                "application/x-www-form-urlencoded",
                &form(&[
                    ("csrfToken", &csrf),
                    ("username", email),
                    ("password", PASSWORD),
                ]),
            )),
        )
    });
    assert!(
        !answered,
        "the sign-in finished while the database was locked"
    );
    let server = Server::start(&dir, &[]);
    alice.port = server.port;
    bob.port = server.port;
    let db = rt.block_on(pool(&dir));
    assert_eq!(rt.block_on(session_rows(&db)), 1, "no half-made session");
    assert_eq!(bob.session(), Value::Null);
    assert_eq!(alice.session()["user"]["email"], email);

    // A sign-out that completes before the kill stays done.
    let stale = alice.jar.clone();
    let res = alice.sign_out();
    assert_eq!(res.status, 302, "{res:?}");
    assert_eq!(rt.block_on(session_rows(&db)), 0);
    rt.block_on(db.close());
    drop(server);
    let server = Server::start(&dir, &[]);
    let db = rt.block_on(pool(&dir));
    assert_eq!(rt.block_on(session_rows(&db)), 0, "the sign-out was undone");
    assert_eq!(
        request(server.port, "GET", "/api/auth/session", &stale, None).body,
        "null"
    );
}
