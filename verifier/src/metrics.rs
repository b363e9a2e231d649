//! The service's Prometheus metrics, hand-rolled with atomics rather than the `metrics` facade
//! and `metrics-exporter-prometheus`: that exporter installs one process-global recorder (a
//! second install fails), so two routers in one process (the tests, the load bench) would share
//! and mix their counts. Here each [`Metrics`] belongs to one router and renders the text
//! exposition format (version 0.0.4) itself; the only process-wide series is
//! [`REPLAY_CLAIM_SECONDS`], which the replay stores record into.
//!
//! Series (all names prefixed `liveproof_`):
//! - `verify_total{outcome,reason}`: verifications by outcome (`accepted`, `rejected`,
//!   `unavailable`) and the deciding reason (a reason code or failed check name);
//! - `verify_seconds`: histogram of the time `Verifier::verify` took, seconds;
//! - `sessions_issued_total`: session tokens issued;
//! - `sessions_refused_total{reason}`: session requests refused by the attempt count
//!   (`too_many_attempts`) or because it could not be counted (`store_unavailable`);
//! - `replay_claim_seconds`: histogram of replay-store claims (memory or Redis), seconds;
//! - `audit_write_errors_total`: audit records that could not be written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket upper bounds, seconds: 100 µs to 10 s.
pub const BUCKETS_S: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

/// Claim latencies of every replay store in this process.
pub static REPLAY_CLAIM_SECONDS: Histogram = Histogram::new();

/// A cumulative histogram over [`BUCKETS_S`], lock-free.
pub struct Histogram {
    /// Observations at or below each bound (not yet cumulated).
    buckets: [AtomicU64; BUCKETS_S.len()],
    /// All observations, including those above the last bound.
    count: AtomicU64,
    /// Sum of the observations, nanoseconds.
    sum_ns: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; BUCKETS_S.len()],
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS_S.iter().position(|&bound| secs <= bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of `name`.
    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS_S.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// One router's metrics.
#[derive(Default)]
pub struct Metrics {
    /// `(outcome, reason)` → verifications. Both labels come from fixed sets (reason codes,
    /// check names), so the map stays small.
    verify_total: Mutex<BTreeMap<(&'static str, String), u64>>,
    verify_seconds: Histogram,
    sessions_issued: AtomicU64,
    /// reason → refused session requests (a fixed set of reasons).
    sessions_refused: Mutex<BTreeMap<&'static str, u64>>,
    audit_write_errors: AtomicU64,
}

impl Metrics {
    /// No observations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one verification: its outcome, deciding reason and duration.
    pub fn verification(&self, outcome: &'static str, reason: &str, elapsed: Duration) {
        self.verify_seconds.observe(elapsed);
        let mut totals = self
            .verify_total
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *totals.entry((outcome, reason.to_owned())).or_insert(0) += 1;
    }

    /// Records one issued session token.
    pub fn session_issued(&self) {
        self.sessions_issued.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a session request refused for `reason` (`too_many_attempts`,
    /// `store_unavailable`).
    pub fn session_refused(&self, reason: &'static str) {
        let mut refused = self
            .sessions_refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *refused.entry(reason).or_insert(0) += 1;
    }

    /// Records an audit record that could not be written.
    pub fn audit_write_error(&self) {
        self.audit_write_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP liveproof_verify_total Verifications by outcome and deciding reason.\n\
             # TYPE liveproof_verify_total counter\n",
        );
        {
            let totals = self
                .verify_total
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for ((outcome, reason), n) in totals.iter() {
                let _ = writeln!(
                    out,
                    "liveproof_verify_total{{outcome=\"{}\",reason=\"{}\"}} {n}",
                    escape_label(outcome),
                    escape_label(reason)
                );
            }
        }
        self.verify_seconds.render(
            &mut out,
            "liveproof_verify_seconds",
            "Time to verify one signed result, seconds.",
        );
        let _ = write!(
            out,
            "# HELP liveproof_sessions_issued_total Session tokens issued.\n\
             # TYPE liveproof_sessions_issued_total counter\n\
             liveproof_sessions_issued_total {}\n",
            self.sessions_issued.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP liveproof_sessions_refused_total Session requests refused by the attempt \
             count or because it could not be counted.\n\
             # TYPE liveproof_sessions_refused_total counter\n",
        );
        {
            let refused = self
                .sessions_refused
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (reason, n) in refused.iter() {
                let _ = writeln!(
                    out,
                    "liveproof_sessions_refused_total{{reason=\"{}\"}} {n}",
                    escape_label(reason)
                );
            }
        }
        let _ = write!(
            out,
            "# HELP liveproof_audit_write_errors_total Audit records that could not be written.\n\
             # TYPE liveproof_audit_write_errors_total counter\n\
             liveproof_audit_write_errors_total {}\n",
            self.audit_write_errors.load(Ordering::Relaxed)
        );
        REPLAY_CLAIM_SECONDS.render(
            &mut out,
            "liveproof_replay_claim_seconds",
            "Time of one replay-store claim (memory or Redis), seconds.",
        );
        out
    }
}

/// Escapes a label value for the text format: backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(20));
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.0001\"} 1\n"));
        assert!(out.contains("x_bucket{le=\"0.005\"} 2\n"));
        assert!(out.contains("x_bucket{le=\"10\"} 2\n"));
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_count 3\n"));
        assert!(out.contains("x_sum 20.00305\n"));
    }

    #[test]
    fn verify_totals_are_labelled_and_escaped() {
        let m = Metrics::new();
        m.verification("accepted", "passive_score_high", Duration::from_millis(2));
        m.verification("accepted", "passive_score_high", Duration::from_millis(2));
        m.verification("rejected", "we\"ird", Duration::from_millis(1));
        m.session_issued();
        m.session_refused("too_many_attempts");
        m.session_refused("too_many_attempts");
        let text = m.render();
        assert!(text.contains("liveproof_sessions_refused_total{reason=\"too_many_attempts\"} 2\n"));
        assert!(text.contains(
            "liveproof_verify_total{outcome=\"accepted\",reason=\"passive_score_high\"} 2\n"
        ));
        assert!(
            text.contains("liveproof_verify_total{outcome=\"rejected\",reason=\"we\\\"ird\"} 1\n")
        );
        assert!(text.contains("liveproof_verify_seconds_count 3\n"));
        assert!(text.contains("liveproof_sessions_issued_total 1\n"));
        assert!(text.contains("# TYPE liveproof_replay_claim_seconds histogram\n"));
    }
}
