//! portcullis-axum through a `Router` built like the seed example, driven with
//! `tower::ServiceExt::oneshot`: the mounted auth routes, the `Session` / `Option<Session>` /
//! `SessionToken` extractors, `RequireAuthLayer`, a missing layer (fail closed), CFG-03 and
//! HTTP-02 through axum.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use http::{Request, Response, StatusCode, header};
use portcullis::{
    Auth, AuthConfig, CallbackError, Callbacks, Credentials, JwtParams, SessionParams, Token, User,
};
use portcullis_axum::{AuthRouterExt, RequireAuthLayer, Session, SessionToken};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &str = "portcullis-axum-test-secret-0123456789abcdef";
const ORIGIN: &str = "https://app.example";
const SESSION_COOKIE: &str = "__Secure-authjs.session-token";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserFields {
    role: String,
    access_token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
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
    type Claims = Claims;
    type Session = AppSession;

    async fn jwt(
        &self,
        p: JwtParams<'_, UserFields, Claims>,
    ) -> Result<Option<Token<Claims>>, CallbackError> {
        let mut token = p.token;
        if let Some(user) = p.user {
            token.claims.id = Some(user.id.clone());
            token.claims.role = Some(user.fields.role.clone());
            token.claims.access_token = Some(user.fields.access_token.clone());
        }
        Ok(Some(token))
    }

    async fn session(
        &self,
        p: SessionParams<'_, UserFields, Claims>,
    ) -> Result<AppSession, CallbackError> {
        let c = &p.token.claims;
        Ok(p.session.with_user_fields(Exposed {
            id: c.id.clone().unwrap_or_default(),
            role: c.role.clone().unwrap_or_default(),
        }))
    }
}

fn credentials() -> Credentials<UserFields> {
    Credentials::new(|form, _req| async move {
        let f = |k: &str| {
            form.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if f("username") != "alice" || f("password") != "wonderland" {
            return Ok(None);
        }
        Ok(Some(
            User::new("1")
                .with_name("Alice")
                .with_email("alice@example.com")
                .with_fields(UserFields {
                    role: "admin".into(),
                    access_token: "at-secret".into(),
                }),
        ))
    })
}

fn auth_with(url: Option<&str>) -> Auth {
    let mut b = AuthConfig::builder(App)
        .secret(SECRET)
        .credentials(credentials());
    if let Some(url) = url {
        b = b.url(url);
    }
    Auth::new(b.build().unwrap())
}

/// The handler output no rejected request may ever see.
const SECRET_PAGE: &str = "the protected page's secret content";

fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|s: Option<Session<AppSession>>| async move {
                match s {
                    Some(Session(s)) => format!("hello {}", s.user.name.unwrap_or_default()),
                    None => "not signed in".to_owned(),
                }
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
        .route(
            "/api/protected",
            get(|Session(s): Session<AppSession>| async move { Json(json!({ "session": s, "secret": SECRET_PAGE })) }),
        )
        .route(
            "/api/default-session",
            get(|Session(s): Session| async move { Json(json!({ "name": s.user.name, "secret": SECRET_PAGE })) }),
        )
        .route(
            "/api/token",
            get(|SessionToken(t): SessionToken<Claims>| async move {
                Json(json!({ "sub": t.sub, "access_token": t.claims.access_token, "secret": SECRET_PAGE }))
            }),
        )
}

fn app(auth: Auth) -> Router {
    routes().with_auth(auth)
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

    fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
    }

    /// `name=value` of every non-deleting `Set-Cookie`.
    fn cookies(&self) -> Vec<(String, String)> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .filter(|v| !v.contains("Max-Age=0"))
            .map(|v| {
                let first = v.split(';').next().unwrap();
                let (n, val) = first.split_once('=').unwrap();
                (n.to_owned(), val.to_owned())
            })
            .collect()
    }
}

