//! Keycloak (OpenID Connect, one realm).

use crate::provider::oauth::{OAuth, default_profile};

/// Sign in with a Keycloak realm, an OpenID Connect provider.
///
/// - `issuer` is the realm's issuer, exactly as its discovery document names it:
///   `https://<host>/realms/<realm>` (older versions: `https://<host>/auth/realms/<realm>`).
/// - Callback URL to register (the client's "Valid redirect URIs"):
///   `{AUTH_URL}/api/auth/callback/keycloak`.
/// - Environment: `AUTH_KEYCLOAK_ID`, `AUTH_KEYCLOAK_SECRET`, `AUTH_KEYCLOAK_ISSUER`.
/// - OIDC, scope `openid profile email`. Profile: the standard claims (`sub`, `name` or
///   else `preferred_username`, `email`, `email_verified`, `picture`).
/// - Emails count as verified when the realm's `email_verified` claim is `true`. Keycloak
///   sets it from the user's record, which realm admins and identity brokering can set
///   without a verification mail: trust it only if your realm verifies emails.
///
/// # Examples
/// ```
/// let p = portcullis::providers::keycloak("https://sso.example.com/realms/corp")
///     .client("id", "secret");
/// assert_eq!(p.provider_id(), "keycloak");
/// ```
pub fn keycloak(issuer: impl Into<String>) -> OAuth {
    OAuth::oidc("keycloak", "Keycloak", issuer)
        .scope("openid profile email")
        .profile(default_profile)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_keycloak_claims() {
        // A Keycloak ID token with the default `profile` and `email` client scopes.
        let claims = json!({
            "exp": 1700000300,
            "iat": 1700000000,
            "auth_time": 1699999990,
            "jti": "5b0c6f2e-0d0b-4f55-9a3e-6d6f1b2c3d4e",
            "iss": "https://sso.example.com/realms/corp",
            "aud": "portcullis-app",
            "sub": "f1c2d3e4-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
            "typ": "ID",
            "azp": "portcullis-app",
            "nonce": "n-0S6_WzA2Mj",
            "sid": "9a8b7c6d-1111-2222-3333-444455556666",
            "email_verified": false,
            "name": "Ada Lovelace",
            "preferred_username": "ada",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@example.com"
        });
        let p = (keycloak("https://sso.example.com/realms/corp").profile)(&claims).unwrap();
        assert_eq!(p.id, "f1c2d3e4-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
        assert_eq!(p.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(p.email.as_deref(), Some("ada@example.com"));
        assert!(!p.email_verified);
        assert_eq!(p.image, None);
    }

    #[test]
    fn username_when_no_name_and_missing_sub() {
        let p = keycloak("https://sso.example.com/realms/corp");
        let q =
            (p.profile)(&json!({"sub": "u1", "preferred_username": "ada", "email_verified": true}))
                .unwrap();
        assert_eq!(q.name.as_deref(), Some("ada"));
        assert!(q.email_verified);
        assert!((p.profile)(&json!({"preferred_username": "ada"})).is_err());
    }

    #[test]
    fn keeps_the_issuer_verbatim() {
        let p = keycloak("https://sso.example.com/auth/realms/corp");
        assert_eq!(
            p.issuer.as_deref(),
            Some("https://sso.example.com/auth/realms/corp")
        );
    }
}
