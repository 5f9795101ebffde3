//! The conformance suite every portcullis adapter runs.
//!
//! Modelled on Auth.js's shared adapter suite (`packages/utils/adapter.ts`, `runBasicTests`:
//! PROTOCOL.md §8.3) and tower-sessions' `route_tests!`: each case is a plain
//! `async fn case<H: Harness>(h: &H)` in [`cases`]; a backend supplies a [`Harness`] — its
//! adapters **and** independent raw readers — and one macro call expands to one
//! `#[tokio::test]` per case, so a failure names both the backend (the module you call the
//! macro in) and the case.
//!
//! Every write is checked by reading the backend directly ([`Harness::raw_user`] and
//! friends), not through the adapter's own getters: an encoding bug cannot hide behind the
//! matching decoding bug.
//!
//! # Running it
//! ```ignore
//! // tests/my_backend.rs (needs `tokio` with `macros` and `rt-multi-thread` as a dev-dependency)
//! async fn make() -> Option<MyHarness> {
//!     // `None` when the backend cannot be reached here: print why; the tests pass with that
//!     // notice. Panic instead when the environment says the service must be there.
//!     Some(MyHarness::new().await)
//! }
//! mod my_backend {
//!     portcullis_adapter_tests::all_adapter_tests!(super::make);
//! }
//! ```
//! The macros: [`user_adapter_tests!`], [`session_adapter_tests!`],
//! [`verification_token_adapter_tests!`], [`revocation_adapter_tests!`] (one capability each),
//! [`all_adapter_tests!`] (all four), and [`adapter_tests!`] (a list of your choosing). A case
//! whose capability the harness does not supply prints a notice and passes, so a store with
//! sessions but no users (Redis) can call `all_adapter_tests!` or just the macros it needs.
//!
//! # Write your own adapter
//! 1. Implement the capability traits of `portcullis::adapter` your store can hold.
//! 2. Implement [`Harness`]: return each adapter from its capability method (`users()`,
//!    `sessions()`, …), and implement the raw readers of those capabilities with your store's
//!    own client, in plain queries: `raw_user`, `raw_account`, `count_user_accounts` (users);
//!    `raw_session`, `count_user_sessions` (sessions); `raw_verification_token`;
//!    `raw_not_before`. Convert times to `OffsetDateTime` and JSON to `serde_json::Value`
//!    yourself, without the adapter's code. Give every test a fresh store (a temp file, a new
//!    database, a key prefix) and clean it up in [`Harness::teardown`], which runs even when
//!    the case fails.
//! 3. Return `true` from [`Harness::session_and_user_joins`] if your `session_and_user`
//!    returns the user (SQL stores should: one round trip), and from
//!    [`Harness::expires_rows_natively`] if your store drops rows by itself at `expires`
//!    (Redis TTLs): the four cases that store already-expired rows then accept them gone.
//! 4. Call the macros from a test file, as above.
//!
//! What each contract sentence means, and the case that checks it:
//!
//! | contract (`portcullis::adapter`) | what it means in practice | case(s) |
//! |---|---|---|
//! | `create_user` stores the user with the id it is given and returns it as stored | every field, including `fields`, lands in the row; no new id | [`create_user_stores_every_field`](cases::create_user_stores_every_field), [`custom_fields_round_trip`](cases::custom_fields_round_trip) |
//! | an email already used by another user is `Conflict` | a unique index on email (several users may have none); also on `update_user` | [`email_is_unique`](cases::email_is_unique) |
//! | lookups return `None` for unknown keys; exact (no case folding, no pattern matching) | `=` with bind parameters, never `LIKE`/`ILIKE`/`lower()`; `%`, `_`, `'` are ordinary characters (INJ-02, INJ-03) | [`lookups_return_none_for_unknown`](cases::lookups_return_none_for_unknown), [`lookups_return_the_user`](cases::lookups_return_the_user), [`lookups_are_exact`](cases::lookups_are_exact), [`hostile_values_are_stored_literally`](cases::hostile_values_are_stored_literally) |
//! | `update_user` applies the `Some` fields; `NotFound` for an unknown id | `Some(None)` clears a column, `None` leaves it; `fields` replaces the whole object; no upsert | [`update_user_applies_some_fields`](cases::update_user_applies_some_fields), [`update_unknown_user_is_not_found`](cases::update_unknown_user_is_not_found) |
//! | `delete_user` removes the user and its accounts and sessions; unknown id is fine | a cascade (foreign keys `ON DELETE CASCADE`), idempotent | [`delete_user_cascades`](cases::delete_user_cascades) |
//! | `link_account` stores every field; a linked pair is `Conflict`, even concurrently | (provider, provider_account_id) is a primary key, not a check-then-insert | [`link_account_stores_every_field`](cases::link_account_stores_every_field), [`link_account_twice_is_conflict`](cases::link_account_twice_is_conflict), [`link_account_concurrent_is_single`](cases::link_account_concurrent_is_single) |
//! | `create_user_with_account` is atomic | one transaction: a failed account insert leaves no user, a failed user insert no account | [`create_user_with_account_stores_both`](cases::create_user_with_account_stores_both), [`create_user_with_account_is_atomic`](cases::create_user_with_account_is_atomic) |
//! | `unlink_account` removes the account; unknown pairs are fine | exact pair, idempotent, the user stays | [`unlink_account_removes_it`](cases::unlink_account_removes_it) |
//! | `update_account` replaces the token fields with the given values (`None` clears); `user_id` and `kind` unchanged; unknown pair is `NotFound` | one `UPDATE … WHERE provider = ? AND provider_account_id = ?` of the seven token columns, never `user_id` or `type`; no upsert; "not found" means no row matched, not "no value changed"; other rows untouched | [`update_account_replaces_token_fields`](cases::update_account_replaces_token_fields), [`update_account_none_clears_field`](cases::update_account_none_clears_field), [`update_unknown_account_is_not_found`](cases::update_unknown_account_is_not_found), [`update_account_leaves_other_accounts`](cases::update_account_leaves_other_accounts) |
//! | `accounts` returns the user's accounts with the token fields exactly as stored | only this user's rows; `None` and `""` stay distinct; long tokens whole; `expires_at` a full `i64` | [`accounts_return_stored_token_fields`](cases::accounts_return_stored_token_fields) |
//! | `create_session` stores the row; the key is unique | every field exactly; a duplicate key is an error and changes nothing | [`create_session_stores_every_field`](cases::create_session_stores_every_field) |
//! | `session` returns the row whether or not it expired (a store with native expiry may drop it) | no expiry filtering in the read (the caller checks and deletes); a TTL store may have dropped it, raw and read agreeing | [`session_returns_row_even_expired`](cases::session_returns_row_even_expired) |
//! | `session_and_user` may return the user too | if it does, it is the session's user | [`session_and_user_returns_both`](cases::session_and_user_returns_both) |
//! | `touch_session` sets `expires`, `last_used_at`, returns the row; `None` if unknown; concurrent touches never fail | a single `UPDATE … RETURNING`, no upsert; 50 at once all succeed, the row ends with one call's pair | [`touch_session_updates_exactly`](cases::touch_session_updates_exactly), [`touch_session_concurrent_never_fails`](cases::touch_session_concurrent_never_fails) |
//! | `delete_session` removes and returns the row | `DELETE … RETURNING`; `None` the second time | [`delete_session_returns_row`](cases::delete_session_returns_row) |
//! | `user_sessions`: expired included, oldest first | ordered by `created_at` | [`user_sessions_oldest_first`](cases::user_sessions_oldest_first) |
//! | `delete_user_sessions` removes all but `keep`, returns the count | `keep` is a key; it never protects or harms another user's row | [`delete_user_sessions_keeps_one`](cases::delete_user_sessions_keeps_one) |
//! | `delete_expired_sessions` removes `expires <= now`, returns the count | the boundary (`expires == now`) is removed | [`delete_expired_sessions_removes_due_rows`](cases::delete_expired_sessions_removes_due_rows) |
//! | at least millisecond precision | values with milliseconds come back exactly, before 1970 and up to 9999 too | [`session_timestamps_keep_milliseconds`](cases::session_timestamps_keep_milliseconds) and every case using fixtures |
//! | `create_verification_token` stores the row; the pair is unique | the same identifier may hold several tokens | [`create_verification_token_stores_row`](cases::create_verification_token_stores_row) |
//! | `use_verification_token` deletes and returns the matching row atomically, once | a single `DELETE … WHERE identifier = ? AND token = ? RETURNING`; 20 concurrent calls → one `Some` | [`use_verification_token_once`](cases::use_verification_token_once), [`use_verification_token_concurrent_single_use`](cases::use_verification_token_concurrent_single_use) |
//! | a right identifier with a wrong token (or the reverse) is `None` and leaves the row | no partial match consumes the row | [`use_verification_token_wrong_identifier`](cases::use_verification_token_wrong_identifier), [`use_verification_token_wrong_token`](cases::use_verification_token_wrong_token) |
//! | expired rows are returned like any other (or already gone with native expiry) | no expiry filtering | [`use_verification_token_returns_expired`](cases::use_verification_token_returns_expired) |
//! | `delete_verification_tokens` deletes every row of the identifier and returns the count; `0` when it has none | one `DELETE … WHERE identifier = ?` (`rows_affected`); exact match; other identifiers' rows stay usable | [`delete_verification_tokens_of_identifier`](cases::delete_verification_tokens_of_identifier) |
//! | `not_before`: `None` if never set; `set_not_before` replaces the earlier value | per user | [`set_not_before_replaces`](cases::set_not_before_replaces) |
//! | `record_audit_event` stores every field; a duplicate id is `Conflict` | a primary key on `id`; milliseconds kept | [`audit_events_round_trip_newest_first`](cases::audit_events_round_trip_newest_first), [`audit_event_ids_are_unique`](cases::audit_event_ids_are_unique) |
//! | `audit_events`: the user's only, newest first, at most `limit`, strictly before `before` | `WHERE user_id = ? AND at < ? ORDER BY at DESC LIMIT ?`; exact match | [`audit_events_round_trip_newest_first`](cases::audit_events_round_trip_newest_first) |
//! | `delete_audit_events_before` deletes `at < cutoff` for every user, returns the count | the boundary stays | [`delete_audit_events_before_cuts_at_the_cutoff`](cases::delete_audit_events_before_cuts_at_the_cutoff) |
//! | (not in the contract yet) a revocation for an unknown user | stored, or `NotFound` — never `Ok` and then forgotten | [`set_not_before_unknown_user_is_never_silent`](cases::set_not_before_unknown_user_is_never_silent) |
//!
//! Each time the fixtures use is a whole number of milliseconds, since the contract promises
//! millisecond precision.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// A test-support crate: failing loudly with the backend's error is its job.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod cases;
pub mod fixtures;
mod harness;

