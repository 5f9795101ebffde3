//! [`SqliteAdapter`]: every capability in one SQLite file.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use portcullis::AuditEvent;
use portcullis::adapter::{
    AdapterAccount, AdapterError, AdapterSession, AdapterUser, AuditAdapter, PasswordAdapter,
    RevocationAdapter, SessionAdapter, TokenHash, UserAdapter, UserUpdate, VerificationToken,
    VerificationTokenAdapter,
};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use time::OffsetDateTime;

use crate::{
    Error, Sweeper, account_type_from_str, account_type_to_str, adapter_error, adapter_error_fk,
    malformed, token_hash,
};

/// Every adapter capability in one SQLite database file (bundled SQLite, no server).
///
/// # Connections
/// SQLite has one writer at a time. The adapter keeps **two pools**: a single *writer*
/// connection, so this process's writes queue fairly in the pool instead of spinning on
/// `SQLITE_BUSY`, and up to [`DEFAULT_READERS`](Self::DEFAULT_READERS) *reader* connections,
/// which WAL lets read while the writer writes. Every connection uses WAL journaling,
/// `synchronous = NORMAL` (durable across application crashes; a power cut may lose the last
/// commits, never corrupt the file), `foreign_keys = ON` and a 5 s `busy_timeout` for writers
/// in other processes. A write waits at most [`ACQUIRE_TIMEOUT`](Self::ACQUIRE_TIMEOUT) for
/// the writer connection, then fails with [`AdapterError::Unavailable`] (503) rather than
/// hanging.
///
/// Timestamps are stored as INTEGER Unix milliseconds (UTC); finer precision is truncated.
///
/// # Examples
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use portcullis::adapter::{SessionAdapter, UserAdapter};
/// use portcullis_sqlx::SqliteAdapter;
///
/// let db = SqliteAdapter::in_memory().await?;
/// assert_eq!(db.user("nobody").await?, None);
/// let _sweeper = db.spawn_sweeper(std::time::Duration::from_secs(600));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqliteAdapter {
    writer: SqlitePool,
    reader: SqlitePool,
    options: SqliteConnectOptions,
}

impl std::fmt::Debug for SqliteAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAdapter")
            .field("filename", &self.options.get_filename())
            .finish_non_exhaustive()
    }
}

impl SqliteAdapter {
    /// Reader connections [`connect`](Self::connect) opens at most.
    pub const DEFAULT_READERS: u32 = 4;
    /// How long a call waits for a connection before failing as unavailable.
    pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
    /// How long SQLite waits for another process's write lock.
    pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

