//! The email provider's two steps (PROTOCOL.md §9.3, SECURITY.md §6.8): `POST /signin/:id`
//! sends a link; `GET /callback/:id?token=…&email=…` follows it.

use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use crate::adapter::{AdapterError, AdapterUser, TokenHash, UserUpdate, VerificationToken};
use crate::email::{EmailKind, EmailMessage, Sender, normalize_identifier};
use crate::error::Error;
use crate::provider::{Email, ProviderEntry};
use crate::request::Ctx;
use crate::response::Reply;
use crate::secret::{hex, random_bytes, random_uuid};
use crate::user::{Account, AccountType};

use super::{database, signin};

pub(crate) fn adapter(call: &'static str) -> impl Fn(AdapterError) -> Error {
    move |source| Error::Adapter { call, source }
}

/// The canonical address of a request field: a JSON string that normalises. Arrays,
/// objects, numbers and lists are refused before any side effect (SECURITY.md EML-05).
fn identifier(value: Option<&Value>) -> Result<String, Error> {
    let Some(Value::String(raw)) = value else {
        return Err(Error::EmailSignin(
            "the email field is missing or not a string",
        ));
    };
    normalize_identifier(raw).map_err(|e| {
        tracing::debug!(target: "portcullis", reason = %e, "email refused");
        Error::EmailSignin("the email address is not a single valid address")
    })
}

/// The hash a new link is stored under: Auth.js's `sha256(token + secret)`, with the
/// provider's pinned secret or else the configured secrets comma-joined.
pub(crate) fn stored_hash(ctx: &Ctx<'_>, pinned: Option<&str>, token: &str) -> TokenHash {
    TokenHash::of_with_secret(token, pinned.unwrap_or(&ctx.cfg.csrf_secret))
}

/// Consumes the link `token` of `identifier`, or fails with `Verification` (malformed,
/// unknown, used, or expired: valid strictly before `expires`, CLK-05).
///
/// The hashes tried: [`stored_hash`], then — without a pinned secret and with several
/// configured — each secret alone, so links sent before a rotation keep working while the
/// old secret is still configured (SECURITY.md KEY-04).
pub(crate) async fn consume_link(
    ctx: &Ctx<'_>,
    pinned: Option<&str>,
    identifier: &str,
    token: &str,
) -> Result<(), Error> {
    if !is_token(token) {
        return Err(Error::Verification("the link's token is malformed"));
    }
    let tokens = ctx.cfg.stores.tokens.as_deref().ok_or(Error::SessionToken(
        "mailed links need a verification-token adapter".into(),
    ))?;
    let mut hashes = vec![stored_hash(ctx, pinned, token)];
    if pinned.is_none() && ctx.cfg.secret_count() > 1 {
        hashes.extend(
            ctx.cfg
                .secrets()
                .map(|s| TokenHash::of_with_secret(token, s)),
        );
    }
    for hash in hashes {
        if let Some(row) = tokens
            .use_verification_token(identifier, &hash)
            .await
            .map_err(adapter("use_verification_token"))?
        {
            return if ctx.now < row.expires {
                Ok(())
            } else {
                Err(Error::Verification("expired link"))
            };
        }
    }
    Err(Error::Verification("unknown or already used link"))
}

