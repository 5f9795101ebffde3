//! [`SessionAdapter`](portcullis::adapter::SessionAdapter) cases.

use std::collections::HashSet;
use std::sync::Arc;

use portcullis::adapter::{AdapterSession, SessionAdapter, TokenHash};
use time::Duration;

use super::users::need;
use crate::fixtures::{self, ms, now_ms, ok, raw, raw_of_session, session, user};
use crate::harness::{Harness, skip};

/// A user id the sessions can point at: created in the user store when the harness has one
/// (SQL stores refuse sessions of unknown users), otherwise just a fresh id.
async fn owner<H: Harness>(h: &H) -> String {
    let u = user();
    if let Some(users) = h.users() {
        ok("create_user", users.create_user(&u).await);
    }
    u.id
}

/// `create_session` stores the row exactly (Auth.js check 4); the key is unique.
pub async fn create_session_stores_every_field<H: Harness>(h: &H) {
    let store = need!(
        h,
        sessions,
        "create_session_stores_every_field",
        "SessionAdapter"
    );
    let uid = owner(h).await;
    let s = session(&uid);
    ok("create_session", store.create_session(&s).await);
    assert_eq!(raw(h.raw_session(&s.key).await), Some(raw_of_session(&s)));

    let mut bare = session(&uid);
    bare.user_agent = None;
    bare.ip = Some("2001:db8::1".into());
    ok("create_session", store.create_session(&bare).await);
    assert_eq!(
        raw(h.raw_session(&bare.key).await),
        Some(raw_of_session(&bare))
    );

    let mut dup = session(&uid);
    dup.key = s.key.clone();
    let r = store.create_session(&dup).await;
    assert!(
        r.is_err(),
        "a second session with the same key must be refused"
    );
    assert_eq!(
        raw(h.raw_session(&s.key).await),
        Some(raw_of_session(&s)),
        "the first row is unchanged"
    );
}

/// `session` returns `None` for an unknown key and the row otherwise, expired or not.
pub async fn session_returns_row_even_expired<H: Harness>(h: &H) {
    let store = need!(
        h,
        sessions,
        "session_returns_row_even_expired",
        "SessionAdapter"
    );
    let uid = owner(h).await;
    assert_eq!(
        ok(
            "session",
            store.session(&TokenHash::of("invalid-token")).await
        ),
        None
    );
    let live = session(&uid);
    let mut expired = session(&uid);
    expired.created_at = now_ms() - Duration::days(2);
    expired.last_used_at = expired.created_at;
    expired.expires = now_ms() - Duration::days(1);
    for s in [&live, &expired] {
        ok("create_session", store.create_session(s).await);
        let stored = raw(h.raw_session(&s.key).await);
        let read = ok("session", store.session(&s.key).await);
        if stored.is_none() && s.expires <= now_ms() && h.expires_rows_natively() {
            assert_eq!(read, None, "a row gone from the store cannot be read back");
            continue;
        }
        assert_eq!(stored, Some(raw_of_session(s)));
        assert_eq!(read, Some(s.clone()));
    }
}

/// `session_and_user` returns `None` for an unknown key, the session otherwise, and the
/// session's user when the store joins (Auth.js check 5).
pub async fn session_and_user_returns_both<H: Harness>(h: &H) {
    let store = need!(
        h,
        sessions,
        "session_and_user_returns_both",
        "SessionAdapter"
    );
    assert_eq!(
        ok(
            "session_and_user",
            store
                .session_and_user(&TokenHash::of("invalid-token"))
                .await
        ),
        None
    );
    let u = user();
    if let Some(users) = h.users() {
        ok("create_user", users.create_user(&u).await);
    }
    let s = session(&u.id);
    ok("create_session", store.create_session(&s).await);
    let (got, got_user) = ok("session_and_user", store.session_and_user(&s.key).await)
        .unwrap_or_else(|| panic!("session_and_user returned None for a stored session"));
    assert_eq!(got, s);
    match got_user {
        Some(found) => assert_eq!(found, u, "the joined user must be the session's user"),
        None => assert!(
            !h.session_and_user_joins(),
            "this store must return the user with the session"
        ),
    }
}

/// `touch_session` sets `expires` and `last_used_at` exactly, returns the updated row, and
/// returns `None` (creating nothing) for an unknown key (Auth.js check 7).
pub async fn touch_session_updates_exactly<H: Harness>(h: &H) {
    let store = need!(
        h,
        sessions,
        "touch_session_updates_exactly",
        "SessionAdapter"
    );
    let uid = owner(h).await;
    let s = session(&uid);
    ok("create_session", store.create_session(&s).await);
    let expires = s.expires + Duration::milliseconds(86_400_123);
    let used = s.last_used_at + Duration::milliseconds(60_001);
    let touched = ok(
        "touch_session",
        store.touch_session(&s.key, expires, used).await,
    );
    let mut expected = s.clone();
    expected.expires = expires;
    expected.last_used_at = used;
    assert_eq!(touched, Some(expected.clone()));
    assert_eq!(
        raw(h.raw_session(&s.key).await),
        Some(raw_of_session(&expected))
    );

    let ghost = TokenHash::of(&fixtures::unique("ghost"));
    assert_eq!(
        ok(
            "touch_session (unknown)",
            store.touch_session(&ghost, expires, used).await
        ),
        None
    );
    assert_eq!(
        raw(h.raw_session(&ghost).await),
        None,
        "touching an unknown key creates nothing"
    );
}

