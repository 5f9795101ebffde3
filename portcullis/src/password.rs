//! Passwords: Argon2id hashing with OWASP's parameters, run on the hasher's own threads, with
//! equal-cost failures and rehash-on-login.
//!
//! [`PasswordHasher`] makes and checks PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`).
//! It is what a [`Credentials`](crate::Credentials) `authorize` function needs:
//!
//! - **[`hash`](PasswordHasher::hash)** when a password is set: the length policy is checked
//!   first ([`PasswordError::Length`]), then Argon2id runs with a random 16-byte salt.
//! - **[`verify`](PasswordHasher::verify)** at sign-in, with the stored hash *or `None` when
//!   the user is unknown or has no password*: then a dummy hash with the same parameters is
//!   verified, so every failed sign-in costs one Argon2id verification and an unknown
//!   address cannot be told from a wrong password by timing.
//! - **Rehash on login**: a correct password whose stored hash was made with other
//!   parameters (or another Argon2 variant) verifies — a PHC string carries its own
//!   parameters — and reports [`Verification::Valid`]` { rehash: true }`: hash the password
//!   again and store it, and raised parameters reach every active user at their next sign-in.
//!
//! # Examples
//! A sign-in check and the rehash step (`stored` is what the database holds, if anything):
//! ```
//! use portcullis::password::{PasswordHasher, Verification};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rt = tokio::runtime::Runtime::new()?;
//! rt.block_on(async {
//!     // One hasher for the whole application: clones share it.
//!     let hasher = PasswordHasher::default();
//!     let mut stored: Option<String> = Some(hasher.hash("correct horse battery").await?);
//!     assert!(stored.as_deref().is_some_and(|s| s.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")));
//!
//!     match hasher.verify("correct horse battery", stored.as_deref()).await {
//!         Verification::Valid { rehash } => {
//!             if rehash {
//!                 // Made with older parameters: store a new hash (a failure here should be
//!                 // logged, not fail the sign-in).
//!                 stored = Some(hasher.hash("correct horse battery").await?);
//!             }
//!             // signed in
//!         }
//!         _ => unreachable!("the right password"),
//!     }
//!     assert_eq!(hasher.verify("wrong horse battery", stored.as_deref()).await, Verification::Invalid);
//!     // Unknown user: the same work, and never valid.
//!     assert_eq!(hasher.verify("correct horse battery", None).await, Verification::Invalid);
//!     Ok::<_, portcullis::password::PasswordError>(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # Security
//! - **Parameters**: Argon2id, version 0x13, m = 19456 KiB, t = 2, p = 1 by default (the
//!   first row of the OWASP Password Storage Cheat Sheet); [`PasswordHasher::new`] refuses
//!   anything weaker than one of the cheat sheet's rows.
//! - **Length** is counted in UTF-8 *bytes*: 8 to 1024 by default. [`hash`] refuses
//!   passwords outside the policy; [`verify`] answers `Invalid` for one longer than the
//!   maximum without hashing it, so megabyte passwords cost no CPU (SECURITY.md CRD-04). The
//!   minimum is not applied by `verify`, so passwords set under an older, shorter minimum
//!   still work.
//! - **No Unicode normalisation**: a password is hashed as the exact UTF-8 bytes received,
//!   spaces and emoji included (ASVS 5.0 §6.2.8, 4.0.3 §2.1.4). `"é"` typed as U+00E9 (NFC)
//!   and as `e` + U+0301 (NFD) are *different* passwords. This is the consistent choice
//!   (SECURITY.md CRD-05): hashes made elsewhere or earlier stay valid, and normalising
//!   later would lock out every user whose password was set unnormalised. The cost: a user
//!   whose input method sends the other form on another device (most send NFC) is refused
//!   there. An application that wants NFC must normalise before *both* `hash` and
//!   `verify`, from the first password on.
//! - **CPU and memory are bounded**: hashing runs on the hasher's own threads, never on the
//!   async workers (which keep serving other requests): exactly
//!   [`max_concurrent`](PasswordHasher::max_concurrent) of them (default: the number of
//!   CPUs), started on first use and shared by clones. Each reuses its `m` KiB of working
//!   memory from one hash to the next; more requests wait their turn asynchronously. A
//!   flood of sign-ins therefore queues instead of allocating 19 MiB per request, and the
//!   process keeps about `max_concurrent × m` KiB for verification (see `BENCHMARKS.md`:
//!   a sign-in burst on one core used to leave 140 MB of RSS behind).
//! - **Wiping**: the copy of the password handed to the blocking task is overwritten with
//!   zeros when dropped (best effort: `std::hint::black_box` keeps the writes, but the crate
//!   takes no `zeroize` dependency for this), and argon2 wipes its working memory (its
//!   `zeroize` feature). The caller's `&str` is the caller's to manage.
//!
//! [`hash`]: PasswordHasher::hash
//! [`verify`]: PasswordHasher::verify

