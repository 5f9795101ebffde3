//! `POST /signin/:provider` and `GET|POST /callback/:provider` for OAuth 2.0 and OpenID
//! Connect providers (PROTOCOL.md §9.2, §10.1; SECURITY.md §3, §6.6, §6.7).

use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::SessionStrategy;
use crate::adapter::{AdapterAccount, AdapterError, AdapterUser, UserAdapter};
use crate::callbacks::Trigger;
use crate::cookie::{SessionCookie, SetCookie};
use crate::error::Error;
use crate::jwt::MAX_TOKEN_LEN;
use crate::provider::ProviderEntry;
use crate::provider::oauth::check::{Binding, Check, pkce_challenge};
use crate::provider::oauth::client::{Metadata, OAuthFailure};
use crate::provider::oauth::jose::{self, Expected, JoseError};
use crate::provider::oauth::refresh::RefreshFailure;
use crate::provider::oauth::{OAuth, OAuthEntry, OAuthKind, Profile, TokenSet};
use crate::request::Ctx;
use crate::response::Reply;
use crate::token::ProviderTokens;
use crate::user::{Account, AccountType};

use super::{database, signin};

/// Authorization-request parameters neither the provider config nor the client may set.
const RESERVED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
    "csrfToken",
    "callbackUrl",
];
/// The longest ID-token age accepted at the callback (`iat`), in seconds.
const ID_TOKEN_MAX_AGE: i64 = 3600;
/// The longest provider account id accepted.
const MAX_ACCOUNT_ID: usize = 255;

fn failure(provider: &str, e: impl std::fmt::Display) -> Error {
    Error::OAuthProvider {
        provider: provider.to_owned(),
        reason: e.to_string(),
    }
}

/// The redirect URI registered at the provider: `{origin}{base}/callback/{id}`.
pub(crate) fn redirect_uri(ctx: &Ctx<'_>, id: &str) -> String {
    format!("{}/callback/{id}", ctx.base_url())
}

/// What a check cookie of this provider is bound to.
fn binding<'a>(id: &'a str, cfg: &'a OAuth, redirect_uri: &'a str) -> Binding<'a> {
    Binding {
        provider: id,
        issuer: cfg.issuer.as_deref(),
        client_id: &cfg.client_id,
        redirect_uri,
    }
}

/// `POST /signin/:provider`: a redirect to the provider's authorization endpoint, with a
/// fresh check cookie. The CSRF token was verified by the caller.
pub(crate) async fn signin(
    ctx: &Ctx<'_>,
    provider: &ProviderEntry,
    entry: &OAuthEntry,
) -> Result<Reply, Error> {
    let cfg = &entry.config;
    let meta = entry
        .runtime
        .metadata(cfg)
        .await
        .map_err(|e| failure(&provider.id, e))?;
    let redirect_uri = redirect_uri(ctx, &provider.id);
    let link_user = current_user_id(ctx).await?;
    let check = Check::new(
        &binding(&provider.id, cfg, &redirect_uri),
        cfg.kind == OAuthKind::Oidc,
        ctx.callback_url.to_string(),
        link_user,
        ctx.unix_now(),
    );
    let mut url = meta.authorization.clone();
    {
        let existing: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &cfg.client_id)
            .append_pair("redirect_uri", &redirect_uri);
        if !existing.iter().any(|k| k == "scope") {
            let scope = cfg.scope.as_deref().unwrap_or("openid profile email");
            q.append_pair("scope", scope);
        }
        q.append_pair("state", &check.state)
            .append_pair("code_challenge", &pkce_challenge(&check.verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(nonce) = &check.nonce {
            q.append_pair("nonce", nonce);
        }
        let mut added: Vec<&str> = Vec::new();
        // The provider's parameters, then the client's (`signIn(id, opts, params)` sends
        // them as the query of this POST), never the protocol ones.
        for (k, v) in cfg
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(
                ctx.query
                    .iter()
                    .filter(|(k, _)| k.as_str() != "response_mode")
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))),
            )
        {
            // The scope is the provider's (`OAuth::scope`), set above.
            if RESERVED.contains(&k) || k == "scope" || added.contains(&k) {
                continue;
            }
            added.push(k);
            q.append_pair(k, v);
        }
    }
    let sealed = check.seal(ctx.cfg.oauth.codec(ctx.secure));
    let mut cookie = SetCookie::new(ctx.cfg.oauth.check_name(ctx.secure), sealed, ctx.secure);
    cookie.max_age = Some(crate::provider::oauth::check::CHECK_MAX_AGE);
    // A form_post answer is a cross-site POST: a Lax cookie would not come with it.
    cookie.same_site_none = cfg.is_form_post();
    Ok(Reply::redirect(url.to_string()).with_cookies(vec![cookie]))
}

