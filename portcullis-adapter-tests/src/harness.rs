//! The [`Harness`] a backend implements, the plain records its raw readers return, and the
//! driver ([`run`]) the test macros call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portcullis::adapter::{
    AuditAdapter, PasswordAdapter, RevocationAdapter, SessionAdapter, TokenHash, UserAdapter,
    VerificationTokenAdapter,
};
use time::OffsetDateTime;

/// What a raw reader returns when the backend itself fails (a test failure, not a skip).
pub type RawError = Box<dyn std::error::Error + Send + Sync>;

/// The result of a raw read.
pub type RawResult<T> = Result<T, RawError>;

/// How long one case may run before it counts as a hang.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A user row as the backend really holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawUser {
    /// `id`.
    pub id: String,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified`, converted from the backend's own representation.
    pub email_verified: Option<OffsetDateTime>,
    /// `name`.
    pub name: Option<String>,
    /// `image`.
    pub image: Option<String>,
    /// The stored application fields, parsed from the backend's JSON.
    pub fields: serde_json::Value,
}

/// An account row as the backend really holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawAccount {
    /// `user_id`.
    pub user_id: String,
    /// The stored account type, as text (`oauth`, `oidc`, `email`, `webauthn`, `credentials`).
    pub kind: String,
    /// `provider`.
    pub provider: String,
    /// `provider_account_id`.
    pub provider_account_id: String,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `access_token`.
    pub access_token: Option<String>,
    /// `expires_at` (seconds since the epoch).
    pub expires_at: Option<i64>,
    /// `token_type`.
    pub token_type: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `id_token`.
    pub id_token: Option<String>,
    /// `session_state`.
    pub session_state: Option<String>,
}

/// A session row as the backend really holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSession {
    /// The stored key (the token hash as 64 hex characters).
    pub key: String,
    /// `user_id`.
    pub user_id: String,
    /// `expires`.
    pub expires: OffsetDateTime,
    /// `created_at`.
    pub created_at: OffsetDateTime,
    /// `last_used_at`.
    pub last_used_at: OffsetDateTime,
    /// `user_agent`.
    pub user_agent: Option<String>,
    /// `ip`.
    pub ip: Option<String>,
}

/// A verification-token row as the backend really holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawVerificationToken {
    /// `identifier`.
    pub identifier: String,
    /// The stored token hash (64 hex characters).
    pub token_hash: String,
    /// `expires`.
    pub expires: OffsetDateTime,
}

/// One backend under test: the adapter for each capability it has, and raw readers that
/// look at what was really stored without going through the adapter's own decoding.
///
/// A capability the backend lacks returns `None`; its cases then print a notice and pass
/// (a Redis store without users skips the user cases). The raw readers of a missing
/// capability keep their default bodies, which fail the test if they are ever reached.
///
/// Raw readers should use their own connection and plain queries (SQL, Redis commands), so
/// a bug in the adapter's encoding cannot hide behind the same bug in its decoding.
///
/// # Examples
/// A harness over the in-memory adapter (its raw readers have to go through the adapter,
/// since memory has no other view; a real backend reads its tables directly):
/// ```
/// use std::sync::Arc;
/// use portcullis::adapter::{memory::MemoryAdapter, RevocationAdapter};
/// use portcullis_adapter_tests::{Harness, RawResult};
/// use time::OffsetDateTime;
///
/// struct OnlyRevocations(Arc<MemoryAdapter>);
///
/// #[async_trait::async_trait]
/// impl Harness for OnlyRevocations {
///     fn revocations(&self) -> Option<Arc<dyn RevocationAdapter>> {
///         Some(self.0.clone())
///     }
///     async fn raw_not_before(&self, user_id: &str) -> RawResult<Option<OffsetDateTime>> {
///         Ok(self.0.not_before(user_id).await?)
///     }
/// }
///
/// async fn make() -> Option<OnlyRevocations> {
///     Some(OnlyRevocations(Arc::new(MemoryAdapter::new())))
/// }
/// // In tests/my_backend.rs:
/// // portcullis_adapter_tests::revocation_adapter_tests!(make);
/// # tokio::runtime::Runtime::new().unwrap().block_on(portcullis_adapter_tests::run(make,
/// #     |h| async move { portcullis_adapter_tests::cases::set_not_before_replaces(&*h).await }));
/// ```
#[async_trait]
pub trait Harness: Send + Sync + 'static {
    /// The user store, if this backend holds users.
    fn users(&self) -> Option<Arc<dyn UserAdapter>> {
        None
    }
    /// The session store, if this backend holds database sessions.
    fn sessions(&self) -> Option<Arc<dyn SessionAdapter>> {
        None
    }
    /// The verification-token store, if any.
    fn verification_tokens(&self) -> Option<Arc<dyn VerificationTokenAdapter>> {
        None
    }
    /// The revocation ("not before") store, if any.
    fn revocations(&self) -> Option<Arc<dyn RevocationAdapter>> {
        None
    }
    /// The password store, if any (it needs [`users`](Self::users) too).
    fn passwords(&self) -> Option<Arc<dyn PasswordAdapter>> {
        None
    }
    /// The audit log's store, if any.
    fn audit(&self) -> Option<Arc<dyn AuditAdapter>> {
        None
    }
    /// Whether `session_and_user` must return the user too (true for stores that hold both
    /// sessions and users and override it with a join). When false, a returned user must
    /// still be the right one, but `None` is accepted.
    fn session_and_user_joins(&self) -> bool {
        false
    }
    /// Whether the store drops rows on its own once `expires` has passed (Redis TTLs). The
    /// contract allows it: such a store may answer `None` for an expired session or token
    /// where others return the row. The cases that store already-expired rows then accept
    /// the row being gone — but only gone in the raw store too, never half-there.
    fn expires_rows_natively(&self) -> bool {
        false
    }

    /// The user row with this id.
    async fn raw_user(&self, id: &str) -> RawResult<Option<RawUser>> {
        Err(missing("raw_user", id))
    }
    /// The account row with this (provider, provider_account_id).
    async fn raw_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> RawResult<Option<RawAccount>> {
        Err(missing(
            "raw_account",
            &format!("{provider}/{provider_account_id}"),
        ))
    }
    /// How many account rows point at this user.
    async fn count_user_accounts(&self, user_id: &str) -> RawResult<u64> {
        Err(missing("count_user_accounts", user_id))
    }
    /// The session row with this key.
    async fn raw_session(&self, key: &TokenHash) -> RawResult<Option<RawSession>> {
        Err(missing("raw_session", key.as_str()))
    }
    /// How many session rows belong to this user.
    async fn count_user_sessions(&self, user_id: &str) -> RawResult<u64> {
        Err(missing("count_user_sessions", user_id))
    }
    /// The verification-token row with this (identifier, hash).
    async fn raw_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> RawResult<Option<RawVerificationToken>> {
        Err(missing(
            "raw_verification_token",
            &format!("{identifier}/{}", token.as_str()),
        ))
    }
    /// The stored "not before" time of a user.
    async fn raw_not_before(&self, user_id: &str) -> RawResult<Option<OffsetDateTime>> {
        Err(missing("raw_not_before", user_id))
    }

    /// Called after every case, passed or failed (drop a per-test database, close pools).
    async fn teardown(&self) {}
}

