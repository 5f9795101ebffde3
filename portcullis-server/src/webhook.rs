//! The enrichment webhook: extra user attributes from an HTTP API (the seed-001 pattern).
//!
//! `POST {url}` with `{"event":"signIn"|"session","user":{"id","email","name","attributes"}}`;
//! the answer `{"attributes":{…}}` is merged over the user's attributes for that session
//! (attribute names only; reserved names dropped). On sign-in a failure refuses the sign-in;
//! on session reads answers are cached per user for `cache_seconds`, and a failure serves
//! the last cached value (or no enrichment).
//!
//! The client is a small HTTP/1.1 client over `tokio::net::TcpStream`, `http://` only: the
//! workspace has no TLS stack, and a webhook is typically a sidecar on the same host.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::callbacks::Attributes;

/// The most users whose enrichment is cached at once.
const CACHE_CAPACITY: usize = 10_000;
/// The largest webhook answer read.
const MAX_RESPONSE: usize = 64 * 1024;

/// Why a webhook call failed (no user data in the message).
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebhookError {
    #[error("timed out after {0} ms")]
    Timeout(u128),
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

/// A parsed `http://host[:port]/path` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    host: String,
    port: u16,
    path: String,
}

impl Target {
    /// Parses a webhook URL: `http://` only, no credentials, no fragment.
    pub(crate) fn parse(raw: &str) -> Result<Self, &'static str> {
        let u = url::Url::parse(raw).map_err(|_| "is not a URL")?;
        match u.scheme() {
            "http" => {}
            "https" => return Err("https is not supported by this build's webhook client"),
            _ => return Err("is not an http:// URL"),
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err("must not carry credentials");
        }
        let host = match u.host() {
            Some(url::Host::Ipv6(a)) => format!("[{a}]"),
            Some(h) => h.to_string(),
            None => return Err("has no host"),
        };
        let mut path = u.path().to_owned();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Self {
            host,
            port: u.port().unwrap_or(80),
            path,
        })
    }

    /// Whether the host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`).
    pub(crate) fn is_loopback(&self) -> bool {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// `[webhook]` resolved.
#[derive(Debug, Clone)]
pub(crate) struct WebhookSettings {
    pub(crate) target: Target,
    pub(crate) timeout: Duration,
    pub(crate) cache: Duration,
}

/// The user as sent to the webhook.
pub(crate) struct UserInfo<'a> {
    pub(crate) id: &'a str,
    pub(crate) email: Option<&'a str>,
    pub(crate) name: Option<&'a str>,
    pub(crate) attributes: &'a Attributes,
}

struct Entry {
    attrs: Attributes,
    at: Instant,
}

/// The webhook client and its per-user cache.
pub(crate) struct Webhook {
    settings: WebhookSettings,
    cache: Mutex<HashMap<String, Entry>>,
}

