//! Harnesses and helpers shared by the SQLite and PostgreSQL tests: temp directories,
//! per-test PostgreSQL databases, and raw readers that use their own connection and plain
//! SQL (decoding with code of their own, never the adapter's).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use portcullis::adapter::{
    AuditAdapter, PasswordAdapter, RevocationAdapter, SessionAdapter, TokenHash, UserAdapter,
    VerificationTokenAdapter,
};
use portcullis_adapter_tests::{
    Harness, RawAccount, RawResult, RawSession, RawUser, RawVerificationToken,
};
use portcullis_sqlx::sqlx::postgres::{PgPool, PgPoolOptions};
use portcullis_sqlx::sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use portcullis_sqlx::sqlx::{self, Row};
use portcullis_sqlx::{PostgresAdapter, SqliteAdapter};
use time::OffsetDateTime;

/// Whether a missing service fails the test rather than skipping it.
pub fn services_required() -> bool {
    std::env::var("PORTCULLIS_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A name no other call (in this or a parallel test process) returns: lowercase hex.
pub fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!(
        "{:x}{:x}{:x}",
        nanos & 0xffff_ffff_ffff,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("portcullis-sqlx-{}", unique_suffix()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ms(v: i64) -> RawResult<OffsetDateTime> {
    Ok(OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(v) * 1_000_000,
    )?)
}

fn opt_ms(v: Option<i64>) -> RawResult<Option<OffsetDateTime>> {
    v.map(ms).transpose()
}

// ---------------------------------------------------------------------------------------
// SQLite

/// The SQLite adapter plus a raw connection of its own to the same database.
pub struct SqliteHarness {
    pub adapter: Arc<SqliteAdapter>,
    pub raw: SqlitePool,
    _dir: Option<TempDir>,
}

impl SqliteHarness {
    /// A fresh database file in a fresh temp directory.
    pub async fn file() -> Self {
        let dir = TempDir::new();
        let path = dir.path().join("auth.db");
        let adapter = SqliteAdapter::connect(path.to_str().expect("utf-8 path"))
            .await
            .expect("open sqlite");
        Self::with(adapter, Some(dir)).await
    }

    /// A fresh in-memory database.
    pub async fn memory() -> Self {
        let adapter = SqliteAdapter::in_memory()
            .await
            .expect("open in-memory sqlite");
        Self::with(adapter, None).await
    }

    async fn with(adapter: SqliteAdapter, dir: Option<TempDir>) -> Self {
        let raw = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(adapter.connect_options().clone())
            .await
            .expect("raw sqlite connection");
        Self {
            adapter: Arc::new(adapter),
            raw,
            _dir: dir,
        }
    }
}

#[async_trait::async_trait]
impl Harness for SqliteHarness {
    fn users(&self) -> Option<Arc<dyn UserAdapter>> {
        Some(self.adapter.clone())
    }
    fn sessions(&self) -> Option<Arc<dyn SessionAdapter>> {
        Some(self.adapter.clone())
    }
    fn verification_tokens(&self) -> Option<Arc<dyn VerificationTokenAdapter>> {
        Some(self.adapter.clone())
    }
    fn revocations(&self) -> Option<Arc<dyn RevocationAdapter>> {
        Some(self.adapter.clone())
    }
    fn passwords(&self) -> Option<Arc<dyn PasswordAdapter>> {
        Some(self.adapter.clone())
    }
    fn audit(&self) -> Option<Arc<dyn AuditAdapter>> {
        Some(self.adapter.clone())
    }
    fn session_and_user_joins(&self) -> bool {
        true
    }

    async fn raw_user(&self, id: &str) -> RawResult<Option<RawUser>> {
        let Some(r) = sqlx::query(
            "SELECT id, email, email_verified, name, image, fields FROM users WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.raw)
        .await?
        else {
            return Ok(None);
        };
        let fields: String = r.try_get("fields")?;
        Ok(Some(RawUser {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            email_verified: opt_ms(r.try_get("email_verified")?)?,
            name: r.try_get("name")?,
            image: r.try_get("image")?,
            fields: serde_json::from_str(&fields)?,
        }))
    }

    async fn raw_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> RawResult<Option<RawAccount>> {
        let Some(r) =
            sqlx::query("SELECT * FROM accounts WHERE provider = ? AND provider_account_id = ?")
                .bind(provider)
                .bind(provider_account_id)
                .fetch_optional(&self.raw)
                .await?
        else {
            return Ok(None);
        };
        Ok(Some(RawAccount {
            user_id: r.try_get("user_id")?,
            kind: r.try_get("type")?,
            provider: r.try_get("provider")?,
            provider_account_id: r.try_get("provider_account_id")?,
            refresh_token: r.try_get("refresh_token")?,
            access_token: r.try_get("access_token")?,
            expires_at: r.try_get("expires_at")?,
            token_type: r.try_get("token_type")?,
            scope: r.try_get("scope")?,
            id_token: r.try_get("id_token")?,
            session_state: r.try_get("session_state")?,
        }))
    }

    async fn count_user_accounts(&self, user_id: &str) -> RawResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts WHERE user_id = ?")
            .bind(user_id)
            .fetch_one(&self.raw)
            .await?;
        Ok(u64::try_from(n)?)
    }

    async fn raw_session(&self, key: &TokenHash) -> RawResult<Option<RawSession>> {
        let Some(r) = sqlx::query("SELECT * FROM sessions WHERE key = ?")
            .bind(key.as_str())
            .fetch_optional(&self.raw)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(RawSession {
            key: r.try_get("key")?,
            user_id: r.try_get("user_id")?,
            expires: ms(r.try_get("expires")?)?,
            created_at: ms(r.try_get("created_at")?)?,
            last_used_at: ms(r.try_get("last_used_at")?)?,
            user_agent: r.try_get("user_agent")?,
            ip: r.try_get("ip")?,
        }))
    }

    async fn count_user_sessions(&self, user_id: &str) -> RawResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .fetch_one(&self.raw)
            .await?;
        Ok(u64::try_from(n)?)
    }

    async fn raw_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> RawResult<Option<RawVerificationToken>> {
        let Some(r) = sqlx::query(
            "SELECT * FROM verification_tokens WHERE identifier = ? AND token_hash = ?",
        )
        .bind(identifier)
        .bind(token.as_str())
        .fetch_optional(&self.raw)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(RawVerificationToken {
            identifier: r.try_get("identifier")?,
            token_hash: r.try_get("token_hash")?,
            expires: ms(r.try_get("expires")?)?,
        }))
    }

    async fn raw_not_before(&self, user_id: &str) -> RawResult<Option<OffsetDateTime>> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT not_before FROM revocations WHERE user_id = ?")
                .bind(user_id)
                .fetch_optional(&self.raw)
                .await?;
        opt_ms(v)
    }

    async fn teardown(&self) {
        self.raw.close().await;
        self.adapter.close().await;
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// The server the PostgreSQL tests use.
pub fn postgres_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of its own on the test server, created from `template0` and dropped (best
/// effort) by [`TestDatabase::drop_now`].
pub struct TestDatabase {
    admin: PgPool,
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// `None` (with a notice) when the server is unreachable, unless services are required.
    pub async fn create(test: &str) -> Option<Self> {
        let admin_url = postgres_url();
        let admin = match PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&admin_url)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                if services_required() {
                    panic!(
                        "PostgreSQL at {admin_url} is required (PORTCULLIS_REQUIRE_SERVICES=1): {e}"
                    );
                }
                eprintln!("notice: skipping {test}: PostgreSQL at {admin_url} unreachable ({e})");
                return None;
            }
        };
        let name = format!("portcullis_t_{}", unique_suffix());
        // The name is "portcullis_t_" + hex digits we generated: safe to splice.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE template0"
        )))
        .execute(&admin)
        .await
        .expect("CREATE DATABASE");
        let mut url = url::Url::parse(&admin_url).expect("PORTCULLIS_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(Self {
            admin,
            name,
            url: url.into(),
        })
    }

    /// Drops the database (closing whatever is still connected), best effort.
    pub async fn drop_now(&self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&self.admin)
            .await
        {
            eprintln!("notice: could not drop test database {}: {e}", self.name);
        }
        self.admin.close().await;
    }
}