fn missing(reader: &str, arg: &str) -> RawError {
    format!("this harness supplies the capability but does not implement `{reader}` ({arg:?})")
        .into()
}

/// Runs one case against a fresh harness: builds it with `make` (`None` = the backend is not
/// available here and the maker has said why; the test passes with that notice), runs the
/// case on its own task with [`CASE_TIMEOUT`], tears the harness down whatever happened,
/// then re-raises the case's panic. The test macros expand to calls of this function.
///
/// # Panics
/// When the case panics (an assertion failed) or runs past [`CASE_TIMEOUT`].
pub async fn run<H, M, MF, C, CF>(make: M, case: C)
where
    H: Harness,
    M: FnOnce() -> MF,
    MF: Future<Output = Option<H>>,
    C: FnOnce(Arc<H>) -> CF,
    CF: Future<Output = ()> + Send + 'static,
{
    let Some(harness) = make().await else {
        return;
    };
    let harness = Arc::new(harness);
    let task = tokio::spawn(tokio::time::timeout(CASE_TIMEOUT, case(harness.clone())));
    let outcome = task.await;
    harness.teardown().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_elapsed)) => panic!("the case did not finish within {CASE_TIMEOUT:?} (a hang)"),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the case's task was cancelled: {e}"),
    }
}

/// Prints why a case did nothing (its capability is missing from the harness).
pub(crate) fn skip(case: &str, capability: &str) {
    eprintln!("note: {case} skipped: the harness has no {capability}");
}