    /// Opens (creating it and its parent directories if needed) the database at a file path
    /// or a `sqlite:` URL, and applies the migrations. `":memory:"` is
    /// [`in_memory`](Self::in_memory).
    ///
    /// # Errors
    /// [`Error::Options`] for an unparsable URL, [`Error::CreateDir`] when the directory
    /// cannot be created, [`Error::Connect`] when the file cannot be opened,
    /// [`Error::Migrate`] when the schema cannot be brought up to date.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f() -> Result<(), portcullis_sqlx::Error> {
    /// let db = portcullis_sqlx::SqliteAdapter::connect("data/auth.db").await?;
    /// let same = portcullis_sqlx::SqliteAdapter::connect("sqlite://data/auth.db").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(url_or_path: &str) -> Result<Self, Error> {
        if url_or_path == ":memory:" || url_or_path == "sqlite::memory:" {
            return Self::in_memory().await;
        }
        let options = if url_or_path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url_or_path).map_err(Error::Options)?
        } else {
            SqliteConnectOptions::new().filename(url_or_path)
        };
        Self::connect_with(options, Self::DEFAULT_READERS).await
    }

    /// Opens the database with these options (WAL, `synchronous = NORMAL`, `foreign_keys`,
    /// `create_if_missing` and the busy timeout are applied on top) and at most `readers`
    /// reader connections (at least one), then applies the migrations.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f() -> Result<(), portcullis_sqlx::Error> {
    /// use portcullis_sqlx::sqlx::sqlite::SqliteConnectOptions;
    /// let options = SqliteConnectOptions::new().filename("/var/lib/app/auth.db");
    /// let db = portcullis_sqlx::SqliteAdapter::connect_with(options, 8).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(options: SqliteConnectOptions, readers: u32) -> Result<Self, Error> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Self::BUSY_TIMEOUT);
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
            && !dir.is_dir()
        {
            std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // No ping before each use: a SQLite connection is a file handle on a worker thread
        // and cannot go stale, while sqlx's default ping is two thread hops per query
        // (about a third of a session read on one core, see BENCHMARKS.md).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Self::ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(Error::Connect)?;
        // The writer creates the file and switches it to WAL before any reader opens it.
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(Error::Migrate)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .test_before_acquire(false)
            .acquire_timeout(Self::ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(Error::Connect)?;
        Ok(Self {
            writer,
            reader,
            options,
        })
    }

    /// A private in-memory database, for tests and examples: gone when the last clone of
    /// the adapter is dropped.
    ///
    /// It is a named shared-cache database held open by a single connection that never
    /// expires, so every query sees the same data; other connections can join it with
    /// [`connect_options`](Self::connect_options).
    ///
    /// # Errors
    /// [`Error::Connect`] or [`Error::Migrate`] (neither expected).
    ///
    /// # Examples
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = portcullis_sqlx::SqliteAdapter::in_memory().await.unwrap();
    /// # });
    /// ```
    pub async fn in_memory() -> Result<Self, Error> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "file:portcullis-memory-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let options = SqliteConnectOptions::new()
            .filename(name)
            .in_memory(true)
            .shared_cache(true)
            .foreign_keys(true)
            .busy_timeout(Self::BUSY_TIMEOUT);
        // One connection that lives as long as the pool: the database exists while it is open.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .acquire_timeout(Self::ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(Error::Connect)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(Error::Migrate)?;
        Ok(Self {
            writer: pool.clone(),
            reader: pool,
            options,
        })
    }

    /// The options every connection of this adapter was opened with (to open another
    /// connection to the same database: a backup, a maintenance query, a test's raw reads).
    pub fn connect_options(&self) -> &SqliteConnectOptions {
        &self.options
    }

    /// The database file (for an in-memory database, its shared-cache name).
    pub fn filename(&self) -> &Path {
        self.options.get_filename()
    }

    /// The single-connection pool all writes go through.
    pub fn writer_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// The pool reads go through (the writer pool for an in-memory database).
    pub fn reader_pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// Applies the embedded migrations (already done by the constructors; idempotent).
    ///
    /// # Errors
    /// [`Error::Migrate`].
    pub async fn migrate(&self) -> Result<(), Error> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await
            .map_err(Error::Migrate)
    }

    /// Closes every connection; later calls fail with [`AdapterError::Unavailable`].
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Deletes expired sessions every `every` until the returned [`Sweeper`] is dropped
    /// (see [`spawn_sweeper`](crate::spawn_sweeper)).
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn_sweeper(&self, every: Duration) -> Sweeper {
        crate::spawn_sweeper(Arc::new(self.clone()), every)
    }
}

/// Milliseconds since the epoch. `OffsetDateTime` spans ±9999 years, about ±3.2e14 ms, far
/// inside `i64`; finer precision is truncated toward the past.
fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos().div_euclid(1_000_000)) as i64
}

fn from_ms(column: &'static str, ms: i64) -> Result<OffsetDateTime, AdapterError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| malformed(column, e))
}

fn opt_from_ms(
    column: &'static str,
    ms: Option<i64>,
) -> Result<Option<OffsetDateTime>, AdapterError> {
    ms.map(|v| from_ms(column, v)).transpose()
}

fn fields_to_text(fields: &Map<String, Value>) -> Result<String, AdapterError> {
    serde_json::to_string(fields).map_err(AdapterError::other)
}

fn get<'r, T>(row: &'r SqliteRow, column: &'static str) -> Result<T, AdapterError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(AdapterError::other)
}

