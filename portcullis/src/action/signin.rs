//! `POST /signin[/:provider]`, `POST /callback/:provider` (credentials) and `POST /signout`.

use time::Duration;

use crate::SessionStrategy;
use crate::action::database;
use http::{HeaderValue, StatusCode};

use crate::adapter::{AdapterUser, TokenHash};
use crate::callbacks::{AnyUser, SignInDecision, SignInToken, Trigger};
use crate::cookie::{SessionCookie, clear_session_cookies, session_cookies};
use crate::error::Error;
use crate::events::{SignOutEvent, fire};
use crate::jwt::MAX_TOKEN_LEN;
use crate::provider::{AuthorizeError, AuthorizeRequest, ProviderKind};
use crate::ratelimit::retry_after_secs;
use crate::request::Ctx;
use crate::response::Reply;
use crate::user::Account;

/// `POST /signin[/:provider]`. Credentials providers sign in through `/callback`, so for
/// them (and without a provider) this sends the browser to the sign-in page, as Auth.js.
pub(crate) async fn signin(ctx: &Ctx<'_>) -> Result<Reply, Error> {
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf { action: "signin" });
    }
    if let Some(id) = &ctx.provider {
        let provider = ctx
            .cfg
            .providers
            .iter()
            .find(|p| &p.id == id)
            .ok_or_else(|| Error::InvalidProvider(id.clone()))?;
        #[cfg(feature = "oauth")]
        if let ProviderKind::OAuth(entry) = &provider.kind {
            return super::oauth::signin(ctx, provider, entry).await;
        }
        #[cfg(feature = "email")]
        if let ProviderKind::Email(email) = &provider.kind {
            return super::email::signin(ctx, provider, email).await;
        }
        let _ = provider;
    }
    Ok(Reply::redirect(format!("{}/signin", ctx.base_url())))
}

/// `POST /callback/:provider` for a credentials provider.
pub(crate) async fn callback(ctx: &Ctx<'_>) -> Result<Reply, Error> {
    let id = ctx.provider.as_deref().unwrap_or_default();
    let provider = ctx
        .cfg
        .providers
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::InvalidProvider(id.to_owned()))?;
    let authorize = match &provider.kind {
        ProviderKind::Credentials { authorize, .. } => Some(authorize),
        #[cfg(all(feature = "email", feature = "password"))]
        ProviderKind::Password(_) => None,
        #[cfg(feature = "oauth")]
        ProviderKind::OAuth(entry) => return super::oauth::callback(ctx, provider, entry).await,
        #[cfg(feature = "email")]
        ProviderKind::Email(email) => {
            if ctx.method != http::Method::GET {
                return Err(Error::InvalidProvider(id.to_owned()));
            }
            return super::email::callback(ctx, provider, email).await;
        }
    };
    if ctx.method != http::Method::POST {
        // A credentials callback over GET: Auth.js answers InvalidProvider.
        return Err(Error::InvalidProvider(id.to_owned()));
    }
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf { action: "callback" });
    }
    if let Some(reply) = rate_limit(ctx, &provider.kind).await {
        return Ok(reply);
    }
    let Some(authorize) = authorize else {
        #[cfg(all(feature = "email", feature = "password"))]
        if let ProviderKind::Password(passwords) = &provider.kind {
            return super::password::sign_in(ctx, provider, passwords).await;
        }
        return Err(Error::InvalidProvider(id.to_owned()));
    };
    let request = AuthorizeRequest {
        method: ctx.method.clone(),
        url: ctx.request_url(),
        headers: ctx.headers.clone(),
    };
    let user = match authorize.authorize(ctx.body.clone(), request).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Err(Error::CredentialsSignin {
                code: "credentials".to_owned(),
            });
        }
        Err(AuthorizeError::Rejected { code }) => return Err(Error::CredentialsSignin { code }),
        Err(AuthorizeError::Failed(source)) => {
            return Err(Error::Callback {
                callback: "authorize",
                source,
            });
        }
    };
    let account = Account::credentials(&provider.id, &user.id);
    if let Some(elsewhere) = run_sign_in(ctx, &user, &account, Some(&ctx.body), false).await? {
        return Ok(elsewhere);
    }
    let mut reply = Reply::redirect(ctx.callback_url.to_string());
    let mut is_new_user = false;
    match ctx.cfg.strategy {
        SessionStrategy::Database => {
            // Auth.js refuses credentials with database sessions; portcullis creates a real,
            // revocable session row (and stores the user on its first sign-in).
            let (stored, created) = ensure_user(ctx, &user).await?;
            is_new_user = created;
            reply.cookies = database::start_session(ctx, &stored).await?;
        }
        SessionStrategy::Jwt => {
            reply.cookies = issue_token(ctx, &user, &account, None, Trigger::SignIn, None).await?;
        }
    }
    crate::audit::signed_in(ctx, &user.id, &provider.id, is_new_user).await;
    Ok(reply)
}

