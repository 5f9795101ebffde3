#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use argon2::password_hash::CustomizedPasswordHasher as _;
use proptest::prelude::*;

use super::*;

const PW: &str = "correct horse battery";
/// A real bcrypt hash (of "password"), as an imported user table might hold.
const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

/// Cheap parameters (m = 64 KiB, t = 1) for tests about behaviour rather than cost; `new`
/// refuses them, so hashes made with them also stand for "older, weaker parameters".
fn cheap() -> PasswordHasher {
    PasswordHasher::insecure_for_tests(64, 1, 1)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A hash of `password` with any algorithm, version, parameters and salt.
fn custom_hash(password: &str, alg: &str, version: u32, m: u32, t: u32, salt: &[u8]) -> String {
    Argon2::default()
        .hash_password_customized(
            password.as_bytes(),
            salt,
            Some(alg),
            Some(version),
            Params::new(m, t, 1, None).unwrap(),
        )
        .unwrap()
        .to_string()
}

/// Polls a future once without any runtime.
#[test]
fn defaults_are_owasp_argon2id() {
    let h = PasswordHasher::default();
    let p = &h.inner.params;
    assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19_456, 2, 1));
    assert_eq!((h.min_len, h.max_len), (8, 1024));
    assert!(h.max_concurrent >= 1);
    let debug = format!("{h:?}");
    assert!(
        debug.contains("memory_kib: 19456") && debug.contains("iterations: 2"),
        "{debug}"
    );
    assert!(!debug.contains("AAAA"), "the dummy is not part of Debug");
}

#[test]
fn hash_is_argon2id_v19_owasp_and_verifies() {
    rt().block_on(async {
        let h = PasswordHasher::default();
        let phc = h.hash(PW).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(parsed.salt.unwrap().len(), 16);
        assert_eq!(parsed.hash.unwrap().len(), 32);
        assert_ne!(phc, h.hash(PW).await.unwrap(), "a fresh salt every time");

        let ok = h.verify(PW, Some(&phc)).await;
        assert_eq!(ok, Verification::Valid { rehash: false });
        assert!(ok.is_valid() && !ok.needs_rehash());
        let wrong = h.verify("correct horse batterY", Some(&phc)).await;
        assert_eq!(wrong, Verification::Invalid);
        assert!(!wrong.is_valid() && !wrong.needs_rehash());
        assert!(!h.needs_rehash(&phc));
    });
}

#[test]
fn no_stored_hash_is_invalid_for_every_password() {
    rt().block_on(async {
        let h = cheap();
        for pw in [PW, "", "AAAAAAAA", "\0"] {
            assert_eq!(h.verify(pw, None).await, Verification::Invalid, "{pw:?}");
        }
    });
}

#[test]
fn dummy_is_a_full_verification_with_the_hashers_parameters() {
    for h in [
        PasswordHasher::default(),
        PasswordHasher::new(65_536, 3, 4).unwrap(),
    ] {
        let dummy = verifiable(&h.inner.dummy).expect("the dummy parses and is verifiable");
        assert!(h.inner.is_current(&dummy), "{}", h.inner.dummy);
        assert!(!h.needs_rehash(&h.inner.dummy));
    }
}

/// SECURITY.md CRD-02 at the unit level, structurally (tests never time anything; the
/// `signin_load` bench measures the medians): an unknown user (`None`) and a foreign stored
/// hash are verified against the dummy, which has the hasher's own parameters, so each
/// costs exactly the one Argon2 run a wrong password costs.
#[test]
fn unknown_user_and_foreign_hash_verify_against_the_dummy() {
    let h = PasswordHasher::default();
    let dummy = verifiable(&h.inner.dummy).expect("the dummy parses");
    assert!(h.inner.is_current(&dummy));
    assert!(
        verifiable(BCRYPT).is_none(),
        "a foreign hash is not verifiable itself"
    );
    let phc = h.inner.hash(PW.as_bytes()).unwrap();
    for stored in [None, Some(phc.as_str()), Some(BCRYPT)] {
        assert_eq!(
            h.inner.verify(b"wrong password", stored),
            Verification::Invalid
        );
    }
}

