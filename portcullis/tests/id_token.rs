//! ID-token validation (SECURITY.md §6.7, IDT-01..15) and the provider's keys (§6.2,
//! KEY-05..07), driven through real callbacks against the mock provider
//! (tests/common/mock_op.rs), whose tokens are signed with the published RFC keys.
//!
//! "Refused" is: the code was exchanged, then `ERR(Configuration)`, the check cookie
//! deleted, no session cookie, nothing written to the store, no account, and the tokens of
//! that response discarded (the access token never used for userinfo).
#![cfg(feature = "oauth")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::mock_op::*;
use common::*;
use portcullis::IdTokenAlg;
use serde_json::json;

const SUB: &str = "idt-person";

fn person() -> Person {
    Person::new(SUB).email("idt@idp.test", Some(true))
}

fn key_for(alg: IdTokenAlg) -> Key {
    match alg {
        IdTokenAlg::Es256 => Key::P256,
        IdTokenAlg::EdDsa => Key::EdA,
        _ => Key::RsaA,
    }
}

const RS: IdTokenAlg = IdTokenAlg::Rs256;
const ES: IdTokenAlg = IdTokenAlg::Es256;
const ED: IdTokenAlg = IdTokenAlg::EdDsa;

/// A mock and a database-strategy world whose provider expects `alg`; the mock signs with
/// the key of that algorithm.
async fn setup(alg: IdTokenAlg) -> (MockOp, World) {
    let op = MockOp::start().await;
    let w = World::builder()
        .provider(op.oidc("mock").id_token_alg(alg))
        .build();
    op.set(|b| b.sign_with(key_for(alg)));
    (op, w)
}

/// Signs in with the ID token changed by `f` (given the issuer) and asserts it was refused.
async fn refused(what: &str, alg: IdTokenAlg, f: impl FnOnce(&str, &mut Behaviour)) {
    let (op, w) = setup(alg).await;
    let issuer = op.issuer.clone();
    op.set(|b| f(&issuer, b));
    let mut jar = Jar::default();
    let before = w.writes();
    let res = within(what, w.sign_in(&op, &mut jar, "mock", &person())).await;
    assert_eq!(
        res.location(),
        Some(ERR_CONFIGURATION),
        "{what}: accepted? {res:?}"
    );
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", SUB).await;
    assert_eq!(op.code_exchanges(), 1, "{what}: the code was not exchanged");
    assert!(
        op.records().userinfo.is_empty(),
        "{what}: the access token of a refused response was used"
    );
}

/// Signs in with the ID token changed by `f` and asserts it was accepted.
async fn accepted(what: &str, alg: IdTokenAlg, f: impl FnOnce(&str, &mut Behaviour)) {
    let (op, w) = setup(alg).await;
    let issuer = op.issuer.clone();
    op.set(|b| f(&issuer, b));
    let mut jar = Jar::default();
    let res = within(what, w.sign_in(&op, &mut jar, "mock", &person())).await;
    assert_ne!(res.location(), Some(ERR_CONFIGURATION), "{what}: refused");
    assert_signed_in(&res);
    assert!(w.user_of("mock", SUB).await.is_some(), "{what}");
}

