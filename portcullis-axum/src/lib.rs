//! # portcullis-axum
//!
//! Mounts [`portcullis`] in an axum application: the Auth.js REST routes under the base
//! path, a [`Session`] extractor (401 when absent; `Option<Session<T>>` for optional
//! sessions), a [`SessionToken`] extractor (Auth.js `getToken`), and [`RequireAuthLayer`]
//! to protect routes (pages: 302 to sign-in with `callbackUrl`; APIs: 401).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use portcullis::{Auth, AuthConfig, DefaultCallbacks};
//! use portcullis_axum::{AuthRouterExt, RequireAuthLayer, Session};
//!
//! # async fn run() {
//! let auth = Auth::new(AuthConfig::builder(DefaultCallbacks).from_env().build().unwrap());
//! let app = Router::new()
//!     .route("/api/me", get(|Session(s): Session| async move { axum::Json(s) }))
//!     .route("/dashboard", get(|| async { "secret dashboard" }).route_layer(RequireAuthLayer::redirect_to_sign_in()))
//!     .with_auth(auth); // last: mounts /api/auth/* and makes `Auth` available to all routes above
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! ## Security
//! Extractors and the layer fail closed: when portcullis cannot establish a trusted origin
//! (no `AUTH_URL`, host not trusted) they answer 500 and never run the protected handler;
//! a missing layer is a 500 naming the fix, never "signed out" or "signed in".
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use portcullis::{Auth, ClientIp, SessionError, Token};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

/// Mounting portcullis on a `Router`.
pub trait AuthRouterExt {
    /// Adds the auth routes (`{base}/*`) and makes `auth` available to the extractors and
    /// [`RequireAuthLayer`] of every route added **before** this call.
    fn with_auth(self, auth: Auth) -> Self;
}

impl<S: Clone + Send + Sync + 'static> AuthRouterExt for Router<S> {
    fn with_auth(self, auth: Auth) -> Self {
        self.merge(routes(auth.clone()))
            .layer(axum::Extension(auth))
    }
}

/// The auth routes alone: every method on `{base}/{*rest}` goes to [`Auth::handle`].
pub fn routes<S: Clone + Send + Sync + 'static>(auth: Auth) -> Router<S> {
    let base = auth.config().base_path().trim_end_matches('/').to_owned();
    Router::new().route(
        &format!("{base}/{{*rest}}"),
        any(move |req: Request| {
            let auth = auth.clone();
            async move { handle(&auth, req).await }
        }),
    )
}

/// Runs one request through [`Auth::handle`], reading the body up to the configured limit
/// (413 beyond it).
pub async fn handle(auth: &Auth, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    // The peer address, when the server was started with `into_make_service_with_connect_info`,
    // is recorded with database sessions — unless a middleware already set the client IP
    // (from a trusted proxy's `X-Forwarded-For`).
    if parts.extensions.get::<ClientIp>().is_none()
        && let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied()
    {
        parts.extensions.insert(ClientIp(addr.ip()));
    }
    let limit = auth.config().body_limit();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                "The request body is too large.",
            );
        }
    };
    let res = auth
        .handle(axum::http::Request::from_parts(parts, bytes))
        .await;
    let (parts, body) = res.into_parts();
    Response::from_parts(parts, Body::from(body))
}

fn json_error(status: StatusCode, error: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": error, "message": message });
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Why a [`Session`] or [`SessionToken`] could not be extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No valid session: 401 `{"error":"Unauthorized"}`.
    Unauthenticated,
    /// portcullis cannot establish a trusted origin: 500; see the server log.
    Misconfigured,
    /// The session store cannot be reached: 503 `{"error":"SessionStoreUnavailable"}` with
    /// `Retry-After` — neither signed in nor signed out.
    StoreUnavailable,
    /// No `Auth` in the request extensions: 500 — is the portcullis layer installed
    /// (`Router::with_auth`, called after the routes that use the extractor)?
    MissingLayer,
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated => json_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Sign in to access this resource.",
            ),
            Self::Misconfigured => json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Configuration",
                "There was a problem with the server configuration. Check the server logs for more information.",
            ),
            Self::StoreUnavailable => {
                let mut res = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SessionStoreUnavailable",
                    "The session store is unavailable. Try again shortly.",
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                res
            }
            Self::MissingLayer => {
                tracing::error!(target: "portcullis", "no `Auth` extension: is the portcullis layer installed? call `Router::with_auth(auth)` after adding the routes");
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Configuration",
                    "There was a problem with the server configuration. Check the server logs for more information.",
                )
            }
        }
    }
}

fn auth_of(parts: &Parts) -> Result<&Auth, SessionRejection> {
    parts
        .extensions
        .get::<Auth>()
        .ok_or(SessionRejection::MissingLayer)
}

