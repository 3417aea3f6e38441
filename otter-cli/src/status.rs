//! `otter status --config FILE`: each pipeline's committed position, lag and rows/s, from the
//! status and checkpoint files a running `otter run` keeps in the state directory. Lag is now
//! minus the checkpoint's source time (see `Snapshot::lag_secs`: the commit time of the last
//! applied transaction, or the receipt time of the last applied idle heartbeat).
//!
//! For pipelines with a MySQL target it also asks the target who holds each pipeline (holder,
//! since, fencing epoch, when its lease was last renewed) and which instances stand by.

use std::path::PathBuf;
use std::time::Duration;

use otter_core::checkpoint::{unix_now, FileCheckpointStore};
use otter_core::pipeline::Snapshot;
use otter_core::Result;

use otter_core::mysql::conn::ConnectOptions;
use otter_load::mysql::fence::holding;

use crate::config::{Config, SinkConfig};

/// Arguments of `otter status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The pipelines file (TOML).
    #[arg(short, long)]
    pub config: PathBuf,
}

/// Prints the tables.
pub async fn run(args: StatusArgs) -> Result<()> {
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
    holders(&cfg).await;
    Ok(())
}

/// Who holds each pipeline with a MySQL target, and who stands by, as the target shows it.
async fn holders(cfg: &Config) {
    let mysql: Vec<(&str, &otter_load::MysqlSinkConfig)> = cfg
        .pipelines
        .iter()
        .filter_map(|p| match &p.sink {
            SinkConfig::Mysql(m) => Some((p.name.as_str(), m)),
            SinkConfig::Jsonl(_) => None,
        })
        .collect();
    if mysql.is_empty() {
        return;
    }
    println!();
    println!("{:20}  {:6}  {:19}  {:9}  {:44}  STANDING BY", "PIPELINE", "EPOCH", "SINCE (UTC)", "RENEWED", "HOLDER");
    for (name, m) in mysql {
        let read = async {
            let opts = ConnectOptions::new(&m.url, &m.tls)?;
            tokio::time::timeout(Duration::from_secs(10), holding(&opts, &m.checkpoint_schema, name, Duration::from_secs(m.lease_secs)))
                .await
                .map_err(|_| otter_core::Error::new(otter_core::ErrorKind::Connection, "the target did not answer within 10 s"))?
        };
        match read.await {
            Ok(Some(h)) => {
                let renewed = match h.renewed_secs_ago {
                    Some(s) => format!("{s}s ago"),
                    None => "stopped".to_owned(),
                };
                let standby: Vec<String> = h.standby.iter().map(|(node, since)| format!("{node} (since {since})")).collect();
                let standby = if standby.is_empty() { "-".to_owned() } else { standby.join("; ") };
                println!("{:20}  {:6}  {:19}  {:9}  {:44}  {}", name, h.epoch, h.since, renewed, h.holder, standby);
            }
            Ok(None) => println!("{:20}  {:6}  {:19}  {:9}  {:44}  -", name, "-", "-", "-", "nobody yet"),
            Err(e) => println!("{:20}  {:6}  {:19}  {:9}  cannot read the target: {e}", name, "-", "-", "-"),
        }
    }
}
