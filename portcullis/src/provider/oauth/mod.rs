//! OAuth 2.0 and OpenID Connect providers (PROTOCOL.md §9.2), held to SECURITY.md §3.
//!
//! An [`OAuth`] value describes one provider: where its endpoints are (or its issuer, for
//! discovery), the client credentials, and how its profile maps to a user. The presets in
//! [`crate::providers`] are such values with the provider's documented endpoints filled
//! in. Every sign-in through them:
//! - sends PKCE `S256`, `state` and (OIDC) `nonce`, always — there is no switch to skip a
//!   check (CVE-2023-27490);
//! - keeps them in one encrypted, 15-minute, single-use check cookie bound to the provider,
//!   issuer, client id and redirect URI (GHSA-x445-f3h2-j279);
//! - checks RFC 9207's `iss` response parameter, validates the ID token per OIDC Core
//!   §3.1.3.7 with the algorithm fixed here, and matches the userinfo `sub`;
//! - times out every outbound call.

pub(crate) mod check;
pub(crate) mod client;
pub(crate) mod jose;
pub(crate) mod refresh;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::secret::Secret;

pub use jose::{IdTokenAlg, UnsupportedAlg};

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret (the default, as in
    /// Auth.js).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
}

/// Whether a provider speaks plain OAuth 2.0 or OpenID Connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthKind {
    /// OAuth 2.0: the profile comes from a userinfo call.
    OAuth,
    /// OpenID Connect: the profile comes from the validated ID token (and userinfo, when
    /// the provider has one, with a `sub` match).
    Oidc,
}

/// The user as a provider describes them, after the provider's profile mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Profile {
    /// The user's id at the provider (OIDC `sub`). With `iss`, the account key.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Email address, as the provider gives it.
    pub email: Option<String>,
    /// Whether the provider asserts the email is verified. Only a `true` here lets
    /// [`OAuth::dangerous_email_account_linking`] link to an existing user.
    pub email_verified: bool,
    /// Avatar URL.
    pub image: Option<String>,
}

impl Profile {
    /// A profile with an id and nothing else.
    ///
    /// # Examples
    /// ```
    /// use portcullis::Profile;
    /// let p = Profile::new("42").with_name("Ada").with_email("ada@example.com", true);
    /// assert!(p.email_verified);
    /// ```
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email and whether the provider verified it.
    pub fn with_email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = verified;
        self
    }

    /// Sets the avatar URL.
    pub fn with_image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }
}

/// Why a profile mapping failed (Auth.js `OAuthProfileParseError`); logged, the client
/// sees `Configuration`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider's profile could not be read: {0}")]
pub struct ProfileError(pub String);

/// The tokens a provider's token endpoint returned.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token.
    pub access_token: String,
    /// The token type (`Bearer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The refresh token, if one was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Access-token expiry, seconds since the epoch (`now + expires_in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The granted scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The OIDC ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

pub(crate) type ProfileFn = dyn Fn(&Value) -> Result<Profile, ProfileError> + Send + Sync;
pub(crate) type AccountFilter = dyn Fn(TokenSet) -> TokenSet + Send + Sync;

/// The default seconds of clock skew accepted on ID-token times.
pub const DEFAULT_ID_TOKEN_LEEWAY_SECS: i64 = 30;
/// The default timeout of every call to a provider.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The default refresh window: a session read refreshes an access token that expires
/// within this time.
pub const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(60);

