//! Email address normalisation (`portcullis::email::normalize_identifier`, feature `email`)
//! on arbitrary strings.
//!
//! Checks:
//! - it never panics, and refuses input over four times `MAX_EMAIL_LEN` bytes;
//! - it is idempotent: a normalised address normalises to itself;
//! - a normalised address is at most `MAX_EMAIL_LEN` bytes of lowercase ASCII with exactly
//!   one `@`, a dot-atom local part of at most 64 bytes, and a domain of at least two
//!   letter-digit-hyphen labels: nothing that could make a header or a list (no white
//!   space, control characters, `,` `;` `<` `>` `"`);
//! - surrounding white space does not change the result.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::email::{InvalidEmail, MAX_EMAIL_LEN, normalize_identifier};

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let result = normalize_identifier(&raw);
    if raw.len() > 4 * MAX_EMAIL_LEN {
        assert_eq!(result, Err(InvalidEmail::TooLong));
        return;
    }
    let padded = format!(" \t{raw}\n ");
    if padded.len() <= 4 * MAX_EMAIL_LEN {
        assert_eq!(
            normalize_identifier(&padded),
            result,
            "white space changed the result"
        );
    }
    let Ok(address) = result else { return };
    assert_eq!(
        normalize_identifier(&address).as_ref(),
        Ok(&address),
        "not idempotent"
    );
    assert!(address.len() <= MAX_EMAIL_LEN);
    assert!(address.is_ascii());
    assert!(!address.bytes().any(|b| b.is_ascii_uppercase()
        || b.is_ascii_whitespace()
        || b.is_ascii_control()
        || b",;<>\"".contains(&b)));
    let Some((local, domain)) = address.split_once('@') else {
        panic!("no @ in {address:?}");
    };
    assert!(!domain.contains('@'));
    assert!(!local.is_empty() && local.len() <= 64);
    assert!(!local.starts_with('.') && !local.ends_with('.') && !local.contains(".."));
    let labels: Vec<&str> = domain.split('.').collect();
    assert!(labels.len() >= 2, "{domain:?} has one label");
    for label in labels {
        assert!(!label.is_empty() && label.len() <= 63);
        assert!(!label.starts_with('-') && !label.ends_with('-'));
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }
});
