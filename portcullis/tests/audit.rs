//! The audit log and the metrics through `Auth::handle` and the Rust API, on the memory
//! adapter: which requests record which events, for whom; retention; what a client cannot
//! make up (metric labels, provider fields); the `GET {base}/audit` route without a store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{AdapterAccount, AdapterUser, UserAdapter};
use portcullis::{
    AccountType, AuditError, AuditEvent, AuditKind, AuditQuery, Auth, AuthConfig, ClientIp,
    Credentials, DefaultCallbacks, MemoryRateLimiter, RateLimits, User,
};
use time::OffsetDateTime;

const SECRET: &str = "audit-test-secret-0123456789abcdef-0123456789";
const ORIGIN: &str = "http://localhost:3000";

fn builder(db: &Arc<MemoryAdapter>) -> portcullis::AuthConfigBuilder<DefaultCallbacks> {
    let provider = Credentials::new(|form, _req| async move {
        let ok = form.get("username").and_then(|v| v.as_str()) == Some("alice")
            && form.get("password").and_then(|v| v.as_str()) == Some("right");
        Ok(ok.then(|| User::new("u-alice").with_name("Alice")))
    });
    AuthConfig::builder(DefaultCallbacks)
        .secret(SECRET)
        .url(ORIGIN)
        .credentials(provider)
        .adapter(db.clone())
        .audit_adapter(db.clone())
}

async fn send(auth: &Auth, req: Request<Bytes>) -> Response<Bytes> {
    auth.handle(req).await
}

fn get(path: &str, cookie: &str) -> Request<Bytes> {
    let mut r = Request::get(format!("{ORIGIN}{path}"));
    if !cookie.is_empty() {
        r = r.header("cookie", cookie);
    }
    let mut r = r.body(Bytes::new()).unwrap();
    r.extensions_mut()
        .insert(ClientIp("203.0.113.9".parse().unwrap()));
    r
}

fn set_cookies(res: &Response<Bytes>) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|c| !c.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A CSRF token and the cookies to send with it.
async fn csrf(auth: &Auth) -> (String, String) {
    let res = send(auth, get("/api/auth/csrf", "")).await;
    let token = serde_json::from_slice::<serde_json::Value>(res.body()).unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    (token, set_cookies(&res))
}

