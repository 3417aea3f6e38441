//! `otter verify --config FILE [--pipeline p] [--tables RE] [--where ...] [--report FILE]
//! [--repair | --print-sql]`: compares each pipeline's source and target while replication runs
//! (`otter_load::verify`), prints a summary per table, writes every differing key as JSON, and
//! repairs through the pipeline's re-sync path.
//!
//! Exit codes: 0 equal (after a repair: equal now), 1 differences found (or left), 2 bad input
//! (unknown pipeline, a sink that is not a MySQL target, an unreachable server).
//!
//! `--continuous` compares a share of chunks per pass instead, pass after pass, and serves the
//! differences as metrics ([`continuous`]).

pub mod continuous;

use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mysql_async::prelude::Queryable;
use otter_core::mysql::conn::{show_create_table, translate, ConnectOptions};
use otter_core::mysql::quote::{ident, text, value};
use otter_core::{Error, ErrorKind, Result};
use otter_load::verify::diff::DiffKind;
use otter_load::verify::{Reverse, Sample, TableReport, Verifier, VerifyOptions};
use otter_core::transform::TablePattern;

use crate::config::{Config, PipelineConfig, SinkConfig};

/// Arguments of `otter verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The pipelines file (TOML).
    #[arg(short, long)]
    pub config: PathBuf,
    /// Only this pipeline (default: every pipeline with a MySQL target).
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Only tables whose `db.table` matches this pattern (a regular expression or a wildcard
    /// such as `shop.*`, as `route.from`).
    #[arg(long)]
    pub tables: Option<String>,
    /// Only rows this condition selects (SQL on the table's columns, run on both sides).
    #[arg(long = "where")]
    pub where_clause: Option<String>,
    /// Write every differing key to this file (JSON).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Copy the differing keys again through the pipeline's re-sync path, then verify them again.
    #[arg(long, conflicts_with = "print_sql")]
    pub repair: bool,
    /// Print the statements that would fix the target instead (nothing is written).
    #[arg(long)]
    pub print_sql: bool,
    /// Rows of the first chunk (default 10000); later chunks adapt to about 0.4 s each.
    #[arg(long, default_value_t = 10_000)]
    pub chunk_rows: usize,
    /// Times a differing chunk or key is checked before it is reported (default 5).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Longest wait for the pipeline to apply up to a source position, seconds (default 60).
    #[arg(long, default_value_t = 60)]
    pub wait_secs: u64,
    /// Most source rows of a differing range compared row by row; bigger ones are cut first
    /// (default 20000).
    #[arg(long, default_value_t = 20_000)]
    pub diff_rows: usize,
    /// The share of time verify keeps the servers busy, 0 < LOAD <= 1 (default 1: full speed,
    /// both servers at once); below 1 one server at a time, and e.g. 0.5 pauses after each range
    /// as long as it took.
    #[arg(long, default_value_t = 1.0)]
    pub load: f64,
    /// Keep verifying, one pass every --every seconds, each comparing a random --sample share
    /// of chunks plus every range that differed before; differences are served as metrics
    /// (`otter_verify_differences`) and logged. Stops on SIGINT/SIGTERM (exit 0 when the last
    /// pass was equal, 1 otherwise). Never repairs by itself.
    #[arg(long, conflicts_with_all = ["repair", "print_sql"])]
    pub continuous: bool,
    /// Share of chunks compared per pass, 0 < SHARE <= 1 (default 1; 0.05 with --continuous).
    #[arg(long)]
    pub sample: Option<f64>,
    /// Seconds from the start of one continuous pass to the start of the next (default 3600).
    #[arg(long, default_value_t = 3600, requires = "continuous")]
    pub every: u64,
    /// Serve the verify metrics at `GET /metrics` on this address (PORT, :PORT or HOST:PORT;
    /// loopback unless a host is given), with --continuous.
    #[arg(long, requires = "continuous")]
    pub metrics_addr: Option<String>,
}

/// One pipeline to verify: its config, its verifier, and the tables it captures.
pub struct Target<'a> {
    /// The pipeline.
    pub pipeline: &'a PipelineConfig,
    /// Connected to its source and target.
    pub verifier: Verifier,
    /// Its own schema on the source (left out of the tables).
    pub own_schema: String,
}

impl Target<'_> {
    /// The included tables that `--tables` selects.
    pub async fn tables(&self, only: Option<&TablePattern>) -> Result<Vec<(String, String)>> {
        let all = self.verifier.tables(&self.own_schema).await.map_err(unreachable)?;
        Ok(all.into_iter().filter(|(d, t)| only.is_none_or(|re| re.is_match(d, t))).collect())
    }
}

