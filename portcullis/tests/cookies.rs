//! Cookie names, attributes and chunking (PROTOCOL.md §2, SECURITY.md §6.3): CKE-01, CKE-02,
//! CKE-04, CKE-06, CKE-07, CKE-08.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use common::*;
use http::StatusCode;
use portcullis::{
    Auth, AuthConfig, CallbackError, Callbacks, Compat, JwtParams, Session, SessionParams, Token,
    Trigger,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Value characters per chunk in v5 (4096 − 160).
const CHUNK: usize = 3936;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PadClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pad: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PadInfo {
    pad_len: usize,
}

/// Callbacks whose token carries a `pad` claim of a chosen size: `initial` bytes at sign-in,
/// and `data.pad` bytes after an update.
struct Padded {
    initial: usize,
}

#[portcullis::async_trait]
impl Callbacks for Padded {
    type UserFields = UserFields;
    type Claims = PadClaims;
    type Session = Session<PadInfo>;

    async fn jwt(
        &self,
        p: JwtParams<'_, UserFields, PadClaims>,
    ) -> Result<Option<Token<PadClaims>>, CallbackError> {
        let mut token = p.token;
        if p.user.is_some() && self.initial > 0 {
            token.claims.pad = Some("p".repeat(self.initial));
        }
        if p.trigger == Some(Trigger::Update)
            && let Some(n) = p.session.as_ref().and_then(|d| d["pad"].as_u64())
        {
            let n = usize::try_from(n).map_err(|e| CallbackError::from_source("pad", e))?;
            token.claims.pad = (n > 0).then(|| "p".repeat(n));
        }
        Ok(Some(token))
    }

    async fn session(
        &self,
        p: SessionParams<'_, UserFields, PadClaims>,
    ) -> Result<Session<PadInfo>, CallbackError> {
        let pad_len = p.token.claims.pad.as_ref().map_or(0, String::len);
        Ok(p.session.with_user_fields(PadInfo { pad_len }))
    }
}

fn padded(initial: usize, origin: &str) -> Harness {
    let calls = Arc::new(AtomicUsize::new(0));
    let config = AuthConfig::builder(Padded { initial })
        .secret(SECRET)
        .url(origin)
        .credentials(credentials(calls.clone(), AuthorizeMode::Demo))
        .build()
        .unwrap();
    Harness::new(Auth::new(config), origin, Compat::V5, SECRET, calls)
}

fn chunk_names(h: &Harness, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{}.{i}", h.names.session_token))
        .collect()
}

/// Asserts the response writes exactly the chunks `.0 .. .n-1` (in order), each header at
/// most 4096 bytes, every chunk but the last full.
fn assert_chunks_written(h: &Harness, res: &Res, n: usize) {
    let written: Vec<&SetCookie> = res
        .written()
        .into_iter()
        .filter(|c| h.is_session_cookie(&c.name))
        .collect();
    let names: Vec<String> = written.iter().map(|c| c.name.clone()).collect();
    assert_eq!(names, chunk_names(h, n), "{res:?}");
    for (i, c) in written.iter().enumerate() {
        assert!(c.raw.len() <= 4096, "{} is {} bytes", c.name, c.raw.len());
        if i + 1 < n {
            assert_eq!(c.value.len(), CHUNK, "{} is not a full chunk", c.name);
        }
        assert!(c.has("Expires"), "{}", c.raw);
    }
}

async fn update_pad(h: &Harness, jar: &mut Jar, pad: usize) -> Res {
    let token = h.csrf(jar).await;
    let res = h
        .send(
            post_json(
                "/session",
                &json!({"csrfToken": token, "data": {"pad": pad}}),
            )
            .jar(jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json()["user"]["pad_len"], pad, "{res:?}");
    jar.apply(&res);
    res
}

/// Checks one `Set-Cookie` against CKE-01 for https.
fn assert_cke_01(c: &SetCookie) {
    let allowed_session = c.name == "__Secure-authjs.session-token"
        || c.name
            .strip_prefix("__Secure-authjs.session-token.")
            .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
    assert!(
        allowed_session
            || c.name == "__Host-authjs.csrf-token"
            || c.name == "__Secure-authjs.callback-url",
        "unexpected cookie name: {}",
        c.raw
    );
    assert_eq!(c.attr("HttpOnly"), Some(None), "{}", c.raw);
    assert_eq!(c.attr("Secure"), Some(None), "{}", c.raw);
    assert_eq!(c.attr("SameSite"), Some(Some("Lax")), "{}", c.raw);
    assert_eq!(c.attr("Path"), Some(Some("/")), "{}", c.raw);
    assert!(!c.has("Domain"), "{}", c.raw);
    if allowed_session && !c.is_deletion() {
        assert!(
            c.has("Expires") && !c.has("Max-Age"),
            "session cookies expire by date: {}",
            c.raw
        );
    }
}

#[tokio::test]
async fn cke_01_every_set_cookie_on_https() {
    let mut seen: Vec<SetCookie> = Vec::new();
    for h in [Harness::https(), padded(7000, ORIGIN)] {
        let mut jar = Jar::default();
        let token = h.csrf(&mut jar).await;
        seen.extend(h.send(get("/csrf")).await.cookies);
        let res = h
            .send(
                post_form(
                    "/callback/credentials",
                    &[
                        ("csrfToken", &token),
                        ("username", "alice"),
                        ("password", "wonderland"),
                        ("callbackUrl", "/a"),
                    ],
                )
                .jar(&jar),
            )
            .await;
        jar.apply(&res);
        seen.extend(res.cookies);
        let res = h.send(get("/session").jar(&jar)).await;
        jar.apply(&res);
        seen.extend(res.cookies);
        let res = h
            .send(
                post_json(
                    "/session",
                    &json!({"csrfToken": token, "data": {"name": "B", "pad": 10}}),
                )
                .jar(&jar),
            )
            .await;
        jar.apply(&res);
        seen.extend(res.cookies);
        seen.extend(h.send(get("/signin?callbackUrl=%2Fb")).await.cookies);
        seen.extend(h.send(get("/signout")).await.cookies);
        seen.extend(h.send(get("/error?error=AccessDenied")).await.cookies);
        seen.extend(
            h.send(get("/session").cookie_header("__Secure-authjs.session-token=garbage"))
                .await
                .cookies,
        );
        let res = h
            .send(post_form("/signout", &[("csrfToken", &token)]).jar(&jar))
            .await;
        seen.extend(res.cookies);
        let res = h
            .send(post_form("/callback/credentials", &[("csrfToken", "nope")]))
            .await;
        seen.extend(res.cookies);
    }
    assert!(
        seen.len() >= 15,
        "the flow produced too few cookies: {}",
        seen.len()
    );
    let names: Vec<&str> = seen.iter().map(|c| c.name.as_str()).collect();
    for expected in [
        "__Secure-authjs.session-token",
        "__Secure-authjs.session-token.0",
        "__Host-authjs.csrf-token",
        "__Secure-authjs.callback-url",
    ] {
        assert!(names.contains(&expected), "{expected} never set: {names:?}");
    }
    assert!(seen.iter().any(SetCookie::is_deletion), "no deletion seen");
    for c in &seen {
        assert_cke_01(c);
    }
}

#[tokio::test]
async fn http_cookies_have_no_prefix_and_no_secure() {
    let h = Harness::http();
    let jar = h.signed_in().await;
    let res = h.send(get("/session").jar(&jar)).await;
    let c = res
        .set_cookie("authjs.session-token")
        .expect("plain name on http");
    assert!(!c.has("Secure") && c.has("HttpOnly"), "{}", c.raw);
    assert_eq!(c.attr("SameSite"), Some(Some("Lax")));
    assert!(jar.get("authjs.csrf-token").is_some());
}

#[tokio::test]
async fn cke_02_a_large_session_is_chunked_and_reads_back() {
    let h = padded(7000, ORIGIN);
    let (mut jar, token) = h.with_csrf().await;
    // A plain session cookie left over from before (planted or older).
    jar.set(&h.names.session_token, "stale-plain-value");
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_chunks_written(&h, &res, 3);
    assert_eq!(
        res.deleted(),
        vec![h.names.session_token.as_str()],
        "plain cookie cleared"
    );
    jar.apply(&res);
    assert_eq!(
        jar.session_names(&h.names.session_token),
        chunk_names(&h, 3)
    );

    // The chunks are one valid session, re-issued as chunks again.
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["user"]["pad_len"], 7000);
    assert_eq!(res.json()["user"]["name"], "Alice");
    assert_chunks_written(&h, &res, 3);
    assert!(res.deleted().is_empty(), "{res:?}");
    let joined = h.decode_jar(&jar);
    assert_eq!(joined["pad"].as_str().unwrap().len(), 7000);

    // A 10 KB claim: four chunks, still ≤ 4096 bytes each, still a session.
    let h = padded(10_000, ORIGIN);
    let mut jar = h.signed_in().await;
    assert_eq!(
        jar.session_names(&h.names.session_token),
        chunk_names(&h, 4)
    );
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.json()["user"]["pad_len"], 10_000);
    assert_chunks_written(&h, &res, 4);
    jar.apply(&res);
    assert_eq!(
        jar.session_names(&h.names.session_token),
        chunk_names(&h, 4)
    );
}

