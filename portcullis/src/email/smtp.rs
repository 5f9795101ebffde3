//! SMTP delivery through lettre: [`SmtpSender`], configured from an `AUTH_EMAIL_SERVER`-style
//! URL, over rustls (ring, Mozilla's roots from `webpki-roots`; never OpenSSL).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use percent_encoding::percent_decode_str;
use url::Url;

use super::{EmailMessage, SendError, Sender, normalize_identifier};

/// Port of `smtps://` (implicit TLS, RFC 8314).
const SUBMISSIONS_PORT: u16 = 465;
/// Port of `smtp://` (message submission, RFC 6409).
const SUBMISSION_PORT: u16 = 587;
/// How long one delivery may take unless [`SmtpSender::timeout`] says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the SMTP connection is protected; see [`SmtpSender::from_url`] for how it is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpSecurity {
    /// No TLS: only ever to a loopback host (`localhost`, `127.0.0.0/8`, `::1`).
    Plain,
    /// A plain connection upgraded with STARTTLS (RFC 3207). The upgrade is required: a
    /// server that does not offer it, or whose certificate does not verify, gets nothing.
    StartTls,
    /// Implicit TLS from the first byte (`smtps://`, RFC 8314).
    Tls,
}

/// A bad `AUTH_EMAIL_SERVER` URL or `AUTH_EMAIL_FROM` address, or an unusable root
/// certificate.
///
/// The message names the problem. It never repeats any part of the server URL, so a
/// password in it cannot reach a log through this error (its `Debug` is the same text).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SmtpConfigError(String);

impl SmtpConfigError {
    fn server(problem: impl fmt::Display) -> Self {
        Self(format!("AUTH_EMAIL_SERVER: {problem}"))
    }
}

/// Delivers messages over SMTP (lettre's pooled `AsyncSmtpTransport` on Tokio).
///
/// Each message is `multipart/alternative` (plain text and HTML), `From` the configured
/// mailbox and `To` exactly [`EmailMessage::to`], which is also the one and only SMTP
/// envelope recipient: recipients are never derived from headers (SECURITY.md EML-07).
///
/// # Runtime
/// The connection pool is created on the first [`send`](Sender::send), inside the Tokio
/// runtime that runs it (which needs its IO and time drivers, as `#[tokio::main]` sets up),
/// and is closed in that runtime's context when the sender is dropped, wherever that
/// happens. Constructing a sender needs no runtime and makes no connection.
///
/// # Examples
/// ```no_run
/// # async fn run(message: &portcullis::email::EmailMessage) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use portcullis::email::{Sender, SmtpSender};
///
/// let smtp = SmtpSender::from_url(
///     "smtps://apikey:s3cr%2Ft@smtp.example.com",
///     "Example <no-reply@example.com>",
/// )?
/// .timeout(Duration::from_secs(20));
/// smtp.send(message).await?;
/// # Ok(())
/// # }
/// ```
pub struct SmtpSender {
    /// The server's name as connected to and verified: a lowercase ASCII DNS name or an IP
    /// address (IPv6 without brackets).
    host: String,
    port: u16,
    link: Link,
    user: Option<String>,
    credentials: Option<Credentials>,
    from: Mailbox,
    timeout: Duration,
    roots: Vec<Certificate>,
    pool: LazyPool,
}

/// The transport security with its (already built, so validated) TLS parameters.
enum Link {
    Plain,
    StartTls(TlsParameters),
    Tls(TlsParameters),
}