#[test]
fn length_is_checked_in_bytes_before_hashing() {
    rt().block_on(async {
        let h = PasswordHasher::default().max_concurrent(1);
        // Hold the only permit: anything that tried to hash would wait forever.
        let permit = h.permits.clone().acquire_owned().await.unwrap();
        let too_long = "x".repeat(1_000_000);
        let length = Err(PasswordError::Length { min: 8, max: 1024 });
        for pw in [
            "",
            "7 bytes",
            &"x".repeat(1025),
            &too_long,
            &"😀".repeat(257),
        ] {
            let r = tokio::time::timeout(Duration::from_secs(5), h.hash(pw)).await;
            assert_eq!(r.unwrap(), length, "{} bytes", pw.len());
        }
        for pw in [&"x".repeat(1025), &too_long] {
            let r = tokio::time::timeout(Duration::from_secs(5), h.verify(pw, None)).await;
            assert_eq!(r.unwrap(), Verification::Invalid);
        }
        drop(permit);
        // The bounds themselves are accepted: 8 bytes, and 1024 bytes = 256 four-byte emoji.
        for pw in ["8 bytes!", &"😀".repeat(256)] {
            let phc = h.hash(pw).await.unwrap();
            assert!(h.verify(pw, Some(&phc)).await.is_valid());
        }
        assert_eq!(
            PasswordError::Length { min: 8, max: 1024 }.to_string(),
            "the password must be 8 to 1024 bytes long"
        );
    });
}

#[test]
fn verify_refuses_a_right_password_over_max_len() {
    rt().block_on(async {
        let long = "y".repeat(1500);
        let roomy = cheap().max_len(2048);
        let phc = roomy.hash(&long).await.unwrap();
        assert!(roomy.verify(&long, Some(&phc)).await.is_valid());
        assert_eq!(
            cheap().verify(&long, Some(&phc)).await,
            Verification::Invalid,
            "over the default 1024 bytes"
        );
    });
}

#[test]
fn length_builders_clamp() {
    let h = cheap().max_len(10);
    assert_eq!(h.max_len, 64, "ASVS: 64 characters are always allowed");
    assert_eq!(cheap().min_len(0).min_len, 1, "never the empty password");
    let h = cheap().min_len(100).max_len(64);
    assert_eq!((h.min_len, h.max_len), (100, 100), "max never below min");
    let h = cheap().max_len(64).min_len(80);
    assert_eq!((h.min_len, h.max_len), (80, 80));
    rt().block_on(async {
        let h = cheap().min_len(12);
        assert_eq!(h.hash("eleven chars").await.map(|_| ()), Ok(()), "12 bytes");
        assert_eq!(
            h.hash("eleven char").await,
            Err(PasswordError::Length { min: 12, max: 1024 })
        );
        // A password set under an older, shorter minimum still verifies.
        let old = cheap().hash("8 bytes!").await.unwrap();
        assert!(h.verify("8 bytes!", Some(&old)).await.is_valid());
    });
}

#[test]
fn new_refuses_parameters_below_owasp() {
    for (m, t) in [
        (19_456, 1),
        (19_455, 2),
        (12_287, 3),
        (9_216, 3),
        (7_168, 4),
        (47_103, 1),
    ] {
        assert!(
            matches!(PasswordHasher::new(m, t, 1), Err(PasswordError::Params(_))),
            "m={m} t={t}"
        );
    }
    for (m, t) in [
        (47_104, 1),
        (19_456, 2),
        (12_288, 3),
        (9_216, 4),
        (7_168, 5),
        (65_536, 3),
    ] {
        assert!(PasswordHasher::new(m, t, 1).is_ok(), "m={m} t={t}");
    }
    // What argon2 itself rejects: no lanes; fewer than 8 KiB per lane.
    assert!(matches!(
        PasswordHasher::new(19_456, 2, 0),
        Err(PasswordError::Params(_))
    ));
    assert!(matches!(
        PasswordHasher::new(47_104, 2, 10_000),
        Err(PasswordError::Params(_))
    ));
    let e = PasswordHasher::new(19_456, 1, 1).unwrap_err().to_string();
    assert!(e.contains("OWASP"), "{e}");
}

#[test]
fn other_accepted_parameters_hash_with_their_own() {
    rt().block_on(async {
        let h = PasswordHasher::new(12_288, 3, 1).unwrap();
        let phc = h.hash(PW).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{phc}");
        assert_eq!(
            h.verify(PW, Some(&phc)).await,
            Verification::Valid { rehash: false }
        );
        assert!(PasswordHasher::default().needs_rehash(&phc));
    });
}

#[test]
fn old_parameters_verify_and_ask_for_a_rehash() {
    rt().block_on(async {
        let current = PasswordHasher::default();
        // OWASP's former recommendation (m = 15 MiB, t = 2), and weaker still.
        let old = [
            custom_hash(PW, "argon2id", 0x13, 15_360, 2, b"saltsaltsaltsalt"),
            cheap().hash(PW).await.unwrap(),
            custom_hash(PW, "argon2i", 0x13, 64, 1, b"saltsaltsaltsalt"),
            custom_hash(PW, "argon2id", 0x10, 64, 1, b"saltsaltsaltsalt"),
            custom_hash(PW, "argon2id", 0x13, 64, 1, b"8bytesal"),
        ];
        for phc in &old {
            assert!(current.needs_rehash(phc), "{phc}");
            assert_eq!(
                current.verify(PW, Some(phc)).await,
                Verification::Valid { rehash: true },
                "{phc}"
            );
            assert!(current.verify(PW, Some(phc)).await.needs_rehash());
            assert_eq!(
                current.verify("wrong horse battery", Some(phc)).await,
                Verification::Invalid
            );
        }
        // After the rehash the new hash is current.
        let fresh = current.hash(PW).await.unwrap();
        assert!(!current.needs_rehash(&fresh));
    });
}