/// Runs the comparison; `Ok(true)` when everything is equal.
pub async fn run(args: VerifyArgs) -> Result<bool> {
    let shutdown = crate::signals::Shutdown::install();
    let cfg = Config::load(&args.config)?;
    let tables_re = args.tables.as_deref().map(|t| TablePattern::new(t, None)).transpose().map_err(|e| e.context("--tables"))?;
    let share = args.sample.unwrap_or(if args.continuous { 0.05 } else { 1.0 });
    if !(share > 0.0 && share <= 1.0) {
        return Err(Error::config(format!("--sample {share}: give a share of chunks above 0 and at most 1")));
    }
    let targets = connect(&args, &cfg).await?;
    if args.continuous {
        return continuous::run(&args, share, &targets, tables_re.as_ref(), shutdown).await;
    }
    let sample = Sample { share, seed: continuous::seed(), again: Vec::new() };
    let mut all: Vec<(String, TableReport)> = Vec::new();
    for target in &targets {
        let p = target.pipeline;
        let verifier = &target.verifier;
        let tables = target.tables(tables_re.as_ref()).await?;
        let bar = bar(tables.len() as u64, &p.name);
        for (db, table) in &tables {
            bar.set_message(format!("{db}.{table}"));
            let mut report = verifier.sampled(db, table, &sample, &mut |rows| bar.set_message(format!("{db}.{table}: {rows} rows"))).await?;
            if !report.differences.is_empty() && (args.repair || args.print_sql) {
                if args.print_sql {
                    print_sql(p, db, table, &report).await?;
                } else {
                    bar.set_message(format!("{db}.{table}: repairing {} keys", report.differences.len()));
                    repair(&cfg, p, db, table, &report).await?;
                    let again = verifier.table(db, table, &mut |_| {}).await?;
                    println!("{}: repaired {} keys; now {}", report.source, report.differences.len(), if again.equal() { "equal" } else { "still different" });
                    report = again;
                }
            }
            all.push((p.name.clone(), report));
            bar.inc(1);
        }
        bar.finish_and_clear();
    }
    print_summary(&all);
    if let Some(path) = &args.report {
        write_report(path, &all)?;
    }
    Ok(all.iter().all(|(_, r)| r.equal()))
}

/// The pipelines the arguments name (every one with a MySQL target by default), connected.
async fn connect<'a>(args: &VerifyArgs, cfg: &'a Config) -> Result<Vec<Target<'a>>> {
    if let Some(w) = &args.where_clause {
        otter_core::source::mysql::snapshot::resync::check_where(w)?;
    }
    if !(args.load > 0.0 && args.load <= 1.0) {
        return Err(Error::config(format!("--load {}: give a share of time above 0 and at most 1", args.load)));
    }
    let pipelines: Vec<&PipelineConfig> = match &args.pipeline {
        Some(name) => {
            let p = cfg.pipelines.iter().find(|p| &p.name == name).ok_or_else(|| {
                let names: Vec<&str> = cfg.pipelines.iter().map(|p| p.name.as_str()).collect();
                Error::config(format!("no pipeline {name:?} in the config (it has: {})", names.join(", ")))
            })?;
            if !matches!(p.sink, SinkConfig::Mysql(_)) {
                return Err(Error::config(format!("pipeline {name} does not write to a MySQL target: verify compares a source with its MySQL/MariaDB target")));
            }
            vec![p]
        }
        None => cfg.pipelines.iter().filter(|p| matches!(p.sink, SinkConfig::Mysql(_))).collect(),
    };
    if pipelines.is_empty() {
        return Err(Error::config("no pipeline of the config writes to a MySQL target: nothing to verify"));
    }
    let mut targets = Vec::new();
    for p in pipelines {
        let SinkConfig::Mysql(target) = &p.sink else { continue };
        let mut opts = VerifyOptions::new(&p.name, p.source.clone(), target.clone(), p.transforms.clone());
        opts.where_clause = args.where_clause.clone();
        opts.chunk_rows = args.chunk_rows.max(1);
        opts.rounds = args.rounds.max(1);
        opts.wait = Duration::from_secs(args.wait_secs.max(1));
        opts.diff_rows = args.diff_rows.max(2);
        opts.load = args.load;
        opts.reverse = reverse(cfg, p);
        let verifier = Verifier::connect(opts).await.map_err(unreachable)?;
        let own_schema = p.two_way.as_ref().map(|tw| tw.rules()).unwrap_or_default().schema;
        targets.push(Target { pipeline: p, verifier, own_schema });
    }
    Ok(targets)
}

