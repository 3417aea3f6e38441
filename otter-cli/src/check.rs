//! `otter check --config FILE`: every preflight check of every pipeline's source and target,
//! printed as a pass/warn/fail table. Exit 0 when nothing failed, 2 otherwise.
//!
//! Invariants: nothing is written anywhere; a pipeline that has a stored checkpoint has its
//! `start_position` judged at that checkpoint, read as `otter run` reads it (the target's
//! checkpoint table for a MySQL sink, else the local checkpoint file), not at the configured
//! `from`, which a resuming run ignores.

use std::path::PathBuf;

use mysql_async::prelude::Queryable;
use otter_core::checkpoint::FileCheckpointStore;
use otter_core::position::Position;
use otter_core::mysql::conn::{translate, ConnectOptions, ServerInfo};
use otter_core::source::mysql::preflight::{check_checkpoint_available, run_all, Check, Outcome};
use otter_core::{Error, ErrorKind, Result};
use otter_load::checkpoint::CheckpointTable;

use crate::config::{Config, PipelineConfig, SinkConfig};

/// Arguments of `otter check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The pipelines file (TOML).
    #[arg(short, long)]
    pub config: PathBuf,
}

/// One table row.
struct Row {
    pipeline: String,
    side: &'static str,
    check: String,
    result: &'static str,
    detail: String,
}

fn row(p: &str, side: &'static str, check: impl Into<String>, outcome: std::result::Result<String, String>, warn: bool) -> Row {
    let (result, detail) = match outcome {
        Ok(d) if warn => ("WARN", d),
        Ok(d) => ("PASS", d),
        Err(d) => ("FAIL", d),
    };
    Row { pipeline: p.to_owned(), side, check: check.into(), result, detail }
}

/// The stored checkpoint the pipeline would resume from, read without writing anything, with
/// where it is kept (what to delete to start again); `None` when no run stored one.
async fn stored_checkpoint(cfg: &Config, p: &PipelineConfig) -> Result<Option<(Position, String)>> {
    let file = FileCheckpointStore::new(&cfg.pipeline_dir(&p.name));
    let mut kept = format!("the file {}", file.path().display());
    if let SinkConfig::Mysql(m) = &p.sink {
        kept = format!("the rows of pipeline {} in `{}`.`checkpoint` on the target, and {kept}", p.name, m.checkpoint_schema);
        // A dry run reads nothing from the target (nor does `otter run`).
        if !m.dry_run {
            let mut conn = ConnectOptions::new(&m.url, &m.tls)?.connect().await?;
            let stored = CheckpointTable::new(&m.checkpoint_schema, &p.name).load_if_present(&mut conn).await;
            let _ = conn.disconnect().await;
            if let Some(position) = stored.map_err(|e| e.context("reading the stored checkpoint"))?.and_then(|s| s.position) {
                return Ok(Some((position, kept)));
            }
        }
    }
    Ok(file.load_sync()?.map(|c| (c.position, kept)))
}

async fn source_rows(p: &PipelineConfig, identity: &str, stored: Result<Option<(Position, String)>>) -> Vec<Row> {
    let name = &p.name;
    let attempt = async {
        let opts = ConnectOptions::new(&p.source.url, &p.source.tls)?;
        let mut conn = opts.connect().await?;
        let server = ServerInfo::query(&mut conn).await?;
        let mut checks = run_all(&mut conn, &server, p.source.effective_server_id(identity), &p.source.start_from()?).await?;
        // A resuming run starts at its stored checkpoint: judge that instead of `from`.
        if let Some(slot) = checks.iter_mut().find(|c| c.name == "start_position") {
            let outcome = match &stored {
                Ok(None) => None,
                Ok(Some((position, kept))) => Some(match check_checkpoint_available(&mut conn, &server, position, kept).await {
                    Ok(c) => c.outcome,
                    Err(e) => Outcome::Fail(e),
                }),
                Err(e) => Some(Outcome::Fail(Error::new(
                    e.kind(),
                    format!("cannot read the pipeline's stored checkpoint, so where it resumes is unknown: {e}"),
                ))),
            };
            if let Some(outcome) = outcome {
                *slot = Check { name: "start_position", outcome };
            }
        }
        Ok::<_, Error>((server, checks))
    };
    match attempt.await {
        Err(e) => vec![row(name, "source", "connect", Err(e.to_string()), false)],
        Ok((server, checks)) => {
            let mut rows = vec![row(name, "source", "connect", Ok(server.version.clone()), false)];
            for c in checks {
                rows.push(match c.outcome {
                    Outcome::Pass(d) => row(name, "source", c.name, Ok(d), false),
                    Outcome::Warn(d) => row(name, "source", c.name, Ok(d), true),
                    Outcome::Fail(e) => row(name, "source", c.name, Err(e.to_string()), false),
                });
            }
            rows
        }
    }
}

