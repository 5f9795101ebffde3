//! Session management beyond Auth.js, database strategy: the routes `GET {base}/sessions`,
//! `POST {base}/sessions/revoke`, `…/revoke-others`, `…/revoke-all`, and the Rust API
//! (`list_sessions`, `revoke_session`, `revoke_other_sessions`, `revoke_all_sessions`,
//! `delete_user`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::*;
use http::StatusCode;
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{RevocationAdapter, TokenHash, UserAdapter};
use portcullis::{ManageError, SessionStrategy};
use serde_json::{Value, json};

fn id_of(token: &str) -> String {
    TokenHash::of(token).as_str().to_owned()
}

/// Alice in two browsers (the first is the requester), Bob in one.
struct Scene {
    db: Db,
    jar: Jar,
    csrf: String,
    mine: String,
    other: String,
    bobs: String,
}

async fn scene() -> Scene {
    let db = Db::database();
    let (mut jar, mine) = db.browser("alice", Some("Firefox/128.0")).await;
    // Distinct creation times, so "oldest first" is observable.
    tokio::time::sleep(StdDuration::from_millis(5)).await;
    let (_phone, other) = db.browser("alice", Some("Mobile Safari/17")).await;
    let (_bob, bobs) = db.browser("bob", Some("Chrome/126")).await;
    let csrf = db.csrf(&mut jar).await;
    Scene {
        db,
        jar,
        csrf,
        mine,
        other,
        bobs,
    }
}

impl Scene {
    async fn list(&self) -> Res {
        self.db.send(get("/sessions").jar(&self.jar)).await
    }

    async fn op(&self, op: &str, body: &Value) -> Res {
        self.db
            .send(post_json(&format!("/sessions/{op}"), body).jar(&self.jar))
            .await
    }

    async fn revoke(&self, id: &str) -> Res {
        self.op("revoke", &json!({"csrfToken": self.csrf, "id": id}))
            .await
    }

    async fn alive(&self, token: &str) -> bool {
        let res = self.db.read(token).await;
        assert_eq!(res.status, StatusCode::OK);
        res.text() != "null"
    }
}

#[tokio::test]
async fn listing_needs_a_session() {
    let db = Db::database();
    let res = db.send(get("/sessions")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"], "Unauthorized");
    // A well-formed token of no session, and a malformed one.
    for token in [random_token(), "junk".to_owned()] {
        let res = db
            .send(get("/sessions").cookie_header(&db.cookie(&token)))
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{token}");
    }
}

#[tokio::test]
async fn listing_shows_the_users_own_sessions_and_marks_the_current_one() {
    let s = scene().await;
    let res = s.list().await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_no_cache(&res);
    let list = res.json();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 2, "{list:?}");
    let rows = s.db.rows("1").await;
    for (entry, row) in list.iter().zip(&rows) {
        assert_eq!(entry["id"], row.key.as_str());
        assert_eq!(entry["createdAt"], iso(row.created_at));
        assert_eq!(entry["lastUsedAt"], iso(row.last_used_at));
        assert_eq!(entry["expires"], iso(row.expires));
        assert!(entry["ip"].is_null());
    }
    // Oldest first; exactly the requester's is current.
    assert_eq!(list[0]["id"], id_of(&s.mine));
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[0]["userAgent"], "Firefox/128.0");
    assert_eq!(list[1]["id"], id_of(&s.other));
    assert_eq!(list[1]["current"], false);
    assert_eq!(list[1]["userAgent"], "Mobile Safari/17");
    // Never another user's session, never a token.
    let text = res.text();
    assert!(!text.contains(&id_of(&s.bobs)));
    assert!(!text.contains("Chrome"));
    for token in [&s.mine, &s.other, &s.bobs] {
        assert!(!text.contains(token.as_str()), "a token is in the listing");
    }

    // From the other browser, the other one is current.
    let res =
        s.db.send(get("/sessions").cookie_header(&s.db.cookie(&s.other)))
            .await;
    let list = res.json();
    assert_eq!(list[0]["current"], false);
    assert_eq!(list[1]["current"], true);

    // Bob sees only his own.
    let res =
        s.db.send(get("/sessions").cookie_header(&s.db.cookie(&s.bobs)))
            .await;
    let list = res.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], id_of(&s.bobs));
}

#[tokio::test]
async fn revoking_the_other_session_ends_it() {
    let s = scene().await;
    let res = s.revoke(&id_of(&s.other)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json(), json!({"revoked": 1}));
    assert!(
        res.cookies.iter().all(|c| !s.db.is_session_cookie(&c.name)),
        "the requester's cookie was touched: {res:?}"
    );
    assert_eq!(s.db.row(&s.other).await, None);
    s.db.assert_token_rejected(&s.other, "the revoked session")
        .await;
    assert!(s.alive(&s.mine).await);
    // Revoking it again revokes nothing.
    assert_eq!(
        s.revoke(&id_of(&s.other)).await.json(),
        json!({"revoked": 0})
    );
}

