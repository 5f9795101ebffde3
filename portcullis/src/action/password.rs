//! Email + password accounts (beyond Auth.js): sign-in with rehash-on-login, sign-up,
//! address verification, password reset and change. See [`Passwords`] for the routes.

use crate::audit::AuditKind;
use std::fmt::Write as _;

use http::StatusCode;
use serde_json::json;
use time::OffsetDateTime;

use crate::SessionStrategy;
use crate::adapter::{
    AdapterError, AdapterUser, PasswordAdapter, TokenHash, UserAdapter, UserUpdate,
    VerificationToken,
};
use crate::auth::resolve_session;
use crate::email::{EmailKind, EmailMessage, normalize_identifier};
use crate::error::Error;
use crate::password::PasswordError;
use crate::provider::{Passwords, ProviderEntry, ProviderKind};
use crate::request::{Action, Ctx};
use crate::response::Reply;
use crate::secret::{hex, random_bytes};
use crate::user::Account;

use super::email::{adapter, consume_link, deliver, mail_link, new_user, stored_hash};
use super::pages::{escape, page, with_query};
use super::{database, signin};

// Identifier prefixes keep each kind of token to its own purpose: a sign-in link can
// never reset a password, nor the reverse.
use super::email::{RESET_PREFIX, VERIFY_PREFIX, limit_link_use};
/// The id read in place of an unknown user's (whatever it returns is discarded; plain
/// text, since PostgreSQL refuses NUL bytes).
const NO_USER: &str = "portcullis:no-such-user";

/// The configured password provider, if any.
pub(crate) fn configured<'a>(ctx: &Ctx<'a>) -> Option<(&'a ProviderEntry, &'a Passwords)> {
    ctx.cfg.providers.iter().find_map(|p| match &p.kind {
        ProviderKind::Password(pw) => Some((p, pw.as_ref())),
        _ => None,
    })
}

fn json_reply(status: StatusCode, value: &serde_json::Value) -> Reply {
    Reply::json(status, serde_json::to_vec(value).unwrap_or_default())
        .no_cache()
        .bare()
}

fn not_found() -> Reply {
    json_reply(StatusCode::NOT_FOUND, &json!({ "error": "UnknownAction" }))
}

struct Stores<'a> {
    users: &'a dyn UserAdapter,
    passwords: &'a dyn PasswordAdapter,
}

fn stores<'a>(ctx: &Ctx<'a>) -> Result<Stores<'a>, Error> {
    let missing = |what: &str| Error::SessionToken(format!("passwords need a {what} adapter"));
    Ok(Stores {
        users: ctx
            .cfg
            .stores
            .users
            .as_deref()
            .ok_or_else(|| missing("user"))?,
        passwords: ctx
            .cfg
            .stores
            .passwords
            .as_deref()
            .ok_or_else(|| missing("password"))?,
    })
}

fn field<'a>(ctx: &'a Ctx<'_>, key: &str) -> Option<&'a str> {
    ctx.body_str(key)
}

/// The address a password sign-in is for: `email`, or `username` when `email` is absent
/// or blank. The rate limiter keys on the same field, normalised the same way.
pub(crate) fn submitted_identifier<'a>(ctx: &'a Ctx<'_>) -> &'a str {
    field(ctx, "email")
        .filter(|e| !e.trim().is_empty())
        .or_else(|| field(ctx, "username"))
        .unwrap_or_default()
}

/// The rate-limit identifier of a password sign-in: the canonical address, or the raw
/// input (trimmed, lowercased) when it is not one.
pub(crate) fn limit_identifier(ctx: &Ctx<'_>) -> String {
    let raw = submitted_identifier(ctx);
    normalize_identifier(raw).unwrap_or_else(|_| raw.trim().to_lowercase())
}

// ---------------------------------------------------------------------------------------
// Sign-in

