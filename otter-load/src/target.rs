//! The seam between the apply engine and a target database.
//!
//! The engine ([`crate::sink::ApplySink`]) merges changes per key, partitions them over writers,
//! completes batches in order, decides which tables go change by change under a conflict rule,
//! and puts DDL behind barriers. Everything that talks to a database sits behind [`Target`] (the
//! pipeline's side of the target: taking it, reading what it stored, describing its tables) and
//! [`PartitionWriter`] (one connection applying one partition's jobs). The MySQL/MariaDB target
//! is [`crate::mysql::MysqlTarget`]; a new database is a new implementation in a folder of its
//! own, the engine unchanged.
//!
//! Contract of an implementation:
//! - [`Target::open`] takes the pipeline on the target (a fence that makes every later write of
//!   a previous holder fail) *before* it reads what the target stored, and returns the resume
//!   point, the partition count and each partition's watermark;
//! - [`PartitionWriter::apply`] applies a job in one target transaction together with the
//!   partition's progress (its watermark, and the resume point when known), all or nothing,
//!   never committing after the pipeline was lost; a transient error is retried inside, a
//!   returned error is final for the partition;
//! - a job marked [`ApplyJob::part`] (only sent when [`Target::streams`] says so) is applied in
//!   a target transaction the writer keeps open, without progress; the writer's next job
//!   continues it and the first job not marked `part` commits the whole with its progress. A
//!   part's failure rolls the open transaction back and is final; [`PartitionWriter::abandon`]
//!   rolls it back on a stop;
//! - a writer's jobs arrive in order and each completes before the next starts.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use otter_core::change::{ChangeId, DdlEvent};
use otter_core::position::{GtidState, Position};
use otter_core::schema::TableSchema;
use otter_core::two_way::TwoWayConfig;
use otter_core::{Error, Result};

use crate::conflict::CompiledRule;
use crate::order::Turn;
use crate::worker::TableOps;

/// How one source schema maps onto its target table.
#[derive(Debug, Clone)]
pub struct TargetInfo {
    /// Source column indexes written.
    pub columns: Vec<usize>,
    /// Source column indexes identifying a row.
    pub key: Vec<usize>,
    /// No primary or usable unique key: rows are matched on every written column.
    pub keyless: bool,
    /// Every written column has the same type (and character set) on the target as on the source
    /// and a type whose `LOAD DATA` text is exact: runs of whole rows may be sent as
    /// `LOAD DATA LOCAL INFILE` (MySQL targets).
    pub load_data: bool,
    /// The target table's foreign keys: which parent row each row points at (for write-sets).
    pub parents: Vec<ParentKey>,
    /// The table's layout when updates of its rows may be sent as row events (MariaDB targets,
    /// [`crate::mysql::row_events`]).
    pub row_layout: Option<Arc<crate::mysql::row_events::RowLayout>>,
}

/// A foreign key of a target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentKey {
    /// Source column indexes of the referencing columns, in the key's order.
    pub columns: Vec<usize>,
    /// The parent table's database.
    pub db: String,
    /// The parent table.
    pub table: String,
    /// The parent's referenced column names, in the same order.
    pub referenced: Vec<String>,
}

/// What a pipeline stored on its target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stored {
    /// Where to resume the source.
    pub position: Option<Position>,
    /// The partition count the rows were written with.
    pub parts: Option<usize>,
    /// Newest change applied, per partition.
    pub watermarks: HashMap<usize, ChangeId>,
    /// Position of the last DDL applied.
    pub last_ddl: Option<Position>,
    /// How the partitions that applied changes after [`Stored::position`] spread keys (they
    /// all did alike: the spread changes only at a clean start).
    pub spread: Spread,
}

