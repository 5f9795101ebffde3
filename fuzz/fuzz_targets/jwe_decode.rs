//! The session-token codec (`portcullis::jwt::JweCodec`) on arbitrary tokens, secrets and
//! salts.
//!
//! Input: a mode byte, then
//! - mode 0 (decode): an arbitrary token string, decoded by a codec with the fixed fuzz
//!   secret (v5, v4 tokens accepted) under the v5 session-cookie salt;
//! - mode 1 (round trip): secrets, a salt, a format and a plaintext (the claims).
//!
//! Checks:
//! - decoding never panics, and refuses anything over `MAX_TOKEN_LEN`;
//! - an accepted token is exactly five strict base64url parts with an empty second part,
//!   and re-decoding gives the same plaintext (decoding is a function of the token);
//! - an accepted token does not open under another secret, nor under another salt (the
//!   session key is bound to the cookie name);
//! - a plaintext sealed with fuzzer-chosen secrets and salt decodes to itself (when the
//!   token is within the size cap), decodes with the secret list rotated (older secrets
//!   still read), and does not decode with a codec that lacks the sealing secret.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use portcullis::jwt::{JweCodec, JweError, MAX_TOKEN_LEN, TokenFormat};
use portcullis_fuzz::{OTHER_SECRET, Reader, SECRET};

const SALT: &str = "authjs.session-token";

fn is_b64url(part: &str) -> bool {
    part.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn codec(secrets: &[&[u8]], salt: &str, format: TokenFormat) -> JweCodec {
    match JweCodec::new(secrets, salt, format, true) {
        Ok(c) => c,
        Err(e) => panic!("non-empty secrets refused: {e}"),
    }
}

fn decode_arbitrary(token: &str) {
    let ours = codec(&[SECRET.as_bytes()], SALT, TokenFormat::V5);
    let result = ours.decode(token);
    if token.len() > MAX_TOKEN_LEN {
        assert_eq!(result, Err(JweError::TooLarge));
        return;
    }
    let Ok(plaintext) = result else { return };
    // Accepted: the envelope was exactly `header..iv.ciphertext.tag`, strict base64url.
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 5, "accepted a token without five parts");
    assert!(parts[1].is_empty(), "accepted a non-empty encrypted key");
    assert!(
        parts.iter().all(|p| is_b64url(p)),
        "accepted a part that is not base64url"
    );
    assert_eq!(ours.decode(token).as_deref(), Ok(plaintext.as_slice()));
    // Sealed by SECRET: another deployment's secret cannot read it.
    let foreign = codec(&[OTHER_SECRET.as_bytes()], SALT, TokenFormat::V5);
    assert!(
        foreign.decode(token).is_err(),
        "another secret opened the token"
    );
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(parts[0])
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .unwrap_or_default();
    if header["enc"] == "A256CBC-HS512" {
        // A v5 token: its key is bound to the cookie name (the v4 key has no salt, as in
        // next-auth v4), and reading it does not depend on v4 support.
        let other_salt = codec(
            &[SECRET.as_bytes()],
            "__Secure-authjs.session-token",
            TokenFormat::V5,
        );
        assert!(
            other_salt.decode(token).is_err(),
            "another salt opened the token"
        );
        if let Ok(v5_only) = JweCodec::new(&[SECRET.as_bytes()], SALT, TokenFormat::V5, false) {
            assert!(
                v5_only.decode(token).is_ok(),
                "a v5 token needed v4 support"
            );
        }
    } else {
        assert_eq!(header["enc"], "A256GCM", "accepted an unknown enc");
    }
}

fn round_trip(r: &mut Reader<'_>) {
    let count = 1 + r.choose(3);
    let mut secrets: Vec<Vec<u8>> = (0..count).map(|_| r.bytes().to_vec()).collect();
    for s in &mut secrets {
        if s.is_empty() {
            s.push(0);
        }
    }
    let salt = r.text();
    let format = if r.flag() {
        TokenFormat::V4
    } else {
        TokenFormat::V5
    };
    let plaintext = r.rest();
    let refs: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
    let sealer = codec(&refs, &salt, format);
    let token = sealer.encode(plaintext);
    assert_eq!(token.split('.').count(), 5);
    if token.len() > MAX_TOKEN_LEN {
        assert_eq!(sealer.decode(&token), Err(JweError::TooLarge));
        return;
    }
    assert_eq!(
        sealer.decode(&token).as_deref(),
        Ok(plaintext),
        "round trip failed"
    );
    // Rotation: the sealing secret moved to the back of the list still reads its tokens
    // (v5 by `kid`, v4 by trying each key).
    if refs.len() > 1 {
        let mut rotated = refs.clone();
        rotated.rotate_left(1);
        let reader = codec(&rotated, &salt, TokenFormat::V5);
        assert_eq!(
            reader.decode(&token).as_deref(),
            Ok(plaintext),
            "an older secret no longer reads its token"
        );
    }
    // A codec without the sealing secret refuses the token (a secret one byte longer than
    // the sealing one is certainly another secret).
    let longer = [refs[0], b"!".as_slice()].concat();
    let others: Vec<&[u8]> = refs
        .iter()
        .copied()
        .filter(|s| *s != refs[0])
        .chain([longer.as_slice()])
        .collect();
    let stranger = codec(&others, &salt, format);
    assert!(
        stranger.decode(&token).is_err(),
        "a token opened without its secret"
    );
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    match r.choose(2) {
        0 => decode_arbitrary(&String::from_utf8_lossy(r.rest())),
        _ => round_trip(&mut r),
    }
});
