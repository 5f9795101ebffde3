//! `GET` and `POST /session`: read, refresh and update the session (PROTOCOL.md §4.3, §6).

use http::StatusCode;
use time::Duration;

use crate::Compat;
use crate::callbacks::{SessionFailure, SessionRead};
use crate::cookie::{SessionCookie, clear_session_cookies, session_cookies};
use crate::events::{SessionEvent, fire};
use crate::jwt::MAX_TOKEN_LEN;
use crate::request::Ctx;
use crate::response::Reply;
use crate::session::iso_millis;

pub(crate) fn no_session_body(compat: Compat) -> Vec<u8> {
    match compat {
        Compat::V5 => b"null".to_vec(),
        Compat::V4 => b"{}".to_vec(),
    }
}

/// A `POST /session` whose CSRF token is missing or wrong: `400 null` (v5) / `400 {}` (v4).
pub(crate) fn csrf_failure(ctx: &Ctx<'_>) -> Reply {
    tracing::warn!(target: "portcullis", action = "session", "[auth][error] MissingCSRF");
    let reply = Reply::json(StatusCode::BAD_REQUEST, no_session_body(ctx.cfg.compat)).no_cache();
    // v5 answers a failed update with a bare `400 null`; next-auth v4 still sets the
    // CSRF and callback-url cookies it would set on any request.
    match ctx.cfg.compat {
        Compat::V5 => reply.bare(),
        Compat::V4 => reply,
    }
}

pub(crate) async fn session(ctx: &Ctx<'_>, is_update: bool) -> Reply {
    let empty = || Reply::json(StatusCode::OK, no_session_body(ctx.cfg.compat)).no_cache();
    if is_update && !ctx.csrf.verify(ctx.body_str("csrfToken")) {
        return csrf_failure(ctx);
    }
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    let clear = || empty().with_cookies(clear_session_cookies(&present, ctx.secure));
    let token = match ctx.cookies.session_token(name, MAX_TOKEN_LEN) {
        SessionCookie::Absent => return empty(),
        SessionCookie::Invalid => {
            tracing::debug!(target: "portcullis", "[auth][error] JWTSessionError: malformed session cookies");
            return clear();
        }
        SessionCookie::Present(t) => t,
    };
    let claims = match ctx.codec().decode(&token) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(target: "portcullis", reason = %e, "[auth][error] JWTSessionError");
            return clear();
        }
    };
    // Revocation: a per-user "not before" time refuses tokens issued earlier. If the store
    // that holds it is down, the session's validity is unknown: 503, cookie kept.
    let user_id = ctx
        .cfg
        .stores
        .revocations
        .as_ref()
        .and_then(|_| subject(&claims));
    let not_before = match user_id {
        Some(user_id) => match ctx.cfg.stores.not_before(&user_id).await {
            Ok(v) => v,
            Err(e) if e.is_unavailable() => {
                tracing::warn!(target: "portcullis", error = %e, "revocation store unavailable");
                return crate::action::database::store_unavailable();
            }
            Err(e) => {
                tracing::error!(target: "portcullis", error = %e, "[auth][error] SessionTokenError");
                return empty();
            }
        },
        None => None,
    };
    // Provider tokens about to expire are refreshed before the callbacks see the token.
    #[cfg(feature = "oauth")]
    let claims = crate::action::oauth::refresh_jwt_claims(ctx.cfg, claims, ctx.now).await;
    let now = ctx.unix_now();
    let expires_at = ctx.now + Duration::seconds(ctx.cfg.max_age);
    let read = SessionRead {
        claims: &claims,
        now,
        max_age: ctx.cfg.max_age,
        expires: iso_millis(expires_at),
        is_update,
        update: if is_update {
            ctx.body.get("data").cloned()
        } else {
            None
        },
        not_before,
        reauthenticated: false,
        provider_error: None,
    };
    match ctx.cfg.callbacks.read_session(read).await {
        Ok(outcome) => {
            let token = ctx.codec().encode(&outcome.claims);
            if token.len() > MAX_TOKEN_LEN {
                tracing::error!(target: "portcullis", bytes = token.len(), "[auth][error] JWTSessionError: the re-issued token is too large for a session cookie");
                return clear();
            }
            let cookies = session_cookies(
                name,
                &token,
                expires_at,
                ctx.secure,
                ctx.cfg.compat,
                &present,
            );
            if let Some(events) = &ctx.cfg.events
                && let Some(user_id) = subject(&outcome.claims)
            {
                fire("session", events.session(SessionEvent { user_id })).await;
            }
            Reply::json(StatusCode::OK, outcome.body)
                .no_cache()
                .with_cookies(cookies)
        }
        Err(SessionFailure::Token(e)) => {
            tracing::debug!(target: "portcullis", reason = %e, "[auth][error] JWTSessionError");
            clear()
        }
        Err(SessionFailure::Ended) => clear(),
        Err(SessionFailure::Callback(e)) => {
            tracing::error!(target: "portcullis", error = %e, "[auth][error] JWTSessionError");
            clear()
        }
    }
}

/// The `sub` claim of a claims JSON, for events and logs.
pub(crate) fn subject(claims: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Sub {
        sub: Option<String>,
    }
    serde_json::from_slice::<Sub>(claims)
        .ok()
        .and_then(|s| s.sub)
}