/// The session of the request, as the `session` callback shaped it; 401 when there is
/// none. `T` is the application's `Callbacks::Session` type (read without a JSON round
/// trip) or any type that deserialises from the session JSON.
///
/// Use `Option<Session<T>>` when a session is optional.
#[derive(Debug, Clone)]
pub struct Session<T = portcullis::Session>(pub T);

impl<S, T> FromRequestParts<S> for Session<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match read_session::<T>(parts).await? {
            Some(s) => Ok(Session(s)),
            None => Err(SessionRejection::Unauthenticated),
        }
    }
}

impl<S, T> OptionalFromRequestParts<S> for Session<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(read_session::<T>(parts).await?.map(Session))
    }
}

async fn read_session<T: DeserializeOwned + Send + 'static>(
    parts: &Parts,
) -> Result<Option<T>, SessionRejection> {
    let auth = auth_of(parts)?;
    auth.session::<T>(&parts.headers).await.map_err(rejection)
}

fn rejection(e: SessionError) -> SessionRejection {
    match e {
        SessionError::Unavailable => SessionRejection::StoreUnavailable,
        _ => SessionRejection::Misconfigured,
    }
}

/// The decoded session token (Auth.js `getToken`): from the session cookie, else
/// `Authorization: Bearer`. 401 when absent or invalid. Holds server-side secrets such as an
/// access token: never return it to the client whole.
#[derive(Debug, Clone)]
pub struct SessionToken<C = portcullis::NoFields>(pub Token<C>);

impl<S, C> FromRequestParts<S> for SessionToken<C>
where
    S: Send + Sync,
    C: DeserializeOwned,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = auth_of(parts)?;
        // Fail closed like `Session` and the layer: without a trusted origin, no token.
        auth.origin(&parts.headers)
            .map_err(|_| SessionRejection::Misconfigured)?;
        auth.token::<C>(&parts.headers)
            .map(SessionToken)
            .ok_or(SessionRejection::Unauthenticated)
    }
}

/// What [`RequireAuthLayer`] does with a request that has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnMissing {
    Redirect,
    Unauthorized,
}

/// Protects routes: requests without a valid session never reach the inner service.
///
/// Pages get `302` to `{base}/signin?callbackUrl=<this URL>`; APIs get `401` JSON. A
/// misconfigured origin answers 500 (fail closed).
#[derive(Debug, Clone, Copy)]
pub struct RequireAuthLayer {
    on_missing: OnMissing,
}

impl RequireAuthLayer {
    /// For pages: redirect to the sign-in page, coming back here afterwards.
    pub fn redirect_to_sign_in() -> Self {
        Self {
            on_missing: OnMissing::Redirect,
        }
    }

    /// For APIs: `401 {"error":"Unauthorized"}`.
    pub fn unauthorized() -> Self {
        Self {
            on_missing: OnMissing::Unauthorized,
        }
    }
}

impl<S> Layer<S> for RequireAuthLayer {
    type Service = RequireAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireAuth {
            inner,
            on_missing: self.on_missing,
        }
    }
}

/// The service made by [`RequireAuthLayer`].
#[derive(Debug, Clone)]
pub struct RequireAuth<S> {
    inner: S,
    on_missing: OnMissing,
}

impl<S> Service<Request> for RequireAuth<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone that was polled ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let on_missing = self.on_missing;
        Box::pin(async move {
            let Some(auth) = req.extensions().get::<Auth>().cloned() else {
                return Ok(SessionRejection::MissingLayer.into_response());
            };
            match auth.session::<serde_json::Value>(req.headers()).await {
                Ok(Some(_)) => inner.call(req).await,
                Ok(None) => Ok(match on_missing {
                    OnMissing::Unauthorized => SessionRejection::Unauthenticated.into_response(),
                    OnMissing::Redirect => sign_in_redirect(&auth, req.headers(), req.uri()),
                }),
                Err(e) => Ok(rejection(e).into_response()),
            }
        })
    }
}

/// `302` to `{origin}{base}/signin?callbackUrl=<origin + path + query>`.
fn sign_in_redirect(auth: &Auth, headers: &HeaderMap, uri: &axum::http::Uri) -> Response {
    let Ok(origin) = auth.origin(headers) else {
        return SessionRejection::Misconfigured.into_response();
    };
    // Set the path on the origin rather than `join` it: a request path such as
    // `//evil.com/x` is scheme-relative to `join` and would name another host.
    let mut here = origin.clone();
    here.set_path(uri.path());
    here.set_query(uri.query());
    let mut target = origin.clone();
    target.set_path(&format!(
        "{}/signin",
        auth.config().base_path().trim_end_matches('/')
    ));
    target
        .query_pairs_mut()
        .append_pair("callbackUrl", here.as_str());
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(target.as_str()) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