#[tokio::test]
async fn another_users_session_cannot_be_revoked() {
    let s = scene().await;
    for id in [
        id_of(&s.bobs),
        s.bobs.clone(),
        "not-an-id".to_owned(),
        String::new(),
    ] {
        let res = s.revoke(&id).await;
        assert_eq!(res.status, StatusCode::OK, "{id}: {res:?}");
        assert_eq!(res.json(), json!({"revoked": 0}), "{id}");
    }
    assert!(s.db.row(&s.bobs).await.is_some());
    assert!(s.alive(&s.bobs).await);
    assert_eq!(s.db.rows("1").await.len(), 2);
}

#[tokio::test]
async fn revoking_the_current_session_clears_its_cookie() {
    let s = scene().await;
    let res = s.revoke(&id_of(&s.mine)).await;
    assert_eq!(res.json(), json!({"revoked": 1}));
    assert!(res.deleted().contains(&s.db.names.session_token.as_str()));
    s.db.assert_token_rejected(&s.mine, "revoked itself").await;
    assert!(s.alive(&s.other).await);
}

#[tokio::test]
async fn management_posts_need_the_csrf_token() {
    let s = scene().await;
    s.db.store.reset_calls();
    for (op, extra) in [
        ("revoke", json!({"id": id_of(&s.other)})),
        ("revoke-others", json!({})),
        ("revoke-all", json!({})),
    ] {
        for csrf in [None, Some("forged"), Some("")] {
            let mut body = extra.clone();
            if let Some(c) = csrf {
                body["csrfToken"] = json!(c);
            }
            let res = s.op(op, &body).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{op} {csrf:?}");
            assert_eq!(res.json()["error"], "MissingCSRF");
            assert!(res.cookies.iter().all(|c| !s.db.is_session_cookie(&c.name)));
        }
    }
    for write in ["delete_session", "delete_user_sessions", "set_not_before"] {
        assert_eq!(s.db.store.calls(write), 0, "{write}");
    }
    assert_eq!(s.db.rows("1").await.len(), 2);
    assert!(s.alive(&s.other).await);
    // Unknown operations are refused as unknown paths.
    let res = s
        .op("revoke-everything", &json!({"csrfToken": s.csrf}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(s.db.rows("1").await.len(), 2);
}

#[tokio::test]
async fn revoke_others_keeps_only_the_current_session() {
    let s = scene().await;
    let (_third, third) = s.db.browser("alice", None).await;
    let res = s.op("revoke-others", &json!({"csrfToken": s.csrf})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json(), json!({"revoked": 2}));
    assert!(res.cookies.iter().all(|c| !s.db.is_session_cookie(&c.name)));
    assert!(s.alive(&s.mine).await);
    assert!(!s.alive(&s.other).await);
    assert!(!s.alive(&third).await);
    assert!(s.alive(&s.bobs).await);
    let rows = s.db.rows("1").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, TokenHash::of(&s.mine));
}

#[tokio::test]
async fn revoke_all_ends_every_session_and_clears_the_cookie() {
    let s = scene().await;
    let res = s.op("revoke-all", &json!({"csrfToken": s.csrf})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json(), json!({"revoked": 2}));
    assert!(res.deleted().contains(&s.db.names.session_token.as_str()));
    assert!(s.db.rows("1").await.is_empty());
    s.db.assert_token_rejected(&s.mine, "after revoke-all")
        .await;
    s.db.assert_token_rejected(&s.other, "after revoke-all")
        .await;
    assert!(s.alive(&s.bobs).await);
    assert!(s.db.mem.not_before("1").await.unwrap().is_some());
    assert!(s.db.mem.not_before("2").await.unwrap().is_none());
}

#[tokio::test]
async fn store_failures_are_503_or_500_and_never_success() {
    for (method, fault, status) in [
        (
            "session_and_user",
            Fault::Unavailable,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "user_sessions",
            Fault::Unavailable,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "user_sessions",
            Fault::Other,
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    ] {
        let s = scene().await;
        s.db.store.fail(method, fault);
        let res = s.list().await;
        assert_eq!(res.status, status, "{method} {fault:?}: {res:?}");
        assert!(!res.everything().contains(SECRET_MESSAGE));
        assert!(res.cookies.iter().all(|c| !s.db.is_session_cookie(&c.name)));
    }
    for (op, method) in [
        ("revoke", "delete_session"),
        ("revoke", "session"),
        ("revoke-others", "delete_user_sessions"),
        ("revoke-all", "delete_user_sessions"),
    ] {
        for (fault, status) in [
            (Fault::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
            (Fault::Other, StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            let s = scene().await;
            s.db.store.fail(method, fault);
            let body = json!({"csrfToken": s.csrf, "id": id_of(&s.other)});
            let res = s.op(op, &body).await;
            assert_eq!(res.status, status, "{op} with {method} {fault:?}: {res:?}");
            assert!(res.json().get("revoked").is_none());
            assert!(!res.everything().contains(SECRET_MESSAGE));
            assert!(
                res.cookies.iter().all(|c| !s.db.is_session_cookie(&c.name)),
                "{op} {method} {fault:?}: {res:?}"
            );
            s.db.store.heal_all();
            assert!(s.alive(&s.other).await, "{op} {method} {fault:?}");
            assert!(s.alive(&s.mine).await, "{op} {method} {fault:?}");
        }
    }
}

#[tokio::test]
async fn listing_jwt_sessions_is_unsupported() {
    // JWT strategy with only a revocation store.
    let db = Db::revocable(Arc::new(MemoryAdapter::new()), StdDuration::ZERO);
    let (jar, _) = db.browser("alice", None).await;
    let res = db.send(get("/sessions").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert_eq!(res.json()["error"], "Unsupported");
    assert!(matches!(
        db.auth.list_sessions("1").await,
        Err(ManageError::Unsupported(_))
    ));

    // JWT strategy forced with a full adapter: there are no session rows to list either.
    let db = Db::database_with(
        Harness::builder().configure(|b| b.session_strategy(SessionStrategy::Jwt)),
    );
    let (jar, _) = db.browser("alice", None).await;
    assert!(
        db.rows("1").await.is_empty(),
        "the JWT strategy stored a row"
    );
    let res = db.send(get("/sessions").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert_eq!(res.json()["error"], "Unsupported");
}

// ---------------------------------------------------------------------------------------
// The Rust API

#[tokio::test]
async fn rust_api_lists_and_revokes_with_ownership() {
    let s = scene().await;
    let auth = &s.db.auth;
    let list = auth.list_sessions("1").await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, id_of(&s.mine));
    assert_eq!(list[1].id, id_of(&s.other));
    assert!(
        list.iter().all(|i| !i.current),
        "no request, nothing is current"
    );
    assert_eq!(list[0].user_agent.as_deref(), Some("Firefox/128.0"));
    assert!(auth.list_sessions("nobody").await.unwrap().is_empty());

    // Ownership: Alice cannot revoke Bob's session, nor revoke by token or junk.
    assert!(!auth.revoke_session("1", &id_of(&s.bobs)).await.unwrap());
    assert!(!auth.revoke_session("1", &s.bobs).await.unwrap());
    assert!(!auth.revoke_session("1", "junk").await.unwrap());
    assert!(s.alive(&s.bobs).await);
    assert!(auth.revoke_session("1", &id_of(&s.other)).await.unwrap());
    assert!(!s.alive(&s.other).await);
    assert!(!auth.revoke_session("1", &id_of(&s.other)).await.unwrap());

    // revoke_other_sessions keeps the given one.
    let (_third, third) = s.db.browser("alice", None).await;
    assert_eq!(
        auth.revoke_other_sessions("1", &id_of(&s.mine))
            .await
            .unwrap(),
        1
    );
    assert!(s.alive(&s.mine).await);
    assert!(!s.alive(&third).await);
    assert!(s.alive(&s.bobs).await);

    // revoke_all_sessions ends the rest and sets the not-before time.
    assert_eq!(auth.revoke_all_sessions("1").await.unwrap(), 1);
    assert!(!s.alive(&s.mine).await);
    assert!(s.db.mem.not_before("1").await.unwrap().is_some());
    assert!(s.alive(&s.bobs).await);
}

#[tokio::test]
async fn rust_api_failures_are_errors() {
    let s = scene().await;
    let auth = &s.db.auth;
    s.db.store.fail("user_sessions", Fault::Unavailable);
    assert!(matches!(
        auth.list_sessions("1").await,
        Err(ManageError::Adapter(e)) if e.is_unavailable()
    ));
    s.db.store.fail("delete_session", Fault::Other);
    assert!(matches!(
        auth.revoke_session("1", &id_of(&s.other)).await,
        Err(ManageError::Adapter(_))
    ));
    s.db.store.fail("delete_user_sessions", Fault::Unavailable);
    assert!(
        auth.revoke_other_sessions("1", &id_of(&s.mine))
            .await
            .is_err()
    );
    assert!(auth.revoke_all_sessions("1").await.is_err());
    s.db.store.fail("delete_user", Fault::Other);
    assert!(auth.delete_user("1").await.is_err());
    s.db.store.heal_all();
    assert_eq!(s.db.rows("1").await.len(), 2);
    assert!(s.db.mem.user("1").await.unwrap().is_some());
}

#[tokio::test]
async fn delete_user_cascades() {
    let s = scene().await;
    s.db.auth.delete_user("1").await.unwrap();
    assert_eq!(s.db.mem.user("1").await.unwrap(), None);
    assert!(s.db.rows("1").await.is_empty());
    assert!(s.db.mem.not_before("1").await.unwrap().is_some());
    s.db.assert_token_rejected(&s.mine, "after delete_user")
        .await;
    s.db.assert_token_rejected(&s.other, "after delete_user")
        .await;
    let res = s.list().await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(s.alive(&s.bobs).await);
    assert_eq!(s.db.rows("2").await.len(), 1);
}
