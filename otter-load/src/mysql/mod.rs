//! The MySQL/MariaDB target: everything of the loader that talks to a MySQL-family server — the
//! checkpoint rows ([`checkpoint_table`]), the pipeline's lease and fence ([`fence`]), table
//! descriptions ([`describe`]), delete tombstones for last-writer-wins ([`tombstone`]), the
//! writers ([`writer`]: transactions [`txn`], bulk execution [`bulk`], `LOAD DATA`
//! [`load_data`], inserts and updates as row events [`row_events`], refused DDL already in effect [`ddl_effect`]) and the target's preflight
//! checks ([`preflight`]).
//!
//! Invariants: [`MysqlTarget::open`] takes the pipeline's lease (raising the fencing epoch,
//! waiting for the old holder's checked transactions) before it reads the checkpoint, so nothing
//! of a previous holder commits after the resume point was read; a dry run creates and writes
//! nothing on the target.

pub mod bulk;
pub mod checkpoint_table;
pub mod ddl_effect;
pub mod describe;
pub mod fence;
pub mod load_data;
pub mod preflight;
pub mod row_events;
pub mod tombstone;
pub mod turn;
pub mod txn;
pub mod writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::mysql::conn::{translate, ConnectOptions};
use otter_core::mysql::quote::ident;
use otter_core::schema::TableSchema;
use otter_core::{Error, ErrorKind, Result};

use self::bulk::TableGates;
use self::checkpoint_table::CheckpointTable;
use self::describe::TargetCache;
use self::fence::{Lease, LeaseOptions};
use self::tombstone::Tombstones;
use self::writer::MysqlWriter;
use crate::config::MysqlSinkConfig;
use crate::conflict::{CompiledRule, ConflictPolicy};
use crate::dialect::mysql::MysqlDialect;
use crate::dialect::SqlDialect;
use crate::target::{Opened, PartitionWriter, PipelineContext, Spread, Stored, Target, TargetInfo};

/// A MySQL or MariaDB server as the target of one pipeline.
pub struct MysqlTarget {
    cfg: Arc<MysqlSinkConfig>,
    opts: ConnectOptions,
    ckpt: CheckpointTable,
    ctx: Option<PipelineContext>,
    dialect: Option<Arc<dyn SqlDialect>>,
    meta: Option<Conn>,
    targets: TargetCache,
    lease: Option<Lease>,
    tombs: Option<Tombstones>,
    gates: Arc<TableGates>,
    spread: Spread,
}

