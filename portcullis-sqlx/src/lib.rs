//! SQLite and PostgreSQL storage for portcullis, on [sqlx] 0.9.
//!
//! [`SqliteAdapter`] (the embedded default: one file, no server) and [`PostgresAdapter`]
//! implement every adapter capability of `portcullis::adapter` — users and accounts,
//! database sessions, verification tokens, per-user revocation and password hashes — and
//! pass the `portcullis-adapter-tests` conformance suite.
//!
//! # Quick start
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use portcullis::adapter::{AdapterUser, UserAdapter};
//! use portcullis_sqlx::SqliteAdapter;
//!
//! // A file path (parent directories are created) or `sqlite:` URL; migrations run here.
//! # let dir = std::env::temp_dir().join(format!("portcullis-doc-{}", std::process::id()));
//! # let path = dir.join("nested/auth.db");
//! let db = SqliteAdapter::connect(path.to_str().unwrap()).await?;
//! let user = AdapterUser { id: "1".into(), email: Some("a@example.com".into()),
//!     email_verified: None, name: None, image: None, fields: Default::default() };
//! db.create_user(&user).await?;
//! assert_eq!(db.user_by_email("a@example.com").await?, Some(user));
//! # db.close().await;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Schema
//! Embedded migrations (`migrations/sqlite`, `migrations/postgres`) run on connect and are
//! idempotent. Tables: `users` (`email` unique, `fields` a JSON object),
//! `accounts` (primary key (`provider`, `provider_account_id`), `user_id` → `users` **on
//! delete cascade**), `sessions` (primary key `key` = the SHA-256 hex of the session token,
//! `user_id` → `users` on delete cascade, indexes on `user_id` and `expires`),
//! `verification_tokens` (primary key (`identifier`, `token_hash`)), `revocations`
//! (`user_id` primary key, `not_before`: deliberately no foreign key, so a revocation can be
//! recorded for any user id — a credentials user with no `users` row, a user just deleted —
//! and outlives `delete_user`), `credentials` (`user_id` primary key → `users` on delete
//! cascade, `password_hash` a PHC string, `updated_at`) and the `users.disabled` flag, for
//! [`PasswordAdapter`](portcullis::adapter::PasswordAdapter).
//!
//! Timestamps are `timestamptz` in PostgreSQL (microseconds) and **INTEGER Unix
//! milliseconds** in SQLite; either way millisecond values round-trip exactly and finer
//! precision is truncated.
//!
//! # Errors
//! Driver errors become [`AdapterError`] with the driver error kept as the source:
//! - connection refused or reset, any I/O error, pool timed out or closed, a crashed SQLite
//!   worker, PostgreSQL SQLSTATE classes `08` (connection), `53` (resources), `57`
//!   (operator intervention: shutdown, cancel), `58` (system), SQLite `BUSY`, `LOCKED`,
//!   `IOERR`, `CANTOPEN`, `FULL` → [`AdapterError::Unavailable`] (portcullis answers 503
//!   and does not sign anyone out);
//! - a unique or primary-key violation (SQLSTATE `23505`, SQLite `CONSTRAINT_UNIQUE` /
//!   `CONSTRAINT_PRIMARYKEY`) → [`AdapterError::Conflict`];
//! - a foreign-key violation in `link_account` / `create_session` (the user does not exist)
//!   → [`AdapterError::NotFound`];
//! - anything else → [`AdapterError::Other`].
//!
//! # Security
//! - Every query is a fixed `&'static str` with bind parameters (sqlx 0.9 refuses other
//!   strings without an explicit `AssertSqlSafe`, which this crate never uses); lookups are
//!   `=` comparisons, so `%`, `_` and `'` in emails and ids are ordinary characters.
//! - Session and verification tokens are stored only as their SHA-256.
//! - Single use of verification tokens is one `DELETE … RETURNING` statement; linking an
//!   account relies on the primary key, not on a check-then-insert.
//!
//! # Expired sessions
//! `delete_expired_sessions` removes due rows; [`SqliteAdapter::spawn_sweeper`],
//! [`PostgresAdapter::spawn_sweeper`] or [`spawn_sweeper`] run it periodically.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod postgres;
mod sqlite;

pub use postgres::PostgresAdapter;
pub use sqlite::SqliteAdapter;

/// The sqlx version this crate is built on, re-exported so callers can build pools and
/// options ([`sqlx::postgres::PgPoolOptions`], [`sqlx::sqlite::SqliteConnectOptions`]) with
/// matching types.
pub use sqlx;

#[doc(no_inline)]
pub use portcullis::adapter::AdapterError;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portcullis::adapter::SessionAdapter;
use time::OffsetDateTime;

