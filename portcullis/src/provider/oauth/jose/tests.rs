//! Tests of the ID-token verifier: published vectors (RFC 7515 A.2/A.3, RFC 8037 A, OIDC
//! Core A.3/A.4 hashes), then one block per rule class, then properties.

use super::*;

use std::sync::LazyLock;

use p256::ecdsa::signature::Signer as _;
use proptest::prelude::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Published vectors, transcribed; the tests below prove the transcription by verifying.

/// RFC 7515 Appendix A.2.1: the RSA key (public `n`, `e`; private `d`, `p`, `q`).
const RSA_N: &str = concat!(
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx",
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs",
    "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH",
    "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV",
    "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8",
    "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
);
const RSA_E: &str = "AQAB";
const RSA_D: &str = concat!(
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97I",
    "jlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0",
    "BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn",
    "439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYT",
    "CBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLh",
    "BOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
);
const RSA_P: &str = concat!(
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdi",
    "YrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPG",
    "BY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
);
const RSA_Q: &str = concat!(
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxa",
    "ewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA",
    "-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
);
/// RFC 7515 Appendix A.2.1: the complete JWS (header `{"alg":"RS256"}`).
const RFC7515_A2_JWS: &str = concat!(
    "eyJhbGciOiJSUzI1NiJ9",
    ".",
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGF",
    "tcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
    ".",
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7",
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4",
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K",
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv",
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB",
    "p0igcN_IoypGlUPQGe77Rw"
);
/// The payload of RFC 7515 A.2 and A.3 (with its CR LF line breaks).
const RFC7515_PAYLOAD: &[u8] =
    b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

/// RFC 7515 Appendix A.3.1: the P-256 key.
const EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const EC_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
/// RFC 7515 Appendix A.3.1: the complete JWS (header `{"alg":"ES256"}`).
const RFC7515_A3_JWS: &str = concat!(
    "eyJhbGciOiJFUzI1NiJ9",
    ".",
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGF",
    "tcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
    ".",
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA",
    "pmWQxfKTUJqPP3-Kg6NU1Q"
);

/// RFC 8037 Appendix A.1/A.2: the Ed25519 key.
const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const ED_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
/// RFC 8037 Appendix A.4: the complete JWS (header `{"alg":"EdDSA"}`).
const RFC8037_A4_JWS: &str = concat!(
    "eyJhbGciOiJFZERTQSJ9",
    ".",
    "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
    ".",
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B",
    "hVsPt9g7sVvpAr_MuM0KAg"
);

/// OIDC Core 1.0 Appendix A.7: the RSA public key of the spec's examples — a second,
/// unrelated 2048-bit key for the "several keys" cases.
const OIDC_A7_N: &str = concat!(
    "w7Zdfmece8iaB0kiTY8pCtiBtzbptJmP28nSWwtdjRu0f2GFpajvWE4VhfJA",
    "jEsOcwYzay7XGN0b-X84BfC8hmCTOj2b2eHT7NsZegFPKRUQzJ9wW8ipn_aD",
    "JWMGDuB1XyqT1E7DYqjUCEOD1b4FLpy_xPn6oV_TYOfQ9fZdbE5HGxJUzeku",
    "GcOKqOQ8M7wfYHhHHLxGpQVgL0apWuP2gDDOdTtpuld4D2LK1MZK99s9gaSj",
    "RHE8JDb1Z4IGhEcEyzkxswVdPndUWzfvWBBWXWxtSUvQGBRkuy1BHOa4sP6F",
    "KjWEeeF7gm7UMs2Nm2QUgNZw6xvEDGaLk4KASdIxRQ"
);

// ---------------------------------------------------------------------------------------
// Test keys and token builders

const ALGS: [IdTokenAlg; 3] = [IdTokenAlg::Rs256, IdTokenAlg::Es256, IdTokenAlg::EdDsa];

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s)
        .expect("test constant is base64url")
}

fn big(s: &str) -> BigUint {
    BigUint::from_bytes_be(&unb64(s))
}

static RSA_KEY: LazyLock<rsa::RsaPrivateKey> = LazyLock::new(|| {
    rsa::RsaPrivateKey::from_components(
        big(RSA_N),
        big(RSA_E),
        big(RSA_D),
        vec![big(RSA_P), big(RSA_Q)],
    )
    .expect("RFC 7515 A.2 key is consistent")
});

static EC_KEY: LazyLock<p256::ecdsa::SigningKey> = LazyLock::new(|| {
    p256::ecdsa::SigningKey::from_slice(&unb64(EC_D)).expect("RFC 7515 A.3 d is a scalar")
});

static ED_KEY: LazyLock<ed25519_dalek::SigningKey> = LazyLock::new(|| {
    ed25519_dalek::SigningKey::from_bytes(&unb64(ED_D).try_into().expect("32 bytes"))
});

/// Signs `input` with the RFC private key of `alg`, in JWS form.
fn sign(alg: IdTokenAlg, input: &[u8]) -> Vec<u8> {
    match alg {
        IdTokenAlg::Rs256 => RSA_KEY
            .sign(
                Pkcs1v15Sign::new::<sha2_010::Sha256>(),
                &Sha256::digest(input),
            )
            .expect("RSA signing"),
        IdTokenAlg::Es256 => {
            let sig: p256::ecdsa::Signature = EC_KEY.sign(input);
            sig.to_bytes().to_vec()
        }
        IdTokenAlg::EdDsa => ed25519_dalek::Signer::sign(&*ED_KEY, input)
            .to_bytes()
            .to_vec(),
    }
}

/// A compact JWS of `header` and `payload`, signed with the RFC key of `alg`.
fn jws(alg: IdTokenAlg, header: &Value, payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(payload));
    let sig = sign(alg, input.as_bytes());
    format!("{input}.{}", b64(sig))
}

/// A token with header `{"alg": <alg>, "kid": "<kid>"}` and the standard claims.
fn token(alg: IdTokenAlg) -> String {
    jws(
        alg,
        &json!({"alg": alg.as_str(), "kid": kid(alg)}),
        claims().to_string().as_bytes(),
    )
}

fn kid(alg: IdTokenAlg) -> &'static str {
    match alg {
        IdTokenAlg::Rs256 => "rsa-1",
        IdTokenAlg::Es256 => "ec-1",
        IdTokenAlg::EdDsa => "ed-1",
    }
}

/// The RFC public JWK of `alg`, without `kid`.
fn public_jwk(alg: IdTokenAlg) -> Value {
    match alg {
        IdTokenAlg::Rs256 => json!({"kty": "RSA", "n": RSA_N, "e": RSA_E}),
        IdTokenAlg::Es256 => json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y}),
        IdTokenAlg::EdDsa => json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X}),
    }
}

/// A different valid public key of the same type as `alg`'s (the "wrong" key).
fn other_public_jwk(alg: IdTokenAlg) -> Value {
    match alg {
        IdTokenAlg::Rs256 => json!({"kty": "RSA", "n": OIDC_A7_N, "e": "AQAB"}),
        IdTokenAlg::Es256 => {
            let key = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).expect("scalar");
            let point = key.verifying_key().to_sec1_point(false);
            let bytes = point.as_bytes();
            json!({"kty": "EC", "crv": "P-256", "x": b64(&bytes[1..33]), "y": b64(&bytes[33..65])})
        }
        IdTokenAlg::EdDsa => {
            let key = ed25519_dalek::SigningKey::from_bytes(&[0x22; 32]);
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().to_bytes())})
        }
    }
}

fn with(mut jwk: Value, member: &str, value: Value) -> Value {
    jwk.as_object_mut()
        .expect("object")
        .insert(member.to_owned(), value);
    jwk
}

fn set(keys: &[Value]) -> Jwks {
    Jwks::parse(json!({ "keys": keys }).to_string().as_bytes()).expect("valid JWK Set")
}

/// All three RFC keys, each with its `kid`.
fn all_keys() -> Jwks {
    set(&ALGS.map(|alg| with(public_jwk(alg), "kid", json!(kid(alg)))))
}

// Claims

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://server.example.com";
const CLIENT: &str = "s6BhdRkqt3";
const NONCE: &str = "n-0S6_WzA2Mj";
/// OIDC Core A.3's access token (its `at_hash` is 77QmUPtjPfzWtF2AnpK9RQ).
const ACCESS_TOKEN: &str = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";

