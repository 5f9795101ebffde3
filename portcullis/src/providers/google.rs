//! Google (OpenID Connect).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError};

/// Sign in with Google, an OpenID Connect provider (issuer `https://accounts.google.com`).
///
/// - Callback URL to register ("Authorized redirect URIs"):
///   `{AUTH_URL}/api/auth/callback/google`.
/// - Environment: `AUTH_GOOGLE_ID`, `AUTH_GOOGLE_SECRET`.
/// - OIDC, scope `openid profile email`. Profile: `sub`, `name`, `email`, `email_verified`,
///   `picture`.
/// - Emails count as verified when Google's `email_verified` claim is `true`.
///
/// Google issues a refresh token only on the first consent. To get one on every sign-in,
/// ask for offline access and force the consent screen (every user then sees it each time):
///
/// ```
/// let p = portcullis::providers::google()
///     .param("access_type", "offline")
///     .param("prompt", "consent");
/// # assert_eq!(p.provider_id(), "google");
/// ```
///
/// A Google Workspace account carries its domain in the `hd` claim; restrict sign-ins to
/// one domain in the `sign_in` callback, not by the email's suffix alone.
///
/// # Examples
/// ```
/// let p = portcullis::providers::google().client("id", "secret");
/// assert_eq!(p.provider_id(), "google");
/// assert_eq!(p.kind(), portcullis::OAuthKind::Oidc);
/// ```
pub fn google() -> OAuth {
    OAuth::oidc("google", "Google", "https://accounts.google.com")
        .scope("openid profile email")
        .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    super::standard_claims("google", v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Google ID-token claims as documented ("An ID token's payload").
    fn sample() -> Value {
        json!({
            "iss": "https://accounts.google.com",
            "azp": "1234987819200.apps.googleusercontent.com",
            "aud": "1234987819200.apps.googleusercontent.com",
            "sub": "10769150350006150715113082367",
            "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
            "hd": "example.com",
            "email": "jsmith@example.com",
            "email_verified": true,
            "iat": 1353601026,
            "exp": 1353604926,
            "nonce": "0394852-3190485-2490358",
            "name": "Jane Smith",
            "given_name": "Jane",
            "family_name": "Smith",
            "picture": "https://lh3.googleusercontent.com/a/ACg8ocJ=s96-c",
            "locale": "en"
        })
    }

    #[test]
    fn maps_the_id_token_claims() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "10769150350006150715113082367");
        assert_eq!(p.name.as_deref(), Some("Jane Smith"));
        assert_eq!(p.email.as_deref(), Some("jsmith@example.com"));
        assert!(p.email_verified);
        assert_eq!(
            p.image.as_deref(),
            Some("https://lh3.googleusercontent.com/a/ACg8ocJ=s96-c")
        );
    }

    #[test]
    fn unverified_email_and_missing_sub() {
        let mut v = sample();
        v["email_verified"] = json!(false);
        assert!(!profile(&v).unwrap().email_verified);
        v.as_object_mut().unwrap().remove("sub");
        assert!(profile(&v).is_err());
    }
}