/// `GET /callback/:provider` (or `POST` for `response_mode=form_post`). The check cookie is
/// deleted whatever the outcome.
pub(crate) async fn callback(
    ctx: &Ctx<'_>,
    provider: &ProviderEntry,
    entry: &OAuthEntry,
) -> Result<Reply, Error> {
    let delete = SetCookie::delete(ctx.cfg.oauth.check_name(ctx.secure), ctx.secure);
    match complete(ctx, provider, entry).await {
        Ok(mut reply) => {
            reply.cookies.push(delete);
            Ok(reply)
        }
        Err(e) => {
            let mut reply = super::error_reply(ctx, &e);
            reply.cookies.push(delete);
            Ok(reply)
        }
    }
}

async fn complete(
    ctx: &Ctx<'_>,
    provider: &ProviderEntry,
    entry: &OAuthEntry,
) -> Result<Reply, Error> {
    let cfg = &entry.config;
    let id = provider.id.as_str();
    let params = if ctx.method == http::Method::POST {
        &ctx.body
    } else {
        &ctx.query
    };
    let param = |k: &str| params.get(k).and_then(Value::as_str);
    let now = ctx.unix_now();

    // 1. The check cookie, bound to this provider, and the state it carries.
    let redirect_uri = redirect_uri(ctx, id);
    let binding = binding(id, cfg, &redirect_uri);
    let codec = ctx.cfg.oauth.codec(ctx.secure);
    let cookie = ctx.cookies.get(ctx.cfg.oauth.check_name(ctx.secure));
    let check = Check::open(cookie, codec, &binding, now)
        .and_then(|c| c.verify_state(param("state")).map(|()| c))
        .map_err(|e| Error::InvalidCheck(e.to_string()))?;
    if !ctx.cfg.oauth.replay.first_use(&check.state, check.exp, now) {
        return Err(Error::InvalidCheck(
            "this authorization response was already used".into(),
        ));
    }

    // 2. The provider's answer: an error, or a code from the issuer we asked.
    if let Some(error) = param("error") {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(Error::OAuthCallback(code));
    }
    let meta = entry
        .runtime
        .metadata(cfg)
        .await
        .map_err(|e| failure(id, e))?;
    match (param("iss"), cfg.issuer.as_deref()) {
        // RFC 9207: simple string comparison, no normalisation.
        (Some(iss), Some(expected)) if iss != expected => {
            return Err(Error::InvalidCheck(
                "the `iss` parameter is not the provider's issuer (mix-up?)".into(),
            ));
        }
        (None, _) if meta.iss_parameter => {
            return Err(Error::InvalidCheck(
                "the provider promises an `iss` parameter and the response has none".into(),
            ));
        }
        _ => {}
    }
    if current_user_id(ctx).await? != check.link_user {
        return Err(Error::InvalidCheck(
            "the session changed while the sign-in was at the provider".into(),
        ));
    }
    let code = param("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::InvalidCheck("the response has no `code`".into()))?;

    // 3. Tokens, then the profile (ID token and/or userinfo).
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri.clone()),
        ("code_verifier", check.verifier.clone()),
    ];
    let raw = entry
        .runtime
        .token_request(cfg, &meta, form)
        .await
        .map_err(|e| failure(id, e))?;
    let tokens = token_set(&raw, now).map_err(|e| failure(id, e))?;
    let profile_json = profile_claims(entry, &meta, &tokens, check.nonce.as_deref(), now)
        .await
        .map_err(|e| failure(id, e))?;
    let profile_value = Value::Object(profile_json);
    let mut profile: Profile =
        crate::callbacks::catch_unwind(async { (cfg.profile)(&profile_value) })
            .await
            .map_err(|()| failure(id, "the profile mapping panicked"))?
            .map_err(|e| failure(id, e))?;
    if profile.id.is_empty() || profile.id.len() > MAX_ACCOUNT_ID {
        return Err(failure(id, "the profile has no usable id"));
    }
    profile.email = profile.email.map(|e| e.trim().to_lowercase());

    let account = Account {
        provider: id.to_owned(),
        provider_account_id: profile.id.clone(),
        kind: match cfg.kind {
            OAuthKind::OAuth => AccountType::OAuth,
            OAuthKind::Oidc => AccountType::Oidc,
        },
        access_token: Some(tokens.access_token.clone()),
        refresh_token: tokens.refresh_token.clone(),
        expires_at: tokens.expires_at,
        token_type: tokens.token_type.clone(),
        scope: tokens.scope.clone(),
        id_token: tokens.id_token.clone(),
    };

    // 4. The user: linked or created through the adapter, or made from the profile.
    let users = ctx.cfg.stores.users.as_deref();
    let existing = match users {
        Some(users) => users
            .user_by_account(id, &profile.id)
            .await
            .map_err(adapter("user_by_account"))?,
        None => None,
    };
    let candidate = match &existing {
        Some(row) => row.clone(),
        None => profile_user(ctx, cfg, &profile),
    };
    let user = ctx.cfg.callbacks.user_from_row(&candidate)?;
    if let Some(elsewhere) = signin::run_sign_in(ctx, &user, &account, None, false).await? {
        return Ok(elsewhere);
    }
    let stored_account = stored_account(cfg, &account);
    let (row, is_new_user, linked) = match users {
        Some(users) => {
            link(
                users,
                cfg,
                &profile,
                existing,
                check.link_user.as_deref(),
                candidate,
                &stored_account,
            )
            .await?
        }
        None => (candidate, false, false),
    };
    if linked {
        crate::audit::user_event(ctx, crate::audit::AuditKind::AccountLinked, &row.id, None).await;
    }
    let user = if row.id == user.id {
        user
    } else {
        ctx.cfg.callbacks.user_from_row(&row)?
    };

    // 5. The session.
    let mut reply = Reply::redirect(check.callback_url.clone());
    match ctx.cfg.strategy {
        SessionStrategy::Database => {
            reply.cookies = database::start_session(ctx, &row).await?;
        }
        SessionStrategy::Jwt => {
            let keep = provider_tokens(cfg, id, &tokens);
            let trigger = if is_new_user {
                Trigger::SignUp
            } else {
                Trigger::SignIn
            };
            reply.cookies =
                signin::issue_token(ctx, &user, &account, Some(&profile_value), trigger, keep)
                    .await?;
        }
    }
    crate::audit::signed_in(ctx, &row.id, id, is_new_user).await;
    Ok(reply)
}

