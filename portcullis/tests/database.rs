//! The database session strategy through `Auth::handle` with the memory adapter behind a
//! fault-injecting wrapper: credentials sign-in creating real session rows (keyed by the
//! token's hash), session reads, sliding and absolute expiry, update, sign-out, store
//! outages, and the SECURITY.md rows SES-01..14, FLT-01, FLT-03 and RACE-03.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::*;
use http::StatusCode;
use portcullis::SessionError;
use portcullis::adapter::{RevocationAdapter, SessionAdapter, TokenHash, UserAdapter};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

const DAY: i64 = 24 * 60 * 60;
const HOUR: i64 = 60 * 60;

fn is_token_shape(v: &str) -> bool {
    v.len() == 64
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The session cookie a response writes (not a deletion).
fn written_session<'a>(db: &Db, res: &'a Res) -> &'a SetCookie {
    let c = res
        .set_cookie(&db.names.session_token)
        .unwrap_or_else(|| panic!("no session cookie written: {res:?}"));
    assert!(
        !c.is_deletion(),
        "the session cookie was deleted: {}",
        c.raw
    );
    c
}

fn expires_attr(c: &SetCookie) -> &str {
    c.attr("Expires")
        .flatten()
        .unwrap_or_else(|| panic!("no Expires: {}", c.raw))
}

/// Asserts a response is alice's (or bob's) session as the `session` callback builds it
/// from the stored user, with `expires` as given.
fn assert_session_of(res: &Res, user: &str, expires: OffsetDateTime) {
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let expected = match user {
        "alice" => alice_session("Alice", &iso(expires)),
        "bob" => json!({
            "user": {"name": "Bob", "email": "bob@example.com", "id": "2", "role": "editor"},
            "expires": iso(expires),
        }),
        other => panic!("unknown user {other}"),
    };
    assert_eq!(res.json(), expected, "{res:?}");
}

