//! The application's callbacks — `sign_in`, `redirect`, `jwt`, `session` — with typed data.
//!
//! Auth.js extends its `User`, `JWT` and `Session` types through TypeScript module
//! augmentation. portcullis asks the application to name three serde types instead, as
//! associated types of [`Callbacks`], so the seed examples ("put the user id and role in the
//! session, keep the access token server-side") are checked by the compiler.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;

use crate::adapter::AdapterUser;
use crate::error::{CallbackError, Error};
use crate::session::Session;
use crate::token::{Token, TokenError};
use crate::url::{CallbackUrl, origin_url};
use crate::user::{Account, NoFields, User};

/// What the `sign_in` callback decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInDecision {
    /// Continue signing in.
    Allow,
    /// Refuse: the client sees `AccessDenied`.
    Deny,
    /// Stop and send the browser here instead (passed through `redirect`).
    Redirect(String),
}

/// Why the `jwt` callback runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// A sign-in of an existing user.
    SignIn,
    /// A sign-in that created the user.
    SignUp,
    /// A client `update()` (`POST /session`).
    Update,
}

/// The arguments of [`Callbacks::sign_in`].
#[derive(Debug)]
#[non_exhaustive]
pub struct SignInParams<'a, X> {
    /// The user about to sign in.
    pub user: &'a User<X>,
    /// The account used.
    pub account: &'a Account,
    /// For credentials sign-ins, the submitted form (including the password: do not log it).
    pub credentials: Option<&'a Map<String, Value>>,
    /// Email provider: `true` when the user asked for a sign-in link (before it is sent;
    /// refusing stops the mail), `false` when they follow it (Auth.js
    /// `email.verificationRequest`). Always `false` for other providers.
    pub verification_request: bool,
}

/// The arguments of [`Callbacks::jwt`].
#[derive(Debug)]
#[non_exhaustive]
pub struct JwtParams<'a, X, C> {
    /// The token so far: on sign-in `{name, email, picture, sub}` from the user and default
    /// claims; on a session read, the decoded token.
    pub token: Token<C>,
    /// The user, on sign-in only.
    pub user: Option<&'a User<X>>,
    /// The account, on sign-in only. For OAuth sign-ins it carries every token the
    /// provider returned (`access_token`, `refresh_token`, `expires_at`, `id_token`).
    pub account: Option<&'a Account>,
    /// On an OAuth sign-in, the provider's profile: the validated ID-token claims merged
    /// with the userinfo response, or the userinfo response.
    pub profile: Option<&'a Value>,
    /// Why the callback runs; `None` on a plain session read.
    pub trigger: Option<Trigger>,
    /// Whether the sign-in created the user (same as `trigger == Some(SignUp)`).
    pub is_new_user: bool,
    /// On [`Trigger::Update`], the `data` the client sent. Untrusted input: copy only what
    /// the client may change.
    pub session: Option<Value>,
}

/// The arguments of [`Callbacks::session`].
#[derive(Debug)]
#[non_exhaustive]
pub struct SessionParams<'a, X, C> {
    /// The default session (`user: {name, email, image}`, `expires`).
    pub session: Session,
    /// JWT strategy: the token, after the `jwt` callback. Database strategy: a token built
    /// from the stored user (`sub`, `name`, `email`, `picture`, default claims) — the `jwt`
    /// callback does not run there, as in Auth.js; read the user instead.
    pub token: &'a Token<C>,
    /// Database strategy: the stored user, with the application's fields.
    pub user: Option<&'a User<X>>,
    /// [`Trigger::Update`] on `POST /session`.
    pub trigger: Option<Trigger>,
    /// Database strategy, on update: the `data` the client sent (untrusted). With the JWT
    /// strategy the update data goes to the `jwt` callback instead.
    pub new_session: Option<Value>,
}