/// The mock's keys are the published ones: each private key derives the published public
/// key, and the RFC example signatures come out byte for byte.
#[test]
fn mock_keys_are_the_published_ones() {
    for key in [Key::RsaA, Key::RsaB, Key::P256, Key::EdA, Key::EdB] {
        assert_eq!(key.derived_public(), key.published_public(), "{key:?}");
    }
    // RFC 7515 A.2.1 (RS256 is deterministic).
    let input = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    assert_eq!(
        b64(&Key::RsaA.sign(input.as_bytes())),
        "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
    );
    // RFC 8037 A.4.
    assert_eq!(
        b64(&Key::EdA.sign(b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc")),
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    );
}

/// Positive control: RS256, ES256 and EdDSA ID tokens (with `at_hash`: SHA-256 for the
/// first two, SHA-512 for EdDSA) are accepted when the provider is configured for them.
#[tokio::test]
async fn id_tokens_of_each_configured_algorithm_are_accepted() {
    for alg in [RS, ES, ED] {
        accepted(alg.as_str(), alg, |_, _| {}).await;
    }
}

/// IDT-01: `iss` wrong, missing, or not exactly the issuer (trailing slash, case, a path,
/// empty, not a string).
#[tokio::test]
async fn idt_01_wrong_or_missing_iss_is_refused() {
    refused("iss another issuer", RS, |_, b| {
        b.set_claim("iss", json!("https://evil.example"))
    })
    .await;
    refused("iss missing", RS, |_, b| b.remove_claim("iss")).await;
    refused("iss trailing slash", RS, |i, b| {
        b.set_claim("iss", json!(format!("{i}/")))
    })
    .await;
    refused("iss upper-case scheme", RS, |i, b| {
        b.set_claim("iss", json!(i.replace("http://", "HTTP://")));
    })
    .await;
    refused("iss with a path", RS, |i, b| {
        b.set_claim("iss", json!(format!("{i}/other")))
    })
    .await;
    refused("iss empty", RS, |_, b| b.set_claim("iss", json!(""))).await;
    refused("iss array", RS, |i, b| b.set_claim("iss", json!([i]))).await;
    refused("iss null", RS, |_, b| b.set_claim("iss", json!(null))).await;
}

/// IDT-02: `aud` missing, another client, or an array with us and an untrusted audience
/// (and the other shapes of "not only us").
#[tokio::test]
async fn idt_02_aud_missing_other_or_untrusted_is_refused() {
    refused("aud missing", RS, |_, b| b.remove_claim("aud")).await;
    refused("aud other client", RS, |_, b| {
        b.set_claim("aud", json!("other-client"))
    })
    .await;
    refused("aud us + untrusted", RS, |_, b| {
        b.set_claim("aud", json!([CLIENT_ID, "untrusted-client"]));
    })
    .await;
    refused("aud [other]", RS, |_, b| {
        b.set_claim("aud", json!(["other-client"]))
    })
    .await;
    refused("aud []", RS, |_, b| b.set_claim("aud", json!([]))).await;
    refused("aud empty string", RS, |_, b| b.set_claim("aud", json!(""))).await;
    refused("aud upper-case", RS, |_, b| {
        b.set_claim("aud", json!(CLIENT_ID.to_uppercase()));
    })
    .await;
    refused("aud number", RS, |_, b| b.set_claim("aud", json!(42))).await;
    refused("aud object", RS, |_, b| {
        b.set_claim("aud", json!({"aud": CLIENT_ID}))
    })
    .await;
    accepted("aud [us]", RS, |_, b| {
        b.set_claim("aud", json!([CLIENT_ID]))
    })
    .await;
}

/// IDT-03: `aud` with us and another, `azp` another client (and `azp` other than us with a
/// single audience, or not a string).
#[tokio::test]
async fn idt_03_azp_other_than_us_is_refused() {
    refused("aud us+other, azp other", RS, |_, b| {
        b.set_claim("aud", json!([CLIENT_ID, "other-client"]));
        b.set_claim("azp", json!("other-client"));
    })
    .await;
    refused("aud us+other, azp us", RS, |_, b| {
        b.set_claim("aud", json!([CLIENT_ID, "other-client"]));
        b.set_claim("azp", json!(CLIENT_ID));
    })
    .await;
    refused("aud us, azp other", RS, |_, b| {
        b.set_claim("azp", json!("other-client"))
    })
    .await;
    refused("azp number", RS, |_, b| b.set_claim("azp", json!(7))).await;
    accepted("aud [us], azp us", RS, |_, b| {
        b.set_claim("aud", json!([CLIENT_ID]));
        b.set_claim("azp", json!(CLIENT_ID));
    })
    .await;
}

/// IDT-04: `sub` missing (empty, not a string, too long); `iat` missing (or not a number).
#[tokio::test]
async fn idt_04_sub_or_iat_missing_is_refused() {
    refused("sub missing", RS, |_, b| b.remove_claim("sub")).await;
    refused("sub empty", RS, |_, b| b.set_claim("sub", json!(""))).await;
    refused("sub number", RS, |_, b| b.set_claim("sub", json!(42))).await;
    refused("sub null", RS, |_, b| b.set_claim("sub", json!(null))).await;
    refused("sub 256 bytes", RS, |_, b| {
        b.set_claim("sub", json!("s".repeat(256)))
    })
    .await;
    refused("iat missing", RS, |_, b| b.remove_claim("iat")).await;
    refused("iat null", RS, |_, b| b.set_claim("iat", json!(null))).await;
    refused("iat string", RS, |_, b| {
        b.set_claim("iat", json!(now().to_string()))
    })
    .await;
}

/// IDT-05: `alg: none` with an empty signature (and its case variants, and `none` over a
/// real RSA signature, and an empty `alg`).
#[tokio::test]
async fn idt_05_alg_none_is_refused() {
    refused("alg none", RS, |_, b| b.signing = Signing::Unsigned).await;
    refused("alg None", RS, |_, b| {
        b.signing = Signing::Unsigned;
        b.header_alg = Some("None".into());
    })
    .await;
    refused("alg NONE", RS, |_, b| {
        b.signing = Signing::Unsigned;
        b.header_alg = Some("NONE".into());
    })
    .await;
    refused("alg none over an RS256 signature", RS, |_, b| {
        b.header_alg = Some("none".into());
    })
    .await;
    refused("alg empty", RS, |_, b| b.header_alg = Some(String::new())).await;
    refused("alg none, ES256 provider", ES, |_, b| {
        b.signing = Signing::Unsigned
    })
    .await;
    refused("alg none, EdDSA provider", ED, |_, b| {
        b.signing = Signing::Unsigned
    })
    .await;
}

/// IDT-07: `alg: HS256` signed with our `client_secret` while the provider is configured
/// for RS256 (and ES256, EdDSA); and HS256 keyed with the provider's public key (the
/// classic key confusion).
#[tokio::test]
async fn idt_07_hs256_with_the_client_secret_is_refused() {
    for alg in [RS, ES, ED] {
        refused(
            &format!("HS256 client secret, {}", alg.as_str()),
            alg,
            |_, b| {
                b.signing = Signing::HmacClientSecret;
            },
        )
        .await;
    }
    let n = Key::RsaA.published_public();
    refused("HS256 keyed with the RSA modulus", RS, move |_, b| {
        b.signing = Signing::Hmac(n);
    })
    .await;
    let jwk = serde_json::to_vec(&Key::RsaA.public_jwk()).unwrap();
    refused("HS256 keyed with the JWK", RS, move |_, b| {
        b.signing = Signing::Hmac(jwk)
    })
    .await;
    refused("HS256 header over an RS256 signature", RS, |_, b| {
        b.header_alg = Some("HS256".into());
    })
    .await;
}

/// IDT-08: invalid RS256 / ES256 / EdDSA signatures: one bit flipped, truncated, random,
/// or made by another key under the published key's `kid`; and keys offered by the token
/// itself (`jwk`, `jku` headers) are never used.
#[tokio::test]
async fn idt_08_invalid_signatures_are_refused() {
    for alg in [RS, ES, ED] {
        let a = alg.as_str();
        refused(&format!("{a} bit flipped"), alg, |_, b| {
            b.mangle = Mangle::FlipBit
        })
        .await;
        refused(&format!("{a} truncated"), alg, |_, b| {
            b.mangle = Mangle::Truncate
        })
        .await;
        refused(&format!("{a} random"), alg, |_, b| {
            b.mangle = Mangle::Garbage
        })
        .await;
    }
    refused("RS256 by another key under kid rsa-1", RS, |_, b| {
        b.sign_with(Key::RsaB);
        b.kid = Kid::Fixed("rsa-1".into());
    })
    .await;
    refused("EdDSA by another key under kid ed-1", ED, |_, b| {
        b.sign_with(Key::EdB);
        b.kid = Kid::Fixed("ed-1".into());
    })
    .await;
    refused("RS256 by an unpublished key, no kid", RS, |_, b| {
        b.sign_with(Key::RsaB);
        b.kid = Kid::Absent;
    })
    .await;
    let embedded = serde_json::Value::Object(Key::RsaB.public_jwk());
    refused(
        "RS256 with the attacker's key in a jwk header",
        RS,
        move |_, b| {
            b.sign_with(Key::RsaB);
            b.kid = Kid::Absent;
            b.header_extra.push(("jwk".into(), embedded));
        },
    )
    .await;
    refused(
        "RS256 with a jku header to the attacker's keys",
        RS,
        |_, b| {
            b.sign_with(Key::RsaB);
            b.kid = Kid::Absent;
            b.header_extra
                .push(("jku".into(), json!("https://evil.example/jwks.json")));
        },
    )
    .await;
    refused("crit header", RS, |_, b| {
        b.header_extra.push(("crit".into(), json!(["exp"])));
    })
    .await;
    refused("kid with an injection", RS, |_, b| {
        b.kid = Kid::Fixed("' OR 1=1 -- ../../etc/passwd".into());
    })
    .await;
}

/// IDT-09: no `kid`, a single key of the algorithm in the JWKS (with or without a `kid`
/// there, alone or beside keys of other algorithms): accepted.
#[tokio::test]
async fn idt_09_no_kid_with_a_single_key_is_accepted() {
    accepted("no kid, one key without kid", RS, |_, b| {
        b.jwks = vec![Jwk::without_kid(Key::RsaA)];
        b.kid = Kid::Absent;
    })
    .await;
    accepted("no kid, one key with kid", RS, |_, b| {
        b.jwks = vec![Jwk::new(Key::RsaA, "only")];
        b.kid = Kid::Absent;
    })
    .await;
    for alg in [RS, ES, ED] {
        accepted(
            &format!("no kid, one {} key among others", alg.as_str()),
            alg,
            |_, b| {
                b.kid = Kid::Absent;
            },
        )
        .await;
    }
}

/// IDT-10: no `kid`, several keys of the algorithm. Decision 5: every key of the configured
/// algorithm is tried — accepted when one verifies, refused when none does.
#[tokio::test]
async fn idt_10_no_kid_with_several_keys_tries_each() {
    accepted("no kid, the signer second of two", RS, |_, b| {
        b.jwks = vec![Jwk::new(Key::RsaB, "b"), Jwk::new(Key::RsaA, "a")];
        b.kid = Kid::Absent;
    })
    .await;
    accepted("no kid, the signer first of two", ED, |_, b| {
        b.jwks = vec![Jwk::new(Key::EdA, "a"), Jwk::new(Key::EdB, "b")];
        b.kid = Kid::Absent;
    })
    .await;
    refused("no kid, none of two keys", RS, |_, b| {
        b.jwks = vec![Jwk::new(Key::RsaB, "b1"), Jwk::without_kid(Key::RsaB)];
        b.kid = Kid::Absent;
    })
    .await;
}

/// IDT-12: `exp` in the past beyond the leeway, `exp` a string (or missing, null,
/// negative), `iat` far in the future, `iat` older than the accepted age, `nbf` in the
/// future. Positive control: `exp` 10 s ago and `iat` 10 s ahead are within the 30 s
/// leeway.
#[tokio::test]
async fn idt_12_expired_or_malformed_times_are_refused() {
    refused("exp 2 minutes ago", RS, |_, b| {
        b.set_claim("exp", json!(now() - 120))
    })
    .await;
    refused("exp string", RS, |_, b| {
        b.set_claim("exp", json!((now() + 600).to_string()))
    })
    .await;
    refused("exp missing", RS, |_, b| b.remove_claim("exp")).await;
    refused("exp null", RS, |_, b| b.set_claim("exp", json!(null))).await;
    refused("exp negative", RS, |_, b| b.set_claim("exp", json!(-1))).await;
    refused("exp boolean", RS, |_, b| b.set_claim("exp", json!(true))).await;
    refused("iat 10 minutes ahead", RS, |_, b| {
        b.set_claim("iat", json!(now() + 600))
    })
    .await;
    refused("iat two hours ago", RS, |_, b| {
        b.set_claim("iat", json!(now() - 7200))
    })
    .await;
    refused("nbf 10 minutes ahead", RS, |_, b| {
        b.set_claim("nbf", json!(now() + 600))
    })
    .await;
    accepted("exp 10 s ago, iat 10 s ahead", RS, |_, b| {
        b.set_claim("exp", json!(now() - 10));
        b.set_claim("iat", json!(now() + 10));
    })
    .await;
}

/// IDT-14: `at_hash` present and wrong (another token's, garbage, the SHA-256 form for an
/// EdDSA token, not a string): refused; absent: accepted (code flow).
#[tokio::test]
async fn idt_14_wrong_at_hash_is_refused() {
    refused("at_hash of another token", RS, |_, b| {
        b.set_claim("at_hash", json!(at_hash("at-of-someone-else")));
    })
    .await;
    refused("at_hash garbage", RS, |_, b| {
        b.set_claim("at_hash", json!("AAAAAAAAAAAAAAAAAAAAAA"))
    })
    .await;
    refused("at_hash number", RS, |_, b| {
        b.set_claim("at_hash", json!(1))
    })
    .await;
    refused("at_hash of another token, ES256", ES, |_, b| {
        b.set_claim("at_hash", json!(at_hash("at-of-someone-else")));
    })
    .await;
    refused("at_hash of another token, EdDSA", ED, |_, b| {
        b.set_claim("at_hash", json!(at_hash_eddsa("at-of-someone-else")));
    })
    .await;
    accepted("at_hash absent", RS, |_, b| b.at_hash = false).await;
    accepted("at_hash absent, EdDSA", ED, |_, b| b.at_hash = false).await;
}

/// IDT-14 (hash choice): `at_hash` of the right access token but with the wrong hash for
/// the algorithm — SHA-256 on an EdDSA token (Ed25519 hashes with SHA-512), SHA-512 on an
/// RS256 token — is refused; the right hash is accepted.
#[tokio::test]
async fn idt_14_at_hash_uses_the_hash_of_the_algorithm() {
    refused("EdDSA at_hash with SHA-256", ED, |_, b| {
        b.at_hash_kind = AtHash::Sha256
    })
    .await;
    refused("RS256 at_hash with SHA-512", RS, |_, b| {
        b.at_hash_kind = AtHash::Sha512
    })
    .await;
    accepted("EdDSA at_hash with SHA-512", ED, |_, b| {
        b.at_hash_kind = AtHash::Sha512
    })
    .await;
    accepted("ES256 at_hash with SHA-256", ES, |_, b| {
        b.at_hash_kind = AtHash::Sha256
    })
    .await;
}

/// IDT-15: the token's algorithm and the key's type disagree: an ES256 token whose `kid`
/// names the RSA key, an RS256 token whose `kid` names the EC key, a token of another
/// algorithm than configured, a JWK whose `alg` contradicts its key type.
#[tokio::test]
async fn idt_15_key_type_and_alg_mismatch_is_refused() {
    refused("ES256 token, kid of the RSA key", ES, |_, b| {
        b.kid = Kid::Fixed("rsa-1".into())
    })
    .await;
    refused("RS256 token, kid of the EC key", RS, |_, b| {
        b.kid = Kid::Fixed("ec-1".into())
    })
    .await;
    refused("EdDSA token, kid of the EC key", ED, |_, b| {
        b.kid = Kid::Fixed("ec-1".into())
    })
    .await;
    refused("ES256 token to an RS256 provider", RS, |_, b| {
        b.sign_with(Key::P256)
    })
    .await;
    refused("RS256 token to an ES256 provider", ES, |_, b| {
        b.sign_with(Key::RsaA)
    })
    .await;
    refused("ES256 token to an EdDSA provider", ED, |_, b| {
        b.sign_with(Key::P256)
    })
    .await;
    refused("EdDSA token to an RS256 provider", RS, |_, b| {
        b.sign_with(Key::EdA)
    })
    .await;
    // The JWK says RS256 but holds an EC key, under the kid the ES256 token names.
    refused("JWK alg contradicts its kty", ES, |_, b| {
        let mut jwk = Key::P256.public_jwk();
        jwk.insert("kid".into(), json!("mixed"));
        jwk.insert("alg".into(), json!("RS256"));
        b.jwks_raw = Some(json!({"keys": [jwk]}));
        b.kid = Kid::Fixed("mixed".into());
    })
    .await;
    // An RSA JWK that says ES256, for an ES256 token signed by the EC key.
    refused("RSA JWK claiming ES256", ES, |_, b| {
        let mut jwk = Key::RsaA.public_jwk();
        jwk.insert("kid".into(), json!("mixed"));
        jwk.insert("alg".into(), json!("ES256"));
        b.jwks_raw = Some(json!({"keys": [jwk]}));
        b.kid = Kid::Fixed("mixed".into());
    })
    .await;
}

/// KEY-05: the provider rotates its key: an ID token with a `kid` the cached set lacks
/// causes one JWKS refetch, then is accepted; a `kid` still unknown after it is refused
/// (and, within the cool-down, fetches nothing more).
#[tokio::test]
async fn key_05_rotated_key_is_fetched_once_then_accepted() {
    let (op, w) = setup(RS).await;
    op.set(|b| b.jwks = vec![Jwk::new(Key::RsaA, "2024-key")]);
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &person()).await;
    assert_eq!(op.jwks_fetches(), 1);

    // Rotation: the new key is published and signs from now on.
    op.set(|b| {
        b.jwks = vec![
            Jwk::new(Key::RsaB, "2025-key"),
            Jwk::new(Key::RsaA, "2024-key"),
        ];
        b.sign_with(Key::RsaB);
    });
    let mut jar = Jar::default();
    let res = w
        .sign_in(&op, &mut jar, "mock", &Person::new("after-rotation"))
        .await;
    assert_eq!(op.jwks_fetches(), 2, "no refetch for the new kid");
    assert_signed_in(&res);

    // A kid unknown even after the refetch.
    op.set(|b| b.kid = Kid::Fixed("2026-key".into()));
    let mut jar = Jar::default();
    let before = w.writes();
    let res = w
        .sign_in(&op, &mut jar, "mock", &Person::new("unknown-kid"))
        .await;
    assert_configuration(&res);
    w.assert_nothing(&res, before, "mock", "unknown-kid").await;
    assert!(
        op.jwks_fetches() <= 2,
        "fetched {} times",
        op.jwks_fetches()
    );
}

/// KEY-05 without `kid`: a provider with one key that signs without `kid` rotates it. The
/// cached set cannot verify the new token; one (rate-limited) refetch must pick the new key
/// up — otherwise such a provider stays broken until the process restarts.
#[tokio::test]
async fn key_05_rotated_key_without_kid_is_refetched() {
    let (op, w) = setup(RS).await;
    op.set(|b| {
        b.jwks = vec![Jwk::without_kid(Key::RsaA)];
        b.kid = Kid::Absent;
    });
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &person()).await;
    assert_eq!(op.jwks_fetches(), 1);

    op.set(|b| {
        b.jwks = vec![Jwk::without_kid(Key::RsaB)];
        b.sign_with(Key::RsaB);
    });
    let mut jar = Jar::default();
    let res = w
        .sign_in(&op, &mut jar, "mock", &Person::new("after-rotation"))
        .await;
    assert_eq!(
        op.jwks_fetches(),
        2,
        "no refetch for a kid-less token the cache cannot verify"
    );
    assert_signed_in(&res);
}

