//! Redacted newtypes for secret material.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret used to derive the session and CSRF keys (`AUTH_SECRET`).
///
/// `Debug` prints `Secret(<redacted>)`; there is no `PartialEq`; the bytes are reachable only
/// through [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a secret string.
    ///
    /// # Examples
    /// ```
    /// let s = portcullis::Secret::new("a-long-random-value-from-openssl-rand");
    /// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The secret's text. Call only where the key material is needed.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Compares two byte strings in constant time (for equal lengths; a length mismatch returns
/// early, which reveals only the length).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Fills a fresh array from the operating system's CSPRNG.
///
/// An OS random source that fails is an unrecoverable environment fault; continuing with
/// predictable tokens would be worse than stopping, so this is the one place that panics.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

/// 32 random bytes as 64 lowercase hex characters (Auth.js `randomString(32)`).
pub(crate) fn random_hex32() -> String {
    hex(&random_bytes::<32>())
}

/// Lowercase hex encoding.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// A random UUID v4 string (for `jti` and generated user ids).
pub(crate) fn random_uuid() -> String {
    uuid::Builder::from_random_bytes(random_bytes::<16>())
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("super-secret-value");
        assert!(!format!("{s:?}").contains("super"));
        assert_eq!(s.expose(), "super-secret-value");
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }

    #[test]
    fn random_values_have_the_expected_shape() {
        let h = random_hex32();
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(h, random_hex32());
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