fn adapter(call: &'static str) -> impl Fn(AdapterError) -> Error {
    move |source| Error::Adapter { call, source }
}

/// The tokens to keep in a JWT session: for rotation (a refresh token was issued and
/// rotation is on) and for RP-initiated logout (the ID token).
fn provider_tokens(cfg: &OAuth, id: &str, tokens: &TokenSet) -> Option<ProviderTokens> {
    let refresh = cfg.refresh && tokens.refresh_token.is_some();
    let logout = cfg.rp_logout && tokens.id_token.is_some();
    (refresh || logout).then(|| ProviderTokens {
        provider: id.to_owned(),
        access_token: tokens.access_token.clone(),
        refresh_token: if refresh {
            tokens.refresh_token.clone()
        } else {
            None
        },
        expires_at: tokens.expires_at,
        id_token: if logout {
            tokens.id_token.clone()
        } else {
            None
        },
        error: None,
    })
}

/// The account row as stored: the provider's `account_filter` applied to the tokens.
fn stored_account(cfg: &OAuth, account: &Account) -> AdapterAccount {
    let mut tokens = TokenSet {
        access_token: account.access_token.clone().unwrap_or_default(),
        token_type: account.token_type.clone(),
        refresh_token: account.refresh_token.clone(),
        expires_at: account.expires_at,
        scope: account.scope.clone(),
        id_token: account.id_token.clone(),
    };
    if let Some(filter) = &cfg.account_filter {
        tokens = filter(tokens);
    }
    AdapterAccount {
        user_id: String::new(),
        kind: account.kind,
        provider: account.provider.clone(),
        provider_account_id: account.provider_account_id.clone(),
        refresh_token: tokens.refresh_token,
        access_token: (!tokens.access_token.is_empty()).then_some(tokens.access_token),
        expires_at: tokens.expires_at,
        token_type: tokens.token_type,
        scope: tokens.scope,
        id_token: tokens.id_token,
        session_state: None,
    }
}