/// Why opening a store failed (connecting, creating its directory, migrating).
///
/// Calls on an open store fail with [`AdapterError`] instead; `From<Error> for AdapterError`
/// keeps this error as the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The directory for the SQLite file could not be created (permissions, a file in the
    /// way, a read-only filesystem).
    #[error("cannot create the directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The URL or path could not be parsed into connection options.
    #[error("invalid database URL or options")]
    Options(#[source] sqlx::Error),
    /// The database could not be opened or reached (server down, wrong credentials, a file
    /// that cannot be opened).
    #[error("cannot connect to the database")]
    Connect(#[source] sqlx::Error),
    /// The embedded migrations failed (a schema changed by hand, a newer schema than this
    /// version knows, or the connection dropped while migrating).
    #[error("cannot apply the database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl Error {
    /// Whether this is an outage (the server or file cannot be reached) rather than a
    /// configuration mistake.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Connect(e) => is_unavailable(e),
            Self::Migrate(sqlx::migrate::MigrateError::Execute(e)) => is_unavailable(e),
            _ => false,
        }
    }
}

impl From<Error> for AdapterError {
    fn from(e: Error) -> Self {
        if e.is_unavailable() {
            AdapterError::unavailable(e)
        } else {
            AdapterError::other(e)
        }
    }
}

/// How a driver error is reported to portcullis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unavailable,
    Conflict,
    ForeignKey,
    Other,
}

fn class_of(e: &sqlx::Error) -> Class {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Class::Unavailable,
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                Class::Conflict
            } else if db.is_foreign_key_violation() {
                Class::ForeignKey
            } else if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if pg_code_is_unavailable(pg.code()) {
                    Class::Unavailable
                } else {
                    Class::Other
                }
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                if sqlite_code_is_unavailable(code) {
                    Class::Unavailable
                } else {
                    Class::Other
                }
            } else {
                Class::Other
            }
        }
        _ => Class::Other,
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    class_of(e) == Class::Unavailable
}

/// PostgreSQL SQLSTATEs that mean "the server cannot serve us now", not "this request is
/// wrong": class 08 connection exception, 53 insufficient resources (too many connections,
/// disk full, out of memory), 57 operator intervention (admin/crash shutdown, cannot connect
/// now, query canceled by `statement_timeout`), 58 system error (I/O).
fn pg_code_is_unavailable(code: &str) -> bool {
    ["08", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
}

/// SQLite result codes (extended codes carry the primary code in their low byte) that mean
/// the file cannot be used now: BUSY (5), LOCKED (6), IOERR (10), FULL (13), CANTOPEN (14).
fn sqlite_code_is_unavailable(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)
}

/// Converts a driver error, keeping it as the source. `conflict` says which uniqueness rule
/// the statement can hit; `Conflict` carries it with the constraint the database named.
fn adapter_error(e: sqlx::Error, conflict: &str) -> AdapterError {
    match class_of(&e) {
        Class::Unavailable => AdapterError::unavailable(e),
        Class::Conflict => {
            let detail = e
                .as_database_error()
                .map(|db| db.constraint().unwrap_or(db.message()).to_owned())
                .unwrap_or_default();
            AdapterError::Conflict(format!("{conflict} ({detail})"))
        }
        Class::ForeignKey | Class::Other => AdapterError::other(e),
    }
}

/// Like [`adapter_error`], but a foreign-key violation means the referenced user does not
/// exist: [`AdapterError::NotFound`].
fn adapter_error_fk(e: sqlx::Error, conflict: &str) -> AdapterError {
    if class_of(&e) == Class::ForeignKey {
        AdapterError::NotFound
    } else {
        adapter_error(e, conflict)
    }
}

/// A malformed stored value (a bad hash, an unknown account type, broken JSON).
#[derive(Debug, thiserror::Error)]
#[error("malformed stored value in {column}: {reason}")]
struct Malformed {
    column: &'static str,
    reason: String,
}

fn malformed(column: &'static str, reason: impl std::fmt::Display) -> AdapterError {
    AdapterError::other(Malformed {
        column,
        reason: reason.to_string(),
    })
}

fn audit_kind(name: &str) -> Result<portcullis::AuditKind, AdapterError> {
    portcullis::AuditKind::parse(name).ok_or_else(|| malformed("kind", "unknown audit event kind"))
}

fn token_hash(
    column: &'static str,
    hex: &str,
) -> Result<portcullis::adapter::TokenHash, AdapterError> {
    portcullis::adapter::TokenHash::from_stored(hex)
        .ok_or_else(|| malformed(column, "not 64 lowercase hex"))
}

fn account_type_to_str(kind: portcullis::AccountType) -> Result<String, AdapterError> {
    // Auth.js's names ("oauth", "oidc", "email", "webauthn", "credentials"), taken from the
    // type's own serde form so a new variant needs no change here.
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Err(malformed(
            "type",
            format!("account type serialised as {other}"),
        )),
        Err(e) => Err(AdapterError::other(e)),
    }
}