/// KEY-06: many callbacks, each with an ID token naming a different random `kid`: the JWKS
/// is fetched at most twice (the first fetch and one refetch) within the 60 s cool-down —
/// no amplification. 1,000 callbacks in concurrent batches of 25 (signatures are random
/// bytes: the `kid` is refused before any signature is checked, and RSA signing in a
/// debug build would dominate the run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_06_random_kids_do_not_amplify_jwks_fetches() {
    const CALLBACKS: usize = 1_000;
    const BATCH: usize = 25;
    let (op, w) = setup(RS).await;
    let (op, w) = (Arc::new(op), Arc::new(w));
    let mut jar = Jar::default();
    w.signed_in(&op, &mut jar, "mock", &person()).await;
    assert_eq!(op.jwks_fetches(), 1);
    op.set(|b| {
        b.kid = Kid::Random;
        b.mangle = Mangle::Garbage;
    });
    let before = w.writes();
    for batch in 0..CALLBACKS / BATCH {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..BATCH {
            let (op, w) = (op.clone(), w.clone());
            set.spawn(async move {
                let mut jar = Jar::default();
                let p = Person::new(&format!("kid-{batch}-{i}"));
                w.sign_in(&op, &mut jar, "mock", &p).await
            });
        }
        while let Some(res) = set.join_next().await {
            assert_configuration(&res.unwrap());
        }
    }
    assert_eq!(op.code_exchanges(), CALLBACKS + 1);
    assert_eq!(w.writes(), before);
    assert!(
        op.jwks_fetches() <= 2,
        "{CALLBACKS} random kids caused {} JWKS fetches",
        op.jwks_fetches()
    );
}