impl SmtpSender {
    /// A sender from an `AUTH_EMAIL_SERVER`-style URL and the From mailbox.
    ///
    /// The URL is `smtps://[user:password@]host[:port]` or
    /// `smtp://[user:password@]host[:port][?starttls=require|off]`:
    ///
    /// | URL | connection | default port |
    /// | --- | --- | --- |
    /// | `smtps://host` | implicit TLS ([`SmtpSecurity::Tls`]) | 465 |
    /// | `smtp://host`, host not loopback | STARTTLS, required ([`SmtpSecurity::StartTls`]) | 587 |
    /// | `smtp://localhost`, `smtp://127.0.0.1`, `smtp://[::1]` | plain ([`SmtpSecurity::Plain`]) | 587 |
    /// | `smtp://localhost?starttls=require` | STARTTLS, required | 587 |
    /// | `smtp://host?starttls=off`, host not loopback | refused | |
    ///
    /// Loopback means the name `localhost` or an address in `127.0.0.0/8` or `::1`; any
    /// other name counts as remote even if it resolves to a loopback address. Plain SMTP is
    /// allowed only there (a local relay or a test server), because a password and
    /// single-use sign-in links must not cross a network in clear; `starttls=off` merely
    /// states that default. Certificates are verified against Mozilla's root store (plus
    /// any [`with_root_certificate`](Self::with_root_certificate)) for the host as written.
    ///
    /// User name and password are optional but go together; percent-encode any of
    /// `@ : / ? # %` in them (`p%40ss` is `p@ss`). They are used for `AUTH PLAIN`/`LOGIN`.
    ///
    /// `from` is a mailbox: `Example <no-reply@example.com>` or `no-reply@example.com`,
    /// with an ASCII address (use the `xn--` form of an internationalised domain).
    ///
    /// # Errors
    /// A URL that does not parse, another scheme, a missing host, a path, fragment or
    /// unknown query parameter, a password without a user name or the reverse, plain SMTP
    /// to a remote host, or a `from` that is not one valid mailbox. The error names the
    /// problem without repeating the URL.
    ///
    /// # Examples
    /// ```
    /// use portcullis::email::{SmtpSecurity, SmtpSender};
    ///
    /// let from = "Example <no-reply@example.com>";
    /// let s = SmtpSender::from_url("smtp://user:pa%24%24@smtp.example.com", from)?;
    /// assert_eq!(s.security(), SmtpSecurity::StartTls);
    /// assert!(!format!("{s:?}").contains("pa$$"));
    ///
    /// let local = SmtpSender::from_url("smtp://127.0.0.1:2525", from)?;
    /// assert_eq!(local.security(), SmtpSecurity::Plain);
    ///
    /// assert!(SmtpSender::from_url("smtp://smtp.example.com?starttls=off", from).is_err());
    /// # Ok::<(), portcullis::email::SmtpConfigError>(())
    /// ```
    pub fn from_url(url: &str, from: &str) -> Result<Self, SmtpConfigError> {
        let server = Server::parse(url)?;
        let from = parse_from(from)?;
        let link = Link::new(server.security, &server.host, &[])?;
        Ok(Self {
            host: server.host,
            port: server.port,
            link,
            user: server.credentials.as_ref().map(|(user, _)| user.clone()),
            credentials: server
                .credentials
                .map(|(user, password)| Credentials::new(user, password)),
            from,
            timeout: DEFAULT_TIMEOUT,
            roots: Vec::new(),
            pool: LazyPool::default(),
        })
    }

