//! Callback-URL validation (`CallbackUrl::same_origin`, and the default `redirect`
//! callback built on it): arbitrary `callbackUrl` / `redirectTo` strings against a few fixed
//! bases.
//!
//! Input: a base selector, then the candidate URL (the rest of the input, lossy UTF-8).
//!
//! Checks:
//! - accepted ⇒ the result has exactly the base's origin (scheme, host, port), is `http` or
//!   `https`, carries no userinfo, and re-validating it gives the same URL (idempotent);
//! - accepted input that is a plain path (`/x`, not `//x` or `/\x`) keeps that path on the base;
//! - an input that is the base's origin followed by a path is accepted;
//! - the default `redirect` callback always answers with a URL on the base's origin,
//!   whatever the input: the accepted URL, or the bare origin.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::{CallbackUrl, Callbacks, DefaultCallbacks};
use portcullis_fuzz::Reader;
use url::Url;

const BASES: [&str; 4] = [
    "https://app.example/",
    "http://localhost:3000/",
    "https://app.example:8443/",
    "http://[::1]:8080/",
];

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let base = match Url::parse(BASES[r.choose(BASES.len())]) {
        Ok(u) => u,
        Err(e) => panic!("bad base: {e}"),
    };
    let input = String::from_utf8_lossy(r.rest()).into_owned();

    let accepted = CallbackUrl::same_origin(&input, &base);
    if let Some(ok) = &accepted {
        let url = ok.as_url();
        assert_eq!(url.origin(), base.origin(), "{input:?} left the origin");
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(url.username().is_empty() && url.password().is_none());
        assert_eq!(ok.as_str(), url.as_str());
        let again = CallbackUrl::same_origin(ok.as_str(), &base);
        assert_eq!(again.as_ref(), Some(ok), "validation is not idempotent");
        let plain_path = input.starts_with('/')
            && !input.starts_with("//")
            && !input.starts_with("/\\")
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
        if plain_path {
            assert_eq!(
                url.as_str(),
                base.join(&input).map(String::from).unwrap_or_default(),
                "a plain path moved"
            );
        }
    }

    // The origin itself followed by a simple path is always a valid target.
    let simple: String = input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(64)
        .collect();
    let own = format!("{}{simple}", base.as_str());
    assert!(
        CallbackUrl::same_origin(&own, &base).is_some(),
        "{own:?} refused on its own origin"
    );

    let redirected = DefaultCallbacks.redirect(&input, &base);
    assert_eq!(redirected.origin(), base.origin());
    match &accepted {
        Some(ok) => assert_eq!(&redirected, ok.as_url()),
        None => assert_eq!(redirected, base),
    }
});
