//! Okta (OpenID Connect).

use crate::provider::oauth::{OAuth, default_profile};

/// Sign in with Okta, an OpenID Connect provider.
///
/// - `issuer` is your authorization server's issuer, exactly as its discovery document
///   names it: a custom one such as `https://<org>.okta.com/oauth2/default`, or the org
///   server `https://<org>.okta.com`.
/// - Callback URL to register ("Sign-in redirect URIs"): `{AUTH_URL}/api/auth/callback/okta`.
/// - Environment: `AUTH_OKTA_ID`, `AUTH_OKTA_SECRET`, `AUTH_OKTA_ISSUER`.
/// - OIDC, scope `openid profile email`. Profile: the standard claims (`sub`, `name` or
///   else `preferred_username`, `email`, `email_verified`, `picture`).
/// - Emails count as verified when Okta's `email_verified` claim is `true`.
///
/// # Examples
/// ```
/// let p = portcullis::providers::okta("https://corp.okta.com/oauth2/default")
///     .client("id", "secret");
/// assert_eq!(p.provider_id(), "okta");
/// ```
pub fn okta(issuer: impl Into<String>) -> OAuth {
    OAuth::oidc("okta", "Okta", issuer)
        .scope("openid profile email")
        .profile(default_profile)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_okta_claims() {
        // An Okta ID token with the `profile` and `email` scopes, as documented.
        let claims = json!({
            "sub": "00uid4BxXw6I6TV4m0g3",
            "name": "John Doe",
            "email": "john.doe@example.com",
            "ver": 1,
            "iss": "https://corp.okta.com/oauth2/default",
            "aud": "0oaoiuhhch8VRtBnC0g3",
            "iat": 1700000000,
            "exp": 1700003600,
            "jti": "ID.4eAWJOCMB3SX8XewDfVR",
            "amr": ["pwd"],
            "idp": "00ok1u7AsAkrwdZL3z0g3",
            "nonce": "n-0S6_WzA2Mj",
            "preferred_username": "john.doe@example.com",
            "auth_time": 1699999990,
            "at_hash": "preIi8dD3cLNYsxH7hzZ7A",
            "email_verified": true
        });
        let p = (okta("https://corp.okta.com/oauth2/default").profile)(&claims).unwrap();
        assert_eq!(p.id, "00uid4BxXw6I6TV4m0g3");
        assert_eq!(p.name.as_deref(), Some("John Doe"));
        assert_eq!(p.email.as_deref(), Some("john.doe@example.com"));
        assert!(p.email_verified);
        assert_eq!(p.image, None);
        assert!((okta("https://corp.okta.com").profile)(&json!({"name": "x"})).is_err());
    }

    #[test]
    fn keeps_the_issuer_verbatim() {
        let p = okta("https://corp.okta.com");
        assert_eq!(p.issuer.as_deref(), Some("https://corp.okta.com"));
    }
}