    /// How long one delivery may take, all of it: connecting, the TLS handshake,
    /// authentication and the SMTP dialogue (default 30 seconds). A delivery that takes
    /// longer fails with a [`SendError`].
    ///
    /// # Examples
    /// ```
    /// # use portcullis::email::SmtpSender;
    /// let s = SmtpSender::from_url("smtp://localhost:1025", "no-reply@example.com")?
    ///     .timeout(std::time::Duration::from_secs(5));
    /// # Ok::<(), portcullis::email::SmtpConfigError>(())
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.pool = LazyPool::default();
        self
    }

    /// Also trusts the root certificate(s) in `pem` (PEM `CERTIFICATE` blocks), for a
    /// server whose certificate a private CA issued. Mozilla's roots stay trusted; the
    /// host name is still checked. Only TLS connections use it.
    ///
    /// # Errors
    /// `pem` holds no certificate, or one that cannot be parsed.
    ///
    /// # Examples
    /// ```no_run
    /// # use portcullis::email::SmtpSender;
    /// let ca = std::fs::read("/etc/portcullis/mail-ca.pem")?;
    /// let s = SmtpSender::from_url("smtps://mail.internal", "no-reply@example.com")?
    ///     .with_root_certificate(&ca)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_root_certificate(mut self, pem: &[u8]) -> Result<Self, SmtpConfigError> {
        const MARK: &[u8] = b"-----BEGIN CERTIFICATE-----";
        if !pem.windows(MARK.len()).any(|w| w == MARK) {
            return Err(SmtpConfigError(
                "root certificate: no PEM `BEGIN CERTIFICATE` block found".to_owned(),
            ));
        }
        let cert = Certificate::from_pem(pem)
            .map_err(|e| SmtpConfigError(format!("root certificate: {e}")))?;
        self.roots.push(cert);
        // Built now rather than at the first send, so a bad certificate fails here.
        self.link = Link::new(self.security(), &self.host, &self.roots)?;
        self.pool = LazyPool::default();
        Ok(self)
    }

    /// How the connection is protected.
    pub fn security(&self) -> SmtpSecurity {
        match self.link {
            Link::Plain => SmtpSecurity::Plain,
            Link::StartTls(_) => SmtpSecurity::StartTls,
            Link::Tls(_) => SmtpSecurity::Tls,
        }
    }

    /// `host:port` for messages, with an IPv6 address in brackets.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        let tls = match &self.link {
            Link::Plain => Tls::None,
            Link::StartTls(p) => Tls::Required(p.clone()),
            Link::Tls(p) => Tls::Wrapper(p.clone()),
        };
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
            .port(self.port)
            .tls(tls)
            .timeout(Some(self.timeout));
        match &self.credentials {
            Some(c) => builder.credentials(c.clone()),
            None => builder,
        }
        .build()
    }

    /// The message as lettre builds it, with its explicit envelope.
    fn message(&self, message: &EmailMessage) -> Result<Message, SendError> {
        // Only a fixed point of `normalize_identifier` goes out: lettre itself would accept
        // a quoted local part such as `"e@attacker.example"@victim.example` (EML-07).
        if normalize_identifier(&message.to).as_deref() != Ok(message.to.as_str()) {
            return Err(SendError::new(
                "SMTP: the recipient is not a canonical `local@domain` address",
            ));
        }
        let to: Address = message
            .to
            .parse()
            .map_err(|e| SendError::from_source("SMTP: lettre refuses the recipient address", e))?;
        if to.to_string() != message.to {
            return Err(SendError::new(
                "SMTP: lettre changed the recipient address while parsing it",
            ));
        }
        let envelope =
            lettre::address::Envelope::new(Some(self.from.email.clone()), vec![to.clone()])
                .map_err(|e| SendError::from_source("SMTP: cannot build the envelope", e))?;
        let subject: String = message
            .subject
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        let id = crate::secret::hex(&crate::secret::random_bytes::<16>());
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())))
            // RFC 3834: no vacation or out-of-office replies to an automatic message.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ))
            .envelope(envelope)
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| SendError::from_source("SMTP: cannot build the message", e))
    }
}

impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security())
            .field("user", &self.user)
            .field("password", &self.credentials.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .field("extra_roots", &self.roots.len())
            .finish()
    }
}

#[async_trait]
impl Sender for SmtpSender {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        // Errors name the server, never the link (it carries a single-use token) nor the
        // recipient.
        let email = self.message(message)?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| SendError::from_source("SMTP: SmtpSender needs a Tokio runtime", e))?;
        let transport = self.pool.get(runtime, || self.transport());
        let raw = email.formatted();
        let delivery = transport.send_raw(email.envelope(), &raw);
        let outcome = tokio::time::timeout(self.timeout, delivery).await;
        if outcome.is_err() {
            self.pool.discard();
        }
        match outcome {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) => Err(SendError::from_source(
                format!(
                    "SMTP delivery through {} ({:?}) failed",
                    self.authority(),
                    self.security()
                ),
                e,
            )),
            Err(elapsed) => Err(SendError::from_source(
                format!(
                    "SMTP delivery through {} took longer than {:?}",
                    self.authority(),
                    self.timeout
                ),
                elapsed,
            )),
        }
    }
}

/// lettre's connection pool, created at the first send and dropped in the context of the
/// runtime it was created in: lettre spawns a Tokio task both when it creates a pool and
/// when it drops one, which panics outside a runtime.
#[derive(Default)]
struct LazyPool(Mutex<Option<(tokio::runtime::Handle, AsyncSmtpTransport<Tokio1Executor>)>>);

