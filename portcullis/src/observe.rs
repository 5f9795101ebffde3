//! Store calls, observed: every adapter method the configuration holds runs inside a
//! `tracing` span and is timed and counted in [`Metrics`].
//!
//! The span (`portcullis.store`, level `debug`) carries OpenTelemetry's conventional
//! fields, so `tracing-opentelemetry` exports it as a client span named after the adapter
//! method: `otel.name`, `otel.kind = "client"`, `db.operation.name`, `portcullis.store`, and
//! `otel.status_code = "ERROR"` with `error.type` when the call fails. No argument of the
//! call is recorded: they hold token hashes and user data.
//!
//! [`AuthConfigBuilder::build`](crate::AuthConfigBuilder::build) wraps each configured
//! adapter once; the wrappers forward every method, including the ones with default
//! bodies, so an adapter's own atomic implementations are kept.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::adapter::{
    AdapterAccount, AdapterError, AdapterSession, AdapterUser, AuditAdapter, PasswordAdapter,
    RevocationAdapter, SessionAdapter, TokenHash, UserAdapter, UserUpdate, VerificationToken,
    VerificationTokenAdapter,
};
use crate::audit::AuditEvent;
use crate::metrics::Metrics;
use crate::ratelimit::{RateDecision, RateLimiter};

/// An adapter of type `A` (a trait object), observed.
pub(crate) struct Observed<A: ?Sized> {
    inner: Arc<A>,
    store: &'static str,
    metrics: Arc<Metrics>,
}

impl<A: ?Sized> Observed<A> {
    pub(crate) fn wrap(inner: Arc<A>, store: &'static str, metrics: &Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            store,
            metrics: metrics.clone(),
        })
    }

    async fn call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T, AdapterError>>,
    ) -> Result<T, AdapterError> {
        let span = tracing::debug_span!(
            target: "portcullis::store",
            "portcullis.store",
            otel.name = op,
            otel.kind = "client",
            db.operation.name = op,
            portcullis.store = self.store,
            otel.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = fut.instrument(span.clone()).await;
        let took: Duration = started.elapsed();
        let error = result.as_ref().err();
        if let Some(e) = error {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", error_type(e));
        }
        self.metrics.store_call(self.store, op, took, error);
        result
    }
}

fn error_type(e: &AdapterError) -> &'static str {
    match e {
        AdapterError::Unavailable(_) => "unavailable",
        AdapterError::Conflict(_) => "conflict",
        AdapterError::NotFound => "not_found",
        _ => "other",
    }
}

#[async_trait]
impl UserAdapter for Observed<dyn UserAdapter> {
    async fn create_user(&self, user: &AdapterUser) -> Result<AdapterUser, AdapterError> {
        self.call("create_user", self.inner.create_user(user)).await
    }
    async fn user(&self, id: &str) -> Result<Option<AdapterUser>, AdapterError> {
        self.call("user", self.inner.user(id)).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<AdapterUser>, AdapterError> {
        self.call("user_by_email", self.inner.user_by_email(email))
            .await
    }
    async fn user_by_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<Option<AdapterUser>, AdapterError> {
        self.call(
            "user_by_account",
            self.inner.user_by_account(provider, provider_account_id),
        )
        .await
    }
    async fn update_user(
        &self,
        id: &str,
        update: &UserUpdate,
    ) -> Result<AdapterUser, AdapterError> {
        self.call("update_user", self.inner.update_user(id, update))
            .await
    }
    async fn delete_user(&self, id: &str) -> Result<(), AdapterError> {
        self.call("delete_user", self.inner.delete_user(id)).await
    }
    async fn link_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        self.call("link_account", self.inner.link_account(account))
            .await
    }
    async fn create_user_with_account(
        &self,
        user: &AdapterUser,
        account: &AdapterAccount,
    ) -> Result<AdapterUser, AdapterError> {
        self.call(
            "create_user_with_account",
            self.inner.create_user_with_account(user, account),
        )
        .await
    }
    async fn unlink_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<(), AdapterError> {
        self.call(
            "unlink_account",
            self.inner.unlink_account(provider, provider_account_id),
        )
        .await
    }
    async fn accounts(&self, user_id: &str) -> Result<Vec<AdapterAccount>, AdapterError> {
        self.call("accounts", self.inner.accounts(user_id)).await
    }
    async fn update_account(&self, account: &AdapterAccount) -> Result<(), AdapterError> {
        self.call("update_account", self.inner.update_account(account))
            .await
    }
}