fn claims() -> Value {
    json!({
        "iss": ISS, "sub": "248289761001", "aud": CLIENT, "nonce": NONCE,
        "exp": NOW + 600, "iat": NOW - 10,
    })
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: ISS,
        client_id: CLIENT,
        nonce: Some(NONCE),
        access_token: None,
        now: NOW,
        leeway: 30,
        max_age: Some(3600),
    }
}

/// `claims()` with `member` set to `value` (`Value::Null` deletes it).
fn claims_with(member: &str, value: Value) -> Value {
    let mut c = claims();
    let map = c.as_object_mut().expect("object");
    if value.is_null() {
        map.remove(member);
    } else {
        map.insert(member.to_owned(), value);
    }
    c
}

fn validate(c: &Value) -> Result<Map<String, Value>, JoseError> {
    validate_claims(c.to_string().as_bytes(), IdTokenAlg::Rs256, &expected())
}

#[track_caller]
fn assert_claim_err(result: Result<Map<String, Value>, JoseError>, want: &str) {
    match result {
        Err(JoseError::Claim(got)) => assert_eq!(got, want),
        other => panic!("expected Claim({want:?}), got {other:?}"),
    }
}

#[track_caller]
fn assert_malformed(token: &str, jwks: &Jwks) {
    let r = verify(token, IdTokenAlg::Rs256, jwks);
    assert!(matches!(r, Err(JoseError::Malformed(_))), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// Published vectors

#[test]
fn rfc7515_a2_rs256_vector_verifies() {
    let jwks = set(&[public_jwk(IdTokenAlg::Rs256)]);
    let v = verify(RFC7515_A2_JWS, IdTokenAlg::Rs256, &jwks).expect("A.2 verifies");
    assert_eq!(v.payload, RFC7515_PAYLOAD);
    assert_eq!(v.kid, None);
}

#[test]
fn rfc7515_a2_private_key_reproduces_the_published_signature() {
    // PKCS #1 v1.5 is deterministic: the transcribed d, p, q must give A.2's exact bytes.
    let (input, sig) = RFC7515_A2_JWS.rsplit_once('.').expect("three parts");
    assert_eq!(b64(sign(IdTokenAlg::Rs256, input.as_bytes())), sig);
}

#[test]
fn rfc7515_a3_es256_vector_verifies() {
    let jwks = set(&[public_jwk(IdTokenAlg::Es256)]);
    let v = verify(RFC7515_A3_JWS, IdTokenAlg::Es256, &jwks).expect("A.3 verifies");
    assert_eq!(v.payload, RFC7515_PAYLOAD);
}

#[test]
fn rfc7515_a3_private_key_matches_the_public_key() {
    let point = EC_KEY.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    assert_eq!(
        (b64(&bytes[1..33]), b64(&bytes[33..65])),
        (EC_X.into(), EC_Y.into())
    );
}

#[test]
fn rfc8037_a4_ed25519_vector_verifies() {
    let jwks = set(&[public_jwk(IdTokenAlg::EdDsa)]);
    let v = verify(RFC8037_A4_JWS, IdTokenAlg::EdDsa, &jwks).expect("A.4 verifies");
    assert_eq!(v.payload, b"Example of Ed25519 signing");
}

#[test]
fn rfc8037_a1_private_key_reproduces_the_published_signature() {
    assert_eq!(b64(ED_KEY.verifying_key().to_bytes()), ED_X);
    let (input, sig) = RFC8037_A4_JWS.rsplit_once('.').expect("three parts");
    assert_eq!(b64(sign(IdTokenAlg::EdDsa, input.as_bytes())), sig);
}

#[test]
fn rfc_vectors_fail_under_another_configured_alg() {
    let jwks = all_keys();
    for (token, alg) in [
        (RFC7515_A2_JWS, IdTokenAlg::Rs256),
        (RFC7515_A3_JWS, IdTokenAlg::Es256),
        (RFC8037_A4_JWS, IdTokenAlg::EdDsa),
    ] {
        for configured in ALGS.into_iter().filter(|a| *a != alg) {
            let r = verify(token, configured, &jwks);
            assert!(
                matches!(&r, Err(JoseError::AlgMismatch { expected, found })
                    if *expected == configured && found == alg.as_str()),
                "{r:?}"
            );
        }
    }
}

#[test]
fn oidc_core_a3_at_hash_and_a4_c_hash() {
    // OIDC Core 1.0 A.3 (at_hash) and A.4 (c_hash), both RS256 = SHA-256; ES256 alike.
    for alg in [IdTokenAlg::Rs256, IdTokenAlg::Es256] {
        assert_eq!(left_half_hash(ACCESS_TOKEN, alg), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(
            left_half_hash(
                "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk",
                alg
            ),
            "LDktKdoQak3Pk0cnXxCltA"
        );
    }
}

#[test]
fn left_half_hash_uses_sha512_for_eddsa() {
    // FIPS 180-2 known answers for "abc": SHA-512 starts ddaf35a1…, SHA-256 ba7816bf….
    let sha512_left = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a";
    let sha256_left = "ba7816bf8f01cfea414140de5dae2223";
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
            .collect()
    };
    assert_eq!(
        left_half_hash("abc", IdTokenAlg::EdDsa),
        b64(hex(sha512_left))
    );
    assert_eq!(
        left_half_hash("abc", IdTokenAlg::Rs256),
        b64(hex(sha256_left))
    );
    assert_eq!(left_half_hash(ACCESS_TOKEN, IdTokenAlg::EdDsa).len(), 43);
    assert_eq!(left_half_hash(ACCESS_TOKEN, IdTokenAlg::Es256).len(), 22);
}

// ---------------------------------------------------------------------------------------
// Algorithm names

#[test]
fn alg_names_are_exact() {
    for alg in ALGS {
        assert_eq!(alg.as_str().parse::<IdTokenAlg>(), Ok(alg));
        assert_eq!(alg.to_string(), alg.as_str());
    }
    assert_eq!(IdTokenAlg::default(), IdTokenAlg::Rs256);
    for bad in [
        "", "none", "None", "HS256", "rs256", "RS384", "PS256", "ES384", "Ed25519", "eddsa",
        " RS256", "RS256 ", "RS256\0",
    ] {
        assert!(bad.parse::<IdTokenAlg>().is_err(), "{bad:?}");
    }
    let err = "X"
        .repeat(100)
        .parse::<IdTokenAlg>()
        .expect_err("unsupported");
    assert!(err.to_string().contains(&"X".repeat(32)));
    assert!(!err.to_string().contains(&"X".repeat(33)));
}

// ---------------------------------------------------------------------------------------
// Signatures: happy path and tampering, per alg

#[test]
fn each_alg_verifies_a_fresh_token_and_its_claims() {
    let jwks = all_keys();
    for alg in ALGS {
        let v = verify(&token(alg), alg, &jwks).expect("verifies");
        assert_eq!(v.kid.as_deref(), Some(kid(alg)));
        let claims = validate_claims(&v.payload, alg, &expected()).expect("valid claims");
        assert_eq!(claims.get("sub"), Some(&json!("248289761001")));
    }
}

#[test]
fn each_alg_rejects_tampered_payload_signature_and_truncation() {
    let jwks = all_keys();
    for alg in ALGS {
        let good = token(alg);
        let (input, sig_b64) = good.rsplit_once('.').expect("three parts");
        let (header, _) = input.split_once('.').expect("three parts");
        let sig = unb64(sig_b64);

        let other_payload = claims_with("sub", json!("attacker")).to_string();
        let tampered_payload = format!("{header}.{}.{sig_b64}", b64(other_payload));

        let mut flipped = sig.clone();
        flipped[10] ^= 0x01;
        let tampered_sig = format!("{input}.{}", b64(&flipped));

        let truncated = format!("{input}.{}", b64(&sig[..sig.len() - 1]));
        let extended = format!("{input}.{}", b64([sig.as_slice(), &[0]].concat()));
        let empty = format!("{input}.");

        for bad in [tampered_payload, tampered_sig, truncated, extended, empty] {
            let r = verify(&bad, alg, &jwks);
            assert!(matches!(r, Err(JoseError::BadSignature)), "{alg}: {r:?}");
        }
    }
}

#[test]
fn es256_der_signature_rejected() {
    // JWS ES256 is raw r ‖ s; a DER-encoded signature over the same input must not verify.
    let jwks = all_keys();
    let good = token(IdTokenAlg::Es256);
    let (input, _) = good.rsplit_once('.').expect("three parts");
    let sig: p256::ecdsa::Signature = EC_KEY.sign(input.as_bytes());
    let der = sig.to_der();
    let bad = format!("{input}.{}", b64(der.as_bytes()));
    let r = verify(&bad, IdTokenAlg::Es256, &jwks);
    assert!(matches!(r, Err(JoseError::BadSignature)), "{r:?}");
}

#[test]
fn es256_high_s_signature_is_accepted() {
    // Documented choice: JWS does not require low-s, and p256 verifies both forms.
    let jwks = all_keys();
    let good = token(IdTokenAlg::Es256);
    let (input, _) = good.rsplit_once('.').expect("three parts");
    let sig: p256::ecdsa::Signature = EC_KEY.sign(input.as_bytes());
    let (r, s) = sig.split_scalars();
    let flipped = p256::ecdsa::Signature::from_scalars(r, -*s).expect("valid scalars");
    assert_ne!(flipped, sig);
    let other = format!("{input}.{}", b64(flipped.to_bytes()));
    verify(&other, IdTokenAlg::Es256, &jwks).expect("high-s verifies");
}

#[test]
fn ed25519_non_canonical_s_rejected() {
    // verify_strict: s + ℓ (the group order) is the same signature in lax verifiers.
    let jwks = all_keys();
    let good = token(IdTokenAlg::EdDsa);
    let (input, sig_b64) = good.rsplit_once('.').expect("three parts");
    let mut sig = unb64(sig_b64);
    // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
    let ell: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (byte, l) in sig[32..].iter_mut().zip(ell) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    let bad = format!("{input}.{}", b64(&sig));
    let r = verify(&bad, IdTokenAlg::EdDsa, &jwks);
    assert!(matches!(r, Err(JoseError::BadSignature)), "{r:?}");
}

#[test]
fn ed25519_small_order_r_rejected() {
    // A signature whose R is the identity point: with the private scalar a, s = k·a makes
    // s·B − k·A = R hold, so cofactorless `verify` accepts it; `verify_strict` (what we use)
    // refuses small-order R.
    let input = format!(
        "{}.{}",
        b64(r#"{"alg":"EdDSA"}"#),
        b64(claims().to_string())
    );
    let ell = BigUint::parse_bytes(
        b"7237005577332262213973186563042994240857116359379907606001950938285454250989",
        10,
    )
    .expect("decimal");
    let expanded = Sha512::digest(unb64(ED_D));
    let mut a = expanded[..32].to_vec();
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let mut r = [0u8; 32];
    r[0] = 1; // the identity (0, 1), compressed
    let k = Sha512::new()
        .chain_update(r)
        .chain_update(unb64(ED_X))
        .chain_update(input.as_bytes())
        .finalize();
    let s = (BigUint::from_bytes_le(&k) * BigUint::from_bytes_le(&a)) % &ell;
    let mut s_le = s.to_bytes_le();
    s_le.resize(32, 0);
    let sig = [r.as_slice(), &s_le].concat();

    let lax = ed25519_dalek::Verifier::verify(
        &ED_KEY.verifying_key(),
        input.as_bytes(),
        &ed25519_dalek::Signature::from_slice(&sig).expect("64 bytes"),
    );
    assert!(
        lax.is_ok(),
        "the forgery passes cofactorless verification: {lax:?}"
    );
    let t = format!("{input}.{}", b64(&sig));
    let r = verify(&t, IdTokenAlg::EdDsa, &all_keys());
    // No `kid`: the failure says so, so that a caller may look for rotated keys.
    assert!(matches!(r, Err(JoseError::NoKidMatch)), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// Header rules

#[test]
fn alg_none_rejected_for_every_configured_alg() {
    // IDT-05: `none` with an empty signature, and with a stray signature.
    let jwks = all_keys();
    let payload = b64(claims().to_string());
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "none", "kid": "rsa-1"}),
    ] {
        for sig in ["", "AAAA"] {
            let t = format!("{}.{payload}.{sig}", b64(header.to_string()));
            for alg in ALGS {
                let r = verify(&t, alg, &jwks);
                assert!(
                    matches!(&r, Err(JoseError::AlgMismatch { found, .. }) if found == "none"),
                    "{r:?}"
                );
            }
        }
    }
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_rejected() {
    // IDT-07 / CVE-2022-23541: a "valid" HS256 token whose MAC key is the RSA public key,
    // as the JWK JSON text, as the raw modulus, and as an empty key (libjwt CVE-2026-44699).
    use hmac::{Hmac, KeyInit as _, Mac as _};
    let jwk_text = public_jwk(IdTokenAlg::Rs256).to_string();
    let jwks = Jwks::parse(format!(r#"{{"keys":[{jwk_text}]}}"#).as_bytes()).expect("set");
    let modulus = unb64(RSA_N);
    for key in [jwk_text.as_bytes(), modulus.as_slice(), b""] {
        for header in [
            json!({"alg": "HS256"}),
            json!({"alg": "HS256", "typ": "JWT"}),
        ] {
            let input = format!("{}.{}", b64(header.to_string()), b64(claims().to_string()));
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
            mac.update(input.as_bytes());
            let t = format!("{input}.{}", b64(mac.finalize().into_bytes()));
            let r = verify(&t, IdTokenAlg::Rs256, &jwks);
            assert!(
                matches!(&r, Err(JoseError::AlgMismatch { expected: IdTokenAlg::Rs256, found })
                    if found == "HS256"),
                "{r:?}"
            );
        }
    }
}

#[test]
fn alg_must_be_a_string_equal_to_the_configured_one() {
    let jwks = all_keys();
    let payload = claims().to_string();
    for (header, want_mismatch) in [
        (json!({}), false),
        (json!({"alg": null}), false),
        (json!({"alg": ["RS256"]}), false),
        (json!({"alg": "rs256"}), true),
        (json!({"alg": "RS256 "}), true),
        (json!({"alg": "ES256"}), true),
        (json!({"alg": "PS256"}), true),
    ] {
        let t = jws(IdTokenAlg::Rs256, &header, payload.as_bytes());
        let r = verify(&t, IdTokenAlg::Rs256, &jwks);
        if want_mismatch {
            assert!(
                matches!(r, Err(JoseError::AlgMismatch { .. })),
                "{header}: {r:?}"
            );
        } else {
            assert!(
                matches!(r, Err(JoseError::UnsupportedHeader(_))),
                "{header}: {r:?}"
            );
        }
    }
}

#[test]
fn alg_mismatch_echo_is_capped_and_escaped() {
    let jwks = all_keys();
    let long = format!("{}\n{}", "A".repeat(10), "B".repeat(100));
    let t = jws(IdTokenAlg::Rs256, &json!({"alg": long}), b"{}");
    let err = verify(&t, IdTokenAlg::Rs256, &jwks).expect_err("mismatch");
    let JoseError::AlgMismatch { found, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(found.chars().count(), 32);
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.contains("\\n"), "{msg}");
}

#[test]
fn refused_header_members() {
    let jwks = all_keys();
    let payload = claims().to_string();
    let jwk = public_jwk(IdTokenAlg::Rs256);
    for extra in [
        json!({"crit": ["exp"]}),
        json!({"crit": []}),
        json!({"jku": "https://attacker.example/jwks"}),
        json!({"x5u": "https://attacker.example/cert"}),
        json!({"jwk": jwk}),
        json!({"b64": false}),
        json!({"b64": "false"}),
        json!({"kid": 7}),
        json!({"kid": null}),
    ] {
        let mut header = json!({"alg": "RS256"});
        for (k, v) in extra.as_object().expect("object") {
            header[k] = v.clone();
        }
        let t = jws(IdTokenAlg::Rs256, &header, payload.as_bytes());
        let r = verify(&t, IdTokenAlg::Rs256, &jwks);
        assert!(
            matches!(r, Err(JoseError::UnsupportedHeader(_))),
            "{header}: {r:?}"
        );
    }
}

#[test]
fn accepted_header_members() {
    // b64: true is the default; x5t/x5c/typ/cty are ignored (never used to pick a key).
    let jwks = all_keys();
    let payload = claims().to_string();
    let header = json!({
        "alg": "RS256", "kid": "rsa-1", "typ": "JWT", "b64": true, "x5t": "abc", "x5c": ["MIIB"],
    });
    let t = jws(IdTokenAlg::Rs256, &header, payload.as_bytes());
    verify(&t, IdTokenAlg::Rs256, &jwks).expect("verifies");
}

#[test]
fn header_must_be_a_json_object() {
    let jwks = all_keys();
    let payload = b64(claims().to_string());
    for header in [
        "[]",
        "\"RS256\"",
        "null",
        "",
        "{\"alg\":\"RS256\"",
        "{\"alg\":\"RS256\"} x",
    ] {
        let t = format!("{}.{payload}.AAAA", b64(header));
        assert_malformed(&t, &jwks);
    }
}

// ---------------------------------------------------------------------------------------
// Compact serialisation

#[test]
fn segment_count_must_be_three() {
    let jwks = all_keys();
    let good = token(IdTokenAlg::Rs256);
    let (input, _) = good.rsplit_once('.').expect("three parts");
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        input.to_owned(),
        format!("{good}."),
        format!("{good}.AAAA"),
        format!(".{good}"),
        good.replacen('.', "..", 1),
    ] {
        assert_malformed(&bad, &jwks);
    }
}

#[test]
fn segments_must_be_strict_base64url() {
    let jwks = all_keys();
    let good = token(IdTokenAlg::Rs256);
    verify(&good, IdTokenAlg::Rs256, &jwks).expect("control");
    let parts: Vec<&str> = good.split('.').collect();
    let rebuild = |i: usize, part: String| {
        let mut p: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
        p[i] = part;
        p.join(".")
    };
    for (i, part) in parts.iter().enumerate() {
        let mut bad = vec![
            format!("{part}="),
            format!("{part}=="),
            format!(" {part}"),
            format!("{part} "),
            format!("{part}\n"),
            format!("{}\t{}", &part[..4], &part[4..]),
            format!("{part}\u{e9}"),
            format!("{}+{}", &part[..4], &part[5..]),
            format!("{}/{}", &part[..4], &part[5..]),
        ];
        // The standard alphabet's spelling of the same bytes, where it differs.
        let std_spelling = part.replace('-', "+").replace('_', "/");
        if std_spelling != *part {
            bad.push(std_spelling);
        }
        for b in bad {
            let r = verify(&rebuild(i, b.clone()), IdTokenAlg::Rs256, &jwks);
            assert!(
                matches!(r, Err(JoseError::Malformed(_))),
                "segment {i} {b:?}: {r:?}"
            );
        }
    }
    // The signature has `-` or `_`, so its standard spelling was among the cases.
    assert!(parts[2].contains(['-', '_']));
}

#[test]
fn non_canonical_trailing_bits_rejected() {
    // A 256-byte RSA signature is 342 characters: the last one carries 2 data bits and 4
    // bits that must be zero. Setting one of those gives another spelling of the same
    // bytes in a lax decoder; the strict one refuses it.
    let jwks = all_keys();
    let good = token(IdTokenAlg::Rs256);
    let (input, sig) = good.rsplit_once('.').expect("three parts");
    assert_eq!(sig.len(), 342);
    let last = sig.chars().last().expect("non-empty");
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).expect("alphabet");
    assert_eq!(idx & 0b1111, 0, "canonical: zero trailing bits");
    let nudged = alphabet.chars().nth(idx | 1).expect("alphabet");
    let bad = format!("{input}.{}{nudged}", &sig[..sig.len() - 1]);
    assert_malformed(&bad, &jwks);
}

#[test]
fn length_cap_is_16_kib() {
    let jwks = all_keys();
    let header = b64(json!({"alg": "RS256", "kid": "rsa-1"}).to_string());
    // Pad the payload so the token is exactly MAX_TOKEN_LEN, then one more.
    let sig = "A".repeat(342);
    let fixed = header.len() + 2 + sig.len();
    let payload_len = MAX_TOKEN_LEN - fixed;
    let payload: String = "A".repeat(payload_len - payload_len % 4);
    let pad = MAX_TOKEN_LEN - fixed - payload.len();
    let at_cap = format!("{header}.{payload}.{sig}{}", "A".repeat(pad));
    assert_eq!(at_cap.len(), MAX_TOKEN_LEN);
    // At the cap: gets past the length check (fails later, on the signature).
    let r = verify(&at_cap, IdTokenAlg::Rs256, &jwks);
    assert!(
        !matches!(r, Err(JoseError::Malformed("longer than 16 KiB"))),
        "{r:?}"
    );
    let over = format!("{at_cap}A");
    let r = verify(&over, IdTokenAlg::Rs256, &jwks);
    assert!(
        matches!(r, Err(JoseError::Malformed("longer than 16 KiB"))),
        "{r:?}"
    );
    // Even garbage is refused by length first.
    let r = verify(&"!".repeat(MAX_TOKEN_LEN + 1), IdTokenAlg::Rs256, &jwks);
    assert!(
        matches!(r, Err(JoseError::Malformed("longer than 16 KiB"))),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Key selection

#[test]
fn unknown_kid_is_reported_for_refetch() {
    let jwks = all_keys();
    assert!(jwks.has_kid("rsa-1"));
    assert!(!jwks.has_kid("rsa-2"));
    for alg in ALGS {
        let t = jws(
            alg,
            &json!({"alg": alg.as_str(), "kid": "rotated-away"}),
            claims().to_string().as_bytes(),
        );
        let r = verify(&t, alg, &jwks);
        assert!(matches!(r, Err(JoseError::UnknownKid)), "{r:?}");
    }
}

#[test]
fn kid_match_is_byte_exact() {
    let jwks = all_keys();
    for kid in ["RSA-1", "rsa-1 ", " rsa-1", "rsa-1\0", "rsa", ""] {
        assert!(!jwks.has_kid(kid));
        let t = jws(
            IdTokenAlg::Rs256,
            &json!({"alg": "RS256", "kid": kid}),
            claims().to_string().as_bytes(),
        );
        let r = verify(&t, IdTokenAlg::Rs256, &jwks);
        assert!(matches!(r, Err(JoseError::UnknownKid)), "{kid:?}: {r:?}");
    }
}

#[test]
fn kid_selects_only_that_key() {
    // The right key under another kid, the wrong key under the token's kid: no fallback.
    for alg in ALGS {
        let jwks = set(&[
            with(public_jwk(alg), "kid", json!("right")),
            with(other_public_jwk(alg), "kid", json!("wrong")),
        ]);
        let payload = claims().to_string();
        let t = jws(
            alg,
            &json!({"alg": alg.as_str(), "kid": "wrong"}),
            payload.as_bytes(),
        );
        let r = verify(&t, alg, &jwks);
        assert!(matches!(r, Err(JoseError::BadSignature)), "{alg}: {r:?}");
        let t = jws(
            alg,
            &json!({"alg": alg.as_str(), "kid": "right"}),
            payload.as_bytes(),
        );
        assert_eq!(
            verify(&t, alg, &jwks).expect("verifies").kid.as_deref(),
            Some("right")
        );
    }
}

#[test]
fn duplicate_kids_are_all_tried() {
    for alg in ALGS {
        let jwks = set(&[
            with(other_public_jwk(alg), "kid", json!("k")),
            with(public_jwk(alg), "kid", json!("k")),
        ]);
        let t = jws(alg, &json!({"alg": alg.as_str(), "kid": "k"}), b"{}");
        verify(&t, alg, &jwks).expect("second key with the same kid verifies");
    }
}

#[test]
fn no_kid_single_key_idt_09() {
    for alg in ALGS {
        let jwks = set(&[with(public_jwk(alg), "kid", json!("some-kid"))]);
        let t = jws(
            alg,
            &json!({"alg": alg.as_str()}),
            claims().to_string().as_bytes(),
        );
        let v = verify(&t, alg, &jwks).expect("verifies");
        assert_eq!(v.kid, None);
    }
}

#[test]
fn no_kid_several_keys_tries_each_idt_10() {
    for alg in ALGS {
        // Keys of every type, the right one last: only keys of the alg's type are tried.
        let mut keys: Vec<Value> = ALGS
            .into_iter()
            .filter(|a| *a != alg)
            .map(public_jwk)
            .collect();
        keys.push(other_public_jwk(alg));
        keys.push(public_jwk(alg));
        let jwks = set(&keys);
        let t = jws(alg, &json!({"alg": alg.as_str()}), b"{}");
        verify(&t, alg, &jwks).expect("second key of the type verifies");

        let wrong_only = set(&[other_public_jwk(alg), other_public_jwk(alg)]);
        let r = verify(&t, alg, &wrong_only);
        assert!(matches!(r, Err(JoseError::NoKidMatch)), "{r:?}");
    }
}

#[test]
fn key_type_mismatch_idt_15() {
    // An ES256 token against an RSA-only set, and every other pairing.
    for token_alg in ALGS {
        for set_alg in ALGS.into_iter().filter(|a| *a != token_alg) {
            let jwks = set(&[public_jwk(set_alg)]);
            let t = jws(token_alg, &json!({"alg": token_alg.as_str()}), b"{}");
            let r = verify(&t, token_alg, &jwks);
            assert!(
                matches!(r, Err(JoseError::NoUsableKey)),
                "{token_alg}/{set_alg}: {r:?}"
            );
            // The same with a kid naming the key of the other type: not "unknown", so no
            // pointless refetch.
            let jwks = set(&[with(public_jwk(set_alg), "kid", json!("k"))]);
            let t = jws(
                token_alg,
                &json!({"alg": token_alg.as_str(), "kid": "k"}),
                b"{}",
            );
            let r = verify(&t, token_alg, &jwks);
            assert!(
                matches!(r, Err(JoseError::NoUsableKey)),
                "{token_alg}/{set_alg}: {r:?}"
            );
        }
    }
}

#[test]
fn kid_naming_a_skipped_key_is_no_usable_key() {
    let jwks = set(&[
        with(
            with(public_jwk(IdTokenAlg::Rs256), "use", json!("enc")),
            "kid",
            json!("k"),
        ),
        with(public_jwk(IdTokenAlg::Rs256), "kid", json!("other")),
    ]);
    assert_eq!(jwks.len(), 1);
    assert!(!jwks.has_kid("k"));
    let t = jws(
        IdTokenAlg::Rs256,
        &json!({"alg": "RS256", "kid": "k"}),
        b"{}",
    );
    let r = verify(&t, IdTokenAlg::Rs256, &jwks);
    assert!(matches!(r, Err(JoseError::NoUsableKey)), "{r:?}");
}

#[test]
fn empty_set_has_no_usable_key() {
    let jwks = Jwks::parse(br#"{"keys":[]}"#).expect("empty set parses");
    assert_eq!(jwks.len(), 0);
    for alg in ALGS {
        let t = jws(alg, &json!({"alg": alg.as_str()}), b"{}");
        let r = verify(&t, alg, &jwks);
        assert!(matches!(r, Err(JoseError::NoUsableKey)), "{r:?}");
    }
}

// ---------------------------------------------------------------------------------------
// JWK Set parsing

/// The reason `jwk` is skipped, asserting it is.
#[track_caller]
fn skip_reason(jwk: &Value) -> &'static str {
    let jwks = set(std::slice::from_ref(jwk));
    assert_eq!(jwks.len(), 0, "{jwk} should be skipped");
    assert_eq!(jwks.skipped().len(), 1);
    jwks.skipped()[0].reason()
}

#[test]
fn small_rsa_key_rejected_at_parse() {
    // A 1024-bit odd modulus: the first 128 bytes of A.2's n, low bit set.
    let mut n = unb64(RSA_N);
    n.truncate(128);
    n[127] |= 1;
    let jwk = json!({"kty": "RSA", "n": b64(&n), "e": "AQAB", "kid": "small"});
    assert_eq!(skip_reason(&jwk), "RSA modulus under 2048 bits");
    // 2047 bits (top bit of 256 bytes clear) is still too small.
    let mut n = unb64(RSA_N);
    n[0] &= 0x7f;
    assert_eq!(
        skip_reason(&json!({"kty": "RSA", "n": b64(&n), "e": "AQAB"})),
        "RSA modulus under 2048 bits"
    );
    // A token naming the small key's kid gets NoUsableKey.
    let jwks = set(&[jwk]);
    let t = jws(
        IdTokenAlg::Rs256,
        &json!({"alg": "RS256", "kid": "small"}),
        b"{}",
    );
    let r = verify(&t, IdTokenAlg::Rs256, &jwks);
    assert!(matches!(r, Err(JoseError::NoUsableKey)), "{r:?}");
}

#[test]
fn rsa_key_bounds() {
    // Leading zero bytes in n are tolerated (some providers emit them).
    let padded = b64([&[0u8][..], &unb64(RSA_N)].concat());
    let jwks = set(&[json!({"kty": "RSA", "n": padded, "e": "AQAB"})]);
    verify(RFC7515_A2_JWS, IdTokenAlg::Rs256, &jwks).expect("same key");
    let mut big_n = vec![0x01];
    big_n.extend([0xff; 512]);
    assert_eq!(
        skip_reason(&json!({"kty": "RSA", "n": b64(&big_n), "e": "AQAB"})),
        "RSA modulus over 4096 bits"
    );
    for (e, why) in [
        (b64([1, 0, 0, 0, 1]), "RSA exponent of 2^32 or more"),
        (b64([1, 0, 0]), "RSA modulus or exponent invalid"), // even
        (b64([1]), "RSA modulus or exponent invalid"),       // 1
        (String::new(), "RSA modulus or exponent invalid"),  // 0
    ] {
        assert_eq!(
            skip_reason(&json!({"kty": "RSA", "n": RSA_N, "e": e})),
            why,
            "{e:?}"
        );
    }
    for jwk in [
        json!({"kty": "RSA", "e": "AQAB"}),
        json!({"kty": "RSA", "n": RSA_N}),
        json!({"kty": "RSA", "n": format!("{RSA_N}="), "e": "AQAB"}),
        json!({"kty": "RSA", "n": RSA_N, "e": "AQAB="}),
        json!({"kty": "RSA", "n": 5, "e": "AQAB"}),
    ] {
        assert!(skip_reason(&jwk).contains("missing or not base64url"));
    }
}

#[test]
fn ec_point_off_curve_skipped() {
    let mut y = unb64(EC_Y);
    y[31] ^= 0x01;
    assert_eq!(
        skip_reason(&json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": b64(&y)})),
        "EC point not on P-256"
    );
    // (0, 0) and coordinates ≥ p are not points either.
    assert_eq!(
        skip_reason(&json!({"kty": "EC", "crv": "P-256", "x": b64([0; 32]), "y": b64([0; 32])})),
        "EC point not on P-256"
    );
    assert_eq!(
        skip_reason(&json!({"kty": "EC", "crv": "P-256", "x": b64([0xff; 32]), "y": EC_Y})),
        "EC point not on P-256"
    );
}

#[test]
fn ec_key_shape_rules() {
    let short = b64(&unb64(EC_X)[1..]);
    let long = b64([&[0u8][..], &unb64(EC_X)].concat());
    for (jwk, why) in [
        (
            json!({"kty": "EC", "crv": "P-256", "x": short, "y": EC_Y}),
            "EC coordinate not 32 bytes",
        ),
        (
            json!({"kty": "EC", "crv": "P-256", "x": long, "y": EC_Y}),
            "EC coordinate not 32 bytes",
        ),
        (
            json!({"kty": "EC", "crv": "P-384", "x": EC_X, "y": EC_Y}),
            "unsupported EC curve",
        ),
        (
            json!({"kty": "EC", "x": EC_X, "y": EC_Y}),
            "unsupported EC curve",
        ),
        (
            json!({"kty": "EC", "crv": "P-256", "x": EC_X}),
            "EC y missing or not base64url",
        ),
    ] {
        assert_eq!(skip_reason(&jwk), why, "{jwk}");
    }
}

#[test]
fn okp_key_rules() {
    // The identity point (y = 1) decompresses but has small order.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        skip_reason(&json!({"kty": "OKP", "crv": "Ed25519", "x": b64(identity)})),
        "Ed25519 key of small order"
    );
    // A y with no x on the curve (found by search, checked by the decoder itself).
    let not_a_point = (0u8..=255)
        .map(|i| {
            let mut b = [0u8; 32];
            b[0] = i;
            b[1] = 1;
            b
        })
        .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_err())
        .expect("some y is not on the curve");
    assert_eq!(
        skip_reason(&json!({"kty": "OKP", "crv": "Ed25519", "x": b64(not_a_point)})),
        "Ed25519 point invalid"
    );
    for (jwk, why) in [
        (
            json!({"kty": "OKP", "crv": "X25519", "x": ED_X}),
            "unsupported OKP curve",
        ),
        (
            json!({"kty": "OKP", "crv": "Ed448", "x": ED_X}),
            "unsupported OKP curve",
        ),
        (
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64([1; 31])}),
            "Ed25519 x not 32 bytes",
        ),
        (
            json!({"kty": "OKP", "crv": "Ed25519"}),
            "OKP x missing or not base64url",
        ),
    ] {
        assert_eq!(skip_reason(&jwk), why, "{jwk}");
    }
}

#[test]
fn use_key_ops_and_alg_members() {
    let rsa = public_jwk(IdTokenAlg::Rs256);
    for (member, value, why) in [
        ("use", json!("enc"), "use is enc"),
        ("use", json!("SIG"), "use is not sig"),
        ("use", json!(1), "use is not sig"),
        ("key_ops", json!(["encrypt"]), "key_ops without verify"),
        ("key_ops", json!("verify"), "key_ops without verify"),
        ("alg", json!("RS384"), "alg not supported"),
        ("alg", json!("RSA-OAEP"), "alg not supported"),
        ("alg", json!("ES256"), "alg does not fit the key type"),
        ("alg", json!(256), "alg is not a string"),
        ("kid", json!(1), "kid is not a string"),
    ] {
        assert_eq!(
            skip_reason(&with(rsa.clone(), member, value.clone())),
            why,
            "{member}: {value}"
        );
    }
    for (member, value) in [
        ("use", json!("sig")),
        ("key_ops", json!(["sign", "verify"])),
        ("alg", json!("RS256")),
    ] {
        let jwks = set(&[with(rsa.clone(), member, value)]);
        verify(RFC7515_A2_JWS, IdTokenAlg::Rs256, &jwks).expect("usable");
    }
    assert_eq!(
        skip_reason(&with(public_jwk(IdTokenAlg::Es256), "alg", json!("EdDSA"))),
        "alg does not fit the key type"
    );
}

#[test]
fn private_members_are_ignored() {
    // The full A.2 private JWK: only n and e are used (and the set still verifies).
    let jwk = json!({
        "kty": "RSA", "n": RSA_N, "e": RSA_E, "d": RSA_D, "p": RSA_P, "q": RSA_Q,
        "dp": "garbage", "qi": 5,
    });
    let jwks = set(&[jwk]);
    verify(RFC7515_A2_JWS, IdTokenAlg::Rs256, &jwks).expect("verifies");
    let ec = with(public_jwk(IdTokenAlg::Es256), "d", json!(EC_D));
    verify(RFC7515_A3_JWS, IdTokenAlg::Es256, &set(&[ec])).expect("verifies");
}

#[test]
fn unsupported_entries_skipped_not_fatal() {
    let doc = json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "RSA-PSS"},
        {"crv": "P-256"},
        {"kty": 1},
        "not an object",
        null,
        public_jwk(IdTokenAlg::Rs256),
    ]});
    let jwks = Jwks::parse(doc.to_string().as_bytes()).expect("parses");
    assert_eq!(jwks.len(), 1);
    let reasons: Vec<&str> = jwks.skipped().iter().map(SkippedKey::reason).collect();
    assert_eq!(
        reasons,
        [
            "unsupported kty",
            "unsupported kty",
            "kty missing",
            "kty is not a string",
            "entry is not a JSON object",
            "entry is not a JSON object",
        ]
    );
    verify(RFC7515_A2_JWS, IdTokenAlg::Rs256, &jwks).expect("the RSA key is usable");
    // An HS256 token naming the oct key is refused on alg before keys.
    let t = format!(
        "{}.{}.AAAA",
        b64(r#"{"alg":"HS256","kid":"hmac"}"#),
        b64("{}")
    );
    assert!(matches!(
        verify(&t, IdTokenAlg::Rs256, &jwks),
        Err(JoseError::AlgMismatch { .. })
    ));
}

