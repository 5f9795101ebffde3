//! Provider token refresh on session reads, against a mock provider that rotates refresh
//! tokens and revokes the whole grant when a used one comes back (RFC 9700 §4.14.2, as real
//! providers do): SECURITY.md RACE-01 (single flight) and RACE-02 (a refresh whose result
//! could not be stored is never repeated with the consumed token), the `RefreshTokenError`
//! marker, and the database strategy's account rows.
#![cfg(feature = "oauth")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::mock_op::*;
use common::*;
use http::StatusCode;
use serde_json::Value;

fn alice() -> Person {
    Person::new("alice-sub").email("alice@idp.test", Some(true))
}

/// JWT strategy, no store, a refresh window so large that a fresh access token (1 h) is
/// always "about to expire".
async fn jwt_world() -> (MockOp, World) {
    let op = MockOp::start().await;
    let w = World::builder()
        .store(Store::None)
        .provider(op.oidc("mock").refresh_window(Duration::from_secs(7200)))
        .build();
    (op, w)
}

/// Database strategy; the sign-in's access token lives 30 s (inside the default 60 s
/// window), a refreshed one 1 h (outside it): exactly one refresh is due.
async fn db_world() -> (MockOp, World) {
    let op = MockOp::start().await;
    let w = World::builder()
        .store(Store::Database)
        .provider(op.oidc("mock"))
        .build();
    op.set(|b| {
        b.expires_in = Some(30);
        b.refresh_expires_in = Some(3600);
    });
    (op, w)
}

/// The provider tokens kept in a response's session cookie (JWT strategy).
fn kept(w: &World, res: &Res) -> Value {
    let mut jar = Jar::default();
    jar.apply(res);
    w.claims(&jar)["oauth"].clone()
}

