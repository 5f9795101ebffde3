//! The method × action dispatch and the shared response path (init cookies, errors,
//! `{url}` answers).

pub(crate) mod audit;
pub(crate) mod csrf;
pub(crate) mod database;
#[cfg(feature = "email")]
pub(crate) mod email;
pub(crate) mod manage;
#[cfg(feature = "oauth")]
pub(crate) mod oauth;
pub(crate) mod pages;
#[cfg(all(feature = "email", feature = "password"))]
pub(crate) mod password;
pub(crate) mod session;
pub(crate) mod signin;

use bytes::Bytes;
use http::{Method, Response, StatusCode};

use crate::Compat;
use crate::cookie::SetCookie;
use crate::error::{Error, ErrorCode};
use crate::request::{Action, Ctx};
use crate::response::{Reply, render};

/// Runs the action and renders its answer.
pub(crate) async fn run(ctx: Ctx<'_>) -> Response<Bytes> {
    let result = dispatch(&ctx).await;
    match result {
        Ok(mut reply) => {
            if ctx.action != Action::Providers && !reply.bare {
                reply.cookies.splice(0..0, init_cookies(&ctx));
            }
            render(
                reply,
                ctx.wants_json_redirect(),
                ctx.cfg.compat == Compat::V4,
            )
        }
        Err(error) => {
            if matches!(ctx.action, Action::Callback)
                || (ctx.action == Action::Signin && ctx.method == Method::POST)
            {
                sign_in_failed(&ctx, &error).await;
            }
            error_response(&ctx, &error)
        }
    }
}

/// Records a refused sign-in or callback: the audit event (with the account when the
/// action knew it, see [`Ctx::attempted_user`]) and the `failure` count of the provider.
async fn sign_in_failed(ctx: &Ctx<'_>, error: &Error) {
    let provider = ctx.configured_provider();
    ctx.cfg.metrics.sign_in(provider, "failure");
    let mut event = crate::audit::AuditEvent::new(crate::audit::AuditKind::SignInFailed)
        .with_provider(provider)
        .with_detail(error.code().as_str())
        .client_of(ctx);
    if let Some(user) = ctx.attempted_user.get() {
        event = event.with_user(user.clone());
    }
    crate::audit::record(ctx.cfg, event).await;
}

async fn dispatch(ctx: &Ctx<'_>) -> Result<Reply, Error> {
    let post = ctx.method == Method::POST;
    Ok(match ctx.action {
        Action::Csrf => csrf::csrf(ctx),
        Action::Providers => csrf::providers(ctx),
        Action::Session => match ctx.cfg.strategy {
            crate::SessionStrategy::Jwt => session::session(ctx, post).await,
            crate::SessionStrategy::Database => {
                if post && !ctx.csrf.verify(ctx.body_str("csrfToken")) {
                    session::csrf_failure(ctx)
                } else {
                    database::session(ctx, post).await
                }
            }
        },
        Action::Signin if post => signin::signin(ctx).await?,
        Action::Signin => {
            if ctx.provider.is_some() {
                // GET /signin/:provider is not an action in Auth.js v5.
                return Err(Error::UnknownAction("GET signin with a provider"));
            }
            pages::signin(ctx)
        }
        Action::Callback => signin::callback(ctx).await?,
        Action::Signout if post => signin::signout(ctx).await?,
        Action::Signout => pages::signout(ctx),
        Action::Error => pages::error(ctx),
        Action::VerifyRequest => pages::verify_request(ctx),
        Action::WebauthnOptions => return Err(Error::UnknownAction("webauthn-options")),
        Action::Log => Reply::json(StatusCode::OK, b"{}".to_vec()),
        Action::Sessions => manage::run(ctx, ctx.provider.as_deref()).await,
        Action::Audit => audit::run(ctx).await,
        #[cfg(all(feature = "email", feature = "password"))]
        Action::Signup
        | Action::VerifyEmail
        | Action::ForgotPassword
        | Action::ResetPassword
        | Action::ChangePassword => password::run(ctx).await?,
        #[cfg(not(all(feature = "email", feature = "password")))]
        Action::Signup
        | Action::VerifyEmail
        | Action::ForgotPassword
        | Action::ResetPassword
        | Action::ChangePassword => {
            return Err(Error::UnknownAction(
                "password accounts are not compiled in",
            ));
        }
    })
}

