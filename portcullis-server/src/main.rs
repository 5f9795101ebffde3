//! `portcullis`: the standalone auth server of portcullis — Auth.js-compatible REST API,
//! credentials sign-in against argon2id hashes, database or JWT sessions, configured from
//! `portcullis.toml` and the environment.
//!
//! ```sh
//! portcullis users add alice@example.com --name Alice --attr role=admin   # asks for a password
//! PORTCULLIS_SESSION_EXPOSE=role portcullis                              # serve on 127.0.0.1:3000
//! ```
//!
//! See the crate README for every setting.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod callbacks;
mod config;
mod password;
mod secret;
mod serve;
mod stores;
mod webhook;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use portcullis::adapter::{AdapterError, AdapterUser};
use portcullis::{Auth, AuthConfig, SessionStrategy};
use serde_json::{Map, Value};

use crate::callbacks::{ServerCallbacks, normalize_email};
use crate::config::Settings;
use crate::stores::Stores;

/// The portcullis auth server.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    /// The configuration file (default: `portcullis.toml` when it exists).
    #[arg(long, env = "PORTCULLIS_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Production mode: a secret of at least 32 bytes and `AUTH_URL` are required.
    #[arg(long, global = true)]
    production: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the auth API (the default).
    Serve,
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Print a new random secret for AUTH_SECRET.
    Secret,
    /// Apply the database migrations.
    Migrate,
    /// Validate the configuration and reach the stores.
    Check,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user; the password is read from the terminal (no echo) or one line of stdin.
    Add {
        /// The user's email (their sign-in name).
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// An attribute, `KEY=VALUE` (repeatable).
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attrs: Vec<String>,
    },
    /// List users (never their password hashes).
    List,
    /// Disable a user and end all their sessions.
    Disable {
        /// The user's email.
        email: String,
    },
    /// Re-enable a disabled user.
    Enable {
        /// The user's email.
        email: String,
    },
    /// Set a user's password (read like `add`) and end all their sessions.
    SetPassword {
        /// The user's email.
        email: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Secret) = cli.command {
        return match secret::generate() {
            Ok(s) => {
                let mut out = std::io::stdout();
                let _ = writeln!(out, "{s}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }
    let var = |k: &str| std::env::var(k).ok();
    let settings = match Settings::load(cli.config.as_deref(), cli.production, &var) {
        Ok(s) => s,
        Err(problems) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_json);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = rt.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => run_serve(settings).await,
            Command::Users(u) => run_users(settings, u).await,
            Command::Migrate => {
                let stores = Stores::open(&settings).await?;
                stores.close().await;
                println_out("migrations applied");
                Ok(())
            }
            Command::Check => {
                let stores = Stores::open(&settings).await?;
                stores.ping().await.map_err(|e| {
                    format!(
                        "store: not answering ({}): check DATABASE_URL / SESSION_STORE_URL",
                        stores::chain(&e)
                    )
                })?;
                build_auth(&settings, &stores, false)?;
                stores.close().await;
                println_out("ok: configuration valid, stores reachable");
                Ok(())
            }
            Command::Secret => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(line: &str) -> ExitCode {
    eprintln!("error: {line}");
    ExitCode::from(1)
}

#[allow(clippy::print_stdout)]
fn println_out(s: &str) {
    println!("{s}");
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Builds the `Auth`. `create_secret`: in development, generate the secret file if needed.
/// The password provider (id `credentials`): sign-in always; with the email settings also
/// the reset mails, and sign-up when `PORTCULLIS_SIGN_UP` is on.
fn passwords(settings: &Settings) -> portcullis::Passwords {
    let mut p = portcullis::Passwords::new()
        .name("Credentials")
        .hasher(password::hasher().clone());
    if let Some(email) = &settings.email {
        p = p
            .shared_sender(email.sender.clone())
            .allow_sign_up(settings.password_sign_up);
    }
    p
}

fn build_auth(settings: &Settings, stores: &Stores, create_secret: bool) -> Result<Auth, String> {
    let mut secrets = settings.secrets.clone();
    if secrets.is_empty() {
        let dir = settings.data_dir();
        if create_secret || dir.join("secret").exists() {
            let (s, created) = secret::dev_secret(&dir)?;
            let path = dir.join("secret");
            if created {
                tracing::warn!(
                    "AUTH_SECRET is not set: generated a development secret in {} (mode 0600). \
                     Set AUTH_SECRET for anything real (`portcullis secret`); production mode requires it.",
                    path.display()
                );
            } else {
                tracing::warn!(
                    "AUTH_SECRET is not set: using the development secret in {}",
                    path.display()
                );
            }
            secrets.push(s);
        } else {
            // `check` without a secret yet: a throw-away one, just to validate the rest.
            secrets.push(secret::generate()?);
        }
    }
    let users = stores.users();
    let callbacks = ServerCallbacks {
        expose: settings.expose.clone(),
        updatable: settings.updatable.clone(),
        users: (settings.strategy == SessionStrategy::Database).then(|| users.clone()),
        webhook: settings.webhook.clone().map(|w| {
            tracing::info!(
                timeout_ms = w.timeout.as_millis(),
                cache_seconds = w.cache.as_secs(),
                "enrichment webhook enabled"
            );
            Arc::new(webhook::Webhook::new(w))
        }),
    };
    let mut builder = AuthConfig::builder(callbacks)
        .passwords(passwords(settings))
        .body_limit(serve::BODY_LIMIT)
        .theme(settings.theme.clone())
        .pages(settings.pages.clone());
    for s in secrets {
        builder = builder.secret(s);
    }
    for p in &settings.oauth {
        builder = builder.oauth(p.clone());
    }
    if let Some(email) = &settings.email {
        tracing::info!(sender = %email.describe, max_age_minutes = email.max_age.whole_minutes(), sign_up = email.sign_up, "email sign-in enabled (provider `email`)");
        builder = builder.email(
            portcullis::Email::with_sender(email.sender.clone())
                .max_age(email.max_age)
                .allow_sign_up(email.sign_up),
        );
    }
    builder = builder.from_env_with(|k| match k {
        "AUTH_URL" | "AUTH_TRUST_HOST" => None, // resolved by Settings (file + env)
        other => std::env::var(other).ok(),
    });
    if let Some(u) = &settings.url {
        builder = builder.url(u.clone());
    }
    if let Some(t) = settings.trust_host {
        builder = builder.trust_host(t);
    }
    if settings.url.is_none() && settings.trust_host != Some(true) && !settings.production {
        let host = if settings.listen.ip().is_loopback() || settings.listen.ip().is_unspecified() {
            "localhost".to_owned()
        } else {
            settings.listen.ip().to_string()
        };
        let url = format!("http://{host}:{}", settings.listen.port());
        tracing::warn!("AUTH_URL is not set: assuming {url} (development)");
        builder = builder.url(url);
    }
    if let Some(secs) = settings.max_age {
        builder = builder.max_age(Duration::from_secs(secs));
    }
    // Read "not before" times on every JWT session read: with a cache, a token re-issued
    // by a read inside the cache window after `users disable` would outlive the revocation.
    builder = builder.revocation_cache_ttl(Duration::ZERO);
    builder = stores.apply(builder, settings.strategy, settings.email.is_some());
    builder
        .build()
        .map(Auth::new)
        .map_err(|e| e.problems().join("; "))
}

async fn run_serve(settings: Settings) -> Result<(), String> {
    let stores = Stores::open(&settings).await?;
    let auth = build_auth(&settings, &stores, true)?;
    let _sweeper = stores.sweeper();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| {
            format!(
                "PORTCULLIS_LISTEN: cannot listen on {} ({e}): choose a free port",
                settings.listen
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        %addr,
        strategy = ?settings.strategy,
        database = %stores::redact(&settings.database_url),
        production = settings.production,
        "portcullis listening on http://{addr}"
    );
    if let Some(at) = settings.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(at).await.map_err(|e| {
            format!("PORTCULLIS_METRICS_LISTEN: cannot listen on {at} ({e}): choose a free port")
        })?;
        let addr = metrics.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        tokio::spawn(serve::metrics(metrics, auth.clone()));
    }
    let app = serve::app(
        auth,
        stores.clone(),
        Arc::new(settings.trusted_proxies.clone()),
    );
    serve::run(listener, app).await;
    stores.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Reads a password: without echo from a terminal (asked twice), else one line of stdin.
fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let ask = |prompt: &str| -> Result<String, String> {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
            let _ = std::process::Command::new("stty").arg("-echo").status();
            let mut line = String::new();
            let r = stdin.lock().read_line(&mut line);
            let _ = std::process::Command::new("stty").arg("echo").status();
            eprintln!();
            r.map_err(|e| format!("cannot read the password: {e}"))?;
            Ok(trim_newline(line))
        };
        let a = ask("Password: ")?;
        let b = ask("Again: ")?;
        if a != b {
            return Err("password: the two entries differ: try again".to_owned());
        }
        Ok(a)
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        Ok(trim_newline(line))
    }
}

fn trim_newline(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

async fn find_user(stores: &Stores, email: &str) -> Result<AdapterUser, String> {
    let email = normalize_email(email)?;
    stores
        .users()
        .user_by_email(&email)
        .await
        .map_err(|e| format!("store: {}", stores::chain(&e)))?
        .ok_or_else(|| {
            format!("users: no user with email `{email}`: check `portcullis users list`")
        })
}

async fn run_users(settings: Settings, cmd: UsersCommand) -> Result<(), String> {
    let stores = Stores::open(&settings).await?;
    let store_err = |e: AdapterError| format!("store: {}", stores::chain(&e));
    let r = async {
        match cmd {
            UsersCommand::Add { email, name, attrs } => {
                let email = normalize_email(&email)?;
                let mut fields = Map::new();
                for a in attrs {
                    let Some((k, v)) = a.split_once('=') else {
                        return Err(format!("--attr: `{a}` is not KEY=VALUE"));
                    };
                    if !config::is_attribute_name(k) || config::RESERVED.contains(&k) {
                        return Err(format!(
                            "--attr: `{k}` is not an attribute name: use a–z, 0–9, `_`, `-` (not id/name/email/image)"
                        ));
                    }
                    fields.insert(k.to_owned(), Value::String(v.to_owned()));
                }
                let password = read_password()?;
                let phc = password::hash(&password)
                    .await
                    .map_err(|e| format!("password: {e}"))?;
                let user = AdapterUser {
                    id: uuid_v4()?,
                    email: Some(email.clone()),
                    email_verified: None,
                    name,
                    image: None,
                    fields,
                };
                let users = stores.users();
                let created = users.create_user(&user).await.map_err(|e| match e {
                    AdapterError::Conflict(_) => {
                        format!("users: `{email}` exists already: use `users set-password`")
                    }
                    e => store_err(e),
                })?;
                if let Err(e) = stores.passwords().set_password_hash(&created.id, &phc).await {
                    let _ = users.delete_user(&created.id).await;
                    return Err(store_err(e));
                }
                println_out(&format!("added {email} (id {})", created.id));
                Ok(())
            }
            UsersCommand::List => {
                let users = stores.users();
                let passwords = stores.passwords();
                for id in stores.user_ids().await.map_err(store_err)? {
                    let Some(u) = users.user(&id).await.map_err(store_err)? else {
                        continue;
                    };
                    let disabled = passwords.is_disabled(&id).await.map_err(store_err)?;
                    let line = serde_json::json!({
                        "id": u.id, "email": u.email, "name": u.name,
                        "email_verified": u.email_verified.is_some(),
                        "attributes": u.fields, "disabled": disabled,
                    });
                    println_out(&line.to_string());
                }
                Ok(())
            }
            UsersCommand::Disable { email } => {
                let u = find_user(&stores, &email).await?;
                stores.passwords().set_disabled(&u.id, true).await.map_err(store_err)?;
                let n = stores.revoke_all(&u.id).await.map_err(store_err)?;
                println_out(&format!("disabled {email}; ended {n} session(s)"));
                Ok(())
            }
            UsersCommand::Enable { email } => {
                let u = find_user(&stores, &email).await?;
                stores.passwords().set_disabled(&u.id, false).await.map_err(store_err)?;
                println_out(&format!("enabled {email}"));
                Ok(())
            }
            UsersCommand::SetPassword { email } => {
                let u = find_user(&stores, &email).await?;
                let phc = password::hash(&read_password()?)
                    .await
                    .map_err(|e| format!("password: {e}"))?;
                stores
                    .passwords()
                    .set_password_hash(&u.id, &phc)
                    .await
                    .map_err(store_err)?;
                let n = stores.revoke_all(&u.id).await.map_err(store_err)?;
                println_out(&format!("password set for {email}; ended {n} session(s)"));
                Ok(())
            }
        }
    }
    .await;
    stores.close().await;
    r
}

/// A random (v4) UUID.
fn uuid_v4() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("no system randomness: {e}"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}
