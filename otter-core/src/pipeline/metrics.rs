//! Per-pipeline metrics: counters and gauges updated by the pipeline, read by the periodic log
//! line, the status file and the Prometheus endpoint.
//!
//! Invariant: counters only count what the sink acknowledged (committed), so rows/s and lag
//! describe durable progress, not reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::checkpoint::unix_now;
use crate::position::Position;

/// Live metrics of one pipeline.
#[derive(Debug)]
pub struct Metrics {
    name: String,
    rows: AtomicU64,
    txns: AtomicU64,
    batches: AtomicU64,
    errors: AtomicU64,
    source_time: AtomicU64,
    in_flight: AtomicU64,
    position: Mutex<Option<Position>>,
    state: Mutex<String>,
    last_error: Mutex<Option<String>>,
    rate: Mutex<RateWindow>,
}

#[derive(Debug)]
struct RateWindow {
    at: Instant,
    rows: u64,
    txns: u64,
    rows_per_sec: f64,
    txns_per_sec: f64,
}

/// A point-in-time copy, also the content of the status file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Pipeline name.
    pub name: String,
    /// `starting`, `running`, `stopped` or `failed`.
    pub state: String,
    /// Rows committed since start.
    pub rows: u64,
    /// Transactions committed since start.
    pub txns: u64,
    /// Batches committed since start.
    pub batches: u64,
    /// Errors seen (retries included).
    pub errors: u64,
    /// Rows per second over the last interval.
    pub rows_per_sec: f64,
    /// Transactions per second over the last interval.
    pub txns_per_sec: f64,
    /// How far the sink is behind the source, in seconds: now minus the newest moment at which
    /// the source had nothing that is not yet committed to the sink — the age of the oldest
    /// unapplied source commit while behind, and about 0 (at most the heartbeat period) while the
    /// source is idle and the sink caught up. It is the newest committed
    /// [`Event::source_time`](crate::change::Event::source_time): a transaction's commit time, or
    /// the receipt time of a heartbeat. `None` before anything with a time was committed.
    pub lag_secs: Option<u64>,
    /// Batches written but not yet acknowledged.
    pub in_flight: u64,
    /// The committed position.
    pub position: Option<String>,
    /// The last error message.
    pub last_error: Option<String>,
    /// When the snapshot was taken (Unix seconds).
    pub at: u64,
}

impl Metrics {
    /// New metrics for a pipeline.
    pub fn new(name: impl Into<String>) -> Arc<Metrics> {
        Arc::new(Metrics {
            name: name.into(),
            rows: AtomicU64::new(0),
            txns: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            source_time: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            position: Mutex::new(None),
            state: Mutex::new("starting".into()),
            last_error: Mutex::new(None),
            rate: Mutex::new(RateWindow { at: Instant::now(), rows: 0, txns: 0, rows_per_sec: 0.0, txns_per_sec: 0.0 }),
        })
    }