async fn post_form(
    auth: &Auth,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> Response<Bytes> {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut r = Request::post(format!("{ORIGIN}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .header("user-agent", "audit-test/1.0")
        .body(Bytes::from(body))
        .unwrap();
    r.extensions_mut()
        .insert(ClientIp("203.0.113.9".parse().unwrap()));
    auth.handle(r).await
}

async fn sign_in(auth: &Auth, password: &str) -> Response<Bytes> {
    let (token, cookie) = csrf(auth).await;
    post_form(
        auth,
        "/api/auth/callback/credentials",
        &cookie,
        &[
            ("csrfToken", &token),
            ("username", "alice"),
            ("password", password),
        ],
    )
    .await
}

fn kinds(events: &[AuditEvent]) -> Vec<AuditKind> {
    events.iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn sign_in_sign_out_and_revocation_are_recorded_for_the_user() {
    let db = Arc::new(MemoryAdapter::new());
    let auth = Auth::new(builder(&db).build().unwrap());
    assert_eq!(sign_in(&auth, "wrong").await.status(), 302);
    let ok = sign_in(&auth, "right").await;
    assert_eq!(ok.status(), 302);
    let session_cookie = set_cookies(&ok);
    let (token, csrf_cookie) = csrf(&auth).await;
    let cookie = format!("{session_cookie}; {csrf_cookie}");
    let out = post_form(
        &auth,
        "/api/auth/signout",
        &cookie,
        &[("csrfToken", &token)],
    )
    .await;
    assert_eq!(out.status(), 302);
    assert_eq!(auth.revoke_all_sessions("u-alice").await.unwrap(), 0);

    let events = auth
        .audit_events("u-alice", AuditQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(
        kinds(&events),
        [
            AuditKind::SessionRevoked,
            AuditKind::SignOut,
            AuditKind::SignIn
        ]
    );
    let sign_in = &events[2];
    assert_eq!(sign_in.provider.as_deref(), Some("credentials"));
    assert_eq!(sign_in.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(sign_in.user_agent.as_deref(), Some("audit-test/1.0"));
    assert_eq!(events[0].detail.as_deref(), Some("revoke-all"));
    // The refused attempt named no stored account (credentials `authorize` said no), so it
    // is in the logs and metrics but belongs to no user.
    let text = auth.metrics().render_prometheus();
    assert!(
        text.contains("portcullis_signins_total{provider=\"credentials\",outcome=\"failure\"} 1\n")
    );
    assert!(text.contains("portcullis_audit_events_total{kind=\"sign_in_failed\"} 1\n"));
    assert!(text.contains(
        "portcullis_store_duration_seconds_count{store=\"audit\",operation=\"record_audit_event\"} 4\n"
    ));
}

#[tokio::test]
async fn a_made_up_provider_never_becomes_a_label_or_a_field() {
    let db = Arc::new(MemoryAdapter::new());
    let auth = Auth::new(builder(&db).build().unwrap());
    let (token, cookie) = csrf(&auth).await;
    for i in 0..20 {
        let res = post_form(
            &auth,
            &format!("/api/auth/callback/made-up-{i}"),
            &cookie,
            &[("csrfToken", &token)],
        )
        .await;
        assert_eq!(res.status(), 302);
    }
    let text = auth.metrics().render_prometheus();
    assert!(!text.contains("made-up"), "{text}");
    assert!(
        text.contains("portcullis_signins_total{provider=\"unknown\",outcome=\"failure\"} 20\n")
    );
}

#[tokio::test]
async fn rate_limit_hits_are_recorded_and_counted() {
    let db = Arc::new(MemoryAdapter::new());
    let limits = RateLimits {
        per_identifier: (2, Duration::from_secs(60)),
        ..RateLimits::default()
    };
    let auth = Auth::new(
        builder(&db)
            .rate_limiter(Arc::new(MemoryRateLimiter::new()))
            .rate_limits(limits)
            .build()
            .unwrap(),
    );
    let statuses = [
        sign_in(&auth, "wrong").await.status(),
        sign_in(&auth, "wrong").await.status(),
        sign_in(&auth, "right").await.status(),
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [302, 302, 429]);
    let text = auth.metrics().render_prometheus();
    assert!(text.contains("portcullis_rate_limited_total{limit=\"credentials sign-in\"} 1\n"));
    assert!(text.contains(
        "portcullis_signins_total{provider=\"credentials\",outcome=\"rate_limited\"} 1\n"
    ));
    assert!(text.contains("portcullis_audit_events_total{kind=\"rate_limited\"} 1\n"));
    assert!(text.contains(
        "portcullis_store_duration_seconds_count{store=\"rate_limiter\",operation=\"hit\"} 6\n"
    ));
    // Two keys per attempt (the identifier and the client IP). The refused third attempt
    // issued no session.
    assert!(!text.contains("portcullis_audit_events_total{kind=\"sign_in\"} 1\n"));
}

#[tokio::test]
async fn an_untrusted_host_is_recorded_as_refused_configuration() {
    let db = Arc::new(MemoryAdapter::new());
    // No AUTH_URL and no host trust: every request is refused (fail closed).
    let provider = Credentials::new(|_f, _r| async { Ok(None::<User>) });
    let auth = Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret(SECRET)
            .credentials(provider)
            .audit_adapter(db.clone())
            .build()
            .unwrap(),
    );
    let res = send(&auth, get("/api/auth/session", "")).await;
    assert_eq!(res.status(), 500);
    let text = auth.metrics().render_prometheus();
    assert!(text.contains("portcullis_audit_events_total{kind=\"configuration_refused\"} 1\n"));
    assert!(text.contains("portcullis_request_duration_seconds_count{action=\"session\"} 1\n"));
}

#[tokio::test]
async fn unlinking_an_account_is_recorded() {
    let db = Arc::new(MemoryAdapter::new());
    let auth = Auth::new(builder(&db).build().unwrap());
    let user = AdapterUser {
        id: "u-bob".into(),
        email: Some("bob@example.com".into()),
        email_verified: None,
        name: None,
        image: None,
        fields: Default::default(),
    };
    db.create_user(&user).await.unwrap();
    for provider in ["github", "google"] {
        let account = AdapterAccount {
            user_id: "u-bob".into(),
            kind: AccountType::OAuth,
            provider: provider.into(),
            provider_account_id: "remote-1".into(),
            refresh_token: None,
            access_token: Some("an-access-token-never-recorded".into()),
            expires_at: None,
            token_type: None,
            scope: None,
            id_token: None,
            session_state: None,
        };
        db.link_account(&account).await.unwrap();
    }
    assert!(auth.unlink_account("u-bob", "github", false).await.unwrap());
    let events = auth
        .audit_events("u-bob", AuditQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(kinds(&events), [AuditKind::AccountUnlinked]);
    assert_eq!(events[0].provider.as_deref(), Some("github"));
}

#[tokio::test]
async fn retention_is_validated_and_pruning_deletes_only_old_events() {
    let db = Arc::new(MemoryAdapter::new());
    let err = builder(&db)
        .audit_retention(Duration::from_secs(3600))
        .build()
        .unwrap_err();
    assert!(err.problems().iter().any(|p| p.contains("audit_retention")));

    let auth = Auth::new(
        builder(&db)
            .audit_retention(Duration::from_secs(2 * 24 * 3600))
            .build()
            .unwrap(),
    );
    let mut old = AuditEvent::new(AuditKind::SignIn).with_user("u-carol");
    old.at = OffsetDateTime::now_utc() - time::Duration::days(3);
    let mut recent = AuditEvent::new(AuditKind::SignOut).with_user("u-carol");
    recent.at = OffsetDateTime::now_utc() - time::Duration::days(1);
    // The first event recorded prunes (nothing is old yet); the next hour's do not, so the
    // old event stays until `prune_audit_log`.
    auth.record_audit_event(recent).await;
    auth.record_audit_event(old).await;
    let both = auth
        .audit_events("u-carol", AuditQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(kinds(&both), [AuditKind::SignOut, AuditKind::SignIn]);
    assert_eq!(auth.prune_audit_log().await.unwrap(), 1);
    let left = auth
        .audit_events("u-carol", AuditQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(kinds(&left), [AuditKind::SignOut]);
}

#[tokio::test]
async fn without_an_audit_store_events_are_only_logged() {
    let db = Arc::new(MemoryAdapter::new());
    let provider = Credentials::new(|_f, _r| async { Ok(Some(User::new("u-dan"))) });
    let auth = Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret(SECRET)
            .url(ORIGIN)
            .credentials(provider)
            .adapter(db.clone())
            .build()
            .unwrap(),
    );
    assert!(matches!(
        auth.audit_events("u-dan", AuditQuery::default()).await,
        Err(AuditError::NotConfigured)
    ));
    let (token, cookie) = csrf(&auth).await;
    let ok = post_form(
        &auth,
        "/api/auth/callback/credentials",
        &cookie,
        &[("csrfToken", &token), ("username", "dan")],
    )
    .await;
    let session = set_cookies(&ok);
    let res = send(&auth, get("/api/auth/audit", &session)).await;
    assert_eq!(res.status(), 400);
    assert!(String::from_utf8_lossy(res.body()).contains("Unsupported"));
    assert_eq!(send(&auth, get("/api/auth/audit", "")).await.status(), 401);
    let text = auth.metrics().render_prometheus();
    assert!(text.contains("portcullis_audit_events_total{kind=\"sign_in\"} 1\n"));
}
