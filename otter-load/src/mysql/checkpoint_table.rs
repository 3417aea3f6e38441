//! The checkpoint table on the target, written in the same transaction as the data it covers.
//!
//! One row per (pipeline, partition): `position` is the source position up to which *every*
//! partition had applied everything when the row was written (the resume point), and the
//! watermark is the newest change this partition applied. On restart the source resumes at the
//! newest `position`, and each partition skips replayed changes at or below its watermark — so a
//! crash at any instant, with any number of partitions, repeats nothing and loses nothing, even
//! for tables without a key. `last_ddl` (partition 0) is the position of the last DDL applied.
//! `epoch` is the fencing epoch of the instance that wrote the row ([`crate::mysql::fence`]);
//! `spread` how its run spread keys over the partitions ([`Spread`], 0 for rows of versions
//! that did not store it: they hashed every key).
//!
//! Invariants: the table is only written inside apply transactions (or right after a DDL, which
//! cannot be transactional), never ahead of the data; every value in its statements is a bound
//! parameter or goes through [`otter_core::mysql::quote`], so a pipeline name means the same in
//! every `sql_mode`.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::change::ChangeId;
use otter_core::mysql::quote::{ident, text as quote};
use otter_core::position::{BinlogCoord, GtidState, Position};
use otter_core::mysql::conn::translate;
use otter_core::{Error, ErrorKind, Result};

use crate::target::{after, Spread, Stored};

/// The stored `position` of a row written before the loader knew any resume point: the first
/// jobs of a first run whose source announced no start position. Such rows still hold their
/// watermark; the resume point then comes from other rows, the local checkpoint or the config.
pub const UNKNOWN: &str = "null";

/// SQL for one pipeline's checkpoint rows.
#[derive(Debug, Clone)]
pub struct CheckpointTable {
    schema: String,
    pipeline: String,
}

impl CheckpointTable {
    /// Rows of `pipeline` in `<schema>.checkpoint`.
    pub fn new(schema: &str, pipeline: &str) -> CheckpointTable {
        CheckpointTable { schema: schema.to_owned(), pipeline: pipeline.to_owned() }
    }

    fn table(&self) -> String {
        format!("{}.`checkpoint`", ident(&self.schema))
    }

    /// The schema the table lives in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The pipeline whose rows these are.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// Creates the schema and table when missing.
    pub async fn ensure(&self, conn: &mut Conn) -> Result<()> {
        let stmts = [
            format!("CREATE DATABASE IF NOT EXISTS {}", ident(&self.schema)),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (
                   pipeline VARCHAR(190) NOT NULL,
                   part INT NOT NULL,
                   parts INT NOT NULL,
                   position TEXT NOT NULL,
                   wm_file VARCHAR(512) NULL,
                   wm_pos BIGINT UNSIGNED NULL,
                   wm_row BIGINT UNSIGNED NULL,
                   last_ddl TEXT NULL,
                   applied_gtid TEXT NULL,
                   epoch BIGINT UNSIGNED NOT NULL DEFAULT 1,
                   spread TINYINT UNSIGNED NOT NULL DEFAULT 0,
                   updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
                   PRIMARY KEY (pipeline, part)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.table()
            ),
        ];
        for s in stmts {
            conn.query_drop(s).await.map_err(|e| translate(e, "creating the checkpoint table on the target"))?;
        }
        // Tables created by earlier versions lack the newer columns.
        for (column, definition) in [("applied_gtid", "TEXT NULL AFTER last_ddl"), ("spread", "TINYINT UNSIGNED NOT NULL DEFAULT 0 AFTER epoch")] {
            if !self.has_column(conn, column).await? {
                conn.query_drop(format!("ALTER TABLE {} ADD COLUMN {column} {definition}", self.table()))
                    .await
                    .map_err(|e| translate(e, &format!("adding {column} to the checkpoint table")))?;
            }
        }
        Ok(())
    }

    /// Whether the checkpoint table has `column` (tables of earlier versions lack some).
    async fn has_column(&self, conn: &mut Conn, column: &str) -> Result<bool> {
        let has: Option<u8> = conn
            .exec_first(
                "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'checkpoint' AND COLUMN_NAME = ?",
                (self.schema.as_str(), column),
            )
            .await
            .map_err(|e| translate(e, "reading the checkpoint table's columns"))?;
        Ok(has.is_some())
    }

