//! End-to-end tests against the built `portcullis` binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Client, Server, add_user, cli, command, service, temp_dir};
use serde_json::{Value, json};

fn unique_email(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{nanos}@example.com")
}

/// The REST flow every store runs: sign in (with `username`, then `email`), the session
/// shows the exposed attribute only, an update changes only the updatable field, failures
/// are indistinguishable, sign-out ends the session, `users disable` ends it too.
fn full_flow(server: &Server, env: &[(&str, &str)], email: &str) {
    let port = server.port;
    let mut c = Client::new(port);
    assert_eq!(c.session(), Value::Null, "no session before sign-in");

    let ok = c.sign_in("username", &email.to_uppercase(), "correct horse battery");
    assert_eq!(ok.status, 302, "{ok:?}");
    let loc = ok.header("location").unwrap();
    assert!(!loc.contains("error"), "sign-in failed: {loc}");

    let s = c.session();
    assert_eq!(s["user"]["email"], json!(email));
    assert_eq!(s["user"]["name"], json!("Test User"));
    assert_eq!(s["user"]["role"], json!("admin"), "{s}");
    assert!(s["user"]["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(s["user"].get("secret_note").is_none(), "not exposed: {s}");

    // Update: `name` may change; `role` and `id` may not.
    let u = c.update(&json!({"name": "Renamed", "role": "root", "id": "x"}));
    assert_eq!(u["user"]["name"], json!("Renamed"), "{u}");
    assert_eq!(u["user"]["role"], json!("admin"));
    assert_ne!(u["user"]["id"], json!("x"));
    let s = c.session();
    assert_eq!(s["user"]["name"], json!("Renamed"), "persisted: {s}");
    assert_eq!(s["user"]["role"], json!("admin"));

    // The demo pages.
    let home = c.get("/");
    assert!(home.body.contains("Signed in as"), "{}", home.body);
    assert!(
        home.body.contains("&quot;role&quot;"),
        "session JSON, escaped"
    );
    assert_eq!(c.get("/protected").status, 200);

    // Wrong password, unknown user and (below) disabled user: the same answer.
    let mut other = Client::new(port);
    let wrong = other.sign_in("username", email, "wrong password!");
    let mut other = Client::new(port);
    let unknown = other.sign_in("email", &unique_email("nobody"), "correct horse battery");
    assert_eq!(wrong.status, 302);
    assert_eq!(
        (wrong.status, wrong.header("location"), &wrong.body),
        (unknown.status, unknown.header("location"), &unknown.body)
    );
    assert!(
        wrong
            .header("location")
            .unwrap()
            .contains("error=CredentialsSignin")
    );
    assert_eq!(other.session(), Value::Null);

    // Sign-out.
    let out = c.sign_out();
    assert_eq!(out.status, 302, "{out:?}");
    assert_eq!(c.session(), Value::Null);
    let p = c.get("/protected");
    assert_eq!(p.status, 302, "protected page redirects when signed out");

    // Sign in with the `email` field, then disable the user: the session ends.
    let mut d = Client::new(port);
    let r = d.sign_in("email", email, "correct horse battery");
    assert!(!r.header("location").unwrap().contains("error"));
    assert_ne!(d.session(), Value::Null);
    let out = cli(&server.dir, env, &["users", "disable", email], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // JWT revocation is cached for a few seconds in the server.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while d.session() != Value::Null {
        assert!(
            std::time::Instant::now() < deadline,
            "disable did not end the session"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let mut e = Client::new(port);
    let disabled = e.sign_in("username", email, "correct horse battery");
    assert_eq!(
        (disabled.status, disabled.header("location"), &disabled.body),
        (wrong.status, wrong.header("location"), &wrong.body)
    );
}

fn serve_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("PORTCULLIS_SESSION_EXPOSE", "role"),
        ("PORTCULLIS_SESSION_UPDATABLE", "name"),
    ];
    env.extend_from_slice(extra);
    env
}

#[test]
fn sqlite_database_sessions_end_to_end() {
    let dir = temp_dir("sqlite");
    let env = serve_env(&[]);
    let email = unique_email("alice");
    add_user(
        &dir,
        &env,
        &email,
        "correct horse battery",
        &["role=admin", "secret_note=hidden"],
    );
    let list = cli(&dir, &env, &["users", "list"], "");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains(&email) && text.contains("\"role\":\"admin\""),
        "{text}"
    );
    assert!(!text.contains("argon2"), "no hashes in the listing");

    let server = Server::start(&dir, &env);
    let mut c = Client::new(server.port);
    assert_eq!(c.get("/healthz").status, 200);
    assert_eq!(c.get("/readyz").status, 200);
    let home = c.get("/");
    assert!(home.body.contains("Not signed in"));
    assert_eq!(home.header("x-content-type-options"), Some("nosniff"));
    assert!(
        home.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(home.header("referrer-policy").is_some());
    full_flow(&server, &env, &email);
    assert!(server.stop().success(), "SIGTERM: clean exit 0");
}

#[test]
fn jwt_sessions_end_to_end() {
    let dir = temp_dir("jwt");
    let env = serve_env(&[("PORTCULLIS_STRATEGY", "jwt")]);
    let email = unique_email("jwt");
    add_user(
        &dir,
        &env,
        &email,
        "correct horse battery",
        &["role=admin", "secret_note=hidden"],
    );
    let server = Server::start(&dir, &env);
    full_flow(&server, &env, &email);
}

#[test]
fn dev_secret_is_created_0600_and_reused() {
    let dir = temp_dir("secret");
    let env = serve_env(&[]);
    let email = unique_email("reuse");
    add_user(&dir, &env, &email, "correct horse battery", &["role=admin"]);
    let server = Server::start(&dir, &env);
    let path = dir.join("data/secret");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.trim().len() >= 32);
    let mut c = Client::new(server.port);
    c.sign_in("username", &email, "correct horse battery");
    assert_ne!(c.session(), Value::Null);
    assert!(server.stop().success());

    let server = Server::start(&dir, &env);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first, "reused");
    c.port = server.port;
    assert_eq!(
        c.session()["user"]["email"],
        json!(email),
        "the session survives"
    );
    assert!(server.stop().success());
}

