//! `SmtpSender` against a real SMTP server: aiosmtpd (PyPI), started for each test on a free
//! loopback port with its Maildir handler, which stores every message it accepts with the
//! SMTP envelope added as `X-MailFrom` / `X-RcptTo` headers. The stored files are read back
//! with Python's `email` package, an independent MIME parser that also undoes the
//! quoted-printable or base64 transfer encoding lettre chose.
//!
//! The Python comes from `PORTCULLIS_SMTPD_PYTHON` (a python executable that can import
//! aiosmtpd: `python3 -m venv /tmp/venv-smtp && /tmp/venv-smtp/bin/pip install aiosmtpd`).
//! Without it each test says so and returns, unless `PORTCULLIS_REQUIRE_SERVICES=1`, when it
//! fails.
#![cfg(feature = "email")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BASE, Harness, Jar, ORIGIN, Req, SECRET, post_form};
use http::StatusCode;
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::email::{EmailKind, EmailMessage, SendError, Sender, SmtpSecurity, SmtpSender};
use portcullis::{Auth, AuthConfig, Compat, DefaultCallbacks, Email};
use serde_json::Value;

const FROM: &str = "Portcullis <no-reply@example.com>";

// ---------------------------------------------------------------------------------------
// The server

/// The Python that runs aiosmtpd, or `None` (after saying why) when the tests should skip.
fn smtpd_python() -> Option<PathBuf> {
    match std::env::var_os("PORTCULLIS_SMTPD_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ if std::env::var("PORTCULLIS_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "PORTCULLIS_REQUIRE_SERVICES=1 but PORTCULLIS_SMTPD_PYTHON is not set: point it at \
             a python with aiosmtpd (python3 -m venv /tmp/venv-smtp && \
             /tmp/venv-smtp/bin/pip install aiosmtpd)"
        ),
        _ => {
            eprintln!(
                "skipped: PORTCULLIS_SMTPD_PYTHON is not set (a python with aiosmtpd runs the \
                 SMTP server of these tests)"
            );
            None
        }
    }
}

