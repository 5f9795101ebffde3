//! The server's settings: `portcullis.toml` plus the environment (the environment wins).
//!
//! Every problem becomes one line — `KEY: problem: fix` — and all of them are reported at
//! once.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use portcullis::SessionStrategy;
use serde::Deserialize;

/// Keys a client `update()` may never set, and attribute names that would shadow the
/// standard session or token fields.
pub(crate) const RESERVED: &[&str] = &[
    "id", "name", "email", "image", "picture", "sub", "iat", "exp", "jti", "nbf", "expires",
];

/// `portcullis.toml`. Unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    metrics_listen: Option<String>,
    url: Option<String>,
    trust_host: Option<bool>,
    production: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    log_format: Option<String>,
    database_url: Option<String>,
    session_store_url: Option<String>,
    session: Option<SessionSection>,
    theme: Option<ThemeSection>,
    pages: Option<PagesSection>,
    webhook: Option<WebhookSection>,
    oauth: Option<OAuthSection>,
    email: Option<EmailSection>,
}

/// `[email]`: sign-in links by email (the `email` provider).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailSection {
    /// `smtp://[user:pass@]host[:port]`, `smtps://…`, or `log` (development: print links).
    server: Option<String>,
    /// The From address (`Name <no-reply@example.com>`).
    from: Option<String>,
    /// Minutes a link stays valid (default 10).
    max_age_minutes: Option<u64>,
    /// Whether a link may create a user on first use (default true).
    sign_up: Option<bool>,
    /// Whether `POST /api/auth/signup` creates email + password accounts (default false).
    password_sign_up: Option<bool>,
}

/// The email provider's settings.
#[derive(Clone)]
pub(crate) struct EmailSettings {
    pub(crate) sender: std::sync::Arc<dyn portcullis::email::Sender>,
    /// What the sender is, for the startup log (never the credentials).
    pub(crate) describe: String,
    pub(crate) max_age: time::Duration,
    pub(crate) sign_up: bool,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("sender", &self.describe)
            .field("max_age", &self.max_age)
            .field("sign_up", &self.sign_up)
            .finish()
    }
}

/// `[oauth]`: OAuth / OpenID Connect sign-in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuthSection {
    /// Seconds before expiry a session read refreshes a provider access token.
    refresh_window: Option<u64>,
    /// Sign-out also ends the session at the provider (RP-initiated logout).
    rp_logout: Option<bool>,
    /// `[[oauth.providers]]`: presets by id, or generic OIDC providers with an issuer.
    #[serde(default)]
    providers: Vec<OAuthProviderSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuthProviderSection {
    id: String,
    name: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// `[webhook]`: the enrichment webhook.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookSection {
    url: Option<String>,
    timeout_ms: Option<u64>,
    cache_seconds: Option<u64>,
}

/// `[theme]`: the look of the built-in pages.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeSection {
    color_scheme: Option<String>,
    brand_color: Option<String>,
    button_text: Option<String>,
    logo: Option<String>,
}

/// `[pages]`: your own pages instead of the built-in ones.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PagesSection {
    sign_in: Option<String>,
    sign_out: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionSection {
    strategy: Option<String>,
    max_age: Option<u64>,
    expose: Option<Vec<String>>,
    updatable: Option<Vec<String>>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) listen: SocketAddr,
    /// `PORTCULLIS_METRICS_LISTEN`: where `GET /metrics` (Prometheus) is served, on its own
    /// listener so it is never exposed with the public routes. Off when unset.
    pub(crate) metrics_listen: Option<SocketAddr>,
    pub(crate) url: Option<String>,
    pub(crate) trust_host: Option<bool>,
    pub(crate) production: bool,
    pub(crate) trusted_proxies: Vec<Cidr>,
    pub(crate) log_json: bool,
    pub(crate) database_url: String,
    pub(crate) session_store_url: Option<String>,
    pub(crate) strategy: SessionStrategy,
    pub(crate) max_age: Option<u64>,
    pub(crate) expose: Vec<String>,
    pub(crate) updatable: Vec<String>,
    /// `AUTH_SECRET_n … AUTH_SECRET_1, AUTH_SECRET`: the first encodes.
    pub(crate) secrets: Vec<String>,
    pub(crate) theme: portcullis::Theme,
    pub(crate) pages: portcullis::Pages,
    pub(crate) webhook: Option<crate::webhook::WebhookSettings>,
    /// OAuth / OIDC providers, from `[[oauth.providers]]` and `AUTH_<ID>_*`.
    pub(crate) oauth: Vec<portcullis::OAuth>,
    /// The email provider, when `AUTH_EMAIL_SERVER` and `AUTH_EMAIL_FROM` are set.
    pub(crate) email: Option<EmailSettings>,
    /// `PORTCULLIS_SIGN_UP`: the password sign-up route is open (needs `email`).
    pub(crate) password_sign_up: bool,
}

