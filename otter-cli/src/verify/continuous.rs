//! `otter verify --continuous`: pass after pass (one every `--every` seconds), each comparing a
//! random `--sample` share of every table's chunks plus every range that differed in an earlier
//! pass, so that drift is noticed without full runs and a difference, once seen, stays reported
//! until it is repaired. The latest pass's findings are served as metrics and logged; the
//! `--report` file is rewritten after each pass.
//!
//! Invariants: nothing is written to either server (no repair here); a transient failure (a
//! server or the pipeline down) is logged and counted and the pass goes on with the next table;
//! SIGINT/SIGTERM ends the wait or the pass at once.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use otter_core::mysql::chunk::KeyRange;
use otter_core::pipeline::label_value;
use otter_core::transform::TablePattern;
use otter_core::Result;
use otter_load::verify::{Sample, TableReport};
use parking_lot::Mutex;

use super::{print_summary, write_report, Target, VerifyArgs};
use crate::signals::Shutdown;

/// What the latest pass found for one table, and the totals so far.
#[derive(Debug, Default, Clone)]
struct TableState {
    differences: u64,
    unsettled: u64,
    problem: bool,
    rows_total: u64,
    chunks_total: u64,
    /// Ranges the next pass compares again.
    again: Vec<KeyRange>,
}

/// Everything the metrics endpoint shows.
#[derive(Debug, Default)]
struct State {
    tables: BTreeMap<(String, String), TableState>,
    passes: u64,
    errors: u64,
    last_pass_end: Option<f64>,
}

/// A seed for a pass's chunk choice, new each time.
pub fn seed() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (now.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
}

