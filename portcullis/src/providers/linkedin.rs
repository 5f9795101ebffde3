//! LinkedIn (OpenID Connect).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, TokenAuthMethod};

/// Sign in with LinkedIn ("Sign In with LinkedIn using OpenID Connect"), an OpenID Connect
/// provider (issuer `https://www.linkedin.com/oauth`).
///
/// - Callback URL to register ("Authorized redirect URLs"):
///   `{AUTH_URL}/api/auth/callback/linkedin`.
/// - Environment: `AUTH_LINKEDIN_ID`, `AUTH_LINKEDIN_SECRET`.
/// - OIDC, scope `openid profile email`; the client secret is sent in the token request
///   body (`client_secret_post`), as LinkedIn requires.
/// - Profile: `sub`, `name`, `email`, `email_verified`, `picture`.
/// - Emails count as verified when LinkedIn's `email_verified` claim is `true`.
///
/// # Examples
/// ```
/// let p = portcullis::providers::linkedin().client("id", "secret");
/// assert_eq!(p.provider_id(), "linkedin");
/// ```
pub fn linkedin() -> OAuth {
    OAuth::oidc("linkedin", "LinkedIn", "https://www.linkedin.com/oauth")
        .scope("openid profile email")
        .token_auth(TokenAuthMethod::ClientSecretPost)
        .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    super::standard_claims("linkedin", v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// LinkedIn ID-token claims / `GET /v2/userinfo`, as documented.
    fn sample() -> Value {
        json!({
            "iss": "https://www.linkedin.com/oauth",
            "aud": "86f1mbwxyz",
            "iat": 1700000000,
            "exp": 1700003600,
            "sub": "782bbtaQ",
            "name": "John Doe",
            "given_name": "John",
            "family_name": "Doe",
            "picture": "https://media.licdn.com/dms/image/C5F03AQHqK8v7tB1HCQ/profile-displayphoto-shrink_100_100/0/",
            "locale": "en-US",
            "email": "doe@email.com",
            "email_verified": true
        })
    }

    #[test]
    fn maps_the_claims() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "782bbtaQ");
        assert_eq!(p.name.as_deref(), Some("John Doe"));
        assert_eq!(p.email.as_deref(), Some("doe@email.com"));
        assert!(p.email_verified);
        assert_eq!(
            p.image.as_deref(),
            Some(
                "https://media.licdn.com/dms/image/C5F03AQHqK8v7tB1HCQ/profile-displayphoto-shrink_100_100/0/"
            )
        );
    }

    #[test]
    fn unverified_and_missing_sub() {
        let mut v = sample();
        v["email_verified"] = json!(false);
        assert!(!profile(&v).unwrap().email_verified);
        v.as_object_mut().unwrap().remove("sub");
        assert!(profile(&v).is_err());
    }
}