/// The default database.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://data/portcullis.db";

impl Settings {
    /// Loads the file (when `path` is given, or `portcullis.toml` exists) and the environment.
    pub(crate) fn load(
        path: Option<&Path>,
        production_flag: bool,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let file = match read_file(path) {
            Ok(f) => f,
            Err(p) => return Err(vec![p]),
        };
        let session = file.session.unwrap_or_default();
        let env = |k: &str| var(k).filter(|v| !v.trim().is_empty());

        let listen_raw = env("PORTCULLIS_LISTEN")
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
        let listen = listen_raw.parse().unwrap_or_else(|_| {
            problems.push(format!(
                "PORTCULLIS_LISTEN: `{listen_raw}` is not an address: use IP:PORT, e.g. `127.0.0.1:3000`"
            ));
            SocketAddr::from(([127, 0, 0, 1], 3000))
        });

        let metrics_listen = match env("PORTCULLIS_METRICS_LISTEN").or(file.metrics_listen) {
            None => None,
            Some(raw) => match raw.parse::<SocketAddr>() {
                Ok(a) if a == listen => {
                    problems.push(format!(
                        "PORTCULLIS_METRICS_LISTEN: `{raw}` is the public address: give the metrics their own port, e.g. `127.0.0.1:9464`"
                    ));
                    None
                }
                Ok(a) => Some(a),
                Err(_) => {
                    problems.push(format!(
                        "PORTCULLIS_METRICS_LISTEN: `{raw}` is not an address: use IP:PORT, e.g. `127.0.0.1:9464`"
                    ));
                    None
                }
            },
        };

        let production = production_flag
            || match env("PORTCULLIS_ENV").as_deref() {
                Some("production") => true,
                Some("development") | None => file.production.unwrap_or(false),
                Some(other) => {
                    problems.push(format!(
                        "PORTCULLIS_ENV: `{other}` is not an environment: use `production` or `development`"
                    ));
                    false
                }
            };

        let trust_host = match env("AUTH_TRUST_HOST").as_deref() {
            None => file.trust_host,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(other) => {
                problems.push(format!(
                    "AUTH_TRUST_HOST: `{other}` is not a boolean: set it to `true` or `false`"
                ));
                None
            }
        };
        let url = env("AUTH_URL").or(file.url);
        if let Some(u) = &url
            && url::Url::parse(u).is_err()
        {
            problems.push(format!(
                "AUTH_URL: `{u}` is not a URL: use the public origin, e.g. `https://auth.example.com`"
            ));
        }
        if production && url.is_none() && trust_host != Some(true) {
            problems.push(
                "AUTH_URL: missing in production: set it to the public URL (or AUTH_TRUST_HOST=true behind a trusted proxy)"
                    .to_owned(),
            );
        }

        let trusted_proxies = match env("PORTCULLIS_TRUSTED_PROXIES") {
            Some(list) => split_list(&list),
            None => file.trusted_proxies.unwrap_or_default(),
        }
        .iter()
        .filter_map(|s| {
            Cidr::parse(s)
                .map_err(|()| {
                    problems.push(format!(
                        "PORTCULLIS_TRUSTED_PROXIES: `{s}` is not an IP or CIDR: use e.g. `10.0.0.0/8` or `127.0.0.1`"
                    ));
                })
                .ok()
        })
        .collect();

        let log_json = match env("PORTCULLIS_LOG_FORMAT").or(file.log_format).as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                problems.push(format!(
                    "PORTCULLIS_LOG_FORMAT: `{other}` is not a format: use `text` or `json`"
                ));
                false
            }
        };

        let database_url = env("DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            problems.push(format!(
                "DATABASE_URL: `{database_url}` is neither a `sqlite:` nor a `postgres:` URL: use e.g. `{DEFAULT_DATABASE_URL}`"
            ));
        }
        let session_store_url = env("SESSION_STORE_URL").or(file.session_store_url);
        if let Some(u) = &session_store_url
            && !(u.starts_with("redis:") || u.starts_with("rediss:"))
        {
            problems.push(format!(
                "SESSION_STORE_URL: `{u}` is not a `redis:` URL: use e.g. `redis://127.0.0.1:6379` or leave it unset"
            ));
        }

        let strategy = match env("PORTCULLIS_STRATEGY").or(session.strategy).as_deref() {
            None | Some("database") => SessionStrategy::Database,
            Some("jwt") => SessionStrategy::Jwt,
            Some(other) => {
                problems.push(format!(
                    "PORTCULLIS_STRATEGY: `{other}` is not a strategy: use `database` or `jwt`"
                ));
                SessionStrategy::Database
            }
        };
        let max_age = match env("PORTCULLIS_SESSION_MAX_AGE") {
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    problems.push(format!(
                        "PORTCULLIS_SESSION_MAX_AGE: `{v}` is not a number of seconds: use e.g. `2592000` (30 days)"
                    ));
                    None
                }
            },
            None => session.max_age,
        };

        let expose = match env("PORTCULLIS_SESSION_EXPOSE") {
            Some(list) => split_list(&list),
            None => session.expose.unwrap_or_default(),
        };
        for k in &expose {
            if !is_attribute_name(k) || RESERVED.contains(&k.as_str()) {
                problems.push(format!(
                    "PORTCULLIS_SESSION_EXPOSE: `{k}` cannot be exposed: name attributes with a–z, 0–9, `_`, `-` (not id/name/email/image, which are always there)"
                ));
            }
        }
        let updatable = match env("PORTCULLIS_SESSION_UPDATABLE") {
            Some(list) => split_list(&list),
            None => session.updatable.unwrap_or_default(),
        };
        for k in &updatable {
            let ok = k == "name"
                || k == "image"
                || (is_attribute_name(k) && !RESERVED.contains(&k.as_str()));
            if !ok {
                problems.push(format!(
                    "PORTCULLIS_SESSION_UPDATABLE: `{k}` cannot be updated by clients: list `name`, `image` or attribute names"
                ));
            }
        }

        let mut secrets = Vec::new();
        if let Some(s) = env("AUTH_SECRET") {
            secrets.push(s);
        }
        let mut n = 1;
        while let Some(s) = env(&format!("AUTH_SECRET_{n}")) {
            secrets.insert(0, s);
            n += 1;
        }
        for (i, s) in secrets.iter().enumerate() {
            if s.len() < portcullis::MIN_SECRET_LEN {
                problems.push(format!(
                    "AUTH_SECRET: secret #{} is {} bytes: use at least {} random bytes (`portcullis secret`)",
                    i + 1,
                    s.len(),
                    portcullis::MIN_SECRET_LEN
                ));
            }
        }
        if production && secrets.is_empty() {
            problems.push(
                "AUTH_SECRET: missing in production: set it to at least 32 random bytes (`portcullis secret`)"
                    .to_owned(),
            );
        }

        let theme = theme_from(file.theme.unwrap_or_default(), &mut problems);
        let pages = pages_from(file.pages.unwrap_or_default(), &mut problems);
        let webhook = webhook_from(
            file.webhook.unwrap_or_default(),
            &env,
            production,
            &mut problems,
        );

        let oauth = oauth_from(file.oauth.unwrap_or_default(), &env, &mut problems);
        let email_section = file.email.unwrap_or_default();
        let password_sign_up = match env("PORTCULLIS_SIGN_UP").as_deref() {
            Some(raw) => parse_bool(raw).unwrap_or_else(|| {
                problems.push(format!(
                    "PORTCULLIS_SIGN_UP: `{raw}` is not a boolean: use `true` or `false`"
                ));
                false
            }),
            None => email_section.password_sign_up.unwrap_or(false),
        };
        let email = email_from(email_section, &env, production, &mut problems);
        if password_sign_up && email.is_none() {
            problems.push(
                "PORTCULLIS_SIGN_UP: sign-up mails a verification link: set AUTH_EMAIL_SERVER and AUTH_EMAIL_FROM too"
                    .to_owned(),
            );
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            listen,
            metrics_listen,
            url,
            trust_host,
            production,
            trusted_proxies,
            log_json,
            database_url,
            session_store_url,
            strategy,
            max_age,
            expose,
            updatable,
            secrets,
            theme,
            pages,
            webhook,
            oauth,
            email,
            password_sign_up,
        })
    }

    /// The directory of generated files (the development secret): the SQLite file's
    /// directory, or `./data`.
    pub(crate) fn data_dir(&self) -> PathBuf {
        sqlite_path(&self.database_url)
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("data"))
    }
}

