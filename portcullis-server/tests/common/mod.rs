//! Runs the built `portcullis` binary and talks HTTP/1.1 to it over a plain `TcpStream`
//! (a cookie jar, form and JSON bodies; nothing more).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod smtpd;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// Settings the tests must not inherit from the environment.
const SCRUB: &[&str] = &[
    "AUTH_SECRET",
    "AUTH_SECRET_1",
    "AUTH_SECRET_2",
    "AUTH_URL",
    "AUTH_TRUST_HOST",
    "DATABASE_URL",
    "SESSION_STORE_URL",
    "PORTCULLIS_CONFIG",
    "PORTCULLIS_LISTEN",
    "PORTCULLIS_ENV",
    "PORTCULLIS_STRATEGY",
    "PORTCULLIS_SESSION_EXPOSE",
    "PORTCULLIS_SESSION_UPDATABLE",
    "PORTCULLIS_TRUSTED_PROXIES",
    "PORTCULLIS_LOG_FORMAT",
    "PORTCULLIS_SESSION_MAX_AGE",
    "PORTCULLIS_WEBHOOK_URL",
    "PORTCULLIS_WEBHOOK_TIMEOUT_MS",
    "PORTCULLIS_WEBHOOK_CACHE_SECONDS",
    "RUST_LOG",
    "AUTH_EMAIL_SERVER",
    "AUTH_EMAIL_FROM",
    "PORTCULLIS_EMAIL_MAX_AGE_MINUTES",
    "PORTCULLIS_EMAIL_SIGN_UP",
    "PORTCULLIS_SIGN_UP",
];

/// A fresh working directory (the server's `./data` goes inside).
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "portcullis-server-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn command(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir);
    for k in SCRUB {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs a CLI command with `stdin` piped in.
pub fn cli(dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut child = command(dir, env)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `users add` that must succeed.
pub fn add_user(dir: &Path, env: &[(&str, &str)], email: &str, password: &str, attrs: &[&str]) {
    let mut args = vec!["users", "add", email, "--name", "Test User"];
    for a in attrs {
        args.push("--attr");
        args.push(a);
    }
    let out = cli(dir, env, &args, &format!("{password}\n"));
    assert!(
        out.status.success(),
        "users add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Server {
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        // A port picked free may be taken by another test's process before the server binds
        // it: the server then exits at once, and the next attempt takes another port.
        for attempt in 0..3 {
            let port = free_port();
            let listen = format!("127.0.0.1:{port}");
            let mut env = env.to_vec();
            env.push(("PORTCULLIS_LISTEN", &listen));
            // stderr (the server's log) goes to `server.log`, for a failing test to show.
            let log = std::fs::File::create(dir.join("server.log")).unwrap();
            let child = command(dir, &env)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut server = Self {
                child,
                port,
                dir: dir.to_path_buf(),
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && get(port, "/healthz", &Jar::default()).status == 200
                {
                    // Ours, not another test's server on a stolen port: ours is still up.
                    std::thread::sleep(Duration::from_millis(100));
                    if let Ok(None) = server.child.try_wait() {
                        return server;
                    }
                }
                if let Ok(Some(status)) = server.child.try_wait() {
                    assert!(attempt < 2, "the server exited early: {status}");
                    break;
                }
                assert!(Instant::now() < deadline, "the server did not come up");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        unreachable!("three attempts either returned or panicked")
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Default, Clone)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn absorb(&mut self, res: &Res) {
        for sc in res.all("set-cookie") {
            let first = sc.split(';').next().unwrap_or("");
            let Some((k, v)) = first.split_once('=') else {
                continue;
            };
            let expired = sc.to_ascii_lowercase().contains("max-age=0") || v.is_empty();
            if expired {
                self.0.remove(k.trim());
            } else {
                self.0.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Res {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn request(port: u16, method: &str, path: &str, jar: &Jar, body: Option<(&str, &str)>) -> Res {
    request_with(port, method, path, jar, body, &[])
}

/// [`request`] with extra request headers.
pub fn request_with(
    port: u16,
    method: &str,
    path: &str,
    jar: &Jar,
    body: Option<(&str, &str)>,
    extra: &[(&str, &str)],
) -> Res {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !jar.0.is_empty() {
        req.push_str(&format!("Cookie: {}\r\n", jar.header()));
    }
    if let Some((ct, b)) = body {
        req.push_str(&format!(
            "Content-Type: {ct}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some((_, b)) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Res {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

pub fn get(port: u16, path: &str, jar: &Jar) -> Res {
    request(port, "GET", path, jar, None)
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A browser-less client: cookie jar plus the Auth.js REST calls.
pub struct Client {
    pub port: u16,
    pub jar: Jar,
}

impl Client {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            jar: Jar::default(),
        }
    }

    pub fn get(&mut self, path: &str) -> Res {
        let r = get(self.port, path, &self.jar);
        self.jar.absorb(&r);
        r
    }

    pub fn post(&mut self, path: &str, ct: &str, body: &str) -> Res {
        let r = request(self.port, "POST", path, &self.jar, Some((ct, body)));
        self.jar.absorb(&r);
        r
    }

    pub fn csrf(&mut self) -> String {
        self.get("/api/auth/csrf").json()["csrfToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// POST callback/credentials; the response (302 on success and on failure).
    pub fn sign_in(&mut self, field: &str, email: &str, password: &str) -> Res {
        let t = self.csrf();
        let body = form(&[
            ("csrfToken", &t),
            (field, email),
            ("password", password),
            ("callbackUrl", "/"),
        ]);
        self.post(
            "/api/auth/callback/credentials",
            "application/x-www-form-urlencoded",
            &body,
        )
    }

    pub fn session(&mut self) -> serde_json::Value {
        let r = self.get("/api/auth/session");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub fn update(&mut self, data: &serde_json::Value) -> serde_json::Value {
        let t = self.csrf();
        let body = serde_json::json!({ "csrfToken": t, "data": data }).to_string();
        let r = self.post("/api/auth/session", "application/json", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub fn sign_out(&mut self) -> Res {
        let t = self.csrf();
        self.post(
            "/api/auth/signout",
            "application/x-www-form-urlencoded",
            &form(&[("csrfToken", &t)]),
        )
    }
}

/// A service URL from the environment (or the default), if reachable. Under
/// `PORTCULLIS_REQUIRE_SERVICES=1` an unreachable service fails the test.
pub fn service(var: &str, default: &str) -> Option<String> {
    let url = std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned());
    let rest = url.split("://").nth(1).unwrap_or("");
    let hostport = rest
        .rsplit('@')
        .next()
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("");
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    if reachable {
        return Some(url);
    }
    if std::env::var("PORTCULLIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{var}: {url} is unreachable and PORTCULLIS_REQUIRE_SERVICES=1");
    }
    eprintln!("note: skipped: {var} ({url}) is unreachable");
    None
}