/// `POST /callback/:id` for the password provider (CSRF and rate limits already passed).
pub(crate) async fn sign_in(
    ctx: &Ctx<'_>,
    entry: &ProviderEntry,
    cfg: &Passwords,
) -> Result<Reply, Error> {
    let s = stores(ctx)?;
    let failed = || Error::CredentialsSignin {
        code: "credentials".to_owned(),
    };
    let raw_email = submitted_identifier(ctx);
    let password = field(ctx, "password").unwrap_or_default();
    // An address that does not normalise cannot belong to a user: it costs the same one
    // verification (against the dummy hash) as an unknown one.
    let user = match normalize_identifier(raw_email) {
        Ok(email) => s
            .users
            .user_by_email(&email)
            .await
            .map_err(adapter("user_by_email"))?,
        Err(_) => None,
    };
    // An unknown user reads a (missing) hash too: the same store round-trips (CRD-02).
    let hash = s
        .passwords
        .password_hash(user.as_ref().map_or(NO_USER, |u| u.id.as_str()))
        .await
        .map_err(adapter("password_hash"))?
        .filter(|_| user.is_some());
    if let Some(u) = &user {
        // A refusal from here on concerns this account: its audit event names it.
        let _ = ctx.attempted_user.set(u.id.clone());
    }
    let verified = cfg.hasher.verify(password, hash.as_deref()).await;
    let Some(row) = user.filter(|_| verified.is_valid()) else {
        return Err(failed());
    };
    if s.passwords
        .is_disabled(&row.id)
        .await
        .map_err(adapter("is_disabled"))?
        || (cfg.require_verified_email && row.email_verified.is_none())
    {
        return Err(failed());
    }
    if verified.needs_rehash() {
        // Parameters were raised since this hash was made: store a new one. A failure
        // only delays the upgrade to the next sign-in.
        match cfg.hasher.hash(password).await {
            Ok(phc) => {
                if let Err(e) = s.passwords.set_password_hash(&row.id, &phc).await {
                    tracing::warn!(target: "portcullis", error = %e, "[auth][warn] password rehash not stored");
                }
            }
            Err(e) => {
                tracing::warn!(target: "portcullis", error = %e, "[auth][warn] password rehash failed");
            }
        }
    }
    let user = ctx.cfg.callbacks.user_from_row(&row)?;
    let account = Account::credentials(&entry.id, &row.id);
    if let Some(elsewhere) =
        signin::run_sign_in(ctx, &user, &account, Some(&ctx.body), false).await?
    {
        return Ok(elsewhere);
    }
    signin::finish_sign_in(ctx, &row, &user, &account, &entry.id, false).await
}

// ---------------------------------------------------------------------------------------
// Shared steps

/// Why a new password is refused, as the `error` code the client sees.
enum Refusal {
    Length,
    Breached,
    CheckFailed,
}

impl Refusal {
    fn code(&self) -> &'static str {
        match self {
            Self::Length => "PasswordLength",
            Self::Breached => "BreachedPassword",
            Self::CheckFailed => "BreachedCheckUnavailable",
        }
    }
}

/// Checks a new password against the policy (length, then the breach check) and hashes it.
async fn new_hash(cfg: &Passwords, password: &str) -> Result<String, Refusal> {
    let phc = match cfg.hasher.hash(password).await {
        Ok(phc) => phc,
        Err(PasswordError::Length { .. }) => return Err(Refusal::Length),
        Err(e) => {
            tracing::error!(target: "portcullis", error = %e, "[auth][error] password hashing failed");
            return Err(Refusal::CheckFailed);
        }
    };
    if let Some(check) = &cfg.breached {
        match check.is_breached(password).await {
            Ok(false) => {}
            Ok(true) => return Err(Refusal::Breached),
            Err(e) => {
                tracing::error!(target: "portcullis", error = %e, "[auth][error] breached-password check failed");
                return Err(Refusal::CheckFailed);
            }
        }
    }
    Ok(phc)
}

/// Stores a single-use token for `identifier` and, when `send` holds, mails its link.
async fn store_and_send(
    ctx: &Ctx<'_>,
    cfg: &Passwords,
    kind: EmailKind,
    email: &str,
    path: &str,
    send: bool,
) -> Result<(), Error> {
    let tokens = ctx.cfg.stores.tokens.as_deref().ok_or(Error::SessionToken(
        "password mails need a verification-token adapter".into(),
    ))?;
    let (prefix, max_age) = match kind {
        EmailKind::PasswordReset => (RESET_PREFIX, cfg.reset_max_age),
        _ => (VERIFY_PREFIX, cfg.verify_max_age),
    };
    let token = hex(&random_bytes::<32>());
    let expires = ctx.now + max_age;
    tokens
        .create_verification_token(&VerificationToken {
            identifier: format!("{prefix}{email}"),
            token: stored_hash(ctx, None, &token),
            expires,
        })
        .await
        .map_err(adapter("create_verification_token"))?;
    let Some(sender) = cfg.sender.clone() else {
        return Ok(());
    };
    let url = mail_link(
        ctx,
        path,
        &[
            ("token", token.as_str()),
            ("email", email),
            ("callbackUrl", ctx.callback_url.as_str()),
        ],
    )?;
    // Rendered and handed over either way; only whether it is sent differs (EML-11).
    deliver(
        sender,
        EmailMessage::render(kind, email, url, expires, &ctx.cfg.theme),
        send,
    )
    .await;
    Ok(())
}