/// `true`/`1` or `false`/`0`.
fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// The email provider: `AUTH_EMAIL_SERVER` (or `[email] server`) and `AUTH_EMAIL_FROM` (or
/// `[email] from`) together turn it on; one without the other is a problem.
/// `PORTCULLIS_EMAIL_MAX_AGE_MINUTES` and `PORTCULLIS_EMAIL_SIGN_UP` override the file.
fn email_from(
    section: EmailSection,
    env: &dyn Fn(&str) -> Option<String>,
    production: bool,
    problems: &mut Vec<String>,
) -> Option<EmailSettings> {
    let server = env("AUTH_EMAIL_SERVER").or(section.server);
    let from = env("AUTH_EMAIL_FROM").or(section.from);
    let max_age_minutes = match env("PORTCULLIS_EMAIL_MAX_AGE_MINUTES") {
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(m) => Some(m),
            Err(_) => {
                problems.push(format!(
                    "PORTCULLIS_EMAIL_MAX_AGE_MINUTES: `{raw}` is not a number of minutes: use e.g. `10`"
                ));
                None
            }
        },
        None => section.max_age_minutes,
    };
    let sign_up = match env("PORTCULLIS_EMAIL_SIGN_UP").as_deref() {
        Some(raw) => match parse_bool(raw) {
            Some(b) => b,
            None => {
                problems.push(format!(
                    "PORTCULLIS_EMAIL_SIGN_UP: `{raw}` is not a boolean: use `true` or `false`"
                ));
                true
            }
        },
        None => section.sign_up.unwrap_or(true),
    };
    let (server, from) = match (server, from) {
        (None, None) => return None,
        (Some(_), None) => {
            problems.push(
                "AUTH_EMAIL_FROM: missing: the email provider needs a From address, e.g. `Portcullis <no-reply@example.com>`"
                    .to_owned(),
            );
            return None;
        }
        (None, Some(_)) => {
            problems.push(
                "AUTH_EMAIL_SERVER: missing: set `smtp://user:pass@host:587` (STARTTLS), `smtps://…` (TLS) or `log` (development)"
                    .to_owned(),
            );
            return None;
        }
        (Some(s), Some(f)) => (s, f),
    };
    let max_age =
        time::Duration::minutes(i64::try_from(max_age_minutes.unwrap_or(10)).unwrap_or(i64::MAX));
    if !(1..=1440).contains(&max_age.whole_minutes()) {
        problems.push(
            "PORTCULLIS_EMAIL_MAX_AGE_MINUTES: must be between 1 and 1440 (a day)".to_owned(),
        );
        return None;
    }
    let (sender, describe): (std::sync::Arc<dyn portcullis::email::Sender>, String) = if server
        .trim()
        == "log"
    {
        if production {
            problems.push(
                    "AUTH_EMAIL_SERVER: `log` prints sign-in links to stderr: not allowed in production, use an smtp:// or smtps:// URL"
                        .to_owned(),
                );
            return None;
        }
        (
            std::sync::Arc::new(portcullis::email::LogSender),
            "log (development: links printed to stderr)".to_owned(),
        )
    } else {
        match portcullis::email::SmtpSender::from_url(&server, &from) {
            Ok(s) => {
                let describe = format!("{} ({:?})", crate::stores::redact(&server), s.security());
                (std::sync::Arc::new(s), describe)
            }
            Err(e) => {
                problems.push(format!("AUTH_EMAIL_SERVER / AUTH_EMAIL_FROM: {e}"));
                return None;
            }
        }
    };
    Some(EmailSettings {
        sender,
        describe,
        max_age,
        sign_up,
    })
}

