//! Twitter / X (OAuth 2.0 with PKCE).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, claim_str};

/// Sign in with X (Twitter) through its OAuth 2.0 authorization-code flow with PKCE, as
/// Auth.js v5 does (next-auth v4 defaulted to OAuth 1.0a, which is not supported here).
///
/// - Callback URL to register: `{AUTH_URL}/api/auth/callback/twitter`.
/// - Environment: `AUTH_TWITTER_ID`, `AUTH_TWITTER_SECRET` (the OAuth 2.0 client of a
///   "confidential client" app, not the API key and secret).
/// - Not OIDC: the profile is `GET https://api.x.com/2/users/me` with
///   `user.fields=profile_image_url`; scope `users.read tweet.read offline.access` (the last
///   for a refresh token).
/// - Profile: `data.id`, `data.name` or else `data.username`, `data.profile_image_url`.
/// - No email: X's v2 user lookup has none, so nothing is linked by email.
///
/// # Examples
/// ```
/// let p = portcullis::providers::twitter().client("id", "secret");
/// assert_eq!(p.provider_id(), "twitter");
/// ```
pub fn twitter() -> OAuth {
    OAuth::oauth(
        "twitter",
        "Twitter",
        "https://x.com/i/oauth2/authorize",
        "https://api.x.com/2/oauth2/token",
        "https://api.x.com/2/users/me?user.fields=profile_image_url",
    )
    .scope("users.read tweet.read offline.access")
    .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    let data = v
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| ProfileError("twitter: no `data` object in the profile".into()))?;
    Ok(Profile {
        id: super::required_id("twitter", data, "id")?,
        name: claim_str(data, "name").or_else(|| claim_str(data, "username")),
        email: None,
        email_verified: false,
        image: claim_str(data, "profile_image_url"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `GET /2/users/me?user.fields=profile_image_url` as documented.
    fn sample() -> Value {
        json!({
            "data": {
                "id": "2244994945",
                "name": "Developers",
                "username": "XDevelopers",
                "profile_image_url": "https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_normal.jpg"
            }
        })
    }

    #[test]
    fn maps_the_nested_data() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "2244994945");
        assert_eq!(p.name.as_deref(), Some("Developers"));
        assert_eq!(p.email, None);
        assert!(!p.email_verified);
        assert_eq!(
            p.image.as_deref(),
            Some("https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_normal.jpg")
        );
    }

    #[test]
    fn flat_or_idless_responses_are_errors() {
        // The id at the top level is not X's shape: refuse rather than guess.
        assert!(profile(&json!({"id": "2244994945", "name": "Developers"})).is_err());
        assert!(profile(&json!({"data": {"name": "Developers"}})).is_err());
        assert!(profile(&json!({"errors": [{"title": "Unauthorized"}]})).is_err());
    }

    #[test]
    fn username_when_no_name() {
        let p = profile(&json!({"data": {"id": "1", "username": "jack"}})).unwrap();
        assert_eq!(p.name.as_deref(), Some("jack"));
        assert_eq!(p.image, None);
    }
}