#[test]
fn document_level_errors() {
    let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "a".repeat(MAX_JWKS_LEN));
    for (doc, why) in [
        (big.as_bytes(), "document larger than 256 KiB"),
        (b"".as_slice(), "not a JSON object"),
        (b"[]".as_slice(), "not a JSON object"),
        (b"{\"keys\":[]".as_slice(), "not a JSON object"),
        (b"\xff\xfe".as_slice(), "not a JSON object"),
        (b"{}".as_slice(), "no keys array"),
        (b"{\"keys\":{}}".as_slice(), "no keys array"),
        (b"{\"keys\":null}".as_slice(), "no keys array"),
    ] {
        match Jwks::parse(doc) {
            Err(JoseError::Jwks(got)) => assert_eq!(got, why),
            other => panic!("{why}: {other:?}"),
        }
    }
    // Just under the cap parses.
    let pad = MAX_JWKS_LEN - r#"{"keys":[],"pad":""}"#.len();
    let at_cap = format!(r#"{{"keys":[],"pad":"{}"}}"#, "a".repeat(pad));
    assert_eq!(at_cap.len(), MAX_JWKS_LEN);
    assert_eq!(Jwks::parse(at_cap.as_bytes()).expect("at cap").len(), 0);
}

#[test]
fn usable_key_count_is_capped() {
    let keys: Vec<Value> = (0..=MAX_KEYS)
        .map(|i| {
            let key = ed25519_dalek::SigningKey::from_bytes(&[u8::try_from(i).expect("small"); 32]);
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().to_bytes())})
        })
        .collect();
    let jwks = set(&keys);
    assert_eq!(jwks.len(), MAX_KEYS);
    assert_eq!(jwks.skipped().len(), 1);
    assert_eq!(
        jwks.skipped()[0].reason(),
        "more usable keys than the limit"
    );
}

