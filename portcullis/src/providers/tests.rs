//! Checks over all presets: ids, endpoints, lookup by id. Each preset's profile mapping is
//! tested in its own module.

use std::collections::HashSet;

use super::*;
use crate::provider::oauth::{OAuthKind, TokenAuthMethod, check_endpoint, env_stem};

/// A sample issuer for each tenant preset.
fn issuer_for(id: &str) -> Option<&'static str> {
    Some(match id {
        "auth0" => "https://example.eu.auth0.com/",
        "keycloak" => "https://sso.example.com/realms/corp",
        "microsoft-entra-id" => {
            "https://login.microsoftonline.com/9122040d-6c67-4c5b-b112-36a304b66dad/v2.0"
        }
        "okta" => "https://corp.okta.com/oauth2/default",
        _ => return None,
    })
}

/// Every preset, built through the lookup functions.
fn all() -> Vec<OAuth> {
    IDS.iter()
        .map(|id| match issuer_for(id) {
            Some(issuer) => by_id_with_issuer(id, issuer).unwrap(),
            None => by_id(id).unwrap(),
        })
        .collect()
}

#[test]
fn ids_are_unique_valid_and_match_the_presets() {
    assert_eq!(IDS.len(), 14);
    let unique: HashSet<_> = IDS.iter().collect();
    assert_eq!(unique.len(), IDS.len(), "duplicate id in IDS");
    for (id, p) in IDS.iter().zip(all()) {
        assert_eq!(p.provider_id(), *id);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !id.starts_with('-')
                && !id.ends_with('-'),
            "`{id}` is not a lower-case URL-safe id"
        );
        assert!(!p.name.is_empty(), "{id} has no display name");
    }
    assert_eq!(env_stem("microsoft-entra-id"), "MICROSOFT_ENTRA_ID");
}

#[test]
fn by_id_covers_exactly_the_fixed_presets() {
    let fixed: Vec<_> = IDS.iter().filter(|id| issuer_for(id).is_none()).collect();
    assert_eq!(fixed.len(), 10);
    for id in IDS {
        let fixed_one = issuer_for(id).is_none();
        assert_eq!(by_id(id).is_some(), fixed_one, "by_id({id})");
        assert_eq!(
            by_id_with_issuer(id, "https://idp.example").is_some(),
            !fixed_one,
            "by_id_with_issuer({id})"
        );
    }
    assert!(by_id("GitHub").is_none(), "ids are exact");
    assert!(by_id("").is_none());
    assert!(by_id_with_issuer("unknown", "https://idp.example").is_none());
}

#[test]
fn by_id_with_issuer_uses_the_issuer() {
    for id in ["keycloak", "okta", "microsoft-entra-id"] {
        let issuer = issuer_for(id).unwrap();
        let p = by_id_with_issuer(id, issuer).unwrap();
        assert_eq!(p.issuer.as_deref(), Some(issuer), "{id}");
        assert_eq!(p.kind(), OAuthKind::Oidc);
    }
    let p = by_id_with_issuer("auth0", "https://example.eu.auth0.com").unwrap();
    assert_eq!(p.issuer.as_deref(), Some("https://example.eu.auth0.com/"));
}

#[test]
fn every_endpoint_is_https_and_every_preset_is_complete() {
    for p in all() {
        let id = p.provider_id().to_owned();
        let urls = [
            &p.issuer,
            &p.discovery_url,
            &p.authorization_url,
            &p.token_url,
            &p.userinfo_url,
            &p.jwks_url,
            &p.end_session_url,
        ];
        let mut seen = 0;
        for u in urls.into_iter().flatten() {
            let url = check_endpoint(u).unwrap_or_else(|why| panic!("{id}: `{u}` {why}"));
            assert_eq!(url.scheme(), "https", "{id}: `{u}`");
            seen += 1;
        }
        match p.kind() {
            OAuthKind::Oidc => assert!(p.issuer.is_some(), "{id}: OIDC without issuer"),
            OAuthKind::OAuth => assert_eq!(seen, 3, "{id}: needs three endpoints"),
        }
        let scope = p.scope.as_deref().unwrap_or_default();
        assert!(!scope.is_empty(), "{id}: no scope");
        let problems = p.client("client-id", "client-secret").problems();
        assert!(problems.is_empty(), "{id}: {problems:?}");
    }
}

#[test]
fn kinds_and_token_auth_are_as_documented() {
    let oauth = ["discord", "facebook", "github", "twitter"];
    let post = ["apple", "linkedin", "twitch"];
    for p in all() {
        let id = p.provider_id();
        let kind = if oauth.contains(&id) {
            OAuthKind::OAuth
        } else {
            OAuthKind::Oidc
        };
        assert_eq!(p.kind(), kind, "{id}");
        let auth = if post.contains(&id) {
            TokenAuthMethod::ClientSecretPost
        } else {
            TokenAuthMethod::ClientSecretBasic
        };
        assert_eq!(p.token_auth, auth, "{id}");
        if p.kind() == OAuthKind::Oidc && id != "apple" {
            let scope = p.scope.as_deref().unwrap_or_default();
            assert!(scope.split(' ').any(|s| s == "openid"), "{id}: `{scope}`");
        }
    }
}

#[test]
fn fixed_issuers_are_the_documented_ones() {
    for (id, issuer) in [
        ("apple", "https://appleid.apple.com"),
        ("gitlab", "https://gitlab.com"),
        ("google", "https://accounts.google.com"),
        ("linkedin", "https://www.linkedin.com/oauth"),
        ("slack", "https://slack.com"),
        ("twitch", "https://id.twitch.tv/oauth2"),
    ] {
        assert_eq!(by_id(id).unwrap().issuer.as_deref(), Some(issuer), "{id}");
    }
}

#[test]
fn presets_read_their_env_names() {
    for id in IDS {
        let mut p = match issuer_for(id) {
            Some(issuer) => by_id_with_issuer(id, issuer).unwrap(),
            None => by_id(id).unwrap(),
        };
        let stem = env_stem(id);
        let ok = p.from_env_with(|k| {
            (k == format!("AUTH_{stem}_ID") || k == format!("AUTH_{stem}_SECRET"))
                .then(|| "v".to_owned())
        });
        assert!(ok, "{id}: AUTH_{stem}_ID not read");
        assert!(p.problems().is_empty(), "{id}");
    }
}
