//! Microsoft Entra ID (OpenID Connect, one tenant).

use serde_json::Value;

use crate::provider::oauth::{OAuth, Profile, ProfileError, claim_str, claim_true};

/// The tenant names of Entra's multi-tenant endpoints.
const MULTI_TENANT: &[&str] = &["common", "organizations", "consumers"];

/// Sign in with one Microsoft Entra ID tenant (formerly Azure AD), an OpenID Connect
/// provider (the v2.0 endpoint).
///
/// - `tenant_issuer` is the full v2.0 issuer of ONE tenant, kept verbatim:
///   `https://login.microsoftonline.com/<tenant-id>/v2.0`, with the tenant's GUID (a
///   domain name such as `contoso.onmicrosoft.com` discovers an issuer with the GUID and
///   is refused as a mismatch). Personal Microsoft accounts are the tenant
///   `9188040d-6c67-4c5b-b112-36a304b66dad`.
/// - Callback URL to register (a "Web" platform redirect URI):
///   `{AUTH_URL}/api/auth/callback/microsoft-entra-id`.
/// - Environment: `AUTH_MICROSOFT_ENTRA_ID_ID`, `AUTH_MICROSOFT_ENTRA_ID_SECRET`,
///   `AUTH_MICROSOFT_ENTRA_ID_ISSUER`.
/// - OIDC, scope `openid profile email User.Read` (as Auth.js, so the access token can
///   read the user from Microsoft Graph). Profile: `sub` (as Auth.js; it is pairwise per
///   application — the tenant-wide object id is the `oid` claim), `name`, `email` or else
///   `preferred_username`. No picture: unlike Auth.js, the preset makes no Graph call for
///   the photo.
///
/// # Security
/// - Multi-tenant issuers (`common`, `organizations`, `consumers`) are not supported: their
///   tokens' `iss` names whichever tenant the user came from, and the expected issuer must
///   never be derived from unverified token content (SECURITY.md OAU-21; Auth.js does
///   exactly that). Such an issuer fails closed at discovery, whose document names the
///   `{tenantid}` template or another tenant instead. To accept several tenants, configure
///   one preset per tenant with [`id`](OAuth::id) set apart.
/// - Entra does not verify the `email` claim for every kind of account (it is a mutable
///   attribute; the "nOAuth" attack), so [`Profile::email_verified`] is `true` only when the
///   token also says the email's domain is verified: the optional claim `xms_edov` (add it
///   in "Token configuration"), or an `email_verified` claim. An email taken from
///   `preferred_username` is never verified.
///
/// # Examples
/// ```
/// let p = portcullis::providers::microsoft_entra_id(
///     "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
/// )
/// .client("id", "secret");
/// assert_eq!(p.provider_id(), "microsoft-entra-id");
/// ```
pub fn microsoft_entra_id(tenant_issuer: impl Into<String>) -> OAuth {
    let issuer = tenant_issuer.into();
    if is_multi_tenant_issuer(&issuer) {
        tracing::warn!(
            target: "portcullis",
            issuer = %issuer,
            "[auth][warn] provider `microsoft-entra-id`: multi-tenant issuers are not supported (sign-ins will fail): use https://login.microsoftonline.com/<tenant-id>/v2.0"
        );
    }
    OAuth::oidc("microsoft-entra-id", "Microsoft Entra ID", issuer)
        .scope("openid profile email User.Read")
        .profile(profile)
}

/// Whether `issuer` names one of Entra's multi-tenant endpoints (`common`,
/// `organizations`, `consumers`, in any case) instead of one tenant.
pub(crate) fn is_multi_tenant_issuer(issuer: &str) -> bool {
    url::Url::parse(issuer).is_ok_and(|u| {
        u.path_segments()
            .and_then(|mut s| s.next())
            .is_some_and(|t| MULTI_TENANT.iter().any(|m| m.eq_ignore_ascii_case(t)))
    })
}

