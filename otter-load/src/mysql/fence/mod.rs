//! Fencing in the target: one instance at a time applies a pipeline, and an instance that lost
//! it can never commit again.
//!
//! The target holds one `<checkpoint_schema>.lease` row per pipeline: the fencing `epoch`, who
//! holds it (host, pid, since) and a lease that expires on the *target's* clock. An instance
//! takes the pipeline in [`lease::acquire`] by raising the epoch in a transaction that locks the
//! row exclusively — which waits until every apply transaction of the previous holder that read
//! the epoch has committed or rolled back — and only then reads its resume point. Every apply
//! transaction reads the epoch with a shared lock ([`Fence::check_sql`]) after its last
//! statement and commits only when it is still its own ([`Fence::verify`]); otherwise it rolls
//! back and the rejection is counted. Hence:
//!
//! - nothing of an old instance commits after the new one read its resume point (the raise
//!   waits for transactions that passed the check; later ones see the new epoch);
//! - a paused (SIGSTOP) or cut-off instance cannot block a takeover for long: its lease expires,
//!   the new holder kills the connections it registered in `<checkpoint_schema>.lease_conn`
//!   (rolling back whatever they held open) and every later write of the old one is rejected;
//! - a dead client's transaction never commits: the loader sends `COMMIT` only after every
//!   statement's result and the epoch check came back (see [`crate::mysql::txn`]), so the server is
//!   never handed a transaction it could finish alone.
//!
//! Liveness of the holder: its lease connection holds a named lock (`GET_LOCK`) for as long as
//! the process lives, so a process that died (kill -9) frees the pipeline within a moment, while
//! a live one is renewed every third of the lease. A second instance started by mistake fails at
//! once, naming the holder (`ErrorKind::AlreadyRunning`) — or, started with `--standby`, waits
//! and takes over when the holder dies or stalls ([`standby`]).

pub mod lease;
pub mod standby;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use otter_core::mysql::quote::{ident, text};
use otter_core::{Error, ErrorKind, Result};
use parking_lot::Mutex;

pub use lease::{acquire, Lease, LeaseOptions};
pub use standby::{holding, Holding};

/// The table of leases, one row per pipeline.
pub const LEASE_TABLE: &str = "lease";
/// The apply connections each holder registered, killed when another instance takes over.
pub const CONN_TABLE: &str = "lease_conn";

/// What an instance holding a pipeline knows about its hold, shared by its workers.
#[derive(Debug)]
pub struct Fence {
    schema: String,
    pipeline: String,
    epoch: u64,
    /// The target's boot time (Unix seconds) when the lease was taken: registered connection
    /// ids are only meaningful within one server run.
    boot: i64,
    rejected: AtomicU64,
    lost: Mutex<Option<String>>,
}

impl Fence {
    /// A fence for `pipeline` at `epoch` (rows in `schema`).
    pub fn new(schema: &str, pipeline: &str, epoch: u64, boot: i64) -> Arc<Fence> {
        Arc::new(Fence { schema: schema.to_owned(), pipeline: pipeline.to_owned(), epoch, boot, rejected: AtomicU64::new(0), lost: Mutex::new(None) })
    }

    /// The epoch this instance holds.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// `<schema>.<table>`, quoted.
    pub(crate) fn table(&self, table: &str) -> String {
        format!("{}.{}", ident(&self.schema), ident(table))
    }

    /// The statement an apply transaction runs last, before `COMMIT`: the current epoch and
    /// holder, read with a shared lock held until the transaction ends.
    pub fn check_sql(&self) -> String {
        format!("SELECT epoch, holder FROM {} WHERE pipeline = {} LOCK IN SHARE MODE", self.table(LEASE_TABLE), text(&self.pipeline))
    }

    /// The current epoch and holder, read without locking (outside a transaction's fence).
    pub fn read_sql(&self) -> String {
        format!("SELECT epoch, holder FROM {} WHERE pipeline = {}", self.table(LEASE_TABLE), text(&self.pipeline))
    }

