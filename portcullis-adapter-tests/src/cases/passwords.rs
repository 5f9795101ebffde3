//! [`PasswordAdapter`](portcullis::adapter::PasswordAdapter) cases.

use portcullis::adapter::AdapterError;

use super::users::need;
use crate::fixtures::{self, ok};
use crate::harness::{Harness, skip};

const PHC_A: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";
const PHC_B: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$cGVwcGVycGVwcGVy$YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI";

/// `set_password_hash` stores the PHC string exactly and replaces an earlier one; a user
/// without a password, and an unknown user, have `None`.
pub async fn password_hash_round_trips<H: Harness>(h: &H) {
    let users = need!(h, users, "password_hash_round_trips", "UserAdapter");
    let store = need!(h, passwords, "password_hash_round_trips", "PasswordAdapter");
    let u = ok("create_user", users.create_user(&fixtures::user()).await);
    assert_eq!(ok("password_hash", store.password_hash(&u.id).await), None);
    assert_eq!(
        ok(
            "password_hash",
            store.password_hash(&fixtures::unique("ghost")).await
        ),
        None
    );
    ok(
        "set_password_hash",
        store.set_password_hash(&u.id, PHC_A).await,
    );
    assert_eq!(
        ok("password_hash", store.password_hash(&u.id).await).as_deref(),
        Some(PHC_A)
    );
    ok(
        "set_password_hash",
        store.set_password_hash(&u.id, PHC_B).await,
    );
    assert_eq!(
        ok("password_hash", store.password_hash(&u.id).await).as_deref(),
        Some(PHC_B)
    );
}

/// A password for an unknown user is `NotFound`, and nothing is stored.
pub async fn set_password_hash_unknown_user_is_not_found<H: Harness>(h: &H) {
    let store = need!(
        h,
        passwords,
        "set_password_hash_unknown_user_is_not_found",
        "PasswordAdapter"
    );
    let ghost = fixtures::unique("ghost");
    match store.set_password_hash(&ghost, PHC_A).await {
        Err(AdapterError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(ok("password_hash", store.password_hash(&ghost).await), None);
}

/// The disabled flag: `false` by default and for unknown users, set and cleared exactly;
/// setting it for an unknown user is `NotFound`.
pub async fn disabled_flag_round_trips<H: Harness>(h: &H) {
    let users = need!(h, users, "disabled_flag_round_trips", "UserAdapter");
    let store = need!(h, passwords, "disabled_flag_round_trips", "PasswordAdapter");
    let u = ok("create_user", users.create_user(&fixtures::user()).await);
    let other = ok("create_user", users.create_user(&fixtures::user()).await);
    assert!(!ok("is_disabled", store.is_disabled(&u.id).await));
    ok("set_disabled", store.set_disabled(&u.id, true).await);
    assert!(ok("is_disabled", store.is_disabled(&u.id).await));
    assert!(!ok("is_disabled", store.is_disabled(&other.id).await));
    ok("set_disabled", store.set_disabled(&u.id, false).await);
    assert!(!ok("is_disabled", store.is_disabled(&u.id).await));
    let ghost = fixtures::unique("ghost");
    assert!(!ok("is_disabled", store.is_disabled(&ghost).await));
    match store.set_disabled(&ghost, true).await {
        Err(AdapterError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    // The user row is otherwise untouched.
    assert_eq!(ok("user", users.user(&u.id).await), Some(u));
}

/// `delete_user` takes the password with it: a new user with the same id has none.
pub async fn delete_user_removes_password<H: Harness>(h: &H) {
    let users = need!(h, users, "delete_user_removes_password", "UserAdapter");
    let store = need!(
        h,
        passwords,
        "delete_user_removes_password",
        "PasswordAdapter"
    );
    let u = ok("create_user", users.create_user(&fixtures::user()).await);
    ok(
        "set_password_hash",
        store.set_password_hash(&u.id, PHC_A).await,
    );
    ok("set_disabled", store.set_disabled(&u.id, true).await);
    ok("delete_user", users.delete_user(&u.id).await);
    assert_eq!(ok("password_hash", store.password_hash(&u.id).await), None);
    ok("create_user", users.create_user(&u).await);
    assert_eq!(ok("password_hash", store.password_hash(&u.id).await), None);
    assert!(!ok("is_disabled", store.is_disabled(&u.id).await));
}
