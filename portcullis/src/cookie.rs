//! Cookie names, strict parsing of the `Cookie` header, `Set-Cookie` building and session
//! cookie chunking (PROTOCOL.md §2).

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use time::OffsetDateTime;

use crate::config::Compat;

/// Most cookie pairs read from one request; the rest are ignored.
pub const MAX_REQUEST_COOKIES: usize = 128;
/// Most chunks a session cookie may be split into; more means "no session".
pub const MAX_SESSION_CHUNKS: usize = 8;
/// Value characters per chunk (Auth.js: 4096 − 160; next-auth v4: 4096 − 163).
pub(crate) fn chunk_size(compat: Compat) -> usize {
    match compat {
        Compat::V5 => 4096 - 160,
        Compat::V4 => 4096 - 163,
    }
}

/// The names of the cookies portcullis reads and writes, for one scheme (http/https).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieNames {
    /// The session token (`authjs.session-token`, `__Secure-authjs.session-token`, …).
    pub session_token: String,
    /// The double-submit CSRF cookie (`__Host-` prefixed on https).
    pub csrf_token: String,
    /// The remembered callback URL.
    pub callback_url: String,
}

impl CookieNames {
    /// The Auth.js default names for a dialect and scheme.
    ///
    /// # Examples
    /// ```
    /// use portcullis::{Compat, CookieNames};
    /// let n = CookieNames::defaults(Compat::V5, true);
    /// assert_eq!(n.session_token, "__Secure-authjs.session-token");
    /// assert_eq!(n.csrf_token, "__Host-authjs.csrf-token");
    /// ```
    pub fn defaults(compat: Compat, secure: bool) -> Self {
        let stem = match compat {
            Compat::V5 => "authjs",
            Compat::V4 => "next-auth",
        };
        let (p, host) = if secure {
            ("__Secure-", "__Host-")
        } else {
            ("", "")
        };
        Self {
            session_token: format!("{p}{stem}.session-token"),
            csrf_token: format!("{host}{stem}.csrf-token"),
            callback_url: format!("{p}{stem}.callback-url"),
        }
    }
}

/// The cookies of a request, parsed once, in header order.
#[derive(Debug, Default, Clone)]
pub(crate) struct RequestCookies {
    pairs: Vec<(String, String)>,
}

impl RequestCookies {
    /// Parses every `Cookie` header. Malformed pairs are skipped; at most
    /// [`MAX_REQUEST_COOKIES`] pairs are kept. Values are percent-decoded as JavaScript's
    /// `decodeURIComponent` would; a value that does not decode is kept as sent.
    pub(crate) fn parse<'a>(headers: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut pairs = Vec::new();
        'outer: for raw in headers {
            let Ok(text) = std::str::from_utf8(raw) else {
                continue;
            };
            for part in text.split(';') {
                if pairs.len() >= MAX_REQUEST_COOKIES {
                    break 'outer;
                }
                let Some((name, value)) = part.split_once('=') else {
                    continue;
                };
                let name = name.trim();
                if name.is_empty() || !name.bytes().all(is_token_byte) {
                    continue;
                }
                let mut value = value.trim();
                if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                    value = &value[1..value.len() - 1];
                }
                pairs.push((name.to_owned(), decode_value(value).into_owned()));
            }
        }
        Self { pairs }
    }

    /// The first value sent under `name` (the browser sends the most specific cookie
    /// first; a later duplicate, for example one tossed from a sibling domain, is ignored).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every distinct cookie name equal to `name` or starting with `name.` — the session
    /// cookie and anything that looks like one of its chunks.
    pub(crate) fn session_names(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (n, _) in &self.pairs {
            let matches = n == name
                || n.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('.'));
            if matches && !out.iter().any(|o| o == n) {
                out.push(n.clone());
            }
        }
        out
    }

    /// Reassembles the session token: either the plain cookie alone, or exactly the
    /// contiguous chunks `name.0 … name.N` (N < [`MAX_SESSION_CHUNKS`]) with nothing else,
    /// and at most `max_len` bytes in total. Anything ambiguous is no session.
    pub(crate) fn session_token(&self, name: &str, max_len: usize) -> SessionCookie<'_> {
        let names = self.session_names(name);
        if names.is_empty() {
            return SessionCookie::Absent;
        }
        if names.len() == 1 && names[0] == name {
            let value = self.get(name).unwrap_or_default();
            if value.is_empty() || value.len() > max_len {
                return SessionCookie::Invalid;
            }
            // The common case, one cookie: borrowed, not copied.
            return SessionCookie::Present(Cow::Borrowed(value));
        }
        if names.len() > MAX_SESSION_CHUNKS || names.iter().any(|n| n == name) {
            return SessionCookie::Invalid;
        }
        let mut chunks: Vec<Option<&str>> = vec![None; names.len()];
        for n in &names {
            let suffix = &n[name.len() + 1..];
            // Canonical decimal only: "0", "1", … (no sign, no leading zeros).
            let canonical = !suffix.is_empty()
                && suffix.bytes().all(|b| b.is_ascii_digit())
                && (suffix == "0" || !suffix.starts_with('0'));
            let Some(index) = canonical.then(|| suffix.parse::<usize>().ok()).flatten() else {
                return SessionCookie::Invalid;
            };
            match chunks.get_mut(index) {
                Some(slot @ None) => *slot = self.get(n),
                _ => return SessionCookie::Invalid,
            }
        }
        let mut token = String::new();
        for chunk in chunks {
            match chunk {
                Some(c) if !c.is_empty() && token.len() + c.len() <= max_len => token.push_str(c),
                _ => return SessionCookie::Invalid,
            }
        }
        SessionCookie::Present(Cow::Owned(token))
    }
}

