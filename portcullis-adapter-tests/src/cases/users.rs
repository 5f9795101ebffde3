//! [`UserAdapter`](portcullis::adapter::UserAdapter) cases.

use std::sync::Arc;

use portcullis::adapter::{AdapterError, UserAdapter, UserUpdate};
use serde_json::{Value, json};

use crate::fixtures::{self, account, ok, raw, raw_of_account, raw_of_user, user};
use crate::harness::{Harness, skip};

macro_rules! need {
    ($h:expr, $cap:ident, $case:literal, $name:literal) => {
        match $h.$cap() {
            Some(a) => a,
            None => return skip($case, $name),
        }
    };
}
pub(crate) use need;

/// `create_user` stores the user with the id it is given and returns it as stored (Auth.js
/// check 2: the DB row deep-equals the input).
pub async fn create_user_stores_every_field<H: Harness>(h: &H) {
    let users = need!(h, users, "create_user_stores_every_field", "UserAdapter");
    let u = user();
    let returned = ok("create_user", users.create_user(&u).await);
    assert_eq!(returned, u, "create_user must return the user as stored");
    assert_eq!(raw(h.raw_user(&u.id).await), Some(raw_of_user(&u)));

    let mut bare = user();
    bare.email = None;
    bare.email_verified = None;
    bare.name = None;
    bare.image = None;
    bare.fields.clear();
    ok(
        "create_user (no optional fields)",
        users.create_user(&bare).await,
    );
    assert_eq!(raw(h.raw_user(&bare.id).await), Some(raw_of_user(&bare)));
}

/// An email already used by another user is `Conflict`, on create and on update; nothing is
/// written.
pub async fn email_is_unique<H: Harness>(h: &H) {
    let users = need!(h, users, "email_is_unique", "UserAdapter");
    let a = user();
    ok("create_user", users.create_user(&a).await);
    let mut b = user();
    b.email.clone_from(&a.email);
    let err = users.create_user(&b).await;
    assert!(
        matches!(err, Err(AdapterError::Conflict(_))),
        "duplicate email must be Conflict, got {err:?}"
    );
    assert_eq!(
        raw(h.raw_user(&b.id).await),
        None,
        "the conflicting user must not be stored"
    );

    let c = user();
    ok("create_user", users.create_user(&c).await);
    let mut update = UserUpdate::default();
    update.email = Some(a.email.clone());
    let err = users.update_user(&c.id, &update).await;
    assert!(
        matches!(err, Err(AdapterError::Conflict(_))),
        "update to a taken email must be Conflict, got {err:?}"
    );
    assert_eq!(
        raw(h.raw_user(&c.id).await),
        Some(raw_of_user(&c)),
        "a failed update changes nothing"
    );

    // Several users without an email are fine.
    for _ in 0..2 {
        let mut none = user();
        none.email = None;
        ok("create_user without email", users.create_user(&none).await);
        assert_eq!(raw(h.raw_user(&none.id).await), Some(raw_of_user(&none)));
    }
}

/// Lookups return `None` for unknown keys (Auth.js checks 3 and 9).
pub async fn lookups_return_none_for_unknown<H: Harness>(h: &H) {
    let users = need!(h, users, "lookups_return_none_for_unknown", "UserAdapter");
    assert_eq!(
        ok("user", users.user(&fixtures::unique("nobody")).await),
        None
    );
    assert_eq!(
        ok(
            "user_by_email",
            users.user_by_email("nobody@example.com").await
        ),
        None
    );
    assert_eq!(
        ok(
            "user_by_account",
            users.user_by_account("github", "nobody").await
        ),
        None
    );
    assert_eq!(ok("accounts", users.accounts("nobody").await), Vec::new());
}

/// `user`, `user_by_email` and `user_by_account` return the stored user.
pub async fn lookups_return_the_user<H: Harness>(h: &H) {
    let users = need!(h, users, "lookups_return_the_user", "UserAdapter");
    let u = user();
    ok("create_user", users.create_user(&u).await);
    let acc = account(&u.id);
    ok("link_account", users.link_account(&acc).await);
    assert_eq!(
        raw(h.raw_account(&acc.provider, &acc.provider_account_id).await),
        Some(raw_of_account(&acc))
    );

    assert_eq!(ok("user", users.user(&u.id).await), Some(u.clone()));
    let email = u.email.clone().unwrap_or_default();
    assert_eq!(
        ok("user_by_email", users.user_by_email(&email).await),
        Some(u.clone())
    );
    assert_eq!(
        ok(
            "user_by_account",
            users
                .user_by_account(&acc.provider, &acc.provider_account_id)
                .await
        ),
        Some(u.clone())
    );
    // The pair must match as a pair: right provider account id under another provider.
    assert_eq!(
        ok(
            "user_by_account",
            users
                .user_by_account("google", &acc.provider_account_id)
                .await
        ),
        None
    );
}

