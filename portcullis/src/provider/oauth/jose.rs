//! OpenID Connect ID-token verification: a compact JWS (RFC 7515) signed with the configured
//! algorithm — RS256, ES256 or EdDSA with Ed25519 (RFC 7518 §3.3/§3.4, RFC 8037 §3.1) —
//! checked against the issuer's JWK Set (RFC 7517), then the claim checks of OIDC Core
//! §3.1.3.7.
//!
//! The two steps are separate functions so the caller can refetch the JWK Set once when
//! [`verify`] answers [`JoseError::UnknownKid`] (key rotation, KEY-05) and run
//! [`validate_claims`] only on a payload whose signature verified.
//!
//! # Security
//! - The algorithm comes from configuration, never from the token: the header `alg` must
//!   equal it exactly, so `none`, `HS256` keyed with a public key (CVE-2022-23541 class) and
//!   any other algorithm are refused before a key is looked at (IDT-05/07). Each key type
//!   serves exactly one algorithm (RSA → RS256, EC P-256 → ES256, OKP Ed25519 → EdDSA), so a
//!   key of the wrong type is never tried (IDT-15).
//! - Only keys from the JWK Set are used: the header members that name or carry a key
//!   (`jku`, `x5u`, `jwk`) are refused, `x5c`/`x5t` are ignored, `crit` and `b64: false`
//!   (RFC 7797) are refused.
//! - A header `kid` selects exactly the keys with that `kid`; without one every key of the
//!   configured algorithm is tried (SECURITY.md decision 5, IDT-09/10).
//! - Tokens are capped at [`MAX_TOKEN_LEN`] before any decoding, every segment must be
//!   strict base64url (no padding, no `+`/`/`, no whitespace, canonical trailing bits), JWK
//!   Sets at [`MAX_JWKS_LEN`]. RSA keys under 2048 bits are not used.
//! - Time claims must be JSON numbers: a string `exp` is an error, not an absent claim
//!   (CVE-2026-25537 pattern, IDT-12).
//! - [`JoseError`] messages are written for server logs: they never carry token contents or
//!   key material, and echo at most 32 characters of an attacker-chosen value, Debug-escaped.
//! - Nothing here panics on any input: no `unwrap`, no indexing that can fail.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq as _;

/// The longest compact JWS [`verify`] looks at; checked before any decoding. ID tokens are
/// typically 1–2 KiB.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The largest JWK Set document [`Jwks::parse`] accepts.
pub(crate) const MAX_JWKS_LEN: usize = 256 * 1024;

/// The most usable keys kept from one JWK Set. A token without `kid` is tried against every
/// key of the configured algorithm, so this bounds the work one token can cause; real
/// providers publish a handful.
pub(crate) const MAX_KEYS: usize = 64;

/// The smallest RSA modulus used, in bits (RFC 7518 §3.3: 2048 or larger).
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// The longest `sub` accepted, in bytes (OIDC Core §2: at most 255 ASCII characters).
const MAX_SUB_LEN: usize = 255;

/// The most characters of an attacker-chosen value an error or log line echoes.
const MAX_ECHO_CHARS: usize = 32;

// ---------------------------------------------------------------------------------------
// Algorithm

/// The ID-token signature algorithm, fixed by configuration (never taken from the token).
///
/// OIDC Core §3.1.3.7 item 7: the `alg` is the one registered for the client, RS256 by
/// default. MAC algorithms (`HS256`…) and `none` are not supported at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IdTokenAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), the OIDC default; keys of `kty`
    /// `RSA` with a modulus of 2048–4096 bits.
    #[default]
    Rs256,
    /// ECDSA with P-256 and SHA-256 (RFC 7518 §3.4); keys of `kty` `EC`, `crv` `P-256`.
    Es256,
    /// EdDSA with Ed25519 (RFC 8037 §3.1); keys of `kty` `OKP`, `crv` `Ed25519`.
    EdDsa,
}