/// The user columns, aliased `u_*` so the same decoder reads a join.
macro_rules! user_cols {
    () => {
        "u.id AS u_id, u.email AS u_email, u.email_verified AS u_email_verified, u.name AS u_name, \
         u.image AS u_image, u.fields AS u_fields"
    };
}
/// The same, unqualified: SQLite's RETURNING cannot name the table or an alias.
macro_rules! user_ret {
    () => {
        "id AS u_id, email AS u_email, email_verified AS u_email_verified, name AS u_name, \
         image AS u_image, fields AS u_fields"
    };
}
macro_rules! session_ret {
    () => {
        "key AS s_key, user_id AS s_user_id, expires AS s_expires, created_at AS s_created_at, \
         last_used_at AS s_last_used_at, user_agent AS s_user_agent, ip AS s_ip"
    };
}
macro_rules! session_cols {
    () => {
        "s.key AS s_key, s.user_id AS s_user_id, s.expires AS s_expires, s.created_at AS s_created_at, \
         s.last_used_at AS s_last_used_at, s.user_agent AS s_user_agent, s.ip AS s_ip"
    };
}
macro_rules! account_cols {
    () => {
        "user_id, type, provider, provider_account_id, refresh_token, access_token, expires_at, \
         token_type, scope, id_token, session_state"
    };
}

fn user_from_row(row: &SqliteRow) -> Result<AdapterUser, AdapterError> {
    let fields: String = get(row, "u_fields")?;
    let fields = match serde_json::from_str::<Value>(&fields).map_err(|e| malformed("fields", e))? {
        Value::Object(map) => map,
        other => return Err(malformed("fields", format!("not a JSON object: {other}"))),
    };
    Ok(AdapterUser {
        id: get(row, "u_id")?,
        email: get(row, "u_email")?,
        email_verified: opt_from_ms("email_verified", get(row, "u_email_verified")?)?,
        name: get(row, "u_name")?,
        image: get(row, "u_image")?,
        fields,
    })
}

fn session_from_row(row: &SqliteRow) -> Result<AdapterSession, AdapterError> {
    let key: String = get(row, "s_key")?;
    Ok(AdapterSession {
        key: token_hash("key", &key)?,
        user_id: get(row, "s_user_id")?,
        expires: from_ms("expires", get(row, "s_expires")?)?,
        created_at: from_ms("created_at", get(row, "s_created_at")?)?,
        last_used_at: from_ms("last_used_at", get(row, "s_last_used_at")?)?,
        user_agent: get(row, "s_user_agent")?,
        ip: get(row, "s_ip")?,
    })
}

fn account_from_row(row: &SqliteRow) -> Result<AdapterAccount, AdapterError> {
    let kind: String = get(row, "type")?;
    Ok(AdapterAccount {
        user_id: get(row, "user_id")?,
        kind: account_type_from_str(&kind)?,
        provider: get(row, "provider")?,
        provider_account_id: get(row, "provider_account_id")?,
        refresh_token: get(row, "refresh_token")?,
        access_token: get(row, "access_token")?,
        expires_at: get(row, "expires_at")?,
        token_type: get(row, "token_type")?,
        scope: get(row, "scope")?,
        id_token: get(row, "id_token")?,
        session_state: get(row, "session_state")?,
    })
}

const USER_CONFLICT: &str = "the user id or email is already in use";
const ACCOUNT_CONFLICT: &str = "the (provider, provider_account_id) pair is already linked";

async fn insert_user<'e, E>(db: E, user: &AdapterUser) -> Result<AdapterUser, AdapterError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let row = sqlx::query(concat!(
        "INSERT INTO users (id, email, email_verified, name, image, fields, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING ",
        user_ret!()
    ))
    .bind(&user.id)
    .bind(&user.email)
    .bind(user.email_verified.map(to_ms))
    .bind(&user.name)
    .bind(&user.image)
    .bind(fields_to_text(&user.fields)?)
    .bind(to_ms(OffsetDateTime::now_utc()))
    .fetch_one(db)
    .await
    .map_err(|e| adapter_error(e, USER_CONFLICT))?;
    user_from_row(&row)
}

async fn insert_account<'e, E>(
    db: E,
    account: &AdapterAccount,
    user_id: &str,
) -> Result<(), AdapterError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(concat!(
        "INSERT INTO accounts (",
        account_cols!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))
    .bind(user_id)
    .bind(account_type_to_str(account.kind)?)
    .bind(&account.provider)
    .bind(&account.provider_account_id)
    .bind(&account.refresh_token)
    .bind(&account.access_token)
    .bind(account.expires_at)
    .bind(&account.token_type)
    .bind(&account.scope)
    .bind(&account.id_token)
    .bind(&account.session_state)
    .execute(db)
    .await
    .map_err(|e| adapter_error_fk(e, ACCOUNT_CONFLICT))?;
    Ok(())
}