#[test]
fn logs_carry_no_key_material_and_capped_kids() {
    let long_kid = format!("{}\r\n{}", "k".repeat(20), "z".repeat(80));
    let jwks = set(&[
        json!({"kty": "RSA", "n": b64([0x0f; 64]), "e": "AQAB", "kid": long_kid}),
        with(public_jwk(IdTokenAlg::Rs256), "kid", json!(long_kid)),
    ]);
    let line = jwks.skipped()[0].to_string();
    assert!(line.starts_with("JWK #0 (kid \""), "{line}");
    assert!(line.ends_with(": RSA modulus under 2048 bits"), "{line}");
    assert!(
        !line.contains('\n') && !line.contains("zzzzzzzzzzzzz"),
        "{line}"
    );
    let debug = format!("{jwks:?}");
    assert!(
        !debug.contains(&RSA_N[..20]) && !debug.contains("zzzzzzzzzzzzz"),
        "{debug}"
    );
    assert!(debug.contains("Rs256"), "{debug}");

    let t = jws(
        IdTokenAlg::Rs256,
        &json!({"alg": "RS256", "kid": long_kid}),
        b"{\"sub\":\"x\"}",
    );
    let v = verify(&t, IdTokenAlg::Rs256, &jwks).expect("verifies");
    assert_eq!(v.kid.as_deref(), Some(long_kid.as_str()));
    let debug = format!("{v:?}");
    assert!(
        !debug.contains("sub") && !debug.contains("zzzzzzzzzzzzz"),
        "{debug}"
    );

    // Error messages: no token or key contents.
    for err in [
        JoseError::UnknownKid,
        JoseError::NoUsableKey,
        JoseError::BadSignature,
        JoseError::Malformed("x"),
    ] {
        assert!(err.to_string().len() < 80, "{err}");
    }
}