async fn send(router: &Router, req: Request<Body>) -> Res {
    let res: Response<Body> = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Res {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn get_req(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(uri);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

/// csrf → credentials sign-in through the router; returns the `Cookie` header value.
async fn sign_in(router: &Router) -> String {
    let res = send(router, get_req("/api/auth/csrf", None)).await;
    assert_eq!(res.status, StatusCode::OK);
    let token = res.json()["csrfToken"].as_str().unwrap().to_owned();
    let mut jar = res.cookies();
    let cookie = jar
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let body = format!("csrfToken={token}&username=alice&password=wonderland");
    let req = Request::post("/api/auth/callback/credentials")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap();
    let res = send(router, req).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    jar.extend(res.cookies());
    assert!(jar.iter().any(|(n, _)| n.ends_with("authjs.session-token")));
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn session_token(cookie: &str) -> String {
    cookie
        .split("; ")
        .find_map(|p| p.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn auth_routes_are_mounted_under_the_base_path() {
    let router = app(auth_with(Some(ORIGIN)));
    let res = send(&router, get_req("/api/auth/csrf", None)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["csrfToken"].as_str().unwrap().len(), 64);
    let res = send(&router, get_req("/api/auth/providers", None)).await;
    assert_eq!(
        res.json()["credentials"]["callbackUrl"],
        "https://app.example/api/auth/callback/credentials"
    );
    let res = send(&router, get_req("/api/auth/session", None)).await;
    assert_eq!(res.body, "null");
    let res = send(&router, get_req("/api/auth/nope", None)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = send(
        &router,
        Request::put("/api/auth/session")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn session_extractor_401_without_and_typed_with_a_session() {
    let router = app(auth_with(Some(ORIGIN)));
    let res = send(&router, get_req("/api/protected", None)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"], "Unauthorized");
    assert!(!res.body.contains(SECRET_PAGE));
    let res = send(
        &router,
        get_req("/api/protected", Some(&format!("{SESSION_COOKIE}=garbage"))),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    let cookie = sign_in(&router).await;
    let res = send(&router, get_req("/api/protected", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    let session = &res.json()["session"];
    let expires = session["expires"].as_str().unwrap();
    assert_eq!(
        session,
        &json!({"user": {"name": "Alice", "email": "alice@example.com", "id": "1", "role": "admin"}, "expires": expires})
    );
    assert!(!res.body.contains("at-secret"));
    // The default `Session` type reads the same session from its JSON.
    let res = send(&router, get_req("/api/default-session", Some(&cookie))).await;
    assert_eq!(res.json()["name"], "Alice");
}

#[tokio::test]
async fn optional_session_is_none_without_a_session() {
    let router = app(auth_with(Some(ORIGIN)));
    let res = send(&router, get_req("/", None)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, "not signed in");
    let res = send(
        &router,
        get_req("/", Some(&format!("{SESSION_COOKIE}=garbage"))),
    )
    .await;
    assert_eq!(res.body, "not signed in");
    let cookie = sign_in(&router).await;
    let res = send(&router, get_req("/", Some(&cookie))).await;
    assert_eq!(res.body, "hello Alice");
}

#[tokio::test]
async fn require_auth_redirects_pages_to_sign_in() {
    let router = app(auth_with(Some(ORIGIN)));
    let res = send(&router, get_req("/protected?tab=2&x=a%20b", None)).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(!res.body.contains(SECRET_PAGE));
    let loc = res.location().unwrap();
    let url = url::Url::parse(loc).unwrap();
    assert_eq!(url.origin(), url::Url::parse(ORIGIN).unwrap().origin());
    assert_eq!(url.path(), "/api/auth/signin");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        vec![(
            "callbackUrl".to_owned(),
            "https://app.example/protected?tab=2&x=a%20b".to_owned()
        )]
    );
    assert_eq!(
        loc,
        "https://app.example/api/auth/signin?callbackUrl=https%3A%2F%2Fapp.example%2Fprotected%3Ftab%3D2%26x%3Da%2520b"
    );
    let cookie = sign_in(&router).await;
    let res = send(&router, get_req("/protected", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, SECRET_PAGE);
}

#[tokio::test]
async fn require_auth_unauthorized_for_apis() {
    let router = app(auth_with(Some(ORIGIN)));
    let res = send(&router, get_req("/api/protected-layer", None)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"], "Unauthorized");
    assert!(!res.body.contains(SECRET_PAGE));
    let cookie = sign_in(&router).await;
    let res = send(&router, get_req("/api/protected-layer", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, SECRET_PAGE);
}

#[tokio::test]
async fn redirect_targets_of_the_layer_stay_on_the_origin() {
    // A router-wide layer sees every path, including ones that look like another host.
    let router = Router::new()
        .route("/{*rest}", get(|| async { SECRET_PAGE }))
        .layer(RequireAuthLayer::redirect_to_sign_in())
        .with_auth(auth_with(Some(ORIGIN)));
    for uri in [
        "//evil.com/x",
        "///evil.com",
        "/%2F%2Fevil.com",
        "/\\evil.com",
        "/a/..//evil.com",
    ] {
        let Ok(req) = Request::get(uri).body(Body::empty()) else {
            continue;
        };
        let res = send(&router, req).await;
        assert_ne!(res.status, StatusCode::OK, "{uri}");
        if let Some(loc) = res.location() {
            let url = url::Url::parse(loc).unwrap();
            assert_eq!(url.host_str(), Some("app.example"), "{uri}: {loc}");
            for (k, v) in url.query_pairs() {
                if k == "callbackUrl" {
                    let cb = url::Url::parse(&v).unwrap();
                    assert_eq!(cb.host_str(), Some("app.example"), "{uri}: callbackUrl {v}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_router_without_the_layer_fails_closed() {
    let router = routes();
    let res = send(&router, get_req("/api/protected", None)).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.json()["error"], "Configuration");
    for path in [
        "/api/protected",
        "/api/token",
        "/protected",
        "/api/protected-layer",
        "/",
    ] {
        let res = send(&router, get_req(path, Some(&format!("{SESSION_COOKIE}=x")))).await;
        assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(!res.body.contains(SECRET_PAGE), "{path}");
        assert!(!res.body.contains("signed in"), "{path}: the handler ran");
    }
}

#[tokio::test]
async fn cfg_03_untrusted_host_through_axum_never_grants_access() {
    // A valid cookie for the same secret, made by a correctly configured app (both cookie
    // names carry it, so neither scheme guess can be what refuses it).
    let good = app(auth_with(Some(ORIGIN)));
    let cookie = sign_in(&good).await;
    let token = session_token(&cookie);
    let http_good = app(auth_with(Some("http://evil.com")));
    let http_cookie = sign_in(&http_good).await;
    let http_token = http_cookie
        .split("; ")
        .find_map(|p| p.strip_prefix("authjs.session-token="))
        .unwrap()
        .to_owned();
    let both = format!("{SESSION_COOKIE}={token}; authjs.session-token={http_token}");

    let router = app(auth_with(None));
    for path in [
        "/protected",
        "/api/protected-layer",
        "/api/protected",
        "/api/default-session",
        "/api/token",
        "/",
    ] {
        for cookie in [None, Some(both.as_str())] {
            let req = Request::get(path)
                .header(header::HOST, "evil.com")
                .header(header::COOKIE, cookie.unwrap_or(""))
                .header(header::AUTHORIZATION, format!("Bearer {http_token}"))
                .body(Body::empty())
                .unwrap();
            let res = send(&router, req).await;
            assert_eq!(
                res.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{path} {cookie:?}: {}",
                res.body
            );
            assert!(!res.body.contains(SECRET_PAGE), "{path}");
            assert!(!res.body.contains("evil.com"), "{path}");
            assert!(res.location().is_none(), "{path}");
        }
    }
    let res = send(
        &router,
        Request::get("/api/auth/session")
            .header(header::HOST, "evil.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn http_02_ten_megabytes_to_the_credentials_callback_is_413() {
    let router = app(auth_with(Some(ORIGIN)));
    let body = format!("username=alice&password={}", "a".repeat(10 * 1024 * 1024));
    let req = Request::post("/api/auth/callback/credentials")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Larger than the limit by one byte.
    let req = Request::post("/api/auth/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(vec![b' '; 64 * 1024 + 1]))
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn session_token_from_the_cookie_or_a_bearer() {
    let router = app(auth_with(Some(ORIGIN)));
    let res = send(&router, get_req("/api/token", None)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let cookie = sign_in(&router).await;
    let res = send(&router, get_req("/api/token", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["sub"], "1");
    assert_eq!(res.json()["access_token"], "at-secret");
    let token = session_token(&cookie);
    for bearer in [
        format!("Bearer {token}"),
        "Bearer %E0%A4%A".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer {token}x"),
    ] {
        let req = Request::get("/api/token")
            .header(header::AUTHORIZATION, &bearer)
            .body(Body::empty())
            .unwrap();
        let res = send(&router, req).await;
        if bearer == format!("Bearer {token}") {
            assert_eq!(res.status, StatusCode::OK);
            assert_eq!(res.json()["sub"], "1");
        } else {
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{bearer}");
            assert!(!res.body.contains(SECRET_PAGE));
        }
    }
}
