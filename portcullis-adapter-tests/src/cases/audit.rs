//! [`AuditAdapter`](portcullis::adapter::AuditAdapter) cases.

use portcullis::adapter::AdapterError;
use portcullis::{AuditEvent, AuditKind};

use super::users::need;
use crate::fixtures::{self, ok};
use crate::harness::{Harness, skip};

/// An event with every field set, at `at` milliseconds since the epoch.
fn event(user: Option<&str>, kind: AuditKind, at_ms: i64) -> AuditEvent {
    let mut e = AuditEvent::from_stored(fixtures::unique("evt"), fixtures::ms(at_ms), kind);
    e.user_id = user.map(str::to_owned);
    e.provider = Some("github".to_owned());
    e.ip = Some("2001:db8::1".to_owned());
    e.user_agent = Some("Mozilla/5.0 'quoted' \"double\" ; DROP TABLE users; --".to_owned());
    e.detail = Some("CredentialsSignin".to_owned());
    e
}

/// `audit_events` returns the user's events only, newest first, every field exactly as
/// recorded (milliseconds kept), at most `limit`, and only those strictly before `before`;
/// of two events in the same millisecond, the one recorded last comes first.
pub async fn audit_events_round_trip_newest_first<H: Harness>(h: &H) {
    let store = need!(
        h,
        audit,
        "audit_events_round_trip_newest_first",
        "AuditAdapter"
    );
    let alice = fixtures::unique("alice");
    let bob = fixtures::unique("bob");
    let base = 1_790_000_000_123;
    let a1 = event(Some(&alice), AuditKind::SignIn, base);
    let mut a2 = event(Some(&alice), AuditKind::SignInFailed, base + 1);
    a2.provider = None;
    a2.ip = None;
    a2.user_agent = None;
    a2.detail = None;
    let a3 = event(Some(&alice), AuditKind::PasswordChanged, base + 60_000);
    let a4 = event(Some(&alice), AuditKind::SessionRevoked, base + 60_000);
    let b1 = event(Some(&bob), AuditKind::SignOut, base + 2);
    let anonymous = event(None, AuditKind::RateLimited, base + 3);
    for e in [&a2, &b1, &a3, &anonymous, &a1, &a4] {
        ok("record_audit_event", store.record_audit_event(e).await);
    }
    let all = ok("audit_events", store.audit_events(&alice, None, 10).await);
    assert_eq!(all, vec![a4.clone(), a3.clone(), a2.clone(), a1.clone()]);
    let two = ok("audit_events", store.audit_events(&alice, None, 2).await);
    assert_eq!(two, vec![a4.clone(), a3.clone()]);
    let page = ok(
        "audit_events",
        store.audit_events(&alice, Some(a2.at), 10).await,
    );
    assert_eq!(page, vec![a1.clone()], "`before` is exclusive");
    let bobs = ok("audit_events", store.audit_events(&bob, None, 10).await);
    assert_eq!(bobs, vec![b1]);
    let nobody = ok(
        "audit_events",
        store
            .audit_events(&fixtures::unique("nobody"), None, 10)
            .await,
    );
    assert!(nobody.is_empty());
    // A user id that looks like a pattern matches nothing else.
    let pattern = ok("audit_events", store.audit_events("%", None, 10).await);
    assert!(pattern.is_empty());
}

/// Recording an event id twice is a `Conflict` and keeps the first.
pub async fn audit_event_ids_are_unique<H: Harness>(h: &H) {
    let store = need!(h, audit, "audit_event_ids_are_unique", "AuditAdapter");
    let user = fixtures::unique("u");
    let first = event(Some(&user), AuditKind::SignIn, 1_790_000_000_000);
    ok("record_audit_event", store.record_audit_event(&first).await);
    let mut again = first.clone();
    again.kind = AuditKind::SignOut;
    match store.record_audit_event(&again).await {
        Err(AdapterError::Conflict(_)) => {}
        other => panic!("a duplicate event id: expected Conflict, got {other:?}"),
    }
    let kept = ok("audit_events", store.audit_events(&user, None, 10).await);
    assert_eq!(kept, vec![first]);
}

/// `delete_audit_events_before` deletes events strictly before the cutoff, of every user
/// and of none, and returns how many; an event at the cutoff stays.
pub async fn delete_audit_events_before_cuts_at_the_cutoff<H: Harness>(h: &H) {
    let store = need!(
        h,
        audit,
        "delete_audit_events_before_cuts_at_the_cutoff",
        "AuditAdapter"
    );
    // Far in the past, so events of other cases sharing the store are never in range.
    let user = fixtures::unique("u");
    let old = event(Some(&user), AuditKind::SignIn, -5_000_000_000_000);
    let old_anonymous = event(None, AuditKind::RateLimited, -5_000_000_000_000 + 1);
    let at_cutoff = event(Some(&user), AuditKind::SignOut, -4_000_000_000_000);
    for e in [&old, &old_anonymous, &at_cutoff] {
        ok("record_audit_event", store.record_audit_event(e).await);
    }
    let removed = ok(
        "delete_audit_events_before",
        store
            .delete_audit_events_before(fixtures::ms(-4_000_000_000_000))
            .await,
    );
    assert_eq!(removed, 2);
    let left = ok("audit_events", store.audit_events(&user, None, 10).await);
    assert_eq!(left, vec![at_cutoff]);
    let again = ok(
        "delete_audit_events_before",
        store
            .delete_audit_events_before(fixtures::ms(-4_000_000_000_000))
            .await,
    );
    assert_eq!(again, 0);
}
