//! Email sign-in end to end: the `portcullis` binary sends through a real SMTP server on
//! loopback (aiosmtpd); the test reads the mail, follows the link, ends signed in, and a
//! second use of the link fails with `Verification`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::smtpd::{Smtpd, header, link};
use common::{Client, Server, cli, temp_dir};
use serde_json::{Value, json};

const FROM: &str = "Portcullis <no-reply@example.com>";

fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}?{}", u.path(), u.query().unwrap_or_default())
}

fn request_link(c: &mut Client, email: &str) -> common::Res {
    let t = c.csrf();
    c.post(
        "/api/auth/signin/email",
        "application/x-www-form-urlencoded",
        &common::form(&[("csrfToken", &t), ("email", email), ("callbackUrl", "/")]),
    )
}

fn run(strategy: &str) {
    let dir = temp_dir(&format!("email-{strategy}"));
    let Some(smtpd) = Smtpd::start(&dir) else {
        return;
    };
    let server_url = smtpd.url();
    let env = [
        ("PORTCULLIS_STRATEGY", strategy),
        ("AUTH_EMAIL_SERVER", server_url.as_str()),
        ("AUTH_EMAIL_FROM", FROM),
    ];
    let server = Server::start(&dir, &env);
    let port = server.port;

    // The provider is listed.
    let mut c = Client::new(port);
    let providers = c.get("/api/auth/providers").json();
    assert_eq!(providers["email"]["type"], json!("email"), "{providers}");

    // Request a link with a non-canonical spelling: the mail goes to the canonical address.
    let res = request_link(&mut c, "  Mail.User@Example.COM ");
    assert_eq!(res.status, 302, "{res:?}");
    assert!(
        res.header("location")
            .unwrap()
            .ends_with("/api/auth/verify-request?provider=email&type=email"),
        "{res:?}"
    );
    let mail = smtpd.wait_for(1).remove(0);
    assert_eq!(header(&mail, "To"), Some("mail.user@example.com"), "{mail}");
    assert_eq!(
        header(&mail, "X-RcptTo"),
        Some("mail.user@example.com"),
        "{mail}"
    );
    assert!(
        header(&mail, "From")
            .unwrap()
            .contains("no-reply@example.com")
    );
    assert!(
        header(&mail, "Content-Type")
            .unwrap()
            .contains("multipart/alternative"),
        "{mail}"
    );
    let url = link(&mail, "http://localhost:").expect("a link in the mail");
    assert!(url.contains("/api/auth/callback/email?"), "{url}");

    // Follow it: signed in as the canonical address.
    let mut browser = Client::new(port);
    let res = browser.get(&path_of(&url));
    assert_eq!(res.status, 302, "{res:?}");
    assert!(
        !res.header("location").unwrap().contains("error"),
        "{res:?}"
    );
    let s = browser.session();
    assert_eq!(s["user"]["email"], json!("mail.user@example.com"), "{s}");

    // Again: Verification, no session.
    let mut again = Client::new(port);
    let res = again.get(&path_of(&url));
    assert!(
        res.header("location")
            .unwrap()
            .ends_with("/api/auth/error?error=Verification"),
        "{res:?}"
    );
    assert_eq!(again.session(), Value::Null);

    // The user exists once, with a verified address (`users list`).
    let out = cli(&dir, &env, &["users", "list"], "");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        listed.matches("mail.user@example.com").count(),
        1,
        "{listed}"
    );

    // A hostile address sends nothing.
    let res = request_link(&mut c, "a@x.com,b@y.com");
    assert!(
        res.header("location").unwrap().contains("error="),
        "{res:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(smtpd.messages().len(), 1);
    server.stop();
}

#[test]
fn magic_link_with_jwt_sessions_over_real_smtp() {
    run("jwt");
}

#[test]
fn magic_link_with_database_sessions_over_real_smtp() {
    run("database");
}

fn listed_user(dir: &std::path::Path, env: &[(&str, &str)], email: &str) -> Value {
    let out = cli(dir, env, &["users", "list"], "");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|u| u["email"] == json!(email))
        .unwrap_or(Value::Null)
}

fn post_form(c: &mut Client, path: &str, pairs: &[(&str, &str)]) -> common::Res {
    let t = c.csrf();
    let mut all = vec![("csrfToken", t.as_str())];
    all.extend_from_slice(pairs);
    c.post(
        path,
        "application/x-www-form-urlencoded",
        &common::form(&all),
    )
}

