//! The stores: users and passwords in SQL (`DATABASE_URL`), sessions there or in Redis
//! (`SESSION_STORE_URL`).

use std::sync::Arc;
use std::time::Duration;

use portcullis::adapter::{
    AdapterError, PasswordAdapter, RevocationAdapter, SessionAdapter, TokenHash, UserAdapter,
};
use portcullis::{AuthConfigBuilder, Callbacks, SessionStrategy};
use portcullis_redis::RedisAdapter;
use portcullis_sqlx::{PostgresAdapter, SqliteAdapter, Sweeper};
use time::OffsetDateTime;

use crate::config::Settings;

/// The SQL store.
#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(Arc<SqliteAdapter>),
    Postgres(Arc<PostgresAdapter>),
}

/// Every store the server uses.
#[derive(Clone)]
pub(crate) struct Stores {
    pub(crate) db: Db,
    pub(crate) redis: Option<Arc<RedisAdapter>>,
}

impl Stores {
    /// Opens (and migrates) the stores. The error is one configuration line.
    pub(crate) async fn open(s: &Settings) -> Result<Self, String> {
        let url = &s.database_url;
        let db = if url.starts_with("sqlite:") {
            if let Some(path) = crate::config::sqlite_path(url)
                && let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                return Err(format!(
                    "DATABASE_URL: cannot create the directory `{}` ({e}): choose a writable path",
                    dir.display()
                ));
            }
            let db = SqliteAdapter::connect(url).await.map_err(|e| {
                format!(
                    "DATABASE_URL: cannot open `{url}` ({}): choose a readable, writable path",
                    chain(&e)
                )
            })?;
            Db::Sqlite(Arc::new(db))
        } else {
            let db = PostgresAdapter::connect(url).await.map_err(|e| {
                format!(
                    "DATABASE_URL: cannot open `{}` ({}): start the server or fix the URL",
                    redact(url),
                    chain(&e)
                )
            })?;
            Db::Postgres(Arc::new(db))
        };
        let redis = match &s.session_store_url {
            Some(u) => Some(Arc::new(RedisAdapter::connect(u).await.map_err(|e| {
                format!(
                    "SESSION_STORE_URL: cannot reach `{}` ({}): start Redis or fix the URL",
                    redact(u),
                    chain(&e)
                )
            })?)),
            None => None,
        };
        Ok(Self { db, redis })
    }

    pub(crate) fn users(&self) -> Arc<dyn UserAdapter> {
        match &self.db {
            Db::Sqlite(d) => d.clone(),
            Db::Postgres(d) => d.clone(),
        }
    }

    pub(crate) fn passwords(&self) -> Arc<dyn PasswordAdapter> {
        match &self.db {
            Db::Sqlite(d) => d.clone(),
            Db::Postgres(d) => d.clone(),
        }
    }

    fn sessions(&self) -> Arc<dyn SessionAdapter> {
        match (&self.redis, &self.db) {
            (Some(r), _) => r.clone(),
            (None, Db::Sqlite(d)) => d.clone(),
            (None, Db::Postgres(d)) => d.clone(),
        }
    }

    fn revocations(&self) -> Arc<dyn RevocationAdapter> {
        match (&self.redis, &self.db) {
            (Some(r), _) => r.clone(),
            (None, Db::Sqlite(d)) => d.clone(),
            (None, Db::Postgres(d)) => d.clone(),
        }
    }

    /// Adds the stores to the configuration. With `email`, the verification tokens too.
    pub(crate) fn apply<C: Callbacks>(
        &self,
        builder: AuthConfigBuilder<C>,
        strategy: SessionStrategy,
        email: bool,
    ) -> AuthConfigBuilder<C> {
        // Users and passwords always live in the database (the password provider, and
        // OAuth users); the email flows also keep their tokens there.
        // The audit log lives there too.
        let builder = match &self.db {
            Db::Sqlite(d) => builder
                .user_adapter(d.clone())
                .password_adapter(d.clone())
                .audit_adapter(d.clone()),
            Db::Postgres(d) => builder
                .user_adapter(d.clone())
                .password_adapter(d.clone())
                .audit_adapter(d.clone()),
        };
        // Sign-in attempts and mails are rate-limited: in Redis when there is one (shared by
        // every instance), else in this process.
        let builder = match &self.redis {
            Some(r) => builder.rate_limiter(Arc::new(portcullis_redis::RedisRateLimiter::new(r))),
            None => builder.rate_limiter(Arc::new(portcullis::MemoryRateLimiter::new())),
        };
        let builder = match (&self.db, email) {
            (Db::Sqlite(d), true) => builder.verification_token_adapter(d.clone()),
            (Db::Postgres(d), true) => builder.verification_token_adapter(d.clone()),
            (_, false) => builder,
        };
        let builder = match (&self.db, strategy) {
            (Db::Sqlite(d), SessionStrategy::Database) => builder.adapter(d.clone()),
            (Db::Postgres(d), SessionStrategy::Database) => builder.adapter(d.clone()),
            // JWT: only the revocation store ("not before" times for disabled users).
            (Db::Sqlite(d), _) => builder.revocation_adapter(d.clone()),
            (Db::Postgres(d), _) => builder.revocation_adapter(d.clone()),
        };
        let builder = match (&self.redis, strategy) {
            (Some(r), SessionStrategy::Database) => builder
                .session_adapter(r.clone())
                .revocation_adapter(r.clone())
                .verification_token_adapter(r.clone()),
            (Some(r), _) => builder.revocation_adapter(r.clone()),
            (None, _) => builder,
        };
        builder.session_strategy(strategy)
    }

    /// Deletes expired SQL sessions periodically (keep the sweeper alive).
    pub(crate) fn sweeper(&self) -> Option<Sweeper> {
        if self.redis.is_some() {
            return None; // Redis expires sessions itself.
        }
        let every = Duration::from_secs(3600);
        Some(match &self.db {
            Db::Sqlite(d) => d.spawn_sweeper(every),
            Db::Postgres(d) => d.spawn_sweeper(every),
        })
    }

    /// Whether every store answers.
    pub(crate) async fn ping(&self) -> Result<(), AdapterError> {
        self.users().user("portcullis-readiness-probe").await?;
        if let Some(r) = &self.redis {
            r.session(&TokenHash::of("portcullis-readiness-probe"))
                .await?;
        }
        Ok(())
    }

    /// Ends every session of a user: database rows (SQL or Redis) and, through the "not
    /// before" time, every JWT issued until now.
    pub(crate) async fn revoke_all(&self, user_id: &str) -> Result<u64, AdapterError> {
        let n = self.sessions().delete_user_sessions(user_id, None).await?;
        self.revocations()
            .set_not_before(
                user_id,
                OffsetDateTime::now_utc() + time::Duration::seconds(1),
            )
            .await?;
        Ok(n)
    }

    /// Every user id, oldest first.
    pub(crate) async fn user_ids(&self) -> Result<Vec<String>, AdapterError> {
        let q = "SELECT id FROM users ORDER BY created_at, id";
        let r = match &self.db {
            Db::Sqlite(d) => {
                portcullis_sqlx::sqlx::query_scalar(q)
                    .fetch_all(d.reader_pool())
                    .await
            }
            Db::Postgres(d) => {
                portcullis_sqlx::sqlx::query_scalar(q)
                    .fetch_all(d.pool())
                    .await
            }
        };
        r.map_err(AdapterError::other)
    }

    pub(crate) async fn close(&self) {
        match &self.db {
            Db::Sqlite(d) => d.close().await,
            Db::Postgres(d) => d.close().await,
        }
    }
}

/// An error with its sources, on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s.replace('\n', " ")
}

/// A URL without its password.
pub(crate) fn redact(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => u.to_owned(),
    }
}