/// What the session cookie(s) of a request amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionCookie<'a> {
    /// No session cookie at all.
    Absent,
    /// Session cookies are present but malformed (ambiguous chunks, too many, too large).
    Invalid,
    /// The reassembled token.
    Present(Cow<'a, str>),
}

fn is_token_byte(b: u8) -> bool {
    // RFC 6265 cookie-name = token (RFC 7230 tchar)
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `encodeURIComponent`: everything but `A–Z a–z 0–9 - _ . ! ~ * ' ( )` is escaped.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The bytes `encodeURIComponent` leaves alone: `A–Z a–z 0–9 - _ . ! ~ * ' ( )` (what
/// [`URI_COMPONENT`] does not escape; a test checks the two agree on every byte).
const URI_COMPONENT_SAFE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        b += 1;
    }
    table
};

pub(crate) fn encode_value(value: &str) -> Cow<'_, str> {
    // Session tokens (base64url and dots) never need encoding: check that in one tight pass
    // (a table lookup per byte) before the general encoder.
    if value.bytes().all(|b| URI_COMPONENT_SAFE[usize::from(b)]) {
        return Cow::Borrowed(value);
    }
    utf8_percent_encode(value, URI_COMPONENT).into()
}

fn decode_value(value: &str) -> Cow<'_, str> {
    if !value.contains('%') {
        return Cow::Borrowed(value);
    }
    match percent_decode_str(value).decode_utf8() {
        Ok(v) => v,
        Err(_) => Cow::Borrowed(value),
    }
}

/// One `Set-Cookie` header, with the Auth.js defaults (`Path=/; HttpOnly; SameSite=Lax`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetCookie {
    /// Cookie name.
    pub(crate) name: String,
    /// Cookie value, unencoded (it is percent-encoded when serialised).
    pub(crate) value: String,
    /// `Expires`, if any.
    pub(crate) expires: Option<OffsetDateTime>,
    /// `Max-Age` in seconds, if any (`0` deletes).
    pub(crate) max_age: Option<i64>,
    /// Whether to add `Secure`.
    pub(crate) secure: bool,
    /// `SameSite=None` instead of `Lax` (only with `Secure`): for the OAuth check cookie of
    /// a provider that POSTs its answer cross-site (`form_post`).
    pub(crate) same_site_none: bool,
}

impl SetCookie {
    /// A browser-session cookie.
    pub(crate) fn new(name: impl Into<String>, value: impl Into<String>, secure: bool) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            expires: None,
            max_age: None,
            secure,
            same_site_none: false,
        }
    }

    /// A deletion (`value=""`, `Max-Age=0`) keeping the other attributes.
    pub(crate) fn delete(name: impl Into<String>, secure: bool) -> Self {
        Self {
            name: name.into(),
            value: String::new(),
            expires: None,
            max_age: Some(0),
            secure,
            same_site_none: false,
        }
    }

    /// Whether this cookie deletes its name.
    #[cfg(test)]
    pub(crate) fn is_deletion(&self) -> bool {
        self.max_age == Some(0)
    }

    /// The header value, attributes in the order of the `cookie` npm serializer.
    pub(crate) fn to_header_value(&self) -> String {
        let mut out = String::with_capacity(self.name.len() + self.value.len() + 96);
        out.push_str(&self.name);
        out.push('=');
        out.push_str(&encode_value(&self.value));
        if let Some(max_age) = self.max_age {
            out.push_str("; Max-Age=");
            out.push_str(&max_age.to_string());
        }
        out.push_str("; Path=/");
        if let Some(expires) = self.expires {
            out.push_str("; Expires=");
            out.push_str(&http_date(expires));
        }
        out.push_str("; HttpOnly");
        if self.secure {
            out.push_str("; Secure");
        }
        if self.same_site_none && self.secure {
            out.push_str("; SameSite=None");
        } else {
            out.push_str("; SameSite=Lax");
        }
        out
    }
}

