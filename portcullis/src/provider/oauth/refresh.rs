//! Refresh-token rotation (SECURITY.md RACE-01/02, RFC 9700 §4.14).
//!
//! Providers that rotate refresh tokens revoke the whole grant when a used one comes back,
//! so a session must never refresh twice with the same token. Every refresh runs through
//! [`Flights`]: one call per refresh token however many requests need it at once, and its
//! result is remembered for [`REMEMBER_SUCCESS`] so that requests still carrying the old
//! token (a browser's parallel requests, or a retry after the new tokens could not be
//! stored) get the new tokens instead of refreshing again. One process only: instances
//! behind a load balancer each hold their own table (see the deployment guide).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::TokenSet;

/// How long a successful refresh is remembered.
pub(crate) const REMEMBER_SUCCESS: Duration = Duration::from_secs(120);
/// How long a failed refresh is remembered (a burst gets one answer, a later read retries).
pub(crate) const REMEMBER_FAILURE: Duration = Duration::from_secs(5);

/// Why a refresh failed.
#[derive(Debug, Clone)]
pub(crate) struct RefreshFailure {
    /// For the log.
    pub(crate) reason: String,
    /// The provider refused the grant (HTTP 400/401, e.g. `invalid_grant`): the refresh
    /// token is dead and must not be tried again. Otherwise (timeouts, 5xx, garbage) a
    /// later read may retry.
    pub(crate) terminal: bool,
}

impl RefreshFailure {
    /// A failure a later read may retry.
    pub(crate) fn transient(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            terminal: false,
        }
    }
}

type Outcome = Result<TokenSet, RefreshFailure>;

struct Flight {
    cell: tokio::sync::OnceCell<(Outcome, Instant)>,
    created: Instant,
}

/// The in-flight and recent refreshes, keyed by the SHA-256 of the refresh token.
#[derive(Default)]
pub(crate) struct Flights {
    table: Mutex<HashMap<[u8; 32], Arc<Flight>>>,
    #[cfg(test)]
    pub(crate) calls: std::sync::atomic::AtomicUsize,
}

impl Flights {
    /// Runs `refresh` for `refresh_token` unless a call for it is running (then waits for
    /// its result) or finished recently (then returns its result).
    pub(crate) async fn run<F, Fut>(&self, refresh_token: &str, refresh: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let key: [u8; 32] = Sha256::digest(refresh_token.as_bytes()).into();
        let flight = {
            let Ok(mut table) = self.table.lock() else {
                return Err(RefreshFailure::transient("the refresh table is poisoned"));
            };
            table.retain(|_, f| match f.cell.get() {
                Some((Ok(_), done)) => done.elapsed() < REMEMBER_SUCCESS,
                Some((Err(_), done)) => done.elapsed() < REMEMBER_FAILURE,
                // A flight whose caller went away without finishing: give it a while.
                None => f.created.elapsed() < REMEMBER_SUCCESS,
            });
            table
                .entry(key)
                .or_insert_with(|| {
                    Arc::new(Flight {
                        cell: tokio::sync::OnceCell::new(),
                        created: Instant::now(),
                    })
                })
                .clone()
        };
        let (outcome, _) = flight
            .cell
            .get_or_init(|| async {
                #[cfg(test)]
                self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (refresh().await, Instant::now())
            })
            .await;
        outcome.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_concurrent_reads_refresh_once() {
        let flights = Arc::new(Flights::default());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let f = flights.clone();
            tasks.push(tokio::spawn(async move {
                f.run("rt-1", || async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(TokenSet {
                        access_token: "new".into(),
                        ..TokenSet::default()
                    })
                })
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().access_token, "new");
        }
        assert_eq!(flights.calls.load(Ordering::SeqCst), 1);
        // A late request with the same old token gets the remembered result.
        let again = flights
            .run("rt-1", || async {
                Err(RefreshFailure::transient("must not run"))
            })
            .await;
        assert_eq!(again.unwrap().access_token, "new");
        assert_eq!(flights.calls.load(Ordering::SeqCst), 1);
        // Another token is another flight.
        let other = flights
            .run("rt-2", || async {
                Err(RefreshFailure::transient("refused"))
            })
            .await;
        assert!(other.is_err());
        assert_eq!(flights.calls.load(Ordering::SeqCst), 2);
    }
}
