//! A real SMTP server on loopback for the email tests: aiosmtpd (PyPI) with its Maildir
//! handler, started from the Python named by `PORTCULLIS_SMTPD_PYTHON` (`.ci/run` and
//! `scripts/test.sh` create a virtualenv with aiosmtpd and set it).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// A running aiosmtpd; killed on drop.
pub struct Smtpd {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl Smtpd {
    /// Starts one, or `None` (with a note) when no Python with aiosmtpd is configured —
    /// a failure instead under `PORTCULLIS_REQUIRE_SERVICES=1`.
    pub fn start(dir: &Path) -> Option<Self> {
        let python = std::env::var("PORTCULLIS_SMTPD_PYTHON")
            .ok()
            .filter(|p| !p.is_empty());
        let Some(python) = python else {
            assert!(
                std::env::var("PORTCULLIS_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "PORTCULLIS_SMTPD_PYTHON is not set: point it at a Python with aiosmtpd \
                 (python3 -m venv v && v/bin/pip install aiosmtpd)"
            );
            eprintln!("skipped: PORTCULLIS_SMTPD_PYTHON is not set (no SMTP server)");
            return None;
        };
        let maildir = dir.join("maildir");
        // A port picked free may be taken by another test's server before aiosmtpd binds
        // it: then aiosmtpd exits, and the next attempt takes another port. Ready means an
        // SMTP greeting, not just an accepted connection (which could be someone else's).
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&python)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {python} -m aiosmtpd: {e}"));
            let mut smtpd = Self {
                child,
                port,
                maildir: maildir.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(_)) = smtpd.child.try_wait() {
                    break; // the port was taken: try another
                }
                if greets(port) {
                    return Some(smtpd);
                }
                assert!(Instant::now() < deadline, "aiosmtpd did not come up");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("aiosmtpd could not bind a port in five attempts");
    }

    /// The `smtp://` URL of this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far (raw RFC 5322 text), oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH)
        });
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits (up to 20 s) until `n` messages have arrived; returns them.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.messages();
            if all.len() >= n {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages, got {}; the server's log:\n{}",
                all.len(),
                self.maildir
                    .parent()
                    .and_then(|d| std::fs::read_to_string(d.join("server.log")).ok())
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether an SMTP server greets (`220`) on the port.
fn greets(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut greeting = [0u8; 3];
    s.read_exact(&mut greeting).is_ok() && &greeting == b"220"
}

/// A header's value (first occurrence, unfolded).
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let head = message.split("\n\n").next().unwrap_or_default();
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Quoted-printable decoding (soft line breaks and `=XX`), enough to read a link.
pub fn decode_qp(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if bytes[i] == b'='
            && let Some(b) = hex
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first `http(s)://…/api/auth/callback/…` or other link starting with `prefix` in a
/// message (after quoted-printable decoding), HTML entities `&amp;` undone.
pub fn link(message: &str, prefix: &str) -> Option<String> {
    let text = decode_qp(message);
    let start = text.find(prefix)?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .unwrap_or(rest.len());
    Some(rest[..end].replace("&amp;", "&"))
}