/// Consumes a token of `kind` (its identifier prefix) for `email`, or fails with
/// `Verification`.
async fn consume(ctx: &Ctx<'_>, prefix: &str, email: &str, token: &str) -> Result<(), Error> {
    consume_link(ctx, None, &format!("{prefix}{email}"), token).await
}

/// Counts one mail request for `email` from this client (EML-13).
async fn limit_mail(ctx: &Ctx<'_>, email: &str, what: &'static str) -> Option<Reply> {
    let limits = ctx.cfg.rate_limits;
    let mut hits = vec![(
        format!("email:id:{}", TokenHash::of(email).as_str()),
        limits.email_per_identifier,
    )];
    if let Some(ip) = ctx.client_ip {
        hits.push((format!("email:ip:{ip}"), limits.email_per_ip));
    }
    signin::enforce_limits(ctx, hits, what).await
}

/// Back to a built-in form with `?error=…` (and the extra query pairs).
fn back(ctx: &Ctx<'_>, action: &str, error: &str, extra: &[(&str, &str)]) -> Reply {
    let mut q = vec![("error", error)];
    q.extend_from_slice(extra);
    Reply::redirect(with_query(&format!("{}/{action}", ctx.base_url()), &q))
}

fn sent_page(ctx: &Ctx<'_>, id: &str, kind: &str) -> Reply {
    Reply::redirect(with_query(
        &format!("{}/verify-request", ctx.base_url()),
        &[("provider", id), ("type", kind)],
    ))
}

// ---------------------------------------------------------------------------------------
// Routes

/// `/signup`, `/verify-email`, `/forgot-password`, `/reset-password`, `/change-password`.
pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<Reply, Error> {
    let Some((entry, cfg)) = configured(ctx) else {
        return Ok(not_found());
    };
    let post = ctx.method == http::Method::POST;
    match ctx.action {
        Action::Signup if !cfg.sign_up || cfg.sender.is_none() => Ok(not_found()),
        Action::ForgotPassword | Action::ResetPassword if cfg.sender.is_none() => Ok(not_found()),
        Action::Signup if post => sign_up(ctx, entry, cfg).await,
        Action::Signup => Ok(sign_up_page(ctx)),
        Action::VerifyEmail => verify_email(ctx).await,
        Action::ForgotPassword if post => forgot(ctx, entry, cfg).await,
        Action::ForgotPassword => Ok(forgot_page(ctx)),
        Action::ResetPassword if post => reset(ctx, cfg).await,
        Action::ResetPassword => Ok(reset_page(ctx)),
        Action::ChangePassword => Ok(change(ctx, cfg).await),
        _ => Ok(not_found()),
    }
}