fn assert_no_secret(res: &Res) {
    assert!(
        !res.everything().contains(SECRET_MESSAGE),
        "an internal error leaked: {res:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Sign-in and reads

#[tokio::test]
async fn credentials_sign_in_stores_the_user_and_a_hashed_session() {
    let db = Db::database();
    let before = OffsetDateTime::now_utc();
    let mut jar = Jar::default();
    let res = db
        .sign_in_as(&mut jar, "alice", Some("TestBrowser/1.0"))
        .await;
    let after = OffsetDateTime::now_utc();
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    assert_eq!(res.location(), Some("https://app.example/"));

    let cookie = written_session(&db, &res);
    let token = cookie.value.clone();
    assert!(is_token_shape(&token), "not 64 lowercase hex: {token}");
    for flag in ["HttpOnly", "Secure"] {
        assert!(cookie.has(flag), "{flag} missing: {}", cookie.raw);
    }
    assert_eq!(cookie.attr("SameSite"), Some(Some("Lax")));
    assert_eq!(cookie.attr("Path"), Some(Some("/")));

    // The user row holds what `authorize` returned.
    let user = db.mem.user("1").await.unwrap().expect("user row created");
    assert_eq!(user.name.as_deref(), Some("Alice"));
    assert_eq!(user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(user.fields["role"], "admin");
    assert_eq!(user.fields["access_token"], ACCESS_TOKEN);

    // Exactly one session, keyed by the SHA-256 of the cookie, never by the cookie.
    let rows = db.rows("1").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.key, TokenHash::of(&token));
    assert_ne!(row.key.as_str(), token);
    let as_key = TokenHash::from_stored(&token).expect("hex");
    assert_eq!(
        db.mem.session(&as_key).await.unwrap(),
        None,
        "the raw cookie value is a key in the store"
    );
    assert_eq!(row.user_id, "1");
    assert_eq!(row.user_agent.as_deref(), Some("TestBrowser/1.0"));
    assert!(row.created_at >= before && row.created_at <= after);
    assert_eq!(row.last_used_at, row.created_at);
    assert_eq!(row.expires, row.created_at + Duration::days(30));
    // The cookie expires with the row.
    assert_eq!(expires_attr(cookie), http_date(row.expires));

    // A leaked table yields no session: the stored key presented as a cookie is nobody.
    db.assert_token_rejected(row.key.as_str(), "the stored key as a cookie")
        .await;

    // The session JSON is built by the `session` callback from the stored user.
    let row = row.clone();
    db.session_calls.lock().unwrap().clear();
    let res = db.read(&token).await;
    assert_session_of(&res, "alice", row.expires);
    assert_no_cache(&res);
    assert_eq!(
        expires_attr(written_session(&db, &res)),
        http_date(row.expires)
    );
    let calls = db.session_calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![SessionCall {
            trigger: None,
            new_session: None,
            user: Some(("1".into(), "admin".into())),
        }]
    );
    // The access token stays server-side.
    assert!(!res.text().contains(ACCESS_TOKEN));

    // A second sign-in (another browser) reuses the user row and adds a session.
    db.store.reset_calls();
    let (_jar2, token2) = db.browser("alice", None).await;
    assert_ne!(token2, token);
    assert_eq!(db.store.calls("create_user"), 0);
    assert_eq!(db.store.calls("create_session"), 1);
    assert_eq!(db.mem.user("1").await.unwrap(), Some(user));
    assert_eq!(db.rows("1").await.len(), 2);
}

#[tokio::test]
async fn ses_14_session_reads_are_never_cached() {
    let db = Db::database();
    let (_jar, token) = db.browser("alice", None).await;
    let res = db.read(&token).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_no_cache(&res);
    let res = db.read(&random_token()).await;
    assert_eq!(res.text(), "null");
    assert_no_cache(&res);
    let res = db.send(get("/session")).await;
    assert_eq!(res.text(), "null");
    assert_no_cache(&res);
    db.store.fail("session_and_user", Fault::Unavailable);
    let res = db.read(&token).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_no_cache(&res);
}

// ---------------------------------------------------------------------------------------
// SES-01..03: fixation and replacement

#[tokio::test]
async fn ses_01_a_planted_token_is_replaced_and_never_maps_to_the_victim() {
    let db = Db::database();
    // An attacker-chosen value of the right shape.
    let planted = random_token();
    let mut jar = Jar::default();
    jar.set(&db.names.session_token, &planted);
    let res = db.sign_in_as(&mut jar, "alice", None).await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    let issued = written_session(&db, &res).value.clone();
    assert_ne!(issued, planted);
    assert!(is_token_shape(&issued));
    assert_eq!(db.row(&planted).await, None);
    db.assert_token_rejected(&planted, "the planted value")
        .await;
    assert_session_of(
        &db.read(&issued).await,
        "alice",
        db.row(&issued).await.unwrap().expires,
    );

    // The attacker's own live session planted in the victim's browser: the victim gets a
    // new token and the attacker's session ends instead of becoming the victim's.
    let (_attacker, attackers) = db.browser("bob", None).await;
    let mut victim = Jar::default();
    victim.set(&db.names.session_token, &attackers);
    let res = db.sign_in_as(&mut victim, "alice", None).await;
    let issued = written_session(&db, &res).value.clone();
    assert_ne!(issued, attackers);
    assert_eq!(
        db.row(&attackers).await,
        None,
        "the planted session survived"
    );
    assert!(db.rows("2").await.is_empty());
    db.assert_token_rejected(
        &attackers,
        "the attacker's token after the victim's sign-in",
    )
    .await;
    assert_session_of(
        &db.read(&issued).await,
        "alice",
        db.row(&issued).await.unwrap().expires,
    );
}

#[tokio::test]
async fn ses_01_planted_chunk_cookies_are_deleted_at_sign_in() {
    let db = Db::database();
    let name = db.names.session_token.clone();
    let mut jar = Jar::default();
    jar.set(&format!("{name}.0"), &random_token()[..32]);
    jar.set(&format!("{name}.1"), &random_token()[..32]);
    let res = db.sign_in_as(&mut jar, "alice", None).await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    let mut deleted = res.deleted();
    deleted.sort_unstable();
    assert_eq!(deleted, [format!("{name}.0"), format!("{name}.1")]);
    written_session(&db, &res);
    assert_eq!(jar.session_names(&name), vec![name]);
}

#[tokio::test]
async fn ses_02_an_unknown_token_is_no_session_and_creates_nothing() {
    let db = Db::database();
    db.store.reset_calls();
    db.assert_token_rejected(&random_token(), "never issued")
        .await;
    assert_eq!(db.store.calls("session_and_user"), 1);
    assert_eq!(db.store.total_calls(), 1, "only the lookup may run");
    assert_eq!(db.mem.user("1").await.unwrap(), None);

    // With a live session of the same user in the store, an unknown token is still nobody.
    let (_jar, token) = db.browser("alice", None).await;
    db.store.reset_calls();
    db.assert_token_rejected(&random_token(), "never issued, store not empty")
        .await;
    assert_eq!(db.store.calls("create_session"), 0);
    assert_eq!(db.store.calls("touch_session"), 0);
    assert_eq!(db.store.calls("delete_session"), 0);
    assert_eq!(db.rows("1").await.len(), 1);
    assert!(db.row(&token).await.is_some());
}

#[tokio::test]
async fn ses_03_signing_in_as_b_in_the_same_browser_deletes_a_session() {
    let db = Db::database();
    let (mut jar, a) = db.browser("alice", None).await;
    let res = db.sign_in_as(&mut jar, "bob", None).await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    let b = db.token_of(&jar);
    assert_ne!(a, b);
    assert_eq!(db.row(&a).await, None);
    assert!(db.rows("1").await.is_empty());
    assert_eq!(db.rows("2").await.len(), 1);
    db.assert_token_rejected(&a, "A's token after B signed in")
        .await;
    assert_session_of(&db.read(&b).await, "bob", db.row(&b).await.unwrap().expires);

    // Signing in again as the same user also rotates the token.
    let res = db.sign_in_as(&mut jar, "bob", None).await;
    assert_eq!(res.status, StatusCode::FOUND);
    let b2 = db.token_of(&jar);
    assert_ne!(b, b2);
    assert_eq!(db.rows("2").await.len(), 1);
    assert_eq!(db.row(&b).await, None);
}

// ---------------------------------------------------------------------------------------
// SES-05, SES-06: sign-out

#[tokio::test]
async fn ses_05_sign_out_deletes_the_row_and_clears_the_cookie() {
    let db = Db::database();
    let (mut jar, token) = db.browser("alice", None).await;
    let (_other, other) = db.browser("alice", None).await;

    // Without the CSRF token nothing happens.
    let res = db.send(post_form("/signout", &[]).jar(&jar)).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(db.row(&token).await.is_some(), "signed out without CSRF");
    assert!(res.set_cookie(&db.names.session_token).is_none());

    let csrf = db.csrf(&mut jar).await;
    db.store.reset_calls();
    let res = db
        .send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&jar))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    assert_eq!(res.location(), Some("https://app.example/"));
    assert!(res.deleted().contains(&db.names.session_token.as_str()));
    assert_eq!(db.store.calls("delete_session"), 1);
    assert_eq!(db.row(&token).await, None);
    // Replaying the old cookie is no session.
    db.assert_token_rejected(&token, "replayed after sign-out")
        .await;
    // Only that session ended.
    assert!(db.row(&other).await.is_some());
    assert_eq!(db.read(&other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn ses_06_sign_out_while_the_delete_fails_is_an_error_but_clears_the_cookie() {
    for fault in [Fault::Unavailable, Fault::Other] {
        let db = Db::database();
        let (mut jar, token) = db.browser("alice", None).await;
        let csrf = db.csrf(&mut jar).await;
        db.store.fail("delete_session", fault);
        let res = db
            .send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&jar))
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "{fault:?}: {res:?}");
        assert_eq!(
            res.location(),
            Some("https://app.example/api/auth/error?error=Configuration"),
            "{fault:?}: the failure must not look like success"
        );
        let cleared = res
            .set_cookie(&db.names.session_token)
            .unwrap_or_else(|| panic!("{fault:?}: cookie not cleared: {res:?}"));
        assert!(cleared.is_deletion(), "{fault:?}: {}", cleared.raw);
        assert_no_secret(&res);
        assert!(
            db.row(&token).await.is_some(),
            "the row cannot have been deleted"
        );

        // A retry (the old cookie replayed once the store is back) deletes the row.
        db.store.heal_all();
        let res = db
            .send(post_form("/signout", &[("csrfToken", &csrf)]).jar(&jar))
            .await;
        assert_eq!(res.location(), Some("https://app.example/"), "{fault:?}");
        assert_eq!(db.row(&token).await, None, "{fault:?}");
        db.assert_token_rejected(&token, "after the retried sign-out")
            .await;
    }
}