/// The cookies that write `token` as the session: chunked when longer than one cookie
/// allows, with every other session cookie the request carried (stale chunks, or the plain
/// cookie when switching to chunks) deleted.
pub(crate) fn session_cookies(
    name: &str,
    token: &str,
    expires: OffsetDateTime,
    secure: bool,
    compat: Compat,
    present: &[String],
) -> Vec<SetCookie> {
    let size = chunk_size(compat);
    let mut out = Vec::new();
    let written: Vec<String> = if token.len() <= size {
        vec![name.to_owned()]
    } else {
        // Tokens are ASCII (base64url and dots), so byte chunks are char boundaries.
        (0..token.len().div_ceil(size))
            .map(|i| format!("{name}.{i}"))
            .collect()
    };
    for stale in present.iter().filter(|p| !written.contains(p)) {
        out.push(SetCookie::delete(stale.clone(), secure));
    }
    for (i, cookie_name) in written.into_iter().enumerate() {
        let start = i * size;
        let end = (start + size).min(token.len());
        out.push(SetCookie {
            name: cookie_name,
            value: token.get(start..end).unwrap_or_default().to_owned(),
            expires: Some(expires),
            max_age: None,
            secure,
            same_site_none: false,
        });
    }
    out
}

/// Deletions for every session cookie the request carried.
pub(crate) fn clear_session_cookies(present: &[String], secure: bool) -> Vec<SetCookie> {
    present
        .iter()
        .map(|n| SetCookie::delete(n.clone(), secure))
        .collect()
}

