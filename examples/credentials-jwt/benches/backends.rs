//! `GET /session` through `Auth::handle` on every session backend, beside the JWT strategy:
//! JWT (decrypt + re-encrypt), and database sessions on SQLite, PostgreSQL and Redis (in
//! front of SQLite). A warm browser (valid CSRF and callback-url cookies), a session that
//! does not need extending (the common read), default callbacks.
//!
//! Run: `cargo bench -p example-credentials-jwt --bench backends`. PostgreSQL and Redis come
//! from `PORTCULLIS_TEST_POSTGRES_URL` / `PORTCULLIS_TEST_REDIS_URL` (defaults: the local
//! services); a backend that cannot be reached is skipped with a notice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use portcullis::adapter::{AdapterSession, AdapterUser, SessionAdapter, TokenHash, UserAdapter};
use portcullis::{Auth, AuthConfig, DefaultCallbacks, SessionStrategy};
use portcullis_redis::RedisAdapter;
use portcullis_sqlx::{PostgresAdapter, SqliteAdapter};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

const SECRET: &str = "0123456789abcdef0123456789abcdef-bench";
const TOKEN: &str = "5f2b8c1e9a7d4e3f8b6a2c1d0e9f8a7b5f2b8c1e9a7d4e3f8b6a2c1d0e9f8a7b";

fn main() {
    divan::main();
}

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fn builder() -> portcullis::AuthConfigBuilder<DefaultCallbacks> {
    AuthConfig::builder(DefaultCallbacks)
        .secret(SECRET)
        .url("http://localhost:3000")
}

/// The cookie header of a warm browser holding `session`.
fn warm_cookie(auth: &Auth, session: &str) -> String {
    let res = rt().block_on(
        auth.handle(
            http::Request::get("http://localhost:3000/api/auth/csrf")
                .body(Bytes::new())
                .unwrap(),
        ),
    );
    let mut cookie = format!("authjs.session-token={session}");
    for c in res.headers().get_all("set-cookie") {
        cookie.push_str("; ");
        cookie.push_str(c.to_str().unwrap().split(';').next().unwrap());
    }
    cookie
}

fn get_session(auth: &Auth, cookie: &str) {
    let req = http::Request::get("http://localhost:3000/api/auth/session")
        .header("cookie", cookie)
        .body(Bytes::new())
        .unwrap();
    let res = rt().block_on(auth.handle(req));
    assert_eq!(res.status(), 200);
    assert_ne!(
        res.body().as_ref(),
        b"null",
        "the bench must read a real session"
    );
    black_box(res);
}

async fn seed(users: &dyn UserAdapter, sessions: &dyn SessionAdapter) {
    let user = AdapterUser {
        id: "bench-user".into(),
        email: Some("bench@example.com".into()),
        email_verified: None,
        name: Some("Bench".into()),
        image: None,
        fields: serde_json::Map::new(),
    };
    if users.user(&user.id).await.unwrap().is_none() {
        users.create_user(&user).await.unwrap();
    }
    let now = OffsetDateTime::now_utc();
    let key = TokenHash::of(TOKEN);
    let _ = sessions.delete_session(&key).await;
    sessions
        .create_session(&AdapterSession {
            key,
            user_id: user.id,
            expires: now + Duration::days(30),
            created_at: now,
            last_used_at: now,
            user_agent: None,
            ip: None,
        })
        .await
        .unwrap();
}

#[divan::bench]
fn jwt(bencher: divan::Bencher<'_, '_>) {
    let auth = Auth::new(builder().build().unwrap());
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = format!(
        r#"{{"name":"Bench","email":"bench@example.com","sub":"bench-user","iat":{now},"exp":{}}}"#,
        now + 3600
    );
    let codec = portcullis::jwt::JweCodec::new(
        &[SECRET.as_bytes()],
        "authjs.session-token",
        portcullis::jwt::TokenFormat::V5,
        false,
    )
    .unwrap();
    let cookie = warm_cookie(&auth, &codec.encode(claims.as_bytes()));
    bencher.bench_local(|| get_session(&auth, &cookie));
}

#[divan::bench]
fn sqlite(bencher: divan::Bencher<'_, '_>) {
    let dir = tempdir();
    let db = rt()
        .block_on(SqliteAdapter::connect(&format!("sqlite://{dir}/bench.db")))
        .unwrap();
    let db = Arc::new(db);
    rt().block_on(seed(db.as_ref(), db.as_ref()));
    let auth = Auth::new(builder().adapter(db).build().unwrap());
    assert_eq!(auth.config().strategy(), SessionStrategy::Database);
    let cookie = warm_cookie(&auth, TOKEN);
    bencher.bench_local(|| get_session(&auth, &cookie));
}

#[divan::bench]
fn postgres(bencher: divan::Bencher<'_, '_>) {
    let admin = std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("portcullis_bench_{}", std::process::id());
    let created = rt().block_on(async {
        use portcullis_sqlx::sqlx::Connection;
        let mut c = portcullis_sqlx::sqlx::PgConnection::connect(&admin)
            .await
            .ok()?;
        portcullis_sqlx::sqlx::query(portcullis_sqlx::sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut c)
        .await
        .ok()?;
        portcullis_sqlx::sqlx::query(portcullis_sqlx::sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name}"
        )))
        .execute(&mut c)
        .await
        .ok()
    });
    if created.is_none() {
        println!("postgres: skipped, {admin} unreachable");
        return;
    }
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let db = Arc::new(rt().block_on(PostgresAdapter::connect(&url)).unwrap());
    rt().block_on(seed(db.as_ref(), db.as_ref()));
    let auth = Auth::new(builder().adapter(db.clone()).build().unwrap());
    let cookie = warm_cookie(&auth, TOKEN);
    bencher.bench_local(|| get_session(&auth, &cookie));
    rt().block_on(async {
        db.close().await;
        use portcullis_sqlx::sqlx::Connection;
        if let Ok(mut c) = portcullis_sqlx::sqlx::PgConnection::connect(&admin).await {
            let _ = portcullis_sqlx::sqlx::query(portcullis_sqlx::sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .execute(&mut c)
            .await;
        }
    });
}

#[divan::bench]
fn redis(bencher: divan::Bencher<'_, '_>) {
    let url = std::env::var("PORTCULLIS_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let Ok(redis) = rt().block_on(RedisAdapter::connect(&url)) else {
        println!("redis: skipped, {url} unreachable");
        return;
    };
    let redis = Arc::new(redis.with_prefix(format!("portcullis-bench-{}:", std::process::id())));
    let dir = tempdir();
    let users = Arc::new(
        rt().block_on(SqliteAdapter::connect(&format!("sqlite://{dir}/bench.db")))
            .unwrap(),
    );
    rt().block_on(seed(users.as_ref(), redis.as_ref()));
    let auth = Auth::new(
        builder()
            .user_adapter(users)
            .session_adapter(redis.clone())
            .build()
            .unwrap(),
    );
    let cookie = warm_cookie(&auth, TOKEN);
    bencher.bench_local(|| get_session(&auth, &cookie));
    let _ = rt().block_on(redis.delete_session(&TokenHash::of(TOKEN)));
}

fn tempdir() -> String {
    let dir = std::env::temp_dir().join(format!(
        "portcullis-bench-{}-{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.display().to_string()
}
