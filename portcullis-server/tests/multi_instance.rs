//! Many instances, one truth: two servers on different ports share PostgreSQL (users) and
//! Redis (sessions) and one secret list. A user signs in on one, reads and updates the
//! session on the other, signs out there — and the first no longer accepts the session.
//! Then a secret rotation (new first, old second) on both keeps existing sessions valid.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

const OLD: &str = "old-secret-0123456789abcdef0123456789abcdef";
const NEW: &str = "new-secret-fedcba9876543210fedcba9876543210";

fn unique_email(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{nanos}@example.com")
}

/// The same browser, talking to another instance.
fn on(port: u16, client: &Client) -> Client {
    Client {
        port,
        jar: client.jar.clone(),
    }
}

#[test]
fn two_instances_share_postgres_users_and_redis_sessions() {
    let (Some(pg), Some(redis)) = (
        service(
            "PORTCULLIS_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        service("PORTCULLIS_TEST_REDIS_URL", "redis://127.0.0.1:6379"),
    ) else {
        return;
    };
    let env = vec![
        ("DATABASE_URL", pg.as_str()),
        ("SESSION_STORE_URL", redis.as_str()),
        ("AUTH_SECRET", OLD),
        ("PORTCULLIS_SESSION_EXPOSE", "role"),
        ("PORTCULLIS_SESSION_UPDATABLE", "name"),
    ];
    let (dir_a, dir_b) = (temp_dir("multi-a"), temp_dir("multi-b"));
    let email = unique_email("multi");
    add_user(
        &dir_a,
        &env,
        &email,
        "correct horse battery",
        &["role=admin"],
    );
    let a = Server::start(&dir_a, &env);
    let b = Server::start(&dir_b, &env);

    let mut on_a = Client::new(a.port);
    assert_eq!(
        on_a.sign_in("username", &email, "correct horse battery")
            .status,
        302
    );
    let session = on_a.session();
    assert_eq!(session["user"]["email"], email.as_str());
    assert_eq!(session["user"]["role"], "admin");

    // The same cookie on B: the same session, from the shared stores.
    let mut on_b = on(b.port, &on_a);
    assert_eq!(on_b.session()["user"]["email"], email.as_str());
    // An update on B is seen on A (persisted in PostgreSQL).
    let updated = on_b.update(&serde_json::json!({ "name": "Renamed On B" }));
    assert_eq!(updated["user"]["name"], "Renamed On B");
    assert_eq!(on_a.session()["user"]["name"], "Renamed On B");

    // Sign-out on B ends the session on A at once (the row is gone from Redis).
    let stale = on_a.jar.clone();
    assert_eq!(on_b.sign_out().status, 302);
    let mut replay = Client {
        port: a.port,
        jar: stale,
    };
    assert!(
        replay.session().is_null(),
        "A must not accept the signed-out session"
    );
    drop((a, b));
}

#[test]
fn rotating_the_secret_on_every_instance_keeps_sessions() {
    // JWT sessions, where the secret seals the session itself.
    let dir = temp_dir("rotate");
    let base = vec![
        ("PORTCULLIS_STRATEGY", "jwt"),
        ("PORTCULLIS_SESSION_EXPOSE", "role"),
    ];
    let email = unique_email("rotate");
    let mut env_old = base.clone();
    env_old.push(("AUTH_SECRET", OLD));
    add_user(
        &dir,
        &env_old,
        &email,
        "correct horse battery",
        &["role=admin"],
    );
    let a = Server::start(&dir, &env_old);
    let mut browser = Client::new(a.port);
    assert_eq!(
        browser
            .sign_in("username", &email, "correct horse battery")
            .status,
        302
    );
    assert_eq!(browser.session()["user"]["email"], email.as_str());
    drop(a);

    // Both instances restart with [new, old] (Auth.js order: AUTH_SECRET_1 encodes).
    let mut env_rotated = base.clone();
    env_rotated.push(("AUTH_SECRET", OLD));
    env_rotated.push(("AUTH_SECRET_1", NEW));
    let a = Server::start(&dir, &env_rotated);
    let b = Server::start(&temp_dir("rotate-b"), &env_rotated);
    let mut on_a = on(a.port, &browser);
    let session = on_a.session();
    assert_eq!(
        session["user"]["email"],
        email.as_str(),
        "the old token still reads"
    );
    // The read re-issued the token under the new secret; B reads it too.
    let mut on_b = on(b.port, &on_a);
    assert_eq!(on_b.session()["user"]["email"], email.as_str());
    drop((a, b));

    // Once the old secret is gone, the re-issued token still works — it was sealed with
    // the new one — while a token that was never refreshed would not.
    let mut env_new = base;
    env_new.push(("AUTH_SECRET", NEW));
    let c = Server::start(&temp_dir("rotate-c"), &env_new);
    let mut on_c = on(c.port, &on_b);
    assert_eq!(on_c.session()["user"]["email"], email.as_str());
    let mut never_refreshed = on(c.port, &browser);
    assert!(never_refreshed.session().is_null());
}
