//! Facebook (OAuth 2.0, Graph API).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, claim_str};

/// Sign in with Facebook, a plain OAuth 2.0 provider (Facebook Login, Graph API v22.0).
///
/// - Callback URL to register ("Valid OAuth Redirect URIs"):
///   `{AUTH_URL}/api/auth/callback/facebook`.
/// - Environment: `AUTH_FACEBOOK_ID` (the app id), `AUTH_FACEBOOK_SECRET` (the app secret).
/// - Not OIDC: the profile is `GET https://graph.facebook.com/v22.0/me` with the fields
///   `id,name,email,picture`; scope `email`.
/// - Profile: `id` (app-scoped), `name`, `email` (absent for accounts without one, e.g.
///   phone sign-ups), `picture.data.url`.
/// - Emails never count as verified: the Graph API does not say whether Facebook verified
///   them.
///
/// The Graph API version is pinned so that fields do not change under the app; each
/// version lives about two years. To move to a newer one, override the three URLs.
///
/// # Examples
/// ```
/// let p = portcullis::providers::facebook().client("id", "secret");
/// assert_eq!(p.provider_id(), "facebook");
/// ```
pub fn facebook() -> OAuth {
    OAuth::oauth(
        "facebook",
        "Facebook",
        "https://www.facebook.com/v22.0/dialog/oauth",
        "https://graph.facebook.com/v22.0/oauth/access_token",
        "https://graph.facebook.com/v22.0/me?fields=id,name,email,picture",
    )
    .scope("email")
    .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    Ok(Profile {
        id: super::required_id("facebook", v, "id")?,
        name: claim_str(v, "name"),
        email: claim_str(v, "email"),
        email_verified: false,
        image: v
            .pointer("/picture/data/url")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `GET /me?fields=id,name,email,picture` as the Graph API returns it.
    fn sample() -> Value {
        json!({
            "id": "10224932212345678",
            "name": "Mark Example",
            "email": "mark@example.com",
            "picture": {
                "data": {
                    "height": 50,
                    "is_silhouette": false,
                    "url": "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=10224932212345678&height=50&width=50&ext=1700000000&hash=AbC",
                    "width": 50
                }
            }
        })
    }

    #[test]
    fn maps_me_with_the_nested_picture() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "10224932212345678");
        assert_eq!(p.name.as_deref(), Some("Mark Example"));
        assert_eq!(p.email.as_deref(), Some("mark@example.com"));
        assert!(!p.email_verified, "Facebook does not assert verification");
        assert!(
            p.image
                .as_deref()
                .unwrap()
                .starts_with("https://platform-lookaside.fbsbx.com/platform/profilepic/")
        );
    }

    #[test]
    fn no_email_no_picture_and_missing_id() {
        let v = json!({"id": "1", "name": "Phone User"});
        let p = profile(&v).unwrap();
        assert_eq!(p.email, None);
        assert_eq!(p.image, None);
        assert!(profile(&json!({"name": "x", "picture": {"data": {}}})).is_err());
    }
}
