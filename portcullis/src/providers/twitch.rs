//! Twitch (OpenID Connect).

use serde_json::Value;

use crate::provider::oauth::{
    OAuth, Profile, ProfileError, TokenAuthMethod, claim_str, claim_true,
};

/// The claims Twitch puts in the ID token only when asked (OIDC Core §5.5).
const CLAIMS: &str =
    r#"{"id_token":{"email":null,"email_verified":null,"picture":null,"preferred_username":null}}"#;

/// Sign in with Twitch, an OpenID Connect provider (issuer `https://id.twitch.tv/oauth2`).
///
/// - Callback URL to register ("OAuth Redirect URLs"): `{AUTH_URL}/api/auth/callback/twitch`.
/// - Environment: `AUTH_TWITCH_ID`, `AUTH_TWITCH_SECRET`.
/// - OIDC, scope `openid user:read:email`, plus a `claims` request for `email`,
///   `email_verified`, `picture` and `preferred_username` (Twitch's ID token carries only
///   the claims asked for). The client secret is sent in the token request body
///   (`client_secret_post`), as Twitch requires.
/// - Profile: `sub`, `preferred_username`, `email`, `email_verified`, `picture`.
/// - Emails count as verified when Twitch's `email_verified` claim is `true`.
///
/// # Examples
/// ```
/// let p = portcullis::providers::twitch().client("id", "secret");
/// assert_eq!(p.provider_id(), "twitch");
/// ```
pub fn twitch() -> OAuth {
    OAuth::oidc("twitch", "Twitch", "https://id.twitch.tv/oauth2")
        .scope("openid user:read:email")
        .param("claims", CLAIMS)
        .token_auth(TokenAuthMethod::ClientSecretPost)
        .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    Ok(Profile {
        id: super::required_id("twitch", v, "sub")?,
        name: claim_str(v, "preferred_username"),
        email: claim_str(v, "email"),
        email_verified: claim_true(v, "email_verified"),
        image: claim_str(v, "picture"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A Twitch ID token's claims with the `claims` request above, as documented.
    fn sample() -> Value {
        json!({
            "aud": "hof5gwx0su6owfnys0yan9c87zr6t",
            "exp": 1700003600,
            "iat": 1700000000,
            "iss": "https://id.twitch.tv/oauth2",
            "sub": "713936733",
            "azp": "hof5gwx0su6owfnys0yan9c87zr6t",
            "nonce": "n-0S6_WzA2Mj",
            "email": "streamer@example.com",
            "email_verified": true,
            "picture": "https://static-cdn.jtvnw.net/jtv_user_pictures/8a6381c7-d0c0-4576-b179-38bd5ce1d6af-profile_image-150x150.png",
            "preferred_username": "StreamerName"
        })
    }

    #[test]
    fn maps_the_claims() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "713936733");
        assert_eq!(p.name.as_deref(), Some("StreamerName"));
        assert_eq!(p.email.as_deref(), Some("streamer@example.com"));
        assert!(p.email_verified);
        assert!(
            p.image
                .as_deref()
                .unwrap()
                .starts_with("https://static-cdn.jtvnw.net/")
        );
    }

    #[test]
    fn requests_the_claims_and_posts_the_secret() {
        let p = twitch();
        let (_, claims) = p.params.iter().find(|(k, _)| k == "claims").unwrap();
        let claims: Value = serde_json::from_str(claims).unwrap();
        for c in ["email", "email_verified", "picture", "preferred_username"] {
            assert!(claims["id_token"].get(c).is_some(), "{c} not requested");
        }
        assert_eq!(p.token_auth, TokenAuthMethod::ClientSecretPost);
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
