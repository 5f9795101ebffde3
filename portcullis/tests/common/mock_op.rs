//! An in-process mock OpenID Provider (and GitHub-style OAuth 2.0 server) for the OAuth
//! tests, with a switch for every negative case of SECURITY.md §6.6, §6.7 and §6.11, plus a
//! small world around `Auth` (callbacks with no application fields, an optional memory
//! store, sign-in helpers and the assertions every callback answer shares).
//!
//! The server is an axum router on `127.0.0.1:0`:
//! - `GET /.well-known/openid-configuration` — issuer `http://127.0.0.1:PORT` (or a wrong
//!   one), endpoints below, optionally `authorization_response_iss_parameter_supported`;
//! - `GET /authorize` — records the request, issues a code for [`Behaviour::login_as`] and
//!   redirects back (tests mostly skip it: [`MockOp::authorize`] does the same in-process);
//! - `POST /token` — client authentication (basic or post), `grant_type`, `code`,
//!   `redirect_uri` and PKCE S256 checked; refresh-token rotation with reuse detection
//!   (a reused refresh token revokes the whole grant, as real providers do); every request
//!   recorded;
//! - `GET /userinfo` and `GET /user` (GitHub's path) — Bearer checked;
//! - `GET /jwks` — the configured key set, fetches counted;
//! - `GET /end_session` — recorded.
//!
//! ID tokens are signed with fixed published keys (no key generation): RFC 7515 A.2 (RSA),
//! RFC 7520 §3.4 (a second RSA key), RFC 7515 A.3 (P-256), RFC 8037 A.1 and RFC 8032 §7.1
//! test 2 (Ed25519).
#![cfg(feature = "oauth")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::StatusCode;
use portcullis::adapter::memory::MemoryAdapter;
use portcullis::adapter::{AdapterAccount, AdapterUser, UserAdapter};
use portcullis::jwt::{JweCodec, TokenFormat};
use portcullis::{
    Auth, AuthConfig, AuthConfigBuilder, CallbackError, Callbacks, Compat, Events, JwtParams,
    NoFields, OAuth, SessionParams, SessionStrategy, SignInEvent, Token, Trigger,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use super::{BASE, FaultyAdapter, Harness, Jar, ORIGIN, Res, SECRET, get, now, post_form};

/// The client registered at the mock.
pub const CLIENT_ID: &str = "portcullis-client";
/// Its secret (also the HS256 key of IDT-07).
pub const CLIENT_SECRET: &str = "portcullis-client-secret-5b3f0e";
/// The check cookie's name on the https test origin.
pub const CHECK_COOKIE: &str = "__Host-authjs.oauth-check";
/// The session cookie's name on the https test origin.
pub const SESSION_COOKIE: &str = "__Secure-authjs.session-token";
/// `ERR(Configuration)`.
pub const ERR_CONFIGURATION: &str = "https://app.example/api/auth/error?error=Configuration";

// ---------------------------------------------------------------------------------------
// Keys

/// RFC 7515 Appendix A.2.
const RSA_A: [&str; 5] = [
    // n
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    // e
    "AQAB",
    // d
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
    // p
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
    // q
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
];

/// RFC 7520 §3.4 ("bilbo.baggins@hobbiton.example").
const RSA_B: [&str; 5] = [
    "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw",
    "AQAB",
    "bWUC9B-EFRIo8kpGfh0ZuyGPvMNKvYWNtB_ikiH9k20eT-O1q_I78eiZkpXxXQ0UTEs2LsNRS-8uJbvQ-A1irkwMSMkK1J3XTGgdrhCku9gRldY7sNA_AKZGh-Q661_42rINLRCe8W-nZ34ui_qOfkLnK9QWDDqpaIsA-bMwWWSDFu2MUBYwkHTMEzLYGqOe04noqeq1hExBTHBOBdkMXiuFhUq1BU6l-DqEiWxqg82sXt2h-LMnT3046AOYJoRioz75tSUQfGCshWTBnP5uDjd18kKhyv07lhfSJdrPdM5Plyl21hsFf4L_mHCuoFau7gdsPfHPxxjVOcOpBrQzwQ",
    "3Slxg_DwTXJcb6095RoXygQCAZ5RnAvZlno1yhHtnUex_fp7AZ_9nRaO7HX_-SFfGQeutao2TDjDAWU4Vupk8rw9JR0AzZ0N2fvuIAmr_WCsmGpeNqQnev1T7IyEsnh8UMt-n5CafhkikzhEsrmndH6LxOrvRJlsPp6Zv8bUq0k",
    "uKE2dh-cTf6ERF4k4e_jy78GfPYUIaUyoSSJuBzp3Cubk3OCqs6grT8bR_cu0Dm1MZwWmtdqDyI95HrUeq3MP15vMMON8lHTeZu2lmKvwqW7anV5UzhM1iZ7z4yMkuUwFWoBvyY898EXvRD-hdqRxHlSqAZ192zB3pVFJ0s7pFc",
];

/// RFC 7515 Appendix A.3: x, y, d.
const P256_KEY: [&str; 3] = [
    "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
];

/// RFC 8037 Appendix A.1 (= RFC 8032 §7.1 test 1): d, x.
const ED_A: [&str; 2] = [
    "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
];

/// RFC 8032 §7.1 test 2: secret key, public key (hex).
const ED_B: [&str; 2] = [
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
];

/// A signing key of the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// RSA, RFC 7515 A.2 (RS256).
    RsaA,
    /// RSA, RFC 7520 §3.4 (RS256).
    RsaB,
    /// P-256, RFC 7515 A.3 (ES256).
    P256,
    /// Ed25519, RFC 8037 A.1 (EdDSA).
    EdA,
    /// Ed25519, RFC 8032 §7.1 test 2 (EdDSA).
    EdB,
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn rsa_key(parts: &[&str; 5]) -> rsa::RsaPrivateKey {
    let n = |i: usize| rsa::BigUint::from_bytes_be(&unb64(parts[i]));
    rsa::RsaPrivateKey::from_components(n(0), n(1), n(2), vec![n(3), n(4)]).expect("RSA key")
}

fn rsa_signer(key: Key) -> &'static rsa::pkcs1v15::SigningKey<sha2_010::Sha256> {
    static A: OnceLock<rsa::pkcs1v15::SigningKey<sha2_010::Sha256>> = OnceLock::new();
    static B: OnceLock<rsa::pkcs1v15::SigningKey<sha2_010::Sha256>> = OnceLock::new();
    match key {
        Key::RsaA => A.get_or_init(|| rsa::pkcs1v15::SigningKey::new(rsa_key(&RSA_A))),
        Key::RsaB => B.get_or_init(|| rsa::pkcs1v15::SigningKey::new(rsa_key(&RSA_B))),
        other => panic!("{other:?} is not an RSA key"),
    }
}

fn ed_seed(key: Key) -> [u8; 32] {
    let bytes = match key {
        Key::EdA => unb64(ED_A[0]),
        Key::EdB => hex(ED_B[0]),
        other => panic!("{other:?} is not an Ed25519 key"),
    };
    bytes.try_into().expect("32 bytes")
}

