//! Email address normalisation: the one canonical form an address has everywhere (the
//! verification-token identifier, the user's stored email, the SMTP envelope).

use unicode_normalization::UnicodeNormalization;

/// The longest address accepted, in bytes (RFC 5321 §4.5.3.1.3: a path is at most 256
/// octets including the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest local part, in bytes (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL_LEN: usize = 64;

/// Why an address was refused. The message names the rule, never echoes the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidEmail {
    /// Nothing left after trimming.
    #[error("the address is empty")]
    Empty,
    /// Longer than [`MAX_EMAIL_LEN`] bytes, or a local part over 64.
    #[error("the address is too long")]
    TooLong,
    /// Not exactly one `@` with something on both sides.
    #[error("the address is not one local@domain")]
    NotOneAddress,
    /// The local part has a character outside RFC 5322's `atext` and `.`, or a misplaced
    /// dot (quoted local parts, lists, angle brackets, white space and control characters
    /// all land here).
    #[error("the address's local part has a character that is not allowed")]
    BadLocalPart,
    /// The domain is not a valid (internationalised) host name with at least one dot.
    #[error("the address's domain is not a valid domain name")]
    BadDomain,
}

/// The canonical form of an email address, or why it is refused.
///
/// 1. Unicode NFKC (fullwidth `ｆｏｏ` is `foo`), then surrounding white space trimmed,
///    then lowercase.
/// 2. Exactly one `@`; anything that could make a list or a header (`,` `;` `<` `>` `"`
///    white space, control characters, CR/LF) is refused, never cut off: Auth.js's cut at
///    the first `,` is what made CVE-2022-35924 possible.
/// 3. The local part is RFC 5322 `dot-atom` in ASCII (no quoted forms, no leading,
///    trailing or double dot), at most 64 bytes.
/// 4. The domain loses one trailing `.` and is converted to its ASCII (IDNA / punycode)
///    form, so `bücher.example` and `xn--bcher-kva.example` are one domain; it needs at
///    least two labels of letters, digits and inner hyphens.
/// 5. The result is at most 254 bytes.
///
/// The function is idempotent: a canonical address maps to itself.
///
/// # Examples
/// ```
/// use portcullis::email::{InvalidEmail, normalize_identifier};
/// assert_eq!(normalize_identifier("  Foo@Example.COM. ").unwrap(), "foo@example.com");
/// assert_eq!(normalize_identifier("foo@bücher.example").unwrap(), "foo@xn--bcher-kva.example");
/// assert_eq!(normalize_identifier("a@x.com,b@y.com"), Err(InvalidEmail::NotOneAddress));
/// assert!(normalize_identifier("\"e@attacker.com\"@victim.com").is_err());
/// ```
///
/// # Errors
/// [`InvalidEmail`] names the rule the input broke.
pub fn normalize_identifier(raw: &str) -> Result<String, InvalidEmail> {
    // Refuse absurd input before any Unicode work.
    if raw.len() > 4 * MAX_EMAIL_LEN {
        return Err(InvalidEmail::TooLong);
    }
    let folded: String = raw.nfkc().collect::<String>().trim().to_lowercase();
    if folded.is_empty() {
        return Err(InvalidEmail::Empty);
    }
    let mut parts = folded.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(InvalidEmail::NotOneAddress);
    };
    if local.is_empty() || domain.is_empty() {
        return Err(InvalidEmail::NotOneAddress);
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err(InvalidEmail::TooLong);
    }
    if !is_dot_atom(local) {
        return Err(InvalidEmail::BadLocalPart);
    }
    let domain = canonical_domain(domain)?;
    let out = format!("{local}@{domain}");
    if out.len() > MAX_EMAIL_LEN {
        return Err(InvalidEmail::TooLong);
    }
    Ok(out)
}

/// RFC 5322 `dot-atom-text` in ASCII: `atext` runs separated by single dots.
fn is_dot_atom(local: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-";
    !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || SPECIALS.contains(&b))
}