pub use harness::{
    CASE_TIMEOUT, Harness, RawAccount, RawError, RawResult, RawSession, RawUser,
    RawVerificationToken, run,
};

/// One `#[tokio::test]` per listed case: `adapter_tests!(path::to::make; case_a, case_b)`.
///
/// `make` is an `async fn() -> Option<H>` where `H:` [`Harness`]; it is called once per test.
/// The calling crate needs `tokio` (`macros`, `rt-multi-thread`) as a dev-dependency.
#[macro_export]
macro_rules! adapter_tests {
    ($make:path; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::run($make, |h| async move { $crate::cases::$case(&*h).await }).await;
            }
        )+
    };
}

/// Every [`UserAdapter`](portcullis::adapter::UserAdapter) case.
#[macro_export]
macro_rules! user_adapter_tests {
    ($make:path) => {
        $crate::adapter_tests!($make;
            create_user_stores_every_field,
            email_is_unique,
            lookups_return_none_for_unknown,
            lookups_return_the_user,
            lookups_are_exact,
            hostile_values_are_stored_literally,
            update_user_applies_some_fields,
            update_unknown_user_is_not_found,
            custom_fields_round_trip,
            delete_user_cascades,
            link_account_stores_every_field,
            link_account_twice_is_conflict,
            link_account_concurrent_is_single,
            unlink_account_removes_it,
            create_user_with_account_stores_both,
            create_user_with_account_is_atomic,
            update_account_replaces_token_fields,
            update_account_none_clears_field,
            update_unknown_account_is_not_found,
            update_account_leaves_other_accounts,
            accounts_return_stored_token_fields,
        );
    };
}

