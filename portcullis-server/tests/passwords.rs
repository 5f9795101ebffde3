//! Rehash on login, end to end: a user whose stored hash was made with older Argon2
//! parameters signs in, and the server stores a hash with the current ones (SECURITY.md
//! CRD-03). The database is read and written with plain SQL, beside the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use argon2::password_hash::CustomizedPasswordHasher as _;
use argon2::{Argon2, Params};
use common::{Client, Server, add_user, temp_dir};
use portcullis_sqlx::sqlx::{self, SqlitePool, sqlite::SqlitePoolOptions};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const CURRENT: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

/// OWASP's former recommendation (m = 15 MiB, t = 2, p = 1): valid, verifiable, and not
/// what the server makes today. `PasswordHasher` refuses to make it, so argon2 does.
fn old_hash(password: &str, alg: &str) -> String {
    Argon2::default()
        .hash_password_customized(
            password.as_bytes(),
            b"an-older-salt-16",
            Some(alg),
            Some(0x13),
            Params::new(15_360, 2, 1, None).unwrap(),
        )
        .unwrap()
        .to_string()
}

/// The server's default SQLite database in `dir` (`sqlite://data/portcullis.db`).
async fn db(dir: &Path) -> SqlitePool {
    let url = format!("sqlite://{}", dir.join("data/portcullis.db").display());
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap()
}

async fn stored_hash(db: &SqlitePool, email: &str) -> String {
    sqlx::query_scalar(
        "SELECT c.password_hash FROM credentials c JOIN users u ON u.id = c.user_id \
         WHERE u.email = ?",
    )
    .bind(email)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn set_stored_hash(db: &SqlitePool, email: &str, phc: &str) {
    let done = sqlx::query(
        "UPDATE credentials SET password_hash = ? \
         WHERE user_id = (SELECT id FROM users WHERE email = ?)",
    )
    .bind(phc)
    .bind(email)
    .execute(db)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn signed_in(c: &mut Client, email: &str, password: &str) -> bool {
    let r = c.sign_in("username", email, password);
    assert_eq!(r.status, 302, "{r:?}");
    let ok = !r.header("location").unwrap().contains("error");
    if ok {
        assert_eq!(c.session()["user"]["email"], json!(email));
    } else {
        assert_eq!(c.session(), Value::Null);
    }
    ok
}

#[test]
fn sign_in_rehashes_a_hash_with_older_parameters() {
    let dir = temp_dir("rehash");
    let email = "rehash@example.com";
    let other = "bystander@example.com";
    add_user(&dir, &[], email, PASSWORD, &[]);
    add_user(&dir, &[], other, PASSWORD, &[]);
    let rt = rt();
    let db = rt.block_on(db(&dir));
    let old = old_hash(PASSWORD, "argon2id");
    assert!(old.starts_with("$argon2id$v=19$m=15360,t=2,p=1$"), "{old}");
    rt.block_on(set_stored_hash(&db, email, &old));
    rt.block_on(set_stored_hash(&db, other, &old_hash(PASSWORD, "argon2i")));
    let server = Server::start(&dir, &[]);

    // A wrong password changes nothing.
    assert!(!signed_in(
        &mut Client::new(server.port),
        email,
        "wrong horse battery"
    ));
    assert_eq!(rt.block_on(stored_hash(&db, email)), old);

    // The right one signs in and replaces the hash with a current one.
    assert!(signed_in(&mut Client::new(server.port), email, PASSWORD));
    let new = rt.block_on(stored_hash(&db, email));
    assert!(new.starts_with(CURRENT), "{new}");

    // The password still works, and a current hash is left alone.
    assert!(signed_in(&mut Client::new(server.port), email, PASSWORD));
    assert_eq!(rt.block_on(stored_hash(&db, email)), new);
    assert!(!signed_in(
        &mut Client::new(server.port),
        email,
        "wrong horse battery"
    ));

    // Another Argon2 variant (argon2i) verifies with its own and is upgraded to argon2id.
    assert!(signed_in(&mut Client::new(server.port), other, PASSWORD));
    assert!(rt.block_on(stored_hash(&db, other)).starts_with(CURRENT));
    assert!(server.stop().success());
}

#[test]
fn disabled_users_and_foreign_hashes_fail_the_same_way_without_a_rehash() {
    let dir = temp_dir("rehash-refused");
    let disabled = "disabled@example.com";
    let bcrypt = "bcrypt@example.com";
    add_user(&dir, &[], disabled, PASSWORD, &[]);
    add_user(&dir, &[], bcrypt, PASSWORD, &[]);
    let out = common::cli(&dir, &[], &["users", "disable", disabled], "");
    assert!(out.status.success());
    let rt = rt();
    let db = rt.block_on(db(&dir));
    let old = old_hash(PASSWORD, "argon2id");
    rt.block_on(set_stored_hash(&db, disabled, &old));
    // An imported bcrypt hash (of "password"): not a PHC string argon2 can verify.
    let foreign = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    rt.block_on(set_stored_hash(&db, bcrypt, foreign));
    let server = Server::start(&dir, &[]);

    let wrong = Client::new(server.port).sign_in("username", disabled, "wrong horse battery");
    for (email, password) in [
        (disabled, PASSWORD),
        (bcrypt, "password"),
        (bcrypt, PASSWORD),
    ] {
        let r = Client::new(server.port).sign_in("username", email, password);
        assert_eq!(
            (r.status, r.header("location"), &r.body),
            (wrong.status, wrong.header("location"), &wrong.body),
            "{email}"
        );
    }
    assert!(
        wrong
            .header("location")
            .unwrap()
            .contains("error=CredentialsSignin")
    );
    assert_eq!(
        rt.block_on(stored_hash(&db, disabled)),
        old,
        "no rehash when disabled"
    );
    assert_eq!(rt.block_on(stored_hash(&db, bcrypt)), foreign);
}

#[test]
fn a_rehash_that_cannot_be_stored_does_not_fail_the_sign_in() {
    let dir = temp_dir("rehash-unstored");
    let email = "stuck@example.com";
    add_user(&dir, &[], email, PASSWORD, &[]);
    let rt = rt();
    let db = rt.block_on(db(&dir));
    let old = old_hash(PASSWORD, "argon2id");
    rt.block_on(set_stored_hash(&db, email, &old));
    // From now on every write of a password hash fails in the database.
    rt.block_on(
        sqlx::query(
            "CREATE TRIGGER refuse_rehash BEFORE UPDATE ON credentials \
             BEGIN SELECT RAISE(ABORT, 'credentials are read-only'); END",
        )
        .execute(&db),
    )
    .unwrap();
    let server = Server::start(&dir, &[]);
    assert!(signed_in(&mut Client::new(server.port), email, PASSWORD));
    assert!(signed_in(&mut Client::new(server.port), email, PASSWORD));
    assert_eq!(rt.block_on(stored_hash(&db, email)), old);
}
