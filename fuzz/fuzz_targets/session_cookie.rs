//! Session-cookie reassembly: an arbitrary `Cookie` header (chunked session cookies
//! `authjs.session-token.0`, `.1`, …) parsed and reassembled as every request does, and
//! portcullis's own chunking read back.
//!
//! Input: a flag (v4 or v5 chunk size), a flag (secure names), a length cap selector, a
//! token for the chunking round trip, then the raw `Cookie` header(s), split at `\n` into
//! several headers.
//!
//! Checks:
//! - parsing and reassembly never panic;
//! - a reassembled token is non-empty and within the length cap;
//! - it is the plain cookie's value when only the plain cookie is present, and otherwise
//!   exactly the chunks `name.0`, `name.1`, … in order, with no other session cookie;
//! - `session_names` lists each matching name once, and only `name` or `name.…`;
//! - chunking round-trips: the `Set-Cookie`s portcullis writes for any ASCII token, sent
//!   back as a `Cookie` header, reassemble to that token; every stale session cookie the
//!   request carried is deleted, and nothing written is also deleted.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::fuzzing::{Cookies, SessionToken, chunk_size, session_set_cookies};
use portcullis::{Compat, CookieNames, MAX_SESSION_CHUNKS};
use portcullis_fuzz::Reader;

fn check_reassembly(cookies: &Cookies, name: &str, max_len: usize) {
    let names = cookies.session_names(name);
    for (i, n) in names.iter().enumerate() {
        assert!(
            n == name || n.strip_prefix(name).is_some_and(|r| r.starts_with('.')),
            "{n:?} is not a session cookie name"
        );
        assert!(!names[..i].contains(n), "{n:?} listed twice");
    }
    match cookies.session_token(name, max_len) {
        SessionToken::Absent => assert!(names.is_empty()),
        SessionToken::Invalid => assert!(!names.is_empty()),
        SessionToken::Present(token) => {
            assert!(!token.is_empty() && token.len() <= max_len);
            if names.len() == 1 && names[0] == name {
                assert_eq!(cookies.get(name), Some(token.as_str()));
            } else {
                assert!(names.len() <= MAX_SESSION_CHUNKS);
                let joined: String = (0..names.len())
                    .map(|i| cookies.get(&format!("{name}.{i}")).unwrap_or_default())
                    .collect();
                assert_eq!(joined, token, "chunks reassembled out of order");
            }
        }
    }
}

fn check_chunking(cookies: &Cookies, name: &str, token: &str, compat: Compat, secure: bool) {
    let present = cookies.session_names(name);
    let written = session_set_cookies(name, token, secure, compat, &present);
    let (deleted, kept): (Vec<_>, Vec<_>) = written.iter().partition(|c| c.deletion);
    for p in &present {
        let rewritten = kept.iter().any(|c| &c.name == p);
        let removed = deleted.iter().any(|c| &c.name == p);
        assert!(rewritten != removed, "{p:?}: stale cookie handled wrongly");
    }
    assert!(deleted.iter().all(|d| present.contains(&d.name)));
    for c in &written {
        assert!(c.header.starts_with(&format!("{}=", c.name)));
        assert!(c.header.contains("; Path=/") && c.header.contains("; HttpOnly"));
        assert_eq!(c.header.contains("; Secure"), secure);
    }
    let size = chunk_size(compat);
    if token.is_empty() {
        return;
    }
    if token.len() <= size {
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].name, name);
    } else {
        assert_eq!(kept.len(), token.len().div_ceil(size));
    }
    // What the browser sends back: `name=value` of each written cookie, as serialised.
    let header: Vec<String> = kept
        .iter()
        .map(|c| c.header.split(';').next().unwrap_or_default().to_owned())
        .collect();
    let header = header.join("; ");
    let back = Cookies::parse([header.as_bytes()]);
    let max_len = token.len();
    if kept.len() <= MAX_SESSION_CHUNKS {
        assert_eq!(
            back.session_token(name, max_len),
            SessionToken::Present(token.to_owned()),
            "chunking did not round-trip"
        );
    } else {
        assert_eq!(back.session_token(name, max_len), SessionToken::Invalid);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let compat = if r.flag() { Compat::V4 } else { Compat::V5 };
    let secure = r.flag();
    let max_len = match r.choose(3) {
        0 => portcullis::jwt::MAX_TOKEN_LEN,
        1 => 64,
        _ => usize::MAX,
    };
    // Session tokens are ASCII (base64url and dots); chunk boundaries rely on that.
    let token: String = r.text().chars().filter(char::is_ascii).collect();
    let raw = r.rest();
    let headers: Vec<&[u8]> = raw.split(|b| *b == b'\n').collect();
    let cookies = Cookies::parse(headers.iter().copied());
    let name = CookieNames::defaults(compat, secure).session_token;
    check_reassembly(&cookies, &name, max_len);
    check_chunking(&cookies, &name, &token, compat, secure);
});
