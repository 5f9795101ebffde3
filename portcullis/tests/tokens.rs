//! The session token as an attack surface (SECURITY.md §6.1, §6.2, §6.15): every forged,
//! tampered, expired or foreign token is `NULL_SESSION` + `CLEAR` for every chunk present.
//!
//! Header attacks are forged with a **valid** authentication tag (the test derives the real
//! key), so they are refused by the header checks themselves, not by the tag.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeEncrypt, InnerIvInit, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use portcullis::jwt::{JweCodec, TokenFormat, derive_v5_key, thumbprint};
use serde_json::{Value, json};
use sha2::Sha512;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// Valid claims for alice, expiring in an hour.
fn claims() -> Value {
    let now = now();
    json!({
        "name": "Alice", "email": "alice@example.com", "sub": "1",
        "id": "1", "role": "admin", "access_token": ACCESS_TOKEN,
        "iat": now, "exp": now + 3600, "jti": "11111111-2222-4333-8444-555555555555",
    })
}

/// The 64-byte v5 key of `secret` for this harness's session cookie.
fn key(h: &Harness, secret: &str) -> Vec<u8> {
    derive_v5_key(secret.as_bytes(), &h.names.session_token, 64)
}

/// `A256CBC-HS512` sealing with any protected header (RFC 7518 §5.2.2.1).
fn seal_with_header(key: &[u8], header_json: &str, plaintext: &[u8]) -> String {
    let header_b64 = b64(header_json);
    let iv = [0x5au8; 16];
    let mut enc_key = [0u8; 32];
    enc_key.copy_from_slice(&key[32..64]);
    let aes = Aes256::new(&enc_key.into());
    let mut buf = plaintext.to_vec();
    let len = buf.len();
    buf.resize((len / 16 + 1) * 16, 0);
    let ct_len = cbc::Encryptor::<Aes256>::inner_iv_init(aes, (&iv).into())
        .encrypt_padded::<Pkcs7>(&mut buf, len)
        .unwrap()
        .len();
    buf.truncate(ct_len);
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(&key[..32]).unwrap();
    mac.update(header_b64.as_bytes());
    mac.update(&iv);
    mac.update(&buf);
    mac.update(&(header_b64.len() as u64 * 8).to_be_bytes());
    let tag = mac.finalize().into_bytes();
    format!(
        "{header_b64}..{}.{}.{}",
        b64(iv),
        b64(&buf),
        b64(&tag[..32])
    )
}

/// The header portcullis itself writes for `secret`.
fn own_header(h: &Harness, secret: &str) -> String {
    format!(
        r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{}"}}"#,
        thumbprint(&key(h, secret))
    )
}

fn replace_part(token: &str, i: usize, part: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[i] = part;
    parts.join(".")
}

fn cookie_headers(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "cookie",
        format!("__Secure-authjs.session-token={token}")
            .parse()
            .unwrap(),
    );
    headers
}

/// `NULL_SESSION` + `CLEAR` on `GET /session`, and `Auth::token` / `Auth::session` agree.
async fn rejected(h: &Harness, token: &str, what: &str) -> Res {
    let res = h.assert_token_rejected(token, what).await;
    if let Ok(v) = http::HeaderValue::from_str(&format!("{}={token}", h.names.session_token)) {
        let mut headers = HeaderMap::new();
        headers.insert("cookie", v);
        assert!(
            h.auth.token::<Value>(&headers).is_none(),
            "{what}: Auth::token"
        );
        let s: Option<Value> = h.auth.session(&headers).await.unwrap();
        assert!(s.is_none(), "{what}: Auth::session");
    }
    if let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", v);
        assert!(h.auth.token::<Value>(&headers).is_none(), "{what}: Bearer");
    }
    res
}

/// The token is a valid session (the positive control of each family).
async fn accepted(h: &Harness, token: &str, what: &str) -> Res {
    let res = h
        .send(get("/session").cookie_header(&format!("{}={token}", h.names.session_token)))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{what}");
    assert_eq!(res.json()["user"]["id"], "1", "{what}: {res:?}");
    assert!(
        h.auth.token::<Value>(&cookie_headers(token)).is_some() || !h.secure,
        "{what}: Auth::token"
    );
    res
}