    /// The pipeline name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records a committed batch.
    pub fn committed(&self, rows: usize, txns: usize, source_time: u32, position: Option<&Position>) {
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
        self.txns.fetch_add(txns as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        if source_time > 0 {
            self.source_time.fetch_max(u64::from(source_time), Ordering::Relaxed);
        }
        if let Some(p) = position {
            *self.position.lock() = Some(p.clone());
        }
    }

    /// Sets the number of batches in flight.
    pub fn set_in_flight(&self, n: usize) {
        self.in_flight.store(n as u64, Ordering::Relaxed);
    }

    /// Records an error (also transient ones that were retried).
    pub fn error(&self, message: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock() = Some(message.to_owned());
    }

    /// Sets the state.
    pub fn set_state(&self, state: &str) {
        *self.state.lock() = state.to_owned();
    }

    /// Sets the committed position (e.g. at start, from the checkpoint).
    pub fn set_position(&self, p: Option<Position>) {
        *self.position.lock() = p;
    }

    /// The committed position (what the sink made durable), if any yet.
    pub fn committed_position(&self) -> Option<Position> {
        self.position.lock().clone()
    }

    /// Takes a snapshot, rolling the rate window when at least a second passed.
    pub fn snapshot(&self) -> Snapshot {
        let rows = self.rows.load(Ordering::Relaxed);
        let txns = self.txns.load(Ordering::Relaxed);
        let (rows_per_sec, txns_per_sec) = {
            let mut w = self.rate.lock();
            let dt = w.at.elapsed().as_secs_f64();
            if dt >= 1.0 {
                w.rows_per_sec = rows.saturating_sub(w.rows) as f64 / dt;
                w.txns_per_sec = txns.saturating_sub(w.txns) as f64 / dt;
                w.at = Instant::now();
                w.rows = rows;
                w.txns = txns;
            }
            (w.rows_per_sec, w.txns_per_sec)
        };
        let source_time = self.source_time.load(Ordering::Relaxed);
        let now = unix_now();
        Snapshot {
            name: self.name.clone(),
            state: self.state.lock().clone(),
            rows,
            txns,
            batches: self.batches.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            rows_per_sec,
            txns_per_sec,
            lag_secs: (source_time > 0).then(|| now.saturating_sub(source_time)),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            position: self.position.lock().as_ref().map(ToString::to_string),
            last_error: self.last_error.lock().clone(),
            at: now,
        }
    }
}

/// A label value escaped for the Prometheus text format (backslash, quote, newline).
pub fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Prometheus text exposition of several pipelines' metrics. The committed position is exported
/// as two gauges: the binlog file's number (`mysql-bin.000042` → 42) and the byte offset in it.
pub fn prometheus_text(all: &[Arc<Metrics>]) -> String {
    use std::fmt::Write;
    let rows: Vec<(Snapshot, Option<Position>)> = all.iter().map(|m| (m.snapshot(), m.position.lock().clone())).collect();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: &dyn Fn(&Snapshot, Option<&Position>) -> Option<f64>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (s, p) in &rows {
            if let Some(v) = value(s, p.as_ref()) {
                let _ = writeln!(out, "{name}{{pipeline=\"{}\"}} {v}", label_value(&s.name));
            }
        }
    };
    metric("otter_rows_total", "counter", "Row changes committed to the sink.", &|s, _| Some(s.rows as f64));
    metric("otter_transactions_total", "counter", "Source transactions committed to the sink.", &|s, _| Some(s.txns as f64));
    metric("otter_batches_total", "counter", "Batches committed to the sink.", &|s, _| Some(s.batches as f64));
    metric("otter_errors_total", "counter", "Errors, including retried ones.", &|s, _| Some(s.errors as f64));
    metric("otter_rows_per_second", "gauge", "Committed rows per second over the last interval.", &|s, _| Some(s.rows_per_sec));
    metric("otter_transactions_per_second", "gauge", "Committed transactions per second over the last interval.", &|s, _| Some(s.txns_per_sec));
    metric("otter_lag_seconds", "gauge", "Seconds the sink is behind the source: now minus the newest moment at which the source had nothing not yet committed to the sink (about 0, at most the heartbeat period, when idle and caught up).", &|s, _| s.lag_secs.map(|l| l as f64));
    metric("otter_batches_in_flight", "gauge", "Batches sent to the sink and not yet acknowledged.", &|s, _| Some(s.in_flight as f64));
    metric("otter_position_file_number", "gauge", "Number of the binlog file of the committed position.", &|_, p| p.map(|p| p.coord.file_seq() as f64));
    metric("otter_position_offset", "gauge", "Byte offset of the committed position in its binlog file.", &|_, p| p.map(|p| p.coord.offset as f64));
    metric(
        "otter_snapshot_tables_left",
        "gauge",
        "Tables an online snapshot has not finished copying, as of the committed position (absent when no snapshot runs).",
        &|_, p| p.and_then(|p| p.snapshot.as_ref()).map(|s| s.tables_left() as f64),
    );
    metric(
        "otter_snapshot_rows_copied",
        "gauge",
        "Rows an online snapshot copied so far (finished tables included), as of the committed position.",
        &|_, p| p.and_then(|p| p.snapshot.as_ref()).map(|s| s.copied() as f64),
    );
    metric(
        "otter_snapshot_rows_estimated",
        "gauge",
        "The server's estimate of all rows the running snapshot copies (0: unknown).",
        &|_, p| p.and_then(|p| p.snapshot.as_ref()).map(|s| s.estimate as f64),
    );
    metric("otter_up", "gauge", "1 while the pipeline runs, 0 when stopped or failed.", &|s, _| Some(if s.state == "running" { 1.0 } else { 0.0 }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn exposition_lists_each_pipeline() {
        let a = Metrics::new("a_to_b");
        a.set_state("running");
        a.committed(10, 2, 1, None);
        let text = prometheus_text(&[Arc::clone(&a)]);
        assert!(text.contains("otter_rows_total{pipeline=\"a_to_b\"} 10"), "{text}");
        assert!(text.contains("otter_up{pipeline=\"a_to_b\"} 1"));
        assert!(text.contains("# TYPE otter_lag_seconds gauge"));
        assert!(!text.contains("otter_position_offset{"), "no position yet: {text}");
        let p = Position { coord: crate::position::BinlogCoord::new("mysql-bin.000042", 1234), gtid: None, skip_rows: 0, snapshot: None, applied: None };
        a.committed(1, 1, 2, Some(&p));
        let text = prometheus_text(&[a]);
        assert!(text.contains("otter_position_file_number{pipeline=\"a_to_b\"} 42"), "{text}");
        assert!(text.contains("otter_position_offset{pipeline=\"a_to_b\"} 1234"), "{text}");
        assert!(!text.contains("otter_snapshot_tables_left{"), "no snapshot: {text}");
    }

    #[test]
    fn a_running_snapshot_is_exported_from_the_committed_position() {
        use crate::position::snapshot::{SnapshotProgress, TableProgress};
        let a = Metrics::new("copy");
        let progress = SnapshotProgress {
            tables: vec![
                TableProgress { rows: 1500, ..TableProgress::new("d", "t") },
                TableProgress::new("d", "u"),
            ],
            chunks: 3,
            done_rows: 500,
            estimate: 4000,
        };
        let p = Position { coord: crate::position::BinlogCoord::new("mysql-bin.000001", 4), gtid: None, skip_rows: 0, snapshot: Some(Arc::new(progress)), applied: None };
        a.committed(1500, 1, 2, Some(&p));
        let text = prometheus_text(&[Arc::clone(&a)]);
        assert!(text.contains("otter_snapshot_tables_left{pipeline=\"copy\"} 2"), "{text}");
        assert!(text.contains("otter_snapshot_rows_copied{pipeline=\"copy\"} 2000"), "{text}");
        assert!(text.contains("otter_snapshot_rows_estimated{pipeline=\"copy\"} 4000"), "{text}");
        assert!(a.snapshot().position.unwrap().contains("snapshot: 2000 rows copied, 2 tables to finish"));
    }
}
