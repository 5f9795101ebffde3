//! GitLab (OpenID Connect).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, claim_str, claim_true};

/// Sign in with GitLab, an OpenID Connect provider (issuer `https://gitlab.com`; a
/// self-managed instance sets its own with [`issuer`](OAuth::issuer) or
/// `AUTH_GITLAB_ISSUER`).
///
/// - Callback URL to register: `{AUTH_URL}/api/auth/callback/gitlab`.
/// - Environment: `AUTH_GITLAB_ID`, `AUTH_GITLAB_SECRET`, optionally `AUTH_GITLAB_ISSUER`.
/// - OIDC, scope `openid profile email` (the application needs those scopes). Profile:
///   `sub` (the numeric user id, as Auth.js's OAuth 2.0 preset stores it), `name` or else
///   `nickname` (the username), `email`, `email_verified`, `picture`.
/// - Emails count as verified when GitLab's `email_verified` claim is `true`.
///
/// # Examples
/// ```
/// let p = portcullis::providers::gitlab().client("id", "secret");
/// assert_eq!(p.provider_id(), "gitlab");
/// let own = portcullis::providers::gitlab().issuer("https://gitlab.example.com");
/// # assert_eq!(own.kind(), portcullis::OAuthKind::Oidc);
/// ```
pub fn gitlab() -> OAuth {
    OAuth::oidc("gitlab", "GitLab", "https://gitlab.com")
        .scope("openid profile email")
        .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    Ok(Profile {
        id: super::required_id("gitlab", v, "sub")?,
        name: claim_str(v, "name").or_else(|| claim_str(v, "nickname")),
        email: claim_str(v, "email"),
        email_verified: claim_true(v, "email_verified"),
        image: claim_str(v, "picture"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// GitLab ID-token claims merged with `/oauth/userinfo`, as documented.
    fn sample() -> Value {
        json!({
            "iss": "https://gitlab.com",
            "sub": "1234567",
            "aud": "5f0e-client-id",
            "exp": 1711111111,
            "iat": 1711111000,
            "auth_time": 1711110000,
            "sub_legacy": "2ab3f4c5d6e7",
            "name": "Jane Doe",
            "nickname": "jdoe",
            "preferred_username": "jdoe",
            "email": "jane@example.com",
            "email_verified": true,
            "website": "https://example.com",
            "profile": "https://gitlab.com/jdoe",
            "picture": "https://gitlab.com/uploads/-/system/user/avatar/1234567/avatar.png",
            "groups": ["acme", "acme/team"]
        })
    }

    #[test]
    fn maps_the_claims() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "1234567");
        assert_eq!(p.name.as_deref(), Some("Jane Doe"));
        assert_eq!(p.email.as_deref(), Some("jane@example.com"));
        assert!(p.email_verified);
        assert_eq!(
            p.image.as_deref(),
            Some("https://gitlab.com/uploads/-/system/user/avatar/1234567/avatar.png")
        );
    }

    #[test]
    fn nickname_when_no_name_and_missing_sub() {
        let mut v = sample();
        let o = v.as_object_mut().unwrap();
        o.remove("name");
        o.insert("email_verified".into(), json!(false));
        let p = profile(&v).unwrap();
        assert_eq!(p.name.as_deref(), Some("jdoe"));
        assert!(!p.email_verified);
        v.as_object_mut().unwrap().remove("sub");
        assert!(profile(&v).is_err());
    }
}
