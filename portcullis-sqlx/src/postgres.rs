//! [`PostgresAdapter`]: every capability in a PostgreSQL database.

use std::sync::Arc;
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
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use time::OffsetDateTime;

use crate::{
    Error, Sweeper, account_type_from_str, account_type_to_str, adapter_error, adapter_error_fk,
    token_hash,
};

/// Every adapter capability in a PostgreSQL database (≥ 12).
///
/// Holds a [`PgPool`]. [`connect`](Self::connect) builds one with
/// [`pool_options`](Self::pool_options): at most [`DEFAULT_MAX_CONNECTIONS`](Self::DEFAULT_MAX_CONNECTIONS)
/// connections and an acquire timeout of [`ACQUIRE_TIMEOUT`](Self::ACQUIRE_TIMEOUT), so an
/// outage or an exhausted pool becomes [`AdapterError::Unavailable`] (503) within seconds,
/// never a hang. Connections are checked before use and re-opened after the server comes
/// back: the same adapter recovers from a restart without being rebuilt.
///
/// Timestamps are `timestamptz`; `fields` is `jsonb` (which keeps values, not formatting:
/// key order and number spelling are normalised; a string containing `\u0000` is refused by
/// PostgreSQL, as is a NUL byte in any text column).
///
/// # Examples
/// ```no_run
/// # async fn f() -> Result<(), portcullis_sqlx::Error> {
/// use std::time::Duration;
/// use portcullis_sqlx::PostgresAdapter;
///
/// // Default pool: 10 connections, 3 s acquire timeout; migrations applied.
/// let db = PostgresAdapter::connect("postgres://app@localhost/app").await?;
///
/// // Or size the pool yourself, or share one the application already has.
/// let options = PostgresAdapter::pool_options().max_connections(32);
/// let db = PostgresAdapter::connect_with(options, "postgres://app@localhost/app").await?;
/// let shared = PostgresAdapter::from_pool(db.pool().clone());
/// shared.migrate().await?;
/// let _sweeper = shared.spawn_sweeper(Duration::from_secs(600));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresAdapter {
    pool: PgPool,
}

impl PostgresAdapter {
    /// The pool size [`connect`](Self::connect) uses.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
    /// How long [`connect`](Self::connect)'s pool waits for a connection before a call fails
    /// as unavailable.
    pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