/// A user made from the profile. Without an adapter its id is stable: derived from the
/// provider and the provider's account id (the same person gets the same `sub` at every
/// sign-in, unlike Auth.js's random id), never from the email.
fn profile_user(ctx: &Ctx<'_>, cfg: &OAuth, profile: &Profile) -> AdapterUser {
    let id = if ctx.cfg.stores.users.is_some() {
        crate::secret::random_uuid()
    } else {
        stable_user_id(&cfg.id, &profile.id)
    };
    AdapterUser {
        id,
        email: profile.email.clone(),
        email_verified: None,
        name: profile.name.clone(),
        image: profile.image.clone(),
        fields: Map::new(),
    }
}

/// A UUID (version 8, RFC 9562 §5.8) from SHA-256 of the provider id and account id.
pub(crate) fn stable_user_id(provider: &str, account_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"portcullis/user-id\0");
    // Length-prefixed, so no (provider, account id) pair can be re-split into another.
    h.update((provider.len() as u64).to_be_bytes());
    h.update(provider.as_bytes());
    h.update(account_id.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Auth.js's linking rules (PROTOCOL.md §10.1), with email linking only for verified
/// emails. Returns the user row, whether it was created, and whether the account was
/// linked to an existing user.
async fn link(
    users: &dyn UserAdapter,
    cfg: &OAuth,
    profile: &Profile,
    existing: Option<AdapterUser>,
    current: Option<&str>,
    candidate: AdapterUser,
    account: &AdapterAccount,
) -> Result<(AdapterUser, bool, bool), Error> {
    if let Some(row) = existing {
        if current.is_some_and(|c| c != row.id) {
            return Err(Error::OAuthAccountNotLinked(
                "the account is already associated with another user",
            ));
        }
        // Keep the stored tokens current (Auth.js keeps the first sign-in's). Providers
        // that issue a refresh token only on first consent (Google) send none now: keep the
        // stored one.
        let mut update = account.clone();
        update.user_id = row.id.clone();
        if update.refresh_token.is_none() {
            update.refresh_token = users
                .accounts(&row.id)
                .await
                .map_err(adapter("accounts"))?
                .into_iter()
                .find(|a| {
                    a.provider == account.provider
                        && a.provider_account_id == account.provider_account_id
                })
                .and_then(|a| a.refresh_token);
        }
        if let Err(e) = users.update_account(&update).await {
            tracing::warn!(target: "portcullis", error = %e, "[auth][warn] could not store the provider's new tokens");
        }
        return Ok((row, false, false));
    }
    let mut account = account.clone();
    if let Some(current) = current {
        let row = users
            .user(current)
            .await
            .map_err(adapter("user"))?
            .ok_or_else(|| Error::InvalidCheck("the signed-in user no longer exists".into()))?;
        account.user_id = row.id.clone();
        link_account(users, &account).await?;
        return Ok((row, false, true));
    }
    if let Some(email) = &profile.email
        && let Some(row) = users
            .user_by_email(email)
            .await
            .map_err(adapter("user_by_email"))?
    {
        if !(cfg.dangerous_email_linking && profile.email_verified) {
            return Err(Error::OAuthAccountNotLinked(
                "another account already exists with the same e-mail address",
            ));
        }
        account.user_id = row.id.clone();
        link_account(users, &account).await?;
        return Ok((row, false, true));
    }
    account.user_id = candidate.id.clone();
    match users.create_user_with_account(&candidate, &account).await {
        Ok(row) => Ok((row, true, false)),
        Err(AdapterError::Conflict(_)) => {
            // A concurrent first sign-in (double click) created it (SECURITY.md RACE-04).
            let row = users
                .user_by_account(&account.provider, &account.provider_account_id)
                .await
                .map_err(adapter("user_by_account"))?;
            match row {
                Some(row) => Ok((row, false, false)),
                None => Err(Error::OAuthAccountNotLinked(
                    "another account already exists with the same e-mail address",
                )),
            }
        }
        Err(e) => Err(adapter("create_user_with_account")(e)),
    }
}

async fn link_account(users: &dyn UserAdapter, account: &AdapterAccount) -> Result<(), Error> {
    match users.link_account(account).await {
        Ok(()) => Ok(()),
        // Linked by a concurrent request to the same user: fine. To another: refused.
        Err(AdapterError::Conflict(_)) => {
            match users
                .user_by_account(&account.provider, &account.provider_account_id)
                .await
                .map_err(adapter("user_by_account"))?
            {
                Some(row) if row.id == account.user_id => Ok(()),
                _ => Err(Error::OAuthAccountNotLinked(
                    "the account is already associated with another user",
                )),
            }
        }
        Err(e) => Err(adapter("link_account")(e)),
    }
}

/// The token endpoint's answer as a [`TokenSet`] (RFC 6749 §5.1).
pub(crate) fn token_set(raw: &Map<String, Value>, now: i64) -> Result<TokenSet, OAuthFailure> {
    let invalid = |reason: &str| OAuthFailure::Invalid {
        endpoint: "token",
        reason: reason.to_owned(),
    };
    let s = |k: &str| -> Result<Option<String>, OAuthFailure> {
        match raw.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) if !v.is_empty() => Ok(Some(v.clone())),
            Some(_) => Err(OAuthFailure::Invalid {
                endpoint: "token",
                reason: format!("`{k}` is not a non-empty string"),
            }),
        }
    };
    let access_token = s("access_token")?.ok_or_else(|| invalid("no access_token"))?;
    let token_type = s("token_type")?;
    if let Some(t) = &token_type
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(invalid("token_type is not Bearer"));
    }
    let expires_in = match raw.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(v)) => v.parse::<i64>().ok(),
        Some(_) => None,
    };
    let expires_at = match expires_in {
        Some(n) if (0..=10 * 365 * 86_400).contains(&n) => Some(now + n),
        Some(_) => return Err(invalid("expires_in is out of range")),
        None => None,
    };
    // Some providers (Twitch) send the granted scope as an array.
    let scope = match raw.get("scope") {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        )
        .filter(|s| !s.is_empty()),
        _ => s("scope")?,
    };
    Ok(TokenSet {
        access_token,
        token_type,
        refresh_token: s("refresh_token")?,
        expires_at,
        scope,
        id_token: s("id_token")?,
    })
}

