//! Discord (OAuth 2.0).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, claim_str};

/// Sign in with Discord, a plain OAuth 2.0 provider.
///
/// - Callback URL to register: `{AUTH_URL}/api/auth/callback/discord`.
/// - Environment: `AUTH_DISCORD_ID`, `AUTH_DISCORD_SECRET`.
/// - Not OIDC: the profile is `GET https://discord.com/api/users/@me`, scope
///   `identify email`.
/// - Profile: `id` (a snowflake string), `global_name` or else `username`, `email`, and the
///   avatar URL on `cdn.discordapp.com` (animated `a_` hashes as GIF; without an avatar,
///   Discord's default avatar for the user).
/// - Emails count as verified when Discord's `verified` flag is `true`.
///
/// # Examples
/// ```
/// let p = portcullis::providers::discord().client("id", "secret");
/// assert_eq!(p.provider_id(), "discord");
/// ```
pub fn discord() -> OAuth {
    OAuth::oauth(
        "discord",
        "Discord",
        "https://discord.com/oauth2/authorize",
        "https://discord.com/api/oauth2/token",
        "https://discord.com/api/users/@me",
    )
    .scope("identify email")
    .profile(profile)
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    let id = super::required_id("discord", v, "id")?;
    let email = claim_str(v, "email");
    let email_verified = email.is_some() && v.get("verified") == Some(&Value::Bool(true));
    Ok(Profile {
        image: Some(avatar_url(&id, v)),
        id,
        name: claim_str(v, "global_name").or_else(|| claim_str(v, "username")),
        email,
        email_verified,
    })
}

/// The user's avatar, or the default one Discord shows when they have none: for migrated
/// usernames (discriminator `0`) `(id >> 22) % 6`, for legacy tags `discriminator % 5`.
fn avatar_url(id: &str, v: &Value) -> String {
    if let Some(hash) = claim_str(v, "avatar") {
        let ext = if hash.starts_with("a_") { "gif" } else { "png" };
        return format!("https://cdn.discordapp.com/avatars/{id}/{hash}.{ext}");
    }
    let index = match claim_str(v, "discriminator").as_deref() {
        None | Some("0") => id.parse::<u64>().map_or(0, |n| (n >> 22) % 6),
        Some(tag) => tag.parse::<u64>().map_or(0, |n| n % 5),
    };
    format!("https://cdn.discordapp.com/embed/avatars/{index}.png")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `GET /users/@me` with the `identify email` scopes, as documented.
    fn sample() -> Value {
        json!({
            "id": "80351110224678912",
            "username": "nelly",
            "discriminator": "0",
            "global_name": "Nelly",
            "avatar": "8342729096ea3675442027381ff50dfe",
            "bot": false,
            "system": false,
            "mfa_enabled": true,
            "banner": null,
            "accent_color": 16711680,
            "locale": "en-US",
            "verified": true,
            "email": "nelly@discord.com",
            "flags": 64,
            "premium_type": 1,
            "public_flags": 64
        })
    }

    #[test]
    fn maps_the_user_object() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "80351110224678912");
        assert_eq!(p.name.as_deref(), Some("Nelly"));
        assert_eq!(p.email.as_deref(), Some("nelly@discord.com"));
        assert!(p.email_verified);
        assert_eq!(
            p.image.as_deref(),
            Some(
                "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"
            )
        );
    }

    #[test]
    fn without_avatar_uses_the_default_one() {
        let mut v = sample();
        v["avatar"] = Value::Null;
        v["global_name"] = Value::Null;
        v["verified"] = json!(false);
        let p = profile(&v).unwrap();
        // (80351110224678912 >> 22) % 6 == 19157197529 % 6 == 5
        assert_eq!(
            p.image.as_deref(),
            Some("https://cdn.discordapp.com/embed/avatars/5.png")
        );
        assert_eq!(
            p.name.as_deref(),
            Some("nelly"),
            "username when no global name"
        );
        assert!(!p.email_verified);
        v["discriminator"] = json!("1337");
        assert_eq!(
            profile(&v).unwrap().image.as_deref(),
            Some("https://cdn.discordapp.com/embed/avatars/2.png")
        );
    }

    #[test]
    fn animated_avatar_is_a_gif() {
        let mut v = sample();
        v["avatar"] = json!("a_1269e74af4df7417b13759eae50c83dc");
        assert!(
            profile(&v)
                .unwrap()
                .image
                .unwrap()
                .ends_with("/a_1269e74af4df7417b13759eae50c83dc.gif")
        );
    }

    #[test]
    fn verified_without_email_scope_is_not_verified() {
        let mut v = sample();
        v.as_object_mut().unwrap().remove("email");
        let p = profile(&v).unwrap();
        assert_eq!(p.email, None);
        assert!(!p.email_verified);
        v.as_object_mut().unwrap().remove("id");
        assert!(profile(&v).is_err());
    }
}
