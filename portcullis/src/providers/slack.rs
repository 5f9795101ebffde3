//! Slack ("Sign in with Slack", OpenID Connect).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, claim_str, claim_true};

/// Sign in with Slack, an OpenID Connect provider (issuer `https://slack.com`).
///
/// - Callback URL to register (Slack requires https, even in development):
///   `{AUTH_URL}/api/auth/callback/slack`.
/// - Environment: `AUTH_SLACK_ID`, `AUTH_SLACK_SECRET`.
/// - OIDC, scope `openid profile email`. Profile: `sub` (or else
///   `https://slack.com/user_id`), `name`, `email`, `email_verified`, `picture`. The
///   workspace is in `https://slack.com/team_id`: an app for one workspace checks it in the
///   `sign_in` callback.
/// - Emails count as verified when Slack's `email_verified` claim is `true`.
///
/// # Examples
/// ```
/// let p = portcullis::providers::slack().client("id", "secret");
/// assert_eq!(p.provider_id(), "slack");
/// ```
pub fn slack() -> OAuth {
    OAuth::oidc("slack", "Slack", "https://slack.com")
        .scope("openid profile email")
        .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    let id = claim_str(v, "sub")
        .or_else(|| claim_str(v, "https://slack.com/user_id"))
        .ok_or_else(|| ProfileError("slack: no `sub` in the profile".into()))?;
    Ok(Profile {
        id,
        name: claim_str(v, "name"),
        email: claim_str(v, "email"),
        email_verified: claim_true(v, "email_verified"),
        image: claim_str(v, "picture"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `openid.connect.userInfo` (and the ID token's claims), as Slack documents them.
    fn sample() -> Value {
        json!({
            "ok": true,
            "sub": "U0R7JM",
            "https://slack.com/user_id": "U0R7JM",
            "https://slack.com/team_id": "T0R7GR",
            "email": "krane@slack-corp.com",
            "email_verified": true,
            "date_email_verified": 1622128723,
            "name": "krane",
            "picture": "https://secure.gravatar.com/avatar/bc.jpg?s=512",
            "given_name": "",
            "family_name": "",
            "locale": "en-US",
            "https://slack.com/team_name": "kraneflannel",
            "https://slack.com/team_domain": "kraneflannel",
            "https://slack.com/user_image_24": "https://secure.gravatar.com/avatar/bc.jpg?s=24",
            "https://slack.com/team_image_default": true
        })
    }

    #[test]
    fn maps_the_claims() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "U0R7JM");
        assert_eq!(p.name.as_deref(), Some("krane"));
        assert_eq!(p.email.as_deref(), Some("krane@slack-corp.com"));
        assert!(p.email_verified);
        assert_eq!(
            p.image.as_deref(),
            Some("https://secure.gravatar.com/avatar/bc.jpg?s=512")
        );
    }

    #[test]
    fn user_id_claim_when_no_sub() {
        let mut v = sample();
        v.as_object_mut().unwrap().remove("sub");
        assert_eq!(profile(&v).unwrap().id, "U0R7JM");
        v.as_object_mut()
            .unwrap()
            .remove("https://slack.com/user_id");
        assert!(profile(&v).is_err());
    }
}
