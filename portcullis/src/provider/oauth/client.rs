//! Outbound calls to a provider: discovery, JWKS, token endpoint, userinfo. Every call has
//! a timeout, follows no redirects, and reads at most [`MAX_RESPONSE`] bytes.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use url::Url;

use super::jose::{JoseError, Jwks};
use super::{OAuth, OAuthKind, check_endpoint};

/// The largest provider response read (discovery, JWKS, tokens, userinfo).
pub(crate) const MAX_RESPONSE: usize = 256 * 1024;
/// The least time between two JWKS fetches caused by an unknown `kid` (SECURITY.md KEY-06).
pub(crate) const JWKS_COOLDOWN: Duration = Duration::from_secs(60);

/// Why a call to a provider failed. Logged in full (no token ever appears in it); the
/// client sees `Configuration`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum OAuthFailure {
    /// The provider could not be reached or answered too slowly.
    #[error("{endpoint}: {reason}")]
    Http {
        endpoint: &'static str,
        reason: String,
    },
    /// The provider answered with an error status.
    #[error("{endpoint}: HTTP {status}{}", error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Status {
        endpoint: &'static str,
        status: u16,
        /// The OAuth `error` code of the body, if any (e.g. `invalid_grant`).
        error: Option<String>,
    },
    /// The answer was not what the protocol requires.
    #[error("{endpoint}: {reason}")]
    Invalid {
        endpoint: &'static str,
        reason: String,
    },
    /// The discovery document names another issuer (SECURITY.md OAU-12).
    #[error(
        "discovery: the document's issuer `{found}` is not the configured issuer `{expected}` (they must be equal, byte for byte)"
    )]
    IssuerMismatch { expected: String, found: String },
    /// The ID token was refused.
    #[error("ID token refused: {0}")]
    IdToken(#[from] JoseError),
}

impl OAuthFailure {
    fn invalid(endpoint: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            endpoint,
            reason: reason.into(),
        }
    }
}

/// A provider's endpoints, from its configuration and, for OIDC, discovery.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    pub(crate) authorization: Url,
    pub(crate) token: Url,
    pub(crate) userinfo: Option<Url>,
    pub(crate) jwks: Option<Url>,
    pub(crate) end_session: Option<Url>,
    /// RFC 9207: the provider promises an `iss` parameter in every authorization response.
    pub(crate) iss_parameter: bool,
}

/// The runtime state of one provider: its metadata and keys, cached.
pub(crate) struct Runtime {
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<Arc<Metadata>>>,
    jwks: RwLock<Option<Arc<Jwks>>>,
    jwks_fetch: tokio::sync::Mutex<()>,
    /// When the last refetch (not the first fetch) ran: the cool-down counts from it.
    jwks_refetched_at: Mutex<Option<Instant>>,
}

/// The shared HTTP client: rustls with the ring provider, no redirects, no cookies.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    // reqwest with `rustls-no-provider` needs a process-wide crypto provider; installing
    // fails harmlessly when one is already installed (by us or by the application).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

