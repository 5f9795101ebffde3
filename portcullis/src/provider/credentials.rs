//! The credentials provider: the application checks a submitted form (PROTOCOL.md §9.1).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use url::Url;

use crate::callbacks::AnyUser;
use crate::error::CallbackError;
use crate::user::User;

type AuthorizeFn<X> = dyn Fn(
        Map<String, Value>,
        AuthorizeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<Option<User<X>>, AuthorizeError>> + Send>>
    + Send
    + Sync;

/// The request an `authorize` call comes from (method, full URL with query, headers).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizeRequest {
    /// The HTTP method (always POST today).
    pub method: http::Method,
    /// The absolute request URL, built from the configured origin.
    pub url: Url,
    /// The request headers.
    pub headers: http::HeaderMap,
}

/// Why `authorize` produced no user.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// The credentials are wrong. The client sees `CredentialsSignin` with this `code`
    /// (Auth.js's `CredentialsSignin` subclass with a custom `code`). Keep codes generic:
    /// saying *which* field was wrong enables user enumeration.
    Rejected {
        /// The `code` query parameter the client receives.
        code: String,
    },
    /// Something failed while checking (a database outage…). Logged in full; the client
    /// sees `Configuration`.
    Failed(CallbackError),
}

/// One input of the built-in sign-in form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialField {
    /// The form field name (`username`).
    pub name: String,
    /// The label shown.
    pub label: String,
    /// The HTML input type (`text`, `password`).
    pub input_type: String,
}

/// The credentials provider.
///
/// `authorize` receives the whole POST body (form or JSON, as Auth.js passes it, so it also
/// holds `csrfToken` and `callbackUrl`) and the request; it returns `Ok(Some(user))` to sign
/// in, `Ok(None)` for wrong credentials (`CredentialsSignin`, `code=credentials`), or an
/// [`AuthorizeError`]. Its error text never reaches the client. With the JWT strategy the
/// user becomes the token's `sub`, `name`, `email` and `picture`, and the `jwt` callback
/// sees the whole typed user.
///
/// # Examples
/// ```
/// use portcullis::{Credentials, User};
/// let provider: Credentials = Credentials::new(|form, _request| async move {
///     let ok = form.get("username").and_then(|v| v.as_str()) == Some("alice")
///         && form.get("password").and_then(|v| v.as_str()) == Some("wonderland");
///     Ok(ok.then(|| User::new("1").with_name("Alice")))
/// })
/// .field("username", "Username", "text")
/// .field("password", "Password", "password");
/// assert_eq!(provider.provider_id(), "credentials");
/// ```
///
/// # Security
/// Compare passwords with a password-hash verify function (argon2id), never with `==` on
/// stored plaintext; the example above is only a demo.
pub struct Credentials<X = crate::user::NoFields> {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) fields: Vec<CredentialField>,
    max_field_len: usize,
    authorize: Arc<AuthorizeFn<X>>,
}

/// The default cap on each submitted field, in bytes (passwords of at least 64 characters
/// must be accepted — ASVS 6.2.9 — and 1024 bytes leaves room for any passphrase).
pub const DEFAULT_MAX_FIELD_LEN: usize = 1024;

impl<X: serde::Serialize + Send + Sync + 'static> Credentials<X> {
    /// A provider with id `credentials`, name `Credentials`, and the given `authorize`.
    pub fn new<F, Fut>(authorize: F) -> Self
    where
        F: Fn(Map<String, Value>, AuthorizeRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<User<X>>, AuthorizeError>> + Send + 'static,
    {
        Self {
            id: "credentials".to_owned(),
            name: "Credentials".to_owned(),
            fields: Vec::new(),
            max_field_len: DEFAULT_MAX_FIELD_LEN,
            authorize: Arc::new(move |form, req| Box::pin(authorize(form, req))),
        }
    }

    /// Sets the provider id (default `credentials`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the display name (default `Credentials`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a field to the built-in sign-in form.
    pub fn field(
        mut self,
        name: impl Into<String>,
        label: impl Into<String>,
        input_type: impl Into<String>,
    ) -> Self {
        self.fields.push(CredentialField {
            name: name.into(),
            label: label.into(),
            input_type: input_type.into(),
        });
        self
    }

    /// The longest value accepted for any submitted field, in bytes (default
    /// [`DEFAULT_MAX_FIELD_LEN`]). Longer input fails as wrong credentials would, without
    /// calling `authorize`.
    pub fn max_field_len(mut self, bytes: usize) -> Self {
        self.max_field_len = bytes;
        self
    }

    /// The provider id.
    pub fn provider_id(&self) -> &str {
        &self.id
    }

    pub(crate) fn into_dyn(self) -> (String, String, Vec<CredentialField>, Arc<dyn DynAuthorize>) {
        let authorize: Arc<dyn DynAuthorize> = Arc::new(Typed {
            authorize: self.authorize,
            max_field_len: self.max_field_len,
        });
        (self.id, self.name, self.fields, authorize)
    }
}

impl<X> std::fmt::Debug for Credentials<X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub(crate) trait DynAuthorize: Send + Sync {
    async fn authorize(
        &self,
        form: Map<String, Value>,
        request: AuthorizeRequest,
    ) -> Result<Option<AnyUser>, AuthorizeError>;
}

struct Typed<X> {
    authorize: Arc<AuthorizeFn<X>>,
    max_field_len: usize,
}

/// Fields Auth.js adds to every credentials form; they are bounded elsewhere.
const PROTOCOL_FIELDS: &[&str] = &["csrfToken", "callbackUrl", "json", "redirect"];

#[async_trait]
impl<X: serde::Serialize + Send + Sync + 'static> DynAuthorize for Typed<X> {
    async fn authorize(
        &self,
        form: Map<String, Value>,
        request: AuthorizeRequest,
    ) -> Result<Option<AnyUser>, AuthorizeError> {
        // An over-long field is a failed sign-in before any work is done (no password hash
        // of a megabyte; SECURITY.md CRD-04), with the same answer as wrong credentials.
        let too_long = form.iter().any(|(k, v)| {
            !PROTOCOL_FIELDS.contains(&k.as_str())
                && match v {
                    Value::String(s) => s.len() > self.max_field_len,
                    Value::Null | Value::Bool(_) | Value::Number(_) => false,
                    other => other.to_string().len() > self.max_field_len,
                }
        });
        if too_long {
            return Ok(None);
        }
        match crate::callbacks::catch_unwind((self.authorize)(form, request)).await {
            Ok(r) => r.map(|u| u.map(AnyUser::new)),
            Err(()) => Err(AuthorizeError::Failed(CallbackError::new(
                "authorize panicked",
            ))),
        }
    }
}