impl Key {
    /// The JOSE algorithm this key signs with.
    pub fn alg(self) -> &'static str {
        match self {
            Self::RsaA | Self::RsaB => "RS256",
            Self::P256 => "ES256",
            Self::EdA | Self::EdB => "EdDSA",
        }
    }

    /// The signature of `input` with this key.
    pub fn sign(self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::RsaA | Self::RsaB => {
                use rsa::signature::{SignatureEncoding as _, Signer as _};
                rsa_signer(self).sign(input).to_vec()
            }
            Self::P256 => {
                use p256::ecdsa::signature::Signer as _;
                let sk = p256::ecdsa::SigningKey::from_slice(&unb64(P256_KEY[2])).expect("P-256");
                let sig: p256::ecdsa::Signature = sk.sign(input);
                sig.to_vec()
            }
            Self::EdA | Self::EdB => {
                use ed25519_dalek::Signer as _;
                let sk = ed25519_dalek::SigningKey::from_bytes(&ed_seed(self));
                sk.sign(input).to_bytes().to_vec()
            }
        }
    }

    /// The public JWK (without `kid`/`alg`/`use`).
    pub fn public_jwk(self) -> Map<String, Value> {
        let v = match self {
            Self::RsaA => json!({"kty": "RSA", "n": RSA_A[0], "e": RSA_A[1]}),
            Self::RsaB => json!({"kty": "RSA", "n": RSA_B[0], "e": RSA_B[1]}),
            Self::P256 => {
                json!({"kty": "EC", "crv": "P-256", "x": P256_KEY[0], "y": P256_KEY[1]})
            }
            Self::EdA => json!({"kty": "OKP", "crv": "Ed25519", "x": ED_A[1]}),
            Self::EdB => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&hex(ED_B[1]))}),
        };
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// The published public key, raw (for the key self-checks): RSA `n`, P-256 `04||x||y`,
    /// Ed25519 `x`.
    pub fn published_public(self) -> Vec<u8> {
        match self {
            Self::RsaA => unb64(RSA_A[0]),
            Self::RsaB => unb64(RSA_B[0]),
            Self::P256 => {
                let mut v = vec![4u8];
                v.extend(unb64(P256_KEY[0]));
                v.extend(unb64(P256_KEY[1]));
                v
            }
            Self::EdA => unb64(ED_A[1]),
            Self::EdB => hex(ED_B[1]),
        }
    }

    /// The public key derived from the private one (for the key self-checks).
    pub fn derived_public(self) -> Vec<u8> {
        match self {
            Self::RsaA | Self::RsaB => {
                use rsa::traits::PublicKeyParts as _;
                let key = rsa_key(if self == Self::RsaA { &RSA_A } else { &RSA_B });
                key.n().to_bytes_be()
            }
            Self::P256 => {
                let sk = p256::ecdsa::SigningKey::from_slice(&unb64(P256_KEY[2])).expect("P-256");
                sk.verifying_key().to_sec1_bytes().to_vec()
            }
            Self::EdA | Self::EdB => ed25519_dalek::SigningKey::from_bytes(&ed_seed(self))
                .verifying_key()
                .to_bytes()
                .to_vec(),
        }
    }
}

/// One entry of the JWKS the mock serves.
#[derive(Debug, Clone)]
pub struct Jwk {
    pub key: Key,
    pub kid: Option<String>,
    /// Whether the entry carries `alg` (and `use: sig`).
    pub with_alg: bool,
}

impl Jwk {
    pub fn new(key: Key, kid: &str) -> Self {
        Self {
            key,
            kid: Some(kid.to_owned()),
            with_alg: true,
        }
    }

    pub fn without_kid(key: Key) -> Self {
        Self {
            key,
            kid: None,
            with_alg: true,
        }
    }

    fn json(&self) -> Value {
        let mut m = self.key.public_jwk();
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), json!(kid));
        }
        if self.with_alg {
            m.insert("alg".into(), json!(self.key.alg()));
            m.insert("use".into(), json!("sig"));
        }
        Value::Object(m)
    }
}

/// The default key set: one key of each algorithm.
pub fn default_jwks() -> Vec<Jwk> {
    vec![
        Jwk::new(Key::RsaA, "rsa-1"),
        Jwk::new(Key::P256, "ec-1"),
        Jwk::new(Key::EdA, "ed-1"),
    ]
}

// ---------------------------------------------------------------------------------------
// Behaviour switches

/// How the ID token is signed.
#[derive(Debug, Clone, PartialEq)]
pub enum Signing {
    /// With this key, under its own algorithm.
    Key(Key),
    /// HS256 keyed with the client secret (IDT-07).
    HmacClientSecret,
    /// HS256 keyed with these bytes (e.g. the RSA public key: key confusion).
    Hmac(Vec<u8>),
    /// `alg: none` with an empty signature (IDT-05).
    Unsigned,
}

/// The ID token's `kid` header.
#[derive(Debug, Clone, PartialEq)]
pub enum Kid {
    /// The `kid` the JWKS gives the signing key (none if it has none there).
    OfKey,
    /// No `kid`.
    Absent,
    /// This value.
    Fixed(String),
    /// A fresh random value per token.
    Random,
}

/// What happens to the signature after signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mangle {
    None,
    /// One bit of the signature flipped.
    FlipBit,
    /// Random bytes of the same length (cheap: no signing at all).
    Garbage,
    /// Only the first half of the signature.
    Truncate,
}

/// A failure of an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum OpFault {
    /// `400 {"error":"invalid_grant"}`.
    InvalidGrant,
    /// `500` with an HTML page.
    Html500,
    /// `200` with an HTML page (not JSON).
    Garbage200,
    /// `200 []` (JSON, not an object).
    NotAnObject,
    /// `503`.
    Down,
    /// Sleeps this long, then answers normally.
    Slow(Duration),
}

/// The hash of `at_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtHash {
    /// The algorithm's: SHA-256 for RS256/ES256, SHA-512 for EdDSA (Ed25519).
    Auto,
    Sha256,
    Sha512,
}

/// The person the mock authenticates.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `email_verified` as sent (`None`: the claim is absent).
    pub email_verified: Option<Value>,
    /// GitHub's numeric `id` (GitHub-style userinfo).
    pub github_id: u64,
}

impl Person {
    pub fn new(sub: &str) -> Self {
        Self {
            sub: sub.to_owned(),
            name: Some(format!("Person {sub}")),
            email: None,
            email_verified: None,
            github_id: 583_231,
        }
    }

    /// Adds an email and its `email_verified` claim (`None`: absent).
    pub fn email(mut self, email: &str, verified: Option<bool>) -> Self {
        self.email = Some(email.to_owned());
        self.email_verified = verified.map(Value::Bool);
        self
    }

    /// A GitHub user: numeric id, login as sub.
    pub fn github(id: u64, login: &str) -> Self {
        Self {
            sub: id.to_string(),
            name: Some(format!("The {login}")),
            email: Some(format!("{login}@github.test")),
            email_verified: None,
            github_id: id,
        }
    }
}