/// `POST /signup`: `email`, `password`, optional `name`.
async fn sign_up(ctx: &Ctx<'_>, entry: &ProviderEntry, cfg: &Passwords) -> Result<Reply, Error> {
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf { action: "signup" });
    }
    let Ok(email) = normalize_identifier(field(ctx, "email").unwrap_or_default()) else {
        return Ok(back(ctx, "signup", "InvalidEmail", &[]));
    };
    if let Some(reply) = limit_mail(ctx, &email, "sign-up").await {
        return Ok(reply);
    }
    let name = field(ctx, "name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(256).collect::<String>());
    let phc = match new_hash(cfg, field(ctx, "password").unwrap_or_default()).await {
        Ok(phc) => phc,
        Err(Refusal::CheckFailed) => {
            return Err(Error::SessionToken("password check failed".into()));
        }
        Err(r) => return Ok(back(ctx, "signup", r.code(), &[])),
    };
    let s = stores(ctx)?;
    // The same answer for a taken address, after the same hashing: no enumeration. The
    // owner of a taken address gets no mail (they can reset their password).
    let existing = s
        .users
        .user_by_email(&email)
        .await
        .map_err(adapter("user_by_email"))?;
    let mut created = false;
    if existing.is_none() {
        let mut row = new_user(&email, None);
        row.name = name;
        match s.users.create_user(&row).await {
            Ok(row) => {
                if let Err(e) = s.passwords.set_password_hash(&row.id, &phc).await {
                    // All or nothing: no account without its password.
                    if let Err(undo) = s.users.delete_user(&row.id).await {
                        tracing::error!(target: "portcullis", error = %undo, "[auth][error] sign-up rollback failed");
                    }
                    return Err(adapter("set_password_hash")(e));
                }
                created = true;
            }
            // A concurrent sign-up with the same address won: same answer.
            Err(AdapterError::Conflict(_)) => {}
            Err(e) => return Err(adapter("create_user")(e)),
        }
    }
    store_and_send(
        ctx,
        cfg,
        EmailKind::VerifyEmail,
        &email,
        "/verify-email",
        created,
    )
    .await?;
    Ok(sent_page(ctx, &entry.id, "signup"))
}

/// `GET /verify-email?token&email`: marks the address verified.
async fn verify_email(ctx: &Ctx<'_>) -> Result<Reply, Error> {
    let email = normalize_identifier(ctx.query_str("email").unwrap_or_default())
        .map_err(|_| Error::Verification("the link's email is not a valid address"))?;
    if let Some(reply) = limit_link_use(ctx, &email, "password link").await {
        return Ok(reply);
    }
    consume(
        ctx,
        VERIFY_PREFIX,
        &email,
        ctx.query_str("token").unwrap_or_default(),
    )
    .await?;
    let s = stores(ctx)?;
    let user = s
        .users
        .user_by_email(&email)
        .await
        .map_err(adapter("user_by_email"))?
        .ok_or(Error::Verification("no user for this address"))?;
    if user.email_verified.is_none() {
        s.users
            .update_user(
                &user.id,
                &UserUpdate::default().with_email_verified(Some(ctx.now)),
            )
            .await
            .map_err(adapter("update_user"))?;
    }
    Ok(Reply::redirect(ctx.callback_url.to_string()))
}

/// `POST /forgot-password`: `email`.
async fn forgot(ctx: &Ctx<'_>, entry: &ProviderEntry, cfg: &Passwords) -> Result<Reply, Error> {
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf {
            action: "forgot-password",
        });
    }
    let Ok(email) = normalize_identifier(field(ctx, "email").unwrap_or_default()) else {
        return Ok(back(ctx, "forgot-password", "InvalidEmail", &[]));
    };
    if let Some(reply) = limit_mail(ctx, &email, "password reset").await {
        return Ok(reply);
    }
    let s = stores(ctx)?;
    let user = s
        .users
        .user_by_email(&email)
        .await
        .map_err(adapter("user_by_email"))?;
    // The disabled flag is read for unknown addresses too (the same store round-trips).
    let disabled = s
        .passwords
        .is_disabled(user.as_ref().map_or(NO_USER, |u| u.id.as_str()))
        .await
        .map_err(adapter("is_disabled"))?;
    let send = user.is_some() && !disabled;
    // A token is stored either way (the same work); a mail goes out only to a user.
    store_and_send(
        ctx,
        cfg,
        EmailKind::PasswordReset,
        &email,
        "/reset-password",
        send,
    )
    .await?;
    Ok(sent_page(ctx, &entry.id, "password-reset"))
}

