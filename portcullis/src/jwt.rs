//! JWE compact serialization as Auth.js writes it: `alg: dir` with `A256CBC-HS512` (v5) or
//! `A256GCM` (next-auth v4).
//!
//! This is the session-cookie codec: it turns the claims JSON into
//! `header..iv.ciphertext.tag` and back. It checks only the envelope (size, shape, header,
//! key choice, authentication tag); the claims (`exp`, `nbf`, `iat`, required members) are
//! validated by the caller **after** [`JweCodec::decode`] returns.
//!
//! Wire format (PROTOCOL.md §4.1, §4.2; RFC 7516, RFC 7518 §5.2):
//!
//! - v5 (`@auth/core`): header `{"alg":"dir","enc":"A256CBC-HS512","kid":"<thumbprint>"}`,
//!   a 64-byte key from HKDF-SHA256(secret, salt = cookie name,
//!   info = `Auth.js Generated Encryption Key (<cookie name>)`), `kid` = the RFC 7638
//!   thumbprint of that key (SHA-512).
//! - v4 (`next-auth` 4): header `{"alg":"dir","enc":"A256GCM"}`, no `kid`, a 32-byte key from
//!   HKDF-SHA256(secret, salt = "", info = `NextAuth.js Generated Encryption Key`).
//!
//! # Security
//!
//! - Only `alg: dir` and the two `enc` values above are accepted; the header cannot choose a
//!   key-management or compression step (no `zip`, no `crit`, no `p2c` …), and every
//!   unknown header member is refused.
//! - The token length is capped ([`MAX_TOKEN_LEN`]) before any base64 or crypto work, and
//!   every segment must be strict base64url (no padding, no `+`/`/`, no whitespace, canonical
//!   trailing bits), so a token has exactly one accepted spelling.
//! - For `A256CBC-HS512` the HMAC tag is verified in constant time before anything is
//!   decrypted or unpadded, so there is no padding oracle (RFC 7518 §5.2.2.2).
//! - `kid` is only ever compared, in constant time, with the thumbprints derived here; it is
//!   never used to look anything up elsewhere.
//! - [`JweError`] is deliberately coarse and its messages never contain token bytes or key
//!   material: every variant means "no session".
//!
//! One deliberate difference from `@auth/core`'s decoder: given an `A256GCM` header, Auth.js v5
//! would derive a 32-byte key with its own (v5) salt and info. No Auth.js version writes such a
//! token, so here `A256GCM` always means next-auth v4's format and key, and is accepted only
//! when reading v4 tokens is switched on (SECURITY.md decision 4).

use std::borrow::Cow;
use std::fmt;

use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use aes_gcm::{AeadInOut, Aes256Gcm};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// The hard cap on a token's length checked before any base64 or crypto work.
///
/// Tokens longer than this are refused with [`JweError::TooLarge`] (SECURITY.md TOK-04). It
/// applies to the assembled token, after cookie chunks are joined; a session whose claims
/// JSON is larger than 12 095 bytes therefore cannot round-trip (see [`JweCodec::encode`]).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The cap on the base64url protected-header segment. The headers Auth.js writes are 39
/// (v4) and 171 (v5) characters long.
const MAX_HEADER_LEN: usize = 1024;
/// The cap on a `kid` value. A thumbprint is 43 (SHA-256) or 86 (SHA-512) characters.
const MAX_KID_LEN: usize = 128;

const ENC_CBC: &str = "A256CBC-HS512";
const ENC_GCM: &str = "A256GCM";
/// base64url(`{"alg":"dir","enc":"A256GCM"}`), the only header next-auth v4 writes.
const V4_HEADER_B64: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0";
const V4_INFO: &[u8] = b"NextAuth.js Generated Encryption Key";

const CBC_IV_LEN: usize = 16;
const CBC_TAG_LEN: usize = 32;
const GCM_IV_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;
/// base64url length of the longest IV (16 bytes) and tag (32 bytes) we accept.
const MAX_IV_B64: usize = 22;
const MAX_TAG_B64: usize = 43;
/// HKDF-SHA256 can produce at most 255 × 32 bytes (RFC 5869 §2.3).
const HKDF_SHA256_MAX: usize = 255 * 32;

/// Which Auth.js generation's token format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// `@auth/core` / `NextAuth` v5: `dir` + `A256CBC-HS512` with a `kid`, the key salted with
    /// the session cookie name.
    V5,
    /// next-auth v4 (and nuxt-auth, which runs v4 inside): `dir` + `A256GCM` without `kid`,
    /// the key derived with an empty salt.
    V4,
}

/// Why a token was refused. Deliberately coarse toward callers: every variant means "no
/// session".
///
/// The variants exist for logs and tests; callers should treat them alike (clear the cookie,
/// answer as signed out) so that the response is no oracle (SECURITY.md TOK-17). Messages
/// never include token bytes or key material.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JweError {
    /// The token is longer than [`MAX_TOKEN_LEN`], or its protected header is longer than
    /// 1 KiB. Likely cause: garbage or an attack; portcullis never writes such a token.
    #[error("session token exceeds the size limit")]
    TooLarge,
    /// The token is not a well-formed `dir` JWE: not five `.`-separated parts, a non-empty
    /// encrypted-key part, a part that is not strict base64url, a header that is not a JSON
    /// object (or repeats a member, or has a member of the wrong type, or lacks `alg`/`enc`,
    /// or has a `kid` over 128 characters), or an IV, tag or ciphertext of the wrong length.
    /// Likely cause: a truncated or hand-edited cookie.
    #[error("session token is not a well-formed compact JWE")]
    Malformed,
    /// The header asks for something portcullis does not do: `alg` other than `dir`, `enc`
    /// other than `A256CBC-HS512` (or `A256GCM` where v4 tokens are accepted), or any member
    /// besides `alg`, `enc`, `kid`, `typ`, `cty` (e.g. `zip`, `crit`, `jku`, `jwk`, `p2c`).
    /// Likely cause: a token from another system, or an attack.
    #[error("session token header is not supported")]
    UnsupportedHeader,
    /// The header's `kid` matches none of the configured secrets. Likely cause: the secret
    /// was rotated out, the token comes from another deployment, or the cookie name (the key
    /// salt) differs.
    #[error("session token was not made with any configured secret")]
    NoMatchingKey,
    /// The authentication tag did not verify (or, after a valid tag, the padding was wrong).
    /// Likely cause: a tampered token, or a token without `kid` made with another secret.
    #[error("session token failed authentication")]
    Decryption,
}

/// Why a [`JweCodec`] could not be built.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JweConfigError {
    /// The secret list is empty. Auth.js calls this `MissingSecret`: set `AUTH_SECRET`.
    #[error("no secret configured for the session token")]
    NoSecrets,
    /// The secret at this position (0 = newest) is empty; it would derive a key anyone can
    /// compute.
    #[error("session secret number {index} is empty")]
    EmptySecret {
        /// Position in the list passed to [`JweCodec::new`], 0 being the newest.
        index: usize,
    },
}

/// Derived keys for one salt (the session cookie name) and a secret list, newest first.
///
/// Keys and kids are derived once here (HKDF is not repeated per request), and the v5
/// protected headers are base64url-encoded once, so [`JweCodec::decode`] on a token this
/// codec wrote does no key derivation, no header JSON parsing, and one allocation (the
/// returned plaintext).
///
/// `Debug` shows the format, the number of secrets and the encoding `kid` (public: it is in
/// every token), never keys.
pub struct JweCodec {
    /// One per secret, newest first; never empty (checked in [`JweCodec::new`]).
    v5: Box<[V5Key]>,
    /// One per secret when v4 tokens are accepted, else empty.
    v4: Box<[V4Key]>,
    /// The key and header used by [`JweCodec::encode`].
    encoder: Encoder,
    accept_v4: bool,
}

/// A v5 key: the keyed HMAC and the AES key schedule of one secret, plus its kid and header.
#[derive(Clone)]
struct V5Key {
    cbc: CbcHsKey,
    kid: String,
    /// base64url of `{"alg":"dir","enc":"A256CBC-HS512","kid":"<kid>"}`.
    header_b64: String,
}

/// A v4 key: AES-256-GCM of one secret, plus the SHA-256 thumbprint (used only if a
/// `A256GCM` token carries a `kid`; next-auth v4 never writes one).
#[derive(Clone)]
struct V4Key {
    gcm: Aes256Gcm,
    kid: String,
}

/// `AEAD_AES_256_CBC_HMAC_SHA_512` (RFC 7518 §5.2.5) key halves, prepared once.
#[derive(Clone)]
struct CbcHsKey {
    /// HMAC-SHA-512 already keyed with `K[..32]` (cloning it skips the two key-block hashes).
    mac: Hmac<Sha512>,
    /// AES-256 key schedule of `K[32..]`.
    aes: Aes256,
}

#[derive(Clone)]
enum Encoder {
    V5(V5Key),
    V4(Aes256Gcm),
}