/// Every switch of the mock. Tests change it with [`MockOp::set`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Discovery: the `issuer` the document names (default: the real one).
    pub discovery_issuer: Option<Value>,
    /// Discovery: `authorization_response_iss_parameter_supported: true`.
    pub iss_parameter_supported: bool,
    /// `GET /authorize` and [`MockOp::authorize`]: the `iss` the response carries (`None`:
    /// none). Default: the issuer when [`Self::iss_parameter_supported`], else none.
    pub response_iss: Option<Option<String>>,
    /// Who `GET /authorize` signs in.
    pub login_as: Person,
    /// The client secret the token endpoint expects (and HS256 tokens are keyed with).
    pub client_secret: String,

    /// How the ID token is signed.
    pub signing: Signing,
    /// The `alg` header, when not the signing's own.
    pub header_alg: Option<String>,
    /// The `kid` header.
    pub kid: Kid,
    /// Extra header members.
    pub header_extra: Vec<(String, Value)>,
    /// What happens to the signature.
    pub mangle: Mangle,
    /// Claim overrides applied last: `Some` sets, `None` removes.
    pub claims: Vec<(String, Option<Value>)>,
    /// Whether `at_hash` is sent.
    pub at_hash: bool,
    /// Which hash `at_hash` uses.
    pub at_hash_kind: AtHash,
    /// `GET /jwks`: the keys.
    pub jwks: Vec<Jwk>,
    /// `GET /jwks`: this JSON instead of the keys.
    pub jwks_raw: Option<Value>,
    /// `GET /jwks`: a failure.
    pub jwks_fault: Option<OpFault>,

    /// `POST /token` (authorization code): a failure.
    pub token_fault: Option<OpFault>,
    /// Overrides of the token response members (`None` removes).
    pub token_overrides: Vec<(String, Option<Value>)>,
    /// `expires_in` of access tokens.
    pub expires_in: Option<i64>,
    /// Whether refresh tokens are issued.
    pub issue_refresh: bool,
    /// `expires_in` of access tokens from a refresh (default: [`Self::expires_in`]).
    pub refresh_expires_in: Option<i64>,
    /// Whether a refresh rotates the refresh token (the used one becomes invalid).
    pub rotate_refresh: bool,
    /// `POST /token` (refresh): a failure.
    pub refresh_fault: Option<OpFault>,
    /// `POST /token` (refresh): a delay before answering (widens race windows).
    pub refresh_delay: Option<Duration>,
    /// Whether a refresh also returns a new ID token.
    pub refresh_id_token: bool,

    /// `GET /userinfo`: a failure.
    pub userinfo_fault: Option<OpFault>,
    /// `GET /userinfo`: the `sub` (default: the person's).
    pub userinfo_sub: Option<String>,
    /// `GET /userinfo`: extra members.
    pub userinfo_extra: Vec<(String, Value)>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            discovery_issuer: None,
            iss_parameter_supported: false,
            response_iss: None,
            login_as: Person::new("web-user"),
            client_secret: CLIENT_SECRET.to_owned(),
            signing: Signing::Key(Key::RsaA),
            header_alg: None,
            kid: Kid::OfKey,
            header_extra: Vec::new(),
            mangle: Mangle::None,
            claims: Vec::new(),
            at_hash: true,
            at_hash_kind: AtHash::Auto,
            jwks: default_jwks(),
            jwks_raw: None,
            jwks_fault: None,
            token_fault: None,
            token_overrides: Vec::new(),
            expires_in: Some(3600),
            issue_refresh: true,
            refresh_expires_in: None,
            rotate_refresh: true,
            refresh_fault: None,
            refresh_delay: None,
            refresh_id_token: false,
            userinfo_fault: None,
            userinfo_sub: None,
            userinfo_extra: Vec::new(),
        }
    }
}

impl Behaviour {
    /// Sets an ID-token claim.
    pub fn set_claim(&mut self, name: &str, value: Value) {
        self.claims.push((name.to_owned(), Some(value)));
    }

    /// Removes an ID-token claim.
    pub fn remove_claim(&mut self, name: &str) {
        self.claims.push((name.to_owned(), None));
    }

    /// Signs with `key` (its own algorithm and `kid`).
    pub fn sign_with(&mut self, key: Key) {
        self.signing = Signing::Key(key);
    }
}

// ---------------------------------------------------------------------------------------
// Records

/// How a token request authenticated the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
    None,
    /// Wrong credentials, or both methods at once.
    Invalid,
}

/// One `POST /token`.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub form: HashMap<String, String>,
    pub auth: ClientAuth,
    /// The status answered.
    pub status: u16,
    /// The OAuth error answered, if any.
    pub error: Option<String>,
}

impl TokenRequest {
    pub fn grant_type(&self) -> &str {
        self.form.get("grant_type").map_or("", String::as_str)
    }
}

/// One `GET /userinfo` (or `/user`).
#[derive(Debug, Clone)]
pub struct UserinfoRequest {
    pub path: String,
    pub bearer: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
}

/// What the mock saw.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// `METHOD /path` of every request, in order.
    pub requests: Vec<String>,
    pub discovery_fetches: usize,
    pub jwks_fetches: usize,
    pub authorize: Vec<HashMap<String, String>>,
    pub token: Vec<TokenRequest>,
    pub userinfo: Vec<UserinfoRequest>,
    pub end_session: Vec<HashMap<String, String>>,
    /// Refresh-token grants received (whatever their outcome).
    pub refresh_grants: usize,
    /// Refresh tokens presented a second time (each revoked its grant).
    pub reuse_detected: usize,
}

#[derive(Debug, Clone)]
struct CodeGrant {
    person: Person,
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    method: Option<String>,
    nonce: Option<String>,
    scope: String,
    used: bool,
}

#[derive(Debug)]
struct Grant {
    person: Person,
    scope: String,
    revoked: bool,
}

#[derive(Debug)]
struct RefreshEntry {
    grant: usize,
    used: bool,
}

#[derive(Default)]
struct Grants {
    codes: HashMap<String, CodeGrant>,
    grants: Vec<Grant>,
    access: HashMap<String, usize>,
    refresh: HashMap<String, RefreshEntry>,
}

struct Inner {
    issuer: String,
    prefix: String,
    seq: AtomicUsize,
    behaviour: Mutex<Behaviour>,
    records: Mutex<Records>,
    grants: Mutex<Grants>,
}

impl Inner {
    fn fresh(&self, what: &str) -> String {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        format!("{what}-{}-{n}", self.prefix)
    }