// ---------------------------------------------------------------------------------------
// SES-08, SES-10, SES-11, SES-12: expiry, malformed values, lifetimes, deleted users

#[tokio::test]
async fn ses_08_an_expired_row_is_no_session_and_is_deleted() {
    let db = Db::database();
    let now = now_ms();
    let token = db
        .plant_session(
            "1",
            now - Duration::days(31),
            now - Duration::days(31),
            now - secs(1),
        )
        .await;
    db.store.reset_calls();
    db.assert_token_rejected(&token, "expired row").await;
    assert_eq!(db.store.calls("delete_session"), 1);
    assert_eq!(db.row(&token).await, None);

    // A row a few seconds from its end is still a session.
    let token = db
        .plant_session(
            "1",
            now - Duration::days(29),
            now - Duration::days(29),
            now + secs(30),
        )
        .await;
    assert_session_of(&db.read(&token).await, "alice", now + secs(30));
}

#[tokio::test]
async fn ses_10_malformed_cookie_values_are_refused_before_any_store_call() {
    let db = Db::database();
    let (_jar, good) = db.browser("alice", None).await;
    let values = [
        "a".repeat(10 * 1024),
        format!("{}\"", &good[..63]),
        format!("\"{}", &good[..63]),
        "\"\"".to_owned(),
        format!("{}%00", &good[..63]),
        format!("%00{}", &good[..63]),
        "g".repeat(64),
        good.to_uppercase(),
        good[..63].to_owned(),
        format!("{good}a"),
        "'; DROP TABLE sessions; --".to_owned(),
        "é".repeat(32),
        String::new(),
        // A JWT-strategy cookie presented to the database strategy.
        db.seal(&json!({"sub": "1", "iat": now(), "exp": now() + 3600, "jti": "x"})),
    ];
    for v in &values {
        db.store.reset_calls();
        let shown: String = v.chars().take(40).collect();
        db.assert_token_rejected(v, &format!("value {shown:?}"))
            .await;
        assert_eq!(
            db.store.total_calls(),
            0,
            "value {shown:?} reached the store"
        );
    }
    // 10 KB split over chunk cookies is refused the same way.
    db.store.reset_calls();
    let name = &db.names.session_token;
    let half = "a".repeat(5 * 1024);
    db.assert_null_and_cleared(
        &format!("{name}.0={half}; {name}.1={half}"),
        "10 KB in chunks",
    )
    .await;
    assert_eq!(db.store.total_calls(), 0);

    // A header that is not UTF-8 cannot be read at all: no session, no store call.
    db.store.reset_calls();
    let mut raw = format!("{name}=").into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    raw.extend_from_slice(&good.as_bytes()[3..]);
    let res = db.send(get("/session").header("cookie", raw)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "null");
    assert_eq!(db.store.total_calls(), 0);

    // The real token still works (the test values were refused for their shape only).
    assert_eq!(db.read(&good).await.status, StatusCode::OK);
    assert_eq!(db.read(&good).await.json()["user"]["id"], "1");
}

