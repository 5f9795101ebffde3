//! The OAuth check cookie: `state`, the PKCE verifier and the OIDC `nonce` of one
//! authorization request, sealed (JWE, keyed with the cookie's own name as HKDF salt, so it
//! never decrypts as a session — CVE-2023-48309) and bound to the provider, issuer, client
//! id and redirect URI it was minted for (GHSA-x445-f3h2-j279). It lives 15 minutes and is
//! single use: the callback deletes it, and a replay guard remembers consumed states.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::jwt::JweCodec;
use crate::secret::ct_eq;

/// How long an authorization request may take, in seconds (Auth.js: 15 minutes).
pub(crate) const CHECK_MAX_AGE: i64 = 15 * 60;
/// The `typ` of a check cookie's payload: a value of another kind never passes for it.
const CHECK_TYP: &str = "portcullis/oauth-check";
/// Most consumed states remembered (bounded memory; each entry lives 15 minutes).
const MAX_REMEMBERED: usize = 100_000;

/// What an authorization request was, as the callback needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Check {
    typ: String,
    pub(crate) provider: String,
    pub(crate) issuer: Option<String>,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) verifier: String,
    pub(crate) nonce: Option<String>,
    /// Where to go after the sign-in (already validated as same-origin).
    pub(crate) callback_url: String,
    /// The user signed in when the request started (linking another account), if any.
    pub(crate) link_user: Option<String>,
    /// Expiry, seconds since the epoch: valid while `now < exp`.
    pub(crate) exp: i64,
}

/// Why a check failed; logged as `InvalidCheck`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CheckError {
    #[error("no check cookie (expired, never set, or already used)")]
    Missing,
    #[error("the check cookie does not decrypt or parse")]
    Unreadable,
    #[error("the check cookie has expired")]
    Expired,
    #[error("the check cookie was minted for another provider, issuer, client or redirect URI")]
    Binding,
    #[error("the `state` parameter is missing")]
    StateMissing,
    #[error("the `state` parameter does not match the check cookie")]
    StateMismatch,
}

/// A fresh random value: 32 bytes, base64url (43 characters).
pub(crate) fn random_value() -> String {
    URL_SAFE_NO_PAD.encode(crate::secret::random_bytes::<32>())
}

/// The PKCE `S256` challenge of a verifier (RFC 7636 §4.2).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Check {
    /// A new check for an authorization request bound to `to`: fresh `state`, verifier and
    /// (OIDC) `nonce`.
    pub(crate) fn new(
        to: &Binding<'_>,
        with_nonce: bool,
        callback_url: String,
        link_user: Option<String>,
        now: i64,
    ) -> Self {
        Self {
            typ: CHECK_TYP.to_owned(),
            provider: to.provider.to_owned(),
            issuer: to.issuer.map(str::to_owned),
            client_id: to.client_id.to_owned(),
            redirect_uri: to.redirect_uri.to_owned(),
            state: random_value(),
            verifier: random_value(),
            nonce: with_nonce.then(random_value),
            callback_url,
            link_user,
            exp: now + CHECK_MAX_AGE,
        }
    }

    /// The sealed cookie value.
    pub(crate) fn seal(&self, codec: &JweCodec) -> String {
        // Serialising this struct cannot fail (strings and integers only).
        let json = serde_json::to_vec(self).unwrap_or_default();
        codec.encode(&json)
    }

    /// Opens a cookie value and checks everything but `state`: the kind, the expiry, and
    /// that it belongs to this provider, issuer, client and redirect URI.
    pub(crate) fn open(
        value: Option<&str>,
        codec: &JweCodec,
        expect: &Binding<'_>,
        now: i64,
    ) -> Result<Self, CheckError> {
        let value = value.filter(|v| !v.is_empty()).ok_or(CheckError::Missing)?;
        let plain = codec.decode(value).map_err(|_| CheckError::Unreadable)?;
        let check: Self = serde_json::from_slice(&plain).map_err(|_| CheckError::Unreadable)?;
        if check.typ != CHECK_TYP {
            return Err(CheckError::Unreadable);
        }
        if now >= check.exp {
            return Err(CheckError::Expired);
        }
        if check.provider != expect.provider
            || check.issuer.as_deref() != expect.issuer
            || check.client_id != expect.client_id
            || check.redirect_uri != expect.redirect_uri
        {
            return Err(CheckError::Binding);
        }
        Ok(check)
    }

    /// Compares the response's `state` in constant time.
    pub(crate) fn verify_state(&self, state: Option<&str>) -> Result<(), CheckError> {
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or(CheckError::StateMissing)?;
        if ct_eq(state.as_bytes(), self.state.as_bytes()) {
            Ok(())
        } else {
            Err(CheckError::StateMismatch)
        }
    }
}

/// What a check must be bound to.
pub(crate) struct Binding<'a> {
    pub(crate) provider: &'a str,
    pub(crate) issuer: Option<&'a str>,
    pub(crate) client_id: &'a str,
    pub(crate) redirect_uri: &'a str,
}

