//! Revoking JWT-strategy sessions through a per-user "not before" time kept in a
//! `RevocationAdapter` (SECURITY.md decision 3, SES-07, FLT-01): tokens issued earlier are
//! refused, `revoke-all` / `revoke-others` / `Auth::revoke_all_sessions`, a revocation store
//! outage (503, fail closed), and the per-instance revocation cache.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::*;
use http::StatusCode;
use portcullis::SessionError;
use portcullis::adapter::RevocationAdapter;
use portcullis::adapter::memory::MemoryAdapter;
use serde_json::{Value, json};
use time::OffsetDateTime;

fn exact() -> Db {
    Db::revocable(Arc::new(MemoryAdapter::new()), StdDuration::ZERO)
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

/// Asserts `GET /session` with this token is alice's (or bob's) session.
async fn assert_alive(db: &Db, token: &str, id: &str, what: &str) {
    let res = db.read(token).await;
    assert_eq!(res.status, StatusCode::OK, "{what}: {res:?}");
    assert_eq!(res.json()["user"]["id"], id, "{what}: {res:?}");
}

/// Reads the session through a jar three times, keeping each refreshed cookie: a token
/// re-issued on a read must stay valid on the next one.
async fn assert_survives_refreshes(db: &Db, jar: &mut Jar, what: &str) {
    for i in 0..3 {
        let res = db.send(get("/session").jar(jar)).await;
        assert_eq!(res.status, StatusCode::OK, "{what}, read {i}: {res:?}");
        assert_eq!(res.json()["user"]["id"], "1", "{what}, read {i}: {res:?}");
        jar.apply(&res);
    }
}

fn headers_for(db: &Db, token: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", db.cookie(token).parse().unwrap());
    headers
}

#[tokio::test]
async fn tokens_issued_before_not_before_are_refused() {
    let db = exact();
    let (jar, token) = db.browser("alice", None).await;
    let (_bob, bobs) = db.browser("bob", None).await;
    let iat = db.decode_jar(&jar)["iat"].as_i64().expect("iat");

    // Not before the very second it was issued: still valid.
    db.mem.set_not_before("1", at(iat)).await.unwrap();
    assert_alive(&db, &token, "1", "not-before = iat").await;

    // Not before one second later: refused, and the cookie is cleared.
    db.mem.set_not_before("1", at(iat + 1)).await.unwrap();
    db.assert_token_rejected(&token, "issued before not-before")
        .await;
    assert_eq!(
        db.auth.session::<Value>(&headers_for(&db, &token)).await,
        Ok(None)
    );
    // Another user's tokens are not affected.
    assert_alive(&db, &bobs, "2", "another user").await;

    // Moving it back makes the token valid again: with a zero cache TTL every read asks the
    // store.
    db.mem.set_not_before("1", at(iat - 60)).await.unwrap();
    assert_alive(&db, &token, "1", "not-before moved back").await;
    assert!(
        db.auth
            .session::<Value>(&headers_for(&db, &token))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_token_without_iat_is_refused_once_the_user_has_a_not_before() {
    let db = exact();
    let t = now();
    let no_iat = db.seal(&json!({"sub": "1", "exp": t + 3600, "jti": "j"}));
    assert_alive(&db, &no_iat, "1", "no iat, no revocation").await;
    db.mem.set_not_before("1", at(t - 3600)).await.unwrap();
    db.assert_token_rejected(&no_iat, "no iat with a not-before set")
        .await;
}

#[tokio::test]
async fn revoke_all_route_ends_every_token_of_the_user() {
    let db = exact();
    let (mut jar, first) = db.browser("alice", None).await;
    let (_other, second) = db.browser("alice", None).await;
    let (_bob, bobs) = db.browser("bob", None).await;
    let csrf = db.csrf(&mut jar).await;
    let before = OffsetDateTime::now_utc();
    let res = db
        .send(post_json("/sessions/revoke-all", &json!({"csrfToken": csrf})).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json(), json!({"revoked": 0}));
    assert!(
        res.deleted().contains(&db.names.session_token.as_str()),
        "the requester's cookie must be cleared: {res:?}"
    );
    let nbf = db.mem.not_before("1").await.unwrap().expect("not-before");
    assert!(nbf > before);
    db.assert_token_rejected(&first, "the requester's token")
        .await;
    db.assert_token_rejected(&second, "the other token").await;
    assert_alive(&db, &bobs, "2", "another user").await;
    assert_eq!(db.mem.not_before("2").await.unwrap(), None);
}

#[tokio::test]
async fn revoke_all_requires_the_csrf_token_and_a_session() {
    let db = exact();
    let (jar, token) = db.browser("alice", None).await;
    for body in [json!({}), json!({"csrfToken": "forged"})] {
        let res = db
            .send(post_json("/sessions/revoke-all", &body).jar(&jar))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(res.json()["error"], "MissingCSRF");
    }
    assert_eq!(db.mem.not_before("1").await.unwrap(), None);
    assert_alive(&db, &token, "1", "after refused revocations").await;

    // Without a session: 401, nothing written.
    let (anon, csrf) = db.with_csrf().await;
    let res = db
        .send(post_json("/sessions/revoke-all", &json!({"csrfToken": csrf})).jar(&anon))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(db.mem.not_before("1").await.unwrap(), None);
}

#[tokio::test]
async fn revoke_others_route_keeps_only_the_reissued_current_token() {
    let db = exact();
    let (mut jar, first) = db.browser("alice", None).await;
    let (_other, second) = db.browser("alice", None).await;
    let csrf = db.csrf(&mut jar).await;
    let res = db
        .send(post_json("/sessions/revoke-others", &json!({"csrfToken": csrf})).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json(), json!({"revoked": 0}));
    let reissued = res
        .set_cookie(&db.names.session_token)
        .filter(|c| !c.is_deletion())
        .unwrap_or_else(|| panic!("the current token must be re-issued: {res:?}"))
        .value
        .clone();
    assert_ne!(reissued, first);
    jar.apply(&res);

    db.assert_token_rejected(&second, "the other token").await;
    // The copy of the current token from before the revocation dies too: only the
    // re-issued one lives on (a stolen copy does not survive "sign out everywhere else").
    db.assert_token_rejected(&first, "the pre-revocation copy")
        .await;
    assert_alive(&db, &reissued, "1", "the re-issued token").await;
    assert_survives_refreshes(&db, &mut jar, "the re-issued token").await;
    assert_eq!(
        db.send(get("/session").jar(&jar)).await.json()["user"]["role"],
        "admin"
    );
}

#[tokio::test]
async fn signing_in_right_after_revoke_all_gives_a_live_session() {
    let db = exact();
    let (_jar, old) = db.browser("alice", None).await;
    db.auth.revoke_all_sessions("1").await.unwrap();
    db.assert_token_rejected(&old, "revoked").await;
    // A sign-in after the revocation (in the same second) must not hand out a dead token.
    let (mut jar, fresh) = db.browser("alice", None).await;
    assert_alive(&db, &fresh, "1", "signed in after revoke-all").await;
    assert_survives_refreshes(&db, &mut jar, "signed in after revoke-all").await;
}

#[tokio::test]
async fn ses_07_a_signed_out_jwt_lives_until_revoked() {
    let db = exact();
    let (mut jar, token) = db.browser("alice", None).await;
    let csrf = db.csrf(&mut jar).await;
    let res = db
        .send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&jar))
        .await;
    assert!(res.deleted().contains(&db.names.session_token.as_str()));
    // Documented: a captured JWT stays valid after sign-out until it expires...
    assert_alive(&db, &token, "1", "replayed after sign-out").await;
    // ...unless the user's sessions are revoked.
    assert_eq!(db.auth.revoke_all_sessions("1").await.unwrap(), 0);
    db.assert_token_rejected(&token, "replayed after revoke_all_sessions")
        .await;
}

#[tokio::test]
async fn flt_01_an_unavailable_revocation_store_fails_closed() {
    let db = exact();
    let (jar, token) = db.browser("alice", None).await;
    db.store.fail("not_before", Fault::Unavailable);
    let res = db.send(get("/session").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
    assert_eq!(res.json(), json!({"error": "SessionStoreUnavailable"}));
    assert!(res.header("retry-after").is_some());
    assert!(
        res.cookies.iter().all(|c| !db.is_session_cookie(&c.name)),
        "{res:?}"
    );
    assert!(!res.everything().contains(SECRET_MESSAGE));
    assert_eq!(
        db.auth.session::<Value>(&headers_for(&db, &token)).await,
        Err(SessionError::Unavailable)
    );
    // Management routes fail closed as well.
    let mut jar = jar;
    db.store.heal_all();
    let csrf = db.csrf(&mut jar).await;
    db.store.fail("not_before", Fault::Unavailable);
    let res = db
        .send(post_json("/sessions/revoke-all", &json!({"csrfToken": csrf})).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);

    // Any other store error: no session (Auth.js answers null), the cookie kept.
    db.store.fail("not_before", Fault::Other);
    let res = db.read(&token).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "null");
    assert!(res.cookies.iter().all(|c| !db.is_session_cookie(&c.name)));

    db.store.heal_all();
    assert_alive(&db, &token, "1", "store back").await;
}

#[tokio::test]
async fn flt_03_a_failed_revocation_is_never_reported_as_done() {
    for fault in [Fault::Unavailable, Fault::Other] {
        let db = exact();
        let (mut jar, token) = db.browser("alice", None).await;
        let (_other, second) = db.browser("alice", None).await;
        let csrf = db.csrf(&mut jar).await;
        db.store.fail("set_not_before", fault);
        for op in ["revoke-all", "revoke-others"] {
            let res = db
                .send(post_json(&format!("/sessions/{op}"), &json!({"csrfToken": csrf})).jar(&jar))
                .await;
            let expected = match fault {
                Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                Fault::Other => StatusCode::INTERNAL_SERVER_ERROR,
            };
            assert_eq!(res.status, expected, "{op} {fault:?}: {res:?}");
            assert!(res.json().get("revoked").is_none(), "{op} {fault:?}");
            assert!(!res.everything().contains(SECRET_MESSAGE));
        }
        assert!(db.auth.revoke_all_sessions("1").await.is_err(), "{fault:?}");
        assert_eq!(db.mem.not_before("1").await.unwrap(), None);
        db.store.heal_all();
        assert_alive(&db, &token, "1", "nothing was revoked").await;
        assert_alive(&db, &second, "1", "nothing was revoked").await;
    }
}

#[tokio::test]
async fn another_instance_sees_a_revocation_at_once_with_a_zero_ttl() {
    let mem = Arc::new(MemoryAdapter::new());
    let a = Db::revocable(mem.clone(), StdDuration::ZERO);
    let b = Db::revocable(mem, StdDuration::ZERO);
    let (_jar, token) = a.browser("alice", None).await;
    assert_alive(&a, &token, "1", "before").await;
    assert_alive(&b, &token, "1", "the other instance reads it too").await;
    b.auth.revoke_all_sessions("1").await.unwrap();
    a.assert_token_rejected(&token, "instance A after B revoked")
        .await;
}

#[tokio::test]
async fn another_instance_sees_a_revocation_within_the_cache_ttl() {
    let mem = Arc::new(MemoryAdapter::new());
    let ttl = StdDuration::from_secs(3);
    let a = Db::revocable(mem.clone(), ttl);
    let b = Db::revocable(mem, ttl);
    let (mut jar, token) = a.browser("alice", None).await;
    // A reads once: "no revocation" is cached for the TTL.
    assert_alive(&a, &token, "1", "A before").await;
    let reads = a.store.calls("not_before");
    assert_alive(&a, &token, "1", "A again").await;
    assert_eq!(
        a.store.calls("not_before"),
        reads,
        "A did not use its cache"
    );

    // B revokes (through its route, with the same browser).
    let csrf = b.csrf(&mut jar).await;
    let res = b
        .send(post_json("/sessions/revoke-all", &json!({"csrfToken": csrf})).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    // B itself knows at once.
    b.assert_token_rejected(&token, "B after its own revocation")
        .await;
    // A may serve its cached answer until the TTL runs out — and re-issue the token, here
    // more than a second after the revocation (so its `iat` is past the "not before")...
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    let refreshed = a.read(&token).await;
    assert_eq!(
        refreshed.status,
        StatusCode::OK,
        "A within the TTL: {refreshed:?}"
    );
    let renewed = refreshed
        .written()
        .into_iter()
        .find(|c| a.is_session_cookie(&c.name))
        .map(|c| c.value.clone())
        .expect("A re-issued the token");
    assert_ne!(renewed, token);
    tokio::time::sleep(ttl - StdDuration::from_millis(1400)).await;
    // ...but after it, neither the old token nor the one re-issued in the window lives:
    // re-issuing keeps the sign-in time, so a refresh cannot outlive a revocation.
    a.assert_token_rejected(&token, "A after the TTL").await;
    a.assert_token_rejected(&renewed, "the token A re-issued within the TTL")
        .await;
    b.assert_token_rejected(&renewed, "…on B too").await;
}