#[test]
fn a_stronger_current_hasher_asks_for_a_rehash() {
    rt().block_on(async {
        let phc = PasswordHasher::default().hash(PW).await.unwrap();
        let stronger = PasswordHasher::new(65_536, 3, 1).unwrap();
        assert!(stronger.needs_rehash(&phc));
        assert_eq!(
            stronger.verify(PW, Some(&phc)).await,
            Verification::Valid { rehash: true }
        );
        // And the other way round: the configuration is the policy.
        let strong = stronger.hash(PW).await.unwrap();
        assert!(PasswordHasher::default().needs_rehash(&strong));
        assert!(!stronger.needs_rehash(&strong));
    });
}

#[test]
fn foreign_and_malformed_hashes_are_invalid_and_need_a_rehash() {
    rt().block_on(async {
        let h = cheap();
        let real = h.hash(PW).await.unwrap();
        let truncated = &real[..real.len() - 5];
        let no_output = real.rsplit_once('$').unwrap().0;
        let foreign = [
            BCRYPT,
            "",
            "garbage",
            "$",
            "$argon2id",
            "$argon2id$v=19$m=64,t=1,p=1$",
            no_output,
            truncated,
            "$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            "$pbkdf2-sha256$29000$N2bMmZMyZoytlTJmbK2ckw$Ka9Cu.GmlG7aUg4dtMvapwFuRD8FBfk4wS7cxmGtk8U",
        ];
        for phc in foreign {
            assert_eq!(h.verify(PW, Some(phc)).await, Verification::Invalid, "{phc}");
            assert!(h.needs_rehash(phc), "{phc}");
        }
    });
}

/// SECURITY.md CRD-05: passwords are the exact UTF-8 bytes; no normalisation, no trimming.
#[test]
fn unicode_passwords_are_taken_verbatim() {
    rt().block_on(async {
        let h = cheap();
        let nfc = "caf\u{e9} au lait"; // é as one code point
        let nfd = "cafe\u{301} au lait"; // e + combining acute accent
        assert_ne!(nfc.as_bytes(), nfd.as_bytes());
        let phc = h.hash(nfc).await.unwrap();
        assert!(h.verify(nfc, Some(&phc)).await.is_valid());
        assert_eq!(h.verify(nfd, Some(&phc)).await, Verification::Invalid);
        let phc = h.hash(nfd).await.unwrap();
        assert!(h.verify(nfd, Some(&phc)).await.is_valid());
        assert_eq!(h.verify(nfc, Some(&phc)).await, Verification::Invalid);

        let emoji = " 🔑 horse 🐎 battery 🔋 ";
        let phc = h.hash(emoji).await.unwrap();
        assert!(h.verify(emoji, Some(&phc)).await.is_valid());
        assert_eq!(
            h.verify(emoji.trim(), Some(&phc)).await,
            Verification::Invalid,
            "spaces count"
        );
    });
}

#[test]
fn hashing_runs_off_the_async_workers() {
    rt().block_on(async {
        let h = PasswordHasher::default();
        let phc = h.hash(PW).await.unwrap();
        let task = tokio::spawn(async move { h.verify(PW, Some(&phc)).await });
        // One worker thread: if the verification ran on it, this loop would not get to
        // run until it ended.
        let mut turns = 0u32;
        while !task.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
            turns += 1;
        }
        assert!(task.await.unwrap().is_valid());
        // At least one turn ran while the verification was in flight: had it run on the
        // only worker, the task would have finished before this loop got a turn.
        assert!(turns >= 1, "the worker was blocked: {turns} turns");
    });
}