/// Lookups are exact: no case folding, no pattern matching (INJ-03: `'`, `%`, `_`).
pub async fn lookups_are_exact<H: Harness>(h: &H) {
    let users = need!(h, users, "lookups_are_exact", "UserAdapter");
    let tag = fixtures::unique("x");
    let emails = [
        format!("o'brien.{tag}@example.com"),
        format!("a%b.{tag}@example.com"),
        format!("a_b.{tag}@example.com"),
        format!("axb.{tag}@example.com"),
    ];
    let mut stored = Vec::new();
    for e in &emails {
        let mut u = user();
        u.email = Some(e.clone());
        ok("create_user", users.create_user(&u).await);
        assert_eq!(raw(h.raw_user(&u.id).await), Some(raw_of_user(&u)));
        stored.push(u);
    }
    for u in &stored {
        let e = u.email.clone().unwrap_or_default();
        assert_eq!(
            ok("user_by_email", users.user_by_email(&e).await),
            Some(u.clone()),
            "exact match for {e}"
        );
    }
    for probe in [
        format!("a%.{tag}@example.com"),
        format!("a__.{tag}@example.com"),
        format!("a_b.{tag}@example.co_"),
        format!("%{tag}%"),
        "%".to_owned(),
        "_".to_owned(),
        format!("O'BRIEN.{tag}@EXAMPLE.COM"),
        format!("A_B.{tag}@example.com"),
        format!(" a_b.{tag}@example.com"),
        "' OR '1'='1".to_owned(),
    ] {
        assert_eq!(
            ok("user_by_email", users.user_by_email(&probe).await),
            None,
            "{probe:?} must match nothing"
        );
    }
    assert_eq!(ok("user", users.user("%").await), None);
    assert_eq!(
        ok("user", users.user(&stored[0].id.to_uppercase()).await),
        None
    );

    let mut acc = account(&stored[2].id);
    acc.provider_account_id = format!("a_b{tag}");
    ok("link_account", users.link_account(&acc).await);
    assert_eq!(
        ok(
            "user_by_account",
            users.user_by_account("github", &format!("a%{tag}")).await
        ),
        None
    );
    assert_eq!(
        ok(
            "user_by_account",
            users.user_by_account("github", &format!("axb{tag}")).await
        ),
        None
    );
    assert_eq!(
        ok(
            "user_by_account",
            users
                .user_by_account("GitHub", &acc.provider_account_id)
                .await
        ),
        None
    );
    assert_eq!(
        ok(
            "user_by_account",
            users
                .user_by_account("_ithub", &acc.provider_account_id)
                .await
        ),
        None
    );
}

