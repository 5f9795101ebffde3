//! The cases: each a plain `async fn name<H: Harness>(h: &H)` that writes through the
//! adapter and checks the result with the harness's raw readers. The test macros call them;
//! they can also be called directly (for example from a custom `#[tokio::test]`).

mod accounts;
mod audit;
mod passwords;
mod sessions;
mod tokens;
mod users;

pub use accounts::{
    accounts_return_stored_token_fields, update_account_leaves_other_accounts,
    update_account_none_clears_field, update_account_replaces_token_fields,
    update_unknown_account_is_not_found,
};
pub use audit::*;
pub use passwords::*;
pub use sessions::*;
pub use tokens::*;
pub use users::{
    create_user_stores_every_field, create_user_with_account_is_atomic,
    create_user_with_account_stores_both, custom_fields_round_trip, delete_user_cascades,
    email_is_unique, hostile_values_are_stored_literally, link_account_concurrent_is_single,
    link_account_stores_every_field, link_account_twice_is_conflict, lookups_are_exact,
    lookups_return_none_for_unknown, lookups_return_the_user, unlink_account_removes_it,
    update_unknown_user_is_not_found, update_user_applies_some_fields,
};
