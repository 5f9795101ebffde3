//! [`VerificationTokenAdapter`](portcullis::adapter::VerificationTokenAdapter) and
//! [`RevocationAdapter`](portcullis::adapter::RevocationAdapter) cases.

use std::sync::Arc;

use portcullis::adapter::{AdapterError, TokenHash, VerificationTokenAdapter};
use time::Duration;

use super::users::need;
use crate::fixtures::{self, ms, now_ms, ok, raw, raw_of_token, verification_token};
use crate::harness::{Harness, skip};

fn email() -> String {
    format!("{}@example.com", fixtures::unique("magic"))
}

/// `create_verification_token` stores the exact row (Auth.js check 12); the pair is unique.
pub async fn create_verification_token_stores_row<H: Harness>(h: &H) {
    let store = need!(
        h,
        verification_tokens,
        "create_verification_token_stores_row",
        "VerificationTokenAdapter"
    );
    let id = email();
    let (_, t) = verification_token(&id);
    ok(
        "create_verification_token",
        store.create_verification_token(&t).await,
    );
    assert_eq!(
        raw(h.raw_verification_token(&t.identifier, &t.token).await),
        Some(raw_of_token(&t))
    );

    // Same identifier, another token: both rows exist.
    let (_, t2) = verification_token(&id);
    ok(
        "create_verification_token",
        store.create_verification_token(&t2).await,
    );
    assert_eq!(
        raw(h.raw_verification_token(&t2.identifier, &t2.token).await),
        Some(raw_of_token(&t2))
    );

    let mut dup = t.clone();
    dup.expires = t.expires + Duration::days(1);
    assert!(
        store.create_verification_token(&dup).await.is_err(),
        "the (identifier, token) pair is unique"
    );
    assert_eq!(
        raw(h.raw_verification_token(&t.identifier, &t.token).await),
        Some(raw_of_token(&t))
    );
}

/// `use_verification_token` returns the row once and deletes it; then `None` (Auth.js
/// check 13).
pub async fn use_verification_token_once<H: Harness>(h: &H) {
    let store = need!(
        h,
        verification_tokens,
        "use_verification_token_once",
        "VerificationTokenAdapter"
    );
    let (_, t) = verification_token(&email());
    let (_, sibling) = verification_token(&t.identifier);
    ok(
        "create_verification_token",
        store.create_verification_token(&t).await,
    );
    ok(
        "create_verification_token",
        store.create_verification_token(&sibling).await,
    );
    assert_eq!(
        ok(
            "use_verification_token",
            store.use_verification_token(&t.identifier, &t.token).await
        ),
        Some(t.clone())
    );
    assert_eq!(
        raw(h.raw_verification_token(&t.identifier, &t.token).await),
        None,
        "the row must be deleted"
    );
    assert_eq!(
        ok(
            "use_verification_token (again)",
            store.use_verification_token(&t.identifier, &t.token).await
        ),
        None
    );
    assert_eq!(
        raw(h
            .raw_verification_token(&sibling.identifier, &sibling.token)
            .await),
        Some(raw_of_token(&sibling)),
        "another token of the same identifier stays"
    );
}

/// A wrong identifier with the right token returns `None` and leaves the row usable.
pub async fn use_verification_token_wrong_identifier<H: Harness>(h: &H) {
    let store = need!(
        h,
        verification_tokens,
        "use_verification_token_wrong_identifier",
        "VerificationTokenAdapter"
    );
    let (_, t) = verification_token(&email());
    ok(
        "create_verification_token",
        store.create_verification_token(&t).await,
    );
    for wrong in [
        email(),
        t.identifier.to_uppercase(),
        "%".to_owned(),
        format!("{}_", &t.identifier[..t.identifier.len() - 1]),
    ] {
        assert_eq!(
            ok(
                "use_verification_token",
                store.use_verification_token(&wrong, &t.token).await
            ),
            None,
            "{wrong:?}"
        );
    }
    let stored = raw(h.raw_verification_token(&t.identifier, &t.token).await);
    let used = ok(
        "use_verification_token",
        store.use_verification_token(&t.identifier, &t.token).await,
    );
    if stored.is_none() && h.expires_rows_natively() {
        assert_eq!(used, None, "a row gone from the store cannot be used");
    } else {
        assert_eq!(stored, Some(raw_of_token(&t)));
        assert_eq!(used, Some(t.clone()));
    }
    assert_eq!(
        ok(
            "use_verification_token (again)",
            store.use_verification_token(&t.identifier, &t.token).await
        ),
        None
    );
}