impl IdTokenAlg {
    /// The JWA name: `"RS256"`, `"ES256"` or `"EdDSA"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for IdTokenAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IdTokenAlg {
    type Err = UnsupportedAlg;

    /// Parses the exact JWA name (`RS256`, `ES256`, `EdDSA`; case-sensitive, as RFC 7515
    /// §4.1.1 compares `alg` values).
    ///
    /// # Errors
    /// [`UnsupportedAlg`] for any other string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            "EdDSA" => Ok(Self::EdDsa),
            other => Err(UnsupportedAlg(echo(other))),
        }
    }
}

/// An `alg` name that is not one of the supported ID-token algorithms; returned by
/// [`IdTokenAlg::from_str`]. The message echoes at most 32 characters of the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported ID-token algorithm {0:?}: use RS256, ES256 or EdDSA")]
pub struct UnsupportedAlg(String);

// ---------------------------------------------------------------------------------------
// Errors

/// Why an ID token or a JWK Set was refused. Messages go to server logs: they never include
/// token contents, key material or a whole `kid`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum JoseError {
    /// The token is not a well-formed compact JWS: wrong segment count, over the length
    /// cap, a segment that is not strict base64url, a header that is not a JSON object.
    #[error("malformed ID token: {0}")]
    Malformed(&'static str),
    /// The JWS header uses a feature we refuse (`crit`, `jku`/`x5u`/`jwk`, `b64: false`), or
    /// `alg`/`kid` are missing or of the wrong JSON type.
    #[error("unsupported ID-token header: {0}")]
    UnsupportedHeader(&'static str),
    /// The header `alg` is not the configured one (includes `none` and `HS256`). `found` is
    /// cut to 32 characters.
    #[error("ID-token alg {found:?} is not the configured {expected}")]
    AlgMismatch {
        /// The configured algorithm.
        expected: IdTokenAlg,
        /// The header's `alg`, at most 32 characters.
        found: String,
    },
    /// No key in the JWK Set has the header's `kid`: the provider may have rotated its keys,
    /// so the caller may refetch the JWK Set once (rate-limited) and retry.
    #[error("no key in the JWK Set has the ID token's kid")]
    UnknownKid,
    /// The JWK Set has no key of the configured algorithm's type (or the key named by `kid`
    /// is of another type or was skipped when the set was parsed). A refetch will not help.
    #[error("no key in the JWK Set can verify the configured algorithm")]
    NoUsableKey,
    /// No candidate key verified the signature (forged, tampered or truncated token).
    #[error("ID-token signature verification failed")]
    BadSignature,
    /// The token has no `kid` and no key of the set verifies it: forged, or the provider
    /// rotated its keys, so the caller may refetch the JWK Set once (rate-limited) and retry.
    #[error("no key in the JWK Set verifies the ID token (it has no kid)")]
    NoKidMatch,
    /// A claim failed OIDC Core §3.1.3.7; the text names the claim and why.
    #[error("ID-token claim rejected: {0}")]
    Claim(&'static str),
    /// The JWK Set document as a whole is unusable (too large, not JSON, no `keys` array).
    #[error("JWK Set rejected: {0}")]
    Jwks(&'static str),
}

// ---------------------------------------------------------------------------------------
// JWK Set

/// A parsed JWK Set (RFC 7517 §5): only the public keys that can verify one of the
/// [`IdTokenAlg`]s. Keys that cannot are kept aside, with the reason, in [`Jwks::skipped`].
#[derive(Clone, Default)]
pub(crate) struct Jwks {
    /// The usable keys, in document order.
    keys: Vec<Jwk>,
    /// The entries of `keys` that were not used, and why.
    skipped: Vec<SkippedKey>,
}

/// One usable key of a [`Jwks`].
#[derive(Clone)]
struct Jwk {
    /// The JWK `kid`, compared byte for byte with the token header's.
    kid: Option<String>,
    /// The public key; its type fixes the one algorithm it verifies.
    key: PublicKey,
}

/// Signature-verification key material, one variant per supported key type.
#[derive(Clone)]
enum PublicKey {
    /// `kty: RSA`, checked to 2048–4096 bits, `e` odd, 3 ≤ e < 2^32.
    Rsa(RsaPublicKey),
    /// `kty: EC`, `crv: P-256`, a point on the curve.
    P256(p256::ecdsa::VerifyingKey),
    /// `kty: OKP`, `crv: Ed25519`, a point that decompresses and is not of small order.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// The one algorithm this key verifies.
    fn alg(&self) -> IdTokenAlg {
        match self {
            Self::Rsa(_) => IdTokenAlg::Rs256,
            Self::P256(_) => IdTokenAlg::Es256,
            Self::Ed25519(_) => IdTokenAlg::EdDsa,
        }
    }
}

/// A JWK Set entry [`Jwks::parse`] did not use, and why — for the caller's logs.
#[derive(Debug, Clone)]
pub(crate) struct SkippedKey {
    /// Position in the document's `keys` array.
    index: usize,
    /// The entry's `kid` when it had a string one (kept whole for matching; shown cut).
    kid: Option<String>,
    /// Why the entry was skipped, e.g. "RSA modulus under 2048 bits".
    reason: &'static str,
}

impl SkippedKey {
    /// Why the entry was skipped, e.g. "RSA modulus under 2048 bits" or "use is not sig".
    pub(crate) fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for SkippedKey {
    /// `JWK #3 (kid "abc"): RSA modulus under 2048 bits`, the `kid` cut to 32 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JWK #{}", self.index)?;
        if let Some(kid) = &self.kid {
            write!(f, " (kid {:?})", echo(kid))?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl fmt::Debug for Jwks {
    /// The `kid` and algorithm of each usable key and the skipped count; no key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<(Option<String>, IdTokenAlg)> = self
            .keys
            .iter()
            .map(|k| (k.kid.as_deref().map(echo), k.key.alg()))
            .collect();
        f.debug_struct("Jwks")
            .field("keys", &keys)
            .field("skipped", &self.skipped.len())
            .finish()
    }
}

impl Jwks {
    /// Parses a JWK Set document (RFC 7517 §5), keeping only signature-capable public keys.
    ///
    /// An entry is skipped — not an error — when its `kty`/`crv` is not supported (`oct`,
    /// P-384, X25519, …), its `use` is not `sig` (e.g. `enc`), its `key_ops` lack `verify`,
    /// its own `alg` is present but not one this key type verifies for us, or its key
    /// material is malformed (bad base64url, an RSA modulus under 2048 or over 4096 bits, an
    /// EC point off the curve, a small-order Ed25519 point). [`Jwks::skipped`] tells why.
    /// Private members (`d`, `p`, …) are never read. At most [`MAX_KEYS`] keys are kept.
    ///
    /// # Errors
    /// [`JoseError::Jwks`] when the document is over [`MAX_JWKS_LEN`], not a JSON object,
    /// or has no `keys` array. A set whose entries were all skipped is returned empty.
    pub(crate) fn parse(json: &[u8]) -> Result<Self, JoseError> {
        if json.len() > MAX_JWKS_LEN {
            return Err(JoseError::Jwks("document larger than 256 KiB"));
        }
        let doc: Map<String, Value> =
            serde_json::from_slice(json).map_err(|_| JoseError::Jwks("not a JSON object"))?;
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err(JoseError::Jwks("no keys array"));
        };
        let mut set = Self::default();
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            let reason = match parse_jwk(entry) {
                Ok(_) if set.keys.len() >= MAX_KEYS => "more usable keys than the limit",
                Ok(key) => {
                    set.keys.push(Jwk { kid, key });
                    continue;
                }
                Err(reason) => reason,
            };
            set.skipped.push(SkippedKey { index, kid, reason });
        }
        Ok(set)
    }

    /// The number of usable keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether a usable key has exactly this `kid` (byte equality). A `kid` that names only
    /// skipped entries is not "had": [`verify`] answers [`JoseError::NoUsableKey`] for it.
    #[cfg(test)]
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The entries that were not used, in document order, each with its reason; `Display`
    /// gives a log line.
    pub(crate) fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }
}

/// One JWK into a usable key, or the reason it is skipped.
fn parse_jwk(entry: &Value) -> Result<PublicKey, &'static str> {
    let Value::Object(jwk) = entry else {
        return Err("entry is not a JSON object");
    };
    let kty = str_member(jwk, "kty")
        .map_err(|()| "kty is not a string")?
        .ok_or("kty missing")?;
    if !matches!(kty, "RSA" | "EC" | "OKP") {
        return Err("unsupported kty");
    }
    if str_member(jwk, "kid").is_err() {
        return Err("kid is not a string");
    }
    match str_member(jwk, "use") {
        Ok(None | Some("sig")) => {}
        Ok(Some("enc")) => return Err("use is enc"),
        Ok(Some(_)) | Err(()) => return Err("use is not sig"),
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verify {
            return Err("key_ops without verify");
        }
    }
    let key = match kty {
        "RSA" => parse_rsa(jwk)?,
        "EC" => parse_p256(jwk)?,
        _ => parse_ed25519(jwk)?,
    };
    match str_member(jwk, "alg") {
        Ok(None) => Ok(key),
        Ok(Some(alg)) => match alg.parse::<IdTokenAlg>() {
            Ok(alg) if alg == key.alg() => Ok(key),
            Ok(_) => Err("alg does not fit the key type"),
            Err(_) => Err("alg not supported"),
        },
        Err(()) => Err("alg is not a string"),
    }
}

/// RFC 7518 §6.3.1 public members `n`, `e`.
fn parse_rsa(jwk: &Map<String, Value>) -> Result<PublicKey, &'static str> {
    let n = b64_member(jwk, "n").ok_or("RSA n missing or not base64url")?;
    let e = b64_member(jwk, "e").ok_or("RSA e missing or not base64url")?;
    let (n, e) = (BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e));
    if n.bits() < MIN_RSA_BITS {
        return Err("RSA modulus under 2048 bits");
    }
    if e.bits() > 32 {
        return Err("RSA exponent of 2^32 or more");
    }
    // `new` also caps the modulus at 4096 bits (bounding the cost of one verification) and
    // wants e odd, 3 ≤ e < n.
    RsaPublicKey::new(n, e)
        .map(PublicKey::Rsa)
        .map_err(|err| match err {
            rsa::Error::ModulusTooLarge => "RSA modulus over 4096 bits",
            _ => "RSA modulus or exponent invalid",
        })
}

