//! Helpers for loader tests: running a capture → load pipeline between two harness servers, and
//! comparing their tables.
#![allow(dead_code)]

pub mod types;

use std::time::Duration;

use otter_core::pipeline::{BatchConfig, Pipeline};
use otter_core::source::mysql::{MysqlCapture, MysqlSourceConfig, SourceOptions};
use otter_load::{MysqlSink, MysqlSinkConfig};
use otter_testkit::compare::{Tables, Wait};
use otter_testkit::MariaDb;
use tokio::sync::oneshot;

/// A running pipeline; stop it with [`Running::stop`].
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<otter_core::Result<()>>,
}

impl Running {
    /// Stops gracefully and returns the pipeline's result.
    pub async fn stop(mut self) -> otter_core::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.expect("pipeline task panicked")
    }

    /// Aborts the task (like a crash of the process, as far as the target can tell).
    pub fn abort(self) {
        self.task.abort();
    }

    /// True if the pipeline ended (failed) on its own.
    pub fn finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Starts `name` from `a` (tables matching `include`) to `b`.
pub async fn start(name: &str, a: &MariaDb, b: &MariaDb, include: &str, sink_cfg: MysqlSinkConfig, server_id: u32) -> Running {
    let sink = MysqlSink::new(name, sink_cfg).unwrap();
    let mut cfg = MysqlSourceConfig::new(a.url());
    cfg.from = Some("earliest".into());
    cfg.include = vec![include.into()];
    cfg.server_id = Some(server_id);
    cfg.heartbeat_secs = 1;
    cfg.max_reconnect_backoff_secs = 1;
    let _ = b;
    let capture = MysqlCapture { config: cfg, options: SourceOptions { name: name.into(), ..Default::default() } };
    let (tx, rx) = oneshot::channel::<()>();
    let pipeline = Pipeline::starting(name, Box::new(capture), Box::new(sink)).batching(BatchConfig { linger_ms: 20, ..Default::default() });
    let task = tokio::spawn(pipeline.run(async move {
        let _ = rx.await;
    }));
    Running { stop: Some(tx), task }
}

/// Runs `name` from `a` (tables matching `include`) to `b` until `tables` are equal on both (at
/// most `secs`), then stops it.
pub async fn sync_until_equal(name: &str, a: &MariaDb, b: &MariaDb, include: &str, sink_cfg: MysqlSinkConfig, tables: &[&str], secs: u64) {
    let running = start(name, a, b, include, sink_cfg, 101).await;
    let waited = compare(a, b, tables, secs).alive(|| ended(&running)).try_run_async(tokio::time::sleep).await;
    if running.finished() {
        panic!("the pipeline ended early: {:?}", running.stop().await);
    }
    if let Err(e) = waited {
        panic!("{e}");
    }
    running.stop().await.unwrap();
}

/// Waits until every table has the same checksum and count on both servers (at most `secs`;
/// failing at once when `running` ended).
pub async fn wait_equal(a: &MariaDb, b: &MariaDb, tables: &[&str], secs: u64, running: Option<&Running>) {
    let mut wait = compare(a, b, tables, secs);
    if let Some(running) = running {
        wait = wait.alive(move || ended(running));
    }
    wait.run_async(tokio::time::sleep).await;
}

/// The comparison of `tables` between source `a` and target `b`, every 200 ms.
fn compare<'a>(a: &'a MariaDb, b: &'a MariaDb, tables: &'a [&'a str], secs: u64) -> Wait<'a> {
    Wait::pair(a, b, Tables::Named(tables), secs).every(Duration::from_millis(200))
}

fn ended(running: &Running) -> Option<String> {
    running.finished().then(|| "the pipeline ended early".to_owned())
}