    /// Reads the stored rows.
    pub async fn load(&self, conn: &mut Conn) -> Result<Stored> {
        type Row = (i64, i64, String, Option<String>, Option<u64>, Option<u64>, Option<String>, Option<String>, u8);
        // A table of an earlier version read without creating anything (`otter check`).
        let spread = if self.has_column(conn, "spread").await? { "spread" } else { "0" };
        let rows: Vec<Row> = conn
            .exec(
                format!("SELECT part, parts, position, wm_file, wm_pos, wm_row, last_ddl, applied_gtid, {spread} FROM {} WHERE pipeline = ?", self.table()),
                (self.pipeline.as_str(),),
            )
            .await
            .map_err(|e| translate(e, "reading the checkpoint from the target"))?;
        let mut s = Stored::default();
        let mut applied: Option<GtidState> = None;
        let mut spreads = Vec::new();
        for (part, parts, position, wm_file, wm_pos, wm_row, last_ddl, applied_gtid, spread) in rows {
            if let Some(g) = applied_gtid.as_deref().and_then(|g| g.parse::<GtidState>().ok()) {
                applied = GtidState::merged(applied.as_ref(), Some(&g));
            }
            // Rows written before any resume point was known carry no position (only a watermark).
            if position != UNKNOWN {
                let p: Position = parse(&position)?;
                if s.position.as_ref().is_none_or(|cur| (&p.coord, p.skip_rows) > (&cur.coord, cur.skip_rows)) {
                    s.position = Some(p);
                }
            }
            s.parts = Some(usize::try_from(parts).unwrap_or(1));
            if let (Some(f), Some(pos), Some(row)) = (wm_file, wm_pos, wm_row) {
                let wm = ChangeId { txn: BinlogCoord::new(f, pos), row };
                spreads.push((wm.clone(), spread));
                s.watermarks.insert(usize::try_from(part).unwrap_or(0), wm);
            }
            if let Some(d) = last_ddl {
                s.last_ddl = Some(parse(&d)?);
            }
        }
        // The spread that matters is that of the watermarks past the resume point (written by
        // runs that all spread alike: the spread changes only at a clean start).
        if let Some((_, code)) = spreads.iter().find(|(wm, _)| s.position.as_ref().is_none_or(|p| after(wm, p))) {
            s.spread = Spread::from_code(*code).ok_or_else(|| {
                Error::new(ErrorKind::Config, format!("the checkpoint rows of pipeline {} were written by a newer otter (key spread {code}); run that version until it stops cleanly", self.pipeline))
            })?;
        }
        if let Some(p) = &mut s.position {
            p.applied = GtidState::merged(p.applied.as_ref(), applied.as_ref());
        }
        Ok(s)
    }

    /// The committed watermark of partition `part` (to learn whether a transaction whose `COMMIT`
    /// got no answer committed: each job writes its own, newer watermark).
    pub async fn watermark(&self, conn: &mut Conn, part: usize) -> Result<Option<ChangeId>> {
        let row: Option<(Option<String>, Option<u64>, Option<u64>)> = conn
            .exec_first(format!("SELECT wm_file, wm_pos, wm_row FROM {} WHERE pipeline = ? AND part = ?", self.table()), (self.pipeline.as_str(), part))
            .await
            .map_err(|e| translate(e, "reading the checkpoint from the target"))?;
        Ok(match row {
            Some((Some(f), Some(pos), Some(row))) => Some(ChangeId { txn: BinlogCoord::new(f, pos), row }),
            _ => None,
        })
    }

    /// Reads the stored rows without creating anything, for read-only callers (`otter check`):
    /// `Ok(None)` when the checkpoint table does not exist (no run stored anything there).
    pub async fn load_if_present(&self, conn: &mut Conn) -> Result<Option<Stored>> {
        let exists: Option<u8> = conn
            .exec_first("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'checkpoint'", (self.schema.as_str(),))
            .await
            .map_err(|e| translate(e, "looking for the checkpoint table on the target"))?;
        match exists {
            Some(_) => self.load(conn).await.map(Some),
            None => Ok(None),
        }
    }