/// RFC 7518 §6.2.1 public members `crv: P-256`, `x`, `y` (each exactly 32 bytes).
fn parse_p256(jwk: &Map<String, Value>) -> Result<PublicKey, &'static str> {
    if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
        return Err("unsupported EC curve");
    }
    let x = b64_member(jwk, "x").ok_or("EC x missing or not base64url")?;
    let y = b64_member(jwk, "y").ok_or("EC y missing or not base64url")?;
    if x.len() != 32 || y.len() != 32 {
        return Err("EC coordinate not 32 bytes");
    }
    // SEC1 uncompressed point 04 ‖ x ‖ y; the decoder checks it is on the curve and not the
    // identity.
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
        .map(PublicKey::P256)
        .map_err(|_| "EC point not on P-256")
}

/// RFC 8037 §2 public members `crv: Ed25519`, `x` (32 bytes).
fn parse_ed25519(jwk: &Map<String, Value>) -> Result<PublicKey, &'static str> {
    if jwk.get("crv").and_then(Value::as_str) != Some("Ed25519") {
        return Err("unsupported OKP curve");
    }
    let x = b64_member(jwk, "x").ok_or("OKP x missing or not base64url")?;
    let x = <[u8; 32]>::try_from(x.as_slice()).map_err(|_| "Ed25519 x not 32 bytes")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| "Ed25519 point invalid")?;
    // `verify_strict` refuses small-order keys anyway; refusing them here says why.
    if key.is_weak() {
        return Err("Ed25519 key of small order");
    }
    Ok(PublicKey::Ed25519(key))
}