    fn behaviour(&self) -> Behaviour {
        self.behaviour.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("random bytes");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `BASE64URL(SHA-256(verifier))` (RFC 7636 S256).
pub fn s256(verifier: &str) -> String {
    b64(&sha2::Sha256::digest(verifier.as_bytes()))
}

/// The `at_hash` of an access token for RS256/ES256 (left half of SHA-256).
pub fn at_hash(access_token: &str) -> String {
    b64(&sha2::Sha256::digest(access_token.as_bytes())[..16])
}

/// The `at_hash` of an access token for EdDSA with Ed25519 (left half of SHA-512).
pub fn at_hash_eddsa(access_token: &str) -> String {
    b64(&sha2::Sha512::digest(access_token.as_bytes())[..32])
}

// ---------------------------------------------------------------------------------------
// The server

/// A running mock provider. Dropping it stops the server.
pub struct MockOp {
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for MockOp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockOp {
    /// Starts a mock on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let issuer = format!("http://127.0.0.1:{}", addr.port());
        let inner = Arc::new(Inner {
            issuer: issuer.clone(),
            prefix: random_hex(6),
            seq: AtomicUsize::new(1),
            behaviour: Mutex::new(Behaviour::default()),
            records: Mutex::new(Records::default()),
            grants: Mutex::new(Grants::default()),
        });
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(discovery),
            )
            .route("/authorize", axum::routing::get(authorize))
            .route("/token", axum::routing::post(token))
            .route("/userinfo", axum::routing::get(userinfo))
            .route("/user", axum::routing::get(userinfo))
            .route("/jwks", axum::routing::get(jwks))
            .route("/end_session", axum::routing::get(end_session))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::from_fn_with_state(inner.clone(), record))
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            issuer,
            inner,
            server,
        }
    }

    /// `{issuer}{path}`.
    pub fn url(&self, path: &str) -> String {
        self.inner.url(path)
    }

    /// Changes the behaviour.
    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.inner.behaviour.lock().unwrap());
    }

    /// The behaviour now.
    pub fn behaviour(&self) -> Behaviour {
        self.inner.behaviour()
    }

    /// What the mock saw so far.
    pub fn records(&self) -> Records {
        self.inner.records.lock().unwrap().clone()
    }

    /// Every token request so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.records().token
    }

    /// Authorization-code token requests so far.
    pub fn code_exchanges(&self) -> usize {
        self.records()
            .token
            .iter()
            .filter(|t| t.grant_type() == "authorization_code")
            .count()
    }

    /// Refresh-token grants so far.
    pub fn refresh_grants(&self) -> usize {
        self.records().refresh_grants
    }

    /// JWKS fetches so far.
    pub fn jwks_fetches(&self) -> usize {
        self.records().jwks_fetches
    }

    /// Whether the grant a refresh token belongs to was revoked (reuse detected).
    pub fn grant_revoked(&self, refresh_token: &str) -> bool {
        let g = self.inner.grants.lock().unwrap();
        g.refresh
            .get(refresh_token)
            .is_some_and(|e| g.grants[e.grant].revoked)
    }

    /// An OIDC provider (discovery) for this mock, with the test client.
    pub fn oidc(&self, id: &str) -> OAuth {
        OAuth::oidc(id, format!("Mock {id}"), self.issuer.clone()).client(CLIENT_ID, CLIENT_SECRET)
    }

    /// The GitHub preset pointed at this mock.
    pub fn github(&self) -> OAuth {
        portcullis::providers::github()
            .authorization_url(self.url("/authorize"))
            .token_url(self.url("/token"))
            .userinfo_url(self.url("/user"))
            .client(CLIENT_ID, CLIENT_SECRET)
    }

    /// What `GET /authorize` does, in-process: checks the authorization request portcullis
    /// redirected to (`location`), issues a code for `person` and returns the callback.
    pub fn authorize(&self, location: &str, person: &Person) -> Authorization {
        self.authorize_with(location, person, false)
    }

    /// [`authorize`](Self::authorize), with the PKCE challenge stripped from the request
    /// first (an attacker between the browser and the provider, OAU-04): the code is issued
    /// without PKCE.
    pub fn authorize_without_pkce(&self, location: &str, person: &Person) -> Authorization {
        self.authorize_with(location, person, true)
    }

    fn authorize_with(&self, location: &str, person: &Person, strip_pkce: bool) -> Authorization {
        let url = url::Url::parse(location).expect("authorization URL");
        assert!(
            location.starts_with(&self.url("/authorize")),
            "not this mock's authorization endpoint: {location}"
        );
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        issue_code(&self.inner, &q, person, strip_pkce)
            .unwrap_or_else(|e| panic!("authorization request refused: {e}"))
    }

    /// `GET path` over a real connection (HTTP/1.1, `Connection: close`); returns the status
    /// line's code, the headers and the body.
    pub async fn http_get(&self, path_and_query: &str) -> (u16, HashMap<String, String>, String) {
        raw_http(&self.issuer, "GET", path_and_query, &[], "").await
    }

    /// `POST path` with a form body and extra headers over a real connection.
    pub async fn http_post_form(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        pairs: &[(&str, &str)],
    ) -> (u16, HashMap<String, String>, String) {
        let body = super::form(pairs);
        let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
        h.extend_from_slice(headers);
        raw_http(&self.issuer, "POST", path, &h, &body).await
    }

    /// The `Authorization: Basic` value of the test client.
    pub fn basic_auth() -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        )
    }
}

/// A minimal HTTP/1.1 client for talking to the mock directly.
async fn raw_http(
    issuer: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, HashMap<String, String>, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let host = issuer.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("HTTP response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, rest.to_owned())
}

/// An authorization response of the mock: what the browser would bring back to the
/// callback.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// `/callback/<id>` (under the base path).
    pub callback_path: String,
    pub code: String,
    pub state: Option<String>,
    pub iss: Option<String>,
    /// What the authorization request carried.
    pub nonce: Option<String>,
    pub challenge: Option<String>,
}

impl Authorization {
    /// The response parameters, in order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut v = vec![("code".to_owned(), self.code.clone())];
        if let Some(s) = &self.state {
            v.push(("state".to_owned(), s.clone()));
        }
        if let Some(i) = &self.iss {
            v.push(("iss".to_owned(), i.clone()));
        }
        v
    }

    /// `/callback/<id>?code=…&state=…[&iss=…]`.
    pub fn path(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            s.append_pair(&k, &v);
        }
        format!("{}?{}", self.callback_path, s.finish())
    }
}

fn issue_code(
    op: &Inner,
    q: &HashMap<String, String>,
    person: &Person,
    strip_pkce: bool,
) -> Result<Authorization, String> {
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err("response_type is not code".into());
    }
    let client_id = q.get("client_id").cloned().ok_or("no client_id")?;
    if client_id != CLIENT_ID {
        return Err(format!("unknown client {client_id}"));
    }
    let redirect_uri = q.get("redirect_uri").cloned().ok_or("no redirect_uri")?;
    let prefix = format!("{ORIGIN}{BASE}");
    let callback_path = redirect_uri
        .strip_prefix(&prefix)
        .ok_or_else(|| format!("redirect_uri {redirect_uri} is not under {prefix}"))?
        .to_owned();
    let (challenge, method) = if strip_pkce {
        (None, None)
    } else {
        (
            q.get("code_challenge").cloned(),
            q.get("code_challenge_method").cloned(),
        )
    };
    let code = op.fresh("code");
    let scope = q.get("scope").cloned().unwrap_or_default();
    op.grants.lock().unwrap().codes.insert(
        code.clone(),
        CodeGrant {
            person: person.clone(),
            client_id,
            redirect_uri,
            challenge: challenge.clone(),
            method,
            nonce: q.get("nonce").cloned(),
            scope,
            used: false,
        },
    );
    let b = op.behaviour();
    let iss = match b.response_iss {
        Some(v) => v,
        None => b.iss_parameter_supported.then(|| op.issuer.clone()),
    };
    Ok(Authorization {
        callback_path,
        code,
        state: q.get("state").cloned(),
        iss,
        nonce: q.get("nonce").cloned(),
        challenge,
    })
}