// ---------------------------------------------------------------------------------------
// Claims

#[test]
fn baseline_claims_are_valid() {
    let claims = validate(&claims()).expect("valid");
    assert_eq!(claims.get("iss"), Some(&json!(ISS)));
}

#[test]
fn iss_rules_idt_01() {
    for (value, why) in [
        (Value::Null, "iss missing"),
        (json!("https://server.example.com/"), "iss mismatch"),
        (json!("https://SERVER.example.com"), "iss mismatch"),
        (json!("https://server.example.com "), "iss mismatch"),
        (json!("https://attacker.example.com"), "iss mismatch"),
        (json!(""), "iss mismatch"),
        (json!([ISS]), "iss mismatch"),
        (json!(1), "iss mismatch"),
    ] {
        assert_claim_err(validate(&claims_with("iss", value)), why);
    }
    // An empty configured issuer matches nothing, not even an empty iss.
    let c = claims_with("iss", json!(""));
    let e = Expected {
        issuer: "",
        ..expected()
    };
    assert_claim_err(
        validate_claims(c.to_string().as_bytes(), IdTokenAlg::Rs256, &e),
        "iss mismatch",
    );
}

#[test]
fn aud_rules_idt_02_03() {
    for (value, why) in [
        (Value::Null, "aud missing"),
        (json!("other-client"), "aud mismatch"),
        (json!("s6bhdrkqt3"), "aud mismatch"),
        (json!([]), "aud mismatch"),
        (json!(["other-client"]), "aud mismatch"),
        (
            json!([CLIENT, "other-client"]),
            "aud has an untrusted audience",
        ),
        (
            json!(["other-client", CLIENT]),
            "aud has an untrusted audience",
        ),
        (json!([CLIENT, 5]), "aud has an untrusted audience"),
        (json!([CLIENT, null]), "aud has an untrusted audience"),
        (json!(5), "aud not a string or array of strings"),
        (
            json!({"aud": CLIENT}),
            "aud not a string or array of strings",
        ),
    ] {
        assert_claim_err(validate(&claims_with("aud", value)), why);
    }
    validate(&claims_with("aud", json!([CLIENT]))).expect("array of just us");
    validate(&claims_with("aud", json!([CLIENT, CLIENT]))).expect("us twice");
    // IDT-03: us + another with azp ≠ us — refused (on aud already, and on azp alone).
    let mut c = claims_with("aud", json!([CLIENT, "other-client"]));
    c["azp"] = json!("other-client");
    assert!(validate(&c).is_err());
    // An empty configured client id matches nothing.
    let c = claims_with("aud", json!(""));
    let e = Expected {
        client_id: "",
        ..expected()
    };
    assert_claim_err(
        validate_claims(c.to_string().as_bytes(), IdTokenAlg::Rs256, &e),
        "aud mismatch",
    );
}