/// `Ok(None)` when absent, `Err(())` when present but not a string.
fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ()> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

/// A string member decoded as strict base64url; `None` when absent, not a string or not
/// strict base64url.
fn b64_member(obj: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
    b64_decode(obj.get(name)?.as_str()?)
}

// ---------------------------------------------------------------------------------------
// JWS verification

/// A compact JWS whose signature verified.
pub(crate) struct VerifiedJws {
    /// The header `kid`, if it had one (the key that verified had this exact `kid`).
    pub(crate) kid: Option<String>,
    /// The decoded payload, not yet checked as claims: pass it to [`validate_claims`].
    pub(crate) payload: Vec<u8>,
}

impl fmt::Debug for VerifiedJws {
    /// The `kid` (cut to 32 characters) and the payload length; the payload carries
    /// personal data and stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedJws")
            .field("kid", &self.kid.as_deref().map(echo))
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// Verifies a compact JWS signed with `alg` against `jwks`.
///
/// In order: length cap ([`MAX_TOKEN_LEN`]); exactly three `.`-separated segments; a header
/// that is strict base64url of a JSON object whose `alg` is exactly `alg.as_str()`, with no
/// `crit`, `jku`, `x5u` or `jwk`, and `b64` absent or `true`; strict base64url payload and
/// signature; then the keys. With a header `kid`, only keys with that exact `kid` and of the
/// algorithm's type are tried; without one, every key of the algorithm's type (SECURITY.md
/// decision 5). The first key that verifies wins.
///
/// Signatures: RS256 is RSASSA-PKCS1-v1_5 over SHA-256 with the signature exactly the
/// modulus length; ES256 is the 64-byte `r ‖ s` of RFC 7518 §3.4 (not DER; both low- and
/// high-`s` accepted, as JWS does not require low-`s`); EdDSA is Ed25519 with strict
/// verification (canonical `s`, no small-order points).
///
/// # Errors
/// [`JoseError::Malformed`], [`JoseError::UnsupportedHeader`], [`JoseError::AlgMismatch`];
/// [`JoseError::UnknownKid`] when no key has the header `kid` (the caller may refetch the
/// JWK Set once); [`JoseError::NoUsableKey`] when no key fits the algorithm;
/// [`JoseError::BadSignature`] when none of the candidates verifies.
pub(crate) fn verify(token: &str, alg: IdTokenAlg, jwks: &Jwks) -> Result<VerifiedJws, JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::Malformed("longer than 16 KiB"));
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(JoseError::Malformed("not three dot-separated segments"));
    };
    let header = b64_decode(header_b64).ok_or(JoseError::Malformed("header not base64url"))?;
    let header: Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|_| JoseError::Malformed("header not a JSON object"))?;
    let kid = check_header(&header, alg)?;
    let payload = b64_decode(payload_b64).ok_or(JoseError::Malformed("payload not base64url"))?;
    let signature =
        b64_decode(signature_b64).ok_or(JoseError::Malformed("signature not base64url"))?;
    // RFC 7515 §5.2 step 8: the signing input is the ASCII of `header.payload` as received.
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(JoseError::Malformed("not three dot-separated segments"))?
        .as_bytes();

    let candidates = candidates(jwks, kid.as_deref(), alg)?;
    let verified = match alg {
        IdTokenAlg::Rs256 => {
            let digest = Sha256::digest(signing_input);
            candidates.iter().any(|key| match key {
                // `Pkcs1v15Sign::new` only reads the SHA-256 OID and length from sha2 0.10;
                // `verify` rebuilds the whole expected encoding and compares it (no
                // parsing of the padding, so no Bleichenbacher-2006 forgery).
                PublicKey::Rsa(key) => key
                    .verify(Pkcs1v15Sign::new::<sha2_010::Sha256>(), &digest, &signature)
                    .is_ok(),
                _ => false,
            })
        }
        IdTokenAlg::Es256 => {
            // `from_slice` wants exactly 64 bytes and 0 < r, s < n.
            let Ok(signature) = p256::ecdsa::Signature::from_slice(&signature) else {
                return Err(JoseError::BadSignature);
            };
            candidates.iter().any(|key| match key {
                PublicKey::P256(key) => key.verify(signing_input, &signature).is_ok(),
                _ => false,
            })
        }
        IdTokenAlg::EdDsa => {
            let Ok(signature) = ed25519_dalek::Signature::from_slice(&signature) else {
                return Err(JoseError::BadSignature);
            };
            candidates.iter().any(|key| match key {
                PublicKey::Ed25519(key) => key.verify_strict(signing_input, &signature).is_ok(),
                _ => false,
            })
        }
    };
    if !verified {
        return Err(match kid {
            Some(_) => JoseError::BadSignature,
            None => JoseError::NoKidMatch,
        });
    }
    Ok(VerifiedJws { kid, payload })
}