/// How the test server protects connections.
#[derive(Clone, Copy)]
enum ServerTls<'a> {
    /// Plain SMTP, no STARTTLS offered.
    None,
    /// STARTTLS offered (and required before `MAIL`) with this identity.
    StartTls(&'a Identity),
    /// Implicit TLS (SMTPS) with this identity.
    Implicit(&'a Identity),
}

/// One aiosmtpd process and its Maildir; killed and removed on drop.
struct Smtpd {
    child: Child,
    python: PathBuf,
    port: u16,
    /// Holds `mail/` (the Maildir) and `smtpd.log`.
    dir: PathBuf,
}

impl Smtpd {
    /// Starts aiosmtpd on a free loopback port and waits (bounded) until it greets.
    fn start(python: &Path) -> Self {
        Self::start_with(python, ServerTls::None)
    }

    /// As [`start`](Self::start), with TLS.
    fn start_with(python: &Path, tls: ServerTls<'_>) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "portcullis-smtpd-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = std::fs::File::create(dir.join("smtpd.log")).unwrap();
        let mut command = Command::new(python);
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"));
        let (flags, identity) = match tls {
            ServerTls::None => (None, None),
            ServerTls::StartTls(id) => (Some(["--tlscert", "--tlskey"]), Some(id)),
            ServerTls::Implicit(id) => (Some(["--smtpscert", "--smtpskey"]), Some(id)),
        };
        if let (Some([cert_flag, key_flag]), Some(identity)) = (flags, identity) {
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            std::fs::write(&cert, &identity.cert_pem).unwrap();
            std::fs::write(&key, &identity.key_pem).unwrap();
            command.arg(cert_flag).arg(cert).arg(key_flag).arg(key);
        }
        let child = command
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("mail"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        let mut server = Self {
            child,
            python: python.to_owned(),
            port,
            dir,
        };
        // An SMTPS server greets only inside TLS: for it, an accepted connection will do.
        server.wait_until_ready(!matches!(tls, ServerTls::Implicit(_)));
        server
    }

    fn wait_until_ready(&mut self, greets_in_clear: bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "aiosmtpd exited ({status}) before accepting connections:\n{}",
                    self.log()
                );
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                if !greets_in_clear {
                    return;
                }
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut greeting = [0u8; 3];
                if s.read_exact(&mut greeting).is_ok() && &greeting == b"220" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not greet on 127.0.0.1:{} within 30 s:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("smtpd.log")).unwrap_or_default()
    }

    /// `smtp://127.0.0.1:PORT` plus `suffix`.
    fn url(&self, suffix: &str) -> String {
        format!("smtp://127.0.0.1:{}{suffix}", self.port)
    }

    fn count(&self) -> usize {
        std::fs::read_dir(self.dir.join("mail").join("new")).map_or(0, Iterator::count)
    }

    /// Every stored message, parsed by Python's `email` package (see [`READER`]).
    fn messages(&self) -> Vec<Stored> {
        let out = Command::new(&self.python)
            .args(["-c", READER])
            .arg(self.dir.join("mail"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "reader failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all: Value = serde_json::from_slice(&out.stdout).unwrap();
        all.as_array().unwrap().iter().map(Stored::from).collect()
    }

    /// Waits (bounded, generously) until `n` messages are stored.
    async fn wait_for(&self, n: usize) -> Vec<Stored> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.count() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all = self.messages();
        assert_eq!(all.len(), n, "stored messages; server log:\n{}", self.log());
        all
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Prints the Maildir's messages as JSON: headers decoded (RFC 2047), bodies decoded
/// (transfer encoding and charset).
const READER: &str = r#"
import email, email.policy, json, os, sys
d = os.path.join(sys.argv[1], "new")
out = []
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    parts = [
        {"type": p.get_content_type(), "encoding": p.get("Content-Transfer-Encoding"),
         "body": p.get_content()}
        for p in m.walk() if not p.is_multipart()
    ]
    out.append({
        "to": [str(v) for v in m.get_all("To", [])],
        "cc": m.get_all("Cc", []), "bcc": m.get_all("Bcc", []),
        "from": str(m["From"]), "subject": str(m["Subject"]),
        "mail_from": m["X-MailFrom"], "rcpt_to": m["X-RcptTo"],
        "type": m.get_content_type(), "message_id": m["Message-ID"],
        "auto_submitted": m["Auto-Submitted"], "parts": parts,
    })
json.dump(out, sys.stdout)
"#;

/// One stored message.
#[derive(Debug)]
struct Stored {
    to: Vec<String>,
    cc_bcc: usize,
    from: String,
    subject: String,
    mail_from: String,
    rcpt_to: String,
    content_type: String,
    message_id: String,
    auto_submitted: String,
    /// (content type, transfer encoding, decoded body)
    parts: Vec<(String, String, String)>,
}

impl From<&Value> for Stored {
    fn from(v: &Value) -> Self {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Self {
            to: v["to"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect(),
            cc_bcc: v["cc"].as_array().map_or(0, Vec::len)
                + v["bcc"].as_array().map_or(0, Vec::len),
            from: s("from"),
            subject: s("subject"),
            mail_from: s("mail_from"),
            rcpt_to: s("rcpt_to"),
            content_type: s("type"),
            message_id: s("message_id"),
            auto_submitted: s("auto_submitted"),
            parts: v["parts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let f = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
                    (f("type"), f("encoding"), f("body"))
                })
                .collect(),
        }
    }
}

impl Stored {
    fn part(&self, content_type: &str) -> &str {
        self.parts
            .iter()
            .find(|(t, _, _)| t == content_type)
            .map(|(_, _, body)| body.as_str())
            .unwrap_or_else(|| panic!("no {content_type} part in {self:?}"))
    }

    /// The checks every message must pass: exactly one recipient, in the header and the
    /// envelope; From as configured; text and HTML alternatives.
    fn assert_delivered_to(&self, to: &str) {
        assert_eq!(self.rcpt_to, to, "envelope recipient");
        assert_eq!(self.to, [to], "To header");
        assert_eq!(self.cc_bcc, 0);
        assert_eq!(self.from, FROM);
        assert_eq!(self.mail_from, "no-reply@example.com", "envelope sender");
        assert_eq!(self.content_type, "multipart/alternative");
        let types: Vec<&str> = self.parts.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(types, ["text/plain", "text/html"]);
        assert!(
            self.message_id.starts_with('<') && self.message_id.ends_with("@example.com>"),
            "{}",
            self.message_id
        );
        assert_eq!(self.auto_submitted, "auto-generated");
    }
}

// ---------------------------------------------------------------------------------------
// Messages, as portcullis makes them

/// Keeps every message it is given.
#[derive(Clone, Default)]
struct Outbox(Arc<Mutex<Vec<EmailMessage>>>);

#[portcullis::async_trait]
impl Sender for Outbox {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

/// An `Auth` with the email provider delivering through `sender`.
fn harness(sender: impl Sender) -> Harness {
    let users = Arc::new(MemoryAdapter::new());
    let config = AuthConfig::builder(DefaultCallbacks)
        .url(ORIGIN)
        .secret(SECRET)
        .user_adapter(users.clone())
        .verification_token_adapter(users)
        .email(Email::new(sender))
        .build()
        .expect("valid email configuration");
    Harness::new(
        Auth::new(config),
        ORIGIN,
        Compat::V5,
        SECRET,
        Arc::default(),
    )
}

/// `POST /signin/email` for `email`.
async fn request_link(h: &Harness, email: &str) -> Jar {
    let mut jar = Jar::default();
    let csrf = h.csrf(&mut jar).await;
    let res = h
        .send(
            post_form(
                "/signin/email",
                &[
                    ("csrfToken", &csrf),
                    ("email", email),
                    ("callbackUrl", "/dashboard"),
                ],
            )
            .jar(&jar),
        )
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    jar
}

/// A sign-in message rendered by portcullis (its fields are public but the type is
/// `#[non_exhaustive]`, so an outside test gets one from the provider).
async fn rendered_message() -> EmailMessage {
    let outbox = Outbox::default();
    let h = harness(outbox.clone());
    request_link(&h, "template@example.com").await;
    for _ in 0..500 {
        if let Some(m) = outbox.0.lock().unwrap().first() {
            return m.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the email provider produced no message");
}

/// An error and its sources, in `Debug` form (lettre's `Display` leaves out the details).
fn causes(err: &SendError) -> String {
    let mut all = format!("{err:?}");
    let mut next = std::error::Error::source(err);
    while let Some(e) = next {
        all.push_str(&format!(" <- {e} {e:?}"));
        next = e.source();
    }
    all
}

/// The `&`-escaped form of a link, as it appears in an HTML attribute.
fn html_escaped(url: &url::Url) -> String {
    url.as_str().replace('&', "&amp;").replace('\'', "&#39;")
}

/// A server certificate and key, issued by a throwaway CA.
struct Identity {
    cert_pem: String,
    key_pem: String,
}

/// A fresh CA (its certificate in PEM) and a server identity it issued for `names`.
fn test_pki(names: &[&str]) -> (String, Identity) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "portcullis SMTP test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);

    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut leaf = CertificateParams::new(names).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "portcullis SMTP test server");
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let cert_pem = leaf.signed_by(&leaf_key, &issuer).unwrap().pem();
    (
        ca_pem,
        Identity {
            cert_pem,
            key_pem: leaf_key.serialize_pem(),
        },
    )
}

// ---------------------------------------------------------------------------------------
// The tests

#[tokio::test]
async fn a_sign_in_link_crosses_smtp_intact_and_signs_in() {
    let Some(python) = smtpd_python() else { return };
    let server = Smtpd::start(&python);
    let smtp = SmtpSender::from_url(&server.url(""), FROM).unwrap();
    assert_eq!(smtp.security(), SmtpSecurity::Plain);
    let h = harness(smtp);

    request_link(&h, "Alice@Example.COM").await;
    let mail = server.wait_for(1).await.remove(0);
    mail.assert_delivered_to("alice@example.com");
    assert_eq!(mail.subject, "Sign in to app.example");

    // The link, found in the decoded text part, appears exactly once there and escaped in
    // the HTML part; long HTML lines mean a transfer encoding had to be undone.
    let text = mail.part("text/plain");
    let link = text
        .lines()
        .find(|l| l.starts_with(ORIGIN))
        .unwrap_or_else(|| panic!("no link in {text}"));
    let url = url::Url::parse(link).unwrap();
    assert_eq!(text.matches(link).count(), 1);
    assert_eq!(url.path(), format!("{BASE}/callback/email"));
    let html = mail.part("text/html");
    assert!(
        html.contains(&format!("href=\"{}\"", html_escaped(&url))),
        "{html}"
    );
    assert!(
        html.contains("Sign in to <strong>app&#8203;.example</strong>"),
        "{html}"
    );
    let html_encoding = &mail.parts[1].1;
    assert!(
        html_encoding == "quoted-printable" || html_encoding == "base64",
        "{html_encoding}"
    );

    // The link that came out of the mailbox signs in.
    let res = h
        .send(Req::new(
            http::Method::GET,
            &format!("{}?{}", url.path(), url.query().unwrap_or_default()),
        ))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    assert!(
        res.written().iter().any(|c| h.is_session_cookie(&c.name)),
        "no session cookie: {res:?}"
    );
}

#[tokio::test]
async fn each_kind_reaches_exactly_its_canonical_recipient() {
    let Some(python) = smtpd_python() else { return };
    let server = Smtpd::start(&python);
    let smtp = SmtpSender::from_url(&server.url(""), FROM)
        .unwrap()
        .timeout(Duration::from_secs(60));
    let template = rendered_message().await;

    let kinds = [
        (EmailKind::SignIn, "sign-in@example.com"),
        (EmailKind::VerifyEmail, "verify@example.com"),
        (EmailKind::PasswordReset, "reset@xn--bcher-kva.example"),
    ];
    // One sender for all: the second and third reuse the pooled connection.
    for (kind, to) in kinds {
        let mut m = template.clone();
        m.kind = kind;
        m.to = to.to_owned();
        m.subject = format!("{} — für app.example", kind.as_str());
        smtp.send(&m)
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }

    let stored = server.wait_for(kinds.len()).await;
    for (kind, to) in kinds {
        let mail = stored
            .iter()
            .find(|m| m.rcpt_to == to)
            .unwrap_or_else(|| panic!("nothing for {to}: {stored:?}"));
        mail.assert_delivered_to(to);
        assert_eq!(mail.subject, format!("{} — für app.example", kind.as_str()));
        let text = mail.part("text/plain");
        assert_eq!(text.matches(template.url.as_str()).count(), 1, "{text}");
        assert_eq!(text, template.text);
        let html = mail.part("text/html");
        assert_eq!(html, template.html);
        assert!(html.contains(&html_escaped(&template.url)));
    }
}

#[tokio::test]
async fn a_recipient_that_is_not_canonical_reaches_no_server() {
    let Some(python) = smtpd_python() else { return };
    let server = Smtpd::start(&python);
    let smtp = SmtpSender::from_url(&server.url(""), FROM).unwrap();
    let template = rendered_message().await;
    for to in [
        "a@x.example, b@y.example",
        "Alice <alice@example.com>",
        "\"e@attacker.example\"@victim.example",
        "alice@example.com\r\nBcc: x@evil.example",
        "alice@bücher.example",
    ] {
        let mut m = template.clone();
        m.to = to.to_owned();
        let err = smtp.send(&m).await.expect_err(to);
        assert!(!err.to_string().contains(m.url.as_str()), "{err}");
    }
    // A good one afterwards, so "nothing arrived" is not merely "not yet".
    smtp.send(&template).await.unwrap();
    let stored = server.wait_for(1).await;
    stored[0].assert_delivered_to("template@example.com");
}

#[tokio::test]
async fn required_starttls_to_a_server_without_it_fails_and_sends_nothing() {
    let Some(python) = smtpd_python() else { return };
    let server = Smtpd::start(&python);
    let smtp = SmtpSender::from_url(&server.url("?starttls=require"), FROM).unwrap();
    assert_eq!(smtp.security(), SmtpSecurity::StartTls);
    let message = rendered_message().await;

    let err = smtp
        .send(&message)
        .await
        .expect_err("no STARTTLS, no delivery");
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port)),
        "{text}"
    );
    assert!(text.contains("StartTls"), "{text}");
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(source.to_ascii_lowercase().contains("starttls"), "{source}");
    for shown in [&text, &source, &format!("{err:?}")] {
        assert!(!shown.contains(message.url.as_str()), "{shown}");
        let token = message
            .url
            .query_pairs()
            .find(|(k, _)| k == "token")
            .unwrap()
            .1;
        assert!(!shown.contains(&*token), "{shown}");
    }

    // The plain sender to the same server works: the failure was the missing STARTTLS.
    let plain = SmtpSender::from_url(&server.url(""), FROM).unwrap();
    plain.send(&message).await.unwrap();
    assert_eq!(server.wait_for(1).await.len(), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Not aiosmtpd: a listener that accepts and stays silent, so only the timeout ends
    // the delivery.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let smtp = SmtpSender::from_url(&format!("smtp://127.0.0.1:{port}"), FROM)
        .unwrap()
        .timeout(Duration::from_millis(500));
    let message = rendered_message().await;
    let started = Instant::now();
    let err = smtp
        .send(&message)
        .await
        .expect_err("silence is not delivery");
    assert!(err.to_string().contains("took longer than"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    silent.abort();
}

#[tokio::test]
async fn starttls_upgrades_and_verifies_the_server_against_an_added_root() {
    let Some(python) = smtpd_python() else { return };
    let (ca, identity) = test_pki(&["127.0.0.1"]);
    let server = Smtpd::start_with(&python, ServerTls::StartTls(&identity));
    let message = rendered_message().await;

    // Without the private CA the certificate does not verify: nothing is sent.
    let untrusting = SmtpSender::from_url(&server.url("?starttls=require"), FROM).unwrap();
    let err = untrusting.send(&message).await.expect_err("unknown issuer");
    assert!(err.to_string().contains("StartTls"), "{err}");
    assert!(causes(&err).contains("UnknownIssuer"), "{}", causes(&err));

    // A plain sender is refused by this server, which requires STARTTLS before MAIL.
    let plain = SmtpSender::from_url(&server.url(""), FROM).unwrap();
    let err = plain.send(&message).await.expect_err("STARTTLS first");
    assert!(causes(&err).contains("530"), "{}", causes(&err));

    let smtp = SmtpSender::from_url(&server.url("?starttls=require"), FROM)
        .unwrap()
        .with_root_certificate(ca.as_bytes())
        .unwrap();
    assert_eq!(smtp.security(), SmtpSecurity::StartTls);
    smtp.send(&message).await.unwrap();
    let stored = server.wait_for(1).await;
    stored[0].assert_delivered_to("template@example.com");
    assert_eq!(stored[0].part("text/plain"), message.text);
}

#[tokio::test]
async fn implicit_tls_checks_the_host_name() {
    let Some(python) = smtpd_python() else { return };
    let (ca, identity) = test_pki(&["127.0.0.1"]);
    let server = Smtpd::start_with(&python, ServerTls::Implicit(&identity));
    let message = rendered_message().await;
    let url = format!("smtps://127.0.0.1:{}", server.port);

    let smtp = SmtpSender::from_url(&url, FROM)
        .unwrap()
        .with_root_certificate(ca.as_bytes())
        .unwrap();
    assert_eq!(smtp.security(), SmtpSecurity::Tls);
    smtp.send(&message).await.unwrap();
    server.wait_for(1).await[0].assert_delivered_to("template@example.com");

    // A certificate from a trusted CA, but for another name: refused.
    let (other_ca, other) = test_pki(&["mail.example.com"]);
    let impostor = Smtpd::start_with(&python, ServerTls::Implicit(&other));
    let smtp = SmtpSender::from_url(&format!("smtps://127.0.0.1:{}", impostor.port), FROM)
        .unwrap()
        .with_root_certificate(other_ca.as_bytes())
        .unwrap();
    let err = smtp.send(&message).await.expect_err("wrong name");
    assert!(err.to_string().contains("Tls"), "{err}");
    assert!(causes(&err).contains("NotValidForName"), "{}", causes(&err));
    assert_eq!(impostor.count(), 0);
}
