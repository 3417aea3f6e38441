//! Configuration of the MySQL/MariaDB loader (`[pipeline.sink] kind = "mysql"`).

use otter_core::mysql::conn::{ConnectOptions, TlsConfig};
use otter_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::merge::ApplyMode;

/// How changes are applied to a MySQL-family target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlSinkConfig {
    /// `mysql://user:password@host:port`. The account needs INSERT, UPDATE, DELETE (and the DDL
    /// privileges of replicated DDL) on the target tables, and CREATE/INSERT/UPDATE/SELECT on the
    /// checkpoint schema.
    pub url: String,
    /// TLS settings.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Parallel apply connections; changes are partitioned by key, order per key is kept.
    /// Default: the target's CPU count, at most 4 (MariaDB's `thread_pool_size`, which defaults to
    /// the CPU count; 4 when the target does not tell, e.g. MySQL) — on a small target more
    /// connections only add contention.
    #[serde(default)]
    pub workers: Option<usize>,
    /// `row` (default): write whole after images, inserting missing rows; `column`: update only
    /// the changed columns.
    #[serde(default)]
    pub mode: ApplyMode,
    /// How source transactions reach the target: `merged` (default) folds a batch's changes
    /// per key and applies them over the workers by key — fastest, but a reader of the
    /// target may see part of a source transaction, or two transactions' effects out of order
    /// across keys; `transaction` applies every source transaction whole in a target transaction
    /// of its own, independent ones in parallel (scheduled by write-sets) and commits them in
    /// source order — for disaster-recovery copies that are read, and foreign keys on the
    /// target (a transaction too big to hold goes in parts into one target transaction left open
    /// until its end). See docs/CONSISTENCY.md.
    #[serde(default)]
    pub consistency: Consistency,
    /// Schema of the checkpoint table `<schema>.checkpoint` (default `otter`), created if missing.
    #[serde(default = "default_schema")]
    pub checkpoint_schema: String,
    /// Apply DDL statements (default true).
    #[serde(default = "default_true")]
    pub apply_ddl: bool,
    /// Log and skip rows that fail with a non-transient error instead of stopping (default false):
    /// the failing apply transaction is redone one row at a time, still as one transaction with
    /// its checkpoint row, and only the rows the target refuses are left out (each logged with its
    /// table, key, statement and error).
    #[serde(default)]
    pub skip_errors: bool,
    /// Log and skip DDL statements that fail (default false).
    #[serde(default)]
    pub skip_ddl_errors: bool,
    /// Log the statements instead of executing them (default false).
    #[serde(default)]
    pub dry_run: bool,
    /// Leave out source columns the target table does not have, warning once per table (default
    /// false: a missing column is an error).
    #[serde(default)]
    pub ignore_missing_columns: bool,
    /// Rows per multi-row INSERT or DELETE statement (default 500).
    #[serde(default = "default_rows_per_statement")]
    pub rows_per_statement: usize,
    /// Runs of at least this many whole-row writes of one table in one apply transaction (rows
    /// the batch inserted) that do not go as bulk executions (`bulk_min_rows`: MySQL targets,
    /// or bulk execution off) are sent as one `LOAD DATA LOCAL INFILE` streamed from memory, which
    /// costs the target less than `INSERT` statements; the result is checked and the run
    /// re-applied with statements when it is not exactly theirs. Needs `local_infile = ON` on the
    /// target (MariaDB's default; without it otter warns once and uses statements). 0 = never
    /// (default 64).
    #[serde(default = "default_load_data_min_rows")]
    pub load_data_min_rows: usize,
    /// On MariaDB 10.2+ targets, runs of at least this many whole-row writes of one table in one
    /// apply transaction (inserts and upserts) are sent as one prepared single-row statement that
    /// the server executes for every row (`COM_STMT_BULK_EXECUTE`: values in the binary
    /// protocol, nothing to parse per row); this takes the place of `LOAD DATA` and of multi-row
    /// statements for those runs (not on a target whose `max_allowed_packet` is under 2 MiB).
    /// 0 = never (default 16).
    #[serde(default = "default_bulk_min_rows")]
    pub bulk_min_rows: usize,
    /// On MariaDB targets, runs of at least this many inserts (rows the batch inserted, while
    /// their row images average at most 96 bytes: wider rows go as bulk executions), or updates
    /// of existing rows, of one table in one apply transaction are sent as row events
    /// (`BINLOG` statements, applied as a replica applies them: about a quarter less target CPU
    /// per updated row than upserts, a tenth less per inserted row than bulk executions, and less
    /// CPU for otter), for tables whose target columns are the source's (same order and types),
    /// with a primary key and no trigger. Needs the `BINLOG REPLAY` privilege (without it otter
    /// warns once and uses upserts) and `slave_exec_mode = STRICT` on the target (the default;
    /// under `IDEMPOTENT`, checked with each run, the run goes as upserts); a run the target
    /// refuses (a row missing, or already there) is applied again as upserts in the same
    /// transaction. 0 = never (default 16).
    #[serde(default = "default_row_events_min_rows")]
    pub row_events_min_rows: usize,
    /// Longest wait between retries of transient errors, seconds (default 30).
    #[serde(default = "default_backoff")]
    pub max_retry_backoff_secs: u64,
    /// Give up on transient errors after this many seconds of retrying; 0 = never (default 0).
    #[serde(default)]
    pub max_retry_secs: u64,
    /// Length of the lease by which one instance holds the pipeline on the target, seconds
    /// (default 6; renewed every third of it). Another instance takes over a holder that died at
    /// once, and one that is paused or cut off from the target when its lease has expired; the
    /// holder's later writes are rejected by the fencing epoch (see `otter_load::mysql::fence`).
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// Stand by while another instance holds the pipeline, and take it over when that one stops,
    /// dies or stalls, instead of failing (`otter run --standby`; not a file setting).
    #[serde(skip)]
    pub standby: bool,
    /// The fencing epoch a coordinator granted this node for the pipeline (`otter run` on etcd;
    /// not a file setting): taken over from any holder, see `fence::LeaseOptions::coordinated`.
    #[serde(skip)]
    pub coordinated: Option<u64>,
    /// Conflict policies per target table (`[[pipeline.sink.conflict]]`), for two-way and fan-in
    /// setups; tables without one are applied as usual (the incoming change overwrites).
    #[serde(default, rename = "conflict")]
    pub conflicts: Vec<crate::conflict::ConflictRule>,
}

