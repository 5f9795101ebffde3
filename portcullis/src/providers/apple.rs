//! Sign in with Apple (OpenID Connect).

use serde_json::Value;

use crate::provider::oauth::{
    OAuth, Profile, ProfileError, TokenAuthMethod, claim_str, claim_true,
};

/// Sign in with Apple, an OpenID Connect provider (issuer `https://appleid.apple.com`).
///
/// - Callback URL to register (on the Services ID; Apple accepts no `localhost`):
///   `{AUTH_URL}/api/auth/callback/apple`.
/// - Environment: `AUTH_APPLE_ID` (the Services ID), `AUTH_APPLE_SECRET`. The secret is not
///   a fixed string but a JWT you sign with your Sign in with Apple key (ES256, `iss` = team
///   id, `sub` = Services ID, `aud` = `https://appleid.apple.com`, at most six months
///   long), made out of band and renewed before it expires. It is sent in the token request
///   body (`client_secret_post`), the only method Apple supports.
/// - OIDC, scope `name email` with `response_mode=form_post` (Apple requires it when
///   asking for name or email): Apple answers with a cross-site `POST` to the callback.
///   Apple has no userinfo endpoint; the ID token (RS256) is the profile.
/// - Profile: `sub`, `email` (possibly a `privaterelay.appleid.com` relay address),
///   `email_verified` (Apple sends the boolean or the string `"true"`). No picture.
/// - Emails count as verified when `email_verified` is true, which Apple documents as
///   always (relay addresses included).
///
/// The user's name is not in the ID token: Apple posts it once, as a `user` JSON form
/// field beside the code, on the user's first authorization only. This preset does not
/// read it, so [`Profile::name`] is `None`.
///
/// # Examples
/// ```
/// let p = portcullis::providers::apple().client("com.example.web", "<client secret JWT>");
/// assert_eq!(p.provider_id(), "apple");
/// ```
pub fn apple() -> OAuth {
    OAuth::oidc("apple", "Apple", "https://appleid.apple.com")
        .scope("name email")
        .param("response_mode", "form_post")
        .token_auth(TokenAuthMethod::ClientSecretPost)
        .userinfo(false)
        .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    Ok(Profile {
        id: super::required_id("apple", v, "sub")?,
        name: None,
        email: claim_str(v, "email"),
        email_verified: claim_true(v, "email_verified"),
        image: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An Apple identity token's claims, as documented ("Authenticating users with Sign in
    /// with Apple"), with the string forms Apple sends on the web.
    fn sample() -> Value {
        json!({
            "iss": "https://appleid.apple.com",
            "aud": "com.example.web",
            "exp": 1700086400,
            "iat": 1700000000,
            "sub": "001234.8f5c0f3ad7a54b7c8d8f1c8e2b3a4d5e.1234",
            "nonce": "n-0S6_WzA2Mj",
            "c_hash": "kG1zT2sKvU8i1pK7Qx9XyA",
            "email": "x7ab2c9d1e@privaterelay.appleid.com",
            "email_verified": "true",
            "is_private_email": "true",
            "auth_time": 1700000000,
            "nonce_supported": true
        })
    }

    #[test]
    fn maps_the_claims_with_string_booleans() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "001234.8f5c0f3ad7a54b7c8d8f1c8e2b3a4d5e.1234");
        assert_eq!(p.name, None, "Apple never puts the name in the ID token");
        assert_eq!(
            p.email.as_deref(),
            Some("x7ab2c9d1e@privaterelay.appleid.com")
        );
        assert!(p.email_verified, "the string \"true\" counts");
        assert_eq!(p.image, None);
    }

    #[test]
    fn boolean_and_false_forms() {
        let mut v = sample();
        v["email_verified"] = json!(true);
        assert!(profile(&v).unwrap().email_verified);
        v["email_verified"] = json!("false");
        assert!(!profile(&v).unwrap().email_verified);
        v.as_object_mut().unwrap().remove("sub");
        assert!(profile(&v).is_err());
    }

    #[test]
    fn asks_for_form_post_and_posts_the_secret() {
        let p = apple();
        assert!(
            p.params
                .iter()
                .any(|(k, v)| k == "response_mode" && v == "form_post")
        );
        assert_eq!(p.token_auth, TokenAuthMethod::ClientSecretPost);
        assert_eq!(p.scope.as_deref(), Some("name email"));
        assert!(!p.use_userinfo);
    }
}