/// Verifies an ID token: the signature with the provider's keys, then the claims. When the
/// cached keys cannot verify it — its `kid` is unknown, or it has none and no cached key
/// fits — the keys are fetched again (at most once per cool-down) and it is tried once more:
/// the provider may have rotated its keys (SECURITY.md KEY-05).
pub(crate) async fn verify_id_token(
    entry: &OAuthEntry,
    meta: &Metadata,
    id_token: &str,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, OAuthFailure> {
    let alg = entry.config.id_token_alg;
    let keys = entry.runtime.jwks(meta).await?;
    let verified = match jose::verify(id_token, alg, &keys) {
        Err(first @ (JoseError::UnknownKid | JoseError::NoKidMatch)) => {
            let fresh = entry.runtime.refetch_jwks(meta, &keys).await?;
            if Arc::ptr_eq(&fresh, &keys) {
                return Err(first.into());
            }
            jose::verify(id_token, alg, &fresh)?
        }
        other => other?,
    };
    Ok(jose::validate_claims(&verified.payload, alg, expected)?)
}

/// The profile claims: for OIDC the validated ID token's, with the userinfo answer over
/// them when its `sub` matches; for OAuth 2.0 the userinfo answer.
async fn profile_claims(
    entry: &OAuthEntry,
    meta: &Metadata,
    tokens: &TokenSet,
    nonce: Option<&str>,
    now: i64,
) -> Result<Map<String, Value>, OAuthFailure> {
    let cfg = &entry.config;
    let invalid = |reason: &str| OAuthFailure::Invalid {
        endpoint: "profile",
        reason: reason.to_owned(),
    };
    match cfg.kind {
        OAuthKind::Oidc => {
            let id_token = tokens
                .id_token
                .as_deref()
                .ok_or_else(|| invalid("the token response has no id_token"))?;
            let issuer = cfg.issuer.as_deref().unwrap_or_default();
            let expected = Expected {
                issuer,
                client_id: &cfg.client_id,
                nonce,
                access_token: Some(&tokens.access_token),
                now,
                leeway: cfg.leeway,
                max_age: Some(ID_TOKEN_MAX_AGE),
            };
            let claims = verify_id_token(entry, meta, id_token, &expected).await?;
            match (&meta.userinfo, cfg.use_userinfo) {
                (Some(url), true) => {
                    let info = entry
                        .runtime
                        .userinfo(cfg, url.clone(), &tokens.access_token)
                        .await?;
                    // OIDC Core §5.3.2: a userinfo answer for another subject is never used.
                    if info.get("sub") != claims.get("sub") {
                        return Err(invalid("the userinfo `sub` is not the ID token's"));
                    }
                    let mut claims = claims;
                    claims.extend(info);
                    Ok(claims)
                }
                _ => Ok(claims),
            }
        }
        OAuthKind::OAuth => {
            let url = meta
                .userinfo
                .clone()
                .ok_or_else(|| invalid("no userinfo endpoint"))?;
            entry.runtime.userinfo(cfg, url, &tokens.access_token).await
        }
    }
}

/// The id of the user signed in on this request, if any (for linking while signed in).
pub(crate) async fn current_user_id(ctx: &Ctx<'_>) -> Result<Option<String>, Error> {
    let name = &ctx.names().session_token;
    match ctx.cfg.strategy {
        SessionStrategy::Database => {
            let Some(token) = database::cookie_token(ctx) else {
                return Ok(None);
            };
            match database::lookup(ctx.cfg, &token, ctx.now).await {
                Ok(found) => Ok(found.map(|(_, user, _)| user.id)),
                Err(e) => Err(Error::Adapter {
                    call: "session_and_user",
                    source: e,
                }),
            }
        }
        SessionStrategy::Jwt => {
            let SessionCookie::Present(token) = ctx.cookies.session_token(name, MAX_TOKEN_LEN)
            else {
                return Ok(None);
            };
            let Ok(claims) = ctx.codec().decode(&token) else {
                return Ok(None);
            };
            let token: crate::Token = match serde_json::from_slice(&claims) {
                Ok(t) => t,
                Err(_) => return Ok(None),
            };
            if token.validate(ctx.unix_now()).is_err() {
                return Ok(None);
            }
            Ok(token.sub)
        }
    }
}

/// When an OAuth account's access token should be refreshed.
pub(crate) fn needs_refresh(cfg: &OAuth, expires_at: Option<i64>, now: OffsetDateTime) -> bool {
    let window = i64::try_from(cfg.refresh_window.as_secs()).unwrap_or(i64::MAX);
    expires_at.is_some_and(|at| at - now.unix_timestamp() <= window)
}

/// The OAuth provider entry with this id, if it refreshes tokens.
fn refreshing_provider<'a>(cfg: &'a crate::config::AuthConfig, id: &str) -> Option<&'a OAuthEntry> {
    cfg.providers.iter().find_map(|p| match &p.kind {
        crate::provider::ProviderKind::OAuth(e) if p.id == id && e.config.refresh => Some(&**e),
        _ => None,
    })
}