impl Runtime {
    pub(crate) fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            metadata: tokio::sync::Mutex::new(None),
            jwks: RwLock::new(None),
            jwks_fetch: tokio::sync::Mutex::new(()),
            jwks_refetched_at: Mutex::new(None),
        }
    }

    /// The provider's endpoints: configured ones over discovered ones. Discovery runs once
    /// per process on success; a failure is not cached (the next sign-in tries again).
    pub(crate) async fn metadata(&self, cfg: &OAuth) -> Result<Arc<Metadata>, OAuthFailure> {
        let mut slot = self.metadata.lock().await;
        if let Some(m) = slot.as_ref() {
            return Ok(m.clone());
        }
        let discovered = match (cfg.kind, &cfg.issuer) {
            (OAuthKind::Oidc, Some(issuer))
                if cfg.authorization_url.is_none()
                    || cfg.token_url.is_none()
                    || cfg.jwks_url.is_none() =>
            {
                Some(self.discover(cfg, issuer).await?)
            }
            _ => None,
        };
        let d = discovered.as_ref();
        let pick = |configured: &Option<String>, key: &str| -> Result<Option<Url>, OAuthFailure> {
            match configured {
                Some(u) => check_endpoint(u)
                    .map(Some)
                    .map_err(|why| OAuthFailure::invalid("configuration", format!("{key} {why}"))),
                None => match d.and_then(|d| d.get(key)) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(u)) => check_endpoint(u).map(Some).map_err(|why| {
                        OAuthFailure::invalid("discovery", format!("`{key}` {why}"))
                    }),
                    Some(_) => Err(OAuthFailure::invalid(
                        "discovery",
                        format!("`{key}` is not a string"),
                    )),
                },
            }
        };
        let authorization = pick(&cfg.authorization_url, "authorization_endpoint")?
            .ok_or_else(|| OAuthFailure::invalid("discovery", "no authorization_endpoint"))?;
        let token = pick(&cfg.token_url, "token_endpoint")?
            .ok_or_else(|| OAuthFailure::invalid("discovery", "no token_endpoint"))?;
        let userinfo = pick(&cfg.userinfo_url, "userinfo_endpoint")?;
        let jwks = pick(&cfg.jwks_url, "jwks_uri")?;
        let end_session = pick(&cfg.end_session_url, "end_session_endpoint")?;
        if cfg.kind == OAuthKind::Oidc && jwks.is_none() {
            return Err(OAuthFailure::invalid(
                "discovery",
                "no jwks_uri: ID tokens cannot be verified",
            ));
        }
        let iss_parameter = d
            .and_then(|d| d.get("authorization_response_iss_parameter_supported"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let m = Arc::new(Metadata {
            authorization,
            token,
            userinfo,
            jwks,
            end_session,
            iss_parameter,
        });
        *slot = Some(m.clone());
        Ok(m)
    }

    async fn discover(
        &self,
        cfg: &OAuth,
        issuer: &str,
    ) -> Result<Map<String, Value>, OAuthFailure> {
        let url = match &cfg.discovery_url {
            Some(u) => u.clone(),
            None => format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ),
        };
        let url = check_endpoint(&url)
            .map_err(|why| OAuthFailure::invalid("discovery", format!("URL {why}")))?;
        let doc = self.get_json("discovery", url, None, &[]).await?;
        let found = doc
            .get("issuer")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Exact equality: no normalisation, no trailing-slash trimming (OIDC Discovery §4.3).
        if found != issuer {
            return Err(OAuthFailure::IssuerMismatch {
                expected: issuer.to_owned(),
                found: found.chars().take(200).collect(),
            });
        }
        Ok(doc)
    }

    /// The provider's keys: the cached set, or the first fetch.
    pub(crate) async fn jwks(&self, meta: &Metadata) -> Result<Arc<Jwks>, OAuthFailure> {
        if let Some(keys) = self.cached_jwks() {
            return Ok(keys);
        }
        let _guard = self.jwks_fetch.lock().await;
        // Someone else may have fetched while we waited.
        match self.cached_jwks() {
            Some(keys) => Ok(keys),
            None => self.fetch_jwks(meta).await,
        }
    }

    /// Fetches the keys again because `seen` could not verify a token (an unknown `kid`,
    /// or a rotated key without `kid`): at most once per [`JWKS_COOLDOWN`], whatever the
    /// number of callers (SECURITY.md KEY-05/06). Returns the cached set when a refetch is
    /// not allowed yet or the endpoint fails (KEY-07); compare it with `seen` to know
    /// whether anything new came.
    pub(crate) async fn refetch_jwks(
        &self,
        meta: &Metadata,
        seen: &Arc<Jwks>,
    ) -> Result<Arc<Jwks>, OAuthFailure> {
        let _guard = self.jwks_fetch.lock().await;
        let cached = self.cached_jwks().unwrap_or_else(|| seen.clone());
        if !Arc::ptr_eq(&cached, seen) {
            // Refetched by someone else while we waited.
            return Ok(cached);
        }
        let Ok(mut last) = self.jwks_refetched_at.lock().map(|t| *t) else {
            return Ok(cached);
        };
        if last.is_some_and(|t| t.elapsed() < JWKS_COOLDOWN) {
            return Ok(cached);
        }
        last = Some(Instant::now());
        if let Ok(mut t) = self.jwks_refetched_at.lock() {
            *t = last;
        }
        match self.fetch_jwks(meta).await {
            Ok(keys) => Ok(keys),
            Err(e) => {
                tracing::warn!(target: "portcullis", error = %e, "[auth][warn] JWKS refetch failed; keeping the cached keys");
                Ok(cached)
            }
        }
    }

    /// One JWKS fetch; the result replaces the cache.
    async fn fetch_jwks(&self, meta: &Metadata) -> Result<Arc<Jwks>, OAuthFailure> {
        let url = meta
            .jwks
            .clone()
            .ok_or_else(|| OAuthFailure::invalid("jwks", "no jwks_uri"))?;
        let bytes = self.get_bytes("jwks", url, None, &[]).await?;
        let keys = Jwks::parse(&bytes).map_err(OAuthFailure::IdToken)?;
        for skipped in keys.skipped() {
            tracing::debug!(target: "portcullis", key = %skipped, reason = skipped.reason(), "JWKS entry not used");
        }
        tracing::debug!(target: "portcullis", keys = keys.len(), "JWKS fetched");
        let keys = Arc::new(keys);
        if let Ok(mut slot) = self.jwks.write() {
            *slot = Some(keys.clone());
        }
        Ok(keys)
    }

    fn cached_jwks(&self) -> Option<Arc<Jwks>> {
        self.jwks.read().ok().and_then(|k| k.clone())
    }

    /// A token-endpoint request (`authorization_code` or `refresh_token` grant) with the
    /// client's authentication. Returns the JSON object answered.
    pub(crate) async fn token_request(
        &self,
        cfg: &OAuth,
        meta: &Metadata,
        mut form: Vec<(&'static str, String)>,
    ) -> Result<Map<String, Value>, OAuthFailure> {
        let secret = cfg
            .client_secret
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default();
        let mut req = self.http.post(meta.token.clone());
        match cfg.token_auth {
            super::TokenAuthMethod::ClientSecretBasic => {
                // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let basic = STANDARD.encode(format!("{}:{}", enc(&cfg.client_id), enc(&secret)));
                req = req.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
            }
            super::TokenAuthMethod::ClientSecretPost => {
                form.push(("client_id", cfg.client_id.clone()));
                form.push(("client_secret", secret));
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let req = req
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        let bytes = self.send("token", req).await?;
        json_object("token", &bytes)
    }

    /// `GET userinfo` with the access token.
    pub(crate) async fn userinfo(
        &self,
        cfg: &OAuth,
        url: Url,
        access_token: &str,
    ) -> Result<Map<String, Value>, OAuthFailure> {
        self.get_json("userinfo", url, Some(access_token), &cfg.userinfo_headers)
            .await
    }

    async fn get_json(
        &self,
        endpoint: &'static str,
        url: Url,
        bearer: Option<&str>,
        headers: &[(String, String)],
    ) -> Result<Map<String, Value>, OAuthFailure> {
        let bytes = self.get_bytes(endpoint, url, bearer, headers).await?;
        json_object(endpoint, &bytes)
    }

    async fn get_bytes(
        &self,
        endpoint: &'static str,
        url: Url,
        bearer: Option<&str>,
        headers: &[(String, String)],
    ) -> Result<Vec<u8>, OAuthFailure> {
        let mut req = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        self.send(endpoint, req).await
    }

    async fn send(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, OAuthFailure> {
        let http = |e: reqwest::Error| OAuthFailure::Http {
            endpoint,
            reason: if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "cannot connect".to_owned()
            } else {
                // Without the URL: it may carry a query we do not want in logs.
                e.without_url().to_string()
            },
        };
        let mut resp = req.send().await.map_err(http)?;
        let status = resp.status();
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE as u64)
        {
            return Err(OAuthFailure::invalid(endpoint, "response too large"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_RESPONSE {
                return Err(OAuthFailure::invalid(endpoint, "response too large"));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let error = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(short))
                .filter(|e| e.bytes().all(|b| b.is_ascii_graphic()));
            return Err(OAuthFailure::Status {
                endpoint,
                status: status.as_u16(),
                error,
            });
        }
        Ok(body)
    }
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

fn json_object(endpoint: &'static str, bytes: &[u8]) -> Result<Map<String, Value>, OAuthFailure> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(OAuthFailure::invalid(
            endpoint,
            "the answer is not a JSON object",
        )),
        Err(_) => Err(OAuthFailure::invalid(endpoint, "the answer is not JSON")),
    }
}