fn account_type_from_str(s: &str) -> Result<portcullis::AccountType, AdapterError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| malformed("type", e))
}

/// Runs `delete_expired_sessions(now)` on a [`tokio`] task every `every` (the first sweep
/// at once), until the returned [`Sweeper`] is dropped or aborted. Failures are logged with
/// `tracing` and the next tick tries again.
///
/// # Panics
/// Outside a tokio runtime.
///
/// # Examples
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::{sync::Arc, time::Duration};
/// let db = portcullis_sqlx::SqliteAdapter::in_memory().await.unwrap();
/// let sweeper = portcullis_sqlx::spawn_sweeper(Arc::new(db), Duration::from_secs(3600));
/// drop(sweeper); // stops it
/// # });
/// ```
pub fn spawn_sweeper<S: SessionAdapter + ?Sized>(store: Arc<S>, every: Duration) -> Sweeper {
    let every = every.max(Duration::from_millis(1));
    let handle = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match store
                .delete_expired_sessions(OffsetDateTime::now_utc())
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired sessions swept"),
                Err(e) => tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "sweeping expired sessions failed"
                ),
            }
        }
    });
    Sweeper { handle }
}

/// The handle of a [`spawn_sweeper`] task: dropping it (or calling [`abort`](Self::abort))
/// stops the sweeping.
#[derive(Debug)]
#[must_use = "dropping the Sweeper stops it at once"]
pub struct Sweeper {
    handle: tokio::task::JoinHandle<()>,
}

impl Sweeper {
    /// Stops the sweeping (a sweep already running is cancelled at its next await).
    pub fn abort(&self) {
        self.handle.abort();
    }

    /// Whether the task has stopped.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_unavailable() {
        use std::io::{Error as IoError, ErrorKind};
        for kind in [
            ErrorKind::ConnectionRefused,
            ErrorKind::ConnectionReset,
            ErrorKind::UnexpectedEof,
            ErrorKind::BrokenPipe,
        ] {
            let e = adapter_error(sqlx::Error::Io(IoError::from(kind)), "x");
            assert!(e.is_unavailable(), "{kind:?}");
            // The driver error is the source, not a copy.
            let source =
                std::error::Error::source(&e).and_then(|s| s.downcast_ref::<sqlx::Error>());
            assert!(matches!(source, Some(sqlx::Error::Io(_))));
        }
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
        ] {
            assert!(adapter_error(e, "x").is_unavailable());
        }
    }

    #[test]
    fn logical_errors_are_other() {
        for e in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("bad".into()),
            sqlx::Error::ColumnNotFound("c".into()),
        ] {
            let e = adapter_error(e, "x");
            assert!(matches!(e, AdapterError::Other(_)), "{e:?}");
        }
    }

    #[test]
    fn postgres_codes() {
        for code in [
            "08000", "08006", "08001", "57P01", "57P02", "57P03", "57014", "53300", "53100",
            "58030",
        ] {
            assert!(pg_code_is_unavailable(code), "{code}");
        }
        for code in [
            "23505", "23503", "22021", "42P01", "40001", "40P01", "XX000", "",
        ] {
            assert!(!pg_code_is_unavailable(code), "{code}");
        }
    }

    #[test]
    fn sqlite_codes() {
        // BUSY, BUSY_SNAPSHOT (517), LOCKED, IOERR, IOERR_SHORT_READ (522), FULL, CANTOPEN.
        for code in [5, 517, 6, 10, 522, 13, 14] {
            assert!(sqlite_code_is_unavailable(code), "{code}");
        }
        // CONSTRAINT_UNIQUE (2067), CONSTRAINT_FOREIGNKEY (787), ERROR, READONLY, CORRUPT.
        for code in [2067, 787, 1, 8, 11, 0] {
            assert!(!sqlite_code_is_unavailable(code), "{code}");
        }
    }

    #[test]
    fn account_types_use_auth_js_names() {
        use portcullis::AccountType;
        for (kind, name) in [
            (AccountType::OAuth, "oauth"),
            (AccountType::Oidc, "oidc"),
            (AccountType::Email, "email"),
            (AccountType::WebAuthn, "webauthn"),
            (AccountType::Credentials, "credentials"),
        ] {
            assert_eq!(account_type_to_str(kind).ok().as_deref(), Some(name));
            assert_eq!(account_type_from_str(name).ok(), Some(kind));
        }
        assert!(account_type_from_str("OAuth").is_err());
    }

    #[test]
    fn open_errors_convert_keeping_the_source() {
        let e: AdapterError = Error::Connect(sqlx::Error::PoolTimedOut).into();
        assert!(e.is_unavailable());
        let e: AdapterError = Error::Options(sqlx::Error::Configuration("bad".into())).into();
        assert!(matches!(e, AdapterError::Other(_)));
        let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<Error>());
        assert!(matches!(source, Some(Error::Options(_))));
    }
}