/// 50 concurrent touches never fail (RACE-03). When all write the same values the row holds
/// them; when each writes its own, the row ends with the latest of each — a concurrent
/// extension never moves the expiry back.
pub async fn touch_session_concurrent_never_fails<H: Harness>(h: &H) {
    let store = need!(
        h,
        sessions,
        "touch_session_concurrent_never_fails",
        "SessionAdapter"
    );
    let uid = owner(h).await;
    let s = session(&uid);
    ok("create_session", store.create_session(&s).await);

    let expires = s.expires + Duration::days(1);
    let used = now_ms();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let store: Arc<dyn SessionAdapter> = store.clone();
        let key = s.key.clone();
        tasks.spawn(async move { store.touch_session(&key, expires, used).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let r = joined.unwrap_or_else(|e| panic!("touch task panicked: {e}"));
        let row = ok("concurrent touch_session", r).unwrap_or_else(|| panic!("touch lost the row"));
        assert_eq!((row.expires, row.last_used_at), (expires, used));
    }
    let mut expected = s.clone();
    expected.expires = expires;
    expected.last_used_at = used;
    assert_eq!(
        raw(h.raw_session(&s.key).await),
        Some(raw_of_session(&expected))
    );

    let mut tasks = tokio::task::JoinSet::new();
    let mut written = HashSet::new();
    for i in 0..50_i64 {
        let store: Arc<dyn SessionAdapter> = store.clone();
        let key = s.key.clone();
        let pair = (
            expires + Duration::milliseconds(i),
            used + Duration::milliseconds(i),
        );
        written.insert(pair);
        tasks.spawn(async move { store.touch_session(&key, pair.0, pair.1).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let r = joined.unwrap_or_else(|e| panic!("touch task panicked: {e}"));
        assert!(ok("concurrent touch_session", r).is_some());
    }
    let row = raw(h.raw_session(&s.key).await).unwrap_or_else(|| panic!("the session row is gone"));
    let latest = written
        .iter()
        .max()
        .copied()
        .unwrap_or_else(|| panic!("no writes"));
    assert_eq!(
        (row.expires, row.last_used_at),
        latest,
        "the row must hold the latest values, got {row:?}"
    );
    // A touch with earlier values never moves them back.
    let back = ok(
        "touch_session (earlier)",
        store
            .touch_session(
                &s.key,
                expires - Duration::days(2),
                used - Duration::days(2),
            )
            .await,
    )
    .unwrap_or_else(|| panic!("the session row is gone"));
    assert_eq!((back.expires, back.last_used_at), latest);
    assert_eq!(
        (row.created_at, row.user_id.as_str()),
        (s.created_at, s.user_id.as_str())
    );
}

/// `delete_session` removes the row and returns it; `None` when it did not exist (Auth.js
/// check 10).
pub async fn delete_session_returns_row<H: Harness>(h: &H) {
    let store = need!(h, sessions, "delete_session_returns_row", "SessionAdapter");
    let uid = owner(h).await;
    let s = session(&uid);
    let other = session(&uid);
    ok("create_session", store.create_session(&s).await);
    ok("create_session", store.create_session(&other).await);
    assert_eq!(
        ok("delete_session", store.delete_session(&s.key).await),
        Some(s.clone())
    );
    assert_eq!(raw(h.raw_session(&s.key).await), None);
    assert_eq!(
        raw(h.raw_session(&other.key).await),
        Some(raw_of_session(&other))
    );
    assert_eq!(
        ok("delete_session (again)", store.delete_session(&s.key).await),
        None
    );
    assert_eq!(ok("session", store.session(&s.key).await), None);
}

/// `user_sessions` lists a user's sessions, expired ones included, oldest first.
pub async fn user_sessions_oldest_first<H: Harness>(h: &H) {
    let store = need!(h, sessions, "user_sessions_oldest_first", "SessionAdapter");
    let uid = owner(h).await;
    let other = owner(h).await;
    let base = now_ms() - Duration::days(3);
    let mut made: Vec<AdapterSession> = Vec::new();
    // Inserted out of order; one of them expired.
    for (offset_ms, expired) in [
        (2_000_i64, false),
        (1, true),
        (86_400_000, false),
        (0, false),
    ] {
        let mut s = session(&uid);
        s.created_at = base + Duration::milliseconds(offset_ms);
        s.last_used_at = s.created_at;
        if expired {
            s.expires = base + Duration::hours(1);
        }
        ok("create_session", store.create_session(&s).await);
        made.push(s);
    }
    ok(
        "create_session",
        store.create_session(&session(&other)).await,
    );
    assert_eq!(raw(h.count_user_sessions(&uid).await), 4);

    made.sort_by_key(|s| s.created_at);
    let listed = ok("user_sessions", store.user_sessions(&uid).await);
    if h.expires_rows_natively() && listed.len() < made.len() {
        // Such a store may already have dropped the expired one.
        made.retain(|s| s.expires > now_ms());
    }
    assert_eq!(listed, made);
    assert_eq!(
        ok(
            "user_sessions (unknown)",
            store.user_sessions("nobody").await
        ),
        Vec::new()
    );
}

/// `delete_user_sessions` removes every session of the user except `keep` and returns the
/// count; other users' sessions stay.
pub async fn delete_user_sessions_keeps_one<H: Harness>(h: &H) {
    let store = need!(
        h,
        sessions,
        "delete_user_sessions_keeps_one",
        "SessionAdapter"
    );
    let uid = owner(h).await;
    let other = owner(h).await;
    let mine: Vec<AdapterSession> = (0..4).map(|_| session(&uid)).collect();
    for s in &mine {
        ok("create_session", store.create_session(s).await);
    }
    let theirs = session(&other);
    ok("create_session", store.create_session(&theirs).await);

    let removed = ok(
        "delete_user_sessions",
        store.delete_user_sessions(&uid, Some(&mine[1].key)).await,
    );
    assert_eq!(removed, 3);
    assert_eq!(raw(h.count_user_sessions(&uid).await), 1);
    assert_eq!(
        raw(h.raw_session(&mine[1].key).await),
        Some(raw_of_session(&mine[1]))
    );
    assert_eq!(raw(h.raw_session(&mine[0].key).await), None);
    assert_eq!(
        raw(h.raw_session(&theirs.key).await),
        Some(raw_of_session(&theirs))
    );

    // `keep` naming another user's session protects nothing of this user and harms nothing.
    let removed = ok(
        "delete_user_sessions",
        store.delete_user_sessions(&uid, Some(&theirs.key)).await,
    );
    assert_eq!(removed, 1);
    assert_eq!(raw(h.count_user_sessions(&uid).await), 0);
    assert_eq!(
        raw(h.raw_session(&theirs.key).await),
        Some(raw_of_session(&theirs))
    );

    let again = session(&uid);
    ok("create_session", store.create_session(&again).await);
    assert_eq!(
        ok(
            "delete_user_sessions (all)",
            store.delete_user_sessions(&uid, None).await
        ),
        1
    );
    assert_eq!(raw(h.count_user_sessions(&uid).await), 0);
    assert_eq!(
        ok(
            "delete_user_sessions (none left)",
            store.delete_user_sessions(&uid, None).await
        ),
        0
    );
    assert_eq!(raw(h.count_user_sessions(&other).await), 1);
}

/// `delete_expired_sessions` removes every row with `expires <= now` and returns the count.
pub async fn delete_expired_sessions_removes_due_rows<H: Harness>(h: &H) {
    let store = need!(
        h,
        sessions,
        "delete_expired_sessions_removes_due_rows",
        "SessionAdapter"
    );
    let uid = owner(h).await;
    let now = now_ms();
    let mut rows = Vec::new();
    for (expires, due) in [
        (now - Duration::days(1), true),
        (now - Duration::milliseconds(1), true),
        (now, true),
        (now + Duration::milliseconds(1), false),
        (now + Duration::days(1), false),
    ] {
        let mut s = session(&uid);
        s.created_at = now - Duration::days(2);
        s.last_used_at = s.created_at;
        s.expires = expires;
        ok("create_session", store.create_session(&s).await);
        rows.push((s, due));
    }
    let mut due_present = 0;
    for (s, due) in &rows {
        let present = raw(h.raw_session(&s.key).await).is_some();
        assert!(
            present || (*due && h.expires_rows_natively()),
            "only a store with native expiry may have dropped a due row"
        );
        due_present += u64::from(*due && present);
    }
    assert_eq!(
        ok(
            "delete_expired_sessions",
            store.delete_expired_sessions(now).await
        ),
        due_present
    );
    for (s, due) in &rows {
        let expected = (!due).then(|| raw_of_session(s));
        assert_eq!(
            raw(h.raw_session(&s.key).await),
            expected,
            "expires {} vs now {now}",
            s.expires
        );
    }
    assert_eq!(
        ok(
            "delete_expired_sessions (again)",
            store.delete_expired_sessions(now).await
        ),
        0
    );
}

/// Timestamps keep millisecond precision, including before 1970 and far in the future.
pub async fn session_timestamps_keep_milliseconds<H: Harness>(h: &H) {
    let store = need!(
        h,
        sessions,
        "session_timestamps_keep_milliseconds",
        "SessionAdapter"
    );
    let uid = owner(h).await;
    for (created, used, expires) in [
        (
            ms(1_700_000_000_001),
            ms(1_700_000_000_999),
            ms(4_102_444_800_123),
        ),
        (ms(-86_400_001), ms(1), ms(253_402_300_799_999)),
    ] {
        let mut s = session(&uid);
        s.created_at = created;
        s.last_used_at = used;
        s.expires = expires;
        ok("create_session", store.create_session(&s).await);
        assert_eq!(raw(h.raw_session(&s.key).await), Some(raw_of_session(&s)));
        assert_eq!(ok("session", store.session(&s.key).await), Some(s));
    }
}
