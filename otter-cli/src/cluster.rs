//! `otter run` with a `[coordinator]` section: this node runs only the pipelines it holds in
//! etcd (`otter_coord`), claims its fair share of the free ones, gives up what it holds beyond
//! it, and stops everything it runs the moment its etcd lease can no longer be renewed.
//!
//! Invariants: a pipeline runs here only while this node owns it in etcd and with the owner
//! key's create revision as its fencing epoch on the target (a later owner's epoch is higher, so
//! whatever this node still sends after losing it is rejected there); a pipeline given up is
//! stopped (drained) before its owner key is deleted; SIGINT/SIGTERM stops the pipelines, then
//! leaves the cluster (the lease is revoked, the pipelines are free at once for the others).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use otter_coord::{plan, CoordinatorConfig, Member};
use otter_core::pipeline::Metrics;
use otter_core::{Error, Result};
use tokio::sync::watch;

use crate::config::{Config, PipelineConfig, SinkConfig};
use crate::run::stopped;

/// A pipeline running on this node.
struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<()>>,
    epoch: u64,
}

impl Running {
    /// Asks it to stop and waits until it did.
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Runs this node until `stop` turns true.
pub async fn run(cfg: &Config, coord: &CoordinatorConfig, mut stop: watch::Receiver<bool>, metrics: &[Arc<Metrics>]) -> Result<()> {
    for p in &cfg.pipelines {
        if !matches!(p.sink, SinkConfig::Mysql(_)) {
            return Err(Error::config(format!(
                "pipeline {}: with a [coordinator], every pipeline needs a MySQL target (it holds the fencing epoch); run file sinks without one",
                p.name
            )));
        }
    }
    let node = format!("{}-{}", otter_core::instance::host_name(), std::process::id());
    let names: Vec<String> = cfg.pipelines.iter().map(|p| p.name.clone()).collect();
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut failed_at: HashMap<String, Instant> = HashMap::new();
    'join: loop {
        let member = tokio::select! {
            m = Member::join(coord, &node) => m,
            _ = stopped(&mut stop) => return Ok(()),
        };
        let member = match member {
            Ok(m) => m,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "Cannot join the otter cluster on etcd; retrying.");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue 'join,
                    _ = stopped(&mut stop) => return Ok(()),
                }
            }
            Err(e) => return Err(e),
        };
        let mut healthy = member.healthy();
        loop {
            if *stop.borrow() {
                stop_all(&mut running).await;
                member.leave().await;
                return Ok(());
            }
            if !*healthy.borrow() {
                // Nothing of this node may write now: another node may get its pipelines soon.
                stop_all(&mut running).await;
                if !member.alive() {
                    continue 'join;
                }
            } else {
                step(cfg, &member, &names, &mut running, &mut failed_at, metrics).await;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = healthy.changed() => {}
                _ = stopped(&mut stop) => {}
            }
        }
    }
}

/// One round: follow etcd's owners, then claim and release per the plan.
async fn step(
    cfg: &Config,
    member: &Member,
    names: &[String],
    running: &mut HashMap<String, Running>,
    failed_at: &mut HashMap<String, Instant>,
    metrics: &[Arc<Metrics>],
) {
    // Pipelines that ended by themselves (an error): started again later while still owned.
    let ended: Vec<String> = running.iter().filter(|(_, r)| r.task.is_finished()).map(|(n, _)| n.clone()).collect();
    for name in ended {
        if let Some(r) = running.remove(&name) {
            if let Ok(Err(e)) = r.task.await {
                tracing::error!(pipeline = %name, error = %e, "Pipeline failed; starting it again while this node holds it.");
            }
            failed_at.insert(name, Instant::now());
        }
    }
    let view = match member.view().await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "Cannot read the cluster.");
            return;
        }
    };
    let me = member.node();
    // Running here but no longer ours (our claim expired): stop at once.
    let lost: Vec<String> = running.keys().filter(|n| view.owners.get(*n).is_none_or(|(o, e)| o != me || u64::try_from(*e).ok() != running.get(*n).map(|r| r.epoch))).cloned().collect();
    for name in lost {
        if let Some(r) = running.remove(&name) {
            tracing::warn!(pipeline = %name, "This node no longer holds the pipeline; stopping it.");
            r.stop().await;
        }
    }
    let todo = plan(names, &view, me);
    for name in &todo.release {
        if let Some(r) = running.remove(name) {
            tracing::info!(pipeline = %name, "Giving the pipeline up to another node (more than this node's share).");
            r.stop().await;
        }
        if let Err(e) = member.release(name).await {
            tracing::warn!(pipeline = %name, error = %e, "Cannot release the pipeline; its claim expires with this node's lease.");
        }
    }
    let mut owned: Vec<(String, u64)> = view.owners.iter().filter(|(_, (o, _))| o == me).filter_map(|(n, (_, e))| Some((n.clone(), u64::try_from(*e).ok()?))).collect();
    for name in &todo.claim {
        match member.claim(name).await {
            Ok(Some(epoch)) => owned.push((name.clone(), epoch)),
            Ok(None) => {}
            Err(e) => tracing::warn!(pipeline = %name, error = %e, "Cannot claim the pipeline."),
        }
    }
    for (name, epoch) in owned {
        if running.contains_key(&name) || todo.release.contains(&name) || failed_at.get(&name).is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
            continue;
        }
        let Some((p, m)) = cfg.pipelines.iter().zip(metrics).find(|(p, _)| p.name == name) else { continue };
        tracing::info!(pipeline = %name, epoch, node = me, "This node holds the pipeline; starting it.");
        running.insert(name.clone(), start(cfg, p, epoch, Arc::clone(m)));
    }
}

/// Starts `p` with the fencing epoch `epoch`.
fn start(cfg: &Config, p: &PipelineConfig, epoch: u64, metrics: Arc<Metrics>) -> Running {
    let mut p = p.clone();
    if let SinkConfig::Mysql(m) = &mut p.sink {
        m.coordinated = Some(epoch);
    }
    let (tx, rx) = watch::channel(false);
    let dir = cfg.pipeline_dir(&p.name);
    let identity = cfg.instance_identity(&p.name);
    let task = tokio::spawn(crate::run::run_pipeline(p, dir, identity, rx, metrics));
    Running { stop: tx, task, epoch }
}

/// Stops every running pipeline: all asked at once, then waited for.
async fn stop_all(running: &mut HashMap<String, Running>) {
    let all: Vec<(String, Running)> = running.drain().collect();
    for (name, r) in &all {
        tracing::info!(pipeline = %name, "Stopping the pipeline.");
        let _ = r.stop.send(true);
    }
    for (_, r) in all {
        let _ = r.task.await;
    }
}

