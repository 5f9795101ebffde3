//! `POST /signout` and `GET /signout` (PROTOCOL.md §1.2): CSRF-01, CSRF-10, SES-05 (JWT part).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn signout_with_csrf_clears_the_session_and_redirects() {
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let token = h.csrf(&mut jar).await;
    let res = h
        .send(
            post_form(
                "/signout",
                &[("csrfToken", &token), ("callbackUrl", "/bye")],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("https://app.example/bye"));
    let c = res.set_cookie(&h.names.session_token).expect("deletion");
    assert!(c.is_deletion());
    assert_eq!(c.value, "");
    assert!(
        c.has("Secure") && c.has("HttpOnly") && c.attr("Path") == Some(Some("/")),
        "{}",
        c.raw
    );
    jar.apply(&res);
    assert!(jar.session_names(&h.names.session_token).is_empty());
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.text(), "null");
}

#[tokio::test]
async fn signout_deletes_every_chunk() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let n = h.names.session_token.clone();
    let cookie = format!(
        "{}; {n}.0=a; {n}.1=b; {n}.2=c; {n}=d; other=1",
        jar.header().unwrap()
    );
    let res = h
        .send(post_form("/signout", &[("csrfToken", &token)]).cookie_header(&cookie))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("https://app.example/"));
    let mut deleted = res.deleted();
    deleted.sort_unstable();
    let mut expected = vec![
        n.clone(),
        format!("{n}.0"),
        format!("{n}.1"),
        format!("{n}.2"),
    ];
    expected.sort_unstable();
    assert_eq!(deleted, expected);
    assert!(res.set_cookie("other").is_none());
}

#[tokio::test]
async fn signout_json_answer() {
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let token = h.csrf(&mut jar).await;
    let res = h
        .send(
            post_form(
                "/signout",
                &[
                    ("csrfToken", &token),
                    ("callbackUrl", "https://app.example/after"),
                ],
            )
            .header("x-auth-return-redirect", "1")
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!({"url": "https://app.example/after"}));
    assert!(
        res.set_cookie(&h.names.session_token)
            .is_some_and(SetCookie::is_deletion)
    );
}

#[tokio::test]
async fn signout_without_a_session_just_redirects() {
    let h = Harness::https();
    let (jar, token) = h.with_csrf().await;
    let res = h
        .send(post_form("/signout", &[("csrfToken", &token)]).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("https://app.example/"));
    assert!(res.deleted().is_empty());
}

#[tokio::test]
async fn csrf_01_signout_without_a_valid_token_touches_nothing() {
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let token = h.csrf(&mut jar).await;
    let mut no_cookie = jar.clone();
    no_cookie.remove("__Host-authjs.csrf-token");
    let cases = [
        ("no token", post_form("/signout", &[]).jar(&jar)),
        (
            "wrong token",
            post_form("/signout", &[("csrfToken", &"0".repeat(64))]).jar(&jar),
        ),
        (
            "no csrf cookie",
            post_form("/signout", &[("csrfToken", &token)]).jar(&no_cookie),
        ),
        (
            "text/plain body",
            Req::new(http::Method::POST, "/api/auth/signout")
                .header("content-type", "text/plain")
                .body(format!("csrfToken={token}"))
                .jar(&jar),
        ),
    ];
    for (what, req) in cases {
        let res = h.send(req).await;
        assert_eq!(res.status, StatusCode::FOUND, "{what}");
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/signin?error=MissingCSRF"),
            "{what}"
        );
        assert!(
            res.cookies.iter().all(|c| !h.is_session_cookie(&c.name)),
            "{what}: {res:?}"
        );
    }
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.json()["user"]["id"], "1", "still signed in");
}

#[tokio::test]
async fn csrf_01_v4_signout_without_token() {
    let h = Harness::v4();
    let jar = h.signed_in().await;
    let res = h.send(post_form("/signout", &[]).jar(&jar)).await;
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/signout?csrf=true")
    );
    assert!(res.cookies.iter().all(|c| !h.is_session_cookie(&c.name)));
}

#[tokio::test]
async fn csrf_10_get_signout_renders_the_page_and_clears_nothing() {
    let h = Harness::https();
    let jar = h.signed_in().await;
    let token = h.decode_jar(&jar);
    let res = h.send(get("/signout?callbackUrl=%2Flater").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let html = res.text();
    assert!(
        html.contains(r#"<form method="post" action="https://app.example/api/auth/signout">"#),
        "{html}"
    );
    let csrf = jar
        .get("__Host-authjs.csrf-token")
        .unwrap()
        .split("%7C")
        .next()
        .unwrap()
        .to_owned();
    assert!(
        html.contains(&format!(r#"name="csrfToken" value="{csrf}""#)),
        "{html}"
    );
    assert!(
        html.contains(r#"name="callbackUrl" value="https://app.example/later""#),
        "{html}"
    );
    assert!(
        res.cookies.iter().all(|c| !h.is_session_cookie(&c.name)),
        "{res:?}"
    );
    // Still signed in, same subject.
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.json()["user"]["id"], "1");
    assert_eq!(token["sub"], "1");
    // Query parameters cannot sign out either.
    let res = h
        .send(get(&format!("/signout?csrfToken={csrf}")).jar(&jar))
        .await;
    assert!(res.cookies.iter().all(|c| !h.is_session_cookie(&c.name)));
}

#[tokio::test]
async fn ses_07_a_replayed_jwt_stays_valid_until_exp() {
    // JWT strategy without revocation: documented behaviour (SECURITY.md SES-07).
    let h = Harness::https();
    let mut jar = h.signed_in().await;
    let before = jar.clone();
    let token = h.csrf(&mut jar).await;
    let res = h
        .send(post_form("/signout", &[("csrfToken", &token)]).jar(&jar))
        .await;
    assert!(
        res.set_cookie(&h.names.session_token)
            .is_some_and(SetCookie::is_deletion)
    );
    let res = h.send(get("/session").jar(&before)).await;
    assert_eq!(res.json()["user"]["id"], "1");
}