/// The header rules of [`verify`]; returns the `kid`.
fn check_header(header: &Map<String, Value>, alg: IdTokenAlg) -> Result<Option<String>, JoseError> {
    match header.get("alg") {
        Some(Value::String(found)) if found == alg.as_str() => {}
        Some(Value::String(found)) => {
            return Err(JoseError::AlgMismatch {
                expected: alg,
                found: echo(found),
            });
        }
        Some(_) => return Err(JoseError::UnsupportedHeader("alg not a string")),
        None => return Err(JoseError::UnsupportedHeader("alg missing")),
    }
    // RFC 7515 §4.1.11: we understand no extension, so any `crit` must be refused.
    if header.contains_key("crit") {
        return Err(JoseError::UnsupportedHeader("crit present"));
    }
    // Keys come from the issuer's JWK Set only (RFC 8725 §3.10: do not trust received
    // claims); refusing these makes that visible instead of silently ignoring them.
    if ["jku", "x5u", "jwk"]
        .iter()
        .any(|m| header.contains_key(*m))
    {
        return Err(JoseError::UnsupportedHeader("jku, x5u or jwk present"));
    }
    // RFC 7797: `b64: false` changes what is signed; only the default is accepted.
    match header.get("b64") {
        None | Some(Value::Bool(true)) => {}
        Some(_) => return Err(JoseError::UnsupportedHeader("b64 not true")),
    }
    match header.get("kid") {
        None => Ok(None),
        Some(Value::String(kid)) => Ok(Some(kid.clone())),
        Some(_) => Err(JoseError::UnsupportedHeader("kid not a string")),
    }
}

