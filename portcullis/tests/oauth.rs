//! OAuth 2.0 / OpenID Connect sign-in against an in-process mock provider
//! (tests/common/mock_op.rs): the happy paths (OIDC with and without a store, GitHub-style
//! OAuth 2.0 with userinfo, `form_post`, linking, RP-initiated logout) and SECURITY.md §6.6
//! (OAU-01..21) plus RACE-04.
//!
//! Expected outcomes: `ERR(Configuration)` = redirect to `/api/auth/error?error=Configuration`;
//! `SIGNIN_ERR(X)` = redirect to `/api/auth/signin?error=X`; `NOTHING` = no session cookie,
//! no user/account/session written to the store, no account for the person. Every callback
//! answer deletes the check cookie.
#![cfg(feature = "oauth")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::mock_op::*;
use common::*;
use http::{Method, StatusCode};
use portcullis::AccountType;
use portcullis::adapter::{SessionAdapter, UserAdapter};
use serde_json::{Value, json};

async fn mock_world(store: Store) -> (MockOp, World) {
    let op = MockOp::start().await;
    let w = World::builder()
        .store(store)
        .provider(op.oidc("mock"))
        .build();
    (op, w)
}

fn alice() -> Person {
    Person::new("alice-sub").email("alice@idp.test", Some(true))
}

/// The `sub` of the session in `jar`, as the client sees it (`session.user.id`).
async fn session_id(w: &World, jar: &mut Jar) -> String {
    let s = w.session(jar).await;
    s["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {s}"))
        .to_owned()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        })
}

// ---------------------------------------------------------------------------------------
// Happy paths

/// OAU-16 (stable ids): OIDC sign-in with the JWT strategy and no adapter, through the
/// mock's real `/authorize` endpoint. The authorization request carries everything the
/// checks need; the session shows the profile; the same person gets the same `sub` at every
/// sign-in.
#[tokio::test]
async fn oidc_sign_in_without_adapter_shows_the_profile_and_a_stable_id() {
    let (op, w) = mock_world(Store::None).await;
    let mut jar = Jar::default();
    let begun = w
        .begin_with(&mut jar, "mock", &[("callbackUrl", "/dashboard")])
        .await;

    // The authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC nonce).
    assert!(
        begun.location.starts_with(&op.url("/authorize?")),
        "{}",
        begun.location
    );
    let p = |k: &str| begun.param(k);
    assert_eq!(p("response_type").as_deref(), Some("code"));
    assert_eq!(p("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        p("redirect_uri").as_deref(),
        Some("https://app.example/api/auth/callback/mock")
    );
    assert_eq!(p("scope").as_deref(), Some("openid profile email"));
    assert_eq!(p("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(p("code_challenge").map(|c| c.len()), Some(43));
    assert!(p("state").is_some_and(|s| s.len() >= 43), "{begun:?}");
    assert!(p("nonce").is_some_and(|s| s.len() >= 43), "{begun:?}");
    assert_ne!(p("state"), p("nonce"));
    // The check cookie: HttpOnly, Secure, Lax, 15 minutes.
    let check = begun.res.set_cookie(CHECK_COOKIE).unwrap();
    assert!(
        check.has("HttpOnly") && check.has("Secure"),
        "{}",
        check.raw
    );
    assert_eq!(check.attr("Max-Age"), Some(Some("900")), "{}", check.raw);
    assert_eq!(check.attr("SameSite"), Some(Some("Lax")), "{}", check.raw);
    assert_eq!(check.attr("Path"), Some(Some("/")), "{}", check.raw);

    // Through the provider's real authorization endpoint.
    op.set(|b| b.login_as = alice());
    let path = begun.location.strip_prefix(&op.issuer).unwrap();
    let (status, headers, _) = op.http_get(path).await;
    assert_eq!(status, 302);
    let back = &headers["location"];
    let callback = back
        .strip_prefix("https://app.example/api/auth")
        .unwrap_or_else(|| panic!("{back}"));
    assert_eq!(op.records().authorize.len(), 1);
    let res = w.get_callback(&mut jar, callback).await;
    assert_signed_in(&res);
    assert_eq!(res.location(), Some("https://app.example/dashboard"));

    // One code exchange: client authenticated with Basic, PKCE verified by the mock, and
    // the userinfo call made with the access token.
    let tokens = op.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].grant_type(), "authorization_code");
    assert_eq!(tokens[0].auth, ClientAuth::Basic);
    assert_eq!(tokens[0].status, 200, "{tokens:?}");
    assert_eq!(
        s256(&tokens[0].form["code_verifier"]),
        p("code_challenge").unwrap()
    );
    assert_eq!(
        tokens[0].form["redirect_uri"],
        "https://app.example/api/auth/callback/mock"
    );
    let info = op.records().userinfo;
    assert_eq!(info.len(), 1);
    assert!(
        info[0]
            .bearer
            .as_deref()
            .is_some_and(|t| t.starts_with("at-"))
    );

    // The session: the profile, the stable id, no provider token.
    let s = w.session(&mut jar).await;
    assert_eq!(s["user"]["name"], "Person alice-sub");
    assert_eq!(s["user"]["email"], "alice@idp.test");
    let id = s["user"]["id"].as_str().unwrap().to_owned();
    assert!(is_uuid(&id), "{id}");
    assert_eq!(w.claims(&jar)["sub"], id.as_str());
    assert!(
        !s.to_string().contains("at-"),
        "a provider token reached the client: {s}"
    );

    // The same person in another browser, later: the same id.
    let mut other = Jar::default();
    w.signed_in(&op, &mut other, "mock", &alice()).await;
    assert_eq!(session_id(&w, &mut other).await, id);
    // Another person: another id.
    let mut third = Jar::default();
    w.signed_in(&op, &mut third, "mock", &Person::new("bob-sub"))
        .await;
    assert_ne!(session_id(&w, &mut third).await, id);
}

/// OIDC with the memory adapter and the database strategy: a user and an `oidc` account
/// with the provider's tokens are created once; `isNewUser` is true the first time only.
#[tokio::test]
async fn oidc_sign_in_with_database_creates_user_and_account() {
    let (op, w) = mock_world(Store::Database).await;
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;

    let user = w.user_of("mock", "alice-sub").await.expect("a user row");
    assert_eq!(user.email.as_deref(), Some("alice@idp.test"));
    assert_eq!(user.name.as_deref(), Some("Person alice-sub"));
    let accounts = w.accounts(&user.id).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let a = &accounts[0];
    assert_eq!(a.kind, AccountType::Oidc);
    assert_eq!(a.provider, "mock");
    assert_eq!(a.provider_account_id, "alice-sub");
    assert!(
        a.access_token
            .as_deref()
            .is_some_and(|t| t.starts_with("at-"))
    );
    assert!(
        a.refresh_token
            .as_deref()
            .is_some_and(|t| t.starts_with("rt-"))
    );
    assert!(
        a.id_token
            .as_deref()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(
        a.expires_at
            .is_some_and(|e| (now() + 3500..=now() + 3700).contains(&e)),
        "{a:?}"
    );
    assert_eq!(session_id(&w, &mut jar).await, user.id);
    assert_eq!(w.mem.user_sessions(&user.id).await.unwrap().len(), 1);
    assert_eq!(
        w.sign_ins.0.lock().unwrap().clone(),
        vec![(user.id.clone(), "mock".to_owned(), true)]
    );

    // Again, from another browser: the same user, not new, the account's tokens updated.
    let first_access = a.access_token.clone();
    let mut other = Jar::default();
    w.signed_in(&op, &mut other, "mock", &alice()).await;
    assert_eq!(session_id(&w, &mut other).await, user.id);
    let accounts = w.accounts(&user.id).await;
    assert_eq!(accounts.len(), 1);
    assert_ne!(accounts[0].access_token, first_access);
    assert_eq!(w.store.calls("create_user_with_account"), 1);
    assert_eq!(
        w.sign_ins.0.lock().unwrap().last().cloned(),
        Some((user.id.clone(), "mock".to_owned(), false))
    );
}

/// GitHub-style OAuth 2.0 (the `github` preset pointed at the mock): no ID token, no
/// nonce, still PKCE; the profile comes from `GET /user` (numeric `id`), called with the
/// access token and the `User-Agent` GitHub requires.
#[tokio::test]
async fn github_style_oauth2_sign_in_uses_userinfo() {
    let op = MockOp::start().await;
    let w = World::builder()
        .store(Store::Users)
        .provider(op.github())
        .build();
    let person = Person::github(1_234_567, "octocat");
    let mut jar = Jar::default();
    let begun = w.begin(&mut jar, "github").await;
    assert_eq!(
        begun.param("scope").as_deref(),
        Some("read:user user:email")
    );
    assert_eq!(begun.param("nonce"), None);
    assert_eq!(
        begun.param("code_challenge_method").as_deref(),
        Some("S256")
    );
    let auth = op.authorize(&begun.location, &person);
    let res = w.callback(&mut jar, &auth).await;
    assert_signed_in(&res);

    let tokens = op.token_requests();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].status, 200);
    assert_eq!(
        s256(&tokens[0].form["code_verifier"]),
        auth.challenge.clone().unwrap()
    );
    let r = op.records();
    assert_eq!(r.discovery_fetches, 0);
    assert_eq!(r.jwks_fetches, 0);
    assert_eq!(r.userinfo.len(), 1);
    assert_eq!(r.userinfo[0].path, "/user");
    assert_eq!(r.userinfo[0].status, 200);
    assert_eq!(r.userinfo[0].user_agent.as_deref(), Some("portcullis"));

    let s = w.session(&mut jar).await;
    assert_eq!(s["user"]["name"], "The octocat");
    assert_eq!(s["user"]["email"], "octocat@github.test");
    assert_eq!(
        s["user"]["image"],
        "https://avatars.githubusercontent.test/u/1234567"
    );
    let user = w.user_of("github", "1234567").await.expect("user row");
    assert_eq!(s["user"]["id"], user.id.as_str());
    let accounts = w.accounts(&user.id).await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].kind, AccountType::OAuth);
    assert_eq!(accounts[0].id_token, None);
    let calls = w.app.jwt_calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].is_new_user);
    assert_eq!(calls[0].provider.as_deref(), Some("github"));
    assert_eq!(calls[0].profile.as_ref().unwrap()["id"], 1_234_567);
}