/// The ASCII form of a domain: one trailing dot dropped, IDNA (UTS #46) applied, then
/// checked as a host name of at least two LDH labels.
fn canonical_domain(domain: &str) -> Result<String, InvalidEmail> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    // Anything that is not a letter, digit, hyphen or dot in the Unicode form is refused
    // before IDNA mapping could turn it into something else (`a@b.com/x`, `[ip]`, …).
    if domain.is_empty()
        || domain
            .chars()
            .any(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        || domain.chars().any(char::is_whitespace)
    {
        return Err(InvalidEmail::BadDomain);
    }
    let ascii = idna::domain_to_ascii(domain).map_err(|_| InvalidEmail::BadDomain)?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(ascii)
    } else {
        Err(InvalidEmail::BadDomain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        normalize_identifier(raw).unwrap_or_else(|e| panic!("{raw:?} refused: {e}"))
    }

    #[test]
    fn canonical_forms_agree() {
        // SECURITY.md EML-09: one identifier for every spelling.
        for raw in [
            "foo@example.com",
            "Foo@Example.COM",
            "foo@EXAMPLE.com.",
            "  foo@example.com\t",
            "ｆｏｏ@example.com",
            "ｆｏｏ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        ] {
            assert_eq!(ok(raw), "foo@example.com", "{raw:?}");
        }
        assert_eq!(ok("foo@bücher.example"), "foo@xn--bcher-kva.example");
        assert_eq!(ok("foo@xn--bcher-kva.example"), "foo@xn--bcher-kva.example");
        assert_eq!(ok("FOO@BÜCHER.EXAMPLE"), "foo@xn--bcher-kva.example");
    }

    #[test]
    fn lists_and_header_tricks_are_refused() {
        // EML-05, EML-06, EML-07, EML-10: refused outright, never cut down to a prefix.
        for raw in [
            "a@x.com,b@y.com",
            "a@x.com;b@y.com",
            "a@x.com b@y.com",
            "a@x.com@victim.com",
            "victim.com",
            "",
            "   ",
            "@victim.com",
            "a@",
            "\"e@attacker.com\"@victim.com",
            "\"e\"@victim.com",
            "<e@attacker.com>",
            "e@attacker.com>",
            "a@victim.com\r\nBcc: x@evil.com",
            "a@victim.com\nBcc: x@evil.com",
            "a\u{0}@victim.com",
            "a@b.com, Claim your money <a href=https://evil.com>",
            "a(comment)@b.com",
            "a@[127.0.0.1]",
            "a@b.com/x",
            "a@localhost",
            "a@-b.com",
            "a@b-.com",
            "a@b..com",
            ".a@b.com",
            "a.@b.com",
            "a..b@b.com",
            "a@.com",
        ] {
            assert!(
                normalize_identifier(raw).is_err(),
                "{raw:?} was accepted as {:?}",
                normalize_identifier(raw)
            );
        }
    }

    #[test]
    fn lengths_are_bounded() {
        let local = "a".repeat(64);
        assert_eq!(ok(&format!("{local}@b.com")), format!("{local}@b.com"));
        assert_eq!(
            normalize_identifier(&format!("a{local}@b.com")),
            Err(InvalidEmail::TooLong)
        );
        let long_domain = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert_eq!(
            normalize_identifier(&format!("a@{long_domain}")),
            Err(InvalidEmail::TooLong)
        );
        assert_eq!(
            normalize_identifier(&"x".repeat(1_000_000)),
            Err(InvalidEmail::TooLong)
        );
    }

    #[test]
    fn plus_tags_and_specials_are_kept() {
        assert_eq!(
            ok("first.last+tag@example.com"),
            "first.last+tag@example.com"
        );
        assert_eq!(ok("o'neil@example.co.uk"), "o'neil@example.co.uk");
    }

    proptest::proptest! {
        /// Normalising is idempotent, and the output never holds a byte that could end a
        /// header or start a list.
        #[test]
        fn idempotent_and_header_safe(raw in "\\PC{0,40}") {
            if let Ok(n) = normalize_identifier(&raw) {
                proptest::prop_assert_eq!(normalize_identifier(&n), Ok(n.clone()));
                proptest::prop_assert!(n.is_ascii());
                proptest::prop_assert!(!n.bytes().any(|b| b.is_ascii_control() || b" ,;<>\"()[]\\".contains(&b)));
                proptest::prop_assert_eq!(n.matches('@').count(), 1);
            }
        }
    }
}