/// `POST /signin/:id` for an email provider (CSRF already checked).
pub(crate) async fn signin(
    ctx: &Ctx<'_>,
    entry: &ProviderEntry,
    provider: &Email,
) -> Result<Reply, Error> {
    let email = identifier(ctx.body.get("email"))?;
    let limits = ctx.cfg.rate_limits;
    let mut hits = vec![(
        format!("email:id:{}", TokenHash::of(&email).as_str()),
        limits.email_per_identifier,
    )];
    if let Some(ip) = ctx.client_ip {
        hits.push((format!("email:ip:{ip}"), limits.email_per_ip));
    }
    if let Some(reply) = signin::enforce_limits(ctx, hits, "email sign-in").await {
        return Ok(reply);
    }
    let users = ctx.cfg.stores.users.as_deref().ok_or(Error::SessionToken(
        "the email provider needs a user adapter".into(),
    ))?;
    let tokens = ctx.cfg.stores.tokens.as_deref().ok_or(Error::SessionToken(
        "the email provider needs a verification-token adapter".into(),
    ))?;
    // The same work for known and unknown addresses: one lookup, one callback, one stored
    // token; only whether a message goes out differs, and it goes out in the background.
    let existing = users
        .user_by_email(&email)
        .await
        .map_err(adapter("user_by_email"))?;
    let known = existing.is_some();
    let row = existing.unwrap_or_else(|| new_user(&email, None));
    let user = ctx.cfg.callbacks.user_from_row(&row)?;
    let account = email_account(entry, &email);
    if let Some(elsewhere) = signin::run_sign_in(ctx, &user, &account, None, true).await? {
        return Ok(elsewhere);
    }
    let token = hex(&random_bytes::<32>());
    let expires = ctx.now + provider.max_age;
    let hash = stored_hash(ctx, provider.secret.as_deref(), &token);
    tokens
        .create_verification_token(&VerificationToken {
            identifier: email.clone(),
            token: hash,
            expires,
        })
        .await
        .map_err(adapter("create_verification_token"))?;
    // Rendered and handed over either way; only whether it is sent differs.
    let url = link(ctx, &entry.id, &email, &token)?;
    let message = EmailMessage::render(EmailKind::SignIn, email, url, expires, &ctx.cfg.theme);
    deliver(provider.sender.clone(), message, known || provider.sign_up).await;
    Ok(Reply::redirect(format!(
        "{}/verify-request?provider={}&type=email",
        ctx.base_url(),
        entry.id
    )))
}

/// The link: `{AUTH_URL}{base}/callback/{id}?callbackUrl=…&token=…&email=…`, always from
/// the configured URL (the builder requires one), never from the request's `Host`
/// (SECURITY.md EML-12).
fn link(ctx: &Ctx<'_>, id: &str, email: &str, token: &str) -> Result<url::Url, Error> {
    mail_link(
        ctx,
        &format!("/callback/{id}"),
        &[
            ("callbackUrl", ctx.callback_url.as_str()),
            ("token", token),
            ("email", email),
        ],
    )
}

/// `{AUTH_URL}{base}{path}?{pairs}`: a link for a mail, built from the configured URL only.
pub(crate) fn mail_link(
    ctx: &Ctx<'_>,
    path: &str,
    pairs: &[(&str, &str)],
) -> Result<url::Url, Error> {
    let configured = ctx
        .cfg
        .url
        .as_ref()
        .ok_or(Error::SessionToken("links in mails need AUTH_URL".into()))?;
    let origin = configured.origin().ascii_serialization();
    let base = if ctx.cfg.base_path == "/" {
        String::new()
    } else {
        ctx.cfg.base_path.clone()
    };
    let mut url = url::Url::parse(&format!("{origin}{base}{path}"))
        .map_err(|e| Error::SessionToken(format!("cannot build a link: {e}")))?;
    url.query_pairs_mut().extend_pairs(pairs);
    Ok(url)
}

/// Hands the message to the sender without making the request wait: spawned on the
/// current tokio runtime (awaited in place when there is none). Failures are logged
/// without the link.
///
/// With `send == false` the same task is spawned and drops the message: a request whose
/// mail is withheld (an unknown address) costs what one that sends does (EML-11).
pub(crate) async fn deliver(sender: Arc<dyn Sender>, message: EmailMessage, send: bool) {
    async fn run(sender: Arc<dyn Sender>, message: EmailMessage, send: bool) {
        if !send {
            return;
        }
        if let Err(e) = sender.send(&message).await {
            tracing::error!(
                target: "portcullis",
                kind = message.kind.as_str(),
                error = %e,
                "[auth][error] EmailSignInError: the message could not be delivered"
            );
        }
    }
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(run(sender, message, send));
        }
        Err(_) => run(sender, message, send).await,
    }
}

pub(crate) fn new_user(email: &str, verified: Option<OffsetDateTime>) -> AdapterUser {
    AdapterUser {
        id: random_uuid(),
        email: Some(email.to_owned()),
        email_verified: verified,
        name: None,
        image: None,
        fields: serde_json::Map::new(),
    }
}

fn email_account(entry: &ProviderEntry, email: &str) -> Account {
    let mut account = Account::credentials(&entry.id, email);
    account.kind = AccountType::Email;
    account
}

/// Identifier prefixes of the password flows' tokens (see `action/password.rs`): each kind
/// of token keeps to its purpose.
pub(crate) const VERIFY_PREFIX: &str = "verify-email:";
pub(crate) const RESET_PREFIX: &str = "password-reset:";

