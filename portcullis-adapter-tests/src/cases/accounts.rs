//! The token fields of linked accounts ([`UserAdapter`](portcullis::adapter::UserAdapter)):
//! `update_account`, which stores rotated OAuth tokens with database sessions, and
//! `accounts`, which must hand the stored tokens back exactly.

use portcullis::AccountType;
use portcullis::adapter::{AdapterAccount, AdapterError};

use super::users::need;
use crate::fixtures::{self, account, ok, raw, raw_of_account, user};
use crate::harness::{Harness, RawAccount, skip};

/// `account` with every token field replaced, as after a refresh-token grant: the pair, the
/// owner and the kind are those of `account`.
fn rotated(account: &AdapterAccount) -> AdapterAccount {
    AdapterAccount {
        refresh_token: Some(fixtures::unique("refresh-rotated")),
        access_token: Some(fixtures::unique("access-rotated")),
        // 2100-01-01: past `i32::MAX`, so a 32-bit column would show.
        expires_at: Some(4_102_444_800),
        token_type: Some("DPoP".into()),
        scope: Some("openid email profile".into()),
        id_token: Some(fixtures::unique("idtoken-rotated")),
        session_state: Some(fixtures::unique("state-rotated")),
        ..account.clone()
    }
}

/// The seven token fields of a raw row, `expires_at` as text, in a fixed order.
fn token_fields(a: &RawAccount) -> [(&'static str, Option<String>); 7] {
    [
        ("access_token", a.access_token.clone()),
        ("refresh_token", a.refresh_token.clone()),
        ("expires_at", a.expires_at.map(|v| v.to_string())),
        ("token_type", a.token_type.clone()),
        ("scope", a.scope.clone()),
        ("id_token", a.id_token.clone()),
        ("session_state", a.session_state.clone()),
    ]
}

/// The same account with every token field `None`.
fn without_tokens(account: &AdapterAccount) -> AdapterAccount {
    AdapterAccount {
        refresh_token: None,
        access_token: None,
        expires_at: None,
        token_type: None,
        scope: None,
        id_token: None,
        session_state: None,
        ..account.clone()
    }
}

/// Sorted by (provider, provider_account_id): the contract promises no order for `accounts`.
fn sorted(mut accounts: Vec<AdapterAccount>) -> Vec<AdapterAccount> {
    accounts.sort_by(|a, b| {
        (&a.provider, &a.provider_account_id).cmp(&(&b.provider, &b.provider_account_id))
    });
    accounts
}

/// `update_account` replaces every token field with the given value; `user_id` and `kind`
/// stay as linked even when the argument carries others; repeating it is not an error.
pub async fn update_account_replaces_token_fields<H: Harness>(h: &H) {
    let users = need!(
        h,
        users,
        "update_account_replaces_token_fields",
        "UserAdapter"
    );
    let owner = user();
    let stranger = user();
    ok("create_user", users.create_user(&owner).await);
    ok("create_user", users.create_user(&stranger).await);
    let linked = account(&owner.id);
    ok("link_account", users.link_account(&linked).await);

    let expected = rotated(&linked);
    let before = raw_of_account(&linked);
    let after = raw_of_account(&expected);
    for ((field, old), (_, new)) in token_fields(&before)
        .iter()
        .zip(token_fields(&after).iter())
    {
        assert!(
            new.is_some() && old != new,
            "fixture: {field} must change to a value"
        );
    }

    // The argument names another (existing) user and another kind: both are ignored.
    let mut update = expected.clone();
    update.user_id.clone_from(&stranger.id);
    update.kind = AccountType::Oidc;
    ok("update_account", users.update_account(&update).await);
    assert_eq!(
        raw(h
            .raw_account(&linked.provider, &linked.provider_account_id)
            .await),
        Some(after.clone()),
        "the row holds the new tokens, with its user_id and type unchanged"
    );
    assert_eq!(raw(h.count_user_accounts(&owner.id).await), 1);
    assert_eq!(
        raw(h.count_user_accounts(&stranger.id).await),
        0,
        "update_account never moves an account to another user"
    );
    assert_eq!(
        ok("accounts", users.accounts(&owner.id).await),
        vec![expected.clone()],
        "accounts() returns the updated tokens"
    );
    assert_eq!(
        ok(
            "user_by_account",
            users
                .user_by_account(&linked.provider, &linked.provider_account_id)
                .await
        ),
        Some(owner.clone())
    );

    // The same values again: the row exists, so this is not `NotFound` (even for a driver
    // that counts only rows whose values changed).
    ok(
        "update_account (same values)",
        users.update_account(&expected).await,
    );
    assert_eq!(
        raw(h
            .raw_account(&linked.provider, &linked.provider_account_id)
            .await),
        Some(after)
    );
}

/// A `None` in `update_account` clears that field (the others take their given values), and
/// a cleared field can be set again.
pub async fn update_account_none_clears_field<H: Harness>(h: &H) {
    let users = need!(h, users, "update_account_none_clears_field", "UserAdapter");
    let u = user();
    ok("create_user", users.create_user(&u).await);
    let linked = account(&u.id);
    ok("link_account", users.link_account(&linked).await);
    let pair = (
        linked.provider.as_str(),
        linked.provider_account_id.as_str(),
    );

    // A refresh response without a new refresh token or ID token, with a new access token.
    let mut partial = linked.clone();
    partial.refresh_token = None;
    partial.id_token = None;
    partial.access_token = Some(fixtures::unique("access-rotated"));
    ok("update_account", users.update_account(&partial).await);
    let stored = raw(h.raw_account(pair.0, pair.1).await);
    assert_eq!(stored, Some(raw_of_account(&partial)));
    assert!(
        stored.is_some_and(|r| r.refresh_token.is_none() && r.id_token.is_none()),
        "None must clear refresh_token and id_token, not keep the old values"
    );

    // Every field cleared.
    let cleared = without_tokens(&linked);
    ok(
        "update_account (all None)",
        users.update_account(&cleared).await,
    );
    assert_eq!(
        raw(h.raw_account(pair.0, pair.1).await),
        Some(raw_of_account(&cleared))
    );
    assert_eq!(
        ok("accounts", users.accounts(&u.id).await),
        vec![cleared.clone()]
    );

    // And set again from nothing.
    let refilled = rotated(&linked);
    ok(
        "update_account (refill)",
        users.update_account(&refilled).await,
    );
    assert_eq!(
        raw(h.raw_account(pair.0, pair.1).await),
        Some(raw_of_account(&refilled))
    );
}

/// `update_account` of a pair that is not linked is `NotFound` and creates nothing: the
/// pair matches as a pair, exactly (no upsert, no pattern matching).
pub async fn update_unknown_account_is_not_found<H: Harness>(h: &H) {
    let users = need!(
        h,
        users,
        "update_unknown_account_is_not_found",
        "UserAdapter"
    );
    let u = user();
    ok("create_user", users.create_user(&u).await);
    let linked = account(&u.id);
    ok("link_account", users.link_account(&linked).await);

    let unlinked = rotated(&account(&u.id));
    let mut other_provider = rotated(&linked);
    other_provider.provider = "google".into();
    let mut other_case = rotated(&linked);
    other_case.provider_account_id = linked.provider_account_id.to_uppercase();
    let mut pattern = rotated(&linked);
    pattern.provider_account_id = "%".into();
    let mut ghost_owner = rotated(&account(&fixtures::unique("ghost")));
    ghost_owner.provider = fixtures::unique("p");

    for probe in [unlinked, other_provider, other_case, pattern, ghost_owner] {
        let r = users.update_account(&probe).await;
        assert!(
            matches!(r, Err(AdapterError::NotFound)),
            "update_account of {}/{} must be NotFound, got {r:?}",
            probe.provider,
            probe.provider_account_id
        );
        assert_eq!(
            raw(h
                .raw_account(&probe.provider, &probe.provider_account_id)
                .await),
            None,
            "no row may be created for {}/{}",
            probe.provider,
            probe.provider_account_id
        );
    }
    assert_eq!(
        raw(h.count_user_accounts(&u.id).await),
        1,
        "nothing created"
    );
    assert_eq!(
        raw(h
            .raw_account(&linked.provider, &linked.provider_account_id)
            .await),
        Some(raw_of_account(&linked)),
        "the linked account is unchanged"
    );
}

/// `update_account` changes one row: the user's other accounts — same provider, or same
/// provider account id under another provider — and other users' accounts stay as they were.
pub async fn update_account_leaves_other_accounts<H: Harness>(h: &H) {
    let users = need!(
        h,
        users,
        "update_account_leaves_other_accounts",
        "UserAdapter"
    );
    let u = user();
    let other = user();
    ok("create_user", users.create_user(&u).await);
    ok("create_user", users.create_user(&other).await);
    let target = account(&u.id);
    let same_provider = account(&u.id);
    let mut same_id = account(&u.id);
    same_id.kind = AccountType::Oidc;
    same_id.provider = "google".into();
    same_id
        .provider_account_id
        .clone_from(&target.provider_account_id);
    let others = account(&other.id);
    for a in [&target, &same_provider, &same_id, &others] {
        ok("link_account", users.link_account(a).await);
    }

    let updated = rotated(&target);
    ok("update_account", users.update_account(&updated).await);
    assert_eq!(
        raw(h
            .raw_account(&target.provider, &target.provider_account_id)
            .await),
        Some(raw_of_account(&updated))
    );
    for (what, a) in [
        ("same provider", &same_provider),
        ("same provider account id", &same_id),
        ("another user's", &others),
    ] {
        assert_eq!(
            raw(h.raw_account(&a.provider, &a.provider_account_id).await),
            Some(raw_of_account(a)),
            "the {what} account must be untouched"
        );
    }
    assert_eq!(
        sorted(ok("accounts", users.accounts(&u.id).await)),
        sorted(vec![updated, same_provider, same_id]),
    );
    assert_eq!(
        ok("accounts", users.accounts(&other.id).await),
        vec![others]
    );
}

/// `accounts` returns exactly the user's accounts, each token field exactly as stored: `None`
/// stays `None`, an empty string stays empty, large values are whole, 64-bit expiries intact.
pub async fn accounts_return_stored_token_fields<H: Harness>(h: &H) {
    let users = need!(
        h,
        users,
        "accounts_return_stored_token_fields",
        "UserAdapter"
    );
    let u = user();
    let other = user();
    ok("create_user", users.create_user(&u).await);
    ok("create_user", users.create_user(&other).await);

    let full = account(&u.id);
    let mut bare = without_tokens(&account(&u.id));
    bare.kind = AccountType::Oidc;
    bare.provider = "google".into();
    let mut odd = account(&u.id);
    odd.provider = fixtures::unique("p");
    odd.scope = Some(String::new());
    odd.token_type = Some("Bearer".into());
    odd.access_token = Some("it's \"quoted\" \\ – Zoë 日本語 👩‍💻".into());
    odd.id_token = Some(format!("eyJ{}", "a".repeat(16 * 1024)));
    odd.expires_at = Some(i64::MAX);
    odd.session_state = Some(String::new());
    let elsewhere = account(&other.id);
    let mine = [full, bare, odd];
    for a in mine.iter().chain([&elsewhere]) {
        ok("link_account", users.link_account(a).await);
        assert_eq!(
            raw(h.raw_account(&a.provider, &a.provider_account_id).await),
            Some(raw_of_account(a)),
            "stored as given"
        );
    }

    assert_eq!(
        sorted(ok("accounts", users.accounts(&u.id).await)),
        sorted(mine.to_vec()),
        "accounts() returns every field exactly, and only this user's accounts"
    );
    assert_eq!(
        ok("accounts", users.accounts(&other.id).await),
        vec![elsewhere]
    );
}