/// Runs `portcullis check`-like startup with a bad setting: non-zero exit, exactly one
/// `error:` line on stderr naming `key`.
fn bad_config(env: &[(&str, &str)], args: &[&str], toml: Option<&str>, key: &str, words: &str) {
    let dir = temp_dir("bad");
    if let Some(t) = toml {
        std::fs::write(dir.join("portcullis.toml"), t).unwrap();
    }
    let out = command(&dir, env).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{key}: must fail");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{key}: one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(key), "names {key}: {stderr}");
    assert!(lines[0].contains(words), "says {words}: {stderr}");
}

#[test]
fn bad_configuration_is_one_line_and_non_zero() {
    let url = ("AUTH_URL", "https://auth.example.com");
    bad_config(
        &[url],
        &["--production"],
        None,
        "AUTH_SECRET",
        "missing in production",
    );
    bad_config(
        &[url, ("PORTCULLIS_ENV", "production")],
        &[],
        None,
        "AUTH_SECRET",
        "missing",
    );
    bad_config(
        &[("AUTH_SECRET", "too-short")],
        &[],
        None,
        "AUTH_SECRET",
        "at least 32",
    );
    bad_config(
        &[("DATABASE_URL", "sqlite:///dev/null/nope/portcullis.db")],
        &[],
        None,
        "DATABASE_URL",
        "cannot",
    );
    bad_config(
        &[],
        &[],
        Some("listen = \"127.0.0.1:0\"\nlisten_port = 3\n"),
        "portcullis.toml",
        "unknown field",
    );
    bad_config(
        &[],
        &[],
        Some("[session]\nprovider = \"x\"\n"),
        "portcullis.toml",
        "unknown field",
    );
    bad_config(
        &[],
        &[],
        Some("listen = \n"),
        "portcullis.toml",
        "malformed TOML",
    );
    bad_config(
        &[("PORTCULLIS_STRATEGY", "cookies")],
        &[],
        None,
        "PORTCULLIS_STRATEGY",
        "jwt",
    );
    bad_config(
        &[("DATABASE_URL", "mysql://x")],
        &[],
        None,
        "DATABASE_URL",
        "postgres",
    );
    // SECURITY.md CFG-02: an OIDC provider without issuer or endpoints never starts.
    bad_config(
        &[("AUTH_OIDC_ID", "client"), ("AUTH_OIDC_SECRET", "secret")],
        &[],
        None,
        "AUTH_OIDC_ISSUER",
        "missing",
    );
    bad_config(
        &[
            ("AUTH_KEYCLOAK_ID", "client"),
            ("AUTH_KEYCLOAK_SECRET", "secret"),
        ],
        &[],
        None,
        "AUTH_KEYCLOAK_ISSUER",
        "missing",
    );
    bad_config(
        &[],
        &[],
        Some("[[oauth.providers]]\nid = \"corp\"\nclient_id = \"c\"\nclient_secret = \"s\"\n"),
        "corp",
        "no issuer",
    );
    bad_config(
        &[
            ("AUTH_OIDC_ISSUER", "http://idp.example.com"),
            ("AUTH_OIDC_ID", "client"),
            ("AUTH_OIDC_SECRET", "secret"),
        ],
        &[],
        None,
        "oidc",
        "plain http",
    );
    bad_config(
        &[
            ("AUTH_OIDC_ISSUER", "https://idp.example.com"),
            ("AUTH_OIDC_ID", "client"),
        ],
        &[],
        None,
        "AUTH_OIDC_SECRET",
        "no client secret",
    );
    bad_config(
        &[("PORTCULLIS_CONFIG", "/nonexistent/p.toml")],
        &[],
        None,
        "PORTCULLIS_CONFIG",
        "cannot read",
    );
}