/// Ends a sign-in of a stored user (email links, passwords): the session (a database row,
/// or a token through the `jwt` callback), the `sign_in` event, and the redirect to the
/// callback URL.
#[cfg(feature = "email")]
pub(crate) async fn finish_sign_in(
    ctx: &Ctx<'_>,
    row: &AdapterUser,
    user: &AnyUser,
    account: &Account,
    provider: &str,
    is_new_user: bool,
) -> Result<Reply, Error> {
    let mut reply = Reply::redirect(ctx.callback_url.to_string());
    reply.cookies = match ctx.cfg.strategy {
        SessionStrategy::Database => database::start_session(ctx, row).await?,
        SessionStrategy::Jwt => {
            let trigger = if is_new_user {
                Trigger::SignUp
            } else {
                Trigger::SignIn
            };
            issue_token(ctx, user, account, None, trigger, None).await?
        }
    };
    crate::audit::signed_in(ctx, &row.id, provider, is_new_user).await;
    Ok(reply)
}

/// Runs the `sign_in` callback: `Ok(None)` to go on, `Ok(Some(reply))` when it sent the
/// browser elsewhere, `Err(AccessDenied)` when it refused.
pub(crate) async fn run_sign_in(
    ctx: &Ctx<'_>,
    user: &AnyUser,
    account: &Account,
    credentials: Option<&serde_json::Map<String, serde_json::Value>>,
    verification_request: bool,
) -> Result<Option<Reply>, Error> {
    match ctx
        .cfg
        .callbacks
        .sign_in(user, account, credentials, verification_request)
        .await?
    {
        SignInDecision::Allow => Ok(None),
        SignInDecision::Deny => Err(Error::AccessDenied),
        SignInDecision::Redirect(to) => {
            let url = ctx.cfg.callbacks.redirect(&to, &ctx.origin);
            Ok(Some(Reply::redirect(url.to_string())))
        }
    }
}

/// Runs the `jwt` callback for a sign-in and returns the session cookies of the new token
/// (replacing whatever session cookie the browser carried: no fixation, SECURITY.md SES-01),
/// or deletions when the callback ended the session.
pub(crate) async fn issue_token(
    ctx: &Ctx<'_>,
    user: &AnyUser,
    account: &Account,
    profile: Option<&serde_json::Value>,
    trigger: Trigger,
    provider_tokens: Option<crate::token::ProviderTokens>,
) -> Result<Vec<crate::cookie::SetCookie>, Error> {
    // Issued no earlier than the user's "not before" time: revocations set it a second
    // ahead (`iat` has whole seconds), and a sign-in right after one must not hand out a
    // token that is already refused. An unreadable store only makes `iat` earlier, so the
    // error is not fatal here.
    let not_before = ctx.cfg.stores.not_before(&user.id).await.ok().flatten();
    let issued = not_before.map_or(ctx.unix_now(), |nbf| ctx.unix_now().max(nbf));
    let claims = ctx
        .cfg
        .callbacks
        .sign_in_token(SignInToken {
            user,
            account,
            profile,
            trigger,
            now: issued,
            max_age: ctx.cfg.max_age,
            provider_tokens,
        })
        .await?;
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    let Some(claims) = claims else {
        return Ok(clear_session_cookies(&present, ctx.secure));
    };
    let token = ctx.codec().encode(&claims);
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::SessionToken(format!(
            "the session token is {} bytes, more than the {MAX_TOKEN_LEN} a session cookie may carry: keep less in the jwt callback",
            token.len()
        )));
    }
    let expires = ctx.now + Duration::seconds(ctx.cfg.max_age);
    Ok(session_cookies(
        name,
        &token,
        expires,
        ctx.secure,
        ctx.cfg.compat,
        &present,
    ))
}

