//! Sign-in providers: credentials, (feature `oauth`) OAuth 2.0 / OpenID Connect, and
//! (feature `email`) email links.

mod credentials;
#[cfg(feature = "email")]
mod email;
#[cfg(feature = "oauth")]
pub(crate) mod oauth;
#[cfg(all(feature = "email", feature = "password"))]
mod passwords;

pub use credentials::{
    AuthorizeError, AuthorizeRequest, CredentialField, Credentials, DEFAULT_MAX_FIELD_LEN,
};

pub(crate) use credentials::DynAuthorize;
#[cfg(feature = "email")]
pub use email::{DEFAULT_LINK_MAX_AGE, Email};
#[cfg(all(feature = "email", feature = "password"))]
pub use passwords::{BreachedPasswords, Passwords};

use std::sync::Arc;

/// A configured provider, type-erased.
pub(crate) struct ProviderEntry {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: ProviderKind,
}

pub(crate) enum ProviderKind {
    Credentials {
        fields: Vec<CredentialField>,
        authorize: Arc<dyn DynAuthorize>,
    },
    #[cfg(feature = "oauth")]
    OAuth(Box<oauth::OAuthEntry>),
    #[cfg(feature = "email")]
    Email(Box<Email>),
    #[cfg(all(feature = "email", feature = "password"))]
    Password(Box<Passwords>),
}

impl ProviderEntry {
    /// The Auth.js `type` string.
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            ProviderKind::Credentials { .. } => "credentials",
            #[cfg(feature = "oauth")]
            ProviderKind::OAuth(entry) => match entry.config.kind {
                oauth::OAuthKind::OAuth => "oauth",
                oauth::OAuthKind::Oidc => "oidc",
            },
            #[cfg(feature = "email")]
            ProviderKind::Email(_) => "email",
            #[cfg(all(feature = "email", feature = "password"))]
            ProviderKind::Password(_) => "credentials",
        }
    }
}

/// Whether `id` is a well-formed provider id: 1–64 of `a–z 0–9 - _`.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