#[test]
fn cli_secret_check_and_password_rules() {
    let dir = temp_dir("cli");
    let out = cli(&dir, &[], &["secret"], "");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && s.trim().len() >= 32);
    let out = cli(&dir, &[], &["check"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok"));
    // Too short a password is refused before hashing; nothing is stored.
    let out = cli(&dir, &[], &["users", "add", "short@example.com"], "short\n");
    assert!(!out.status.success());
    let list = cli(&dir, &[], &["users", "list"], "");
    assert!(!String::from_utf8_lossy(&list.stdout).contains("short@example.com"));
    // A reserved attribute name is refused.
    let out = cli(
        &dir,
        &[],
        &["users", "add", "a@example.com", "--attr", "id=1"],
        "long enough pw\n",
    );
    assert!(!out.status.success());
    // set-password: the new password works, the old one no longer does.
    add_user(&dir, &[], "pw@example.com", "first password", &[]);
    let out = cli(
        &dir,
        &[],
        &["users", "set-password", "pw@example.com"],
        "second password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&dir, &[]);
    let mut c = Client::new(server.port);
    let r = c.sign_in("username", "pw@example.com", "first password");
    assert!(r.header("location").unwrap().contains("error"));
    let r = c.sign_in("username", "pw@example.com", "second password");
    assert!(!r.header("location").unwrap().contains("error"));
    assert_ne!(c.session(), Value::Null);
}

#[test]
fn postgres_database_sessions() {
    let Some(pg) = service(
        "PORTCULLIS_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    ) else {
        return;
    };
    let dir = temp_dir("pg");
    let env = serve_env(&[("DATABASE_URL", &pg)]);
    let email = unique_email("pg");
    add_user(
        &dir,
        &env,
        &email,
        "correct horse battery",
        &["role=admin", "secret_note=hidden"],
    );
    let server = Server::start(&dir, &env);
    full_flow(&server, &env, &email);
}

#[test]
fn redis_sessions_with_sqlite_users() {
    let Some(redis) = service("PORTCULLIS_TEST_REDIS_URL", "redis://127.0.0.1:6379") else {
        return;
    };
    let dir = temp_dir("redis");
    let env = serve_env(&[("SESSION_STORE_URL", &redis)]);
    let email = unique_email("redis");
    add_user(
        &dir,
        &env,
        &email,
        "correct horse battery",
        &["role=admin", "secret_note=hidden"],
    );
    let server = Server::start(&dir, &env);
    full_flow(&server, &env, &email);
}