/// An OAuth 2.0 or OpenID Connect provider.
///
/// Build one with [`OAuth::oidc`] (discovery from the issuer) or [`OAuth::oauth`]
/// (endpoints given), or take a preset from [`crate::providers`]; add it with
/// [`AuthConfigBuilder::oauth`](crate::AuthConfigBuilder::oauth).
///
/// # Examples
/// ```
/// use portcullis::OAuth;
/// let provider = OAuth::oidc("corp", "Corp SSO", "https://sso.example.com")
///     .client("my-client-id", "my-client-secret");
/// assert_eq!(provider.provider_id(), "corp");
/// ```
///
/// # Security
/// The checks (PKCE, `state`, `nonce`, `iss`) cannot be switched off. Email-based account
/// linking is off; [`dangerous_email_account_linking`](Self::dangerous_email_account_linking)
/// turns it on only for profiles whose email the provider says it verified.
#[derive(Clone)]
pub struct OAuth {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: OAuthKind,
    pub(crate) issuer: Option<String>,
    pub(crate) discovery_url: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) authorization_url: Option<String>,
    pub(crate) token_url: Option<String>,
    pub(crate) userinfo_url: Option<String>,
    pub(crate) jwks_url: Option<String>,
    pub(crate) end_session_url: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) token_auth: TokenAuthMethod,
    pub(crate) id_token_alg: IdTokenAlg,
    pub(crate) use_userinfo: bool,
    pub(crate) userinfo_headers: Vec<(String, String)>,
    pub(crate) profile: Arc<ProfileFn>,
    pub(crate) account_filter: Option<Arc<AccountFilter>>,
    pub(crate) dangerous_email_linking: bool,
    pub(crate) timeout: Duration,
    pub(crate) leeway: i64,
    pub(crate) refresh: bool,
    pub(crate) refresh_window: Duration,
    pub(crate) rp_logout: bool,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl OAuth {
    fn base(id: &str, name: &str, kind: OAuthKind) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            kind,
            issuer: None,
            discovery_url: None,
            client_id: String::new(),
            client_secret: None,
            authorization_url: None,
            token_url: None,
            userinfo_url: None,
            jwks_url: None,
            end_session_url: None,
            scope: None,
            params: Vec::new(),
            token_auth: TokenAuthMethod::default(),
            id_token_alg: IdTokenAlg::default(),
            use_userinfo: true,
            userinfo_headers: Vec::new(),
            profile: Arc::new(default_profile),
            account_filter: None,
            dangerous_email_linking: false,
            timeout: DEFAULT_HTTP_TIMEOUT,
            leeway: DEFAULT_ID_TOKEN_LEEWAY_SECS,
            refresh: true,
            refresh_window: DEFAULT_REFRESH_WINDOW,
            rp_logout: false,
        }
    }

    /// An OpenID Connect provider found by discovery at
    /// `{issuer}/.well-known/openid-configuration`. The document's `issuer` must equal
    /// `issuer` exactly (SECURITY.md OAU-12). Scope defaults to `openid profile email`.
    pub fn oidc(id: impl Into<String>, name: impl Into<String>, issuer: impl Into<String>) -> Self {
        let mut p = Self::base(&id.into(), &name.into(), OAuthKind::Oidc);
        p.issuer = Some(issuer.into());
        p
    }

    /// A plain OAuth 2.0 provider with the given authorization, token and userinfo
    /// endpoints. Set the scope with [`scope`](Self::scope).
    #[allow(clippy::self_named_constructors)] // `OAuth::oauth` vs `OAuth::oidc` reads right
    pub fn oauth(
        id: impl Into<String>,
        name: impl Into<String>,
        authorization_url: impl Into<String>,
        token_url: impl Into<String>,
        userinfo_url: impl Into<String>,
    ) -> Self {
        let mut p = Self::base(&id.into(), &name.into(), OAuthKind::OAuth);
        p.authorization_url = Some(authorization_url.into());
        p.token_url = Some(token_url.into());
        p.userinfo_url = Some(userinfo_url.into());
        p
    }

    /// Sets the client id and secret registered at the provider.
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        let secret = secret.into();
        self.client_secret = (!secret.is_empty()).then(|| Secret::new(secret));
        self
    }

    /// Sets the provider id (`AUTH_<ID>_…` names derive from it).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the issuer. For OIDC it is the discovery base and the exact `iss` expected;
    /// for OAuth 2.0 providers that return RFC 9207 `iss`, it is compared too.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Overrides the discovery document URL (default
    /// `{issuer}/.well-known/openid-configuration`).
    pub fn discovery_url(mut self, url: impl Into<String>) -> Self {
        self.discovery_url = Some(url.into());
        self
    }

    /// Sets the authorization endpoint (instead of, or over, discovery).
    pub fn authorization_url(mut self, url: impl Into<String>) -> Self {
        self.authorization_url = Some(url.into());
        self
    }

    /// Sets the token endpoint.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Sets the userinfo endpoint.
    pub fn userinfo_url(mut self, url: impl Into<String>) -> Self {
        self.userinfo_url = Some(url.into());
        self
    }

    /// Sets the JWKS URL (OIDC without discovery).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Sets the RP-initiated logout endpoint (OIDC `end_session_endpoint`).
    pub fn end_session_url(mut self, url: impl Into<String>) -> Self {
        self.end_session_url = Some(url.into());
        self
    }

    /// Sets the requested scope (space-separated). Default for OIDC:
    /// `openid profile email`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Adds a parameter to every authorization request (`prompt`, `access_type`…). The
    /// protocol parameters (`state`, `nonce`, `code_challenge`, `redirect_uri`,
    /// `client_id`, `response_type`) cannot be overridden.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Sets how the client authenticates at the token endpoint.
    pub fn token_auth(mut self, method: TokenAuthMethod) -> Self {
        self.token_auth = method;
        self
    }

    /// Sets the ID-token signature algorithm (default RS256). The token's header must name
    /// exactly this one: `none` and HMAC algorithms are never accepted.
    pub fn id_token_alg(mut self, alg: IdTokenAlg) -> Self {
        self.id_token_alg = alg;
        self
    }

    /// OIDC: whether to also call the userinfo endpoint (default yes, when there is one);
    /// its claims are used only if its `sub` equals the ID token's.
    pub fn userinfo(mut self, use_it: bool) -> Self {
        self.use_userinfo = use_it;
        self
    }

    /// Adds a header to userinfo requests (GitHub wants a `User-Agent`).
    pub fn userinfo_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.userinfo_headers.push((name.into(), value.into()));
        self
    }

    /// Sets the profile mapping: from the provider's profile JSON (ID-token claims merged
    /// with userinfo, or the userinfo response) to a [`Profile`]. The default reads
    /// `sub`/`id`, `name`/`nickname`/`preferred_username`, `email`, `email_verified`,
    /// `picture`.
    pub fn profile<F>(mut self, map: F) -> Self
    where
        F: Fn(&Value) -> Result<Profile, ProfileError> + Send + Sync + 'static,
    {
        self.profile = Arc::new(map);
        self
    }

    /// Filters the tokens stored with the linked account (Auth.js `account()`): the `jwt`
    /// callback still sees them all.
    pub fn account_filter<F>(mut self, filter: F) -> Self
    where
        F: Fn(TokenSet) -> TokenSet + Send + Sync + 'static,
    {
        self.account_filter = Some(Arc::new(filter));
        self
    }

    /// Links a sign-in to an existing user with the same email, instead of answering
    /// `OAuthAccountNotLinked` — but only when the provider asserts the email is verified
    /// ([`Profile::email_verified`]).
    ///
    /// # Security
    /// Whoever controls an account at this provider with your user's verified email can
    /// then sign in as that user. Enable it only for providers that verify emails and that
    /// you trust for the whole domain of your users' addresses (nOAuth).
    pub fn dangerous_email_account_linking(mut self, allow: bool) -> Self {
        self.dangerous_email_linking = allow;
        self
    }

    /// Sets the timeout of each outbound call (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the clock skew accepted on ID-token times (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Whether session reads refresh expiring access tokens with the refresh token
    /// (default yes; only when the provider issued one).
    pub fn refresh_tokens(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// How long before expiry a session read refreshes the access token (default 60 s).
    pub fn refresh_window(mut self, window: Duration) -> Self {
        self.refresh_window = window;
        self
    }

    /// Whether sign-out also ends the session at the provider (RP-initiated logout through
    /// its `end_session_endpoint`). The ID token is then kept for `id_token_hint`.
    pub fn rp_initiated_logout(mut self, enable: bool) -> Self {
        self.rp_logout = enable;
        self
    }

    /// Whether the provider answers with `response_mode=form_post` (a cross-site POST to
    /// the callback, as Apple does when names or emails are requested).
    pub(crate) fn is_form_post(&self) -> bool {
        self.params
            .iter()
            .any(|(k, v)| k == "response_mode" && v == "form_post")
    }

    /// The provider id.
    pub fn provider_id(&self) -> &str {
        &self.id
    }

    /// Whether it is OAuth 2.0 or OIDC.
    pub fn kind(&self) -> OAuthKind {
        self.kind
    }

    /// Reads `AUTH_<ID>_ID`, `AUTH_<ID>_SECRET` and `AUTH_<ID>_ISSUER` (the id upper-cased,
    /// `-` → `_`, as Auth.js names them) through `var`, for values not set yet. Returns
    /// whether a client id is now set.
    pub fn from_env_with(&mut self, var: impl Fn(&str) -> Option<String>) -> bool {
        let stem = env_stem(&self.id);
        if self.client_id.is_empty()
            && let Some(v) = var(&format!("AUTH_{stem}_ID")).filter(|v| !v.is_empty())
        {
            self.client_id = v;
        }
        if self.client_secret.is_none()
            && let Some(v) = var(&format!("AUTH_{stem}_SECRET")).filter(|v| !v.is_empty())
        {
            self.client_secret = Some(Secret::new(v));
        }
        if let Some(v) = var(&format!("AUTH_{stem}_ISSUER")).filter(|v| !v.is_empty()) {
            self.issuer = Some(v);
        }
        !self.client_id.is_empty()
    }

    /// Configuration problems, each one line naming the provider, the problem and the fix
    /// (SECURITY.md CFG-02): no client id or secret, no issuer (OIDC) or endpoints (OAuth
    /// 2.0), endpoints that are not https. [`AuthConfigBuilder::build`](crate::AuthConfigBuilder::build)
    /// reports them too; call this to check a provider earlier.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let id = &self.id;
        if self.client_id.is_empty() {
            out.push(format!(
                "provider `{id}`: no client id: set AUTH_{}_ID or call .client(id, secret)",
                env_stem(id)
            ));
        }
        if self.client_secret.is_none() {
            out.push(format!(
                "provider `{id}`: no client secret: set AUTH_{}_SECRET (public clients are not supported)",
                env_stem(id)
            ));
        }
        let has_endpoints = self.authorization_url.is_some() && self.token_url.is_some();
        match self.kind {
            OAuthKind::Oidc if self.issuer.is_none() => out.push(format!(
                "provider `{id}`: an OIDC provider needs an issuer: set AUTH_{}_ISSUER (the exact `iss` of its ID tokens)",
                env_stem(id)
            )),
            OAuthKind::OAuth if !has_endpoints || self.userinfo_url.is_none() => {
                out.push(format!(
                "provider `{id}`: an OAuth 2.0 provider needs authorization, token and userinfo URLs (or make it OIDC with an issuer)"
            ))
            }
            _ => {}
        }
        for (what, url) in [
            ("issuer", &self.issuer),
            ("discovery URL", &self.discovery_url),
            ("authorization URL", &self.authorization_url),
            ("token URL", &self.token_url),
            ("userinfo URL", &self.userinfo_url),
            ("JWKS URL", &self.jwks_url),
            ("end-session URL", &self.end_session_url),
        ] {
            if let Some(u) = url
                && let Err(why) = check_endpoint(u)
            {
                out.push(format!("provider `{id}`: {what} `{u}` {why}"));
            }
        }
        if self.id == "microsoft-entra-id"
            && self
                .issuer
                .as_deref()
                .is_some_and(crate::providers::is_multi_tenant_issuer)
        {
            out.push(format!(
                "provider `{id}`: a multi-tenant issuer (common/organizations/consumers) cannot be verified: use your tenant's issuer, https://login.microsoftonline.com/<tenant-id>/v2.0"
            ));
        }
        if self.timeout.is_zero() {
            out.push(format!(
                "provider `{id}`: a zero timeout: use a few seconds"
            ));
        }
        out
    }
}

