//! Errors, and the boundary between what is logged and what a client may see.
//!
//! Auth.js shows only a few error types to clients (`?error=CredentialsSignin`, …); every
//! other failure reaches the browser as `Configuration` and is logged in full on the server.
//! [`Error::code`] is that boundary.

use std::fmt;

/// The error type names that Auth.js clients understand, as they appear in `?error=`.
///
/// Only the variants marked *client-safe* are ever shown under their own name; everything
/// else is reported as [`ErrorCode::Configuration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Client-safe: `authorize` returned no user.
    CredentialsSignin,
    /// Client-safe: the OAuth account belongs to another user.
    OAuthAccountNotLinked,
    /// Client-safe: the provider answered the authorization request with an error.
    OAuthCallbackError,
    /// Client-safe: the `sign_in` callback refused the user.
    AccessDenied,
    /// Client-safe: a verification link was used, expired or unknown.
    Verification,
    /// Client-safe: the CSRF token was missing or did not match.
    MissingCSRF,
    /// Client-safe: a passkey account belongs to another user.
    AccountNotLinked,
    /// Client-safe: passkey verification failed.
    WebAuthnVerificationError,
    /// Everything else: a server problem the client cannot act on.
    Configuration,
}

impl ErrorCode {
    /// The name used on the wire (`?error=<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialsSignin => "CredentialsSignin",
            Self::OAuthAccountNotLinked => "OAuthAccountNotLinked",
            Self::OAuthCallbackError => "OAuthCallbackError",
            Self::AccessDenied => "AccessDenied",
            Self::Verification => "Verification",
            Self::MissingCSRF => "MissingCSRF",
            Self::AccountNotLinked => "AccountNotLinked",
            Self::WebAuthnVerificationError => "WebAuthnVerificationError",
            Self::Configuration => "Configuration",
        }
    }

    /// Whether Auth.js redirects this error to the sign-in page (kind `signIn`) rather than
    /// the error page.
    pub fn is_sign_in_kind(self) -> bool {
        matches!(
            self,
            Self::CredentialsSignin
                | Self::OAuthAccountNotLinked
                | Self::OAuthCallbackError
                | Self::MissingCSRF
                | Self::AccountNotLinked
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error raised by an application callback (`authorize`, `sign_in`, `jwt`, `session`).
///
/// Its message is logged on the server and never sent to the client.
#[derive(Debug)]
pub struct CallbackError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CallbackError {
    /// An error with a message for the server log.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// Wraps another error, keeping it as the source.
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

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallbackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A problem found while building an [`AuthConfig`](crate::AuthConfig).
///
/// All problems are collected and returned together, each naming the setting and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<String>,
}

impl ConfigError {
    pub(crate) fn new(problems: Vec<String>) -> Self {
        Self { problems }
    }

    /// Each problem as one line: the setting, what is wrong, and how to fix it.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid portcullis configuration: ")?;
        f.write_str(&self.problems.join("; "))
    }
}

impl std::error::Error for ConfigError {}

/// Why an action failed. Logged in full; [`Error::code`] decides what the client sees.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The CSRF token in the body was missing or did not match the cookie. Likely cause: a
    /// client that did not call `GET /csrf` first, or a cross-site form.
    #[error("CSRF token was missing or invalid during action `{action}`")]
    MissingCsrf {
        /// The action that was refused.
        action: &'static str,
    },
    /// The credentials provider's `authorize` returned no user.
    #[error("credentials sign-in failed")]
    CredentialsSignin {
        /// The `code` query parameter sent to the client (`credentials` by default).
        code: String,
    },
    /// The `sign_in` callback refused the user.
    #[error("access denied by the sign_in callback")]
    AccessDenied,
    /// An application callback failed. Likely cause: a bug or an outage in the callback.
    #[error("callback `{callback}` failed: {source}")]
    Callback {
        /// Which callback.
        callback: &'static str,
        /// The callback's own error.
        #[source]
        source: CallbackError,
    },
    /// The request names a provider that is not configured, or one that does not support
    /// the action (for example a credentials callback over GET).
    #[error("provider `{0}` is not configured or does not support this action")]
    InvalidProvider(String),
    /// No trusted origin: neither `AUTH_URL` nor `AUTH_TRUST_HOST` is configured, or the
    /// `Host` header is malformed.
    #[error("untrusted host: set AUTH_URL, or AUTH_TRUST_HOST=true behind a trusted proxy")]
    UntrustedHost,
    /// The action exists but not with this provider or method.
    #[error("unsupported action: {0}")]
    UnknownAction(&'static str),
    /// A session token could not be created (serialisation of the application's claims,
    /// or a token larger than a session cookie can carry).
    #[error("session token error: {0}")]
    SessionToken(String),
    /// An OAuth sign-in's checks failed: no or a foreign check cookie, a `state` or `iss`
    /// mismatch, a replayed response (Auth.js `InvalidCheck`). Likely an attack, a stale
    /// tab, or cookies blocked.
    #[error("OAuth check failed: {0}")]
    InvalidCheck(String),
    /// The provider answered the authorization request with an error (`?error=…`): the
    /// user declined, or the provider refused the request.
    #[error("the provider answered the authorization request with `{0}`")]
    OAuthCallback(String),
    /// A call to the provider failed, or its answer did not validate (token endpoint,
    /// userinfo, discovery, keys, ID token, profile).
    #[error("provider `{provider}`: {reason}")]
    OAuthProvider {
        /// The provider id.
        provider: String,
        /// What failed.
        reason: String,
    },
    /// The provider account belongs to another user, or its email does (Auth.js
    /// `OAuthAccountNotLinked`).
    #[error("OAuth account not linked: {0}")]
    OAuthAccountNotLinked(&'static str),
    /// An email sign-in request could not be accepted: the address is missing, not a
    /// string, or not exactly one valid address (lists, quoted local parts… SECURITY.md
    /// EML-05…07), or a link has no token. Auth.js's `EmailSignInError`: not client-safe,
    /// so clients see `Configuration`.
    #[error("email sign-in refused: {0}")]
    EmailSignin(&'static str),
    /// A verification link is unknown, already used, expired, or for another address
    /// (Auth.js `Verification`).
    #[error("verification failed: {0}")]
    Verification(&'static str),
    /// A store call failed. Likely cause: the database or Redis is down or misconfigured.
    #[error("adapter call `{call}` failed: {source}")]
    Adapter {
        /// The adapter method.
        call: &'static str,
        /// The adapter's error.
        #[source]
        source: crate::adapter::AdapterError,
    },
}

impl Error {
    /// The client-safe code for this error; anything not client-safe is `Configuration`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MissingCsrf { .. } => ErrorCode::MissingCSRF,
            Self::CredentialsSignin { .. } => ErrorCode::CredentialsSignin,
            Self::AccessDenied => ErrorCode::AccessDenied,
            Self::OAuthCallback(_) => ErrorCode::OAuthCallbackError,
            Self::OAuthAccountNotLinked(_) => ErrorCode::OAuthAccountNotLinked,
            Self::Verification(_) => ErrorCode::Verification,
            Self::InvalidCheck(_) | Self::OAuthProvider { .. } | Self::EmailSignin(_) => {
                ErrorCode::Configuration
            }
            Self::Callback { .. }
            | Self::InvalidProvider(_)
            | Self::UntrustedHost
            | Self::UnknownAction(_)
            | Self::SessionToken(_)
            | Self::Adapter { .. } => ErrorCode::Configuration,
        }
    }

    /// The Auth.js error type name, used in logs (`[auth][error] <type>`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::MissingCsrf { .. } => "MissingCSRF",
            Self::CredentialsSignin { .. } => "CredentialsSignin",
            Self::AccessDenied => "AccessDenied",
            Self::Callback { .. } => "CallbackRouteError",
            Self::InvalidProvider(_) => "InvalidProvider",
            Self::UntrustedHost => "UntrustedHost",
            Self::UnknownAction(_) => "UnknownAction",
            Self::SessionToken(_) => "JWTSessionError",
            Self::Adapter { .. } => "AdapterError",
            Self::InvalidCheck(_) => "InvalidCheck",
            Self::OAuthCallback(_) => "OAuthCallbackError",
            Self::OAuthProvider { .. } => "CallbackRouteError",
            Self::OAuthAccountNotLinked(_) => "OAuthAccountNotLinked",
            Self::EmailSignin(_) => "EmailSignInError",
            Self::Verification(_) => "Verification",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_client_safe_errors_keep_their_name() {
        let cb = Error::Callback {
            callback: "authorize",
            source: CallbackError::new("database password is hunter2"),
        };
        assert_eq!(cb.code(), ErrorCode::Configuration);
        assert_eq!(Error::UntrustedHost.code(), ErrorCode::Configuration);
        assert_eq!(
            Error::InvalidProvider("x".into()).code(),
            ErrorCode::Configuration
        );
        assert_eq!(
            Error::MissingCsrf { action: "signout" }.code(),
            ErrorCode::MissingCSRF
        );
        assert_eq!(
            Error::CredentialsSignin {
                code: "credentials".into()
            }
            .code(),
            ErrorCode::CredentialsSignin
        );
        assert_eq!(Error::AccessDenied.code(), ErrorCode::AccessDenied);
    }

    #[test]
    fn sign_in_kind_matches_auth_js() {
        assert!(ErrorCode::MissingCSRF.is_sign_in_kind());
        assert!(ErrorCode::CredentialsSignin.is_sign_in_kind());
        assert!(!ErrorCode::AccessDenied.is_sign_in_kind());
        assert!(!ErrorCode::Configuration.is_sign_in_kind());
        assert!(!ErrorCode::Verification.is_sign_in_kind());
    }
}