impl JweCodec {
    /// Derives the keys for `secrets` and the cookie-name `salt`.
    ///
    /// `secrets`: newest first (the first encodes). `salt`: the cookie name, e.g.
    /// `"authjs.session-token"` or `"__Secure-authjs.session-token"` (the two derive
    /// different keys, as in Auth.js). `write`: [`TokenFormat::V5`] writes
    /// `dir`+`A256CBC-HS512` with `kid`; [`TokenFormat::V4`] writes `dir`+`A256GCM` without
    /// `kid` (v4 key: salt `""`, info `NextAuth.js Generated Encryption Key`, 32 bytes — the
    /// v4 key ignores `salt`, as next-auth v4's session route passes none). `accept_v4`:
    /// whether `A256GCM` tokens (v4 keys) are accepted on decode; forced to `true` when
    /// `write` is `V4`. `A256CBC-HS512` tokens are always accepted.
    ///
    /// # Errors
    ///
    /// [`JweConfigError::NoSecrets`] for an empty list, [`JweConfigError::EmptySecret`] for a
    /// zero-length secret.
    ///
    /// # Examples
    ///
    /// ```
    /// use portcullis::jwt::{JweCodec, TokenFormat};
    ///
    /// let codec = JweCodec::new(
    ///     &["new-secret-from-openssl-rand".as_bytes(), "old-secret-still-accepted".as_bytes()],
    ///     "authjs.session-token",
    ///     TokenFormat::V5,
    ///     false,
    /// )?;
    /// let token = codec.encode(br#"{"sub":"42"}"#);
    /// assert_eq!(codec.decode(&token)?, br#"{"sub":"42"}"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        secrets: &[&[u8]],
        salt: &str,
        write: TokenFormat,
        accept_v4: bool,
    ) -> Result<Self, JweConfigError> {
        let [newest, ..] = secrets else {
            return Err(JweConfigError::NoSecrets);
        };
        if let Some(index) = secrets.iter().position(|s| s.is_empty()) {
            return Err(JweConfigError::EmptySecret { index });
        }
        let accept_v4 = accept_v4 || write == TokenFormat::V4;

        let v5: Box<[V5Key]> = secrets.iter().map(|s| V5Key::derive(s, salt)).collect();
        let v4: Box<[V4Key]> = if accept_v4 {
            secrets.iter().map(|s| V4Key::derive(s)).collect()
        } else {
            Box::new([])
        };
        // The newest secret encodes; deriving it once more (once per configuration) keeps the
        // encoder free of indexing.
        let encoder = match write {
            TokenFormat::V5 => Encoder::V5(V5Key::derive(newest, salt)),
            TokenFormat::V4 => Encoder::V4(V4Key::derive(newest).gcm),
        };
        Ok(Self {
            v5,
            v4,
            encoder,
            accept_v4,
        })
    }

    /// Encrypts `plaintext` (the claims JSON) into a compact JWE, with a fresh random IV.
    ///
    /// The output is built in one `String` sized up front. A v5 token is 240 bytes plus the
    /// base64url of the padded ciphertext (`plaintext.len()` rounded up to the next multiple
    /// of 16, at least one byte of padding). [`JweCodec::decode`] refuses tokens over
    /// [`MAX_TOKEN_LEN`], so a v5 token round-trips only for claims of at most 12 095 bytes
    /// (v4: 12 227); nothing here refuses a larger input.
    ///
    /// # Panics
    ///
    /// Only if the operating system's random source fails (`getrandom`). Issuing a session
    /// with a predictable IV would be worse than stopping, so this is treated as an
    /// unrecoverable environment fault.
    ///
    /// # Examples
    ///
    /// ```
    /// use portcullis::jwt::{JweCodec, TokenFormat};
    ///
    /// let secret = "a-long-random-value".as_bytes();
    /// let codec = JweCodec::new(&[secret], "authjs.session-token", TokenFormat::V5, false)?;
    /// let token = codec.encode(br#"{"sub":"42"}"#);
    /// assert_eq!(token.split('.').count(), 5);
    /// assert_ne!(token, codec.encode(br#"{"sub":"42"}"#)); // fresh IV every time
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn encode(&self, plaintext: &[u8]) -> String {
        match &self.encoder {
            Encoder::V5(key) => seal_cbc_token(key, &random_array::<CBC_IV_LEN>(), plaintext),
            Encoder::V4(gcm) => seal_gcm_token(gcm, &random_array::<GCM_IV_LEN>(), plaintext),
        }
    }

    /// [`JweCodec::encode`] with a caller-chosen IV, for known-answer tests only.
    ///
    /// Test-only (`cfg(test)`, crate-private): a fixed IV must never reach production.
    ///
    /// # Panics
    ///
    /// If `iv` is not 16 bytes (v5) or 12 bytes (v4).
    #[cfg(test)]
    #[allow(clippy::expect_used)]
    pub(crate) fn encode_with_iv(&self, plaintext: &[u8], iv: &[u8]) -> String {
        match &self.encoder {
            Encoder::V5(key) => {
                let iv: [u8; CBC_IV_LEN] = iv.try_into().expect("a v5 IV is 16 bytes");
                seal_cbc_token(key, &iv, plaintext)
            }
            Encoder::V4(gcm) => {
                let iv: [u8; GCM_IV_LEN] = iv.try_into().expect("a v4 IV is 12 bytes");
                seal_gcm_token(gcm, &iv, plaintext)
            }
        }
    }

    /// Decrypts a compact JWE and returns its plaintext (the claims JSON bytes).
    ///
    /// Claim checks (`exp`, `nbf`, `iat`, required members) are **not** done here. Checks,
    /// cheapest first: length ≤ [`MAX_TOKEN_LEN`]; exactly five `.`-separated parts; empty
    /// encrypted-key part; header part ≤ 1 KiB; every other part strict base64url; header a
    /// JSON object with `alg: "dir"`, an accepted `enc`, optional `kid` (string ≤ 128 chars),
    /// optional `typ`/`cty` (strings, ignored) and nothing else; IV/tag/ciphertext lengths
    /// for the `enc`; then the key and the tag.
    ///
    /// Key choice: with `kid`, the secret whose thumbprint equals it (constant-time, over all
    /// secrets); without `kid`, for `A256CBC-HS512` the newest secret only (as Auth.js), for
    /// `A256GCM` each secret's v4 key in order. Trying every v4 key is safe: each try is one
    /// GCM tag check, the 128-bit tag makes a wrong key accept with probability 2⁻¹²⁸, the
    /// number of tries is bounded by the configured secret count, and which secret matched
    /// is no secret (a v5 token's `kid` says as much).
    ///
    /// # Errors
    ///
    /// A [`JweError`] saying which check failed; every variant means "no session".
    ///
    /// # Examples
    ///
    /// ```
    /// use portcullis::jwt::{JweCodec, JweError, TokenFormat};
    ///
    /// let (new, old) = ("new-secret".as_bytes(), "old-secret".as_bytes());
    /// let salt = "authjs.session-token";
    /// let old_only = JweCodec::new(&[old], salt, TokenFormat::V5, false)?;
    /// let both = JweCodec::new(&[new, old], salt, TokenFormat::V5, false)?;
    /// let token = old_only.encode(b"{}");
    /// assert_eq!(both.decode(&token)?, b"{}");
    /// assert_eq!(both.decode("a.b.c"), Err(JweError::Malformed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode(&self, token: &str) -> Result<Vec<u8>, JweError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JweError::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(encrypted_key), Some(iv), Some(ciphertext), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(JweError::Malformed);
        };
        // RFC 7516 §5.2 step 10 / RFC 7518 §4.5: with `dir` the encrypted key is empty.
        if !encrypted_key.is_empty() {
            return Err(JweError::Malformed);
        }
        if header.len() > MAX_HEADER_LEN {
            return Err(JweError::TooLarge);
        }
        if iv.len() > MAX_IV_B64 || tag.len() > MAX_TAG_B64 {
            return Err(JweError::Malformed);
        }

        // A header this codec wrote is recognised by its exact bytes, which skips base64 and
        // JSON work on the hot path; anything else goes through the strict parser.
        let known = self.known_header(header);
        let mut header_buf = [0u8; MAX_HEADER_LEN / 4 * 3];
        let header_json: &[u8] = if known.is_some() {
            &[]
        } else {
            let n = b64_decode_slice(header, &mut header_buf)?;
            header_buf.get(..n).ok_or(JweError::Malformed)?
        };
        let mut iv_buf = [0u8; CBC_IV_LEN];
        let n = b64_decode_slice(iv, &mut iv_buf)?;
        let iv = iv_buf.get(..n).ok_or(JweError::Malformed)?;
        let mut tag_buf = [0u8; CBC_TAG_LEN];
        let n = b64_decode_slice(tag, &mut tag_buf)?;
        let tag = tag_buf.get(..n).ok_or(JweError::Malformed)?;
        let mut buf = Vec::with_capacity(ciphertext.len() / 4 * 3 + 3);
        URL_SAFE_NO_PAD
            .decode_vec(ciphertext, &mut buf)
            .map_err(|_| JweError::Malformed)?;

        let (enc, kid) = match known {
            Some(k) => k,
            None => self.parse_header(header_json)?,
        };
        let aad = header.as_bytes();
        match enc {
            Enc::CbcHs512 => {
                let (Ok(iv), Ok(tag)) = (
                    <&[u8; CBC_IV_LEN]>::try_from(iv),
                    <&[u8; CBC_TAG_LEN]>::try_from(tag),
                ) else {
                    return Err(JweError::Malformed);
                };
                if buf.is_empty() || buf.len() % 16 != 0 {
                    return Err(JweError::Malformed);
                }
                let index = match kid {
                    KeyChoice::Index(i) => i,
                    KeyChoice::Kid(kid) => ct_find(&self.v5, |k| &k.kid, kid.as_bytes())
                        .ok_or(JweError::NoMatchingKey)?,
                    KeyChoice::First => 0,
                };
                let key = self.v5.get(index).ok_or(JweError::NoMatchingKey)?;
                cbc_hs512_open(&key.cbc, aad, iv, &mut buf, tag)?;
                Ok(buf)
            }
            Enc::Gcm => {
                let (Ok(iv), Ok(tag)) = (
                    <&[u8; GCM_IV_LEN]>::try_from(iv),
                    <&[u8; GCM_TAG_LEN]>::try_from(tag),
                ) else {
                    return Err(JweError::Malformed);
                };
                let candidates = match kid {
                    KeyChoice::Kid(kid) => {
                        let i = ct_find(&self.v4, |k| &k.kid, kid.as_bytes())
                            .ok_or(JweError::NoMatchingKey)?;
                        self.v4.get(i..=i).ok_or(JweError::NoMatchingKey)?
                    }
                    KeyChoice::First | KeyChoice::Index(_) => &self.v4[..],
                };
                // A failed GCM check leaves `buf` untouched (aes-gcm verifies the tag before
                // applying the keystream), so the next key sees the original ciphertext.
                for key in candidates {
                    if gcm_open(&key.gcm, aad, iv, &mut buf, tag).is_ok() {
                        return Ok(buf);
                    }
                }
                Err(JweError::Decryption)
            }
        }
    }

    /// The `kid` of the encoding key (`None` when writing v4 tokens, which carry no `kid`).
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        match &self.encoder {
            Encoder::V5(key) => Some(&key.kid),
            Encoder::V4(_) => None,
        }
    }

    /// Recognises the exact header bytes this codec's keys produce. Compared in constant
    /// time against every v5 header (no early exit on the secret-derived bytes).
    fn known_header(&self, header: &str) -> Option<(Enc, KeyChoice<'static>)> {
        if let Some(i) = ct_find(&self.v5, |k| &k.header_b64, header.as_bytes()) {
            return Some((Enc::CbcHs512, KeyChoice::Index(i)));
        }
        if self.accept_v4 && header == V4_HEADER_B64 {
            return Some((Enc::Gcm, KeyChoice::First));
        }
        None
    }

    /// Parses and vets a protected header that is not one of ours byte for byte.
    fn parse_header<'h>(&self, json: &'h [u8]) -> Result<(Enc, KeyChoice<'h>), JweError> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let raw = de::Deserializer::deserialize_map(&mut de, HeaderVisitor)
            .map_err(|_| JweError::Malformed)?;
        de.end().map_err(|_| JweError::Malformed)?;
        if raw.unknown_member {
            return Err(JweError::UnsupportedHeader);
        }
        let (Some(alg), Some(enc)) = (raw.alg, raw.enc) else {
            return Err(JweError::Malformed);
        };
        if alg != "dir" {
            return Err(JweError::UnsupportedHeader);
        }
        let enc = match &*enc {
            ENC_CBC => Enc::CbcHs512,
            ENC_GCM if self.accept_v4 => Enc::Gcm,
            _ => return Err(JweError::UnsupportedHeader),
        };
        let kid = match raw.kid {
            Some(kid) if kid.chars().count() > MAX_KID_LEN => return Err(JweError::Malformed),
            Some(kid) => KeyChoice::Kid(kid),
            None => KeyChoice::First,
        };
        Ok((enc, kid))
    }
}