use std::fmt;
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

use std::cell::RefCell;

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher as _, Version};
use tokio::sync::Semaphore;

/// The OWASP Password Storage Cheat Sheet's equivalent Argon2id settings, `(m KiB, t)`, all
/// with p = 1: parameters at or above one of these rows are accepted.
const OWASP_MINIMUMS: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

/// Default shortest password, in bytes.
const DEFAULT_MIN_LEN: usize = 8;
/// Default longest password, in bytes.
const DEFAULT_MAX_LEN: usize = 1024;
/// The lowest `max_len`: ASVS 4.0.3 §2.1.2 asks that passwords of 64 characters be allowed.
const LOWEST_MAX_LEN: usize = 64;
/// Salt length of new hashes; shorter stored salts ask for a rehash.
const SALT_LEN: usize = 16;

/// Argon2id hashing and verification of passwords, with a length policy.
///
/// Cheap to clone; clones share the dummy hash and the concurrency limit, so build one
/// and share it rather than one per request. See the [module docs](self) for the sign-in
/// flow and the security notes.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
    min_len: usize,
    max_len: usize,
    max_concurrent: usize,
    permits: Arc<Semaphore>,
    workers: Arc<Workers>,
}

/// The result of [`PasswordHasher::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum Verification {
    /// The password matches the stored hash.
    Valid {
        /// The stored hash is not what this hasher makes now (other Argon2 parameters,
        /// variant or version, a short salt): hash the password again with
        /// [`PasswordHasher::hash`] and store the result.
        rehash: bool,
    },
    /// The password does not match, there was no stored hash (`None`), the stored hash is
    /// not a readable Argon2 PHC string (e.g. bcrypt's `$2b$…`), or the password is longer
    /// than [`max_len`](PasswordHasher::max_len).
    Invalid,
}

impl Verification {
    /// Whether the password matched.
    pub fn is_valid(self) -> bool {
        matches!(self, Self::Valid { .. })
    }

    /// Whether the password matched *and* its hash should be replaced.
    pub fn needs_rehash(self) -> bool {
        matches!(self, Self::Valid { rehash: true })
    }
}

/// Why a password could not be hashed, or a hasher not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password is outside the length policy (bytes of UTF-8). The message is fit to
    /// show the person choosing the password.
    #[error("the password must be {min} to {max} bytes long")]
    Length {
        /// The shortest accepted password, in bytes.
        min: usize,
        /// The longest accepted password, in bytes.
        max: usize,
    },
    /// [`PasswordHasher::new`] was given parameters that Argon2 rejects or that are weaker
    /// than OWASP's recommendations.
    #[error("Argon2 parameters: {0}")]
    Params(String),
    /// Hashing itself failed: the system random source failed, the blocking task did not
    /// complete (the runtime is shutting down), or the call was made outside a Tokio
    /// runtime.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl Default for PasswordHasher {
    /// Argon2id v19, m = 19456 KiB, t = 2, p = 1 (OWASP); passwords of 8 to 1024 bytes; as
    /// many concurrent hashes as there are CPUs.
    fn default() -> Self {
        // argon2's default parameters are exactly OWASP's first row (pinned by a test).
        Self::from_params(Params::DEFAULT)
    }
}

