//! The conformance suite against `MemoryAdapter`, the reference implementation.
//!
//! Memory has no view of its data other than the adapter itself, so these raw readers go
//! through the adapter's own getters (and `raw_verification_token` consumes the token and
//! puts it back). That is acceptable only because memory stores the records as they are,
//! with no encoding to get wrong; every real backend reads its store directly.

use std::sync::Arc;

use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{
    AuditAdapter, PasswordAdapter, RevocationAdapter, SessionAdapter, TokenHash, UserAdapter,
    VerificationTokenAdapter,
};
use portcullis_adapter_tests::fixtures::{
    raw_of_account, raw_of_session, raw_of_token, raw_of_user,
};
use portcullis_adapter_tests::{
    Harness, RawAccount, RawResult, RawSession, RawUser, RawVerificationToken,
};
use time::OffsetDateTime;

struct MemoryHarness(Arc<MemoryAdapter>);

#[async_trait::async_trait]
impl Harness for MemoryHarness {
    fn users(&self) -> Option<Arc<dyn UserAdapter>> {
        Some(self.0.clone())
    }
    fn sessions(&self) -> Option<Arc<dyn SessionAdapter>> {
        Some(self.0.clone())
    }
    fn verification_tokens(&self) -> Option<Arc<dyn VerificationTokenAdapter>> {
        Some(self.0.clone())
    }
    fn revocations(&self) -> Option<Arc<dyn RevocationAdapter>> {
        Some(self.0.clone())
    }
    fn passwords(&self) -> Option<Arc<dyn PasswordAdapter>> {
        Some(self.0.clone())
    }
    fn audit(&self) -> Option<Arc<dyn AuditAdapter>> {
        Some(self.0.clone())
    }
    fn session_and_user_joins(&self) -> bool {
        true
    }

    async fn raw_user(&self, id: &str) -> RawResult<Option<RawUser>> {
        Ok(self.0.user(id).await?.as_ref().map(raw_of_user))
    }
    async fn raw_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> RawResult<Option<RawAccount>> {
        let Some(user) = self
            .0
            .user_by_account(provider, provider_account_id)
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .0
            .accounts(&user.id)
            .await?
            .iter()
            .find(|a| a.provider == provider && a.provider_account_id == provider_account_id)
            .map(raw_of_account))
    }
    async fn count_user_accounts(&self, user_id: &str) -> RawResult<u64> {
        Ok(self.0.accounts(user_id).await?.len() as u64)
    }
    async fn raw_session(&self, key: &TokenHash) -> RawResult<Option<RawSession>> {
        Ok(self.0.session(key).await?.as_ref().map(raw_of_session))
    }
    async fn count_user_sessions(&self, user_id: &str) -> RawResult<u64> {
        Ok(self.0.user_sessions(user_id).await?.len() as u64)
    }
    async fn raw_verification_token(
        &self,
        identifier: &str,
        token: &TokenHash,
    ) -> RawResult<Option<RawVerificationToken>> {
        let Some(row) = self.0.use_verification_token(identifier, token).await? else {
            return Ok(None);
        };
        self.0.create_verification_token(&row).await?;
        Ok(Some(raw_of_token(&row)))
    }
    async fn raw_not_before(&self, user_id: &str) -> RawResult<Option<OffsetDateTime>> {
        Ok(self.0.not_before(user_id).await?)
    }
}

async fn make() -> Option<MemoryHarness> {
    Some(MemoryHarness(Arc::new(MemoryAdapter::new())))
}

mod memory {
    portcullis_adapter_tests::all_adapter_tests!(super::make);
}