impl fmt::Debug for JweCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let write = match self.encoder {
            Encoder::V5(_) => TokenFormat::V5,
            Encoder::V4(_) => TokenFormat::V4,
        };
        f.debug_struct("JweCodec")
            .field("write", &write)
            .field("accept_v4", &self.accept_v4)
            .field("secrets", &self.v5.len())
            .field("kid", &self.kid())
            .field("keys", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// HKDF-SHA256(ikm = `secret`, `salt`, info = `Auth.js Generated Encryption Key (<salt>)`,
/// `len`) — the v5 key derivation, exposed for vectors and tests.
///
/// Auth.js uses `len` 64 for `A256CBC-HS512`. HKDF-SHA256 cannot produce more than
/// 8160 bytes (RFC 5869 §2.3); a larger `len` yields those 8160 bytes.
///
/// # Examples
///
/// ```
/// let key = portcullis::jwt::derive_v5_key(b"test-secret-1234567890", "authjs.session-token", 64);
/// assert_eq!(key.len(), 64);
/// assert_eq!(key[0], 0x9c);
/// ```
#[must_use]
pub fn derive_v5_key(secret: &[u8], salt: &str, len: usize) -> Vec<u8> {
    let mut okm = vec![0u8; len.min(HKDF_SHA256_MAX)];
    hkdf_sha256(secret, salt.as_bytes(), &v5_info(salt), &mut okm);
    okm
}

/// HKDF-SHA256(ikm = `secret`, salt = `""`, info = `NextAuth.js Generated Encryption Key`,
/// 32 bytes) — the next-auth v4 session-token key.
///
/// # Examples
///
/// ```
/// let key = portcullis::jwt::derive_v4_key(b"test-secret-1234567890");
/// assert_eq!(key[..2], [0x91, 0xfa]);
/// ```
#[must_use]
pub fn derive_v4_key(secret: &[u8]) -> [u8; 32] {
    let mut okm = [0u8; 32];
    hkdf_sha256(secret, b"", V4_INFO, &mut okm);
    okm
}

/// RFC 7638 thumbprint of `{"k":"<base64url key>","kty":"oct"}`, base64url without padding.
///
/// The hash follows Auth.js, which asks `jose` for `sha<key bits>`: SHA-512 for a 64-byte
/// key (86 characters), SHA-256 for a 32-byte key (43 characters), SHA-384 for 48 bytes.
/// `jose` supports no other hash; for any other key length this uses SHA-256, RFC 7638's
/// own example hash.
///
/// # Examples
///
/// ```
/// use portcullis::jwt::{derive_v5_key, thumbprint};
///
/// let key = derive_v5_key(b"test-secret-1234567890", "authjs.session-token", 64);
/// assert_eq!(
///     thumbprint(&key),
///     "f2Hr8XO-aSyRYC7TOHoDiUu6krd7SHAYlrNvmlJUQ58UnBgQCwYcU8aGin0ohmSMqAsVqKU1dRkB78--3UXBZQ"
/// );
/// ```
#[must_use]
pub fn thumbprint(key: &[u8]) -> String {
    // RFC 7638 §3.2: required members only, lexicographic order, no whitespace. The base64url
    // alphabet needs no JSON escaping.
    let mut jwk = String::with_capacity(b64_len(key.len()) + 20);
    jwk.push_str(r#"{"k":""#);
    URL_SAFE_NO_PAD.encode_string(key, &mut jwk);
    jwk.push_str(r#"","kty":"oct"}"#);
    match key.len() {
        64 => URL_SAFE_NO_PAD.encode(Sha512::digest(jwk.as_bytes())),
        48 => URL_SAFE_NO_PAD.encode(Sha384::digest(jwk.as_bytes())),
        _ => URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes())),
    }
}

// ---------------------------------------------------------------------------------------
// Keys

impl V5Key {
    fn derive(secret: &[u8], salt: &str) -> Self {
        let mut okm = [0u8; 64];
        hkdf_sha256(secret, salt.as_bytes(), &v5_info(salt), &mut okm);
        let kid = thumbprint(&okm);
        let header = format!(r#"{{"alg":"dir","enc":"{ENC_CBC}","kid":"{kid}"}}"#);
        let header_b64 = URL_SAFE_NO_PAD.encode(header);
        Self {
            cbc: CbcHsKey::new(&okm),
            kid,
            header_b64,
        }
    }
}

impl V4Key {
    fn derive(secret: &[u8]) -> Self {
        let key = derive_v4_key(secret);
        Self {
            gcm: Aes256Gcm::from(Aes256::new(&key.into())),
            kid: thumbprint(&key),
        }
    }
}

impl CbcHsKey {
    /// Splits `K` as RFC 7518 §5.2.2.1 says: `MAC_KEY = K[..32]`, `ENC_KEY = K[32..]`.
    fn new(key: &[u8; 64]) -> Self {
        let mut enc_key = [0u8; 32];
        enc_key.copy_from_slice(&key[32..]);
        #[allow(clippy::expect_used)]
        // RFC 2104 HMAC takes keys of any length; hmac's `new_from_slice` always returns Ok.
        let mac = Hmac::<Sha512>::new_from_slice(&key[..32]).expect("HMAC accepts any key length");
        Self {
            mac,
            aes: Aes256::new(&enc_key.into()),
        }
    }
}

fn v5_info(salt: &str) -> Vec<u8> {
    format!("Auth.js Generated Encryption Key ({salt})").into_bytes()
}

fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) {
    #[allow(clippy::expect_used)]
    // Every caller passes at most HKDF_SHA256_MAX (255 × 32) bytes, the only error case.
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm)
        .expect("HKDF output length is within 255 × HashLen");
}

/// Fills an array from the operating system's CSPRNG.
///
/// A failing OS random source is an unrecoverable environment fault; continuing with a
/// predictable IV would be worse than stopping, so this panics (as `secret::random_bytes`).
fn random_array<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

/// Index of the first item whose `field` equals `needle`, comparing against **every** item
/// in constant time (the loop never exits early on secret-derived bytes; only lengths, which
/// are public, short-circuit inside `ct_eq`).
fn ct_find<T>(items: &[T], field: impl Fn(&T) -> &String, needle: &[u8]) -> Option<usize> {
    let mut found = Choice::from(0);
    let mut index = 0u64;
    // Reverse order so that, should two secrets be equal, the newest wins.
    for (i, item) in items.iter().enumerate().rev() {
        let eq = field(item).as_bytes().ct_eq(needle);
        index = u64::conditional_select(&index, &(i as u64), eq);
        found |= eq;
    }
    if bool::from(found) {
        usize::try_from(index).ok()
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Header parsing

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Enc {
    CbcHs512,
    Gcm,
}

/// How the decryption key is chosen.
#[derive(Debug)]
enum KeyChoice<'h> {
    /// The header matched this v5 key's header byte for byte.
    Index(usize),
    /// The header carried this `kid`.
    Kid(Cow<'h, str>),
    /// No `kid`: the newest secret (CBC) or each v4 key in turn (GCM).
    First,
}

/// The members of a protected header that matter, borrowed from the JSON where possible.
#[derive(Default)]
struct RawHeader<'h> {
    alg: Option<Cow<'h, str>>,
    enc: Option<Cow<'h, str>>,
    kid: Option<Cow<'h, str>>,
    /// Any member besides `alg`, `enc`, `kid`, `typ`, `cty` was present.
    unknown_member: bool,
}

/// Visits the header object: fails (→ `Malformed`) on a duplicate member or a non-string
/// value for a known member; records unknown members (→ `UnsupportedHeader`) and skips them.
struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = RawHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWE protected header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut h = RawHeader::default();
        let (mut typ, mut cty) = (false, false);
        while let Some(key) = map.next_key_seed(CowStr)? {
            let slot = match &*key {
                "alg" => &mut h.alg,
                "enc" => &mut h.enc,
                "kid" => &mut h.kid,
                "typ" | "cty" => {
                    let seen = if &*key == "typ" { &mut typ } else { &mut cty };
                    if std::mem::replace(seen, true) {
                        return Err(de::Error::custom("duplicate header member"));
                    }
                    map.next_value_seed(CowStr)?;
                    continue;
                }
                _ => {
                    h.unknown_member = true;
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom("duplicate header member"));
            }
            *slot = Some(map.next_value_seed(CowStr)?);
        }
        Ok(h)
    }
}

/// Deserializes a JSON string as `Cow<str>`, borrowing when it has no escapes.
struct CowStr;

impl<'de> DeserializeSeed<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

// ---------------------------------------------------------------------------------------
// Content encryption

/// Strict base64url into `out`: `URL_SAFE_NO_PAD` refuses `=`, `+`, `/`, whitespace, any
/// non-alphabet byte, an impossible length (4n + 1) and non-zero trailing bits, so every
/// byte string has exactly one accepted spelling.
fn b64_decode_slice(input: &str, out: &mut [u8]) -> Result<usize, JweError> {
    URL_SAFE_NO_PAD
        .decode_slice(input, out)
        .map_err(|_| JweError::Malformed)
}

/// Length of the unpadded base64 encoding of `n` bytes.
const fn b64_len(n: usize) -> usize {
    n / 3 * 4 + [0, 2, 3][n % 3]
}

/// AL: the AAD length in bits as a 64-bit big-endian integer (RFC 7518 §5.2.2.1 step 4).
fn aad_bits(aad: &[u8]) -> [u8; 8] {
    (aad.len() as u64).wrapping_mul(8).to_be_bytes()
}

/// `AEAD_AES_256_CBC_HMAC_SHA_512` encryption (RFC 7518 §5.2.2.1): pads and encrypts `buf`
/// in place and returns `T` = the first 32 bytes of HMAC-SHA-512(AAD ‖ IV ‖ E ‖ AL).
fn cbc_hs512_seal(key: &CbcHsKey, aad: &[u8], iv: &[u8; 16], buf: &mut Vec<u8>) -> [u8; 32] {
    let msg_len = buf.len();
    // PKCS#7 always adds 1..=16 bytes.
    buf.resize((msg_len / 16 + 1) * 16, 0);
    let encryptor = cbc::Encryptor::<Aes256>::inner_iv_init(key.aes.clone(), iv.into());
    #[allow(clippy::expect_used)]
    // `buf` was just resized to the padded length, the only thing `encrypt_padded` checks.
    let ct_len = encryptor
        .encrypt_padded::<Pkcs7>(buf, msg_len)
        .expect("buffer holds the padded message")
        .len();
    buf.truncate(ct_len);
    cbc_hs512_tag(key, aad, iv, buf)
}

/// `AEAD_AES_256_CBC_HMAC_SHA_512` decryption (RFC 7518 §5.2.2.2): verifies the tag in
/// constant time **before** decrypting, then decrypts `buf` in place and strips the padding.
fn cbc_hs512_open(
    key: &CbcHsKey,
    aad: &[u8],
    iv: &[u8; 16],
    buf: &mut Vec<u8>,
    tag: &[u8; 32],
) -> Result<(), JweError> {
    let expected = cbc_hs512_tag(key, aad, iv, buf);
    if !bool::from(expected.ct_eq(tag)) {
        return Err(JweError::Decryption);
    }
    let decryptor = cbc::Decryptor::<Aes256>::inner_iv_init(key.aes.clone(), iv.into());
    // Bad padding behind a valid tag means the key holder wrote it; still just "no session".
    let pt_len = decryptor
        .decrypt_padded::<Pkcs7>(buf)
        .map_err(|_| JweError::Decryption)?
        .len();
    buf.truncate(pt_len);
    Ok(())
}

fn cbc_hs512_tag(key: &CbcHsKey, aad: &[u8], iv: &[u8; 16], ciphertext: &[u8]) -> [u8; 32] {
    let mut mac = key.mac.clone();
    mac.update(aad);
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(&aad_bits(aad));
    let full = mac.finalize().into_bytes();
    let mut tag = [0u8; 32];
    tag.copy_from_slice(&full[..32]);
    tag
}

fn gcm_open(
    gcm: &Aes256Gcm,
    aad: &[u8],
    iv: &[u8; 12],
    buf: &mut [u8],
    tag: &[u8; 16],
) -> Result<(), JweError> {
    gcm.decrypt_inout_detached(&(*iv).into(), aad, buf.into(), &(*tag).into())
        .map_err(|_| JweError::Decryption)
}

