//! The OAuth callback's request parsing (feature `oauth`): the query (GET) or form body
//! (`form_post`) with `code`, `state`, `iss`, `error`, …; the sealed check cookie that holds
//! `state`, the PKCE verifier and the nonce; the replay guard; and the token endpoint's JSON
//! answer.
//!
//! Input: a flag (GET query or POST form), a selector for the check cookie (the genuine
//! one minted for this request, one minted for another provider, client or redirect URI, an
//! expired one, or fuzzer bytes), a flag for whether to mint it with the `state` found in the
//! parameters, a clock offset, the raw parameters, then a token-endpoint JSON body.
//!
//! Checks:
//! - parsing never panics;
//! - the check passes exactly when the cookie is genuine, bound to this provider, issuer,
//!   client and redirect URI, not expired, and the response's `state` is non-empty and equal
//!   to the sealed one; fuzzer-written cookies never pass (they are not sealed with the key);
//! - a passed `state` is accepted by the replay guard once, and refused the second time;
//! - a token response that is accepted has a non-empty access token, a `Bearer` (or no)
//!   token type, an expiry within ten years of now, and no empty optional strings.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::fuzzing::{
    CheckBinding, ReplayGuard, open_oauth_check, parse_body, parse_query, seal_oauth_check,
    token_set,
};
use portcullis::jwt::{JweCodec, TokenFormat};
use portcullis_fuzz::{Reader, SECRET};
use serde_json::{Map, Value};

const CHECK_MAX_AGE: i64 = 15 * 60;
/// A fixed "now" (2026-01-01), so that runs are reproducible.
const NOW: i64 = 1_767_225_600;

fn binding() -> CheckBinding {
    CheckBinding {
        provider: "acme".into(),
        issuer: Some("https://idp.example".into()),
        client_id: "fuzz-client".into(),
        redirect_uri: "https://app.example/api/auth/callback/acme".into(),
    }
}

fn codec() -> JweCodec {
    match JweCodec::new(
        &[SECRET.as_bytes()],
        "__Secure-authjs.oauth-check",
        TokenFormat::V5,
        false,
    ) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn param<'m>(params: &'m Map<String, Value>, key: &str) -> Option<&'m str> {
    params.get(key).and_then(Value::as_str)
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let post = r.flag();
    let cookie_kind = r.choose(6);
    let mint_with_their_state = r.flag();
    let clock = i64::from(r.byte()) * 8; // 0 .. 34 minutes after minting
    let raw = r.bytes();
    let token_body = r.rest();

    let params = if post {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        parse_body(&h, raw).unwrap_or_default()
    } else {
        parse_query(std::str::from_utf8(raw).ok())
    };
    let state = param(&params, "state");
    for key in ["code", "iss", "error", "error_description"] {
        let _ = param(&params, key);
    }

    let codec = codec();
    let expect = binding();
    let sealed_state = match (mint_with_their_state, state) {
        (true, Some(s)) if !s.is_empty() => s.to_owned(),
        _ => "a-state-the-fuzzer-cannot-guess-9f8e7d6c5b4a".to_owned(),
    };
    let mut minted_for = expect.clone();
    let mut genuine = true;
    let cookie: Option<String> = match cookie_kind {
        0 => Some(seal_oauth_check(&codec, &expect, &sealed_state, NOW)),
        1 => {
            minted_for.provider = "other".into();
            Some(seal_oauth_check(&codec, &minted_for, &sealed_state, NOW))
        }
        2 => {
            minted_for.client_id = "another-client".into();
            Some(seal_oauth_check(&codec, &minted_for, &sealed_state, NOW))
        }
        3 => {
            minted_for.redirect_uri.push_str("/x");
            Some(seal_oauth_check(&codec, &minted_for, &sealed_state, NOW))
        }
        4 => {
            minted_for.issuer = None;
            Some(seal_oauth_check(&codec, &minted_for, &sealed_state, NOW))
        }
        _ => {
            genuine = false;
            param(&params, "cookie").map(str::to_owned)
        }
    };
    let now = NOW + clock;
    let outcome = open_oauth_check(cookie.as_deref(), &codec, &expect, now, state);
    let should_pass = genuine
        && minted_for == expect
        && now < NOW + CHECK_MAX_AGE
        && state.is_some_and(|s| !s.is_empty() && s == sealed_state);
    assert_eq!(
        outcome.is_ok(),
        should_pass,
        "check outcome {outcome:?} for cookie kind {cookie_kind}, clock {clock}"
    );
    if let Ok(passed) = outcome {
        assert_eq!(passed, sealed_state);
        let guard = ReplayGuard::default();
        let exp = NOW + CHECK_MAX_AGE;
        assert!(guard.first_use(&passed, exp, now));
        assert!(
            !guard.first_use(&passed, exp, now),
            "a state was used twice"
        );
    }

    if let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(token_body)
        && let Ok(tokens) = token_set(&answer, now)
    {
        assert!(!tokens.access_token.is_empty());
        assert!(
            tokens
                .token_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("bearer"))
        );
        if let Some(at) = tokens.expires_at {
            assert!((now..=now + 10 * 365 * 86_400).contains(&at));
        }
        for s in [&tokens.refresh_token, &tokens.scope, &tokens.id_token] {
            assert!(s.as_deref().is_none_or(|s| !s.is_empty()));
        }
    }
});