/// RP-initiated logout: sign-out sends the browser to the provider's `end_session_endpoint`
/// with `id_token_hint`, `client_id` and `post_logout_redirect_uri`.
#[tokio::test]
async fn rp_initiated_logout_goes_to_the_end_session_endpoint() {
    let op = MockOp::start().await;
    let w = World::builder()
        .store(Store::None)
        .provider(op.oidc("mock").rp_initiated_logout(true))
        .build();
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &alice()).await;
    let csrf = w.csrf(&mut jar).await;
    let res = w
        .send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    let location = url::Url::parse(res.location().unwrap()).unwrap();
    assert!(
        location.as_str().starts_with(&op.url("/end_session?")),
        "{location}"
    );
    let q: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    let hint = q.get("id_token_hint").expect("id_token_hint");
    let payload: Value = serde_json::from_slice(&unb64(hint.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(payload["sub"], "alice-sub");
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert!(
        q.get("post_logout_redirect_uri")
            .is_some_and(|u| u.starts_with(ORIGIN)),
        "{q:?}"
    );
    let session = res.set_cookie(SESSION_COOKIE).expect("session cleared");
    assert!(session.is_deletion());
}

// ---------------------------------------------------------------------------------------
// §6.6

/// OAU-01: a callback with the right code but no `state` parameter (or an empty one) is
/// refused before any token request.
#[tokio::test]
async fn oau_01_missing_state_param_is_refused() {
    let (op, w) = mock_world(Store::Database).await;
    for state in [None, Some(String::new())] {
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let mut auth = op.authorize(&begun.location, &alice());
        auth.state = state.clone();
        let before = w.writes();
        let res = w.callback(&mut jar, &auth).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
        assert_eq!(
            op.code_exchanges(),
            0,
            "state {state:?}: token request sent"
        );
    }
}

/// OAU-02: the `state` parameter is right but the check cookie is missing, expired (15
/// min), or not a check cookie.
#[tokio::test]
async fn oau_02_missing_or_expired_check_cookie_is_refused() {
    let (op, w) = mock_world(Store::Database).await;
    type Spoil = Box<dyn Fn(&World, &mut Jar)>;
    let cases: Vec<(&str, Spoil)> = vec![
        ("missing", Box::new(|_, jar| jar.remove(CHECK_COOKIE))),
        (
            "expired a second ago",
            Box::new(|w, jar| w.reseal_check(jar, |v| v["exp"] = json!(now() - 1))),
        ),
        (
            "expired exactly now",
            Box::new(|w, jar| w.reseal_check(jar, |v| v["exp"] = json!(now()))),
        ),
        (
            "minted 16 minutes ago",
            Box::new(|w, jar| w.reseal_check(jar, |v| v["exp"] = json!(now() + 900 - 960))),
        ),
        ("empty", Box::new(|_, jar| jar.set(CHECK_COOKIE, ""))),
        (
            "garbage",
            Box::new(|_, jar| jar.set(CHECK_COOKIE, "not-a-sealed-check")),
        ),
        (
            "truncated",
            Box::new(|_, jar| {
                let v = jar.get(CHECK_COOKIE).unwrap().to_owned();
                jar.set(CHECK_COOKIE, &v[..v.len() - 4]);
            }),
        ),
        (
            "a session token in its place",
            Box::new(|w, jar| {
                let token = w.seal(&json!({"sub": "x", "exp": now() + 600, "iat": now()}));
                jar.set(CHECK_COOKIE, &token);
            }),
        ),
    ];
    for (what, spoil) in cases {
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let auth = op.authorize(&begun.location, &alice());
        spoil(&w, &mut jar);
        let before = w.writes();
        let res = w.callback(&mut jar, &auth).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
        assert_eq!(op.code_exchanges(), 0, "{what}: token request sent");
    }
}

/// OAU-03: a `state` parameter other than the check cookie's — the attacker's own valid
/// state, a random one, one character changed — or a check minted for another provider.
/// Refused, the check cookie cleared, no token request.
#[tokio::test]
async fn oau_03_state_mismatch_is_refused_and_the_check_cleared() {
    let op = MockOp::start().await;
    let w = World::builder()
        .provider(op.oidc("mock"))
        .provider(op.oidc("other"))
        .build();
    let mut attacker = Jar::default();
    let attackers = w.begin(&mut attacker, "mock").await.state();
    let flip = |s: &str| {
        let mut c: Vec<char> = s.chars().collect();
        c[10] = if c[10] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect::<String>()
    };
    for (what, forged) in [
        ("the attacker's state", Some(attackers.clone())),
        ("a random state", Some("c3RhdGUtb2YtbWFsbG9yeQ".to_owned())),
        ("one character changed", None),
    ] {
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let mut auth = op.authorize(&begun.location, &alice());
        auth.state = Some(forged.unwrap_or_else(|| flip(&begun.state())));
        let before = w.writes();
        let res = w.callback(&mut jar, &auth).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
        assert!(jar.get(CHECK_COOKIE).is_none(), "{what}: check kept");
        assert_eq!(op.code_exchanges(), 0, "{what}: token request sent");
    }
    // A check minted for provider `other`, its state brought to `/callback/mock`.
    let mut jar = Jar::default();
    let begun = w.begin(&mut jar, "other").await;
    let mut auth = op.authorize(&begun.location, &alice());
    auth.callback_path = "/callback/mock".to_owned();
    let before = w.writes();
    let res = w.callback(&mut jar, &auth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "alice-sub").await;
    assert_eq!(
        op.code_exchanges(),
        0,
        "cross-provider check: token request sent"
    );
}

/// OAU-04: PKCE is always used and never downgraded: every authorization request carries
/// an S256 challenge (OIDC and plain OAuth 2.0), every token request the verifier; without
/// the check cookie (where the verifier lives) no token request is sent; and when an
/// attacker strips the challenge so the provider issues a code without PKCE, portcullis
/// still sends its verifier and the (RFC 9700 §2.1.1) provider refuses the code.
#[tokio::test]
async fn oau_04_pkce_is_always_sent_and_never_downgraded() {
    let op = MockOp::start().await;
    let w = World::builder()
        .provider(op.oidc("mock"))
        .provider(op.github())
        .build();

    // Verifier missing: no check cookie, no token request.
    let mut jar = Jar::default();
    let begun = w.begin(&mut jar, "mock").await;
    let auth = op.authorize(&begun.location, &alice());
    jar.remove(CHECK_COOKIE);
    let before = w.writes();
    let res = w.callback(&mut jar, &auth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "alice-sub").await;
    assert_eq!(op.code_exchanges(), 0);

    // Challenge stripped on the way to the provider: the code has no PKCE binding.
    for provider in ["mock", "github"] {
        let person = Person::github(77, "stripped");
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, provider).await;
        assert_eq!(
            begun.param("code_challenge_method").as_deref(),
            Some("S256")
        );
        let auth = op.authorize_without_pkce(&begun.location, &person);
        let exchanges = op.code_exchanges();
        let before = w.writes();
        let res = w.callback(&mut jar, &auth).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, provider, &person.sub).await;
        let tokens = op.token_requests();
        assert_eq!(tokens.len(), exchanges + 1);
        let last = tokens.last().unwrap();
        assert!(
            last.form
                .get("code_verifier")
                .is_some_and(|v| v.len() >= 43),
            "{provider}: the verifier was not sent: {last:?}"
        );
        assert_eq!(last.status, 400, "{last:?}");
    }

    // Every successful exchange carried the verifier of its challenge (the mock checks).
    for (i, provider) in ["mock", "github"].into_iter().enumerate() {
        let mut jar = Jar::default();
        let person = Person::github(78 + i as u64, &format!("pkce-{provider}"));
        let begun = w.begin(&mut jar, provider).await;
        let auth = op.authorize(&begun.location, &person);
        let res = w.callback(&mut jar, &auth).await;
        assert_signed_in(&res);
        let last = op.token_requests().last().cloned().unwrap();
        assert_eq!(s256(&last.form["code_verifier"]), auth.challenge.unwrap());
    }
}