async fn target_rows(p: &PipelineConfig) -> Vec<Row> {
    let name = &p.name;
    match &p.sink {
        SinkConfig::Jsonl(j) => {
            let ok = if j.path == "-" {
                Ok("stdout".to_owned())
            } else {
                let path = PathBuf::from(&j.path);
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                if dir.is_dir() {
                    Ok(format!("{} (directory exists)", j.path))
                } else {
                    Err(format!("directory {} does not exist", dir.display()))
                }
            };
            vec![row(name, "sink", "output", ok, false)]
        }
        SinkConfig::Mysql(m) => {
            let attempt = async {
                let opts = ConnectOptions::new(&m.url, &m.tls)?;
                let mut conn = opts.connect().await?;
                let version: Option<String> = conn.query_first("SELECT @@version").await.map_err(|e| translate(e, "target"))?;
                let grants: Vec<String> = conn.query("SHOW GRANTS").await.map_err(|e| translate(e, "target"))?;
                let vars: Vec<(String, String)> = conn
                    .query("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('local_infile', 'innodb_autoinc_lock_mode', 'log_bin', 'binlog_format')")
                    .await
                    .map_err(|e| translate(e, "target"))?;
                Ok::<_, Error>((version.unwrap_or_default(), grants, vars))
            };
            match attempt.await {
                Err(e) => vec![row(name, "sink", "connect", Err(e.to_string()), false)],
                Ok((version, grants, vars)) => {
                    let all = grants.iter().any(|g| g.to_ascii_uppercase().contains("ALL PRIVILEGES"));
                    let has = |p: &str| all || grants.iter().any(|g| g.to_ascii_uppercase().contains(p));
                    let missing: Vec<&str> = ["INSERT", "UPDATE", "DELETE", "CREATE"].into_iter().filter(|p| !has(p)).collect();
                    let privileges = if missing.is_empty() {
                        Ok("INSERT, UPDATE, DELETE, CREATE granted".to_owned())
                    } else {
                        Err(format!("the account lacks {}: grant them on the target tables and on `{}`.*", missing.join(", "), m.checkpoint_schema))
                    };
                    let speed = speed_rows(name, m, &version, &vars);
                    let mut rows = vec![row(name, "sink", "connect", Ok(version), false), row(name, "sink", "privileges", privileges, false)];
                    rows.extend(speed);
                    rows
                }
            }
        }
    }
}

/// How runs of whole-row writes reach the target, and the target settings that decide how fast
/// (warnings only: every path has a safe fallback). `version` is the target's `@@version`,
/// `vars` its `(name, value)` global variables.
fn speed_rows(name: &str, m: &otter_load::MysqlSinkConfig, version: &str, vars: &[(String, String)]) -> Vec<Row> {
    let var = |n: &str| vars.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.to_ascii_uppercase());
    let mut rows = Vec::new();
    // Bulk execution needs neither LOCAL INFILE nor the AUTO-INC lock mode.
    if otter_load::dialect::mysql::MysqlDialect::for_version(version).bulk_execution() && m.bulk_min_rows > 0 {
        let detail = format!(
            "runs of at least {} whole-row writes go as bulk executions of one prepared statement (MariaDB); \
             local_infile and innodb_autoinc_lock_mode do not matter",
            m.bulk_min_rows
        );
        rows.push(row(name, "sink", "bulk_execution", Ok(detail), false));
        return rows;
    }
    let infile = var("local_infile");
    let (detail, warn) = if m.load_data_min_rows == 0 {
        ("LOAD DATA is off (load_data_min_rows = 0): inserted rows go as INSERT statements".to_owned(), false)
    } else if matches!(infile.as_deref(), Some("OFF" | "0")) {
        (
            "local_infile = OFF: runs of inserted rows fall back to INSERT statements, which cost the target ~1.5x the CPU; \
             SET GLOBAL local_infile = ON on the target (and set it in its configuration file)"
                .to_owned(),
            true,
        )
    } else {
        (format!("local_infile = {}: runs of inserted rows go as LOAD DATA LOCAL", infile.as_deref().unwrap_or("ON")), false)
    };
    rows.push(row(name, "sink", "local_infile", Ok(detail), warn));
    if let Some(mode) = var("innodb_autoinc_lock_mode") {
        let statement_binlog = var("log_bin").as_deref() == Some("ON") && var("binlog_format").as_deref() != Some("ROW");
        let (detail, warn) = if mode == "2" {
            ("innodb_autoinc_lock_mode = 2: workers load one table in parallel".to_owned(), false)
        } else if m.workers == Some(1) {
            (format!("innodb_autoinc_lock_mode = {mode} (one worker: nothing to take turns)"), false)
        } else if statement_binlog {
            (format!("innodb_autoinc_lock_mode = {mode}: keep it, the target writes a statement-based binary log"), false)
        } else {
            (
                format!(
                    "innodb_autoinc_lock_mode = {mode}: workers take turns loading a table with an AUTO_INCREMENT column \
                     (InnoDB holds its AUTO-INC lock for a whole LOAD DATA); start the target with \
                     innodb_autoinc_lock_mode = 2 to load in parallel (safe: its binary log is off or ROW)"
                ),
                true,
            )
        };
        rows.push(row(name, "sink", "autoinc_lock_mode", Ok(detail), warn));
    }
    rows
}

