//! Presets: thin, data-only [`OAuth`] values with each provider's documented
//! endpoints, scopes and profile mapping.
//!
//! Each preset is one constructor; add the client credentials and hand it to the config:
//!
//! ```
//! let github = portcullis::providers::github().client("client-id", "client-secret");
//! let corp = portcullis::providers::keycloak("https://sso.example.com/realms/corp")
//!     .client("client-id", "client-secret");
//! assert_eq!(github.provider_id(), "github");
//! assert_eq!(corp.provider_id(), "keycloak");
//! ```
//!
//! The ids are Auth.js's, so the callback URL to register at the provider is the same:
//! `{AUTH_URL}/api/auth/callback/<id>`, and so are the environment variables read by
//! [`OAuth::from_env_with`](crate::OAuth::from_env_with): `AUTH_<ID>_ID`,
//! `AUTH_<ID>_SECRET` and `AUTH_<ID>_ISSUER` (`<ID>` upper-cased, `-` → `_`). Every preset
//! is a plain [`OAuth`] value: any builder method overrides what it set.
//!
//! | id | kind | issuer / endpoints | token auth | email counts as verified |
//! |---|---|---|---|---|
//! | `apple` | OIDC | `https://appleid.apple.com` | post | the `email_verified` claim (Apple sends `"true"`) |
//! | `auth0` | OIDC | your tenant, e.g. `https://tenant.eu.auth0.com/` | basic | the `email_verified` claim |
//! | `discord` | OAuth 2.0 | `discord.com/oauth2/authorize`, `discord.com/api/oauth2/token`, `discord.com/api/users/@me` | basic | the user's `verified` flag |
//! | `facebook` | OAuth 2.0 | `www.facebook.com/v22.0/dialog/oauth`, `graph.facebook.com/v22.0/oauth/access_token`, `…/me` | basic | never |
//! | `github` | OAuth 2.0 | `github.com/login/oauth/authorize`, `…/access_token`, `api.github.com/user` | basic | never (public email only) |
//! | `gitlab` | OIDC | `https://gitlab.com` (or your instance) | basic | the `email_verified` claim |
//! | `google` | OIDC | `https://accounts.google.com` | basic | the `email_verified` claim |
//! | `keycloak` | OIDC | your realm, e.g. `https://sso.example.com/realms/corp` | basic | the `email_verified` claim |
//! | `linkedin` | OIDC | `https://www.linkedin.com/oauth` | post | the `email_verified` claim |
//! | `microsoft-entra-id` | OIDC | one tenant: `https://login.microsoftonline.com/<tenant-id>/v2.0` | basic | only `email` with `xms_edov` (or `email_verified`) true |
//! | `okta` | OIDC | your org or authorization server, e.g. `https://corp.okta.com/oauth2/default` | basic | the `email_verified` claim |
//! | `slack` | OIDC | `https://slack.com` | basic | the `email_verified` claim |
//! | `twitch` | OIDC | `https://id.twitch.tv/oauth2` | post | the `email_verified` claim |
//! | `twitter` | OAuth 2.0 | `x.com/i/oauth2/authorize`, `api.x.com/2/oauth2/token`, `api.x.com/2/users/me` | basic | no email at all |
//!
//! "Verified" is what [`Profile::email_verified`](crate::Profile::email_verified) is set to,
//! and only a verified email can link to an existing user, and only when
//! [`dangerous_email_account_linking`](crate::OAuth::dangerous_email_account_linking) is
//! on. All ID tokens here are RS256, the default [`IdTokenAlg`](crate::IdTokenAlg).
//!
//! [`by_id`] and [`by_id_with_issuer`] build a preset from its id, for configuration read
//! at run time (the standalone server's `AUTH_<ID>_ID` auto-configuration).

mod apple;
mod auth0;
mod discord;
mod facebook;
mod github;
mod gitlab;
mod google;
mod keycloak;
mod linkedin;
mod microsoft_entra_id;
pub(crate) use microsoft_entra_id::is_multi_tenant_issuer;
mod okta;
mod slack;
mod twitch;
mod twitter;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, claim_str, claim_true};

pub use apple::apple;
pub use auth0::auth0;
pub use discord::discord;
pub use facebook::facebook;
pub use github::github;
pub use gitlab::gitlab;
pub use google::google;
pub use keycloak::keycloak;
pub use linkedin::linkedin;
pub use microsoft_entra_id::microsoft_entra_id;
pub use okta::okta;
pub use slack::slack;
pub use twitch::twitch;
pub use twitter::twitter;

/// The ids of all presets, as Auth.js names them.
pub const IDS: &[&str] = &[
    "apple",
    "auth0",
    "discord",
    "facebook",
    "github",
    "gitlab",
    "google",
    "keycloak",
    "linkedin",
    "microsoft-entra-id",
    "okta",
    "slack",
    "twitch",
    "twitter",
];

/// The preset with this id, for providers whose endpoints are fixed; `None` for an unknown
/// id and for the tenant providers (`keycloak`, `auth0`, `okta`, `microsoft-entra-id`),
/// which need [`by_id_with_issuer`].
///
/// # Examples
/// ```
/// use portcullis::providers;
/// let p = providers::by_id("github").expect("a fixed preset");
/// assert_eq!(p.provider_id(), "github");
/// assert!(providers::by_id("keycloak").is_none());
/// assert!(providers::by_id("nope").is_none());
/// ```
pub fn by_id(id: &str) -> Option<OAuth> {
    Some(match id {
        "apple" => apple(),
        "discord" => discord(),
        "facebook" => facebook(),
        "github" => github(),
        "gitlab" => gitlab(),
        "google" => google(),
        "linkedin" => linkedin(),
        "slack" => slack(),
        "twitch" => twitch(),
        "twitter" => twitter(),
        _ => return None,
    })
}

/// The tenant preset with this id, for its issuer (`AUTH_<ID>_ISSUER`); `None` for an
/// unknown id and for the fixed-endpoint presets, which [`by_id`] builds.
///
/// # Examples
/// ```
/// use portcullis::providers;
/// let p = providers::by_id_with_issuer("okta", "https://corp.okta.com/oauth2/default")
///     .expect("a tenant preset");
/// assert_eq!(p.provider_id(), "okta");
/// assert!(providers::by_id_with_issuer("github", "https://github.com").is_none());
/// ```
pub fn by_id_with_issuer(id: &str, issuer: &str) -> Option<OAuth> {
    Some(match id {
        "auth0" => auth0(issuer),
        "keycloak" => keycloak(issuer),
        "microsoft-entra-id" => microsoft_entra_id(issuer),
        "okta" => okta(issuer),
        _ => return None,
    })
}

/// The standard OpenID Connect claims: `sub` (required), `name`, `email`,
/// `email_verified`, `picture` — what Google and LinkedIn send as documented.
fn standard_claims(provider: &str, v: &Value) -> Result<Profile, ProfileError> {
    Ok(Profile {
        id: required_id(provider, v, "sub")?,
        name: claim_str(v, "name"),
        email: claim_str(v, "email"),
        email_verified: claim_true(v, "email_verified"),
        image: claim_str(v, "picture"),
    })
}

/// The user's id from `key` (a non-empty string or a number), or a [`ProfileError`] naming
/// the provider.
fn required_id(provider: &str, v: &Value, key: &str) -> Result<String, ProfileError> {
    claim_str(v, key).ok_or_else(|| ProfileError(format!("{provider}: no `{key}` in the profile")))
}
