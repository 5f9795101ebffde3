//! The seed example of portcullis: credentials sign-in, JWT sessions and typed callbacks.
//!
//! - `authorize` accepts the demo user `alice` / `wonderland` and returns id `1`, name
//!   `Alice`, email `alice@example.com`, role `admin` and an access token;
//! - the `jwt` callback keeps id, role and access token in the (encrypted) token and, on a
//!   client `update()`, copies `name` — and nothing else — from the update data;
//! - the `session` callback shows id and role to the client, never the access token;
//! - `/protected` (page) and `/api/protected` (JSON) require a session; `/api/token` reads
//!   the access token on the server through `get_token`.
//!
//! Run: `AUTH_SECRET=$(openssl rand -base64 33) AUTH_URL=http://localhost:3000 cargo run --release`
//! (`PORT` picks the port, `PORTCULLIS_COMPAT=v4` speaks next-auth v4 / nuxt-auth). Without
//! `AUTH_SECRET` / `AUTH_URL` it uses a throw-away secret and `http://localhost:$PORT`,
//! with a warning — unless `PORTCULLIS_ENV=production`, where both are required.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use portcullis::SessionStrategy;
use portcullis::adapter::{UserAdapter, UserUpdate};
use portcullis::{
    Auth, AuthConfig, AuthorizeError, CallbackError, Callbacks, Compat, Credentials, JwtParams,
    Session, SessionParams, Token, Trigger, User,
};
use portcullis_axum::{AuthRouterExt, RequireAuthLayer};

mod stores;
use serde::{Deserialize, Serialize};

/// What `authorize` returns beyond id, name, email and image.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserFields {
    role: String,
    access_token: String,
}

/// What the session token carries beyond name, email, picture and sub.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
}

/// What the client may see on `session.user` beyond name, email and image.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Exposed {
    id: String,
    role: String,
}

type AppSession = Session<Exposed>;

/// The application. `users` is set in database mode, to persist `update()`s: with database
/// sessions Auth.js writes nothing on update — the application decides what to store.
#[derive(Default)]
struct App {
    users: Option<Arc<dyn UserAdapter>>,
}

#[portcullis::async_trait]
impl Callbacks for App {
    type UserFields = UserFields;
    type Claims = Claims;
    type Session = AppSession;

    async fn jwt(
        &self,
        p: JwtParams<'_, UserFields, Claims>,
    ) -> Result<Option<Token<Claims>>, CallbackError> {
        let mut token = p.token;
        if let Some(user) = p.user {
            // Sign-in: copy what the application needs into the encrypted token.
            token.claims.id = Some(user.id.clone());
            token.claims.role = Some(user.fields.role.clone());
            token.claims.access_token = Some(user.fields.access_token.clone());
        }
        if p.trigger == Some(Trigger::Update)
            && let Some(name) = new_name(p.session.as_ref())
        {
            // Update data is untrusted: only `name` may change.
            token.name = Some(name);
        }
        Ok(Some(token))
    }

    async fn session(
        &self,
        p: SessionParams<'_, UserFields, Claims>,
    ) -> Result<AppSession, CallbackError> {
        let mut session = p.session;
        let (id, role) = match p.user {
            // Database strategy: the stored user, with its role.
            Some(user) => {
                if p.trigger == Some(Trigger::Update)
                    && let (Some(users), Some(name)) =
                        (&self.users, new_name(p.new_session.as_ref()))
                {
                    let update = UserUpdate::default().with_name(Some(name.clone()));
                    users.update_user(&user.id, &update).await.map_err(|e| {
                        CallbackError::from_source("could not save the new name", e)
                    })?;
                    session.user.name = Some(name);
                }
                (user.id.clone(), user.fields.role.clone())
            }
            // JWT strategy: what the jwt callback kept in the token.
            None => {
                let claims = &p.token.claims;
                let id = claims
                    .id
                    .clone()
                    .or_else(|| p.token.sub.clone())
                    .unwrap_or_default();
                (id, claims.role.clone().unwrap_or_else(|| "user".to_owned()))
            }
        };
        // The access token stays on the server: the client never sees it.
        Ok(session.with_user_fields(Exposed { id, role }))
    }
}

/// The one field a client `update()` may change, bounded.
fn new_name(data: Option<&serde_json::Value>) -> Option<String> {
    let name = data?.get("name")?.as_str()?;
    Some(name.chars().take(100).collect())
}

fn credentials() -> Credentials<UserFields> {
    Credentials::new(|form, _request| async move {
        let field = |k: &str| {
            form.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let (username, password) = (field("username"), field("password"));
        // A demo user. Real applications verify an argon2id hash (see issue #6).
        if username != "alice" || password != "wonderland" {
            return Ok(None);
        }
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw)
            .map_err(|e| AuthorizeError::Failed(CallbackError::new(e.to_string())))?;
        let access_token = format!(
            "at-{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        Ok(Some(
            User::new("1")
                .with_name("Alice")
                .with_email("alice@example.com")
                .with_fields(UserFields {
                    role: "admin".into(),
                    access_token,
                }),
        ))
    })
    .field("username", "Username", "text")
    .field("password", "Password", "password")
}