#[async_trait]
impl UserAdapter for SqliteAdapter {
    async fn create_user(&self, user: &AdapterUser) -> Result<AdapterUser, AdapterError> {
        insert_user(&self.writer, user).await
    }

    async fn user(&self, id: &str) -> Result<Option<AdapterUser>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users u WHERE u.id = ?1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<AdapterUser>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users u WHERE u.email = ?1"
        ))
        .bind(email)
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn user_by_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<Option<AdapterUser>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM accounts a JOIN users u ON u.id = a.user_id \
             WHERE a.provider = ?1 AND a.provider_account_id = ?2"
        ))
        .bind(provider)
        .bind(provider_account_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn update_user(
        &self,
        id: &str,
        update: &UserUpdate,
    ) -> Result<AdapterUser, AdapterError> {
        // One statement: each column is replaced only when its flag is set.
        let fields = update.fields.as_ref().map(fields_to_text).transpose()?;
        let row = sqlx::query(concat!(
            "UPDATE users SET \
               email = CASE WHEN ?2 THEN ?3 ELSE email END, \
               email_verified = CASE WHEN ?4 THEN ?5 ELSE email_verified END, \
               name = CASE WHEN ?6 THEN ?7 ELSE name END, \
               image = CASE WHEN ?8 THEN ?9 ELSE image END, \
               fields = CASE WHEN ?10 THEN ?11 ELSE fields END \
             WHERE id = ?1 RETURNING ",
            user_ret!()
        ))
        .bind(id)
        .bind(update.email.is_some())
        .bind(update.email.clone().flatten())
        .bind(update.email_verified.is_some())
        .bind(update.email_verified.flatten().map(to_ms))
        .bind(update.name.is_some())
        .bind(update.name.clone().flatten())
        .bind(update.image.is_some())
        .bind(update.image.clone().flatten())
        .bind(fields.is_some())
        .bind(fields)
        .fetch_optional(&self.writer)
        .await
        .map_err(|e| adapter_error(e, USER_CONFLICT))?;
        match row {
            Some(row) => user_from_row(&row),
            None => Err(AdapterError::NotFound),
        }
    }

    async fn delete_user(&self, id: &str) -> Result<(), AdapterError> {
        // Accounts and sessions go with it: ON DELETE CASCADE.
        sqlx::query("DELETE FROM users WHERE id = ?1")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(())
    }

    async fn link_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        insert_account(&self.writer, account, &account.user_id).await
    }

    async fn create_user_with_account(
        &self,
        user: &AdapterUser,
        account: &AdapterAccount,
    ) -> Result<AdapterUser, AdapterError> {
        // IMMEDIATE takes the write lock up front, so another process's writer makes us wait
        // (busy_timeout) instead of failing half-way.
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| adapter_error(e, ""))?;
        let inserted = async {
            let stored = insert_user(&mut *tx, user).await?;
            insert_account(&mut *tx, account, &stored.id).await?;
            Ok::<_, AdapterError>(stored)
        }
        .await;
        match inserted {
            Ok(stored) => {
                tx.commit().await.map_err(|e| adapter_error(e, ""))?;
                Ok(stored)
            }
            Err(e) => {
                // Roll back now: a dropped transaction is rolled back only when its
                // connection is next used, and keeps its locks until then (another
                // connection reading right after this error would find them held).
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn unlink_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<(), AdapterError> {
        sqlx::query("DELETE FROM accounts WHERE provider = ?1 AND provider_account_id = ?2")
            .bind(provider)
            .bind(provider_account_id)
            .execute(&self.writer)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(())
    }

    async fn accounts(&self, user_id: &str) -> Result<Vec<AdapterAccount>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            account_cols!(),
            " FROM accounts WHERE user_id = ?1 ORDER BY provider, provider_account_id"
        ))
        .bind(user_id)
        .fetch_all(&self.reader)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .iter()
        .map(account_from_row)
        .collect()
    }

    async fn update_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        // The token columns only: `user_id` and `type` stay as linked.
        let done = sqlx::query(
            "UPDATE accounts SET access_token = ?3, refresh_token = ?4, expires_at = ?5, \
             token_type = ?6, scope = ?7, id_token = ?8, session_state = ?9 \
             WHERE provider = ?1 AND provider_account_id = ?2",
        )
        .bind(&account.provider)
        .bind(&account.provider_account_id)
        .bind(&account.access_token)
        .bind(&account.refresh_token)
        .bind(account.expires_at)
        .bind(&account.token_type)
        .bind(&account.scope)
        .bind(&account.id_token)
        .bind(&account.session_state)
        .execute(&self.writer)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        if done.rows_affected() == 0 {
            return Err(AdapterError::NotFound);
        }
        Ok(())
    }
}