#[async_trait]
impl SessionAdapter for Observed<dyn SessionAdapter> {
    async fn create_session(&self, session: &AdapterSession) -> Result<(), AdapterError> {
        self.call("create_session", self.inner.create_session(session))
            .await
    }
    async fn session(&self, key: &TokenHash) -> Result<Option<AdapterSession>, AdapterError> {
        self.call("session", self.inner.session(key)).await
    }
    async fn session_and_user(
        &self,
        key: &TokenHash,
    ) -> Result<Option<(AdapterSession, Option<AdapterUser>)>, AdapterError> {
        self.call("session_and_user", self.inner.session_and_user(key))
            .await
    }
    async fn touch_session(
        &self,
        key: &TokenHash,
        expires: OffsetDateTime,
        last_used_at: OffsetDateTime,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        self.call(
            "touch_session",
            self.inner.touch_session(key, expires, last_used_at),
        )
        .await
    }
    async fn delete_session(
        &self,
        key: &TokenHash,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        self.call("delete_session", self.inner.delete_session(key))
            .await
    }
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<AdapterSession>, AdapterError> {
        self.call("user_sessions", self.inner.user_sessions(user_id))
            .await
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
    ) -> Result<u64, AdapterError> {
        self.call(
            "delete_user_sessions",
            self.inner.delete_user_sessions(user_id, keep),
        )
        .await
    }
    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, AdapterError> {
        self.call(
            "delete_expired_sessions",
            self.inner.delete_expired_sessions(now),
        )
        .await
    }
}

#[async_trait]
impl VerificationTokenAdapter for Observed<dyn VerificationTokenAdapter> {
    async fn create_verification_token(
        &self,
        token: &VerificationToken,
    ) -> Result<(), AdapterError> {
        self.call(
            "create_verification_token",
            self.inner.create_verification_token(token),
        )
        .await
    }
    async fn use_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> Result<Option<VerificationToken>, AdapterError> {
        self.call(
            "use_verification_token",
            self.inner.use_verification_token(identifier, token),
        )
        .await
    }
    async fn delete_verification_tokens(&self, identifier: &str) -> Result<u64, AdapterError> {
        self.call(
            "delete_verification_tokens",
            self.inner.delete_verification_tokens(identifier),
        )
        .await
    }
}

#[async_trait]
impl RevocationAdapter for Observed<dyn RevocationAdapter> {
    async fn not_before(&self, user_id: &str) -> Result<Option<OffsetDateTime>, AdapterError> {
        self.call("not_before", self.inner.not_before(user_id))
            .await
    }
    async fn set_not_before(&self, user_id: &str, at: OffsetDateTime) -> Result<(), AdapterError> {
        self.call("set_not_before", self.inner.set_not_before(user_id, at))
            .await
    }
}

#[async_trait]
impl PasswordAdapter for Observed<dyn PasswordAdapter> {
    async fn password_hash(&self, user_id: &str) -> Result<Option<String>, AdapterError> {
        self.call("password_hash", self.inner.password_hash(user_id))
            .await
    }
    async fn set_password_hash(&self, user_id: &str, phc: &str) -> Result<(), AdapterError> {
        self.call(
            "set_password_hash",
            self.inner.set_password_hash(user_id, phc),
        )
        .await
    }
    async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<(), AdapterError> {
        self.call("set_disabled", self.inner.set_disabled(user_id, disabled))
            .await
    }
    async fn is_disabled(&self, user_id: &str) -> Result<bool, AdapterError> {
        self.call("is_disabled", self.inner.is_disabled(user_id))
            .await
    }
}

#[async_trait]
impl AuditAdapter for Observed<dyn AuditAdapter> {
    async fn record_audit_event(&self, event: &AuditEvent) -> Result<(), AdapterError> {
        self.call("record_audit_event", self.inner.record_audit_event(event))
            .await
    }
    async fn audit_events(
        &self,
        user_id: &str,
        before: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AdapterError> {
        self.call(
            "audit_events",
            self.inner.audit_events(user_id, before, limit),
        )
        .await
    }
    async fn delete_audit_events_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, AdapterError> {
        self.call(
            "delete_audit_events_before",
            self.inner.delete_audit_events_before(cutoff),
        )
        .await
    }
}

#[async_trait]
impl RateLimiter for Observed<dyn RateLimiter> {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, AdapterError> {
        self.call("hit", self.inner.hit(key, limit, window)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::memory::MemoryAdapter;

    #[tokio::test]
    async fn calls_are_forwarded_timed_and_failures_counted() {
        let metrics = Arc::new(Metrics::default());
        let mem: Arc<dyn SessionAdapter> = Arc::new(MemoryAdapter::new());
        let observed = Observed::wrap(mem, "sessions", &metrics);
        let key = TokenHash::of("t");
        assert!(observed.session(&key).await.unwrap().is_none());
        let users: Arc<dyn UserAdapter> = Arc::new(MemoryAdapter::new());
        let users = Observed::wrap(users, "users", &metrics);
        let err = users
            .update_user("nobody", &UserUpdate::default())
            .await
            .unwrap_err();
        assert!(matches!(err, AdapterError::NotFound));
        let text = metrics.render_prometheus();
        assert!(text.contains(
            "portcullis_store_duration_seconds_count{store=\"sessions\",operation=\"session\"} 1\n"
        ));
        assert!(text.contains(
            "portcullis_store_errors_total{store=\"users\",operation=\"update_user\",kind=\"not_found\"} 1\n"
        ));
        assert!(!text.contains("operation=\"session\",kind="));
    }
}