/// Remembers consumed states until they would have expired anyway, so a copied check
/// cookie cannot be replayed on this instance (SECURITY.md OAU-06).
#[derive(Default)]
pub(crate) struct ReplayGuard {
    seen: Mutex<HashMap<[u8; 32], i64>>,
}

impl ReplayGuard {
    /// Records `state` as used; `false` when it was already used (or memory is full of
    /// live entries: fail closed).
    pub(crate) fn first_use(&self, state: &str, exp: i64, now: i64) -> bool {
        let key: [u8; 32] = Sha256::digest(state.as_bytes()).into();
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, e| *e > now);
            if seen.len() >= MAX_REMEMBERED {
                return false;
            }
        }
        seen.insert(key, exp).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::TokenFormat;

    fn codec(salt: &str) -> JweCodec {
        JweCodec::new(
            &[b"0123456789abcdef0123456789abcdef".as_slice()],
            salt,
            TokenFormat::V5,
            false,
        )
        .unwrap()
    }

    fn binding() -> Binding<'static> {
        Binding {
            provider: "a",
            issuer: Some("https://idp.example"),
            client_id: "cid",
            redirect_uri: "https://app.example/api/auth/callback/a",
        }
    }

    fn check(now: i64) -> Check {
        Check::new(&binding(), true, "/".into(), None, now)
    }

    #[test]
    fn round_trip_and_state() {
        let c = codec("authjs.oauth-check");
        let chk = check(1000);
        let opened = Check::open(Some(&chk.seal(&c)), &c, &binding(), 1000).unwrap();
        assert_eq!(opened.state, chk.state);
        assert_eq!(opened.verifier.len(), 43);
        assert!(opened.verify_state(Some(&chk.state)).is_ok());
        assert_eq!(opened.verify_state(None), Err(CheckError::StateMissing));
        assert_eq!(
            opened.verify_state(Some("x")),
            Err(CheckError::StateMismatch)
        );
    }

    #[test]
    fn expiry_is_exclusive() {
        // CLK-05: valid at exp - 1, refused at exp and after.
        let c = codec("authjs.oauth-check");
        let chk = check(1000);
        let sealed = chk.seal(&c);
        let exp = 1000 + CHECK_MAX_AGE;
        assert!(Check::open(Some(&sealed), &c, &binding(), exp - 1).is_ok());
        assert_eq!(
            Check::open(Some(&sealed), &c, &binding(), exp).unwrap_err(),
            CheckError::Expired
        );
        assert_eq!(
            Check::open(Some(&sealed), &c, &binding(), exp + 1).unwrap_err(),
            CheckError::Expired
        );
    }

    #[test]
    fn bound_to_provider_issuer_client_and_redirect() {
        let c = codec("authjs.oauth-check");
        let sealed = check(0).seal(&c);
        let mut other = binding();
        other.provider = "b";
        assert_eq!(
            Check::open(Some(&sealed), &c, &other, 1).unwrap_err(),
            CheckError::Binding
        );
        let mut other = binding();
        other.issuer = Some("https://idp.example/");
        assert_eq!(
            Check::open(Some(&sealed), &c, &other, 1).unwrap_err(),
            CheckError::Binding
        );
        let mut other = binding();
        other.client_id = "cid2";
        assert_eq!(
            Check::open(Some(&sealed), &c, &other, 1).unwrap_err(),
            CheckError::Binding
        );
        let mut other = binding();
        other.redirect_uri = "https://app.example/api/auth/callback/b";
        assert_eq!(
            Check::open(Some(&sealed), &c, &other, 1).unwrap_err(),
            CheckError::Binding
        );
    }

    #[test]
    fn other_keys_and_kinds_do_not_open() {
        let sealed = check(0).seal(&codec("authjs.oauth-check"));
        // Another cookie name derives another key: a session codec cannot read it, and
        // the check codec cannot read a session token.
        let session = codec("authjs.session-token");
        assert_eq!(
            Check::open(Some(&sealed), &session, &binding(), 1).unwrap_err(),
            CheckError::Unreadable
        );
        let token = session.encode(br#"{"sub":"1","exp":99999999999}"#);
        let c = codec("authjs.oauth-check");
        assert_eq!(
            Check::open(Some(&token), &c, &binding(), 1).unwrap_err(),
            CheckError::Unreadable
        );
        // The right key but not a check.
        let forged = c.encode(br#"{"typ":"other"}"#);
        assert_eq!(
            Check::open(Some(&forged), &c, &binding(), 1).unwrap_err(),
            CheckError::Unreadable
        );
        assert_eq!(
            Check::open(None, &c, &binding(), 1).unwrap_err(),
            CheckError::Missing
        );
    }

    #[test]
    fn replay_guard_remembers() {
        let g = ReplayGuard::default();
        assert!(g.first_use("s1", 100, 0));
        assert!(!g.first_use("s1", 100, 0));
        assert!(g.first_use("s2", 100, 0));
    }

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
