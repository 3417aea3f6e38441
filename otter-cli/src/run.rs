//! `otter run --config FILE`: every pipeline of the file in one process, each isolated — one that
//! fails is reported and the others go on; one that stops on an error that may pass (a lost
//! connection) starts again from its checkpoint after a pause (1 s, doubling up to 30 s).
//! SIGINT/SIGTERM stops reading, drains what is in flight, stores the checkpoints and exits 0.

use std::path::PathBuf;
use std::sync::Arc;

use otter_core::checkpoint::FileCheckpointStore;
use otter_core::instance::InstanceLock;
use otter_core::pipeline::{prometheus_text, Metrics, Pipeline};
use otter_core::sink::JsonlSink;
use otter_core::position::StartFrom;
use otter_core::source::mysql::snapshot::SnapshotMode;
use otter_core::source::mysql::{MysqlCapture, SourceOptions};
use otter_core::traits::Sink;
use otter_core::{Error, ErrorKind, Result};
use otter_load::{MysqlSink, MysqlSinkConfig};
use tokio::sync::watch;

use crate::config::{Config, PipelineConfig, SinkConfig};

/// Pauses before restarting a pipeline after a transient error: 1 s, doubling up to
/// [`Backoff::MAX`], and 1 s again after a run that lasted [`Backoff::HEALTHY`].
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const MAX: std::time::Duration = std::time::Duration::from_secs(30);
    const HEALTHY: std::time::Duration = std::time::Duration::from_secs(60);

    /// The pause after a run that lasted `ran`.
    fn next(&mut self, ran: std::time::Duration) -> std::time::Duration {
        if ran >= Self::HEALTHY {
            self.failures = 0;
        }
        let pause = std::time::Duration::from_secs(1u64 << self.failures.min(5)).min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        pause
    }
}

/// Arguments of `otter run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipelines file (TOML); `${VAR}` in values reads the environment.
    #[arg(short, long)]
    pub config: PathBuf,
    /// Stand by: wait while another instance (same config, another machine or state_dir) holds
    /// a pipeline, take it over within seconds when that one dies, stops or stalls (fenced: it can
    /// never commit again), and stand by again if this instance loses it in turn. Every pipeline
    /// needs a MySQL target, where the lease lives.
    #[arg(long)]
    pub standby: bool,
}

