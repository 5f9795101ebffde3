//! The audit log, the logs and the metrics of the real `portcullis` binary after a scripted
//! flow (issue #8):
//!
//! - every log line (at TRACE, every crate), every audit event the user can read and every
//!   stored audit row holds no password, session token, CSRF token or secret — while the
//!   capture does hold the flow's events, so the check is not vacuous (SECURITY.md INJ-05);
//! - `GET /api/auth/audit` answers the signed-in user's own events, newest first, and 401
//!   without a session;
//! - `GET /metrics` on `PORTCULLIS_METRICS_LISTEN` names every series with the flow's
//!   counts, and the public port does not serve it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Client, Jar, Server, add_user, form, free_port, get, temp_dir};
use portcullis_sqlx::sqlx::{self, Row, sqlite::SqlitePoolOptions};
use serde_json::{Value, json};

const SECRET: &str = "observability-secret-0123456789abcdef-0123456789";
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "first-password-that-must-not-leak-31";
const NEW_PASSWORD: &str = "second-password-that-must-not-leak-47";
const WRONG: &str = "wrong-password-that-must-not-leak-59";

/// Every value in the jar of a cookie that carries a secret.
fn secret_cookies(jar: &Jar, seen: &mut BTreeSet<String>) {
    for (name, value) in &jar.0 {
        if (name.contains("session-token") || name.contains("csrf-token")) && value.len() >= 16 {
            seen.insert(value.clone());
            // The CSRF cookie is `token|hash`: both halves.
            for part in value.split("%7C").chain(value.split('|')) {
                if part.len() >= 16 {
                    seen.insert(part.to_owned());
                }
            }
        }
    }
}

fn change_password(c: &mut Client, current: &str, new: &str) -> common::Res {
    let t = c.csrf();
    let body = json!({ "csrfToken": t, "currentPassword": current, "newPassword": new });
    c.post(
        "/api/auth/change-password",
        "application/json",
        &body.to_string(),
    )
}

