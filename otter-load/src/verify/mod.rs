//! Verify: prove that a MySQL/MariaDB target equals its source while replication runs, table by
//! table, in key-range chunks, and name every key that differs.
//!
//! Per chunk (a range of the source's key order, `chunk_rows` rows): the source's row count and
//! 128-bit XOR of row hashes ([`canon`]) inside a consistent snapshot whose binlog position `P`
//! the server reports; then, once the pipeline's checkpoint on the target says everything up to
//! `P` is applied, the same over the target's rows of the range. Equal: the chunk is equal. Else
//! it is checked again (changes in flight make chunks differ for a moment), and after
//! `rounds` tries its rows are compared one by one ([`diff`]).
//!
//! **In-flight changes are never reported.** A differing key is reported only when no change of
//! it lies in the binlog between `P` and `Q`, the newest change any loader partition had applied
//! when the target rows were read (its watermarks, read after the rows): then the source's row at
//! `P` is the source's row at every point up to `Q`, and an exactly-once replica that applied up
//! to `P` and at most up to `Q` must hold exactly it ([`window`]). Keys that were touched are
//! compared again in the next round, and counted as *unsettled* (never as differences) when they
//! keep changing for every round.
//!
//! **Two-way pairs** ([`Reverse`]): the target site writes too, and the other direction applies
//! those writes to the source. Before the source's rows, verify reads `R`, that pipeline's
//! checkpoint on the source (the source then holds every target-site write up to `R`); it reads
//! the target's rows in a consistent snapshot at `T` of the target's binlog (they hold no
//! target-site write after `T`). A key that a change in the target's binlog between `R` and `T`
//! touched may rightly differ and counts as in flight as well; any other target-site write is in
//! both reads. With no checkpoint of that pipeline yet, every differing key is in flight.
//!
//! Invariants: nothing is written to either side; the comparison follows the pipeline's
//! mapping ([`mapping`]); keys pair under their collation; a table without a usable key is
//! compared whole (count and hash), its differences reported for the table, not per row.

pub mod canon;
pub mod diff;
pub mod mapping;
pub mod sample;
pub mod window;

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};
use otter_core::change::portable::PortableValue;
use otter_core::mysql::chunk::key::{compare_with, Binds};
use otter_core::mysql::chunk::{begin_snapshot, end_snapshot, ChunkReader, KeyRange};
use otter_core::mysql::conn::{show_create_table, translate, ConnectOptions};
use otter_core::position::BinlogCoord;
use otter_core::schema::{Column, Settings, TableSchema};
use otter_core::source::mysql::MysqlSourceConfig;
use otter_core::transform::TransformConfig;
use otter_core::{Error, ErrorKind, Result};
use serde::Serialize;

use self::diff::{DiffKind, Difference, Side};
pub use self::sample::Sample;
use crate::mysql::checkpoint_table::CheckpointTable;
use crate::MysqlSinkConfig;

/// The time one chunk's comparison should take; chunk sizes adapt to it.
const CHUNK_TIME: Duration = Duration::from_millis(400);
/// Fewest and most rows per chunk (a differing chunk's rows are read whole from both sides).
const MIN_CHUNK: usize = 1_000;
const MAX_CHUNK: usize = 200_000;

/// What comparing one table's ranges needs.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    s: &'a Side<'a>,
    t: &'a Side<'a>,
    skeys: &'a [&'a Column],
    tkeys: &'a [&'a Column],
    names: &'a [String],
    src_bounds: &'a ChunkReader,
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What to verify and how.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The pipeline's name (its checkpoint rows on the target).
    pub pipeline: String,
    /// The pipeline's source.
    pub source: MysqlSourceConfig,
    /// The pipeline's target.
    pub target: MysqlSinkConfig,
    /// The pipeline's transforms (routes, column changes).
    pub transforms: Vec<TransformConfig>,
    /// Only rows this condition selects (SQL on the source table's columns; also run on the target).
    pub where_clause: Option<String>,
    /// Rows of the first chunk (default 10,000); later chunks adapt to about 0.4 s each.
    pub chunk_rows: usize,
    /// Times a differing chunk (or key) is checked before it is reported (default 5).
    pub rounds: usize,
    /// Longest wait for the target to apply up to a source position (default 60 s).
    pub wait: Duration,
    /// Most source rows of a range compared row by row; a bigger differing range is cut into
    /// ranges of half that first (default 20,000).
    pub diff_rows: usize,
    /// The share of time verify works (0 < load <= 1, default 1): below 1 the two servers hash
    /// one after the other, and after each range verify pauses for `(1 / load - 1)` times that
    /// range's time, leaving the servers room for their own work.
    pub load: f64,
    /// In a two-way pair, the other direction: then a key that the target site's own writes
    /// changed and that pipeline had not yet applied to the source is in flight too.
    pub reverse: Option<Reverse>,
}

