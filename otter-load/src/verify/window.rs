//! The keys a table's changes touched in a stretch of the source's binlog: how verify tells a
//! row that is in flight (changed after the source was read, so the target may rightly show
//! another version) from a row that differs.
//!
//! Invariant: the answer errs only towards "touched" — every key of every row image (before and
//! after) of the table between the two positions is in it, and when a key cannot be reproduced
//! as the server writes it (see [`super::canon::key_text_of`]) or the binlog cannot be read to
//! the end of the stretch, every key counts as touched.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use otter_core::change::Event;
use otter_core::position::BinlogCoord;
use otter_core::source::mysql::{MysqlSource, MysqlSourceConfig, SourceOptions};
use otter_core::source::Source;
use otter_core::Result;

use super::canon::key_text_of;

/// Keys touched in a stretch of binlog.
#[derive(Debug, Default)]
pub struct Touched {
    /// Every key counts as touched.
    pub all: bool,
    /// Key texts (one text per key column).
    pub keys: HashSet<Vec<String>>,
}

impl Touched {
    /// Whether `key` may have changed.
    pub fn contains(&self, key: &[String]) -> bool {
        self.all || self.keys.contains(key)
    }
}

/// The keys of `db.table` that changes between `from` (exclusive of what a snapshot there saw)
/// and `to` touched, read from the source's binlog with `source`'s connection settings.
pub async fn touched(source: &MysqlSourceConfig, db: &str, table: &str, from: &BinlogCoord, to: &BinlogCoord, wait: Duration) -> Result<Touched> {
    let mut out = Touched::default();
    if to <= from {
        return Ok(out);
    }
    let mut cfg = source.clone();
    cfg.from = Some(format!("{}:{}", from.file, from.offset));
    cfg.include = vec![format!("^{}\\.{}$", regex_escape(db), regex_escape(table))];
    cfg.exclude = Vec::new();
    cfg.server_id = None;
    cfg.heartbeat_secs = 1;
    cfg.snapshot = otter_core::source::mysql::snapshot::SnapshotMode::Never;
    let name = format!("verify-{}-{}", std::process::id(), from);
    let mut src = MysqlSource::start(cfg, SourceOptions { name, skip_preflight: true, ..SourceOptions::default() });
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let next = match tokio::time::timeout(left, src.next()).await {
            Ok(Ok(Some(e))) => e,
            Ok(Ok(None)) => break,
            Ok(Err(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "Verify could not read the binlog stretch; counting every key as changed.");
                out.all = true;
                break;
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                out.all = true;
                break;
            }
        };
        if let Event::Rows(c) = &next {
            for ch in &c.changes {
                if ch.table.db != db || ch.table.name != table {
                    continue;
                }
                let Some(key) = ch.table.key_columns() else {
                    out.all = true;
                    continue;
                };
                for image in [&ch.before, &ch.after].into_iter().flatten() {
                    let texts: Option<Vec<String>> = key.iter().map(|&i| ch.table.columns.get(i).zip(image.get(i)).and_then(|(col, v)| key_text_of(col, v))).collect();
                    match texts {
                        Some(t) => {
                            out.keys.insert(t);
                        }
                        None => out.all = true,
                    }
                }
            }
        }
        if next.position().is_some_and(|p| p.coord >= *to) {
            break;
        }
    }
    Ok(out)
}

fn regex_escape(s: &str) -> String {
    s.chars().flat_map(|c| (!(c.is_alphanumeric() || c == '_')).then_some('\\').into_iter().chain([c])).collect()
}
