//! Email + password accounts: sign-in against stored Argon2id hashes, and — beyond
//! Auth.js — sign-up, address verification, password reset and password change.

use std::sync::Arc;

use async_trait::async_trait;
use time::Duration;

use crate::email::Sender;
use crate::error::CallbackError;
use crate::password::PasswordHasher;

/// A check of new passwords against known breaches (a local k-anonymity list, a corpus
/// file, an internal service). portcullis ships none and makes no network call; plug one
/// in with [`Passwords::breached_check`].
///
/// # Examples
/// ```
/// use portcullis::{BreachedPasswords, CallbackError};
/// struct TopList(std::collections::HashSet<String>);
/// #[portcullis::async_trait]
/// impl BreachedPasswords for TopList {
///     async fn is_breached(&self, password: &str) -> Result<bool, CallbackError> {
///         Ok(self.0.contains(password))
///     }
/// }
/// ```
#[async_trait]
pub trait BreachedPasswords: Send + Sync + 'static {
    /// Whether `password` is known to be breached. An error refuses the new password for
    /// now (`503`): the check fails closed.
    async fn is_breached(&self, password: &str) -> Result<bool, CallbackError>;
}

/// Email + password accounts, stored through a [`UserAdapter`] and a [`PasswordAdapter`].
///
/// Sign-in is a credentials provider (Auth.js `type: "credentials"`, id `credentials` by
/// default, fields `email` — `username` is accepted too — and `password`):
/// `signIn("credentials", { email, password })` from `next-auth/react` works unchanged.
/// Unknown users, users without a password, wrong passwords and disabled users all fail
/// with the same `CredentialsSignin` after the same single Argon2id verification; a hash
/// made with older parameters is replaced on a successful sign-in.
///
/// The routes below are added under the base path (all `POST`s need the CSRF token):
///
/// | route | what |
/// |---|---|
/// | `GET/POST /signup` | a sign-up form / create an account (only with [`allow_sign_up`](Self::allow_sign_up)); a verification link is mailed |
/// | `GET /verify-email?token&email` | confirms the address |
/// | `GET/POST /forgot-password` | a form / mail a reset link (only with a [`sender`](Self::sender)) |
/// | `GET/POST /reset-password` | the new-password form / set it: every session of the user ends |
/// | `POST /change-password` | signed in: `currentPassword`, `newPassword`; the user's other sessions end (JSON answer) |
///
/// Known and unknown addresses get the same answers after the same work on sign-up and
/// reset requests; messages are delivered in the background.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use portcullis::{AuthConfig, DefaultCallbacks, Passwords, adapter::memory::MemoryAdapter};
/// use portcullis::email::LogSender;
/// let store = Arc::new(MemoryAdapter::new());
/// let config = AuthConfig::builder(DefaultCallbacks)
///     .secret("0123456789abcdef0123456789abcdef-example")
///     .url("http://localhost:3000")
///     .user_adapter(store.clone())
///     .password_adapter(store.clone())
///     .revocation_adapter(store.clone()) // JWT sessions: a reset ends the others
///     .verification_token_adapter(store)
///     .passwords(Passwords::new().sender(LogSender).allow_sign_up(true))
///     .build()
///     .unwrap();
/// # let _ = config;
/// ```
///
/// [`UserAdapter`]: crate::adapter::UserAdapter
/// [`PasswordAdapter`]: crate::adapter::PasswordAdapter
#[derive(Clone)]
pub struct Passwords {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) hasher: PasswordHasher,
    pub(crate) sign_up: bool,
    pub(crate) require_verified_email: bool,
    pub(crate) sender: Option<Arc<dyn Sender>>,
    pub(crate) verify_max_age: Duration,
    pub(crate) reset_max_age: Duration,
    pub(crate) breached: Option<Arc<dyn BreachedPasswords>>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// Sign-in only: id `credentials`, OWASP's Argon2id parameters, no sign-up, no mail.
    pub fn new() -> Self {
        Self {
            id: "credentials".to_owned(),
            name: "Password".to_owned(),
            hasher: PasswordHasher::default(),
            sign_up: false,
            require_verified_email: false,
            sender: None,
            verify_max_age: Duration::days(1),
            reset_max_age: Duration::minutes(30),
            breached: None,
        }
    }

    /// Sets the provider id (default `credentials`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the display name (default `Password`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The hasher (parameters, length policy); default [`PasswordHasher::default`].
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Opens `POST /signup` (default closed). Needs a [`sender`](Self::sender) for the
    /// verification mail.
    pub fn allow_sign_up(mut self, allow: bool) -> Self {
        self.sign_up = allow;
        self
    }

    /// Refuses sign-in until the address is verified (default `false`; users made by an
    /// administrator are often verified by other means). Refused sign-ins look like wrong
    /// passwords.
    pub fn require_verified_email(mut self, require: bool) -> Self {
        self.require_verified_email = require;
        self
    }

    /// Where verification and reset mails go out; without one there is no reset by mail
    /// and no sign-up.
    pub fn sender(mut self, sender: impl Sender) -> Self {
        self.sender = Some(Arc::new(sender));
        self
    }

    /// Like [`sender`](Self::sender), shared.
    pub fn shared_sender(mut self, sender: Arc<dyn Sender>) -> Self {
        self.sender = Some(sender);
        self
    }

    /// How long a verification link works (default a day).
    pub fn verify_max_age(mut self, max_age: Duration) -> Self {
        self.verify_max_age = max_age;
        self
    }

    /// How long a reset link works (default 30 minutes).
    pub fn reset_max_age(mut self, max_age: Duration) -> Self {
        self.reset_max_age = max_age;
        self
    }

    /// Checks every new password (sign-up, reset, change) against known breaches.
    pub fn breached_check(mut self, check: impl BreachedPasswords) -> Self {
        self.breached = Some(Arc::new(check));
        self
    }

    /// The provider id.
    pub fn provider_id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("id", &self.id)
            .field("sign_up", &self.sign_up)
            .field("require_verified_email", &self.require_verified_email)
            .field("sender", &self.sender.is_some())
            .field("verify_max_age", &self.verify_max_age)
            .field("reset_max_age", &self.reset_max_age)
            .field("breached", &self.breached.is_some())
            .finish_non_exhaustive()
    }
}