/// The OAuth providers: `[[oauth.providers]]` entries, then the environment — a generic
/// OIDC provider `oidc` when `AUTH_OIDC_ISSUER`, `AUTH_OIDC_ID` and `AUTH_OIDC_SECRET` are
/// set, and each preset whose `AUTH_<ID>_ID` and `AUTH_<ID>_SECRET` are set (plus
/// `AUTH_<ID>_ISSUER` for the tenant presets: Keycloak, Auth0, Okta, Entra ID).
fn oauth_from(
    section: OAuthSection,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Vec<portcullis::OAuth> {
    use portcullis::{OAuth, providers};
    let window = match env("PORTCULLIS_OAUTH_REFRESH_WINDOW") {
        Some(v) => v.parse::<u64>().ok().or_else(|| {
            problems.push(format!(
                "PORTCULLIS_OAUTH_REFRESH_WINDOW: `{v}` is not a number of seconds: use e.g. `60`"
            ));
            None
        }),
        None => section.refresh_window,
    };
    let rp_logout = match env("PORTCULLIS_OAUTH_RP_LOGOUT").as_deref() {
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(other) => {
            problems.push(format!(
                "PORTCULLIS_OAUTH_RP_LOGOUT: `{other}` is not a boolean: set it to `true` or `false`"
            ));
            None
        }
        None => section.rp_logout,
    };
    let stem = |id: &str| id.to_ascii_uppercase().replace('-', "_");
    let mut out: Vec<OAuth> = Vec::new();
    for p in section.providers {
        let issuer = p
            .issuer
            .clone()
            .or_else(|| env(&format!("AUTH_{}_ISSUER", stem(&p.id))));
        let provider = match (providers::by_id(&p.id), &issuer) {
            (Some(preset), _) => Some(preset),
            (None, Some(issuer)) => providers::by_id_with_issuer(&p.id, issuer).or_else(|| {
                Some(OAuth::oidc(
                    p.id.clone(),
                    p.name.clone().unwrap_or_else(|| p.id.clone()),
                    issuer.clone(),
                ))
            }),
            (None, None) => {
                problems.push(format!(
                    "[[oauth.providers]] `{}`: not a preset ({}) and no issuer: add `issuer = \"https://…\"` for an OpenID Connect provider",
                    p.id,
                    providers::IDS.join(", ")
                ));
                None
            }
        };
        let Some(mut provider) = provider else {
            continue;
        };
        if let Some(name) = p.name {
            provider = provider.name(name);
        }
        if let Some(scope) = p.scope {
            provider = provider.scope(scope);
        }
        if let (Some(id), Some(secret)) = (p.client_id, p.client_secret) {
            provider = provider.client(id, secret);
        }
        out.push(provider);
    }
    // The environment: the generic `oidc` provider, then the presets.
    let has = |id: &str, out: &[OAuth]| out.iter().any(|p| p.provider_id() == id);
    let oidc_set = ["AUTH_OIDC_ID", "AUTH_OIDC_SECRET", "AUTH_OIDC_ISSUER"]
        .iter()
        .filter(|k| env(k).is_some())
        .count();
    if oidc_set > 0 && !has("oidc", &out) {
        match env("AUTH_OIDC_ISSUER") {
            Some(issuer) => out.push(OAuth::oidc("oidc", "OpenID Connect", issuer)),
            None => problems.push(
                "AUTH_OIDC_ISSUER: missing: an OIDC provider needs its issuer (the exact `iss` of its ID tokens, e.g. `https://idp.example.com`)"
                    .to_owned(),
            ),
        }
    }
    for id in providers::IDS {
        if has(id, &out) || env(&format!("AUTH_{}_ID", stem(id))).is_none() {
            continue;
        }
        let preset = providers::by_id(id).or_else(|| {
            let issuer = env(&format!("AUTH_{}_ISSUER", stem(id)))?;
            providers::by_id_with_issuer(id, &issuer)
        });
        match preset {
            Some(p) => out.push(p),
            None => problems.push(format!(
                "AUTH_{}_ISSUER: missing: the {id} provider needs its issuer URL",
                stem(id)
            )),
        }
    }
    out.into_iter()
        .map(|mut p| {
            p.from_env_with(env);
            if let Some(w) = window {
                p = p.refresh_window(std::time::Duration::from_secs(w));
            }
            if let Some(rp) = rp_logout {
                p = p.rp_initiated_logout(rp);
            }
            problems.extend(p.problems());
            p
        })
        .collect()
}

/// The file path of a `sqlite:` URL (`sqlite://data/x.db`, `sqlite:data/x.db`,
/// `sqlite:///abs/x.db`), without query.
pub(crate) fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = rest.split('?').next().unwrap_or(rest);
    (!rest.is_empty() && rest != ":memory:").then(|| PathBuf::from(rest))
}