/// Runs until every pipeline ended or a stop signal drained them; with `bars` (stderr is a
/// terminal), snapshots draw progress bars there.
pub async fn run(args: RunArgs, bars: Option<indicatif::MultiProgress>) -> Result<()> {
    let shutdown = crate::signals::Shutdown::install();
    let mut cfg = Config::load(&args.config)?;
    if args.standby {
        for p in &mut cfg.pipelines {
            match &mut p.sink {
                SinkConfig::Mysql(m) => m.standby = true,
                SinkConfig::Jsonl(_) => {
                    return Err(Error::config(format!(
                        "--standby: pipeline {} writes to a file, and only a MySQL target holds the lease a standby waits for; run it without --standby (its state lock keeps a second instance on this machine out)",
                        p.name
                    )))
                }
            }
        }
    }
    std::fs::create_dir_all(&cfg.state_dir)
        .map_err(|e| Error::config(format!("cannot create state_dir {}", cfg.state_dir.display())).with_source(e))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let metrics: Vec<Arc<Metrics>> = cfg.pipelines.iter().map(|p| Metrics::new(p.name.clone())).collect();
    if let Some(addr) = &cfg.metrics_addr {
        let listener = crate::metrics_http::bind(addr).await?;
        let pipelines = metrics.clone();
        tokio::spawn(crate::metrics_http::serve(listener, Arc::new(move || prometheus_text(&pipelines))));
    }
    let drawing = bars.clone().map(|mp| tokio::spawn(crate::progress::render(mp, metrics.clone())));
    if let Some(coord) = cfg.coordinator.clone() {
        if args.standby {
            return Err(Error::config("--standby and [coordinator] do not go together: with etcd every node runs its share and takes over the others' pipelines"));
        }
        let signal = tokio::spawn(async move {
            shutdown.wait().await;
            tracing::info!("Stop requested; stopping this node's pipelines and leaving the cluster.");
            let _ = stop_tx.send(true);
        });
        let r = crate::cluster::run(&cfg, &coord, stop_rx, &metrics).await;
        signal.abort();
        if let (Some(d), Some(mp)) = (drawing, bars) {
            d.abort();
            let _ = mp.clear();
        }
        return r;
    }
    let mut tasks = Vec::new();
    for (p, m) in cfg.pipelines.iter().cloned().zip(metrics.iter().cloned()) {
        let dir = cfg.pipeline_dir(&p.name);
        let identity = cfg.instance_identity(&p.name);
        let stop = stop_rx.clone();
        let name = p.name.clone();
        let name_for_result = p.name.clone();
        // Each pipeline reports its own end when it happens (not when the ones before it end).
        let task = async move {
            let standby = matches!(&p.sink, SinkConfig::Mysql(m) if m.standby);
            let mut backoff = Backoff::default();
            let mut restarted = false;
            let r = loop {
                let started = std::time::Instant::now();
                let r = run_pipeline(p.clone(), dir.clone(), identity.clone(), stop.clone(), Arc::clone(&m)).await;
                let r = match r {
                    Err(e) if restarted && e.kind() == ErrorKind::AlreadyRunning => Err(taken_over_meanwhile(&name, e)),
                    r => r,
                };
                restarted = true;
                // A standby that lost the pipeline to another instance stands by again.
                match r {
                    Err(e) if standby && e.kind() == ErrorKind::Fenced && !*stop.borrow() => {
                        tracing::warn!(pipeline = %name, error = %e, "Lost the pipeline; standing by again.");
                    }
                    // The source failed over: start again from the target's checkpoint; the
                    // start finds the promoted server (the old one is unreachable).
                    Err(e) if e.kind() == ErrorKind::SourceMoved && !*stop.borrow() => {
                        tracing::warn!(pipeline = %name, reason = %e, "The source failed over; restarting the pipeline from its checkpoint.");
                    }
                    // A huge transaction applied in parts was interrupted on the target (rolled
                    // back whole): read it again from the checkpoint, after a pause.
                    Err(e) if e.kind() == ErrorKind::Replay && !*stop.borrow() => {
                        tracing::warn!(pipeline = %name, reason = %e, "Restarting the pipeline from its checkpoint in a second.");
                        let mut asked = stop.clone();
                        tokio::select! {
                            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                            _ = asked.changed() => break Ok(()),
                        }
                    }
                    // Anything else that retrying may cure (a connection lost where no retry
                    // loop of its own covers it): start again from the checkpoints, which hold
                    // only what is durably applied, after a growing pause.
                    Err(e) if e.is_transient() && !*stop.borrow() => {
                        let pause = backoff.next(started.elapsed());
                        tracing::warn!(pipeline = %name, error = %e, retry_in_secs = pause.as_secs(), "The pipeline stopped on an error that may pass; restarting it from its checkpoint.");
                        let mut asked = stop.clone();
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            _ = asked.changed() => break Ok(()),
                        }
                    }
                    r => break r,
                }
            };
            match &r {
                Ok(()) => tracing::info!(pipeline = %name, "Pipeline stopped."),
                Err(e) => tracing::error!(pipeline = %name, error = %e, "Pipeline failed."),
            }
            r
        };
        tasks.push((name_for_result, tokio::spawn(task)));
    }
    let signal = tokio::spawn(async move {
        shutdown.wait().await;
        tracing::info!("Stop requested; draining pipelines.");
        let _ = stop_tx.send(true);
    });
    let mut failures = Vec::new();
    for (name, t) in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push((name, e)),
            Err(e) => failures.push((name, Error::new(ErrorKind::Other, "pipeline task panicked").with_source(e))),
        }
    }
    signal.abort();
    if let (Some(d), Some(mp)) = (drawing, bars) {
        d.abort();
        let _ = mp.clear();
    }
    match failures.len() {
        0 => Ok(()),
        1 => {
            let (name, e) = failures.remove(0);
            Err(e.context(format!("pipeline {name}")))
        }
        n => {
            let kind = failures.first().map_or(ErrorKind::Other, |(_, e)| e.kind());
            let list: Vec<String> = failures.iter().map(|(n, e)| format!("{n}: {e}")).collect();
            Err(Error::new(kind, format!("{n} pipelines failed: {}", list.join("; "))))
        }
    }
}