#[tokio::test]
async fn ses_11_reads_within_update_age_do_not_touch_the_row() {
    let db = Db::database();
    let (_jar, token) = db.browser("alice", None).await;
    let before = db.row(&token).await.unwrap();
    db.store.reset_calls();
    for _ in 0..3 {
        let res = db.read(&token).await;
        assert_session_of(&res, "alice", before.expires);
        assert_eq!(
            expires_attr(written_session(&db, &res)),
            http_date(before.expires)
        );
    }
    assert_eq!(db.store.calls("touch_session"), 0);
    assert_eq!(db.row(&token).await, Some(before));
}

#[tokio::test]
async fn ses_11_a_read_after_update_age_extends_the_expiry() {
    let db = Db::database();
    let now = now_ms();
    let max_age = Duration::days(30);
    let created = now - Duration::days(3);
    // Last extended one day and a minute ago (update_age is one day).
    let last = now - Duration::days(1) - secs(60);
    let token = db.plant_session("1", created, last, last + max_age).await;
    db.store.reset_calls();
    let t0 = OffsetDateTime::now_utc();
    let res = db.read(&token).await;
    let t1 = OffsetDateTime::now_utc();
    // The body shows the expiry before this request (as Auth.js), the cookie the new one.
    assert_session_of(&res, "alice", last + max_age);
    assert_eq!(db.store.calls("touch_session"), 1);
    let row = db.row(&token).await.unwrap();
    assert!(
        row.expires >= t0 + max_age && row.expires <= t1 + max_age,
        "{row:?}"
    );
    assert!(row.last_used_at >= t0 && row.last_used_at <= t1, "{row:?}");
    assert_eq!(row.created_at, created);
    assert_eq!(
        expires_attr(written_session(&db, &res)),
        http_date(row.expires)
    );

    // A minute short of update_age: no write, the cookie keeps the row's expiry.
    let last = now - Duration::days(1) + secs(60);
    let token = db.plant_session("1", created, last, last + max_age).await;
    db.store.reset_calls();
    let res = db.read(&token).await;
    assert_session_of(&res, "alice", last + max_age);
    assert_eq!(db.store.calls("touch_session"), 0);
    assert_eq!(db.row(&token).await.unwrap().expires, last + max_age);
    assert_eq!(
        expires_attr(written_session(&db, &res)),
        http_date(last + max_age)
    );
}