/// OAU-05: the ID token's `nonce` differs from the one sent, is missing, or is the nonce
/// of another authorization request: refused, the tokens discarded (no userinfo call with
/// them), nothing stored.
#[tokio::test]
async fn oau_05_nonce_mismatch_or_missing_is_refused() {
    let (op, w) = mock_world(Store::Database).await;
    let mut other = Jar::default();
    let others_nonce = w.begin(&mut other, "mock").await.param("nonce").unwrap();
    for (what, nonce) in [
        ("wrong", Some(json!("bm9uY2Utb2YtbWFsbG9yeQ"))),
        ("of another request", Some(json!(others_nonce))),
        ("empty", Some(json!(""))),
        ("not a string", Some(json!(42))),
        ("missing", None),
    ] {
        op.set(|b| {
            b.claims.clear();
            match nonce.clone() {
                Some(n) => b.set_claim("nonce", n),
                None => b.remove_claim("nonce"),
            }
        });
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let auth = op.authorize(&begun.location, &alice());
        let exchanges = op.code_exchanges();
        let userinfo = op.records().userinfo.len();
        let before = w.writes();
        let res = w.callback(&mut jar, &auth).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
        assert_eq!(op.code_exchanges(), exchanges + 1, "{what}");
        assert_eq!(
            op.records().userinfo.len(),
            userinfo,
            "nonce {what}: the access token was used"
        );
    }
}

/// OAU-06: replaying the exact callback URL in the same browser (the check cookie was
/// consumed), or with a copy of the check cookie taken before the first use (the replay
/// guard): refused, no second token request, no second session.
#[tokio::test]
async fn oau_06_replayed_callback_is_refused() {
    let (op, w) = mock_world(Store::Database).await;
    let mut jar = Jar::default();
    let begun = w.begin(&mut jar, "mock").await;
    let auth = op.authorize(&begun.location, &alice());
    let copy = jar.clone();
    w.signed_in_with(&mut jar, &auth).await;
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    assert_eq!(op.code_exchanges(), 1);

    // Same browser, same URL.
    let mut same = jar.clone();
    same.remove(SESSION_COOKIE);
    let before = w.writes();
    let res = w.callback(&mut same, &auth).await;
    assert_configuration(&res);
    assert_eq!(w.writes(), before);
    // With the check cookie copied before the first use.
    let mut replay = copy.clone();
    let res = w.callback(&mut replay, &auth).await;
    assert_configuration(&res);
    assert_eq!(w.writes(), before);
    assert_eq!(op.code_exchanges(), 1, "the code was redeemed twice");
    assert_eq!(w.mem.user_sessions(&user.id).await.unwrap().len(), 1);
}

/// OAU-07: the code and state replayed from a browser without the check cookie (stolen
/// code), or with the thief's own check cookie: refused, no token request — and the
/// victim's own callback still works.
#[tokio::test]
async fn oau_07_stolen_code_in_another_browser_is_refused() {
    let (op, w) = mock_world(Store::Database).await;
    let mut victim = Jar::default();
    let begun = w.begin(&mut victim, "mock").await;
    let auth = op.authorize(&begun.location, &alice());

    let mut thief = Jar::default();
    let before = w.writes();
    let res = w.callback(&mut thief, &auth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "alice-sub").await;

    let mut thief = Jar::default();
    w.begin(&mut thief, "mock").await;
    let res = w.callback(&mut thief, &auth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "alice-sub").await;
    assert_eq!(op.code_exchanges(), 0, "the stolen code was redeemed");

    let res = w.callback(&mut victim, &auth).await;
    assert_signed_in(&res);
}

/// OAU-08: the token endpoint refuses the code (`invalid_grant`, e.g. already used) or the
/// client (`invalid_client`): `ERR(Configuration)`, nothing stored.
#[tokio::test]
async fn oau_08_token_endpoint_errors_are_configuration() {
    let (op, w) = mock_world(Store::Database).await;
    op.set(|b| b.token_fault = Some(OpFault::InvalidGrant));
    let mut jar = Jar::default();
    let before = w.writes();
    let res = w.sign_in(&op, &mut jar, "mock", &alice()).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "alice-sub").await;
    assert_eq!(op.token_requests()[0].status, 400);

    // A code the provider already redeemed (issued once, exchanged twice by the provider's
    // view: the mock marks it used on the first exchange).
    op.set(|b| b.token_fault = None);
    let mut jar = Jar::default();
    let begun = w.begin(&mut jar, "mock").await;
    let auth = op.authorize(&begun.location, &alice());
    let mut early = Jar::default();
    let early_begun = w.begin(&mut early, "mock").await;
    let mut reused = op.authorize(&early_begun.location, &alice());
    reused.code = auth.code.clone();
    let _ = w.callback(&mut jar, &auth).await;
    let res = w.callback(&mut early, &reused).await;
    assert_configuration(&res);

    // Wrong client secret: `invalid_client`.
    let op2 = MockOp::start().await;
    let w2 = World::builder()
        .provider(op2.oidc("mock").client(CLIENT_ID, "not-the-secret"))
        .build();
    let mut jar = Jar::default();
    let before = w2.writes();
    let res = w2.sign_in(&op2, &mut jar, "mock", &alice()).await;
    assert_configuration(&res);
    w2.assert_nothing(&res, before, "mock", "alice-sub").await;
    assert_eq!(op2.token_requests()[0].status, 401);
}

