//! The reference servers of `bench/run.sh`, one per mode:
//!
//! - `bare`: `GET /api/auth/session` answers with fixed bytes (`BENCH_BODY`, and
//!   `BENCH_SET_COOKIE` as a `Set-Cookie` header) and does nothing else: the most this machine
//!   serves over HTTP with axum — the ceiling.
//! - `crypto`: `GET /api/auth/session` does only the unavoidable work of a JWT session read —
//!   take the `authjs.session-token` cookie, verify and decrypt it (`dir` + `A256CBC-HS512`,
//!   the key derived once at start), parse its JSON, build the session JSON, re-encrypt the
//!   claims with a new expiry and set the cookie. Built directly on the RustCrypto primitives,
//!   not on portcullis, so it is an independent limit for portcullis's own path.
//! - `signin`: portcullis with the password provider (Argon2id, OWASP parameters, the user
//!   `alice@example.com` / `BENCH_PASSWORD`), JWT sessions, in-memory stores and no rate
//!   limiter, for the sign-in burst.
//!
//! `portcullis-bench <mode> <port>`; `AUTH_SECRET` is required. Prints
//! `portcullis-bench <mode> listening on http://127.0.0.1:<port>` once it accepts connections.
#![allow(clippy::print_stdout)]

mod crypto;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, port) = match args.as_slice() {
        [mode, port] => match port.parse::<u16>() {
            Ok(port) => (mode.clone(), port),
            Err(_) => fail(&format!("`{port}` is not a port")),
        },
        _ => fail("usage: portcullis-bench <bare|crypto|signin> <port>"),
    };
    let secret = std::env::var("AUTH_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| fail("AUTH_SECRET must be set"));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async move {
        let app = match mode.as_str() {
            "bare" => bare(),
            "crypto" => crypto::router(&secret),
            "signin" => signin(&secret, port).await,
            other => fail(&format!("unknown mode `{other}`: bare, crypto or signin")),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => fail(&format!("cannot listen on {addr}: {e}")),
        };
        println!("portcullis-bench {mode} listening on http://{addr}");
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            fail(&format!("server failed: {e}"));
        }
    });
}

fn fail(message: &str) -> ! {
    eprintln!("portcullis-bench: {message}");
    std::process::exit(2)
}

fn env_header(name: &str) -> Option<HeaderValue> {
    std::env::var(name)
        .ok()
        .and_then(|v| HeaderValue::from_str(&v).ok())
}

/// The ceiling: the same response bytes, no work.
fn bare() -> Router {
    let body = std::env::var("BENCH_BODY").unwrap_or_else(|_| "{}".to_owned());
    let cookie = env_header("BENCH_SET_COOKIE");
    Router::new().route(
        "/api/auth/session",
        get(move || {
            let (body, cookie) = (body.clone(), cookie.clone());
            async move {
                let mut res = (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    body,
                )
                    .into_response();
                if let Some(c) = cookie {
                    res.headers_mut().insert(header::SET_COOKIE, c);
                }
                res
            }
        }),
    )
}

/// portcullis signing in with Argon2id: the `Passwords` provider over in-memory stores.
async fn signin(secret: &str, port: u16) -> Router {
    use portcullis::adapter::memory::MemoryAdapter;
    use portcullis::adapter::{AdapterUser, PasswordAdapter, UserAdapter};
    use portcullis::password::PasswordHasher;
    use portcullis::{Auth, AuthConfig, DefaultCallbacks, Passwords};
    use portcullis_axum::AuthRouterExt;

    let password =
        std::env::var("BENCH_PASSWORD").unwrap_or_else(|_| "correct horse battery".to_owned());
    let store = Arc::new(MemoryAdapter::new());
    let user = AdapterUser {
        id: "1".into(),
        email: Some("alice@example.com".into()),
        email_verified: None,
        name: Some("Alice".into()),
        image: None,
        fields: serde_json::Map::new(),
    };
    let stored = async {
        store.create_user(&user).await.map_err(|e| e.to_string())?;
        let phc = PasswordHasher::default()
            .hash(&password)
            .await
            .map_err(|e| e.to_string())?;
        store
            .set_password_hash("1", &phc)
            .await
            .map_err(|e| e.to_string())
    };
    if let Err(e) = stored.await {
        fail(&format!("cannot create the user: {e}"));
    }
    let config = AuthConfig::builder(DefaultCallbacks)
        .secret(secret)
        .url(format!("http://127.0.0.1:{port}"))
        .user_adapter(store.clone())
        .password_adapter(store.clone())
        .verification_token_adapter(store.clone())
        .revocation_adapter(store)
        .passwords(Passwords::new())
        .build();
    match config {
        Ok(config) => Router::new().with_auth(Auth::new(config)),
        Err(e) => fail(&format!("configuration refused: {e}")),
    }
}

/// A JSON error answer of the crypto-bound handler.
fn unauthorized() -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        "null",
    )
        .into_response()
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}
