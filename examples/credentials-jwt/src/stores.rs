//! Where sessions live, chosen from the environment — a few lines per backend:
//!
//! | variable | effect |
//! |---|---|
//! | `PORTCULLIS_STRATEGY` | `jwt` (default) or `database` |
//! | `DATABASE_URL` | `sqlite:…` (default `sqlite://data/example.db`) or `postgres://…`: users, accounts, sessions |
//! | `SESSION_STORE_URL` | `redis://…`: sessions and revocations in Redis, users in `DATABASE_URL` |

use std::sync::Arc;
use std::time::Duration;

use portcullis::adapter::UserAdapter;
use portcullis::{AuthConfigBuilder, SessionStrategy};
use portcullis_redis::RedisAdapter;
use portcullis_sqlx::{PostgresAdapter, SqliteAdapter, Sweeper};

use crate::App;

/// The chosen stores, to apply to the configuration.
pub(crate) enum Stores {
    /// JWT sessions, no store.
    None,
    Sqlite(Arc<SqliteAdapter>, Option<Arc<RedisAdapter>>),
    Postgres(Arc<PostgresAdapter>, Option<Arc<RedisAdapter>>),
}

impl Stores {
    pub(crate) fn apply(self, builder: AuthConfigBuilder<App>) -> AuthConfigBuilder<App> {
        let (builder, redis) = match self {
            Self::None => return builder,
            Self::Sqlite(db, redis) => (builder.adapter(db), redis),
            Self::Postgres(db, redis) => (builder.adapter(db), redis),
        };
        let builder = match redis {
            // Redis in front of SQL: the hot, expiring data shared by every instance.
            Some(r) => builder
                .session_adapter(r.clone())
                .revocation_adapter(r.clone())
                .verification_token_adapter(r),
            None => builder,
        };
        builder.session_strategy(SessionStrategy::Database)
    }
}

/// The callbacks, the stores, and the sweeper of expired sessions (keep it alive: dropping
/// it stops the sweep).
pub(crate) async fn from_env() -> Result<(App, Stores, Option<Sweeper>), String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match var("PORTCULLIS_STRATEGY").as_deref() {
        None | Some("jwt") => return Ok((App::default(), Stores::None, None)),
        Some("database") => {}
        Some(other) => {
            return Err(format!(
                "PORTCULLIS_STRATEGY: `{other}` is not a strategy: use `jwt` or `database`"
            ));
        }
    }
    let redis = match var("SESSION_STORE_URL") {
        Some(url) => Some(Arc::new(RedisAdapter::connect(&url).await.map_err(
            |e| format!("SESSION_STORE_URL: cannot reach Redis ({e}): start it or fix the URL"),
        )?)),
        None => None,
    };
    let url = var("DATABASE_URL").unwrap_or_else(|| "sqlite://data/example.db".to_owned());
    let unreachable = |e: portcullis_sqlx::Error| {
        format!("DATABASE_URL: cannot open `{url}` ({e}): check the path or the server")
    };
    // Expired sessions are deleted when read; the sweeper removes the ones nobody reads.
    let sweep = Duration::from_secs(3600);
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let db = Arc::new(PostgresAdapter::connect(&url).await.map_err(unreachable)?);
        let sweeper = db.spawn_sweeper(sweep);
        let users: Arc<dyn UserAdapter> = db.clone();
        Ok((
            App { users: Some(users) },
            Stores::Postgres(db, redis),
            Some(sweeper),
        ))
    } else if url.starts_with("sqlite:") {
        let db = Arc::new(SqliteAdapter::connect(&url).await.map_err(unreachable)?);
        let sweeper = db.spawn_sweeper(sweep);
        let users: Arc<dyn UserAdapter> = db.clone();
        Ok((
            App { users: Some(users) },
            Stores::Sqlite(db, redis),
            Some(sweeper),
        ))
    } else {
        Err(format!(
            "DATABASE_URL: `{url}` is neither `sqlite:` nor `postgres:`"
        ))
    }
}