/// Counts this credentials attempt against the identifier's and the client IP's limits
/// (SECURITY.md CRD-06, CRD-07): `Some(429)` over a limit, `Some(503)` when the limiter
/// fails (FLT-05: fail closed), `None` to go on. Without a limiter, `None`.
async fn rate_limit(ctx: &Ctx<'_>, kind: &ProviderKind) -> Option<Reply> {
    ctx.cfg.rate_limiter.as_ref()?;
    let limits = ctx.cfg.rate_limits;
    let identifier = match kind {
        // The very field the sign-in reads, normalised as it does: other spellings of one
        // address, or a junk `username` beside the real `email`, share one bucket.
        #[cfg(all(feature = "email", feature = "password"))]
        ProviderKind::Password(_) => super::password::limit_identifier(ctx),
        _ => ctx
            .body_str("username")
            .or_else(|| ctx.body_str("email"))
            .unwrap_or_default()
            .trim()
            .to_lowercase(),
    };
    let mut hits = vec![(
        format!("cred:id:{}", TokenHash::of(&identifier).as_str()),
        limits.per_identifier,
    )];
    if let Some(ip) = ctx.client_ip {
        hits.push((format!("cred:ip:{ip}"), limits.per_ip));
    }
    enforce_limits(ctx, hits, "credentials sign-in").await
}

/// Counts one hit on each `(key, (limit, window))` with the configured limiter: `Some(429)`
/// with `Retry-After` when any is over its limit, `Some(503)` when the limiter fails (fail
/// closed, FLT-05), `None` to go on (also when no limiter is configured).
pub(crate) async fn enforce_limits(
    ctx: &Ctx<'_>,
    hits: Vec<(String, (u32, std::time::Duration))>,
    what: &'static str,
) -> Option<Reply> {
    let limiter = ctx.cfg.rate_limiter.as_ref()?;
    let mut denied: Option<std::time::Duration> = None;
    for (key, (limit, window)) in hits {
        match limiter.hit(&key, limit, window).await {
            Ok(d) if d.allowed => {}
            Ok(d) => denied = Some(denied.map_or(d.retry_after, |r| r.max(d.retry_after))),
            Err(e) => {
                tracing::error!(target: "portcullis", error = %e, "[auth][error] RateLimiterUnavailable");
                return Some(limit_reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    br#"{"error":"RateLimiterUnavailable"}"#,
                    std::time::Duration::from_secs(5),
                ));
            }
        }
    }
    let retry_after = denied?;
    tracing::warn!(target: "portcullis", what, "[auth][warn] rate-limited");
    ctx.cfg.metrics.rate_limited(what);
    if ctx.action == crate::request::Action::Callback {
        ctx.cfg
            .metrics
            .sign_in(ctx.configured_provider(), "rate_limited");
    }
    let mut event = crate::audit::AuditEvent::new(crate::audit::AuditKind::RateLimited)
        .with_detail(what)
        .client_of(ctx);
    if ctx.provider.is_some() {
        event = event.with_provider(ctx.configured_provider());
    }
    crate::audit::record(ctx.cfg, event).await;
    Some(limit_reply(
        StatusCode::TOO_MANY_REQUESTS,
        br#"{"error":"TooManyRequests"}"#,
        retry_after,
    ))
}