/// OAU-11: RFC 9207. When the metadata promises `iss`, a response without it is refused;
/// `iss` is compared by simple string comparison (a trailing slash, another case, another
/// issuer are all refused) — and also when the metadata does not promise it. No token
/// request for a refused response.
#[tokio::test]
async fn oau_11_iss_parameter_is_required_when_advertised_and_compared_exactly() {
    let (op, w) = mock_world(Store::Database).await;
    op.set(|b| b.iss_parameter_supported = true);
    let wrong = [
        None,
        Some(format!("{}/", op.issuer)),
        Some(op.issuer.replace("http://", "HTTP://")),
        Some("https://attacker.example".to_owned()),
        Some(String::new()),
    ];
    for iss in &wrong {
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let mut auth = op.authorize(&begun.location, &alice());
        assert_eq!(auth.iss.as_deref(), Some(op.issuer.as_str()));
        auth.iss = iss.clone();
        let before = w.writes();
        let res = w.callback(&mut jar, &auth).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
        assert_eq!(op.code_exchanges(), 0, "iss {iss:?}: token request sent");
    }
    // The right one.
    let mut jar = Jar::default();
    let res = w.sign_in(&op, &mut jar, "mock", &alice()).await;
    assert_signed_in(&res);

    // Not advertised: absent is fine, a wrong one is still refused.
    let (op, w) = mock_world(Store::Database).await;
    for iss in wrong.iter().skip(1) {
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let mut auth = op.authorize(&begun.location, &alice());
        assert_eq!(auth.iss, None);
        auth.iss = iss.clone();
        let res = w.callback(&mut jar, &auth).await;
        assert_configuration(&res);
        assert_eq!(op.code_exchanges(), 0, "iss {iss:?}: token request sent");
    }
    let mut jar = Jar::default();
    assert_signed_in(&w.sign_in(&op, &mut jar, "mock", &alice()).await);
}

/// OAU-12: the discovery document names another issuer (a trailing slash, another case,
/// another host, none, not a string): the sign-in is refused before the browser is sent
/// anywhere; once the document is right, it works.
#[tokio::test]
async fn oau_12_discovery_issuer_mismatch_refuses_sign_in() {
    let (op, w) = mock_world(Store::Database).await;
    let (logs, guard) = capture_logs();
    for issuer in [
        json!(format!("{}/", op.issuer)),
        json!(op.issuer.replace("http://", "HTTP://")),
        json!("http://127.0.0.1:1"),
        json!(format!("{}/tenant", op.issuer)),
        Value::Null,
        json!(42),
    ] {
        op.set(|b| b.discovery_issuer = Some(issuer.clone()));
        let mut jar = Jar::default();
        let csrf = w.csrf(&mut jar).await;
        let res = w
            .send(post_form("/signin/mock", &[("csrfToken", &csrf)]).jar(&jar))
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "{issuer}: {res:?}");
        assert_eq!(res.location(), Some(ERR_CONFIGURATION), "{issuer}: {res:?}");
        assert!(
            res.set_cookie(CHECK_COOKIE).is_none(),
            "{issuer}: a check cookie was set"
        );
    }
    drop(guard);
    // A clear log line: the provider, both issuers.
    let logs = logs.text();
    assert!(logs.contains("provider `mock`"), "{logs}");
    assert!(logs.contains(&format!("`{}/`", op.issuer)), "{logs}");
    assert!(logs.contains(&format!("`{}`", op.issuer)), "{logs}");
    assert_eq!(op.records().discovery_fetches, 6);
    assert_eq!(op.records().authorize.len(), 0);
    op.set(|b| b.discovery_issuer = None);
    let mut jar = Jar::default();
    assert_signed_in(&w.sign_in(&op, &mut jar, "mock", &alice()).await);
}

/// Two providers (`corp`, `other`) on two mocks, with the database strategy.
async fn two_providers(
    other: impl FnOnce(&MockOp) -> portcullis::OAuth,
) -> (MockOp, MockOp, World) {
    let corp = MockOp::start().await;
    let op_b = MockOp::start().await;
    let w = World::builder()
        .provider(corp.oidc("corp"))
        .provider(other(&op_b))
        .build();
    (corp, op_b, w)
}

/// Linking while signed in: a sign-in at another provider started in the signed-in
/// session links that account to the current user (whatever its email); an account
/// already linked to someone else is refused.
#[tokio::test]
async fn linking_while_signed_in_adds_the_account_to_the_current_user() {
    let (corp, op_b, w) = two_providers(|op| op.oidc("other")).await;
    let victim = Person::new("victim-corp").email("victim@corp.test", Some(true));
    let mut jar = Jar::default();
    w.signed_in(&corp, &mut jar, "corp", &victim).await;
    let user = w.user_of("corp", "victim-corp").await.unwrap();

    let second = Person::new("victim-other").email("someone-else@other.test", Some(false));
    let res = w.sign_in(&op_b, &mut jar, "other", &second).await;
    assert_signed_in(&res);
    assert_eq!(
        w.user_of("other", "victim-other").await.map(|u| u.id),
        Some(user.id.clone())
    );
    assert_eq!(w.accounts(&user.id).await.len(), 2);
    assert_eq!(session_id(&w, &mut jar).await, user.id);
    assert_eq!(
        w.sign_ins.0.lock().unwrap().last().cloned(),
        Some((user.id.clone(), "other".to_owned(), false))
    );

    // Bob, signed in, tries to link the account that is the victim's.
    let mut bob = Jar::default();
    w.signed_in(&corp, &mut bob, "corp", &Person::new("bob-corp"))
        .await;
    let before = w.writes();
    let res = w.sign_in(&op_b, &mut bob, "other", &second).await;
    assert_signin_error(&res, "OAuthAccountNotLinked");
    assert_eq!(w.store.calls("link_account"), 1);
    assert_eq!(w.writes(), before);
    assert_eq!(
        w.user_of("other", "victim-other").await.map(|u| u.id),
        Some(user.id.clone())
    );
}

/// Linking is an audit event of the user it was linked to (issue #8): `account_linked`
/// with the provider, after the first provider's `sign_in`; the refused attempt to link the
/// same account to another user links nothing and adds nothing to either user's record
/// (`sign_in_failed` without a user: the refusal comes before any account is known).
#[tokio::test]
async fn linking_is_recorded_in_the_audit_log() {
    use portcullis::adapter::AuditAdapter;
    use portcullis::adapter::memory::MemoryAdapter;
    let audit = std::sync::Arc::new(MemoryAdapter::new());
    let corp = MockOp::start().await;
    let op_b = MockOp::start().await;
    let log = audit.clone();
    let w = World::builder()
        .provider(corp.oidc("corp"))
        .provider(op_b.oidc("other"))
        .configure(move |b| b.audit_adapter(log))
        .build();
    let mut jar = Jar::default();
    let victim = Person::new("audited-corp").email("audited@corp.test", Some(true));
    w.signed_in(&corp, &mut jar, "corp", &victim).await;
    let user = w.user_of("corp", "audited-corp").await.unwrap();
    let second = Person::new("audited-other").email("x@other.test", Some(false));
    assert_signed_in(&w.sign_in(&op_b, &mut jar, "other", &second).await);
    let events = audit.audit_events(&user.id, None, 10).await.unwrap();
    let kinds: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.provider.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("sign_in", Some("other")),
            ("account_linked", Some("other")),
            ("sign_in", Some("corp")),
        ]
    );

    let mut bob = Jar::default();
    w.signed_in(&corp, &mut bob, "corp", &Person::new("audited-bob"))
        .await;
    let res = w.sign_in(&op_b, &mut bob, "other", &second).await;
    assert_signin_error(&res, "OAuthAccountNotLinked");
    let bob_id = w.user_of("corp", "audited-bob").await.unwrap().id;
    let bobs = audit.audit_events(&bob_id, None, 10).await.unwrap();
    assert_eq!(
        bobs.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["sign_in"],
        "a refused link is not attributed to the account it was refused for"
    );
    assert_eq!(
        audit.audit_events(&user.id, None, 10).await.unwrap().len(),
        3
    );
}

