//! Email: address normalisation, the messages portcullis sends (sign-in links, address
//! verification, password reset), their templates, and how they are delivered ([`Sender`]:
//! SMTP through lettre, or a development sender that prints the link).
//!
//! Every message goes to the **canonical** address [`normalize_identifier`] produced: the
//! raw input a client typed never reaches a mail header or the SMTP envelope
//! (SECURITY.md EML-05…EML-10), and the templates interpolate only server values,
//! HTML-escaped.

mod normalize;
mod smtp;
mod template;

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;
use url::Url;

pub use normalize::{InvalidEmail, MAX_EMAIL_LEN, normalize_identifier};
pub use smtp::{SmtpConfigError, SmtpSecurity, SmtpSender};
pub(crate) use template::render;

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EmailKind {
    /// A magic link that signs the recipient in (the `email` provider).
    SignIn,
    /// A link that confirms the address of a new account.
    VerifyEmail,
    /// A link to choose a new password.
    PasswordReset,
}

impl EmailKind {
    /// A short stable name (`sign-in`, `verify-email`, `password-reset`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign-in",
            Self::VerifyEmail => "verify-email",
            Self::PasswordReset => "password-reset",
        }
    }
}

/// One message, rendered and ready to deliver.
///
/// `url` carries a single-use token: a [`Sender`] must not log it (the `Debug` output
/// leaves it out).
#[derive(Clone)]
#[non_exhaustive]
pub struct EmailMessage {
    /// What the message is for.
    pub kind: EmailKind,
    /// The recipient: a canonical `local@domain` (ASCII; the domain in IDNA form).
    pub to: String,
    /// The link the recipient follows (absolute, built from the configured URL).
    pub url: Url,
    /// When the link stops working.
    pub expires: OffsetDateTime,
    /// The site's host, as shown in the message (`example.com`).
    pub host: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl EmailMessage {
    /// A message rendered with portcullis's templates (the ones the email provider sends):
    /// subject, text and HTML for `kind`, with the link, the host of `url`, and the
    /// lifetime until `expires` counted from now.
    ///
    /// # Examples
    /// ```
    /// use portcullis::email::{EmailKind, EmailMessage};
    /// let url = url::Url::parse("https://app.example/api/auth/callback/email?token=t").unwrap();
    /// let expires = time::OffsetDateTime::now_utc() + time::Duration::minutes(10);
    /// let m = EmailMessage::render(EmailKind::SignIn, "a@example.com", url, expires, &portcullis::Theme::default());
    /// assert!(m.subject.contains("app.example"));
    /// assert!(m.text.contains("token=t"));
    /// ```
    pub fn render(
        kind: EmailKind,
        to: impl Into<String>,
        url: Url,
        expires: OffsetDateTime,
        theme: &crate::Theme,
    ) -> Self {
        let host = url.host_str().unwrap_or_default().to_owned();
        // Whole seconds, rounded up: rendering a few microseconds after the expiry was set
        // must not turn "10 minutes" into "9 minutes".
        let left = (expires - OffsetDateTime::now_utc())
            .as_seconds_f64()
            .ceil();
        #[allow(clippy::cast_possible_truncation)]
        let valid_for = time::Duration::seconds(left as i64);
        let body = render(kind, &url, &host, valid_for, theme);
        Self {
            kind,
            to: to.into(),
            url,
            expires,
            host,
            subject: body.subject,
            text: body.text,
            html: body.html,
        }
    }

    /// A message with every field given (a custom template).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: EmailKind,
        to: impl Into<String>,
        url: Url,
        expires: OffsetDateTime,
        host: impl Into<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
        html: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            to: to.into(),
            url,
            expires,
            host: host.into(),
            subject: subject.into(),
            text: text.into(),
            html: html.into(),
        }
    }
}

impl fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailMessage")
            .field("kind", &self.kind)
            .field("to", &self.to)
            .field("expires", &self.expires)
            .field("host", &self.host)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a message could not be delivered. Its text must not contain the link.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SendError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error with a message and its cause.
    pub fn from_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// Delivers messages.
///
/// portcullis calls `send` off the request path (the answer to the browser never waits
/// for, nor reveals, the delivery: SECURITY.md EML-11), so a failure is logged, not shown.
///
/// # Examples
/// A sender that hands messages to an HTTP mail API would look like:
/// ```
/// use portcullis::email::{EmailMessage, SendError, Sender};
/// struct Api;
/// #[portcullis::async_trait]
/// impl Sender for Api {
///     async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
///         // POST message.to, message.subject, message.text, message.html …
///         let _ = message;
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    /// Delivers one message to `message.to`.
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError>;
}

/// A development sender: prints each message's recipient and link to standard error
/// (never through `tracing`, so links stay out of log pipelines). Anyone who can read the
/// process's standard error can sign in as anyone: never use it in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSender;

#[async_trait]
impl Sender for LogSender {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "[portcullis dev email] {} for {}: {}",
            message.kind.as_str(),
            message.to,
            message.url
        )
        .map_err(|e| SendError::from_source("cannot write to stderr", e))
    }
}
