//! Progress bars of online snapshots and re-syncs on a terminal (`otter run` with stderr on a
//! terminal): per pipeline a bar for the whole copy and one per table being copied, with rows/s
//! and ETA, drawn from the committed position (what the target made durable, the same numbers
//! as `otter status` and the metrics). Log lines print above the bars.
//!
//! Invariants: bars only read [`Metrics`]; they appear when a pipeline's committed position
//! carries snapshot progress and go when it no longer does; a table without an estimate gets a
//! counter instead of a bar; at most [`TABLE_BARS`] table bars per pipeline.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use otter_core::pipeline::Metrics;
use otter_core::position::snapshot::SnapshotProgress;

/// Table bars shown per pipeline (the first unfinished tables in copy order).
pub const TABLE_BARS: usize = 6;

/// The bars when stderr is a terminal, else `None`.
pub fn terminal() -> Option<MultiProgress> {
    std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4)))
}

/// A `tracing` writer printing each log line above the bars (plain stderr without them).
#[derive(Clone)]
pub struct LogWriter(pub Option<MultiProgress>);

/// One log line being written.
pub struct Line {
    bars: Option<MultiProgress>,
    buf: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let write = || {
            let _ = std::io::stderr().write_all(&buf);
        };
        match &self.bars {
            Some(mp) => mp.suspend(write),
            None => write(),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line { bars: self.0.clone(), buf: Vec::new() }
    }
}

/// The bars of every pipeline.
pub struct Board {
    mp: MultiProgress,
    pipelines: HashMap<String, PipelineBars>,
}

#[derive(Default)]
struct PipelineBars {
    total: Option<ProgressBar>,
    tables: Vec<(String, ProgressBar)>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0} rows/s", s.per_sec());
        })
}

/// A new bar at `rows` of `len` (its rate counts from here, not from 0).
fn bar(mp: &MultiProgress, style: ProgressStyle, prefix: String, rows: u64, len: u64) -> ProgressBar {
    let b = mp.add(ProgressBar::new(len.max(rows)).with_style(style).with_prefix(prefix));
    b.set_position(rows);
    b.reset_eta();
    b
}

impl Board {
    /// Bars drawn on `mp`.
    pub fn new(mp: MultiProgress) -> Board {
        Board { mp, pipelines: HashMap::new() }
    }

    /// Shows `progress` (the committed snapshot progress of `pipeline`, `None`: no copy runs).
    pub fn update(&mut self, pipeline: &str, progress: Option<&SnapshotProgress>) {
        let bars = self.pipelines.entry(pipeline.to_owned()).or_default();
        let Some(p) = progress else {
            if let Some(total) = bars.total.take() {
                total.finish_and_clear();
                for (_, b) in bars.tables.drain(..) {
                    b.finish_and_clear();
                }
            }
            return;
        };
        let copied = p.copied();
        let total = bars.total.get_or_insert_with(|| {
            let template = style("{prefix} [{bar:30}] {human_pos}/{human_len} rows  {rate}  ETA {eta}  {msg}");
            bar(&self.mp, template, format!("{pipeline} snapshot"), copied, p.estimate)
        });
        total.set_length(p.estimate.max(copied));
        total.set_position(copied);
        total.set_message(format!("{} tables to finish", p.tables_left()));
        // One bar per table: the parts of a table copied in parts add up.
        let mut shown: Vec<(String, u64, u64)> = Vec::new();
        for t in &p.tables {
            let name = label(&t.db, &t.table, t.request);
            if let Some((_, rows, estimate)) = shown.iter_mut().find(|(n, ..)| *n == name) {
                *rows += t.rows;
                *estimate += t.estimate;
            } else if shown.len() < TABLE_BARS {
                shown.push((name, t.rows, t.estimate));
            }
        }
        bars.tables.retain(|(name, b)| {
            let keep = shown.iter().any(|(n, ..)| n == name);
            if !keep {
                b.finish_and_clear();
            }
            keep
        });
        for (name, rows, estimate) in shown {
            let bar = match bars.tables.iter().find(|(n, _)| *n == name) {
                Some((_, b)) => b.clone(),
                None => {
                    let template = if estimate > 0 { "  {prefix:40} [{bar:20}] {human_pos}/{human_len}  {rate}  ETA {eta}" } else { "  {prefix:40} {human_pos} rows  {rate}" };
                    let b = bar(&self.mp, style(template), name.clone(), rows, estimate);
                    bars.tables.push((name.clone(), b.clone()));
                    b
                }
            };
            bar.set_length(estimate.max(rows));
            bar.set_position(rows);
        }
    }

    /// The bars of `pipeline` now: the whole copy's `(position, length)` and each table's.
    #[cfg(test)]
    fn state(&self, pipeline: &str) -> Option<BarsNow> {
        let b = self.pipelines.get(pipeline)?;
        let total = b.total.as_ref()?;
        let tables = b.tables.iter().map(|(n, t)| (n.clone(), t.position(), t.length().unwrap_or(0))).collect();
        Some(((total.position(), total.length().unwrap_or(0)), tables))
    }
}

/// The whole copy's `(position, length)` and each table's `(label, position, length)`.
#[cfg(test)]
type BarsNow = ((u64, u64), Vec<(String, u64, u64)>);

fn label(db: &str, table: &str, request: Option<u64>) -> String {
    match request {
        Some(id) => format!("{db}.{table} (re-sync {id})"),
        None => format!("{db}.{table}"),
    }
}

/// Redraws the bars of `metrics` until the task is dropped.
pub async fn render(mp: MultiProgress, metrics: Vec<Arc<Metrics>>) {
    let mut board = Board::new(mp);
    loop {
        for m in &metrics {
            let position = m.committed_position();
            board.update(m.name(), position.as_ref().and_then(|p| p.snapshot.as_deref()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otter_core::position::snapshot::TableProgress;

    #[test]
    fn bars_follow_the_committed_progress_and_go_when_the_copy_ends() {
        let mut board = Board::new(MultiProgress::with_draw_target(ProgressDrawTarget::hidden()));
        let mut p = SnapshotProgress::of(vec![
            TableProgress { estimate: 1000, ..TableProgress::new("s", "a") },
            TableProgress { estimate: 0, request: Some(3), ..TableProgress::new("s", "b") },
            TableProgress { estimate: 500, ..TableProgress::new("s", "c") },
            TableProgress { estimate: 500, ..TableProgress::new("s", "c") },
        ]);
        p.tables[0].rows = 400;
        p.tables[1].rows = 7;
        p.tables[2].rows = 100;
        p.tables[3].rows = 50;
        board.update("p1", Some(&p));
        let (total, tables) = board.state("p1").unwrap();
        assert_eq!(total, (557, 2000));
        assert_eq!(tables, vec![("s.a".to_owned(), 400, 1000), ("s.b (re-sync 3)".to_owned(), 7, 7), ("s.c".to_owned(), 150, 1000)]);
        // s.a and s.c finished: their bars go, their rows count in the total.
        p.done_rows = 2000;
        p.tables.remove(0);
        p.tables.truncate(1);
        board.update("p1", Some(&p));
        let (total, tables) = board.state("p1").unwrap();
        assert_eq!(total, (2007, 2007));
        assert_eq!(tables.len(), 1);
        board.update("p1", None);
        assert!(board.state("p1").is_none());
    }
}
