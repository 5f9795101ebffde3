//! The session token's claims (the JWT payload), typed by the application.

use serde::{Deserialize, Serialize};

use crate::user::NoFields;

/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (Auth.js `clockTolerance`).
pub const CLOCK_TOLERANCE_SECS: i64 = 15;

/// The claims of a session token: Auth.js's standard ones plus the application's `C`.
///
/// On sign-in the token starts as `{name, email, picture, sub}` from the user; the `jwt`
/// callback adds what the application needs (`C`), and portcullis stamps `iat`, `exp` and
/// `jti` each time it encodes the token. Claims the types do not name are dropped when the
/// token is re-issued; keep them by giving `C` a `#[serde(flatten)]` map.
///
/// # Examples
/// ```
/// use portcullis::Token;
/// #[derive(serde::Serialize, serde::Deserialize, Default)]
/// struct Claims { role: Option<String> }
/// let t: Token<Claims> = serde_json::from_str(
///     r#"{"sub":"1","name":"Alice","role":"admin","iat":1,"exp":2,"jti":"x"}"#).unwrap();
/// assert_eq!(t.claims.role.as_deref(), Some("admin"));
/// assert_eq!(t.expires_at(), Some(2));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "C: Serialize", deserialize = "C: Deserialize<'de>"))]
pub struct Token<C = NoFields> {
    /// The user's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's image (Auth.js names this claim `picture`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// The user id. A token without one is not a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The application's claims.
    #[serde(flatten)]
    pub claims: C,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// When the user signed in (OIDC's `auth_time`): kept as the token is re-issued, so
    /// revocation ("not before") compares the sign-in, not the last refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(default, skip_serializing)]
    nbf: Option<i64>,
    /// The OAuth tokens portcullis keeps to refresh them (built-in rotation), when the
    /// sign-in went through a provider that issued a refresh token. Server-side only:
    /// nothing shows it to the client unless the `session` callback copies it.
    #[serde(default, rename = "oauth", skip_serializing_if = "Option::is_none")]
    pub provider_tokens: Option<ProviderTokens>,
}

