//! Key names. The layout is documented in the crate docs; the Lua scripts rebuild two of
//! these names on the server (`session:` and `user-sessions:`), so both sides must agree.
//!
//! Every key is `prefix` + a fixed kind word + parts that are lowercase hex only: token
//! hashes (already 64 hex), user ids hex-encoded byte by byte, identifiers as their SHA-256.
//! No byte of caller input therefore reaches a key name verbatim (SECURITY.md INJ-04): no
//! `:` to forge another kind, no `*`/`?` glob, no space or CRLF, no `{…}` hash tag, and
//! distinct inputs always give distinct keys (hex is injective; SHA-256 is
//! collision-resistant).

use portcullis::adapter::TokenHash;

/// The prefix used when none is configured.
pub(crate) const DEFAULT_PREFIX: &str = "portcullis:";

/// Lowercase hex of the bytes (injective, and free of every separator).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The hash as a key part, or `None` when it is not 64 lowercase hex.
///
/// `TokenHash` is only ever built by hashing, except through serde, which does not check
/// the form; a hash that is not hex never reaches a key name.
pub(crate) fn token_part(hash: &TokenHash) -> Option<&str> {
    TokenHash::from_stored(hash.as_str()).map(|_| hash.as_str())
}

/// Builds the key names of one adapter.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: String) -> Self {
        Self { prefix }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}session:{token hash}`: the session hash.
    pub(crate) fn session(&self, token: &str) -> String {
        format!("{}session:{token}", self.prefix)
    }

    /// `{prefix}user-sessions:{hex(user id)}`: the user's session index.
    pub(crate) fn user_sessions(&self, user_id: &str) -> String {
        format!("{}user-sessions:{}", self.prefix, hex(user_id.as_bytes()))
    }

    /// `{prefix}session-expiry`: every session by expiry, for `delete_expired_sessions`.
    pub(crate) fn session_expiry(&self) -> String {
        format!("{}session-expiry", self.prefix)
    }

    /// `{prefix}verification:{sha256(identifier)}:{token hash}`: one verification token.
    pub(crate) fn verification(&self, identifier: &str, token: &str) -> String {
        format!(
            "{}verification:{}:{token}",
            self.prefix,
            TokenHash::of(identifier).as_str()
        )
    }

    /// `{prefix}verification-index:{sha256(identifier)}`: the identifier's token keys, for
    /// `delete_verification_tokens`.
    pub(crate) fn verification_index(&self, identifier: &str) -> String {
        format!(
            "{}verification-index:{}",
            self.prefix,
            TokenHash::of(identifier).as_str()
        )
    }

    /// `{prefix}not-before:{hex(user id)}`: the user's revocation time.
    pub(crate) fn not_before(&self, user_id: &str) -> String {
        format!("{}not-before:{}", self.prefix, hex(user_id.as_bytes()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_covers_every_byte() {
        assert_eq!(hex(b""), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex("é:*\r\n{x}".as_bytes()), "c3a93a2a0d0a7b787d");
    }

    #[test]
    fn key_parts_never_carry_input_verbatim() {
        let keys = Keys::new("p:".to_owned());
        for id in [
            "a:b",
            "*",
            "a b",
            "x\r\nDEL y",
            "{tag}",
            "",
            "user-sessions:",
        ] {
            let k = keys.user_sessions(id);
            let tail = k.strip_prefix("p:user-sessions:").unwrap_or_default();
            assert!(
                tail.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{k}"
            );
            let v = keys.verification(id, "00");
            let tail = v.strip_prefix("p:verification:").unwrap_or_default();
            assert_eq!(tail.len(), 64 + 1 + 2, "{v}");
            let v = keys.verification_index(id);
            let tail = v.strip_prefix("p:verification-index:").unwrap_or_default();
            assert_eq!(tail.len(), 64, "{v}");
            assert!(tail.bytes().all(|b| b.is_ascii_hexdigit()), "{v}");
        }
        // Distinct inputs, distinct keys, even where a naive join would collide.
        let ids = ["a:b", "a", "b", "a:b:", ":a:b", "A:B", "a b"];
        let all: std::collections::HashSet<_> = ids.iter().map(|i| keys.not_before(i)).collect();
        assert_eq!(all.len(), ids.len());
        assert_ne!(keys.verification("a:b", "c"), keys.verification("a", "b:c"));
    }

    #[test]
    fn only_hex_hashes_become_key_parts() {
        let h = TokenHash::of("t");
        assert_eq!(token_part(&h), Some(h.as_str()));
        // serde does not check the form, so a forged "hash" can exist.
        let forged: TokenHash = serde_json::from_str("\"x:*\"").unwrap();
        assert_eq!(token_part(&forged), None);
        let upper: TokenHash = serde_json::from_str(&format!("\"{}\"", "A".repeat(64))).unwrap();
        assert_eq!(token_part(&upper), None);
    }
}