/// Hostile ids and names are stored literally through bind parameters (INJ-02).
pub async fn hostile_values_are_stored_literally<H: Harness>(h: &H) {
    let users = need!(
        h,
        users,
        "hostile_values_are_stored_literally",
        "UserAdapter"
    );
    let bystander = user();
    ok("create_user", users.create_user(&bystander).await);

    let mut u = user();
    u.id = format!("1; DROP TABLE users;-- {}", fixtures::unique(""));
    u.name = Some("Robert'); DROP TABLE users;--".into());
    u.image = Some("\"; DELETE FROM sessions; --".into());
    u.email = Some(format!("{}'--@example.com", fixtures::unique("x")));
    ok("create_user", users.create_user(&u).await);
    assert_eq!(raw(h.raw_user(&u.id).await), Some(raw_of_user(&u)));

    let mut acc = account(&u.id);
    acc.provider = "github' OR '1'='1".into();
    acc.provider_account_id = "1' OR '1'='1' --".into();
    acc.access_token = Some("'); DROP TABLE accounts;--".into());
    ok("link_account", users.link_account(&acc).await);
    assert_eq!(
        raw(h.raw_account(&acc.provider, &acc.provider_account_id).await),
        Some(raw_of_account(&acc))
    );
    assert_eq!(
        ok(
            "user_by_account",
            users.user_by_account("github", "1").await
        ),
        None
    );
    assert_eq!(ok("user", users.user(&u.id).await), Some(u.clone()));

    // Nothing was dropped or deleted.
    assert_eq!(
        raw(h.raw_user(&bystander.id).await),
        Some(raw_of_user(&bystander))
    );

    // A large value is stored whole, not truncated.
    let mut big = user();
    big.name = Some("é".repeat(32 * 1024));
    ok("create_user (64 KiB name)", users.create_user(&big).await);
    assert_eq!(raw(h.raw_user(&big.id).await), Some(raw_of_user(&big)));

    // A NUL byte is either stored exactly or refused with an error; never cut short.
    let mut nul = user();
    nul.name = Some("before\0after".into());
    match users.create_user(&nul).await {
        Ok(_) => assert_eq!(raw(h.raw_user(&nul.id).await), Some(raw_of_user(&nul))),
        Err(e) => {
            assert!(
                matches!(e, AdapterError::Other(_)),
                "a refused NUL is Other, got {e:?}"
            );
            assert_eq!(
                raw(h.raw_user(&nul.id).await),
                None,
                "a refused user must not be stored"
            );
        }
    }
}

