//! [`MysqlSourceConfig`]: what a MySQL/MariaDB source is told (serde, unknown fields refused),
//! with its documented defaults and its checks.

use serde::{Deserialize, Serialize};

use super::snapshot;
use super::tables::SchemaErrorPolicy;
use crate::error::{Error, Result};
use crate::mysql::conn::{ConnectOptions, TlsConfig};
use crate::position::StartFrom;
use crate::table_filter::TableFilter;

/// Configuration of a MySQL/MariaDB source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlSourceConfig {
    /// `mysql://user:password@host:port`. The account needs REPLICATION SLAVE, BINLOG MONITOR
    /// (MariaDB 10.5+; REPLICATION CLIENT on MySQL) and SELECT on the captured tables.
    pub url: String,
    /// The replica server id to register with; must be unique among the source's replicas.
    /// Default: derived from the URL and the capturing instance (`otter run`: the pipeline name,
    /// this host and the state directory), so two instances never share one. Two otter dumps
    /// with one server id are refused (the second fails, the first keeps streaming).
    #[serde(default)]
    pub server_id: Option<u32>,
    /// Where to start without a checkpoint: `latest` (default), `earliest`, `FILE:OFFSET`, a GTID
    /// set (`uuid:1-100`, `0-1-100`) or `@2026-01-01T00:00:00Z`.
    #[serde(default)]
    pub from: Option<String>,
    /// Tables to capture: regular expressions on `schema.table` (Canal syntax, e.g. `shop\\..*`);
    /// empty = every user table.
    #[serde(default)]
    pub include: Vec<String>,
    /// Tables to leave out (same syntax); wins over `include`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// TLS settings.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Heartbeat period the server uses on an idle stream, seconds (default 5).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: u64,
    /// Row changes per emitted chunk of a transaction (default 2000).
    #[serde(default = "default_chunk_rows")]
    pub chunk_rows: usize,
    /// Approximate bytes per emitted chunk (default 4 MiB).
    #[serde(default = "default_chunk_bytes")]
    pub chunk_bytes: usize,
    /// What to do when rows do not fit their table's schema: `fail` (default) or `stop_table`.
    #[serde(default)]
    pub on_schema_error: SchemaErrorPolicy,
    /// Longest wait between reconnect attempts, seconds (default 30).
    #[serde(default = "default_backoff")]
    pub max_reconnect_backoff_secs: u64,
    /// Copy the included tables' existing rows online before streaming (see [`snapshot`]):
    /// `when_needed` (default: on a first start from the binlog's end, the tables the target
    /// lacks), `never`, `initial` (every included table on the first start, then stream) or
    /// `initial_only` (copy, then stop). Needs MariaDB (it reports a consistent snapshot's binlog
    /// position); the target tables are created from the source's definitions when missing.
    #[serde(default)]
    pub snapshot: snapshot::SnapshotMode,
    /// Tables read in parallel by the snapshot (default 4).
    #[serde(default = "default_snapshot_readers")]
    pub snapshot_readers: usize,
    /// The time one chunk read should take, milliseconds; chunk sizes adapt to it (default 300).
    #[serde(default = "default_snapshot_chunk_ms")]
    pub snapshot_chunk_ms: u64,
    /// The most rows per second the snapshot reads, over all readers (default 0: no limit). A
    /// limit leaves the source (and the target) more room for their own work during the copy.
    #[serde(default)]
    pub snapshot_max_rows_per_sec: u64,
    /// Copy a big table whose primary key is one integer column in parts at once, one reader
    /// per part (default true; see [`snapshot::split`]).
    #[serde(default = "default_true")]
    pub snapshot_split: bool,
    /// Servers that may take over as the source when it is gone, in order of preference: replicas
    /// that write what they replicate to their own binlog (`log_slave_updates`), promoted by a
    /// person or a failover tool. One is taken only when it is promoted (no replication thread
    /// runs, `read_only` off) and holds every transaction otter read; one that lacks some is
    /// refused with the missing GTIDs (see [`failover`](super::failover)). Same `tls` as `url`. Default: none.
    #[serde(default)]
    pub failover: Vec<String>,
    /// Seconds the source must stay unreachable before the `failover` servers are looked at
    /// (default 10).
    #[serde(default = "default_failover_after")]
    pub failover_after_secs: u64,
}

fn default_failover_after() -> u64 {
    10
}

fn default_true() -> bool {
    true
}

fn default_snapshot_readers() -> usize {
    4
}
fn default_snapshot_chunk_ms() -> u64 {
    300
}

fn default_heartbeat() -> u64 {
    5
}
fn default_chunk_rows() -> usize {
    2000
}
fn default_chunk_bytes() -> usize {
    4 << 20
}
fn default_backoff() -> u64 {
    30
}

impl MysqlSourceConfig {
    /// A configuration with defaults for `url`.
    pub fn new(url: impl Into<String>) -> MysqlSourceConfig {
        MysqlSourceConfig {
            url: url.into(),
            server_id: None,
            from: None,
            include: Vec::new(),
            exclude: Vec::new(),
            tls: TlsConfig::default(),
            heartbeat_secs: default_heartbeat(),
            chunk_rows: default_chunk_rows(),
            chunk_bytes: default_chunk_bytes(),
            on_schema_error: SchemaErrorPolicy::default(),
            max_reconnect_backoff_secs: default_backoff(),
            snapshot: snapshot::SnapshotMode::default(),
            snapshot_readers: default_snapshot_readers(),
            snapshot_chunk_ms: default_snapshot_chunk_ms(),
            snapshot_max_rows_per_sec: 0,
            snapshot_split: true,
            failover: Vec::new(),
            failover_after_secs: default_failover_after(),
        }
    }

    /// The parsed `from`.
    pub fn start_from(&self) -> Result<StartFrom> {
        self.from.as_deref().map_or(Ok(StartFrom::Latest), str::parse)
    }

    /// The server id to use, derived from `salt` (e.g. the pipeline name) when not configured.
    pub fn effective_server_id(&self, salt: &str) -> u32 {
        self.server_id.unwrap_or_else(|| {
            let mut h: u32 = 0x811c_9dc5;
            for b in crate::error::redact_url(&self.url).bytes().chain(salt.bytes()) {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
            0x4000_0000 | (h & 0x3fff_ffff)
        })
    }

    /// Checks values that can be checked without a server.
    pub fn validate(&self) -> Result<()> {
        ConnectOptions::new(&self.url, &self.tls)?;
        for url in &self.failover {
            ConnectOptions::new(url, &self.tls).map_err(|e| e.context("failover"))?;
        }
        self.start_from()?;
        TableFilter::new(&self.include, &self.exclude)?;
        if self.chunk_rows == 0 || self.chunk_bytes == 0 {
            return Err(Error::config("chunk_rows and chunk_bytes must be positive"));
        }
        if self.snapshot_readers == 0 || self.snapshot_readers > 64 {
            return Err(Error::config(format!("snapshot_readers is {}: use 1 to 64", self.snapshot_readers)));
        }
        if self.snapshot_chunk_ms == 0 {
            return Err(Error::config("snapshot_chunk_ms must be positive"));
        }
        Ok(())
    }
}
