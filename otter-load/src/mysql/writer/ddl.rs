//! DDL on the target: each statement alone (after a barrier), in its source session's terms,
//! behind the pipeline's fence, with its origin mark in two-way setups; a statement refused
//! because its effect is already there is recognised ([`crate::mysql::ddl_effect`]).

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::change::DdlEvent;
use otter_core::mysql::conn::{server_code, translate};
use otter_core::source::mysql::snapshot::resync::is_purge;
use otter_core::two_way::{self, TwoWayConfig};
use otter_core::{Error, ErrorKind, Result};

use super::MysqlWriter;
use crate::mysql::ddl_effect::Effect;
use crate::report::shorten;
use crate::mysql::txn::{is_transient, Step};

impl MysqlWriter {
    pub(super) async fn ddl(&mut self, ddl: &DdlEvent, replayed: bool) -> Result<()> {
        if ddl.snapshot && is_purge(&ddl.statement) {
            return self.purge(ddl).await;
        }
        if self.cfg.dry_run {
            tracing::info!(statement = %ddl.statement, "dry run (DDL)");
            return Ok(());
        }
        let record = self.ckpt.ddl_sql(self.parts, self.epoch(), &ddl.position)?;
        let fence = self.fence.clone();
        let two_way = self.two_way.clone();
        let dialect = Arc::clone(&self.dialect);
        let conn = self.conn().await?;
        // The source server's default collation, as the target names it (unknown ids are left
        // to the target's default).
        let collation = match ddl.collation_server {
            Some(id) => conn
                .exec_first::<String, _, _>("SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE ID = ?", (id,))
                .await
                .map_err(|e| translate(e, "target"))?,
            None => None,
        };
        let session = dialect.ddl_session(ddl, collation.as_deref());
        let use_db = if ddl.schema.is_empty() {
            None
        } else {
            let exists: Option<String> = conn
                .exec_first("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (ddl.schema.as_str(),))
                .await
                .map_err(|e| translate(e, "target"))?;
            exists.map(|db| format!("USE {}", otter_core::mysql::quote::ident(&db)))
        };
        if let Some(u) = &use_db {
            conn.query_drop(u.as_str()).await.map_err(|e| translate(e, "target"))?;
        }
        // Read the statement as its source session did (quotes, backslashes), then restore the
        // apply session's settings whatever happened.
        let mut setup = Ok(());
        for (i, s) in session.iter().flat_map(|(set, _)| set.iter()).enumerate() {
            match conn.query_drop(s.as_str()).await {
                Ok(()) => {}
                Err(e) if i == 0 || is_transient(&e) => {
                    setup = Err(e);
                    break;
                }
                Err(e) => tracing::warn!(setting = %s, error = %e, "The target refused a source session setting; applying the DDL without it."),
            }
        }
        if let Err(e) = setup {
            // The session may be half set up: a fresh connection starts clean.
            let transient = is_transient(&e);
            self.conn = None;
            return Err(translate(e, "setting up the session for a DDL statement").transient(transient));
        }
        // The epoch, read with a shared lock that the DDL's implicit commit releases: a takeover
        // waits for it, and a fenced instance runs no DDL.
        if let Some(fence) = &fence {
            let read = match conn.query_drop("START TRANSACTION").await {
                Ok(()) => conn.query_first::<(u64, String), _>(fence.check_sql()).await,
                Err(e) => Err(e),
            };
            let checked = match read {
                Ok(r) => fence.verify(r),
                Err(e) => Err(translate(e, "checking the pipeline's fence").transient(true)),
            };
            if let Err(e) = checked {
                let _ = conn.query_drop("ROLLBACK").await;
                if e.is_transient() {
                    self.conn = None;
                }
                return Err(e);
            }
        }
        let result = match two_way {
            Some(tw) => marked_ddl(conn, &tw, ddl).await,
            None => conn.query_drop(ddl.statement.as_str()).await,
        };
        // Refused because it exists: does the target have exactly this? (In the DDL's session.)
        let effect = match result.as_ref().err().and_then(|e| server_code(e).filter(|_| !is_transient(e))) {
            Some(code) => crate::mysql::ddl_effect::check(conn, ddl, code).await,
            None => Effect::Unknown,
        };
        if let Some((_, restore)) = &session {
            if conn.query_drop(restore.as_str()).await.is_err() {
                // A fresh connection gets the apply settings again.
                self.conn = None;
            }
        }
        if let Err(e) = result {
            let code = server_code(&e);
            if is_transient(&e) {
                self.conn = None;
                return Err(translate(e, "applying DDL on the target").transient(true));
            }
            let err = translate(e, "applying DDL on the target");
            let already = code.is_some_and(already_applied);
            if let Effect::Present(note) = &effect {
                tracing::info!(statement = %shorten(&ddl.statement, 200), note = %note, "DDL already in effect on the target; continuing.");
            } else if let (Effect::Conflicts(both), false) = (&effect, self.cfg.skip_ddl_errors) {
                return Err(Error::new(ErrorKind::Sink, format!("DDL failed on the target: {err}; {both}")));
            } else if replayed && already {
                tracing::info!(statement = %shorten(&ddl.statement, 200), error = %err, "DDL was already applied before the restart; continuing.");
            } else if self.cfg.skip_ddl_errors {
                tracing::error!(statement = %shorten(&ddl.statement, 400), error = %err, "Skipping a DDL statement the target refused (skip_ddl_errors).");
            } else {
                return Err(Error::new(
                    ErrorKind::Sink,
                    format!("DDL failed on the target: {err}; statement: {} (set skip_ddl_errors = true to go on)", shorten(&ddl.statement, 400)),
                ));
            }
        }
        self.with_retry(&[Step::Sql(record)], &[], None, None).await
    }
}

impl MysqlWriter {
    /// A re-sync's purge (rows the source no longer has): a row change, not DDL — one
    /// transaction with its origin mark and the checkpoint, behind the fence, retried like rows.
    async fn purge(&mut self, ddl: &DdlEvent) -> Result<()> {
        let record = self.ckpt.write_sql(self.part, self.parts, self.spread, self.epoch(), Some(&ddl.position), None, None)?;
        if self.cfg.dry_run {
            tracing::info!(partition = self.part, statement = %shorten(&ddl.statement, 400), "dry run (re-sync purge)");
            return Ok(());
        }
        let local = self.two_way.as_ref().map_or(String::new(), |t| t.source_site.clone());
        let origin = ddl.meta.origin.clone().unwrap_or(local);
        let steps = self.marked(&origin, vec![Step::Sql(ddl.statement.clone()), Step::Sql(record)]);
        self.with_retry(&steps, &[], None, None).await.map_err(|e| if e.is_transient() { e } else { e.context(format!("re-sync purge: {}", shorten(&ddl.statement, 400))) })
    }
}

/// Applies a DDL with its origin mark: a leading comment, right after a row in
/// `<marks schema>.ddl_mark` for this session (statements servers log rewritten without comments
/// — views, triggers, routines, events — are recognised by it); or for `DROP TABLE` (also logged
/// rewritten) a marked rename of each table into the marks schema and a drop there.
///
/// The `ddl_mark` row is written in the transaction the fence check left open (nothing else is in
/// it), which the DDL's implicit commit commits just before the statement runs, so the fence's
/// shared lock is still held when the DDL starts; without a fence each statement commits alone.
async fn marked_ddl(conn: &mut Conn, tw: &TwoWayConfig, ddl: &DdlEvent) -> std::result::Result<(), mysql_async::Error> {
    let origin = ddl.meta.origin.as_deref().unwrap_or(&tw.source_site);
    let stmt = two_way::strip_ddl_mark(&ddl.statement);
    let words: Vec<String> = stmt.split_whitespace().take(4).map(str::to_ascii_uppercase).collect();
    let is_drop_table = words.first().map(String::as_str) == Some("DROP") && words.get(1).map(String::as_str) == Some("TABLE");
    if !is_drop_table || ddl.tables.is_empty() {
        let [delete, insert] = two_way::ddl_mark_sql(&tw.marks_schema);
        conn.query_drop(delete).await?;
        conn.exec_drop(insert, (origin, tw.source_site.as_str())).await?;
        return conn.query_drop(format!("{}{stmt}", two_way::ddl_comment(origin, &tw.source_site, false))).await;
    }
    let if_exists = words.get(2).map(String::as_str) == Some("IF") && words.get(3).map(String::as_str) == Some("EXISTS");
    let q = otter_core::mysql::quote::ident;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    for (n, (db, table)) in ddl.tables.iter().enumerate() {
        let exists: Option<String> = conn
            .exec_first("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", (db.as_str(), table.as_str()))
            .await?;
        if exists.is_none() {
            if if_exists {
                continue;
            }
            // Let the server give its "unknown table" error (handled as for any DDL).
            return conn.query_drop(format!("DROP TABLE {}.{}", q(db), q(table))).await;
        }
        let trash = format!("_otter_drop_{stamp}_{n}");
        conn.query_drop(format!(
            "{}RENAME TABLE {}.{} TO {}.{}",
            two_way::ddl_comment(origin, &tw.source_site, true),
            q(db),
            q(table),
            q(&tw.marks_schema),
            q(&trash)
        ))
        .await?;
        conn.query_drop(format!("DROP TABLE {}.{}", q(&tw.marks_schema), q(&trash))).await?;
    }
    Ok(())
}

/// Errors a DDL gives when its effect is already there (a replay after a crash).
fn already_applied(code: u16) -> bool {
    matches!(
        code,
        1050 // table exists
            | 1051 // unknown table (drop)
            | 1060 // duplicate column
            | 1061 // duplicate key name
            | 1091 // can't drop; doesn't exist
            | 1007 // database exists
            | 1008 // database doesn't exist (drop)
            | 1054 // unknown column (drop/rename again)
            | 1146 // table doesn't exist (rename/drop again)
            | 1826 // duplicate foreign key
            | 1022 // duplicate key
    )
}
