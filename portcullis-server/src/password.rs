//! The server's password hasher: `portcullis::password` with its defaults (Argon2id,
//! m = 19456 KiB, t = 2, p = 1; 8 to 1024 bytes), one instance shared by sign-in and the
//! `users` commands so both apply the same policy.

use std::sync::LazyLock;

use portcullis::password::{PasswordError, PasswordHasher};

static HASHER: LazyLock<PasswordHasher> = LazyLock::new(PasswordHasher::default);

/// The hasher.
pub(crate) fn hasher() -> &'static PasswordHasher {
    &HASHER
}

/// Hashes a new password (`users add`, `users set-password`).
pub(crate) async fn hash(password: &str) -> Result<String, PasswordError> {
    hasher().hash(password).await
}