/// The application's callbacks and the types of its session data.
///
/// # Examples
/// The seed example: keep `id`, `role` and an access token in the token; show `id` and
/// `role` to the client, never the access token.
/// ```
/// use portcullis::{Callbacks, CallbackError, JwtParams, Session, SessionParams, Token, Trigger};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Default)]
/// struct UserFields { role: String, access_token: String }
/// #[derive(Serialize, Deserialize, Default)]
/// struct Claims { id: Option<String>, role: Option<String>, access_token: Option<String> }
/// #[derive(Serialize, Deserialize)]
/// struct Exposed { id: String, role: String }
///
/// struct App;
/// #[portcullis::async_trait]
/// impl Callbacks for App {
///     type UserFields = UserFields;
///     type Claims = Claims;
///     type Session = Session<Exposed>;
///
///     async fn jwt(&self, p: JwtParams<'_, UserFields, Claims>) -> Result<Option<Token<Claims>>, CallbackError> {
///         let mut token = p.token;
///         if let Some(user) = p.user {
///             token.claims.id = Some(user.id.clone());
///             token.claims.role = Some(user.fields.role.clone());
///             token.claims.access_token = Some(user.fields.access_token.clone());
///         }
///         if p.trigger == Some(Trigger::Update) {
///             if let Some(name) = p.session.as_ref().and_then(|d| d["name"].as_str()) {
///                 token.name = Some(name.to_owned());
///             }
///         }
///         Ok(Some(token))
///     }
///
///     async fn session(&self, p: SessionParams<'_, UserFields, Claims>) -> Result<Session<Exposed>, CallbackError> {
///         let c = &p.token.claims;
///         Ok(p.session.with_user_fields(Exposed {
///             id: c.id.clone().unwrap_or_default(),
///             role: c.role.clone().unwrap_or_default(),
///         }))
///     }
/// }
/// ```
#[async_trait]
pub trait Callbacks: Send + Sync + 'static {
    /// Fields the application's users carry beyond `id`, `name`, `email`, `image`.
    type UserFields: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// Claims the application keeps in the session token. `Default` gives the claims of a
    /// token before the `jwt` callback has filled them.
    type Claims: Serialize + DeserializeOwned + Default + Send + Sync + 'static;
    /// The session JSON the client reads.
    type Session: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Whether the user may sign in. Default: yes.
    async fn sign_in(
        &self,
        params: SignInParams<'_, Self::UserFields>,
    ) -> Result<SignInDecision, CallbackError> {
        let _ = params;
        Ok(SignInDecision::Allow)
    }

    /// Where to send the browser for a requested `url`. `base_url` is the application's
    /// origin. Default: same-origin targets only, anything else goes to `base_url`.
    ///
    /// # Security
    /// An override that allows other hosts must compare parsed origins against an
    /// allow-list; string prefixes are not enough (SECURITY.md RDR-06/07).
    fn redirect(&self, url: &str, base_url: &Url) -> Url {
        CallbackUrl::same_origin(url, base_url)
            .map_or_else(|| origin_url(base_url), CallbackUrl::into_url)
    }

    /// Builds the session token. Return `Ok(None)` to end the session. Default: the token
    /// unchanged.
    async fn jwt(
        &self,
        params: JwtParams<'_, Self::UserFields, Self::Claims>,
    ) -> Result<Option<Token<Self::Claims>>, CallbackError> {
        Ok(Some(params.token))
    }

    /// Builds the session JSON from the token. An error ends the session.
    async fn session(
        &self,
        params: SessionParams<'_, Self::UserFields, Self::Claims>,
    ) -> Result<Self::Session, CallbackError>;
}

/// Callbacks with Auth.js's defaults and no application data.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultCallbacks;

#[async_trait]
impl Callbacks for DefaultCallbacks {
    type UserFields = NoFields;
    type Claims = NoFields;
    type Session = Session;

    async fn session(
        &self,
        params: SessionParams<'_, NoFields, NoFields>,
    ) -> Result<Session, CallbackError> {
        Ok(params.session)
    }
}

// ---------------------------------------------------------------------------------------
// Type erasure: `Auth` holds `Arc<dyn DynCallbacks>` and carries no type parameter.