/// In a two-way pair, the pipeline of the other direction (the target site's writes to the
/// source), when the config holds it; without it, writes at the target site that are on their
/// way back can show as differences (warned).
fn reverse(cfg: &Config, p: &PipelineConfig) -> Option<Reverse> {
    let tw = p.two_way.as_ref()?;
    let back = cfg.pipelines.iter().find_map(|r| {
        let rt = r.two_way.as_ref()?;
        let SinkConfig::Mysql(sink) = &r.sink else { return None };
        (rt.source_site == tw.target_site && rt.target_site == tw.source_site)
            .then(|| Reverse { pipeline: r.name.clone(), source: r.source.clone(), checkpoint_schema: sink.checkpoint_schema.clone() })
    });
    if back.is_none() {
        tracing::warn!(
            pipeline = %p.name,
            target_site = %tw.target_site,
            "The config has no pipeline from the target site back to the source site: rows written at the target site and not yet applied back can show as differences (give verify the config that holds both directions)."
        );
    }
    back
}

/// Writes every table's report as JSON.
fn write_report(path: &std::path::Path, all: &[(String, TableReport)]) -> Result<()> {
    let json: Vec<serde_json::Value> = all.iter().map(|(p, r)| serde_json::json!({ "pipeline": p, "table": r })).collect();
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::new(ErrorKind::State, format!("cannot encode the report: {e}")))?;
    std::fs::write(path, text).map_err(|e| Error::config(format!("cannot write --report {}: {e}", path.display())))
}

/// A server verify cannot reach or read is bad input (exit 2), with what to check.
fn unreachable(e: Error) -> Error {
    if e.is_transient() {
        Error::new(ErrorKind::Preflight, format!("{e}: check the URL, that the server runs and that this machine can reach it"))
    } else {
        e
    }
}