/// Every [`SessionAdapter`](portcullis::adapter::SessionAdapter) case.
#[macro_export]
macro_rules! session_adapter_tests {
    ($make:path) => {
        $crate::adapter_tests!($make;
            create_session_stores_every_field,
            session_returns_row_even_expired,
            session_and_user_returns_both,
            touch_session_updates_exactly,
            touch_session_concurrent_never_fails,
            delete_session_returns_row,
            user_sessions_oldest_first,
            delete_user_sessions_keeps_one,
            delete_expired_sessions_removes_due_rows,
            session_timestamps_keep_milliseconds,
        );
    };
}

/// Every [`VerificationTokenAdapter`](portcullis::adapter::VerificationTokenAdapter) case.
#[macro_export]
macro_rules! verification_token_adapter_tests {
    ($make:path) => {
        $crate::adapter_tests!($make;
            create_verification_token_stores_row,
            use_verification_token_once,
            use_verification_token_wrong_identifier,
            use_verification_token_wrong_token,
            use_verification_token_concurrent_single_use,
            use_verification_token_returns_expired,
            delete_verification_tokens_of_identifier,
        );
    };
}

/// Every [`RevocationAdapter`](portcullis::adapter::RevocationAdapter) case.
#[macro_export]
macro_rules! revocation_adapter_tests {
    ($make:path) => {
        $crate::adapter_tests!($make;
            set_not_before_replaces,
            set_not_before_unknown_user_is_never_silent,
        );
    };
}

/// Every [`AuditAdapter`](portcullis::adapter::AuditAdapter) case.
#[macro_export]
macro_rules! audit_adapter_tests {
    ($make:path) => {
        $crate::adapter_tests!($make;
            audit_events_round_trip_newest_first,
            audit_event_ids_are_unique,
            delete_audit_events_before_cuts_at_the_cutoff,
        );
    };
}

/// Every [`PasswordAdapter`](portcullis::adapter::PasswordAdapter) case.
#[macro_export]
macro_rules! password_adapter_tests {
    ($make:path) => {
        $crate::adapter_tests!($make;
            password_hash_round_trips,
            set_password_hash_unknown_user_is_not_found,
            disabled_flag_round_trips,
            delete_user_removes_password,
        );
    };
}

/// Every case of every capability (those the harness lacks print a notice and pass).
#[macro_export]
macro_rules! all_adapter_tests {
    ($make:path) => {
        $crate::user_adapter_tests!($make);
        $crate::session_adapter_tests!($make);
        $crate::verification_token_adapter_tests!($make);
        $crate::revocation_adapter_tests!($make);
        $crate::password_adapter_tests!($make);
        $crate::audit_adapter_tests!($make);
    };
}