/// One refresh-token grant (RFC 6749 §6). A provider that does not rotate keeps the old
/// refresh token; a new ID token is verified like the first one (without a nonce).
async fn refresh_grant(
    entry: &OAuthEntry,
    refresh_token: &str,
    now: i64,
) -> Result<TokenSet, RefreshFailure> {
    let transient = |e: OAuthFailure| RefreshFailure::transient(e.to_string());
    let cfg = &entry.config;
    let meta = entry.runtime.metadata(cfg).await.map_err(transient)?;
    let form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.to_owned()),
    ];
    let raw = match entry.runtime.token_request(cfg, &meta, form).await {
        Ok(raw) => raw,
        Err(
            e @ OAuthFailure::Status {
                status: 400 | 401, ..
            },
        ) => {
            return Err(RefreshFailure {
                reason: e.to_string(),
                terminal: true,
            });
        }
        Err(e) => return Err(transient(e)),
    };
    let mut tokens = token_set(&raw, now).map_err(transient)?;
    if tokens.refresh_token.is_none() {
        tokens.refresh_token = Some(refresh_token.to_owned());
    }
    if let (Some(id_token), OAuthKind::Oidc) = (&tokens.id_token, cfg.kind) {
        let expected = Expected {
            issuer: cfg.issuer.as_deref().unwrap_or_default(),
            client_id: &cfg.client_id,
            nonce: None,
            access_token: Some(&tokens.access_token),
            now,
            leeway: cfg.leeway,
            max_age: Some(ID_TOKEN_MAX_AGE),
        };
        verify_id_token(entry, &meta, id_token, &expected)
            .await
            .map_err(transient)?;
    }
    Ok(tokens)
}