fn bar(tables: u64, pipeline: &str) -> ProgressBar {
    let target = if std::io::IsTerminal::is_terminal(&std::io::stderr()) { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(tables), target);
    bar.set_style(ProgressStyle::with_template("{prefix} [{bar:25}] {pos}/{len} tables  ETA {eta}  {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.set_prefix(format!("verify {pipeline}"));
    bar
}

/// Prints one line per table and a verdict.
fn print_summary(all: &[(String, TableReport)]) {
    println!("{:16}  {:32}  {:>7}  {:>10}  {:>8}  {:>6}  {:>9}  {:>9}  NOTE", "PIPELINE", "TABLE", "CHUNKS", "ROWS", "MISSING", "EXTRA", "DIFFERENT", "UNSETTLED");
    for (p, r) in all {
        let count = |k: DiffKind| r.differences.iter().filter(|d| d.kind == k).count();
        let note = match (&r.problem, r.target.as_str(), r.source.as_str()) {
            (Some(problem), ..) => problem.clone(),
            (None, t, s) if !t.is_empty() && t != s => format!("-> {t}"),
            _ => String::new(),
        };
        let note = match r.skipped {
            0 => note,
            n => format!("{note}{}sampled {} of {} chunks", if note.is_empty() { "" } else { "; " }, r.chunks, r.chunks + n).to_owned(),
        };
        println!(
            "{:16}  {:32}  {:>7}  {:>10}  {:>8}  {:>6}  {:>9}  {:>9}  {}",
            p,
            r.source,
            r.chunks,
            r.rows,
            count(DiffKind::Missing),
            count(DiffKind::Extra),
            count(DiffKind::Different),
            r.unsettled,
            note
        );
    }
    let differing = all.iter().filter(|(_, r)| !r.equal()).count();
    let keys: usize = all.iter().map(|(_, r)| r.differences.len()).sum();
    if differing == 0 {
        println!("equal: {} tables", all.len());
    } else {
        println!("DIFFERENT: {differing} of {} tables, {keys} keys", all.len());
    }
}

/// The key columns of the source table, in key order.
async fn key_columns(p: &PipelineConfig, db: &str, table: &str) -> Result<Vec<otter_core::schema::Column>> {
    let (mut conn, settings) = otter_core::source::mysql::reading_session(&ConnectOptions::new(&p.source.url, &p.source.tls)?).await?;
    let create = show_create_table(&mut conn, db, table).await.map_err(|e| translate(e, "reading the source table"))?.unwrap_or_default();
    let schema = otter_core::source::mysql::tables::parse_create(&settings, None, db, table, &create)?
        .ok_or_else(|| Error::config(format!("the definition of {db}.{table} does not parse")))?;
    let key = schema.key_columns().ok_or_else(|| Error::config(format!("{db}.{table} has no key")))?;
    Ok(key.iter().filter_map(|&i| schema.columns.get(i).cloned()).collect())
}

/// Re-syncs the differing keys of one table through the pipeline and waits until applied.
async fn repair(cfg: &Config, p: &PipelineConfig, db: &str, table: &str, report: &TableReport) -> Result<()> {
    let keys = key_columns(p, db, table).await?;
    let list = otter_load::verify::key_list(&keys, &report.differences).map_err(|why| Error::config(format!("{db}.{table}: {why}")))?;
    let (id, written) = crate::resync::submit(p, db, table, None, Some(&list)).await?;
    if let Some(after) = written {
        crate::resync::wait(cfg, &p.name, id, &after).await?;
    }
    Ok(())
}

/// Prints statements that would make the target's differing keys equal to the source's rows.
async fn print_sql(p: &PipelineConfig, db: &str, table: &str, report: &TableReport) -> Result<()> {
    let changed = otter_core::transform::column_changes(&p.transforms, db, table)?;
    if !changed.is_empty() {
        return Err(Error::config(format!(
            "pipeline {} changes the columns of {db}.{table} ({}): --print-sql writes the source's columns; use --repair",
            p.name,
            changed.join(", ")
        )));
    }
    let keys = key_columns(p, db, table).await?;
    let (tdb, ttable) = report.target.split_once('.').unwrap_or((db, table));
    let opts = ConnectOptions::new(&p.source.url, &p.source.tls)?;
    let mut conn = opts.connect().await?;
    conn.query_drop("SET SESSION time_zone = '+00:00', character_set_results = utf8mb4").await.map_err(|e| translate(e, "source"))?;
    let key_names: Vec<String> = keys.iter().map(|c| ident(&c.name)).collect();
    let by_key = |key: &[String]| key_names.iter().zip(key).map(|(k, v)| format!("{k} = {}", text(v))).collect::<Vec<_>>().join(" AND ");
    let select = format!("SELECT * FROM {}.{} WHERE {}", ident(db), ident(table), key_names.iter().map(|k| format!("{k} = ?")).collect::<Vec<_>>().join(" AND "));
    println!("-- {} -> {}: {} keys", report.source, report.target, report.differences.len());
    println!("SET SESSION time_zone = '+00:00';");
    for d in &report.differences {
        let target_key = d.target_key.as_ref().unwrap_or(&d.key);
        if d.kind == DiffKind::Extra || d.target_key.is_some() {
            println!("DELETE FROM {}.{} WHERE {};", ident(tdb), ident(ttable), by_key(target_key));
        }
        if d.kind == DiffKind::Extra {
            continue;
        }
        let row: Option<mysql_async::Row> = conn.exec_first(select.as_str(), d.key.clone()).await.map_err(|e| translate(e, "reading a source row"))?;
        let Some(row) = row else {
            println!("-- key ({}): gone from the source meanwhile", d.key.join(", "));
            continue;
        };
        let cols: Vec<String> = row.columns_ref().iter().map(|c| ident(&c.name_str())).collect();
        let vals: Vec<String> = row.columns_ref().iter().enumerate().map(|(i, c)| row.as_ref(i).map_or_else(|| "NULL".into(), |v| literal(c, v))).collect();
        println!("REPLACE INTO {}.{} ({}) VALUES ({});", ident(tdb), ident(ttable), cols.join(", "), vals.join(", "));
    }
    Ok(())
}

/// A value of the binary protocol as a literal of its column: text and decimals quoted as text,
/// binary strings in hexadecimal, numbers and dates as themselves.
fn literal(col: &mysql_async::Column, v: &mysql_async::Value) -> String {
    use mysql_async::consts::ColumnType as T;
    const BINARY: u16 = 63;
    match v {
        mysql_async::Value::Bytes(b) => {
            let textual = col.character_set() != BINARY || matches!(col.column_type(), T::MYSQL_TYPE_NEWDECIMAL | T::MYSQL_TYPE_DECIMAL | T::MYSQL_TYPE_JSON);
            match std::str::from_utf8(b) {
                Ok(s) if textual => text(s),
                _ => value(v),
            }
        }
        _ => value(v),
    }
}