/// The provider tokens of a JWT session, kept for refresh-token rotation.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProviderTokens {
    /// The provider id.
    pub provider: String,
    /// The current access token.
    pub access_token: String,
    /// The current refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Access-token expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The ID token, kept only for RP-initiated logout (`id_token_hint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// `RefreshTokenError` after a failed refresh: the user must sign in again to get
    /// working provider tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("provider", &self.provider)
            .field("expires_at", &self.expires_at)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<C> Token<C> {
    /// A fresh token for a user, before any callback ran.
    pub fn new(
        sub: impl Into<String>,
        name: Option<String>,
        email: Option<String>,
        picture: Option<String>,
        claims: C,
    ) -> Self {
        Self {
            name,
            email,
            picture,
            sub: Some(sub.into()),
            claims,
            iat: None,
            exp: None,
            jti: None,
            auth_time: None,
            nbf: None,
            provider_tokens: None,
        }
    }

    /// `iat`: when this token was issued (seconds since the epoch).
    pub fn issued_at(&self) -> Option<i64> {
        self.iat
    }

    /// `exp`: when it expires (seconds since the epoch).
    pub fn expires_at(&self) -> Option<i64> {
        self.exp
    }

    /// `jti`: this issuance's unique id.
    pub fn id(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// `auth_time`: when the user signed in (for tokens issued before portcullis added the
    /// claim, the first `iat` seen). Re-issuing the token keeps it.
    pub fn authenticated_at(&self) -> Option<i64> {
        self.auth_time.or(self.iat)
    }

    /// Stamps `iat`, `exp` and a fresh `jti` before encoding; `auth_time` is kept (set to
    /// the sign-in time on the first stamp).
    pub(crate) fn stamp(&mut self, now: i64, max_age: i64, jti: String) {
        self.auth_time = Some(self.auth_time.or(self.iat).unwrap_or(now));
        self.iat = Some(now);
        self.exp = Some(now.saturating_add(max_age));
        self.jti = Some(jti);
        self.nbf = None;
    }

    /// Counts the session as authenticated again at `at` (a "sign out everywhere else" keeps
    /// the current session alive past its own revocation).
    pub(crate) fn reauthenticate(&mut self, at: i64) {
        self.auth_time = Some(at);
    }

    /// The checks made on every decoded token, after decryption: `exp` present and not past
    /// (with [`CLOCK_TOLERANCE_SECS`]), `nbf`/`iat` not in the future, and a non-empty
    /// `sub` — a sealed value of another kind (a check cookie, `{}`) is not a session
    /// (SECURITY.md TOK-08, TOK-13, TOK-15, TOK-16).
    pub fn validate(&self, now: i64) -> Result<(), TokenError> {
        let exp = self.exp.ok_or(TokenError::MissingExpiry)?;
        if exp <= now.saturating_sub(CLOCK_TOLERANCE_SECS) {
            return Err(TokenError::Expired);
        }
        let future = now.saturating_add(CLOCK_TOLERANCE_SECS);
        if self.nbf.is_some_and(|nbf| nbf > future) || self.iat.is_some_and(|iat| iat > future) {
            return Err(TokenError::NotYetValid);
        }
        if self.sub.as_deref().is_none_or(str::is_empty) {
            return Err(TokenError::MissingSubject);
        }
        Ok(())
    }
}

/// Why a decrypted token is not a valid session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The JWE did not decrypt (wrong secret, tampering, malformed).
    #[error("the token did not decrypt")]
    Undecryptable,
    /// The claims are not a JSON object of the expected types.
    #[error("the token's claims have the wrong shape")]
    InvalidClaims,
    /// No `exp` claim.
    #[error("the token has no expiry")]
    MissingExpiry,
    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// No `sub` claim: not a session token.
    #[error("the token has no subject")]
    MissingSubject,
    /// The user revoked sessions issued before this token.
    #[error("the token was revoked")]
    Revoked,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(json: &str) -> Token {
        serde_json::from_str(json).unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn clock_tolerance_is_fifteen_seconds() {
        // CLK-01, CLK-02
        let ok = token(&format!(r#"{{"sub":"1","exp":{}}}"#, NOW - 10));
        assert_eq!(ok.validate(NOW), Ok(()));
        let edge = token(&format!(r#"{{"sub":"1","exp":{}}}"#, NOW - 15));
        assert_eq!(edge.validate(NOW), Err(TokenError::Expired));
        let late = token(&format!(r#"{{"sub":"1","exp":{}}}"#, NOW - 16));
        assert_eq!(late.validate(NOW), Err(TokenError::Expired));
    }

    #[test]
    fn required_claims() {
        // TOK-13, TOK-15, TOK-16
        assert_eq!(
            token(r#"{"sub":"1"}"#).validate(NOW),
            Err(TokenError::MissingExpiry)
        );
        let exp = NOW + 100;
        assert_eq!(
            token(&format!(r#"{{"exp":{exp}}}"#)).validate(NOW),
            Err(TokenError::MissingSubject)
        );
        assert_eq!(
            token(&format!(r#"{{"sub":"","exp":{exp}}}"#)).validate(NOW),
            Err(TokenError::MissingSubject)
        );
        assert_eq!(
            token(&format!(r#"{{"sub":"1","exp":{exp},"iat":{}}}"#, NOW + 600)).validate(NOW),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            token(&format!(r#"{{"sub":"1","exp":{exp},"nbf":{}}}"#, NOW + 600)).validate(NOW),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            token(&format!(r#"{{"sub":"1","exp":{exp},"iat":{}}}"#, NOW + 10)).validate(NOW),
            Ok(())
        );
    }

    #[test]
    fn wrong_claim_types_do_not_parse() {
        for bad in [
            r#"{"sub":"1","exp":"1900000000"}"#,
            r#"{"sub":"1","exp":1.9e9}"#,
            r#"{"sub":1,"exp":1900000000}"#,
            r#"{"sub":"1","exp":1900000000,"name":["a"]}"#,
            r#"[]"#,
            r#""x""#,
        ] {
            assert!(serde_json::from_str::<Token>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stamped_token_serialises_in_auth_js_order() {
        let mut t = Token::new("1", Some("A".into()), None, None, NoFields {});
        t.stamp(100, 50, "j".into());
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"name":"A","sub":"1","iat":100,"exp":150,"jti":"j","auth_time":100}"#
        );
    }
}