async fn record(State(op): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    op.records
        .lock()
        .unwrap()
        .requests
        .push(format!("{} {}", req.method(), req.uri().path()));
    next.run(req).await
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": "mock"}),
    )
}

/// Applies a fault that answers at once; `Slow` sleeps and returns `None` (go on).
async fn fault(f: Option<&OpFault>) -> Option<Response> {
    match f? {
        OpFault::InvalidGrant => Some(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant")),
        OpFault::Html500 => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body><h1>500 Internal Server Error</h1></body></html>",
            )
                .into_response(),
        ),
        OpFault::Garbage200 => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Welcome to nginx!</body></html>",
            )
                .into_response(),
        ),
        OpFault::NotAnObject => Some(json_response(StatusCode::OK, &json!([]))),
        OpFault::Down => Some(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        OpFault::Slow(d) => {
            tokio::time::sleep(*d).await;
            None
        }
    }
}

async fn discovery(State(op): State<Arc<Inner>>) -> Response {
    op.records.lock().unwrap().discovery_fetches += 1;
    let b = op.behaviour();
    let mut doc = json!({
        "issuer": b.discovery_issuer.clone().unwrap_or_else(|| json!(op.issuer)),
        "authorization_endpoint": op.url("/authorize"),
        "token_endpoint": op.url("/token"),
        "userinfo_endpoint": op.url("/userinfo"),
        "jwks_uri": op.url("/jwks"),
        "end_session_endpoint": op.url("/end_session"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
    });
    if b.discovery_issuer == Some(Value::Null) {
        doc.as_object_mut().unwrap().remove("issuer");
    }
    if b.iss_parameter_supported {
        doc["authorization_response_iss_parameter_supported"] = json!(true);
    }
    json_response(StatusCode::OK, &doc)
}

async fn authorize(
    State(op): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    op.records.lock().unwrap().authorize.push(q.clone());
    let person = op.behaviour().login_as;
    match issue_code(&op, &q, &person, false) {
        Ok(a) => {
            let mut url = url::Url::parse(&format!("{ORIGIN}{BASE}{}", a.callback_path))
                .expect("redirect URI");
            url.query_pairs_mut()
                .extend_pairs(a.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str())));
            (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

fn client_auth(headers: &HeaderMap, form: &HashMap<String, String>, expected: &str) -> ClientAuth {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|v| {
            let raw = STANDARD.decode(v).unwrap_or_default();
            let raw = String::from_utf8(raw).unwrap_or_default();
            let (id, secret) = raw.split_once(':').unwrap_or_default();
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (dec(id), dec(secret))
        });
    let post = form.get("client_secret").map(|s| {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            s.clone(),
        )
    });
    let ok = |(id, secret): &(String, String)| id == CLIENT_ID && secret == expected;
    match (basic, post) {
        (Some(_), Some(_)) => ClientAuth::Invalid,
        (Some(b), None) if ok(&b) => ClientAuth::Basic,
        (None, Some(p)) if ok(&p) => ClientAuth::Post,
        (None, None) => ClientAuth::None,
        _ => ClientAuth::Invalid,
    }
}

async fn token(State(op): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let auth = client_auth(&headers, &form, &op.behaviour().client_secret);
    let index = {
        let mut r = op.records.lock().unwrap();
        r.token.push(TokenRequest {
            form: form.clone(),
            auth: auth.clone(),
            status: 0,
            error: None,
        });
        r.token.len() - 1
    };
    let res = token_answer(&op, &form, &auth).await;
    let status = res.status().as_u16();
    let mut r = op.records.lock().unwrap();
    r.token[index].status = status;
    res
}

async fn token_answer(op: &Inner, form: &HashMap<String, String>, auth: &ClientAuth) -> Response {
    if !matches!(auth, ClientAuth::Basic | ClientAuth::Post) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let b = op.behaviour();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            if let Some(r) = fault(b.token_fault.as_ref()).await {
                return r;
            }
            code_grant(op, &b, form)
        }
        Some("refresh_token") => {
            op.records.lock().unwrap().refresh_grants += 1;
            if let Some(d) = b.refresh_delay {
                tokio::time::sleep(d).await;
            }
            if let Some(r) = fault(b.refresh_fault.as_ref()).await {
                return r;
            }
            refresh_grant(op, &b, form)
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

fn invalid_grant(op: &Inner, why: &str) -> Response {
    if let Some(last) = op.records.lock().unwrap().token.last_mut() {
        last.error = Some(format!("invalid_grant: {why}"));
    }
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant")
}

fn code_grant(op: &Inner, b: &Behaviour, form: &HashMap<String, String>) -> Response {
    let code = form.get("code").cloned().unwrap_or_default();
    let grant = {
        let mut g = op.grants.lock().unwrap();
        let Some(grant) = g.codes.get_mut(&code) else {
            drop(g);
            return invalid_grant(op, "unknown code");
        };
        if grant.used {
            drop(g);
            return invalid_grant(op, "code already used");
        }
        grant.used = true;
        grant.clone()
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return invalid_grant(op, "redirect_uri differs");
    }
    if form
        .get("client_id")
        .is_some_and(|id| id != &grant.client_id)
    {
        return invalid_grant(op, "client_id differs");
    }
    match (&grant.challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if grant.method.as_deref() != Some("S256") || &s256(verifier) != challenge {
                return invalid_grant(op, "PKCE verifier does not match");
            }
        }
        (Some(_), None) => return invalid_grant(op, "PKCE verifier missing"),
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is refused.
        (None, Some(_)) => return invalid_grant(op, "PKCE verifier for a code without PKCE"),
        (None, None) => {}
    }
    let openid = grant.scope.split(' ').any(|s| s == "openid");
    let mut g = op.grants.lock().unwrap();
    g.grants.push(Grant {
        person: grant.person.clone(),
        scope: grant.scope.clone(),
        revoked: false,
    });
    let id = g.grants.len() - 1;
    drop(g);
    let mut answer = issue_tokens(op, b, id, openid.then_some(grant.nonce.as_deref()));
    for (k, v) in &b.token_overrides {
        match v {
            Some(v) => {
                answer.insert(k.clone(), v.clone());
            }
            None => {
                answer.remove(k);
            }
        }
    }
    json_response(StatusCode::OK, &Value::Object(answer))
}

/// Access (and refresh, and ID) tokens for grant `id`. `id_token`: `Some(nonce)` to issue
/// an ID token.
fn issue_tokens(
    op: &Inner,
    b: &Behaviour,
    id: usize,
    id_token: Option<Option<&str>>,
) -> Map<String, Value> {
    let access = op.fresh("at");
    let mut g = op.grants.lock().unwrap();
    g.access.insert(access.clone(), id);
    let person = g.grants[id].person.clone();
    let scope = g.grants[id].scope.clone();
    let openid = scope.split(' ').any(|s| s == "openid");
    let mut m = Map::new();
    m.insert("access_token".into(), json!(access));
    m.insert(
        "token_type".into(),
        json!(if openid { "Bearer" } else { "bearer" }),
    );
    if let Some(e) = b.expires_in {
        m.insert("expires_in".into(), json!(e));
    }
    m.insert("scope".into(), json!(scope));
    if b.issue_refresh {
        let rt = op.fresh("rt");
        g.refresh.insert(
            rt.clone(),
            RefreshEntry {
                grant: id,
                used: false,
            },
        );
        m.insert("refresh_token".into(), json!(rt));
    }
    drop(g);
    if let Some(nonce) = id_token {
        m.insert(
            "id_token".into(),
            json!(id_token_for(op, b, &person, nonce, &access)),
        );
    }
    m
}

fn refresh_grant(op: &Inner, b: &Behaviour, form: &HashMap<String, String>) -> Response {
    let rt = form.get("refresh_token").cloned().unwrap_or_default();
    let id = {
        let mut g = op.grants.lock().unwrap();
        let Some(entry) = g.refresh.get(&rt) else {
            drop(g);
            return invalid_grant(op, "unknown refresh token");
        };
        let (id, used) = (entry.grant, entry.used);
        if g.grants[id].revoked {
            drop(g);
            return invalid_grant(op, "grant revoked");
        }
        if used {
            // RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the grant.
            g.grants[id].revoked = true;
            drop(g);
            op.records.lock().unwrap().reuse_detected += 1;
            return invalid_grant(op, "refresh token reused: grant revoked");
        }
        if b.rotate_refresh
            && let Some(e) = g.refresh.get_mut(&rt)
        {
            e.used = true;
        }
        id
    };
    let mut b2 = b.clone();
    b2.issue_refresh = b.rotate_refresh;
    if b.refresh_expires_in.is_some() {
        b2.expires_in = b.refresh_expires_in;
    }
    let openid = {
        let g = op.grants.lock().unwrap();
        g.grants[id].scope.split(' ').any(|s| s == "openid")
    };
    let answer = issue_tokens(op, &b2, id, (openid && b.refresh_id_token).then_some(None));
    json_response(StatusCode::OK, &Value::Object(answer))
}

/// A signed ID token for `person`.
fn id_token_for(
    op: &Inner,
    b: &Behaviour,
    person: &Person,
    nonce: Option<&str>,
    access_token: &str,
) -> String {
    let now = now();
    let mut c = Map::new();
    c.insert("iss".into(), json!(op.issuer));
    c.insert("sub".into(), json!(person.sub));
    c.insert("aud".into(), json!(CLIENT_ID));
    c.insert("exp".into(), json!(now + 600));
    c.insert("iat".into(), json!(now));
    c.insert("auth_time".into(), json!(now));
    if let Some(n) = nonce {
        c.insert("nonce".into(), json!(n));
    }
    if let Some(n) = &person.name {
        c.insert("name".into(), json!(n));
    }
    if let Some(e) = &person.email {
        c.insert("email".into(), json!(e));
    }
    if let Some(v) = &person.email_verified {
        c.insert("email_verified".into(), v.clone());
    }
    let alg = match &b.signing {
        Signing::Key(k) => k.alg(),
        Signing::HmacClientSecret | Signing::Hmac(_) => "HS256",
        Signing::Unsigned => "none",
    };
    if b.at_hash {
        let value = match (b.at_hash_kind, alg) {
            (AtHash::Sha256, _) | (AtHash::Auto, "RS256" | "ES256") => Some(at_hash(access_token)),
            (AtHash::Sha512, _) | (AtHash::Auto, "EdDSA") => Some(at_hash_eddsa(access_token)),
            (AtHash::Auto, _) => None,
        };
        if let Some(v) = value {
            c.insert("at_hash".into(), json!(v));
        }
    }
    for (k, v) in &b.claims {
        match v {
            Some(v) => {
                c.insert(k.clone(), v.clone());
            }
            None => {
                c.remove(k);
            }
        }
    }
    sign_jwt(b, &Value::Object(c))
}

/// Signs `claims` as [`Behaviour`] says (header, kid, signing, mangling).
pub fn sign_jwt(b: &Behaviour, claims: &Value) -> String {
    let alg = match &b.signing {
        Signing::Key(k) => k.alg(),
        Signing::HmacClientSecret | Signing::Hmac(_) => "HS256",
        Signing::Unsigned => "none",
    };
    let mut h = Map::new();
    h.insert(
        "alg".into(),
        json!(b.header_alg.clone().unwrap_or_else(|| alg.to_owned())),
    );
    h.insert("typ".into(), json!("JWT"));
    let kid = match &b.kid {
        Kid::OfKey => match &b.signing {
            Signing::Key(k) => b
                .jwks
                .iter()
                .find(|j| j.key == *k)
                .and_then(|j| j.kid.clone()),
            _ => None,
        },
        Kid::Absent => None,
        Kid::Fixed(k) => Some(k.clone()),
        Kid::Random => Some(random_hex(12)),
    };
    if let Some(kid) = kid {
        h.insert("kid".into(), json!(kid));
    }
    for (k, v) in &b.header_extra {
        h.insert(k.clone(), v.clone());
    }
    let input = format!(
        "{}.{}",
        b64(Value::Object(h).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let len = match &b.signing {
        Signing::Key(Key::RsaA | Key::RsaB) => 256,
        Signing::Key(_) => 64,
        Signing::HmacClientSecret | Signing::Hmac(_) => 32,
        Signing::Unsigned => 0,
    };
    let mut sig = if b.mangle == Mangle::Garbage {
        let mut v = vec![0u8; len];
        getrandom::fill(&mut v).expect("random bytes");
        v
    } else {
        match &b.signing {
            Signing::Key(k) => k.sign(input.as_bytes()),
            Signing::HmacClientSecret => hs256(b.client_secret.as_bytes(), input.as_bytes()),
            Signing::Hmac(key) => hs256(key, input.as_bytes()),
            Signing::Unsigned => Vec::new(),
        }
    };
    match b.mangle {
        Mangle::FlipBit => {
            if let Some(last) = sig.last_mut() {
                *last ^= 0x01;
            }
        }
        Mangle::Truncate => sig.truncate(sig.len() / 2),
        Mangle::None | Mangle::Garbage => {}
    }
    format!("{input}.{}", b64(&sig))
}

/// HMAC-SHA-256.
pub fn hs256(key: &[u8], input: &[u8]) -> Vec<u8> {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(key)
        .expect("HMAC takes any key");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

async fn userinfo(State(op): State<Arc<Inner>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let res = userinfo_answer(&op, bearer.as_deref()).await;
    op.records.lock().unwrap().userinfo.push(UserinfoRequest {
        path,
        bearer,
        user_agent,
        status: res.status().as_u16(),
    });
    res
}

async fn userinfo_answer(op: &Inner, bearer: Option<&str>) -> Response {
    let b = op.behaviour();
    if let Some(r) = fault(b.userinfo_fault.as_ref()).await {
        return r;
    }
    let grant = {
        let g = op.grants.lock().unwrap();
        bearer
            .and_then(|t| g.access.get(t))
            .filter(|id| !g.grants[**id].revoked)
            .map(|id| (g.grants[*id].person.clone(), g.grants[*id].scope.clone()))
    };
    let Some((person, scope)) = grant else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    let mut m = Map::new();
    if scope.split(' ').any(|s| s == "openid") {
        m.insert(
            "sub".into(),
            json!(b.userinfo_sub.clone().unwrap_or(person.sub.clone())),
        );
        if let Some(n) = &person.name {
            m.insert("name".into(), json!(n));
        }
        if let Some(e) = &person.email {
            m.insert("email".into(), json!(e));
        }
        if let Some(v) = &person.email_verified {
            m.insert("email_verified".into(), v.clone());
        }
    } else {
        // GitHub's `GET /user`.
        m.insert("id".into(), json!(person.github_id));
        m.insert(
            "login".into(),
            json!(person.name.clone().unwrap_or_default().replace(' ', "-")),
        );
        m.insert("name".into(), json!(person.name));
        m.insert("email".into(), json!(person.email));
        m.insert(
            "avatar_url".into(),
            json!(format!(
                "https://avatars.githubusercontent.test/u/{}",
                person.github_id
            )),
        );
    }
    for (k, v) in &b.userinfo_extra {
        m.insert(k.clone(), v.clone());
    }
    json_response(StatusCode::OK, &Value::Object(m))
}

async fn jwks(State(op): State<Arc<Inner>>) -> Response {
    op.records.lock().unwrap().jwks_fetches += 1;
    let b = op.behaviour();
    if let Some(r) = fault(b.jwks_fault.as_ref()).await {
        return r;
    }
    let body = b
        .jwks_raw
        .clone()
        .unwrap_or_else(|| json!({"keys": b.jwks.iter().map(Jwk::json).collect::<Vec<_>>()}));
    json_response(StatusCode::OK, &body)
}

async fn end_session(
    State(op): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    op.records.lock().unwrap().end_session.push(q);
    (StatusCode::OK, "signed out").into_response()
}

// ---------------------------------------------------------------------------------------
// The application around `Auth`

/// What the client sees on `session.user` beyond name, email and image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Shown {
    /// The user id (JWT: the token's `sub`; database: the stored user's id).
    pub id: String,
}

/// One sign-in run of the `jwt` callback.
#[derive(Debug, Clone)]
pub struct JwtCall {
    pub trigger: Option<Trigger>,
    pub is_new_user: bool,
    pub provider: Option<String>,
    pub profile: Option<Value>,
}

/// Callbacks without application fields (an OAuth user has none), recording sign-ins.
#[derive(Debug, Clone, Default)]
pub struct OAuthApp {
    pub jwt_calls: Arc<Mutex<Vec<JwtCall>>>,
}

#[portcullis::async_trait]
impl Callbacks for OAuthApp {
    type UserFields = NoFields;
    type Claims = NoFields;
    type Session = portcullis::Session<Shown>;

    async fn jwt(
        &self,
        p: JwtParams<'_, NoFields, NoFields>,
    ) -> Result<Option<Token<NoFields>>, CallbackError> {
        if p.user.is_some() {
            self.jwt_calls.lock().unwrap().push(JwtCall {
                trigger: p.trigger,
                is_new_user: p.is_new_user,
                provider: p.account.map(|a| a.provider.clone()),
                profile: p.profile.cloned(),
            });
        }
        Ok(Some(p.token))
    }

    async fn session(
        &self,
        p: SessionParams<'_, NoFields, NoFields>,
    ) -> Result<portcullis::Session<Shown>, CallbackError> {
        let id = p
            .user
            .map(|u| u.id.clone())
            .or_else(|| p.token.sub.clone())
            .unwrap_or_default();
        Ok(p.session.with_user_fields(Shown { id }))
    }
}

/// Every completed sign-in: (user id, provider, is new user).
#[derive(Debug, Clone, Default)]
pub struct SignIns(pub Arc<Mutex<Vec<(String, String, bool)>>>);

#[portcullis::async_trait]
impl Events for SignIns {
    async fn sign_in(&self, e: SignInEvent) {
        self.0
            .lock()
            .unwrap()
            .push((e.user_id, e.provider, e.is_new_user));
    }
}

/// Where users and sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// JWT sessions, no adapter: users exist only in tokens.
    None,
    /// JWT sessions, users and accounts in the memory store.
    Users,
    /// Database sessions in the memory store.
    Database,
}

type Configure = Box<dyn FnOnce(AuthConfigBuilder<OAuthApp>) -> AuthConfigBuilder<OAuthApp>>;

/// Builds a [`World`].
pub struct WorldBuilder {
    store: Store,
    mem: Option<Arc<MemoryAdapter>>,
    providers: Vec<OAuth>,
    configure: Vec<Configure>,
}

impl WorldBuilder {
    pub fn store(mut self, store: Store) -> Self {
        self.store = store;
        self
    }

    /// Shares a memory store (another instance of the same deployment).
    pub fn memory(mut self, mem: Arc<MemoryAdapter>) -> Self {
        self.mem = Some(mem);
        self
    }

    pub fn provider(mut self, p: OAuth) -> Self {
        self.providers.push(p);
        self
    }

    pub fn configure(
        mut self,
        f: impl FnOnce(AuthConfigBuilder<OAuthApp>) -> AuthConfigBuilder<OAuthApp> + 'static,
    ) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    pub fn build(self) -> World {
        let app = OAuthApp::default();
        let sign_ins = SignIns::default();
        let mem = self.mem.unwrap_or_else(|| Arc::new(MemoryAdapter::new()));
        let store = Arc::new(FaultyAdapter::new(mem.clone()));
        let mut b = AuthConfig::builder(app.clone())
            .url(ORIGIN)
            .secret(SECRET)
            .events(sign_ins.clone());
        match self.store {
            Store::None => {}
            Store::Users => {
                b = b
                    .user_adapter(store.clone())
                    .session_strategy(SessionStrategy::Jwt);
            }
            Store::Database => b = b.adapter(store.clone()),
        }
        for p in self.providers {
            b = b.oauth(p);
        }
        for f in self.configure {
            b = f(b);
        }
        let config = b.build().expect("valid test configuration");
        let h = Harness::new(
            Auth::new(config),
            ORIGIN,
            Compat::V5,
            SECRET,
            Arc::new(AtomicUsize::new(0)),
        );
        World {
            h,
            store_kind: self.store,
            mem,
            store,
            app,
            sign_ins,
        }
    }
}

/// `Auth` with OAuth providers, its store and what the callbacks saw.
pub struct World {
    pub h: Harness,
    pub store_kind: Store,
    /// The store itself (read directly).
    pub mem: Arc<MemoryAdapter>,
    /// What `Auth` talks to (counts calls, injects faults).
    pub store: Arc<FaultyAdapter>,
    pub app: OAuthApp,
    pub sign_ins: SignIns,
}

impl std::ops::Deref for World {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.h
    }
}

/// The adapter calls that write users, accounts or sessions.
const WRITES: &[&str] = &[
    "create_user",
    "create_user_with_account",
    "link_account",
    "update_account",
    "update_user",
    "create_session",
];

/// The redirect portcullis answered `POST /signin/<id>` with.
#[derive(Debug)]
pub struct Begun {
    pub location: String,
    pub res: Res,
}

impl Begun {
    /// A query parameter of the authorization request.
    pub fn param(&self, name: &str) -> Option<String> {
        url::Url::parse(&self.location)
            .expect("authorization URL")
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    pub fn state(&self) -> String {
        self.param("state").expect("state")
    }
}

impl World {
    /// A world with these providers and store.
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            store: Store::Database,
            mem: None,
            providers: Vec::new(),
            configure: Vec::new(),
        }
    }

    /// `POST /signin/<provider>` with a CSRF token (fetched into `jar`) and `extra` form
    /// fields; asserts the redirect to the provider and a check cookie; applies it to `jar`.
    pub async fn begin_with(&self, jar: &mut Jar, provider: &str, extra: &[(&str, &str)]) -> Begun {
        let csrf = self.h.csrf(jar).await;
        let mut pairs = vec![("csrfToken", csrf.as_str())];
        pairs.extend_from_slice(extra);
        let res = self
            .h
            .send(post_form(&format!("/signin/{provider}"), &pairs).jar(jar))
            .await;
        assert_eq!(res.status, StatusCode::FOUND, "sign-in start: {res:?}");
        let check = res
            .set_cookie(CHECK_COOKIE)
            .unwrap_or_else(|| panic!("no check cookie: {res:?}"));
        assert!(!check.is_deletion(), "{}", check.raw);
        jar.apply(&res);
        let location = res.location().expect("Location").to_owned();
        Begun { location, res }
    }

    /// [`begin_with`](Self::begin_with) without extra fields.
    pub async fn begin(&self, jar: &mut Jar, provider: &str) -> Begun {
        self.begin_with(jar, provider, &[]).await
    }

    /// `GET {base}{path}` with the jar; applies the answer.
    pub async fn get_callback(&self, jar: &mut Jar, path: &str) -> Res {
        let res = self.h.send(get(path).jar(jar)).await;
        jar.apply(&res);
        res
    }

    /// The callback of an authorization response.
    pub async fn callback(&self, jar: &mut Jar, auth: &Authorization) -> Res {
        self.get_callback(jar, &auth.path()).await
    }

    /// Start, authorize `person` at `op`, callback.
    pub async fn sign_in(
        &self,
        op: &MockOp,
        jar: &mut Jar,
        provider: &str,
        person: &Person,
    ) -> Res {
        let begun = self.begin(jar, provider).await;
        let auth = op.authorize(&begun.location, person);
        self.callback(jar, &auth).await
    }

    /// [`sign_in`](Self::sign_in), asserting success (redirect, session cookie, check
    /// deleted).
    pub async fn signed_in(
        &self,
        op: &MockOp,
        jar: &mut Jar,
        provider: &str,
        person: &Person,
    ) -> Res {
        let res = self.sign_in(op, jar, provider, person).await;
        assert_signed_in(&res);
        res
    }

    /// The callback of `auth`, asserting success.
    pub async fn signed_in_with(&self, jar: &mut Jar, auth: &Authorization) -> Res {
        let res = self.callback(jar, auth).await;
        assert_signed_in(&res);
        res
    }

    /// `GET /session` with the jar (applies the answer).
    pub async fn session(&self, jar: &mut Jar) -> Value {
        let res = self.h.send(get("/session").jar(jar)).await;
        assert_eq!(res.status, StatusCode::OK, "{res:?}");
        jar.apply(&res);
        res.json()
    }

    /// The claims of the session token in `jar` (JWT strategy).
    pub fn claims(&self, jar: &Jar) -> Value {
        self.h.decode_jar(jar)
    }

    /// How many writes (users, accounts, sessions) reached the store so far.
    pub fn writes(&self) -> usize {
        WRITES.iter().map(|m| self.store.calls(m)).sum()
    }

    /// The user linked to `(provider, sub)`, read from the store.
    pub async fn user_of(&self, provider: &str, sub: &str) -> Option<AdapterUser> {
        self.mem.user_by_account(provider, sub).await.unwrap()
    }

    /// The accounts of a user, read from the store.
    pub async fn accounts(&self, user_id: &str) -> Vec<AdapterAccount> {
        self.mem.accounts(user_id).await.unwrap()
    }

    /// `NOTHING`: no session cookie written, no store write since `writes_before`, and no
    /// account for `(provider, sub)`.
    pub async fn assert_nothing(&self, res: &Res, writes_before: usize, provider: &str, sub: &str) {
        assert_no_session(res);
        if self.store_kind != Store::None {
            assert_eq!(
                self.writes(),
                writes_before,
                "the store was written: {res:?}"
            );
            assert!(
                self.user_of(provider, sub).await.is_none(),
                "an account ({provider}, {sub}) exists"
            );
        }
    }

    /// Re-seals the check cookie in `jar` after `edit` changed its payload (the test knows
    /// the secret, as an insider would; used to make an expired check).
    pub fn reseal_check(&self, jar: &mut Jar, edit: impl FnOnce(&mut Value)) {
        let codec = JweCodec::new(&[SECRET.as_bytes()], CHECK_COOKIE, TokenFormat::V5, false)
            .expect("codec");
        let sealed = jar.get(CHECK_COOKIE).expect("a check cookie").to_owned();
        let plain = codec.decode(&sealed).expect("the check cookie opens");
        let mut v: Value = serde_json::from_slice(&plain).expect("check JSON");
        edit(&mut v);
        jar.set(CHECK_COOKIE, &codec.encode(v.to_string().as_bytes()));
    }
}