/// `POST /reset-password`: `token`, `email`, `password`. Every session of the user ends.
async fn reset(ctx: &Ctx<'_>, cfg: &Passwords) -> Result<Reply, Error> {
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf {
            action: "reset-password",
        });
    }
    let token = field(ctx, "token").unwrap_or_default();
    let email = normalize_identifier(field(ctx, "email").unwrap_or_default())
        .map_err(|_| Error::Verification("the link's email is not a valid address"))?;
    if let Some(reply) = limit_link_use(ctx, &email, "password link").await {
        return Ok(reply);
    }
    // The new password is checked before the token is spent, so a refused password
    // leaves the link usable.
    let phc = match new_hash(cfg, field(ctx, "password").unwrap_or_default()).await {
        Ok(phc) => phc,
        Err(Refusal::CheckFailed) => {
            return Err(Error::SessionToken("password check failed".into()));
        }
        Err(r) => {
            return Ok(back(
                ctx,
                "reset-password",
                r.code(),
                &[("token", token), ("email", &email)],
            ));
        }
    };
    consume(ctx, RESET_PREFIX, &email, token).await?;
    let s = stores(ctx)?;
    let user = s
        .users
        .user_by_email(&email)
        .await
        .map_err(adapter("user_by_email"))?
        .ok_or(Error::Verification("no user for this address"))?;
    s.passwords
        .set_password_hash(&user.id, &phc)
        .await
        .map_err(adapter("set_password_hash"))?;
    if user.email_verified.is_none() {
        // Following the mailed link proved the address.
        s.users
            .update_user(
                &user.id,
                &UserUpdate::default().with_email_verified(Some(ctx.now)),
            )
            .await
            .map_err(adapter("update_user"))?;
    }
    end_sessions(ctx, &user, ctx.now).await?;
    crate::audit::user_event(ctx, AuditKind::PasswordReset, &user.id, None).await;
    let target = ctx
        .cfg
        .pages
        .sign_in
        .as_deref()
        .map(|p| super::pages::page_url(ctx, p))
        .unwrap_or_else(|| format!("{}/signin", ctx.base_url()));
    Ok(Reply::redirect(with_query(&target, &[("reset", "1")])))
}

/// Ends every session of the user: database rows, and JWTs issued until now.
async fn end_sessions(ctx: &Ctx<'_>, user: &AdapterUser, now: OffsetDateTime) -> Result<(), Error> {
    match crate::manage::revoke_all(ctx.cfg, &user.id, now, crate::audit::Client::of(ctx)).await {
        Ok(_) | Err(crate::manage::ManageError::Unsupported(_)) => Ok(()),
        Err(crate::manage::ManageError::Adapter(e)) => Err(adapter("delete_user_sessions")(e)),
    }
}

