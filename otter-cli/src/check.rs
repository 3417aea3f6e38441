//! `otter check --config FILE`: every preflight check of every pipeline's source and target,
//! printed as a pass/warn/fail table. Exit 0 when nothing failed, 2 otherwise.
//!
//! The checks are the libraries' (the source's, the target's, the sites'); this command only
//! composes them and prints. Nothing is written anywhere; a pipeline that has a stored checkpoint
//! has its `start_position` judged at it, read as `otter run` would resume
//! ([`otter_core::pipeline::peek_resume`]), not at the configured `from`.

use std::path::PathBuf;

use otter_core::checkpoint::FileCheckpointStore;
use otter_core::pipeline::peek_resume;
use otter_core::preflight::{Check, Outcome};
use otter_core::source::mysql::preflight::check_source;
use otter_core::{Error, ErrorKind, Result};
use otter_load::mysql::MysqlTarget;

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

fn rows(pipeline: &str, side: &'static str, checks: Vec<Check>) -> Vec<Row> {
    checks
        .into_iter()
        .map(|c| {
            let (result, detail) = match c.outcome {
                Outcome::Pass(d) => ("PASS", d),
                Outcome::Warn(d) => ("WARN", d),
                Outcome::Fail(e) => ("FAIL", e.to_string()),
            };
            Row { pipeline: pipeline.to_owned(), side, check: c.name.to_owned(), result, detail }
        })
        .collect()
}

/// The source's and the sink's checks of one pipeline.
async fn pipeline_rows(cfg: &Config, p: &PipelineConfig) -> Vec<Row> {
    let store = FileCheckpointStore::new(&cfg.pipeline_dir(&p.name));
    let (sink_record, sink_checks) = match &p.sink {
        SinkConfig::Mysql(m) => {
            let record = MysqlTarget::peek_stored(&p.name, m).await.map(|s| s.and_then(|(s, kept)| s.position.map(|p| (p, kept))));
            (record, otter_load::mysql::preflight::checks(m).await)
        }
        SinkConfig::Jsonl(j) => {
            let record = otter_core::sink::jsonl::peek_position(j).map(|p| p.map(|p| (p, format!("the offset record of {}", j.path))));
            (record, otter_core::sink::jsonl::preflight(j))
        }
    };
    let stored = sink_record.and_then(|r| peek_resume(r, &store));
    let first_run = matches!(stored, Ok(None));
    let server_id = p.source.effective_server_id(&cfg.instance_identity(&p.name));
    let mut out = rows(&p.name, "source", check_source(&p.source, server_id, stored).await);
    out.extend(rows(&p.name, "sink", sink_checks));
    // Which included tables the target lacks, and what the snapshot will do about them (the
    // source's own failures are reported above).
    if let SinkConfig::Mysql(m) = &p.sink {
        let own = p.two_way.as_ref().map_or("otter", |t| t.marks_schema.as_str());
        if let Ok(tables) = otter_core::source::mysql::snapshot::included_tables(&p.source, own).await {
            let mapped: Result<Vec<(String, String)>> = tables.iter().map(|(d, t)| otter_core::transform::target_name(&p.transforms, d, t)).collect();
            if let Ok(mapped) = mapped {
                use otter_core::source::mysql::snapshot::SnapshotMode;
                let from_latest = matches!(p.source.start_from(), Ok(otter_core::position::StartFrom::Latest));
                let copies = first_run
                    && match p.source.snapshot {
                        SnapshotMode::Never => false,
                        SnapshotMode::WhenNeeded => from_latest,
                        SnapshotMode::Initial | SnapshotMode::InitialOnly => true,
                    };
                out.extend(rows(&p.name, "sink", vec![otter_load::mysql::preflight::target_tables(m, &mapped, copies).await]));
            }
        }
    }
    out
}

/// The sites of the file's two-way pipelines with a MySQL sink: `(site, url, tls)`.
fn sites(cfg: &Config) -> Vec<(String, String, otter_core::mysql::conn::TlsConfig)> {
    let mut sites: Vec<(String, String, otter_core::mysql::conn::TlsConfig)> = Vec::new();
    for p in &cfg.pipelines {
        let (Some(tw), SinkConfig::Mysql(m)) = (&p.two_way, &p.sink) else { continue };
        for (site, url, tls) in [(&tw.source_site, &p.source.url, &p.source.tls), (&tw.target_site, &m.url, &m.tls)] {
            if !sites.iter().any(|(s, _, _)| s == site) {
                sites.push((site.clone(), url.clone(), tls.clone()));
            }
        }
    }
    sites
}

/// Runs the checks; returns an error (exit 2) when any failed.
pub async fn run(args: CheckArgs) -> Result<()> {
    let cfg = Config::load(&args.config)?;
    let mut rows = Vec::new();
    for p in &cfg.pipelines {
        rows.extend(pipeline_rows(&cfg, p).await);
    }
    if let Some(c) = otter_load::mysql::preflight::auto_increment_sites(&sites(&cfg)).await {
        rows.extend(self::rows("sites", "site", vec![c]));
    }
    if let Some(c) = &cfg.coordinator {
        rows.extend(self::rows("cluster", "etcd", vec![otter_coord::check(c).await]));
    }
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