/// The keys [`verify`] tries, per its key-selection rule.
fn candidates<'a>(
    jwks: &'a Jwks,
    kid: Option<&str>,
    alg: IdTokenAlg,
) -> Result<Vec<&'a PublicKey>, JoseError> {
    let keys: Vec<&PublicKey> = match kid {
        Some(kid) => {
            let named: Vec<&Jwk> = jwks
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect();
            if named.is_empty() {
                // A kid the set does name, but on an entry it could not use: refetching
                // will not help.
                if jwks.skipped.iter().any(|s| s.kid.as_deref() == Some(kid)) {
                    return Err(JoseError::NoUsableKey);
                }
                return Err(JoseError::UnknownKid);
            }
            named
                .into_iter()
                .map(|k| &k.key)
                .filter(|k| k.alg() == alg)
                .collect()
        }
        None => jwks
            .keys
            .iter()
            .map(|k| &k.key)
            .filter(|k| k.alg() == alg)
            .collect(),
    };
    if keys.is_empty() {
        return Err(JoseError::NoUsableKey);
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------------------
// Claims

/// What [`validate_claims`] checks the ID-token claims against.
pub(crate) struct Expected<'a> {
    /// The issuer identifier from discovery/configuration; `iss` must equal it exactly.
    pub(crate) issuer: &'a str,
    /// Our client id: `aud` must contain it and nothing else; `azp`, if present, must be it.
    pub(crate) client_id: &'a str,
    /// The `nonce` sent in the authorization request: `Some` makes the claim required and
    /// equal (constant-time comparison).
    pub(crate) nonce: Option<&'a str>,
    /// The access token from the same token response: `Some` checks `at_hash` if present.
    pub(crate) access_token: Option<&'a str>,
    /// The current time, seconds since the Unix epoch.
    pub(crate) now: i64,
    /// Clock-skew tolerance in seconds (callers use 30); negative counts as 0.
    pub(crate) leeway: i64,
    /// Reject an `iat` older than `now - max_age - leeway` (callers pass e.g. 3600); a
    /// negative value counts as 0.
    pub(crate) max_age: Option<i64>,
}

