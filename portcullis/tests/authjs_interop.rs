//! Wire compatibility with Auth.js itself (SECURITY.md TOK-19, KEY-01/02; PROTOCOL.md §4.1).
//!
//! Two layers:
//! - committed vectors made by `@auth/core` 0.41.3 and next-auth 4.24.15
//!   (`interop/fixtures/authjs-tokens.json`) — no Node needed;
//! - live round trips through the real npm packages (`node interop/jwe.mjs`), both
//!   directions, both cookie-name salts, a rotated secret list, and next-auth v4 tokens.
//!   They need `interop/node_modules` (`npm ci --prefix interop`, done by `scripts/test.sh`);
//!   without it they fail with that instruction rather than pass silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use portcullis::jwt::{JweCodec, TokenFormat, derive_v4_key, derive_v5_key, thumbprint};
use portcullis::{Auth, AuthConfig, DefaultCallbacks};
use serde_json::Value;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop")
}

fn fixtures() -> Value {
    let raw = std::fs::read_to_string(interop_dir().join("fixtures/authjs-tokens.json"))
        .expect("interop/fixtures/authjs-tokens.json is committed");
    serde_json::from_str(&raw).expect("fixtures are JSON")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn codec(secrets: &[String], salt: &str, format: TokenFormat) -> JweCodec {
    let refs: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    JweCodec::new(&refs, salt, format, format == TokenFormat::V4).unwrap()
}

fn format_of(name: &str) -> TokenFormat {
    match name {
        "v4" => TokenFormat::V4,
        _ => TokenFormat::V5,
    }
}

#[test]
fn fixture_keys_and_kids_match_protocol_vectors() {
    let f = fixtures();
    let keys = f["keys"].as_array().unwrap();
    assert!(keys.len() >= 5);
    for k in keys {
        let secret = k["secret"].as_str().unwrap().as_bytes();
        if k["format"] == "v4" {
            assert_eq!(hex(&derive_v4_key(secret)), k["key"].as_str().unwrap());
        } else {
            let key = derive_v5_key(secret, k["salt"].as_str().unwrap(), 64);
            assert_eq!(hex(&key), k["key"].as_str().unwrap());
            assert_eq!(thumbprint(&key), k["kid"].as_str().unwrap());
        }
    }
    // PROTOCOL.md §4.1, verbatim.
    let key = derive_v5_key(b"test-secret-1234567890", "authjs.session-token", 64);
    assert_eq!(
        thumbprint(&key),
        "f2Hr8XO-aSyRYC7TOHoDiUu6krd7SHAYlrNvmlJUQ58UnBgQCwYcU8aGin0ohmSMqAsVqKU1dRkB78--3UXBZQ"
    );
}

#[test]
fn fixture_tokens_decode_to_the_same_claims_and_wrong_keys_are_refused() {
    let f = fixtures();
    let tokens = f["tokens"].as_array().unwrap();
    assert!(tokens.len() >= 5);
    for t in tokens {
        let id = t["id"].as_str().unwrap();
        let format = format_of(t["format"].as_str().unwrap());
        let c = codec(&strings(&t["secrets"]), t["salt"].as_str().unwrap(), format);
        let claims = c
            .decode(t["token"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let claims: Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims, t["claims"], "{id}");
        for r in t["rejectedBy"].as_array().unwrap() {
            let as_format = r
                .get("as")
                .and_then(Value::as_str)
                .map_or(format, format_of);
            let secrets = strings(&r["secrets"]);
            let refs: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
            let c = JweCodec::new(
                &refs,
                r["salt"].as_str().unwrap(),
                as_format,
                as_format == TokenFormat::V4,
            )
            .unwrap();
            assert!(
                c.decode(t["token"].as_str().unwrap()).is_err(),
                "{id} must be rejected by {r}"
            );
        }
    }
}

#[tokio::test]
async fn an_authjs_token_is_a_session_and_is_reissued_under_the_newest_secret() {
    // KEY-01 with a real @auth/core token: secrets [rotated, old], token sealed by old.
    let f = fixtures();
    let t = f["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "v5-old-token-after-rotation")
        .unwrap()
        .clone();
    let auth = Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret("rotated-secret-0987654321")
            .secret("test-secret-1234567890")
            .insecure_allow_short_secret(true)
            .url("http://localhost:3000")
            .build()
            .unwrap(),
    );
    let req = http::Request::get("http://localhost:3000/api/auth/session")
        .header(
            "cookie",
            format!("authjs.session-token={}", t["token"].as_str().unwrap()),
        )
        .body(Bytes::new())
        .unwrap();
    let res = auth.handle(req).await;
    assert_eq!(res.status(), 200);
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body["user"]["name"], "Alice");
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert_eq!(body["user"]["image"], "https://img.example/a.png");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("authjs.session-token="))
        .expect("the session cookie is re-issued");
    let token = cookie["authjs.session-token=".len()..]
        .split(';')
        .next()
        .unwrap();
    // Re-issued under the newest secret: the new secret alone decodes it, the old one not.
    let newest = codec(
        &["rotated-secret-0987654321".into()],
        "authjs.session-token",
        TokenFormat::V5,
    );
    let old = codec(
        &["test-secret-1234567890".into()],
        "authjs.session-token",
        TokenFormat::V5,
    );
    let claims: Value = serde_json::from_slice(&newest.decode(token).unwrap()).unwrap();
    assert_eq!(claims["sub"], "1");
    assert!(old.decode(token).is_err());
}

