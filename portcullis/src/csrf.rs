//! The double-submit CSRF token of Auth.js (PROTOCOL.md §3).
//!
//! The cookie holds `token|sha256hex(token + secret)`; a POST is verified when the cookie's
//! hash is ours and the body's `csrfToken` equals the cookie's token. Both comparisons are
//! constant-time. In secure mode the cookie is `__Host-` prefixed, so a sibling subdomain
//! cannot plant its own pair (SECURITY.md CSRF-05).

use sha2::{Digest, Sha256};

use crate::secret::{ct_eq, hex, random_hex32};

/// The CSRF state of one request.
#[derive(Debug, Clone)]
pub(crate) struct Csrf {
    /// The token the client must echo in `csrfToken`.
    pub(crate) token: String,
    /// The cookie value to set, when the request carried no valid cookie.
    pub(crate) new_cookie: Option<String>,
}

impl Csrf {
    /// Reads the cookie value; if it is missing or its hash is not ours, issues a new token.
    pub(crate) fn from_cookie(cookie: Option<&str>, secret: &str) -> Self {
        if let Some((token, hash)) = cookie.and_then(|c| c.split_once('|'))
            && token.len() <= 128
            && ct_eq(hash.as_bytes(), hash_hex(token, secret).as_bytes())
        {
            return Self {
                token: token.to_owned(),
                new_cookie: None,
            };
        }
        let token = random_hex32();
        let cookie = format!("{token}|{}", hash_hex(&token, secret));
        Self {
            token,
            new_cookie: Some(cookie),
        }
    }

    /// Whether the body token proves the request came from our own page: the cookie must
    /// have been valid (not freshly issued) and the tokens equal.
    pub(crate) fn verify(&self, body_token: Option<&str>) -> bool {
        self.new_cookie.is_none()
            && body_token.is_some_and(|t| ct_eq(t.as_bytes(), self.token.as_bytes()))
    }
}

fn hash_hex(token: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    h.update(secret.as_bytes());
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "test-secret-1234567890";

    #[test]
    fn hash_is_sha256_of_token_then_secret() {
        // echo -n "abcsecret" | sha256sum
        assert_eq!(
            hash_hex("abc", "secret"),
            "a42178b773273f5c9f24387fbea546af537d08b8c06b23631e44878b9ce47f49"
        );
    }

    #[test]
    fn issued_cookie_round_trips_and_verifies() {
        let fresh = Csrf::from_cookie(None, SECRET);
        let cookie = fresh.new_cookie.clone().unwrap();
        assert!(
            !fresh.verify(Some(&fresh.token)),
            "a fresh token never verifies"
        );
        let again = Csrf::from_cookie(Some(&cookie), SECRET);
        assert!(again.new_cookie.is_none());
        assert_eq!(again.token, fresh.token);
        assert!(again.verify(Some(&fresh.token)));
        assert!(!again.verify(None));
        assert!(!again.verify(Some("")));
        let mut wrong = fresh.token.clone();
        wrong.replace_range(63.., "0");
        if wrong == fresh.token {
            wrong.replace_range(63.., "1");
        }
        assert!(!again.verify(Some(&wrong)));
    }

    #[test]
    fn tampered_or_foreign_cookies_are_replaced() {
        // CSRF-04 and KEY-03
        let good = Csrf::from_cookie(None, SECRET).new_cookie.unwrap();
        let (token, _) = good.split_once('|').unwrap();
        for bad in [
            format!("{token}|{}", "0".repeat(64)),
            token.to_owned(),
            String::new(),
            "|".into(),
            format!("{token}|"),
        ] {
            let c = Csrf::from_cookie(Some(&bad), SECRET);
            assert!(c.new_cookie.is_some(), "{bad:?} must be replaced");
            assert!(!c.verify(Some(token)));
        }
        let rotated = Csrf::from_cookie(Some(&good), "another-secret-after-rotation!!");
        assert!(rotated.new_cookie.is_some());
        assert!(!rotated.verify(Some(token)));
    }
}
