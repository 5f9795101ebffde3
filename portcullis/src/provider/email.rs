//! The email provider: sign-in with a single-use link sent by email (PROTOCOL.md §9.3,
//! SECURITY.md §6.8).

use std::sync::Arc;

use time::Duration;

use crate::email::Sender;

/// The default lifetime of a sign-in link: 10 minutes (ASVS 5.0 6.5.5 asks for a short
/// one; Auth.js's default is 24 hours).
pub const DEFAULT_LINK_MAX_AGE: Duration = Duration::minutes(10);

/// The email provider ("magic links"), Auth.js's `type: "email"`.
///
/// `POST /signin/{id}` with `email` (and the CSRF token) normalises the address
/// ([`normalize_identifier`]), stores only `sha256(token + secret)` of a fresh 256-bit token
/// through the [`VerificationTokenAdapter`], hands the link to the [`Sender`] and
/// redirects to `/verify-request`. Following the link (`GET /callback/{id}?token=…&email=…`)
/// consumes the token atomically, verifies the address, creates the user on a first
/// sign-in (unless [`Email::allow_sign_up`] is off) and starts the session.
///
/// Known and unknown addresses get the same answer, after the same work; the mail is
/// delivered in the background, so the answer does not wait for (or reveal) the SMTP
/// exchange. Requires a user adapter and a verification-token adapter.
///
/// # Examples
/// ```
/// use portcullis::Email;
/// use portcullis::email::LogSender;
/// let provider = Email::new(LogSender).max_age(time::Duration::minutes(15));
/// assert_eq!(provider.provider_id(), "email");
/// ```
///
/// [`normalize_identifier`]: crate::email::normalize_identifier
/// [`VerificationTokenAdapter`]: crate::adapter::VerificationTokenAdapter
#[derive(Clone)]
pub struct Email {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) max_age: Duration,
    pub(crate) sign_up: bool,
    pub(crate) secret: Option<String>,
    pub(crate) sender: Arc<dyn Sender>,
}

impl Email {
    /// A provider with id `email`, name `Email`, links valid for
    /// [`DEFAULT_LINK_MAX_AGE`], that delivers through `sender`.
    pub fn new(sender: impl Sender) -> Self {
        Self::with_sender(Arc::new(sender))
    }

    /// Like [`Email::new`], with a shared sender.
    pub fn with_sender(sender: Arc<dyn Sender>) -> Self {
        Self {
            id: "email".to_owned(),
            name: "Email".to_owned(),
            max_age: DEFAULT_LINK_MAX_AGE,
            sign_up: true,
            secret: None,
            sender,
        }
    }

    /// Sets the provider id (default `email`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the display name (default `Email`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How long a link stays valid (default 10 minutes; the builder refuses less than a
    /// minute or more than a day).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Whether a link may create a user on its first use (default `true`, as Auth.js).
    /// With `false`, only existing users can sign in by email: unknown addresses get the
    /// same answer, but no mail is sent.
    pub fn allow_sign_up(mut self, allow: bool) -> Self {
        self.sign_up = allow;
        self
    }

    /// The secret mixed into the stored token hash (Auth.js `provider.secret`). Default:
    /// the configuration's current secret. Pin it to keep links sent before a secret
    /// rotation working (SECURITY.md KEY-04); otherwise such links fail with
    /// `Verification`.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The provider id.
    pub fn provider_id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("max_age", &self.max_age)
            .field("sign_up", &self.sign_up)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}