/// Sign-up with a verification mail, then a password reset by mail, over real SMTP.
#[test]
fn sign_up_verification_and_password_reset_over_real_smtp() {
    let dir = temp_dir("email-passwords");
    let Some(smtpd) = Smtpd::start(&dir) else {
        return;
    };
    let server_url = smtpd.url();
    let env = [
        ("AUTH_EMAIL_SERVER", server_url.as_str()),
        ("AUTH_EMAIL_FROM", FROM),
        ("PORTCULLIS_SIGN_UP", "true"),
    ];
    let server = Server::start(&dir, &env);
    let port = server.port;
    let email = "new.user@example.com";

    // Sign-up: the same answer as for a taken address; one verification mail.
    let mut c = Client::new(port);
    let res = post_form(
        &mut c,
        "/api/auth/signup",
        &[
            ("email", "New.User@Example.com"),
            ("password", "first password 1"),
            ("name", "New"),
        ],
    );
    assert_eq!(res.status, 302, "{res:?}");
    assert!(
        res.header("location")
            .unwrap()
            .contains("/api/auth/verify-request?provider=credentials&type=signup"),
        "{res:?}"
    );
    let mail = smtpd.wait_for(1).remove(0);
    assert_eq!(header(&mail, "X-RcptTo"), Some(email), "{mail}");
    assert!(
        header(&mail, "Subject").unwrap().contains("Confirm"),
        "{mail}"
    );
    let verify = link(&mail, "http://localhost:").expect("a link");
    assert!(verify.contains("/api/auth/verify-email?"), "{verify}");
    assert_eq!(
        listed_user(&dir, &env, email)["email_verified"],
        json!(false)
    );
    let res = Client::new(port).get(&path_of(&verify));
    assert_eq!(res.status, 302, "{res:?}");
    assert!(
        !res.header("location").unwrap().contains("error"),
        "{res:?}"
    );
    assert_eq!(
        listed_user(&dir, &env, email)["email_verified"],
        json!(true)
    );
    let again = Client::new(port).get(&path_of(&verify));
    assert!(
        again
            .header("location")
            .unwrap()
            .ends_with("error=Verification"),
        "{again:?}"
    );

    // Sign in with the password; keep that session.
    let mut old = Client::new(port);
    let res = old.sign_in("email", email, "first password 1");
    assert!(
        !res.header("location").unwrap().contains("error"),
        "{res:?}"
    );
    assert_eq!(old.session()["user"]["email"], json!(email));

    // A taken address: the same answer, no mail.
    let res = post_form(
        &mut Client::new(port),
        "/api/auth/signup",
        &[("email", email), ("password", "attacker password")],
    );
    assert!(
        res.header("location").unwrap().contains("type=signup"),
        "{res:?}"
    );

    // Forgot password → mail → the form → a new password.
    let res = post_form(
        &mut Client::new(port),
        "/api/auth/forgot-password",
        &[("email", email)],
    );
    assert!(
        res.header("location")
            .unwrap()
            .contains("type=password-reset"),
        "{res:?}"
    );
    let mail = smtpd.wait_for(2).remove(1);
    assert_eq!(header(&mail, "X-RcptTo"), Some(email), "{mail}");
    assert!(
        header(&mail, "Subject").unwrap().contains("Reset"),
        "{mail}"
    );
    let reset = link(&mail, "http://localhost:").expect("a link");
    assert!(reset.contains("/api/auth/reset-password?"), "{reset}");
    let mut browser = Client::new(port);
    let page = browser.get(&path_of(&reset));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    let u = url::Url::parse(&reset).unwrap();
    let q = |k: &str| {
        u.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let res = post_form(
        &mut browser,
        "/api/auth/reset-password",
        &[
            ("token", &q("token")),
            ("email", &q("email")),
            ("password", "second password 2"),
        ],
    );
    assert!(
        res.header("location")
            .unwrap()
            .contains("/api/auth/signin?reset=1"),
        "{res:?}"
    );
    // The old session ended; the old password fails; the new one works; the link is spent.
    assert_eq!(old.session(), Value::Null);
    let res = Client::new(port).sign_in("email", email, "first password 1");
    assert!(
        res.header("location")
            .unwrap()
            .contains("CredentialsSignin"),
        "{res:?}"
    );
    let mut fresh = Client::new(port);
    let res = fresh.sign_in("email", email, "second password 2");
    assert!(
        !res.header("location").unwrap().contains("error"),
        "{res:?}"
    );
    let res = post_form(
        &mut Client::new(port),
        "/api/auth/reset-password",
        &[
            ("token", &q("token")),
            ("email", &q("email")),
            ("password", "third password 3"),
        ],
    );
    assert!(
        res.header("location")
            .unwrap()
            .ends_with("error=Verification"),
        "{res:?}"
    );
    assert_eq!(smtpd.messages().len(), 2, "no mail for the taken address");
    server.stop();
}

#[test]
fn email_settings_problems_are_reported_at_startup() {
    let dir = temp_dir("email-config");
    for (env, expect) in [
        (
            vec![("AUTH_EMAIL_SERVER", "smtp://127.0.0.1:2525")],
            "AUTH_EMAIL_FROM",
        ),
        (vec![("AUTH_EMAIL_FROM", FROM)], "AUTH_EMAIL_SERVER"),
        (
            vec![
                ("AUTH_EMAIL_SERVER", "ftp://mail.example.com"),
                ("AUTH_EMAIL_FROM", FROM),
            ],
            "AUTH_EMAIL_SERVER",
        ),
        (
            vec![
                ("AUTH_EMAIL_SERVER", "log"),
                ("AUTH_EMAIL_FROM", FROM),
                ("PORTCULLIS_ENV", "production"),
                ("AUTH_SECRET", "0123456789abcdef0123456789abcdef0123"),
                ("AUTH_URL", "https://auth.example.com"),
            ],
            "not allowed in production",
        ),
        (vec![("PORTCULLIS_SIGN_UP", "true")], "PORTCULLIS_SIGN_UP"),
    ] {
        let out = cli(&dir, &env, &["check"], "");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env:?} was accepted");
        assert!(err.contains(expect), "{env:?}: {err}");
    }
}
