//! Counters and latency histograms: [`Metrics`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::adapter::AdapterError;
use crate::audit::AuditKind;
use crate::request::Action;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// A fixed-bucket latency histogram.
#[derive(Default)]
struct Histogram {
    /// Per bucket (not cumulative); the last one is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// One store operation's latency and errors.
#[derive(Default)]
struct StoreOp {
    latency: Histogram,
    /// `unavailable`, `conflict`, `not_found`, `other`.
    errors: [AtomicU64; 4],
}

const ERROR_KINDS: [&str; 4] = ["unavailable", "conflict", "not_found", "other"];
const READ_SOURCES: [&str; 2] = ["route", "server"];
const READ_OUTCOMES: [&str; 3] = ["active", "none", "unavailable"];

/// Where a session was read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReadSource {
    Route = 0,
    Server = 1,
}

/// What a session read found.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReadOutcome {
    Active = 0,
    None = 1,
    Unavailable = 2,
}

/// Counters and latency histograms of one [`Auth`](crate::Auth), rendered in the
/// Prometheus text format ([`Metrics::render_prometheus`]).
///
/// | series | type | labels |
/// |---|---|---|
/// | `portcullis_request_duration_seconds` | histogram | `action` (`session`, `csrf`, `callback`, …) |
/// | `portcullis_signins_total` | counter | `provider`, `outcome` (`success`, `failure`, `rate_limited`) |
/// | `portcullis_session_reads_total` | counter | `source` (`route`: `GET`/`POST /session`; `server`: extractors and [`Auth::session`](crate::Auth::session)), `outcome` (`active`, `none`, `unavailable`) |
/// | `portcullis_store_duration_seconds` | histogram | `store` (`users`, `sessions`, `verification_tokens`, `revocations`, `passwords`, `audit`, `rate_limiter`), `operation` (the adapter method) |
/// | `portcullis_store_errors_total` | counter | `store`, `operation`, `kind` (`unavailable`, `conflict`, `not_found`, `other`) |
/// | `portcullis_rate_limited_total` | counter | `limit` (what was limited: `credentials sign-in`, …) |
/// | `portcullis_audit_events_total` | counter | `kind` (see [`crate::audit`]) |
///
/// Everything is atomics and short-held mutexes: recording costs a few tens of nanoseconds
/// and never blocks on I/O. Labels come from the configuration (provider ids) and from
/// portcullis itself, never from a request, so the number of series is bounded.
#[derive(Default)]
pub struct Metrics {
    requests: [Histogram; Action::ALL.len()],
    signins: Mutex<BTreeMap<(String, &'static str), u64>>,
    session_reads: [[AtomicU64; 3]; 2],
    stores: RwLock<HashMap<(&'static str, &'static str), Arc<StoreOp>>>,
    rate_limited: Mutex<BTreeMap<&'static str, u64>>,
    audit: [AtomicU64; AuditKind::ALL.len()],
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn request(&self, action: Action, took: Duration) {
        self.requests[action as usize].observe(took);
    }

    pub(crate) fn sign_in(&self, provider: &str, outcome: &'static str) {
        if let Ok(mut m) = self.signins.lock() {
            if let Some(n) = m.get_mut(&(provider.to_owned(), outcome)) {
                *n += 1;
            } else {
                m.insert((provider.to_owned(), outcome), 1);
            }
        }
    }

    pub(crate) fn session_read(&self, source: ReadSource, outcome: ReadOutcome) {
        self.session_reads[source as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self, what: &'static str) {
        if let Ok(mut m) = self.rate_limited.lock() {
            *m.entry(what).or_insert(0) += 1;
        }
    }

    pub(crate) fn audit_event(&self, kind: AuditKind) {
        self.audit[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn store_op(&self, store: &'static str, op: &'static str) -> Option<Arc<StoreOp>> {
        if let Some(found) = self.stores.read().ok()?.get(&(store, op)) {
            return Some(found.clone());
        }
        let mut w = self.stores.write().ok()?;
        Some(w.entry((store, op)).or_default().clone())
    }

    /// Records one store call: its latency and, when it failed, the kind of failure.
    pub(crate) fn store_call(
        &self,
        store: &'static str,
        op: &'static str,
        took: Duration,
        error: Option<&AdapterError>,
    ) {
        let Some(entry) = self.store_op(store, op) else {
            return;
        };
        entry.latency.observe(took);
        if let Some(e) = error {
            let i = match e {
                AdapterError::Unavailable(_) => 0,
                AdapterError::Conflict(_) => 1,
                AdapterError::NotFound => 2,
                _ => 3,
            };
            entry.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every series in the Prometheus text exposition format (version 0.0.4), for a
    /// `/metrics` endpoint. Series that have seen nothing yet are still listed at zero
    /// where their labels are known in advance (actions, read outcomes, audit kinds).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        header(
            &mut out,
            "portcullis_request_duration_seconds",
            "histogram",
            "Time to answer a request to the auth routes, by action.",
        );
        for action in Action::ALL {
            let labels = format!("action=\"{}\"", action.name());
            self.requests[action as usize].render(
                &mut out,
                "portcullis_request_duration_seconds",
                &labels,
            );
        }

        header(
            &mut out,
            "portcullis_signins_total",
            "counter",
            "Sign-in attempts by provider and outcome.",
        );
        if let Ok(m) = self.signins.lock() {
            for ((provider, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "portcullis_signins_total{{provider=\"{}\",outcome=\"{outcome}\"}} {n}",
                    escape(provider)
                );
            }
        }

        header(
            &mut out,
            "portcullis_session_reads_total",
            "counter",
            "Session reads by where they were made and what they found.",
        );
        for (s, source) in READ_SOURCES.iter().enumerate() {
            for (o, outcome) in READ_OUTCOMES.iter().enumerate() {
                let n = self.session_reads[s][o].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "portcullis_session_reads_total{{source=\"{source}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }

        let stores: Vec<((&str, &str), Arc<StoreOp>)> = self
            .stores
            .read()
            .map(|m| {
                let mut v: Vec<_> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            })
            .unwrap_or_default();
        header(
            &mut out,
            "portcullis_store_duration_seconds",
            "histogram",
            "Time taken by store calls, by store and operation.",
        );
        for ((store, op), entry) in &stores {
            let labels = format!("store=\"{store}\",operation=\"{op}\"");
            entry
                .latency
                .render(&mut out, "portcullis_store_duration_seconds", &labels);
        }
        header(
            &mut out,
            "portcullis_store_errors_total",
            "counter",
            "Failed store calls, by store, operation and kind of failure.",
        );
        for ((store, op), entry) in &stores {
            for (i, kind) in ERROR_KINDS.iter().enumerate() {
                let n = entry.errors[i].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "portcullis_store_errors_total{{store=\"{store}\",operation=\"{op}\",kind=\"{kind}\"}} {n}"
                    );
                }
            }
        }

        header(
            &mut out,
            "portcullis_rate_limited_total",
            "counter",
            "Attempts refused by a rate limit, by what was limited.",
        );
        if let Ok(m) = self.rate_limited.lock() {
            for (what, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "portcullis_rate_limited_total{{limit=\"{}\"}} {n}",
                    escape(what)
                );
            }
        }

        header(
            &mut out,
            "portcullis_audit_events_total",
            "counter",
            "Security events recorded, by kind.",
        );
        for kind in AuditKind::ALL {
            let n = self.audit[kind.index()].load(Ordering::Relaxed);
            let _ = writeln!(out, "portcullis_audit_events_total{{kind=\"{kind}\"}} {n}");
        }
        out
    }
}

impl crate::Auth {
    /// This instance's counters and latency histograms ([`Metrics::render_prometheus`] for
    /// a `/metrics` endpoint).
    pub fn metrics(&self) -> &Metrics {
        &self.config().metrics
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn histograms_are_cumulative_and_sum_their_observations() {
        let m = Metrics::default();
        m.request(Action::Session, Duration::from_micros(50));
        m.request(Action::Session, Duration::from_millis(3));
        m.request(Action::Session, Duration::from_secs(60));
        let text = m.render_prometheus();
        let s = "portcullis_request_duration_seconds";
        assert_eq!(
            value(
                &text,
                &format!("{s}_bucket{{action=\"session\",le=\"0.0001\"}}")
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("{s}_bucket{{action=\"session\",le=\"0.005\"}}")
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("{s}_bucket{{action=\"session\",le=\"10\"}}")
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("{s}_bucket{{action=\"session\",le=\"+Inf\"}}")
            ),
            Some(3.0)
        );
        assert_eq!(
            value(&text, &format!("{s}_count{{action=\"session\"}}")),
            Some(3.0)
        );
        let sum = value(&text, &format!("{s}_sum{{action=\"session\"}}")).unwrap();
        assert!((sum - 60.00305).abs() < 1e-9, "{sum}");
        assert_eq!(
            value(&text, &format!("{s}_count{{action=\"csrf\"}}")),
            Some(0.0)
        );
    }

    #[test]
    fn counters_keep_their_labels_apart() {
        let m = Metrics::default();
        m.sign_in("github", "success");
        m.sign_in("github", "success");
        m.sign_in("github", "failure");
        m.sign_in("credentials", "rate_limited");
        m.session_read(ReadSource::Server, ReadOutcome::Unavailable);
        m.store_call(
            "sessions",
            "session_and_user",
            Duration::from_millis(1),
            Some(&AdapterError::NotFound),
        );
        m.store_call(
            "sessions",
            "session_and_user",
            Duration::from_millis(1),
            None,
        );
        m.rate_limited("credentials sign-in");
        m.audit_event(AuditKind::SignOut);
        let text = m.render_prometheus();
        let has = |series: &str, v: f64| assert_eq!(value(&text, series), Some(v), "{series}");
        has(
            "portcullis_signins_total{provider=\"github\",outcome=\"success\"}",
            2.0,
        );
        has(
            "portcullis_signins_total{provider=\"github\",outcome=\"failure\"}",
            1.0,
        );
        has(
            "portcullis_signins_total{provider=\"credentials\",outcome=\"rate_limited\"}",
            1.0,
        );
        has(
            "portcullis_session_reads_total{source=\"server\",outcome=\"unavailable\"}",
            1.0,
        );
        has(
            "portcullis_session_reads_total{source=\"route\",outcome=\"active\"}",
            0.0,
        );
        has(
            "portcullis_store_errors_total{store=\"sessions\",operation=\"session_and_user\",kind=\"not_found\"}",
            1.0,
        );
        has(
            "portcullis_store_duration_seconds_count{store=\"sessions\",operation=\"session_and_user\"}",
            2.0,
        );
        has(
            "portcullis_rate_limited_total{limit=\"credentials sign-in\"}",
            1.0,
        );
        has("portcullis_audit_events_total{kind=\"sign_out\"}", 1.0);
        has("portcullis_audit_events_total{kind=\"sign_in\"}", 0.0);
        // Every series is announced once with its type.
        for name in [
            "portcullis_request_duration_seconds histogram",
            "portcullis_signins_total counter",
            "portcullis_store_errors_total counter",
        ] {
            assert_eq!(text.matches(&format!("# TYPE {name}\n")).count(), 1);
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