#[test]
fn azp_rules() {
    validate(&claims_with("azp", json!(CLIENT))).expect("azp = us");
    for value in [json!("other-client"), json!(""), json!([CLIENT]), json!(1)] {
        assert_claim_err(validate(&claims_with("azp", value)), "azp mismatch");
    }
}

#[test]
fn sub_rules_idt_04() {
    for (value, why) in [
        (Value::Null, "sub missing"),
        (json!(""), "sub empty or longer than 255 bytes"),
        (json!("a".repeat(256)), "sub empty or longer than 255 bytes"),
        (json!(248_289_761_001_u64), "sub not a string"),
        (json!(["x"]), "sub not a string"),
    ] {
        assert_claim_err(validate(&claims_with("sub", value)), why);
    }
    validate(&claims_with("sub", json!("a".repeat(255)))).expect("255 bytes");
}

#[test]
fn exp_rules_idt_12() {
    for (value, why) in [
        (Value::Null, "exp missing"),
        (
            json!((NOW + 600).to_string()),
            "exp not a non-negative number",
        ), // CVE-2026-25537
        (json!(null), "exp missing"),
        (json!(true), "exp not a non-negative number"),
        (json!([NOW + 600]), "exp not a non-negative number"),
        (json!(-1), "exp not a non-negative number"),
        (json!(NOW - 31), "exp in the past"),
        (json!(NOW - 30), "exp in the past"),
        (json!(0), "exp in the past"),
    ] {
        assert_claim_err(validate(&claims_with("exp", value)), why);
    }
    // JSON null deletes the member in `claims_with`; a literal null must be "not a number".
    let literal_null = claims()
        .to_string()
        .replace(&format!("{}", NOW + 600), "null");
    assert_claim_err(
        validate_claims(literal_null.as_bytes(), IdTokenAlg::Rs256, &expected()),
        "exp not a non-negative number",
    );
    validate(&claims_with("exp", json!(NOW - 29))).expect("within leeway");
    validate(&claims_with("exp", json!(NOW as f64 + 0.5))).expect("fractional exp");
    validate(&claims_with("exp", json!(u64::MAX))).expect("far future");
}

