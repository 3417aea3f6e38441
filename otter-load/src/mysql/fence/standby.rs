//! Standing by for a pipeline, and who holds each pipeline as the target shows it.
//!
//! A standby (`otter run --standby`, same pipelines on another machine) waits in
//! [`super::acquire`] for the holder's lease lock instead of failing: the lock frees the moment the
//! holder's process dies (the server closes its lease connection), and a holder that stalls (paused,
//! cut off) is taken over once its lease expired — then fenced as any old holder. While it waits,
//! the standby refreshes its row in `<checkpoint_schema>.lease_standby` (on the target's clock) so
//! that `otter status` can show who stands by; rows not refreshed for three leases are not shown.
//!
//! Invariant: a standby writes nothing but its own standby row until it holds the lease.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::mysql::conn::{translate, ConnectOptions};
use otter_core::mysql::quote::ident;
use otter_core::Result;

use super::LEASE_TABLE;

/// The table of standing-by instances, one row per pipeline and instance.
pub const STANDBY_TABLE: &str = "lease_standby";

/// The statement creating the standby table in `schema` (which exists).
pub(crate) fn ensure_sql(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}.`{STANDBY_TABLE}` (
           pipeline VARCHAR(190) NOT NULL,
           node VARCHAR(190) NOT NULL,
           since DATETIME(6) NOT NULL COMMENT 'UTC',
           seen DATETIME(6) NOT NULL COMMENT 'UTC',
           PRIMARY KEY (pipeline, node)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='otter: instances standing by to take each pipeline over'",
        ident(schema)
    )
}

fn table(schema: &str, t: &str) -> String {
    format!("{}.{}", ident(schema), ident(t))
}

/// Records (or refreshes) `node` as standing by for `pipeline`.
pub(crate) async fn announce(conn: &mut Conn, schema: &str, pipeline: &str, node: &str) -> Result<()> {
    conn.exec_drop(
        format!(
            "INSERT INTO {} (pipeline, node, since, seen) VALUES (?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE seen = VALUES(seen)",
            table(schema, STANDBY_TABLE)
        ),
        (pipeline, node),
    )
    .await
    .map_err(|e| translate(e, "recording this instance as standing by on the target"))
}

/// Removes `node`'s standby row (it holds the pipeline now, or stops).
pub(crate) async fn withdraw(conn: &mut Conn, schema: &str, pipeline: &str, node: &str) -> Result<()> {
    conn.exec_drop(format!("DELETE FROM {} WHERE pipeline = ? AND node = ?", table(schema, STANDBY_TABLE)), (pipeline, node))
        .await
        .map_err(|e| translate(e, "target"))
}

/// Who holds a pipeline and who stands by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// The fencing epoch of the current (or last) holder.
    pub epoch: u64,
    /// The holder (`pid … on host … since …`).
    pub holder: String,
    /// When it took the pipeline (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub since: String,
    /// Seconds since its lease connection was last used; `None` when that connection is gone (the
    /// holder stopped or died: the next instance takes the pipeline at once).
    pub renewed_secs_ago: Option<u64>,
    /// Instances standing by (`node`, since when), seen within three leases.
    pub standby: Vec<(String, String)>,
}

/// Reads who holds `pipeline` on the target (`None`: nobody ever did) and who stands by.
pub async fn holding(opts: &ConnectOptions, schema: &str, pipeline: &str, lease: Duration) -> Result<Option<Holding>> {
    let mut conn = opts.connect().await?;
    let sql = format!(
        "SELECT l.epoch, l.holder, DATE_FORMAT(l.since, '%Y-%m-%d %H:%i:%s'), \
         (SELECT p.TIME FROM information_schema.PROCESSLIST p WHERE p.ID = l.lease_conn) \
         FROM {} l WHERE l.pipeline = ?",
        table(schema, LEASE_TABLE)
    );
    let row: Option<(u64, String, String, Option<u64>)> = match conn.exec_first(sql, (pipeline,)).await {
        Ok(r) => r,
        // No lease table: the pipeline never ran against this target.
        Err(e) if otter_core::mysql::conn::server_code(&e) == Some(1146) => return Ok(None),
        Err(e) => return Err(translate(e, "reading the pipeline's lease on the target")),
    };
    let Some((epoch, holder, since, renewed_secs_ago)) = row else { return Ok(None) };
    let within = lease.as_secs().max(1) * 3;
    let standby: Vec<(String, String)> = match conn
        .exec(
            format!(
                "SELECT node, DATE_FORMAT(since, '%Y-%m-%d %H:%i:%s') FROM {} WHERE pipeline = ? AND seen > UTC_TIMESTAMP(6) - INTERVAL ? SECOND ORDER BY since",
                table(schema, STANDBY_TABLE)
            ),
            (pipeline, within),
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) if otter_core::mysql::conn::server_code(&e) == Some(1146) => Vec::new(),
        Err(e) => return Err(translate(e, "reading the standby instances on the target")),
    };
    Ok(Some(Holding { epoch, holder, since, renewed_secs_ago, standby }))
}