fn limit_reply(status: StatusCode, body: &[u8], retry_after: std::time::Duration) -> Reply {
    let mut reply = Reply::json(status, body.to_vec()).no_cache().bare();
    reply.retry_after = Some(HeaderValue::from(retry_after_secs(retry_after)));
    reply
}

/// The stored user for a credentials sign-in with database sessions: the existing row, or a
/// new one made from what `authorize` returned. Returns whether it was created.
async fn ensure_user(ctx: &Ctx<'_>, user: &AnyUser) -> Result<(AdapterUser, bool), Error> {
    let users = ctx
        .cfg
        .stores
        .users
        .as_ref()
        .ok_or_else(|| Error::SessionToken("no user adapter".into()))?;
    let adapter = |call| move |source| Error::Adapter { call, source };
    if let Some(existing) = users.user(&user.id).await.map_err(adapter("user"))? {
        return Ok((existing, false));
    }
    match users.create_user(&user.to_adapter_user()).await {
        Ok(created) => Ok((created, true)),
        // A concurrent first sign-in of the same user (a double click) created it a moment
        // ago: use that row, so both requests end signed in as the one user
        // (SECURITY.md RACE-04).
        Err(crate::adapter::AdapterError::Conflict(_)) => {
            match users.user(&user.id).await.map_err(adapter("user"))? {
                Some(existing) => Ok((existing, false)),
                None => Err(Error::Adapter {
                    call: "create_user",
                    source: crate::adapter::AdapterError::Conflict(
                        "the email belongs to another user".into(),
                    ),
                }),
            }
        }
        Err(e) => Err(adapter("create_user")(e)),
    }
}

/// `POST /signout`: ends the session (deleting the database row) and clears every session
/// cookie. If the row cannot be deleted, the cookies are still cleared and the client is
/// sent to the error page (SECURITY.md SES-06): the failure is never reported as success.
pub(crate) async fn signout(ctx: &Ctx<'_>) -> Result<Reply, Error> {
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf { action: "signout" });
    }
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    let clear = clear_session_cookies(&present, ctx.secure);
    // The JWT claims are kept for RP-initiated logout (the provider's ID token).
    #[cfg_attr(not(feature = "oauth"), allow(unused_variables))]
    let (user_id, claims) = match ctx.cfg.strategy {
        SessionStrategy::Database => match database::end_session(ctx).await {
            Ok(user_id) => (user_id, None),
            Err(e) => {
                let mut reply = super::error_reply(ctx, &e);
                reply.cookies.extend(clear);
                return Ok(reply.bare());
            }
        },
        SessionStrategy::Jwt => {
            let claims = match ctx.cookies.session_token(name, MAX_TOKEN_LEN) {
                SessionCookie::Present(token) => ctx.codec().decode(&token).ok(),
                _ => None,
            };
            (
                claims.as_deref().and_then(crate::action::session::subject),
                claims,
            )
        }
    };
    let target = ctx.callback_url.to_string();
    // RP-initiated logout: end the provider's session too, when configured.
    #[cfg(feature = "oauth")]
    let target = super::oauth::logout_url(ctx, claims.as_deref(), user_id.as_deref(), &target)
        .await
        .unwrap_or(target);
    let reply = Reply::redirect(target).with_cookies(clear);
    if !present.is_empty() {
        let mut event =
            crate::audit::AuditEvent::new(crate::audit::AuditKind::SignOut).client_of(ctx);
        if let Some(id) = &user_id {
            event = event.with_user(id.clone());
        }
        crate::audit::record(ctx.cfg, event).await;
        if let Some(events) = &ctx.cfg.events {
            fire("sign_out", events.sign_out(SignOutEvent { user_id })).await;
        }
    }
    Ok(reply)
}
