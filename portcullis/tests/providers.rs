//! `GET /providers` (PROTOCOL.md §1.2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::StatusCode;
use portcullis::{Auth, AuthConfig, Credentials, DefaultCallbacks, User};
use serde_json::json;

#[tokio::test]
async fn exact_json_from_the_configured_origin() {
    let h = Harness::https();
    let res = h
        .send(
            get("/providers")
                .header("host", "evil.example")
                .header("x-forwarded-host", "evil.example")
                .header("x-forwarded-proto", "http"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        res.json(),
        json!({
            "credentials": {
                "id": "credentials",
                "name": "Credentials",
                "type": "credentials",
                "signinUrl": "https://app.example/api/auth/signin/credentials",
                "callbackUrl": "https://app.example/api/auth/callback/credentials",
            }
        })
    );
    assert!(!res.everything().contains("evil.example"));
    assert!(res.cookies.is_empty(), "no cookies on /providers: {res:?}");
    assert!(res.header("set-cookie").is_none());
}

#[tokio::test]
async fn no_cookies_even_without_csrf_or_with_a_callback_url() {
    let h = Harness::http();
    let res = h
        .send(
            get("/providers?callbackUrl=%2Fdashboard")
                .cookie_header("authjs.callback-url=https%3A%2F%2Fevil.com"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.cookies.is_empty(), "{res:?}");
    assert_eq!(
        res.json()["credentials"]["signinUrl"],
        "http://app.example/api/auth/signin/credentials"
    );
}

#[tokio::test]
async fn several_providers_and_custom_ids() {
    let config = AuthConfig::builder(DefaultCallbacks)
        .secret(SECRET)
        .url("https://app.example/auth")
        .credentials(
            Credentials::new(|_f, _r| async { Ok(None::<User>) })
                .id("password")
                .name("Password"),
        )
        .credentials(
            Credentials::new(|_f, _r| async { Ok(None::<User>) })
                .id("pin-code")
                .name("PIN"),
        )
        .build()
        .unwrap();
    let auth = Auth::new(config);
    let res: Res = auth
        .handle(Req::new(http::Method::GET, "/auth/providers").build())
        .await
        .into();
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.json(),
        json!({
            "password": {
                "id": "password", "name": "Password", "type": "credentials",
                "signinUrl": "https://app.example/auth/signin/password",
                "callbackUrl": "https://app.example/auth/callback/password",
            },
            "pin-code": {
                "id": "pin-code", "name": "PIN", "type": "credentials",
                "signinUrl": "https://app.example/auth/signin/pin-code",
                "callbackUrl": "https://app.example/auth/callback/pin-code",
            }
        })
    );
}

#[tokio::test]
async fn no_providers_is_an_empty_object() {
    let auth = Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret(SECRET)
            .url(ORIGIN)
            .build()
            .unwrap(),
    );
    let res: Res = auth.handle(get("/providers").build()).await.into();
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "{}");
}

#[tokio::test]
async fn providers_is_get_only() {
    let h = Harness::https();
    let res = h.send(post_form("/providers", &[])).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.header("allow"), Some("GET"));
}