/// JWT strategy: refreshes the provider tokens kept in the session claims when they are
/// about to expire, single-flight. Returns the claims to go on with (unchanged when there
/// is nothing to do); a failure is marked with `error: "RefreshTokenError"` in them.
pub(crate) async fn refresh_jwt_claims(
    cfg: &crate::config::AuthConfig,
    claims: Vec<u8>,
    now: OffsetDateTime,
) -> Vec<u8> {
    // Cheap pre-check: most sessions carry no provider tokens.
    if !claims.windows(7).any(|w| w == b"\"oauth\"") {
        return claims;
    }
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&claims) else {
        return claims;
    };
    let Some(Ok(mut kept)) = map
        .get("oauth")
        .map(|v| serde_json::from_value::<ProviderTokens>(v.clone()))
    else {
        return claims;
    };
    let Some(entry) = refreshing_provider(cfg, &kept.provider) else {
        return claims;
    };
    let Some(rt) = kept.refresh_token.clone() else {
        return claims;
    };
    if !needs_refresh(&entry.config, kept.expires_at, now) {
        return claims;
    }
    let unix = now.unix_timestamp();
    match cfg
        .oauth
        .flights
        .run(&rt, || refresh_grant(entry, &rt, unix))
        .await
    {
        Ok(tokens) => {
            kept.access_token = tokens.access_token;
            kept.refresh_token = tokens.refresh_token;
            kept.expires_at = tokens.expires_at;
            if kept.id_token.is_some() && tokens.id_token.is_some() {
                kept.id_token = tokens.id_token;
            }
            kept.error = None;
        }
        Err(e) => {
            tracing::warn!(target: "portcullis", provider = %kept.provider, error = %e.reason, terminal = e.terminal, "[auth][warn] RefreshTokenError");
            kept.error = Some("RefreshTokenError".to_owned());
            if e.terminal {
                // A refused grant stays refused: never send this refresh token again.
                kept.refresh_token = None;
            }
        }
    }
    match serde_json::to_value(&kept) {
        Ok(v) => {
            map.insert("oauth".to_owned(), v);
            serde_json::to_vec(&map).unwrap_or(claims)
        }
        Err(_) => claims,
    }
}