// ---- live round trips through the npm packages -------------------------------------------

fn node(args: &[&str]) -> Result<String, String> {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/@auth/core").is_dir(),
        "interop/node_modules is missing: run `npm ci --prefix interop` (scripts/test.sh does it)"
    );
    let out = Command::new("node")
        .arg(dir.join("jwe.mjs"))
        .args(args)
        .output()
        .expect("node is installed");
    let stdout = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout} {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn secret_args<'a>(secrets: &'a [&'a str]) -> Vec<&'a str> {
    secrets.iter().flat_map(|s| ["--secret", s]).collect()
}

const CLAIMS: &str = r#"{"name":"Alice","email":"alice@example.com","picture":"https://img.example/a.png","sub":"1","role":"admin","id":"1","access_token":"at-123"}"#;

#[test]
fn v5_tokens_round_trip_with_auth_core_both_ways() {
    let new = "0123456789abcdef0123456789abcdef-newest";
    let old = "fedcba9876543210fedcba9876543210-oldest";
    for salt in ["authjs.session-token", "__Secure-authjs.session-token"] {
        for secrets in [vec![old], vec![new, old]] {
            // @auth/core encode → portcullis decode
            let mut args = vec!["encode5"];
            args.extend(secret_args(&secrets));
            args.extend(["--salt", salt, "--claims", CLAIMS]);
            let token = node(&args).unwrap();
            let owned: Vec<String> = secrets.iter().map(|s| (*s).to_owned()).collect();
            let ours = codec(&owned, salt, TokenFormat::V5);
            let claims: Value = serde_json::from_slice(&ours.decode(&token).unwrap()).unwrap();
            assert_eq!(claims["role"], "admin");
            assert_eq!(claims["access_token"], "at-123");
            assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());

            // portcullis encode → @auth/core decode
            let mine = ours.encode(serde_json::to_string(&claims).unwrap().as_bytes());
            let mut args = vec!["decode5"];
            args.extend(secret_args(&secrets));
            args.extend(["--salt", salt, "--token", &mine]);
            let decoded: Value = serde_json::from_str(&node(&args).unwrap()).unwrap();
            assert_eq!(decoded, claims, "salt {salt}, secrets {}", secrets.len());
        }
    }
    // A token sealed by the new secret does not decode with the old one alone, nor with
    // the other cookie name's key.
    let owned = vec![new.to_owned(), old.to_owned()];
    let mine = codec(&owned, "authjs.session-token", TokenFormat::V5).encode(CLAIMS.as_bytes());
    assert!(
        node(&[
            "decode5",
            "--secret",
            old,
            "--salt",
            "authjs.session-token",
            "--token",
            &mine
        ])
        .is_err()
    );
    assert!(
        node(&[
            "decode5",
            "--secret",
            new,
            "--salt",
            "__Secure-authjs.session-token",
            "--token",
            &mine
        ])
        .is_err()
    );
}

#[test]
fn v4_tokens_round_trip_with_next_auth_4() {
    let secret = "0123456789abcdef0123456789abcdef-v4";
    let token = node(&["encode4", "--secret", secret, "--claims", CLAIMS]).unwrap();
    let ours = codec(
        &[secret.to_owned()],
        "next-auth.session-token",
        TokenFormat::V4,
    );
    let claims: Value = serde_json::from_slice(&ours.decode(&token).unwrap()).unwrap();
    assert_eq!(claims["sub"], "1");
    assert_eq!(claims["role"], "admin");
    let mine = ours.encode(serde_json::to_string(&claims).unwrap().as_bytes());
    let decoded: Value =
        serde_json::from_str(&node(&["decode4", "--secret", secret, "--token", &mine]).unwrap())
            .unwrap();
    assert_eq!(decoded, claims);
    // A v5 codec refuses v4 tokens unless migration reading is switched on.
    let v5_only = JweCodec::new(
        &[secret.as_bytes()],
        "authjs.session-token",
        TokenFormat::V5,
        false,
    )
    .unwrap();
    assert!(v5_only.decode(&token).is_err());
    let migrating = JweCodec::new(
        &[secret.as_bytes()],
        "authjs.session-token",
        TokenFormat::V5,
        true,
    )
    .unwrap();
    assert!(migrating.decode(&token).is_ok());
}

#[test]
fn derived_keys_match_node_crypto() {
    for salt in [
        "authjs.session-token",
        "__Secure-authjs.session-token",
        "custom.cookie",
    ] {
        let secret = "a-secret-of-sufficient-length-for-the-test";
        let out: Value =
            serde_json::from_str(&node(&["derive5", "--secret", secret, "--salt", salt]).unwrap())
                .unwrap();
        let key = derive_v5_key(secret.as_bytes(), salt, 64);
        assert_eq!(hex(&key), out["key"].as_str().unwrap());
        assert_eq!(thumbprint(&key), out["kid"].as_str().unwrap());
    }
}