fn read_file(path: Option<&Path>) -> Result<FileConfig, String> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("portcullis.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(FileConfig::default());
        }
        Err(e) => {
            return Err(format!(
                "PORTCULLIS_CONFIG: cannot read `{}` ({e}): fix the path or the permissions",
                path.display()
            ));
        }
    };
    toml::from_str(&text).map_err(|e| {
        let msg = e.message().replace('\n', " ");
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
            .unwrap_or(0);
        if msg.starts_with("unknown field") {
            format!(
                "{}: line {line}: {msg}: remove or rename the key",
                path.display()
            )
        } else {
            format!(
                "{}: line {line}: malformed TOML ({msg}): fix the syntax",
                path.display()
            )
        }
    })
}

fn theme_from(t: ThemeSection, problems: &mut Vec<String>) -> portcullis::Theme {
    use portcullis::{ColorScheme, Theme};
    let mut theme = Theme::default();
    theme = theme.color_scheme(match t.color_scheme.as_deref() {
        None | Some("auto") => ColorScheme::Auto,
        Some("light") => ColorScheme::Light,
        Some("dark") => ColorScheme::Dark,
        Some(other) => {
            problems.push(format!(
                "theme.color_scheme: `{other}` is not a scheme: use `auto`, `light` or `dark`"
            ));
            ColorScheme::Auto
        }
    });
    let mut apply =
        |key: &str,
         value: Option<String>,
         f: fn(Theme, &str) -> Result<Theme, portcullis::ThemeError>| {
            if let Some(v) = value {
                match f(theme.clone(), &v) {
                    Ok(t) => theme = t,
                    Err(e) => problems.push(format!("theme.{key}: {e}")),
                }
            }
        };
    apply("brand_color", t.brand_color, |t, v| t.brand_color(v));
    apply("button_text", t.button_text, |t, v| t.button_text(v));
    apply("logo", t.logo, |t, v| t.logo(v));
    theme
}