// ---------------------------------------------------------------------------------------
// Assertions shared by every callback answer

/// The check cookie is deleted.
pub fn assert_check_deleted(res: &Res) {
    let c = res
        .set_cookie(CHECK_COOKIE)
        .unwrap_or_else(|| panic!("the check cookie is not deleted: {res:?}"));
    assert!(
        c.is_deletion(),
        "the check cookie is not deleted: {}",
        c.raw
    );
}

/// No session cookie written.
pub fn assert_no_session(res: &Res) {
    for c in res.written() {
        assert!(
            !c.name.starts_with(SESSION_COOKIE),
            "a session cookie was written: {}",
            c.raw
        );
    }
}

/// `ERR(Configuration)` (and the check cookie deleted).
pub fn assert_configuration(res: &Res) {
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    assert_eq!(res.location(), Some(ERR_CONFIGURATION), "{res:?}");
    assert_check_deleted(res);
    assert_no_session(res);
}

/// `SIGNIN_ERR(code)` (and the check cookie deleted).
pub fn assert_signin_error(res: &Res, code: &str) {
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    assert_eq!(
        res.location(),
        Some(format!("{ORIGIN}{BASE}/signin?error={code}").as_str()),
        "{res:?}"
    );
    assert_check_deleted(res);
    assert_no_session(res);
}

/// A successful callback: a redirect (not to an error page), a session cookie, the check
/// deleted.
pub fn assert_signed_in(res: &Res) {
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    let location = res.location().unwrap_or_default();
    assert!(
        !location.contains("error="),
        "the sign-in failed: {location} {res:?}"
    );
    assert!(
        res.written()
            .iter()
            .any(|c| c.name.starts_with(SESSION_COOKIE)),
        "no session cookie: {res:?}"
    );
    assert_check_deleted(res);
}

/// Runs `f` with a 20 s cap: "never hangs".
pub async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 20 s"))
}

// ---------------------------------------------------------------------------------------
// Logs

/// Everything logged under the `portcullis` target while the guard of [`capture_logs`]
/// lives (this thread only: use a current-thread runtime).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures `portcullis=trace` on this thread until the guard drops.
pub fn capture_logs() -> (LogCapture, tracing::subscriber::DefaultGuard) {
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("portcullis=trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}