#[test]
fn iat_rules_idt_04_clk_03() {
    for (value, why) in [
        (Value::Null, "iat missing"),
        (json!(NOW.to_string()), "iat not a non-negative number"),
        (json!(-5), "iat not a non-negative number"),
        (json!(NOW + 60), "iat in the future"), // CLK-03
        (json!(NOW + 31), "iat in the future"),
        (json!(NOW - 3600 - 31), "iat older than max_age"),
    ] {
        assert_claim_err(validate(&claims_with("iat", value)), why);
    }
    validate(&claims_with("iat", json!(NOW + 20))).expect("CLK-03: +20 s accepted");
    validate(&claims_with("iat", json!(NOW + 30))).expect("at the leeway edge");
    validate(&claims_with("iat", json!(NOW - 3600 - 29))).expect("within max_age + leeway");
    validate(&claims_with("iat", json!(NOW as f64 - 0.25))).expect("fractional iat");
    // No max_age: an old iat is fine.
    let c = claims_with("iat", json!(NOW - 86_400 * 365));
    let e = Expected {
        max_age: None,
        ..expected()
    };
    validate_claims(c.to_string().as_bytes(), IdTokenAlg::Rs256, &e).expect("no age bound");
}

#[test]
fn nbf_rules_clk_03() {
    for (value, why) in [
        (json!(NOW + 60), "nbf in the future"),
        (
            json!((NOW - 10).to_string()),
            "nbf not a non-negative number",
        ),
        (json!(false), "nbf not a non-negative number"),
    ] {
        assert_claim_err(validate(&claims_with("nbf", value)), why);
    }
    validate(&claims_with("nbf", json!(NOW + 20))).expect("+20 s accepted");
    validate(&claims_with("nbf", json!(NOW - 100))).expect("past nbf");
}

#[test]
fn leeway_and_max_age_are_clamped_at_zero() {
    let e = Expected {
        leeway: -1_000,
        max_age: Some(-5),
        ..expected()
    };
    let check = |c: Value| validate_claims(c.to_string().as_bytes(), IdTokenAlg::Rs256, &e);
    let at_now = |member: &str, value: Value| {
        let mut c = claims_with("iat", json!(NOW));
        c[member] = value;
        c
    };
    assert_claim_err(check(at_now("exp", json!(NOW))), "exp in the past");
    check(at_now("exp", json!(NOW + 1))).expect("exp just ahead, iat = now, max_age 0");
    assert_claim_err(check(at_now("iat", json!(NOW + 1))), "iat in the future");
    assert_claim_err(
        check(at_now("iat", json!(NOW - 1))),
        "iat older than max_age",
    );
    // Extreme values saturate instead of overflowing.
    let e = Expected {
        now: i64::MAX,
        leeway: i64::MAX,
        max_age: Some(i64::MAX),
        ..expected()
    };
    validate_claims(claims().to_string().as_bytes(), IdTokenAlg::Rs256, &e).expect("saturated");
    let e = Expected {
        now: i64::MIN,
        leeway: i64::MAX,
        ..expected()
    };
    let r = validate_claims(claims().to_string().as_bytes(), IdTokenAlg::Rs256, &e);
    assert_claim_err(r, "iat in the future");
}

#[test]
fn nonce_rules() {
    for (value, why) in [
        (Value::Null, "nonce missing"),
        (json!("n-0S6_WzA2Mk"), "nonce mismatch"),
        (json!("n-0S6_WzA2Mj "), "nonce mismatch"),
        (json!(""), "nonce mismatch"),
        (json!(1), "nonce mismatch"),
    ] {
        assert_claim_err(validate(&claims_with("nonce", value)), why);
    }
    // No nonce expected: a present one is not checked.
    let e = Expected {
        nonce: None,
        ..expected()
    };
    let c = claims_with("nonce", json!("anything"));
    validate_claims(c.to_string().as_bytes(), IdTokenAlg::Rs256, &e).expect("not checked");
}