#[async_trait]
impl SessionAdapter for SqliteAdapter {
    async fn create_session(&self, session: &AdapterSession) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO sessions (key, user_id, expires, created_at, last_used_at, user_agent, ip) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(session.key.as_str())
        .bind(&session.user_id)
        .bind(to_ms(session.expires))
        .bind(to_ms(session.created_at))
        .bind(to_ms(session.last_used_at))
        .bind(&session.user_agent)
        .bind(&session.ip)
        .execute(&self.writer)
        .await
        .map_err(|e| adapter_error_fk(e, "the session key exists"))?;
        Ok(())
    }

    async fn session(&self, key: &TokenHash) -> Result<Option<AdapterSession>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions s WHERE s.key = ?1"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn session_and_user(
        &self,
        key: &TokenHash,
    ) -> Result<Option<(AdapterSession, Option<AdapterUser>)>, AdapterError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            ", ",
            user_cols!(),
            " FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.key = ?1"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        let Some(row) = row else { return Ok(None) };
        let session = session_from_row(&row)?;
        let has_user: Option<String> = get(&row, "u_id")?;
        let user = has_user
            .is_some()
            .then(|| user_from_row(&row))
            .transpose()?;
        Ok(Some((session, user)))
    }

    async fn touch_session(
        &self,
        key: &TokenHash,
        expires: OffsetDateTime,
        last_used_at: OffsetDateTime,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        sqlx::query(concat!(
            "UPDATE sessions SET expires = MAX(expires, ?2), last_used_at = MAX(last_used_at, ?3) WHERE key = ?1 RETURNING ",
            session_ret!()
        ))
        .bind(key.as_str())
        .bind(to_ms(expires))
        .bind(to_ms(last_used_at))
        .fetch_optional(&self.writer)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn delete_session(
        &self,
        key: &TokenHash,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        sqlx::query(concat!(
            "DELETE FROM sessions WHERE key = ?1 RETURNING ",
            session_ret!()
        ))
        .bind(key.as_str())
        .fetch_optional(&self.writer)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn user_sessions(&self, user_id: &str) -> Result<Vec<AdapterSession>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions s WHERE s.user_id = ?1 ORDER BY s.created_at, s.key"
        ))
        .bind(user_id)
        .fetch_all(&self.reader)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .iter()
        .map(session_from_row)
        .collect()
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
    ) -> Result<u64, AdapterError> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR key <> ?2)")
                .bind(user_id)
                .bind(keep.map(TokenHash::as_str))
                .execute(&self.writer)
                .await
                .map_err(|e| adapter_error(e, ""))?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, AdapterError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires <= ?1")
            .bind(to_ms(now))
            .execute(&self.writer)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl VerificationTokenAdapter for SqliteAdapter {
    async fn create_verification_token(
        &self,
        token: &VerificationToken,
    ) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO verification_tokens (identifier, token_hash, expires) VALUES (?1, ?2, ?3)",
        )
        .bind(&token.identifier)
        .bind(token.token.as_str())
        .bind(to_ms(token.expires))
        .execute(&self.writer)
        .await
        .map_err(|e| adapter_error(e, "the verification token exists"))?;
        Ok(())
    }

    async fn use_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> Result<Option<VerificationToken>, AdapterError> {
        // One statement: of concurrent calls exactly one deletes (and gets) the row.
        let row = sqlx::query(
            "DELETE FROM verification_tokens WHERE identifier = ?1 AND token_hash = ?2 \
             RETURNING identifier, token_hash, expires",
        )
        .bind(identifier)
        .bind(token.as_str())
        .fetch_optional(&self.writer)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = get(&row, "token_hash")?;
        Ok(Some(VerificationToken {
            identifier: get(&row, "identifier")?,
            token: token_hash("token_hash", &hash)?,
            expires: from_ms("expires", get(&row, "expires")?)?,
        }))
    }

    async fn delete_verification_tokens(&self, identifier: &str) -> Result<u64, AdapterError> {
        // Served by the primary key's leading column.
        let done = sqlx::query("DELETE FROM verification_tokens WHERE identifier = ?1")
            .bind(identifier)
            .execute(&self.writer)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl RevocationAdapter for SqliteAdapter {
    async fn not_before(&self, user_id: &str) -> Result<Option<OffsetDateTime>, AdapterError> {
        let ms: Option<i64> =
            sqlx::query_scalar("SELECT not_before FROM revocations WHERE user_id = ?1")
                .bind(user_id)
                .fetch_optional(&self.reader)
                .await
                .map_err(|e| adapter_error(e, ""))?;
        opt_from_ms("not_before", ms)
    }

    /// Kept in its own table, for any user id (a credentials user with no row in `users`,
    /// a user just deleted), and not removed by `delete_user`.
    async fn set_not_before(&self, user_id: &str, at: OffsetDateTime) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO revocations (user_id, not_before) VALUES (?1, ?2) \
             ON CONFLICT (user_id) DO UPDATE SET not_before = excluded.not_before",
        )
        .bind(user_id)
        .bind(to_ms(at))
        .execute(&self.writer)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        Ok(())
    }
}