/// The CSRF cookie when it had to be issued, and the callback-url cookie when it changed.
fn init_cookies(ctx: &Ctx<'_>) -> Vec<SetCookie> {
    let mut out = Vec::new();
    if let Some(value) = &ctx.csrf.new_cookie {
        out.push(SetCookie::new(
            &ctx.names().csrf_token,
            value.clone(),
            ctx.secure,
        ));
    }
    if ctx.callback_cookie_stale {
        out.push(SetCookie::new(
            &ctx.names().callback_url,
            ctx.callback_url.to_string(),
            ctx.secure,
        ));
    }
    out
}

/// Logs an error in full and answers with what the client may see: a redirect (or `{url}`)
/// to the sign-in page for sign-in errors, to the error page otherwise.
pub(crate) fn error_response(ctx: &Ctx<'_>, error: &Error) -> Response<Bytes> {
    render(
        error_reply(ctx, error),
        ctx.wants_json_redirect(),
        ctx.cfg.compat == Compat::V4,
    )
}

/// The error answer before rendering (logged here).
pub(crate) fn error_reply(ctx: &Ctx<'_>, error: &Error) -> Reply {
    let code = error.code();
    if code == ErrorCode::Configuration {
        tracing::error!(target: "portcullis", kind = error.kind_name(), error = %error, "[auth][error]");
    } else {
        tracing::info!(target: "portcullis", kind = error.kind_name(), "[auth][error]");
    }
    let base = ctx.base_url();
    let mut reply = match ctx.cfg.compat {
        Compat::V5 => {
            let page = if code.is_sign_in_kind() {
                ctx.cfg
                    .pages
                    .sign_in
                    .as_deref()
                    .map(|p| pages::page_url(ctx, p))
                    .unwrap_or_else(|| format!("{base}/signin"))
            } else {
                ctx.cfg
                    .pages
                    .error
                    .as_deref()
                    .map(|p| pages::page_url(ctx, p))
                    .unwrap_or_else(|| format!("{base}/error"))
            };
            let mut q = vec![("error", code.as_str())];
            if let Error::CredentialsSignin { code } = error {
                q.push(("code", code.as_str()));
            }
            Reply::redirect(pages::with_query(&page, &q))
        }
        Compat::V4 => match error {
            Error::MissingCsrf { action: "signout" } => {
                Reply::redirect(format!("{base}/signout?csrf=true"))
            }
            Error::MissingCsrf { .. } => Reply::redirect(format!("{base}/signin?csrf=true")),
            Error::CredentialsSignin { .. } => {
                let provider = ctx.provider.as_deref().unwrap_or("credentials");
                let mut r = Reply::redirect(pages::with_query(
                    &format!("{base}/error"),
                    &[("error", "CredentialsSignin"), ("provider", provider)],
                ));
                r.status = StatusCode::UNAUTHORIZED;
                r
            }
            _ => Reply::redirect(pages::with_query(
                &format!("{base}/error"),
                &[("error", code.as_str())],
            )),
        },
    };
    if ctx.cfg.compat == Compat::V4 && ctx.callback_cookie_stale {
        // next-auth v4 still writes the callback-url cookie on its error responses.
        reply.cookies.push(SetCookie::new(
            &ctx.names().callback_url,
            ctx.callback_url.to_string(),
            ctx.secure,
        ));
    }
    reply
}

/// The answer to a configuration error found before any action ran (an untrusted host):
/// Auth.js's 500 JSON message for APIs and POSTs, the error page for page GETs.
pub(crate) fn configuration_error(
    compat: Compat,
    action: Action,
    method: &Method,
) -> Response<Bytes> {
    let message = match compat {
        Compat::V5 => {
            "There was a problem with the server configuration. Check the server logs for more information."
        }
        Compat::V4 => {
            "There is a problem with the server configuration. Check the server logs for more information."
        }
    };
    if action.is_page() && method == Method::GET {
        let page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Server error</title></head><body><h1>Server error</h1><p>There is a problem with the server configuration.</p><p>Check the server logs for more information.</p></body></html>";
        return render(
            Reply::html(StatusCode::INTERNAL_SERVER_ERROR, page.to_owned()),
            false,
            false,
        );
    }
    let body = serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap_or_default();
    crate::response::plain_json(StatusCode::INTERNAL_SERVER_ERROR, body)
}
