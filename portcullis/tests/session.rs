//! `GET` and `POST /session` (PROTOCOL.md §1.2, §4.3, §5.3, §5.4): SES-14, CSRF-02, the
//! sliding re-issue, `update()`, and callbacks that fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::StatusCode;
use serde_json::{Value, json};

const THIRTY_DAYS: i64 = 30 * 24 * 60 * 60;

/// `YYYY-MM-DDTHH:MM:SS` of `unix` in UTC.
fn iso_seconds(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Asserts `expires` is `toISOString()`-shaped and within a few seconds of now + 30 days.
fn assert_expires_in_thirty_days(expires: &str) {
    let b = expires.as_bytes();
    assert_eq!(b.len(), 24, "{expires}");
    assert!(
        expires.ends_with('Z') && b[19] == b'.' && b[20..23].iter().all(u8::is_ascii_digit),
        "milliseconds and Z: {expires}"
    );
    let target = now() + THIRTY_DAYS;
    let ok = (-3..=3).any(|d| iso_seconds(target + d) == expires[..19]);
    assert!(
        ok,
        "{expires} is not now + 30 days ({})",
        iso_seconds(target)
    );
}

#[tokio::test]
async fn ses_14_no_cookie_is_null_in_v5() {
    let h = Harness::https();
    let res = h.send(get("/session")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "null");
    assert_eq!(
        res.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_no_cache(&res);
    assert!(
        res.cookies.iter().all(|c| !h.is_session_cookie(&c.name)),
        "{res:?}"
    );
}

#[tokio::test]
async fn ses_14_no_cookie_is_an_empty_object_in_v4() {
    let h = Harness::v4();
    let res = h.send(get("/session")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "{}");
    assert_no_cache(&res);
}

#[tokio::test]
async fn signed_in_session_is_the_exact_json() {
    let h = Harness::https();
    let jar = h.signed_in().await;
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_no_cache(&res);
    let body = res.json();
    let expires = body["expires"].as_str().expect("expires").to_owned();
    assert_expires_in_thirty_days(&expires);
    assert_eq!(body, alice_session("Alice", &expires));
    // The access token stays in the encrypted token.
    let everything = res.everything();
    for leak in [ACCESS_TOKEN, "access_token", "accessToken"] {
        assert!(!everything.contains(leak), "{leak} leaked: {everything}");
    }
    assert_eq!(h.decode_jar(&jar)["access_token"], ACCESS_TOKEN);
}

#[tokio::test]
async fn v4_session_has_the_same_shape_and_a_v4_token() {
    let h = Harness::v4();
    let jar = h.signed_in().await;
    assert_eq!(h.names.session_token, "__Secure-next-auth.session-token");
    let token = jar.session_token(&h.names.session_token).unwrap();
    assert!(
        token.starts_with("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0.."),
        "A256GCM header: {token}"
    );
    let res = h.send(get("/session").jar(&jar)).await;
    let body = res.json();
    let expires = body["expires"].as_str().unwrap().to_owned();
    assert_eq!(body, alice_session("Alice", &expires));
}

#[tokio::test]
async fn every_get_reissues_the_token() {
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let first = h.decode_jar(&jar);
    let first_value = jar.get(&h.names.session_token).unwrap().to_owned();
    for _ in 0..2 {
        let before = h.decode_jar(&jar);
        let res = h.send(get("/session").jar(&jar)).await;
        let c = res
            .set_cookie(&h.names.session_token)
            .expect("re-issued cookie");
        assert!(!c.is_deletion());
        assert_ne!(
            c.value,
            jar.get(&h.names.session_token).unwrap(),
            "new value"
        );
        assert!(c.has("Expires") && !c.has("Max-Age"), "{}", c.raw);
        assert!(c.has("HttpOnly") && c.has("Secure"), "{}", c.raw);
        jar.apply(&res);
        let after = h.decode_jar(&jar);
        assert!(after["iat"].as_i64().unwrap() >= before["iat"].as_i64().unwrap());
        assert_ne!(after["jti"], before["jti"], "new jti");
        assert_eq!(
            after["exp"].as_i64().unwrap(),
            after["iat"].as_i64().unwrap() + THIRTY_DAYS
        );
        assert_eq!(after["sub"], "1");
        assert_eq!(after["role"], "admin");
        assert_eq!(after["access_token"], ACCESS_TOKEN);
    }
    assert_ne!(jar.get(&h.names.session_token).unwrap(), first_value);
    assert_ne!(h.decode_jar(&jar)["jti"], first["jti"]);
}

#[tokio::test]
async fn update_changes_the_name_only() {
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let token = h.csrf(&mut jar).await;
    let before = h.decode_jar(&jar);
    let data = json!({
        "name": "Bob",
        "role": "superadmin",
        "id": "2",
        "sub": "2",
        "exp": 1,
        "email": "mallory@example.com",
        "access_token": "forged",
    });
    let res = h
        .send(post_json("/session", &json!({"csrfToken": token, "data": data})).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let body = res.json();
    let expires = body["expires"].as_str().unwrap().to_owned();
    assert_eq!(body, alice_session("Bob", &expires));
    jar.apply(&res);
    let claims = h.decode_jar(&jar);
    assert_eq!(claims["name"], "Bob");
    assert_eq!(claims["sub"], "1");
    assert_eq!(claims["id"], "1");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["access_token"], ACCESS_TOKEN);
    assert!(claims["exp"].as_i64().unwrap() >= before["exp"].as_i64().unwrap());
    // And it sticks.
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.json()["user"]["name"], "Bob");
}

#[tokio::test]
async fn update_over_a_form_body_and_without_data() {
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let token = h.csrf(&mut jar).await;
    // `data` absent: a plain refresh through the update path.
    let res = h
        .send(post_json("/session", &json!({"csrfToken": token})).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["user"]["name"], "Alice");
    // A form body carries `data` only as a string: the callback finds no `name` in it.
    let res = h
        .send(
            post_form(
                "/session",
                &[("csrfToken", &token), ("data", r#"{"name":"Eve"}"#)],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["user"]["name"], "Alice");
}

#[tokio::test]
async fn csrf_02_update_without_or_with_a_wrong_token() {
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let token = h.csrf(&mut jar).await;
    let mut wrong = token.clone();
    wrong.replace_range(0..1, if token.starts_with('a') { "b" } else { "a" });
    let bodies = [
        json!({"data": {"name": "Bob"}}),
        json!({"csrfToken": wrong, "data": {"name": "Bob"}}),
        json!({"csrfToken": "", "data": {"name": "Bob"}}),
        json!({"csrfToken": 1, "data": {"name": "Bob"}}),
        json!({"csrfToken": [token], "data": {"name": "Bob"}}),
    ];
    for body in bodies {
        let res = h.send(post_json("/session", &body).jar(&jar)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.text(), "null", "{body}");
        assert!(res.cookies.is_empty(), "{body}: no cookie change: {res:?}");
    }
    // The token in a header does not count either.
    let res = h
        .send(
            post_json("/session", &json!({"data": {"name": "Bob"}}))
                .header("x-csrf-token", &token)
                .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Without the CSRF cookie, the right token is refused too.
    let mut no_cookie = jar.clone();
    no_cookie.remove("__Host-authjs.csrf-token");
    let res = h
        .send(
            post_json(
                "/session",
                &json!({"csrfToken": token, "data": {"name": "Bob"}}),
            )
            .jar(&no_cookie),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.text(), "null");
    assert!(
        res.cookies.iter().all(|c| !h.is_session_cookie(&c.name)),
        "{res:?}"
    );
    // Nothing changed.
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.json()["user"]["name"], "Alice");
}

#[tokio::test]
async fn csrf_02_v4_answers_400_with_an_empty_object() {
    let h = Harness::v4();
    let jar = h.signed_in().await;
    let res = h
        .send(post_json("/session", &json!({"data": {"name": "Bob"}})).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.text(), "{}");
}

#[tokio::test]
async fn failing_callbacks_end_the_session() {
    let normal = Harness::https();
    let jar = normal.signed_in().await;
    let header = jar.header().unwrap();
    for mode in [
        ReadMode::SessionErrors,
        ReadMode::SessionPanics,
        ReadMode::JwtErrors,
        ReadMode::JwtPanics,
        ReadMode::JwtEnds,
    ] {
        let h = Harness::builder().read_mode(mode).build();
        let res = h
            .assert_null_and_cleared(&header, &format!("{mode:?}"))
            .await;
        assert!(
            !res.everything().contains(SECRET_MESSAGE),
            "{mode:?} leaked"
        );
        // The server-side reader agrees.
        let mut headers = http::HeaderMap::new();
        headers.insert("cookie", header.parse().unwrap());
        let s: Option<AppSession> = h.auth.session(&headers).await.unwrap();
        assert!(s.is_none(), "{mode:?}: Auth::session");
        // An update fails the same way: null, cleared.
        let mut jar = jar.clone();
        let token = h.csrf(&mut jar).await;
        let res = h
            .send(
                post_json(
                    "/session",
                    &json!({"csrfToken": token, "data": {"name": "Bob"}}),
                )
                .jar(&jar),
            )
            .await;
        assert_eq!(res.text(), "null", "{mode:?}");
        let c = res.set_cookie(&h.names.session_token).expect("cleared");
        assert!(c.is_deletion(), "{mode:?}");
        assert!(
            !res.everything().contains(SECRET_MESSAGE),
            "{mode:?} leaked"
        );
    }
}

#[tokio::test]
async fn jwt_returning_none_clears_every_chunk() {
    let normal = Harness::https();
    let jar = normal.signed_in().await;
    let token = jar.session_token(&normal.names.session_token).unwrap();
    let (a, b) = token.split_at(token.len() / 2);
    let n = &normal.names.session_token;
    let header = format!("{n}.0={a}; {n}.1={b}");
    // The chunked form is a valid session for a normal app...
    let res = normal.send(get("/session").cookie_header(&header)).await;
    assert_eq!(res.json()["user"]["id"], "1");
    // ...and ending it deletes both chunks.
    let h = Harness::builder().read_mode(ReadMode::JwtEnds).build();
    h.assert_null_and_cleared(&header, "jwt None, chunked")
        .await;
}

#[tokio::test]
async fn server_side_session_matches_the_endpoint() {
    let h = Harness::https();
    let jar = h.signed_in().await;
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", jar.header().unwrap().parse().unwrap());
    let typed: AppSession = h.auth.session(&headers).await.unwrap().expect("session");
    assert_eq!(
        typed.user.fields,
        Exposed {
            id: "1".into(),
            role: "admin".into()
        }
    );
    assert_eq!(typed.user.name.as_deref(), Some("Alice"));
    let as_json: Value = h.auth.session(&headers).await.unwrap().expect("session");
    assert_eq!(
        as_json,
        alice_session("Alice", as_json["expires"].as_str().unwrap())
    );
    let none: Option<Value> = h.auth.session(&http::HeaderMap::new()).await.unwrap();
    assert!(none.is_none());
}