/// OAU-13: a signed-in victim is sent to `/callback/other` with the attacker's code and
/// state — without a check cookie, with the attacker's check cookie planted in the
/// victim's browser (minted signed out, or minted in the attacker's own signed-in
/// session): refused, nothing linked to the victim, no token request.
#[tokio::test]
async fn oau_13_linking_needs_a_check_minted_in_the_same_session() {
    let (corp, op_b, w) = two_providers(|op| op.oidc("other")).await;
    let victim = Person::new("victim-corp").email("victim@corp.test", Some(true));
    let mut vjar = Jar::default();
    w.signed_in(&corp, &mut vjar, "corp", &victim).await;
    let vuser = w.user_of("corp", "victim-corp").await.unwrap();
    let attacker = Person::new("attacker-other").email("attacker@evil.test", Some(true));

    // The attacker starts a sign-in at `other` in their own browser, signed out.
    let mut ajar = Jar::default();
    let begun = w.begin(&mut ajar, "other").await;
    let auth = op_b.authorize(&begun.location, &attacker);
    let before = w.writes();
    let res = w.callback(&mut vjar.clone(), &auth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "other", "attacker-other")
        .await;

    // Cookie tossing: the attacker's check cookie in the victim's browser.
    let mut tossed = vjar.clone();
    tossed.set(CHECK_COOKIE, ajar.get(CHECK_COOKIE).unwrap());
    let res = w.callback(&mut tossed, &auth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "other", "attacker-other")
        .await;

    // The attacker, signed in as themselves, starts a link and tosses that check.
    let mut ajar = Jar::default();
    w.signed_in(&corp, &mut ajar, "corp", &Person::new("attacker-corp"))
        .await;
    let begun = w.begin(&mut ajar, "other").await;
    let auth = op_b.authorize(&begun.location, &attacker);
    let mut tossed = vjar.clone();
    tossed.set(CHECK_COOKIE, ajar.get(CHECK_COOKIE).unwrap());
    let before = w.writes();
    let res = w.callback(&mut tossed, &auth).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "other", "attacker-other")
        .await;

    assert_eq!(op_b.code_exchanges(), 0, "an attacker's code was redeemed");
    assert_eq!(w.accounts(&vuser.id).await.len(), 1);
    // The victim's session is untouched.
    assert_eq!(session_id(&w, &mut vjar).await, vuser.id);
}

/// OAU-14: a new sign-in at another provider whose email is an existing user's (in any
/// case or with spaces), linking not enabled: `OAuthAccountNotLinked`, no account created
/// — for an OIDC provider that says the email is verified and for a GitHub-style one.
#[tokio::test]
async fn oau_14_email_collision_without_linking_is_account_not_linked() {
    let corp = MockOp::start().await;
    let op_b = MockOp::start().await;
    let w = World::builder()
        .provider(corp.oidc("corp"))
        .provider(op_b.oidc("other"))
        .provider(op_b.github())
        .build();
    let ada = Person::new("ada-corp").email("ada@example.test", Some(true));
    let mut jar = Jar::default();
    w.signed_in(&corp, &mut jar, "corp", &ada).await;
    let ada_user = w.user_of("corp", "ada-corp").await.unwrap();

    for (i, email) in ["ada@example.test", "ADA@Example.TEST", " ada@example.test "]
        .into_iter()
        .enumerate()
    {
        for provider in ["other", "github"] {
            let mut mallory = Person::github(900 + i as u64, "mallory");
            mallory.email = Some(email.to_owned());
            mallory.email_verified = Some(json!(true));
            let mut jar = Jar::default();
            let before = w.writes();
            let res = w.sign_in(&op_b, &mut jar, provider, &mallory).await;
            assert_signin_error(&res, "OAuthAccountNotLinked");
            w.assert_nothing(&res, before, provider, &mallory.sub).await;
        }
    }
    assert_eq!(w.accounts(&ada_user.id).await.len(), 1);
}

/// OAU-15: with dangerous email linking enabled, the email must be verified: `false`,
/// missing, `"false"`, `1`, `"yes"` — and GitHub's (never verified) — are refused; `true`
/// links to the existing user.
#[tokio::test]
async fn oau_15_dangerous_linking_needs_email_verified_true() {
    let corp = MockOp::start().await;
    let op_b = MockOp::start().await;
    let w = World::builder()
        .provider(corp.oidc("corp"))
        .provider(op_b.oidc("other").dangerous_email_account_linking(true))
        .provider(op_b.github().dangerous_email_account_linking(true))
        .build();
    let ada = Person::new("ada-corp").email("ada@example.test", Some(true));
    let mut jar = Jar::default();
    w.signed_in(&corp, &mut jar, "corp", &ada).await;
    let ada_user = w.user_of("corp", "ada-corp").await.unwrap();

    for (i, verified) in [
        Some(json!(false)),
        None,
        Some(json!("false")),
        Some(json!(1)),
        Some(json!("yes")),
        Some(Value::Null),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = Person::new(&format!("other-{i}"));
        p.email = Some("ada@example.test".to_owned());
        p.email_verified = verified.clone();
        let mut jar = Jar::default();
        let before = w.writes();
        let res = w.sign_in(&op_b, &mut jar, "other", &p).await;
        assert_signin_error(&res, "OAuthAccountNotLinked");
        w.assert_nothing(&res, before, "other", &p.sub).await;
    }
    let mut gh = Person::github(4242, "ada");
    gh.email = Some("ada@example.test".to_owned());
    gh.email_verified = Some(json!(true));
    let mut jar = Jar::default();
    let before = w.writes();
    let res = w.sign_in(&op_b, &mut jar, "github", &gh).await;
    assert_signin_error(&res, "OAuthAccountNotLinked");
    w.assert_nothing(&res, before, "github", "4242").await;
    assert_eq!(w.accounts(&ada_user.id).await.len(), 1);

    // Verified: linked to Ada.
    let p = Person::new("other-verified").email("Ada@Example.test", Some(true));
    let mut jar = Jar::default();
    let res = w.sign_in(&op_b, &mut jar, "other", &p).await;
    assert_signed_in(&res);
    assert_eq!(
        w.user_of("other", "other-verified").await.map(|u| u.id),
        Some(ada_user.id.clone())
    );
    assert_eq!(session_id(&w, &mut jar).await, ada_user.id);
}

/// OAU-16: two providers return the same `sub` for two people: two users — with a store
/// (two rows) and without (two stable ids).
#[tokio::test]
async fn oau_16_same_sub_at_two_providers_is_two_users() {
    for store in [Store::Database, Store::None] {
        let a = MockOp::start().await;
        let b = MockOp::start().await;
        let w = World::builder()
            .store(store)
            .provider(a.oidc("idp-a"))
            .provider(b.oidc("idp-b"))
            .build();
        let at_a = Person::new("shared-sub").email("first@a.test", Some(true));
        let at_b = Person::new("shared-sub").email("second@b.test", Some(true));
        let (mut ja, mut jb) = (Jar::default(), Jar::default());
        w.signed_in(&a, &mut ja, "idp-a", &at_a).await;
        w.signed_in(&b, &mut jb, "idp-b", &at_b).await;
        let (ida, idb) = (session_id(&w, &mut ja).await, session_id(&w, &mut jb).await);
        assert_ne!(ida, idb, "{store:?}: one user for two people");
        assert_eq!(w.session(&mut ja).await["user"]["email"], "first@a.test");
        assert_eq!(w.session(&mut jb).await["user"]["email"], "second@b.test");
        if store == Store::Database {
            assert_eq!(w.user_of("idp-a", "shared-sub").await.unwrap().id, ida);
            assert_eq!(w.user_of("idp-b", "shared-sub").await.unwrap().id, idb);
            assert_eq!(w.accounts(&ida).await.len(), 1);
            assert_eq!(w.accounts(&idb).await.len(), 1);
        }
    }
}

/// OAU-17: the provider answers with an error (`access_denied` and the other RFC 6749
/// codes, with hostile `error_description`/`error_uri`, even alongside a `code`):
/// `SIGNIN_ERR(OAuthCallbackError)`, nothing reflected, nothing stored, no token request.
/// An error response with a wrong `state` is `ERR(Configuration)`.
#[tokio::test]
async fn oau_17_provider_error_response_is_oauth_callback_error() {
    let (op, w) = mock_world(Store::Database).await;
    for (error, extra) in [
        ("access_denied", ""),
        (
            "server_error",
            "&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_uri=https%3A%2F%2Fevil.example",
        ),
        ("temporarily_unavailable", ""),
        ("login_required", "&code=CODE"),
        ("%22%3E%3Cimg%20src%3Dx%3E", ""),
    ] {
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let auth = op.authorize(&begun.location, &alice());
        let path = format!(
            "/callback/mock?error={error}&state={}{}",
            enc(&begun.state()),
            extra.replace("CODE", &auth.code)
        );
        let before = w.writes();
        let res = w.get_callback(&mut jar, &path).await;
        assert_signin_error(&res, "OAuthCallbackError");
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
        assert!(!res.everything().contains("script"), "{res:?}");
        assert!(!res.everything().contains("evil.example"), "{res:?}");
    }
    assert_eq!(op.code_exchanges(), 0);

    let mut jar = Jar::default();
    w.begin(&mut jar, "mock").await;
    let res = w
        .get_callback(&mut jar, "/callback/mock?error=access_denied&state=forged")
        .await;
    assert_configuration(&res);
}