#[async_trait]
impl PasswordAdapter for SqliteAdapter {
    async fn password_hash(&self, user_id: &str) -> Result<Option<String>, AdapterError> {
        sqlx::query_scalar("SELECT password_hash FROM credentials WHERE user_id = ?1")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| adapter_error(e, ""))
    }

    /// An unknown user is a foreign-key violation: [`AdapterError::NotFound`].
    async fn set_password_hash(&self, user_id: &str, phc: &str) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO credentials (user_id, password_hash, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
             updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(phc)
        .bind(to_ms(OffsetDateTime::now_utc()))
        .execute(&self.writer)
        .await
        .map_err(|e| adapter_error_fk(e, ""))?;
        Ok(())
    }

    async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<(), AdapterError> {
        let done = sqlx::query("UPDATE users SET disabled = ?2 WHERE id = ?1")
            .bind(user_id)
            .bind(disabled)
            .execute(&self.writer)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        if done.rows_affected() == 0 {
            return Err(AdapterError::NotFound);
        }
        Ok(())
    }

    async fn is_disabled(&self, user_id: &str) -> Result<bool, AdapterError> {
        let flag: Option<bool> = sqlx::query_scalar("SELECT disabled FROM users WHERE id = ?1")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(flag.unwrap_or(false))
    }
}

#[async_trait]
impl AuditAdapter for SqliteAdapter {
    async fn record_audit_event(&self, event: &AuditEvent) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO audit_events (id, at, kind, user_id, provider, ip, user_agent, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&event.id)
        .bind(to_ms(event.at))
        .bind(event.kind.as_str())
        .bind(&event.user_id)
        .bind(&event.provider)
        .bind(&event.ip)
        .bind(&event.user_agent)
        .bind(&event.detail)
        .execute(&self.writer)
        .await
        .map_err(|e| adapter_error(e, "audit event id"))?;
        Ok(())
    }

    async fn audit_events(
        &self,
        user_id: &str,
        before: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AdapterError> {
        let rows = sqlx::query(
            "SELECT id, at, kind, user_id, provider, ip, user_agent, detail FROM audit_events \
             WHERE user_id = ?1 AND at < ?2 ORDER BY at DESC, rowid DESC LIMIT ?3",
        )
        .bind(user_id)
        .bind(before.map_or(i64::MAX, to_ms))
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        rows.iter()
            .map(|row| {
                let mut e = AuditEvent::from_stored(
                    get(row, "id")?,
                    from_ms("at", get(row, "at")?)?,
                    crate::audit_kind(&get::<String>(row, "kind")?)?,
                );
                e.user_id = get(row, "user_id")?;
                e.provider = get(row, "provider")?;
                e.ip = get(row, "ip")?;
                e.user_agent = get(row, "user_agent")?;
                e.detail = get(row, "detail")?;
                Ok(e)
            })
            .collect()
    }

    async fn delete_audit_events_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, AdapterError> {
        Ok(sqlx::query("DELETE FROM audit_events WHERE at < ?1")
            .bind(to_ms(cutoff))
            .execute(&self.writer)
            .await
            .map_err(|e| adapter_error(e, ""))?
            .rows_affected())
    }
}