fn absolute(max_age: i64, update_age: i64, absolute: i64) -> Db {
    Db::database_with(Harness::builder().configure(move |b| {
        b.max_age(StdDuration::from_secs(max_age.unsigned_abs()))
            .update_age(StdDuration::from_secs(update_age.unsigned_abs()))
            .absolute_max_age(StdDuration::from_secs(absolute.unsigned_abs()))
    }))
}

#[tokio::test]
async fn ses_11_sliding_expiry_never_passes_the_absolute_lifetime() {
    // max_age 1 day, update_age 1 hour, absolute 2 days.
    let db = absolute(DAY, HOUR, 2 * DAY);
    let now = now_ms();
    // Signed in 26 hours ago, last extended 3 hours ago: the row ends in 21 hours, the
    // absolute lifetime in 22; extending by a day would pass it.
    let created = now - Duration::hours(26);
    let last = now - Duration::hours(3);
    let token = db
        .plant_session("1", created, last, last + Duration::days(1))
        .await;
    let deadline = created + Duration::days(2);
    let res = db.read(&token).await;
    assert_session_of(&res, "alice", last + Duration::days(1));
    let row = db.row(&token).await.unwrap();
    assert_eq!(row.expires, deadline, "extended past the absolute lifetime");
    assert_eq!(
        expires_attr(written_session(&db, &res)),
        http_date(deadline)
    );

    // At the deadline there is nothing left to extend.
    db.store.reset_calls();
    let res = db.read(&token).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(db.store.calls("touch_session"), 0);
    assert_eq!(db.row(&token).await.unwrap().expires, deadline);
    assert_eq!(
        expires_attr(written_session(&db, &res)),
        http_date(deadline)
    );
}

#[tokio::test]
async fn ses_11_a_row_longer_than_the_absolute_lifetime_ends_at_it() {
    // As after `absolute_max_age` was introduced or shortened: the stored expiry is later
    // than the absolute deadline. The session shows, and its cookie carries, the deadline.
    let db = absolute(30 * DAY, DAY, 2 * DAY);
    let now = now_ms();
    let created = now - Duration::days(1);
    let token = db
        .plant_session("1", created, created, created + Duration::days(30))
        .await;
    let deadline = created + Duration::days(2);
    db.store.reset_calls();
    let res = db.read(&token).await;
    assert_session_of(&res, "alice", deadline);
    assert_eq!(
        expires_attr(written_session(&db, &res)),
        http_date(deadline)
    );
    assert_eq!(db.store.calls("touch_session"), 0);
}

#[tokio::test]
async fn ses_11_past_the_absolute_lifetime_the_session_is_gone() {
    let db = absolute(30 * DAY, DAY, 2 * DAY);
    let now = now_ms();
    // A row whose sliding expiry is far ahead but whose absolute lifetime has run out.
    let token = db
        .plant_session(
            "1",
            now - Duration::days(2) - secs(1),
            now - Duration::hours(1),
            now + Duration::days(10),
        )
        .await;
    db.store.reset_calls();
    db.assert_token_rejected(&token, "past the absolute lifetime")
        .await;
    assert_eq!(db.store.calls("touch_session"), 0);
    assert_eq!(db.row(&token).await, None, "the row must be deleted");

    // One minute before it, the session is still valid.
    let token = db
        .plant_session(
            "1",
            now - Duration::days(2) + secs(60),
            now - Duration::hours(1),
            now + secs(60),
        )
        .await;
    assert_eq!(db.read(&token).await.status, StatusCode::OK);
    assert_eq!(db.read(&token).await.json()["user"]["id"], "1");
}