/// The included tables of `p` (source names) that its MySQL target lacks (under their routed
/// names): what `snapshot = "when_needed"` copies on a first start.
pub async fn missing_on_target(p: &PipelineConfig, m: &MysqlSinkConfig, own_schema: &str) -> Result<Vec<(String, String)>> {
    let tables = otter_core::source::mysql::snapshot::included_tables(&p.source, own_schema).await?;
    let mapped: Vec<(String, String)> = tables.iter().map(|(d, t)| otter_core::transform::target_name(&p.transforms, d, t)).collect::<Result<_>>()?;
    let missing = otter_load::mysql::preflight::missing_tables(m, &mapped).await?;
    Ok(tables.into_iter().zip(mapped).filter(|(_, target)| missing.contains(target)).map(|(source, _)| source).collect())
}

/// What a pipeline that was restarting in this process reports when another instance holds it
/// now: it was taken over (an instance that started while this one was frozen or cut off, whose
/// takeover also ended this one's connections), not a second instance started by mistake.
fn taken_over_meanwhile(name: &str, e: Error) -> Error {
    Error::new(
        ErrorKind::Fenced,
        format!(
            "pipeline {name} was taken over on the target by another instance while this one was restarting from its checkpoint; \
             this instance stops (what it had not committed was rolled back, nothing of it applied): {e}"
        ),
    )
}

pub(crate) async fn run_pipeline(p: PipelineConfig, dir: PathBuf, identity: String, mut stop: watch::Receiver<bool>, metrics: Arc<Metrics>) -> Result<()> {
    // One process per pipeline state: a second `otter run` of this file fails here, naming us.
    let _lock = InstanceLock::acquire(&dir.join("lock"), &format!("pipeline {} (state directory {})", p.name, dir.display()))?;
    let sink: Box<dyn Sink> = match &p.sink {
        SinkConfig::Mysql(m) => {
            let sink = MysqlSink::new(&p.name, m.clone())?;
            match &p.two_way {
                Some(tw) => Box::new(sink.with_two_way(tw.clone())?),
                None => Box::new(sink),
            }
        }
        SinkConfig::Jsonl(j) => Box::new(JsonlSink::open(j.clone(), &p.name)?),
    };
    let store = Arc::new(FileCheckpointStore::new(&dir));
    // Who owns the capture: the target's lease makes a MySQL pipeline exclusive across
    // machines; otherwise this machine's state lock does.
    let owner = match &p.sink {
        SinkConfig::Mysql(m) => Some(format!("{} -> {} {}", p.name, otter_core::error::redact_url(&m.url), m.checkpoint_schema)),
        SinkConfig::Jsonl(_) => None,
    };
    let marks = p.two_way.as_ref().map(|tw| tw.rules()).unwrap_or_default();
    let missing_on_target = match &p.sink {
        SinkConfig::Mysql(m) if p.source.snapshot == SnapshotMode::WhenNeeded && p.source.start_from()? == StartFrom::Latest => {
            Some(missing_on_target(&p, m, &marks.schema).await?)
        }
        _ => None,
    };
    let options = SourceOptions {
        state_dir: Some(dir.join("schema")),
        resume: None,
        name: identity,
        skip_preflight: false,
        owner,
        marks,
        pipeline: p.name.clone(),
        missing_on_target,
    };
    let config = p.source.clone();
    let chain = otter_core::transform::build_all(&p.transforms)?;
    // The pipeline finds its resume point (taking the target for a MySQL sink) and starts the
    // capture there.
    let mut pipeline = Pipeline::starting(p.name.clone(), Box::new(MysqlCapture { config, options }), sink)
        .checkpoints(store)
        .batching(p.batch)
        .metrics(metrics)
        .status_file(dir.join("status.json"));
    if !chain.is_empty() {
        pipeline = pipeline.transform(Box::new(chain));
    }
    pipeline.run(async move { stopped(&mut stop).await }).await
}

/// Resolves once a stop was requested (or the requester is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn restarts_back_off_and_a_healthy_run_resets_the_pause() {
        let mut b = Backoff::default();
        let quick = Duration::from_secs(2);
        let pauses: Vec<u64> = (0..8).map(|_| b.next(quick).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(b.next(Backoff::HEALTHY).as_secs(), 1);
        assert_eq!(b.next(quick).as_secs(), 2);
    }
}