#[test]
fn at_hash_rules_idt_14_for_each_alg() {
    let jwks = all_keys();
    let with_token = Expected {
        access_token: Some(ACCESS_TOKEN),
        ..expected()
    };
    for alg in ALGS {
        // Round trip: a signed token whose at_hash is computed here.
        let c = claims_with("at_hash", json!(left_half_hash(ACCESS_TOKEN, alg)));
        let t = jws(alg, &json!({"alg": alg.as_str()}), c.to_string().as_bytes());
        let v = verify(&t, alg, &jwks).expect("verifies");
        validate_claims(&v.payload, alg, &with_token).expect("right at_hash");

        let other = Expected {
            access_token: Some("another-access-token"),
            ..expected()
        };
        assert_claim_err(validate_claims(&v.payload, alg, &other), "at_hash mismatch");
        // Without an access token the claim is not checked.
        validate_claims(&v.payload, alg, &expected()).expect("not checked");

        for wrong in [
            json!("77QmUPtjPfzWtF2AnpK9RA"),
            json!(""),
            json!(left_half_hash(ACCESS_TOKEN, alg).to_lowercase()),
        ] {
            let c = claims_with("at_hash", wrong);
            let r = validate_claims(c.to_string().as_bytes(), alg, &with_token);
            assert_claim_err(r, "at_hash mismatch");
        }
        let c = claims_with("at_hash", json!(5));
        let r = validate_claims(c.to_string().as_bytes(), alg, &with_token);
        assert_claim_err(r, "at_hash not a string");
        // Absent at_hash with an access token: fine (the code flow makes it optional).
        validate_claims(claims().to_string().as_bytes(), alg, &with_token).expect("absent");
    }
    // The published RS256 value under EdDSA (SHA-512) does not match.
    let c = claims_with("at_hash", json!("77QmUPtjPfzWtF2AnpK9RQ"));
    validate_claims(c.to_string().as_bytes(), IdTokenAlg::Rs256, &with_token).expect("RS256");
    assert_claim_err(
        validate_claims(c.to_string().as_bytes(), IdTokenAlg::EdDsa, &with_token),
        "at_hash mismatch",
    );
}

#[test]
fn payload_must_be_a_json_object() {
    for payload in [
        &b""[..],
        b"[]",
        b"null",
        b"\"iss\"",
        b"{",
        b"{} {}",
        b"\xff",
        RFC8037_A4_JWS.as_bytes(),
    ] {
        let r = validate_claims(payload, IdTokenAlg::Rs256, &expected());
        assert_claim_err(r, "payload not a JSON object");
    }
    let huge = format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_TOKEN_LEN));
    let r = validate_claims(huge.as_bytes(), IdTokenAlg::Rs256, &expected());
    assert_claim_err(r, "payload longer than 16 KiB");
}

// ---------------------------------------------------------------------------------------
// Properties: nothing panics, nothing random verifies

static PROP_JWKS: LazyLock<Jwks> = LazyLock::new(all_keys);
/// One valid token per alg, signed once (RSA signing is slow in debug builds).
static PROP_TOKENS: LazyLock<[String; 3]> = LazyLock::new(|| ALGS.map(token));

fn alg_strategy() -> impl Strategy<Value = IdTokenAlg> {
    prop_oneof![
        Just(IdTokenAlg::Rs256),
        Just(IdTokenAlg::Es256),
        Just(IdTokenAlg::EdDsa)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_verify_never_panics_on_arbitrary_strings(s in any::<String>(), alg in alg_strategy()) {
        prop_assert!(verify(&s, alg, &PROP_JWKS).is_err());
    }

    #[test]
    fn prop_verify_never_panics_on_token_alphabet(
        s in "[A-Za-z0-9_=+/ .-]{0,400}",
        alg in alg_strategy(),
    ) {
        prop_assert!(verify(&s, alg, &PROP_JWKS).is_err());
    }

    #[test]
    fn prop_verify_never_panics_on_jws_shaped_input(
        header in r#"\{("(alg|kid|crit|b64|jku|typ)":("(RS256|ES256|EdDSA|none|rsa-1|ec-1)"|[0-9]{1,3}|null|true|false|\{\}|\[\]),?){0,5}\}"#,
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        sig in proptest::collection::vec(any::<u8>(), 0..300),
        alg in alg_strategy(),
    ) {
        let t = format!("{}.{}.{}", b64(header), b64(payload), b64(sig));
        prop_assert!(verify(&t, alg, &PROP_JWKS).is_err());
    }

    #[test]
    fn prop_random_signatures_never_verify(
        alg in alg_strategy(),
        with_kid in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..100),
        sig_len_choice in 0usize..3,
        sig_seed in proptest::collection::vec(any::<u8>(), 256..=256),
    ) {
        let header = if with_kid {
            json!({"alg": alg.as_str(), "kid": kid(alg)})
        } else {
            json!({"alg": alg.as_str()})
        };
        // The exact signature length for the alg, one less, or the seed as is.
        let exact = if alg == IdTokenAlg::Rs256 { 256 } else { 64 };
        let len = [exact, exact - 1, sig_seed.len()][sig_len_choice];
        let sig = &sig_seed[..len];
        let t = format!("{}.{}.{}", b64(header.to_string()), b64(payload), b64(sig));
        let r = verify(&t, alg, &PROP_JWKS);
        if with_kid {
            prop_assert!(matches!(r, Err(JoseError::BadSignature)));
        } else {
            // Without a `kid` a well-formed but wrong signature reports NoKidMatch; a
            // malformed ES256/EdDSA signature is refused before any key is tried.
            prop_assert!(matches!(r, Err(JoseError::BadSignature | JoseError::NoKidMatch)));
        }
    }

    #[test]
    fn prop_mutated_token_never_verifies_as_something_else(
        which in 0usize..3,
        pos in any::<usize>(),
        bit in 0u8..7,
    ) {
        // Flipping one bit of one character of a valid token never leaves it valid: strict
        // base64url gives every byte string one spelling, and the signature covers the
        // header and payload bytes.
        let alg = ALGS[which];
        let mut bytes = PROP_TOKENS[which].clone().into_bytes();
        let i = pos % bytes.len();
        bytes[i] ^= 1 << bit;
        if let Ok(s) = String::from_utf8(bytes) {
            prop_assert!(verify(&s, alg, &PROP_JWKS).is_err(), "{}", i);
        }
    }

    #[test]
    fn prop_validate_claims_never_panics_on_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        alg in alg_strategy(),
    ) {
        let e = Expected { access_token: Some(ACCESS_TOKEN), ..expected() };
        prop_assert!(validate_claims(&bytes, alg, &e).is_err());
    }

    #[test]
    fn prop_validate_claims_never_panics_on_claim_shaped_json(
        payload in r#"\{("(iss|aud|azp|sub|exp|iat|nbf|nonce|at_hash)":("[a-zA-Z0-9:/.-]{0,20}"|-?[0-9]{1,20}(\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?|null|true|\[("[a-z0-9]{0,10}"|1),?\]|\{\}),?){0,10}\}"#,
        now in any::<i64>(),
        leeway in any::<i64>(),
        max_age in any::<Option<i64>>(),
        alg in alg_strategy(),
    ) {
        let e = Expected { now, leeway, max_age, access_token: Some(ACCESS_TOKEN), ..expected() };
        let _ = validate_claims(payload.as_bytes(), alg, &e);
    }

    #[test]
    fn prop_jwks_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Jwks::parse(&bytes);
    }

    #[test]
    fn prop_jwks_parse_never_panics_on_jwk_shaped_input(
        kty in "(RSA|EC|OKP|oct|)",
        crv in "(P-256|Ed25519|P-384|)",
        members in proptest::collection::vec(
            ("(n|e|x|y|kid|use|alg|key_ops)", proptest::collection::vec(any::<u8>(), 0..70)),
            0..6,
        ),
    ) {
        let mut jwk = json!({"kty": kty, "crv": crv});
        for (name, bytes) in members {
            jwk[name] = json!(b64(bytes));
        }
        let doc = json!({"keys": [jwk]}).to_string();
        let jwks = Jwks::parse(doc.as_bytes()).expect("a keys array always parses");
        prop_assert_eq!(jwks.len() + jwks.skipped().len(), 1);
    }
}