impl MysqlTarget {
    /// The target of pipeline `name` (the key of its checkpoint rows) under `cfg`. Connects on
    /// [`Target::open`].
    pub fn new(name: &str, cfg: MysqlSinkConfig) -> Result<MysqlTarget> {
        cfg.validate()?;
        let opts = ConnectOptions::new(&cfg.url, &cfg.tls)?;
        Ok(MysqlTarget {
            ckpt: CheckpointTable::new(&cfg.checkpoint_schema, name),
            cfg: Arc::new(cfg),
            opts,
            ctx: None,
            dialect: None,
            meta: None,
            targets: TargetCache::default(),
            lease: None,
            tombs: None,
            gates: Arc::default(),
            spread: Spread::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MysqlSinkConfig {
        &self.cfg
    }

    /// What pipeline `name` stored on the target of `cfg`, read without creating or writing
    /// anything (`None` when nothing was stored, or in a dry run, which reads nothing), with where
    /// it is kept (what to delete to start over).
    pub async fn peek_stored(name: &str, cfg: &MysqlSinkConfig) -> Result<Option<(Stored, String)>> {
        if cfg.dry_run {
            return Ok(None);
        }
        let mut conn = ConnectOptions::new(&cfg.url, &cfg.tls)?.connect().await?;
        let stored = CheckpointTable::new(&cfg.checkpoint_schema, name).load_if_present(&mut conn).await;
        let _ = conn.disconnect().await;
        let kept = format!("the rows of pipeline {name} in `{}`.`checkpoint` on the target", cfg.checkpoint_schema);
        Ok(stored.map_err(|e| e.context("reading the stored checkpoint"))?.map(|s| (s, kept)))
    }

    async fn meta(&mut self) -> Result<&mut Conn> {
        if self.meta.is_none() {
            let c = self.retry_connect().await?;
            self.meta = Some(c);
        }
        self.meta.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no target connection"))
    }

    async fn retry_connect(&self) -> Result<Conn> {
        let mut backoff = Duration::from_millis(100);
        let started = Instant::now();
        loop {
            match self.opts.connect().await {
                Ok(c) => return Ok(c),
                Err(e) if e.is_transient() && (self.cfg.max_retry_secs == 0 || started.elapsed() < Duration::from_secs(self.cfg.max_retry_secs)) => {
                    tracing::warn!(target = %self.opts.display_url(), error = %e, "Cannot reach the target; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(self.cfg.max_retry_backoff_secs.max(1)));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[async_trait]
impl Target for MysqlTarget {
    async fn open(&mut self, ctx: &PipelineContext) -> Result<Opened> {
        self.ctx = Some(ctx.clone());
        let ckpt = self.ckpt.clone();
        let cfg = Arc::clone(&self.cfg);
        let site = ctx.two_way.as_ref().map_or_else(|| "target".to_owned(), |t| t.target_site.clone());
        let marks_schema = ctx.two_way.as_ref().map_or(cfg.checkpoint_schema.clone(), |t| t.marks_schema.clone());
        let conn = self.meta().await?;
        let (version,): (String,) = conn.query_first("SELECT @@version").await.map_err(|e| translate(e, "target"))?.unwrap_or_default();
        let dialect: Arc<dyn SqlDialect> = Arc::new(MysqlDialect::for_version(&version));
        let mut parts = match cfg.workers {
            Some(w) => w,
            None => default_workers(conn, &version).await,
        };
        if !cfg.dry_run {
            ckpt.ensure(conn).await?;
            conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", ident(&marks_schema))).await.map_err(|e| translate(e, "target"))?;
            let tables = crate::conflict::ensure_sql(&marks_schema).into_iter().chain(fence::ensure_sql(ckpt.schema()));
            for s in tables {
                conn.query_drop(s).await.map_err(|e| translate(e, "creating otter's tables on the target"))?;
            }
            crate::conflict::upgrade(conn, &marks_schema).await?;
            // Take the pipeline (waiting for the old holder's last transactions), then read where
            // it stopped: nothing of the old holder commits after this read.
            let options = LeaseOptions { ttl: Duration::from_secs(cfg.lease_secs), standby: cfg.standby, coordinated: cfg.coordinated, ..LeaseOptions::default() };
            self.lease = Some(fence::acquire(&self.opts, ckpt.schema(), &ctx.name, &options).await?);
            if ctx.rules.iter().any(|r| r.rule.policy == ConflictPolicy::LastWriterWins) {
                let mut tombs = Tombstones::new(&marks_schema, &site);
                let conn = self.meta().await?;
                tombs.ensure_existing(conn, &ctx.rules).await?;
                // Expired tombstones go before anything of this run is applied.
                for sql in tombs.gc_due().unwrap_or_default() {
                    conn.query_drop(sql).await.map_err(|e| translate(e, "removing old tombstones"))?;
                }
                self.tombs = Some(tombs);
            }
        }
        let held = self.lease.is_some();
        let conn = self.meta().await?;
        let stored = if held { ckpt.load(conn).await? } else { Stored::default() };
        if let Some(old) = stored.parts {
            if old != parts {
                if stored.clean() {
                    conn.query_drop(ckpt.prune_sql(parts)).await.map_err(|e| translate(e, "target"))?;
                } else {
                    tracing::warn!(stored = old, configured = parts, "The last run did not stop cleanly; keeping its partition count until a clean stop.");
                    parts = old;
                }
            }
        }
        // Likewise the key spread: the watermarks past the resume point mean what they meant.
        self.spread = Spread::for_run(&stored);
        self.dialect = Some(dialect);
        Ok(Opened { stored, parts, spread: self.spread })
    }

    async fn describe(&mut self, schema: &Arc<TableSchema>) -> Result<Arc<TargetInfo>> {
        let ignore = self.cfg.ignore_missing_columns;
        self.meta().await?;
        let conn = self.meta.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no target connection"))?;
        let r = self.targets.get(conn, schema, ignore).await;
        if r.as_ref().is_err_and(|e| e.is_transient()) {
            self.meta = None;
        }
        r
    }

    async fn guard(&mut self, schema: &TableSchema, info: &TargetInfo, rule: &CompiledRule) -> Result<()> {
        if rule.rule.policy != ConflictPolicy::LastWriterWins {
            return Ok(());
        }
        let Some(tombs) = self.tombs.as_mut() else { return Ok(()) };
        let key: Vec<&str> = info.key.iter().filter_map(|&i| schema.columns.get(i).map(|c| c.name.as_str())).collect();
        let conn = self.meta.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no target connection"))?;
        tombs.ensure(conn, &schema.db, &schema.name, key, &rule.rule).await
    }

    fn forget(&mut self) {
        self.targets.clear();
        if let Some(t) = self.tombs.as_mut() {
            t.forget();
        }
    }

    fn writer(&self, part: usize, parts: usize) -> Result<Box<dyn PartitionWriter>> {
        let dialect = self.dialect.clone().ok_or_else(|| crate::error::internal("a writer before the target was opened"))?;
        let ctx = self.ctx.as_ref().ok_or_else(|| crate::error::internal("a writer before the target was opened"))?;
        let mut w = MysqlWriter::new(part, parts, self.opts.clone(), dialect, self.ckpt.clone(), Arc::clone(&self.cfg));
        w.two_way = ctx.two_way.clone();
        w.pipeline = ctx.name.clone();
        w.gates = Arc::clone(&self.gates);
        w.spread = self.spread;
        w.fence = self.lease.as_ref().map(|l| Arc::clone(l.fence()));
        Ok(Box::new(w))
    }

    fn upkeep(&mut self) {
        let Some(gc) = self.tombs.as_mut().and_then(Tombstones::gc_due) else { return };
        let opts = self.opts.clone();
        tokio::spawn(async move {
            let run = async {
                let mut conn = opts.connect().await?;
                for sql in gc {
                    conn.query_drop(sql).await.map_err(|e| translate(e, "removing old tombstones"))?;
                }
                Ok::<_, Error>(())
            };
            if let Err(e) = run.await {
                tracing::warn!(error = %e, "Could not remove old tombstones; trying again later.");
            }
        });
    }

    fn lost(&self) -> Option<Error> {
        self.lease.as_ref().map(Lease::fence).filter(|f| f.lost().is_some()).map(|f| f.fenced_error())
    }

    /// Yes, but not with `skip_errors`: skipping a refused row needs the whole job at hand to
    /// re-apply it row by row.
    fn streams(&self) -> bool {
        !self.cfg.skip_errors
    }
}

/// `min(4, the target's CPUs)`: MariaDB's `thread_pool_size` defaults to the CPU count; 4 when
/// the target does not tell.
async fn default_workers(conn: &mut Conn, version: &str) -> usize {
    let max = crate::config::MAX_DEFAULT_WORKERS;
    if !version.to_ascii_lowercase().contains("mariadb") {
        return max;
    }
    match conn.query_first::<u64, _>("SELECT @@thread_pool_size").await {
        Ok(Some(cpus)) if cpus > 0 => {
            let w = usize::try_from(cpus).unwrap_or(max).min(max);
            tracing::info!(workers = w, target_cpus = cpus, "Apply workers chosen from the target's CPU count (set workers to override).");
            w
        }
        _ => max,
    }
}