/// The PostgreSQL adapter on a database of its own, plus a raw pool of its own.
pub struct PgHarness {
    pub adapter: Arc<PostgresAdapter>,
    pub raw: PgPool,
    pub db: TestDatabase,
}

impl PgHarness {
    pub async fn new(test: &str) -> Option<Self> {
        let db = TestDatabase::create(test).await?;
        let options = PostgresAdapter::pool_options().max_connections(5);
        let adapter = PostgresAdapter::connect_with(options, &db.url)
            .await
            .expect("connect adapter");
        let raw = PgPoolOptions::new()
            .max_connections(2)
            .connect(&db.url)
            .await
            .expect("raw pool");
        Some(Self {
            adapter: Arc::new(adapter),
            raw,
            db,
        })
    }
}

#[async_trait::async_trait]
impl Harness for PgHarness {
    fn users(&self) -> Option<Arc<dyn UserAdapter>> {
        Some(self.adapter.clone())
    }
    fn sessions(&self) -> Option<Arc<dyn SessionAdapter>> {
        Some(self.adapter.clone())
    }
    fn verification_tokens(&self) -> Option<Arc<dyn VerificationTokenAdapter>> {
        Some(self.adapter.clone())
    }
    fn revocations(&self) -> Option<Arc<dyn RevocationAdapter>> {
        Some(self.adapter.clone())
    }
    fn passwords(&self) -> Option<Arc<dyn PasswordAdapter>> {
        Some(self.adapter.clone())
    }
    fn audit(&self) -> Option<Arc<dyn AuditAdapter>> {
        Some(self.adapter.clone())
    }
    fn session_and_user_joins(&self) -> bool {
        true
    }