/// `update_user` applies the `Some` fields and returns the updated user (Auth.js check 6).
pub async fn update_user_applies_some_fields<H: Harness>(h: &H) {
    let users = need!(h, users, "update_user_applies_some_fields", "UserAdapter");
    let u = user();
    ok("create_user", users.create_user(&u).await);

    let mut update = UserUpdate::default();
    update.name = Some(Some("Bill Murray".into()));
    let updated = ok("update_user", users.update_user(&u.id, &update).await);
    let mut expected = u.clone();
    expected.name = Some("Bill Murray".into());
    assert_eq!(updated, expected);
    assert_eq!(raw(h.raw_user(&u.id).await), Some(raw_of_user(&expected)));

    let mut update = UserUpdate::default();
    update.email_verified = Some(None);
    update.image = Some(None);
    update.email = Some(Some(format!("bill+{}@murray.com", fixtures::unique("x"))));
    update.fields = Some(
        json!({"role": "user"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let updated = ok("update_user", users.update_user(&u.id, &update).await);
    expected.email_verified = None;
    expected.image = None;
    expected.email = update.email.clone().flatten();
    expected.fields = update.fields.clone().unwrap_or_default();
    assert_eq!(updated, expected);
    assert_eq!(raw(h.raw_user(&u.id).await), Some(raw_of_user(&expected)));

    let mut update = UserUpdate::default();
    update.email_verified = Some(Some(fixtures::ms(1_700_000_000_123)));
    let updated = ok("update_user", users.update_user(&u.id, &update).await);
    expected.email_verified = Some(fixtures::ms(1_700_000_000_123));
    assert_eq!(updated, expected);
    assert_eq!(raw(h.raw_user(&u.id).await), Some(raw_of_user(&expected)));

    // An empty update changes nothing and returns the user.
    let same = ok(
        "update_user (empty)",
        users.update_user(&u.id, &UserUpdate::default()).await,
    );
    assert_eq!(same, expected);
}

/// `update_user` of an unknown id is `NotFound` and creates nothing.
pub async fn update_unknown_user_is_not_found<H: Harness>(h: &H) {
    let users = need!(h, users, "update_unknown_user_is_not_found", "UserAdapter");
    let id = fixtures::unique("ghost");
    let mut update = UserUpdate::default();
    update.name = Some(Some("Ghost".into()));
    let r = users.update_user(&id, &update).await;
    assert!(
        matches!(r, Err(AdapterError::NotFound)),
        "expected NotFound, got {r:?}"
    );
    assert_eq!(raw(h.raw_user(&id).await), None);
}

/// The application's fields come back exactly: nested JSON, unicode, numbers, the seed's
/// `role`.
pub async fn custom_fields_round_trip<H: Harness>(h: &H) {
    let users = need!(h, users, "custom_fields_round_trip", "UserAdapter");
    let mut u = user();
    let fields = json!({
        "role": "admin",
        "phone": "+33 6 12 34 56 78",
        "nested": {"a": [1, 2, {"b": null}], "empty": {}, "list": []},
        "unicode": "Zoë – 日本語 – مرحبا – 👩‍💻 – e\u{301}",
        "quote": "it's \"quoted\" \\ back\\slash",
        "numbers": {"int": 9_007_199_254_740_993_i64, "neg": -42, "big": u64::MAX, "float": 0.1, "exp": 1.5e300},
        "flags": [true, false],
        "emoji key 🔑": "value",
    });
    u.fields = fields.as_object().cloned().unwrap_or_default();
    ok("create_user", users.create_user(&u).await);
    let stored = raw(h.raw_user(&u.id).await).map(|r| r.fields);
    assert_eq!(
        stored,
        Some(fields.clone()),
        "raw fields must equal the input"
    );
    let back = ok("user", users.user(&u.id).await).map(|u| Value::Object(u.fields));
    assert_eq!(back, Some(fields));
}

/// `delete_user` removes the user and cascades to its accounts and sessions (Auth.js check
/// 16); deleting an unknown id is not an error.
pub async fn delete_user_cascades<H: Harness>(h: &H) {
    let users = need!(h, users, "delete_user_cascades", "UserAdapter");
    let u = user();
    let other = user();
    ok("create_user", users.create_user(&u).await);
    ok("create_user", users.create_user(&other).await);
    let accs = [account(&u.id), account(&u.id)];
    for a in &accs {
        ok("link_account", users.link_account(a).await);
    }
    let other_acc = account(&other.id);
    ok("link_account", users.link_account(&other_acc).await);
    let mut sessions = Vec::new();
    if let Some(store) = h.sessions() {
        for owner in [&u.id, &u.id, &other.id] {
            let s = fixtures::session(owner);
            ok("create_session", store.create_session(&s).await);
            sessions.push(s);
        }
        assert_eq!(raw(h.count_user_sessions(&u.id).await), 2);
    }
    assert_eq!(raw(h.count_user_accounts(&u.id).await), 2);

    ok("delete_user", users.delete_user(&u.id).await);
    assert_eq!(
        raw(h.raw_user(&u.id).await),
        None,
        "the user row must be gone"
    );
    assert_eq!(
        raw(h.count_user_accounts(&u.id).await),
        0,
        "its accounts must be gone"
    );
    for a in &accs {
        assert_eq!(
            raw(h.raw_account(&a.provider, &a.provider_account_id).await),
            None
        );
    }
    if h.sessions().is_some() {
        assert_eq!(
            raw(h.count_user_sessions(&u.id).await),
            0,
            "its sessions must be gone"
        );
        assert_eq!(raw(h.raw_session(&sessions[0].key).await), None);
        assert_eq!(
            raw(h.raw_session(&sessions[2].key).await),
            Some(fixtures::raw_of_session(&sessions[2])),
            "another user's session stays"
        );
    }
    assert_eq!(
        raw(h.raw_user(&other.id).await),
        Some(raw_of_user(&other)),
        "another user stays"
    );
    assert_eq!(
        raw(h
            .raw_account(&other_acc.provider, &other_acc.provider_account_id)
            .await),
        Some(raw_of_account(&other_acc))
    );
    assert_eq!(
        ok(
            "user_by_account",
            users
                .user_by_account(&accs[0].provider, &accs[0].provider_account_id)
                .await
        ),
        None
    );

    ok("delete_user (again)", users.delete_user(&u.id).await);
    ok(
        "delete_user (unknown)",
        users.delete_user(&fixtures::unique("ghost")).await,
    );
}

/// `link_account` stores every field (Auth.js check 8), `accounts` lists them.
pub async fn link_account_stores_every_field<H: Harness>(h: &H) {
    let users = need!(h, users, "link_account_stores_every_field", "UserAdapter");
    let u = user();
    ok("create_user", users.create_user(&u).await);
    let full = account(&u.id);
    ok("link_account", users.link_account(&full).await);
    assert_eq!(
        raw(h
            .raw_account(&full.provider, &full.provider_account_id)
            .await),
        Some(raw_of_account(&full))
    );

    let mut bare = account(&u.id);
    bare.kind = portcullis::AccountType::Oidc;
    bare.provider = "google".into();
    bare.refresh_token = None;
    bare.access_token = None;
    bare.expires_at = None;
    bare.token_type = None;
    bare.scope = None;
    bare.id_token = None;
    bare.session_state = None;
    ok("link_account", users.link_account(&bare).await);
    assert_eq!(
        raw(h
            .raw_account(&bare.provider, &bare.provider_account_id)
            .await),
        Some(raw_of_account(&bare))
    );

    for kind in [
        portcullis::AccountType::Email,
        portcullis::AccountType::WebAuthn,
        portcullis::AccountType::Credentials,
    ] {
        let mut a = account(&u.id);
        a.kind = kind;
        a.provider = fixtures::unique("p");
        a.expires_at = Some(-1);
        ok("link_account", users.link_account(&a).await);
        assert_eq!(
            raw(h.raw_account(&a.provider, &a.provider_account_id).await),
            Some(raw_of_account(&a))
        );
    }
    assert_eq!(raw(h.count_user_accounts(&u.id).await), 5);

    let mut listed = ok("accounts", users.accounts(&u.id).await);
    listed.sort_by(|a, b| a.provider.cmp(&b.provider));
    assert_eq!(listed.len(), 5);
    assert!(
        listed.contains(&full) && listed.contains(&bare),
        "accounts() must return the stored accounts"
    );
}

/// A pair that is already linked is `Conflict`, and the first link stays.
pub async fn link_account_twice_is_conflict<H: Harness>(h: &H) {
    let users = need!(h, users, "link_account_twice_is_conflict", "UserAdapter");
    let a = user();
    let b = user();
    ok("create_user", users.create_user(&a).await);
    ok("create_user", users.create_user(&b).await);
    let acc = account(&a.id);
    ok("link_account", users.link_account(&acc).await);
    for owner in [&a.id, &b.id] {
        let mut again = acc.clone();
        again.user_id.clone_from(owner);
        again.access_token = Some("other".into());
        let r = users.link_account(&again).await;
        assert!(
            matches!(r, Err(AdapterError::Conflict(_))),
            "relinking must be Conflict, got {r:?}"
        );
    }
    assert_eq!(
        raw(h.raw_account(&acc.provider, &acc.provider_account_id).await),
        Some(raw_of_account(&acc))
    );
    assert_eq!(raw(h.count_user_accounts(&b.id).await), 0);
}

/// Concurrent `link_account` of one pair for two users: exactly one row, every other call
/// `Conflict` (RACE-04).
pub async fn link_account_concurrent_is_single<H: Harness>(h: &H) {
    let users = need!(h, users, "link_account_concurrent_is_single", "UserAdapter");
    let a = user();
    let b = user();
    ok("create_user", users.create_user(&a).await);
    ok("create_user", users.create_user(&b).await);
    let pid = fixtures::unique("race");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let users: Arc<dyn UserAdapter> = users.clone();
        let mut acc = account(if i % 2 == 0 { &a.id } else { &b.id });
        acc.provider_account_id.clone_from(&pid);
        tasks.spawn(async move { (acc.user_id.clone(), users.link_account(&acc).await) });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (owner, r) = joined.unwrap_or_else(|e| panic!("link task panicked: {e}"));
        match r {
            Ok(()) => winners.push(owner),
            Err(AdapterError::Conflict(_)) => {}
            Err(e) => panic!("a losing link must be Conflict, got {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one link may succeed");
    let row = raw(h.raw_account("github", &pid).await)
        .unwrap_or_else(|| panic!("the account row is missing"));
    assert_eq!(row.user_id, winners[0], "the row belongs to the winner");
    let total = raw(h.count_user_accounts(&a.id).await) + raw(h.count_user_accounts(&b.id).await);
    assert_eq!(total, 1, "exactly one row");
}

/// `unlink_account` removes the account; unknown pairs are not an error (Auth.js check 15).
pub async fn unlink_account_removes_it<H: Harness>(h: &H) {
    let users = need!(h, users, "unlink_account_removes_it", "UserAdapter");
    let u = user();
    ok("create_user", users.create_user(&u).await);
    let acc = account(&u.id);
    let keep = account(&u.id);
    ok("link_account", users.link_account(&acc).await);
    ok("link_account", users.link_account(&keep).await);
    ok(
        "unlink_account",
        users
            .unlink_account(&acc.provider, &acc.provider_account_id)
            .await,
    );
    assert_eq!(
        raw(h.raw_account(&acc.provider, &acc.provider_account_id).await),
        None
    );
    assert_eq!(
        raw(h
            .raw_account(&keep.provider, &keep.provider_account_id)
            .await),
        Some(raw_of_account(&keep))
    );
    assert_eq!(
        raw(h.raw_user(&u.id).await),
        Some(raw_of_user(&u)),
        "unlinking keeps the user"
    );
    assert_eq!(
        ok(
            "user_by_account",
            users
                .user_by_account(&acc.provider, &acc.provider_account_id)
                .await
        ),
        None
    );
    ok(
        "unlink_account (again)",
        users
            .unlink_account(&acc.provider, &acc.provider_account_id)
            .await,
    );
    ok(
        "unlink_account (unknown)",
        users.unlink_account("nope", "nope").await,
    );
    // Exact match: a pattern does not unlink anything.
    ok(
        "unlink_account (pattern)",
        users.unlink_account("github", "%").await,
    );
    assert_eq!(raw(h.count_user_accounts(&u.id).await), 1);
}

/// `create_user_with_account` stores both; the account belongs to the new user.
pub async fn create_user_with_account_stores_both<H: Harness>(h: &H) {
    let users = need!(
        h,
        users,
        "create_user_with_account_stores_both",
        "UserAdapter"
    );
    let u = user();
    let acc = account(&u.id);
    let returned = ok(
        "create_user_with_account",
        users.create_user_with_account(&u, &acc).await,
    );
    assert_eq!(returned, u);
    assert_eq!(raw(h.raw_user(&u.id).await), Some(raw_of_user(&u)));
    assert_eq!(
        raw(h.raw_account(&acc.provider, &acc.provider_account_id).await),
        Some(raw_of_account(&acc))
    );
    assert_eq!(
        ok(
            "user_by_account",
            users
                .user_by_account(&acc.provider, &acc.provider_account_id)
                .await
        ),
        Some(u)
    );
}

/// `create_user_with_account` is atomic: after any failure neither the user nor the account
/// exists (FLT-02, RACE-04).
pub async fn create_user_with_account_is_atomic<H: Harness>(h: &H) {
    let users = need!(
        h,
        users,
        "create_user_with_account_is_atomic",
        "UserAdapter"
    );
    let owner = user();
    ok("create_user", users.create_user(&owner).await);
    let linked = account(&owner.id);
    ok("link_account", users.link_account(&linked).await);

    // The account insert fails (the pair is already linked): no user row is left behind.
    let newcomer = user();
    let mut acc = linked.clone();
    acc.user_id.clone_from(&newcomer.id);
    let r = users.create_user_with_account(&newcomer, &acc).await;
    assert!(
        matches!(r, Err(AdapterError::Conflict(_))),
        "expected Conflict, got {r:?}"
    );
    assert_eq!(raw(h.raw_user(&newcomer.id).await), None, "no orphan user");
    let email = newcomer.email.clone().unwrap_or_default();
    assert_eq!(ok("user_by_email", users.user_by_email(&email).await), None);
    assert_eq!(
        raw(h
            .raw_account(&linked.provider, &linked.provider_account_id)
            .await),
        Some(raw_of_account(&linked))
    );

    // The user insert fails (email taken): no account row is left behind.
    let mut dup = user();
    dup.email.clone_from(&owner.email);
    let acc = account(&dup.id);
    let r = users.create_user_with_account(&dup, &acc).await;
    assert!(
        matches!(r, Err(AdapterError::Conflict(_))),
        "expected Conflict, got {r:?}"
    );
    assert_eq!(raw(h.raw_user(&dup.id).await), None);
    assert_eq!(
        raw(h.raw_account(&acc.provider, &acc.provider_account_id).await),
        None,
        "no orphan account"
    );

    // After the failures the same user can still be created (the retry of a sign-in).
    let acc = account(&newcomer.id);
    ok(
        "create_user_with_account (retry)",
        users.create_user_with_account(&newcomer, &acc).await,
    );
    assert_eq!(
        raw(h.raw_user(&newcomer.id).await),
        Some(raw_of_user(&newcomer))
    );
    assert_eq!(raw(h.count_user_accounts(&newcomer.id).await), 1);
}