/// How merged-mode changes are spread over the partitions: which partition's watermark says
/// whether a change was applied. A run keeps the stored spread until a clean stop, as it keeps
/// the partition count: read with another spread, a change one partition applied could be
/// taken for one another partition applied (and skipped), or applied again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spread {
    /// Every key by its hash (rows written before the spread was stored).
    #[default]
    KeyHash,
    /// A key of one integer column by blocks of consecutive values
    /// ([`crate::merge::key_block`]), so rows inserted in key order reach each writer as runs
    /// of neighbours, not every other key of the same pages; other keys by hash.
    IntBlocks,
}

impl Spread {
    /// What a new run uses when nothing binds it.
    pub const PREFERRED: Spread = Spread::IntBlocks;

    /// The spread a run over `stored` uses: the preferred one after a clean stop, else the
    /// stored one (the watermarks past the resume point must keep their meaning).
    pub fn for_run(stored: &Stored) -> Spread {
        if stored.clean() {
            Spread::PREFERRED
        } else {
            stored.spread
        }
    }

    /// The number stored in the checkpoint rows.
    pub fn code(self) -> u8 {
        match self {
            Spread::KeyHash => 0,
            Spread::IntBlocks => 1,
        }
    }

    /// The spread stored as `code` (unknown codes, from a newer version, as `None`).
    pub fn from_code(code: u8) -> Option<Spread> {
        match code {
            0 => Some(Spread::KeyHash),
            1 => Some(Spread::IntBlocks),
            _ => None,
        }
    }
}

impl Stored {
    /// True when no partition applied anything after the resume position (a clean stop), so the
    /// partition count may change.
    pub fn clean(&self) -> bool {
        let Some(p) = &self.position else { return self.watermarks.is_empty() };
        self.watermarks.values().all(|w| !after(w, p))
    }
}

/// True when change `id` comes after position `p` (is not covered by it).
pub fn after(id: &ChangeId, p: &Position) -> bool {
    id.txn > p.coord || (id.txn == p.coord && id.row >= p.skip_rows)
}

/// Who the target works for.
#[derive(Debug, Clone)]
pub struct PipelineContext {
    /// The pipeline's name (the key of everything it stores on the target).
    pub name: String,
    /// Its sites, when it is one direction of a two-way setup.
    pub two_way: Option<Arc<TwoWayConfig>>,
    /// Its conflict rules.
    pub rules: Vec<Arc<CompiledRule>>,
}

/// What [`Target::open`] found.
#[derive(Debug, Clone)]
pub struct Opened {
    /// What the pipeline stored there.
    pub stored: Stored,
    /// How many partitions (writers) to apply with.
    pub parts: usize,
    /// How to spread keys over them.
    pub spread: Spread,
}

/// One job of a partition.
#[derive(Debug)]
pub struct ApplyJob<'a> {
    /// Ops by table.
    pub tables: &'a [TableOps],
    /// Newest binlog change in the job (the partition's watermark once it commits); `None` for
    /// a job of snapshot rows only, which keeps the stored watermark (and, being idempotent, is
    /// simply retried when its `COMMIT` got no answer).
    pub watermark: Option<&'a ChangeId>,
    /// Position every partition has applied everything before (`None` while no resume point is
    /// known yet: the first jobs of a first run).
    pub position: Option<&'a Position>,
    /// Site where the changes were first written.
    pub origin: &'a str,
    /// GTIDs the target may hold once this job commits (the end of its batch, with the
    /// transaction open there): recorded so that a source failover never picks a server lacking
    /// them.
    pub applied: Option<&'a GtidState>,
    /// In transaction mode, the job's place in the commit order: the writer commits only once
    /// [`Turn::my_turn`] says every earlier transaction committed, and while it waits, rolls
    /// back and runs again when an earlier transaction waits for one of its locks (see
    /// [`crate::order`]).
    pub turn: Option<&'a Turn>,
    /// Part of a source transaction too big to hold in memory: applied in the writer's open
    /// transaction (begun by the first part), not committed; the next job that is not a part
    /// ends that transaction with its own ops and commits it whole (see the module's contract).
    pub part: bool,
}