/// Auto-increment settings of every site of the two-way pipelines: sites that all accept inserts
/// must not generate the same keys.
async fn site_rows(cfg: &Config) -> Vec<Row> {
    let mut sites: Vec<(String, String, otter_core::mysql::conn::TlsConfig)> = Vec::new();
    for p in &cfg.pipelines {
        let (Some(tw), SinkConfig::Mysql(m)) = (&p.two_way, &p.sink) else { continue };
        for (site, url, tls) in [(&tw.source_site, &p.source.url, &p.source.tls), (&tw.target_site, &m.url, &m.tls)] {
            if !sites.iter().any(|(s, _, _)| s == site) {
                sites.push((site.clone(), url.clone(), tls.clone()));
            }
        }
    }
    if sites.len() < 2 {
        return Vec::new();
    }
    let mut settings = Vec::new();
    for (site, url, tls) in &sites {
        let got = async {
            let mut conn = ConnectOptions::new(url, tls)?.connect().await?;
            let v: Option<(u64, u64)> = conn
                .query_first("SELECT @@global.auto_increment_increment, @@global.auto_increment_offset")
                .await
                .map_err(|e| translate(e, "site"))?;
            Ok::<_, Error>(v.unwrap_or((1, 1)))
        };
        match got.await {
            Ok(v) => settings.push((site.clone(), v)),
            Err(e) => return vec![row("sites", "site", format!("auto_increment {site}"), Err(e.to_string()), false)],
        }
    }
    let mut clashes = Vec::new();
    for (i, (a, (ia, oa))) in settings.iter().enumerate() {
        for (b, (ib, ob)) in settings.iter().skip(i + 1) {
            // Sequences off_a + k*inc_a and off_b + k*inc_b meet unless their residues differ
            // modulo gcd(inc_a, inc_b).
            let g = gcd(*ia, *ib).max(1);
            if oa % g == ob % g {
                clashes.push(format!("{a} (increment {ia}, offset {oa}) and {b} (increment {ib}, offset {ob})"));
            }
        }
    }
    let n = settings.len();
    let detail = if clashes.is_empty() {
        Ok(format!("{n} sites generate distinct AUTO_INCREMENT keys"))
    } else {
        Ok(format!(
            "AUTO_INCREMENT keys can collide between {}: if every site accepts inserts, set auto_increment_increment = {n} (or more) \
             on all sites and a different auto_increment_offset (1..{n}) on each",
            clashes.join("; ")
        ))
    };
    vec![row("sites", "site", "auto_increment", detail, !clashes.is_empty())]
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Runs the checks; returns an error (exit 2) when any failed.
pub async fn run(args: CheckArgs) -> Result<()> {
    let cfg = Config::load(&args.config)?;
    let mut rows = Vec::new();
    for p in &cfg.pipelines {
        let stored = stored_checkpoint(&cfg, p).await;
        rows.extend(source_rows(p, &cfg.instance_identity(&p.name), stored).await);
        rows.extend(target_rows(p).await);
    }
    rows.extend(site_rows(&cfg).await);
    let w = |f: &dyn Fn(&Row) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let (wp, wc) = (w(&|r| r.pipeline.len(), 8), w(&|r| r.check.len(), 5));
    println!("{:wp$}  {:6}  {:wc$}  {:6}  DETAIL", "PIPELINE", "SIDE", "CHECK", "RESULT");
    for r in &rows {
        println!("{:wp$}  {:6}  {:wc$}  {:6}  {}", r.pipeline, r.side, r.check, r.result, r.detail);
    }
    let failed = rows.iter().filter(|r| r.result == "FAIL").count();
    if failed > 0 {
        return Err(Error::new(ErrorKind::Preflight, format!("{failed} check(s) failed")));
    }
    Ok(())
}