#[tokio::test]
async fn ses_11_an_absolute_lifetime_shorter_than_max_age_caps_sign_in() {
    // max_age 30 days, update_age 1 day, absolute 1 hour.
    let db = absolute(30 * DAY, DAY, HOUR);
    let mut jar = Jar::default();
    let res = db.sign_in_as(&mut jar, "alice", None).await;
    let token = db.token_of(&jar);
    let row = db.row(&token).await.unwrap();
    assert_eq!(row.expires, row.created_at + Duration::hours(1));
    assert_eq!(
        expires_attr(written_session(&db, &res)),
        http_date(row.expires)
    );

    // Reads right after sign-in neither extend nor rewrite the row.
    db.store.reset_calls();
    for _ in 0..3 {
        let res = db.read(&token).await;
        assert_session_of(&res, "alice", row.expires);
        assert_eq!(
            expires_attr(written_session(&db, &res)),
            http_date(row.expires)
        );
    }
    assert_eq!(db.store.calls("touch_session"), 0, "a read rewrote the row");
    assert_eq!(db.row(&token).await, Some(row));
}

#[tokio::test]
async fn ses_12_deleting_a_user_ends_all_their_sessions() {
    let db = Db::database();
    let (_a1, t1) = db.browser("alice", None).await;
    let (_a2, t2) = db.browser("alice", None).await;
    let (_b, tb) = db.browser("bob", None).await;
    let before = OffsetDateTime::now_utc();
    db.auth.delete_user("1").await.unwrap();
    db.assert_token_rejected(&t1, "first session after delete_user")
        .await;
    db.assert_token_rejected(&t2, "second session after delete_user")
        .await;
    assert_eq!(db.mem.user("1").await.unwrap(), None);
    assert!(db.rows("1").await.is_empty());
    let nbf = db
        .mem
        .not_before("1")
        .await
        .unwrap()
        .expect("not-before set");
    assert!(nbf > before, "{nbf} not after {before}");
    // Another user is untouched.
    assert_session_of(
        &db.read(&tb).await,
        "bob",
        db.row(&tb).await.unwrap().expires,
    );
    assert!(db.mem.not_before("2").await.unwrap().is_none());
}

// ---------------------------------------------------------------------------------------
// Session update with the database strategy

#[tokio::test]
async fn update_runs_the_session_callback_and_writes_nothing() {
    let db = Db::database();
    let (mut jar, token) = db.browser("alice", None).await;
    let csrf = db.csrf(&mut jar).await;
    let row = db.row(&token).await.unwrap();
    let user = db.mem.user("1").await.unwrap();
    let data = json!({"name": "Mallory", "role": "root", "nested": {"x": [1, 2]}});
    db.store.reset_calls();
    db.session_calls.lock().unwrap().clear();
    let res = db
        .send(post_json("/session", &json!({"csrfToken": csrf, "data": data})).jar(&jar))
        .await;
    assert_session_of(&res, "alice", row.expires);
    let calls = db.session_calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![SessionCall {
            trigger: Some(portcullis::Trigger::Update),
            new_session: Some(data),
            user: Some(("1".into(), "admin".into())),
        }]
    );
    for write in [
        "create_user",
        "update_user",
        "create_session",
        "touch_session",
        "delete_session",
    ] {
        assert_eq!(db.store.calls(write), 0, "{write} called by an update");
    }
    assert_eq!(db.row(&token).await, Some(row.clone()));
    assert_eq!(db.mem.user("1").await.unwrap(), user);

    // A wrong or missing CSRF token: 400 null, the callback never runs, nothing changes.
    for body in [
        json!({"csrfToken": "wrong", "data": {"name": "x"}}),
        json!({"data": {"name": "x"}}),
    ] {
        db.session_calls.lock().unwrap().clear();
        let res = db.send(post_json("/session", &body).jar(&jar)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.text(), "null");
        assert!(res.set_cookie(&db.names.session_token).is_none());
        assert!(db.session_calls.lock().unwrap().is_empty(), "{body}");
    }
    assert_eq!(db.row(&token).await, Some(row));
}

// ---------------------------------------------------------------------------------------
// FLT-01, FLT-03: store failures