/// The other direction of a two-way pair: the pipeline that applies the target site's own
/// writes to the source.
#[derive(Debug, Clone)]
pub struct Reverse {
    /// Its name (its checkpoint rows on the source server).
    pub pipeline: String,
    /// Its source: the target server, whose binlog it reads.
    pub source: MysqlSourceConfig,
    /// The schema of its checkpoint table on the source server.
    pub checkpoint_schema: String,
}

impl VerifyOptions {
    /// Options with defaults.
    pub fn new(pipeline: &str, source: MysqlSourceConfig, target: MysqlSinkConfig, transforms: Vec<TransformConfig>) -> VerifyOptions {
        VerifyOptions { pipeline: pipeline.into(), source, target, transforms, where_clause: None, chunk_rows: 10_000, rounds: 5, wait: Duration::from_secs(60), diff_rows: 20_000, load: 1.0, reverse: None }
    }
}

/// The outcome for one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableReport {
    /// `db.table` on the source.
    pub source: String,
    /// `db.table` on the target.
    pub target: String,
    /// Chunks compared.
    pub chunks: u64,
    /// Source rows compared.
    pub rows: u64,
    /// Differing keys.
    pub differences: Vec<Difference>,
    /// Keys that changed during every round (in flight; not differences).
    pub unsettled: u64,
    /// Chunks a sampled pass left out ([`Sample::share`] below 1).
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// The ranges whose comparison found differences or unsettled keys: a later sampled pass
    /// compares them again ([`Sample::again`]) so that a difference stays visible until repaired.
    #[serde(skip)]
    pub differing: Vec<KeyRange>,
    /// A difference of the whole table (missing, different columns, no key and unequal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl TableReport {
    /// True when nothing differs.
    pub fn equal(&self) -> bool {
        self.differences.is_empty() && self.problem.is_none()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Connections and settings of one verify run.
pub struct Verifier {
    opts: VerifyOptions,
    source: ConnectOptions,
    target: ConnectOptions,
    ckpt: CheckpointTable,
    /// The two-way pair's other direction's checkpoint, on the source server.
    back: Option<CheckpointTable>,
    src_settings: Settings,
    tgt_settings: Settings,
}

use otter_core::source::mysql::reading_session as session;

impl Verifier {
    /// Connects to both sides (a clear error when either cannot be reached or read).
    pub async fn connect(opts: VerifyOptions) -> Result<Verifier> {
        let source = ConnectOptions::new(&opts.source.url, &opts.source.tls)?;
        let target = ConnectOptions::new(&opts.target.url, &opts.target.tls)?;
        let (_, src_settings) = session(&source).await.map_err(|e| e.context("the source"))?;
        let (mut t, tgt_settings) = session(&target).await.map_err(|e| e.context("the target"))?;
        let ckpt = CheckpointTable::new(&opts.target.checkpoint_schema, &opts.pipeline);
        if ckpt.load_if_present(&mut t).await?.and_then(|s| s.position).is_none() {
            return Err(Error::new(
                ErrorKind::Preflight,
                format!("pipeline {} has no checkpoint on the target: verify compares a target the pipeline applies to; start `otter run` first", opts.pipeline),
            ));
        }
        let back = opts.reverse.as_ref().map(|r| CheckpointTable::new(&r.checkpoint_schema, &r.pipeline));
        Ok(Verifier { opts, source, target, ckpt, back, src_settings, tgt_settings })
    }

    /// The base tables the pipeline captures (source names).
    pub async fn tables(&self, own_schema: &str) -> Result<Vec<(String, String)>> {
        otter_core::source::mysql::snapshot::included_tables(&self.opts.source, own_schema).await
    }

    /// Compares one table; `progress` hears the source rows compared so far.
    pub async fn table(&self, db: &str, table: &str, progress: &mut (dyn FnMut(u64) + Send)) -> Result<TableReport> {
        self.sampled(db, table, &Sample::default(), progress).await
    }

    /// Compares the chunks of one table that `sample` picks, after its ranges to compare again.
    pub async fn sampled(&self, db: &str, table: &str, sample: &Sample, progress: &mut (dyn FnMut(u64) + Send)) -> Result<TableReport> {
        let (mut src, _) = session(&self.source).await?;
        let (mut tgt, _) = session(&self.target).await?;
        let mut report = TableReport { source: format!("{db}.{table}"), ..TableReport::default() };
        let create = show_create_table(&mut src, db, table).await.map_err(|e| translate(e, "reading the source table"))?;
        let Some(create) = create else {
            return Err(Error::config(format!("{db}.{table} does not exist on the source")));
        };
        let schema = otter_core::source::mysql::tables::parse_create(&self.src_settings, None, db, table, &create)?
            .ok_or_else(|| Error::config(format!("the definition of {db}.{table} does not parse")))?;
        let schema = with_json(schema, &create);
        let Some(map) = mapping::map_table(&self.opts.transforms, &schema)? else {
            report.problem = Some("the pipeline's transforms drop this table's rows: nothing to compare".into());
            return Ok(report);
        };
        report.target = format!("{}.{}", map.db, map.table);
        let tcreate = show_create_table(&mut tgt, &map.db, &map.table).await.map_err(|e| translate(e, "reading the target table"))?;
        let Some(tcreate) = tcreate else {
            report.problem = Some(format!("missing on the target ({})", report.target));
            return Ok(report);
        };
        let tschema = otter_core::source::mysql::tables::parse_create(&self.tgt_settings, None, &map.db, &map.table, &tcreate)?
            .ok_or_else(|| Error::config(format!("the definition of {} does not parse", report.target)))?;
        let tschema = with_json(tschema, &tcreate);
        // Column pairs.
        let mut src_cols: Vec<&Column> = Vec::new();
        let mut tgt_cols: Vec<&Column> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut lacking = Vec::new();
        for (i, name) in &map.columns {
            let (Some(s), Some(t)) = (schema.columns.get(*i), tschema.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))) else {
                lacking.push(name.clone());
                continue;
            };
            src_cols.push(s);
            tgt_cols.push(t);
            names.push(t.name.clone());
        }
        if !lacking.is_empty() {
            report.problem = Some(format!("the target table lacks column(s) {}", lacking.join(", ")));
            return Ok(report);
        }
        let key: Option<Vec<usize>> = schema.key_columns().and_then(|k| {
            k.iter().map(|ki| map.columns.iter().position(|(i, _)| i == ki)).collect::<Option<Vec<usize>>>()
        });
        let Some(key) = key else {
            tracing::warn!(table = %report.source, "No key the target has too: the table is compared whole (count and hash), without naming rows.");
            if !sample.picks(0) && sample.again.is_empty() {
                report.skipped = 1;
                return Ok(report);
            }
            return self.whole(&mut src, &mut tgt, &schema, &tschema, &src_cols, &tgt_cols, report).await;
        };
        let same: Vec<bool> = src_cols.iter().zip(&tgt_cols).map(|(a, b)| canon::alike(a, b)).collect();
        let src_side = Side { db, table, columns: src_cols.clone(), key: key.clone(), same: same.clone() };
        let tgt_side = Side { db: &map.db, table: &map.table, columns: tgt_cols.clone(), key: key.clone(), same };
        // Chunk ends come from the target's key order (which matches the source's where they are
        // equal), so the source pays only for its hashes; a differing range holding many source
        // rows is cut again from the source's keys before rows are compared.
        let key_cols: Vec<Column> = key.iter().filter_map(|&i| src_cols.get(i).map(|c| (*c).clone())).collect();
        let tkey_cols: Vec<Column> = key.iter().filter_map(|&i| tgt_cols.get(i).map(|c| (*c).clone())).collect();
        let keys_reader = |db: &str, table: &str, cols: &[Column]| -> Result<ChunkReader> {
            let r = ChunkReader::new(std::sync::Arc::new(TableSchema::new(db, table, cols.to_vec(), (0..cols.len()).collect())))?;
            Ok(match &self.opts.where_clause {
                Some(w) => r.with_filter(w.clone(), Vec::new()),
                None => r,
            })
        };
        let bounds = keys_reader(&map.db, &map.table, &tkey_cols)?;
        let src_bounds = keys_reader(db, table, &key_cols)?;
        let tkeys: Vec<&Column> = key.iter().filter_map(|&i| tgt_cols.get(i).copied()).collect();
        let skeys: Vec<&Column> = key_cols.iter().collect();
        // Chunk sizes adapt to a target time per chunk; the next chunk's end is found (on a
        // connection of its own) while a chunk is compared.
        let (mut bconn, _) = session(&self.target).await?;
        let ctx = Ctx { s: &src_side, t: &tgt_side, skeys: &skeys, tkeys: &tkeys, names: &names, src_bounds: &src_bounds };
        let mut seen: std::collections::HashSet<(DiffKind, Vec<String>)> = std::collections::HashSet::new();
        for range in &sample.again {
            let found = self.chunk(&mut src, &mut tgt, &ctx, range).await?;
            record(&mut report, &mut seen, range, found);
            progress(report.rows);
        }
        let mut size = self.opts.chunk_rows.max(1);
        let mut after: Option<Vec<PortableValue>> = None;
        let mut upto = bounds.nth_key(&mut bconn, &KeyRange::default(), size).await?;
        for index in 0.. {
            let range = KeyRange { after: after.clone(), upto: upto.clone() };
            let next = KeyRange { after: upto.clone(), upto: None };
            let started = Instant::now();
            let next_size = size;
            let picked = sample.picks(index);
            let compare = async {
                match picked {
                    true => self.chunk(&mut src, &mut tgt, &ctx, &range).await.map(Some),
                    false => Ok(None),
                }
            };
            let (compared, ahead) = tokio::join!(compare, async {
                match &next.after {
                    Some(_) => bounds.nth_key(&mut bconn, &next, next_size).await.map(Some),
                    None => Ok(None),
                }
            });
            match compared? {
                Some(found) => record(&mut report, &mut seen, &range, found),
                None => report.skipped += 1,
            }
            progress(report.rows);
            let Some(next_upto) = ahead? else { break };
            after = next.after;
            upto = next_upto;
            if !picked {
                continue;
            }
            // Aim at CHUNK_TIME per chunk, changing the size by at most half or double.
            let took = started.elapsed();
            let load = self.opts.load.clamp(0.01, 1.0);
            if load < 1.0 {
                tokio::time::sleep(took.mul_f64(1.0 / load - 1.0)).await;
            }
            let ms = took.as_millis().max(1) as f64;
            let scaled = (size as f64 * CHUNK_TIME.as_millis() as f64 / ms).clamp(size as f64 / 2.0, size as f64 * 2.0);
            size = (scaled as usize).clamp(MIN_CHUNK, MAX_CHUNK);
        }
        Ok(report)
    }

    /// `(source rows, differences, unsettled keys)` of one key range.
    fn chunk<'a>(&'a self, src: &'a mut Conn, tgt: &'a mut Conn, ctx: &'a Ctx<'a>, range: &'a KeyRange) -> BoxFuture<'a, Result<(u64, Vec<Difference>, u64)>> {
        Box::pin(self.chunk_inner(src, tgt, ctx, range))
    }

    async fn chunk_inner(&self, src: &mut Conn, tgt: &mut Conn, ctx: &Ctx<'_>, range: &KeyRange) -> Result<(u64, Vec<Difference>, u64)> {
        let Ctx { s, t, skeys, tkeys, names, src_bounds } = *ctx;
        let scond = self.condition(skeys, range)?;
        let tcond = self.condition(tkeys, range)?;
        let mut rows = 0;
        // Chunk hashes, a few times: changes in flight make a chunk differ for a moment.
        let mut same = false;
        // First both servers at once: equal hashes mean equal rows whenever each was read, and
        // most chunks are equal. Only a chunk that differs is read in order (source first, the
        // target once it applied up to the source's read).
        // (With a load below 1, one server after the other: each waits while the other works.)
        let (sh, th) = if self.opts.load >= 1.0 {
            let (sh, th) = tokio::join!(snapshot_hash(src, s, scond.as_deref()), hash(tgt, t, tcond.as_deref()));
            (sh?.1, th?)
        } else {
            let sh = snapshot_hash(src, s, scond.as_deref()).await?.1;
            (sh, hash(tgt, t, tcond.as_deref()).await?)
        };
        if sh == th {
            return Ok((sh.0, Vec::new(), 0));
        }
        for round in 0..self.opts.rounds.max(1) {
            let (at, sh) = snapshot_hash(src, s, scond.as_deref()).await?;
            self.wait_applied(tgt, s.db, s.table, &at).await?;
            let th = hash(tgt, t, tcond.as_deref()).await?;
            rows = sh.0;
            if sh == th {
                same = true;
                break;
            }
            tracing::debug!(table = %format!("{}.{}", s.db, s.table), round, "A chunk differs; checking again.");
            tokio::time::sleep(Duration::from_millis(50 * (round as u64 + 1))).await;
        }
        if same {
            return Ok((rows, Vec::new(), 0));
        }
        let diff_rows = self.opts.diff_rows.max(2);
        if rows > diff_rows as u64 {
            // Too many rows to compare one by one: compare smaller ranges of the source's keys.
            let mut total = (0, Vec::new(), 0);
            let mut after = range.after.clone();
            loop {
                let end = src_bounds.nth_key(src, &KeyRange { after: after.clone(), upto: range.upto.clone() }, diff_rows / 2).await?;
                let sub = KeyRange { after: after.clone(), upto: end.clone().or_else(|| range.upto.clone()) };
                let (n, d, u) = self.chunk(src, tgt, ctx, &sub).await?;
                total.0 += n;
                total.1.extend(d);
                total.2 += u;
                match end {
                    Some(e) if Some(&e) != range.upto.as_ref() => after = Some(e),
                    _ => return Ok(total),
                }
            }
        }
        // Row by row, reporting only keys no change touched between the two reads.
        let mut settled: Vec<Difference> = Vec::new();
        let mut pending: Vec<Difference> = Vec::new();
        for _ in 0..self.opts.rounds.max(1) {
            // Two-way: what the source holds of the target site's own writes, read before the
            // source's rows (so they hold at least that much).
            let back = match &self.back {
                Some(b) => Some(b.load(src).await?.position.map(|p| p.coord)),
                None => None,
            };
            let at = begin_snapshot(src).await?;
            let srows = diff::fetch(src, s, scond.as_deref(), Vec::new()).await?;
            end_snapshot(src).await?;
            self.wait_applied(tgt, s.db, s.table, &at).await?;
            // Two-way: the target's rows in a snapshot too, whose position bounds the target
            // site's writes they hold.
            let (trows, tat) = if back.is_some() {
                let tat = begin_snapshot(tgt).await?;
                let rows = diff::fetch(tgt, t, tcond.as_deref(), Vec::new()).await?;
                end_snapshot(tgt).await?;
                (rows, Some(tat))
            } else {
                (diff::fetch(tgt, t, tcond.as_deref(), Vec::new()).await?, None)
            };
            let upto = self.applied_upto(tgt).await?;
            rows = srows.len() as u64;
            let found = diff::compare(&srows, &trows, names);
            let touched = window::touched(&self.opts.source, s.db, s.table, &at, &upto, self.opts.wait).await?;
            // Keys the target site changed after what the source holds of its writes.
            let written_back = match (&self.opts.reverse, back, tat) {
                (Some(r), Some(Some(from)), Some(to)) => window::touched(&r.source, t.db, t.table, &from, &to, self.opts.wait).await?,
                // The other direction has stored no position yet: any key may be in flight.
                (Some(_), Some(None), _) => window::Touched { all: true, ..Default::default() },
                _ => window::Touched::default(),
            };
            if self.opts.reverse.is_some() {
                tracing::debug!(table = %format!("{}.{}", t.db, t.table), all = written_back.all, keys = written_back.keys.len(), "Target-site writes on their way back.");
            }
            pending.clear();
            for d in found {
                let hit = |w: &window::Touched| w.contains(&d.key) || d.target_key.as_ref().is_some_and(|k| w.contains(k));
                let in_flight = hit(&touched) || hit(&written_back);
                let known = settled.iter().any(|x| x.key == d.key);
                match (in_flight, known) {
                    (_, true) => {}
                    (false, false) => settled.push(d),
                    (true, false) => pending.push(d),
                }
            }
            if pending.is_empty() {
                break;
            }
        }
        Ok((rows, settled, pending.len() as u64))
    }

    /// The range (and the `WHERE`) as a condition with literal bounds.
    fn condition(&self, keys: &[&Column], range: &KeyRange) -> Result<Option<String>> {
        let mut conds = Vec::new();
        if let Some(a) = &range.after {
            conds.push(compare_with(keys, a, true, &mut Binds::Inline)?);
        }
        if let Some(u) = &range.upto {
            conds.push(compare_with(keys, u, false, &mut Binds::Inline)?);
        }
        if let Some(w) = &self.opts.where_clause {
            conds.push(format!("(\n{w}\n)"));
        }
        Ok((!conds.is_empty()).then(|| conds.join(" AND ")))
    }

    /// Waits until the target holds every change of `db.table` up to `at`: the pipeline's
    /// checkpoint covers `at`, or (the checkpoint does not move past transactions the pipeline
    /// filters out) none of the table's changes lies between the checkpoint and `at`.
    async fn wait_applied(&self, tgt: &mut Conn, db: &str, table: &str, at: &BinlogCoord) -> Result<()> {
        let started = Instant::now();
        let deadline = started + self.opts.wait;
        let mut checked: Option<BinlogCoord> = None;
        let mut last_check = started;
        loop {
            let stored = self.ckpt.load(tgt).await?;
            let coord = stored.position.as_ref().map(|p| p.coord.clone());
            if coord.as_ref().is_some_and(|c| c >= at) {
                return Ok(());
            }
            // At most once a second, and only for a checkpoint not looked at yet.
            let due = started.elapsed() > Duration::from_secs(1) && last_check.elapsed() > Duration::from_secs(1);
            if let Some(c) = coord.as_ref().filter(|c| due && checked.as_ref() != Some(*c)) {
                checked = Some(c.clone());
                last_check = Instant::now();
                let touched = window::touched(&self.opts.source, db, table, c, at, self.opts.wait).await?;
                if !touched.all && touched.keys.is_empty() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(Error::new(
                    ErrorKind::Connection,
                    format!(
                        "pipeline {} did not apply up to the source position {at} within {}s (is `otter run` running? its checkpoint is at {})",
                        self.opts.pipeline,
                        self.opts.wait.as_secs(),
                        stored.position.map_or_else(|| "-".into(), |p| p.to_string())
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The newest change the target may hold: the checkpoint and every partition's watermark.
    async fn applied_upto(&self, tgt: &mut Conn) -> Result<BinlogCoord> {
        let stored = self.ckpt.load(tgt).await?;
        let mut upto = stored.position.map_or_else(|| BinlogCoord::new("", 0), |p| p.coord);
        for w in stored.watermarks.values() {
            // A watermark names its transaction's beginning: the stretch reaches past it.
            let past = BinlogCoord::new(w.txn.file.clone(), w.txn.offset + 1);
            if past > upto {
                upto = past;
            }
        }
        Ok(upto)
    }

    /// A table without a usable key: count and hash of the whole table, a few times.
    #[allow(clippy::too_many_arguments)]
    async fn whole(
        &self,
        src: &mut Conn,
        tgt: &mut Conn,
        schema: &TableSchema,
        tschema: &TableSchema,
        src_cols: &[&Column],
        tgt_cols: &[&Column],
        mut report: TableReport,
    ) -> Result<TableReport> {
        let same: Vec<bool> = src_cols.iter().zip(tgt_cols).map(|(a, b)| canon::alike(a, b)).collect();
        let s = Side { db: &schema.db, table: &schema.name, columns: src_cols.to_vec(), key: Vec::new(), same: same.clone() };
        let t = Side { db: &tschema.db, table: &tschema.name, columns: tgt_cols.to_vec(), key: Vec::new(), same };
        let cond = self.condition(&[], &KeyRange::default())?;
        for round in 0..self.opts.rounds.max(1) {
            let at = begin_snapshot(src).await?;
            let sh = hash(src, &s, cond.as_deref()).await?;
            end_snapshot(src).await?;
            self.wait_applied(tgt, &schema.db, &schema.name, &at).await?;
            let th = hash(tgt, &t, cond.as_deref()).await?;
            report.chunks = 1;
            report.rows = sh.0;
            if sh == th {
                report.problem = None;
                return Ok(report);
            }
            report.problem = Some(format!("rows differ (source {} rows, target {}); the table has no key to name them by", sh.0, th.0));
            tokio::time::sleep(Duration::from_millis(200 * (round as u64 + 1))).await;
        }
        report.differing = vec![KeyRange::default()];
        Ok(report)
    }
}

/// Adds one compared range's `(rows, differences, unsettled)` to `report`; a key found again
/// (a range compared twice in a sampled pass) counts once.
fn record(report: &mut TableReport, seen: &mut std::collections::HashSet<(DiffKind, Vec<String>)>, range: &KeyRange, (rows, diffs, unsettled): (u64, Vec<Difference>, u64)) {
    report.chunks += 1;
    report.rows += rows;
    report.unsettled += unsettled;
    if !diffs.is_empty() || unsettled > 0 {
        report.differing.push(range.clone());
    }
    for d in diffs {
        if seen.insert((d.kind, d.key.clone())) {
            report.differences.push(d);
        }
    }
}

/// MariaDB's `JSON` is a `LONGTEXT` with a `json_valid` check: such columns compare as JSON.
fn with_json(mut schema: TableSchema, create: &str) -> TableSchema {
    let lower = create.to_ascii_lowercase();
    for c in &mut schema.columns {
        if c.sql_type.is_text() && lower.contains(&format!("json_valid({})", otter_core::mysql::quote::ident(&c.name).to_ascii_lowercase())) {
            c.sql_type = otter_core::schema::SqlType::Json;
        }
    }
    schema
}

/// [`hash`] inside a consistent snapshot, with the snapshot's binlog position.
async fn snapshot_hash(conn: &mut Conn, side: &Side<'_>, cond: Option<&str>) -> Result<(BinlogCoord, (u64, u64))> {
    let at = begin_snapshot(conn).await?;
    let h = hash(conn, side, cond).await?;
    end_snapshot(conn).await?;
    Ok((at, h))
}

/// `(rows, hash)` of `side`'s rows matching `cond`.
async fn hash(conn: &mut Conn, side: &Side<'_>, cond: Option<&str>) -> Result<(u64, u64)> {
    let sql = canon::chunk_hash_sql(side.db, side.table, &side.hashed(), cond);
    let row: Option<(u64, u64)> = conn
        .exec_first(sql, Params::Empty)
        .await
        .map_err(|e| translate(e, &format!("checksumming {}.{}", side.db, side.table)))?;
    Ok(row.unwrap_or((0, 0)))
}

/// The keys of `differences` as a re-sync key list (JSON), or why they cannot be one.
pub fn key_list(key_columns: &[Column], differences: &[Difference]) -> std::result::Result<String, String> {
    let mut keys = Vec::with_capacity(differences.len());
    for d in differences {
        let mut k = Vec::with_capacity(d.key.len());
        for (c, text) in key_columns.iter().zip(&d.key) {
            use otter_core::schema::SqlType as T;
            let v = match &c.sql_type {
                T::TinyInt | T::SmallInt | T::MediumInt | T::Int | T::BigInt | T::Year => {
                    text.parse::<i64>().map(serde_json::Value::from).or_else(|_| text.parse::<u64>().map(serde_json::Value::from)).map_err(|_| format!("key {text} is not a number"))?
                }
                t if t.is_text() || matches!(t, T::Date | T::DateTime(_) | T::Timestamp(_) | T::Decimal { .. }) => serde_json::Value::from(text.clone()),
                _ => return Err(format!("column {} has a key type a key list cannot carry; re-sync with --where", c.name)),
            };
            k.push(v);
        }
        keys.push(serde_json::Value::Array(k));
    }
    serde_json::to_string(&keys).map_err(|e| e.to_string())
}