    /// Records the current connection as one of this holder's (autocommit), so that a later
    /// holder can kill it.
    pub fn register_sql(&self) -> String {
        format!(
            "INSERT INTO {} (pipeline, conn_id, epoch, boot) VALUES ({}, CONNECTION_ID(), {}, {}) \
             ON DUPLICATE KEY UPDATE epoch = VALUES(epoch), boot = VALUES(boot)",
            self.table(CONN_TABLE),
            text(&self.pipeline),
            self.epoch,
            self.boot
        )
    }

    /// Decides on the result of [`Fence::check_sql`] (`None`: no row): `Ok` when the epoch is
    /// still ours; otherwise the rejection is counted and the error says who holds the pipeline.
    pub fn verify(&self, read: Option<(u64, String)>) -> Result<()> {
        match read {
            Some((epoch, _)) if epoch == self.epoch => Ok(()),
            other => {
                let n = self.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                let who = match &other {
                    Some((epoch, holder)) => format!("{holder} (epoch {epoch})"),
                    None => "nobody (its lease row was deleted)".to_owned(),
                };
                self.lose(&who);
                tracing::warn!(pipeline = %self.pipeline, epoch = self.epoch, holder = %who, rejected = n, "Apply transaction rejected: another instance holds the pipeline.");
                Err(self.fenced_error())
            }
        }
    }

    /// Marks the pipeline as lost to `who` (first caller wins).
    pub fn lose(&self, who: &str) {
        let mut lost = self.lost.lock();
        if lost.is_none() {
            *lost = Some(who.to_owned());
        }
    }

    /// `Some(holder)` once another instance took the pipeline over.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().clone()
    }

    /// Apply transactions rejected so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The error of an instance that lost its pipeline.
    pub fn fenced_error(&self) -> Error {
        let who = self.lost().unwrap_or_else(|| "another instance".into());
        Error::new(
            ErrorKind::Fenced,
            format!(
                "pipeline {} was taken over on the target by {who}; this instance (epoch {}) stops and its writes are rejected \
                 ({} apply transaction(s) rolled back, nothing of them applied)",
                self.pipeline,
                self.epoch,
                self.rejected()
            ),
        )
    }
}

/// Statements creating the lease tables in `s` (which exists).
pub fn ensure_sql(schema: &str) -> [String; 3] {
    let s = ident(schema);
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.`{LEASE_TABLE}` (
               pipeline VARCHAR(190) NOT NULL PRIMARY KEY,
               epoch BIGINT UNSIGNED NOT NULL,
               holder VARCHAR(512) NOT NULL,
               since DATETIME(6) NOT NULL COMMENT 'UTC',
               lease_conn BIGINT UNSIGNED NOT NULL
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='otter: the instance applying each pipeline (fencing epoch, holder, its lease connection)'"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.`{CONN_TABLE}` (
               pipeline VARCHAR(190) NOT NULL,
               conn_id BIGINT UNSIGNED NOT NULL,
               epoch BIGINT UNSIGNED NOT NULL,
               boot BIGINT NOT NULL,
               PRIMARY KEY (pipeline, conn_id)
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='otter: apply connections of each pipeline''s holder'"
        ),
        standby::ensure_sql(schema),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_epoch_is_rejected_counted_and_named() {
        let f = Fence::new("otter", "p'\\", 3, 100);
        assert!(f.check_sql().contains("_utf8mb4 X'"), "{}", f.check_sql());
        assert!(f.verify(Some((3, "me".into()))).is_ok());
        let e = f.verify(Some((4, "pid 9 on host b since x".into()))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Fenced);
        assert!(!e.is_transient());
        assert!(e.to_string().contains("pid 9 on host b since x (epoch 4)") && e.to_string().contains("1 apply"), "{e}");
        assert!(f.verify(None).is_err());
        assert_eq!(f.rejected(), 2);
    }
}