#[tokio::test]
async fn cke_02_and_cke_08_growing_and_shrinking_through_update() {
    let h = padded(0, ORIGIN);
    let mut jar = h.signed_in().await;
    assert_eq!(
        jar.session_names(&h.names.session_token),
        vec![h.names.session_token.clone()]
    );

    // Grow: plain → .0 .1 .2, the plain cookie deleted.
    let res = update_pad(&h, &mut jar, 7000).await;
    assert_chunks_written(&h, &res, 3);
    assert_eq!(res.deleted(), vec![h.names.session_token.as_str()]);
    assert_eq!(
        jar.session_names(&h.names.session_token),
        chunk_names(&h, 3)
    );

    // Shrink 3 → 2: only .2 deleted.
    let res = update_pad(&h, &mut jar, 4000).await;
    assert_chunks_written(&h, &res, 2);
    assert_eq!(
        res.deleted(),
        vec![format!("{}.2", h.names.session_token).as_str()]
    );
    assert_eq!(
        jar.session_names(&h.names.session_token),
        chunk_names(&h, 2)
    );

    // Grow back and shrink 3 → 1 (CKE-08): every chunk deleted, plain written.
    update_pad(&h, &mut jar, 7000).await;
    let res = update_pad(&h, &mut jar, 0).await;
    let mut deleted: Vec<&str> = res.deleted();
    deleted.sort_unstable();
    let expected = chunk_names(&h, 3);
    assert_eq!(
        deleted,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let plain = res
        .set_cookie(&h.names.session_token)
        .expect("plain cookie written");
    assert!(!plain.is_deletion());
    assert_eq!(
        jar.session_names(&h.names.session_token),
        vec![h.names.session_token.clone()]
    );
    let res = h.send(get("/session").jar(&jar)).await;
    assert_eq!(res.json()["user"]["pad_len"], 0);
}

#[tokio::test]
async fn cke_04_plain_and_chunks_together_are_ambiguous() {
    let h = Harness::https();
    let jar = h.signed_in().await;
    let token = jar.session_token(&h.names.session_token).unwrap();
    let n = &h.names.session_token;
    let (a, b) = token.split_at(token.len() / 2);
    // Each form alone is a session.
    for header in [format!("{n}={token}"), format!("{n}.0={a}; {n}.1={b}")] {
        let res = h.send(get("/session").cookie_header(&header)).await;
        assert_eq!(res.json()["user"]["id"], "1", "{header}");
    }
    // Together: no session, everything cleared, whatever the order.
    for header in [
        format!("{n}={token}; {n}.0={a}; {n}.1={b}"),
        format!("{n}.0={a}; {n}.1={b}; {n}={token}"),
        format!("{n}.0={token}; {n}={token}"),
    ] {
        h.assert_null_and_cleared(&header, &header[..40]).await;
    }
    // Gaps, duplicates and odd indices are ambiguous too.
    for header in [
        format!("{n}.0={a}; {n}.2={b}"),
        format!("{n}.1={b}"),
        format!("{n}.0={a}; {n}.01={b}"),
        format!("{n}.0={a}; {n}.1={b}; {n}.x=1"),
        format!("{n}.0={a}; {n}.1="),
    ] {
        h.assert_null_and_cleared(&header, &header).await;
    }
}

#[tokio::test]
async fn cke_06_hundreds_of_chunk_cookies() {
    let h = Harness::https();
    let n = h.names.session_token.clone();
    let header: String = (0..200)
        .map(|i| format!("{n}.{i}=AAAA"))
        .collect::<Vec<_>>()
        .join("; ");
    let res = h.send(get("/session").cookie_header(&header)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "null");
    let deleted = res.deleted();
    assert_eq!(
        deleted.len(),
        portcullis::MAX_REQUEST_COOKIES.min(200),
        "bounded parse"
    );
    assert!(deleted.iter().all(|d| h.is_session_cookie(d)));
    assert!(res.written().iter().all(|c| !h.is_session_cookie(&c.name)));

    // A 300 KB cookie header.
    let header: String = (0..300)
        .map(|i| format!("{n}.{i}={}", "B".repeat(1000)))
        .collect::<Vec<_>>()
        .join("; ");
    let res = h.send(get("/session").cookie_header(&header)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "null");
    // Many unrelated cookies before a valid session: the session is past the parse bound.
    let jar = h.signed_in().await;
    let noise: String = (0..200)
        .map(|i| format!("c{i}=v"))
        .collect::<Vec<_>>()
        .join("; ");
    let res = h
        .send(get("/session").cookie_header(&format!("{noise}; {}", jar.header().unwrap())))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "null");
}

