//! The session secret: from `AUTH_SECRET` (+ `AUTH_SECRET_1..n`), or — in development
//! only — generated once into `<data dir>/secret` (mode 0600) and reused.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A new secret: 32 random bytes as 64 hex characters.
pub(crate) fn generate() -> Result<String, String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| format!("no system randomness: {e}"))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads the development secret from `dir/secret`, creating it when missing. Returns the
/// secret and whether it was created now.
pub(crate) fn dev_secret(dir: &Path) -> Result<(String, bool), String> {
    let path = dir.join("secret");
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let s = s.trim().to_owned();
            if s.len() < portcullis::MIN_SECRET_LEN {
                return Err(format!(
                    "AUTH_SECRET: the stored secret `{}` is shorter than {} bytes: delete the file or set AUTH_SECRET",
                    path.display(),
                    portcullis::MIN_SECRET_LEN
                ));
            }
            Ok((s, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "AUTH_SECRET: cannot create `{}` for the development secret ({e}): set AUTH_SECRET or make it writable",
                    dir.display()
                )
            })?;
            let secret = generate()?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| {
                    format!(
                        "AUTH_SECRET: cannot write `{}` ({e}): set AUTH_SECRET or make the directory writable",
                        path.display()
                    )
                })?;
            writeln!(f, "{secret}").map_err(|e| {
                format!(
                    "AUTH_SECRET: cannot write `{}` ({e}): set AUTH_SECRET",
                    path.display()
                )
            })?;
            Ok((secret, true))
        }
        Err(e) => Err(format!(
            "AUTH_SECRET: cannot read `{}` ({e}): fix its permissions or set AUTH_SECRET",
            path.display()
        )),
    }
}