impl PasswordHasher {
    /// A hasher with other Argon2id parameters: `memory_kib` (m), `iterations` (t) and
    /// `parallelism` (p, lanes; computed one after the other on one blocking thread).
    ///
    /// Parameters weaker than every row of the OWASP Password Storage Cheat Sheet are
    /// refused: accepted are m ≥ 47104 with t ≥ 1, m ≥ 19456 with t ≥ 2, m ≥ 12288 with
    /// t ≥ 3, m ≥ 9216 with t ≥ 4, or m ≥ 7168 with t ≥ 5 (KiB).
    ///
    /// Existing hashes made with other parameters keep verifying and report
    /// `rehash: true` (see [`verify`](Self::verify)).
    ///
    /// # Examples
    /// ```
    /// use portcullis::password::{PasswordError, PasswordHasher};
    ///
    /// let stronger = PasswordHasher::new(65_536, 3, 1)?; // 64 MiB, 3 passes
    /// assert!(matches!(PasswordHasher::new(19_456, 1, 1), Err(PasswordError::Params(_))));
    /// # Ok::<_, PasswordError>(())
    /// ```
    ///
    /// # Errors
    /// [`PasswordError::Params`] for parameters Argon2 rejects (p = 0, m < 8·p, …) or below
    /// the OWASP minimums.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, PasswordError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        let strong_enough = OWASP_MINIMUMS
            .iter()
            .any(|&(m, t)| memory_kib >= m && iterations >= t);
        if !strong_enough {
            return Err(PasswordError::Params(format!(
                "m={memory_kib} KiB, t={iterations} is weaker than OWASP's minimums \
                 (m≥47104 t≥1, m≥19456 t≥2, m≥12288 t≥3, m≥9216 t≥4 or m≥7168 t≥5)"
            )));
        }
        Ok(Self::from_params(params))
    }

    /// Sets the shortest password [`hash`](Self::hash) accepts, in bytes (at least 1; the
    /// default is 8). The maximum is raised to match if needed. [`verify`](Self::verify)
    /// does not apply it.
    pub fn min_len(mut self, bytes: usize) -> Self {
        self.min_len = bytes.max(1);
        self.max_len = self.max_len.max(self.min_len);
        self
    }

    /// Sets the longest password accepted, in bytes (default 1024). Values below 64 are
    /// raised to 64 (ASVS 4.0.3 §2.1.2: 64-character passwords must be allowed) and to
    /// the minimum length. `hash` refuses longer passwords and `verify` answers `Invalid`
    /// for them, both before any hashing.
    pub fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes.max(LOWEST_MAX_LEN).max(self.min_len);
        self
    }

    /// Sets how many Argon2 computations of this hasher (and its clones) may run at once
    /// (at least 1; default: the number of CPUs). Each holds `memory_kib` of memory while
    /// it runs; the others wait asynchronously.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n.max(1);
        self.permits = Arc::new(Semaphore::new(self.max_concurrent));
        self.workers = Arc::new(Workers::new(self.max_concurrent));
        self
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`),
    /// with a random 16-byte salt, on a hashing thread.
    ///
    /// The password is taken verbatim: no trimming, no Unicode normalisation.
    ///
    /// # Errors
    /// [`PasswordError::Length`] if the password is shorter than [`min_len`](Self::min_len)
    /// or longer than [`max_len`](Self::max_len) bytes (checked before any hashing);
    /// [`PasswordError::Hash`] if the random source fails, the blocking task cannot run or
    /// there is no Tokio runtime.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        if !(self.min_len..=self.max_len).contains(&password.len()) {
            return Err(PasswordError::Length {
                min: self.min_len,
                max: self.max_len,
            });
        }
        let password = Wiped::copy(password);
        self.blocking(move |inner| inner.hash(&password.0))
            .await
            .map_err(PasswordError::Hash)?
    }

    /// Verifies `password` against the stored PHC string `phc`, on a hashing thread.
    ///
    /// Pass `None` when the user is unknown or has no password: a dummy hash with this
    /// hasher's parameters is verified instead and the answer is always
    /// [`Verification::Invalid`]. A stored string that is not a usable Argon2 hash (bcrypt,
    /// garbage) is treated the same way. So every call costs one Argon2 verification,
    /// except that a password longer than [`max_len`](Self::max_len) is refused at once
    /// (that reveals only its length, which the sender knows).
    ///
    /// A hash made with other parameters is verified with its own and, if the password
    /// matches, reported as `Valid { rehash: true }` (see [`needs_rehash`](Self::needs_rehash)).
    ///
    /// Never fails: if the work cannot run (no Tokio runtime, runtime shutting down) the
    /// answer is `Invalid` and an error is logged.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Verification {
        if password.len() > self.max_len {
            return Verification::Invalid;
        }
        let password = Wiped::copy(password);
        let phc = phc.map(str::to_owned);
        match self
            .blocking(move |inner| inner.verify(&password.0, phc.as_deref()))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "password verification could not run");
                Verification::Invalid
            }
        }
    }

    /// Whether a stored PHC string should be replaced by a new hash: true unless it is
    /// Argon2id version 0x13 with exactly this hasher's m, t and p, a 32-byte output, a
    /// salt of at least 16 bytes and no secret key id or associated data. Unreadable and
    /// foreign strings (bcrypt's `$2b$…`, garbage) need a rehash too.
    ///
    /// "Other" includes *stronger*: after lowering the parameters (say, for a smaller
    /// machine), hashes are rewritten with the new ones, as libsodium's and PHP's
    /// `needs_rehash` do. The configuration is the policy.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        PasswordHash::new(phc).map_or(true, |h| !self.inner.is_current(&h))
    }

    fn from_params(params: Params) -> Self {
        let max_concurrent = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
        Self {
            inner: Arc::new(Inner::new(params)),
            min_len: DEFAULT_MIN_LEN,
            max_len: DEFAULT_MAX_LEN,
            max_concurrent,
            permits: Arc::new(Semaphore::new(max_concurrent)),
            workers: Arc::new(Workers::new(max_concurrent)),
        }
    }

    /// Runs `work` on a hashing thread once a permit is free. The permit moves into the
    /// job, so a caller that gives up (a dropped future) still counts until the work
    /// actually ends. With as many permits as threads, a job never waits for a thread.
    async fn blocking<T, F>(&self, work: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> T + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let inner = self.inner.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.workers.run(Box::new(move || {
            let _permit = permit;
            let _ = tx.send(work(&inner));
        }))?;
        rx.await
            .map_err(|_| "the password hashing job did not finish".to_owned())
    }

    /// A hasher with any parameters Argon2 accepts, for fast tests.
    #[cfg(test)]
    fn insecure_for_tests(m: u32, t: u32, p: u32) -> Self {
        #[allow(clippy::unwrap_used)]
        Self::from_params(Params::new(m, t, p, None).unwrap())
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.inner.params;
        f.debug_struct("PasswordHasher")
            .field("algorithm", &"argon2id")
            .field("memory_kib", &p.m_cost())
            .field("iterations", &p.t_cost())
            .field("parallelism", &p.p_cost())
            .field("min_len", &self.min_len)
            .field("max_len", &self.max_len)
            .field("max_concurrent", &self.max_concurrent)
            .finish()
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The hasher's threads: `count` of them, started by the first job, stopped when the last
/// clone of the hasher is dropped (the channel closes). A thread per job would not do:
/// every new thread gets its own allocator arena, which keeps the 19 MiB it used.
struct Workers {
    count: usize,
    queue: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Workers {
    fn new(count: usize) -> Self {
        Self {
            count,
            queue: Mutex::new(None),
        }
    }

    fn run(&self, job: Job) -> Result<(), String> {
        let mut queue = self
            .queue
            .lock()
            .map_err(|_| "the password hashing queue is poisoned".to_owned())?;
        if queue.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.count {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("portcullis-argon2-{i}"))
                    .spawn(move || worker(&rx))
                    .map_err(|e| format!("cannot start a password hashing thread: {e}"))?;
            }
            *queue = Some(tx);
        }
        queue
            .as_ref()
            .ok_or_else(|| "no password hashing threads".to_owned())?
            .send(job)
            .map_err(|_| "the password hashing threads stopped".to_owned())
    }
}

/// One hashing thread: runs jobs until the queue closes. A panicking job (none is known
/// to) loses only its own answer: the caller sees an error, the thread goes on.
fn worker(rx: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

thread_local! {
    /// This hashing thread's Argon2 working memory (`m` KiB), kept from one verification to
    /// the next. Allocating it per verification made glibc keep up to 140 MB after a burst
    /// on one core (its dynamic mmap threshold serves the 19 MiB from the heap from the
    /// second allocation on), and zeroing fresh pages cost time too.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Whether `password` matches `target`: what argon2's `verify_password` does (the hash's
/// own algorithm, version, parameters, salt and output length; a constant-time comparison
/// of the outputs), computed in this thread's reused memory, which is wiped afterwards.
fn matches_in_reused_memory(password: &[u8], target: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&target.salt, &target.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(target.algorithm.as_str()) else {
        return false;
    };
    let version = match target.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(target) else {
        return false;
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let Some(out) = buffer.get_mut(..len) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = MEMORY.with_borrow_mut(|memory| {
        memory.resize(blocks, Block::new());
        let r =
            argon2.hash_password_into_with_memory(password, salt.as_ref(), out, &mut memory[..]);
        // Derived from the password: wipe it (a fresh allocation was zeroed anyway).
        memory.fill(Block::new());
        r
    });
    computed.is_ok() && Output::new(out).is_ok_and(|o| o == *expected)
}

/// What the hashing jobs share: the parameters and the dummy hash.
struct Inner {
    params: Params,
    /// A PHC string with these parameters, a fixed salt and an all-zero output: no password
    /// matches it (and the answer is ignored anyway), but checking one costs exactly one
    /// Argon2 computation with these parameters. Nothing secret, so nothing to compute.
    dummy: String,
}

impl Inner {
    fn new(params: Params) -> Self {
        // B64 (PHC, unpadded) of 16 and 32 zero bytes.
        const ZERO_SALT: &str = "AAAAAAAAAAAAAAAAAAAAAA";
        const ZERO_OUTPUT: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${ZERO_SALT}${ZERO_OUTPUT}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        Self { params, dummy }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash(&self, password: &[u8]) -> Result<String, PasswordError> {
        self.argon2()
            .hash_password(password)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    fn verify(&self, password: &[u8], phc: Option<&str>) -> Verification {
        let stored = phc.and_then(verifiable);
        let real = stored.is_some();
        let Some(target) = stored.or_else(|| PasswordHash::new(&self.dummy).ok()) else {
            // Unreachable: the dummy is well-formed (tested).
            return Verification::Invalid;
        };
        // The PHC string's own algorithm, version and parameters are used.
        let matches = matches_in_reused_memory(password, &target);
        if matches && real {
            Verification::Valid {
                rehash: !self.is_current(&target),
            }
        } else {
            Verification::Invalid
        }
    }

    fn is_current(&self, h: &PasswordHash) -> bool {
        let want_output = self
            .params
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        Algorithm::try_from(h.algorithm.as_str()) == Ok(Algorithm::Argon2id)
            && h.version == Some(Version::V0x13.into())
            && h.salt.as_ref().is_some_and(|s| s.len() >= SALT_LEN)
            && h.hash.as_ref().is_some_and(|o| o.len() == want_output)
            && Params::try_from(h).is_ok_and(|p| {
                p.m_cost() == self.params.m_cost()
                    && p.t_cost() == self.params.t_cost()
                    && p.p_cost() == self.params.p_cost()
                    && p.keyid().is_empty()
                    && p.data().is_empty()
            })
    }
}

/// The stored string, parsed, if verifying against it does the full Argon2 work: an
/// Argon2 variant and version this crate knows, valid parameters, a salt and an output.
/// Anything else is verified as the dummy, at the same cost, and is never valid.
fn verifiable(phc: &str) -> Option<PasswordHash> {
    let h = PasswordHash::new(phc).ok()?;
    let known = Algorithm::try_from(h.algorithm.as_str()).is_ok()
        && h.version.is_none_or(|v| Version::try_from(v).is_ok())
        && h.salt
            .as_ref()
            .is_some_and(|s| s.len() >= argon2::MIN_SALT_LEN)
        && h.hash.is_some()
        && Params::try_from(&h).is_ok();
    known.then_some(h)
}

/// The password bytes handed to the blocking task, overwritten with zeros on drop.
struct Wiped(Vec<u8>);

impl Wiped {
    fn copy(password: &str) -> Self {
        Self(password.as_bytes().to_vec())
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the compiler from dropping the writes as dead stores (best effort).
        std::hint::black_box(&mut self.0);
    }
}

#[cfg(test)]
mod tests;
