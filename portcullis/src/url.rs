//! Callback-URL validation: where a sign-in, sign-out or error may send the browser.
//!
//! The default policy is Auth.js's: a path starting with `/` is joined to the origin, an
//! absolute URL is allowed only when its origin is exactly ours, and everything else falls
//! back to the origin. The joined string is parsed again with the WHATWG parser of the `url`
//! crate and its origin checked, so backslashes, tabs, encoded slashes and userinfo tricks
//! cannot move the target to another host (SECURITY.md RDR-*, RFC 9700 §4.11.1).

use url::Url;

/// Longest callback URL considered; longer input falls back to the origin.
pub(crate) const MAX_CALLBACK_URL_LEN: usize = 2048;

/// A redirect target that has been checked to stay on the application's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl(Url);

impl CallbackUrl {
    /// Parses `input` as a same-origin target relative to `base` (an origin such as
    /// `https://app.example`). Returns `None` when the target would leave the origin or does
    /// not parse.
    ///
    /// # Examples
    /// ```
    /// use portcullis::CallbackUrl;
    /// let base = url::Url::parse("https://app.example").unwrap();
    /// let ok = CallbackUrl::same_origin("/dashboard?tab=1", &base).unwrap();
    /// assert_eq!(ok.as_str(), "https://app.example/dashboard?tab=1");
    /// assert!(CallbackUrl::same_origin("https://evil.example/", &base).is_none());
    /// assert!(CallbackUrl::same_origin("//evil.example", &base)
    ///     .map_or(true, |u| u.as_url().host_str() == Some("app.example")));
    /// ```
    pub fn same_origin(input: &str, base: &Url) -> Option<Self> {
        if input.is_empty() || input.len() > MAX_CALLBACK_URL_LEN {
            return None;
        }
        // The common case on every request: the callback-url cookie holds the origin itself.
        if input == base.as_str() && is_bare_origin(base) {
            return Some(Self(base.clone()));
        }
        let mut url = if input.starts_with('/') {
            // Join as text, exactly like Auth.js (`${baseUrl}${url}`), then re-parse and
            // re-check: the parser, not a pattern, decides where this really points.
            let origin = base.origin().ascii_serialization();
            Url::parse(&format!("{origin}{input}")).ok()?
        } else {
            Url::parse(input).ok()?
        };
        if url.origin() != base.origin() || !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        // Credentials in a redirect target serve no purpose and confuse readers.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        // The cap holds for what is written out (`Location`, the callback-url cookie) too:
        // percent-encoding can triple the input (`é` → `%C3%A9`), and a longer target would
        // be refused when the cookie comes back.
        if url.as_str().len() > MAX_CALLBACK_URL_LEN {
            return None;
        }
        Some(Self(url))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The parsed URL, by value.
    pub fn into_url(self) -> Url {
        self.0
    }
}

/// The origin of `base` as a `Url` (`https://app.example/`).
/// Whether `url` is exactly its origin (`https://app.example/`): path `/`, nothing else.
fn is_bare_origin(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

pub(crate) fn origin_url(base: &Url) -> Url {
    let mut u = base.clone();
    u.set_path("/");
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn base() -> Url {
        Url::parse("https://app.example").unwrap()
    }

    /// Where the default policy sends the browser: the target, or the origin as fallback.
    fn resolve(input: &str) -> Url {
        CallbackUrl::same_origin(input, &base()).map_or_else(|| origin_url(&base()), |c| c.0)
    }

    #[test]
    fn rdr_foreign_and_downgraded_origins_fall_back() {
        // RDR-01, RDR-06, RDR-07
        for input in [
            "https://evil.com",
            "http://app.example",
            "https://app.example:8443",
            "https://app.example.evil.com",
            "https://evilapp.example",
            "https://app.example.",
            "https://evil.example.attacker.com",
            "https://x.example@evil.com",
            "https://app.example@evil.com",
            "https://app.example%2F@evil.com",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "file:///etc/passwd",
            "ftp://app.example/",
            "blob:https://app.example/uuid",
            "\\\\evil.com",
            "\\/evil.com",
            " https://evil.com",
            "https:evil.com",
            "https:/evil.com",
        ] {
            let got = resolve(input);
            assert_eq!(got.as_str(), "https://app.example/", "input {input:?}");
        }
    }

    #[test]
    fn rdr_scheme_relative_and_encoded_slashes_stay_on_origin() {
        // RDR-02, RDR-05: either the fallback or a path on our own origin.
        for input in [
            "//evil.com",
            "///evil.com",
            "////evil.com",
            "/\\evil.com",
            "/\\\\evil.com",
            "/%2F%2Fevil.com",
            "%2F%2Fevil.com",
            "%5C%5Cevil.com",
            "%252F%252Fevil.com",
            "/%09/evil.com",
            "/%0d%0a/evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "/\r\n/evil.com",
            "/@evil.com",
            "/.evil.com",
            "/..//evil.com",
        ] {
            let got = resolve(input);
            assert_eq!(got.origin(), base().origin(), "input {input:?} → {got}");
            assert_eq!(got.host_str(), Some("app.example"), "input {input:?}");
        }
    }

    #[test]
    fn rdr_relative_paths_are_normalised_on_origin() {
        // RDR-10
        assert_eq!(
            resolve("/dashboard?x=1#y").as_str(),
            "https://app.example/dashboard?x=1#y"
        );
        assert_eq!(resolve("/../../etc").as_str(), "https://app.example/etc");
        assert_eq!(resolve("/./a").as_str(), "https://app.example/a");
        assert_eq!(
            resolve("https://app.example/x?y").as_str(),
            "https://app.example/x?y"
        );
        assert_eq!(
            resolve("https://user:pw@app.example/x").as_str(),
            "https://app.example/x"
        );
    }

    #[test]
    fn overlong_input_falls_back() {
        let long = format!("/{}", "a".repeat(MAX_CALLBACK_URL_LEN));
        assert!(CallbackUrl::same_origin(&long, &base()).is_none());
    }

    /// Found by `fuzz/` (callback_url): input under the cap whose serialised URL is over it
    /// was accepted, and then refused when the callback-url cookie holding it came back.
    #[test]
    fn input_that_grows_past_the_cap_when_encoded_falls_back() {
        let grows = format!("/?q={}", "\u{fffd}".repeat(300)); // 904 bytes; 2,723 as a URL
        assert!(grows.len() <= MAX_CALLBACK_URL_LEN);
        assert!(CallbackUrl::same_origin(&grows, &base()).is_none());
        let fits = format!("/?q={}", "\u{fffd}".repeat(200)); // 604 bytes; 1,823 as a URL
        let ok = CallbackUrl::same_origin(&fits, &base()).unwrap();
        assert_eq!(CallbackUrl::same_origin(ok.as_str(), &base()), Some(ok));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        // RDR-14: any string gives a same-origin result and never panics.
        #[test]
        fn any_input_stays_same_origin(s in any::<String>()) {
            let got = resolve(&s);
            prop_assert_eq!(got.origin(), base().origin());
        }

        #[test]
        fn url_shaped_input_stays_same_origin(
            prefix in prop::sample::select(vec!["", "/", "//", "\\", "/\\", "https://", "http://", "https:", "%2F", "/%2F"]),
            host in "[a-z.@:%0-9\\\\/]{0,24}",
            rest in "[ -~]{0,24}",
        ) {
            let s = format!("{prefix}{host}{rest}");
            let got = resolve(&s);
            prop_assert_eq!(got.origin(), base().origin());
        }
    }
}