#[tokio::test]
async fn forging_works_so_the_header_tests_mean_something() {
    let h = Harness::https();
    let k = key(&h, SECRET);
    let plain = claims().to_string();
    accepted(
        &h,
        &seal_with_header(&k, &own_header(&h, SECRET), plain.as_bytes()),
        "own header",
    )
    .await;
    let kid = thumbprint(&k);
    let reordered = format!(r#"{{"kid":"{kid}","enc":"A256CBC-HS512","alg":"dir"}}"#);
    accepted(
        &h,
        &seal_with_header(&k, &reordered, plain.as_bytes()),
        "reordered",
    )
    .await;
    // Auth.js: no kid → the newest secret.
    accepted(
        &h,
        &seal_with_header(
            &k,
            r#"{"alg":"dir","enc":"A256CBC-HS512"}"#,
            plain.as_bytes(),
        ),
        "no kid",
    )
    .await;
    accepted(&h, &h.seal(&claims()), "codec").await;
}

#[tokio::test]
async fn tok_01_bit_flips_in_every_segment() {
    let h = Harness::https();
    let token = h.seal(&claims());
    accepted(&h, &token, "untouched").await;
    let parts: Vec<&str> = token.split('.').collect();
    for (i, name) in [(0, "header"), (2, "iv"), (3, "ciphertext"), (4, "tag")] {
        let bytes = unb64(parts[i]);
        for pos in [0, bytes.len() / 2, bytes.len() - 1] {
            for bit in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[pos] ^= bit;
                let t = replace_part(&token, i, &b64(&b));
                rejected(&h, &t, &format!("{name} byte {pos} bit {bit:#x}")).await;
            }
        }
    }
}

#[tokio::test]
async fn tok_01_and_tok_17_answers_are_indistinguishable() {
    let h = Harness::https();
    let token = h.seal(&claims());
    let mut tag = unb64(token.split('.').nth(4).unwrap());
    tag[0] ^= 1;
    let tampered = replace_part(&token, 4, &b64(&tag));
    let foreign = Harness::builder()
        .secrets(&[OTHER_SECRET])
        .build()
        .seal(&claims());
    let a = rejected(&h, &tampered, "tampered").await;
    let b = rejected(&h, &foreign, "foreign").await;
    assert_eq!(a.status, b.status);
    assert_eq!(a.body, b.body);
    assert_eq!(a.deleted(), b.deleted());
    let names = |r: &Res| r.cookies.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
}