fn profile(v: &Value) -> Result<Profile, ProfileError> {
    let (email, email_verified) = match claim_str(v, "email") {
        Some(email) => {
            let verified = claim_true(v, "xms_edov") || claim_true(v, "email_verified");
            (Some(email), verified)
        }
        None => (claim_str(v, "preferred_username"), false),
    };
    Ok(Profile {
        id: super::required_id("microsoft-entra-id", v, "sub")?,
        name: claim_str(v, "name"),
        email,
        email_verified,
        image: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISSUER: &str =
        "https://login.microsoftonline.com/9122040d-6c67-4c5b-b112-36a304b66dad/v2.0";

    /// A v2.0 ID token's claims, as documented, with the optional `email` claim.
    fn sample() -> Value {
        json!({
            "ver": "2.0",
            "iss": ISSUER,
            "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "aud": "6cb04018-a3f5-46a7-b995-940c78f5aef3",
            "exp": 1536361411,
            "iat": 1536274711,
            "nbf": 1536274711,
            "name": "Abe Lincoln",
            "preferred_username": "AbeLi@microsoft.com",
            "oid": "00000000-0000-0000-66f3-3332eca7ea81",
            "tid": "9122040d-6c67-4c5b-b112-36a304b66dad",
            "nonce": "123523",
            "aio": "Df2UVXL1ix!lMCWMSOJBcFatzcGfvFGhjKv8q5g0x732dR5MB5BisvGQO7YWByjd8iQDLq!eGbIDakyp5mnOrcdqHeYSnltepQmRp6AIZ8jY",
            "email": "abe.lincoln@contoso.com"
        })
    }

    #[test]
    fn maps_the_claims_and_does_not_trust_a_bare_email() {
        let p = profile(&sample()).unwrap();
        assert_eq!(p.id, "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ");
        assert_eq!(p.name.as_deref(), Some("Abe Lincoln"));
        assert_eq!(p.email.as_deref(), Some("abe.lincoln@contoso.com"));
        assert!(
            !p.email_verified,
            "Entra's email claim alone is not verified"
        );
        assert_eq!(p.image, None);
    }

    #[test]
    fn xms_edov_verifies_the_email_claim() {
        let mut v = sample();
        v["xms_edov"] = json!(true);
        assert!(profile(&v).unwrap().email_verified);
        v["xms_edov"] = json!(false);
        assert!(!profile(&v).unwrap().email_verified);
        v["email_verified"] = json!(true);
        assert!(profile(&v).unwrap().email_verified);
    }

    #[test]
    fn preferred_username_fallback_is_never_verified() {
        let mut v = sample();
        let o = v.as_object_mut().unwrap();
        o.remove("email");
        o.insert("xms_edov".into(), json!(true));
        let p = profile(&v).unwrap();
        assert_eq!(p.email.as_deref(), Some("AbeLi@microsoft.com"));
        assert!(!p.email_verified);
        v.as_object_mut().unwrap().remove("sub");
        assert!(
            profile(&v).is_err(),
            "no fallback to `oid`: the id is `sub`"
        );
    }

    #[test]
    fn keeps_the_tenant_issuer_verbatim() {
        let p = microsoft_entra_id(ISSUER);
        assert_eq!(p.issuer.as_deref(), Some(ISSUER));
        assert_eq!(p.provider_id(), "microsoft-entra-id");
        assert_eq!(p.scope.as_deref(), Some("openid profile email User.Read"));
        // Even a refused multi-tenant issuer is kept as given: it fails closed at
        // discovery, and the config check can name it.
        let common = "https://login.microsoftonline.com/common/v2.0";
        assert_eq!(microsoft_entra_id(common).issuer.as_deref(), Some(common));
    }

    #[test]
    fn recognises_multi_tenant_issuers() {
        for t in ["common", "organizations", "consumers", "Common"] {
            let issuer = format!("https://login.microsoftonline.com/{t}/v2.0");
            assert!(is_multi_tenant_issuer(&issuer), "{issuer}");
        }
        assert!(!is_multi_tenant_issuer(ISSUER));
        assert!(!is_multi_tenant_issuer(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
        ));
        assert!(!is_multi_tenant_issuer("not a url"));
    }
}
