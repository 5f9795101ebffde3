//! Auth0 (OpenID Connect, one tenant).

use crate::provider::oauth::{OAuth, default_profile};

/// Sign in with an Auth0 tenant, an OpenID Connect provider.
///
/// - `issuer` is the tenant's domain (or custom domain) as a URL:
///   `https://<tenant>.<region>.auth0.com/`. Auth0's issuer always ends with `/`, and ID
///   tokens are matched against it byte for byte, so a missing final `/` is added here
///   (`https://tenant.auth0.com` → `https://tenant.auth0.com/`).
/// - Callback URL to register ("Allowed Callback URLs"):
///   `{AUTH_URL}/api/auth/callback/auth0`.
/// - Environment: `AUTH_AUTH0_ID`, `AUTH_AUTH0_SECRET`, `AUTH_AUTH0_ISSUER`.
/// - OIDC, scope `openid profile email`. Profile: the standard claims (`sub`, `name` or
///   else `nickname`, `email`, `email_verified`, `picture`).
/// - Emails count as verified when Auth0's `email_verified` claim is `true`. For social
///   connections Auth0 passes on what the upstream provider said; review your connections
///   before enabling email linking.
///
/// # Examples
/// ```
/// let p = portcullis::providers::auth0("https://example.eu.auth0.com/").client("id", "secret");
/// assert_eq!(p.provider_id(), "auth0");
/// ```
pub fn auth0(issuer: impl Into<String>) -> OAuth {
    let mut issuer = issuer.into();
    if !issuer.ends_with('/') {
        issuer.push('/');
    }
    OAuth::oidc("auth0", "Auth0", issuer)
        .scope("openid profile email")
        .profile(default_profile)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_auth0_claims() {
        // An Auth0 ID token for a database-connection user, as documented.
        let claims = json!({
            "given_name": "Jane",
            "family_name": "Doe",
            "nickname": "jane.doe",
            "name": "Jane Doe",
            "picture": "https://s.gravatar.com/avatar/7d8b5.png",
            "updated_at": "2024-01-01T12:00:00.000Z",
            "email": "jane.doe@example.com",
            "email_verified": true,
            "iss": "https://example.eu.auth0.com/",
            "aud": "dBRl3AgwExUL5jJVUnSqDlGbuwpfCvhq",
            "iat": 1700000000,
            "exp": 1700036000,
            "sub": "auth0|65a1b2c3d4e5f6a7b8c9d0e1",
            "sid": "Xm6ndBL0Ze4_dpW2ebTfaH1bq2YjGAVw",
            "nonce": "n-0S6_WzA2Mj"
        });
        let p = (auth0("https://example.eu.auth0.com/").profile)(&claims).unwrap();
        assert_eq!(p.id, "auth0|65a1b2c3d4e5f6a7b8c9d0e1");
        assert_eq!(p.name.as_deref(), Some("Jane Doe"));
        assert_eq!(p.email.as_deref(), Some("jane.doe@example.com"));
        assert!(p.email_verified);
        assert_eq!(
            p.image.as_deref(),
            Some("https://s.gravatar.com/avatar/7d8b5.png")
        );
    }

    #[test]
    fn nickname_when_no_name_and_missing_sub() {
        let p = auth0("https://example.eu.auth0.com/");
        let q = (p.profile)(&json!({"sub": "github|1", "nickname": "jd"})).unwrap();
        assert_eq!(q.name.as_deref(), Some("jd"));
        assert!(!q.email_verified);
        assert!((p.profile)(&json!({"nickname": "jd"})).is_err());
    }

    #[test]
    fn issuer_ends_with_a_slash() {
        let p = auth0("https://example.eu.auth0.com");
        assert_eq!(p.issuer.as_deref(), Some("https://example.eu.auth0.com/"));
        let p = auth0("https://login.example.com/");
        assert_eq!(p.issuer.as_deref(), Some("https://login.example.com/"));
    }
}
