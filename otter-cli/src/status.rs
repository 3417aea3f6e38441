//! `otter status --config FILE`: each pipeline's committed position, lag and rows/s, from the
//! status and checkpoint files a running `otter run` keeps in the state directory. Lag is now
//! minus the checkpoint's source time (see `Snapshot::lag_secs`: the commit time of the last
//! applied transaction, or the receipt time of the last applied idle heartbeat).

use std::path::PathBuf;

use otter_core::checkpoint::{unix_now, FileCheckpointStore};
use otter_core::pipeline::Snapshot;
use otter_core::Result;

use crate::config::Config;

/// Arguments of `otter status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The pipelines file (TOML).
    #[arg(short, long)]
    pub config: PathBuf,
}

/// Prints the table.
pub fn run(args: StatusArgs) -> Result<()> {
    let cfg = Config::load(&args.config)?;
    println!("{:20}  {:10}  {:10}  {:>10}  {:>9}  POSITION", "PIPELINE", "STATE", "LAG", "ROWS/S", "ROWS");
    for p in &cfg.pipelines {
        let dir = cfg.pipeline_dir(&p.name);
        let snap: Option<Snapshot> = std::fs::read(dir.join("status.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let ckpt = FileCheckpointStore::new(&dir).load_sync()?;
        let position = ckpt
            .as_ref()
            .map(|c| c.position.to_string())
            .or_else(|| snap.as_ref().and_then(|s| s.position.clone()))
            .unwrap_or_else(|| "-".into());
        let (state, lag, rate, rows) = match &snap {
            None => ("never ran".to_owned(), "-".to_owned(), "-".to_owned(), "-".to_owned()),
            Some(s) => {
                let age = unix_now().saturating_sub(s.at);
                let state = if s.state == "running" && age > 10 { format!("stale {age}s") } else { s.state.clone() };
                let lag = ckpt
                    .as_ref()
                    .filter(|c| c.source_time > 0)
                    .map(|c| format!("{}s", unix_now().saturating_sub(u64::from(c.source_time))))
                    .or_else(|| s.lag_secs.map(|l| format!("{l}s")))
                    .unwrap_or_else(|| "-".into());
                (state, lag, format!("{:.0}", s.rows_per_sec), s.rows.to_string())
            }
        };
        println!("{:20}  {:10}  {:10}  {:>10}  {:>9}  {}", p.name, state, lag, rate, rows, position);
    }
    Ok(())
}