/// An IMF-fixdate, as `Date.prototype.toUTCString` writes it.
pub(crate) fn http_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Written digit by digit: this runs for every re-issued session cookie.
    let mut out = String::with_capacity(29);
    out.push_str(DAYS[t.weekday().number_days_from_monday() as usize]);
    out.push_str(", ");
    crate::session::push_digits(&mut out, u32::from(t.day()), 2);
    out.push(' ');
    out.push_str(MONTHS[(u8::from(t.month()) - 1) as usize]);
    out.push(' ');
    crate::session::push_year(&mut out, t.year());
    out.push(' ');
    crate::session::push_digits(&mut out, u32::from(t.hour()), 2);
    out.push(':');
    crate::session::push_digits(&mut out, u32::from(t.minute()), 2);
    out.push(':');
    crate::session::push_digits(&mut out, u32::from(t.second()), 2);
    out.push_str(" GMT");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_table_matches_the_encoder() {
        for b in 0..=255u8 {
            let one = [b];
            // Bytes ≥ 0x80 are never safe; check them through a valid UTF-8 string.
            let text = std::str::from_utf8(&one).unwrap_or("\u{e9}");
            let untouched = utf8_percent_encode(text, URI_COMPONENT).to_string() == text;
            assert_eq!(
                URI_COMPONENT_SAFE[usize::from(b)],
                untouched && b < 0x80,
                "byte {b:#04x}"
            );
            assert_eq!(
                encode_value(text),
                utf8_percent_encode(text, URI_COMPONENT).to_string()
            );
        }
    }

    fn cookies(header: &str) -> RequestCookies {
        RequestCookies::parse([header.as_bytes()])
    }

    const N: &str = "authjs.session-token";

    #[test]
    fn names_follow_scheme_and_dialect() {
        let n = CookieNames::defaults(Compat::V5, false);
        assert_eq!(n.session_token, "authjs.session-token");
        assert_eq!(n.csrf_token, "authjs.csrf-token");
        assert_eq!(n.callback_url, "authjs.callback-url");
        let n = CookieNames::defaults(Compat::V4, true);
        assert_eq!(n.session_token, "__Secure-next-auth.session-token");
        assert_eq!(n.csrf_token, "__Host-next-auth.csrf-token");
        assert_eq!(n.callback_url, "__Secure-next-auth.callback-url");
    }

    #[test]
    fn parse_decodes_like_decode_uri_component() {
        let c = cookies("a=x%7Cy; b=%E0%A4%A; c=\"q\"; bad name=1; =v; d");
        assert_eq!(c.get("a"), Some("x|y"));
        assert_eq!(c.get("b"), Some("%E0%A4%A"));
        assert_eq!(c.get("c"), Some("q"));
        assert_eq!(c.get("bad name"), None);
        assert_eq!(c.get("d"), None);
    }

    #[test]
    fn duplicate_names_keep_the_first() {
        // CKE-07: deterministic choice
        let c = cookies("x=first; x=second");
        assert_eq!(c.get("x"), Some("first"));
    }

    #[test]
    fn parse_is_bounded() {
        let header: String = (0..1000).map(|i| format!("c{i}=v; ")).collect();
        let c = cookies(&header);
        assert_eq!(c.pairs.len(), MAX_REQUEST_COOKIES);
    }

    #[test]
    fn plain_and_chunked_session_tokens_reassemble() {
        assert_eq!(
            cookies(&format!("{N}=abc")).session_token(N, 100),
            SessionCookie::Present("abc".into())
        );
        assert_eq!(
            cookies(&format!("{N}.1=def; {N}.0=abc; other=1")).session_token(N, 100),
            SessionCookie::Present("abcdef".into())
        );
        assert_eq!(
            cookies("other=1").session_token(N, 100),
            SessionCookie::Absent
        );
    }

    #[test]
    fn ambiguous_session_cookies_are_rejected() {
        // CKE-04, CKE-06 and friends
        for header in [
            format!("{N}=abc; {N}.0=abc"), // plain next to chunks
            format!("{N}.0=a; {N}.2=c"),   // gap
            format!("{N}.1=a"),            // no first chunk
            format!("{N}.0=a; {N}.00=b"),  // non-canonical index
            format!("{N}.0=a; {N}.-1=b"),  // sign
            format!("{N}.0=a; {N}.x=b"),   // not a number
            format!("{N}.0=a; {N}.1="),    // empty chunk
            format!("{N}="),               // empty plain
            format!("{N}.0=a; {N}.+1=b"),
        ] {
            assert_eq!(
                cookies(&header).session_token(N, 100),
                SessionCookie::Invalid,
                "{header}"
            );
        }
        let many: String = (0..=MAX_SESSION_CHUNKS)
            .map(|i| format!("{N}.{i}=a; "))
            .collect();
        assert_eq!(cookies(&many).session_token(N, 100), SessionCookie::Invalid);
        assert_eq!(
            cookies(&format!("{N}.0=aaaa; {N}.1=bbbb")).session_token(N, 7),
            SessionCookie::Invalid
        );
    }

    #[test]
    fn names_with_a_common_prefix_are_not_chunks() {
        assert_eq!(
            cookies(&format!("{N}x=1; {N}=tok")).session_token(N, 100),
            SessionCookie::Present("tok".into())
        );
    }

    #[test]
    fn chunking_splits_and_clears_stale_chunks() {
        let expires = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let size = chunk_size(Compat::V5);
        let token = "t".repeat(size * 2 + 10);
        // CKE-02: chunked, plain cookie cleared
        let out = session_cookies(N, &token, expires, false, Compat::V5, &[N.to_owned()]);
        let names: Vec<_> = out
            .iter()
            .map(|c| (c.name.as_str(), c.is_deletion()))
            .collect();
        assert_eq!(
            names,
            [
                (N, true),
                ("authjs.session-token.0", false),
                ("authjs.session-token.1", false),
                ("authjs.session-token.2", false)
            ]
        );
        for c in &out {
            assert!(c.to_header_value().len() <= 4096);
        }
        let joined: String = out
            .iter()
            .filter(|c| !c.is_deletion())
            .map(|c| c.value.as_str())
            .collect();
        assert_eq!(joined, token);
        // CKE-08: shrinking from 3 chunks to 1 clears .0, .1, .2
        let present: Vec<String> = (0..3).map(|i| format!("{N}.{i}")).collect();
        let out = session_cookies(N, "small", expires, false, Compat::V5, &present);
        let deleted: Vec<_> = out
            .iter()
            .filter(|c| c.is_deletion())
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(deleted, present);
        assert_eq!(out.last().map(|c| c.name.as_str()), Some(N));
    }

    #[test]
    fn set_cookie_serialises_like_auth_js() {
        let c = SetCookie::delete(N, false);
        assert_eq!(
            c.to_header_value(),
            "authjs.session-token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        );
        let mut c = SetCookie::new("__Host-authjs.csrf-token", "tok|hash", true);
        c.expires = Some(OffsetDateTime::from_unix_timestamp(1_445_412_480).unwrap());
        assert_eq!(
            c.to_header_value(),
            "__Host-authjs.csrf-token=tok%7Chash; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly; Secure; SameSite=Lax"
        );
    }

    #[test]
    fn encode_matches_encode_uri_component() {
        assert_eq!(
            encode_value("a b/c?d=e&f|g~h*i'j(k)l!m-n_o.p"),
            "a%20b%2Fc%3Fd%3De%26f%7Cg~h*i'j(k)l!m-n_o.p"
        );
        assert_eq!(encode_value("é"), "%C3%A9");
    }
}