/// KEY-07: the JWKS endpoint is down or hangs: without cached keys the sign-in fails
/// closed; with the key cached it still succeeds; a `kid` not cached fails closed.
#[tokio::test]
async fn key_07_jwks_down_uses_cached_keys_and_fails_closed_otherwise() {
    for fault in [
        OpFault::Down,
        OpFault::Html500,
        OpFault::Slow(std::time::Duration::from_secs(30)),
    ] {
        let op = MockOp::start().await;
        let w = World::builder()
            .provider(op.oidc("mock").timeout(std::time::Duration::from_secs(1)))
            .build();
        // Cold: nothing cached.
        op.set(|b| b.jwks_fault = Some(fault.clone()));
        let mut jar = Jar::default();
        let before = w.writes();
        let res = within("cold", w.sign_in(&op, &mut jar, "mock", &person())).await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", SUB).await;

        // Up again: the failure was not cached; the keys are now.
        op.set(|b| b.jwks_fault = None);
        let mut jar = Jar::default();
        w.signed_in(&op, &mut jar, "mock", &person()).await;

        // Down again: the cached key still verifies.
        op.set(|b| b.jwks_fault = Some(fault.clone()));
        let mut jar = Jar::default();
        let res = within(
            "cached",
            w.sign_in(&op, &mut jar, "mock", &Person::new("cached")),
        )
        .await;
        assert_signed_in(&res);

        // Down, and a kid the cache lacks.
        op.set(|b| b.kid = Kid::Fixed("not-cached".into()));
        let mut jar = Jar::default();
        let before = w.writes();
        let res = within(
            "unknown",
            w.sign_in(&op, &mut jar, "mock", &Person::new("nc")),
        )
        .await;
        assert_configuration(&res);
        w.assert_nothing(&res, before, "mock", "nc").await;
    }
}