#[tokio::test]
async fn flt_01_an_unavailable_store_is_503_and_keeps_the_cookie() {
    let db = Db::database();
    let (jar, token) = db.browser("alice", None).await;
    db.store.fail("session_and_user", Fault::Unavailable);
    let res = db.send(get("/session").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
    assert_eq!(res.json(), json!({"error": "SessionStoreUnavailable"}));
    let retry: u64 = res
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry > 0);
    assert!(
        res.cookies.iter().all(|c| !db.is_session_cookie(&c.name)),
        "the session cookie was touched during an outage: {res:?}"
    );
    assert_no_secret(&res);

    // In-process readers fail closed too: neither signed in nor signed out.
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", db.cookie(&token).parse().unwrap());
    assert_eq!(
        db.auth.session::<Value>(&headers).await,
        Err(SessionError::Unavailable)
    );

    // Once the store is back the same cookie is a session again.
    db.store.heal_all();
    assert_eq!(db.read(&token).await.status, StatusCode::OK);
    assert_eq!(db.read(&token).await.json()["user"]["id"], "1");
    assert!(db.auth.session::<Value>(&headers).await.unwrap().is_some());
}

#[tokio::test]
async fn flt_01_an_outage_while_extending_or_deleting_is_503_too() {
    let db = Db::database();
    let now = now_ms();
    let last = now - Duration::days(2);
    let stale = db
        .plant_session("1", last, last, last + Duration::days(30))
        .await;
    let expired = db.plant_session("1", last, last, now - secs(1)).await;
    let before = db.row(&stale).await.unwrap();

    db.store.fail("touch_session", Fault::Unavailable);
    let res = db.read(&stale).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
    assert!(res.set_cookie(&db.names.session_token).is_none());
    assert_eq!(db.row(&stale).await, Some(before));

    db.store.fail("delete_session", Fault::Unavailable);
    let res = db.read(&expired).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
    assert!(res.set_cookie(&db.names.session_token).is_none());
}

#[tokio::test]
async fn flt_01_other_store_errors_are_null_and_keep_the_cookie() {
    let db = Db::database();
    let (jar, token) = db.browser("alice", None).await;
    db.store.fail("session_and_user", Fault::Other);
    let res = db.send(get("/session").jar(&jar)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.text(), "null");
    assert!(
        res.cookies.iter().all(|c| !db.is_session_cookie(&c.name)),
        "{res:?}"
    );
    assert_no_secret(&res);
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", db.cookie(&token).parse().unwrap());
    assert_eq!(db.auth.session::<Value>(&headers).await, Ok(None));
    db.store.heal_all();
    assert_eq!(db.read(&token).await.json()["user"]["id"], "1");
}

#[tokio::test]
async fn flt_03_failed_writes_are_never_reported_as_success() {
    // Sign-in: a failed user or session write gives no session.
    for method in ["create_user", "create_session", "user"] {
        for fault in [Fault::Unavailable, Fault::Other] {
            let db = Db::database();
            db.store.fail(method, fault);
            let mut jar = Jar::default();
            let res = db.sign_in_as(&mut jar, "alice", None).await;
            assert_eq!(res.status, StatusCode::FOUND, "{method} {fault:?}");
            assert_eq!(
                res.location(),
                Some("https://app.example/api/auth/error?error=Configuration"),
                "{method} {fault:?}"
            );
            assert!(
                res.written().iter().all(|c| !db.is_session_cookie(&c.name)),
                "{method} {fault:?}: a session cookie was written: {res:?}"
            );
            assert!(db.rows("1").await.is_empty(), "{method} {fault:?}");
            assert_no_secret(&res);
        }
    }

    // Replacing an old session whose delete fails: no new session either.
    let db = Db::database();
    let (mut jar, old) = db.browser("alice", None).await;
    db.store.fail("delete_session", Fault::Other);
    let res = db.sign_in_as(&mut jar, "bob", None).await;
    assert_eq!(
        res.location(),
        Some("https://app.example/api/auth/error?error=Configuration")
    );
    assert!(res.written().iter().all(|c| !db.is_session_cookie(&c.name)));
    assert!(db.rows("2").await.is_empty());
    assert!(db.row(&old).await.is_some());

    // A failed extension or expiry deletion never answers with the session.
    let db = Db::database();
    let now = now_ms();
    let last = now - Duration::days(2);
    let stale = db
        .plant_session("1", last, last, last + Duration::days(30))
        .await;
    let expired = db.plant_session("1", last, last, now - secs(1)).await;
    db.store.fail("touch_session", Fault::Other);
    let res = db.read(&stale).await;
    assert_eq!(res.text(), "null", "{res:?}");
    db.store.fail("delete_session", Fault::Other);
    let res = db.read(&expired).await;
    assert_eq!(res.text(), "null", "{res:?}");
    assert!(db.row(&expired).await.is_some());
    assert_no_secret(&res);
}

