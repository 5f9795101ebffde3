//! The database session strategy (PROTOCOL.md §7), stricter than Auth.js:
//! - the cookie holds 32 random bytes (hex); the store holds only their SHA-256;
//! - the cookie value is checked for shape before any lookup (SECURITY.md SES-10);
//! - an unreachable store answers `503 {"error":"SessionStoreUnavailable"}` with
//!   `Retry-After` and keeps the cookie (SECURITY.md FLT-01);
//! - credentials sign-ins create real database sessions;
//! - an optional absolute lifetime is never extended by sliding expiry.

use http::{HeaderValue, StatusCode, header};
use time::{Duration, OffsetDateTime};

use crate::adapter::{AdapterError, AdapterSession, AdapterUser, TokenHash};
use crate::callbacks::{SessionFailure, SessionRead};
use crate::config::AuthConfig;
use crate::cookie::{
    RequestCookies, SessionCookie, SetCookie, clear_session_cookies, session_cookies,
};
use crate::error::Error;
use crate::events::{SessionEvent, fire};
use crate::request::Ctx;
use crate::response::Reply;
use crate::secret::{hex, random_bytes};
use crate::session::iso_millis;

use super::session::no_session_body;

/// Seconds a client should wait before retrying after a store outage.
const RETRY_AFTER_SECS: &str = "5";
/// Longest `User-Agent` kept with a session.
const MAX_USER_AGENT: usize = 512;

/// A fresh session token: 32 bytes from the OS CSPRNG as 64 hex characters.
pub(crate) fn new_session_token() -> String {
    hex(&random_bytes::<32>())
}