#[tokio::test]
async fn cke_07_duplicate_names_first_one_wins() {
    let h = Harness::https();
    let jar = h.signed_in().await;
    let token = jar.session_token(&h.names.session_token).unwrap();
    let n = &h.names.session_token;
    let res = h
        .send(get("/session").cookie_header(&format!("{n}={token}; {n}=tossed-garbage")))
        .await;
    assert_eq!(res.json()["user"]["id"], "1", "first value used");
    let res = h
        .send(get("/session").cookie_header(&format!("{n}=tossed-garbage; {n}={token}")))
        .await;
    assert_eq!(res.text(), "null", "first value used, and it is no session");
    assert!(res.set_cookie(n).is_some_and(SetCookie::is_deletion));

    // Two valid CSRF pairs: the first one counts, deterministically.
    let (a_jar, a) = h.with_csrf().await;
    let (b_jar, b) = h.with_csrf().await;
    let name = "__Host-authjs.csrf-token";
    let both = format!(
        "{name}={}; {name}={}",
        a_jar.get(name).unwrap(),
        b_jar.get(name).unwrap()
    );
    let res = h.send(get("/csrf").cookie_header(&both)).await;
    assert_eq!(res.json()["csrfToken"], a.as_str());
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &b),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .cookie_header(&both),
        )
        .await;
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/signin?error=MissingCSRF")
    );
    assert_eq!(
        h.calls(),
        1,
        "only the sign-in of signed_in() ran authorize"
    );
    // The CSRF cookie cannot be tossed in from a sibling: it is `__Host-` (see CKE-01).
    assert!(a_jar.cookies.iter().any(|(k, _)| k == name));
}

#[tokio::test]
async fn oversized_claims_are_refused_at_sign_in() {
    // A token over the 16 KiB read cap (jwt::MAX_TOKEN_LEN) could never be read back: the
    // sign-in is refused with a Configuration error instead of setting a session that
    // silently disappears, and no session cookie is written.
    let h = padded(20_000, ORIGIN);
    let (mut jar, token) = h.with_csrf().await;
    let res = h
        .send(
            post_form(
                "/callback/credentials",
                &[
                    ("csrfToken", &token),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .jar(&jar),
        )
        .await;
    assert!(res.status.as_u16() < 500, "{res:?}");
    let location = res.header("location").unwrap_or_default().to_owned();
    assert!(
        location.ends_with("/api/auth/error?error=Configuration"),
        "{location}"
    );
    jar.apply(&res);
    assert!(jar.session_names(&h.names.session_token).is_empty());
}