#[test]
fn max_concurrent_bounds_the_work() {
    rt().block_on(async {
        let h = cheap().max_concurrent(1);
        let phc = h.hash(PW).await.unwrap();
        let permit = h.permits.clone().acquire_owned().await.unwrap();
        let h2 = h.clone();
        let task = tokio::spawn(async move { h2.verify(PW, Some(&phc)).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !task.is_finished(),
            "waits for a free permit, shared by clones"
        );
        drop(permit);
        assert!(task.await.unwrap().is_valid());
        assert_eq!(cheap().max_concurrent(0).max_concurrent, 1);
    });
}

/// Drives a future on this thread without any runtime (a parked-thread waker).
fn block_on_without_runtime<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn works_outside_a_tokio_runtime() {
    // The hashing threads are the hasher's own: any executor can await them.
    let h = cheap();
    let phc = block_on_without_runtime(h.hash(PW)).unwrap();
    assert!(block_on_without_runtime(h.verify(PW, Some(&phc))).is_valid());
    assert_eq!(
        block_on_without_runtime(h.verify(PW, None)),
        Verification::Invalid
    );
}

#[test]
fn a_burst_runs_on_max_concurrent_threads_only() {
    // Each thread's allocator keeps the Argon2 memory it used: a burst must not spread
    // over new threads (tokio's blocking pool started one per job under load).
    rt().block_on(async {
        let h = cheap().max_concurrent(2);
        let mut jobs = Vec::new();
        for _ in 0..24 {
            let h = h.clone();
            jobs.push(tokio::spawn(async move {
                h.blocking(|inner| {
                    let _ = inner.hash(PW.as_bytes());
                    std::thread::current().id()
                })
                .await
                .unwrap()
            }));
        }
        let mut threads = std::collections::HashSet::new();
        for j in jobs {
            threads.insert(j.await.unwrap());
        }
        assert!(
            (1..=2).contains(&threads.len()),
            "{} threads",
            threads.len()
        );
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any password within the limits round-trips; one changed byte does not verify.
    #[test]
    fn hash_then_verify_round_trips(
        chars in proptest::collection::vec(any::<char>(), 8..80),
        extra in any::<char>(),
    ) {
        let pw: String = chars.into_iter().collect();
        let h = PasswordHasher::insecure_for_tests(8, 1, 1);
        let (phc, ok, other) = rt().block_on(async {
            let phc = h.hash(&pw).await.unwrap();
            let ok = h.verify(&pw, Some(&phc)).await;
            let other = h.verify(&format!("{pw}{extra}"), Some(&phc)).await;
            (phc, ok, other)
        });
        prop_assert_eq!(ok, Verification::Valid { rehash: false });
        prop_assert_eq!(other, Verification::Invalid);
        prop_assert!(!h.needs_rehash(&phc));
    }

    /// Verification and `needs_rehash` never panic on any stored string.
    #[test]
    fn any_stored_string_is_handled(stored in "\\PC{0,120}", dollar in "(\\$[a-z0-9=,]{0,20}){0,6}") {
        let h = PasswordHasher::insecure_for_tests(8, 1, 1);
        for s in [stored.as_str(), dollar.as_str()] {
            prop_assert!(h.needs_rehash(s));
            let v = h.inner.verify(PW.as_bytes(), Some(s));
            prop_assert_eq!(v, Verification::Invalid);
        }
    }
}

/// The reused-memory verification agrees with argon2's own `verify_password` for every
/// algorithm, version, output length and parameter set, right and wrong passwords alike,
/// and reuses one buffer across different sizes.
#[test]
fn reused_memory_verification_matches_the_argon2_crate() {
    use argon2::password_hash::CustomizedPasswordHasher as _;
    use argon2::{Algorithm, Argon2, PasswordVerifier as _, Version};
    let salt = b"0123456789abcdef";
    let cases = [
        (Algorithm::Argon2id, Version::V0x13, 64, 1, 1, Some(32)),
        (Algorithm::Argon2id, Version::V0x13, 256, 2, 2, Some(16)),
        (Algorithm::Argon2i, Version::V0x13, 32, 3, 1, Some(64)),
        (Algorithm::Argon2d, Version::V0x10, 16, 1, 1, None),
        (Algorithm::Argon2id, Version::V0x10, 128, 1, 4, Some(24)),
    ];
    for (alg, ver, m, t, p, out) in cases {
        let params = argon2::Params::new(m, t, p, out).unwrap();
        let phc = Argon2::default()
            .hash_password_customized(
                PW.as_bytes(),
                salt,
                Some(alg.as_str()),
                Some(ver.into()),
                params,
            )
            .unwrap()
            .to_string();
        let target = PasswordHash::new(&phc).unwrap();
        for candidate in [PW, "not the password", ""] {
            let theirs = Argon2::default()
                .verify_password(candidate.as_bytes(), &target)
                .is_ok();
            let ours = super::matches_in_reused_memory(candidate.as_bytes(), &target);
            assert_eq!(ours, theirs, "{phc} / {candidate:?}");
            assert_eq!(ours, candidate == PW);
        }
    }
    // No salt or no output: never a match.
    let bare = PasswordHash::new("$argon2id$v=19$m=64,t=1,p=1").unwrap();
    assert!(!super::matches_in_reused_memory(PW.as_bytes(), &bare));
}
