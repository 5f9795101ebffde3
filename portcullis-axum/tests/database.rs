//! portcullis-axum with the database session strategy (memory adapter behind a switchable
//! fault): the `Session` / `Option<Session>` extractors and `RequireAuthLayer` answer 503
//! during a store outage — never 200, never 401 or a sign-in redirect (SECURITY.md FLT-01) —
//! and the client address from `ConnectInfo` is recorded with the session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Json, Router};
use http::{Request, StatusCode, header};
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{AdapterError, AdapterSession, AdapterUser, SessionAdapter, TokenHash};
use portcullis::{
    Auth, AuthConfig, CallbackError, Callbacks, Credentials, SessionParams, SessionStrategy, User,
};
use portcullis_axum::{AuthRouterExt, RequireAuthLayer, Session};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

const SECRET: &str = "portcullis-axum-database-secret-0123456789abcdef";
const SESSION_COOKIE: &str = "__Secure-authjs.session-token";
const SECRET_PAGE: &str = "the protected page's secret content";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserFields {
    role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Exposed {
    id: String,
    role: String,
}

type AppSession = portcullis::Session<Exposed>;

struct App;

#[portcullis::async_trait]
impl Callbacks for App {
    type UserFields = UserFields;
    type Claims = portcullis::NoFields;
    type Session = AppSession;

    async fn session(
        &self,
        p: SessionParams<'_, UserFields, portcullis::NoFields>,
    ) -> Result<AppSession, CallbackError> {
        let user = p
            .user
            .ok_or_else(|| CallbackError::new("database strategy only"))?;
        let exposed = Exposed {
            id: user.id.clone(),
            role: user.fields.role.clone(),
        };
        Ok(p.session.with_user_fields(exposed))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Unavailable,
    Other,
}

/// The memory adapter's sessions, failing every call while a fault is set.
struct FaultySessions {
    inner: Arc<MemoryAdapter>,
    fault: Mutex<Option<Fault>>,
}

impl FaultySessions {
    fn check(&self) -> Result<(), AdapterError> {
        let e = std::io::Error::other("injected");
        match *self.fault.lock().unwrap() {
            None => Ok(()),
            Some(Fault::Unavailable) => Err(AdapterError::unavailable(e)),
            Some(Fault::Other) => Err(AdapterError::other(e)),
        }
    }

    fn set(&self, fault: Option<Fault>) {
        *self.fault.lock().unwrap() = fault;
    }
}

#[portcullis::async_trait]
impl SessionAdapter for FaultySessions {
    async fn create_session(&self, s: &AdapterSession) -> Result<(), AdapterError> {
        self.check()?;
        self.inner.create_session(s).await
    }
    async fn session(&self, key: &TokenHash) -> Result<Option<AdapterSession>, AdapterError> {
        self.check()?;
        self.inner.session(key).await
    }
    async fn session_and_user(
        &self,
        key: &TokenHash,
    ) -> Result<Option<(AdapterSession, Option<AdapterUser>)>, AdapterError> {
        self.check()?;
        self.inner.session_and_user(key).await
    }
    async fn touch_session(
        &self,
        key: &TokenHash,
        expires: OffsetDateTime,
        last_used_at: OffsetDateTime,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        self.check()?;
        self.inner.touch_session(key, expires, last_used_at).await
    }
    async fn delete_session(
        &self,
        key: &TokenHash,
    ) -> Result<Option<AdapterSession>, AdapterError> {
        self.check()?;
        self.inner.delete_session(key).await
    }
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<AdapterSession>, AdapterError> {
        self.check()?;
        self.inner.user_sessions(user_id).await
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
    ) -> Result<u64, AdapterError> {
        self.check()?;
        self.inner.delete_user_sessions(user_id, keep).await
    }
    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, AdapterError> {
        self.check()?;
        self.inner.delete_expired_sessions(now).await
    }
}

struct Setup {
    router: Router,
    mem: Arc<MemoryAdapter>,
    sessions: Arc<FaultySessions>,
}

fn setup() -> Setup {
    let mem = Arc::new(MemoryAdapter::new());
    let sessions = Arc::new(FaultySessions {
        inner: mem.clone(),
        fault: Mutex::new(None),
    });
    let credentials = Credentials::new(|form, _req| async move {
        let ok = form.get("username").and_then(Value::as_str) == Some("alice")
            && form.get("password").and_then(Value::as_str) == Some("wonderland");
        Ok(ok.then(|| {
            User::new("1")
                .with_name("Alice")
                .with_email("alice@example.com")
                .with_fields(UserFields {
                    role: "admin".into(),
                })
        }))
    });
    let config = AuthConfig::builder(App)
        .secret(SECRET)
        .url("https://app.example")
        .user_adapter(mem.clone())
        .session_adapter(sessions.clone())
        .credentials(credentials)
        .build()
        .unwrap();
    assert_eq!(config.strategy(), SessionStrategy::Database);
    let router = Router::new()
        .route(
            "/",
            get(|s: Option<Session<AppSession>>| async move {
                match s {
                    Some(Session(s)) => format!("hello {} {SECRET_PAGE}", s.user.fields.role),
                    None => "not signed in".to_owned(),
                }
            }),
        )
        .route(
            "/api/protected",
            get(|Session(s): Session<AppSession>| async move {
                Json(json!({ "session": s, "secret": SECRET_PAGE }))
            }),
        )
        .route(
            "/protected",
            get(|| async { SECRET_PAGE }).route_layer(RequireAuthLayer::redirect_to_sign_in()),
        )
        .route(
            "/api/protected-layer",
            get(|| async { SECRET_PAGE }).route_layer(RequireAuthLayer::unauthorized()),
        )
        .with_auth(Auth::new(config));
    Setup {
        router,
        mem,
        sessions,
    }
}

struct Res {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Res {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

async fn send(router: &Router, req: Request<Body>) -> Res {
    let res = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Res {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn get_req(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

/// csrf → credentials sign-in through the router, from `peer`; returns the session token.
async fn sign_in(router: &Router, peer: Option<SocketAddr>) -> String {
    let res = send(
        router,
        Request::get("/api/auth/csrf").body(Body::empty()).unwrap(),
    )
    .await;
    let csrf = res.json()["csrfToken"].as_str().unwrap().to_owned();
    let csrf_cookie = res
        .set_cookies()
        .into_iter()
        .next()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut req = Request::post("/api/auth/callback/credentials")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, csrf_cookie)
        .header(header::USER_AGENT, "AxumTest/1.0")
        .body(Body::from(format!(
            "csrfToken={csrf}&username=alice&password=wonderland"
        )))
        .unwrap();
    if let Some(peer) = peer {
        req.extensions_mut().insert(ConnectInfo(peer));
    }
    let res = send(router, req).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    res.set_cookies()
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .expect("a session cookie")
}

fn cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}")
}

#[tokio::test]
async fn extractors_and_layer_read_database_sessions() {
    let s = setup();
    let token = sign_in(&s.router, None).await;
    assert_eq!(token.len(), 64);
    let res = send(&s.router, get_req("/api/protected", &cookie(&token))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let session = &res.json()["session"];
    assert_eq!(
        session["user"],
        json!({"name": "Alice", "email": "alice@example.com", "id": "1", "role": "admin"})
    );
    let res = send(&s.router, get_req("/", &cookie(&token))).await;
    assert_eq!(res.body, format!("hello admin {SECRET_PAGE}"));
    for path in ["/protected", "/api/protected-layer"] {
        let res = send(&s.router, get_req(path, &cookie(&token))).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(res.body, SECRET_PAGE);
    }
    // An unknown token is no session.
    let unknown = TokenHash::of("never issued").as_str().to_owned();
    let res = send(&s.router, get_req("/api/protected", &cookie(&unknown))).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = send(&s.router, get_req("/protected", &cookie(&unknown))).await;
    assert_eq!(res.status, StatusCode::FOUND);
}

#[tokio::test]
async fn flt_01_a_store_outage_is_503_everywhere_never_200_401_or_302() {
    let s = setup();
    let token = sign_in(&s.router, None).await;
    s.sessions.set(Some(Fault::Unavailable));
    for path in [
        "/api/protected",
        "/",
        "/protected",
        "/api/protected-layer",
        "/api/auth/session",
    ] {
        let res = send(&s.router, get_req(path, &cookie(&token))).await;
        assert_eq!(
            res.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            res.body
        );
        assert_eq!(res.json()["error"], "SessionStoreUnavailable", "{path}");
        assert!(res.headers.contains_key(header::RETRY_AFTER), "{path}");
        assert!(!res.body.contains(SECRET_PAGE), "{path}");
        assert!(
            res.set_cookies()
                .iter()
                .all(|c| !c.starts_with(SESSION_COOKIE)),
            "{path}: the session cookie was touched: {:?}",
            res.set_cookies()
        );
        assert!(res.headers.get(header::LOCATION).is_none(), "{path}");
    }
    // Once the store is back, the same cookie is a session again.
    s.sessions.set(None);
    let res = send(&s.router, get_req("/api/protected-layer", &cookie(&token))).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn flt_01_other_store_errors_read_as_signed_out() {
    let s = setup();
    let token = sign_in(&s.router, None).await;
    s.sessions.set(Some(Fault::Other));
    let res = send(&s.router, get_req("/api/protected", &cookie(&token))).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = send(&s.router, get_req("/api/protected-layer", &cookie(&token))).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = send(&s.router, get_req("/protected", &cookie(&token))).await;
    assert_eq!(res.status, StatusCode::FOUND);
    let res = send(&s.router, get_req("/", &cookie(&token))).await;
    assert_eq!(res.body, "not signed in");
    let res = send(&s.router, get_req("/api/auth/session", &cookie(&token))).await;
    assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, "null"));
    assert!(
        res.set_cookies()
            .iter()
            .all(|c| !c.starts_with(SESSION_COOKIE))
    );
    s.sessions.set(None);
    let res = send(&s.router, get_req("/api/protected", &cookie(&token))).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn the_client_address_and_user_agent_are_recorded_with_the_session() {
    let s = setup();
    let peer: SocketAddr = "203.0.113.7:51234".parse().unwrap();
    let token = sign_in(&s.router, Some(peer)).await;
    let row = s
        .mem
        .session(&TokenHash::of(&token))
        .await
        .unwrap()
        .expect("a row");
    assert_eq!(row.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(row.user_agent.as_deref(), Some("AxumTest/1.0"));
    // Without ConnectInfo nothing is made up.
    let token = sign_in(&s.router, None).await;
    let row = s
        .mem
        .session(&TokenHash::of(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.ip, None);

    // The management listing shows them to the owner.
    let res = send(&s.router, get_req("/api/auth/sessions", &cookie(&token))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let list = res.json();
    assert_eq!(list[0]["ip"], "203.0.113.7");
    assert_eq!(list[0]["userAgent"], "AxumTest/1.0");
    assert_eq!(list[1]["current"], true);
}