#[tokio::test]
async fn tok_02_truncations_and_segment_counts() {
    let h = Harness::https();
    let token = h.seal(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let cases = [
        ("last char dropped", token[..token.len() - 1].to_owned()),
        ("first char dropped", token[1..].to_owned()),
        ("last segment dropped", parts[..4].join(".")),
        (
            "4 segments",
            format!("{}.{}.{}.{}", parts[0], parts[2], parts[3], parts[4]),
        ),
        ("6 segments", format!("{token}.{}", parts[4])),
        ("6 segments, empty tail", format!("{token}.")),
        (
            "3 segments",
            format!("{}.{}.{}", parts[0], parts[3], parts[4]),
        ),
        ("header only", parts[0].to_owned()),
        ("dots only", "....".to_owned()),
        (
            "tag halved (TOK-03)",
            replace_part(&token, 4, &parts[4][..22]),
        ),
        ("iv short", replace_part(&token, 2, &parts[2][..16])),
        ("empty ciphertext", replace_part(&token, 3, "")),
        (
            "ciphertext not a block multiple",
            replace_part(&token, 3, &parts[3][..parts[3].len() - 4]),
        ),
    ];
    for (what, t) in cases {
        rejected(&h, &t, what).await;
    }
}

#[tokio::test]
async fn tok_04_oversized_tokens_and_too_many_chunks() {
    let h = Harness::https();
    let n = h.names.session_token.clone();
    let token = h.seal(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    // 64 KiB in one cookie, token-shaped.
    let big = replace_part(&token, 3, &"A".repeat(64 * 1024));
    rejected(&h, &big, "64 KiB single cookie").await;

    // The valid token in 8 chunks is fine; in 9 it is refused (MAX_SESSION_CHUNKS = 8).
    let split = |k: usize| -> String {
        let size = token.len().div_ceil(k);
        token
            .as_bytes()
            .chunks(size)
            .enumerate()
            .map(|(i, c)| format!("{n}.{i}={}", std::str::from_utf8(c).unwrap()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert_eq!(portcullis::MAX_SESSION_CHUNKS, 8);
    let eight = split(8);
    assert_eq!(eight.matches(&format!("{n}.")).count(), 8);
    let res = h.send(get("/session").cookie_header(&eight)).await;
    assert_eq!(res.json()["user"]["id"], "1", "8 chunks are a session");
    let nine = split(9);
    assert_eq!(nine.matches(&format!("{n}.")).count(), 9);
    h.assert_null_and_cleared(&nine, "9 chunks").await;
    let twelve = split(12);
    h.assert_null_and_cleared(&twelve, "12 chunks").await;

    // 8 chunks of 4000 characters: 32 000 > 16 KiB assembled.
    let header: String = (0..8)
        .map(|i| {
            format!(
                "{n}.{i}={}",
                if i == 0 {
                    parts[0].to_owned()
                } else {
                    "A".repeat(4000)
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    h.assert_null_and_cleared(&header, "8 × 4000").await;
    // 4 MiB over 8 chunks.
    let huge: String = (0..8)
        .map(|i| format!("{n}.{i}={}", "A".repeat(512 * 1024)))
        .collect::<Vec<_>>()
        .join("; ");
    h.assert_null_and_cleared(&huge, "4 MiB over chunks").await;
}

#[tokio::test]
async fn tok_05_base64url_must_be_strict() {
    let h = Harness::https();
    // A token whose non-header segments contain `-` and `_` somewhere.
    let token = loop {
        let t = h.seal(&claims());
        let rest = t.split('.').skip(2).collect::<Vec<_>>().join(".");
        if rest.contains('-') && rest.contains('_') {
            break t;
        }
    };
    accepted(&h, &token, "control").await;
    let parts: Vec<&str> = token.split('.').collect();
    let std_alphabet = |s: &str| s.replace('-', "+").replace('_', "/");
    let mid = |s: &str, ins: &str| {
        let m = s.len() / 2;
        format!("{}{ins}{}", &s[..m], &s[m..])
    };
    let cases = [
        (
            "iv padded",
            replace_part(&token, 2, &format!("{}==", parts[2])),
        ),
        (
            "iv padded, encoded",
            replace_part(&token, 2, &format!("{}%3D%3D", parts[2])),
        ),
        (
            "tag padded",
            replace_part(&token, 4, &format!("{}=", parts[4])),
        ),
        (
            "standard alphabet",
            format!(
                "{}..{}.{}.{}",
                parts[0],
                std_alphabet(parts[2]),
                std_alphabet(parts[3]),
                std_alphabet(parts[4])
            ),
        ),
        ("space inside", replace_part(&token, 3, &mid(parts[3], " "))),
        (
            "encoded newline inside",
            replace_part(&token, 3, &mid(parts[3], "%0A")),
        ),
        (
            "encoded tab inside",
            replace_part(&token, 3, &mid(parts[3], "%09")),
        ),
        (
            "encoded non-ASCII",
            replace_part(&token, 3, &mid(parts[3], "%C3%A9")),
        ),
        ("trailing encoded NUL", format!("{token}%00")),
    ];
    for (what, t) in cases {
        rejected(&h, &t, what).await;
    }
    // Raw UTF-8 bytes in the Cookie header.
    let mut raw = format!("{}=", h.names.session_token).into_bytes();
    raw.extend_from_slice(mid(&token, "\u{e9}").as_bytes());
    let res = h.send(get("/session").header("cookie", raw)).await;
    assert_eq!(res.text(), "null");
}

#[tokio::test]
async fn tok_06_alg_other_than_dir() {
    let h = Harness::https();
    let k = key(&h, SECRET);
    let kid = thumbprint(&k);
    let plain = claims().to_string();
    for alg in [
        "RSA-OAEP",
        "RSA-OAEP-256",
        "A256KW",
        "ECDH-ES",
        "ECDH-ES+A256KW",
        "PBES2-HS512+A256KW",
        "none",
        "DIR",
        "dir ",
        "",
    ] {
        let header = format!(r#"{{"alg":"{alg}","enc":"A256CBC-HS512","kid":"{kid}"}}"#);
        rejected(
            &h,
            &seal_with_header(&k, &header, plain.as_bytes()),
            &format!("alg {alg:?}"),
        )
        .await;
    }
    for header in [
        r#"{"enc":"A256CBC-HS512"}"#.to_owned(),
        format!(r#"{{"alg":null,"enc":"A256CBC-HS512","kid":"{kid}"}}"#),
        format!(r#"{{"alg":["dir"],"enc":"A256CBC-HS512","kid":"{kid}"}}"#),
    ] {
        rejected(
            &h,
            &seal_with_header(&k, &header, plain.as_bytes()),
            &header,
        )
        .await;
    }
}

#[tokio::test]
async fn tok_07_enc_allow_list() {
    let h = Harness::https();
    let k = key(&h, SECRET);
    let kid = thumbprint(&k);
    let plain = claims().to_string();
    for enc in [
        "A128CBC-HS256",
        "A192CBC-HS384",
        "A128GCM",
        "A192GCM",
        "a256cbc-hs512",
        "A256CBC-HS512 ",
        "none",
    ] {
        let header = format!(r#"{{"alg":"dir","enc":"{enc}","kid":"{kid}"}}"#);
        rejected(
            &h,
            &seal_with_header(&k, &header, plain.as_bytes()),
            &format!("enc {enc:?}"),
        )
        .await;
    }
    // A256GCM (next-auth v4 tokens): refused by default...
    let v4 = JweCodec::new(
        &[SECRET.as_bytes()],
        &h.names.session_token,
        TokenFormat::V4,
        false,
    )
    .unwrap();
    let v4_token = v4.encode(plain.as_bytes());
    rejected(&h, &v4_token, "A256GCM by default").await;
    // ...accepted when reading v4 tokens is switched on, and re-issued as A256CBC-HS512.
    let migrating = Harness::builder()
        .configure(|b| b.accept_v4_tokens(true))
        .build();
    let res = accepted(&migrating, &v4_token, "A256GCM with accept_v4_tokens").await;
    let reissued = res.set_cookie(&migrating.names.session_token).unwrap();
    assert!(
        reissued
            .value
            .starts_with(&b64(own_header(&migrating, SECRET))),
        "re-issued as v5"
    );
}

#[tokio::test]
async fn tok_08_expired_tokens() {
    let h = Harness::https();
    for exp in [now() - 3600, now() - 60, 0, -1, i64::MIN] {
        let mut c = claims();
        c["exp"] = json!(exp);
        c["iat"] = json!(now() - 7200);
        rejected(&h, &h.seal(&c), &format!("exp {exp}")).await;
    }
}

#[tokio::test]
async fn tok_11_encrypted_key_segment_and_forbidden_header_members() {
    let h = Harness::https();
    let token = h.seal(&claims());
    rejected(
        &h,
        &replace_part(&token, 1, "AAAA"),
        "non-empty encrypted key",
    )
    .await;
    rejected(
        &h,
        &replace_part(&token, 1, &b64([0u8; 64])),
        "64-byte encrypted key",
    )
    .await;
    let k = key(&h, SECRET);
    let kid = thumbprint(&k);
    let plain = claims().to_string();
    for extra in [
        r#""crit":["exp"],"exp":1"#,
        r#""crit":["b64"],"b64":false"#,
        r#""zip":"DEF""#,
        r#""jku":"https://evil.example/jwks""#,
        r#""jwk":{"kty":"oct","k":"AAAA"}"#,
        r#""x5u":"https://evil.example/x5""#,
        r#""p2c":100000000,"p2s":"AAAA""#,
        r#""epk":{}"#,
        r#""alg":"dir""#,
    ] {
        let header = format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}",{extra}}}"#);
        rejected(
            &h,
            &seal_with_header(&k, &header, plain.as_bytes()),
            &header,
        )
        .await;
    }
    for header in [
        "[]",
        "null",
        r#""dir""#,
        "{",
        r#"{"alg":"dir","enc":"A256CBC-HS512"}}"#,
        r#"{"alg":"dir","enc":"A256CBC-HS512"}x"#,
    ] {
        rejected(&h, &seal_with_header(&k, header, plain.as_bytes()), header).await;
    }
}

#[tokio::test]
async fn tok_13_sealed_values_that_are_not_sessions() {
    let h = Harness::https();
    let k = key(&h, SECRET);
    let (csrf_jar, _) = h.with_csrf().await;
    let csrf_value = csrf_jar.get("__Host-authjs.csrf-token").unwrap().to_owned();
    let payloads = [
        "{}".to_owned(),
        r#"{"value":"x"}"#.to_owned(),
        // A state/PKCE check cookie's payload (CVE-2023-48309), with an expiry.
        format!(
            r#"{{"value":"pkce-verifier-abc","provider":"github","exp":{}}}"#,
            now() + 900
        ),
        format!(
            r#"{{"value":"state-abc","provider":"github","iat":{},"exp":{}}}"#,
            now(),
            now() + 900
        ),
        format!(r#"{{"sub":"","exp":{}}}"#, now() + 900),
        format!(r#"{{"sub":1,"exp":{}}}"#, now() + 900),
        format!(r#"{{"sub":"1","exp":"{}"}}"#, now() + 900),
        format!(r#"{{"sub":"1","exp":{}.5}}"#, now() + 900),
        r#"[]"#.to_owned(),
        r#""1""#.to_owned(),
        "not json".to_owned(),
    ];
    for p in &payloads {
        let t = h.codec().encode(p.as_bytes());
        rejected(&h, &t, p).await;
        let t = seal_with_header(&k, &own_header(&h, SECRET), p.as_bytes());
        rejected(&h, &t, p).await;
    }
    // Other cookies' values in the session cookie.
    rejected(&h, &csrf_value, "the csrf cookie's value").await;
    rejected(&h, "https%3A%2F%2Fapp.example%2F", "a callback-url value").await;
}

#[tokio::test]
async fn tok_15_missing_exp() {
    let h = Harness::https();
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    rejected(&h, &h.seal(&c), "no exp").await;
    c["exp"] = Value::Null;
    rejected(&h, &h.seal(&c), "exp null").await;
}

#[tokio::test]
async fn tok_16_not_yet_valid() {
    let h = Harness::https();
    let mut c = claims();
    c["nbf"] = json!(now() + 600);
    rejected(&h, &h.seal(&c), "nbf +10 min").await;
    let mut c = claims();
    c["iat"] = json!(now() + 600);
    c["exp"] = json!(now() + 7200);
    rejected(&h, &h.seal(&c), "iat +10 min").await;
    // Within the 15 s tolerance: accepted.
    let mut c = claims();
    c["iat"] = json!(now() + 5);
    accepted(&h, &h.seal(&c), "iat +5 s").await;
}

#[tokio::test]
async fn tok_17_another_secret_or_another_cookie_name() {
    let h = Harness::https();
    let foreign = Harness::builder().secrets(&[OTHER_SECRET]).build();
    rejected(&h, &foreign.seal(&claims()), "another AUTH_SECRET").await;
    // Same secret, but sealed for the http cookie name (a different HKDF salt).
    let http = Harness::http();
    rejected(&h, &http.seal(&claims()), "http salt on https").await;
    rejected(&http, &h.seal(&claims()), "https salt on http").await;
    // Another secret without a kid: the tag decides.
    let other_key = key(&h, OTHER_SECRET);
    let t = seal_with_header(
        &other_key,
        r#"{"alg":"dir","enc":"A256CBC-HS512"}"#,
        claims().to_string().as_bytes(),
    );
    rejected(&h, &t, "another secret, no kid").await;
}

#[tokio::test]
async fn tok_18_kid_variants() {
    let h = Harness::https();
    let k = key(&h, SECRET);
    let plain = claims().to_string();
    let other_kid = thumbprint(&key(&h, OTHER_SECRET));
    let http_kid = thumbprint(&derive_v5_key(
        SECRET.as_bytes(),
        "authjs.session-token",
        64,
    ));
    let kids = [
        json!(b64([7u8; 64])),
        json!("' OR '1'='1"),
        json!("../../../../etc/passwd"),
        json!("x".repeat(10 * 1024)),
        json!("x".repeat(129)),
        json!(""),
        json!(other_kid),
        json!(http_kid),
        json!(format!("{}x", thumbprint(&k))),
        json!(&thumbprint(&k)[..85]),
        json!(42),
        json!(null),
        json!([thumbprint(&k)]),
    ];
    for kid in kids {
        let header = format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":{kid}}}"#);
        let what: String = format!("kid {kid}").chars().take(60).collect();
        rejected(&h, &seal_with_header(&k, &header, plain.as_bytes()), &what).await;
    }
}

#[tokio::test]
async fn clk_01_and_clk_02_fifteen_seconds_of_tolerance() {
    let h = Harness::https();
    let mut c = claims();
    c["exp"] = json!(now() - 10);
    c["iat"] = json!(now() - 3600);
    let res = accepted(&h, &h.seal(&c), "exp = now − 10").await;
    // Accepted means re-issued with a fresh expiry.
    assert!(
        res.set_cookie(&h.names.session_token)
            .is_some_and(|c| !c.is_deletion())
    );
    let mut c = claims();
    c["exp"] = json!(now() - 16);
    c["iat"] = json!(now() - 3600);
    rejected(&h, &h.seal(&c), "exp = now − 16").await;
}

#[tokio::test]
async fn key_01_rotation_accepts_old_tokens_and_reissues_with_the_new_secret() {
    let old = Harness::builder().secrets(&[OTHER_SECRET]).build();
    let jar = old.signed_in().await;
    let old_token = jar.session_token(&old.names.session_token).unwrap();
    let rotated = Harness::builder().secrets(&[SECRET, OTHER_SECRET]).build();
    let res = accepted(&rotated, &old_token, "old token after rotation").await;
    let reissued = res
        .set_cookie(&rotated.names.session_token)
        .unwrap()
        .value
        .clone();
    let new_only = rotated.codec_with(&[SECRET]);
    let claims: Value =
        serde_json::from_slice(&new_only.decode(&reissued).expect("new secret alone")).unwrap();
    assert_eq!(claims["sub"], "1");
    assert_eq!(claims["role"], "admin");
    assert!(
        rotated
            .codec_with(&[OTHER_SECRET])
            .decode(&reissued)
            .is_err(),
        "not sealed with the old secret"
    );
    // Server-side readers accept it too.
    assert!(
        rotated
            .auth
            .token::<Value>(&cookie_headers(&old_token))
            .is_some()
    );
}

#[tokio::test]
async fn key_02_removed_secret() {
    let old = Harness::builder().secrets(&[OTHER_SECRET]).build();
    let jar = old.signed_in().await;
    let old_token = jar.session_token(&old.names.session_token).unwrap();
    let new_only = Harness::https();
    rejected(&new_only, &old_token, "token of a removed secret").await;
}

#[tokio::test]
async fn rejection_clears_chunked_tokens_too() {
    let h = Harness::https();
    let n = h.names.session_token.clone();
    let mut c = claims();
    c["exp"] = json!(now() - 3600);
    let t = h.seal(&c);
    let (a, b) = t.split_at(t.len() / 2);
    h.assert_null_and_cleared(&format!("{n}.0={a}; {n}.1={b}"), "expired, chunked")
        .await;
    let foreign = Harness::builder()
        .secrets(&[OTHER_SECRET])
        .build()
        .seal(&claims());
    let (a, b) = foreign.split_at(foreign.len() / 3);
    let (b, c) = b.split_at(b.len() / 2);
    h.assert_null_and_cleared(
        &format!("{n}.0={a}; {n}.1={b}; {n}.2={c}"),
        "foreign, 3 chunks",
    )
    .await;
}