/// `POST /token` with `grant_type=refresh_token` straight to the mock.
async fn refresh_directly(op: &MockOp, refresh_token: &str) -> (u16, Value) {
    let (status, _, body) = op
        .http_post_form(
            "/token",
            &[("authorization", &MockOp::basic_auth())],
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The mock behaves like a rotating provider: a refresh token works once; presenting it
/// again is refused and revokes the grant, so its successor stops working too. (What
/// RACE-01/02 guard against.)
#[tokio::test]
async fn mock_op_revokes_the_grant_when_a_refresh_token_is_reused() {
    let (op, w) = db_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    let rt1 = w.accounts(&user.id).await[0].refresh_token.clone().unwrap();

    let (status, body) = refresh_directly(&op, &rt1).await;
    assert_eq!(status, 200, "{body}");
    let rt2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt2, rt1);
    let (status, body) = refresh_directly(&op, &rt1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(op.records().reuse_detected, 1);
    assert!(op.grant_revoked(&rt1));
    let (status, _) = refresh_directly(&op, &rt2).await;
    assert_eq!(status, 400, "the successor survived the reuse");
}

/// RACE-01: 50 parallel `GET /session` with the same cookie and an access token due for
/// refresh: exactly one refresh grant at the provider, no reuse; all 50 answer 200 for the
/// same user and carry the same new tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_01_fifty_parallel_reads_refresh_once() {
    let (op, w) = jwt_world().await;
    // Widen the window in which the reads overlap (nothing asserted on timing).
    op.set(|b| b.refresh_delay = Some(Duration::from_millis(300)));
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let claims = w.claims(&jar);
    let sub = claims["sub"].as_str().unwrap().to_owned();
    let rt1 = claims["oauth"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let at1 = claims["oauth"]["access_token"].as_str().unwrap().to_owned();
    let cookie = jar.header().unwrap();

    let w = Arc::new(w);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (w, cookie) = (w.clone(), cookie.clone());
        set.spawn(async move { w.send(get("/session").cookie_header(&cookie)).await });
    }
    let mut seen = Vec::new();
    while let Some(res) = set.join_next().await {
        let res = res.unwrap();
        assert_eq!(res.status, StatusCode::OK, "{res:?}");
        let body = res.json();
        assert_eq!(body["user"]["id"], sub.as_str(), "{body}");
        assert!(body.get("error").is_none(), "{body}");
        let k = kept(&w, &res);
        seen.push((
            k["access_token"].as_str().unwrap().to_owned(),
            k["refresh_token"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(seen.len(), 50);
    let (at2, rt2) = seen[0].clone();
    assert!(
        seen.iter().all(|s| *s == (at2.clone(), rt2.clone())),
        "{seen:?}"
    );
    assert_ne!(at2, at1);
    assert_ne!(rt2, rt1);
    assert_eq!(
        op.refresh_grants(),
        1,
        "the refresh token was sent more than once"
    );
    assert_eq!(op.records().reuse_detected, 0);
    let grant = op
        .token_requests()
        .into_iter()
        .find(|t| t.grant_type() == "refresh_token")
        .unwrap();
    assert_eq!(grant.form["refresh_token"], rt1);
    assert_eq!(grant.auth, ClientAuth::Basic);
    assert_eq!(grant.status, 200);
    // The rotated token still works at the provider: the grant was not revoked.
    assert!(!op.grant_revoked(&rt2));
}

/// RACE-01 with the database strategy: 50 parallel reads of one session, one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_01_database_parallel_reads_refresh_once() {
    let (op, w) = db_world().await;
    op.set(|b| b.refresh_delay = Some(Duration::from_millis(300)));
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    let cookie = jar.header().unwrap();
    let w = Arc::new(w);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (w, cookie) = (w.clone(), cookie.clone());
        set.spawn(async move { w.send(get("/session").cookie_header(&cookie)).await });
    }
    while let Some(res) = set.join_next().await {
        let res = res.unwrap();
        assert_eq!(res.status, StatusCode::OK, "{res:?}");
        let body = res.json();
        assert_eq!(body["user"]["id"], user.id.as_str(), "{body}");
        assert!(body.get("error").is_none(), "{body}");
    }
    assert_eq!(op.refresh_grants(), 1);
    assert_eq!(op.records().reuse_detected, 0);
    let account = &w.accounts(&user.id).await[0];
    assert!(!op.grant_revoked(account.refresh_token.as_deref().unwrap()));
}

/// A refresh the provider refuses: the session JSON carries `"error":"RefreshTokenError"`
/// (the user is still shown), and later reads do not hammer the provider.
#[tokio::test]
async fn failed_refresh_marks_the_session_with_refresh_token_error() {
    let (op, w) = jwt_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    op.set(|b| b.refresh_fault = Some(OpFault::InvalidGrant));
    let s = w.session(&mut jar).await;
    assert_eq!(s["error"], "RefreshTokenError", "{s}");
    assert_eq!(s["user"]["email"], "alice@idp.test");
    let s = w.session(&mut jar).await;
    assert_eq!(s["error"], "RefreshTokenError", "{s}");
    assert_eq!(op.refresh_grants(), 1);

    // Database strategy.
    let (op, w) = db_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    let rt1 = w.accounts(&user.id).await[0].refresh_token.clone();
    op.set(|b| b.refresh_fault = Some(OpFault::Html500));
    let s = w.session(&mut jar).await;
    assert_eq!(s["error"], "RefreshTokenError", "{s}");
    assert_eq!(s["user"]["id"], user.id.as_str());
    assert_eq!(w.accounts(&user.id).await[0].refresh_token, rt1);
}

/// A refresh that failed for a passing reason (a 500) marks the session but keeps the
/// refresh token: a later read retries, and success clears the marker. A refused grant
/// (`invalid_grant`) is final: the token is dropped and never sent again.
#[tokio::test]
async fn transient_refresh_failures_are_retried_refused_grants_are_not() {
    let (op, w) = jwt_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    op.set(|b| b.refresh_fault = Some(OpFault::Html500));
    let s = w.session(&mut jar).await;
    assert_eq!(s["error"], "RefreshTokenError", "{s}");
    op.set(|b| b.refresh_fault = None);
    // A failure is remembered for five seconds (one answer per burst); then it is retried.
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    let s = w.session(&mut jar).await;
    assert!(s.get("error").is_none(), "retried and cleared: {s}");
    assert_eq!(op.refresh_grants(), 2, "the failed attempt and the retry");

    // Database strategy, refused grant: the stored refresh token is forgotten.
    let (op, w) = db_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    op.set(|b| b.refresh_fault = Some(OpFault::InvalidGrant));
    let s = w.session(&mut jar).await;
    assert_eq!(s["error"], "RefreshTokenError", "{s}");
    assert_eq!(w.accounts(&user.id).await[0].refresh_token, None);
    let _ = w.session(&mut jar).await;
    assert_eq!(op.refresh_grants(), 1, "a refused grant is not tried again");
}

/// Database strategy: a refresh writes the rotated tokens to the account row; the next
/// read has nothing to refresh.
#[tokio::test]
async fn database_refresh_stores_the_rotated_tokens() {
    let (op, w) = db_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    let before = w.accounts(&user.id).await[0].clone();
    assert!(before.expires_at.unwrap() <= now() + 30);

    let s = w.session(&mut jar).await;
    assert!(s.get("error").is_none(), "{s}");
    assert_eq!(op.refresh_grants(), 1);
    let after = w.accounts(&user.id).await[0].clone();
    assert_ne!(after.access_token, before.access_token);
    assert_ne!(after.refresh_token, before.refresh_token);
    assert!(after.expires_at.unwrap() >= now() + 3500, "{after:?}");
    let grant = op.token_requests().pop().unwrap();
    assert_eq!(grant.grant_type(), "refresh_token");
    assert_eq!(
        Some(&grant.form["refresh_token"]),
        before.refresh_token.as_ref()
    );

    w.session(&mut jar).await;
    assert_eq!(op.refresh_grants(), 1);
}

/// RACE-02 (database): the refresh succeeds at the provider but storing the new tokens
/// fails once. The next read must not send the consumed refresh token again (the provider
/// would revoke the grant): it stores the tokens the first refresh got.
#[tokio::test]
async fn race_02_refresh_whose_write_failed_is_not_repeated() {
    let (op, w) = db_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    let rt1 = w.accounts(&user.id).await[0].refresh_token.clone().unwrap();

    w.store.fail("update_account", Fault::Other);
    let res = w.send(get("/session").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(op.refresh_grants(), 1);
    assert_eq!(
        w.accounts(&user.id).await[0].refresh_token.as_deref(),
        Some(rt1.as_str()),
        "the failed write changed the row"
    );
    w.store.heal("update_account");

    let s = w.session(&mut jar).await;
    assert_eq!(s["user"]["id"], user.id.as_str());
    assert!(s.get("error").is_none(), "{s}");
    assert_eq!(
        op.refresh_grants(),
        1,
        "the consumed refresh token was sent again"
    );
    assert_eq!(op.records().reuse_detected, 0);
    let account = w.accounts(&user.id).await[0].clone();
    let rt2 = account.refresh_token.clone().unwrap();
    assert_ne!(rt2, rt1, "the rotated tokens were never stored");
    assert!(!op.grant_revoked(&rt2));
    // The stored token is the live one.
    let (status, _) = refresh_directly(&op, &rt2).await;
    assert_eq!(status, 200);
}

/// RACE-02 (JWT): the refreshed cookie never reaches the browser (a lost response); the
/// next read with the old cookie gets the remembered result instead of refreshing again
/// with the consumed token.
#[tokio::test]
async fn race_02_lost_refreshed_cookie_does_not_reuse_the_refresh_token() {
    let (op, w) = jwt_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let first = w.send(get("/session").jar(&jar)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(op.refresh_grants(), 1);
    // The browser never stored `first`'s cookie.
    let second = w.send(get("/session").jar(&jar)).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.json().get("error").is_none(), "{:?}", second.json());
    assert_eq!(
        op.refresh_grants(),
        1,
        "the consumed refresh token was sent again"
    );
    assert_eq!(op.records().reuse_detected, 0);
    assert_eq!(
        kept(&w, &second)["access_token"],
        kept(&w, &first)["access_token"]
    );
}

/// A refresh that returns a new ID token has it verified like the first one: a token for
/// another audience makes the refresh fail (`RefreshTokenError`), its tokens unused.
#[tokio::test]
async fn refreshed_id_token_is_verified() {
    let (op, w) = jwt_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let at1 = w.claims(&jar)["oauth"]["access_token"].clone();
    op.set(|b| {
        b.refresh_id_token = true;
        b.set_claim("aud", serde_json::json!("another-client"));
    });
    let s = w.session(&mut jar).await;
    assert_eq!(s["error"], "RefreshTokenError", "{s}");
    assert_eq!(w.claims(&jar)["oauth"]["access_token"], at1);

    // A good one is accepted.
    let (op, w) = jwt_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    op.set(|b| b.refresh_id_token = true);
    let s = w.session(&mut jar).await;
    assert!(s.get("error").is_none(), "{s}");
    assert_eq!(op.refresh_grants(), 1);
}

/// Signing in again when the provider issues no new refresh token (Google without
/// `prompt=consent`, a provider that returns it only on first consent) must not lose the
/// stored one: the account can still be refreshed afterwards. (The refresh grant already
/// keeps the old refresh token when the answer has none; the sign-in path should too.)
#[tokio::test]
async fn sign_in_again_without_a_refresh_token_keeps_the_stored_one() {
    let (op, w) = db_world().await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    let rt1 = w.accounts(&user.id).await[0].refresh_token.clone();
    assert!(rt1.is_some());

    op.set(|b| b.issue_refresh = false);
    let mut again = Jar::default();
    w.signed_in(&op, &mut again, "mock", &alice()).await;
    let account = w.accounts(&user.id).await[0].clone();
    assert_eq!(
        account.refresh_token, rt1,
        "the second sign-in erased the stored refresh token"
    );
    // And the access token (30 s, due) is refreshed with it.
    let s = w.session(&mut again).await;
    assert!(s.get("error").is_none(), "{s}");
    assert_eq!(op.refresh_grants(), 1);
}