/// Writes `header..iv.ciphertext.tag` into one `String` of exactly the right capacity.
fn assemble(header_b64: &str, iv: &[u8], ciphertext: &[u8], tag: &[u8]) -> String {
    let len = header_b64.len()
        + 2
        + b64_len(iv.len())
        + 1
        + b64_len(ciphertext.len())
        + 1
        + b64_len(tag.len());
    let mut out = String::with_capacity(len);
    out.push_str(header_b64);
    out.push_str("..");
    URL_SAFE_NO_PAD.encode_string(iv, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(ciphertext, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut out);
    out
}

fn seal_cbc_token(key: &V5Key, iv: &[u8; CBC_IV_LEN], plaintext: &[u8]) -> String {
    let mut buf = Vec::with_capacity((plaintext.len() / 16 + 1) * 16);
    buf.extend_from_slice(plaintext);
    let tag = cbc_hs512_seal(&key.cbc, key.header_b64.as_bytes(), iv, &mut buf);
    assemble(&key.header_b64, iv, &buf, &tag)
}

fn seal_gcm_token(gcm: &Aes256Gcm, iv: &[u8; GCM_IV_LEN], plaintext: &[u8]) -> String {
    let mut buf = plaintext.to_vec();
    #[allow(clippy::expect_used)]
    // GCM refuses only plaintexts over 2^36 − 32 bytes or AAD over 2^61 bytes; a session's
    // claims JSON and our 39-byte header are far below.
    let tag = gcm
        .encrypt_inout_detached(
            &(*iv).into(),
            V4_HEADER_B64.as_bytes(),
            buf.as_mut_slice().into(),
        )
        .expect("GCM input within length limits");
    assemble(V4_HEADER_B64, iv, &buf, &tag)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    const SECRET: &[u8] = b"test-secret-1234567890";
    const OLD: &[u8] = b"old-secret-abcdefghij";
    const SALT: &str = "authjs.session-token";
    const SECURE_SALT: &str = "__Secure-authjs.session-token";
    const CLAIMS: &[u8] = br#"{"name":"Alice","email":"alice@example.com","sub":"user-1"}"#;

    // Made by @auth/core 0.41.3 `encode` / next-auth 4.24.15 `encode` (Node 20) with
    // `{name:"Alice", email:"alice@example.com", sub:"user-1"}`; `AUTHJS_V5_OLD` with the
    // secret `OLD`, the others with `SECRET`; salts as named.
    const AUTHJS_V5: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiZjJIcjhYTy1hU3lSWUM3VE9Ib0RpVXU2a3JkN1NIQVlsck52bWxKVVE1OFVuQmdRQ3dZY1U4YUdpbjBvaG1TTXFBc1ZxS1UxZFJrQjc4LS0zVVhCWlEifQ..gw2-WsdBB9dKVd_sAqjAOg.ZQqTPVf5mjCEqgVVODTC5zL4-sL3jZu3ti-JF3cBMI2duGEPms8qwC2haMGzKOSBIgbxt9OfoazZGWlvqNyQq-z2PNJiF0X3ZALtTGr3FMslFI1It73Lgb1jOfDwLnWk40pjCHSZHTGB4wR4CCrd4EPZaRTD0Bm74AGoS_IrfFcAO26nzxGEa7M6KsjFHxmY.ryeO_VeNeuBFZ-PaJNNCDECsmySJ15FZvKcAKsq0ZU4";
    const AUTHJS_V5_OLD: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiWHF3TE9QRF9WMjhhNl8wb3RQRXZySEtVbXNuYjEzb1dZUGhzN1Bqc1g4b1VPRWdTd1ExX0lrWGZxaDVPS2FpeXU0bmxzYk4ycWZUWXlGeFNXeUR6N2cifQ..MMhhDPRQeC8RFj22OMOG5Q.f3j8qb1-ZfERRuBihgylDP0F6To-bTwZRDYyT4uzmy2tuD4t5jCM7Vc9Ilb3tgGEvzqg9k4qgj2zwK_X0VbRcHuKMof4J7cbqDojw4te-xiD7qS_4ig0jxInx0GlsWxy-7ryOl1UMySQPtEcWBqpRIB8JPtbvh8kWvlBiE3udAAz-pOvRdELE4JIwDnNSAmE.fAUdPUIAxOZw6y-MDoIqiLrMgYxTXiDO9SgUy_-3Avw";
    const AUTHJS_V5_SECURE: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoia0JwZXQ3NFFnMmVfQ1RvbkFxekZqY0ZoT0tvN3ZtVXRWSDd4Wm9sOXB4YWplY2g5b2tGY2UyS2cwb2tXMTJibm1kOWwwbDNoQUtHZkExNGh1eHhLeWcifQ..MMQJ8wMXheWRIYFl-3l_3w.Ig8cfNdsllGHV2dM07vudlT7_WLf19KtWJxkctS3-MHlVD7iprVf_T-Dsf8UGjm4BdpAuPfTa5hX5SMC1qehmHzyiH_CRxLA0nL7UZvCjbV4zHpVG2F5D1x4mbS_zutErry878jenat0nmMeFaCqPqFvrL1STviBZYiwo9IJIfr4DRy2uvKSjoFciI7w1fXN.vshx4LCGKbTJ2sUu4k6c5JpzlIzNGiO-07a81F0p1iA";
    const NEXTAUTH_V4: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..hN51gZzYitA4VdEG._jYVUQW5V3n5lypU70y2emYE0Sm6mFVfIsH4OKAD5NRTWfSxt6svmTiGTGcWJc4cul6tpKZq-JdIzVZd_YIFy907T_qSnEkmCam6WlnX6MO2wrHJEdfVAkvWy-67ZN89F1VnYZhtKay-vf7Yx2B9ps2Cpa5ytv3QqEE3hDE1iZe7StQbq1oClvS4.Jhivq7bb3ArxAx02OX2aNQ";

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn unb64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    fn v5(secrets: &[&[u8]]) -> JweCodec {
        JweCodec::new(secrets, SALT, TokenFormat::V5, false).unwrap()
    }

    fn v5_accepting_v4(secrets: &[&[u8]]) -> JweCodec {
        JweCodec::new(secrets, SALT, TokenFormat::V5, true).unwrap()
    }

    fn v4(secrets: &[&[u8]]) -> JweCodec {
        JweCodec::new(secrets, SALT, TokenFormat::V4, false).unwrap()
    }

    fn parts(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    /// Replaces part `i` of `token`.
    fn with_part(token: &str, i: usize, value: &str) -> String {
        let mut p = parts(token);
        p[i] = value.to_owned();
        p.join(".")
    }

    /// A correctly authenticated A256CBC-HS512 token under `codec`'s key `key` with an
    /// arbitrary protected header, so a rejection can only come from the header checks.
    fn seal_v5_with_header(codec: &JweCodec, key: usize, header_json: &str) -> String {
        let header_b64 = b64(header_json);
        let iv = [7u8; 16];
        let mut buf = CLAIMS.to_vec();
        let tag = cbc_hs512_seal(&codec.v5[key].cbc, header_b64.as_bytes(), &iv, &mut buf);
        assemble(&header_b64, &iv, &buf, &tag)
    }

    /// The same for A256GCM with `codec`'s v4 key `key`.
    fn seal_v4_with_header(codec: &JweCodec, key: usize, header_json: &str) -> String {
        let header_b64 = b64(header_json);
        let iv = [9u8; 12];
        let mut buf = CLAIMS.to_vec();
        let tag = codec.v4[key]
            .gcm
            .encrypt_inout_detached(&iv.into(), header_b64.as_bytes(), buf.as_mut_slice().into())
            .unwrap();
        assemble(&header_b64, &iv, &buf, &tag)
    }

    fn v5_header(kid: &str) -> String {
        format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}"}}"#)
    }

    /// Flips one bit of the byte at `byte` in the base64url part `i`, keeping it canonical.
    fn flip_bit(token: &str, i: usize, byte: usize) -> String {
        let mut bytes = unb64(&parts(token)[i]);
        bytes[byte] ^= 0x01;
        with_part(token, i, &b64(bytes))
    }

    // ---- known answers -------------------------------------------------------------------

    /// RFC 7518 Appendix B.3, through the functions the codec itself uses.
    #[test]
    fn rfc7518_b3_aes_256_cbc_hmac_sha_512() {
        let k: [u8; 64] = hex(
            "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f
             20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f",
        )
        .try_into()
        .unwrap();
        let p = hex(
            "41 20 63 69 70 68 65 72 20 73 79 73 74 65 6d 20 6d 75 73 74 20 6e 6f 74 20 62 65 20 72 65 71 75
             69 72 65 64 20 74 6f 20 62 65 20 73 65 63 72 65 74 2c 20 61 6e 64 20 69 74 20 6d 75 73 74 20 62
             65 20 61 62 6c 65 20 74 6f 20 66 61 6c 6c 20 69 6e 74 6f 20 74 68 65 20 68 61 6e 64 73 20 6f 66
             20 74 68 65 20 65 6e 65 6d 79 20 77 69 74 68 6f 75 74 20 69 6e 63 6f 6e 76 65 6e 69 65 6e 63 65",
        );
        let iv: [u8; 16] = hex("1a f3 8c 2d c2 b9 6f fd d8 66 94 09 23 41 bc 04")
            .try_into()
            .unwrap();
        let a = hex(
            "54 68 65 20 73 65 63 6f 6e 64 20 70 72 69 6e 63 69 70 6c 65 20 6f 66 20 41 75 67 75 73 74 65 20
             4b 65 72 63 6b 68 6f 66 66 73",
        );
        let e = hex(
            "4a ff aa ad b7 8c 31 c5 da 4b 1b 59 0d 10 ff bd 3d d8 d5 d3 02 42 35 26 91 2d a0 37 ec bc c7 bd
             82 2c 30 1d d6 7c 37 3b cc b5 84 ad 3e 92 79 c2 e6 d1 2a 13 74 b7 7f 07 75 53 df 82 94 10 44 6b
             36 eb d9 70 66 29 6a e6 42 7e a7 5c 2e 08 46 a1 1a 09 cc f5 37 0d c8 0b fe cb ad 28 c7 3f 09 b3
             a3 b7 5e 66 2a 25 94 41 0a e4 96 b2 e2 e6 60 9e 31 e6 e0 2c c8 37 f0 53 d2 1f 37 ff 4f 51 95 0b
             be 26 38 d0 9d d7 a4 93 09 30 80 6d 07 03 b1 f6",
        );
        let t: [u8; 32] = hex(
            "4d d3 b4 c0 88 a7 f4 5c 21 68 39 64 5b 20 12 bf 2e 62 69 a8 c5 6a 81 6d bc 1b 26 77 61 95 5b c5",
        )
        .try_into()
        .unwrap();
        assert_eq!(aad_bits(&a), [0, 0, 0, 0, 0, 0, 0x01, 0x50]);

        let key = CbcHsKey::new(&k);
        let mut buf = p.clone();
        let tag = cbc_hs512_seal(&key, &a, &iv, &mut buf);
        assert_eq!(buf, e);
        assert_eq!(tag, t);

        cbc_hs512_open(&key, &a, &iv, &mut buf, &t).unwrap();
        assert_eq!(buf, p);

        // Any single-bit change of A, IV, E or T fails, before decryption.
        let mut bad_t = t;
        bad_t[31] ^= 0x80;
        assert_eq!(
            cbc_hs512_open(&key, &a, &iv, &mut e.clone(), &bad_t),
            Err(JweError::Decryption)
        );
        let mut bad_iv = iv;
        bad_iv[0] ^= 1;
        assert_eq!(
            cbc_hs512_open(&key, &a, &bad_iv, &mut e.clone(), &t),
            Err(JweError::Decryption)
        );
        let mut bad_e = e.clone();
        bad_e[100] ^= 1;
        assert_eq!(
            cbc_hs512_open(&key, &a, &iv, &mut bad_e, &t),
            Err(JweError::Decryption)
        );
        let mut bad_a = a.clone();
        bad_a[0] ^= 1;
        assert_eq!(
            cbc_hs512_open(&key, &bad_a, &iv, &mut e.clone(), &t),
            Err(JweError::Decryption)
        );
    }

    /// PROTOCOL.md §4.1 vectors.
    #[test]
    fn protocol_vectors_v5_plain_salt() {
        let key = derive_v5_key(SECRET, SALT, 64);
        assert_eq!(
            key,
            hex(
                "9ceb9244d94fbfed3bca5ead69b3d429f45e0ab5d5ace804b2bfa9bbd4d30a1d1c8476522c922e6e87e6113265b3ee832484df18f9a78f272d9956a258d98ac6"
            )
        );
        let kid = "f2Hr8XO-aSyRYC7TOHoDiUu6krd7SHAYlrNvmlJUQ58UnBgQCwYcU8aGin0ohmSMqAsVqKU1dRkB78--3UXBZQ";
        assert_eq!(thumbprint(&key), kid);
        assert_eq!(v5(&[SECRET]).kid(), Some(kid));
    }

    #[test]
    fn protocol_vectors_v5_secure_salt() {
        let key = derive_v5_key(SECRET, SECURE_SALT, 64);
        assert_eq!(
            key,
            hex(
                "b983ea99f911148063f65d3890a7fa145df3b996683ecfd6f658d2a52038d20393000cb6517ac8e73584fdf1f1cba67e036efe6be917bbacbd29bb497edd2aa5"
            )
        );
        let kid = "kBpet74Qg2e_CTonAqzFjcFhOKo7vmUtVH7xZol9pxajech9okFce2Kg0okW12bnmd9l0l3hAKGfA14huxxKyg";
        assert_eq!(thumbprint(&key), kid);
        let codec = JweCodec::new(&[SECRET], SECURE_SALT, TokenFormat::V5, false).unwrap();
        assert_eq!(codec.kid(), Some(kid));
    }

    #[test]
    fn protocol_vector_v4_key() {
        assert_eq!(
            derive_v4_key(SECRET).to_vec(),
            hex("91fa1cdc908d3a22121e0ce97bf52a127715fc151ae3cbd86c2009fcfac642c7")
        );
        // The v4 key ignores the codec's salt.
        let a = JweCodec::new(&[SECRET], SALT, TokenFormat::V4, false).unwrap();
        let b = JweCodec::new(&[SECRET], "other", TokenFormat::V4, false).unwrap();
        assert_eq!(b.decode(&a.encode(CLAIMS)).unwrap(), CLAIMS);
        assert_eq!(a.kid(), None);
    }

    #[test]
    fn thumbprint_hash_follows_key_bits() {
        let jwk = |k: &[u8]| format!(r#"{{"k":"{}","kty":"oct"}}"#, b64(k));
        let k64 = [1u8; 64];
        let k32 = [2u8; 32];
        let k48 = [3u8; 48];
        assert_eq!(thumbprint(&k64), b64(Sha512::digest(jwk(&k64))));
        assert_eq!(thumbprint(&k64).len(), 86);
        assert_eq!(thumbprint(&k32), b64(Sha256::digest(jwk(&k32))));
        assert_eq!(thumbprint(&k32).len(), 43);
        assert_eq!(thumbprint(&k48), b64(Sha384::digest(jwk(&k48))));
        // RFC 7638 §3.1 example (an RSA key) shows the member order rule; for "oct" it is k, kty.
        assert_eq!(jwk(&[0xff]), r#"{"k":"_w","kty":"oct"}"#);
    }

    #[test]
    fn derive_v5_key_lengths() {
        let k64 = derive_v5_key(SECRET, SALT, 64);
        // HKDF output is a prefix-stable stream: 32 bytes are the first half of 64.
        assert_eq!(derive_v5_key(SECRET, SALT, 32), k64[..32]);
        assert_eq!(derive_v5_key(SECRET, SALT, 0), Vec::<u8>::new());
        assert_eq!(derive_v5_key(SECRET, SALT, 100_000).len(), HKDF_SHA256_MAX);
    }

    #[test]
    fn v4_header_constant_is_what_next_auth_writes() {
        assert_eq!(unb64(V4_HEADER_B64), br#"{"alg":"dir","enc":"A256GCM"}"#);
        assert_eq!(parts(NEXTAUTH_V4)[0], V4_HEADER_B64);
    }

    // ---- interop with tokens made by @auth/core and next-auth (TOK-19) ---------------------

    fn claims_of(plaintext: &[u8]) -> serde_json::Value {
        serde_json::from_slice(plaintext).unwrap()
    }

    #[test]
    fn decodes_authjs_v5_tokens() {
        let c = claims_of(&v5(&[SECRET]).decode(AUTHJS_V5).unwrap());
        assert_eq!(c["sub"], "user-1");
        assert_eq!(c["email"], "alice@example.com");
        assert!(c["exp"].is_u64() && c["jti"].is_string());

        let secure = JweCodec::new(&[SECRET], SECURE_SALT, TokenFormat::V5, false).unwrap();
        assert_eq!(
            claims_of(&secure.decode(AUTHJS_V5_SECURE).unwrap())["sub"],
            "user-1"
        );
        // The cookie name is the salt: the other name's key does not match.
        assert_eq!(secure.decode(AUTHJS_V5), Err(JweError::NoMatchingKey));
        assert_eq!(
            v5(&[SECRET]).decode(AUTHJS_V5_SECURE),
            Err(JweError::NoMatchingKey)
        );
    }

    #[test]
    fn writes_the_header_authjs_writes() {
        let token = v5(&[SECRET]).encode(CLAIMS);
        assert_eq!(parts(&token)[0], parts(AUTHJS_V5)[0]);
        let kid = v5(&[SECRET]).kid().unwrap().to_owned();
        assert_eq!(unb64(&parts(&token)[0]), v5_header(&kid).as_bytes());
    }

    #[test]
    fn decodes_next_auth_v4_tokens() {
        assert_eq!(
            claims_of(&v4(&[SECRET]).decode(NEXTAUTH_V4).unwrap())["sub"],
            "user-1"
        );
        assert_eq!(
            claims_of(&v5_accepting_v4(&[SECRET]).decode(NEXTAUTH_V4).unwrap())["sub"],
            "user-1"
        );
        // Not accepted unless switched on (SECURITY.md decision 4, TOK-07).
        assert_eq!(
            v5(&[SECRET]).decode(NEXTAUTH_V4),
            Err(JweError::UnsupportedHeader)
        );
        // Wrong secret: every v4 key tried, none authenticates.
        assert_eq!(v4(&[OLD]).decode(NEXTAUTH_V4), Err(JweError::Decryption));
        // Rotation with v4 keys: the matching secret need not be first.
        assert_eq!(
            claims_of(&v4(&[OLD, SECRET]).decode(NEXTAUTH_V4).unwrap())["sub"],
            "user-1"
        );
    }

    // ---- round trips and rotation (KEY-01/02) ---------------------------------------------

    #[test]
    fn round_trip_v5() {
        let codec = v5(&[SECRET]);
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let token = codec.encode(&pt);
            assert_eq!(codec.decode(&token).unwrap(), pt, "len {len}");
            let p = parts(&token);
            assert_eq!(p[1], "");
            assert_eq!(unb64(&p[2]).len(), 16);
            assert_eq!(unb64(&p[3]).len(), (len / 16 + 1) * 16);
            assert_eq!(unb64(&p[4]).len(), 32);
        }
        // A fresh IV each time.
        assert_ne!(
            parts(&codec.encode(CLAIMS))[2],
            parts(&codec.encode(CLAIMS))[2]
        );
    }

    #[test]
    fn round_trip_v4() {
        let codec = v4(&[SECRET]);
        for len in [0usize, 1, 16, 17, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let token = codec.encode(&pt);
            assert_eq!(codec.decode(&token).unwrap(), pt, "len {len}");
            let p = parts(&token);
            assert_eq!(p[0], V4_HEADER_B64);
            assert_eq!(p[1], "");
            assert_eq!(unb64(&p[2]).len(), 12);
            assert_eq!(unb64(&p[3]).len(), len);
            assert_eq!(unb64(&p[4]).len(), 16);
        }
        assert_ne!(
            parts(&codec.encode(CLAIMS))[2],
            parts(&codec.encode(CLAIMS))[2]
        );
        // A v4-writing codec still reads v5 tokens for the same salt.
        assert_eq!(codec.decode(&v5(&[SECRET]).encode(CLAIMS)).unwrap(), CLAIMS);
    }

    #[test]
    fn encode_with_iv_is_deterministic_and_exactly_sized() {
        let codec = v5(&[SECRET]);
        let a = codec.encode_with_iv(CLAIMS, &[0u8; 16]);
        assert_eq!(a, codec.encode_with_iv(CLAIMS, &[0u8; 16]));
        assert_eq!(parts(&a)[2], "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(a.len(), a.capacity(), "output String sized up front");
        let b = v4(&[SECRET]).encode_with_iv(CLAIMS, &[0u8; 12]);
        assert_eq!(b.len(), b.capacity());
        assert_eq!(v4(&[SECRET]).decode(&b).unwrap(), CLAIMS);
    }

    #[test]
    fn rotation_old_token_accepted_and_reissued_with_new_kid() {
        let old = v5(&[OLD]);
        let new_old = v5(&[SECRET, OLD]);
        let new = v5(&[SECRET]);
        let token = old.encode(CLAIMS);
        // KEY-01: accepted under [new, old] …
        assert_eq!(new_old.decode(&token).unwrap(), CLAIMS);
        assert_eq!(
            new_old
                .decode(AUTHJS_V5_OLD)
                .map(|p| claims_of(&p)["sub"].clone())
                .unwrap(),
            "user-1"
        );
        // … and re-encoding uses the new secret's kid.
        let reissued = new_old.encode(&new_old.decode(&token).unwrap());
        assert_eq!(new_old.kid(), new.kid());
        assert_ne!(new_old.kid(), old.kid());
        assert_eq!(
            unb64(&parts(&reissued)[0]),
            v5_header(new.kid().unwrap()).as_bytes()
        );
        assert_eq!(new.decode(&reissued).unwrap(), CLAIMS);
        // KEY-02: [new] alone rejects the old token.
        assert_eq!(new.decode(&token), Err(JweError::NoMatchingKey));
        assert_eq!(new.decode(AUTHJS_V5_OLD), Err(JweError::NoMatchingKey));
        // And [old] alone rejects a new token.
        assert_eq!(
            old.decode(&new.encode(CLAIMS)),
            Err(JweError::NoMatchingKey)
        );
    }

    #[test]
    fn token_without_kid_uses_first_secret_only() {
        let both = v5(&[SECRET, OLD]);
        let no_kid = r#"{"alg":"dir","enc":"A256CBC-HS512"}"#;
        let first = seal_v5_with_header(&both, 0, no_kid);
        assert_eq!(both.decode(&first).unwrap(), CLAIMS);
        // Sealed with the second secret's key: not tried, so the tag fails.
        let second = seal_v5_with_header(&both, 1, no_kid);
        assert_eq!(both.decode(&second), Err(JweError::Decryption));
        assert_eq!(v5(&[OLD]).decode(&second).unwrap(), CLAIMS);
    }

    #[test]
    fn kid_selects_any_configured_secret() {
        let codec = v5(&[SECRET, OLD, b"third"]);
        for i in 0..3 {
            let header = v5_header(&codec.v5[i].kid);
            assert_eq!(
                codec
                    .decode(&seal_v5_with_header(&codec, i, &header))
                    .unwrap(),
                CLAIMS
            );
        }
        // The kid and the key must agree: kid of key 0 over a token sealed with key 2.
        let lying = seal_v5_with_header(&codec, 2, &v5_header(&codec.v5[0].kid));
        assert_eq!(codec.decode(&lying), Err(JweError::Decryption));
    }

    #[test]
    fn semantically_equal_headers_take_the_strict_parser() {
        let codec = v5(&[SECRET]);
        let kid = codec.kid().unwrap().to_owned();
        // Reordered, spaced, with ignored typ/cty, and with a JSON escape in the kid.
        let escaped_kid = format!("\\u{:04x}{}", u32::from(kid.as_bytes()[0]), &kid[1..]);
        for header in [
            format!(r#"{{"kid":"{kid}","enc":"A256CBC-HS512","alg":"dir"}}"#),
            format!(r#" {{ "alg" : "dir", "enc" : "A256CBC-HS512", "kid" : "{kid}" }} "#),
            format!(
                r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","typ":"JWT","cty":"JWT"}}"#
            ),
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{escaped_kid}"}}"#),
        ] {
            let token = seal_v5_with_header(&codec, 0, &header);
            assert!(codec.known_header(&parts(&token)[0]).is_none());
            assert_eq!(codec.decode(&token).unwrap(), CLAIMS, "{header}");
        }
    }

    // ---- TOK-01: bit flips; the header is the AAD ------------------------------------------

    #[test]
    fn tok01_bit_flips_are_rejected() {
        let codec = v5(&[SECRET]);
        let token = codec.encode(CLAIMS);
        // IV (part 2), ciphertext (part 3, first and last block), tag (part 4, first and last byte).
        for (part, byte) in [(2, 0), (2, 15), (3, 0), (3, 63), (4, 0), (4, 31)] {
            assert_eq!(
                codec.decode(&flip_bit(&token, part, byte)),
                Err(JweError::Decryption),
                "part {part} byte {byte}"
            );
        }
        // Same for a token written by @auth/core.
        for part in [2, 3, 4] {
            assert_eq!(
                codec.decode(&flip_bit(AUTHJS_V5, part, 5)),
                Err(JweError::Decryption)
            );
        }
        // v4 (GCM): every part is authenticated too.
        let v4c = v4(&[SECRET]);
        let t4 = v4c.encode(CLAIMS);
        for (part, byte) in [(2, 0), (3, 0), (3, 20), (4, 15)] {
            assert_eq!(
                v4c.decode(&flip_bit(&t4, part, byte)),
                Err(JweError::Decryption)
            );
        }
    }

    #[test]
    fn tok01_header_is_authenticated() {
        let codec = v5(&[SECRET]);
        let token = codec.encode(CLAIMS);
        let kid = codec.kid().unwrap();
        // Same meaning, different bytes: the tag no longer matches (the header is the AAD).
        let p = parts(&token);
        for header in [
            format!(r#"{{"enc":"A256CBC-HS512","alg":"dir","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","typ":"JWT"}}"#),
        ] {
            let forged = format!("{}..{}.{}.{}", b64(header), p[2], p[3], p[4]);
            assert_eq!(codec.decode(&forged), Err(JweError::Decryption));
        }
        // A header bit flip is refused whatever it turns into (bad JSON, other kid, other alg).
        for byte in 0..unb64(&p[0]).len() {
            assert!(
                codec.decode(&flip_bit(&token, 0, byte)).is_err(),
                "header byte {byte}"
            );
        }
        // GCM: the header is authenticated as well.
        let v4c = v5_accepting_v4(&[SECRET]);
        let t4 = v4(&[SECRET]).encode(CLAIMS);
        let q = parts(&t4);
        let forged = format!(
            "{}..{}.{}.{}",
            b64(r#"{"enc":"A256GCM","alg":"dir"}"#),
            q[2],
            q[3],
            q[4]
        );
        assert_eq!(v4c.decode(&forged), Err(JweError::Decryption));
    }

    #[test]
    fn tok01_bad_padding_behind_a_valid_tag_is_decryption() {
        let codec = v5(&[SECRET]);
        let key = &codec.v5[0];
        let iv = [1u8; 16];
        // Encrypt a block whose last byte is not valid PKCS#7 (0x00), without padding, then
        // tag it properly: only the unpadding step can fail.
        let mut buf = vec![0u8; 16];
        let mut blocks = buf.clone();
        let enc = cbc::Encryptor::<Aes256>::inner_iv_init(key.cbc.aes.clone(), (&iv).into());
        let ct = enc
            .encrypt_padded::<aes::cipher::block_padding::NoPadding>(&mut blocks, 16)
            .unwrap()
            .to_vec();
        buf.copy_from_slice(&ct);
        let tag = cbc_hs512_tag(&key.cbc, key.header_b64.as_bytes(), &iv, &buf);
        let token = assemble(&key.header_b64, &iv, &buf, &tag);
        assert_eq!(codec.decode(&token), Err(JweError::Decryption));
        // The same with a wrong tag: indistinguishable variant.
        let mut bad = tag;
        bad[0] ^= 1;
        assert_eq!(
            codec.decode(&assemble(&key.header_b64, &iv, &buf, &bad)),
            Err(JweError::Decryption)
        );
    }

    // ---- TOK-02: truncation and part count ---------------------------------------------------

    #[test]
    fn tok02_truncated_tokens() {
        let codec = v5(&[SECRET]);
        let token = codec.encode(CLAIMS);
        let p = parts(&token);
        // Drop the last character (the tag becomes 42 chars = 31 bytes, or non-canonical).
        assert_eq!(
            codec.decode(&token[..token.len() - 1]),
            Err(JweError::Malformed)
        );
        // Drop the last part: four parts.
        assert_eq!(codec.decode(&p[..4].join(".")), Err(JweError::Malformed));
        assert_eq!(
            codec.decode(&token[..token.rfind('.').unwrap()]),
            Err(JweError::Malformed)
        );
        // Six parts.
        assert_eq!(codec.decode(&format!("{token}.")), Err(JweError::Malformed));
        assert_eq!(
            codec.decode(&format!("{token}.{}", p[4])),
            Err(JweError::Malformed)
        );
        // Fewer.
        for s in ["", ".", "....", "a.b.c", p[0].as_str()] {
            assert_eq!(codec.decode(s), Err(JweError::Malformed), "{s:?}");
        }
        // Empty IV, ciphertext or tag.
        for i in [2, 3, 4] {
            assert_eq!(
                codec.decode(&with_part(&token, i, "")),
                Err(JweError::Malformed),
                "part {i}"
            );
        }
        // Ciphertext cut by one block (still a multiple of 16): the tag no longer matches.
        let ct = unb64(&p[3]);
        assert_eq!(
            codec.decode(&with_part(&token, 3, &b64(&ct[..ct.len() - 16]))),
            Err(JweError::Decryption)
        );
        // Ciphertext not a multiple of 16.
        assert_eq!(
            codec.decode(&with_part(&token, 3, &b64(&ct[..ct.len() - 1]))),
            Err(JweError::Malformed)
        );
        // IV of 15 bytes.
        assert_eq!(
            codec.decode(&with_part(&token, 2, &b64([0u8; 15]))),
            Err(JweError::Malformed)
        );
        // GCM: IV of 11 and 16 bytes, tag of 15.
        let v4c = v4(&[SECRET]);
        let t4 = v4c.encode(CLAIMS);
        assert_eq!(
            v4c.decode(&with_part(&t4, 2, &b64([0u8; 11]))),
            Err(JweError::Malformed)
        );
        assert_eq!(
            v4c.decode(&with_part(&t4, 2, &b64([0u8; 16]))),
            Err(JweError::Malformed)
        );
        assert_eq!(
            v4c.decode(&with_part(&t4, 4, &b64([0u8; 15]))),
            Err(JweError::Malformed)
        );
        assert_eq!(v4c.decode(&t4[..t4.len() - 1]), Err(JweError::Malformed));
    }

    // ---- TOK-03: truncated tag ---------------------------------------------------------------

    #[test]
    fn tok03_tag_truncated_to_16_bytes() {
        let codec = v5(&[SECRET]);
        let token = codec.encode(CLAIMS);
        let tag = unb64(&parts(&token)[4]);
        assert_eq!(
            codec.decode(&with_part(&token, 4, &b64(&tag[..16]))),
            Err(JweError::Malformed)
        );
        assert_eq!(
            codec.decode(&with_part(&token, 4, &b64(&tag[..31]))),
            Err(JweError::Malformed)
        );
        // Longer than 32 bytes (full HMAC-SHA-512 output) is refused too.
        let mut long = tag.clone();
        long.extend_from_slice(&[0; 32]);
        assert_eq!(
            codec.decode(&with_part(&token, 4, &b64(&long))),
            Err(JweError::Malformed)
        );
    }

    // ---- TOK-04 (size cap part) ----------------------------------------------------------------

    #[test]
    fn tok04_size_cap_before_any_parsing() {
        let codec = v5(&[SECRET]);
        assert_eq!(
            codec.decode(&"A".repeat(MAX_TOKEN_LEN + 1)),
            Err(JweError::TooLarge)
        );
        assert_eq!(
            codec.decode(&"A".repeat(64 * 1024)),
            Err(JweError::TooLarge)
        );
        assert_eq!(
            codec.decode(&"A".repeat(4 * 1024 * 1024)),
            Err(JweError::TooLarge)
        );
        // A well-formed token just over the cap (huge ciphertext) is refused for size.
        let big = codec.encode(&vec![b'x'; MAX_TOKEN_LEN]);
        assert!(big.len() > MAX_TOKEN_LEN);
        assert_eq!(codec.decode(&big), Err(JweError::TooLarge));
        // At the cap the length check passes and the token is judged on its content.
        assert_eq!(
            codec.decode(&"A".repeat(MAX_TOKEN_LEN)),
            Err(JweError::Malformed)
        );
        // The largest plaintext that fits (as documented on `encode`) round-trips; one
        // byte more adds a block and crosses the cap.
        let fits = codec.encode(&vec![b'x'; 12_095]);
        assert!(fits.len() <= MAX_TOKEN_LEN);
        assert_eq!(codec.decode(&fits).unwrap().len(), 12_095);
        assert_eq!(
            codec.decode(&codec.encode(&vec![b'x'; 12_096])),
            Err(JweError::TooLarge)
        );
        let v4c = v4(&[SECRET]);
        assert_eq!(
            v4c.decode(&v4c.encode(&vec![b'x'; 12_227])).unwrap().len(),
            12_227
        );
        assert_eq!(
            v4c.decode(&v4c.encode(&vec![b'x'; 12_228])),
            Err(JweError::TooLarge)
        );
        // The header has its own cap.
        let huge_header = format!(
            "{}..{}",
            "e".repeat(MAX_HEADER_LEN + 1),
            parts(&fits)[2..].join(".")
        );
        assert_eq!(codec.decode(&huge_header), Err(JweError::TooLarge));
    }

    // ---- TOK-05: strict base64url ---------------------------------------------------------------

    #[test]
    fn tok05_base64_variants_rejected() {
        let codec = v5(&[SECRET]);
        let token = codec.encode_with_iv(CLAIMS, &[0xfb; 16]);
        assert!(codec.decode(&token).is_ok());
        let p = parts(&token);
        for i in [0, 2, 3, 4] {
            let seg = &p[i];
            let mut cases = vec![
                format!("{seg}="),
                format!("{seg}=="),
                format!(" {seg}"),
                format!("{seg} "),
                format!("{seg}\n"),
                format!("{}\n{}", &seg[..4], &seg[4..]),
                format!("{}\t{}", &seg[..4], &seg[4..]),
                format!("{}\r\n{}", &seg[..4], &seg[4..]),
                format!("{}é{}", &seg[..4], &seg[5..]),
                format!("{}\u{0}{}", &seg[..4], &seg[5..]),
                format!("{}%2B{}", &seg[..4], &seg[5..]),
            ];
            // Standard alphabet spelling of the same bytes.
            let std_alpha = base64::engine::general_purpose::STANDARD_NO_PAD.encode(unb64(seg));
            if std_alpha != *seg {
                cases.push(std_alpha);
            }
            cases.push(seg.replace('-', "+").replace('_', "/"));
            cases.push(format!("+{}", &seg[1..]));
            cases.push(format!("/{}", &seg[1..]));
            for bad in cases {
                if bad == *seg {
                    continue;
                }
                assert_eq!(
                    codec.decode(&with_part(&token, i, &bad)),
                    Err(JweError::Malformed),
                    "part {i}: {bad:?}"
                );
            }
        }
        // The IV 0xfb… is "-_s-…": it contains both URL-safe characters, so the
        // replacement cases above really changed it.
        assert!(p[2].contains('-') && p[2].contains('_'));
    }

    #[test]
    fn tok05_non_canonical_trailing_bits_rejected() {
        let codec = v5(&[SECRET]);
        let token = codec.encode(CLAIMS);
        // 16-byte IV: 22 chars, the last carries 2 unused bits; 32-byte tag: 43 chars, the
        // last carries 2 unused bits. Setting an unused bit keeps the decoded bytes the same
        // for a lenient decoder: it must be refused.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in [2, 4] {
            let seg = &parts(&token)[i];
            let last = seg.as_bytes()[seg.len() - 1];
            let v = ALPHABET.iter().position(|&c| c == last).unwrap();
            for unused in [1usize, 2, 3] {
                let sym = ALPHABET[(v & !3) | unused] as char;
                let bad = format!("{}{sym}", &seg[..seg.len() - 1]);
                assert_eq!(
                    codec.decode(&with_part(&token, i, &bad)),
                    Err(JweError::Malformed),
                    "{bad}"
                );
            }
        }
        // A length of 4n+1 characters can encode nothing.
        assert_eq!(
            codec.decode(&with_part(&token, 2, &format!("{}A", parts(&token)[2]))),
            Err(JweError::Malformed)
        );
    }

    /// What `URL_SAFE_NO_PAD` itself does, so a base64 upgrade that loosens it fails here.
    #[test]
    fn base64_engine_is_strict() {
        use base64::DecodeError as E;
        let d = |s: &str| URL_SAFE_NO_PAD.decode(s);
        assert_eq!(d("AA").unwrap(), [0]);
        assert_eq!(d("-w").unwrap(), [0xfb]);
        assert!(matches!(d("AA=="), Err(E::InvalidPadding)));
        assert!(matches!(d("AAA="), Err(E::InvalidPadding)));
        assert!(matches!(
            d("AB"),
            Err(E::InvalidLastSymbol {
                offset: 1,
                symbol: b'B',
                ..
            })
        ));
        assert!(matches!(
            d("-_"),
            Err(E::InvalidLastSymbol {
                offset: 1,
                symbol: b'_',
                ..
            })
        ));
        assert!(matches!(d("A"), Err(E::InvalidLength(1))));
        assert!(matches!(d("AAAAA"), Err(E::InvalidLength(5))));
        assert!(matches!(d("A+"), Err(E::InvalidByte(1, b'+'))));
        assert!(matches!(d("A/"), Err(E::InvalidByte(1, b'/'))));
        assert!(matches!(d("A A"), Err(E::InvalidByte(1, b' '))));
        assert!(matches!(d("AA\n"), Err(E::InvalidByte(2, b'\n'))));
        assert!(d("AAé").is_err());
    }

    // ---- TOK-06 / TOK-07 / TOK-11: header allowlist -----------------------------------------

    #[test]
    fn tok06_alg_other_than_dir() {
        let codec = v5(&[SECRET]);
        let kid = codec.kid().unwrap().to_owned();
        for alg in [
            "none",
            "RSA-OAEP",
            "RSA-OAEP-256",
            "A256KW",
            "ECDH-ES",
            "ECDH-ES+A256KW",
            "PBES2-HS512+A256KW",
            "A256GCMKW",
            "DIR",
            "dir ",
            "",
        ] {
            let token = seal_v5_with_header(
                &codec,
                0,
                &format!(r#"{{"alg":"{alg}","enc":"A256CBC-HS512","kid":"{kid}"}}"#),
            );
            assert_eq!(
                codec.decode(&token),
                Err(JweError::UnsupportedHeader),
                "alg {alg:?}"
            );
        }
    }

    #[test]
    fn tok07_enc_allowlist() {
        let codec = v5(&[SECRET]);
        let kid = codec.kid().unwrap().to_owned();
        for enc in [
            "A128CBC-HS256",
            "A192CBC-HS384",
            "A128GCM",
            "A192GCM",
            "A256GCM",
            "a256cbc-hs512",
            "",
        ] {
            let token = seal_v5_with_header(
                &codec,
                0,
                &format!(r#"{{"alg":"dir","enc":"{enc}","kid":"{kid}"}}"#),
            );
            assert_eq!(
                codec.decode(&token),
                Err(JweError::UnsupportedHeader),
                "enc {enc:?}"
            );
        }
        // A256GCM is refused without accept_v4, accepted with it.
        let with_v4 = v5_accepting_v4(&[SECRET]);
        let gcm = seal_v4_with_header(&with_v4, 0, r#"{"alg":"dir","enc":"A256GCM"}"#);
        assert_eq!(codec.decode(&gcm), Err(JweError::UnsupportedHeader));
        assert_eq!(with_v4.decode(&gcm).unwrap(), CLAIMS);
        // A128GCM stays refused when v4 is accepted.
        let a128 = seal_v4_with_header(&with_v4, 0, r#"{"alg":"dir","enc":"A128GCM"}"#);
        assert_eq!(with_v4.decode(&a128), Err(JweError::UnsupportedHeader));
        // The CBC header with GCM-sized parts (and vice versa) is malformed.
        let p = parts(&gcm);
        let swapped = format!("{}..{}.{}.{}", codec.v5[0].header_b64, p[2], p[3], p[4]);
        assert_eq!(with_v4.decode(&swapped), Err(JweError::Malformed));
    }

    #[test]
    fn tok11_non_empty_encrypted_key() {
        let codec = v5(&[SECRET]);
        let token = codec.encode(CLAIMS);
        for key in ["AAAA", "A", "=", b64([0u8; 32]).as_str()] {
            assert_eq!(
                codec.decode(&with_part(&token, 1, key)),
                Err(JweError::Malformed),
                "{key:?}"
            );
        }
    }

    #[test]
    fn tok11_unknown_members_and_crit_zip() {
        let codec = v5(&[SECRET]);
        let kid = codec.kid().unwrap().to_owned();
        let base = format!(r#""alg":"dir","enc":"A256CBC-HS512","kid":"{kid}""#);
        for extra in [
            r#""crit":["exp"]"#,
            r#""crit":["b64"],"b64":false"#,
            r#""zip":"DEF""#,
            r#""jku":"https://evil.example/jwks""#,
            r#""jwk":{"kty":"oct","k":"AAAA"}"#,
            r#""x5u":"https://evil.example/cert""#,
            r#""x5c":["AAAA"]"#,
            r#""epk":{"kty":"EC"}"#,
            r#""p2c":100000000"#,
            r#""p2s":"AAAA""#,
            r#""apu":"AAAA""#,
            r#""iv":"AAAA""#,
            r#""tag":"AAAA""#,
            r#""foo":null"#,
            r#""ALG":"dir""#,
        ] {
            let token = seal_v5_with_header(&codec, 0, &format!("{{{base},{extra}}}"));
            assert_eq!(
                codec.decode(&token),
                Err(JweError::UnsupportedHeader),
                "{extra}"
            );
        }
        // Even with an otherwise unsupported alg, an unknown member is reported as such.
        let gcm_zip = seal_v4_with_header(
            &v4(&[SECRET]),
            0,
            r#"{"alg":"dir","enc":"A256GCM","zip":"DEF"}"#,
        );
        assert_eq!(
            v4(&[SECRET]).decode(&gcm_zip),
            Err(JweError::UnsupportedHeader)
        );
    }

    #[test]
    fn header_shape_errors_are_malformed() {
        let codec = v5(&[SECRET]);
        let kid = codec.kid().unwrap().to_owned();
        for header in [
            format!(r#"{{"alg":"dir","alg":"dir","enc":"A256CBC-HS512","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","enc":"A256CBC-HS512","kid":"{kid}"}}"#),
            format!(
                r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","typ":"JWT","typ":"JWT"}}"#
            ),
            format!(
                r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","cty":"JWT","cty":"JWT"}}"#
            ),
            // Duplicates spelled differently but equal after JSON unescaping.
            format!(r#"{{"alg":"dir","\u0061lg":"none","enc":"A256CBC-HS512","kid":"{kid}"}}"#),
            r#"{"enc":"A256CBC-HS512"}"#.to_owned(),
            r#"{"alg":"dir"}"#.to_owned(),
            r#"{}"#.to_owned(),
            r#"[]"#.to_owned(),
            r#"["alg","dir"]"#.to_owned(),
            r#""dir""#.to_owned(),
            r#"null"#.to_owned(),
            r#"42"#.to_owned(),
            String::new(),
            r#"{"alg":"dir","enc":"A256CBC-HS512""#.to_owned(),
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}"}} {{}}"#),
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}"}}x"#),
            format!(r#"{{"alg":null,"enc":"A256CBC-HS512","kid":"{kid}"}}"#),
            format!(r#"{{"alg":["dir"],"enc":"A256CBC-HS512","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"dir","enc":1,"kid":"{kid}"}}"#),
            r#"{"alg":"dir","enc":"A256CBC-HS512","kid":42}"#.to_owned(),
            r#"{"alg":"dir","enc":"A256CBC-HS512","kid":null}"#.to_owned(),
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","typ":1}}"#),
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","cty":{{}}}}"#),
            format!(r#"{{'alg':'dir','enc':'A256CBC-HS512','kid':'{kid}'}}"#),
        ] {
            let token = seal_v5_with_header(&codec, 0, &header);
            assert_eq!(codec.decode(&token), Err(JweError::Malformed), "{header}");
        }
        // Header bytes that are not UTF-8.
        let bad_utf8 =
            seal_v5_with_header(&codec, 0, "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}");
        let mut raw = unb64(&parts(&bad_utf8)[0]);
        raw.insert(1, 0xff);
        assert_eq!(
            codec.decode(&with_part(&bad_utf8, 0, &b64(raw))),
            Err(JweError::Malformed)
        );
    }

    // ---- TOK-17: wrong key --------------------------------------------------------------------

    #[test]
    fn tok17_token_from_another_secret() {
        let ours = v5(&[SECRET]);
        let theirs = v5(&[b"another-deployment-secret"]);
        // With kid: no matching key.
        assert_eq!(
            ours.decode(&theirs.encode(CLAIMS)),
            Err(JweError::NoMatchingKey)
        );
        // Without kid: the first key is tried and the tag fails.
        let no_kid = seal_v5_with_header(&theirs, 0, r#"{"alg":"dir","enc":"A256CBC-HS512"}"#);
        assert_eq!(ours.decode(&no_kid), Err(JweError::Decryption));
        // Another deployment that copied our kid into its header: the tag fails.
        let copied = seal_v5_with_header(&theirs, 0, &v5_header(ours.kid().unwrap()));
        assert_eq!(ours.decode(&copied), Err(JweError::Decryption));
        // Same secret, another cookie name (salt).
        let other_salt =
            JweCodec::new(&[SECRET], "next-auth.session-token", TokenFormat::V5, false).unwrap();
        assert_eq!(
            ours.decode(&other_salt.encode(CLAIMS)),
            Err(JweError::NoMatchingKey)
        );
        // v4 with another secret.
        assert_eq!(
            v4(&[SECRET]).decode(&v4(&[b"another"]).encode(CLAIMS)),
            Err(JweError::Decryption)
        );
    }

    // ---- TOK-18: kid tampering --------------------------------------------------------------

    #[test]
    fn tok18_tampered_kid() {
        let codec = v5(&[SECRET, OLD]);
        let random_kid = b64([0x5au8; 64]);
        let ours = codec.kid().unwrap();
        let mut near = ours.to_owned();
        near.replace_range(85.., "A");
        for kid in [
            random_kid.as_str(),
            "' OR 1=1 --",
            "../../../../etc/passwd",
            "",
            &ours[..85],
            &near,
            &ours.to_ascii_lowercase(),
        ] {
            let token = seal_v5_with_header(&codec, 0, &v5_header(kid));
            assert_eq!(
                codec.decode(&token),
                Err(JweError::NoMatchingKey),
                "kid {kid:?}"
            );
        }
        // Over 128 characters but within the header cap: refused as malformed.
        let long = seal_v5_with_header(&codec, 0, &v5_header(&"k".repeat(MAX_KID_LEN + 1)));
        assert_eq!(codec.decode(&long), Err(JweError::Malformed));
        let at_cap = seal_v5_with_header(&codec, 0, &v5_header(&"k".repeat(MAX_KID_LEN)));
        assert_eq!(codec.decode(&at_cap), Err(JweError::NoMatchingKey));
        // 10 KB: over the header cap, refused before base64 or JSON.
        let huge = seal_v5_with_header(&codec, 0, &v5_header(&"k".repeat(10 * 1024)));
        assert!(huge.len() <= MAX_TOKEN_LEN);
        assert_eq!(codec.decode(&huge), Err(JweError::TooLarge));
    }

    #[test]
    fn gcm_kid_selects_by_v4_thumbprint() {
        let codec = v4(&[SECRET, OLD]);
        let kid_old = thumbprint(&derive_v4_key(OLD));
        assert_eq!(kid_old.len(), 43);
        let token = seal_v4_with_header(
            &codec,
            1,
            &format!(r#"{{"alg":"dir","enc":"A256GCM","kid":"{kid_old}"}}"#),
        );
        assert_eq!(codec.decode(&token).unwrap(), CLAIMS);
        let unknown = seal_v4_with_header(
            &codec,
            1,
            r#"{"alg":"dir","enc":"A256GCM","kid":"' OR 1=1 --"}"#,
        );
        assert_eq!(codec.decode(&unknown), Err(JweError::NoMatchingKey));
        // Kid says key 0, sealed with key 1.
        let kid_new = thumbprint(&derive_v4_key(SECRET));
        let lying = seal_v4_with_header(
            &codec,
            1,
            &format!(r#"{{"alg":"dir","enc":"A256GCM","kid":"{kid_new}"}}"#),
        );
        assert_eq!(codec.decode(&lying), Err(JweError::Decryption));
    }

    // ---- configuration, Debug, Display ---------------------------------------------------------

    #[test]
    fn config_errors() {
        assert_eq!(
            JweCodec::new(&[], SALT, TokenFormat::V5, false).unwrap_err(),
            JweConfigError::NoSecrets
        );
        assert_eq!(
            JweCodec::new(&[SECRET, b""], SALT, TokenFormat::V5, false).unwrap_err(),
            JweConfigError::EmptySecret { index: 1 }
        );
        // write = V4 forces accept_v4.
        let c = JweCodec::new(&[SECRET], SALT, TokenFormat::V4, false).unwrap();
        assert!(c.accept_v4);
        assert_eq!(c.decode(NEXTAUTH_V4).map(|p| !p.is_empty()), Ok(true));
    }

    #[test]
    fn codec_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<JweCodec>();
        assert_send_sync::<JweError>();
        let codec = std::sync::Arc::new(v5(&[SECRET]));
        let token = codec.encode(CLAIMS);
        let c2 = std::sync::Arc::clone(&codec);
        let decoded = std::thread::spawn(move || c2.decode(&token))
            .join()
            .unwrap();
        assert_eq!(decoded.unwrap(), CLAIMS);
    }

    #[test]
    fn debug_redacts_keys() {
        let codec = v5_accepting_v4(&[SECRET, OLD]);
        let dbg = format!("{codec:?}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
        assert!(dbg.contains("secrets: 2"), "{dbg}");
        let key = derive_v5_key(SECRET, SALT, 64);
        let secret_text = std::str::from_utf8(SECRET).unwrap();
        for needle in [
            secret_text.to_owned(),
            b64(&key),
            b64(&key[..32]),
            b64(&key[32..]),
            format!("{:?}", &key[..8]),
            format!("{:02x}{:02x}{:02x}", key[0], key[1], key[2]),
            format!("{:?}", &derive_v4_key(SECRET)[..8]),
        ] {
            assert!(!dbg.contains(&needle), "Debug leaks {needle}: {dbg}");
        }
    }

    #[test]
    fn error_messages_carry_no_token_or_key_bytes() {
        let codec = v5(&[SECRET]);
        let token = codec.encode(CLAIMS);
        let p = parts(&token);
        let errors = [
            codec.decode(&"A".repeat(MAX_TOKEN_LEN + 1)).unwrap_err(),
            codec.decode(&with_part(&token, 1, "AAAA")).unwrap_err(),
            codec
                .decode(&seal_v5_with_header(
                    &codec,
                    0,
                    r#"{"alg":"none","enc":"A256CBC-HS512"}"#,
                ))
                .unwrap_err(),
            codec.decode(&v5(&[OLD]).encode(CLAIMS)).unwrap_err(),
            codec.decode(&flip_bit(&token, 4, 0)).unwrap_err(),
        ];
        assert_eq!(
            errors,
            [
                JweError::TooLarge,
                JweError::Malformed,
                JweError::UnsupportedHeader,
                JweError::NoMatchingKey,
                JweError::Decryption
            ]
        );
        for e in errors {
            let msg = e.to_string();
            assert!(msg.starts_with("session token"), "{msg}");
            for part in p.iter().filter(|s| s.len() > 3) {
                assert!(!msg.contains(&part[..4]), "{msg}");
            }
            assert!(!msg.contains(codec.kid().unwrap()));
        }
    }

    // ---- property tests --------------------------------------------------------------------------

    static PROP_V5: LazyLock<JweCodec> = LazyLock::new(|| v5_accepting_v4(&[SECRET, OLD]));
    static PROP_V5_TOKEN: LazyLock<String> = LazyLock::new(|| PROP_V5.encode(CLAIMS));
    static PROP_V4_TOKEN: LazyLock<String> = LazyLock::new(|| v4(&[SECRET]).encode(CLAIMS));

    #[derive(Debug, Clone)]
    enum Mutation {
        FlipBit(usize, u8),
        Replace(usize, char),
        Insert(usize, char),
        Delete(usize),
        Truncate(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let ch = prop_oneof![
            proptest::char::range('-', 'z'),
            Just('.'),
            Just('='),
            Just('+'),
            Just('/'),
            Just(' '),
            any::<char>(),
        ];
        prop_oneof![
            (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
            (any::<usize>(), ch.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
            (any::<usize>(), ch).prop_map(|(i, c)| Mutation::Insert(i, c)),
            any::<usize>().prop_map(Mutation::Delete),
            any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    fn apply(token: &str, mutations: &[Mutation]) -> String {
        let mut chars: Vec<char> = token.chars().collect();
        for m in mutations {
            let n = chars.len();
            match *m {
                Mutation::FlipBit(i, bit) if n > 0 => {
                    let c = chars[i % n] as u32 ^ (1 << bit);
                    chars[i % n] = char::from_u32(c).unwrap_or('\u{fffd}');
                }
                Mutation::Replace(i, c) if n > 0 => chars[i % n] = c,
                Mutation::Insert(i, c) => chars.insert(i % (n + 1), c),
                Mutation::Delete(i) if n > 0 => {
                    chars.remove(i % n);
                }
                Mutation::Truncate(len) => chars.truncate(len % (n + 1)),
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_decode_never_panics_on_arbitrary_strings(s in any::<String>()) {
            prop_assert!(PROP_V5.decode(&s).is_err());
        }

        #[test]
        fn prop_decode_never_panics_on_token_alphabet(s in "[A-Za-z0-9_=+/ .-]{0,600}") {
            prop_assert!(PROP_V5.decode(&s).is_err());
        }

        #[test]
        fn prop_decode_never_panics_on_jwe_shaped_input(
            header in r#"\{("[a-z]{1,4}":("[A-Za-z0-9-]{0,12}"|[0-9]{1,3}|null|\{\}|\[\]),?){0,6}\}"#,
            key in proptest::collection::vec(any::<u8>(), 0..3),
            iv in proptest::collection::vec(any::<u8>(), 0..20),
            ct in proptest::collection::vec(any::<u8>(), 0..80),
            tag in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let token = format!("{}.{}.{}.{}.{}", b64(header), b64(key), b64(iv), b64(ct), b64(tag));
            prop_assert!(PROP_V5.decode(&token).is_err());
        }

        #[test]
        fn prop_decode_never_panics_on_known_header_with_random_parts(
            gcm in any::<bool>(),
            iv in proptest::collection::vec(any::<u8>(), 0..20),
            ct in proptest::collection::vec(any::<u8>(), 0..80),
            tag in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let header = if gcm { V4_HEADER_B64 } else { PROP_V5.v5[0].header_b64.as_str() };
            let token = format!("{header}..{}.{}.{}", b64(iv), b64(ct), b64(tag));
            prop_assert!(PROP_V5.decode(&token).is_err());
        }

        #[test]
        fn prop_every_mutation_of_a_v5_token_is_rejected(
            ms in proptest::collection::vec(mutation(), 1..4),
        ) {
            let original: &str = &PROP_V5_TOKEN;
            let mutated = apply(original, &ms);
            if mutated == original {
                prop_assert_eq!(PROP_V5.decode(&mutated).unwrap(), CLAIMS);
            } else {
                prop_assert!(PROP_V5.decode(&mutated).is_err(), "accepted {:?}", mutated);
            }
        }

        #[test]
        fn prop_every_mutation_of_a_v4_token_is_rejected(
            ms in proptest::collection::vec(mutation(), 1..4),
        ) {
            let original: &str = &PROP_V4_TOKEN;
            let mutated = apply(original, &ms);
            if mutated == original {
                prop_assert_eq!(PROP_V5.decode(&mutated).unwrap(), CLAIMS);
            } else {
                prop_assert!(PROP_V5.decode(&mutated).is_err(), "accepted {:?}", mutated);
            }
        }

        #[test]
        fn prop_round_trip(pt in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(PROP_V5.decode(&PROP_V5.encode(&pt)).unwrap(), pt.clone());
            let v4c = v4(&[SECRET]);
            prop_assert_eq!(v4c.decode(&v4c.encode(&pt)).unwrap(), pt);
        }
    }
}
