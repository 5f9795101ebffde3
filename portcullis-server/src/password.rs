//! Argon2id password hashing with OWASP's parameters (m = 19456 KiB, t = 2, p = 1), on
//! tokio's blocking pool: a hash takes tens of milliseconds of CPU and must not stall the
//! async workers.

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// Shortest password accepted when setting one.
pub(crate) const MIN_LEN: usize = 8;
/// Longest password accepted, in bytes (setting and verifying; longer input is refused
/// before any hashing: SECURITY.md CRD-04).
pub(crate) const MAX_LEN: usize = 1024;

fn argon2() -> Argon2<'static> {
    // The parameters are constants within the documented bounds.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetError {
    #[error("the password must be {MIN_LEN} to {MAX_LEN} bytes long")]
    Length,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Hashes a new password into a PHC string.
pub(crate) async fn hash(password: String) -> Result<String, SetError> {
    if !(MIN_LEN..=MAX_LEN).contains(&password.len()) {
        return Err(SetError::Length);
    }
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| SetError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| SetError::Hash(e.to_string()))?
}

/// A fixed hash of a random password, verified when the user is unknown or has no
/// password so that every failed sign-in costs one argon2id verification (CRD-01/02).
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut raw = [0u8; 24];
        let _ = getrandom::fill(&mut raw);
        argon2()
            .hash_password(&raw)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Computes the dummy hash now (at startup), so the first unknown-user sign-in does not
/// pay for it twice.
pub(crate) fn warm_up() {
    let _ = dummy_hash();
}

/// Verifies `password` against `phc`, or against the dummy hash when `phc` is `None` (the
/// answer is then always `false`, after the same work). Over-long passwords are refused
/// without hashing.
pub(crate) async fn verify(password: String, phc: Option<String>) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    let real = phc.is_some();
    tokio::task::spawn_blocking(move || {
        let hash = phc.as_deref().unwrap_or_else(|| dummy_hash());
        let ok = argon2().verify_password(password.as_bytes(), hash).is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let phc = hash("correct horse".to_owned()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse".to_owned(), Some(phc.clone())).await);
        assert!(!verify("wrong horse".to_owned(), Some(phc)).await);
        assert!(!verify("anything".to_owned(), None).await);
        assert!(matches!(
            hash("short".to_owned()).await,
            Err(SetError::Length)
        ));
        assert!(matches!(
            hash("x".repeat(MAX_LEN + 1)).await,
            Err(SetError::Length)
        ));
        assert!(!verify("x".repeat(MAX_LEN + 1), None).await);
    }
}
