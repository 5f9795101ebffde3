//! `POST /signin[/:provider]`, `POST /callback/:provider` (credentials) and `POST /signout`.

use time::Duration;

use crate::callbacks::{SignInDecision, Trigger};
use crate::cookie::{SessionCookie, clear_session_cookies, session_cookies};
use crate::error::Error;
use crate::events::{SignInEvent, SignOutEvent, fire};
use crate::jwt::MAX_TOKEN_LEN;
use crate::provider::{AuthorizeError, AuthorizeRequest, ProviderKind};
use crate::request::Ctx;
use crate::response::Reply;
use crate::user::Account;

/// `POST /signin[/:provider]`. Credentials providers sign in through `/callback`, so for
/// them (and without a provider) this sends the browser to the sign-in page, as Auth.js.
pub(crate) fn signin(ctx: &Ctx<'_>) -> Result<Reply, Error> {
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf { action: "signin" });
    }
    if let Some(id) = &ctx.provider
        && !ctx.cfg.providers.iter().any(|p| &p.id == id)
    {
        return Err(Error::InvalidProvider(id.clone()));
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
    let ProviderKind::Credentials { authorize, .. } = &provider.kind;
    if ctx.method != http::Method::POST {
        // A credentials callback over GET: Auth.js answers InvalidProvider.
        return Err(Error::InvalidProvider(id.to_owned()));
    }
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf { action: "callback" });
    }
    let request = AuthorizeRequest {
        method: ctx.method.clone(),
        url: ctx.request_url.clone(),
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
    match ctx
        .cfg
        .callbacks
        .sign_in(&user, &account, Some(&ctx.body))
        .await?
    {
        SignInDecision::Allow => {}
        SignInDecision::Deny => return Err(Error::AccessDenied),
        SignInDecision::Redirect(to) => {
            let url = ctx.cfg.callbacks.redirect(&to, &ctx.origin);
            return Ok(Reply::redirect(url.to_string()));
        }
    }
    let now = ctx.unix_now();
    let claims = ctx
        .cfg
        .callbacks
        .sign_in_token(&user, &account, Trigger::SignIn, now, ctx.cfg.max_age)
        .await?;
    let mut reply = Reply::redirect(ctx.callback_url.to_string());
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    match claims {
        Some(claims) => {
            let token = ctx.codec().encode(&claims);
            let expires = ctx.now + Duration::seconds(ctx.cfg.max_age);
            // A fresh token replaces whatever session cookie the browser carried
            // (SECURITY.md SES-01: no fixation through a planted cookie).
            reply.cookies =
                session_cookies(name, &token, expires, ctx.secure, ctx.cfg.compat, &present);
        }
        None => reply.cookies = clear_session_cookies(&present, ctx.secure),
    }
    if let Some(events) = &ctx.cfg.events {
        let event = SignInEvent {
            user_id: user.id.clone(),
            provider: provider.id.clone(),
            is_new_user: false,
        };
        fire("sign_in", events.sign_in(event)).await;
    }
    Ok(reply)
}

/// `POST /signout`: clears every session cookie and redirects to the callback URL.
pub(crate) async fn signout(ctx: &Ctx<'_>) -> Result<Reply, Error> {
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return Err(Error::MissingCsrf { action: "signout" });
    }
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    let user_id = match ctx.cookies.session_token(name, MAX_TOKEN_LEN) {
        SessionCookie::Present(token) => ctx
            .codec()
            .decode(&token)
            .ok()
            .and_then(|claims| crate::action::session::subject(&claims)),
        _ => None,
    };
    let reply = Reply::redirect(ctx.callback_url.to_string())
        .with_cookies(clear_session_cookies(&present, ctx.secure));
    if let Some(events) = &ctx.cfg.events
        && !present.is_empty()
    {
        fire("sign_out", events.sign_out(SignOutEvent { user_id })).await;
    }
    Ok(reply)
}