/// Database strategy: refreshes the user's linked accounts whose access tokens are about
/// to expire, single-flight, and stores the rotated tokens through the adapter. Returns
/// `Some("RefreshTokenError")` when a refresh failed. If storing fails, the new tokens stay
/// remembered in memory for the next read to store (SECURITY.md RACE-02): the consumed
/// refresh token is never used again.
pub(crate) async fn refresh_accounts(
    cfg: &crate::config::AuthConfig,
    user_id: &str,
    now: OffsetDateTime,
) -> Option<String> {
    let any = cfg
        .providers
        .iter()
        .any(|p| matches!(&p.kind, crate::provider::ProviderKind::OAuth(e) if e.config.refresh));
    let users = cfg.stores.users.as_ref()?;
    if !any {
        return None;
    }
    let accounts = match users.accounts(user_id).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(target: "portcullis", error = %e, "[auth][warn] could not read the user's accounts for token refresh");
            return None;
        }
    };
    let unix = now.unix_timestamp();
    let mut error = None;
    for account in accounts {
        let Some(entry) = refreshing_provider(cfg, &account.provider) else {
            continue;
        };
        let Some(rt) = account.refresh_token.clone() else {
            continue;
        };
        if !needs_refresh(&entry.config, account.expires_at, now) {
            continue;
        }
        match cfg
            .oauth
            .flights
            .run(&rt, || refresh_grant(entry, &rt, unix))
            .await
        {
            Ok(tokens) => {
                let mut update = account.clone();
                update.access_token = Some(tokens.access_token);
                update.refresh_token = tokens.refresh_token;
                update.expires_at = tokens.expires_at;
                if tokens.id_token.is_some() {
                    update.id_token = tokens.id_token;
                }
                if tokens.scope.is_some() {
                    update.scope = tokens.scope;
                }
                if let Err(e) = users.update_account(&update).await {
                    tracing::warn!(target: "portcullis", provider = %account.provider, error = %e, "[auth][warn] refreshed tokens not stored yet (kept in memory)");
                }
            }
            Err(e) => {
                tracing::warn!(target: "portcullis", provider = %account.provider, error = %e.reason, terminal = e.terminal, "[auth][warn] RefreshTokenError");
                error = Some("RefreshTokenError".to_owned());
                if e.terminal {
                    // A refused grant stays refused: forget the dead refresh token.
                    let mut update = account.clone();
                    update.refresh_token = None;
                    if let Err(e) = users.update_account(&update).await {
                        tracing::warn!(target: "portcullis", error = %e, "[auth][warn] could not forget a refused refresh token");
                    }
                }
            }
        }
    }
    error
}

/// The provider's `end_session_endpoint` URL for RP-initiated logout (OIDC RP-Initiated
/// Logout 1.0 §2), when the session came from a provider with it switched on: with
/// `id_token_hint`, `client_id` and `post_logout_redirect_uri` = where sign-out would
/// have gone. `None` means "no provider logout".
pub(crate) async fn logout_url(
    ctx: &Ctx<'_>,
    claims: Option<&[u8]>,
    user_id: Option<&str>,
    after: &str,
) -> Option<String> {
    let find = |provider: &str| {
        ctx.cfg.providers.iter().find_map(|p| match &p.kind {
            crate::provider::ProviderKind::OAuth(e) if p.id == provider && e.config.rp_logout => {
                Some(&**e)
            }
            _ => None,
        })
    };
    let (entry, id_token) = match (claims, ctx.cfg.stores.users.as_ref()) {
        (Some(claims), _) => {
            let token: crate::Token = serde_json::from_slice(claims).ok()?;
            let kept = token.provider_tokens?;
            (find(&kept.provider)?, kept.id_token?)
        }
        (None, Some(users)) => {
            let accounts = users.accounts(user_id?).await.ok()?;
            accounts.into_iter().find_map(|a| {
                let entry = find(&a.provider)?;
                Some((entry, a.id_token?))
            })?
        }
        (None, None) => return None,
    };
    let meta = entry.runtime.metadata(&entry.config).await.ok()?;
    let mut url = meta.end_session.clone()?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("client_id", &entry.config.client_id)
        .append_pair("post_logout_redirect_uri", after);
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_user_ids_are_uuid_v8_per_provider_and_account() {
        let a = stable_user_id("github", "42");
        assert_eq!(a, stable_user_id("github", "42"), "stable");
        assert_ne!(a, stable_user_id("gitlab", "42"), "per provider");
        assert_ne!(a, stable_user_id("github", "43"), "per account");
        // No ambiguity from concatenation: ("a", "b\0c") vs ("a\0b", "c").
        assert_ne!(stable_user_id("a", "b\0c"), stable_user_id("a\0b", "c"));
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 8);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
    }
}