/// A user from a provider, with its typed form kept behind `Any`.
pub(crate) struct AnyUser {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) image: Option<String>,
    /// The application's fields as JSON, for storing the user.
    pub(crate) fields: Map<String, Value>,
    typed: Box<dyn Any + Send + Sync>,
}

impl AnyUser {
    pub(crate) fn new<X: Serialize + Send + Sync + 'static>(mut user: User<X>) -> Self {
        if user.id.is_empty() {
            user.id = crate::secret::random_uuid();
        }
        let mut fields = match serde_json::to_value(&user.fields) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for k in ["id", "name", "email", "image"] {
            fields.remove(k);
        }
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
            email: user.email.clone(),
            image: user.image.clone(),
            fields,
            typed: Box::new(user),
        }
    }

    /// The user as a store row (for a first database sign-in).
    pub(crate) fn to_adapter_user(&self) -> AdapterUser {
        AdapterUser {
            id: self.id.clone(),
            email: self.email.clone(),
            email_verified: None,
            name: self.name.clone(),
            image: self.image.clone(),
            fields: self.fields.clone(),
        }
    }
}

/// The typed user of a stored row: its fields with `id`, `name`, `email`, `image` on top.
pub(crate) fn typed_user<X: DeserializeOwned>(
    row: &AdapterUser,
) -> Result<User<X>, serde_json::Error> {
    let mut map = row.fields.clone();
    map.insert("id".into(), Value::String(row.id.clone()));
    for (k, v) in [
        ("name", &row.name),
        ("email", &row.email),
        ("image", &row.image),
    ] {
        match v {
            Some(v) => map.insert(k.into(), Value::String(v.clone())),
            None => map.remove(k),
        };
    }
    serde_json::from_value(Value::Object(map))
}

/// What a session read produced.
pub(crate) struct SessionOutcome {
    /// The re-stamped claims to encode.
    pub(crate) claims: Vec<u8>,
    /// The session JSON for the client.
    pub(crate) body: Vec<u8>,
    /// The application's `Session` value, for in-process readers (extractors).
    pub(crate) typed: Box<dyn Any + Send>,
}

/// Why a session read produced no session.
#[derive(Debug)]
pub(crate) enum SessionFailure {
    Token(TokenError),
    /// The `jwt` callback returned `None`.
    Ended,
    Callback(Error),
}

#[async_trait]
pub(crate) trait DynCallbacks: Send + Sync {
    async fn sign_in(
        &self,
        user: &AnyUser,
        account: &Account,
        credentials: Option<&Map<String, Value>>,
        verification_request: bool,
    ) -> Result<SignInDecision, Error>;

    fn redirect(&self, url: &str, base_url: &Url) -> Url;

    async fn sign_in_token(&self, input: SignInToken<'_>) -> Result<Option<Vec<u8>>, Error>;

    /// The typed user of a stored (or provider-made) row.
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    fn user_from_row(&self, row: &AdapterUser) -> Result<AnyUser, Error>;

    async fn read_session(&self, read: SessionRead<'_>) -> Result<SessionOutcome, SessionFailure>;

    /// A database-strategy session read: no token, the stored user instead.
    async fn read_database_session(
        &self,
        user: &AdapterUser,
        read: SessionRead<'_>,
    ) -> Result<SessionOutcome, SessionFailure>;
}

/// The inputs of a sign-in's `jwt` callback.
pub(crate) struct SignInToken<'a> {
    pub(crate) user: &'a AnyUser,
    pub(crate) account: &'a Account,
    pub(crate) profile: Option<&'a Value>,
    pub(crate) trigger: Trigger,
    pub(crate) now: i64,
    pub(crate) max_age: i64,
    /// Provider tokens to keep in the token (refresh rotation, RP logout).
    pub(crate) provider_tokens: Option<crate::token::ProviderTokens>,
}

/// The inputs of one session read.
pub(crate) struct SessionRead<'a> {
    pub(crate) claims: &'a [u8],
    pub(crate) now: i64,
    pub(crate) max_age: i64,
    pub(crate) expires: String,
    /// `POST /session`: the `jwt` callback runs with [`Trigger::Update`].
    pub(crate) is_update: bool,
    /// The update's `data`, when one was sent.
    pub(crate) update: Option<Value>,
    /// Tokens issued before this time are refused (per-user revocation), if set.
    pub(crate) not_before: Option<i64>,
    /// Count the session as signed in again now (JWT "revoke the others").
    pub(crate) reauthenticated: bool,
    /// Database strategy: a provider token refresh failed (`RefreshTokenError`).
    pub(crate) provider_error: Option<String>,
}