/// Counts one use of a link for `email` (sign-in, verification or reset: one bucket per
/// address; every use counts, the first real click included). Over the limit the answer
/// is 429 **and** every outstanding link of the address is deleted, so the links that were
/// being guessed at die with the guessing (SECURITY.md EML-14).
pub(crate) async fn limit_link_use(
    ctx: &Ctx<'_>,
    email: &str,
    what: &'static str,
) -> Option<Reply> {
    let hits = vec![(
        format!("verify:id:{}", TokenHash::of(email).as_str()),
        ctx.cfg.rate_limits.verify_per_identifier,
    )];
    let reply = signin::enforce_limits(ctx, hits, what).await?;
    if reply.status == http::StatusCode::TOO_MANY_REQUESTS
        && let Some(tokens) = ctx.cfg.stores.tokens.as_deref()
    {
        for identifier in [
            email.to_owned(),
            format!("{VERIFY_PREFIX}{email}"),
            format!("{RESET_PREFIX}{email}"),
        ] {
            match tokens.delete_verification_tokens(&identifier).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::warn!(target: "portcullis", deleted = n, "[auth][warn] too many link uses: the address's outstanding links were invalidated");
                }
                Err(e) => {
                    tracing::error!(target: "portcullis", error = %e, "[auth][error] could not invalidate links after too many uses");
                }
            }
        }
    }
    Some(reply)
}

/// Whether a link token has the shape we issue (64 lowercase hex).
pub(crate) fn is_token(token: &str) -> bool {
    database::is_session_token(token)
}

/// `GET /callback/:id` for an email provider: consumes the token, then signs in.
pub(crate) async fn callback(
    ctx: &Ctx<'_>,
    entry: &ProviderEntry,
    provider: &Email,
) -> Result<Reply, Error> {
    let Some(token) = ctx.query_str("token") else {
        // Auth.js: a callback without a token is a configuration error.
        return Err(Error::EmailSignin("the link has no token"));
    };
    let email = identifier(ctx.query.get("email"))
        .map_err(|_| Error::Verification("the link's email is not a valid address"))?;
    if let Some(reply) = limit_link_use(ctx, &email, "email link").await {
        return Ok(reply);
    }
    let users = ctx.cfg.stores.users.as_deref().ok_or(Error::SessionToken(
        "the email provider needs a user adapter".into(),
    ))?;
    consume_link(ctx, provider.secret.as_deref(), &email, token).await?;
    let now = ctx.now;
    let existing = users
        .user_by_email(&email)
        .await
        .map_err(adapter("user_by_email"))?;
    let (row, is_new_user) = match existing {
        Some(mut row) => {
            if row.email_verified.is_none() {
                row = users
                    .update_user(
                        &row.id,
                        &UserUpdate::default().with_email_verified(Some(now)),
                    )
                    .await
                    .map_err(adapter("update_user"))?;
            }
            (row, false)
        }
        None if !provider.sign_up => return Err(Error::AccessDenied),
        None => {
            let candidate = new_user(&email, Some(now));
            let user = ctx.cfg.callbacks.user_from_row(&candidate)?;
            if let Some(elsewhere) =
                signin::run_sign_in(ctx, &user, &email_account(entry, &email), None, false).await?
            {
                return Ok(elsewhere);
            }
            match users.create_user(&candidate).await {
                Ok(created) => (created, true),
                // Created a moment ago by a concurrent sign-up with another link.
                Err(AdapterError::Conflict(_)) => match users
                    .user_by_email(&email)
                    .await
                    .map_err(adapter("user_by_email"))?
                {
                    Some(row) => (row, false),
                    None => {
                        return Err(Error::Adapter {
                            call: "create_user",
                            source: AdapterError::Conflict("the new user vanished".into()),
                        });
                    }
                },
                Err(e) => return Err(adapter("create_user")(e)),
            }
        }
    };
    let user = ctx.cfg.callbacks.user_from_row(&row)?;
    let account = email_account(entry, &email);
    // A new user already passed the callback, before the row was created.
    if !is_new_user
        && let Some(elsewhere) = signin::run_sign_in(ctx, &user, &account, None, false).await?
    {
        return Ok(elsewhere);
    }
    signin::finish_sign_in(ctx, &row, &user, &account, &entry.id, is_new_user).await
}