    /// Removes rows of partitions `>= parts` (after a clean change of the partition count).
    pub fn prune_sql(&self, parts: usize) -> String {
        format!("DELETE FROM {} WHERE pipeline = {} AND part >= {parts}", self.table(), quote(&self.pipeline))
    }

    /// Records partition `part`'s progress (inside its apply transaction). `position` is `None`
    /// while no resume point is known yet (see [`UNKNOWN`]); an unknown position never replaces a
    /// known one.
    /// `applied`: the GTIDs the target holds once this commits (kept when `None`).
    /// `spread`: how the writing run spreads keys.
    #[allow(clippy::too_many_arguments)]
    pub fn write_sql(&self, part: usize, parts: usize, spread: Spread, epoch: u64, position: Option<&Position>, watermark: Option<&ChangeId>, applied: Option<&GtidState>) -> Result<String> {
        let pos = quote(&match position {
            Some(p) => encode(p)?,
            None => UNKNOWN.to_owned(),
        });
        let (f, p, r) = match watermark {
            Some(w) => (quote(&w.txn.file), w.txn.offset.to_string(), w.row.to_string()),
            None => ("NULL".into(), "NULL".into(), "NULL".into()),
        };
        let keep_wm = if watermark.is_some() { "VALUES(wm_file)" } else { "wm_file" };
        let keep_pos = if watermark.is_some() { "VALUES(wm_pos)" } else { "wm_pos" };
        let keep_row = if watermark.is_some() { "VALUES(wm_row)" } else { "wm_row" };
        let g = applied.map_or_else(|| "NULL".to_owned(), |g| quote(&g.to_string()));
        Ok(format!(
            "INSERT INTO {} (pipeline, part, parts, position, wm_file, wm_pos, wm_row, applied_gtid, epoch, spread) VALUES ({}, {part}, {parts}, {pos}, {f}, {p}, {r}, {g}, {epoch}, {spread}) \
             ON DUPLICATE KEY UPDATE parts = VALUES(parts), position = IF(VALUES(position) = {unknown}, position, VALUES(position)), \
             wm_file = {keep_wm}, wm_pos = {keep_pos}, wm_row = {keep_row}, applied_gtid = COALESCE(VALUES(applied_gtid), applied_gtid), epoch = VALUES(epoch), \
             spread = VALUES(spread)",
            self.table(),
            quote(&self.pipeline),
            unknown = quote(UNKNOWN),
            spread = spread.code(),
        ))
    }

    /// Records an applied DDL (partition 0's row).
    pub fn ddl_sql(&self, parts: usize, epoch: u64, ddl_position: &Position) -> Result<String> {
        let d = quote(&encode(ddl_position)?);
        Ok(format!(
            "INSERT INTO {} (pipeline, part, parts, position, last_ddl, epoch) VALUES ({}, 0, {parts}, {d}, {d}, {epoch}) \
             ON DUPLICATE KEY UPDATE last_ddl = VALUES(last_ddl), position = VALUES(position), epoch = VALUES(epoch)",
            self.table(),
            quote(&self.pipeline),
        ))
    }
}

fn encode(p: &Position) -> Result<String> {
    serde_json::to_string(p).map_err(|e| Error::new(ErrorKind::State, "cannot encode a position").with_source(e))
}

fn parse(s: &str) -> Result<Position> {
    serde_json::from_str(s).map_err(|e| {
        Error::new(ErrorKind::State, format!("unreadable position in the target checkpoint table: {s}")).with_source(e)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::target::after;

    #[test]
    fn coverage() {
        let p = Position { coord: BinlogCoord::new("b.000002", 100), gtid: None, skip_rows: 3, snapshot: None, applied: None };
        let id = |f: &str, o, row| ChangeId { txn: BinlogCoord::new(f, o), row };
        assert!(!after(&id("b.000002", 100, 2), &p));
        assert!(after(&id("b.000002", 100, 3), &p));
        assert!(!after(&id("b.000001", 900, 0), &p));
        assert!(after(&id("b.000003", 4, 0), &p));
        let s = Stored { position: Some(p), watermarks: HashMap::from([(0, id("b.000002", 50, 9))]), ..Default::default() };
        assert!(s.clean());
    }
}