/// The provider's cross-site `POST /callback/mock` (`form_post`): only the `SameSite=None`
/// check cookie comes with it, no CSRF token.
async fn form_post(w: &World, issuer: &str, check: &str, pairs: &[(String, String)]) -> Res {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = post_form("/callback/mock", &pairs)
        .header("origin", issuer)
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .cookie_header(&format!("{CHECK_COOKIE}={check}"));
    w.send(req).await
}

/// OAU-18: `response_mode=form_post`: the authorization request asks for it, the check
/// cookie is `SameSite=None` (it must come with the provider's cross-site POST), and the
/// POST callback — cross-site, without a CSRF token — signs in with a valid state and is
/// refused with an invalid or missing one.
#[tokio::test]
async fn oau_18_form_post_callback_needs_no_csrf_token() {
    let op = MockOp::start().await;
    let w = World::builder()
        .provider(op.oidc("mock").param("response_mode", "form_post"))
        .build();
    let mut jar = Jar::default();
    let begun = w.begin(&mut jar, "mock").await;
    let check = begun.res.set_cookie(CHECK_COOKIE).unwrap();
    assert_eq!(check.attr("SameSite"), Some(Some("None")), "{}", check.raw);
    assert!(check.has("Secure"), "{}", check.raw);
    assert_eq!(
        begun.param("response_mode").as_deref(),
        Some("form_post"),
        "the authorization request does not ask for form_post: {}",
        begun.location
    );
    let auth = op.authorize(&begun.location, &alice());
    // Only the SameSite=None check cookie comes with a cross-site POST.
    let res = form_post(
        &w,
        &op.issuer,
        jar.get(CHECK_COOKIE).unwrap(),
        &auth.pairs(),
    )
    .await;
    assert_signed_in(&res);
    assert!(w.user_of("mock", "alice-sub").await.is_some());

    for forged in [Some("forged-state"), Some(""), None] {
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let mut auth = op.authorize(&begun.location, &Person::new("form-post-2"));
        auth.state = forged.map(str::to_owned);
        let before = w.writes();
        let res = form_post(
            &w,
            &op.issuer,
            jar.get(CHECK_COOKIE).unwrap(),
            &auth.pairs(),
        )
        .await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "form-post-2").await;
    }
    assert_eq!(op.code_exchanges(), 1);
}

/// OAU-19: two sign-ins started in two tabs of one browser (the second check cookie
/// replaces the first). Whatever the order, no session is ever cross-wired: the newer tab
/// completes, the older fails cleanly; a callback pairing one tab's state with the other's
/// code fails at the provider (PKCE).
#[tokio::test]
async fn oau_19_two_tabs_never_cross_wire() {
    let (op, w) = mock_world(Store::Database).await;
    let one = Person::new("tab-one");
    let two = Person::new("tab-two");

    // Newer first, then the older.
    let mut jar = Jar::default();
    let b1 = w.begin(&mut jar, "mock").await;
    let b2 = w.begin(&mut jar, "mock").await;
    let a1 = op.authorize(&b1.location, &one);
    let a2 = op.authorize(&b2.location, &two);
    assert_signed_in(&w.callback(&mut jar, &a2).await);
    let before = w.writes();
    let res = w.callback(&mut jar, &a1).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "tab-one").await;
    let two_id = w.user_of("mock", "tab-two").await.unwrap().id;
    assert_eq!(session_id(&w, &mut jar).await, two_id);

    // Older first: it fails cleanly; the newer one then completes or fails cleanly, and a
    // session, if any, is tab two's.
    let mut jar = Jar::default();
    let b1 = w.begin(&mut jar, "mock").await;
    let b2 = w.begin(&mut jar, "mock").await;
    let a1 = op.authorize(&b1.location, &one);
    let a2 = op.authorize(&b2.location, &two);
    let before = w.writes();
    let res = w.callback(&mut jar, &a1).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "tab-one").await;
    let res = w.callback(&mut jar, &a2).await;
    assert_check_deleted(&res);
    if res.location() != Some(ERR_CONFIGURATION) {
        assert_signed_in(&res);
        assert_eq!(session_id(&w, &mut jar).await, two_id);
    }

    // Tab two's state with tab one's code: the verifier is tab two's, the code was bound
    // to tab one's challenge.
    let mut jar = Jar::default();
    let b1 = w.begin(&mut jar, "mock").await;
    let b2 = w.begin(&mut jar, "mock").await;
    let a1 = op.authorize(&b1.location, &Person::new("tab-three"));
    let a2 = op.authorize(&b2.location, &two);
    let mut crossed = a1.clone();
    crossed.state = a2.state.clone();
    let before = w.writes();
    let res = w.callback(&mut jar, &crossed).await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "tab-three").await;
    assert_eq!(op.token_requests().last().unwrap().status, 400);
}

/// OAU-20: a provider that is slow (30 s, the provider timeout is 1 s) or answers HTML,
/// garbage or an unusable token response: `ERR(Configuration)`, nothing stored. (The
/// answer is bounded by the 20 s cap of [`within`]; no duration is asserted.)
#[tokio::test]
async fn oau_20_slow_or_garbage_provider_answers_are_configuration() {
    let slow = OpFault::Slow(Duration::from_secs(30));
    type Setup = Box<dyn Fn(&mut Behaviour)>;
    let cases: Vec<(&str, Setup)> = vec![
        (
            "token endpoint slow",
            Box::new(move |b| b.token_fault = Some(slow.clone())),
        ),
        (
            "userinfo slow",
            Box::new(|b| b.userinfo_fault = Some(OpFault::Slow(Duration::from_secs(30)))),
        ),
        (
            "token endpoint HTML 500",
            Box::new(|b| b.token_fault = Some(OpFault::Html500)),
        ),
        (
            "token endpoint HTML 200",
            Box::new(|b| b.token_fault = Some(OpFault::Garbage200)),
        ),
        (
            "token endpoint JSON array",
            Box::new(|b| b.token_fault = Some(OpFault::NotAnObject)),
        ),
        (
            "token endpoint down",
            Box::new(|b| b.token_fault = Some(OpFault::Down)),
        ),
        (
            "no access_token",
            Box::new(|b| b.token_overrides.push(("access_token".into(), None))),
        ),
        (
            "access_token not a string",
            Box::new(|b| {
                b.token_overrides
                    .push(("access_token".into(), Some(json!(1))))
            }),
        ),
        (
            "token_type mac",
            Box::new(|b| {
                b.token_overrides
                    .push(("token_type".into(), Some(json!("mac"))))
            }),
        ),
        (
            "expires_in negative",
            Box::new(|b| {
                b.token_overrides
                    .push(("expires_in".into(), Some(json!(-5))))
            }),
        ),
        (
            "no id_token",
            Box::new(|b| b.token_overrides.push(("id_token".into(), None))),
        ),
        (
            "id_token not a JWT",
            Box::new(|b| {
                b.token_overrides
                    .push(("id_token".into(), Some(json!("<html>"))))
            }),
        ),
        (
            "token response of 300 KiB",
            Box::new(|b| {
                b.token_overrides
                    .push(("padding".into(), Some(json!("x".repeat(300 * 1024)))));
            }),
        ),
        (
            "userinfo of 300 KiB",
            Box::new(|b| {
                b.userinfo_extra
                    .push(("padding".into(), json!("x".repeat(300 * 1024))));
            }),
        ),
        (
            "userinfo HTML 500",
            Box::new(|b| b.userinfo_fault = Some(OpFault::Html500)),
        ),
        (
            "userinfo HTML 200",
            Box::new(|b| b.userinfo_fault = Some(OpFault::Garbage200)),
        ),
        (
            "userinfo JSON array",
            Box::new(|b| b.userinfo_fault = Some(OpFault::NotAnObject)),
        ),
    ];
    for (what, setup) in cases {
        let op = MockOp::start().await;
        let w = World::builder()
            .provider(op.oidc("mock").timeout(Duration::from_secs(1)))
            .build();
        op.set(|b| setup(b));
        let mut jar = Jar::default();
        let before = w.writes();
        let res = within(what, w.sign_in(&op, &mut jar, "mock", &alice())).await;
        assert_eq!(res.location(), Some(ERR_CONFIGURATION), "{what}: {res:?}");
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
    }
}