impl LazyPool {
    /// The pool (a cheap handle on it), created by `build` if there is none.
    fn get(
        &self,
        runtime: tokio::runtime::Handle,
        build: impl FnOnce() -> AsyncSmtpTransport<Tokio1Executor>,
    ) -> AsyncSmtpTransport<Tokio1Executor> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, transport) = slot.get_or_insert_with(|| (runtime, build()));
        transport.clone()
    }

    /// Forgets the pool, so the next send starts a fresh one. After a timeout a pooled
    /// connection may be mid-command, and lettre would park it for reuse.
    fn discard(&self) {
        let old = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(old);
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

impl Drop for LazyPool {
    fn drop(&mut self) {
        let slot = self.0.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some((runtime, transport)) = slot.take() {
            // If that runtime has shut down, the spawned clean-up is simply dropped.
            let _entered = runtime.enter();
            drop(transport);
        }
    }
}

impl Link {
    /// The TLS parameters are built (so every root certificate is checked) even for a
    /// plain link, which then does not use them.
    fn new(
        security: SmtpSecurity,
        host: &str,
        roots: &[Certificate],
    ) -> Result<Self, SmtpConfigError> {
        // Mozilla's roots, named rather than `Default`, so that no other crate enabling a
        // lettre feature (native or platform roots) changes whom this sender trusts.
        let mut builder = TlsParameters::builder(host.to_owned())
            .certificate_store(CertificateStore::WebpkiRoots);
        for root in roots {
            builder = builder.add_root_certificate(root.clone());
        }
        let tls = builder
            .build_rustls()
            .map_err(|e| SmtpConfigError(format!("cannot set up TLS: {e}")))?;
        Ok(match security {
            SmtpSecurity::Plain => Self::Plain,
            SmtpSecurity::StartTls => Self::StartTls(tls),
            SmtpSecurity::Tls => Self::Tls(tls),
        })
    }
}

/// The parts of the server URL.
struct Server {
    host: String,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<(String, String)>,
}

impl Server {
    fn parse(raw: &str) -> Result<Self, SmtpConfigError> {
        let url = Url::parse(raw.trim()).map_err(|e| {
            SmtpConfigError::server(format_args!(
                "not a valid URL ({e}); percent-encode `@ : / ? # %` in the user name and password"
            ))
        })?;
        let implicit_tls = match url.scheme() {
            "smtps" => true,
            "smtp" => false,
            _ => {
                return Err(SmtpConfigError::server(
                    "the scheme must be `smtp://` (STARTTLS) or `smtps://` (TLS)",
                ));
            }
        };
        let (host, loopback) = host(&url)?;
        if !matches!(url.path(), "" | "/") {
            return Err(SmtpConfigError::server("the URL must not have a path"));
        }
        if url.fragment().is_some() {
            return Err(SmtpConfigError::server(
                "the URL must not have a `#` fragment (percent-encode `#` in a password as `%23`)",
            ));
        }
        let starttls = starttls_param(&url)?;
        let security = match (implicit_tls, starttls) {
            (true, None) => SmtpSecurity::Tls,
            (true, Some(_)) => {
                return Err(SmtpConfigError::server(
                    "`starttls` does not apply to `smtps://`, which is TLS from the start",
                ));
            }
            (false, Some(StartTlsParam::Require)) => SmtpSecurity::StartTls,
            (false, None) if !loopback => SmtpSecurity::StartTls,
            (false, _) if loopback => SmtpSecurity::Plain,
            (false, _) => {
                return Err(SmtpConfigError::server(
                    "plain SMTP (`starttls=off`) is refused to a host that is not loopback: the \
                     password and sign-in links would cross the network in clear; use \
                     `smtps://` or STARTTLS",
                ));
            }
        };
        let port = url.port().unwrap_or(if implicit_tls {
            SUBMISSIONS_PORT
        } else {
            SUBMISSION_PORT
        });
        if port == 0 {
            return Err(SmtpConfigError::server("port 0 is not a port"));
        }
        Ok(Self {
            host,
            port,
            security,
            credentials: credentials(&url)?,
        })
    }
}

#[derive(Clone, Copy)]
enum StartTlsParam {
    Require,
    Off,
}

fn starttls_param(url: &Url) -> Result<Option<StartTlsParam>, SmtpConfigError> {
    let mut found = None;
    for (key, value) in url.query_pairs() {
        if key != "starttls" {
            // Not even the name is repeated: a mistyped URL can put a password anywhere.
            return Err(SmtpConfigError::server(
                "unknown query parameter (only `starttls=require|off` is understood)",
            ));
        }
        if found.is_some() {
            return Err(SmtpConfigError::server("`starttls` is given twice"));
        }
        found = Some(match &*value {
            "require" => StartTlsParam::Require,
            "off" => StartTlsParam::Off,
            _ => {
                return Err(SmtpConfigError::server(
                    "`starttls` must be `require` or `off`",
                ));
            }
        });
    }
    Ok(found)
}

/// The host to connect to and whether it is loopback.
fn host(url: &Url) -> Result<(String, bool), SmtpConfigError> {
    let missing = || SmtpConfigError::server("the URL has no host (`smtp://host[:port]`)");
    let raw = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(missing)?;
    if let Some(v6) = raw.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = v6
            .parse()
            .map_err(|_| SmtpConfigError::server("the host is not a valid IPv6 address"))?;
        let loopback = ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
        return Ok((ip.to_string(), loopback));
    }
    // `smtp` is not a "special" scheme, so the URL parser keeps the host as written:
    // percent-encoded, in any case, IPv4 not recognised.
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| SmtpConfigError::server("the host is not valid UTF-8"))?;
    if let Ok(ip) = decoded.parse::<Ipv4Addr>() {
        return Ok((ip.to_string(), IpAddr::V4(ip).is_loopback()));
    }
    let name = idna::domain_to_ascii(&decoded)
        .map_err(|_| SmtpConfigError::server("the host is not a valid domain name"))?;
    let trimmed = name.strip_suffix('.').unwrap_or(&name);
    let valid = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(SmtpConfigError::server(
            "the host is not a valid domain name",
        ));
    }
    let loopback = trimmed == "localhost";
    Ok((trimmed.to_owned(), loopback))
}