async fn stored_audit_rows(dir: &Path) -> Vec<String> {
    let url = format!("sqlite://{}", dir.join("data/portcullis.db").display());
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT * FROM audit_events ORDER BY at")
        .fetch_all(&pool)
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.try_get::<Option<String>, _>(i)
                        .ok()
                        .flatten()
                        .or_else(|| r.try_get::<i64, _>(i).ok().map(|n| n.to_string()))
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_leaves_audit_events_and_logs_without_secrets() {
    let dir = temp_dir("observability-logs");
    let env = [("AUTH_SECRET", SECRET), ("RUST_LOG", "trace")];
    add_user(&dir, &env, EMAIL, PASSWORD, &[]);
    let server = Server::start(&dir, &env);
    let mut seen = BTreeSet::new();

    // No session: the audit route refuses.
    let mut anonymous = Client::new(server.port);
    assert_eq!(anonymous.get("/api/auth/audit").status, 401);

    let mut c = Client::new(server.port);
    let failed = c.sign_in("email", EMAIL, WRONG);
    assert_eq!(failed.status, 302);
    assert!(failed.header("location").unwrap().contains("error="));
    secret_cookies(&c.jar, &mut seen);
    let ok = c.sign_in("email", EMAIL, PASSWORD);
    assert_eq!(ok.status, 302);
    secret_cookies(&c.jar, &mut seen);
    assert_eq!(c.session()["user"]["email"], EMAIL);
    let changed = change_password(&mut c, PASSWORD, NEW_PASSWORD);
    assert_eq!(changed.status, 200, "{}", changed.body);
    secret_cookies(&c.jar, &mut seen);
    assert_eq!(c.sign_out().status, 302);
    assert_eq!(c.session(), Value::Null);
    // A second device: the new password works, and it reads its own record.
    let mut d = Client::new(server.port);
    assert_eq!(d.sign_in("email", EMAIL, NEW_PASSWORD).status, 302);
    secret_cookies(&d.jar, &mut seen);
    for t in [c.csrf(), d.csrf()] {
        seen.insert(t);
    }
    let audit = d.get("/api/auth/audit");
    assert_eq!(audit.status, 200, "{}", audit.body);
    let events = audit.json()["events"].as_array().unwrap().clone();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "sign_in",
            "sign_out",
            "session_revoked",
            "password_changed",
            "sign_in",
            "sign_in_failed"
        ],
        "{events:#?}"
    );
    assert_eq!(events[5]["detail"], "CredentialsSignin");
    assert_eq!(events[5]["provider"], "credentials");
    assert_eq!(events[2]["detail"], "revoke-others");
    assert!(events.iter().all(|e| e["ip"].is_string()), "{events:#?}");
    // Paging: `before` the newest event's time, newest first again.
    let newest = events[0]["at"].as_str().unwrap();
    let page = d.get(&format!("/api/auth/audit?limit=2&before={newest}"));
    let page_kinds: Vec<String> = page.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(page_kinds, ["sign_out", "session_revoked"]);
    assert_eq!(d.get("/api/auth/audit?limit=0").status, 400);
    assert_eq!(d.get("/api/auth/audit?before=yesterday").status, 400);
    d.sign_out();
    drop(server);

    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    let rows = stored_audit_rows(&dir).await;
    // Not vacuous: the capture holds the flow.
    assert!(
        log.contains("portcullis::audit"),
        "no audit event in the log"
    );
    for kind in [
        "sign_in_failed",
        "password_changed",
        "session_revoked",
        "sign_out",
    ] {
        assert!(log.contains(kind), "the log has no {kind} event");
    }
    assert!(
        log.contains("portcullis.request"),
        "no request span in the log"
    );
    assert!(rows.len() >= 7, "{rows:#?}");
    assert!(seen.len() >= 4, "{seen:?}");

    let mut needles: Vec<&str> = vec![SECRET, PASSWORD, NEW_PASSWORD, WRONG];
    needles.extend(seen.iter().map(String::as_str));
    let audit_text = audit.body.clone() + &page.body;
    for needle in needles {
        assert!(
            !log.contains(needle),
            "the server log holds a secret ({} bytes, starts {:?})",
            needle.len(),
            &needle[..6]
        );
        assert!(
            !audit_text.contains(needle),
            "an audit answer holds a secret"
        );
        assert!(
            rows.iter().all(|r| !r.contains(needle)),
            "a stored audit row holds a secret"
        );
    }
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_metrics_endpoint_names_every_series_after_a_flow() {
    let dir = temp_dir("observability-metrics");
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let env = [
        ("AUTH_SECRET", SECRET),
        ("PORTCULLIS_METRICS_LISTEN", metrics_addr.as_str()),
    ];
    add_user(&dir, &env, EMAIL, PASSWORD, &[]);
    let server = Server::start(&dir, &env);
    let mut c = Client::new(server.port);
    assert_eq!(c.session(), Value::Null);
    assert_eq!(c.sign_in("email", EMAIL, WRONG).status, 302);
    assert_eq!(c.sign_in("email", EMAIL, PASSWORD).status, 302);
    assert_eq!(c.session()["user"]["email"], EMAIL);
    assert_eq!(c.sign_out().status, 302);
    // Five attempts per address per 15 minutes: the 6th and 7th are refused (429).
    let mut limited = 0;
    for _ in 0..6 {
        let t = c.csrf();
        let r = c.post(
            "/api/auth/callback/credentials",
            "application/x-www-form-urlencoded",
            &form(&[
                ("csrfToken", &t),
                ("email", "target@example.com"),
                ("password", WRONG),
            ]),
        );
        if r.status == 429 {
            limited += 1;
        }
    }
    assert_eq!(limited, 1);

    // The public port does not serve the metrics.
    assert_eq!(get(server.port, "/metrics", &Jar::default()).status, 404);
    let res = get(metrics_port, "/metrics", &Jar::default());
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.body;
    let has = |series: &str| value(&text, series).unwrap_or_else(|| panic!("no {series}\n{text}"));
    assert_eq!(
        has("portcullis_signins_total{provider=\"credentials\",outcome=\"success\"}"),
        1.0
    );
    // One wrong password, then five over the limit's course: 1 + 5 failures, 1 refused.
    assert_eq!(
        has("portcullis_signins_total{provider=\"credentials\",outcome=\"failure\"}"),
        6.0
    );
    assert_eq!(
        has("portcullis_signins_total{provider=\"credentials\",outcome=\"rate_limited\"}"),
        1.0
    );
    assert_eq!(
        has("portcullis_rate_limited_total{limit=\"credentials sign-in\"}"),
        1.0
    );
    assert_eq!(
        has("portcullis_session_reads_total{source=\"route\",outcome=\"none\"}"),
        1.0
    );
    assert_eq!(
        has("portcullis_session_reads_total{source=\"route\",outcome=\"active\"}"),
        1.0
    );
    assert_eq!(
        has("portcullis_session_reads_total{source=\"route\",outcome=\"unavailable\"}"),
        0.0
    );
    assert_eq!(
        has("portcullis_request_duration_seconds_count{action=\"session\"}"),
        2.0
    );
    assert!(has("portcullis_request_duration_seconds_count{action=\"csrf\"}") >= 9.0);
    assert_eq!(
        has("portcullis_request_duration_seconds_bucket{action=\"callback\",le=\"+Inf\"}"),
        8.0
    );
    for series in [
        "portcullis_store_duration_seconds_count{store=\"users\",operation=\"user_by_email\"}",
        "portcullis_store_duration_seconds_count{store=\"passwords\",operation=\"password_hash\"}",
        "portcullis_store_duration_seconds_count{store=\"sessions\",operation=\"create_session\"}",
        "portcullis_store_duration_seconds_count{store=\"audit\",operation=\"record_audit_event\"}",
        "portcullis_store_duration_seconds_count{store=\"rate_limiter\",operation=\"hit\"}",
    ] {
        assert!(has(series) >= 1.0, "{series}");
    }
    assert_eq!(has("portcullis_audit_events_total{kind=\"sign_in\"}"), 1.0);
    assert_eq!(
        has("portcullis_audit_events_total{kind=\"sign_in_failed\"}"),
        6.0
    );
    assert_eq!(has("portcullis_audit_events_total{kind=\"sign_out\"}"), 1.0);
    assert_eq!(
        has("portcullis_audit_events_total{kind=\"rate_limited\"}"),
        1.0
    );
    for name in [
        "portcullis_request_duration_seconds histogram",
        "portcullis_signins_total counter",
        "portcullis_session_reads_total counter",
        "portcullis_store_duration_seconds histogram",
        "portcullis_store_errors_total counter",
        "portcullis_rate_limited_total counter",
        "portcullis_audit_events_total counter",
    ] {
        assert!(text.contains(&format!("# TYPE {name}\n")), "{name}");
    }
    // No store failed in this flow.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("portcullis_store_errors_total{")),
        "{text}"
    );
}