/// OAU-20 for GitHub-style providers: a slow or HTML userinfo endpoint.
#[tokio::test]
async fn oau_20_slow_or_garbage_userinfo_of_an_oauth2_provider_is_configuration() {
    for (what, fault) in [
        ("slow", OpFault::Slow(Duration::from_secs(30))),
        ("HTML", OpFault::Html500),
        ("garbage", OpFault::Garbage200),
    ] {
        let op = MockOp::start().await;
        let w = World::builder()
            .provider(op.github().timeout(Duration::from_secs(1)))
            .build();
        op.set(|b| b.userinfo_fault = Some(fault.clone()));
        let mut jar = Jar::default();
        let before = w.writes();
        let person = Person::github(5, "slow");
        let res = within(what, w.sign_in(&op, &mut jar, "github", &person)).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "github", "5").await;
    }
}

/// OAU-21: the expected issuer is never derived from the token: an ID token naming another
/// tenant's issuer (with a `tid`) is refused and causes no discovery of that tenant; the
/// Entra preset refuses multi-tenant issuers (`common`, `organizations`, `consumers`) at
/// startup; a discovery document naming the `{tenantid}` template fails closed.
#[tokio::test]
async fn oau_21_issuer_is_never_taken_from_the_token() {
    for iss in [
        "{op}/tenant-b/v2.0",
        "https://login.microsoftonline.com/tenant-b/v2.0",
    ] {
        let (op, w) = mock_world(Store::Database).await;
        let iss = iss.replace("{op}", &op.issuer);
        op.set(|b| {
            b.set_claim("iss", json!(iss));
            b.set_claim("tid", json!("tenant-b"));
        });
        let mut jar = Jar::default();
        let before = w.writes();
        let res = w.sign_in(&op, &mut jar, "mock", &alice()).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
        let r = op.records();
        assert_eq!(r.discovery_fetches, 1, "{:?}", r.requests);
        assert!(
            !r.requests.iter().any(|p| p.contains("tenant-b")),
            "{:?}",
            r.requests
        );
    }

    // The Entra preset refuses a multi-tenant issuer at startup (fail closed, clear
    // message), whatever the host.
    let op = MockOp::start().await;
    for tenant in ["common", "organizations", "consumers"] {
        for base in [op.issuer.as_str(), "https://login.microsoftonline.com"] {
            let err = portcullis::AuthConfig::builder(portcullis::DefaultCallbacks)
                .secret(SECRET)
                .url(ORIGIN)
                .oauth(
                    portcullis::providers::microsoft_entra_id(format!("{base}/{tenant}/v2.0"))
                        .client(CLIENT_ID, CLIENT_SECRET),
                )
                .build()
                .expect_err("a multi-tenant issuer was accepted");
            assert!(err.to_string().contains("multi-tenant"), "{err}");
        }
    }
    // A provider whose discovery names the `{tenantid}` template (what Entra's `common`
    // document does): no sign-in.
    op.set(|b| b.discovery_issuer = Some(json!(format!("{}/{{tenantid}}/v2.0", op.issuer))));
    let w = World::builder().provider(op.oidc("mock")).build();
    let mut jar = Jar::default();
    let csrf = w.csrf(&mut jar).await;
    let res = w
        .send(post_form("/signin/mock", &[("csrfToken", &csrf)]).jar(&jar))
        .await;
    assert_eq!(res.location(), Some(ERR_CONFIGURATION), "{res:?}");
    assert!(res.set_cookie(CHECK_COOKIE).is_none());
}

/// RACE-04: two parallel callbacks of a first sign-in of the same person (double click in
/// two tabs: two check cookies, two codes): one user, one account row; each answer is a
/// sign-in as that user or a clean error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_04_parallel_first_callbacks_create_one_user() {
    let (op, w) = mock_world(Store::Database).await;
    let person = Person::new("race-sub").email("race@idp.test", Some(true));
    let (mut j1, mut j2) = (Jar::default(), Jar::default());
    let b1 = w.begin(&mut j1, "mock").await;
    let b2 = w.begin(&mut j2, "mock").await;
    let a1 = op.authorize(&b1.location, &person);
    let a2 = op.authorize(&b2.location, &person);
    // Hold the first creation so the second request looks the account up before it
    // exists (the outcome asserted holds for any interleaving).
    w.store.interleave(true);
    w.store
        .delay_next("create_user_with_account", Duration::from_millis(500));
    let (r1, r2) = tokio::join!(w.callback(&mut j1, &a1), w.callback(&mut j2, &a2));
    let user = w.user_of("mock", "race-sub").await.expect("one user");
    assert_eq!(w.accounts(&user.id).await.len(), 1);
    assert_eq!(
        w.mem
            .user_by_email("race@idp.test")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(user.id.clone())
    );
    let mut signed_in = 0;
    for (res, jar) in [(&r1, &mut j1), (&r2, &mut j2)] {
        assert_check_deleted(res);
        let location = res.location().unwrap_or_default().to_owned();
        if location.contains("error=") {
            assert!(
                location == ERR_CONFIGURATION
                    || location.ends_with("/signin?error=OAuthAccountNotLinked"),
                "{res:?}"
            );
            assert_no_session(res);
        } else {
            assert_signed_in(res);
            assert_eq!(session_id(&w, jar).await, user.id);
            signed_in += 1;
        }
    }
    assert!(signed_in >= 1, "neither callback signed in: {r1:?} {r2:?}");
}

/// The HTTP method matters only for `form_post` providers: a `PUT` callback is refused by
/// the router, never reaching the provider.
#[tokio::test]
async fn callback_with_another_method_is_refused() {
    let (op, w) = mock_world(Store::Database).await;
    let res = w
        .send(Req::new(
            Method::PUT,
            "/api/auth/callback/mock?code=x&state=y",
        ))
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(op.code_exchanges(), 0);
}

/// OIDC Core §5.3.2 (token substitution): a userinfo answer for another subject (another
/// `sub`, a number, null) is never used: the sign-in is refused.
#[tokio::test]
async fn oidc_userinfo_sub_mismatch_is_refused() {
    for (what, sub) in [
        ("another sub", json!("someone-else")),
        ("sub as a number", json!(12345)),
        ("sub null", Value::Null),
        ("sub with a trailing space", json!("alice-sub ")),
    ] {
        let (op, w) = mock_world(Store::Database).await;
        op.set(|b| b.userinfo_extra.push(("sub".into(), sub.clone())));
        let mut jar = Jar::default();
        let before = w.writes();
        let res = w.sign_in(&op, &mut jar, "mock", &alice()).await;
        assert_eq!(res.location(), Some(ERR_CONFIGURATION), "{what}: {res:?}");
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
        assert_eq!(op.records().userinfo.len(), 1, "{what}");
    }
}

/// RFC 6749 §2.3.1: with `client_secret_basic` the id and secret are form-urlencoded before
/// Basic encoding (a secret with `:`, `+`, `%`, `/`, non-ASCII works); with
/// `client_secret_post` they travel in the body and no `Authorization` header is sent.
#[tokio::test]
async fn client_authentication_follows_rfc6749() {
    let secret = "s3cr:t/+%&= ü";
    for (method, expected) in [
        (
            portcullis::TokenAuthMethod::ClientSecretBasic,
            ClientAuth::Basic,
        ),
        (
            portcullis::TokenAuthMethod::ClientSecretPost,
            ClientAuth::Post,
        ),
    ] {
        let op = MockOp::start().await;
        op.set(|b| b.client_secret = secret.to_owned());
        let w = World::builder()
            .provider(op.oidc("mock").client(CLIENT_ID, secret).token_auth(method))
            .build();
        let mut jar = Jar::default();
        w.signed_in(&op, &mut jar, "mock", &alice()).await;
        assert_eq!(op.token_requests()[0].auth, expected, "{method:?}");
    }
}