fn credentials(url: &Url) -> Result<Option<(String, String)>, SmtpConfigError> {
    let decode = |raw: &str, what: &str| {
        percent_decode_str(raw)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| {
                SmtpConfigError::server(format_args!(
                    "the {what} is not valid UTF-8 once percent-decoded"
                ))
            })
    };
    let user = decode(url.username(), "user name")?;
    let password = url.password().map(|p| decode(p, "password")).transpose()?;
    match (user.is_empty(), password) {
        (true, None) => Ok(None),
        (false, Some(password)) if !password.is_empty() => Ok(Some((user, password))),
        (true, Some(_)) => Err(SmtpConfigError::server("a password without a user name")),
        (false, _) => Err(SmtpConfigError::server(
            "a user name without a password (`smtp://user:password@host`)",
        )),
    }
}

fn parse_from(from: &str) -> Result<Mailbox, SmtpConfigError> {
    let invalid = |why: &str| {
        SmtpConfigError(format!(
            "AUTH_EMAIL_FROM {:?} {why}; use `Name <address@example.com>` or `address@example.com`",
            from
        ))
    };
    if from.chars().any(char::is_control) {
        return Err(invalid("contains a control character"));
    }
    let mailbox: Mailbox = from
        .trim()
        .parse()
        .map_err(|_| invalid("is not one valid mailbox"))?;
    if !mailbox.email.to_string().is_ascii() {
        return Err(invalid(
            "has a non-ASCII address (write the domain in its `xn--` form)",
        ));
    }
    Ok(mailbox)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const FROM: &str = "Portcullis <no-reply@example.com>";

    fn sender(url: &str) -> SmtpSender {
        SmtpSender::from_url(url, FROM).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn refused(url: &str) -> String {
        match SmtpSender::from_url(url, FROM) {
            Ok(s) => panic!("{url} was accepted: {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn schemes_choose_security_and_default_ports() {
        let cases = [
            ("smtps://smtp.example.com", SmtpSecurity::Tls, 465),
            ("smtps://smtp.example.com:2465", SmtpSecurity::Tls, 2465),
            ("smtp://smtp.example.com", SmtpSecurity::StartTls, 587),
            ("smtp://smtp.example.com:25", SmtpSecurity::StartTls, 25),
            ("SMTP://SMTP.Example.COM/", SmtpSecurity::StartTls, 587),
            ("smtps://localhost", SmtpSecurity::Tls, 465),
        ];
        for (url, security, port) in cases {
            let s = sender(url);
            assert_eq!((s.security(), s.port), (security, port), "{url}");
        }
        assert_eq!(sender("SMTP://SMTP.Example.COM/").host, "smtp.example.com");
    }

    #[test]
    fn loopback_is_plain_unless_starttls_is_required() {
        for (url, host) in [
            ("smtp://localhost:1025", "localhost"),
            ("smtp://LocalHost.:1025", "localhost"),
            ("smtp://127.0.0.1:1025", "127.0.0.1"),
            ("smtp://127.3.2.1", "127.3.2.1"),
            ("smtp://[::1]:1025", "::1"),
            ("smtp://[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
            ("smtp://127.0.0.1:1025?starttls=off", "127.0.0.1"),
        ] {
            let s = sender(url);
            assert_eq!(s.security(), SmtpSecurity::Plain, "{url}");
            assert_eq!(s.host, host, "{url}");
        }
        assert_eq!(sender("smtp://localhost").port, 587);
        assert_eq!(sender("smtp://[::1]:2525").authority(), "[::1]:2525");
        assert_eq!(
            sender("smtp://127.0.0.1:2525").authority(),
            "127.0.0.1:2525"
        );
        for url in [
            "smtp://localhost?starttls=require",
            "smtp://127.0.0.1:1025?starttls=require",
            "smtp://[::1]?starttls=require",
        ] {
            assert_eq!(sender(url).security(), SmtpSecurity::StartTls, "{url}");
        }
        // Not loopback: names that merely look local, and other private addresses.
        for url in [
            "smtp://localhost.example.com",
            "smtp://mail.localhost",
            "smtp://10.0.0.1",
            "smtp://[::2]",
            "smtp://0.0.0.0",
        ] {
            assert_eq!(sender(url).security(), SmtpSecurity::StartTls, "{url}");
        }
    }

    #[test]
    fn plain_to_a_remote_host_is_refused() {
        for url in [
            "smtp://smtp.example.com?starttls=off",
            "smtp://10.0.0.1:25?starttls=off",
            "smtp://u:p@smtp.example.com?starttls=off",
        ] {
            let e = refused(url);
            assert!(e.contains("refused") && e.contains("not loopback"), "{e}");
        }
        assert!(refused("smtps://localhost?starttls=require").contains("smtps://"));
        assert!(refused("smtp://localhost?starttls=maybe").contains("`require` or `off`"));
        assert!(refused("smtp://localhost?starttls=off&starttls=require").contains("twice"));
    }

    #[test]
    fn credentials_are_percent_decoded_and_optional() {
        let s = sender("smtps://api%40key:p%40ss%3Aw%2Fo%23rd%25@smtp.example.com");
        assert_eq!(
            s.credentials,
            Some(Credentials::new(
                "api@key".to_owned(),
                "p@ss:w/o#rd%".to_owned()
            ))
        );
        assert_eq!(s.user.as_deref(), Some("api@key"));
        assert!(sender("smtps://smtp.example.com").credentials.is_none());
        // Allowed on plain loopback: a local relay.
        let local = sender("smtp://relay:secret@127.0.0.1:25");
        assert_eq!(local.security(), SmtpSecurity::Plain);
        assert!(local.credentials.is_some());

        assert!(refused("smtps://:secret@smtp.example.com").contains("without a user name"));
        assert!(refused("smtps://user@smtp.example.com").contains("without a password"));
        assert!(refused("smtps://user:@smtp.example.com").contains("without a password"));
        assert!(refused("smtps://user:%FF@smtp.example.com").contains("UTF-8"));
    }

    #[test]
    fn bad_urls_are_refused() {
        let cases = [
            ("http://smtp.example.com", "scheme"),
            ("smtp+tls://smtp.example.com", "scheme"),
            ("smtp.example.com:587", "scheme"),
            ("", "not a valid URL"),
            ("smtp://", "no host"),
            ("smtp:", "no host"),
            ("smtp:/path", "no host"),
            ("smtp://:25", "not a valid URL"),
            ("smtp://smtp.example.com:99999", "not a valid URL"),
            ("smtp://smtp.example.com:0", "port 0"),
            ("smtp://smtp.example.com/mail", "path"),
            ("smtp://smtp.example.com#x", "fragment"),
            (
                "smtp://smtp.example.com?pool=true",
                "unknown query parameter",
            ),
            ("smtp://smtp..example.com", "domain name"),
            ("smtp://smtp%20example.com", "domain name"),
            ("smtp://[::zz]", "not a valid URL"),
        ];
        for (url, expected) in cases {
            let e = refused(url);
            assert!(e.contains(expected), "{url}: {e}");
            assert!(e.starts_with("AUTH_EMAIL_SERVER: "), "{e}");
        }
    }

    #[test]
    fn idn_hosts_become_ascii() {
        assert_eq!(
            sender("smtps://mail.bücher.example").host,
            "mail.xn--bcher-kva.example"
        );
    }

    #[test]
    fn the_password_never_appears_in_errors_or_debug() {
        const PW: &str = "hunter2Secret";
        let bad = [
            format!("smtp://user:{PW}@smtp.example.com?starttls=off"),
            format!("smtp://user:{PW}@smtp.example.com/path"),
            format!("smtp://user:{PW}#@smtp.example.com"),
            format!("smtp://user:{PW}/x@smtp.example.com"),
            format!("smtp://user:{PW}@smtp.example.com?{PW}={PW}"),
            format!("smtp://user:{PW}@smtp.example.com?starttls={PW}"),
            format!("ftp://user:{PW}@smtp.example.com"),
            format!("{PW}:{PW}@smtp.example.com"),
            format!("smtp://:{PW}@smtp.example.com"),
            format!("smtp://user:{PW}@bad..host"),
            format!("smtp://user:{PW}@[::zz]"),
            format!("smtp://user:{PW}@:25"),
            format!("smtp://{PW}@smtp.example.com"),
        ];
        for url in &bad {
            let e = SmtpSender::from_url(url, FROM).expect_err(url);
            assert!(!e.to_string().contains(PW), "{url}: {e}");
            assert!(!format!("{e:?}").contains(PW), "{url}: {e:?}");
        }
        let e = SmtpSender::from_url(&format!("smtps://user:{PW}@smtp.example.com"), "nope")
            .expect_err("bad from");
        assert!(!e.to_string().contains(PW) && !format!("{e:?}").contains(PW));

        let ok = sender(&format!("smtps://user:{PW}@smtp.example.com"));
        let debug = format!("{ok:?}");
        assert!(!debug.contains(PW), "{debug}");
        assert!(
            debug.contains("<redacted>") && debug.contains("user"),
            "{debug}"
        );
    }

    #[test]
    fn from_must_be_one_valid_mailbox() {
        let s = sender("smtps://smtp.example.com");
        assert_eq!(s.from.email.to_string(), "no-reply@example.com");
        assert_eq!(s.from.name.as_deref(), Some("Portcullis"));
        let bare =
            SmtpSender::from_url("smtps://smtp.example.com", " no-reply@example.com ").unwrap();
        assert_eq!(bare.from.name, None);
        for from in [
            "",
            "no-reply",
            "Portcullis",
            "a@b.com, c@d.com",
            "Portcullis <no-reply@example.com> trailing",
            "no-reply@example.com\r\nBcc: x@evil.example",
            "\"e@attacker.example\"@victim.example",
            "no-reply@bücher.example",
        ] {
            let e = SmtpSender::from_url("smtps://smtp.example.com", from)
                .expect_err(from)
                .to_string();
            assert!(e.starts_with("AUTH_EMAIL_FROM "), "{from}: {e}");
        }
    }

    #[test]
    fn root_certificates_must_be_pem_certificates() {
        let s = sender("smtp://127.0.0.1:2525");
        let garbage = b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert!(
            s.with_root_certificate(garbage).is_err(),
            "checked on plain links too"
        );
        let s = sender("smtps://smtp.example.com");
        let e = s.with_root_certificate(b"not a certificate").unwrap_err();
        assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");
        let s = sender("smtps://smtp.example.com");
        let garbage = b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert!(s.with_root_certificate(garbage).is_err());
    }

    #[test]
    fn messages_carry_an_explicit_envelope_and_both_bodies() {
        let s = sender("smtp://127.0.0.1:1");
        let message = test_message("alice@example.com");
        let email = s.message(&message).unwrap();
        let envelope = email.envelope();
        assert_eq!(envelope.to().len(), 1);
        assert_eq!(envelope.to()[0].to_string(), "alice@example.com");
        assert_eq!(
            envelope.from().map(ToString::to_string).as_deref(),
            Some("no-reply@example.com")
        );
        let raw = String::from_utf8(email.formatted()).unwrap();
        assert!(raw.contains("To: alice@example.com\r\n"), "{raw}");
        assert!(
            raw.contains("Content-Type: multipart/alternative;"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert!(raw.contains("Auto-Submitted: auto-generated\r\n"), "{raw}");
        assert!(raw.contains("@example.com>\r\n"), "{raw}");

        for to in [
            "Alice <alice@example.com>",
            "a@b.com, c@d.com",
            "bob@bücher.example",
            "\"e@attacker.example\"@victim.example",
            "Alice@example.com",
            "alice@example.com.",
        ] {
            let err = s.message(&test_message(to)).unwrap_err().to_string();
            assert!(err.starts_with("SMTP: the recipient"), "{to}: {err}");
        }
    }

    #[tokio::test]
    async fn a_failed_delivery_names_the_server_not_the_link() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let s = sender("smtp://127.0.0.1:1");
        let message = test_message("alice@example.com");
        let err = s.send(&message).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("127.0.0.1:1"), "{text}");
        let full = format!(
            "{err:?} {}",
            std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(!full.contains("tok3n"), "{full}");
        assert!(!full.contains("alice@"), "{full}");
    }

    #[tokio::test]
    async fn a_timed_out_delivery_discards_the_pool() {
        // Accepts and stays silent: the greeting never comes.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let s = sender(&format!("smtp://127.0.0.1:{port}")).timeout(Duration::from_millis(300));
        let err = s
            .send(&test_message("alice@example.com"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("took longer than 300ms"), "{err}");
        assert!(
            s.pool.is_empty(),
            "a pool that may hold a half-used connection is gone"
        );
        silent.abort();
    }

    #[test]
    fn dropping_a_used_sender_outside_any_runtime_does_not_panic() {
        let s = sender("smtp://127.0.0.1:1").timeout(Duration::from_secs(5));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let result = runtime.block_on(s.send(&test_message("alice@example.com")));
        assert!(result.is_err());
        assert!(!s.pool.is_empty(), "the pool was created");
        drop(runtime);
        drop(s);

        // And while the runtime still exists, from a plain thread.
        let s = sender("smtp://127.0.0.1:1");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        assert!(
            runtime
                .block_on(s.send(&test_message("alice@example.com")))
                .is_err()
        );
        std::thread::spawn(move || drop(s)).join().unwrap();
    }

    fn test_message(to: &str) -> EmailMessage {
        let url =
            Url::parse("https://auth.example.com/api/auth/callback/email?token=tok3n").unwrap();
        EmailMessage {
            kind: super::super::EmailKind::SignIn,
            to: to.to_owned(),
            url: url.clone(),
            expires: time::OffsetDateTime::UNIX_EPOCH,
            host: "auth.example.com".to_owned(),
            subject: "Sign in to auth.example.com".to_owned(),
            text: format!("Sign in\n\n{url}\n"),
            html: format!("<a href=\"{url}\">Sign in</a>"),
        }
    }
}
