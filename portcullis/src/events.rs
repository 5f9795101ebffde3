//! Events: hooks that observe what happened and cannot change it.

use std::future::Future;

use async_trait::async_trait;

/// A completed sign-in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignInEvent {
    /// The user id.
    pub user_id: String,
    /// The provider id.
    pub provider: String,
    /// Whether the sign-in created the user.
    pub is_new_user: bool,
}

/// A sign-out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignOutEvent {
    /// The user id of the session that ended, when it could be read.
    pub user_id: Option<String>,
}

/// A session read (`GET`/`POST /session`) that returned a session.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionEvent {
    /// The user id.
    pub user_id: String,
}

/// Event hooks. Each is awaited after the action succeeded; a failure or panic inside one is
/// logged (Auth.js `EventError`) and never changes the response. Spawn long work.
///
/// # Examples
/// ```
/// use portcullis::{Events, SignInEvent};
/// struct Audit;
/// #[portcullis::async_trait]
/// impl Events for Audit {
///     async fn sign_in(&self, e: SignInEvent) {
///         tracing::info!(user = %e.user_id, provider = %e.provider, "signed in");
///     }
/// }
/// ```
#[async_trait]
pub trait Events: Send + Sync + 'static {
    /// After a successful sign-in.
    async fn sign_in(&self, event: SignInEvent) {
        let _ = event;
    }
    /// After a sign-out.
    async fn sign_out(&self, event: SignOutEvent) {
        let _ = event;
    }
    /// After a session was read.
    async fn session(&self, event: SessionEvent) {
        let _ = event;
    }
}

/// Awaits an event hook; a panic inside it is logged as Auth.js's `EventError` and
/// otherwise ignored.
pub(crate) async fn fire(name: &'static str, hook: impl Future<Output = ()>) {
    if crate::callbacks::catch_unwind(hook).await.is_err() {
        tracing::error!(target: "portcullis", event = name, "[auth][error] EventError: the event hook panicked");
    }
}