/// How source transactions are applied (see [`MysqlSinkConfig::consistency`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Changes merged per key across transactions, applied by key partition (default).
    #[default]
    Merged,
    /// Source transactions applied whole, committed in source order.
    Transaction,
}

/// Most workers chosen by default.
pub const MAX_DEFAULT_WORKERS: usize = 4;
fn default_schema() -> String {
    "otter".into()
}
fn default_true() -> bool {
    true
}
fn default_rows_per_statement() -> usize {
    500
}
fn default_load_data_min_rows() -> usize {
    crate::mysql::load_data::DEFAULT_MIN_ROWS
}
fn default_bulk_min_rows() -> usize {
    crate::mysql::bulk::DEFAULT_MIN_ROWS
}
fn default_row_events_min_rows() -> usize {
    crate::mysql::row_events::DEFAULT_MIN_ROWS
}
fn default_backoff() -> u64 {
    30
}
fn default_lease_secs() -> u64 {
    6
}

impl MysqlSinkConfig {
    /// A configuration with defaults for `url`.
    pub fn new(url: impl Into<String>) -> MysqlSinkConfig {
        MysqlSinkConfig {
            url: url.into(),
            tls: TlsConfig::default(),
            workers: None,
            mode: ApplyMode::default(),
            consistency: Consistency::default(),
            checkpoint_schema: default_schema(),
            apply_ddl: true,
            skip_errors: false,
            skip_ddl_errors: false,
            dry_run: false,
            ignore_missing_columns: false,
            rows_per_statement: default_rows_per_statement(),
            load_data_min_rows: default_load_data_min_rows(),
            bulk_min_rows: default_bulk_min_rows(),
            row_events_min_rows: default_row_events_min_rows(),
            max_retry_backoff_secs: default_backoff(),
            max_retry_secs: 0,
            lease_secs: default_lease_secs(),
            standby: false,
            coordinated: None,
            conflicts: Vec::new(),
        }
    }

    /// Checks values that can be checked without a server.
    pub fn validate(&self) -> Result<()> {
        ConnectOptions::new(&self.url, &self.tls)?;
        if let Some(w) = self.workers.filter(|&w| w == 0 || w > 64) {
            return Err(Error::config(format!("workers must be between 1 and 64 (got {w})")));
        }
        if !(1..=3600).contains(&self.lease_secs) {
            return Err(Error::config(format!("lease_secs must be between 1 and 3600 (got {})", self.lease_secs)));
        }
        if self.rows_per_statement == 0 {
            return Err(Error::config("rows_per_statement must be positive"));
        }
        crate::conflict::compile(&self.conflicts)?;
        if self.checkpoint_schema.is_empty() || self.checkpoint_schema.contains('`') {
            return Err(Error::config(format!("invalid checkpoint_schema {:?}", self.checkpoint_schema)));
        }
        Ok(())
    }
}