    async fn raw_user(&self, id: &str) -> RawResult<Option<RawUser>> {
        // jsonb read back as its text form and parsed here, not through sqlx's Json decoding.
        let Some(r) = sqlx::query("SELECT id, email, email_verified, name, image, fields::text AS fields FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.raw)
            .await?
        else {
            return Ok(None);
        };
        let fields: String = r.try_get("fields")?;
        Ok(Some(RawUser {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            email_verified: r.try_get("email_verified")?,
            name: r.try_get("name")?,
            image: r.try_get("image")?,
            fields: serde_json::from_str(&fields)?,
        }))
    }

    async fn raw_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> RawResult<Option<RawAccount>> {
        let Some(r) =
            sqlx::query("SELECT * FROM accounts WHERE provider = $1 AND provider_account_id = $2")
                .bind(provider)
                .bind(provider_account_id)
                .fetch_optional(&self.raw)
                .await?
        else {
            return Ok(None);
        };
        Ok(Some(RawAccount {
            user_id: r.try_get("user_id")?,
            kind: r.try_get("type")?,
            provider: r.try_get("provider")?,
            provider_account_id: r.try_get("provider_account_id")?,
            refresh_token: r.try_get("refresh_token")?,
            access_token: r.try_get("access_token")?,
            expires_at: r.try_get("expires_at")?,
            token_type: r.try_get("token_type")?,
            scope: r.try_get("scope")?,
            id_token: r.try_get("id_token")?,
            session_state: r.try_get("session_state")?,
        }))
    }

    async fn count_user_accounts(&self, user_id: &str) -> RawResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.raw)
            .await?;
        Ok(u64::try_from(n)?)
    }

    async fn raw_session(&self, key: &TokenHash) -> RawResult<Option<RawSession>> {
        let Some(r) = sqlx::query("SELECT * FROM sessions WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.raw)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(RawSession {
            key: r.try_get("key")?,
            user_id: r.try_get("user_id")?,
            expires: r.try_get("expires")?,
            created_at: r.try_get("created_at")?,
            last_used_at: r.try_get("last_used_at")?,
            user_agent: r.try_get("user_agent")?,
            ip: r.try_get("ip")?,
        }))
    }

    async fn count_user_sessions(&self, user_id: &str) -> RawResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.raw)
            .await?;
        Ok(u64::try_from(n)?)
    }

    async fn raw_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> RawResult<Option<RawVerificationToken>> {
        let Some(r) = sqlx::query(
            "SELECT * FROM verification_tokens WHERE identifier = $1 AND token_hash = $2",
        )
        .bind(identifier)
        .bind(token.as_str())
        .fetch_optional(&self.raw)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(RawVerificationToken {
            identifier: r.try_get("identifier")?,
            token_hash: r.try_get("token_hash")?,
            expires: r.try_get("expires")?,
        }))
    }

    async fn raw_not_before(&self, user_id: &str) -> RawResult<Option<OffsetDateTime>> {
        let v: Option<OffsetDateTime> =
            sqlx::query_scalar("SELECT not_before FROM revocations WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.raw)
                .await?;
        Ok(v)
    }

    async fn teardown(&self) {
        self.raw.close().await;
        self.adapter.close().await;
        self.db.drop_now().await;
    }
}