/// The `<ID>` of `AUTH_<ID>_…`: upper-cased, `-` → `_`.
pub(crate) fn env_stem(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

/// An endpoint must be https, or http on a loopback host (RFC 9700 §2.6; local tests).
pub(crate) fn check_endpoint(raw: &str) -> Result<Url, &'static str> {
    let url = Url::parse(raw).map_err(|_| "is not a URL: use an absolute https:// URL")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("carries credentials: remove them");
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err("is plain http: use https (http is allowed only on loopback)"),
        _ => Err("is not an http(s) URL: use https"),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A string claim, when it is a non-empty string (or a number, as some providers send
/// ids).
pub(crate) fn claim_str(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether a claim says true (`true` or the string `"true"`, as some providers send it).
pub(crate) fn claim_true(v: &Value, key: &str) -> bool {
    match v.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Auth.js's default profile mapping: `{id: sub ?? id, name: name ?? nickname ??
/// preferred_username, email, image: picture}`, plus `email_verified`.
pub(crate) fn default_profile(v: &Value) -> Result<Profile, ProfileError> {
    let id = claim_str(v, "sub")
        .or_else(|| claim_str(v, "id"))
        .ok_or_else(|| ProfileError("no `sub` or `id`".into()))?;
    Ok(Profile {
        id,
        name: claim_str(v, "name")
            .or_else(|| claim_str(v, "nickname"))
            .or_else(|| claim_str(v, "preferred_username")),
        email: claim_str(v, "email"),
        email_verified: claim_true(v, "email_verified"),
        image: claim_str(v, "picture"),
    })
}

/// State shared by every OAuth provider of a configuration: the check cookie's names and
/// keys, the replay guard, and the refresh single-flight table.
pub(crate) struct Shared {
    names: [String; 2],
    codecs: [crate::jwt::JweCodec; 2],
    pub(crate) replay: check::ReplayGuard,
    pub(crate) flights: refresh::Flights,
}

impl Shared {
    pub(crate) fn new(names: [String; 2], codecs: [crate::jwt::JweCodec; 2]) -> Self {
        Self {
            names,
            codecs,
            replay: check::ReplayGuard::default(),
            flights: refresh::Flights::default(),
        }
    }

    /// The check cookie's name (`authjs.oauth-check`, `__Host-` on https: no sibling subdomain can plant one).
    pub(crate) fn check_name(&self, secure: bool) -> &str {
        &self.names[usize::from(secure)]
    }

    /// The check cookie's codec (keys derived with the cookie's name as salt).
    pub(crate) fn codec(&self, secure: bool) -> &crate::jwt::JweCodec {
        &self.codecs[usize::from(secure)]
    }
}

/// A configured provider with its runtime state (discovery, keys, HTTP client).
pub(crate) struct OAuthEntry {
    pub(crate) config: OAuth,
    pub(crate) runtime: client::Runtime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_follows_auth_js() {
        let p = default_profile(&serde_json::json!({
            "sub": "u1", "nickname": "ada", "email": "a@x.test", "email_verified": "true",
            "picture": "https://x.test/a.png"
        }))
        .unwrap();
        assert_eq!(p.id, "u1");
        assert_eq!(p.name.as_deref(), Some("ada"));
        assert!(p.email_verified);
        let p = default_profile(&serde_json::json!({"id": 42})).unwrap();
        assert_eq!(p.id, "42");
        assert!(!p.email_verified);
        assert!(default_profile(&serde_json::json!({"name": "x"})).is_err());
    }

    #[test]
    fn endpoints_must_be_https_except_loopback() {
        assert!(check_endpoint("https://idp.example").is_ok());
        assert!(check_endpoint("http://127.0.0.1:9000").is_ok());
        assert!(check_endpoint("http://localhost:9000/x").is_ok());
        assert!(check_endpoint("http://[::1]:9000").is_ok());
        assert!(check_endpoint("http://idp.example").is_err());
        assert!(check_endpoint("ftp://idp.example").is_err());
        assert!(check_endpoint("https://u:p@idp.example").is_err());
        assert!(check_endpoint("not a url").is_err());
    }

    #[test]
    fn missing_issuer_and_endpoints_are_config_problems() {
        let mut p = OAuth::oidc("oidc", "OIDC", "https://idp.example");
        p.issuer = None;
        let problems = p.problems().join("\n");
        assert!(problems.contains("client id"), "{problems}");
        assert!(problems.contains("needs an issuer"), "{problems}");
        let p = OAuth::oauth(
            "gh",
            "GH",
            "https://a.example",
            "https://t.example",
            "https://u.example",
        )
        .client("id", "secret");
        assert!(p.problems().is_empty());
    }

    #[test]
    fn env_names_follow_auth_js() {
        let mut p = OAuth::oidc("my-idp", "X", "https://idp.example");
        let ok = p.from_env_with(|k| match k {
            "AUTH_MY_IDP_ID" => Some("cid".into()),
            "AUTH_MY_IDP_SECRET" => Some("sec".into()),
            "AUTH_MY_IDP_ISSUER" => Some("https://other.example".into()),
            _ => None,
        });
        assert!(ok);
        assert_eq!(p.client_id, "cid");
        assert_eq!(p.issuer.as_deref(), Some("https://other.example"));
    }
}