// ---------------------------------------------------------------------------------------
// RACE-03

async fn parallel_reads(db: &Arc<Db>, token: &str, n: usize) -> Vec<(StatusCode, Value, i64)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let db = db.clone();
        let token = token.to_owned();
        tasks.spawn(async move {
            let res = db.read(&token).await;
            let expires = res
                .set_cookie(&db.names.session_token)
                .filter(|c| !c.is_deletion())
                .map(|c| parse_http_date(expires_attr(c)))
                .unwrap_or(i64::MIN);
            let body = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
            (res.status, body, expires)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.push(r.expect("request task panicked"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_03_parallel_reads_at_the_update_age_boundary() {
    let db = Arc::new(Db::database());
    let now = now_ms();
    let last = now - Duration::days(1) - secs(1);
    let old_expires = last + Duration::days(30);
    let token = db
        .plant_session("1", now - Duration::days(5), last, old_expires)
        .await;
    db.store.interleave(true);
    let results = parallel_reads(&db, &token, 100).await;
    assert_eq!(results.len(), 100);
    let mut largest = i64::MIN;
    for (status, body, expires) in &results {
        assert_eq!(*status, StatusCode::OK, "{body}");
        // The body shows the row as this request read it: before or after another
        // request extended it, never earlier.
        let shown = body["expires"].as_str().expect("expires");
        assert!(shown >= iso(old_expires).as_str(), "{body}");
        assert_eq!(body, &alice_session("Alice", shown));
        assert!(*expires >= old_expires.unix_timestamp(), "cookie shortened");
        largest = largest.max(*expires);
    }
    let row = db.row(&token).await.expect("the row survived");
    assert!(
        row.expires.unix_timestamp() >= largest,
        "the row ({}) ends before a cookie handed out ({largest})",
        row.expires
    );
    let computed = db.store.touched.lock().unwrap().clone();
    assert!(!computed.is_empty(), "nobody extended the session");
    assert_eq!(db.store.calls("delete_session"), 0);
    assert_eq!(db.store.calls("create_session"), 0);
    assert_eq!(db.rows("1").await.len(), 1);
}

/// RACE-03 with the interleaving forced: the first request computes its expiry first but
/// writes last. The row must still end at the largest expiry any request computed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_03_a_late_write_never_moves_the_expiry_back() {
    let db = Arc::new(Db::database());
    let now = now_ms();
    let last = now - Duration::days(1) - secs(1);
    let token = db
        .plant_session(
            "1",
            now - Duration::days(5),
            last,
            last + Duration::days(30),
        )
        .await;
    db.store
        .delay_next("touch_session", StdDuration::from_millis(300));
    let first = {
        let db = db.clone();
        let token = token.clone();
        tokio::spawn(async move { db.read(&token).await })
    };
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    let second = db.read(&token).await;
    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::OK);
    let computed = db.store.touched.lock().unwrap().clone();
    assert_eq!(computed.len(), 2, "both requests must extend: {computed:?}");
    assert!(computed[0] < computed[1]);
    let row = db.row(&token).await.unwrap();
    assert!(
        row.expires >= computed[1],
        "the row ends at {} although {} was handed out",
        row.expires,
        computed[1]
    );
}

#[tokio::test]
async fn race_04_two_concurrent_first_sign_ins_make_one_user_and_both_sign_in() {
    let db = Db::database();
    // Each store call yields, so the two requests interleave: both see "no user yet".
    db.store.interleave(true);
    let (mut jar_a, mut jar_b) = (Jar::default(), Jar::default());
    let (a, b) = tokio::join!(
        db.sign_in_as(&mut jar_a, "alice", None),
        db.sign_in_as(&mut jar_b, "alice", None)
    );
    for res in [&a, &b] {
        assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
        assert_eq!(res.location(), Some("https://app.example/"), "{res:?}");
    }
    assert!(
        db.store.calls("create_user") >= 2,
        "the interleaving must have made both requests try to create the user"
    );
    // One user row, two sessions of it.
    assert!(db.mem.user("1").await.unwrap().is_some());
    assert_eq!(db.rows("1").await.len(), 2);
}