/// The pipeline's side of a target database.
#[async_trait]
pub trait Target: Send + Sync + 'static {
    /// Connects, takes the pipeline (fencing any previous holder), reads what it stored and
    /// decides the partition count. Called once, before anything else.
    async fn open(&mut self, ctx: &PipelineContext) -> Result<Opened>;
    /// How `schema`'s rows map onto its target table (cached until [`Target::forget`]).
    async fn describe(&mut self, schema: &Arc<TableSchema>) -> Result<Arc<TargetInfo>>;
    /// Readies a table whose changes go change by change under `rule` (e.g. delete tombstones).
    async fn guard(&mut self, schema: &TableSchema, info: &TargetInfo, rule: &CompiledRule) -> Result<()>;
    /// Forgets what [`Target::describe`] and [`Target::guard`] learnt (after a DDL).
    fn forget(&mut self);
    /// A writer for partition `part` of `parts` (its own connection).
    fn writer(&self, part: usize, parts: usize) -> Result<Box<dyn PartitionWriter>>;
    /// Periodic upkeep (called with every batch; implementations pace themselves).
    fn upkeep(&mut self) {}
    /// The error to stop with once another instance took the pipeline over.
    fn lost(&self) -> Option<Error> {
        None
    }
    /// True when its writers can keep a transaction open across jobs ([`ApplyJob::part`]), so
    /// that transaction mode applies a huge source transaction in parts instead of holding it.
    fn streams(&self) -> bool {
        false
    }
}

/// One partition's writer: applies its jobs, in order, on its own connection.
#[async_trait]
pub trait PartitionWriter: Send {
    /// Applies a job in one transaction with the partition's progress.
    async fn apply(&mut self, job: ApplyJob<'_>) -> Result<()>;
    /// Records progress only (idle or filtered stretches).
    async fn progress(&mut self, position: &Position) -> Result<()>;
    /// Applies a DDL statement (partition 0 only, after a barrier); `replayed`: the first DDL
    /// after a restart, which may have been applied before the crash.
    async fn ddl(&mut self, ddl: &DdlEvent, replayed: bool) -> Result<()>;
    /// Rolls back a transaction left open by parts ([`ApplyJob::part`]) whose end will not come
    /// (the pipeline stops inside it; the restart reads it again).
    async fn abandon(&mut self) {}
    /// Closes the connection (the writer is dropped after this).
    async fn close(&mut self) {}
}

#[cfg(test)]
mod tests {
    use otter_core::position::BinlogCoord;

    use super::*;

    #[test]
    fn a_run_keeps_the_stored_spread_until_a_clean_stop() {
        let at = |offset: u64| ChangeId { txn: BinlogCoord::new("b.000001", offset), row: 0 };
        let position = Position { coord: BinlogCoord::new("b.000001", 500), gtid: None, skip_rows: 0, snapshot: None, applied: None };
        // First run: nothing stored.
        assert_eq!(Spread::for_run(&Stored::default()), Spread::PREFERRED);
        // Rows of an earlier version (hashed keys), stopped cleanly: the preferred spread.
        let mut stored = Stored { position: Some(position), parts: Some(2), spread: Spread::KeyHash, ..Stored::default() };
        stored.watermarks.insert(0, at(400));
        stored.watermarks.insert(1, at(499));
        assert!(stored.clean());
        assert_eq!(Spread::for_run(&stored), Spread::IntBlocks);
        // Killed after partition 1 applied changes past the resume point: those watermarks were
        // written with hashed keys, and a run must read them so.
        stored.watermarks.insert(1, at(700));
        assert!(!stored.clean());
        assert_eq!(Spread::for_run(&stored), Spread::KeyHash);
        stored.spread = Spread::IntBlocks;
        assert_eq!(Spread::for_run(&stored), Spread::IntBlocks);
        for s in [Spread::KeyHash, Spread::IntBlocks] {
            assert_eq!(Spread::from_code(s.code()), Some(s));
        }
        assert_eq!(Spread::from_code(9), None);
    }
}