/// Validated ID-token claims (OIDC Core §3.1.3.7).
///
/// `payload` must be a JSON object (at most [`MAX_TOKEN_LEN`] bytes) with:
/// - `iss` a string exactly equal to `expected.issuer` (no normalisation, RFC 9207 style);
/// - `aud` a string, or a non-empty array of strings, whose values are all our client id —
///   another audience is not trusted, which also covers IDT-03;
/// - `azp`, if present, equal to our client id;
/// - `sub` a non-empty string of at most 255 bytes;
/// - `exp` and `iat` JSON numbers (integer or fraction, non-negative), `exp > now − leeway`,
///   `iat ≤ now + leeway`, and with `max_age`, `iat ≥ now − max_age − leeway`;
/// - `nbf`, if present, a number `≤ now + leeway`;
/// - `nonce` equal to `expected.nonce` when that is `Some`;
/// - `at_hash`, if present and `expected.access_token` is `Some`, equal to
///   [`left_half_hash`] of the access token (OIDC Core §3.1.3.8, §3.2.2.9).
///
/// Returns the claims object for the caller's mapping to a user.
///
/// # Errors
/// [`JoseError::Claim`] naming the first failing claim and why.
pub(crate) fn validate_claims(
    payload: &[u8],
    alg: IdTokenAlg,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, JoseError> {
    use JoseError::Claim;

    if payload.len() > MAX_TOKEN_LEN {
        return Err(Claim("payload longer than 16 KiB"));
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(payload).map_err(|_| Claim("payload not a JSON object"))?;

    match claims.get("iss") {
        None => return Err(Claim("iss missing")),
        Some(Value::String(iss)) if !iss.is_empty() && iss == expected.issuer => {}
        Some(_) => return Err(Claim("iss mismatch")),
    }

    let ours = |v: &Value| !expected.client_id.is_empty() && v.as_str() == Some(expected.client_id);
    match claims.get("aud") {
        None => return Err(Claim("aud missing")),
        Some(aud @ Value::String(_)) if ours(aud) => {}
        Some(Value::String(_)) => return Err(Claim("aud mismatch")),
        Some(Value::Array(auds)) if !auds.iter().any(&ours) => {
            return Err(Claim("aud mismatch"));
        }
        Some(Value::Array(auds)) if !auds.iter().all(&ours) => {
            return Err(Claim("aud has an untrusted audience"));
        }
        Some(Value::Array(_)) => {}
        Some(_) => return Err(Claim("aud not a string or array of strings")),
    }

    if let Some(azp) = claims.get("azp")
        && !ours(azp)
    {
        return Err(Claim("azp mismatch"));
    }

    match claims.get("sub") {
        None => return Err(Claim("sub missing")),
        Some(Value::String(sub)) if !sub.is_empty() && sub.len() <= MAX_SUB_LEN => {}
        Some(Value::String(_)) => return Err(Claim("sub empty or longer than 255 bytes")),
        Some(_) => return Err(Claim("sub not a string")),
    }

    let now = expected.now;
    let leeway = expected.leeway.max(0);
    let exp = numeric_date(&claims, "exp")
        .map_err(|()| Claim("exp not a non-negative number"))?
        .ok_or(Claim("exp missing"))?;
    let iat = numeric_date(&claims, "iat")
        .map_err(|()| Claim("iat not a non-negative number"))?
        .ok_or(Claim("iat missing"))?;
    if exp <= now.saturating_sub(leeway) as f64 {
        return Err(Claim("exp in the past"));
    }
    if iat > now.saturating_add(leeway) as f64 {
        return Err(Claim("iat in the future"));
    }
    let nbf = numeric_date(&claims, "nbf").map_err(|()| Claim("nbf not a non-negative number"))?;
    if let Some(nbf) = nbf
        && nbf > now.saturating_add(leeway) as f64
    {
        return Err(Claim("nbf in the future"));
    }
    if let Some(max_age) = expected.max_age {
        let oldest = now.saturating_sub(max_age.max(0)).saturating_sub(leeway);
        if iat < oldest as f64 {
            return Err(Claim("iat older than max_age"));
        }
    }

    if let Some(nonce) = expected.nonce {
        match claims.get("nonce") {
            None => return Err(Claim("nonce missing")),
            Some(Value::String(got)) if ct_eq_str(got, nonce) => {}
            Some(_) => return Err(Claim("nonce mismatch")),
        }
    }

    if let Some(access_token) = expected.access_token {
        match claims.get("at_hash") {
            None => {}
            Some(Value::String(got)) if ct_eq_str(got, &left_half_hash(access_token, alg)) => {}
            Some(Value::String(_)) => return Err(Claim("at_hash mismatch")),
            Some(_) => return Err(Claim("at_hash not a string")),
        }
    }

    Ok(claims)
}

/// A NumericDate claim (RFC 7519 §2) as seconds: `Ok(None)` when absent; any other JSON
/// type is an error, never "absent" (the CVE-2026-25537 mistake).
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(t) if t.is_finite() && t >= 0.0 => Ok(Some(t)),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// `at_hash`/`c_hash` value: base64url(left half of the alg's hash of the ASCII value):
/// SHA-256 for RS256/ES256, SHA-512 for EdDSA with Ed25519 (OIDC Core §3.1.3.6, §3.3.2.11;
/// the hash of Ed25519 per RFC 8032). 22 characters for SHA-256, 43 for SHA-512.
pub(crate) fn left_half_hash(value: &str, alg: IdTokenAlg) -> String {
    match alg {
        IdTokenAlg::Rs256 | IdTokenAlg::Es256 => left_half(&Sha256::digest(value.as_bytes())),
        IdTokenAlg::EdDsa => left_half(&Sha512::digest(value.as_bytes())),
    }
}

/// base64url of the first half of `digest`.
fn left_half(digest: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest.get(..digest.len() / 2).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Strict base64url: `URL_SAFE_NO_PAD` refuses `=`, `+`, `/`, whitespace, any non-alphabet
/// byte, an impossible length (4n + 1) and non-zero trailing bits, so every byte string has
/// exactly one accepted spelling.
fn b64_decode(input: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

/// Equality without an early exit on the first differing byte (the length is not secret).
fn ct_eq_str(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// At most [`MAX_ECHO_CHARS`] characters of an attacker-chosen value, for messages.
fn echo(value: &str) -> String {
    value.chars().take(MAX_ECHO_CHARS).collect()
}

#[cfg(test)]
mod tests;