/// A profile mapping that fails, panics, or yields no usable id: `ERR(Configuration)`,
/// never a 5xx, nothing stored.
#[tokio::test]
async fn profile_mapping_errors_are_configuration() {
    type Map = fn(&Value) -> Result<portcullis::Profile, portcullis::ProfileError>;
    let cases: [(&str, Map); 4] = [
        ("error", |_| Err(portcullis::ProfileError("no".into()))),
        ("panic", |_| panic!("profile mapping bug")),
        ("empty id", |_| Ok(portcullis::Profile::new(""))),
        ("id of 256 bytes", |_| {
            Ok(portcullis::Profile::new("i".repeat(256)))
        }),
    ];
    for (what, map) in cases {
        let op = MockOp::start().await;
        let w = World::builder()
            .provider(op.oidc("mock").profile(map))
            .build();
        let mut jar = Jar::default();
        let before = w.writes();
        let res = w.sign_in(&op, &mut jar, "mock", &alice()).await;
        assert_eq!(res.location(), Some(ERR_CONFIGURATION), "{what}: {res:?}");
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
    }
}

/// Nothing secret reaches the logs during OAuth sign-ins, failures and refreshes: not the
/// client secret, the code, `state`, `nonce`, PKCE verifier, access/refresh/ID tokens or
/// the session token. (The capture must hold events, so the check is not vacuous.)
#[tokio::test]
async fn oauth_flows_log_no_secret() {
    let (logs, guard) = capture_logs();
    let (op, w) = mock_world(Store::Database).await;
    op.set(|b| b.expires_in = Some(30));
    let mut secrets: Vec<String> = vec![CLIENT_SECRET.to_owned()];

    // A successful sign-in and a refresh.
    let mut jar = Jar::default();
    let begun = w.begin(&mut jar, "mock").await;
    let auth = op.authorize(&begun.location, &alice());
    secrets.extend([
        begun.state(),
        begun.param("nonce").unwrap(),
        auth.code.clone(),
    ]);
    w.signed_in_with(&mut jar, &auth).await;
    w.session(&mut jar).await;
    // Failures: a bad nonce, a token endpoint error, a failed refresh.
    op.set(|b| b.set_claim("nonce", json!("wrong")));
    let mut other = Jar::default();
    let res = w.sign_in(&op, &mut other, "mock", &alice()).await;
    assert_configuration(&res);
    op.set(|b| {
        b.claims.clear();
        b.token_fault = Some(OpFault::InvalidGrant);
    });
    let res = w.sign_in(&op, &mut other, "mock", &alice()).await;
    assert_configuration(&res);
    op.set(|b| b.refresh_fault = Some(OpFault::InvalidGrant));
    let user = w.user_of("mock", "alice-sub").await.unwrap();
    let mut fresh = Jar::default();
    op.set(|b| b.token_fault = None);
    w.signed_in(&op, &mut fresh, "mock", &alice()).await;
    let s = w.session(&mut fresh).await;
    assert_eq!(s["error"], "RefreshTokenError");
    drop(guard);

    for t in op.token_requests() {
        secrets.extend(t.form.values().filter(|v| v.len() >= 20).cloned());
    }
    for a in w.accounts(&user.id).await {
        secrets.extend(a.access_token);
        secrets.extend(a.refresh_token);
        secrets.extend(a.id_token);
    }
    secrets.push(jar.get(SESSION_COOKIE).unwrap().to_owned());
    let logs = logs.text();
    assert!(logs.contains("[auth]"), "no events captured: {logs}");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "logged: {secret}\n{logs}");
    }
}

/// The sign-in's own parameters cannot be overridden from the request that starts it
/// (`signIn(id, opts, params)` sends extra parameters as the query): `state`, `nonce`, the
/// PKCE challenge and method, `redirect_uri`, `client_id`, `response_type` and
/// `response_mode` stay portcullis's, each sent once; a harmless one (`prompt`) passes.
#[tokio::test]
async fn protocol_parameters_cannot_be_overridden_at_sign_in() {
    let (op, w) = mock_world(Store::Database).await;
    let mut jar = Jar::default();
    let csrf = w.csrf(&mut jar).await;
    let query = "state=attacker&nonce=attacker&code_challenge=attacker&code_challenge_method=plain\
                 &redirect_uri=https%3A%2F%2Fevil.example%2Fcb&client_id=evil&response_type=token\
                 &response_mode=fragment&request_uri=https%3A%2F%2Fevil.example%2Freq&prompt=login";
    let res = w
        .send(post_form(&format!("/signin/mock?{query}"), &[("csrfToken", &csrf)]).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    let location = url::Url::parse(res.location().unwrap()).unwrap();
    let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let all = |k: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for k in [
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "redirect_uri",
    ] {
        let v = all(k);
        assert_eq!(v.len(), 1, "{k}: {pairs:?}");
        assert_ne!(v[0], "attacker", "{k}: {pairs:?}");
    }
    assert_eq!(all("code_challenge_method"), vec!["S256"]);
    assert_eq!(
        all("redirect_uri"),
        vec!["https://app.example/api/auth/callback/mock"]
    );
    assert_eq!(all("client_id"), vec![CLIENT_ID]);
    assert_eq!(all("response_type"), vec!["code"]);
    assert!(all("response_mode").is_empty(), "{pairs:?}");
    assert!(all("request_uri").is_empty(), "{pairs:?}");
    assert_eq!(all("prompt"), vec!["login"]);
    // The flow still completes with portcullis's values.
    jar.apply(&res);
    let auth = op.authorize(location.as_str(), &alice());
    w.signed_in_with(&mut jar, &auth).await;
}

/// RFC 9700 §2.1 (no open redirector): the `callbackUrl` of the sign-in is kept in the
/// check and only a same-origin one is followed after the callback.
#[tokio::test]
async fn callback_url_of_the_sign_in_stays_on_the_origin() {
    let (op, w) = mock_world(Store::Database).await;
    for asked in [
        "/account?tab=1",
        "https://evil.example/steal",
        "//evil.example/steal",
        "https:evil.example",
        "/\\evil.example",
    ] {
        let mut jar = Jar::default();
        let begun = w
            .begin_with(&mut jar, "mock", &[("callbackUrl", asked)])
            .await;
        let auth = op.authorize(&begun.location, &alice());
        let res = w.signed_in_with(&mut jar, &auth).await;
        let location = res.location().unwrap();
        assert_same_origin(location, ORIGIN, asked);
        if asked == "/account?tab=1" {
            assert_eq!(location, "https://app.example/account?tab=1");
        }
    }
}

/// A callback with a valid state but no `code` (or an empty one) is refused without a
/// token request.
#[tokio::test]
async fn callback_without_code_is_refused() {
    let (op, w) = mock_world(Store::Database).await;
    for code in ["", "__absent__"] {
        let mut jar = Jar::default();
        let begun = w.begin(&mut jar, "mock").await;
        let path = if code == "__absent__" {
            format!("/callback/mock?state={}", enc(&begun.state()))
        } else {
            format!("/callback/mock?code=&state={}", enc(&begun.state()))
        };
        let before = w.writes();
        let res = w.get_callback(&mut jar, &path).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "alice-sub").await;
    }
    assert_eq!(op.code_exchanges(), 0);
}

/// OAU-06 across instances: the replay guard is per process, so a copied check cookie
/// replayed at another instance of the deployment passes it — and then the provider
/// refuses the used code: still `ERR(Configuration)`, no second session, nothing stored.
#[tokio::test]
async fn oau_06_replay_at_another_instance_is_refused_by_the_provider() {
    let op = MockOp::start().await;
    let a = World::builder().provider(op.oidc("mock")).build();
    let b = World::builder()
        .memory(a.mem.clone())
        .provider(op.oidc("mock"))
        .build();
    let mut jar = Jar::default();
    let begun = a.begin(&mut jar, "mock").await;
    let auth = op.authorize(&begun.location, &alice());
    let copy = jar.clone();
    a.signed_in_with(&mut jar, &auth).await;
    let user = a.user_of("mock", "alice-sub").await.unwrap();

    let mut replay = copy;
    let res = b.callback(&mut replay, &auth).await;
    assert_configuration(&res);
    assert_eq!(b.writes(), 0);
    assert_eq!(op.token_requests().last().unwrap().status, 400);
    assert_eq!(a.mem.user_sessions(&user.id).await.unwrap().len(), 1);
}