/// The right identifier with a wrong token returns `None`; the real token still works, once.
pub async fn use_verification_token_wrong_token<H: Harness>(h: &H) {
    let store = need!(
        h,
        verification_tokens,
        "use_verification_token_wrong_token",
        "VerificationTokenAdapter"
    );
    let (raw_token, t) = verification_token(&email());
    ok(
        "create_verification_token",
        store.create_verification_token(&t).await,
    );
    for wrong in [
        TokenHash::of(&raw_token),
        TokenHash::of_with_secret(&raw_token, "another secret"),
        TokenHash::of_with_secret(&fixtures::unique("guess"), "anything"),
    ] {
        assert_eq!(
            ok(
                "use_verification_token",
                store.use_verification_token(&t.identifier, &wrong).await
            ),
            None
        );
    }
    let stored = raw(h.raw_verification_token(&t.identifier, &t.token).await);
    let used = ok(
        "use_verification_token",
        store.use_verification_token(&t.identifier, &t.token).await,
    );
    if stored.is_none() && h.expires_rows_natively() {
        assert_eq!(used, None, "a row gone from the store cannot be used");
    } else {
        assert_eq!(stored, Some(raw_of_token(&t)));
        assert_eq!(used, Some(t.clone()));
    }
    assert_eq!(
        ok(
            "use_verification_token (again)",
            store.use_verification_token(&t.identifier, &t.token).await
        ),
        None
    );
}

/// Of 20 concurrent uses of one token exactly one gets the row.
pub async fn use_verification_token_concurrent_single_use<H: Harness>(h: &H) {
    let store = need!(
        h,
        verification_tokens,
        "use_verification_token_concurrent_single_use",
        "VerificationTokenAdapter"
    );
    let (_, t) = verification_token(&email());
    ok(
        "create_verification_token",
        store.create_verification_token(&t).await,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store: Arc<dyn VerificationTokenAdapter> = store.clone();
        let (identifier, token) = (t.identifier.clone(), t.token.clone());
        tasks.spawn(async move { store.use_verification_token(&identifier, &token).await });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let r = joined.unwrap_or_else(|e| panic!("use task panicked: {e}"));
        if let Some(row) = ok("concurrent use_verification_token", r) {
            winners.push(row);
        }
    }
    assert_eq!(winners, vec![t.clone()], "exactly one call gets the row");
    assert_eq!(
        raw(h.raw_verification_token(&t.identifier, &t.token).await),
        None
    );
}

/// Expired rows are returned like any other (the caller checks `expires`), and still only
/// once; times keep their milliseconds.
pub async fn use_verification_token_returns_expired<H: Harness>(h: &H) {
    let store = need!(
        h,
        verification_tokens,
        "use_verification_token_returns_expired",
        "VerificationTokenAdapter"
    );
    let (_, mut t) = verification_token(&email());
    t.expires = now_ms() - Duration::milliseconds(86_400_001);
    ok(
        "create_verification_token",
        store.create_verification_token(&t).await,
    );
    let stored = raw(h.raw_verification_token(&t.identifier, &t.token).await);
    let used = ok(
        "use_verification_token",
        store.use_verification_token(&t.identifier, &t.token).await,
    );
    if stored.is_none() && h.expires_rows_natively() {
        assert_eq!(used, None, "a row gone from the store cannot be used");
    } else {
        assert_eq!(stored, Some(raw_of_token(&t)));
        assert_eq!(used, Some(t.clone()));
    }
    assert_eq!(
        ok(
            "use_verification_token (again)",
            store.use_verification_token(&t.identifier, &t.token).await
        ),
        None
    );
}

