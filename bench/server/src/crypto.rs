//! The crypto-bound session read: the least a server must do to answer `GET session` for an
//! Auth.js v5 JWT cookie (RFC 7516 compact JWE, `dir` + `A256CBC-HS512`, RFC 7518 §5.2), with
//! nothing portcullis adds (callbacks, claim checks, CSRF and callback-URL cookies, chunking).

use std::sync::Arc;

use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const COOKIE: &str = "authjs.session-token";
/// Auth.js's default session lifetime: 30 days.
const MAX_AGE: i64 = 30 * 24 * 60 * 60;

/// The derived key halves (RFC 7518 §5.2.2.1), prepared once.
struct Key {
    mac: Hmac<Sha512>,
    aes: Aes256,
}

pub(crate) fn router(secret: &str) -> Router {
    let mut k = [0u8; 64];
    let info = format!("Auth.js Generated Encryption Key ({COOKIE})");
    if Hkdf::<Sha256>::new(Some(COOKIE.as_bytes()), secret.as_bytes())
        .expand(info.as_bytes(), &mut k)
        .is_err()
    {
        crate::fail("HKDF refused a 64-byte output");
    }
    let Ok(mac) = Hmac::<Sha512>::new_from_slice(&k[..32]) else {
        crate::fail("HMAC refused the key");
    };
    let mut enc = [0u8; 32];
    enc.copy_from_slice(&k[32..]);
    let key = Arc::new(Key {
        mac,
        aes: Aes256::new(&enc.into()),
    });
    Router::new().route(
        "/api/auth/session",
        get(move |headers: HeaderMap| {
            let key = key.clone();
            async move { session(&key, &headers).unwrap_or_else(crate::unauthorized) }
        }),
    )
}

fn session(key: &Key, headers: &HeaderMap) -> Option<Response> {
    let token = crate::cookie(headers, COOKIE)?;
    let mut claims: Map<String, Value> = serde_json::from_slice(&open(key, token)?).ok()?;
    let now = OffsetDateTime::now_utc();
    let exp = now.unix_timestamp() + MAX_AGE;
    if claims.get("exp").and_then(Value::as_i64)? <= now.unix_timestamp() {
        return None;
    }
    let expires = OffsetDateTime::from_unix_timestamp(exp)
        .ok()?
        .format(&Rfc3339)
        .ok()?;
    let body = json!({
        "user": {
            "name": claims.get("name"),
            "email": claims.get("email"),
            "id": claims.get("id"),
            "role": claims.get("role"),
        },
        "expires": expires,
    });
    claims.insert("exp".to_owned(), exp.into());
    let header_b64 = token.split('.').next()?;
    let sealed = seal(key, header_b64, &serde_json::to_vec(&claims).ok()?)?;
    let cookie = format!(
        "{COOKIE}={sealed}; Path=/; Expires={}; HttpOnly; SameSite=Lax",
        httpdate(exp)?
    );
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).ok()?);
    Some(res)
}

/// An RFC 9110 IMF-fixdate.
fn httpdate(unix: i64) -> Option<String> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()?
        .format(&format)
        .ok()
}

/// Verifies the tag (constant time), then decrypts.
fn open(key: &Key, token: &str) -> Option<Vec<u8>> {
    let mut parts = token.split('.');
    let (header, cek, iv, ct, tag) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if parts.next().is_some() || !cek.is_empty() {
        return None;
    }
    let iv: [u8; 16] = URL_SAFE_NO_PAD.decode(iv).ok()?.try_into().ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let mut buf = URL_SAFE_NO_PAD.decode(ct).ok()?;
    if !bool::from(tag_of(key, header.as_bytes(), &iv, &buf).ct_eq(&tag)) {
        return None;
    }
    let dec = cbc::Decryptor::<Aes256>::inner_iv_init(key.aes.clone(), (&iv).into());
    let len = dec.decrypt_padded::<Pkcs7>(&mut buf).ok()?.len();
    buf.truncate(len);
    Some(buf)
}

/// Encrypts under a fresh IV with the (unchanged) protected header.
fn seal(key: &Key, header_b64: &str, plaintext: &[u8]) -> Option<String> {
    let mut iv = [0u8; 16];
    getrandom::fill(&mut iv).ok()?;
    let mut buf = plaintext.to_vec();
    buf.resize((plaintext.len() / 16 + 1) * 16, 0);
    let enc = cbc::Encryptor::<Aes256>::inner_iv_init(key.aes.clone(), (&iv).into());
    let len = enc
        .encrypt_padded::<Pkcs7>(&mut buf, plaintext.len())
        .ok()?
        .len();
    buf.truncate(len);
    let tag = tag_of(key, header_b64.as_bytes(), &iv, &buf);
    Some(format!(
        "{header_b64}..{}.{}.{}",
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(&buf),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

/// The first half of HMAC-SHA-512(AAD ‖ IV ‖ ciphertext ‖ AL).
fn tag_of(key: &Key, aad: &[u8], iv: &[u8; 16], ct: &[u8]) -> [u8; 32] {
    let mut mac = key.mac.clone();
    mac.update(aad);
    mac.update(iv);
    mac.update(ct);
    mac.update(&(aad.len() as u64 * 8).to_be_bytes());
    let full = mac.finalize().into_bytes();
    let mut tag = [0u8; 32];
    tag.copy_from_slice(&full[..32]);
    tag
}