/// Runs passes until SIGINT/SIGTERM; `Ok(true)` when the last finished pass found nothing.
pub async fn run(args: &VerifyArgs, share: f64, targets: &[Target<'_>], only: Option<&TablePattern>, shutdown: Shutdown) -> Result<bool> {
    let state = Arc::new(Mutex::new(State::default()));
    if let Some(addr) = &args.metrics_addr {
        let listener = crate::metrics_http::bind(addr).await?;
        let shown = Arc::clone(&state);
        tokio::spawn(crate::metrics_http::serve(listener, Arc::new(move || exposition(&shown.lock()))));
    }
    let every = Duration::from_secs(args.every.max(1));
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let mut equal = true;
    loop {
        let started = Instant::now();
        let pass = async {
            let seed = seed();
            let mut all: Vec<(String, TableReport)> = Vec::new();
            for target in targets {
                let name = &target.pipeline.name;
                let tables = match target.tables(only).await {
                    Ok(t) => t,
                    Err(e) if e.is_transient() => {
                        failed(&state, name, "-", &e);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                for (db, table) in tables {
                    let key = (name.clone(), format!("{db}.{table}"));
                    let again = state.lock().tables.get(&key).map(|t| t.again.clone()).unwrap_or_default();
                    let sample = Sample { share, seed, again };
                    match target.verifier.sampled(&db, &table, &sample, &mut |_| {}).await {
                        Ok(report) => {
                            note(&state, &key, &report);
                            all.push((name.clone(), report));
                        }
                        Err(e) if e.is_transient() => failed(&state, name, &key.1, &e),
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(all)
        };
        let all = tokio::select! {
            all = pass => all?,
            () = &mut stop => break,
        };
        {
            let mut s = state.lock();
            s.passes += 1;
            s.last_pass_end = Some(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64());
        }
        equal = all.iter().all(|(_, r)| r.equal());
        let keys: usize = all.iter().map(|(_, r)| r.differences.len()).sum();
        tracing::info!(tables = all.len(), differing_keys = keys, secs = started.elapsed().as_secs(), share, "Verify pass finished.");
        print_summary(&all);
        if let Some(path) = &args.report {
            write_report(path, &all)?;
        }
        tokio::select! {
            () = tokio::time::sleep(every.saturating_sub(started.elapsed())) => {}
            () = &mut stop => break,
        }
    }
    Ok(equal)
}

/// Records one table's report of this pass.
fn note(state: &Mutex<State>, key: &(String, String), report: &TableReport) {
    if !report.equal() {
        tracing::warn!(pipeline = %key.0, table = %key.1, differing_keys = report.differences.len(), problem = report.problem.as_deref().unwrap_or("-"), "The target differs from the source.");
    }
    let mut s = state.lock();
    let t = s.tables.entry(key.clone()).or_default();
    t.differences = report.differences.len() as u64;
    t.unsettled = report.unsettled;
    t.problem = report.problem.is_some();
    t.rows_total += report.rows;
    t.chunks_total += report.chunks;
    t.again.clone_from(&report.differing);
}

/// Counts and logs a failed comparison; the pass goes on.
fn failed(state: &Mutex<State>, pipeline: &str, table: &str, e: &otter_core::Error) {
    tracing::warn!(pipeline, table, error = %e, "Verify could not compare; trying again next pass.");
    state.lock().errors += 1;
}

/// The Prometheus text of `state`.
fn exposition(state: &State) -> String {
    let mut out = String::new();
    let mut per_table = |name: &str, kind: &str, help: &str, value: &dyn Fn(&TableState) -> f64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for ((p, t), s) in &state.tables {
            let _ = writeln!(out, "{name}{{pipeline=\"{}\",table=\"{}\"}} {}", label_value(p), label_value(t), value(s));
        }
    };
    per_table(
        "otter_verify_differences",
        "gauge",
        "Keys that differ between source and target as of the latest pass (ranges that differed are compared in every pass until equal).",
        &|s| s.differences as f64,
    );
    per_table("otter_verify_table_problem", "gauge", "1 when the table differs as a whole (missing on the target, lacking columns, or keyless and unequal).", &|s| {
        if s.problem {
            1.0
        } else {
            0.0
        }
    });
    per_table("otter_verify_unsettled", "gauge", "Keys that kept changing during every check of the latest pass (in flight, not differences).", &|s| s.unsettled as f64);
    per_table("otter_verify_rows_checked_total", "counter", "Source rows compared.", &|s| s.rows_total as f64);
    per_table("otter_verify_chunks_checked_total", "counter", "Chunks compared.", &|s| s.chunks_total as f64);
    let _ = writeln!(out, "# HELP otter_verify_passes_total Verify passes finished.\n# TYPE otter_verify_passes_total counter\notter_verify_passes_total {}", state.passes);
    let _ = writeln!(
        out,
        "# HELP otter_verify_errors_total Comparisons that failed (a server or the pipeline unreachable) and were left to the next pass.\n# TYPE otter_verify_errors_total counter\notter_verify_errors_total {}",
        state.errors
    );
    if let Some(t) = state.last_pass_end {
        let _ = writeln!(out, "# HELP otter_verify_last_pass_timestamp_seconds When the latest pass finished (Unix time).\n# TYPE otter_verify_last_pass_timestamp_seconds gauge\notter_verify_last_pass_timestamp_seconds {t:.3}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_lists_each_table_and_the_pass_totals() {
        let mut s = State::default();
        s.tables.insert(("a\"b".into(), "v.main".into()), TableState { differences: 3, rows_total: 10, chunks_total: 2, ..TableState::default() });
        s.passes = 4;
        let text = exposition(&s);
        assert!(text.contains("otter_verify_differences{pipeline=\"a\\\"b\",table=\"v.main\"} 3"), "{text}");
        assert!(text.contains("otter_verify_rows_checked_total{pipeline=\"a\\\"b\",table=\"v.main\"} 10"), "{text}");
        assert!(text.contains("otter_verify_passes_total 4"), "{text}");
        assert!(!text.contains("otter_verify_last_pass_timestamp_seconds "), "no pass finished: {text}");
    }
}
