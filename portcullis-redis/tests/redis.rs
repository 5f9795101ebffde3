//! The Redis adapter against a real server: key layout (INJ-04), TTLs, atomicity
//! (EML-15, RACE-03), expiry and error classification. Raw checks use plain Redis
//! commands, never the adapter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestRedis, ms, now_ms};
use portcullis::adapter::{
    AdapterError, AdapterSession, RevocationAdapter, SessionAdapter, TokenHash, VerificationToken,
    VerificationTokenAdapter,
};
use portcullis_redis::{RedisAdapter, RedisStoreError};
use time::OffsetDateTime;

macro_rules! redis_or_skip {
    ($name:literal) => {
        match TestRedis::new($name).await {
            Some(t) => t,
            None => return,
        }
    };
}

fn session(
    token: &str,
    user_id: &str,
    created: OffsetDateTime,
    expires: OffsetDateTime,
) -> AdapterSession {
    AdapterSession {
        key: TokenHash::of(token),
        user_id: user_id.to_owned(),
        expires,
        created_at: created,
        last_used_at: created,
        user_agent: Some("Mozilla/5.0 (X11)".to_owned()),
        ip: Some("203.0.113.7".to_owned()),
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Inputs that would break or forge a naively built key.
const HOSTILE: &[&str] = &[
    "a:b",
    "a",
    "b",
    "*",
    "user*",
    "with space",
    "crlf\r\nDEL x",
    "{tag}",
    "x{tag}y",
    "",
    "session:0000",
    "é ünï",
    "?[ab]",
];

#[tokio::test]
async fn keys_never_contain_raw_input_and_never_collide() {
    let t = redis_or_skip!("keys_never_contain_raw_input_and_never_collide");
    let db = &t.adapter;
    let now = now_ms();
    let exp = now + Duration::from_secs(600);
    for (i, id) in HOSTILE.iter().enumerate() {
        db.create_session(&session(&format!("s{i}"), id, now, exp))
            .await
            .unwrap();
        db.create_verification_token(&VerificationToken {
            identifier: (*id).to_owned(),
            token: TokenHash::of(&format!("v{i}")),
            expires: exp,
        })
        .await
        .unwrap();
        db.set_not_before(id, now - Duration::from_secs(i as u64))
            .await
            .unwrap();
    }

    let keys = t.keys().await;
    // Per input: a session, a user index, a token, a token index, a not-before; plus the
    // expiry index.
    assert_eq!(keys.len(), HOSTILE.len() * 5 + 1, "{keys:#?}");
    for key in &keys {
        let rest = key.strip_prefix(&t.prefix).unwrap();
        let parts: Vec<&str> = rest.split(':').collect();
        let ok = match parts.as_slice() {
            ["session", h] => h.len() == 64 && is_lower_hex(h),
            ["verification-index", ident] => ident.len() == 64 && is_lower_hex(ident),
            ["user-sessions", id] | ["not-before", id] => is_lower_hex(id),
            ["verification", ident, h] => {
                ident.len() == 64 && h.len() == 64 && is_lower_hex(ident) && is_lower_hex(h)
            }
            ["session-expiry"] => true,
            _ => false,
        };
        assert!(ok, "unexpected key {key:?}");
        assert!(
            !rest.contains(['*', ' ', '\r', '\n', '{', '}', '?', '[']),
            "{key:?}"
        );
    }

    // The documented names, rebuilt independently.
    for (i, id) in HOSTILE.iter().enumerate() {
        let index = format!("{}user-sessions:{}", t.prefix, hex(id));
        let members: Vec<String> = t.raw(redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1)).await;
        assert_eq!(
            members,
            vec![TokenHash::of(&format!("s{i}")).as_str().to_owned()],
            "{id:?}"
        );
        let nb: String = t
            .raw(redis::cmd("GET").arg(format!("{}not-before:{}", t.prefix, hex(id))))
            .await;
        assert_eq!(nb, ms(now - Duration::from_secs(i as u64)).to_string());
        let vt = format!(
            "{}verification:{}:{}",
            t.prefix,
            TokenHash::of(id).as_str(),
            TokenHash::of(&format!("v{i}")).as_str()
        );
        let exists: i64 = t.raw(redis::cmd("EXISTS").arg(&vt)).await;
        assert_eq!(exists, 1, "{vt}");
    }

    // No cross-talk between inputs that a naive join could confuse.
    for (i, id) in HOSTILE.iter().enumerate() {
        let mine = db.user_sessions(id).await.unwrap();
        assert_eq!(mine.len(), 1, "{id:?}");
        assert_eq!(mine[0].key, TokenHash::of(&format!("s{i}")));
        assert_eq!(mine[0].user_id, *id);
        let nb = db.not_before(id).await.unwrap().unwrap();
        assert_eq!(nb, now - Duration::from_secs(i as u64));
    }
    // A token issued for "a" is not usable as "a:b"'s, and vice versa.
    let a = HOSTILE.iter().position(|x| *x == "a").unwrap();
    assert_eq!(
        db.use_verification_token("a:b", &TokenHash::of(&format!("v{a}")))
            .await
            .unwrap(),
        None
    );
    assert!(
        db.use_verification_token("a", &TokenHash::of(&format!("v{a}")))
            .await
            .unwrap()
            .is_some()
    );
    // Deleting one user's sessions leaves the look-alikes alone.
    assert_eq!(db.delete_user_sessions("a", None).await.unwrap(), 1);
    assert_eq!(db.user_sessions("a:b").await.unwrap().len(), 1);
    assert_eq!(db.user_sessions("b").await.unwrap().len(), 1);

    // The scripts rebuild the index name from the stored user id in Lua: it must be the
    // same name, byte for byte (multi-byte UTF-8, CR, LF, braces), or the index would leak.
    for (i, id) in HOSTILE.iter().enumerate() {
        let key = TokenHash::of(&format!("s{i}"));
        let index = format!("{}user-sessions:{}", t.prefix, hex(id));
        if *id != "a" {
            let later = now + Duration::from_secs(7200);
            db.touch_session(&key, later, now).await.unwrap().unwrap();
            let index_at: i64 = t.raw(redis::cmd("PEXPIRETIME").arg(&index)).await;
            assert_eq!(index_at, ms(later), "{id:?}");
            assert!(db.delete_session(&key).await.unwrap().is_some());
        }
        let exists: i64 = t.raw(redis::cmd("EXISTS").arg(&index)).await;
        assert_eq!(exists, 0, "{id:?}: the index entry was not removed");
    }
}

#[tokio::test]
async fn session_is_stored_as_documented_with_ttl_at_expiry() {
    let t = redis_or_skip!("session_is_stored_as_documented_with_ttl_at_expiry");
    let db = &t.adapter;
    let now = now_ms();
    let expires = now + Duration::from_secs(3600);
    let mut s = session("tok", "user-1", now - Duration::from_secs(5), expires);
    s.last_used_at = now;
    db.create_session(&s).await.unwrap();

    let key = format!("{}session:{}", t.prefix, s.key.as_str());
    let fields: HashMap<String, String> = t.raw(redis::cmd("HGETALL").arg(&key)).await;
    let expected: HashMap<String, String> = [
        ("user_id", "user-1".to_owned()),
        ("expires", ms(expires).to_string()),
        ("created_at", ms(now - Duration::from_secs(5)).to_string()),
        ("last_used_at", ms(now).to_string()),
        ("user_agent", "Mozilla/5.0 (X11)".to_owned()),
        ("ip", "203.0.113.7".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(fields, expected);

    // The TTL ends at `expires` (PEXPIREAT), to the millisecond.
    let at: i64 = t.raw(redis::cmd("PEXPIRETIME").arg(&key)).await;
    assert_eq!(at, ms(expires));
    let pttl: i64 = t.raw(redis::cmd("PTTL").arg(&key)).await;
    assert!(pttl > 3_590_000 && pttl <= 3_600_000, "{pttl}");

    // The user index: scored by created_at, expiring with the session.
    let index = format!("{}user-sessions:{}", t.prefix, hex("user-1"));
    let scored: Vec<(String, i64)> = t
        .raw(
            redis::cmd("ZRANGE")
                .arg(&index)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES"),
        )
        .await;
    assert_eq!(
        scored,
        vec![(s.key.as_str().to_owned(), ms(now - Duration::from_secs(5)))]
    );
    let index_at: i64 = t.raw(redis::cmd("PEXPIRETIME").arg(&index)).await;
    assert_eq!(index_at, ms(expires));
    // The expiry index: scored by expires.
    let expiry = format!("{}session-expiry", t.prefix);
    let scored: Vec<(String, i64)> = t
        .raw(
            redis::cmd("ZRANGE")
                .arg(&expiry)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES"),
        )
        .await;
    assert_eq!(scored, vec![(s.key.as_str().to_owned(), ms(expires))]);

    // Absent optional fields stay absent (None, not "").
    let mut bare = session("bare", "user-1", now, expires);
    bare.user_agent = None;
    bare.ip = Some(String::new());
    db.create_session(&bare).await.unwrap();
    let fields: HashMap<String, String> = t
        .raw(redis::cmd("HGETALL").arg(format!("{}session:{}", t.prefix, bare.key.as_str())))
        .await;
    assert!(!fields.contains_key("user_agent"));
    assert_eq!(fields.get("ip").map(String::as_str), Some(""));
    assert_eq!(db.session(&bare.key).await.unwrap(), Some(bare));

    // Touch moves the TTL, the expiry score and the index TTL together.
    let later = now + Duration::from_secs(7200);
    let touched = db
        .touch_session(&s.key, later, now + Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.expires, later);
    assert_eq!(touched.last_used_at, now + Duration::from_secs(1));
    let at: i64 = t.raw(redis::cmd("PEXPIRETIME").arg(&key)).await;
    assert_eq!(at, ms(later));
    let index_at: i64 = t.raw(redis::cmd("PEXPIRETIME").arg(&index)).await;
    assert_eq!(index_at, ms(later));
    let score: i64 = t
        .raw(redis::cmd("ZSCORE").arg(&expiry).arg(s.key.as_str()))
        .await;
    assert_eq!(score, ms(later));

    // Delete returns the row and removes it from both indexes.
    let gone = db.delete_session(&s.key).await.unwrap().unwrap();
    assert_eq!(gone.expires, later);
    let exists: i64 = t.raw(redis::cmd("EXISTS").arg(&key)).await;
    assert_eq!(exists, 0);
    let in_index: Option<f64> = t
        .raw(redis::cmd("ZSCORE").arg(&index).arg(s.key.as_str()))
        .await;
    assert_eq!(in_index, None);
    let in_expiry: Option<f64> = t
        .raw(redis::cmd("ZSCORE").arg(&expiry).arg(s.key.as_str()))
        .await;
    assert_eq!(in_expiry, None);
}

#[tokio::test]
async fn verification_token_is_stored_hashed_with_ttl() {
    let t = redis_or_skip!("verification_token_is_stored_hashed_with_ttl");
    let db = &t.adapter;
    let expires = now_ms() + Duration::from_secs(600);
    let vt = VerificationToken {
        identifier: "Someone@Example.com".to_owned(),
        token: TokenHash::of_with_secret("raw-token", "secret"),
        expires,
    };
    db.create_verification_token(&vt).await.unwrap();
    let key = format!(
        "{}verification:{}:{}",
        t.prefix,
        TokenHash::of("Someone@Example.com").as_str(),
        vt.token.as_str()
    );
    let value: String = t.raw(redis::cmd("GET").arg(&key)).await;
    let json: serde_json::Value = serde_json::from_str(&value).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"identifier": "Someone@Example.com", "expires": ms(expires)})
    );
    assert!(!value.contains("raw-token"));
    let at: i64 = t.raw(redis::cmd("PEXPIRETIME").arg(&key)).await;
    assert_eq!(at, ms(expires));
    let pttl: i64 = t.raw(redis::cmd("PTTL").arg(&key)).await;
    assert!(pttl > 590_000 && pttl <= 600_000, "{pttl}");

    // The same pair again is a conflict and leaves the row as it was.
    let e = db.create_verification_token(&vt).await.unwrap_err();
    assert!(matches!(e, AdapterError::Conflict(_)), "{e:?}");

    // Lookups are exact: another case of the identifier is another identifier.
    assert_eq!(
        db.use_verification_token("someone@example.com", &vt.token)
            .await
            .unwrap(),
        None
    );
    // Right identifier, wrong token: None, and the real one still works, once.
    assert_eq!(
        db.use_verification_token(&vt.identifier, &TokenHash::of("guess"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.use_verification_token(&vt.identifier, &vt.token)
            .await
            .unwrap(),
        Some(vt.clone())
    );
    assert_eq!(
        db.use_verification_token(&vt.identifier, &vt.token)
            .await
            .unwrap(),
        None
    );
    let exists: i64 = t.raw(redis::cmd("EXISTS").arg(&key)).await;
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn verification_index_lives_with_its_tokens_and_is_pruned() {
    let t = redis_or_skip!("verification_index_lives_with_its_tokens_and_is_pruned");
    let db = t.adapter.clone().with_expiry_grace(Duration::from_secs(60));
    let id = "Index@Example.com";
    let index = format!(
        "{}verification-index:{}",
        t.prefix,
        TokenHash::of(id).as_str()
    );
    let key_of = |vt: &VerificationToken| {
        format!(
            "{}verification:{}:{}",
            t.prefix,
            TokenHash::of(id).as_str(),
            vt.token.as_str()
        )
    };
    let token = |name: &str, expires: OffsetDateTime| VerificationToken {
        identifier: id.to_owned(),
        token: TokenHash::of(name),
        expires,
    };
    let now = now_ms();
    let long = token("long", now + Duration::from_secs(600));
    let short = token("short", now + Duration::from_secs(60));
    db.create_verification_token(&long).await.unwrap();
    db.create_verification_token(&short).await.unwrap();

    // Both keys, scored by expires + grace; the index ends with the longest-lived token.
    let members: Vec<(String, i64)> = t
        .raw(
            redis::cmd("ZRANGE")
                .arg(&index)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES"),
        )
        .await;
    assert_eq!(
        members,
        vec![
            (key_of(&short), ms(short.expires) + 60_000),
            (key_of(&long), ms(long.expires) + 60_000),
        ]
    );
    let at: i64 = t.raw(redis::cmd("PEXPIRETIME").arg(&index)).await;
    assert_eq!(at, ms(long.expires) + 60_000);

    // An entry whose token has certainly expired is pruned by the next create.
    t.raw::<i64>(redis::cmd("ZADD").arg(&index).arg(1).arg("stale"))
        .await;
    let already_expired = token("expired", now - Duration::from_secs(3600));
    db.create_verification_token(&already_expired)
        .await
        .unwrap();
    let members: Vec<String> = t.raw(redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1)).await;
    assert_eq!(members, vec![key_of(&short), key_of(&long)]);

    // A used token's entry stays, but is not counted; the index goes with the delete.
    assert!(
        db.use_verification_token(id, &short.token)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(db.delete_verification_tokens(id).await.unwrap(), 1);
    let exists: i64 = t
        .raw(redis::cmd("EXISTS").arg(&index).arg(key_of(&long)))
        .await;
    assert_eq!(exists, 0);
    assert_eq!(
        db.use_verification_token(id, &long.token).await.unwrap(),
        None
    );
    assert_eq!(db.delete_verification_tokens(id).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uses_of_one_token_have_exactly_one_winner() {
    let t = redis_or_skip!("concurrent_uses_of_one_token_have_exactly_one_winner");
    for round in 0..5 {
        let vt = VerificationToken {
            identifier: "race@example.com".to_owned(),
            token: TokenHash::of(&format!("race-{round}")),
            expires: now_ms() + Duration::from_secs(600),
        };
        t.adapter.create_verification_token(&vt).await.unwrap();
        let db = Arc::new(t.adapter.clone());
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (db, barrier, vt) = (db.clone(), barrier.clone(), vt.clone());
            tasks.spawn(async move {
                barrier.wait().await;
                db.use_verification_token(&vt.identifier, &vt.token).await
            });
        }
        let mut winners = Vec::new();
        while let Some(r) = tasks.join_next().await {
            if let Some(row) = r.unwrap().unwrap() {
                winners.push(row);
            }
        }
        assert_eq!(winners, vec![vt], "round {round}");
    }
}

#[tokio::test]
async fn expired_session_reads_none_and_is_not_resurrected() {
    let t = redis_or_skip!("expired_session_reads_none_and_is_not_resurrected");
    let db = &t.adapter;
    let now = now_ms();
    let s = session("short", "user-exp", now, now + Duration::from_millis(400));
    db.create_session(&s).await.unwrap();
    let live = session(
        "live",
        "user-exp",
        now + Duration::from_millis(1),
        now + Duration::from_secs(600),
    );
    db.create_session(&live).await.unwrap();
    assert_eq!(db.session(&s.key).await.unwrap(), Some(s.clone()));

    tokio::time::sleep(Duration::from_millis(600)).await;
    // Past PEXPIREAT the key is gone for every command, lazily, without waiting for the
    // background expiry cycle.
    assert_eq!(db.session(&s.key).await.unwrap(), None);
    let raw: HashMap<String, String> = t
        .raw(redis::cmd("HGETALL").arg(format!("{}session:{}", t.prefix, s.key.as_str())))
        .await;
    assert!(raw.is_empty());
    // Touch does not bring it back.
    let later = OffsetDateTime::now_utc() + Duration::from_secs(600);
    assert_eq!(db.touch_session(&s.key, later, now).await.unwrap(), None);
    let exists: i64 = t
        .raw(redis::cmd("EXISTS").arg(format!("{}session:{}", t.prefix, s.key.as_str())))
        .await;
    assert_eq!(exists, 0);
    assert_eq!(db.delete_session(&s.key).await.unwrap(), None);
    // Listing skips it and prunes the index entry left behind.
    let index = format!("{}user-sessions:{}", t.prefix, hex("user-exp"));
    let before: i64 = t.raw(redis::cmd("ZCARD").arg(&index)).await;
    assert_eq!(before, 2);
    assert_eq!(
        db.user_sessions("user-exp").await.unwrap(),
        vec![live.clone()]
    );
    let after: Vec<String> = t.raw(redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1)).await;
    assert_eq!(after, vec![live.key.as_str().to_owned()]);
}

#[tokio::test]
async fn touch_after_delete_returns_none_and_writes_nothing() {
    let t = redis_or_skip!("touch_after_delete_returns_none_and_writes_nothing");
    let db = &t.adapter;
    let now = now_ms();
    let s = session("del", "u", now, now + Duration::from_secs(60));
    db.create_session(&s).await.unwrap();
    assert!(db.delete_session(&s.key).await.unwrap().is_some());
    assert_eq!(
        db.touch_session(&s.key, now + Duration::from_secs(600), now)
            .await
            .unwrap(),
        None
    );
    // Nothing is left but the (empty-able) expiry index, which the delete emptied.
    let keys = t.keys().await;
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn already_expired_rows_are_accepted_but_not_kept_without_grace() {
    let t = redis_or_skip!("already_expired_rows_are_accepted_but_not_kept_without_grace");
    let db = &t.adapter;
    let now = now_ms();
    let s = session(
        "past",
        "u",
        now - Duration::from_secs(7200),
        now - Duration::from_secs(3600),
    );
    db.create_session(&s).await.unwrap();
    assert_eq!(db.session(&s.key).await.unwrap(), None);
    let vt = VerificationToken {
        identifier: "p@example.com".to_owned(),
        token: TokenHash::of("past"),
        expires: now - Duration::from_secs(1),
    };
    db.create_verification_token(&vt).await.unwrap();
    assert_eq!(
        db.use_verification_token(&vt.identifier, &vt.token)
            .await
            .unwrap(),
        None
    );
    assert!(t.keys().await.is_empty());
}

#[tokio::test]
async fn grace_keeps_expired_rows_until_swept() {
    let t = redis_or_skip!("grace_keeps_expired_rows_until_swept");
    let db = t
        .adapter
        .clone()
        .with_expiry_grace(Duration::from_secs(3600));
    let now = now_ms();
    let expired = session(
        "old",
        "g",
        now - Duration::from_secs(60),
        now - Duration::from_secs(1),
    );
    let boundary = session("edge", "g", now - Duration::from_secs(30), now);
    let live = session("new", "g", now, now + Duration::from_secs(60));
    for s in [&expired, &boundary, &live] {
        db.create_session(s).await.unwrap();
    }
    // Expired rows are returned like any other while within the grace.
    assert_eq!(
        db.session(&expired.key).await.unwrap(),
        Some(expired.clone())
    );
    assert_eq!(
        db.user_sessions("g").await.unwrap(),
        vec![expired.clone(), boundary.clone(), live.clone()]
    );
    let key = format!("{}session:{}", t.prefix, expired.key.as_str());
    let at: i64 = t.raw(redis::cmd("PEXPIRETIME").arg(&key)).await;
    assert_eq!(at, ms(expired.expires) + 3_600_000);

    // `expires <= now` goes; the live one stays.
    assert_eq!(db.delete_expired_sessions(now).await.unwrap(), 2);
    assert_eq!(db.session(&expired.key).await.unwrap(), None);
    assert_eq!(db.session(&boundary.key).await.unwrap(), None);
    assert_eq!(db.user_sessions("g").await.unwrap(), vec![live.clone()]);
    assert_eq!(db.delete_expired_sessions(now).await.unwrap(), 0);

    let vt = VerificationToken {
        identifier: "g@example.com".to_owned(),
        token: TokenHash::of("g"),
        expires: now - Duration::from_secs(5),
    };
    db.create_verification_token(&vt).await.unwrap();
    assert_eq!(
        db.use_verification_token(&vt.identifier, &vt.token)
            .await
            .unwrap(),
        Some(vt)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweep_handles_more_than_one_batch() {
    let t = redis_or_skip!("sweep_handles_more_than_one_batch");
    let db = Arc::new(
        t.adapter
            .clone()
            .with_expiry_grace(Duration::from_secs(3600)),
    );
    let now = now_ms();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1_203u64 {
        let db = db.clone();
        tasks.spawn(async move {
            let expires = if i % 3 == 0 {
                now + Duration::from_secs(60)
            } else {
                now - Duration::from_millis(i)
            };
            let s = session(
                &format!("bulk-{i}"),
                &format!("user-{}", i % 7),
                now - Duration::from_secs(1),
                expires,
            );
            db.create_session(&s).await
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(db.delete_expired_sessions(now).await.unwrap(), 802);
    let expiry: i64 = t
        .raw(redis::cmd("ZCARD").arg(format!("{}session-expiry", t.prefix)))
        .await;
    assert_eq!(expiry, 401);
    let mut left = 0;
    for u in 0..7 {
        left += db.user_sessions(&format!("user-{u}")).await.unwrap().len();
    }
    assert_eq!(left, 401);
}

#[tokio::test]
async fn delete_user_sessions_keeps_one_and_counts() {
    let t = redis_or_skip!("delete_user_sessions_keeps_one_and_counts");
    let db = &t.adapter;
    let now = now_ms();
    let exp = now + Duration::from_secs(600);
    let keep = session("k", "multi", now, exp);
    for (i, tok) in ["k", "x", "y", "z"].iter().enumerate() {
        db.create_session(&session(
            tok,
            "multi",
            now + Duration::from_millis(i as u64),
            exp,
        ))
        .await
        .unwrap();
    }
    let other = session("o", "other", now, exp);
    db.create_session(&other).await.unwrap();
    assert_eq!(
        db.delete_user_sessions("multi", Some(&keep.key))
            .await
            .unwrap(),
        3
    );
    assert_eq!(db.user_sessions("multi").await.unwrap(), vec![keep.clone()]);
    assert_eq!(db.session(&other.key).await.unwrap(), Some(other));
    let expiry: Vec<String> = t
        .raw(
            redis::cmd("ZRANGE")
                .arg(format!("{}session-expiry", t.prefix))
                .arg(0)
                .arg(-1),
        )
        .await;
    assert_eq!(expiry.len(), 2);
    assert_eq!(db.delete_user_sessions("multi", None).await.unwrap(), 1);
    assert_eq!(db.delete_user_sessions("multi", None).await.unwrap(), 0);
    assert_eq!(db.delete_user_sessions("nobody", None).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_touches_never_fail_and_agree_with_the_ttl() {
    let t = redis_or_skip!("concurrent_touches_never_fail_and_agree_with_the_ttl");
    let db = Arc::new(t.adapter.clone());
    let now = now_ms();
    let s = session("hot", "u", now, now + Duration::from_secs(60));
    db.create_session(&s).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100u64 {
        let (db, key) = (db.clone(), s.key.clone());
        tasks.spawn(async move {
            let expires = now + Duration::from_secs(3600 + i);
            db.touch_session(&key, expires, now + Duration::from_millis(i))
                .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert!(r.unwrap().unwrap().is_some());
    }
    let row = db.session(&s.key).await.unwrap().unwrap();
    let at: i64 = t
        .raw(redis::cmd("PEXPIRETIME").arg(format!("{}session:{}", t.prefix, s.key.as_str())))
        .await;
    assert_eq!(at, ms(row.expires), "the TTL matches the stored expiry");
    let score: i64 = t
        .raw(
            redis::cmd("ZSCORE")
                .arg(format!("{}session-expiry", t.prefix))
                .arg(s.key.as_str()),
        )
        .await;
    assert_eq!(score, ms(row.expires));
    // The index lives at least as long as the session.
    let index_at: i64 = t
        .raw(redis::cmd("PEXPIRETIME").arg(format!("{}user-sessions:{}", t.prefix, hex("u"))))
        .await;
    assert!(index_at >= at, "{index_at} < {at}");
}

#[tokio::test]
async fn not_before_round_trips_to_the_millisecond_without_ttl() {
    let t = redis_or_skip!("not_before_round_trips_to_the_millisecond_without_ttl");
    let db = &t.adapter;
    assert_eq!(db.not_before("rev").await.unwrap(), None);
    let first = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_000_000).unwrap();
    db.set_not_before("rev", first).await.unwrap();
    assert_eq!(db.not_before("rev").await.unwrap(), Some(first));
    let second = first - Duration::from_secs(10);
    db.set_not_before("rev", second).await.unwrap();
    assert_eq!(
        db.not_before("rev").await.unwrap(),
        Some(second),
        "replaces, even with an earlier time"
    );
    let pttl: i64 = t
        .raw(redis::cmd("PTTL").arg(format!("{}not-before:{}", t.prefix, hex("rev"))))
        .await;
    assert_eq!(pttl, -1);
}

#[tokio::test]
async fn duplicates_and_forged_hashes_are_refused() {
    let t = redis_or_skip!("duplicates_and_forged_hashes_are_refused");
    let db = &t.adapter;
    let now = now_ms();
    let s = session("dup", "u1", now, now + Duration::from_secs(60));
    db.create_session(&s).await.unwrap();
    let mut other = s.clone();
    other.user_id = "u2".to_owned();
    let e = db.create_session(&other).await.unwrap_err();
    assert!(matches!(e, AdapterError::Conflict(_)), "{e:?}");
    assert_eq!(db.session(&s.key).await.unwrap(), Some(s.clone()));
    assert!(db.user_sessions("u2").await.unwrap().is_empty());

    let forged: TokenHash = serde_json::from_str("\"x:*\\r\\n\"").unwrap();
    let mut bad = s.clone();
    bad.key = forged.clone();
    let e = db.create_session(&bad).await.unwrap_err();
    let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<RedisStoreError>());
    assert_eq!(source, Some(&RedisStoreError::InvalidTokenHash));
    assert_eq!(db.session(&forged).await.unwrap(), None);
    assert_eq!(db.delete_session(&forged).await.unwrap(), None);
    assert_eq!(db.use_verification_token("a", &forged).await.unwrap(), None);
}

#[tokio::test]
async fn a_foreign_value_under_the_prefix_is_an_error_not_a_panic() {
    let t = redis_or_skip!("a_foreign_value_under_the_prefix_is_an_error_not_a_panic");
    let h = TokenHash::of("foreign");
    let () = t
        .raw(
            redis::cmd("SET")
                .arg(format!("{}session:{}", t.prefix, h.as_str()))
                .arg("x"),
        )
        .await;
    let e = t.adapter.session(&h).await.unwrap_err();
    assert!(matches!(e, AdapterError::Other(_)), "{e:?}");
    let () = t
        .raw(
            redis::cmd("HSET")
                .arg(format!(
                    "{}session:{}",
                    t.prefix,
                    TokenHash::of("half").as_str()
                ))
                .arg("user_id")
                .arg("u"),
        )
        .await;
    let e = t.adapter.session(&TokenHash::of("half")).await.unwrap_err();
    assert!(matches!(e, AdapterError::Other(_)), "{e:?}");
}

#[tokio::test]
async fn refused_connection_is_unavailable_quickly() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("redis://127.0.0.1:{port}");
    let started = Instant::now();
    let e = RedisAdapter::connect(&url).await.unwrap_err();
    assert!(e.is_unavailable(), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<redis::RedisError>());
    assert!(
        source.is_some_and(redis::RedisError::is_connection_refusal),
        "{source:?}"
    );

    // Lazy: the adapter builds, and each call fails fast.
    let db = RedisAdapter::connect_lazy(&url).unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        let e = db.session(&TokenHash::of("x")).await.unwrap_err();
        assert!(e.is_unavailable(), "{e:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_within_the_deadline() {
    // Accepts connections and never replies: a hung server or a black-holed route.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let url = format!("redis://127.0.0.1:{port}");

    let started = Instant::now();
    let e = RedisAdapter::connect(&url).await.unwrap_err();
    assert!(e.is_unavailable(), "{e:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(3_500), "{took:?}");

    let db = RedisAdapter::connect_lazy(&url)
        .unwrap()
        .with_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let e = db.not_before("u").await.unwrap_err();
    assert!(e.is_unavailable(), "{e:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1_500),
        "{took:?}"
    );
    hold.abort();
}
