//! Records the cases store, modelled on Auth.js's `runBasicTests` fixtures (Fill Murray, a
//! GitHub OAuth account with every token field), plus helpers shared by the cases.
//!
//! Every time is a whole number of milliseconds: the adapter contract promises millisecond
//! precision and the cases expect the values back exactly.

use std::sync::atomic::{AtomicU64, Ordering};

use portcullis::AccountType;
use portcullis::adapter::{
    AdapterAccount, AdapterSession, AdapterUser, TokenHash, VerificationToken,
};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::harness::{RawAccount, RawResult, RawSession, RawUser, RawVerificationToken};

/// A string no other call in this process returns (ids, emails, tokens), so that cases stay
/// independent even when a harness shares one server between tests.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{prefix}-{:x}-{}-{n}", nanos, std::process::id())
}

/// The instant `millis` milliseconds after the Unix epoch.
///
/// # Panics
/// Outside the range `time` supports (± 9999 years); the cases only use small values.
pub fn ms(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or_else(|e| panic!("{millis} ms is out of range: {e}"))
}

/// Now, truncated to whole milliseconds.
pub fn now_ms() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let millis = now.div_euclid(1_000_000);
    ms(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// Fill Murray with a unique id and email, a verification time, and custom fields (`role`,
/// `phone`), as Auth.js's suite does with `CUSTOM_MODEL=1`.
pub fn user() -> AdapterUser {
    let id = unique("user");
    let mut fields = Map::new();
    fields.insert("role".into(), json!("admin"));
    fields.insert("phone".into(), json!("00000000000"));
    AdapterUser {
        email: Some(format!("fill+{id}@murray.com")),
        id,
        email_verified: Some(now_ms() - Duration::days(1)),
        name: Some("Fill Murray".into()),
        image: Some("https://www.fillmurray.com/460/300".into()),
        fields,
    }
}

/// A GitHub OAuth account with every token field set, linked to `user_id`.
pub fn account(user_id: &str) -> AdapterAccount {
    AdapterAccount {
        user_id: user_id.into(),
        kind: AccountType::OAuth,
        provider: "github".into(),
        provider_account_id: unique("gh"),
        refresh_token: Some(unique("refresh")),
        access_token: Some(unique("access")),
        expires_at: Some(2_592_000),
        token_type: Some("bearer".into()),
        scope: Some("user".into()),
        id_token: Some(unique("idtoken")),
        session_state: Some(unique("state")),
    }
}

/// A session of `user_id` created a minute ago, expiring in 30 days.
pub fn session(user_id: &str) -> AdapterSession {
    let now = now_ms();
    AdapterSession {
        key: TokenHash::of(&unique("session-token")),
        user_id: user_id.into(),
        expires: now + Duration::days(30),
        created_at: now - Duration::minutes(1),
        last_used_at: now - Duration::minutes(1),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) portcullis-adapter-tests".into()),
        ip: Some("203.0.113.7".into()),
    }
}

/// A verification token for `identifier`, hashed as Auth.js does (`sha256(token + secret)`),
/// expiring in ten minutes. Returns the raw token too.
pub fn verification_token(identifier: &str) -> (String, VerificationToken) {
    let raw = unique("magic");
    let token = VerificationToken {
        identifier: identifier.into(),
        token: TokenHash::of_with_secret(&raw, "anything"),
        expires: now_ms() + Duration::minutes(10),
    };
    (raw, token)
}

/// The raw row a correct store holds for `user`.
pub fn raw_of_user(user: &AdapterUser) -> RawUser {
    RawUser {
        id: user.id.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        name: user.name.clone(),
        image: user.image.clone(),
        fields: Value::Object(user.fields.clone()),
    }
}

/// The raw row a correct store holds for `account`.
pub fn raw_of_account(account: &AdapterAccount) -> RawAccount {
    let kind = match serde_json::to_value(account.kind) {
        Ok(Value::String(s)) => s,
        other => panic!("AccountType must serialise to a string, got {other:?}"),
    };
    RawAccount {
        user_id: account.user_id.clone(),
        kind,
        provider: account.provider.clone(),
        provider_account_id: account.provider_account_id.clone(),
        refresh_token: account.refresh_token.clone(),
        access_token: account.access_token.clone(),
        expires_at: account.expires_at,
        token_type: account.token_type.clone(),
        scope: account.scope.clone(),
        id_token: account.id_token.clone(),
        session_state: account.session_state.clone(),
    }
}

/// The raw row a correct store holds for `session`.
pub fn raw_of_session(session: &AdapterSession) -> RawSession {
    RawSession {
        key: session.key.as_str().to_owned(),
        user_id: session.user_id.clone(),
        expires: session.expires,
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        user_agent: session.user_agent.clone(),
        ip: session.ip.clone(),
    }
}

/// The raw row a correct store holds for `token`.
pub fn raw_of_token(token: &VerificationToken) -> RawVerificationToken {
    RawVerificationToken {
        identifier: token.identifier.clone(),
        token_hash: token.token.as_str().to_owned(),
        expires: token.expires,
    }
}

/// Unwraps a raw read, failing the test with the backend's error.
#[track_caller]
pub fn raw<T>(r: RawResult<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("raw read failed: {e}"),
    }
}

/// Unwraps an adapter call that must succeed, naming the call.
#[track_caller]
pub fn ok<T>(what: &str, r: Result<T, portcullis::adapter::AdapterError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e:?} ({})", source_chain(&e)),
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