    /// The pool options [`connect`](Self::connect) uses; adjust and pass to
    /// [`connect_with`](Self::connect_with).
    ///
    /// # Examples
    /// ```
    /// let options = portcullis_sqlx::PostgresAdapter::pool_options().max_connections(4);
    /// assert_eq!(options.get_max_connections(), 4);
    /// ```
    pub fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(Self::DEFAULT_MAX_CONNECTIONS)
            .acquire_timeout(Self::ACQUIRE_TIMEOUT)
            .test_before_acquire(true)
    }

    /// Connects with [`pool_options`](Self::pool_options) and applies the migrations.
    ///
    /// # Errors
    /// [`Error::Options`] for a bad URL, [`Error::Connect`] when the server cannot be reached
    /// or refuses the login (check [`Error::is_unavailable`]), [`Error::Migrate`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(Self::pool_options(), url).await
    }

    /// Connects with these pool options and applies the migrations.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(options: PgPoolOptions, url: &str) -> Result<Self, Error> {
        let connect: sqlx::postgres::PgConnectOptions = url.parse().map_err(Error::Options)?;
        let pool = options
            .connect_with(connect)
            .await
            .map_err(Error::Connect)?;
        let this = Self { pool };
        this.migrate().await?;
        Ok(this)
    }

    /// Wraps a pool the application already has. Migrations are **not** run: call
    /// [`migrate`](Self::migrate).
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Applies the embedded migrations (idempotent; concurrent callers are serialised by
    /// sqlx's advisory lock).
    ///
    /// # Errors
    /// [`Error::Migrate`].
    pub async fn migrate(&self) -> Result<(), Error> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(Error::Migrate)
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool; later calls fail with [`AdapterError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
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

fn get<'r, T>(row: &'r PgRow, column: &'static str) -> Result<T, AdapterError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
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

fn user_from_row(row: &PgRow) -> Result<AdapterUser, AdapterError> {
    let Json(fields): Json<Map<String, Value>> = get(row, "u_fields")?;
    Ok(AdapterUser {
        id: get(row, "u_id")?,
        email: get(row, "u_email")?,
        email_verified: get(row, "u_email_verified")?,
        name: get(row, "u_name")?,
        image: get(row, "u_image")?,
        fields,
    })
}

fn session_from_row(row: &PgRow) -> Result<AdapterSession, AdapterError> {
    let key: String = get(row, "s_key")?;
    Ok(AdapterSession {
        key: token_hash("key", &key)?,
        user_id: get(row, "s_user_id")?,
        expires: get(row, "s_expires")?,
        created_at: get(row, "s_created_at")?,
        last_used_at: get(row, "s_last_used_at")?,
        user_agent: get(row, "s_user_agent")?,
        ip: get(row, "s_ip")?,
    })
}

fn account_from_row(row: &PgRow) -> Result<AdapterAccount, AdapterError> {
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
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let row = sqlx::query(concat!(
        "INSERT INTO users AS u (id, email, email_verified, name, image, fields) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        user_cols!()
    ))
    .bind(&user.id)
    .bind(&user.email)
    .bind(user.email_verified)
    .bind(&user.name)
    .bind(&user.image)
    .bind(Json(&user.fields))
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
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    sqlx::query(concat!(
        "INSERT INTO accounts (",
        account_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
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
impl UserAdapter for PostgresAdapter {
    async fn create_user(&self, user: &AdapterUser) -> Result<AdapterUser, AdapterError> {
        insert_user(&self.pool, user).await
    }

    async fn user(&self, id: &str) -> Result<Option<AdapterUser>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users u WHERE u.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
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
            " FROM users u WHERE u.email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
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
             WHERE a.provider = $1 AND a.provider_account_id = $2"
        ))
        .bind(provider)
        .bind(provider_account_id)
        .fetch_optional(&self.pool)
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
        let row = sqlx::query(concat!(
            "UPDATE users AS u SET \
               email = CASE WHEN $2 THEN $3 ELSE u.email END, \
               email_verified = CASE WHEN $4 THEN $5 ELSE u.email_verified END, \
               name = CASE WHEN $6 THEN $7 ELSE u.name END, \
               image = CASE WHEN $8 THEN $9 ELSE u.image END, \
               fields = CASE WHEN $10 THEN $11 ELSE u.fields END \
             WHERE u.id = $1 RETURNING ",
            user_cols!()
        ))
        .bind(id)
        .bind(update.email.is_some())
        .bind(update.email.clone().flatten())
        .bind(update.email_verified.is_some())
        .bind(update.email_verified.flatten())
        .bind(update.name.is_some())
        .bind(update.name.clone().flatten())
        .bind(update.image.is_some())
        .bind(update.image.clone().flatten())
        .bind(update.fields.is_some())
        .bind(update.fields.as_ref().map(Json))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| adapter_error(e, USER_CONFLICT))?;
        match row {
            Some(row) => user_from_row(&row),
            None => Err(AdapterError::NotFound),
        }
    }

    async fn delete_user(&self, id: &str) -> Result<(), AdapterError> {
        // Accounts and sessions go with it: ON DELETE CASCADE.
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(())
    }

    async fn link_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        insert_account(&self.pool, account, &account.user_id).await
    }

    async fn create_user_with_account(
        &self,
        user: &AdapterUser,
        account: &AdapterAccount,
    ) -> Result<AdapterUser, AdapterError> {
        // If this future is dropped half-way, dropping the transaction rolls it back (and
        // the server aborts it when the connection goes).
        let mut tx = self.pool.begin().await.map_err(|e| adapter_error(e, ""))?;
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
        sqlx::query("DELETE FROM accounts WHERE provider = $1 AND provider_account_id = $2")
            .bind(provider)
            .bind(provider_account_id)
            .execute(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(())
    }

    async fn accounts(&self, user_id: &str) -> Result<Vec<AdapterAccount>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            account_cols!(),
            " FROM accounts WHERE user_id = $1 ORDER BY provider, provider_account_id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| adapter_error(e, ""))?
        .iter()
        .map(account_from_row)
        .collect()
    }

    async fn update_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        // The token columns only: `user_id` and `type` stay as linked.
        let done = sqlx::query(
            "UPDATE accounts SET access_token = $3, refresh_token = $4, expires_at = $5, \
             token_type = $6, scope = $7, id_token = $8, session_state = $9 \
             WHERE provider = $1 AND provider_account_id = $2",
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
        .execute(&self.pool)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        if done.rows_affected() == 0 {
            return Err(AdapterError::NotFound);
        }
        Ok(())
    }
}

#[async_trait]
impl SessionAdapter for PostgresAdapter {
    async fn create_session(&self, session: &AdapterSession) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO sessions (key, user_id, expires, created_at, last_used_at, user_agent, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session.key.as_str())
        .bind(&session.user_id)
        .bind(session.expires)
        .bind(session.created_at)
        .bind(session.last_used_at)
        .bind(&session.user_agent)
        .bind(&session.ip)
        .execute(&self.pool)
        .await
        .map_err(|e| adapter_error_fk(e, "the session key exists"))?;
        Ok(())
    }

    async fn session(&self, key: &TokenHash) -> Result<Option<AdapterSession>, AdapterError> {
        sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions s WHERE s.key = $1"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.pool)
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
            " FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.key = $1"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.pool)
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
            "UPDATE sessions AS s SET expires = GREATEST(s.expires, $2), last_used_at = GREATEST(s.last_used_at, $3) WHERE s.key = $1 RETURNING ",
            session_cols!()
        ))
        .bind(key.as_str())
        .bind(expires)
        .bind(last_used_at)
        .fetch_optional(&self.pool)
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
            "DELETE FROM sessions AS s WHERE s.key = $1 RETURNING ",
            session_cols!()
        ))
        .bind(key.as_str())
        .fetch_optional(&self.pool)
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
            " FROM sessions s WHERE s.user_id = $1 ORDER BY s.created_at, s.key"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
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
        let done = sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND ($2::text IS NULL OR key <> $2)",
        )
        .bind(user_id)
        .bind(keep.map(TokenHash::as_str))
        .execute(&self.pool)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, AdapterError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl VerificationTokenAdapter for PostgresAdapter {
    async fn create_verification_token(
        &self,
        token: &VerificationToken,
    ) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO verification_tokens (identifier, token_hash, expires) VALUES ($1, $2, $3)",
        )
        .bind(&token.identifier)
        .bind(token.token.as_str())
        .bind(token.expires)
        .execute(&self.pool)
        .await
        .map_err(|e| adapter_error(e, "the verification token exists"))?;
        Ok(())
    }

    async fn use_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> Result<Option<VerificationToken>, AdapterError> {
        // One statement: concurrent deleters of the same row wait on its lock, and all but
        // the first find it gone.
        let row = sqlx::query(
            "DELETE FROM verification_tokens WHERE identifier = $1 AND token_hash = $2 \
             RETURNING identifier, token_hash, expires",
        )
        .bind(identifier)
        .bind(token.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = get(&row, "token_hash")?;
        Ok(Some(VerificationToken {
            identifier: get(&row, "identifier")?,
            token: token_hash("token_hash", &hash)?,
            expires: get(&row, "expires")?,
        }))
    }

    async fn delete_verification_tokens(&self, identifier: &str) -> Result<u64, AdapterError> {
        // Served by the primary key's leading column.
        let done = sqlx::query("DELETE FROM verification_tokens WHERE identifier = $1")
            .bind(identifier)
            .execute(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl RevocationAdapter for PostgresAdapter {
    async fn not_before(&self, user_id: &str) -> Result<Option<OffsetDateTime>, AdapterError> {
        sqlx::query_scalar("SELECT not_before FROM revocations WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))
    }

    /// Kept in its own table, for any user id (a credentials user with no row in `users`,
    /// a user just deleted), and not removed by `delete_user`.
    async fn set_not_before(&self, user_id: &str, at: OffsetDateTime) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO revocations (user_id, not_before) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET not_before = excluded.not_before",
        )
        .bind(user_id)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        Ok(())
    }
}

#[async_trait]
impl PasswordAdapter for PostgresAdapter {
    async fn password_hash(&self, user_id: &str) -> Result<Option<String>, AdapterError> {
        sqlx::query_scalar("SELECT password_hash FROM credentials WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))
    }

    /// An unknown user is a foreign-key violation: [`AdapterError::NotFound`].
    async fn set_password_hash(&self, user_id: &str, phc: &str) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO credentials (user_id, password_hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
             updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(phc)
        .bind(OffsetDateTime::now_utc())
        .execute(&self.pool)
        .await
        .map_err(|e| adapter_error_fk(e, ""))?;
        Ok(())
    }

    async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<(), AdapterError> {
        let done = sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
            .bind(user_id)
            .bind(disabled)
            .execute(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        if done.rows_affected() == 0 {
            return Err(AdapterError::NotFound);
        }
        Ok(())
    }

    async fn is_disabled(&self, user_id: &str) -> Result<bool, AdapterError> {
        let flag: Option<bool> = sqlx::query_scalar("SELECT disabled FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))?;
        Ok(flag.unwrap_or(false))
    }
}

#[async_trait]
impl AuditAdapter for PostgresAdapter {
    async fn record_audit_event(&self, event: &AuditEvent) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO audit_events (id, at, kind, user_id, provider, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&event.id)
        .bind(event.at)
        .bind(event.kind.as_str())
        .bind(&event.user_id)
        .bind(&event.provider)
        .bind(&event.ip)
        .bind(&event.user_agent)
        .bind(&event.detail)
        .execute(&self.pool)
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
             WHERE user_id = $1 AND ($2::timestamptz IS NULL OR at < $2) \
             ORDER BY at DESC, seq DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(before)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| adapter_error(e, ""))?;
        rows.iter()
            .map(|row| {
                let mut e = AuditEvent::from_stored(
                    get(row, "id")?,
                    get(row, "at")?,
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
        Ok(sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(|e| adapter_error(e, ""))?
            .rows_affected())
    }
}
