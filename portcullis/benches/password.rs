//! What password hashing costs, and what it does to a tokio server: Argon2id at the default
//! (OWASP) parameters, m = 19456 KiB, t = 2, p = 1.
//!
//! - `argon2id_hash` / `argon2id_verify`: one operation of the `argon2` crate on the bench
//!   thread — the raw CPU cost.
//! - `hasher_verify`: the same verification through the public
//!   `PasswordHasher::verify` on a current-thread runtime (`block_on`): adds the hop to the
//!   hasher's threads and back. The difference from `argon2id_verify` is that overhead; no
//!   private entry point is exposed for benchmarks.
//! - `throughput`: N verifications started at once on a 2-worker multi-thread runtime;
//!   the items/s column is verifications per second on this machine.
//! - `responsiveness`: how long a trivial task (`tokio::spawn(async {})`, joined from
//!   outside) takes on a 2-worker runtime while 32 verifications are kept in flight —
//!   the delay any other request would see (probes at pseudo-random moments, 0–10 ms
//!   apart). Loads: `idle` (none), `pool` (through
//!   `PasswordHasher::verify`, default limit of concurrent hashes = number of CPUs),
//!   `pool_unbounded` (through `verify`, limit raised to 32: 32 hashing threads compete
//!   with the workers for the CPUs at the OS level), `inline` (the mistake this module
//!   avoids: Argon2 called directly inside async tasks, occupying the workers).
//!
//! Run: `cargo bench -p portcullis --bench password`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use divan::Bencher;
use divan::counter::ItemsCount;
use portcullis::password::PasswordHasher;
use tokio::runtime::Runtime;

const PASSWORD: &str = "correct horse battery staple";
/// Verifications kept in flight by the `responsiveness` loads.
const IN_FLIGHT: usize = 32;

fn main() {
    divan::main();
}

/// Argon2id v19 with OWASP's parameters, as `PasswordHasher::default()` uses.
fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    )
}

fn stored_hash() -> String {
    argon2()
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string()
}

/// A multi-thread runtime with two async workers (hashing runs on the hasher's own threads).
fn two_workers() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[divan::bench(sample_count = 30)]
fn argon2id_hash(bencher: Bencher<'_, '_>) {
    let a = argon2();
    bencher.bench_local(|| a.hash_password(black_box(PASSWORD.as_bytes())).unwrap());
}

#[divan::bench(sample_count = 30)]
fn argon2id_verify(bencher: Bencher<'_, '_>) {
    let a = argon2();
    let phc = stored_hash();
    let parsed = PasswordHash::new(&phc).unwrap();
    bencher.bench_local(|| {
        a.verify_password(black_box(PASSWORD.as_bytes()), &parsed)
            .unwrap();
    });
}

#[divan::bench(sample_count = 30)]
fn hasher_verify(bencher: Bencher<'_, '_>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let hasher = PasswordHasher::default();
    let phc = stored_hash();
    bencher.bench_local(|| {
        let v = rt.block_on(hasher.verify(black_box(PASSWORD), Some(&phc)));
        assert!(v.is_valid());
    });
}

#[divan::bench(args = [1, 2, 8, 32], sample_count = 8, sample_size = 1)]
fn throughput(bencher: Bencher<'_, '_>, n: usize) {
    let rt = two_workers();
    let hasher = PasswordHasher::default();
    let phc: Arc<str> = stored_hash().into();
    bencher.counter(ItemsCount::new(n)).bench_local(|| {
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let (hasher, phc) = (hasher.clone(), phc.clone());
                    tokio::spawn(async move { hasher.verify(PASSWORD, Some(&phc)).await })
                })
                .collect();
            for t in tasks {
                assert!(t.await.unwrap().is_valid());
            }
        });
    });
}

#[divan::bench(args = ["idle", "pool", "pool_unbounded", "inline"], sample_count = 200, sample_size = 1)]
fn responsiveness(bencher: Bencher<'_, '_>, load: &str) {
    let rt = two_workers();
    let stop = Arc::new(AtomicBool::new(false));
    let phc: Arc<str> = stored_hash().into();
    let hasher = match load {
        "pool_unbounded" => PasswordHasher::default().max_concurrent(IN_FLIGHT),
        _ => PasswordHasher::default(),
    };
    if load != "idle" {
        for _ in 0..IN_FLIGHT {
            let (stop, phc, hasher) = (stop.clone(), phc.clone(), hasher.clone());
            let inline = load == "inline";
            rt.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if inline {
                        let parsed = PasswordHash::new(&phc).unwrap();
                        let _ = black_box(argon2().verify_password(PASSWORD.as_bytes(), &parsed));
                        tokio::task::yield_now().await;
                    } else {
                        let _ = black_box(hasher.verify(PASSWORD, Some(&phc)).await);
                    }
                }
            });
        }
        // Let the load reach its steady state.
        std::thread::sleep(Duration::from_millis(300));
    }
    // Probes at pseudo-random moments (0-10 ms apart, not timed): back-to-back probes
    // would bunch up behind one busy stretch and then all see the same free worker.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    bencher
        .with_inputs(|| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            std::thread::sleep(Duration::from_micros(seed % 10_000));
        })
        .bench_local_values(|()| rt.block_on(rt.spawn(async {})).unwrap());
    stop.store(true, Ordering::Relaxed);
    rt.shutdown_timeout(Duration::from_secs(10));
}