fn pages_from(p: PagesSection, problems: &mut Vec<String>) -> portcullis::Pages {
    let mut pages = portcullis::Pages::default();
    let mut check = |key: &str, v: Option<String>| {
        let v = v?;
        let ok = (v.starts_with('/') && !v.starts_with("//"))
            || url::Url::parse(&v).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
        if ok {
            Some(v)
        } else {
            problems.push(format!(
                "pages.{key}: `{v}` must be a path starting with `/` or an http(s) URL"
            ));
            None
        }
    };
    pages.sign_in = check("sign_in", p.sign_in);
    pages.sign_out = check("sign_out", p.sign_out);
    pages.error = check("error", p.error);
    pages
}

fn webhook_from(
    w: WebhookSection,
    env: &dyn Fn(&str) -> Option<String>,
    production: bool,
    problems: &mut Vec<String>,
) -> Option<crate::webhook::WebhookSettings> {
    let mut number = |key: &str, file: Option<u64>, default: u64, min: u64, max: u64| {
        let v = match env(key) {
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    problems.push(format!(
                        "{key}: `{raw}` is not a whole number: use e.g. `{default}`"
                    ));
                    return default;
                }
            },
            None => file.unwrap_or(default),
        };
        if (min..=max).contains(&v) {
            v
        } else {
            problems.push(format!(
                "{key}: `{v}` is out of range: use {min}..={max} (default {default})"
            ));
            default
        }
    };
    let timeout_ms = number(
        "PORTCULLIS_WEBHOOK_TIMEOUT_MS",
        w.timeout_ms,
        2000,
        1,
        60_000,
    );
    let cache_seconds = number(
        "PORTCULLIS_WEBHOOK_CACHE_SECONDS",
        w.cache_seconds,
        30,
        0,
        86_400,
    );
    let url = env("PORTCULLIS_WEBHOOK_URL").or(w.url)?;
    let target = match crate::webhook::Target::parse(&url) {
        Ok(t) => t,
        Err(why) => {
            problems.push(format!(
                "PORTCULLIS_WEBHOOK_URL: `{url}` {why}: use an http:// URL, e.g. `http://127.0.0.1:8081/enrich` (put a local TLS proxy in front of an https endpoint)"
            ));
            return None;
        }
    };
    if production && !target.is_loopback() {
        problems.push(format!(
            "PORTCULLIS_WEBHOOK_URL: `{url}` sends user data unencrypted off this host in production: use a loopback address (a local TLS proxy or sidecar)"
        ));
        return None;
    }
    Some(crate::webhook::WebhookSettings {
        target,
        timeout: std::time::Duration::from_millis(timeout_ms),
        cache: std::time::Duration::from_secs(cache_seconds),
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Attribute names: 1–64 characters of `a–z A–Z 0–9 _ -`.
pub(crate) fn is_attribute_name(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An IP network (`10.0.0.0/8`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Result<Self, ()> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p.parse::<u8>().map_err(|_| ())?)),
            None => (s, None),
        };
        let addr: IpAddr = ip.trim().parse().map_err(|_| ())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(());
        }
        Ok(Self { addr, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        let one = Cidr::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/portcullis.db"),
            Some(PathBuf::from("data/portcullis.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/p.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/p.db"))
        );
        assert_eq!(sqlite_path("postgres://x"), None);
    }

    #[test]
    fn theme_and_pages_come_from_the_file() {
        let dir = std::env::temp_dir().join(format!("portcullis-theme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "[theme]\ncolor_scheme = \"dark\"\nbrand_color = \"#0f766e\"\nlogo = \"/logo.svg\"\n[pages]\nsign_in = \"/login\"\n",
        )
        .unwrap();
        let none = |_: &str| None;
        let s = Settings::load(Some(&good), false, &none).unwrap();
        assert_eq!(
            s.theme,
            portcullis::Theme::default()
                .color_scheme(portcullis::ColorScheme::Dark)
                .brand_color("#0f766e")
                .unwrap()
                .logo("/logo.svg")
                .unwrap()
        );
        assert_eq!(s.pages.sign_in.as_deref(), Some("/login"));
        let bad = dir.join("bad.toml");
        std::fs::write(
            &bad,
            "[theme]\ncolor_scheme = \"neon\"\nbrand_color = \"red;}\"\nlogo = \"javascript:alert(1)\"\n[pages]\nerror = \"//evil.example\"\n",
        )
        .unwrap();
        let errs = Settings::load(Some(&bad), false, &none).unwrap_err();
        for key in [
            "theme.color_scheme:",
            "theme.brand_color:",
            "theme.logo:",
            "pages.error:",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(key)), "{key} in {errs:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn webhook_settings() {
        let none = |_: &str| None;
        assert!(
            Settings::load(None, false, &none)
                .unwrap()
                .webhook
                .is_none()
        );
        let local = |k: &str| match k {
            "PORTCULLIS_WEBHOOK_URL" => Some("http://127.0.0.1:9/enrich".to_owned()),
            "AUTH_SECRET" => Some("x".repeat(32)),
            "AUTH_URL" => Some("https://auth.example".to_owned()),
            _ => None,
        };
        let w = Settings::load(None, true, &local).unwrap().webhook.unwrap();
        assert_eq!(w.timeout, std::time::Duration::from_millis(2000));
        assert_eq!(w.cache, std::time::Duration::from_secs(30));
        for (url, production) in [
            ("https://hooks.example/x", false),
            ("http://hooks.example/x", true),
            ("nope", false),
        ] {
            let env = |k: &str| match k {
                "PORTCULLIS_WEBHOOK_URL" => Some(url.to_owned()),
                "PORTCULLIS_WEBHOOK_TIMEOUT_MS" => Some("0".to_owned()),
                "AUTH_SECRET" => Some("x".repeat(32)),
                "AUTH_URL" => Some("https://auth.example".to_owned()),
                _ => None,
            };
            let errs = Settings::load(None, production, &env).unwrap_err();
            assert!(
                errs.iter()
                    .any(|e| e.starts_with("PORTCULLIS_WEBHOOK_URL:")),
                "{url}: {errs:?}"
            );
            assert!(
                errs.iter()
                    .any(|e| e.starts_with("PORTCULLIS_WEBHOOK_TIMEOUT_MS:")),
                "{errs:?}"
            );
        }
    }

    #[test]
    fn env_wins_and_problems_are_lines() {
        let env = |k: &str| match k {
            "PORTCULLIS_STRATEGY" => Some("cookie".to_owned()),
            "AUTH_SECRET" => Some("short".to_owned()),
            _ => None,
        };
        let errs = Settings::load(None, true, &env).unwrap_err();
        assert!(errs.iter().any(|e| e.starts_with("PORTCULLIS_STRATEGY:")));
        assert!(errs.iter().any(|e| e.starts_with("AUTH_SECRET: secret #1")));
        assert!(errs.iter().all(|e| !e.contains('\n')));
    }
}