/// Builds the app: auth routes, a home page, protected page and APIs.
fn app(auth: Auth) -> Router {
    Router::new()
        .route("/", get(home))
        .route(
            "/protected",
            get(protected_page).route_layer(RequireAuthLayer::redirect_to_sign_in()),
        )
        .route(
            "/api/protected",
            get(
                |portcullis_axum::Session(s): portcullis_axum::Session<AppSession>| async move {
                    Json(serde_json::json!({ "session": s }))
                },
            ),
        )
        .route("/api/token", get(token))
        .with_auth(auth)
}

/// A server-side read of the access token (echoed for the demo; a real handler would call
/// an upstream API with it). JWT strategy: from the token (`get_token`); database strategy:
/// from the stored user.
async fn token(
    axum::Extension(auth): axum::Extension<Auth>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let unauthorized = || {
        (
            axum::http::StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": "Unauthorized" })),
        )
            .into_response()
    };
    if auth.config().strategy() == SessionStrategy::Database {
        return match auth.user::<UserFields>(&headers).await {
            Ok(Some(u)) => {
                Json(serde_json::json!({ "sub": u.id, "access_token": u.fields.access_token }))
                    .into_response()
            }
            Ok(None) => unauthorized(),
            Err(_) => (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": "SessionStoreUnavailable" })),
            )
                .into_response(),
        };
    }
    if auth.origin(&headers).is_err() {
        return unauthorized();
    }
    match auth.token::<Claims>(&headers) {
        Some(t) => Json(serde_json::json!({ "sub": t.sub, "access_token": t.claims.access_token }))
            .into_response(),
        None => unauthorized(),
    }
}

async fn home(session: Option<portcullis_axum::Session<AppSession>>) -> Html<String> {
    let body = match session {
        Some(portcullis_axum::Session(s)) => format!(
            "<p>Signed in as {} ({}).</p><p><a href=\"/protected\">Protected page</a> · <a href=\"/api/auth/signout\">Sign out</a></p>",
            escape(s.user.name.as_deref().unwrap_or("?")),
            escape(&s.user.fields.role)
        ),
        None => "<p>Not signed in.</p><p><a href=\"/api/auth/signin\">Sign in</a> (alice / wonderland) · <a href=\"/protected\">Protected page</a></p>".to_owned(),
    };
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>portcullis example</title></head><body><h1>portcullis example</h1>{body}</body></html>"
    ))
}

async fn protected_page(
    portcullis_axum::Session(s): portcullis_axum::Session<AppSession>,
) -> Html<String> {
    let json = serde_json::to_string_pretty(&s).unwrap_or_default();
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Protected</title></head><body><h1>Protected page</h1><pre>{}</pre><p><a href=\"/\">Home</a></p></body></html>",
        escape(&json)
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,portcullis=info".into()),
        )
        .init();
    let compat = match std::env::var("PORTCULLIS_COMPAT").as_deref() {
        Ok("v4") => Compat::V4,
        _ => Compat::V5,
    };
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let production = std::env::var("PORTCULLIS_ENV").as_deref() == Ok("production");
    let unset = |k: &str| std::env::var(k).map_or(true, |v| v.is_empty());
    let (callbacks, stores, _sweeper) = match stores::from_env().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut builder = stores.apply(
        AuthConfig::builder(callbacks)
            .from_env()
            .compat(compat)
            .credentials(credentials()),
    );
    if !production && unset("AUTH_SECRET") {
        // Development convenience only: a fresh secret per start, so sessions end on restart.
        let mut raw = [0u8; 32];
        if getrandom::fill(&mut raw).is_ok() {
            let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            tracing::warn!(
                "AUTH_SECRET is not set: using a random secret for this run only (sessions end on restart). Set AUTH_SECRET (`openssl rand -base64 33`); with PORTCULLIS_ENV=production it is required."
            );
            builder = builder.secret(secret);
        }
    }
    if !production && unset("AUTH_URL") && unset("AUTH_TRUST_HOST") {
        let url = format!("http://localhost:{port}");
        tracing::warn!(
            "AUTH_URL is not set: assuming {url}. Set AUTH_URL to the public URL of this app."
        );
        builder = builder.url(url);
    }
    let config = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            for p in e.problems() {
                eprintln!("error: {p}");
            }
            std::process::exit(2);
        }
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!("example-credentials-jwt listening on http://{addr}");
    if let Err(e) = axum::serve(
        listener,
        app(Auth::new(config)).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    {
        eprintln!("error: server failed: {e}");
        std::process::exit(1);
    }
}
