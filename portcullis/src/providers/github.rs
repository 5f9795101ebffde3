//! GitHub (OAuth 2.0 app).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, claim_str};

/// Sign in with GitHub, a plain OAuth 2.0 provider (an OAuth app or a GitHub App's user
/// authorization).
///
/// - Callback URL to register: `{AUTH_URL}/api/auth/callback/github`.
/// - Environment: `AUTH_GITHUB_ID`, `AUTH_GITHUB_SECRET`.
/// - Not OIDC: the profile is `GET https://api.github.com/user` (with the `User-Agent`
///   GitHub's API requires). Scope `read:user user:email`, as Auth.js.
/// - Profile: `id` (a number) → id, `name` or else `login` → name, `email`, `avatar_url`.
///
/// # Security
/// The email is the user's *public* profile email, which GitHub does not mark as verified
/// there, so [`Profile::email_verified`] is always `false` and a GitHub sign-in never links
/// to an existing user by email. It is `None` when the user keeps their email private:
/// unlike Auth.js, the preset does not call `GET /user/emails` (whose `verified` flag
/// would be needed for linking); a custom [`profile`](OAuth::profile) cannot make that
/// call either, so an app that needs it reads it with the stored access token.
///
/// # Examples
/// ```
/// let p = portcullis::providers::github().client("id", "secret");
/// assert_eq!(p.provider_id(), "github");
/// assert_eq!(p.kind(), portcullis::OAuthKind::OAuth);
/// ```
pub fn github() -> OAuth {
    OAuth::oauth(
        "github",
        "GitHub",
        "https://github.com/login/oauth/authorize",
        "https://github.com/login/oauth/access_token",
        "https://api.github.com/user",
    )
    .scope("read:user user:email")
    .userinfo_header("User-Agent", "portcullis")
    .userinfo_header("Accept", "application/vnd.github+json")
    .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    Ok(Profile {
        id: super::required_id("github", v, "id")?,
        name: claim_str(v, "name").or_else(|| claim_str(v, "login")),
        email: claim_str(v, "email"),
        email_verified: false,
        image: claim_str(v, "avatar_url"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `GET /user` as GitHub documents it (trimmed), for a user without a display name.
    fn sample() -> Value {
        json!({
            "login": "octocat",
            "id": 583231,
            "node_id": "MDQ6VXNlcjU4MzIzMQ==",
            "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
            "gravatar_id": "",
            "url": "https://api.github.com/users/octocat",
            "html_url": "https://github.com/octocat",
            "type": "User",
            "site_admin": false,
            "name": null,
            "company": "@github",
            "blog": "https://github.blog",
            "location": "San Francisco",
            "email": "octocat@github.com",
            "hireable": null,
            "bio": null,
            "twitter_username": null,
            "public_repos": 8,
            "public_gists": 8,
            "followers": 9999,
            "following": 9,
            "created_at": "2011-01-25T18:44:36Z",
            "updated_at": "2024-01-22T12:00:00Z"
        })
    }

    #[test]
    fn maps_the_user_endpoint() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "583231");
        assert_eq!(
            p.name.as_deref(),
            Some("octocat"),
            "a null name falls back to login"
        );
        assert_eq!(p.email.as_deref(), Some("octocat@github.com"));
        assert!(
            !p.email_verified,
            "GitHub's public email is never trusted as verified"
        );
        assert_eq!(
            p.image.as_deref(),
            Some("https://avatars.githubusercontent.com/u/583231?v=4")
        );
    }

    #[test]
    fn display_name_wins_and_private_email_is_none() {
        let mut v = sample();
        v["name"] = json!("The Octocat");
        v["email"] = Value::Null;
        let p = profile(&v).unwrap();
        assert_eq!(p.name.as_deref(), Some("The Octocat"));
        assert_eq!(p.email, None);
        assert!(!p.email_verified);
    }

    #[test]
    fn missing_id_is_an_error() {
        let mut v = sample();
        v.as_object_mut().unwrap().remove("id");
        assert!(profile(&v).unwrap_err().0.contains("github"));
    }

    #[test]
    fn sends_the_headers_github_requires() {
        let p = github();
        assert!(
            p.userinfo_headers
                .iter()
                .any(|(k, v)| k == "User-Agent" && v == "portcullis")
        );
        assert!(
            p.userinfo_headers
                .iter()
                .any(|(k, v)| k == "Accept" && v == "application/vnd.github+json")
        );
        assert_eq!(p.scope.as_deref(), Some("read:user user:email"));
    }
}