/// `POST /change-password` (signed in): `currentPassword`, `newPassword`. JSON answers:
/// `200 {"ok":true}`, `401`, `403 MissingCSRF` / `CredentialsSignin`, `400` with the
/// refusal code, `429`, `503`.
async fn change(ctx: &Ctx<'_>, cfg: &Passwords) -> Reply {
    if ctx.method != http::Method::POST {
        return not_found();
    }
    let me = match resolve_session(ctx.cfg, &ctx.headers).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return json_reply(
                StatusCode::UNAUTHORIZED,
                &json!({ "error": "Unauthorized" }),
            );
        }
        Err(crate::SessionError::Unavailable) => return database::store_unavailable(),
        Err(_) => {
            return json_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": "Configuration" }),
            );
        }
    };
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return json_reply(StatusCode::FORBIDDEN, &json!({ "error": "MissingCSRF" }));
    }
    let hits = vec![(
        format!("change:id:{}", TokenHash::of(&me.user_id).as_str()),
        ctx.cfg.rate_limits.per_identifier,
    )];
    if let Some(reply) = signin::enforce_limits(ctx, hits, "password change").await {
        return reply;
    }
    let failure = |e: &Error| {
        tracing::error!(target: "portcullis", error = %e, "[auth][error] password change");
        match e {
            Error::Adapter { source, .. } if source.is_unavailable() => {
                database::store_unavailable()
            }
            _ => json_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": "Configuration" }),
            ),
        }
    };
    let s = match stores(ctx) {
        Ok(s) => s,
        Err(e) => return failure(&e),
    };
    let hash = match s.passwords.password_hash(&me.user_id).await {
        Ok(h) => h,
        Err(e) => return failure(&adapter("password_hash")(e)),
    };
    let current = field(ctx, "currentPassword").unwrap_or_default();
    if !cfg.hasher.verify(current, hash.as_deref()).await.is_valid() {
        crate::audit::user_event(
            ctx,
            AuditKind::SignInFailed,
            &me.user_id,
            Some("change-password"),
        )
        .await;
        return json_reply(
            StatusCode::FORBIDDEN,
            &json!({ "error": "CredentialsSignin" }),
        );
    }
    let phc = match new_hash(cfg, field(ctx, "newPassword").unwrap_or_default()).await {
        Ok(phc) => phc,
        Err(Refusal::CheckFailed) => {
            return json_reply(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "error": Refusal::CheckFailed.code() }),
            );
        }
        Err(r) => return json_reply(StatusCode::BAD_REQUEST, &json!({ "error": r.code() })),
    };
    if let Err(e) = s.passwords.set_password_hash(&me.user_id, &phc).await {
        return failure(&adapter("set_password_hash")(e));
    }
    crate::audit::user_event(ctx, AuditKind::PasswordChanged, &me.user_id, None).await;
    // Every other session ends; this one stays.
    match ctx.cfg.strategy {
        SessionStrategy::Database => {
            match crate::manage::revoke_others(
                ctx.cfg,
                &me.user_id,
                me.key.as_ref(),
                crate::audit::Client::of(ctx),
            )
            .await
            {
                Ok(_) | Err(crate::manage::ManageError::Unsupported(_)) => {
                    json_reply(StatusCode::OK, &json!({ "ok": true }))
                }
                Err(crate::manage::ManageError::Adapter(e)) => {
                    failure(&adapter("delete_user_sessions")(e))
                }
            }
        }
        SessionStrategy::Jwt => {
            let mut reply = super::manage::revoke_other_jwts(ctx, &me.user_id).await;
            if reply.status == StatusCode::OK {
                reply.body = crate::response::Body::Json(br#"{"ok":true}"#.to_vec());
            }
            reply
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pages

fn form_page(ctx: &Ctx<'_>, title: &str, action: &str, fields: &str, button: &str) -> Reply {
    let mut body = format!("<h1>{}</h1>", escape(title));
    if let Some(e) = ctx.query_str("error") {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(error_text(e))
        );
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrfToken\" value=\"{}\"><input type=\"hidden\" name=\"callbackUrl\" value=\"{}\">{fields}<button type=\"submit\">{}</button></form>",
        escape(&format!("{}/{action}", ctx.base_url())),
        escape(&ctx.csrf.token),
        escape(ctx.callback_url.as_str()),
        escape(button)
    );
    Reply::html(StatusCode::OK, page(ctx, title, &body))
}

fn error_text(code: &str) -> &'static str {
    match code {
        "InvalidEmail" => "Enter a single valid email address.",
        "PasswordLength" => "Choose a password of 8 to 1024 characters.",
        "BreachedPassword" => {
            "This password has appeared in a data breach. Choose a different one."
        }
        _ => "Something went wrong. Try again.",
    }
}

fn input(name: &str, label: &str, kind: &str, autocomplete: &str) -> String {
    format!(
        "<label for=\"input-{name}\">{}</label><input id=\"input-{name}\" name=\"{name}\" type=\"{kind}\" autocomplete=\"{autocomplete}\" required>",
        escape(label)
    )
}

fn sign_up_page(ctx: &Ctx<'_>) -> Reply {
    let fields = format!(
        "{}{}{}",
        input("email", "Email", "email", "email"),
        input("name", "Name", "text", "name").replace(" required", ""),
        input("password", "Password", "password", "new-password")
    );
    form_page(ctx, "Create an account", "signup", &fields, "Sign up")
}

fn forgot_page(ctx: &Ctx<'_>) -> Reply {
    let fields = input("email", "Email", "email", "email");
    form_page(
        ctx,
        "Reset your password",
        "forgot-password",
        &fields,
        "Send a reset link",
    )
}

fn reset_page(ctx: &Ctx<'_>) -> Reply {
    let token = ctx.query_str("token").unwrap_or_default();
    let email = ctx.query_str("email").unwrap_or_default();
    let fields = format!(
        "<input type=\"hidden\" name=\"token\" value=\"{}\"><input type=\"hidden\" name=\"email\" value=\"{}\">{}",
        escape(token),
        escape(email),
        input("password", "New password", "password", "new-password")
    );
    let mut reply = form_page(
        ctx,
        "Choose a new password",
        "reset-password",
        &fields,
        "Set password",
    );
    // The page carries a live token: keep it out of caches and Referer headers.
    reply.no_cache = true;
    reply
}
