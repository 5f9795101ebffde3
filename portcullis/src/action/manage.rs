//! The session-management routes (beyond Auth.js), for the signed-in user:
//! `GET {base}/sessions`, `POST {base}/sessions/revoke` (`{csrfToken, id}`),
//! `POST {base}/sessions/revoke-others`, `POST {base}/sessions/revoke-all`.
//! Unauthenticated: 401. Store down: 503. Missing CSRF token: 403.

use http::StatusCode;
use serde_json::json;
use time::Duration;

use crate::SessionError;
use crate::SessionStrategy;
use crate::audit::Client;
use crate::auth::{Resolved, resolve_session};
use crate::callbacks::SessionRead;
use crate::cookie::{SessionCookie, clear_session_cookies, session_cookies};
use crate::jwt::MAX_TOKEN_LEN;
use crate::manage::{self, ManageError};
use crate::request::Ctx;
use crate::response::Reply;
use crate::session::iso_millis;

pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    Reply::json(status, serde_json::to_vec(value).unwrap_or_default())
        .no_cache()
        .bare()
}

fn failure(e: &ManageError) -> Reply {
    match e {
        ManageError::Unsupported(why) => json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "Unsupported", "message": why }),
        ),
        ManageError::Adapter(a) if a.is_unavailable() => super::database::store_unavailable(),
        ManageError::Adapter(a) => {
            tracing::error!(target: "portcullis", error = %a, "[auth][error] AdapterError");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": "Configuration" }),
            )
        }
    }
}

/// The session of a route that needs one, or its answer: 401 without a session, 503 when
/// the store is down, 500 `Configuration` without a trusted origin.
pub(crate) async fn require_session(ctx: &Ctx<'_>) -> Result<Resolved, Reply> {
    match resolve_session(ctx.cfg, &ctx.headers).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(json(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "Unauthorized" }),
        )),
        Err(SessionError::Unavailable) => Err(super::database::store_unavailable()),
        Err(_) => Err(json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": "Configuration" }),
        )),
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>, op: Option<&str>) -> Reply {
    let me = match require_session(ctx).await {
        Ok(me) => me,
        Err(reply) => return reply,
    };
    let Some(op) = op else {
        return match manage::list(ctx.cfg, &me.user_id, me.key.as_ref()).await {
            Ok(list) => json(StatusCode::OK, &json!(list)),
            Err(e) => failure(&e),
        };
    };
    if !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return json(StatusCode::FORBIDDEN, &json!({ "error": "MissingCSRF" }));
    }
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    match op {
        "revoke" => {
            let id = ctx.body_str("id").unwrap_or_default();
            match manage::revoke_one(ctx.cfg, &me.user_id, id, Client::of(ctx)).await {
                Ok(revoked) => {
                    let mut reply = json(StatusCode::OK, &json!({ "revoked": u8::from(revoked) }));
                    if me.key.as_ref().is_some_and(|k| k.as_str() == id) {
                        reply.cookies = clear_session_cookies(&present, ctx.secure);
                    }
                    reply
                }
                Err(e) => failure(&e),
            }
        }
        "revoke-all" => {
            match manage::revoke_all(ctx.cfg, &me.user_id, ctx.now, Client::of(ctx)).await {
                Ok(n) => json(StatusCode::OK, &json!({ "revoked": n }))
                    .with_cookies(clear_session_cookies(&present, ctx.secure)),
                Err(e) => failure(&e),
            }
        }
        "revoke-others" => match ctx.cfg.strategy {
            SessionStrategy::Database => {
                match manage::revoke_others(ctx.cfg, &me.user_id, me.key.as_ref(), Client::of(ctx))
                    .await
                {
                    Ok(n) => json(StatusCode::OK, &json!({ "revoked": n })),
                    Err(e) => failure(&e),
                }
            }
            SessionStrategy::Jwt => revoke_other_jwts(ctx, &me.user_id).await,
        },
        _ => json(StatusCode::NOT_FOUND, &json!({ "error": "UnknownAction" })),
    }
}

/// JWT "sign out everywhere else": every token issued up to now is revoked, and this
/// request's token is re-issued just after the cut-off so it survives.
pub(crate) async fn revoke_other_jwts(ctx: &Ctx<'_>, user_id: &str) -> Reply {
    let cutoff = ctx.now + Duration::seconds(1);
    match ctx.cfg.stores.set_not_before(user_id, cutoff).await {
        Ok(true) => {}
        Ok(false) => {
            return failure(&ManageError::Unsupported(
                "revoking JWT sessions needs a revocation adapter",
            ));
        }
        Err(e) => return failure(&ManageError::Adapter(e)),
    }
    crate::audit::revoked(ctx.cfg, user_id, "revoke-others", Client::of(ctx)).await;
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    let SessionCookie::Present(token) = ctx.cookies.session_token(name, MAX_TOKEN_LEN) else {
        return json(StatusCode::OK, &json!({ "revoked": 0 }));
    };
    let Ok(claims) = ctx.codec().decode(&token) else {
        return json(StatusCode::OK, &json!({ "revoked": 0 }));
    };
    let expires_at = cutoff + Duration::seconds(ctx.cfg.max_age);
    let read = SessionRead {
        claims: &claims,
        now: cutoff.unix_timestamp(),
        max_age: ctx.cfg.max_age,
        expires: iso_millis(expires_at),
        is_update: false,
        update: None,
        not_before: None,
        reauthenticated: true,
        provider_error: None,
    };
    match ctx.cfg.callbacks.read_session(read).await {
        Ok(outcome) => {
            let token = ctx.codec().encode(&outcome.claims);
            json(StatusCode::OK, &json!({ "revoked": 0 })).with_cookies(session_cookies(
                name,
                &token,
                expires_at,
                ctx.secure,
                ctx.cfg.compat,
                &present,
            ))
        }
        Err(_) => json(StatusCode::OK, &json!({ "revoked": 0 }))
            .with_cookies(clear_session_cookies(&present, ctx.secure)),
    }
}