impl Webhook {
    pub(crate) fn new(settings: WebhookSettings) -> Self {
        Self {
            settings,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sign-in: calls the webhook; the attributes on success (and cached, so the session
    /// reads right after sign-in need no call), the error otherwise.
    pub(crate) async fn on_sign_in(&self, user: &UserInfo<'_>) -> Result<Attributes, WebhookError> {
        let attrs = self.call("signIn", user).await?;
        self.store(user.id, attrs.clone());
        Ok(attrs)
    }

    /// The last attributes stored for this user, however old (the `jwt` step right after
    /// `sign_in` stored them).
    pub(crate) fn last(&self, id: &str) -> Option<Attributes> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(id).map(|e| e.attrs.clone())
    }

    /// The attributes cached for this user, if fresh.
    pub(crate) fn cached(&self, id: &str) -> Option<Attributes> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(id)
            .filter(|e| e.at.elapsed() < self.settings.cache)
            .map(|e| e.attrs.clone())
    }

    /// Session read: the cached attributes while fresh; else a `session` call. On failure
    /// the last cached value (or none), logged, and not retried until `cache_seconds` pass.
    pub(crate) async fn on_session(&self, user: &UserInfo<'_>) -> Attributes {
        if let Some(a) = self.cached(user.id) {
            return a;
        }
        match self.call("session", user).await {
            Ok(attrs) => {
                self.store(user.id, attrs.clone());
                attrs
            }
            Err(e) => {
                let stale = self.last(user.id);
                tracing::warn!(
                    user_id = user.id,
                    error = %e,
                    served = if stale.is_some() { "last cached value" } else { "no enrichment" },
                    "enrichment webhook failed on a session read"
                );
                let attrs = stale.unwrap_or_default();
                self.store(user.id, attrs.clone());
                attrs
            }
        }
    }

    fn store(&self, id: &str, attrs: Attributes) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_CAPACITY && !cache.contains_key(id) {
            let ttl = self.settings.cache;
            cache.retain(|_, e| e.at.elapsed() < ttl);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(
            id.to_owned(),
            Entry {
                attrs,
                at: Instant::now(),
            },
        );
    }

    async fn call(&self, event: &str, user: &UserInfo<'_>) -> Result<Attributes, WebhookError> {
        let body = json!({
            "event": event,
            "user": {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "attributes": user.attributes,
            }
        })
        .to_string();
        let timeout = self.settings.timeout;
        let raw = tokio::time::timeout(timeout, post(&self.settings.target, &body))
            .await
            .map_err(|_| WebhookError::Timeout(timeout.as_millis()))??;
        parse_answer(&raw)
    }
}

/// One `POST` with `Connection: close`; the status and the body.
async fn post(t: &Target, body: &str) -> Result<(u16, Vec<u8>), WebhookError> {
    let addr = format!("{}:{}", t.host, t.port);
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: portcullis-server\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        t.path,
        t.host,
        t.port,
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    s.flush().await?;
    let mut raw = Vec::new();
    (&mut s)
        .take(MAX_RESPONSE as u64 + 1)
        .read_to_end(&mut raw)
        .await?;
    if raw.len() > MAX_RESPONSE {
        return Err(WebhookError::Malformed("answer too large"));
    }
    split_response(&raw)
}

/// The status and the (de-chunked) body of a raw HTTP/1.1 response.
fn split_response(raw: &[u8]) -> Result<(u16, Vec<u8>), WebhookError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(WebhookError::Malformed("no response head"))?;
    let head =
        std::str::from_utf8(&raw[..end]).map_err(|_| WebhookError::Malformed("response head"))?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .filter(|l| l.starts_with("HTTP/1."))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or(WebhookError::Malformed("status line"))?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            }
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else if let Some(n) = length {
        body.get(..n)
            .ok_or(WebhookError::Malformed("short body"))?
            .to_vec()
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut s: &[u8]) -> Result<Vec<u8>, WebhookError> {
    let mut out = Vec::new();
    loop {
        let eol = s
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(WebhookError::Malformed("chunked body"))?;
        let size = std::str::from_utf8(&s[..eol])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
            .ok_or(WebhookError::Malformed("chunk size"))?;
        s = &s[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = s
            .get(..size)
            .ok_or(WebhookError::Malformed("short chunk"))?;
        out.extend_from_slice(chunk);
        s = s.get(size + 2..).unwrap_or_default();
    }
}

/// `{"attributes":{…}}` on a 2xx, keeping only valid, non-reserved attribute names.
fn parse_answer((status, body): &(u16, Vec<u8>)) -> Result<Attributes, WebhookError> {
    if !(200..300).contains(status) {
        return Err(WebhookError::Status(*status));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed("not JSON"))?;
    let attrs = match v.get("attributes") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(_) => return Err(WebhookError::Malformed("`attributes` is not an object")),
    };
    Ok(attrs
        .iter()
        .filter(|(k, _)| {
            crate::config::is_attribute_name(k) && !crate::config::RESERVED.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!(t.path, "/hook?x=1");
        assert_eq!(t.port, 8080);
        assert!(t.is_loopback());
        assert!(
            !Target::parse("http://hooks.example/")
                .unwrap()
                .is_loopback()
        );
        assert!(Target::parse("https://hooks.example/").is_err());
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("http://u:p@x/").is_err());
    }

    #[test]
    fn answers() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 46\r\n\r\n{\"attributes\":{\"plan\":\"pro\",\"id\":\"x\",\"a b\":1}}   "
            .to_vec();
        let parsed = split_response(&ok).unwrap();
        let a = parse_answer(&parsed).unwrap();
        assert_eq!(Value::Object(a), json!({"plan": "pro"}));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"att\r\n11\r\nributes\":{\"k\":1}}\r\n0\r\n\r\n";
        let a = parse_answer(&split_response(chunked).unwrap()).unwrap();
        assert_eq!(Value::Object(a), json!({"k": 1}));
        let err = b"HTTP/1.1 500 Oops\r\n\r\nno";
        assert!(matches!(
            parse_answer(&split_response(err).unwrap()),
            Err(WebhookError::Status(500))
        ));
        let junk = b"HTTP/1.1 200 OK\r\n\r\nnot json";
        assert!(parse_answer(&split_response(junk).unwrap()).is_err());
        assert!(split_response(b"garbage").is_err());
    }
}