/// `delete_verification_tokens` deletes every token of the identifier and returns the count;
/// other identifiers keep theirs; a second call, or an unknown identifier, returns `0`.
pub async fn delete_verification_tokens_of_identifier<H: Harness>(h: &H) {
    let store = need!(
        h,
        verification_tokens,
        "delete_verification_tokens_of_identifier",
        "VerificationTokenAdapter"
    );
    let a = email();
    let b = email();
    let (_, a1) = verification_token(&a);
    let (_, a2) = verification_token(&a);
    let (_, b1) = verification_token(&b);
    for t in [&a1, &a2, &b1] {
        ok(
            "create_verification_token",
            store.create_verification_token(t).await,
        );
    }
    assert_eq!(
        ok(
            "delete_verification_tokens",
            store.delete_verification_tokens(&a).await
        ),
        2,
        "both tokens of the identifier are deleted and counted"
    );
    for t in [&a1, &a2] {
        assert_eq!(
            raw(h.raw_verification_token(&t.identifier, &t.token).await),
            None,
            "the row must be deleted"
        );
        assert_eq!(
            ok(
                "use_verification_token (deleted)",
                store.use_verification_token(&t.identifier, &t.token).await
            ),
            None
        );
    }
    assert_eq!(
        raw(h.raw_verification_token(&b1.identifier, &b1.token).await),
        Some(raw_of_token(&b1)),
        "another identifier's token stays"
    );
    assert_eq!(
        ok(
            "use_verification_token",
            store
                .use_verification_token(&b1.identifier, &b1.token)
                .await
        ),
        Some(b1.clone())
    );
    assert_eq!(
        ok(
            "use_verification_token (again)",
            store
                .use_verification_token(&b1.identifier, &b1.token)
                .await
        ),
        None
    );
    assert_eq!(
        ok(
            "delete_verification_tokens (again)",
            store.delete_verification_tokens(&a).await
        ),
        0
    );
    assert_eq!(
        ok(
            "delete_verification_tokens (unknown identifier)",
            store.delete_verification_tokens(&email()).await
        ),
        0
    );
}

/// `not_before` is `None` until set; `set_not_before` stores it and a later call replaces it.
pub async fn set_not_before_replaces<H: Harness>(h: &H) {
    let store = need!(
        h,
        revocations,
        "set_not_before_replaces",
        "RevocationAdapter"
    );
    let uid = revocable_user(h).await;
    let other = revocable_user(h).await;
    assert_eq!(ok("not_before", store.not_before(&uid).await), None);
    assert_eq!(raw(h.raw_not_before(&uid).await), None);

    let first = ms(1_700_000_000_123);
    ok("set_not_before", store.set_not_before(&uid, first).await);
    assert_eq!(raw(h.raw_not_before(&uid).await), Some(first));
    assert_eq!(ok("not_before", store.not_before(&uid).await), Some(first));

    let later = ms(1_800_000_000_456);
    ok(
        "set_not_before (replace)",
        store.set_not_before(&uid, later).await,
    );
    assert_eq!(raw(h.raw_not_before(&uid).await), Some(later));
    assert_eq!(ok("not_before", store.not_before(&uid).await), Some(later));

    assert_eq!(
        raw(h.raw_not_before(&other).await),
        None,
        "another user is untouched"
    );
    assert_eq!(ok("not_before", store.not_before(&other).await), None);
    if let Some(users) = h.users() {
        let stored = raw(h.raw_user(&uid).await).unwrap_or_else(|| panic!("the user row is gone"));
        let user = ok("user", users.user(&uid).await).unwrap_or_else(|| panic!("the user is gone"));
        assert_eq!(
            fixtures::raw_of_user(&user),
            stored,
            "setting not_before leaves the user as it was"
        );
    }
}

/// A revocation is never dropped silently: for a user the store does not know, either it is
/// stored (and read back) or the call fails with `NotFound` (and nothing is read back).
pub async fn set_not_before_unknown_user_is_never_silent<H: Harness>(h: &H) {
    let store = need!(
        h,
        revocations,
        "set_not_before_unknown_user_is_never_silent",
        "RevocationAdapter"
    );
    let ghost = fixtures::unique("ghost");
    let at = ms(1_700_000_000_789);
    match store.set_not_before(&ghost, at).await {
        Ok(()) => {
            assert_eq!(raw(h.raw_not_before(&ghost).await), Some(at));
            assert_eq!(ok("not_before", store.not_before(&ghost).await), Some(at));
        }
        Err(AdapterError::NotFound) => {
            assert_eq!(raw(h.raw_not_before(&ghost).await), None);
            assert_eq!(ok("not_before", store.not_before(&ghost).await), None);
        }
        Err(e) => panic!("expected Ok or NotFound, got {e:?}"),
    }
}

/// A user the revocation can be recorded for: created in the user store when there is one.
async fn revocable_user<H: Harness>(h: &H) -> String {
    let u = fixtures::user();
    if let Some(users) = h.users() {
        ok("create_user", users.create_user(&u).await);
    }
    u.id
}