pub(crate) struct Erased<T>(pub(crate) T);

fn callback_error(callback: &'static str, source: CallbackError) -> Error {
    Error::Callback { callback, source }
}

fn panicked(callback: &'static str) -> Error {
    callback_error(callback, CallbackError::new("the callback panicked"))
}

#[async_trait]
impl<T: Callbacks> DynCallbacks for Erased<T> {
    async fn sign_in(
        &self,
        user: &AnyUser,
        account: &Account,
        credentials: Option<&Map<String, Value>>,
        verification_request: bool,
    ) -> Result<SignInDecision, Error> {
        let typed = downcast_user::<T::UserFields>(user)?;
        let fut = self.0.sign_in(SignInParams {
            user: typed,
            account,
            credentials,
            verification_request,
        });
        match catch_unwind(fut).await {
            Ok(r) => r.map_err(|e| callback_error("sign_in", e)),
            Err(()) => Err(panicked("sign_in")),
        }
    }

    fn redirect(&self, url: &str, base_url: &Url) -> Url {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.redirect(url, base_url))) {
            Ok(u) => u,
            Err(_) => origin_url(base_url),
        }
    }

    fn user_from_row(&self, row: &AdapterUser) -> Result<AnyUser, Error> {
        typed_user::<T::UserFields>(row)
            .map(AnyUser::new)
            .map_err(|e| {
                callback_error(
                    "profile",
                    CallbackError::from_source(
                        "Callbacks::UserFields cannot be read from this user (give its fields #[serde(default)], or store them with an adapter)",
                        e,
                    ),
                )
            })
    }

    async fn sign_in_token(&self, input: SignInToken<'_>) -> Result<Option<Vec<u8>>, Error> {
        let SignInToken {
            user,
            account,
            profile,
            trigger,
            now,
            max_age,
            provider_tokens,
        } = input;
        let typed = downcast_user::<T::UserFields>(user)?;
        let mut token = Token::new(
            user.id.clone(),
            user.name.clone(),
            user.email.clone(),
            user.image.clone(),
            T::Claims::default(),
        );
        token.provider_tokens = provider_tokens;
        let fut = self.0.jwt(JwtParams {
            token,
            user: Some(typed),
            account: Some(account),
            profile,
            trigger: Some(trigger),
            is_new_user: trigger == Trigger::SignUp,
            session: None,
        });
        let token = match catch_unwind(fut).await {
            Ok(r) => r.map_err(|e| callback_error("jwt", e))?,
            Err(()) => return Err(panicked("jwt")),
        };
        let Some(mut token) = token else {
            return Ok(None);
        };
        token.stamp(now, max_age, crate::secret::random_uuid());
        serde_json::to_vec(&token)
            .map(Some)
            .map_err(|e| Error::SessionToken(e.to_string()))
    }

    async fn read_database_session(
        &self,
        user: &AdapterUser,
        read: SessionRead<'_>,
    ) -> Result<SessionOutcome, SessionFailure> {
        self.database_session(user, read).await
    }

    async fn read_session(&self, read: SessionRead<'_>) -> Result<SessionOutcome, SessionFailure> {
        let token: Token<T::Claims> = serde_json::from_slice(read.claims)
            .map_err(|_| SessionFailure::Token(TokenError::InvalidClaims))?;
        token.validate(read.now).map_err(SessionFailure::Token)?;
        // Revoked: signed in before the user's "not before" time, or of unknown age. The
        // sign-in time survives re-issues, so a refresh cannot outlive a revocation.
        if let Some(nbf) = read.not_before
            && token.authenticated_at().is_none_or(|at| at < nbf)
        {
            return Err(SessionFailure::Token(TokenError::Revoked));
        }
        let trigger = read.is_update.then_some(Trigger::Update);
        let fut = self.0.jwt(JwtParams {
            token,
            user: None,
            account: None,
            profile: None,
            trigger,
            is_new_user: false,
            session: read.update,
        });
        let token = match catch_unwind(fut).await {
            Ok(Ok(Some(t))) => t,
            Ok(Ok(None)) => return Err(SessionFailure::Ended),
            Ok(Err(e)) => return Err(SessionFailure::Callback(callback_error("jwt", e))),
            Err(()) => return Err(SessionFailure::Callback(panicked("jwt"))),
        };
        let mut token = token;
        // Re-issued no earlier than the "not before" time (which may be a second ahead of
        // now), or the refreshed token would be refused on its next read.
        let issued = read.not_before.map_or(read.now, |nbf| read.now.max(nbf));
        token.stamp(issued, read.max_age, crate::secret::random_uuid());
        if read.reauthenticated {
            token.reauthenticate(issued);
        }
        let mut default = Session::default_for(
            token.name.clone(),
            token.email.clone(),
            token.picture.clone(),
            read.expires,
        );
        default.error = token.provider_tokens.as_ref().and_then(|t| t.error.clone());
        let fut = self.0.session(SessionParams {
            session: default,
            token: &token,
            user: None,
            trigger,
            new_session: None,
        });
        let session = match catch_unwind(fut).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(SessionFailure::Callback(callback_error("session", e))),
            Err(()) => return Err(SessionFailure::Callback(panicked("session"))),
        };
        let claims = serde_json::to_vec(&token)
            .map_err(|e| SessionFailure::Callback(Error::SessionToken(e.to_string())))?;
        let body = serde_json::to_vec(&session)
            .map_err(|e| SessionFailure::Callback(Error::SessionToken(e.to_string())))?;
        Ok(SessionOutcome {
            claims,
            body,
            typed: Box::new(session),
        })
    }
}