/// Whether a cookie value has the shape of a token we issue: 64 lowercase hex.
pub(crate) fn is_session_token(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `503 {"error":"SessionStoreUnavailable"}` with `Retry-After`; no cookie is touched.
pub(crate) fn store_unavailable() -> Reply {
    let mut reply = Reply::json(
        StatusCode::SERVICE_UNAVAILABLE,
        br#"{"error":"SessionStoreUnavailable"}"#.to_vec(),
    )
    .no_cache()
    .bare();
    reply.retry_after = Some(HeaderValue::from_static(RETRY_AFTER_SECS));
    reply
}

/// The request's session token, if its cookie has the right shape.
pub(crate) fn cookie_token(ctx: &Ctx<'_>) -> Option<String> {
    token_from_cookies(&ctx.cookies, &ctx.names().session_token)
}

/// The database session token among parsed cookies, if it has the right shape.
pub(crate) fn token_from_cookies(cookies: &RequestCookies, name: &str) -> Option<String> {
    match cookies.session_token(name, 128) {
        SessionCookie::Present(t) if is_session_token(&t) => Some(t.into_owned()),
        _ => None,
    }
}

/// Refreshes the user's provider tokens that are about to expire (OAuth accounts);
/// `Some("RefreshTokenError")` when one could not be refreshed.
pub(crate) async fn refresh_provider_tokens(
    cfg: &AuthConfig,
    user_id: &str,
    now: OffsetDateTime,
) -> Option<String> {
    #[cfg(feature = "oauth")]
    return crate::action::oauth::refresh_accounts(cfg, user_id, now).await;
    #[cfg(not(feature = "oauth"))]
    {
        let _ = (cfg, user_id, now);
        None
    }
}

/// `GET`/`POST /session` with the database strategy.
pub(crate) async fn session(ctx: &Ctx<'_>, is_update: bool) -> Reply {
    let compat = ctx.cfg.compat;
    let empty = || Reply::json(StatusCode::OK, no_session_body(compat)).no_cache();
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    let clear = || empty().with_cookies(clear_session_cookies(&present, ctx.secure));
    if present.is_empty() {
        return empty();
    }
    let Some(token) = cookie_token(ctx) else {
        return clear();
    };
    let (row, user, expires) = match lookup(ctx.cfg, &token, ctx.now).await {
        Ok(Some(found)) => found,
        Ok(None) => return clear(),
        Err(e) => return adapter_failure(&e),
    };
    let read = SessionRead {
        claims: &[],
        now: ctx.now.unix_timestamp(),
        max_age: ctx.cfg.max_age,
        // Auth.js shows the row's expiry as it was before this request extended it.
        expires: iso_millis(row.expires),
        is_update,
        update: if is_update {
            ctx.body.get("data").cloned()
        } else {
            None
        },
        not_before: None,
        reauthenticated: false,
        provider_error: refresh_provider_tokens(ctx.cfg, &user.id, ctx.now).await,
    };
    match ctx.cfg.callbacks.read_database_session(&user, read).await {
        Ok(outcome) => {
            let cookies = session_cookies(name, &token, expires, ctx.secure, compat, &present);
            if let Some(events) = &ctx.cfg.events {
                fire(
                    "session",
                    events.session(SessionEvent {
                        user_id: user.id.clone(),
                    }),
                )
                .await;
            }
            Reply::json(StatusCode::OK, outcome.body)
                .no_cache()
                .with_cookies(cookies)
        }
        Err(SessionFailure::Callback(e)) => {
            // Auth.js: SessionTokenError, body null, the cookie kept.
            tracing::error!(target: "portcullis", error = %e, "[auth][error] SessionTokenError");
            empty()
        }
        Err(SessionFailure::Token(_) | SessionFailure::Ended) => empty(),
    }
}

/// Finds a live database session for a cookie token: the row, its user, and its expiry
/// after sliding extension. An expired row (or one past the absolute lifetime) is deleted
/// and gives `None`, as does a row whose user is gone.
///
/// The expiry is pushed forward only when the session was last extended more than
/// `update_age` ago, and never beyond the absolute lifetime.
pub(crate) async fn lookup(
    cfg: &AuthConfig,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<(AdapterSession, AdapterUser, OffsetDateTime)>, AdapterError> {
    let stores = &cfg.stores;
    let Some(sessions) = &stores.sessions else {
        return Ok(None);
    };
    let key = TokenHash::of(token);
    let Some((mut row, user)) = stores.session_and_user(&key).await? else {
        return Ok(None);
    };
    let deadline = cfg
        .absolute_max_age
        .map(|secs| row.created_at + Duration::seconds(secs));
    // A row stored before the absolute lifetime was set (or shortened) ends at it too.
    let cap = |t: OffsetDateTime| deadline.map_or(t, |d| t.min(d));
    row.expires = cap(row.expires);
    if row.expires <= now {
        tracing::debug!(target: "portcullis", "database session expired");
        sessions.delete_session(&key).await?;
        return Ok(None);
    }
    let max_age = Duration::seconds(cfg.max_age);
    let update_age = Duration::seconds(cfg.update_age);
    let mut expires = row.expires;
    // A session at its absolute deadline has nothing left to extend: without the second
    // check its capped expiry looks "last extended long ago" and every read rewrites it.
    if expires - max_age + update_age <= now && deadline.is_none_or(|d| expires < d) {
        match sessions
            .touch_session(&key, cap(now + max_age), now)
            .await?
        {
            Some(updated) => expires = cap(updated.expires),
            None => return Ok(None),
        }
    }
    Ok(Some((row, user, expires)))
}

/// An adapter failure during a session read: 503 for an outage (the cookie kept), the
/// Auth.js answer (`null`, cookie kept, error logged) otherwise.
fn adapter_failure(e: &AdapterError) -> Reply {
    if e.is_unavailable() {
        tracing::warn!(target: "portcullis", error = %e, "session store unavailable");
        store_unavailable()
    } else {
        tracing::error!(target: "portcullis", error = %e, "[auth][error] SessionTokenError");
        store_failure()
    }
}

fn store_failure() -> Reply {
    Reply::json(StatusCode::OK, b"null".to_vec()).no_cache()
}

/// Creates a database session for a signed-in user, replacing any session the browser
/// carried (SECURITY.md SES-01, SES-03), and returns the cookies to set.
pub(crate) async fn start_session(
    ctx: &Ctx<'_>,
    user: &AdapterUser,
) -> Result<Vec<SetCookie>, Error> {
    let stores = &ctx.cfg.stores;
    let sessions = stores
        .sessions
        .as_ref()
        .ok_or_else(|| Error::SessionToken("no session adapter".into()))?;
    if let Some(old) = cookie_token(ctx) {
        sessions
            .delete_session(&TokenHash::of(&old))
            .await
            .map_err(|e| Error::Adapter {
                call: "delete_session",
                source: e,
            })?;
    }
    let token = new_session_token();
    let now = ctx.now;
    let mut expires = now + Duration::seconds(ctx.cfg.max_age);
    if let Some(abs) = ctx.cfg.absolute_max_age {
        expires = expires.min(now + Duration::seconds(abs));
    }
    let row = AdapterSession {
        key: TokenHash::of(&token),
        user_id: user.id.clone(),
        expires,
        created_at: now,
        last_used_at: now,
        user_agent: ctx
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| truncate(s, MAX_USER_AGENT)),
        ip: ctx.client_ip.map(|ip| ip.to_string()),
    };
    sessions
        .create_session(&row)
        .await
        .map_err(|e| Error::Adapter {
            call: "create_session",
            source: e,
        })?;
    let name = &ctx.names().session_token;
    let present = ctx.cookies.session_names(name);
    Ok(session_cookies(
        name,
        &token,
        expires,
        ctx.secure,
        ctx.cfg.compat,
        &present,
    ))
}

/// Deletes the request's database session (sign-out). Returns the user id of the deleted
/// session, if there was one.
pub(crate) async fn end_session(ctx: &Ctx<'_>) -> Result<Option<String>, Error> {
    let Some(token) = cookie_token(ctx) else {
        return Ok(None);
    };
    let Some(sessions) = &ctx.cfg.stores.sessions else {
        return Ok(None);
    };
    sessions
        .delete_session(&TokenHash::of(&token))
        .await
        .map(|row| row.map(|r| r.user_id))
        .map_err(|e| Error::Adapter {
            call: "delete_session",
            source: e,
        })
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_hex_and_checked_for_shape() {
        let t = new_session_token();
        assert!(is_session_token(&t));
        assert_ne!(t, new_session_token());
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"A".repeat(64),
            &"a".repeat(65),
            "'; DROP TABLE sessions; --",
        ] {
            assert!(!is_session_token(bad), "{bad}");
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