impl<T: Callbacks> Erased<T> {
    async fn database_session(
        &self,
        row: &AdapterUser,
        read: SessionRead<'_>,
    ) -> Result<SessionOutcome, SessionFailure> {
        let user: User<T::UserFields> = typed_user(row).map_err(|e| {
            SessionFailure::Callback(callback_error(
                "session",
                CallbackError::from_source(
                    "the stored user does not match Callbacks::UserFields",
                    e,
                ),
            ))
        })?;
        let token = Token::new(
            row.id.clone(),
            row.name.clone(),
            row.email.clone(),
            row.image.clone(),
            T::Claims::default(),
        );
        let mut default = Session::default_for(
            row.name.clone(),
            row.email.clone(),
            row.image.clone(),
            read.expires,
        );
        default.error = read.provider_error;
        let fut = self.0.session(SessionParams {
            session: default,
            token: &token,
            user: Some(&user),
            trigger: read.is_update.then_some(Trigger::Update),
            new_session: read.update,
        });
        let session = match catch_unwind(fut).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(SessionFailure::Callback(callback_error("session", e))),
            Err(()) => return Err(SessionFailure::Callback(panicked("session"))),
        };
        let body = serde_json::to_vec(&session)
            .map_err(|e| SessionFailure::Callback(Error::SessionToken(e.to_string())))?;
        Ok(SessionOutcome {
            claims: Vec::new(),
            body,
            typed: Box::new(session),
        })
    }
}

fn downcast_user<X: 'static>(user: &AnyUser) -> Result<&User<X>, Error> {
    user.typed.downcast_ref::<User<X>>().ok_or_else(|| {
        callback_error(
            "sign_in",
            CallbackError::new("the provider's user type does not match Callbacks::UserFields"),
        )
    })
}

/// Runs a future, turning a panic inside it into `Err(())`: a bug in an application
/// callback must become an error response, not a dropped connection.
pub(crate) async fn catch_unwind<F: Future>(fut: F) -> Result<F::Output, ()> {
    CatchUnwind(Box::pin(fut)).await
}

struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
